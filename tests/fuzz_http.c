/* fuzz_http.c - libFuzzer target for the HTTP response parser: the
 * input is served as a response (split into reads at the position given
 * by its first byte), read as a GET answer, then once more as a HEAD
 * answer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../util.h"
#include "../http.h"

struct mem {
	const uint8_t *p;
	size_t len, pos, step;
};

static ssize_t
mread(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t avail = m->len - m->pos;

	if (!avail)
		return 0;
	if (n > m->step)
		n = m->step;
	if (n > avail)
		n = avail;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static ssize_t
mwrite(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	return (ssize_t)n;
}

static void
one(const uint8_t *data, size_t size, int head, size_t step)
{
	static struct http *h;
	struct http_io io;
	struct http_req rq;
	struct mem m;
	char buf[1000];

	if (!h) {
		struct url u;

		url_parse("http://fuzz.test", &u);
		h = http_new(&u);
	}
	m.p = data;
	m.len = size;
	m.pos = 0;
	m.step = step;
	memset(&io, 0, sizeof io);
	io.ctx = &m;
	io.read = mread;
	io.write = mwrite;
	http_set_io(h, &io);
	memset(&rq, 0, sizeof rq);
	rq.method = head ? "HEAD" : "GET";
	rq.target = "/";
	rq.fd = -1;
	if (http_send(h, &rq) == 0 && http_recv(h, head)) {
		/* keep-alive: a second response may follow */
		int k;

		for (k = 0; k < 2; k++) {
			while (http_read(h, buf, sizeof buf) > 0)
				;
			http_done(h);
			if (http_send(h, &rq) < 0 || !http_recv(h, head))
				break;
		}
	}
	http_close(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	loglevel = LOG_CRITICAL + 1;
	if (size < 1)
		return 0;
	step = data[0] ? data[0] : 4096;
	one(data + 1, size - 1, 0, step);
	one(data + 1, size - 1, 1, 4096);
	return 0;
}
