/* diff.c - line diffs for `contree diff -p`: Myers' greedy O(ND)
 * shortest edit script ("An O(ND) Difference Algorithm and Its
 * Variations", 1986), written from the paper's idea, and unified hunks.
 *
 * The forward search keeps, for every edit count d, the frontier V_d:
 * the furthest x reached on each diagonal k = x - y with d edits.  The
 * frontiers are kept (V_d at trace[d*d .. d*d+2d]) so that the path can
 * be walked back from (n, m).  Common prefix and suffix lines are taken
 * off first, which makes the usual small change cheap. */
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "util.h"

struct line {
	const char *p;
	size_t n;               /* bytes, '\n' included */
	unsigned long h;
};

static unsigned long
hash(const char *p, size_t n)
{
	unsigned long h = 5381;

	while (n--)
		h = h * 33 ^ (unsigned char)*p++;
	return h;
}

static size_t
split(const char *s, size_t n, struct line **out)
{
	struct line *v = NULL;
	size_t k = 0, cap = 0, i = 0, len;
	const char *e;

	while (i < n) {
		e = memchr(s + i, '\n', n - i);
		len = e ? (size_t)(e - (s + i)) + 1 : n - i;
		if (k == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[k].p = s + i;
		v[k].n = len;
		v[k].h = hash(s + i, len);
		k++;
		i += len;
	}
	*out = v;
	return k;
}

static int
eq(const struct line *a, const struct line *b)
{
	return a->h == b->h && a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

#define V(d, k) tr[(size_t)(d) * (size_t)(d) + (size_t)((k) + (d))]

/* The diagonal the d-th edit came from to reach diagonal k: k + 1 (an
 * addition, moving down) or k - 1 (a deletion, moving right); the one
 * reaching further, additions on a tie, so deletions print first.
 * *x is where the edit lands; 0 if neither is inside the grid. */
static int
from(const int *tr, int d, int k, int n, int m, int *pk, int *x)
{
	int down = -1, right = -1;

	if (k + 1 <= d - 1 && V(d - 1, k + 1) >= 0 &&
	    V(d - 1, k + 1) - k <= m)
		down = V(d - 1, k + 1);
	if (k - 1 >= -(d - 1) && V(d - 1, k - 1) >= 0 &&
	    V(d - 1, k - 1) + 1 <= n)
		right = V(d - 1, k - 1) + 1;
	if (down < 0 && right < 0)
		return 0;
	*pk = right > down ? k - 1 : k + 1;
	*x = right > down ? right : down;
	return 1;
}

/* Forward search; the edit count, or -1 past DIFF_MAXD.  *trp gets the
 * frontiers (caller frees). */
static int
search(const struct line *a, int n, const struct line *b, int m, int **trp)
{
	int *tr = NULL, d, k, x, y, pk;
	size_t cap = 0;

	for (d = 0; d <= DIFF_MAXD; d++) {
		if ((size_t)(d + 1) * (size_t)(d + 1) > cap) {
			cap = (size_t)(2 * d + 2) * (size_t)(2 * d + 2);
			tr = xreallocarray(tr, cap, sizeof *tr);
		}
		for (k = -d; k <= d; k++)
			V(d, k) = -1;
		for (k = -d; k <= d; k += 2) {
			if (k < -m || k > n)
				continue;
			x = 0;
			if (d > 0 && !from(tr, d, k, n, m, &pk, &x))
				continue;
			for (y = x - k; x < n && y < m && eq(a + x, b + y); y++)
				x++;
			V(d, k) = x;
			if (x >= n && y >= m) {
				*trp = tr;
				return d;
			}
		}
	}
	free(tr);
	return -1;
}

/* The script of the middle part, written backwards ending at ops + len
 * (len = n + m at most); returns its length. */
static size_t
middle(const struct line *a, int n, const struct line *b, int m, char *end)
{
	int *tr, d, x = n, y = m, pk, px, k;
	char *p = end;

	if ((d = search(a, n, b, m, &tr)) < 0) {
		memset(end - m, DIFF_ADD, (size_t)m);
		memset(end - m - n, DIFF_DEL, (size_t)n);
		return (size_t)n + (size_t)m;
	}
	for (; d > 0; d--) {
		k = x - y;
		from(tr, d, k, n, m, &pk, &px);
		for (; x > px; x--, y--)
			*--p = DIFF_EQ;
		*--p = pk == k + 1 ? DIFF_ADD : DIFF_DEL;
		x = V(d - 1, pk);
		y = x - pk;
	}
	for (; x > 0; x--)
		*--p = DIFF_EQ;
	free(tr);
	return (size_t)(end - p);
}

static size_t
script(const struct line *a, size_t na, const struct line *b, size_t nb,
    char **ops)
{
	size_t pre = 0, suf = 0, mid, len;
	char *o = xmalloc(na + nb + 1), *tmp;

	while (pre < na && pre < nb && eq(a + pre, b + pre))
		pre++;
	while (suf < na - pre && suf < nb - pre &&
	    eq(a + na - 1 - suf, b + nb - 1 - suf))
		suf++;
	tmp = xmalloc(na + nb - 2 * (pre + suf) + 1);
	mid = middle(a + pre, (int)(na - pre - suf), b + pre,
	    (int)(nb - pre - suf), tmp + na + nb - 2 * (pre + suf));
	memset(o, DIFF_EQ, pre);
	memcpy(o + pre, tmp + na + nb - 2 * (pre + suf) - mid, mid);
	memset(o + pre + mid, DIFF_EQ, suf);
	len = pre + mid + suf;
	o[len] = '\0';
	free(tmp);
	*ops = o;
	return len;
}

size_t
diff_script(const char *a, size_t na, const char *b, size_t nb, char **ops)
{
	struct line *la, *lb;
	size_t n, m, len;

	n = split(a, na, &la);
	m = split(b, nb, &lb);
	len = script(la, n, lb, m, ops);
	free(la);
	free(lb);
	return len;
}

static void
range(struct buf *out, char sign, size_t start, size_t count)
{
	if (count == 1)
		buf_printf(out, "%c%zu", sign, start + 1);
	else
		buf_printf(out, "%c%zu,%zu", sign, count ? start + 1 : start,
		    count);
}

static void
putline(struct buf *out, char c, const struct line *l)
{
	buf_addc(out, c);
	buf_add(out, l->p, l->n);
	if (l->n == 0 || l->p[l->n - 1] != '\n')
		buf_puts(out, "\n\\ No newline at end of file\n");
}

/* One hunk: ops[s..e), starting at lines ia of a and ib of b. */
static void
hunk(struct buf *out, const char *ops, size_t s, size_t e,
    const struct line *la, size_t ia, const struct line *lb, size_t ib)
{
	size_t i, ca = 0, cb = 0;

	for (i = s; i < e; i++) {
		ca += ops[i] != DIFF_ADD;
		cb += ops[i] != DIFF_DEL;
	}
	buf_puts(out, "@@ ");
	range(out, '-', ia, ca);
	buf_addc(out, ' ');
	range(out, '+', ib, cb);
	buf_puts(out, " @@\n");
	for (i = s; i < e; i++) {
		if (ops[i] == DIFF_ADD)
			putline(out, '+', lb + ib++);
		else
			putline(out, ops[i], la + ia++);
		if (ops[i] == DIFF_EQ)
			ib++;
	}
}

/* End (exclusive) of the hunk whose first change is at i: changes
 * separated by at most 2 * ctx equal lines share a hunk. */
static size_t
hunk_end(const char *ops, size_t len, size_t i, size_t ctx)
{
	size_t e;

	for (;;) {
		while (i < len && ops[i] != DIFF_EQ)
			i++;
		for (e = i; e < len && ops[e] == DIFF_EQ; e++)
			;
		if (e == len || e - i > 2 * ctx)
			return i + ctx < len ? i + ctx : len;
		i = e;
	}
}

int
diff_unified(struct buf *out, const char *a, size_t na, const char *b,
    size_t nb, int ctx)
{
	struct line *la, *lb;
	char *ops;
	size_t n, m, len, i = 0, ia = 0, ib = 0, s, e;
	size_t c = ctx > 0 ? (size_t)ctx : 0;
	int hunks = 0;

	n = split(a, na, &la);
	m = split(b, nb, &lb);
	len = script(la, n, lb, m, &ops);
	while (i < len) {
		for (; i < len && ops[i] == DIFF_EQ; i++, ia++, ib++)
			;
		if (i == len)
			break;
		s = i >= c ? i - c : 0;
		e = hunk_end(ops, len, i, c);
		hunk(out, ops, s, e, la, ia - (i - s), lb, ib - (i - s));
		for (; i < e; i++) {
			ia += ops[i] != DIFF_ADD;
			ib += ops[i] != DIFF_DEL;
		}
		hunks++;
	}
	free(ops);
	free(la);
	free(lb);
	return hunks;
}

int
diff_binary(const char *p, size_t n)
{
	size_t blk = n < 8000 ? n : 8000;

	/* a sequence cut by the block (not the file's end) is fine */
	return (blk && memchr(p, 0, blk)) || !utf8_valid(p, blk, blk < n);
}
