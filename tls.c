/* tls.c - BearSSL glue: trust anchors, certificate verification with
 * errors in words, session resumption, and record I/O over a socket with
 * timeouts.
 *
 * One connection at a time.  The engine, the X.509 context and the I/O
 * buffer are static; the only heap memory is the trust anchor set,
 * loaded once per process. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <bearssl.h>

#include "util.h"
#include "tls.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT 0
#endif

#define MINRSA 256          /* bytes: RSA keys under 2048 bits are weak */

/* The X.509 engine wrapped to keep a copy of the server's certificate,
 * so that "expired" can say which date and whether it is not yet valid. */
struct xwrap {
	const br_x509_class *vtable;
	br_x509_minimal_context min;
	int ncert;
	unsigned char leaf[16384];
	size_t leaflen;
	int leafover;
	unsigned char ip[16];   /* IP literal to find in the SAN, or */
	size_t iplen;           /* 0: the engine matches the DNS name */
};

struct tls {
	int fd;
	int timeout_ms;
	int64_t deadline;       /* absolute, 0 = none */
	int first;              /* first byte received, -1 none yet */
	char host[256];
	int open;
	int ioerr;              /* socket error (slot already set) */
	int sendfail;           /* sending failed; receiving may work */
	int eof;                /* TCP EOF seen */
};

static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
static br_ssl_client_context cc;
static struct xwrap xw;
static struct tls conn;
static int ccinit;
static char lasthost[256];
static unsigned char lastsid[32];
static size_t lastsidlen;

static br_x509_trust_anchor *tas;
static size_t ntas, tascap;
static int tasloaded;
static const char *tasfrom;

/* ------------------------------------------------------ trust anchors */

static void
dnappend(void *ctx, const void *p, size_t n)
{
	buf_add(ctx, p, n);
}

static unsigned char *
dupmem(const void *p, size_t n)
{
	unsigned char *q = xmalloc(n ? n : 1);

	memcpy(q, p, n);
	return q;
}

/* Add one DER certificate as a trust anchor.  0, or -1 if unusable. */
static int
addcert(const unsigned char *der, size_t len)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	br_x509_trust_anchor *ta;
	struct buf dn = {0};

	br_x509_decoder_init(&dc, dnappend, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (!pk) {
		buf_free(&dn);
		return -1;
	}
	if (ntas == tascap) {
		tascap = tascap ? tascap * 2 : 64;
		tas = xreallocarray(tas, tascap, sizeof *tas);
	}
	ta = &tas[ntas];
	memset(ta, 0, sizeof *ta);
	ta->dn.data = dupmem(dn.p, dn.len);
	ta->dn.len = dn.len;
	buf_free(&dn);
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dupmem(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dupmem(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dupmem(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	} else {
		free(ta->dn.data);
		return -1;
	}
	ntas++;
	return 0;
}

/* Load every CERTIFICATE of a PEM file.  Number added, or -1 if the file
 * cannot be read. */
static int
loadpem(const char *path)
{
	struct buf f = {0}, der = {0};
	br_pem_decoder_context pc;
	const char *p;
	size_t left;
	int incert = 0, n = 0;

	if (readfile(path, &f) < 0)
		return -1;
	br_pem_decoder_init(&pc);
	p = f.p;
	left = f.len;
	while (left > 0) {
		size_t k = br_pem_decoder_push(&pc, p, left);

		p += k;
		left -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			buf_reset(&der);
			incert = strcmp(br_pem_decoder_name(&pc),
			    "CERTIFICATE") == 0 || strcmp(br_pem_decoder_name(
			    &pc), "TRUSTED CERTIFICATE") == 0;
			br_pem_decoder_setdest(&pc, incert ? dnappend : NULL,
			    &der);
			break;
		case BR_PEM_END_OBJ:
			if (incert && addcert((unsigned char *)der.p,
			    der.len) == 0)
				n++;
			incert = 0;
			break;
		case BR_PEM_ERROR:
			/* skip junk: restart the decoder past it */
			br_pem_decoder_init(&pc);
			incert = 0;
			break;
		}
	}
	buf_free(&f);
	buf_free(&der);
	return n;
}

static int
loaddir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char *path;
		int k;

		if (e->d_name[0] == '.')
			continue;
		/* *.pem, *.crt and OpenSSL hash links (xxxxxxxx.N) */
		if (!(l > 4 && (strcmp(e->d_name + l - 4, ".pem") == 0 ||
		    strcmp(e->d_name + l - 4, ".crt") == 0)) &&
		    !(l >= 10 && e->d_name[8] == '.'))
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		k = loadpem(path);
		free(path);
		if (k > 0)
			n += k;
	}
	closedir(d);
	return n;
}

/* The first system bundle that has certificates, else the hashed
 * directory.  The source, or NULL. */
