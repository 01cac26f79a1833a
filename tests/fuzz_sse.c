/* fuzz_sse.c - libFuzzer target for the Server-Sent Events parser: the
 * input is fed in pieces whose sizes come from its first byte; every
 * dispatched frame is checked for a terminating NUL at its length. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util.h"
#include "../http.h"

static int
cb(void *arg, const char *event, const char *data, size_t len)
{
	(*(size_t *)arg) += len + strlen(event);
	if (data[len] != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse s;
	size_t step, off, total = 0;

	if (size < 1)
		return 0;
	step = data[0] ? data[0] : size;
	memset(&s, 0, sizeof s);
	for (off = 1; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;

		if (sse_feed(&s, (const char *)data + off, n, cb, &total) != 0)
			break;
	}
	sse_free(&s);
	return 0;
}
