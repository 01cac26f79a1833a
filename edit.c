/* edit.c - the shell's line editor: a byte-at-a-time state machine
 * (ed_key), a renderer (ed_render) and a termios driver (ed_readline).
 * Keys: printable text inserts; Left/Right, Ctrl-B/F by character,
 * Alt-B/F and Ctrl-Left/Right by word; Home/End, Ctrl-A/E; Backspace,
 * Delete, Ctrl-D (EOF on an empty line); Ctrl-K/U/W kill, Ctrl-Y
 * yanks; Up/Down, Ctrl-P/N walk the history; Ctrl-R searches it; Tab
 * completes; Ctrl-L clears; Ctrl-C drops the line; Enter ends it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "edit.h"

#define CT(c) ((c) & 0x1f)  /* the byte of Ctrl-c */

void
ed_init(struct ed *e, size_t maxhist)
{
	memset(e, 0, sizeof *e);
	e->maxhist = maxhist ? maxhist : 10000;
	ed_reset(e);
}

void
ed_reset(struct ed *e)
{
	buf_reset(&e->line);
	buf_add(&e->line, "", 0);
	e->cur = 0;
	e->hpos = e->nhist;
	free(e->saved);
	e->saved = NULL;
	e->search = 0;
	e->esc = 0;
	e->nseq = 0;
}

void
ed_free(struct ed *e)
{
	size_t i;

	for (i = 0; i < e->nhist; i++)
		free(e->hist[i]);
	free(e->hist);
	free(e->saved);
	buf_free(&e->line);
	buf_free(&e->kill);
	buf_free(&e->pat);
	memset(e, 0, sizeof *e);
}

void
ed_hist_add(struct ed *e, const char *line)
{
	if (!*line || (e->nhist && strcmp(e->hist[e->nhist - 1], line) == 0))
		return;
	if (e->nhist == e->maxhist) {
		free(e->hist[0]);
		memmove(e->hist, e->hist + 1, (e->nhist - 1) * sizeof *e->hist);
		e->nhist--;
	}
	e->hist = xreallocarray(e->hist, e->nhist + 1, sizeof *e->hist);
	e->hist[e->nhist++] = xstrdup(line);
	e->hpos = e->nhist;
}

void
ed_replace(struct ed *e, size_t from, size_t to, const char *s)
{
	struct buf b = {0};

	if (to > e->line.len)
		to = e->line.len;
	if (from > to)
		from = to;
	buf_add(&b, e->line.p, from);
	buf_puts(&b, s);
	e->cur = b.len;
	buf_add(&b, e->line.p + to, e->line.len - to);
	buf_free(&e->line);
	e->line = b;
}

static void
set_line(struct ed *e, const char *s)
{
	ed_replace(e, 0, e->line.len, s);
}

static int
iscont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static size_t
prevchar(const struct ed *e, size_t i)
{
	while (i > 0 && iscont((unsigned char)e->line.p[--i]))
		;
	return i;
}

static size_t
nextchar(const struct ed *e, size_t i)
{
	if (i < e->line.len)
		i++;
	while (i < e->line.len && iscont((unsigned char)e->line.p[i]))
		i++;
	return i;
}

static size_t
prevword(const struct ed *e, size_t i)
{
	while (i > 0 && e->line.p[i - 1] == ' ')
		i--;
	while (i > 0 && e->line.p[i - 1] != ' ')
		i--;
	return i;
}

static size_t
nextword(const struct ed *e, size_t i)
{
	while (i < e->line.len && e->line.p[i] == ' ')
		i++;
	while (i < e->line.len && e->line.p[i] != ' ')
		i++;
	return i;
}

/* Cut [from, to) into the kill buffer. */
static void
cut(struct ed *e, size_t from, size_t to)
{
	char *rest;

	if (from >= to)
		return;
	buf_reset(&e->kill);
	buf_add(&e->kill, e->line.p + from, to - from);
	rest = xstrdup(e->line.p + to);
	ed_replace(e, from, e->line.len, rest);
	free(rest);
	e->cur = from;
}

