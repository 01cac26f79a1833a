/* complete.h - completion candidates from the command table. */
#ifndef COMPLETE_H
#define COMPLETE_H

struct buf;
struct ctx;

/* Candidates for the last word of words[0..n) (words[0] is the program
 * name; the last word may be empty), one per line, sorted, unique, each
 * starting with that word.  Values by kind come from c: the session
 * store (branches, sessions, environment keys), auth.ini (profiles) and
 * the API (image tags and UUIDs cached 60 s, operations 5 s, sandbox
 * paths 30 s); local paths from the directory.  A source that fails
 * adds nothing; nothing at all means: complete file names. */
void complete_words(struct ctx *c, char **words, int n, struct buf *out);

/* Paths of the session's image that start with word (relative to the
 * session's working directory unless absolute), directories ending in
 * '/', one per line into out.  Listings are cached for 30 s. */
void complete_sandbox_path(struct ctx *c, const char *word, struct buf *out);

#endif
