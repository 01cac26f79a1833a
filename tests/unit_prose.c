/* unit_prose.c - the packed texts: every text of prose.def and mcp.def
 * comes back byte for byte (prose_z.h and mcp_z.h unpack to exactly
 * their sources), and lz_pack/lz_unpack round-trip inputs chosen to hit
 * each case of the format (empty, no matches, near and far matches, the
 * longest, overlapping copies, one beyond the window); bad packed input
 * is refused: hand-made streams for each check, every cut of a good
 * stream, and a good stream with bytes and bits changed at random. */
#include <stdlib.h>
#include <string.h>

#include "../prose.h"
#include "../prose_z.h"
#include "../mcp_z.h"
#include "unit.h"

static const char *const texts[] = {
#define P(id, text) text,
#include "../prose.def"
#undef P
};

/* Each text with its size (its own NULs and the last one included). */
struct text {
	const char *s;
	size_t n;
};
static const struct text prose_src[] = {
#define P(id, text) {text, sizeof text},
#include "../prose.def"
#undef P
}, mcp_src[] = {
#define P(id, text) {text, sizeof text},
#include "../mcp.def"
#undef P
};

typedef size_t unpacker(const unsigned char *, size_t, char *, size_t);

/* z unpacks by un to exactly the nt texts t, one after the other, each
 * at its offset in off (if any); and any shorter cut of z is refused. */
static void
unpacks_to(unpacker *un, const unsigned char *z, size_t zn,
    const struct text *t, size_t nt, const unsigned short *off, size_t len)
{
	char *out = malloc(len + 1);
	size_t i, o = 0;

	T_OK(out != NULL);
	if (!out)
		return;
	T_INTEQ(un(z, zn, out, len + 1), len);
	for (i = 0; i < nt; o += t[i++].n) {
		if (off)
			T_INTEQ(off[i], o);
		T_OK(o + t[i].n <= len && memcmp(out + o, t[i].s, t[i].n) == 0);
	}
	T_INTEQ(o, len);
	for (i = 0; i < zn; i++)
		if (un(z, i, out, len + 1) != (size_t)-1)
			break;
	T_INTEQ(i, zn);
	free(out);
}

/* A hand-made stream: bits lowest first, Huffman codes first bit first. */
struct bw {
	unsigned char b[512];
	size_t pos;
};

static void
put(struct bw *w, unsigned v, unsigned k)
{
	for (; k; k--, v >>= 1, w->pos++)
		w->b[w->pos >> 3] |= (unsigned char)((v & 1) << (w->pos & 7));
}

static void
putcode(struct bw *w, unsigned code, unsigned k)
{
	while (k--)
		put(w, code >> k & 1, 1);
}

/* The header of a small code: 'a' 00, end 01, a copy of 3 (symbol 257)
 * 10, each of 2 bits; distances 1 (0) and 2 (1), of 1 bit. */
static void
header(struct bw *w)
{
	unsigned i;

	memset(w, 0, sizeof *w);
	for (i = 0; i < LZ_NLIT + LZ_NDIST; i++) {
		if (i == 'a' || i == 256 || i == 257) {
			put(w, 2, 4);
		} else if (i == LZ_NLIT || i == LZ_NLIT + 1) {
			put(w, 1, 4);
		} else {
			put(w, 0, 4);
			put(w, 0, 5);
		}
	}
}

/* What the stream header + the symbols s (-1 ends them) unpacks to, at
 * most cap bytes; the count or (size_t)-1. */
static size_t
hand(const int *s, size_t cap, char *o)
{
	struct bw w;

	header(&w);
	for (; *s >= 0; s++) {
		if (*s >= 1000)         /* a distance code */
			putcode(&w, (unsigned)*s - 1000, 1);
		else
			putcode(&w, *s == 'a' ? 0 : *s == 256 ? 1 : 2, 2);
	}
	return lz_unpack(w.b, (w.pos + 7) >> 3, o, cap);
}

/* Random changes to a good stream: refused or within cap, never more
 * (an exact-size buffer: ASan would see an overrun). */
static void
mangle(unpacker *un, const unsigned char *z, size_t zn, size_t cap)
{
	unsigned char *m = malloc(zn);
	char *out = malloc(cap);
	unsigned x = 7, k, j, bad = 0;
	size_t r;

	T_OK(m && out);
	if (!m || !out)
		return;
	for (k = 0; k < 3000; k++) {
		memcpy(m, z, zn);
		for (j = 0; j <= k % 8; j++) {
			x = x * 1103515245 + 12345;
			if (k & 1)      /* one bit */
				m[(x >> 8) % zn] ^= (unsigned char)(1 << (x >> 4 & 7));
			else            /* one byte, anything */
				m[(x >> 8) % zn] = (unsigned char)(x >> 20);
		}
		r = un(m, (k & 2) ? zn : (x >> 3) % zn, out, cap);
		bad += r != (size_t)-1 && r > cap;
	}
	T_INTEQ(bad, 0);
	free(m);
	free(out);
}

