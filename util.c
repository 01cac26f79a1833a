/* util.c - errors, logging, checked allocation, buffers, base64, files. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int loglevel = LOG_INFO;
const char *argv0 = "contree";
volatile int interrupted;
volatile int terminated;

/* Not in POSIX 2008 (glibc and musl hide it under _DEFAULT_SOURCE); in
 * every libc we build with: glibc 2.25+, musl 1.1.20+, the BSDs. */
int getentropy(void *, size_t);

static char errbuf[2048];
static int errcls;

static void
vfmt(char *out, size_t n, const char *fmt, va_list ap)
{
	size_t len;
	int saved = errno;

	vsnprintf(out, n, fmt, ap);
	len = strlen(fmt);
	if (len && fmt[len - 1] == ':') {
		size_t l = strlen(out);
		snprintf(out + l, n - l, " %s", strerror(saved));
	}
}

static void
vseterr(int cls, const char *fmt, va_list ap)
{
	char tmp[sizeof errbuf];

	/* The format may refer to the current message (wrapping it). */
	vfmt(tmp, sizeof tmp, fmt, ap);
	memcpy(errbuf, tmp, sizeof errbuf);
	errcls = cls;
}

void
seterr(const char *fmt, ...)
{
	va_list ap;
	size_t len = strlen(fmt);
	int cls = ERR_OTHER;

	if (len && fmt[len - 1] == ':') {
		if (errno == EPIPE)
			cls = ERR_PIPE;
		else if (errno == EINTR && interrupted)
			cls = ERR_INTR;
		else if (errno == ETIMEDOUT)
			cls = ERR_TIMEOUT;
		else
			cls = ERR_IO;
	}
	va_start(ap, fmt);
	vseterr(cls, fmt, ap);
	va_end(ap);
}

void
seterrc(int cls, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(cls, fmt, ap);
	va_end(ap);
}

void
neterr(int cls, const char *fmt, ...)
{
	va_list ap;
	int e = errno;
	char *f = xasprintf("Network error: %s", fmt);  /* any length */

	errno = e;
	va_start(ap, fmt);
	vseterr(cls, f, ap);
	va_end(ap);
	free(f);
}

void
errwrap(const char *fmt, ...)
{
	va_list ap;
	char pre[256], tmp[sizeof errbuf];

	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	snprintf(tmp, sizeof tmp, "%s: %.1780s", pre, geterr());
	memcpy(errbuf, tmp, sizeof errbuf);
	if (errcls == ERR_NONE)
		errcls = ERR_OTHER;
}

const char *
geterr(void)
{
	return errbuf[0] ? errbuf : "unknown error";
}

int
geterrclass(void)
{
	return errcls;
}

void
clearerr_slot(void)
{
	errbuf[0] = '\0';
	errcls = ERR_NONE;
}

int
errexit(void)
{
	switch (errcls) {
	case ERR_PIPE:
		return EXIT_OK;
	case ERR_USAGE:
		return EXIT_USAGE;
	case ERR_INTR:
		return EXIT_INTR;
	default:
		return EXIT_ERR;
	}
}

static int
colour_stderr(void)
{
	const char *fc = getenv("FORCE_COLOR"), *nc = getenv("NO_COLOR");

	if (nc && *nc)
		return 0;
	if (fc && *fc)
		return 1;
	return isatty(2);
}

const char *const log_names[] = {
	"debug", "info", "warning", "error", "critical", NULL
};

int
log_parse(const char *name)
{
	int i;

	for (i = 0; log_names[i]; i++)
		if (strcmp(name, log_names[i]) == 0)
			return i;
	return LOG_INFO;
}