static const char *
loadsystem(void)
{
	static const char *const files[] = {
		"/etc/ssl/certs/ca-certificates.crt",   /* Debian, Alpine, Arch */
		"/etc/pki/tls/certs/ca-bundle.crt",     /* Fedora, RHEL */
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/ssl/ca-bundle.pem",               /* openSUSE */
		"/etc/ssl/cert.pem",           /* Alpine, macOS, OpenBSD */
		"/usr/local/share/certs/ca-root-nss.crt",   /* FreeBSD */
		"/usr/local/etc/ssl/cert.pem",
		"/etc/openssl/certs/ca-certificates.crt",   /* NetBSD */
		"/usr/local/etc/openssl/cert.pem",      /* Homebrew */
	};
	size_t i;

	for (i = 0; i < LEN(files); i++)
		if (access(files[i], R_OK) == 0 && loadpem(files[i]) > 0)
			return files[i];
	if (loaddir("/etc/ssl/certs") > 0)
		return "/etc/ssl/certs";
	return NULL;
}

/* SSL_CERT_FILE, else SSL_CERT_DIR (directories separated by ':'),
 * else the system.  0, or -1 (slot set) for an unusable
 * SSL_CERT_FILE. */
static int
loadbase(void)
{
	const char *f = getenv("SSL_CERT_FILE"), *d = getenv("SSL_CERT_DIR");
	char *copy, *s, *save = NULL;
	int n;

	if (f && *f) {
		n = loadpem(f);
		if (n < 0) {
			seterrc(ERR_TLS, "TLS error: cannot read SSL_CERT_FILE "
			    "%s:", f);
			return -1;
		}
		if (n == 0) {
			seterrc(ERR_TLS, "TLS error: SSL_CERT_FILE %s holds no "
			    "PEM certificate (want a bundle of -----BEGIN "
			    "CERTIFICATE----- blocks)", f);
			return -1;
		}
		tasfrom = f;
	} else if (d && *d) {
		copy = xstrdup(d);
		for (s = strtok_r(copy, ":", &save); s;
		    s = strtok_r(NULL, ":", &save))
			loaddir(s);
		free(copy);
		tasfrom = d;
	} else {
		tasfrom = loadsystem();
	}
	return 0;
}

int
tls_anchors(const char *extra_ca, const char **where)
{
	int n;

	if (tasloaded) {
		if (where)
			*where = tasfrom;
		return 0;
	}
	if (loadbase() < 0)
		return -1;
	if (extra_ca && *extra_ca) {
		n = loadpem(extra_ca);
		if (n < 0) {
			seterrc(ERR_TLS, "TLS error: cannot read CA file %s:",
			    extra_ca);
			return -1;
		}
		if (n == 0) {
			seterrc(ERR_TLS, "TLS error: no certificate in CA file "
			    "%s", extra_ca);
			return -1;
		}
		if (!tasfrom)
			tasfrom = extra_ca;
	}
	if (ntas == 0) {
		seterrc(ERR_TLS, "TLS error: no trusted CA certificates found "
		    "(set SSL_CERT_FILE to a PEM bundle, or install "
		    "ca-certificates)");
		return -1;
	}
	tasloaded = 1;
	if (where)
		*where = tasfrom;
	logmsg(LOG_DEBUG, "TLS: %zu trust anchors from %s%s%s", ntas, tasfrom,
	    extra_ca && *extra_ca ? " and " : "", extra_ca ? extra_ca : "");
	return 0;
}

/* ---------------------------------------------------- X.509 wrapper */

static void
xw_start_chain(const br_x509_class **ctx, const char *name)
{
	struct xwrap *x = (struct xwrap *)ctx;

	x->ncert = 0;
	x->leaflen = 0;
	x->leafover = 0;
	x->min.vtable->start_chain(&x->min.vtable, x->iplen ? NULL : name);
}

static void
xw_start_cert(const br_x509_class **ctx, uint32_t len)
{
	struct xwrap *x = (struct xwrap *)ctx;

	x->ncert++;
	x->min.vtable->start_cert(&x->min.vtable, len);
}

static void
xw_append(const br_x509_class **ctx, const unsigned char *p, size_t n)
{
	struct xwrap *x = (struct xwrap *)ctx;

	if (x->ncert == 1) {
		if (x->leaflen + n <= sizeof x->leaf) {
			memcpy(x->leaf + x->leaflen, p, n);
			x->leaflen += n;
		} else {
			x->leafover = 1;
		}
	}
	x->min.vtable->append(&x->min.vtable, p, n);
}

static void
xw_end_cert(const br_x509_class **ctx)
{
	struct xwrap *x = (struct xwrap *)ctx;

	x->min.vtable->end_cert(&x->min.vtable);
}

/* The chain is checked by the minimal engine; for an IP literal (the
 * engine was given no name) the leaf must also list it in its SAN. */