static void
roundtrip(const unsigned char *in, size_t n)
{
	unsigned char *z = malloc(LZ_PACKMAX(n));
	char *out = malloc(n + 1);
	size_t zn;

	T_OK(z && out);
	if (!z || !out)
		return;
	zn = lz_pack(in, 0, n, z);
	T_OK(zn <= LZ_PACKMAX(n));
	T_INTEQ(lz_unpack(z, zn, out, n), n);
	T_OK(memcmp(in, out, n) == 0);
	if (n)  /* one byte less room: refused, not overrun */
		T_INTEQ(lz_unpack(z, zn, out, n - 1), (size_t)-1);
	free(z);
	free(out);
}

int
main(void)
{
	static unsigned char b[200000];
	size_t i;
	unsigned x = 1;
	static const int good[] = {'a', 257, 1000, 257, 1001, 256, -1},
	    far1[] = {257, 1000, 256, -1},                 /* before start */
	    far2[] = {'a', 257, 1001, 256, -1},            /* 2 back of 1 */
	    noend[] = {'a', 'a', -1},
	    cut[] = {'a', 257, -1};                         /* no distance */
	struct bw w;
	char o[16];
	unsigned k;

	for (i = 0; i < P_COUNT; i++)
		T_STREQ(prose((int)i), texts[i]);
	T_OK(P_COUNT == sizeof texts / sizeof texts[0]);
	T_STREQ(prose(-1), "");
	T_STREQ(prose(P_COUNT), "");

	roundtrip((const unsigned char *)"", 0);
	roundtrip((const unsigned char *)"a", 1);
	roundtrip((const unsigned char *)"abcabcabcabcabc", 15);
	memset(b, 'z', 1000);                   /* overlapping, longest */
	roundtrip(b, 1000);
	for (i = 0; i < sizeof b; i++) {        /* no matches: literal runs */
		x = x * 1103515245 + 12345;
		b[i] = (unsigned char)(x >> 16);
	}
	roundtrip(b, 300);
	memcpy(b + 100000, b, 5000);            /* a match 100 KB back: */
	roundtrip(b, sizeof b);                 /* beyond the window */
	memcpy(b + 60000, b, 5000);             /* 60 KB back: within */
	roundtrip(b, 70000);
	for (i = 0; i < 4000; i++)              /* text-like */
		b[i] = (unsigned char)"the cat sat on a mat. "[(i * 7 + i / 50) % 22];
	roundtrip(b, 4000);

	/* "a", 3 from 1 back, 3 from 2 back: hand-packed */
	T_INTEQ(hand(good, sizeof o, o), 7);
	o[7] = '\0';
	T_STREQ(o, "aaaaaaa");
	T_INTEQ(hand(good, 6, o), (size_t)-1);         /* no room */
	T_INTEQ(hand(far1, sizeof o, o), (size_t)-1);
	T_INTEQ(hand(far2, sizeof o, o), (size_t)-1);
	T_INTEQ(hand(noend, sizeof o, o), (size_t)-1);
	T_INTEQ(hand(cut, sizeof o, o), (size_t)-1);
	header(&w);                     /* a code not given out: 11 */
	putcode(&w, 3, 2);
	T_INTEQ(lz_unpack(w.b, (w.pos + 7) >> 3, o, sizeof o), (size_t)-1);
	memset(&w, 0, sizeof w);        /* zeros run past the symbols */
	for (k = 0; k < 12; k++)
		put(&w, 31 << 4, 9);
	T_INTEQ(lz_unpack(w.b, sizeof w.b, o, sizeof o), (size_t)-1);
	T_INTEQ(lz_unpack(w.b, 0, o, sizeof o), (size_t)-1);

	unpacks_to(lz_unpack, prose_z, sizeof prose_z, prose_src,
	    sizeof prose_src / sizeof *prose_src, NULL, PROSE_LEN);
	unpacks_to(lz_unpack_dict, mcp_z, sizeof mcp_z, mcp_src,
	    sizeof mcp_src / sizeof *mcp_src, mcp_off, MCP_LEN);
	mangle(lz_unpack, prose_z, sizeof prose_z, PROSE_LEN);
	mangle(lz_unpack_dict, mcp_z, sizeof mcp_z, MCP_LEN);
	/* without its dictionary mcp_z is refused (a copy from before) */
	T_INTEQ(lz_unpack(mcp_z, sizeof mcp_z, (char *)b, MCP_LEN),
	    (size_t)-1);
	return T_END("unit_prose");
}
