/* fbn_int.h - what the analysis files share: a line cursor over text that may be cut
 * anywhere, and bounded number parsing. */
#ifndef FBN_INT_H
#define FBN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fbn_line {
	const char *s;
	size_t len;
	bool terminated;          /* ended with '\n' (the last line of a cut file does not) */
} fbn_line;

/* The next line of text[*pos..len); false at the end. NUL bytes are just bytes. */
bool fbn__next_line(const char *text, size_t len, size_t *pos, fbn_line *out);

/* The same, for the whole lines only: false at the end or at a cut last line (a number on
 * it may be cut too). */
bool fbn__next_whole_line(const char *text, size_t len, size_t *pos, fbn_line *out);

/* Skip spaces and tabs from *i. */
void fbn__skip_blanks(const fbn_line *l, size_t *i);

/* A decimal unsigned integer at *i (at most 19 digits: no overflow); false if none. */
bool fbn__u64(const fbn_line *l, size_t *i, uint64_t *out);

/* "name" at *i followed by ':' or a blank; advances past it. */
bool fbn__word(const fbn_line *l, size_t *i, const char *word);

#endif
