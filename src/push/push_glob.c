/*
 * push_glob: glob matching and dotted property paths, see push_internal.h.
 *
 * Why not backtracking: a pattern like "*a*a*a*...b" makes a naive
 * recursive matcher exponential. The pattern is split at '*' into
 * segments S0 * S1 * ... * Sk. S0 is anchored at the start, and each
 * middle segment is taken at its leftmost occurrence: what remains after
 * the leftmost occurrence is a superset of what remains after any later
 * one (a '*' can absorb the gap), so greed never loses a match. Only the
 * last segment has to be tried at every position, to find an end that is
 * allowed. Cost is O(len(text) * len(segment)) per segment in the worst
 * case, and every step is charged to the caller's budget.
 *
 * The same argument gives word mode its start: if a match starts at a
 * word boundary s2, then one starting at the first boundary s1 <= s2
 * where S0 matches exists too (when k > 0), so only the first is tried.
 */
#include "push/push_internal.h"

#include <stdint.h>
#include <string.h>

struct glob_text {
    const unsigned char *s;
    size_t n;
    size_t *budget;
};

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* Length of the UTF-8 sequence at s[i]; 1 for a malformed one, so that
 * every byte is visited and nothing is read past n. */
static size_t utf8_len(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : c >= 0xF0 && c <= 0xF7 ? 4 :
                 c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

    if (len > n - i)
        return 1;
    for (size_t j = 1; j < len; j++)
        if ((s[i + j] & 0xC0) != 0x80)
            return 1;
    return len;
}

/* The code point at s[i] and its length; a malformed byte b decodes to
 * 0xDC00 + b, which no well-formed sequence yields, so it only ever
 * equals itself. */
static uint32_t utf8_decode(const unsigned char *s, size_t n, size_t i, size_t *len)
{
    static const unsigned char lead_mask[5] = { 0, 0x7F, 0x1F, 0x0F, 0x07 };
    uint32_t cp;

    *len = utf8_len(s, n, i);
    if (*len == 1)
        return s[i] < 0x80 ? s[i] : 0xDC00u + s[i];
    cp = s[i] & lead_mask[*len];
    for (size_t j = 1; j < *len; j++)
        cp = (cp << 6) | (s[i + j] & 0x3F);
    return cp;
}

/* "The exact meaning of case insensitive is defined by the implementation
 * of the homeserver": simple case folding of the Latin, Greek and
 * Cyrillic letters (names like "Zoë" or "Борис" fold too), a table small
 * enough to read, not the whole of Unicode. */
static uint32_t fold(uint32_t c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
        (c >= 0x391 && c <= 0x3AB && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    /* Latin Extended-A pairs upper/lower case as even/odd, except
     * U+0139..U+0148 and U+0179..U+017E which pair odd/even; the Turkish
     * dotted and dotless i (U+0130, U+0131) are left alone. */
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) ||
        (c >= 0x14A && c <= 0x177))
        return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return (c & 1) ? c + 1 : c;
    if (c == 0x178)
        return 0xFF;
    return c;
}

static bool charge(struct glob_text *t, size_t cost)
{
    if (*t->budget < cost) {
        *t->budget = 0;
        return false;
    }
    *t->budget -= cost;
    return true;
}

static bool start_ok(const struct glob_text *t, enum push_glob_mode mode, size_t p)
{
    if (mode == PUSH_GLOB_WHOLE)
        return p == 0;
    return p == 0 || !is_word_byte(t->s[p - 1]);
}

static bool end_ok(const struct glob_text *t, enum push_glob_mode mode, size_t p)
{
    if (mode == PUSH_GLOB_WHOLE)
        return p == t->n;
    return p == t->n || !is_word_byte(t->s[p]);
}

/* Does segment seg[0..len) (no '*') match at text position p? On a match
 * *end is the position after it. -1 when the budget ran out. */
static int seg_match_at(struct glob_text *t, const unsigned char *seg, size_t len,
                        bool literal, size_t p, size_t *end)
{
    size_t i = 0, plen, tlen;

    while (i < len) {
        if (!charge(t, 1))
            return -1;
        if (p >= t->n)
            return 0;
        if (seg[i] == '?' && !literal) {
            p += utf8_len(t->s, t->n, p);
            i++;
            continue;
        }
        if (seg[i] < 0x80 && t->s[p] < 0x80) {
            /* The common case, without decoding. */
            plen = tlen = 1;
            if (fold(seg[i]) != fold(t->s[p]))
                return 0;
        } else if (fold(utf8_decode(seg, len, i, &plen)) !=
                   fold(utf8_decode(t->s, t->n, p, &tlen))) {
            return 0;
        }
        i += plen;
        p += tlen;
    }
    *end = p;
    return 1;
}