static unsigned
xw_end_chain(const br_x509_class **ctx)
{
	struct xwrap *x = (struct xwrap *)ctx;
	unsigned err = x->min.vtable->end_chain(&x->min.vtable);

	if (err != BR_ERR_OK || x->iplen == 0)
		return err;
	if (x->leafover || tls_san_ip(x->leaf, x->leaflen, x->ip,
	    x->iplen) != 1)
		return BR_ERR_X509_BAD_SERVER_NAME;
	return BR_ERR_OK;
}

static const br_x509_pkey *
xw_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct xwrap *x = (const struct xwrap *)ctx;

	return x->min.vtable->get_pkey(&x->min.vtable, usages);
}

static const br_x509_class xw_vtable = {
	sizeof(struct xwrap), xw_start_chain, xw_start_cert, xw_append,
	xw_end_cert, xw_end_chain, xw_get_pkey
};

/* A DER element: tag, content span.  0 or -1. */
static int
der(const unsigned char **p, const unsigned char *end, int *tag,
    const unsigned char **c, size_t *clen)
{
	const unsigned char *s = *p;
	size_t len;

	if (end - s < 2)
		return -1;
	*tag = *s++;
	len = *s++;
	if (len & 0x80) {
		int k = len & 0x7f;

		if (k == 0 || k > 4 || end - s < k)
			return -1;
		len = 0;
		while (k--)
			len = (len << 8) | *s++;
	}
	if ((size_t)(end - s) < len)
		return -1;
	*c = s;
	*clen = len;
	*p = s + len;
	return 0;
}

/* Step into the content of the element at *p (of tag want), or -1. */
static int
enter(const unsigned char **p, const unsigned char **end, int want)
{
	const unsigned char *c;
	size_t n;
	int tag;

	if (der(p, *end, &tag, &c, &n) < 0 || tag != want)
		return -1;
	*p = c;
	*end = c + n;
	return 0;
}

/* The extensions of a DER certificate: their SEQUENCE content in
 * [*p, *end).  0, 1 if there are none, -1 for malformed DER. */
static int
extensions(const unsigned char **p, const unsigned char **end)
{
	const unsigned char *c;
	size_t n;
	int tag;

	if (enter(p, end, 0x30) < 0 || enter(p, end, 0x30) < 0)
		return -1;              /* Certificate, TBSCertificate */
	while (*p < *end) {
		if (der(p, *end, &tag, &c, &n) < 0)
			return -1;
		if (tag == 0xa3) {      /* [3] EXPLICIT Extensions */
			*p = c;
			*end = c + n;
			return enter(p, end, 0x30);
		}
	}
	return 1;
}

/* 1 if a GeneralNames content [p, end) holds iPAddress ip; 0; -1. */
static int
sanhas(const unsigned char *p, const unsigned char *end,
    const unsigned char *ip, size_t iplen)
{
	const unsigned char *c;
	size_t n;
	int tag, found = 0;

	if (enter(&p, &end, 0x30) < 0)
		return -1;
	while (p < end) {
		if (der(&p, end, &tag, &c, &n) < 0)
			return -1;
		if (tag == 0x87 && n == iplen && memcmp(c, ip, n) == 0)
			found = 1;      /* [7] IMPLICIT OCTET STRING */
	}
	return found;
}

int
tls_san_ip(const unsigned char *cert, size_t len, const unsigned char *ip,
    size_t iplen)
{
	static const unsigned char san[] = { 0x55, 0x1d, 0x11 };
	const unsigned char *p = cert, *end = cert + len, *e, *ee, *c;
	size_t n;
	int tag, rc;

	if ((rc = extensions(&p, &end)) != 0)
		return rc > 0 ? 0 : -1;
	while (p < end) {
		if (der(&p, end, &tag, &e, &n) < 0 || tag != 0x30)
			return -1;
		ee = e + n;
		if (der(&e, ee, &tag, &c, &n) < 0 || tag != 0x06)
			return -1;
		if (n != sizeof san || memcmp(c, san, n) != 0)
			continue;
		if (e < ee && *e == 0x01 && der(&e, ee, &tag, &c, &n) < 0)
			return -1;      /* critical flag */
		if (der(&e, ee, &tag, &c, &n) < 0 || tag != 0x04)
			return -1;
		return sanhas(c, c + n, ip, iplen);
	}
	return 0;
}

