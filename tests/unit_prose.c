/* unit_prose.c - the packed texts: every text of prose.def comes back
 * from prose() byte for byte, and lz_pack/lz_unpack round-trip inputs
 * chosen to hit each case of the format (empty, literal runs of 64 and
 * more, near and far matches, the longest, overlapping copies, one
 * beyond the window); bad packed input is refused. */
#include <stdlib.h>
#include <string.h>

#include "../prose.h"
#include "unit.h"

static const char *const texts[] = {
#define P(id, text) text,
#include "../prose.def"
#undef P
};

static void
roundtrip(const unsigned char *in, size_t n)
{
	unsigned char *z = malloc(n + n / 64 + 1);
	char *out = malloc(n + 1);
	size_t zn;

	T_OK(z && out);
	if (!z || !out)
		return;
	zn = lz_pack(in, n, z);
	T_OK(zn <= n + n / 64 + 1);
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
	const unsigned char bad1[] = {0x80, 0};          /* copy before start */
	const unsigned char bad2[] = {3, 'a', 'b'};      /* literal cut short */
	const unsigned char bad3[] = {0, 'a', 0x40, 0};  /* offset cut short */
	const unsigned char bad4[] = {0, 'a', 0x80};     /* offset cut short */
	const unsigned char bad5[] = {1, 'a', 'b', 0x40, 2, 0}; /* too far */
	const unsigned char good[] = {1, 'a', 'b', 0x41, 1, 0, 0x90, 0};
	char o[16];

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

	T_INTEQ(lz_unpack(bad1, sizeof bad1, o, sizeof o), (size_t)-1);
	T_INTEQ(lz_unpack(bad2, sizeof bad2, o, sizeof o), (size_t)-1);
	T_INTEQ(lz_unpack(bad3, sizeof bad3, o, sizeof o), (size_t)-1);
	T_INTEQ(lz_unpack(bad4, sizeof bad4, o, sizeof o), (size_t)-1);
	T_INTEQ(lz_unpack(bad5, sizeof bad5, o, sizeof o), (size_t)-1);
	/* "ab", 4 from 2 back, 4 from 1 back: hand-packed, each token kind */
	T_INTEQ(lz_unpack(good, sizeof good, o, sizeof o), 10);
	o[10] = '\0';
	T_STREQ(o, "abababbbbb");
	return T_END("unit_prose");
}
