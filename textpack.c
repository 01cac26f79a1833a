/* textpack.c - the build tool that packs prose.def: prints prose_z.h
 * (the packed bytes, the length unpacked) on standard output; `textpack
 * mcp` packs mcp.def (the MCP server's texts) the same way into mcp_z.h
 * (MCP_LEN, mcp_off: each text's offset, mcp_z), with prose.def's texts
 * before them as a dictionary.  lz_pack is the packer of prose.h's
 * format: an optimal parse (the cheapest path through literals and
 * matches within 64 KB back) under the bit costs of the Huffman codes
 * of the parse before, a few rounds, the smallest kept; (size_t)-1 when
 * out of memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prose.h"

#define MINLEN 3
#define MAXLEN 258
#define WINDOW 65536
#define CHAIN 2048              /* candidates tried per position */
#define HBITS 15
#define ROUNDS 4
#define NSYM (LZ_NLIT + LZ_NDIST)

static size_t
hash3(const unsigned char *p)
{
	return ((p[0] | p[1] << 8 | (size_t)p[2] << 16) * 2654435761u) >>
	    (32 - HBITS) & ((1 << HBITS) - 1);
}

/* The code of value v (a length - 3 or a distance - 1) and its count of
 * extra bits (prose.h). */
static unsigned
vcode(size_t v, unsigned *extra)
{
	unsigned e = 0;

	if (v < 4)
		return *extra = 0, (unsigned)v;
	while (v >> (e + 2))
		e++;
	*extra = e;
	return 2 * (e + 1) + (unsigned)(v >> e & 1);
}

/* Huffman code lengths for freq[0..n-1] of at most LZ_MAXBITS bits:
 * merge the two lightest nodes until one is left; when too deep,
 * flatten the counts and again.  A lone symbol gets 1 bit. */
static void
huff_lengths(const size_t *freq, unsigned n, unsigned char *len)
{
	size_t w[2 * NSYM], f[NSYM];
	int up[2 * NSYM], live[2 * NSYM];
	unsigned i, k, nn, used, deep;
	int a, b;

	memcpy(f, freq, n * sizeof *f);
	for (;;) {
		nn = n;
		used = 0;
		for (i = 0; i < n; i++) {
			w[i] = f[i];
			live[i] = f[i] > 0;
			used += live[i];
			up[i] = -1;
		}
		memset(len, 0, n);
		if (used == 1)
			for (i = 0; i < n; i++)
				if (f[i])
					len[i] = 1;
		if (used <= 1)
			return;
		for (k = 1; k < used; k++) {
			a = b = -1;
			for (i = 0; i < nn; i++) {
				if (!live[i])
					continue;
				if (a < 0 || w[i] < w[a]) {
					b = a;
					a = (int)i;
				} else if (b < 0 || w[i] < w[b]) {
					b = (int)i;
				}
			}
			w[nn] = w[a] + w[b];
			live[nn] = 1;
			up[nn] = -1;
			live[a] = live[b] = 0;
			up[a] = up[b] = (int)nn++;
		}
		deep = 0;
		for (i = 0; i < n; i++) {
			if (!f[i])
				continue;
			for (k = 0, a = (int)i; up[a] >= 0; a = up[a])
				k++;
			len[i] = (unsigned char)k;
			deep = k > deep ? k : deep;
		}
		if (deep <= LZ_MAXBITS)
			return;
		for (i = 0; i < n; i++)
			if (f[i])
				f[i] = f[i] / 2 + 1;
	}
}

/* The canonical codes of len[0..n-1] (prose.h's order). */
static void
huff_codes(const unsigned char *len, unsigned n, unsigned *code)
{
	unsigned count[LZ_MAXBITS + 2] = {0}, next[LZ_MAXBITS + 2], i, c = 0;

	for (i = 0; i < n; i++)
		count[len[i]]++;
	count[0] = 0;
	for (i = 1; i <= LZ_MAXBITS; i++) {
		c = (c + count[i - 1]) << 1;
		next[i] = c;
	}
	for (i = 0; i < n; i++)
		if (len[i])
			code[i] = next[len[i]]++;
}

struct bitout {
	unsigned char *out;
	size_t pos;             /* in bits */
};

static void
putbits(struct bitout *w, size_t v, unsigned k)
{
	for (; k; k--, v >>= 1, w->pos++) {
		if (!(w->pos & 7))
			w->out[w->pos >> 3] = 0;
		w->out[w->pos >> 3] |= (unsigned char)((v & 1) << (w->pos & 7));
	}
}

static void
putcode(struct bitout *w, unsigned code, unsigned len)
{
	while (len--)
		putbits(w, code >> len & 1, 1);
}

