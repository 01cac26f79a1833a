/* fuzz_ini.c - libFuzzer target for the INI reader (ini.c): any input
 * loads or fails with "<path>:<line>: ...", never crashes; what loads
 * survives a save and a reload (values that a single line can hold). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ini.h"
#include "../util.h"

static const char *const keys[] = {
	"profile", "token", "url", "type", "project", "editor",
	"output_format", "a", "k"
};

static char in[64], out[64];

static int
storable(const char *v)
{
	size_t n = strlen(v);

	if (strpbrk(v, "\n\r"))
		return 0;
	return n == 0 || (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' &&
	    v[n - 1] != '\t');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ini *a, *b, *c;
	const char *s;
	FILE *f;
	size_t k;
	int i;

	if (!in[0]) {
		snprintf(in, sizeof in, "/tmp/fuzz_ini.%ld.in", (long)getpid());
		snprintf(out, sizeof out, "/tmp/fuzz_ini.%ld.out", (long)getpid());
	}
	if (!(f = fopen(in, "wb")))
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	a = ini_load(in, NULL);
	if (!a) {
		if (strncmp(geterr(), in, strlen(in)) != 0)
			abort();
		return 0;
	}
	/* copy every interpolated value we can name into a fresh ini */
	b = ini_new();
	for (i = -1; i == -1 || (s = ini_section(a, i)); i++) {
		const char *sect = i < 0 ? "DEFAULT" : s;

		if (strchr(sect, ']'))
			continue;
		for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			const char *v = ini_raw(a, sect, keys[k]) ?
			    ini_get(a, sect, keys[k]) : NULL;

			if (v && storable(v)) {
				char *copy = xstrdup(v);

				ini_set(b, sect, keys[k], copy);
				free(copy);
			}
		}
	}
	if (ini_save(b, out) == 0) {
		c = ini_load(out, NULL);
		if (!c)
			abort();
		for (i = -1; i == -1 || (s = ini_section(b, i)); i++) {
			const char *sect = i < 0 ? "DEFAULT" : s;

			for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
				const char *v = ini_raw(b, sect, keys[k]);
				char *want;

				if (!v)
					continue;
				want = xstrdup(ini_get(b, sect, keys[k]));
				if (!ini_get(c, sect, keys[k]) ||
				    strcmp(ini_get(c, sect, keys[k]), want) != 0)
					abort();
				free(want);
			}
		}
		ini_free(c);
	}
	ini_free(b);
	ini_free(a);
	return 0;
}