static void
history(struct ed *e, int older)
{
	if (older && e->hpos == 0)
		return;
	if (!older && e->hpos >= e->nhist)
		return;
	if (e->hpos == e->nhist) {
		free(e->saved);
		e->saved = xstrdup(e->line.p);
	}
	e->hpos += older ? -1 : 1;
	set_line(e, e->hpos == e->nhist ? e->saved : e->hist[e->hpos]);
}

/* ---- Ctrl-R ---- */

/* The newest history line at or before index from containing the
 * pattern; sets smatch/sfail. */
static void
search_from(struct ed *e, size_t from)
{
	size_t i;

	e->sfail = 1;
	for (i = from + 1; i-- > 0 && e->nhist;) {
		if (i < e->nhist && strstr(e->hist[i], e->pat.p ? e->pat.p : "")) {
			e->smatch = i;
			e->sfail = 0;
			return;
		}
	}
}

static void
search_accept(struct ed *e)
{
	e->search = 0;
	if (!e->sfail && e->smatch < e->nhist) {
		set_line(e, e->hist[e->smatch]);
		e->hpos = e->nhist;
	}
}

/* A byte in search mode; -1 when it ends the search and should be
 * handled as an ordinary key. */
static int
search_key(struct ed *e, unsigned char c)
{
	if (c == CT('R')) {
		if (e->smatch > 0 && !e->sfail)
			search_from(e, e->smatch - 1);
		return ED_MORE;
	}
	if (c == CT('G') || c == CT('C')) {
		e->search = 0;
		return c == CT('C') ? -1 : ED_MORE;
	}
	if (c == 127 || c == CT('H')) {
		if (e->pat.len)
			e->pat.p[--e->pat.len] = '\0';
		search_from(e, e->nhist ? e->nhist - 1 : 0);
		return ED_MORE;
	}
	if (c >= 0x20 && c != 127) {
		buf_addc(&e->pat, c);
		search_from(e, e->sfail || e->smatch >= e->nhist ?
		    (e->nhist ? e->nhist - 1 : 0) : e->smatch);
		return ED_MORE;
	}
	search_accept(e);
	return -1;
}

/* ---- escape sequences ---- */

static void
seq_key(struct ed *e)
{
	/* sequences named by their key: the key's letter, then the
	 * sequence after ESC */
	static const char alias[][7] = {
		"b[1;5D", "b[1;3D", "f[1;5C", "f[1;3C", "H[1~", "H[7~", "F[4~",
		"F[8~", "x[3~"
	};
	const char *s = e->seq;
	char last = s[e->nseq - 1];
	size_t i;

	if (s[0] == 'b' || s[0] == 'f') {        /* Alt-B, Alt-F */
		e->cur = s[0] == 'b' ? prevword(e, e->cur) : nextword(e, e->cur);
		return;
	}
	for (i = 0; i < sizeof alias / sizeof alias[0] &&
	    strcmp(s, alias[i] + 1); i++)
		;
	if (i < sizeof alias / sizeof alias[0])
		last = alias[i][0];
	else if (last == '~')
		return;
	switch (last) {
	case 'A': history(e, 1); break;
	case 'B': history(e, 0); break;
	case 'C': e->cur = nextchar(e, e->cur); break;
	case 'D': e->cur = prevchar(e, e->cur); break;
	case 'H': e->cur = 0; break;
	case 'F': e->cur = e->line.len; break;
	case 'b': e->cur = prevword(e, e->cur); break;
	case 'f': e->cur = nextword(e, e->cur); break;
	case 'x':
		if (e->cur < e->line.len)
			cut(e, e->cur, nextchar(e, e->cur));
		break;
	}
}

/* A byte of an escape sequence: ESC, then '[' or 'O' and parameters up
 * to a final byte, or one letter (Alt-x). */
