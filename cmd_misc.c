/* cmd_misc.c - contree agent (the manual of manual.c). */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "contree.h"
#include "manual.h"
#include "out.h"
#include "util.h"

/* A title underlined with u, after lead. */
static void
title(const char *t, int u, const char *lead)
{
	size_t k;

	printf("%s%s\n", lead, t);
	for (k = 0; t[k]; k++)
		putchar(u);
	putchar('\n');
}

int
cmd_agent(struct ctx *c)
{
	const struct manual_section *m;
	const char *topic = "all";
	struct out *o;
	size_t i, n;
	int np;
	char **p = arg_pos(c, "TOPIC", &np);

	if (np)
		topic = p[0];
	for (n = 0; manual_section(n); n++)
		;
	if (c->fmt == FMT_DEFAULT)
		title(manual_title, '=', "");
	o = c->fmt == FMT_DEFAULT ? NULL : out_new(c->fmt, 1);
	for (i = 0; (m = manual_section(i)); i++) {
		if (strcmp(topic, "all") != 0 && strcmp(topic, m->topic) != 0 &&
		    !(m->alias && strcmp(topic, m->alias) == 0))
			continue;
		if (!o) {
			title(m->title, '-', "\n");
			fputs(m->body, stdout);
		} else {
			struct row *r = row_new();

			row_str(r, "command", "agent");
			row_str(r, "topic", m->topic);
			row_str(r, "section", m->title);
			row_str(r, "text", m->body);
			row_int(r, "section_index", (long long)i + 1);
			row_int(r, "section_count", (long long)n);
			out_row(o, r);
		}
	}
	if (o && out_end(o) < 0)
		return -1;
	return 0;
}
