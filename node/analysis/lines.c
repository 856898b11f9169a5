/* lines.c - the line cursor and number parsing of the /proc parsers (fbn_int.h). */
#include <string.h>

#include "fbn_int.h"

bool fbn__next_line(const char *text, size_t len, size_t *pos, fbn_line *out)
{
	if (!text || *pos >= len)
		return false;
	const char *start = text + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - start) : len - *pos;
	*out = (fbn_line){ start, n, nl != NULL };
	*pos += n + (nl ? 1 : 0);
	return true;
}

bool fbn__next_whole_line(const char *text, size_t len, size_t *pos, fbn_line *out)
{
	return fbn__next_line(text, len, pos, out) && out->terminated;
}

void fbn__skip_blanks(const fbn_line *l, size_t *i)
{
	while (*i < l->len && (l->s[*i] == ' ' || l->s[*i] == '\t'))
		(*i)++;
}

bool fbn__u64(const fbn_line *l, size_t *i, uint64_t *out)
{
	size_t j = *i;
	uint64_t v = 0;
	int digits = 0;
	while (j < l->len && l->s[j] >= '0' && l->s[j] <= '9') {
		if (++digits > 19)
			return false;
		v = v * 10 + (uint64_t)(l->s[j] - '0');
		j++;
	}
	if (!digits)
		return false;
	*i = j;
	*out = v;
	return true;
}

bool fbn__word(const fbn_line *l, size_t *i, const char *word)
{
	size_t n = strlen(word);
	if (l->len - *i < n || memcmp(l->s + *i, word, n) != 0)
		return false;
	size_t j = *i + n;
	if (j < l->len && l->s[j] != ':' && l->s[j] != ' ' && l->s[j] != '\t' && l->s[j] != '=')
		return false;
	*i = j;
	return true;
}