static int
num(const unsigned char *s, int n)
{
	int v = 0;

	while (n--) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

/* Parse a UTCTime/GeneralizedTime into seconds since the epoch and a
 * printable form.  0 or -1. */
static int
dertime(int tag, const unsigned char *c, size_t n, long long *t, char *out,
    size_t outsz)
{
	int y, mo, d, h, mi, s;

	if (tag == 0x17 && n >= 13) {
		y = num(c, 2);
		y += y < 50 ? 2000 : 1900;
		c += 2;
	} else if (tag == 0x18 && n >= 15) {
		y = num(c, 4);
		c += 4;
	} else {
		return -1;
	}
	mo = num(c, 2);
	d = num(c + 2, 2);
	h = num(c + 4, 2);
	mi = num(c + 6, 2);
	s = num(c + 8, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    mi < 0 || s < 0)
		return -1;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	snprintf(out, outsz, "%04d-%02d-%02d %02d:%02d:%02d UTC", y, mo, d, h,
	    mi, s);
	return 0;
}

/* Describe the validity problem of the server's certificate. */
static void
validity(char *out, size_t outsz)
{
	const unsigned char *p = xw.leaf, *end = xw.leaf + xw.leaflen, *c;
	const unsigned char *vp, *ve;
	size_t n;
	int tag, t1, t2, i;
	long long nb, na, now = (long long)time(NULL);
	char snb[40], sna[40];
	const unsigned char *c1, *c2;
	size_t n1, n2;

	snprintf(out, outsz, "a certificate in the chain has expired or is "
	    "not yet valid");
	if (xw.leafover || der(&p, end, &tag, &c, &n) < 0 || tag != 0x30)
		return;
	p = c;
	end = c + n;
	if (der(&p, end, &tag, &c, &n) < 0 || tag != 0x30)     /* tbs */
		return;
	p = c;
	end = c + n;
	/* [0] version, serial, signature algorithm, issuer */
	for (i = 0; i < 4; i++) {
		if (der(&p, end, &tag, &c, &n) < 0)
			return;
		if (i == 0 && tag != 0xa0)
			i++;        /* no version: that was the serial */
	}
	if (der(&p, end, &tag, &c, &n) < 0 || tag != 0x30)     /* validity */
		return;
	vp = c;
	ve = c + n;
	if (der(&vp, ve, &t1, &c1, &n1) < 0 || der(&vp, ve, &t2, &c2,
	    &n2) < 0)
		return;
	if (dertime(t1, c1, n1, &nb, snb, sizeof snb) < 0 ||
	    dertime(t2, c2, n2, &na, sna, sizeof sna) < 0)
		return;
	if (now > na)
		snprintf(out, outsz, "certificate has expired (valid until "
		    "%s)", sna);
	else if (now < nb)
		snprintf(out, outsz, "certificate is not yet valid (valid "
		    "from %s)", snb);
}

/* ---------------------------------------------------- errors in words */

static const char *
alertname(int a)
{
	/* codes and their names packed in one string, in the same order
	 * (a switch becomes a 121-pointer array; pointers cost 8 bytes) */
	static const unsigned char codes[] = {
		0, 10, 20, 40, 42, 43, 44, 45, 46, 47, 48, 50, 51, 70, 71, 80,
		86, 90, 109, 112, 116, 120
	};
	static const char names[] =
	    "close_notify\0"
	    "unexpected_message\0"
	    "bad_record_mac\0"
	    "handshake_failure\0"
	    "bad_certificate\0"
	    "unsupported_certificate\0"
	    "certificate_revoked\0"
	    "certificate_expired\0"
	    "certificate_unknown\0"
	    "illegal_parameter\0"
	    "unknown_ca\0"
	    "decode_error\0"
	    "decrypt_error\0"
	    "protocol_version\0"
	    "insufficient_security\0"
	    "internal_error\0"
	    "inappropriate_fallback\0"
	    "user_canceled\0"
	    "missing_extension\0"
	    "unrecognized_name\0"
	    "certificate_required\0"
	    "no_application_protocol";
	const char *p = names;
	size_t i;

	for (i = 0; i < sizeof codes; i++, p += strlen(p) + 1)
		if (codes[i] == a)
			return p;
	return "unknown alert";
}

/* BearSSL errors in words: errcodes[i] is said as errmsgs[i] (the
 * X.509 ones, BR_ERR_X509_*, are certificate problems). */
static const unsigned char errcodes[] = {
	BR_ERR_X509_NOT_TRUSTED,
	BR_ERR_X509_WEAK_PUBLIC_KEY,
	BR_ERR_X509_NOT_CA,
	BR_ERR_X509_FORBIDDEN_KEY_USAGE,
	BR_ERR_X509_CRITICAL_EXTENSION,
	BR_ERR_X509_BAD_SIGNATURE,
	BR_ERR_X509_UNSUPPORTED,
	BR_ERR_X509_WRONG_KEY_TYPE,
	BR_ERR_X509_EMPTY_CHAIN,
	BR_ERR_X509_LIMIT_EXCEEDED,
	BR_ERR_X509_TIME_UNKNOWN,
	BR_ERR_X509_DN_MISMATCH,
	BR_ERR_UNSUPPORTED_VERSION,
	BR_ERR_BAD_VERSION,
	BR_ERR_BAD_MAC,
	BR_ERR_BAD_CIPHER_SUITE,
	BR_ERR_BAD_COMPRESSION,
	BR_ERR_INVALID_ALGORITHM,
	BR_ERR_BAD_SIGNATURE,
	BR_ERR_UNKNOWN_TYPE,
	BR_ERR_BAD_LENGTH,
	BR_ERR_TOO_LARGE,
	BR_ERR_BAD_FRAGLEN,
	BR_ERR_WRONG_KEY_USAGE,
	BR_ERR_NO_RANDOM,
};
static const char *const errmsgs[] = {
	"certificate is not trusted (unknown issuer or self-signed)",
	"certificate key is too weak (RSA keys need 2048 bits or more)",
	"certificate was issued by a certificate that is not a CA",
	"certificate key usage does not allow a TLS server",
	"certificate has an unsupported critical extension",
	"certificate signature is invalid",
	"certificate uses an unsupported algorithm",
	"certificate uses an unsupported algorithm",
	"server sent no certificate",
	"certificate chain is too long",
	"cannot check certificate dates (clock unknown)",
	"certificate chain is out of order (issuer name mismatch)",
	("protocol version mismatch (server wants a version other than "
	    "TLS 1.0-1.2)"),
	"protocol error: unexpected protocol version",
	"record authentication failed (data corrupted in transit)",
	"protocol error: server chose parameters we did not offer",
	"protocol error: server chose parameters we did not offer",
	"protocol error: server chose parameters we did not offer",
	"server's handshake signature is invalid",
	"protocol error: not a TLS server, or garbled records",
	"protocol error: not a TLS server, or garbled records",
	"protocol error: not a TLS server, or garbled records",
	"protocol error: not a TLS server, or garbled records",
	"certificate key usage does not match the cipher suite",
	"no source of random numbers",
};

/* Words for a BearSSL error; 1 if it is a certificate problem. */
static int
tlswords(int err, const char *host, char *out, size_t outsz)
{
	size_t i;
	int a;

	if (err == BR_ERR_X509_EXPIRED) {
		validity(out, outsz);
		return 1;
	}
	if (err == BR_ERR_X509_BAD_SERVER_NAME) {
		snprintf(out, outsz, "certificate does not match the host "
		    "name %s", host);
		return 1;
	}
	for (i = 0; i < sizeof errcodes; i++)
		if (errcodes[i] == err) {
			snprintf(out, outsz, "%s", errmsgs[i]);
			return err >= BR_ERR_X509_OK;
		}
	if (err >= BR_ERR_X509_OK && err < BR_ERR_X509_OK + 32) {
		snprintf(out, outsz, "certificate is malformed (BearSSL "
		    "error %d)", err);
		return 1;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT) {
		a = err - BR_ERR_SEND_FATAL_ALERT;
		snprintf(out, outsz, "handshake aborted by us (alert %d, %s)",
		    a, alertname(a));
	} else if (err >= BR_ERR_RECV_FATAL_ALERT) {
		a = err - BR_ERR_RECV_FATAL_ALERT;
		if (a == 70)
			snprintf(out, outsz, "protocol version mismatch: the "
			    "server refused TLS 1.0-1.2 (alert 70, "
			    "protocol_version)");
		else
			snprintf(out, outsz, "server sent fatal alert %d (%s)",
			    a, alertname(a));
	} else {
		snprintf(out, outsz, "protocol error (BearSSL error %d)", err);
	}
	return 0;
}

/* ------------------------------------------------------------- I/O */

static int
waitfd(struct tls *t, short ev)
{
	int64_t ms = t->timeout_ms > 0 ? t->timeout_ms : -1, left;
	int rc;

	if (t->deadline) {
		left = t->deadline - now_ms();
		if (left < 0)
			left = 0;
		if (ms < 0 || left < ms)
			ms = left;
	}
	rc = pollwait(t->fd, ev, ms);
	if (rc > 0)
		return 0;
	if (rc == 0) {
		neterr(ERR_TIMEOUT, "no answer from %s "
		    "(timeout)", t->host);
		errno = ETIMEDOUT;
		return -1;
	}
	if (interrupted)
		seterrc(ERR_INTR, "interrupted");
	else
		neterr(ERR_NET, "poll:");
	return -1;
}

/* Run the engine until one of the target states is reached.  0; -1 on
 * error (slot set unless it is an engine error, which the caller reads);
 * -2 at a TCP EOF. */
static int
rununtil(struct tls *t, unsigned target)
{
	br_ssl_engine_context *eng = &cc.eng;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		unsigned char *p;
		size_t len;
		ssize_t n;

		if (st & BR_SSL_CLOSED)
			return -1;
		if ((st & BR_SSL_SENDREC) && !t->sendfail) {
			p = br_ssl_engine_sendrec_buf(eng, &len);
			n = send(t->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR && !interrupted)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					if (waitfd(t, POLLOUT) < 0)
						goto ioerr;
					continue;
				}
				/* the peer may still have said something
				 * (an early answer): reads stay possible */
				neterr(ERR_NET, "sending:");
				t->sendfail = 1;
				return -1;
			}
			br_ssl_engine_sendrec_ack(eng, (size_t)n);
			continue;
		}
		if ((st & BR_SSL_SENDREC) && !(st & (BR_SSL_RECVREC |
		    BR_SSL_RECVAPP))) {
			neterr(ERR_NET, "connection broken while "
			    "sending");
			goto ioerr;
		}
		if (st & target)
			return 0;
		if (st & BR_SSL_RECVAPP) {
			/* the peer talks while we want to write: an early
			 * answer (e.g. 413 to an upload); the caller may
			 * read it with tls_read */
			neterr(ERR_NET, "server answered before the "
			    "request was sent");
			return -1;
		}
		if (st & BR_SSL_RECVREC) {
			p = br_ssl_engine_recvrec_buf(eng, &len);
			if (waitfd(t, POLLIN) < 0)
				goto ioerr;
			n = recv(t->fd, p, len, 0);
			if (n == 0) {
				t->eof = 1;
				return -2;
			}
			if (n < 0) {
				if ((errno == EINTR && !interrupted) ||
				    errno == EAGAIN || errno == EWOULDBLOCK)
					continue;
				neterr(ERR_NET, "receiving:");
				goto ioerr;
			}
			if (t->first < 0)
				t->first = p[0];
			br_ssl_engine_recvrec_ack(eng, (size_t)n);
			continue;
		}
		/* nothing to do but wait for app data to be pushed */
		br_ssl_engine_flush(eng, 0);
	}