static int
esc_key(struct ed *e, unsigned char c)
{
	if (e->nseq < sizeof e->seq - 1)
		e->seq[e->nseq++] = (char)c;
	e->seq[e->nseq] = '\0';
	if (e->esc == 1) {
		if (c == '[' || c == 'O') {
			e->esc = 2;
			return ED_MORE;
		}
		e->esc = 0;
		if (c == 'b' || c == 'f')
			seq_key(e);
		return ED_MORE;
	}
	if (c >= 0x40 && c <= 0x7e) {
		e->esc = 0;
		seq_key(e);
	}
	return ED_MORE;
}

/* ---- the keys ---- */

static int
ctrl_key(struct ed *e, unsigned char c)
{
	switch (c) {
	case '\r': case '\n': return ED_LINE;
	case CT('C'): ed_reset(e); return ED_INTR;
	case CT('D'):
		if (!e->line.len)
			return ED_EOF;
		cut(e, e->cur, nextchar(e, e->cur));
		break;
	case CT('A'): e->cur = 0; break;
	case CT('E'): e->cur = e->line.len; break;
	case CT('B'): e->cur = prevchar(e, e->cur); break;
	case CT('F'): e->cur = nextchar(e, e->cur); break;
	case CT('K'): cut(e, e->cur, e->line.len); break;
	case CT('U'): cut(e, 0, e->cur); break;
	case CT('W'): cut(e, prevword(e, e->cur), e->cur); break;
	case CT('Y'):
		if (e->kill.len)
			ed_replace(e, e->cur, e->cur, e->kill.p);
		break;
	case CT('P'): history(e, 1); break;
	case CT('N'): history(e, 0); break;
	case CT('L'): return ED_CLEAR;
	case '\t': return ED_TAB;
	case CT('R'):
		e->search = 1;
		buf_reset(&e->pat);
		buf_add(&e->pat, "", 0);
		e->sfail = 0;
		e->smatch = e->nhist;
		break;
	case 27: e->esc = 1; e->nseq = 0; break;
	case 127: case CT('H'):
		if (e->cur > 0) {
			size_t p = prevchar(e, e->cur);

			cut(e, p, e->cur);
		}
		break;
	}
	return ED_MORE;
}

int
ed_key(struct ed *e, unsigned char c)
{
	char s[2] = {(char)c, '\0'};
	int r;

	if (e->esc)
		return esc_key(e, c);
	if (e->search && (r = search_key(e, c)) >= 0)
		return r;
	if (c < 0x20 || c == 127)
		return ctrl_key(e, c);
	ed_replace(e, e->cur, e->cur, s);
	return ED_MORE;
}

/* ---- drawing ---- */

size_t
ed_width(const char *s, size_t n)
{
	size_t i, w = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == 27 && i + 1 < n && s[i + 1] == '[') {
			for (i += 2; i < n && !(s[i] >= 0x40 && s[i] <= 0x7e); i++)
				;
			continue;
		}
		if (!iscont((unsigned char)s[i]))
			w++;
	}
	return w;
}

/* Byte offset of the code point number col of s. */
static size_t
colbyte(const char *s, size_t n, size_t col)
{
	size_t i = 0;

	while (i < n && col > 0) {
		i++;
		while (i < n && iscont((unsigned char)s[i]))
			i++;
		col--;
	}
	return i;
}

void
ed_render(const struct ed *e, const char *prompt, int cols, struct buf *out)
{
	struct buf sp = {0};
	const char *line = e->line.p ? e->line.p : "";
	size_t len = e->line.len, cur = e->cur, pw, avail, ccol, first, a, b;

	if (e->search) {
		buf_printf(&sp, "(%sreverse-i-search)`%s': ",
		    e->sfail ? "failed " : "", e->pat.p ? e->pat.p : "");
		prompt = sp.p;
		if (!e->sfail && e->smatch < e->nhist) {
			line = e->hist[e->smatch];
			len = strlen(line);
		}
		cur = len;
	}
	pw = ed_width(prompt, strlen(prompt));
	avail = cols > 0 && (size_t)cols > pw + 1 ? (size_t)cols - pw - 1 : 1;
	ccol = ed_width(line, cur);
	first = ccol < avail ? 0 : ccol - avail + 1;
	a = colbyte(line, len, first);
	b = a + colbyte(line + a, len - a, avail);
	buf_printf(out, "\r%s", prompt);
	buf_add(out, line + a, b - a);
	buf_puts(out, "\033[K\r");
	if (pw + ccol - first > 0)
		buf_printf(out, "\033[%zuC", pw + ccol - first);
	buf_free(&sp);
}

