/*
 * token: the text form of /sync and /messages positions.
 *
 * A sync token ("since", "next_batch", "prev_batch") carries one position per
 * stream the server pushes to clients. The spec leaves tokens opaque
 * (client-server-api sync.yaml: "since ... should be the next_batch token
 * returned by an earlier call"); ours read
 *
 *     "s" events "_" account_data "_" receipts "_" presence "_" typing
 *         "_" to_device "_" device_lists          e.g. "s120_4_9_0_17_0_3"
 *
 * each a decimal uint64 without sign or leading zeros. Trailing fields may be
 * missing (they read as 0) so that a token issued before a stream existed
 * stays valid when a stream is appended at the end; a token with MORE fields
 * than this build knows is refused rather than silently truncated, because
 * honouring it half would skip or repeat data.
 *
 * A pagination token for /messages and /context ("start", "end", "from",
 * "to") is "p" followed by one events-stream position. Clients also pass a
 * sync token there (a room's timeline prev_batch), so page_token_parse_any()
 * accepts both and returns the events-stream position.
 *
 * Contract: pure functions, no globals, thread-safe. Inputs are hostile:
 * parsers bound the length (SYNC_TOKEN_MAX_LEN), refuse signs, spaces,
 * empty fields, leading zeros, overflow, and never read past the NUL.
 * Formatters return malloc'd text the caller free()s, or NULL on allocation
 * failure or when the text would exceed SYNC_TOKEN_MAX_LEN (the parser would
 * refuse it, so it must never be handed out).
 */
#ifndef CHAPPE_SYNC_TOKEN_H
#define CHAPPE_SYNC_TOKEN_H

#include <stdint.h>

/* Longest token text accepted or produced, in bytes without the NUL. */
#define SYNC_TOKEN_MAX_LEN 64

/* Streams in token order. Append new streams at the end only. */
enum sync_stream {
    SYNC_STREAM_EVENTS = 0,
    SYNC_STREAM_ACCOUNT_DATA,
    SYNC_STREAM_RECEIPTS,
    SYNC_STREAM_PRESENCE,
    SYNC_STREAM_TYPING,
    SYNC_STREAM_TO_DEVICE,
    SYNC_STREAM_DEVICE_LISTS,
    SYNC_STREAM_COUNT
};

struct sync_token {
    uint64_t events;
    uint64_t account_data;
    uint64_t receipts;
    uint64_t presence;
    uint64_t typing;
    uint64_t to_device;
    uint64_t device_lists;
};

struct page_token {
    uint64_t stream; /* events-stream position */
};

/* Parse a sync token. Returns 0 and fills *out (missing fields 0), or -1 on
 * any malformed input, leaving *out zeroed. */
int sync_token_parse(const char *s, struct sync_token *out);
char *sync_token_format(const struct sync_token *t);

/* Position of one stream, by index (for loops over all streams). */
uint64_t sync_token_get(const struct sync_token *t, enum sync_stream which);
void sync_token_set(struct sync_token *t, enum sync_stream which, uint64_t pos);

/* "p<stream>". Returns 0 or -1 (then *out is zeroed). */
int page_token_parse(const char *s, struct page_token *out);
char *page_token_format(const struct page_token *t);

/* A /messages "from"/"to": either a page token or a sync token; *stream gets
 * the events-stream position. Returns 0 or -1 (then *stream is 0). */
int page_token_parse_any(const char *s, uint64_t *stream);

#endif