void
logmsg(int level, const char *fmt, ...)
{
	static const char *colours[] = {
		"\033[36m", "\033[32m", "\033[33m", "\033[31m", "\033[1;31m"
	};
	char msg[16384];  /* room for a 4096-byte debug body, escaped */
	char name[16];
	va_list ap;
	size_t i;

	if (level < loglevel || level < 0 || level > LOG_CRITICAL)
		return;
	for (i = 0; log_names[level][i] && i < sizeof name - 1; i++)
		name[i] = (char)toupper((unsigned char)log_names[level][i]);
	name[i] = '\0';
	va_start(ap, fmt);
	vfmt(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (colour_stderr()) {
		const char *mc = level == LOG_DEBUG ? "\033[90m" :
		    level == LOG_CRITICAL ? "\033[31m" : "";
		fprintf(stderr, "%s[%s]\033[0m %s%s%s\n", colours[level],
		    name, mc, msg, *mc ? "\033[0m" : "");
	} else {
		fprintf(stderr, "[%s] %s\n", name, msg);
	}
	fflush(stderr);
}

static void
oom(void)
{
	static const char m[] = "contree: out of memory\n";

	(void)!write(2, m, sizeof m - 1);
	exit(EXIT_ERR);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		oom();
	return xrealloc(p, nmemb * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;
	size_t l = 0;

	while (l < n && s[l])
		l++;
	p = xmalloc(l + 1);
	memcpy(p, s, l);
	p[l] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	buf_grow(&b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b.p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return b.p;
}

void
buf_grow(struct buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		oom();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (b->cap < 64)
		b->cap = 64;
	while (b->cap < need)
		b->cap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	b->p = xrealloc(b->p, b->cap);
	b->p[b->len] = '\0';
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_addc(struct buf *b, int c)
{
	char ch = (char)c;

	buf_add(b, &ch, 1);
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
b64_encode(struct buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	char q[4];
	size_t i;

	buf_grow(out, (n + 2) / 3 * 4);
	for (i = 0; i + 2 < n; i += 3) {
		q[0] = b64[s[i] >> 2];
		q[1] = b64[(s[i] & 3) << 4 | s[i + 1] >> 4];
		q[2] = b64[(s[i + 1] & 15) << 2 | s[i + 2] >> 6];
		q[3] = b64[s[i + 2] & 63];
		buf_add(out, q, 4);
	}
	if (i < n) {
		q[0] = b64[s[i] >> 2];
		if (i + 1 < n) {
			q[1] = b64[(s[i] & 3) << 4 | s[i + 1] >> 4];
			q[2] = b64[(s[i + 1] & 15) << 2];
		} else {
			q[1] = b64[(s[i] & 3) << 4];
			q[2] = '=';
		}
		q[3] = '=';
		buf_add(out, q, 4);
	}
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Accepts standard and URL-safe alphabets, ignores whitespace, padding
 * optional; anything else is an error. */
int
b64_decode(struct buf *out, const char *s, size_t n)
{
	unsigned acc = 0;
	int bits = 0, pad = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i], v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val(c)) < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(out, (int)(acc >> bits & 0xff));
		}
	}
	if (bits >= 6 || pad > 2)
		return -1;
	if (out->p == NULL)
		buf_grow(out, 0);
	return 0;
}

void
hexstr(char *out, const void *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[s[i] >> 4];
		out[2 * i + 1] = hx[s[i] & 15];
	}
	out[2 * n] = '\0';
}

int
parse_ll(const char *s, long long min, long long max, long long *out,
    const char *what)
{
	const char *p = s;
	long long v = 0;
	int neg = 0;

	if (*p == '-' && min < 0) {
		neg = 1;
		p++;
	} else if (*p == '+') {
		p++;
	}
	if (!*p)
		goto bad;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		if (v > (LLONG_MAX - (*p - '0')) / 10)
			goto range;
		v = v * 10 + (*p - '0');
	}
	if (neg)
		v = -v;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
bad:
	seterr("invalid %s: '%s'", what, s);
	return -1;
range:
	seterr("%s out of range: '%s'", what, s);
	return -1;
}

/* One word of shsplit from *s into w; 1 when the input ended inside
 * quotes or after a lone backslash. */