/* Leftmost position p >= from (on a character start) where the segment
 * matches, with start_ok when want_start and end_ok when want_end. */
static int seg_find(struct glob_text *t, const unsigned char *seg, size_t len,
                    bool literal, enum push_glob_mode mode, size_t from,
                    bool want_start, bool want_end, size_t *end)
{
    for (size_t p = from; p <= t->n; p += p < t->n ? utf8_len(t->s, t->n, p) : 1) {
        size_t e;
        int rc;

        if (!charge(t, 1))
            return -1;
        if (want_start && !start_ok(t, mode, p))
            continue;
        rc = seg_match_at(t, seg, len, literal, p, &e);
        if (rc < 0)
            return -1;
        if (rc == 1 && (!want_end || end_ok(t, mode, e))) {
            *end = e;
            return 1;
        }
    }
    return 0;
}

static size_t seg_len(const unsigned char *pat, size_t plen, size_t from, bool literal)
{
    size_t i = from;

    while (i < plen && (literal || pat[i] != '*'))
        i++;
    return i - from;
}

enum push_glob_result push_glob_match(const char *pattern, size_t plen,
                                      const char *text, size_t tlen,
                                      enum push_glob_mode mode, bool literal,
                                      size_t *budget)
{
    const unsigned char *pat = (const unsigned char *)pattern;
    struct glob_text t = { (const unsigned char *)text, tlen, budget };
    size_t i, len, q;
    int rc;

    if (pattern == NULL || text == NULL || budget == NULL || plen > PUSH_MAX_PATTERN_LEN)
        return PUSH_GLOB_GAVE_UP;
    len = seg_len(pat, plen, 0, literal);
    if (len == plen) {
        /* No '*': the single segment must start and end where allowed. */
        rc = mode == PUSH_GLOB_WHOLE
            ? seg_match_at(&t, pat, len, literal, 0, &q)
            : seg_find(&t, pat, len, literal, mode, 0, true, true, &q);
        if (rc == 1 && !end_ok(&t, mode, q))
            rc = 0;
        return rc < 0 ? PUSH_GLOB_GAVE_UP : rc ? PUSH_GLOB_YES : PUSH_GLOB_NO;
    }
    rc = mode == PUSH_GLOB_WHOLE
        ? seg_match_at(&t, pat, len, literal, 0, &q)
        : seg_find(&t, pat, len, literal, mode, 0, true, false, &q);
    i = len;
    while (rc == 1) {
        size_t next;

        while (i < plen && pat[i] == '*')
            i++;
        len = seg_len(pat, plen, i, literal);
        next = i + len;
        /* The last segment must end where an end is allowed. */
        rc = seg_find(&t, pat + i, len, literal, mode, q, false, next == plen, &q);
        if (next == plen)
            break;
        i = next;
    }
    return rc < 0 ? PUSH_GLOB_GAVE_UP : rc ? PUSH_GLOB_YES : PUSH_GLOB_NO;
}

const json_t *push_path_lookup(const json_t *event, const char *key)
{
    char name[PUSH_MAX_KEY_LEN + 1];
    const json_t *cur = event;
    size_t n = 0;

    if (event == NULL || key == NULL || strlen(key) > PUSH_MAX_KEY_LEN)
        return NULL;
    for (const char *c = key;; c++) {
        if (*c == '\\' && (c[1] == '.' || c[1] == '\\')) {
            name[n++] = *++c;
            continue;
        }
        if (*c != '.' && *c != '\0') {
            name[n++] = *c;
            continue;
        }
        name[n] = '\0';
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_get(cur, name);
        if (cur == NULL || *c == '\0')
            return cur;
        n = 0;
    }
}

bool push_value_is_canonical_scalar(const json_t *v)
{
    const json_int_t limit = ((json_int_t)1 << 53) - 1;

    if (json_is_integer(v))
        return json_integer_value(v) >= -limit && json_integer_value(v) <= limit;
    return json_is_string(v) || json_is_boolean(v) || json_is_null(v);
}
