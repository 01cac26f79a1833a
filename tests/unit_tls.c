/* unit_tls.c - the iPAddress subjectAltName matcher (tls_san_ip):
 * certificates built here from DER pieces (IPv4, IPv6, DNS names that
 * look like IPs, several names, no SAN, critical flag, no version),
 * malformed DER (every truncation, bad tags, huge lengths), and one
 * real certificate made by openssl (SAN DNS:localhost, IP:127.0.0.1,
 * IP:::1). */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util.h"
#include "../tls.h"
#include "unit.h"

/* openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 ...
 *   -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1 */
static const unsigned char real[] = {
	0x30, 0x82, 0x01, 0xae, 0x30, 0x82, 0x01, 0x54, 0xa0, 0x03, 0x02, 0x01,
	0x02, 0x02, 0x14, 0x13, 0x07, 0xb3, 0x31, 0x62, 0x2a, 0xe5, 0xf1, 0x85,
	0xce, 0xe4, 0xdb, 0x9e, 0x17, 0xfa, 0xa1, 0x33, 0x03, 0xf4, 0x69, 0x30,
	0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30,
	0x17, 0x31, 0x15, 0x30, 0x13, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x0c,
	0x63, 0x6f, 0x6e, 0x74, 0x72, 0x65, 0x65, 0x20, 0x75, 0x6e, 0x69, 0x74,
	0x30, 0x1e, 0x17, 0x0d, 0x32, 0x36, 0x31, 0x32, 0x30, 0x35, 0x31, 0x33,
	0x34, 0x31, 0x35, 0x32, 0x5a, 0x17, 0x0d, 0x33, 0x36, 0x31, 0x32, 0x30,
	0x32, 0x31, 0x33, 0x34, 0x31, 0x35, 0x32, 0x5a, 0x30, 0x17, 0x31, 0x15,
	0x30, 0x13, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x0c, 0x63, 0x6f, 0x6e,
	0x74, 0x72, 0x65, 0x65, 0x20, 0x75, 0x6e, 0x69, 0x74, 0x30, 0x59, 0x30,
	0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
	0xed, 0xa2, 0x19, 0xfa, 0x40, 0x67, 0xa1, 0xd2, 0xc8, 0x65, 0x74, 0x9f,
	0x4d, 0x09, 0x34, 0x77, 0xc7, 0x48, 0x32, 0x90, 0xb0, 0xb2, 0x33, 0x18,
	0xf3, 0xa2, 0xe9, 0x67, 0x05, 0x9a, 0x5a, 0x7a, 0x2f, 0x20, 0x27, 0xca,
	0x0c, 0x31, 0x3a, 0x95, 0xcc, 0x92, 0x26, 0x7c, 0xfb, 0x31, 0x55, 0x81,
	0x3e, 0x8d, 0x4a, 0xdd, 0xd8, 0x2d, 0x07, 0xb0, 0x90, 0xeb, 0xf0, 0xac,
	0x1d, 0x90, 0x24, 0xf9, 0xa3, 0x7e, 0x30, 0x7c, 0x30, 0x1d, 0x06, 0x03,
	0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04, 0x14, 0x56, 0x7a, 0xd4, 0x52, 0x82,
	0x30, 0xec, 0xda, 0xfd, 0x78, 0x51, 0x15, 0xaf, 0x35, 0xa5, 0x3d, 0x23,
	0xf0, 0x84, 0x54, 0x30, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23, 0x04, 0x18,
	0x30, 0x16, 0x80, 0x14, 0x56, 0x7a, 0xd4, 0x52, 0x82, 0x30, 0xec, 0xda,
	0xfd, 0x78, 0x51, 0x15, 0xaf, 0x35, 0xa5, 0x3d, 0x23, 0xf0, 0x84, 0x54,
	0x30, 0x2c, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x25, 0x30, 0x23, 0x82,
	0x09, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0x68, 0x6f, 0x73, 0x74, 0x87, 0x04,
	0x7f, 0x00, 0x00, 0x01, 0x87, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x30, 0x0c,
	0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00,
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
	0x03, 0x48, 0x00, 0x30, 0x45, 0x02, 0x20, 0x21, 0xa2, 0xd1, 0x61, 0x90,
	0x27, 0xb7, 0xc7, 0x99, 0x01, 0xad, 0x95, 0xe0, 0x31, 0x13, 0xab, 0x41,
	0x3d, 0xae, 0xc5, 0x0a, 0x10, 0x20, 0x96, 0xf9, 0xef, 0x6a, 0xd9, 0xf1,
	0x5e, 0xf3, 0xaa, 0x02, 0x21, 0x00, 0xaa, 0x2c, 0xed, 0xae, 0x8c, 0xd7,
	0xf0, 0xb0, 0x70, 0xb6, 0x16, 0xf7, 0x83, 0x3b, 0xbd, 0x13, 0xf4, 0x0c,
	0x65, 0x35, 0x73, 0xd0, 0x21, 0xda, 0x94, 0xbf, 0x62, 0xa0, 0xe8, 0x65,
	0xef, 0x72,
};

