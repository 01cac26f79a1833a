/* util.h - errors, logging, checked allocation, buffers, base64, time.
 * Everything here is small and used by every other file. */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define VERSION "0.6.0"

/* printf-style format checking where the compiler offers it. */
#if defined(__GNUC__) || defined(__clang__)
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTFLIKE(f, a)
/* Prompt on stderr and read one line without echo from the terminal
 * (/dev/tty, else standard input); the newline is removed.  0, or -1
 * with the slot set (EOF, no input). */
int read_secret(const char *prompt, char *buf, size_t n);
/* Prompt and read one line with echo (standard input).  0 or -1 (EOF). */
int read_line(const char *prompt, char *buf, size_t n);

/* y/N prompt on stdout; EOF counts as no.  1 yes, 0 no. */
int ask_yn(const char *question);

#endif

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit status (see contree.1 EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_ERR = 1,     /* any handled error */
	EXIT_USAGE = 2,   /* bad command line */
	EXIT_INTR = 130   /* interrupted (Ctrl-C) */
};

/* Log levels, as in -L. */
enum { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_CRITICAL };
/* The -L names in level order: "debug" ... "critical", NULL. */
extern const char *const log_names[];
/* LOG_* for a name; LOG_INFO if unknown. */
int log_parse(const char *name);
extern int loglevel;            /* messages below it are dropped */
extern const char *argv0;       /* "contree" */

/* Write "[LEVEL] message\n" to stderr if level >= loglevel.  A format
 * ending in ':' gets ": strerror(errno)" appended. */
void logmsg(int level, const char *fmt, ...) PRINTFLIKE(2, 3);

/* The one error slot: a message and its class.  Functions that fail
 * set it and return -1 (or NULL); main prints the message and maps the
 * class to the exit status (contree.1 EXIT STATUS).  A format ending in
 * ':' appends strerror(errno). */
enum errclass {
	ERR_NONE,       /* nothing recorded */
	ERR_OTHER,      /* any other handled error: status 1 */
	ERR_USAGE,      /* bad command line: status 2 */
	ERR_NET,        /* could not reach the server, connection lost */
	ERR_TIMEOUT,    /* a deadline passed */
	ERR_TLS,        /* handshake or certificate failure */
	ERR_API,        /* the server answered with an error status */
	ERR_IO,         /* local file or terminal I/O */
	ERR_PIPE,       /* the reader of our output went away: quiet, 0 */
	ERR_INTR        /* interrupted by the user: status 130 */
};
/* seterr classifies by errno for a ':' format (EPIPE: ERR_PIPE, EINTR
 * after Ctrl-C: ERR_INTR, other errno: ERR_IO), else ERR_OTHER. */
void seterr(const char *fmt, ...) PRINTFLIKE(1, 2);
void seterrc(int cls, const char *fmt, ...) PRINTFLIKE(2, 3);
/* seterrc with "Network error: " before the message. */
void neterr(int cls, const char *fmt, ...) PRINTFLIKE(2, 3);
/* Prefix the current message with "<text>: ", keeping its class. */
void errwrap(const char *fmt, ...) PRINTFLIKE(1, 2);
const char *geterr(void);
int geterrclass(void);
void clearerr_slot(void);
/* The exit status for the current class (EXIT_ERR when unclassified). */
int errexit(void);

/* Out of memory is the one condition that ends the process outside
 * main: it prints "contree: out of memory" and exits 1. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTFLIKE(1, 2);

/* Growable byte buffer, always NUL-terminated after len (when p != NULL).
 * Zero-initialise ({0}) before first use; buf_free releases. */
struct buf {
	char *p;
	size_t len, cap;
};
void buf_grow(struct buf *b, size_t extra);     /* room for extra more */
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addc(struct buf *b, int c);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTFLIKE(2, 3);
void buf_reset(struct buf *b);                  /* len = 0, keeps memory */
void buf_free(struct buf *b);

/* Base64 (RFC 4648, with padding).  b64_encode appends to out.
 * b64_decode appends decoded bytes; returns 0, or -1 on invalid input
 * (out then holds whatever decoded before the error). */
void b64_encode(struct buf *out, const void *p, size_t n);
int b64_decode(struct buf *out, const char *s, size_t n);

/* Hex of n bytes into out (2n+1 bytes). */
void hexstr(char *out, const void *p, size_t n);

/* Bounded number parsing, strtonum style: whole string must be digits
 * (optional leading '-' when min < 0), value within [min, max].
 * Returns 0 or -1 (and sets the error slot with what). */
int parse_ll(const char *s, long long min, long long max, long long *out,
    const char *what);

/* Split s into words by POSIX shell quoting: blanks separate words;
 * '...' keeps every byte; "..." keeps every byte but a backslash before
 * " \\ $ ` or a newline; a backslash outside quotes keeps the next byte
 * as it is; backslash-newline is removed.  0 with *words (n of them,
 * NULL-terminated; free with freewords), or 1 when s ends inside quotes
 * or with a lone backslash: the line goes on. */