static int
shword(const char **s, struct buf *w)
{
	const char *p = *s;
	char q = 0;

	for (; *p && (q || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
		if (q == '\'') {
			if (*p == '\'')
				q = 0;
			else
				buf_addc(w, *p);
		} else if (*p == '\\' && (!q || (p[1] && strchr("\"\\$`\n", p[1])))) {
			if (!*++p)
				return 1;
			if (*p != '\n')
				buf_addc(w, *p);
		} else if (*p == '\\' && !p[1]) {
			return 1;
		} else if (q ? *p == '"' : (*p == '"' || *p == '\'')) {
			q = q ? 0 : *p;
		} else {
			buf_addc(w, *p);
		}
	}
	*s = p;
	return q != 0;
}

int
shsplit(const char *s, char ***words, int *n)
{
	struct buf w = {0};

	*words = xcalloc(1, sizeof **words);
	*n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			return 0;
		buf_reset(&w);
		buf_add(&w, "", 0);
		if (shword(&s, &w)) {
			buf_free(&w);
			freewords(*words);
			*words = NULL;
			*n = 0;
			return 1;
		}
		*words = xreallocarray(*words, (size_t)*n + 2, sizeof **words);
		(*words)[(*n)++] = w.p;
		(*words)[*n] = NULL;
		memset(&w, 0, sizeof w);
	}
}

void
freewords(char **words)
{
	char **p;

	for (p = words; p && *p; p++)
		free(*p);
	free(words);
}

int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
memzero(void *p, size_t n)
{
	volatile unsigned char *s = p;

	while (n--)
		*s++ = 0;
}

long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
randbytes(void *p, size_t n)
{
	ssize_t k = -1;
	int fd;

	if (n <= 256 && getentropy(p, n) == 0)
		return 0;
	if ((fd = open("/dev/urandom", O_RDONLY)) >= 0) {
		do
			k = read(fd, p, n);
		while (k < 0 && errno == EINTR);
		close(fd);
	}
	if (k != (ssize_t)n) {
		seterr("no random bytes: getentropy failed, and /dev/urandom:");
		return -1;
	}
	return 0;
}

/* One bracket expression at p (just past '['): whether c is in it, and
 * *end past its ']'.  -1 if the bracket is not closed: the '[' is then
 * an ordinary character; -2 for an unknown [:class:] or an unclosed [.x.]:
 * no match at all, as glibc (musl matches the rest). */
static int
bracket(const char *p, unsigned char c, const char **end)
{
	static const struct { const char *name; int (*f)(int); } cls[] = {
		{"alnum", isalnum}, {"alpha", isalpha}, {"blank", isblank},
		{"cntrl", iscntrl}, {"digit", isdigit}, {"graph", isgraph},
		{"lower", islower}, {"print", isprint}, {"punct", ispunct},
		{"space", isspace}, {"upper", isupper}, {"xdigit", isxdigit},
	};
	int neg = 0, in = 0, first = 1;

	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	for (; *p && (*p != ']' || first); first = 0) {
		unsigned char lo, hi;

		if (p[0] == '[' && p[1] == ':') {
			const char *q = strstr(p + 2, ":]");
			size_t i, n;

			if (!q)
				return -1;
			n = (size_t)(q - p - 2);
			for (i = 0; i < LEN(cls); i++)
				if (strlen(cls[i].name) == n &&
				    memcmp(cls[i].name, p + 2, n) == 0)
					break;
			if (i == LEN(cls))
				return -2;      /* the pattern is invalid */
			if (cls[i].f(c))
				in = 1;
			p = q + 2;
			continue;
		}
		if (p[0] == '[' && (p[1] == '.' || p[1] == '=')) {
			/* collating symbol or equivalence class: in the C
			 * locale only a single byte names one */
			char z[3] = {p[1], ']', 0};
			const char *q = strstr(p + 2, z);

			if (!q)
				return -2;
			if (q == p + 3 && (unsigned char)p[2] == c)
				in = 1;
			p = q + 2;
			continue;
		}
		if (*p == '\\' && p[1])
			p++;
		lo = hi = (unsigned char)*p++;
		if (p[0] == '-' && p[1] && p[1] != ']') {
			p++;
			if (*p == '\\' && p[1])
				p++;
			hi = (unsigned char)*p++;
		}
		if (lo <= c && c <= hi)
			in = 1;
	}
	if (*p != ']')
		return -1;
	*end = p + 1;
	return in != neg;
}

