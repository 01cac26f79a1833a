/* manual.h - the manual for coding agents (contree agent, skill files). */
#ifndef MANUAL_H
#define MANUAL_H

#include <stddef.h>

struct manual_section {
	const char *title;      /* "Core workflow" */
	const char *topic;      /* "core_workflow", the TOPIC of contree agent */
	const char *alias;      /* a short topic name, or NULL */
	const char *body;       /* lines ending in '\n' */
};

extern const char manual_title[];

/* Section i (from 0), or NULL past the end. */
const struct manual_section *manual_section(size_t i);

#endif
