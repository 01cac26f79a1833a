/* unit_edit.c - the line editor's state machine (edit.c) fed byte by
 * byte as a terminal would send them, and its renderer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../edit.h"
#include "../util.h"
#include "unit.h"

static struct ed e;

/* Feed s; the result of the last byte. */
static int
feed(const char *s)
{
	int r = ED_MORE;

	for (; *s; s++)
		r = ed_key(&e, (unsigned char)*s);
	return r;
}

/* The line with '|' at the cursor. */
static const char *
show(void)
{
	static char b[512];

	snprintf(b, sizeof b, "%.*s|%s", (int)e.cur, e.line.p, e.line.p + e.cur);
	return b;
}

static void
test_editing(void)
{
	ed_reset(&e);
	T_INTEQ(feed("hello world"), ED_MORE);
	T_STREQ(show(), "hello world|");
	feed("\001");                         /* Ctrl-A */
	T_STREQ(show(), "|hello world");
	feed("\006\006X");                    /* Ctrl-F twice, insert */
	T_STREQ(show(), "heX|llo world");
	feed("\010");                         /* Ctrl-H */
	T_STREQ(show(), "he|llo world");
	feed("\005\002\002\177");             /* End, Left x2, Backspace */
	T_STREQ(show(), "hello wo|ld");
	feed("\033[3~");                      /* Delete */
	T_STREQ(show(), "hello wo|d");
	feed("\033[H");                       /* Home */
	T_STREQ(show(), "|hello wod");
	feed("\033[F\033[D\033[D\033[C");     /* End, Left, Left, Right */
	T_STREQ(show(), "hello wo|d");
	feed("\013");                         /* Ctrl-K */
	T_STREQ(show(), "hello wo|");
	feed("\027");                         /* Ctrl-W */
	T_STREQ(show(), "hello |");
	feed("\031\031");                     /* Ctrl-Y twice */
	T_STREQ(show(), "hello wowo|");
	feed("\033b");                        /* Alt-B */
	T_STREQ(show(), "hello |wowo");
	feed("\025");                         /* Ctrl-U */
	T_STREQ(show(), "|wowo");
	feed("\033f\033[1;5D");               /* Alt-F, Ctrl-Left */
	T_STREQ(show(), "|wowo");
	feed("\004");                         /* Ctrl-D deletes */
	T_STREQ(show(), "|owo");
	T_INTEQ(feed("\r"), ED_LINE);
	T_STREQ(e.line.p, "owo");
	ed_reset(&e);
	T_INTEQ(feed("\004"), ED_EOF);
	T_INTEQ(feed("abc\003"), ED_INTR);
	T_STREQ(e.line.p, "");
	T_INTEQ(feed("\t"), ED_TAB);
	T_INTEQ(feed("\014"), ED_CLEAR);
	T_INTEQ(feed("\033[5~x"), ED_MORE);   /* unknown sequence ignored */
	T_STREQ(show(), "x|");
}

static void
test_utf8(void)
{
	ed_reset(&e);
	feed("a\xc3\xa9\xe2\x82\xac" "b");      /* a é € b */
	feed("\002\002");
	T_STREQ(show(), "a\xc3\xa9|\xe2\x82\xac" "b");
	feed("\177");
	T_STREQ(show(), "a|\xe2\x82\xac" "b");
	feed("\033[3~");
	T_STREQ(show(), "a|b");
	T_INTEQ((long long)ed_width("\033[1;34m/etc\033[0m \xc3\xa9", 17), 6);
}

static void
test_history(void)
{
	ed_free(&e);
	ed_init(&e, 3);
	ed_hist_add(&e, "one");
	ed_hist_add(&e, "two");
	ed_hist_add(&e, "two");               /* repeat: kept once */
	ed_hist_add(&e, "");                  /* empty: not kept */
	ed_hist_add(&e, "three");
	ed_hist_add(&e, "four");              /* "one" drops out */
	T_INTEQ((long long)e.nhist, 3);
	T_STREQ(e.hist[0], "two");
	ed_reset(&e);
	feed("draft");
	feed("\033[A");
	T_STREQ(e.line.p, "four");
	feed("\020\020\020");                 /* Ctrl-P past the oldest */
	T_STREQ(e.line.p, "two");
	feed("\033[B\016");                   /* Down, Ctrl-N */
	T_STREQ(e.line.p, "four");
	feed("\033[B");
	T_STREQ(show(), "draft|");
	feed("\033[B");
	T_STREQ(e.line.p, "draft");
}

static void
test_search(void)
{
	struct buf out = {0};

	ed_free(&e);
	ed_init(&e, 0);
	ed_hist_add(&e, "make test");
	ed_hist_add(&e, "ls /etc");
	ed_hist_add(&e, "make install");
	ed_reset(&e);
	feed("\022ma");                       /* Ctrl-R ma */
	T_INTEQ((long long)e.smatch, 2);
	ed_render(&e, "$ ", 80, &out);
	T_OK(strstr(out.p, "(reverse-i-search)`ma': make install") != NULL);
	feed("\022");                         /* older match */
	T_INTEQ((long long)e.smatch, 0);
	feed("\022");                         /* none older: stays */
	T_INTEQ((long long)e.smatch, 0);
	T_INTEQ(feed("\r"), ED_LINE);
	T_STREQ(e.line.p, "make test");
	ed_reset(&e);
	feed("\022zz");
	T_INTEQ(e.sfail, 1);
	buf_reset(&out);
	ed_render(&e, "$ ", 80, &out);
	T_OK(strstr(out.p, "(failed reverse-i-search)`zz': ") != NULL);
	feed("\177\177ls\033[D");             /* edit the pattern, accept by a key */
	T_INTEQ(e.search, 0);
	T_STREQ(show(), "ls /et|c");
	ed_reset(&e);
	feed("keep\022mak\007");              /* Ctrl-G cancels */
	T_STREQ(show(), "keep|");
	buf_free(&out);
}

static void
test_render(void)
{
	struct buf out = {0};
	char want[128];

	ed_reset(&e);
	feed("echo hi");
	ed_render(&e, "$ ", 80, &out);
	T_STREQ(out.p, "\r$ echo hi\033[K\r\033[9C");
	/* a long line scrolls: the cursor stays on screen */
	ed_reset(&e);
	feed("0123456789abcdefghij");
	buf_reset(&out);
	ed_render(&e, "$ ", 12, &out);
	snprintf(want, sizeof want, "\r$ cdefghij\033[K\r\033[10C");
	T_STREQ(out.p, want);
	feed("\001");
	buf_reset(&out);
	ed_render(&e, "$ ", 12, &out);
	T_STREQ(out.p, "\r$ 012345678\033[K\r\033[2C");
	buf_free(&out);
}

int
main(void)
{
	ed_init(&e, 0);
	test_editing();
	test_utf8();
	test_history();
	test_search();
	test_render();
	ed_free(&e);
	return T_END("unit_edit");
}
