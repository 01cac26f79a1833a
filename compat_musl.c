/* compat_musl.c - used by `make static` only.
 * Debian's libbearssl.a is built with _FORTIFY_SOURCE and calls glibc's
 * checked copies; musl has none: check the length, then do the plain
 * operation.
 * getpwnam and getgrnam (the user and group names of run --file): read
 * /etc/passwd and /etc/group, as musl's do, without musl's nscd client
 * and member lists (5 KB); they take the place of libc.a's, as do qsort
 * and strstr below (smaller; the same results). */
#define _POSIX_C_SOURCE 200809L
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__memcpy_chk(void *d, const void *s, size_t n, size_t dn);
void *__memmove_chk(void *d, const void *s, size_t n, size_t dn);
void *__memset_chk(void *d, int c, size_t n, size_t dn);

void *
__memcpy_chk(void *d, const void *s, size_t n, size_t dn)
{
	if (n > dn)
		abort();
	return memcpy(d, s, n);
}

void *
__memmove_chk(void *d, const void *s, size_t n, size_t dn)
{
	if (n > dn)
		abort();
	return memmove(d, s, n);
}

void *
__memset_chk(void *d, int c, size_t n, size_t dn)
{
	if (n > dn)
		abort();
	return memset(d, c, n);
}

static int
dbnum(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v > 0xffffffffUL)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The first line of FILE whose first field is NAME and whose ids (field
 * 2, and 3 in /etc/passwd: n == 7) are numbers, split at ':' into
 * f[0..n-1] (missing fields: NULL), the ids in id[]; the strings live in
 * *line (one buffer per caller, as each result is its own static). */
static int
dbline(const char *file, const char *name, char **f, int n, unsigned *id,
    char **line, size_t *cap)
{
	FILE *fp = fopen(file, "re");
	int i, found = 0;
	char *p;

	if (!fp)
		return 0;
	while (!found && getline(line, cap, fp) > 0) {
		(*line)[strcspn(*line, "\n")] = '\0';
		for (p = *line, i = 0; i < n; i++) {
			f[i] = p;
			if (p && (p = strchr(p, ':')))
				*p++ = '\0';
		}
		found = !strcmp(f[0], name) && !dbnum(f[2], &id[0]) &&
		    (n < 7 || !dbnum(f[3], &id[1]));
	}
	fclose(fp);
	return found;
}

struct passwd *
getpwnam(const char *name)
{
	static struct passwd pw;
	static char *line;
	static size_t cap;
	char *f[7];
	unsigned id[2];

	if (!dbline("/etc/passwd", name, f, 7, id, &line, &cap))
		return NULL;
	pw.pw_name = f[0];
	pw.pw_passwd = f[1];
	pw.pw_uid = id[0];
	pw.pw_gid = id[1];
	pw.pw_gecos = f[4] ? f[4] : "";
	pw.pw_dir = f[5] ? f[5] : "";
	pw.pw_shell = f[6] ? f[6] : "";
	return &pw;
}

struct group *
getgrnam(const char *name)
{
	static struct group gr;
	static char *line;
	static size_t cap;
	static char *nomem[1];
	char *f[4];
	unsigned id[1];

	if (!dbline("/etc/group", name, f, 4, id, &line, &cap))
		return NULL;
	gr.gr_name = f[0];
	gr.gr_passwd = f[1];
	gr.gr_gid = id[0];
	gr.gr_mem = nomem;      /* members: not read */
	return &gr;
}

/* qsort: a merge sort (stable) with one scratch buffer, or an insertion
 * sort when there is no memory for it; takes the place of musl's
 * smoothsort (2 KB).  Equal elements keep their order, as under glibc's
 * merge sort. */
static void
msort(char *a, char *t, size_t n, size_t w, int (*cmp)(const void *,
    const void *))
{
	size_t h = n / 2, i = 0, j = h, k = 0;

	if (n < 2)
		return;
	msort(a, t, h, w, cmp);
	msort(a + h * w, t, n - h, w, cmp);
	if (cmp(a + (h - 1) * w, a + h * w) <= 0)
		return;                 /* already in order */
	while (i < h && j < n) {
		if (cmp(a + j * w, a + i * w) < 0)
			memcpy(t + k++ * w, a + j++ * w, w);
		else
			memcpy(t + k++ * w, a + i++ * w, w);
	}
	memcpy(t + k * w, a + i * w, (h - i) * w);
	memcpy(a, t, (k + h - i) * w);  /* the rest of the right half stays */
}

void
qsort(void *base, size_t n, size_t w, int (*cmp)(const void *, const void *))
{
	char *a = base, *t, *p, *q, c;
	size_t i, b;

	if (n < 2 || !w)
		return;
	if ((t = malloc(n * w))) {
		msort(a, t, n, w, cmp);
		free(t);
		return;
	}
	for (i = 1; i < n; i++)
		for (p = a + i * w; p > a && cmp(p - w, p) > 0; p -= w)
			for (q = p - w, b = 0; b < w; b++) {
				c = q[b];
				q[b] = p[b];
				p[b] = c;
			}
}

/* strstr: the plain search (our haystacks are short lines, names and
 * URLs); musl's two-way search is 1.2 KB. */
char *
strstr(const char *h, const char *n)
{
	size_t k = strlen(n);

	for (; *h; h++)
		if (strncmp(h, n, k) == 0)
			return (char *)h;
	return k ? NULL : (char *)h;
}
