/* firebreak - placeholder entry point; replaced as the shell lands. */
#include <stdio.h>

int main(void)
{
	printf("firebreak %s\n", FB_VERSION);
	return 0;
}