ioerr:
	t->ioerr = 1;
	return -1;
}

/* Set the slot for a failed engine; 1 if it is a certificate problem. */
static int
engerr(struct tls *t, const char *host)
{
	char words[256];
	int err = br_ssl_engine_last_error(&cc.eng), cert;

	if (t->ioerr || t->sendfail)
		return 0;
	if (err == BR_ERR_OK) {
		neterr(ERR_NET, "connection closed by %s", host);
		return 0;
	}
	cert = tlswords(err, host, words, sizeof words);
	if (cert)
		seterrc(ERR_TLS, "TLS error: certificate verification failed for %s: %s",
		    host, words);
	else
		seterrc(ERR_TLS, "TLS error: %s: %s", host, words);
	return cert;
}

/* Elliptic curves: X25519 (the key exchange servers prefer) with its
 * own fast code; P-256, P-384 and P-521 (ECDHE and ECDSA certificates)
 * with BearSSL's generic constant-time i31 code.  Leaving out the
 * specialised P-256 code saves 9 KB of the static binary for about
 * 0.5 ms more per P-256 operation (two or three per handshake, one
 * handshake per command). */
static const br_ec_impl *
curve_impl(int curve)
{
	return curve == BR_EC_curve25519 ? &br_ec_c25519_m31 :
	    &br_ec_prime_i31;
}