/* One token of the parse: a literal (len 0) or a match. */
struct tok {
	unsigned short len;
	unsigned short byte;
	size_t dist;
};

/* The bits of each symbol under the code lengths len (a symbol not in
 * the code is priced as if it were, dearly, so that the parse may still
 * try it). */
static void
prices(const unsigned char *len, unsigned *price)
{
	unsigned i;

	for (i = 0; i < NSYM; i++)
		price[i] = len[i] ? len[i] : LZ_MAXBITS + 2;
}

/* The cheapest parse of in[0..n-1] under price: cost[i] is the least
 * bits to reach i, from[i] the token that does.  Matches from the hash
 * chains, nearest first; for each length only the nearest distance. */
static size_t
parse(const unsigned char *in, size_t start, size_t n, const size_t *prev,
    const unsigned *price, struct tok *from, size_t *cost, struct tok *toks)
{
	static size_t near[MAXLEN + 1];
	size_t i, j, k, best, t, c, nt;
	unsigned e, lc, dc, tries, extra;

	for (i = start + 1; i <= n; i++)
		cost[i] = (size_t)-1;
	cost[start] = 0;
	for (i = start; i < n; i++) {
		c = cost[i] + price[in[i]];
		if (c < cost[i + 1]) {
			cost[i + 1] = c;
			from[i + 1].len = 0;
			from[i + 1].byte = in[i];
		}
		best = MINLEN - 1;
		j = i + MINLEN <= n ? prev[i] : (size_t)-1;
		for (tries = 0; j != (size_t)-1 && i - j <= WINDOW &&
		    tries < CHAIN && best < MAXLEN; j = prev[j], tries++) {
			for (k = 0; k < MAXLEN && i + k < n &&
			    in[j + k] == in[i + k]; k++)
				;
			for (; best < k; )
				near[++best] = i - j;
		}
		for (k = MINLEN; k <= best; k++) {
			dc = vcode(near[k] - 1, &extra);
			e = extra;
			lc = vcode(k - MINLEN, &extra);
			c = cost[i] + price[257 + lc] + extra +
			    price[LZ_NLIT + dc] + e;
			if (c < cost[i + k]) {
				cost[i + k] = c;
				from[i + k].len = (unsigned short)k;
				from[i + k].dist = near[k];
			}
		}
	}
	for (nt = 0, i = n; i > start; i -= t) {        /* backwards, then turned */
		toks[nt++] = from[i];
		t = from[i].len ? from[i].len : 1;
	}
	for (i = 0; i < nt / 2; i++) {
		struct tok x = toks[i];
		toks[i] = toks[nt - 1 - i];
		toks[nt - 1 - i] = x;
	}
	return nt;
}

/* Writes toks in the format with the best code for them; the bytes. */
static size_t
emit(const struct tok *toks, size_t nt, unsigned char *len, unsigned char *out)
{
	size_t freq[NSYM] = {0}, i, z;
	unsigned code[NSYM], lc, dc, el, ed;
	struct bitout w = {out, 0};

	for (i = 0; i < nt; i++) {
		if (!toks[i].len) {
			freq[toks[i].byte]++;
			continue;
		}
		freq[257 + vcode(toks[i].len - MINLEN, &el)]++;
		freq[LZ_NLIT + vcode(toks[i].dist - 1, &ed)]++;
	}
	freq[256] = 1;
	huff_lengths(freq, LZ_NLIT, len);
	huff_lengths(freq + LZ_NLIT, LZ_NDIST, len + LZ_NLIT);
	huff_codes(len, LZ_NLIT, code);
	huff_codes(len + LZ_NLIT, LZ_NDIST, code + LZ_NLIT);
	for (i = 0; i < NSYM; ) {
		putbits(&w, len[i], 4);
		if (len[i++])
			continue;
		for (z = 0; z < 31 && i < NSYM && !len[i]; z++)
			i++;
		putbits(&w, z, 5);
	}
	for (i = 0; i < nt; i++) {
		if (!toks[i].len) {
			putcode(&w, code[toks[i].byte], len[toks[i].byte]);
			continue;
		}
		lc = 257 + vcode(toks[i].len - MINLEN, &el);
		dc = LZ_NLIT + vcode(toks[i].dist - 1, &ed);
		putcode(&w, code[lc], len[lc]);
		putbits(&w, (toks[i].len - MINLEN) & ((1u << el) - 1), el);
		putcode(&w, code[dc], len[dc]);
		putbits(&w, (toks[i].dist - 1) & ((1u << ed) - 1), ed);
	}
	putcode(&w, code[256], len[256]);
	return (w.pos + 7) >> 3;
}