static const unsigned char v4[] = { 127, 0, 0, 1 };
static const unsigned char v4b[] = { 127, 0, 0, 2 };
static const unsigned char v6[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 1 };
static const unsigned char v6b[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 1 };
static const unsigned char mapped[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
	0xff, 127, 0, 0, 1 };

/* ------------------------------------------------------ DER builder */

/* Append tag, length and content. */
static void
tlv(struct buf *b, int tag, const void *p, size_t n)
{
	buf_addc(b, (char)tag);
	if (n < 0x80) {
		buf_addc(b, (char)n);
	} else if (n < 0x100) {
		buf_addc(b, (char)0x81);
		buf_addc(b, (char)n);
	} else {
		buf_addc(b, (char)0x82);
		buf_addc(b, (char)(n >> 8));
		buf_addc(b, (char)n);
	}
	buf_add(b, p, n);
}

/* Wrap all of b in one element of tag. */
static void
wrap(struct buf *b, int tag)
{
	struct buf t = {0};

	tlv(&t, tag, b->p ? b->p : "", b->len);
	buf_free(b);
	*b = t;
}

/* A certificate whose SAN holds names: "ip4:a.b.c.d"-style entries are
 * given as tag + bytes.  flags: 1 SAN critical, 2 no version field,
 * 4 no SAN (another extension only), 8 no extensions at all. */
struct name {
	int tag;                /* 0x87 iPAddress, 0x82 dNSName */
	const void *p;
	size_t n;
};

static void
mkcert(struct buf *out, const struct name *nm, int nn, int flags)
{
	static const unsigned char sanoid[] = { 0x55, 0x1d, 0x11 };
	static const unsigned char bcoid[] = { 0x55, 0x1d, 0x13 };
	static const unsigned char alg[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d,
		0x04, 0x03, 0x02 };
	struct buf gn = {0}, ext = {0}, tbs = {0}, x = {0};
	int i;

	for (i = 0; i < nn; i++)
		tlv(&gn, nm[i].tag, nm[i].p, nm[i].n);
	wrap(&gn, 0x30);                        /* GeneralNames */
	if (flags & 4) {
		tlv(&ext, 0x06, bcoid, sizeof bcoid);
		tlv(&ext, 0x04, "\x30\x00", 2);
	} else {
		tlv(&ext, 0x06, sanoid, sizeof sanoid);
		if (flags & 1)
			tlv(&ext, 0x01, "\xff", 1);
		tlv(&ext, 0x04, gn.p, gn.len);
	}
	wrap(&ext, 0x30);                       /* Extension */
	wrap(&ext, 0x30);                       /* Extensions */
	wrap(&ext, 0xa3);
	if (!(flags & 2))
		tlv(&tbs, 0xa0, "\x02\x01\x02", 3);     /* version v3 */
	tlv(&tbs, 0x02, "\x01", 1);             /* serial */
	tlv(&x, 0x06, alg, sizeof alg);
	wrap(&x, 0x30);
	buf_add(&tbs, x.p, x.len);              /* signature */
	tlv(&tbs, 0x30, "", 0);                 /* issuer */
	tlv(&tbs, 0x30, "", 0);                 /* validity */
	tlv(&tbs, 0x30, "", 0);                 /* subject */
	tlv(&tbs, 0x30, "", 0);                 /* subjectPublicKeyInfo */
	if (!(flags & 8))
		buf_add(&tbs, ext.p, ext.len);
	wrap(&tbs, 0x30);
	buf_reset(out);
	buf_add(out, tbs.p, tbs.len);
	buf_add(out, x.p, x.len);               /* signatureAlgorithm */
	tlv(out, 0x03, "\x00\x01", 2);          /* signature */
	wrap(out, 0x30);
	buf_free(&gn);
	buf_free(&ext);
	buf_free(&tbs);
	buf_free(&x);
}