int
globmatch(const char *p, const char *s)
{
	const char *starp = NULL, *stars = NULL, *next;
	int m;

	for (;;) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return 1;
			starp = p;
			stars = s;
			continue;
		}
		if (!*s)
			return !*p;
		m = 0;
		next = p + 1;
		if (*p == '?')
			m = 1;
		else if (*p == '[' && (m = bracket(p + 1, (unsigned char)*s,
		    &next)) >= 0)
			;
		else if (m == -2)
			return 0;
		else if (*p == '\\' && p[1])
			m = p[1] == *s, next = p + 2;
		else if (*p)
			m = *p == *s, next = p + 1;
		if (m > 0) {
			p = next;
			s++;
			continue;
		}
		if (!starp)
			return 0;
		p = starp;
		s = ++stars;
	}
}

/* n decimal digits at *s (n = 1 also takes a second one): the value, or
 * -1. */
static int
datefield(const char **s, int n)
{
	int v = 0, k = 0;

	while (isdigit((unsigned char)**s) && (k < n || (n == 1 && k < 2))) {
		v = v * 10 + (*(*s)++ - '0');
		k++;
	}
	return k >= n ? v : -1;
}

int
parse_httpdate(const char *s, long long *t)
{
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, m, y, hh, mm, ss;

	if (!isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]) ||
	    !isalpha((unsigned char)s[2]) || strncmp(s + 3, ", ", 2) != 0)
		return -1;
	s += 5;
	if ((d = datefield(&s, 1)) < 1 || d > 31 || *s++ != ' ')
		return -1;
	for (m = 0; m < 12 && strncmp(s, mon + 3 * m, 3) != 0; m++)
		;
	if (m == 12 || s[3] != ' ')
		return -1;
	s += 4;
	if ((y = datefield(&s, 4)) < 0 || *s++ != ' ' ||
	    (hh = datefield(&s, 2)) < 0 || hh > 23 || *s++ != ':' ||
	    (mm = datefield(&s, 2)) < 0 || mm > 59 || *s++ != ':' ||
	    (ss = datefield(&s, 2)) < 0 || ss > 60 || strcmp(s, " GMT") != 0)
		return -1;
	*t = days_from_civil(y, m + 1, d) * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
sleep_ms(int64_t ms)
{
	struct timespec ts;

	/* in slices, as pollwait: a signal that lands between the
	 * caller's last look at the flag and nanosleep costs one slice */
	while (!interrupted && ms > 0) {
		int64_t n = ms < WAIT_SLICE_MS ? ms : WAIT_SLICE_MS;

		ts.tv_sec = 0;
		ts.tv_nsec = (long)n * 1000000;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR &&
		    !interrupted)
			;
		ms -= n;
	}
	return interrupted ? -1 : 0;
}

int
pollwait(int fd, short ev, int64_t ms)
{
	struct pollfd p;
	int64_t end = now_ms() + ms, left = ms;
	int rc;

	for (;;) {
		if (interrupted) {
			errno = EINTR;
			return -1;
		}
		p.fd = fd;
		p.events = ev;
		rc = poll(&p, 1, ms < 0 || left > WAIT_SLICE_MS ?
		    WAIT_SLICE_MS : (int)left);
		if (rc > 0 || (rc < 0 && errno != EINTR))
			return rc;
		if (ms >= 0 && (left = end - now_ms()) <= 0 && !interrupted)
			return 0;
	}
}

int
readfile(const char *path, struct buf *b)
{
	char tmp[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		seterr("%s:", path);
		return -1;
	}
	for (;;) {
		n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			seterr("%s:", path);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		buf_add(b, tmp, (size_t)n);
	}
	close(fd);
	if (!b->p)
		buf_grow(b, 0);
	return 0;
}

