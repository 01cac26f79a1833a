/* prose.h - the long texts (prose.def), stored packed in the binary and
 * unpacked once, on the first call, into a static buffer; among them
 * the help texts of the command table (H_*), so that only a help screen
 * unpacks them.  LZ77 and Huffman codes of our own: the texts are most
 * of a help screen each and repeat themselves; packed they take about
 * 40% of the bytes (README, "Static binary"). */
#ifndef PROSE_H
#define PROSE_H

#include <stddef.h>

enum {
#define P(id, text) id,
#include "prose.def"
#undef P
	P_COUNT
};

/* Text id (P_*), NUL-terminated; never NULL, lives as long as the
 * process. */
const char *prose(int id);

/* The packed format: LZ77 (copies of earlier output) with its tokens
 * in canonical Huffman codes, deflate-like in idea; a bit stream read
 * from each byte's lowest bit up.  Numbers of k bits come lowest bit
 * first, Huffman codes first bit first.
 *   The header: the code lengths (0..15, 0 = not used) of the LZ_NLIT
 *     literal/length symbols, then of the LZ_NDIST distance symbols, in
 *     4 bits each; after a 0, 5 bits: how many more 0s follow.  Codes
 *     are given out in order of length, then of symbol.
 *   Then symbols: 0..255 a literal byte; 256 the end; 257 + c a copy
 *     of length v + 3, c and v as below, then a distance symbol c and
 *     its bits: from v + 1 bytes back in the output.
 *   A value v from its code c (0..31): c < 4: v = c; else, with
 *     e = c / 2 - 1 extra bits x: v = ((2 + (c & 1)) << e) + x.
 * lz_unpack writes at most cap bytes to out: their count, or (size_t)-1
 * for bad input.  lz_unpack_dict is lz_unpack for texts packed after
 * prose.def's (`textpack mcp`): their copies may reach back into
 * prose.def's texts, as if these stood just before out.  lz_pack (in
 * textpack.c, the build tool) packs in[start..n - 1], in[0..start - 1]
 * its dictionary; it writes at most LZ_PACKMAX(n - start) bytes and
 * returns their count, or (size_t)-1 when out of memory. */
#define LZ_NLIT (257 + 32)
#define LZ_NDIST 32
#define LZ_MAXBITS 15
#define LZ_PACKMAX(n) (2 * (n) + 256)
size_t lz_unpack(const unsigned char *z, size_t zn, char *out, size_t cap);
size_t lz_unpack_dict(const unsigned char *z, size_t zn, char *out,
    size_t cap);
size_t lz_pack(const unsigned char *in, size_t start, size_t n,
    unsigned char *out);

#endif