int shsplit(const char *s, char ***words, int *n);
void freewords(char **words);

/* qsort comparator for an array of char *, by strcmp. */
int cmpstr(const void *a, const void *b);

/* Zero memory that held a secret (not optimised away). */
void memzero(void *p, size_t n);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (month
 * 1-12, day 1-31; not range-checked). */
long long days_from_civil(long long y, int m, int d);

/* n (at most 256) random bytes from the kernel: getentropy(2), which
 * needs no /dev (a static binary in an empty chroot), else
 * /dev/urandom.  0, or -1 with the slot set. */
int randbytes(void *p, size_t n);

/* 1 if s matches the shell glob pat (POSIX fnmatch with no flags, one
 * byte per character: '*' and '?' match '/' and a leading '.'; [...]
 * with '!' or '^', ranges and [:class:]; '\\' quotes), else 0.  Ours
 * because libc's fnmatch pulls wide-character tables into the static
 * binary (16 KB). */
int globmatch(const char *pat, const char *s);

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110) to Unix
 * seconds in *t.  0, or -1 if s is not one. */
int parse_httpdate(const char *s, long long *t);

/* 1 if s is a lowercase canonical 8-4-4-4-12 UUID. */
int is_uuid(const char *s);
/* Time expression of cli.md §9.4.1 (--since/--until) to Unix seconds:
 * an absolute date, HH:MM[:SS] today, or a duration ago (2h30m).  -1
 * with the slot set for an impossible date. */
int parse_when(const char *s, long long *out);
/* Unix seconds to "YYYY-MM-DDTHH:MM:SSZ" (buf of 21+ bytes). */
void iso_utc(long long t, char *buf, size_t n);
/* Join p to cwd (NULL or "" means "/") unless p is absolute, and
 * normalise: ".", ".." and repeated '/' removed.  Caller frees. */
char *join_path(const char *cwd, const char *p);

/* Monotonic time in milliseconds. */
int64_t now_ms(void);
/* Sleep ms milliseconds in slices of at most 250 ms; -1 within a slice
 * once the interrupted flag is set (before the sleep too), else 0. */
int sleep_ms(int64_t ms);
/* poll(2) fd for events ev up to ms milliseconds (< 0: no limit), in
 * slices of at most 250 ms: a signal that set `interrupted` while we
 * were outside poll ends the wait within a slice.  >0 ready, 0 timed
 * out, -1 with errno (EINTR once `interrupted` is set, even when fd
 * is ready: a request after Ctrl-C, such as a cancel, clears the flag
 * first, as op_cancel does). */
int pollwait(int fd, short ev, int64_t ms);
/* The longest single wait of pollwait, sleep_ms and jobs_step: how late
 * a signal that lands just before it is seen at most. */
#define WAIT_SLICE_MS 250
/* Set by the SIGINT, SIGTERM and SIGHUP handler (contree.c). */
extern volatile int interrupted;
/* The SIGTERM or SIGHUP caught (interrupted is set too): the program
 * ends once the command stopped, killed by it (main re-raises). */
extern volatile int terminated;

/* Read a whole file into b (appending).  0 or -1 (error slot set). */
int readfile(const char *path, struct buf *b);
/* Write data to path atomically: temp file in the same directory with
 * the given mode, fsync, rename, fsync dir.  0 or -1 (error slot set). */
int writefile_atomic(const char *path, const void *p, size_t n, int mode);
/* The same with mode 0600 and no fsync: for caches, where a lost write
 * costs a request, never correctness.  0 or -1 (error slot set). */
int writefile_cache(const char *path, const void *p, size_t n);
/* Write all of n bytes to fd, retrying on EINTR/short writes. 0 or -1. */
int writeall(int fd, const void *p, size_t n);
/* mkdir -p with the given mode for created directories.  0 or -1. */
int mkdirs(const char *path, int mode);

/* Prompt on stderr and read one line without echo from the terminal
 * (/dev/tty, else standard input); the newline is removed.  0, or -1
 * with the slot set (EOF, no input). */
int read_secret(const char *prompt, char *buf, size_t n);
/* Prompt and read one line with echo (standard input).  0 or -1 (EOF). */
int read_line(const char *prompt, char *buf, size_t n);

/* y/N prompt on stdout; EOF counts as no.  1 yes, 0 no. */
int ask_yn(const char *question);

/* rm -r path; a missing path is fine.  0, or -1 (with report, the
 * slot names the last path that could not be removed). */
int remove_tree(const char *path, int report);

/* writeall, then a newline if the n bytes do not end with one;
 * nothing at all for n == 0.  0 or -1. */
int writeall_nl(int fd, const char *p, size_t n);

/* 1 if p holds valid UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF); with more, a sequence cut short by the end of p is fine
 * (the rest of it comes next).  0 if not. */
int utf8_valid(const char *p, size_t n, int more);
/* Does s hold a control character (below ' ', or DEL)? */
int ctrlchar(const char *s);

/* Ctrl-C: the slot says "User interrupted" (ERR_INTR).  Returns -1. */
int user_interrupted(void);

#endif