int
writeall(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n) {
		w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
atomic_write(const char *path, const void *p, size_t n, int mode, int sync)
{
	char *tmp, *dcopy;
	int fd, dfd;

	tmp = xasprintf("%s.tmpXXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		seterr("%s:", tmp);
		free(tmp);
		return -1;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || writeall(fd, p, n) < 0 ||
	    (sync && fsync(fd) < 0)) {
		seterr("%s:", path);
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		seterr("%s:", path);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	if (!sync)
		return 0;
	dcopy = xstrdup(path);
	if ((dfd = open(dirname(dcopy), O_RDONLY)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dcopy);
	return 0;
}

int
writefile_atomic(const char *path, const void *p, size_t n, int mode)
{
	return atomic_write(path, p, n, mode, 1);
}

int
writefile_cache(const char *path, const void *p, size_t n)
{
	return atomic_write(path, p, n, 0600, 0);
}

int
mkdirs(const char *path, int mode)
{
	char *p = xstrdup(path), *s;
	struct stat st;

	for (s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
				seterr("cannot create %s:", p);
				free(p);
				return -1;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		seterr("cannot create %s:", p);
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

/* ---- UUIDs and time expressions ---- */

int
is_uuid(const char *s)
{
	int i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return s[36] == '\0';
}

void
iso_utc(long long t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	/* snprintf, not strftime: the same text, without musl's strftime
	 * and its locale tables in the static binary */
	if ((long long)tt != t || !gmtime_r(&tt, &tm)) {
		snprintf(buf, n, "%lld", t);
		return;
	}
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
mdays(long long y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

static int
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
issep(int c)
{
	return c == '-' || c == '/' || c == '.' || c == ' ';
}

/* Absolute form: YYYY[sep MM[sep DD[(T| )hh[sep mm[sep ss]]]]][Z].
 * 1 parsed, 0 not this form, -1 impossible date. */
static int
absolute(const char *s, long long *out)
{
	int f[6] = {0, 1, 1, 0, 0, 0}, n;
	const char *p = s;
	size_t len = strlen(s);

	if (len && (s[len - 1] == 'Z' || s[len - 1] == 'z'))
		len--;
	if (len < 4 || digits(p, 4, &f[0]) < 0)
		return 0;
	p += 4;
	for (n = 1; n < 6 && (size_t)(p - s) < len; n++) {
		if (n == 3) {
			if (*p == 'T' || *p == 't' || *p == ' ')
				p++;
			else if (!isdigit((unsigned char)*p))
				return 0;
		} else if (issep(*p) || (n > 3 && *p == ':')) {
			p++;
		}
		if ((size_t)(p - s) + 2 > len || digits(p, 2, &f[n]) < 0)
			return 0;
		p += 2;
	}
	if ((size_t)(p - s) != len)
		return 0;
	if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > mdays(f[0], f[1]) ||
	    f[3] > 23 || f[4] > 59 || f[5] > 59) {
		seterr("invalid date: '%s'", s);
		return -1;
	}
	*out = days_from_civil(f[0], f[1], f[2]) * 86400 + f[3] * 3600 +
	    f[4] * 60 + f[5];
	return 1;
}

int
parse_when(const char *s, long long *out)
{
	long long now = (long long)time(NULL), total = 0, num = 0;
	int h, m, sec = 0, r, have = 0;
	const char *p;

	if ((r = absolute(s, out)) != 0)
		return r < 0 ? -1 : 0;
	/* HH:MM or HH:MM:SS today (UTC) */
	if ((strlen(s) == 5 || strlen(s) == 8) && digits(s, 2, &h) == 0 &&
	    s[2] == ':' && digits(s + 3, 2, &m) == 0 &&
	    (s[5] == '\0' || (s[5] == ':' && digits(s + 6, 2, &sec) == 0))) {
		if (h > 23 || m > 59 || sec > 59) {
			seterr("invalid time: '%s'", s);
			return -1;
		}
		*out = now - now % 86400 + h * 3600 + m * 60 + sec;
		return 0;
	}
	/* a duration ago: 90, 1d, 2h30m; unknown units count as seconds */
	p = s;
	if (*p == '+' || *p == '-')
		p++;
	for (; *p; p++) {
		if (isdigit((unsigned char)*p)) {
			if (num > (1LL << 40))
				num = 1LL << 40;
			num = num * 10 + (*p - '0');
			have = 1;
			continue;
		}
		if (have) {
			switch (*p) {
			case 'm': total += num * 60; break;
			case 'h': total += num * 3600; break;
			case 'd': total += num * 86400; break;
			case 'M': total += num * 30 * 86400; break;
			case 'y': total += num * 365 * 86400; break;
			default: total += num; break;
			}
		}
		num = 0;
		have = 0;
	}
	total += num;
	*out = now - total;
	return 0;
}

/* ---- paths ---- */

char *
join_path(const char *cwd, const char *p)
{
	struct buf in = {0}, out = {0};
	char *s, *seg, *save;

	if (p[0] != '/')
		buf_printf(&in, "%s/", cwd && *cwd ? cwd : "/");
	buf_puts(&in, p);
	for (seg = strtok_r(in.p, "/", &save); seg;
	    seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			char *slash = out.len ? strrchr(out.p, '/') : NULL;

			if (slash) {
				out.len = (size_t)(slash - out.p);
				out.p[out.len] = '\0';
			}
			continue;
		}
		buf_printf(&out, "/%s", seg);
	}
	if (!out.len)
		buf_puts(&out, "/");
	buf_free(&in);
	s = out.p;
	return s;
}

/* ---- prompts ---- */

/* Remove the line end (LF, CRLF) of a line read with fgets. */
static void
chomp(char *buf)
{
	size_t len = strlen(buf);

	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
}

int
ask_yn(const char *question)
{
	char line[256];

	fputs(question, stdout);
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin)) {
		fputs("\n", stdout);
		return 0;
	}
	return (line[0] == 'y' || line[0] == 'Y') &&
	    (line[1] == '\n' || line[1] == '\0');
}

int
read_line(const char *prompt, char *buf, size_t n)
{
	fputs(prompt, stdout);
	fflush(stdout);
	if (!fgets(buf, (int)n, stdin)) {
		fputs("\n", stdout);   /* the error goes on a line of its own */
		fflush(stdout);
		seterrc(ERR_IO, "no input (standard input ended at the prompt)");
		return -1;
	}
	chomp(buf);
	return 0;
}

int
read_secret(const char *prompt, char *buf, size_t n)
{
	struct termios old, raw;
	FILE *in = fopen("/dev/tty", "r+");
	int fd, echo_off = 0;
	char *r;

	if (!in)
		in = stdin;
	fd = fileno(in);
	fputs(prompt, stderr);
	fflush(stderr);
	if (isatty(fd) && tcgetattr(fd, &old) == 0) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)ECHO;
		echo_off = tcsetattr(fd, TCSAFLUSH, &raw) == 0;
	}
	r = fgets(buf, (int)n, in);
	if (echo_off) {
		tcsetattr(fd, TCSAFLUSH, &old);
		fputs("\n", stderr);
	} else if (!r) {
		fputs("\n", stderr);   /* the error goes on a line of its own */
	}
	if (in != stdin)
		fclose(in);
	if (!r) {
		seterrc(ERR_IO, "no input (standard input ended at the prompt)");
		return -1;
	}
	chomp(buf);
	return 0;
}

/* rm -r; a missing path is fine.  0, or -1 (with report: the slot says
 * "cannot remove P: why" for the last path that failed). */
int
remove_tree(const char *path, int report)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0)
			goto fail;
		return 0;
	}
	if (!(d = opendir(path)))
		goto fail;
	while ((e = readdir(d))) {
		char *p;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", path, e->d_name);
		if (remove_tree(p, report) < 0)
			rc = -1;
		free(p);
	}
	closedir(d);
	if (rc == 0 && rmdir(path) == 0)
		return 0;
	if (rc < 0)
		return -1;
fail:
	if (report)
		seterr("cannot remove %s:", path);
	return -1;
}

/* ---- shared by the command files (cmd_run, cmd_ops, cmd_explore) ---- */

int
writeall_nl(int fd, const char *p, size_t n)
{
	if (!n)
		return 0;
	if (writeall(fd, p, n) < 0)
		return -1;
	return p[n - 1] != '\n' ? writeall(fd, "\n", 1) : 0;
}

int
utf8_valid(const char *p, size_t n, int more)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min, v;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { need = 1; min = 0x80; v = c & 0x1f; }
		else if ((c & 0xf0) == 0xe0) { need = 2; min = 0x800; v = c & 0x0f; }
		else if ((c & 0xf8) == 0xf0) { need = 3; min = 0x10000; v = c & 0x07; }
		else return 0;
		for (i++; need; need--, i++) {
			if (i >= n)
				return more;
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			v = v << 6 | (s[i] & 0x3f);
		}
		if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return 0;
	}
	return 1;
}

int
user_interrupted(void)
{
	seterrc(ERR_INTR, "User interrupted");
	return -1;
}

int
ctrlchar(const char *s)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s))  /* C locale: < ' ', DEL */
			return 1;
	return 0;
}