/* ------------------------------------------------------------ cases */

#define IP4(a) { 0x87, a, 4 }
#define IP6(a) { 0x87, a, 16 }
#define DNS(s) { 0x82, s, sizeof(s) - 1 }

static const struct name n_v4[] = { IP4(v4) };
static const struct name n_v6[] = { IP6(v6) };
static const struct name n_dns[] = { DNS("127.0.0.1"), DNS("::1") };
static const struct name n_many[] = { DNS("localhost"), IP4(v4b), IP6(v6b),
	IP4(v4), IP6(v6) };
static const struct name n_mapped[] = { IP6(mapped) };
static const struct name n_odd[] = { { 0x87, v6, 5 }, { 0x87, v4, 3 } };

static const struct {
	const char *what;
	const struct name *nm;
	int nn, flags;
	const unsigned char *ip;
	size_t iplen;
	int want;
} cases[] = {
	{ "v4 match", n_v4, 1, 0, v4, 4, 1 },
	{ "v4 other address", n_v4, 1, 0, v4b, 4, 0 },
	{ "v4 SAN, v6 asked", n_v4, 1, 0, v6, 16, 0 },
	{ "v6 match", n_v6, 1, 0, v6, 16, 1 },
	{ "v6 other address", n_v6, 1, 0, v6b, 16, 0 },
	{ "DNS names never match an IP", n_dns, 2, 0, v4, 4, 0 },
	{ "DNS names never match an IPv6", n_dns, 2, 0, v6, 16, 0 },
	{ "several names, v4 last but one", n_many, 5, 0, v4, 4, 1 },
	{ "several names, v6 last", n_many, 5, 0, v6, 16, 1 },
	{ "several names, 2001:db8::1", n_many, 5, 0, v6b, 16, 1 },
	{ "several names, 127.0.0.2", n_many, 5, 0, v4b, 4, 1 },
	{ "v4-mapped v6 is not the v4", n_mapped, 1, 0, v4, 4, 0 },
	{ "odd lengths match nothing", n_odd, 2, 0, v4, 4, 0 },
	{ "critical SAN", n_v4, 1, 1, v4, 4, 1 },
	{ "no version field", n_v4, 1, 2, v4, 4, 1 },
	{ "no SAN extension", n_v4, 1, 4, v4, 4, 0 },
	{ "no extensions", n_v4, 1, 8, v4, 4, 0 },
	{ "empty SAN", n_v4, 0, 0, v4, 4, 0 },
};

static void
test_cases(void)
{
	struct buf c = {0};
	size_t i, k;

	for (i = 0; i < LEN(cases); i++) {
		int got;

		mkcert(&c, cases[i].nm, cases[i].nn, cases[i].flags);
		got = tls_san_ip((unsigned char *)c.p, c.len, cases[i].ip,
		    cases[i].iplen);
		if (got != cases[i].want)
			fprintf(stderr, "case '%s'\n", cases[i].what);
		T_INTEQ(got, cases[i].want);
		/* every truncation is malformed or at least no match */
		for (k = 0; k < c.len; k++) {
			unsigned char *p = malloc(k ? k : 1);
			int r;

			memcpy(p, c.p, k);
			r = tls_san_ip(p, k, cases[i].ip, cases[i].iplen);
			if (r == 1)
				fprintf(stderr, "case '%s' cut at %zu\n",
				    cases[i].what, k);
			T_OK(r != 1);
			free(p);
		}
	}
	buf_free(&c);
}

