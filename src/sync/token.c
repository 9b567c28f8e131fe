/* token: sync and pagination tokens. Contract in token.h. */
#include "sync/token.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of s, or SYNC_TOKEN_MAX_LEN + 1 if longer: never scans a hostile
 * string further than the bound. */
static size_t token_len_bounded(const char *s)
{
    const char *nul = memchr(s, '\0', SYNC_TOKEN_MAX_LEN + 1);

    return nul != NULL ? (size_t)(nul - s) : SYNC_TOKEN_MAX_LEN + 1;
}

/* Read one decimal field starting at *p, stopping at '_' or NUL. Canonical
 * form only ("0" or [1-9][0-9]*) so that each position has one spelling and
 * tokens compare as text when they compare as positions. Advances *p to the
 * terminator. */
static int token_field_parse(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (*s < '0' || *s > '9')
        return -1; /* empty field, sign, space or garbage */
    if (*s == '0' && s[1] >= '0' && s[1] <= '9')
        return -1; /* leading zero */
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (*s != '_' && *s != '\0')
        return -1;
    *out = v;
    *p = s;
    return 0;
}

uint64_t sync_token_get(const struct sync_token *t, enum sync_stream which)
{
    switch (which) {
    case SYNC_STREAM_EVENTS:       return t->events;
    case SYNC_STREAM_ACCOUNT_DATA: return t->account_data;
    case SYNC_STREAM_RECEIPTS:     return t->receipts;
    case SYNC_STREAM_PRESENCE:     return t->presence;
    case SYNC_STREAM_TYPING:       return t->typing;
    case SYNC_STREAM_TO_DEVICE:    return t->to_device;
    case SYNC_STREAM_DEVICE_LISTS: return t->device_lists;
    case SYNC_STREAM_COUNT:        break;
    }
    return 0;
}

void sync_token_set(struct sync_token *t, enum sync_stream which, uint64_t pos)
{
    switch (which) {
    case SYNC_STREAM_EVENTS:       t->events = pos; break;
    case SYNC_STREAM_ACCOUNT_DATA: t->account_data = pos; break;
    case SYNC_STREAM_RECEIPTS:     t->receipts = pos; break;
    case SYNC_STREAM_PRESENCE:     t->presence = pos; break;
    case SYNC_STREAM_TYPING:       t->typing = pos; break;
    case SYNC_STREAM_TO_DEVICE:    t->to_device = pos; break;
    case SYNC_STREAM_DEVICE_LISTS: t->device_lists = pos; break;
    case SYNC_STREAM_COUNT:        break;
    }
}

int sync_token_parse(const char *s, struct sync_token *out)
{
    struct sync_token t = { 0 };
    const char *p;
    int i;

    memset(out, 0, sizeof *out);
    if (s == NULL || token_len_bounded(s) > SYNC_TOKEN_MAX_LEN || s[0] != 's')
        return -1;
    p = s + 1;
    for (i = 0;; i++) {
        uint64_t v;

        if (i == SYNC_STREAM_COUNT)
            return -1; /* more streams than we know: see token.h */
        if (token_field_parse(&p, &v) != 0)
            return -1;
        sync_token_set(&t, (enum sync_stream)i, v);
        if (*p == '\0')
            break;
        p++; /* the '_'; a trailing '_' fails as an empty field */
    }
    *out = t;
    return 0;
}

char *sync_token_format(const struct sync_token *t)
{
    char buf[SYNC_TOKEN_MAX_LEN + 1];
    size_t used = 0;
    int i;

    buf[used++] = 's';
    for (i = 0; i < SYNC_STREAM_COUNT; i++) {
        int n = snprintf(buf + used, sizeof buf - used, "%s%" PRIu64, i == 0 ? "" : "_",
                         sync_token_get(t, (enum sync_stream)i));

        if (n < 0 || (size_t)n >= sizeof buf - used)
            return NULL; /* would exceed SYNC_TOKEN_MAX_LEN */
        used += (size_t)n;
    }
    return strdup(buf);
}

int page_token_parse(const char *s, struct page_token *out)
{
    const char *p;
    uint64_t v;

    out->stream = 0;
    if (s == NULL || token_len_bounded(s) > SYNC_TOKEN_MAX_LEN || s[0] != 'p')
        return -1;
    p = s + 1;
    if (token_field_parse(&p, &v) != 0 || *p != '\0')
        return -1;
    out->stream = v;
    return 0;
}

char *page_token_format(const struct page_token *t)
{
    char buf[32];

    snprintf(buf, sizeof buf, "p%" PRIu64, t->stream);
    return strdup(buf);
}

int page_token_parse_any(const char *s, uint64_t *stream)
{
    struct page_token pt;
    struct sync_token st;

    *stream = 0;
    if (s != NULL && s[0] == 's') {
        if (sync_token_parse(s, &st) != 0)
            return -1;
        *stream = st.events;
        return 0;
    }
    if (page_token_parse(s, &pt) != 0)
        return -1;
    *stream = pt.stream;
    return 0;
}
