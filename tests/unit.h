/* unit.h - the whole unit-test harness: checks count, failures print
 * file:line and the expression; finish with T_END(name). */
#ifndef UNIT_H
#define UNIT_H
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define T_OK(c) do { if (c) t_pass++; else { t_fail++; \
	fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define T_STREQ(a, b) do { const char *t_a = (a), *t_b = (b); \
	if (t_a && t_b && strcmp(t_a, t_b) == 0) t_pass++; else { t_fail++; \
	fprintf(stderr, "FAIL %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, \
	    __LINE__, #a, #b, t_a ? t_a : "(null)", t_b ? t_b : "(null)"); } } while (0)
#define T_INTEQ(a, b) do { long long t_a = (a), t_b = (b); \
	if (t_a == t_b) t_pass++; else { t_fail++; \
	fprintf(stderr, "FAIL %s:%d: %s == %s: %lld != %lld\n", __FILE__, \
	    __LINE__, #a, #b, t_a, t_b); } } while (0)
#define T_END(name) (printf("%s: %d passed, %d failed\n", (name), t_pass, \
	t_fail), t_fail ? 1 : 0)

#endif