static void
test_malformed(void)
{
	static const unsigned char huge[] = { 0x30, 0x84, 0xff, 0xff, 0xff,
		0xff, 0x30, 0x00 };
	static const unsigned char longlen[] = { 0x30, 0x85, 1, 0, 0, 0, 0 };
	static const unsigned char notseq[] = { 0x31, 0x02, 0x30, 0x00 };
	static const unsigned char zerolen[] = { 0x30, 0x80, 0x00, 0x00 };
	static const unsigned char inner[] = { 0x30, 0x04, 0x30, 0x05, 0x02,
		0x01 };
	struct buf c = {0};

	T_INTEQ(tls_san_ip((const unsigned char *)"", 0, v4, 4), -1);
	T_INTEQ(tls_san_ip(huge, sizeof huge, v4, 4), -1);
	T_INTEQ(tls_san_ip(longlen, sizeof longlen, v4, 4), -1);
	T_INTEQ(tls_san_ip(notseq, sizeof notseq, v4, 4), -1);
	T_INTEQ(tls_san_ip(zerolen, sizeof zerolen, v4, 4), -1);
	T_INTEQ(tls_san_ip(inner, sizeof inner, v4, 4), -1);
	/* a SAN whose OCTET STRING is not a SEQUENCE */
	mkcert(&c, n_v4, 1, 0);
	{
		char *p = memchr(c.p, 0x04, c.len);     /* first OCTET STRING */

		while (p && !(p[-1] == 0x11 && p[-2] == 0x1d))
			p = memchr(p + 1, 0x04, c.len - (size_t)(p + 1 - c.p));
		T_OK(p != NULL);
		if (p) {
			p[2] = 0x31;
			T_INTEQ(tls_san_ip((unsigned char *)c.p, c.len, v4, 4),
			    -1);
		}
	}
	buf_free(&c);
}

static void
test_real(void)
{
	size_t k;

	T_INTEQ(tls_san_ip(real, sizeof real, v4, 4), 1);
	T_INTEQ(tls_san_ip(real, sizeof real, v6, 16), 1);
	T_INTEQ(tls_san_ip(real, sizeof real, v4b, 4), 0);
	T_INTEQ(tls_san_ip(real, sizeof real, v6b, 16), 0);
	for (k = 0; k < sizeof real; k++) {
		unsigned char *p = malloc(k ? k : 1);

		memcpy(p, real, k);
		T_OK(tls_san_ip(p, k, v4, 4) != 1);
		free(p);
	}
}

/* The handshake against a server that never answers: a signal that
 * only set `interrupted` (outside poll(2)) ends it at once, not after
 * the 20 s timeout.  Trust anchors: this certificate, as PEM. */
static void
test_interrupt(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	char ca[] = "/tmp/unit_tls_ca.XXXXXX";
	struct buf pem = { 0 };
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd, cf = 0, cafd;
	int64_t t0;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_OK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    listen(lfd, 1) == 0 &&
	    getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	T_OK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	buf_puts(&pem, "-----BEGIN CERTIFICATE-----\n");
	b64_encode(&pem, real, sizeof real);
	buf_puts(&pem, "\n-----END CERTIFICATE-----\n");
	cafd = mkstemp(ca);
	T_OK(cafd >= 0 && write(cafd, pem.p, pem.len) == (ssize_t)pem.len);
	close(cafd);
	interrupted = 1;
	t0 = now_ms();
	T_OK(tls_open(fd, "localhost", ca, 20000, 0, &cf) == NULL);
	T_INTEQ(geterrclass(), ERR_INTR);
	T_OK(now_ms() - t0 < 2000);
	interrupted = 0;
	unlink(ca);
	buf_free(&pem);
	close(fd);
	close(lfd);
}

int
main(void)
{
	test_cases();
	test_malformed();
	test_real();
	test_interrupt();
	return T_END("unit_tls");
}