static const unsigned char *
ec_generator(int curve, size_t *len)
{
	return curve_impl(curve)->generator(curve, len);
}

static const unsigned char *
ec_order(int curve, size_t *len)
{
	return curve_impl(curve)->order(curve, len);
}

static size_t
ec_xoff(int curve, size_t *len)
{
	return curve_impl(curve)->xoff(curve, len);
}

static uint32_t
ec_mul(unsigned char *g, size_t glen, const unsigned char *x, size_t xlen,
    int curve)
{
	return curve_impl(curve)->mul(g, glen, x, xlen, curve);
}

static size_t
ec_mulgen(unsigned char *r, const unsigned char *x, size_t xlen, int curve)
{
	return curve_impl(curve)->mulgen(r, x, xlen, curve);
}

static uint32_t
ec_muladd(unsigned char *a, const unsigned char *b, size_t len,
    const unsigned char *x, size_t xlen, const unsigned char *y, size_t ylen,
    int curve)
{
	/* ECDSA only: never called for X25519 */
	return curve_impl(curve)->muladd(a, b, len, x, xlen, y, ylen, curve);
}

static const br_ec_impl ec_client = {
	(uint32_t)1 << BR_EC_secp256r1 | (uint32_t)1 << BR_EC_secp384r1 |
	    (uint32_t)1 << BR_EC_secp521r1 | (uint32_t)1 << BR_EC_curve25519,
	ec_generator, ec_order, ec_xoff, ec_mul, ec_mulgen, ec_muladd
};

/* The client profile: TLS 1.2 with ECDHE key exchange and AES-GCM only,
 * RSA and ECDSA server keys, SHA-2 for signatures: the four cipher
 * suites RFC 9325 (BCP 195) recommends for TLS 1.2, which every server
 * offers.  Leaving out TLS 1.0/1.1, CBC, 3DES, static RSA key exchange,
 * SHA-1 signatures (forgeable since 2020; no public CA has issued them
 * since 2016; a root signed with SHA-1 still works: anchors are not
 * checked by signature) and ChaCha20-Poly1305 (7 KB of the static
 * binary; faster only on CPUs without AES instructions, where BearSSL's
 * constant-time AES serves) keeps the binary small and the attack
 * surface narrow.  (br_ssl_client_init_full would link in all of
 * BearSSL.) */
