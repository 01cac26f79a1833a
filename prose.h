/* prose.h - the long texts (prose.def), stored packed in the binary and
 * unpacked once, on the first call, into a static buffer; among them
 * the help texts of the command table (H_*), so that only a help screen
 * unpacks them.  A plain LZ77
 * of our own: the texts are most of a help screen each and repeat
 * themselves; packed they take about half the bytes (README, "Static
 * binary"). */
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

/* The packed format, a sequence of:
 *   byte t < 0x40: t + 1 literal bytes follow;
 *   byte t 0x40..0x7f, then two bytes D - 1 (little-endian): copy
 *     (t & 0x3f) + 3 bytes from D bytes back in the output;
 *   byte t >= 0x80, then one byte x: copy (t >> 4 & 7) + 3 bytes from
 *     ((t & 0xf) << 8 | x) + 1 bytes back (near and short: two bytes).
 * lz_unpack writes at most cap bytes to out: their count, or (size_t)-1
 * for bad input.  lz_pack (textpack.c, the build tool) writes at most
 * n + n / 64 + 1 bytes and returns their count, or (size_t)-1 when out
 * of memory. */
size_t lz_unpack(const unsigned char *z, size_t zn, char *out, size_t cap);
size_t lz_pack(const unsigned char *in, size_t n, unsigned char *out);

#endif
