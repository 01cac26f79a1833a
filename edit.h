/* edit.h - the line editor of `contree shell`: a state machine fed one
 * byte at a time (unit-tested without a terminal), a renderer that
 * draws the line into a buffer of terminal output, and a small termios
 * driver.  No library: no readline, no curses. */
#ifndef EDIT_H
#define EDIT_H

#include <stddef.h>

#include "util.h"

/* What a byte did (ed_key). */
enum {
	ED_MORE,        /* keep reading */
	ED_LINE,        /* Enter: the line is in e->line */
	ED_EOF,         /* Ctrl-D on an empty line */
	ED_INTR,        /* Ctrl-C: the line was dropped */
	ED_CLEAR,       /* Ctrl-L: clear the screen, then redraw */
	ED_TAB          /* Tab: the caller completes (ed_replace) */
};

struct ed {
	struct buf line;        /* the line, UTF-8, NUL-terminated */
	size_t cur;             /* cursor: byte offset in line */
	char **hist;            /* oldest first */
	size_t nhist, maxhist;
	size_t hpos;            /* browsing: index into hist, nhist = none */
	char *saved;            /* the edited line while browsing */
	struct buf kill;        /* last killed text, for Ctrl-Y */
	int search;             /* in Ctrl-R search */
	struct buf pat;         /* its pattern */
	size_t smatch;          /* index of the matching history line */
	int sfail;              /* no line matches the pattern */
	int esc;                /* escape sequence: 0 none, 1 ESC, 2 CSI/SS3 */
	char seq[16];           /* its bytes after ESC */
	size_t nseq;
};

/* Zero e first; maxhist 0 means 10,000. */
void ed_init(struct ed *e, size_t maxhist);
void ed_free(struct ed *e);
/* Start a new line (empty, history browsing reset). */
void ed_reset(struct ed *e);
/* Feed one input byte; ED_*. */
int ed_key(struct ed *e, unsigned char c);
/* Append a line to the history: not empty lines, not a repeat of the
 * last one; the oldest is dropped beyond maxhist. */
void ed_hist_add(struct ed *e, const char *line);
/* Replace the bytes [from, to) of the line with s; the cursor goes to
 * the end of s. */
void ed_replace(struct ed *e, size_t from, size_t to, const char *s);
/* Terminal output that draws prompt and line on the current row for a
 * terminal of cols columns (long lines scroll sideways around the
 * cursor), appended to out. */
void ed_render(const struct ed *e, const char *prompt, int cols,
    struct buf *out);
/* Display width of s: code points, escape sequences (ESC [ ... letter)
 * count zero. */
size_t ed_width(const char *s, size_t n);

/* Read one line from the terminal in raw mode with prompt (restored
 * before returning, and by SIGTERM/SIGHUP and crash signals).  complete
 * (may be NULL) is called on Tab.  ED_LINE, ED_EOF, ED_INTR, or -1 with
 * the slot set (not a terminal, read error). */
int ed_readline(struct ed *e, const char *prompt,
    void (*complete)(void *arg, struct ed *e), void *arg);

#endif