static void
client_profile(br_ssl_client_context *c, br_x509_minimal_context *x)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
	};
	static const br_hash_class *const hashes[] = {
		&br_sha224_vtable, &br_sha256_vtable, &br_sha384_vtable,
		&br_sha512_vtable
	};
	size_t i;

	br_ssl_client_zero(c);
	br_ssl_engine_set_versions(&c->eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(&c->eng, suites,
	    sizeof suites / sizeof suites[0]);
	br_x509_minimal_init(x, &br_sha256_vtable, tas, ntas);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
		int id = (int)(hashes[i]->desc >> BR_HASHDESC_ID_OFF &
		    BR_HASHDESC_ID_MASK);

		br_ssl_engine_set_hash(&c->eng, id, hashes[i]);
		br_x509_minimal_set_hash(x, id, hashes[i]);
	}
	br_ssl_engine_set_prf_sha256(&c->eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(&c->eng, &br_tls12_sha384_prf);
	/* i31 RSA: the i62 code is faster only for private-key work; a
	 * verification with e = 65537 costs microseconds either way, and
	 * i31 is linked already for the curves */
	br_ssl_engine_set_rsavrfy(&c->eng, &br_rsa_i31_pkcs1_vrfy);
	br_ssl_engine_set_ec(&c->eng, &ec_client);
	br_ssl_engine_set_ecdsa(&c->eng, &br_ecdsa_i31_vrfy_asn1);
	br_x509_minimal_set_rsa(x, &br_rsa_i31_pkcs1_vrfy);
	br_x509_minimal_set_ecdsa(x, &ec_client, &br_ecdsa_i31_vrfy_asn1);
	br_ssl_engine_set_default_aes_gcm(&c->eng);
}


/* Fresh kernel entropy into the engine's DRBG before every handshake.
 * BearSSL 0.6 seeds itself once per engine from RDRAND or /dev/urandom:
 * the first is x86 only and the second is missing in an empty chroot;
 * and a job forked after a connection (jobs.c) would otherwise repeat
 * its parent's random stream: the same client random and ECDHE key in
 * two processes. */
static void
reseed(void)
{
	unsigned char seed[32];

	if (randbytes(seed, sizeof seed) == 0)
		br_ssl_engine_inject_entropy(&cc.eng, seed, sizeof seed);
	memzero(seed, sizeof seed);
}

/* For an IP literal host: its bytes into x (no SNI, no DNS-name check;
 * the SAN is matched in xw_end_chain). */
static void
iphost(struct xwrap *x, const char *host)
{
	char tmp[256];

	snprintf(tmp, sizeof tmp, "%s", host);
	tmp[strcspn(tmp, "%")] = 0;         /* IPv6 zone id */
	x->iplen = 0;
	if (inet_pton(AF_INET, tmp, x->ip) == 1)
		x->iplen = 4;
	else if (inet_pton(AF_INET6, tmp, x->ip) == 1)
		x->iplen = 16;
}

/* Why the handshake failed, in the slot; *certfail as for tls_open. */
static void
handshakefail(struct tls *t, int rc, int *certfail)
{
	int err = br_ssl_engine_last_error(&cc.eng);

	if (t->first >= 0 && (t->first < 20 || t->first > 24) &&
	    !t->ioerr && !t->sendfail) {
		seterrc(ERR_TLS, "TLS error: %s did not speak TLS (a plain "
		    "HTTP server? try http://)", t->host);
		*certfail = 2;
	} else if (rc == -2 && err == 0) {
		seterrc(ERR_TLS, "TLS error: %s closed the connection during "
		    "the handshake (not a TLS server?)", t->host);
	} else if (engerr(t, t->host)) {
		*certfail = 1;
	} else if (!t->ioerr && !t->sendfail) {
		*certfail = 2;      /* protocol failure */
	}
}

