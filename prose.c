/* prose.c - the long texts, unpacked on first use (prose.h). */
#include <string.h>

#include "prose.h"
#include "prose_z.h"            /* made by textpack from prose.def */

/* The reader of the packed bits: z's bytes, lowest bit first; a read
 * beyond the end gives zeros (the end symbol checks pos). */
struct bits {
	const unsigned char *z;
	size_t zn, pos;
};

/* A canonical Huffman code: how many codes have each length, and the
 * symbols in code order (by length, then by symbol). */
struct huff {
	unsigned short count[LZ_MAXBITS + 1];
	unsigned short sym[LZ_NLIT];
};

static unsigned
getbits(struct bits *b, unsigned k)
{
	unsigned v = 0, i;

	for (i = 0; i < k; i++, b->pos++)
		if (b->pos >> 3 < b->zn)
			v |= (b->z[b->pos >> 3] >> (b->pos & 7) & 1u) << i;
	return v;
}

/* The code of len[0..n-1]: the symbols of each length in turn. */
static void
huff_make(struct huff *h, const unsigned char *len, unsigned n)
{
	unsigned i, k, o = 0;

	for (k = 1; k <= LZ_MAXBITS; k++) {
		h->count[k] = 0;
		for (i = 0; i < n; i++)
			if (len[i] == k) {
				h->sym[o++] = (unsigned short)i;
				h->count[k]++;
			}
	}
}

/* The next symbol, or -1 for a code not in h.  The codes of one length
 * are consecutive numbers, first the smallest; a code of length k + 1
 * starts where those of length k end, doubled. */
static int
huff_get(struct bits *b, const struct huff *h)
{
	unsigned code = 0, first = 0, index = 0, k;

	for (k = 1; k <= LZ_MAXBITS; k++) {
		code |= getbits(b, 1);
		if (code - first < h->count[k])
			return h->sym[index + code - first];
		index += h->count[k];
		first = (first + h->count[k]) << 1;
		code <<= 1;
	}
	return -1;
}

/* A length - 3 or a distance - 1 from its code c (0..31) and extra bits. */
static size_t
value(struct bits *b, unsigned c)
{
	unsigned e = c / 2 - 1;

	if (c < 4)
		return c;
	return ((size_t)(2 | (c & 1)) << e) + getbits(b, e);
}

/* lz_unpack with the dn bytes of dict before out. */
static size_t
unpack(const unsigned char *z, size_t zn, const char *dict, size_t dn,
    char *out, size_t cap)
{
	struct bits b = {z, zn, 0};
	struct huff lit, dist;
	unsigned char len[LZ_NLIT + LZ_NDIST];
	size_t i, o = 0, n, d;
	int s;

	for (i = 0; i < sizeof len; ) {
		d = getbits(&b, 4);
		n = d ? 1 : getbits(&b, 5) + 1;         /* a run of zeros */
		if (n > sizeof len - i)
			return (size_t)-1;
		while (n--)
			len[i++] = (unsigned char)d;
	}
	huff_make(&lit, len, LZ_NLIT);
	huff_make(&dist, len + LZ_NLIT, LZ_NDIST);
	for (;;) {
		s = huff_get(&b, &lit);
		if (s < 256) {
			if (s < 0 || o == cap)
				return (size_t)-1;
			out[o++] = (char)s;
			continue;
		}
		if (s == 256)
			return b.pos > zn * 8 ? (size_t)-1 : o;
		n = value(&b, (unsigned)s - 257) + 3;
		s = huff_get(&b, &dist);
		if (s < 0)
			return (size_t)-1;
		d = value(&b, (unsigned)s) + 1;
		if (d > o + dn || n > cap - o)
			return (size_t)-1;
		for (; n; n--, o++)     /* may overlap: byte by byte */
			out[o] = d > o ? dict[dn + o - d] : out[o - d];
	}
}

size_t
lz_unpack(const unsigned char *z, size_t zn, char *out, size_t cap)
{
	return unpack(z, zn, NULL, 0, out, cap);
}

/* The texts one after the other, each with its NUL (prose.def's have no
 * NULs of their own): a text is found by counting NULs. */
const char *
prose(int id)
{
	static char text[PROSE_LEN];
	const char *s = text;

	if (!*text)     /* the first text is not empty: not unpacked yet */
		/* prose_z.h is ours and checked by unit_prose: cannot fail */
		lz_unpack(prose_z, sizeof prose_z, text, sizeof text);
	if (id < 0 || id >= P_COUNT)
		return "";
	while (id--)
		s += strlen(s) + 1;
	return s;
}

size_t
lz_unpack_dict(const unsigned char *z, size_t zn, char *out, size_t cap)
{
	return unpack(z, zn, prose(0), PROSE_LEN, out, cap);  /* all texts */
}
