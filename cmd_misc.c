/* cmd_misc.c - contree agent (the manual of manual.c). */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "contree.h"
#include "manual.h"
#include "out.h"
#include "util.h"

int
cmd_agent(struct ctx *c)
{
	const struct manual_section *m;
	const char *topic = "all";
	struct out *o;
	size_t i, n, k;
	int np;
	char **p = arg_pos(c, "TOPIC", &np);

	if (np)
		topic = p[0];
	for (n = 0; manual_section(n); n++)
		;
	if (c->fmt == FMT_DEFAULT) {
		printf("%s\n", manual_title);
		for (k = 0; k < strlen(manual_title); k++)
			putchar('=');
		putchar('\n');
	}
	o = c->fmt == FMT_DEFAULT ? NULL : out_new(c->fmt, 1);
	for (i = 0; (m = manual_section(i)); i++) {
		if (strcmp(topic, "all") != 0 && strcmp(topic, m->topic) != 0 &&
		    !(m->alias && strcmp(topic, m->alias) == 0))
			continue;
		if (!o) {
			printf("\n%s\n", m->title);
			for (k = 0; k < strlen(m->title); k++)
				putchar('-');
			printf("\n%s", m->body);
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