struct tls *
tls_open(int fd, const char *host, const char *extra_ca, int timeout_ms,
    int64_t deadline, int *certfail)
{
	struct tls *t = &conn;
	int resume, rc;
	const br_ssl_session_parameters *sp;

	*certfail = 0;
	if (t->open)
		tls_close(t);
	if (tls_anchors(extra_ca, NULL) < 0) {
		/* no trust anchors: a local setup problem that no retry
		 * can mend, so it is reported like a certificate failure */
		*certfail = 1;
		return NULL;
	}
	if (!ccinit) {
		client_profile(&cc, &xw.min);
		br_x509_minimal_set_minrsa(&xw.min, MINRSA);
		xw.vtable = &xw_vtable;
		br_ssl_engine_set_x509(&cc.eng, &xw.vtable);
		br_ssl_engine_set_buffer(&cc.eng, iobuf, sizeof iobuf, 1);
		ccinit = 1;
	}
	memset(t, 0, sizeof *t);
	t->fd = fd;
	t->timeout_ms = timeout_ms;
	t->deadline = deadline;
	t->first = -1;
	snprintf(t->host, sizeof t->host, "%s", host);
	iphost(&xw, host);
	resume = lastsidlen > 0 && strcmp(lasthost, host) == 0;
	reseed();
	/* no SNI for an IP literal (RFC 6066); its SAN is checked by xw */
	if (!br_ssl_client_reset(&cc, xw.iplen ? NULL : host, resume)) {
		char words[256];

		tlswords(br_ssl_engine_last_error(&cc.eng), host, words,
		    sizeof words);
		seterrc(ERR_TLS, "TLS error: %s", words);
		return NULL;
	}
	t->open = 1;
	rc = rununtil(t, BR_SSL_SENDAPP);
	if (rc < 0) {
		handshakefail(t, rc, certfail);
		t->open = 0;
		lastsidlen = 0;
		return NULL;
	}
	sp = &cc.eng.session;
	if (resume && sp->session_id_len == lastsidlen &&
	    memcmp(sp->session_id, lastsid, lastsidlen) == 0)
		logmsg(LOG_DEBUG, "TLS session with %s resumed", host);
	else
		logmsg(LOG_DEBUG, "TLS handshake with %s done (version %x)",
		    host, br_ssl_engine_get_version(&cc.eng));
	lastsidlen = sp->session_id_len;
	memcpy(lastsid, sp->session_id, lastsidlen);
	snprintf(lasthost, sizeof lasthost, "%s", host);
	return t;
}

void
tls_deadline(struct tls *t, int64_t abs_ms)
{
	t->deadline = abs_ms;
}

void
tls_timeout(struct tls *t, int timeout_ms)
{
	t->timeout_ms = timeout_ms;
}

ssize_t
tls_read(struct tls *t, void *p, size_t n)
{
	unsigned char *b;
	size_t len;
	int rc;

	if (!t->open)
		return 0;
	rc = rununtil(t, BR_SSL_RECVAPP);
	if (rc == -2)
		return -2;
	if (rc < 0) {
		if (!t->ioerr && br_ssl_engine_last_error(&cc.eng) == BR_ERR_OK)
			return 0;       /* close_notify */
		engerr(t, t->host);
		return -1;
	}
	b = br_ssl_engine_recvapp_buf(&cc.eng, &len);
	if (len > n)
		len = n;
	memcpy(p, b, len);
	br_ssl_engine_recvapp_ack(&cc.eng, len);
	return (ssize_t)len;
}

ssize_t
tls_write(struct tls *t, const void *p, size_t n)
{
	unsigned char *b;
	size_t len;
	int rc;

	if (!t->open) {
		neterr(ERR_NET, "TLS connection is closed");
		return -1;
	}
	rc = rununtil(t, BR_SSL_SENDAPP);
	if (rc < 0) {
		if (rc == -2)
			neterr(ERR_NET, "connection closed by %s while "
			    "sending", t->host);
		else
			engerr(t, t->host);
		return -1;
	}
	b = br_ssl_engine_sendapp_buf(&cc.eng, &len);
	if (len > n)
		len = n;
	memcpy(b, p, len);
	br_ssl_engine_sendapp_ack(&cc.eng, len);
	return (ssize_t)len;
}

int
tls_flush(struct tls *t)
{
	int rc;

	if (!t->open) {
		neterr(ERR_NET, "TLS connection is closed");
		return -1;
	}
	br_ssl_engine_flush(&cc.eng, 0);
	rc = rununtil(t, BR_SSL_SENDAPP | BR_SSL_RECVAPP);
	if (rc < 0) {
		if (rc == -2)
			neterr(ERR_NET, "connection closed by %s while "
			    "sending", t->host);
		else
			engerr(t, t->host);
		return -1;
	}
	return 0;
}

int
tls_pending(struct tls *t)
{
	return t->open && (br_ssl_engine_current_state(&cc.eng) &
	    BR_SSL_RECVAPP) != 0;
}

void
tls_forget(struct tls *t)
{
	t->open = 0;
}

void
tls_close(struct tls *t)
{
	br_ssl_engine_context *eng = &cc.eng;
	int i;

	if (!t->open)
		return;
	t->open = 0;
	if (t->ioerr || t->eof || t->sendfail)
		return;
	br_ssl_engine_close(eng);
	/* push the close_notify out, without waiting for the peer's */
	for (i = 0; i < 4; i++) {
		unsigned st = br_ssl_engine_current_state(eng);
		unsigned char *p;
		size_t len;
		ssize_t n;

		if (!(st & BR_SSL_SENDREC))
			break;
		p = br_ssl_engine_sendrec_buf(eng, &len);
		n = send(t->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n <= 0)
			break;
		br_ssl_engine_sendrec_ack(eng, (size_t)n);
	}
}
