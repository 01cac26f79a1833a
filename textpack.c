/* textpack.c - the build tool that packs prose.def: prints prose_z.h
 * (the packed bytes, the length unpacked, each text's offset) on
 * standard output; `textpack mcp` packs mcp.def (the MCP server's
 * texts) the same way into mcp_z.h (MCP_LEN, mcp_off, mcp_z).  lz_pack
 * is the packer of prose.h's format: greedy, the longest match within
 * 64 KB back, the nearest of equal ones; (size_t)-1 when out of memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prose.h"

#define MINLEN 3
#define MAXLEN (0x3f + MINLEN)
#define WINDOW 65536
#define HBITS 15

static size_t
hash3(const unsigned char *p)
{
	return ((p[0] | p[1] << 8 | (size_t)p[2] << 16) * 2654435761u) >>
	    (32 - HBITS) & ((1 << HBITS) - 1);
}

/* Candidates come from chains of earlier positions with the same hash of
 * their first MINLEN bytes, nearest first.  A match is taken when it
 * costs fewer bytes than its literals: a near one (2 bytes) from 3
 * bytes on, a far or long one (3 bytes) from 4. */
size_t
lz_pack(const unsigned char *in, size_t n, unsigned char *out)
{
	static size_t head[1 << HBITS];
	size_t *prev = malloc((n ? n : 1) * sizeof *prev);
	size_t i = 0, o = 0, lit = 0, j, k, h, d, best, bj = 0, next = 0;
	int run = 0;                    /* out[lit] heads a literal run */

	if (!prev)
		return (size_t)-1;
	for (h = 0; h < sizeof head / sizeof head[0]; h++)
		head[h] = (size_t)-1;
	while (i < n) {
		for (; next <= i && next + MINLEN <= n; next++) {
			h = hash3(in + next);
			prev[next] = head[h];
			head[h] = next;
		}
		best = 0;
		j = i + MINLEN <= n ? prev[i] : (size_t)-1;
		for (; j != (size_t)-1 && i - j <= WINDOW; j = prev[j]) {
			for (k = 0; k < MAXLEN && i + k < n &&
			    in[j + k] == in[i + k]; k++)
				;
			if (k > best) {
				best = k;
				bj = j;
			}
		}
		d = i - bj - 1;
		if (best >= MINLEN && best <= 10 && d < 4096) {
			out[o++] = (unsigned char)(0x80 | (best - 3) << 4 | d >> 8);
			out[o++] = (unsigned char)(d & 0xff);
		} else if (best >= MINLEN + 1) {
			out[o++] = (unsigned char)(0x40 | (best - MINLEN));
			out[o++] = (unsigned char)(d & 0xff);
			out[o++] = (unsigned char)(d >> 8);
		} else {
			best = 0;
		}
		if (best) {
			i += best;
			run = 0;
			continue;
		}
		if (run && out[lit] < 0x3f) {
			out[lit]++;
		} else {                        /* a new literal run */
			lit = o;
			out[o++] = 0;
			run = 1;
		}
		out[o++] = in[i++];
	}
	free(prev);
	return o;
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

int
main(int argc, char **argv)
{
	int mcp = argc > 1 && strcmp(argv[1], "mcp") == 0;
	const struct text *t = mcp ? mcp_texts : prose_texts;
	size_t nt = mcp ? sizeof mcp_texts / sizeof *t :
	    sizeof prose_texts / sizeof *t;
	const char *name = mcp ? "mcp" : "prose";
	unsigned char *in, *z;
	size_t n = 0, zn, i;

	for (i = 0; i < nt; i++)
		n += t[i].n;
	if (n > 65535)
		return fprintf(stderr, "textpack: %s.def over 64 KB\n", name), 1;
	in = malloc(n + 1);
	z = malloc(n + n / 64 + 1);
	if (!in || !z)
		return fprintf(stderr, "textpack: out of memory\n"), 1;
	for (n = 0, i = 0; i < nt; i++) {
		memcpy(in + n, t[i].s, t[i].n);
		n += t[i].n;
	}
	if ((zn = lz_pack(in, n, z)) == (size_t)-1)
		return fprintf(stderr, "textpack: out of memory\n"), 1;
	printf("/* %s_z.h - made by textpack from %s.def; do not edit. */\n"
	    "#define %s_LEN %zu\n"
	    "static const unsigned short %s_off[] = {", name, name,
	    mcp ? "MCP" : "PROSE", n, name);
	for (n = 0, i = 0; i < nt; n += t[i++].n)
		printf("%s%zu", !i ? "\n\t" : i % 10 ? ", " : ",\n\t", n);
	printf("\n};\nstatic const unsigned char %s_z[%zu] = {", name, zn);
	for (i = 0; i < zn; i++)
		printf("%s%u,", i % 16 ? " " : "\n\t", z[i]);
	printf("\n};\n");
	free(in);
	free(z);
	return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
#endif
