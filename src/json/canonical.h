/*
 * canonical: parse untrusted JSON text and encode JSON values as Matrix
 * canonical JSON (appendices, "Signing JSON" > "Canonical JSON").
 *
 * Values are jansson json_t. Contract:
 * - cjson_parse returns a new reference the caller owns (json_decref), or NULL
 *   with *status saying why. It never keeps a pointer to the text.
 * - cjson_encode returns malloc'd text the caller frees. It never modifies
 *   the value. A value it refuses (reals, integers outside the spec's range,
 *   strings or keys that are not valid UTF-8, nesting deeper than
 *   CJSON_MAX_DEPTH or a reference cycle) gives NULL, the same as OOM:
 *   callers that need to tell the two apart call cjson_check first.
 * - All functions are re-entrant and safe from any thread, as long as two
 *   threads do not modify the same json_t at once (jansson's own rule).
 */
#ifndef CHAPPE_JSON_CANONICAL_H
#define CHAPPE_JSON_CANONICAL_H

#include <stddef.h>
#include <jansson.h>

/* The spec's integer range: [-(2**53)+1, (2**53)-1]. */
#define CJSON_INT_MAX ((json_int_t)9007199254740991LL)
#define CJSON_INT_MIN (-CJSON_INT_MAX)

/* Deepest nesting cjson_encode/cjson_check accept. A bound is needed because
 * the encoder recurses and jansson does not prevent reference cycles; it is
 * far above what any Matrix object uses, and cjson_parse callers usually pass
 * a much smaller max_depth. */
#define CJSON_MAX_DEPTH 512

enum cjson_status { CJSON_OK = 0, CJSON_NOT_JSON, CJSON_BAD_JSON, CJSON_TOO_DEEP, CJSON_OOM };

/* Parse untrusted JSON text. Rejects invalid UTF-8, NaN/Infinity, duplicate object keys, NUL in
 * strings (all CJSON_NOT_JSON); nesting deeper than max_depth -> CJSON_TOO_DEEP. The top level
 * may be any value (callers check the type). On error *status says why and, if errbuf is not NULL,
 * a short human message is written there. Returns a new reference or NULL.
 *
 * Details: nesting depth counts containers ("[]" is depth 1, a scalar is 0);
 * max_depth is capped at CJSON_MAX_DEPTH so that whatever parses can also be
 * encoded. Syntactically valid numbers that cannot be held (an integer beyond
 * 64 bits, a real beyond double range) give CJSON_BAD_JSON: the text is JSON,
 * the value is not acceptable (M_BAD_JSON rather than M_NOT_JSON). Reals are
 * kept as reals: cjson_check then refuses them, as Synapse refuses floats in
 * events. status may be NULL.
 * Known limit: jansson 2.14 reports a few allocation failures inside the
 * parser as syntax errors, so under memory pressure valid text may rarely
 * come back CJSON_NOT_JSON instead of CJSON_OOM. */
json_t *cjson_parse(const char *text, size_t len, int max_depth, enum cjson_status *status,
                    char *errbuf, size_t errbuf_len);

/* Encode as Matrix canonical JSON (appendices "Canonical JSON"): keys sorted by code point,
 * no insignificant whitespace, UTF-8 (no \u escapes except those required), integers only.
 * Returns malloc'd text (length in *out_len if not NULL), or NULL if the value holds a real
 * (float) or an integer outside [-(2^53)+1, 2^53-1], or on OOM. The text is NUL-terminated;
 * it holds no NUL byte itself (U+0000 is written as \u0000). */
char *cjson_encode(const json_t *value, size_t *out_len);

/* 0 if value can be encoded canonically (see above), -1 otherwise. Allocates nothing. */
int cjson_check(const json_t *value);

/* Replace, in place and recursively, every real that is an exact integer in
 * the spec's range by that integer (1e10 -> 10000000000, -0.0 -> 0). This is
 * what the spec's last canonical JSON example expects of an implementation
 * that reads "1e10" as a number; it is NOT applied by cjson_parse because
 * Synapse refuses such values in events, so only callers that explicitly want
 * lenient numbers use it. Only members of containers are replaced: jansson
 * cannot change the type of a value in place, so a top-level real stays.
 * Returns 0, or -1 on OOM or nesting beyond CJSON_MAX_DEPTH (the value may
 * then be partly converted). */
int cjson_integralize(json_t *value);

const char *cjson_status_str(enum cjson_status status);

#endif
