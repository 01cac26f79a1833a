/* prose.c - the long texts, unpacked on first use (prose.h). */
#include <string.h>

#include "prose.h"
#include "prose_z.h"            /* made by textpack from prose.def */

size_t
lz_unpack(const unsigned char *z, size_t zn, char *out, size_t cap)
{
	size_t i = 0, o = 0, n, d;
	unsigned t;

	while (i < zn) {
		t = z[i++];
		if (t < 0x40) {
			n = t + 1u;
			if (n > zn - i || n > cap - o)
				return (size_t)-1;
			memcpy(out + o, z + i, n);
			i += n;
			o += n;
			continue;
		}
		if (zn - i < 2u - (t >> 7))
			return (size_t)-1;
		if (t < 0x80) {
			n = (t & 0x3fu) + 3;
			d = z[i] | (size_t)z[i + 1] << 8;
			i += 2;
		} else {
			n = (t >> 4 & 7u) + 3;
			d = (t & 0xfu) << 8 | z[i++];
		}
		if (++d > o || n > cap - o)
			return (size_t)-1;
		for (; n; n--, o++)     /* may overlap: byte by byte */
			out[o] = out[o - d];
	}
	return o;
}

const char *
prose(int id)
{
	static char text[PROSE_LEN];
	static int done;

	if (!done) {
		/* prose_z.h is ours and checked by unit_prose: cannot fail */
		lz_unpack(prose_z, sizeof prose_z, text, sizeof text);
		done = 1;
	}
	return id >= 0 && id < P_COUNT ? text + prose_off[id] : "";
}
