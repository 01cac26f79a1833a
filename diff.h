/* diff.h - line diffs: Myers' O(ND) shortest edit script and unified
 * hunks.  Pure functions: memory in, memory out, no I/O. */
#ifndef DIFF_H
#define DIFF_H

#include <stddef.h>

struct buf;

/* Edit operations of a script. */
enum { DIFF_EQ = ' ', DIFF_DEL = '-', DIFF_ADD = '+' };

/* Above this many edits the script is no longer minimal: the middle
 * that still differs is written as one deletion and one addition (the
 * trace of Myers' algorithm grows as the square of the edit count). */
#define DIFF_MAXD 2048

/* The edit script turning lines a[0..na) into b[0..nb), as one
 * DIFF_* character per step in *ops (caller frees; NUL-terminated).
 * A line is its bytes up to and including '\n' (the last may lack it).
 * Returns the script's length. */
size_t diff_script(const char *a, size_t na, const char *b, size_t nb,
    char **ops);

/* Unified diff hunks ("@@ -l,n +l,n @@" and their lines, ctx lines of
 * context, nearby hunks merged, "\ No newline at end of file" where a
 * last line lacks one) of a against b, appended to out.  No "---" or
 * "+++" header.  Returns the number of hunks (0: equal text). */
int diff_unified(struct buf *out, const char *a, size_t na, const char *b,
    size_t nb, int ctx);

/* 1 if the first block (8000 bytes) of p holds a NUL byte or is not
 * valid UTF-8 (a sequence cut by the block's end is fine). */
int diff_binary(const char *p, size_t n);

#endif
