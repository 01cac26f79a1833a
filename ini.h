/* ini.h - the INI dialect of auth.ini and cli.ini (Python configparser
 * compatible subset): sections, key = value or key: value, # and ;
 * comment lines, case-insensitive keys, continuation lines by
 * indentation, [DEFAULT] values visible in every section, %(key)s
 * interpolation and %% for a literal %. */
#ifndef INI_H
#define INI_H

struct ini;

/* Load path.  A missing file gives an empty ini and *missing = 1 (if
 * missing != NULL).  A malformed file: NULL with the error slot set to
 * "<path>:<line>: <what>". */
struct ini *ini_load(const char *path, int *missing);
struct ini *ini_new(void);
void ini_free(struct ini *ini);

/* Value of key in section after [DEFAULT] fallback and interpolation;
 * NULL if absent.  Storage belongs to ini until the next call. */
const char *ini_get(struct ini *ini, const char *sect, const char *key);
/* Raw value (no interpolation, no DEFAULT fallback) or NULL. */
const char *ini_raw(struct ini *ini, const char *sect, const char *key);
int ini_has(struct ini *ini, const char *sect);
/* Section names in file order (excluding DEFAULT); i from 0; NULL at end. */
const char *ini_section(struct ini *ini, int i);

/* Edits: the value is stored literally (ini_save escapes % as %%). */
void ini_set(struct ini *ini, const char *sect, const char *key,
    const char *val);
void ini_unset(struct ini *ini, const char *sect, const char *key);
void ini_del(struct ini *ini, const char *sect);

/* Write the whole file atomically with mode 0600: [DEFAULT] first, then
 * each section in order, keys in insertion order, a blank line after
 * each section.  0 or -1 (error slot set). */
int ini_save(struct ini *ini, const char *path);

#endif