size_t
lz_pack(const unsigned char *in, size_t start, size_t n, unsigned char *out)
{
	static size_t head[1 << HBITS];
	size_t *prev = malloc((n + 1) * sizeof *prev);
	size_t *cost = malloc((n + 1) * sizeof *cost);
	struct tok *from = malloc((n + 1) * sizeof *from);
	struct tok *toks = malloc((n + 1) * sizeof *toks);
	unsigned char *tmp = malloc(LZ_PACKMAX(n - start)), len[NSYM];
	unsigned price[NSYM], r;
	size_t h, i, nt, zn, best = (size_t)-1;

	if (!prev || !cost || !from || !toks || !tmp) {
		free(prev), free(cost), free(from), free(toks), free(tmp);
		return (size_t)-1;
	}
	for (h = 0; h < sizeof head / sizeof head[0]; h++)
		head[h] = (size_t)-1;
	for (i = 0; i + MINLEN <= n; i++) {
		h = hash3(in + i);
		prev[i] = head[h];
		head[h] = i;
	}
	for (i = 0; i < NSYM; i++)      /* a first guess at the prices */
		len[i] = i < 256 ? 8 : i < LZ_NLIT ? 6 : 5;
	for (r = 0; r < ROUNDS; r++) {
		prices(len, price);
		nt = parse(in, start, n, prev, price, from, cost, toks);
		zn = emit(toks, nt, len, tmp);
		if (zn < best) {
			best = zn;
			memcpy(out, tmp, zn);
		}
	}
	free(prev), free(cost), free(from), free(toks), free(tmp);
	return best;
}

#ifndef TEXTPACK_NO_MAIN
/* A text may hold NULs of its own (mcp.def's fields): its size is the
 * literal's, its NUL included. */
struct text {
	const char *s;
	size_t n;
};
static const struct text prose_texts[] = {
#define P(id, text) {text, sizeof text},
#include "prose.def"
#undef P
}, mcp_texts[] = {
#define P(id, text) {text, sizeof text},
#include "mcp.def"
#undef P
};

/* Appends the nt texts t to in at *n. */
static void
join(unsigned char *in, size_t *n, const struct text *t, size_t nt)
{
	size_t i;

	for (i = 0; i < nt; i++) {
		memcpy(in + *n, t[i].s, t[i].n);
		*n += t[i].n;
	}
}

/* mcp.def is packed after prose.def's texts, as its dictionary: copies
 * may reach back into them (lz_unpack_dict). */
int
main(int argc, char **argv)
{
	int mcp = argc > 1 && strcmp(argv[1], "mcp") == 0;
	const struct text *t = mcp ? mcp_texts : prose_texts;
	size_t np = sizeof prose_texts / sizeof *t;
	size_t nt = mcp ? sizeof mcp_texts / sizeof *t : np;
	const char *name = mcp ? "mcp" : "prose";
	unsigned char *in, *z;
	size_t n = 0, start = 0, zn, i;

	for (i = 0; i < np; i++) {
		start += prose_texts[i].n;
		if (strlen(prose_texts[i].s) + 1 != prose_texts[i].n ||
		    prose_texts[0].n == 1)  /* prose() counts NULs */
			return fprintf(stderr, "textpack: prose.def: a NUL in "
			    "text %zu, or the first one empty\n", i), 1;
	}
	for (i = 0; i < nt; i++)
		n += t[i].n;
	if (n > 65535)
		return fprintf(stderr, "textpack: %s.def over 64 KB\n", name), 1;
	in = malloc(start + n + 1);
	z = malloc(LZ_PACKMAX(n));
	if (!in || !z)
		return fprintf(stderr, "textpack: out of memory\n"), 1;
	if (!mcp)
		start = 0;
	n = 0;
	if (mcp)
		join(in, &n, prose_texts, np);
	join(in, &n, t, nt);
	if ((zn = lz_pack(in, start, n, z)) == (size_t)-1)
		return fprintf(stderr, "textpack: out of memory\n"), 1;
	printf("/* %s_z.h - made by textpack from %s.def; do not edit. */\n"
	    "#define %s_LEN %zu\n", name, name, mcp ? "MCP" : "PROSE",
	    n - start);
	if (mcp) {      /* prose() counts NULs instead */
		printf("static const unsigned short mcp_off[] = {");
		for (n = 0, i = 0; i < nt; n += t[i++].n)
			printf("%s%zu", !i ? "\n\t" : i % 10 ? ", " : ",\n\t",
			    n);
		printf("\n};\n");
	}
	printf("static const unsigned char %s_z[%zu] = {", name, zn);
	for (i = 0; i < zn; i++)
		printf("%s%u,", i % 16 ? " " : "\n\t", z[i]);
	printf("\n};\n");
	free(in);
	free(z);
	return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
#endif