/* ---- the terminal ---- */

static struct termios saved_tio;
static volatile sig_atomic_t raw_on, winched;

/* The fatal signals rawmode catches, and what they did before (main's
 * handler: a command typed in the shell stops on SIGTERM as on Ctrl-C;
 * an inherited ignore stays). */
static const int fatal[] = {SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS,
    SIGABRT, SIGFPE, SIGILL};
static struct sigaction fatal_old[LEN(fatal)];

static void
restore(void)
{
	size_t i;

	if (raw_on) {
		tcsetattr(0, TCSAFLUSH, &saved_tio);
		raw_on = 0;
		for (i = 0; i < LEN(fatal); i++)
			sigaction(fatal[i], &fatal_old[i], NULL);
	}
}

static void
onfatal(int sig)
{
	struct sigaction sa;

	restore();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	raise(sig);
}

static void
onwinch(int sig)
{
	(void)sig;
	winched = 1;
}

static int
rawmode(void)
{
	struct termios t;
	struct sigaction sa;
	size_t i;

	if (!isatty(0) || tcgetattr(0, &saved_tio) < 0) {
		seterrc(ERR_IO, "standard input is not a terminal");
		return -1;
	}
	t = saved_tio;
	t.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
	t.c_cflag |= CS8;
	t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(0, TCSAFLUSH, &t) < 0) {
		seterr("terminal:");
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = onfatal;
	for (i = 0; i < LEN(fatal); i++)
		if (sigaction(fatal[i], NULL, &fatal_old[i]) == 0 &&
		    fatal_old[i].sa_handler != SIG_IGN)
			sigaction(fatal[i], &sa, NULL);
	sa.sa_handler = onwinch;       /* no SA_RESTART: read returns */
	sigaction(SIGWINCH, &sa, NULL);
	raw_on = 1;
	return 0;
}

static int
columns(void)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");

	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return c && atoi(c) > 0 ? atoi(c) : 80;
}

static void
draw(const struct ed *e, const char *prompt)
{
	struct buf out = {0};

	ed_render(e, prompt, columns(), &out);
	writeall(1, out.p, out.len);
	buf_free(&out);
}

int
ed_readline(struct ed *e, const char *prompt,
    void (*complete)(void *arg, struct ed *e), void *arg)
{
	unsigned char c;
	ssize_t n;
	int r = ED_MORE;

	ed_reset(e);
	if (rawmode() < 0)
		return -1;
	draw(e, prompt);
	while (r == ED_MORE || r == ED_CLEAR || r == ED_TAB) {
		n = read(0, &c, 1);
		if (n < 0 && errno == EINTR) {
			winched = 0;
			draw(e, prompt);
			continue;
		}
		if (n <= 0) {
			r = n == 0 ? ED_EOF : -1;
			if (n < 0)
				seterr("reading the terminal:");
			break;
		}
		r = ed_key(e, c);
		if (r == ED_CLEAR)
			writeall(1, "\033[H\033[2J", 7);
		if (r == ED_TAB && complete)
			complete(arg, e);
		if (r != ED_LINE && r != ED_EOF && r != ED_INTR && !e->esc)
			draw(e, prompt);
	}
	restore();
	if (r == ED_INTR)
		writeall(1, "^C\n", 3);
	else
		writeall(1, "\n", 1);
	return r;
}
