/* compat_musl.c - Debian's libbearssl.a is built with _FORTIFY_SOURCE and
 * calls glibc's checked copies; musl has none.  Used by `make static`
 * only: check the length, then do the plain operation. */
#include <stdlib.h>
#include <string.h>

void *__memcpy_chk(void *d, const void *s, size_t n, size_t dn);
void *__memmove_chk(void *d, const void *s, size_t n, size_t dn);
void *__memset_chk(void *d, int c, size_t n, size_t dn);

void *
__memcpy_chk(void *d, const void *s, size_t n, size_t dn)
{
	if (n > dn)
		abort();
	return memcpy(d, s, n);
}

void *
__memmove_chk(void *d, const void *s, size_t n, size_t dn)
{
	if (n > dn)
		abort();
	return memmove(d, s, n);
}

void *
__memset_chk(void *d, int c, size_t n, size_t dn)
{
	if (n > dn)
		abort();
	return memset(d, c, n);
}
