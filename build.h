/* build.h - the pure parts of `contree build` (cli.md §9.3): the
 * Dockerfile reader, variable substitution, the .dockerignore matcher,
 * the context boundary test and the layer cache key chain.  No command
 * context, no network, no exit, no printing: everything returns -1 with
 * the error slot set, so the shell and tests may call it any number of
 * times. */
#ifndef BUILD_H
#define BUILD_H

#include <stddef.h>

struct buf;

/* ---- the Dockerfile ---- */

enum {
	DI_FROM = 1, DI_RUN, DI_COPY, DI_ADD, DI_ENV, DI_ARG, DI_WORKDIR,
	DI_USER, DI_SKIP        /* CMD, LABEL, ...: accepted, not executed */
};

struct dinstr {
	int kind;               /* DI_* */
	int line;               /* line of the keyword (1-based) */
	char *word;             /* keyword in upper case: "RUN" */
	char *args;             /* the rest, continuation lines joined */
};

struct dockerfile {
	struct dinstr *v;
	size_t n;
};

/* Read a Dockerfile: lines ending in '\' join the next (pieces trimmed,
 * joined by one space); blank lines and lines whose first non-blank is
 * '#' are dropped, also inside a continued instruction; the keyword is
 * the first word in any case.  An unknown keyword, an instruction
 * without arguments, a first instruction other than ARG that is not
 * FROM, an option of RUN, or one of COPY/ADD other than --chown and
 * --chmod (--from has its own message): -1 with the slot set to "NAME:LINE: ...".  On success the caller
 * frees df with df_free. */
int df_parse(const char *text, size_t len, const char *name,
    struct dockerfile *df);
void df_free(struct dockerfile *df);

/* ---- variables ---- */

/* Looks a variable up: its value, or NULL when it is not set. */
typedef const char *(*df_lookup)(void *arg, const char *name);

/* $NAME, ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word},
 * ${NAME+word} replaced (unset names become empty); "\$" is a literal
 * '$'.  When words is set, s is also split into words with shell-like
 * quoting: blanks separate, '...' is literal (no substitution), "..."
 * keeps blanks, and a backslash outside single quotes keeps the next
 * byte.  Without words the text is substituted only (quotes and other
 * backslashes stay).  0 with *out (substituted text) or *words and *n
 * (NULL-terminated; freewords); -1 for an unterminated ${ or quote. */
int df_subst(const char *s, df_lookup get, void *arg, char **out);
int df_words(const char *s, df_lookup get, void *arg, char ***words,
    int *n);

/* The JSON array form of RUN, COPY and ADD (["a", "b"]): 1 with
 * *words and *n (freewords) when s is such an array of strings, else 0:
 * shell form, as Docker takes anything that is not valid JSON (so
 * `RUN [ -f x ]` is a shell command). */
int df_json_words(const char *s, char ***words, int *n);

/* ---- .dockerignore ---- */

struct ignore {
	char **pat;             /* cleaned patterns, no leading '/' */
	unsigned char *neg;     /* 1: a "!" line */
	unsigned char *dir;     /* 1: pattern ended in '/' */
	size_t n;
	int hasneg;             /* some line starts with '!' */
};

/* Read .dockerignore text: one pattern per line, '#' lines and blank
 * lines skipped, surrounding blanks trimmed, a leading '/' and "./"
 * dropped. */
void ignore_parse(const char *text, size_t len, struct ignore *ig);
void ignore_free(struct ignore *ig);
/* 1 if the context-relative path rel ("a/b.txt") is ignored: the last
 * pattern matching rel or one of its parent directories decides; a
 * pattern with a trailing '/' matches directories only (isdir: rel is
 * one). */
int ignore_match(const struct ignore *ig, const char *rel, int isdir);
/* 1 if ignored directory rel may still hold a re-included path, so it
 * must be walked; 0 if it can be pruned. */
int ignore_descend(const struct ignore *ig, const char *rel);

/* Glob of one path: '*' and '?' never match '/', "[...]" a class
 * ('!' or '^' negates, ranges), a "**" component any number of
 * components, '\' quotes the next byte.  1 if s matches. */
int glob_path(const char *pat, const char *s);
/* 1 if s holds a glob character ('*', '?', '['). */
int has_glob(const char *s);

/* ---- the context boundary ---- */

/* Normalise a source path relative to the context ("./a/../b" -> "b",
 * "." or "/" -> ""); a leading '/' counts from the context.  NULL (slot
 * set) if it climbs out with "..".  Caller frees. */
char *ctx_clean(const char *src);
/* 1 if the resolved absolute path p is root or below it: "/ctx/a" is
 * inside "/ctx", "/ctx2/a" is not. */
int path_inside(const char *root, const char *p);

/* ---- the layer key chain ---- */

/* Append one field of a layer description: name, length, value, so no
 * two different descriptions give the same bytes. */
void key_field(struct buf *b, const char *name, const char *value);
/* The key of a layer: SHA-256 over the parent's key ("" for none) and
 * the description, as 64 hex digits. */
void key_chain(const char *parent, const struct buf *desc, char out[65]);

#endif
