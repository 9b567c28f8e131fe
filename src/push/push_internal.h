/*
 * push_internal: what the push_*.c files share and the unit tests probe.
 * Not for other layers: they use push_rules.h.
 *
 * Contract: pure, thread-safe. Borrowed inputs are never modified; json_t *
 * results are new references (NULL on failure) unless said "borrowed".
 */
#ifndef CHAPPE_PUSH_PUSH_INTERNAL_H
#define CHAPPE_PUSH_PUSH_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "push/push_rules.h"

/* Glob work (character comparisons and positions tried) allowed for one
 * glob: about a millisecond. A match on sane input costs about the
 * length of the text; only a pattern that overlaps itself over a text
 * built against it costs more, and then gives up (does not match). */
#define PUSH_GLOB_BUDGET ((size_t)1 << 20)
/* Glob work allowed for one push_evaluate call, over all its rules. A
 * normal ruleset on the largest event stays far below; only a ruleset of
 * many expensive rules reaches it, and then the rest of its globs stop
 * matching: the owner of those rules loses notifications, the server
 * loses no more than this. */
#define PUSH_EVAL_BUDGET ((size_t)32 << 20)

enum push_glob_result {
    PUSH_GLOB_GAVE_UP = -1,  /* budget exhausted or pattern too long */
    PUSH_GLOB_NO = 0,
    PUSH_GLOB_YES = 1,
};

enum push_glob_mode {
    /* The pattern must match the entire value ("event_match"). */
    PUSH_GLOB_WHOLE,
    /* The pattern must match a substring that starts and ends at a word
     * boundary: start/end of the value, or a byte not in [A-Za-z0-9_]
     * ("content.body" special case, content rules). */
    PUSH_GLOB_WORDS,
};

/* Glob match ("Glob-style matching": '*' zero or more characters, '?'
 * exactly one character, a UTF-8 sequence counting as one), case-
 * insensitive for Latin, Greek and Cyrillic letters. literal: '*' and '?' are ordinary characters (display
 * names). *budget is decremented by the work done. */
enum push_glob_result push_glob_match(const char *pattern, size_t plen,
                                      const char *text, size_t tlen,
                                      enum push_glob_mode mode, bool literal,
                                      size_t *budget);

/* The value at a dot-separated property path ("Dot-separated property
 * paths": "\." is a dot and "\\" a backslash inside a name, other escapes
 * are literal). Borrowed from event; NULL if absent, if the path crosses a
 * non-object, or if key exceeds PUSH_MAX_KEY_LEN. */
const json_t *push_path_lookup(const json_t *event, const char *key);

/* A non-compound canonical JSON value: string, integer in
 * [-(2**53)+1, (2**53)-1], true, false, null. */
bool push_value_is_canonical_scalar(const json_t *v);

/* Validation shared by editing and loading. why receives a static reason. */
json_t *push_actions_sanitize(const json_t *actions, const char **why);
json_t *push_conditions_copy(const json_t *conditions, const char **why);
bool push_rule_id_valid(enum push_kind kind, const char *rule_id, const char **why);
bool push_pattern_valid(const json_t *pattern);

enum push_cmp { PUSH_CMP_EQ, PUSH_CMP_LT, PUSH_CMP_GT, PUSH_CMP_LE, PUSH_CMP_GE };
/* room_member_count's "is"; false if malformed (at most 15 digits). */
bool push_member_count_parse(const char *is, enum push_cmp *cmp, int64_t *count);

/* Whether rule_id names a server-default rule of kind. */
bool push_default_exists(enum push_kind kind, const char *rule_id);

/* Fill err (may be NULL) and return status. */
enum push_status push_error_set(struct push_error *err, enum push_status status,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
