/*
 * filter: Matrix event filters (client-server-api "Filtering"; schemas in
 * data/api/client-server/definitions/{sync_filter,room_event_filter,
 * event_filter}.yaml), parsed once and then matched against events.
 *
 * Two shapes:
 * - struct sync_filter: the whole Filter of POST /user/{userId}/filter and
 *   GET /sync ?filter= (inline JSON or a stored filter ID).
 * - struct event_filter_part: one EventFilter or RoomEventFilter. A
 *   sync_filter holds six (timeline, state, ephemeral, room account_data,
 *   global account_data, presence); /messages and /context take one
 *   RoomEventFilter on its own (filter_room_event_parse).
 *
 * Validation follows the spec schema, key by key. A key of the wrong JSON
 * type is FILTER_ERR_BAD_JSON (M_BAD_JSON); a value of the right type that is
 * not acceptable (an event_format outside the enum, a sender that is not a
 * user ID, a room that does not start with '!', a list over FILTER_LIST_MAX
 * entries, a string over its length bound) is FILTER_ERR_INVALID_PARAM
 * (M_INVALID_PARAM). The message names the key path, e.g.
 * "room.timeline.not_senders[2]: not a user ID". Unknown keys are ignored, as
 * the schema allows additional properties (forward compatibility).
 *
 * `limit` (event_filter.yaml: "must be an integer greater than 0. Servers
 * should apply a default value, and impose a maximum value"): it must be a
 * JSON integer (a real is M_BAD_JSON; Synapse's schema accepts any number).
 * Out-of-range values are clamped, not refused, like Synapse does for the
 * upper bound: below 0 -> 0 (an empty timeline, which some clients ask for
 * with 0 on purpose), above FILTER_LIMIT_MAX -> FILTER_LIMIT_MAX. The spec
 * gives no default; we use 10, Synapse's. The /sync timeline limit is also
 * capped at FILTER_TIMELINE_LIMIT_MAX = 100, Synapse's default for its
 * `filter_timeline_limit` setting (it rewrites room.timeline.limit to
 * min(limit, 100)).
 *
 * Matching, per the schema's descriptions: an absent list allows everything;
 * a present list (even empty) allows only what it names; a `not_` list wins
 * over its positive list. `types`/`not_types` entries may hold '*' matching
 * any sequence of characters anywhere (the spec's wording; Synapse only
 * honours a trailing '*', so "m.*" behaves the same in both). Senders and
 * rooms are compared exactly. `contains_url`: true keeps only events whose
 * content.url is a string, false drops them.
 *
 * Where an event lacks a field: no string "type" or "room_id" never matches
 * a positive list and is never excluded by a `not_` list. The sender is
 * "sender", or else content.user_id (as Synapse, for EDU-shaped input).
 *
 * Memory: parse functions return an owned object (free with filter_free /
 * filter_part_free) that keeps no reference to the JSON. Accessors return
 * pointers into the filter, valid until it is freed.
 * Threads: a parsed filter is immutable, so any number of threads may match
 * with it at once. A NULL filter or part means "no filter": everything
 * allowed, defaults everywhere.
 */
#ifndef CHAPPE_SYNC_FILTER_H
#define CHAPPE_SYNC_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define FILTER_LIST_MAX           1000  /* entries per list (types, rooms, event_fields...) */
#define FILTER_ENTRY_MAX_LEN      255   /* bytes per type, user ID, room ID: the spec's bound on IDs and types */
#define FILTER_FIELD_MAX_LEN      1024  /* bytes per event_fields path */
#define FILTER_FIELD_MAX_SEGS     64    /* dot-separated segments per event_fields path */
#define FILTER_LIMIT_DEFAULT      10    /* Synapse's default */
#define FILTER_LIMIT_MAX          1000
#define FILTER_TIMELINE_LIMIT_MAX 100   /* Synapse's filter_timeline_limit default */
#define FILTER_TEXT_MAX_LEN       65536 /* an inline ?filter= JSON, bytes */
#define FILTER_TEXT_MAX_DEPTH     16    /* its nesting; a valid filter needs 4 */

enum filter_error {
    FILTER_OK = 0,
    FILTER_ERR_NOT_JSON,      /* inline text is not JSON: M_NOT_JSON */
    FILTER_ERR_BAD_JSON,      /* a key has the wrong JSON type: M_BAD_JSON */
    FILTER_ERR_INVALID_PARAM, /* a value is not acceptable: M_INVALID_PARAM */
    FILTER_ERR_OOM            /* allocation failed: 500 M_UNKNOWN */
};

enum filter_part_kind {
    FILTER_PART_TIMELINE = 0,      /* room.timeline (RoomEventFilter) */
    FILTER_PART_STATE,             /* room.state (RoomEventFilter) */
    FILTER_PART_EPHEMERAL,         /* room.ephemeral (RoomEventFilter) */
    FILTER_PART_ROOM_ACCOUNT_DATA, /* room.account_data (RoomEventFilter) */
    FILTER_PART_ACCOUNT_DATA,      /* account_data (EventFilter) */
    FILTER_PART_PRESENCE,          /* presence (EventFilter) */
    FILTER_PART_COUNT
};

enum filter_event_format { FILTER_FORMAT_CLIENT = 0, FILTER_FORMAT_FEDERATION };

/* How filter_parse_text read its input. */
enum filter_text_kind { FILTER_TEXT_ERROR = -1, FILTER_TEXT_INLINE, FILTER_TEXT_ID };

struct sync_filter;
struct event_filter_part;

/* ---- parsing ----------------------------------------------------------- */

/* Validate a Filter object (sync_filter.yaml). Returns an owned filter, or
 * NULL with a message naming the key in err (err may be NULL). */
struct sync_filter *filter_parse(const json_t *filter_json, char *err, size_t err_len);
/* The same, also saying which error (see enum filter_error); code may be NULL. */
struct sync_filter *filter_parse_ex(const json_t *filter_json, enum filter_error *code,
                                    char *err, size_t err_len);
void filter_free(struct sync_filter *f);

/* The /sync `filter` query parameter (sync.yaml: "The server will detect
 * whether it is an ID or a JSON object by whether the first character is a
 * "{" open brace"). Inline JSON is parsed and validated: FILTER_TEXT_INLINE
 * with *out set. Anything else must be a filter ID ([A-Za-z0-9._~-]{1,255}):
 * FILTER_TEXT_ID with *out NULL, and the caller loads the stored JSON for
 * that ID and calls filter_parse. FILTER_TEXT_ERROR: *code and err say why. */
enum filter_text_kind filter_parse_text(const char *text, struct sync_filter **out,
                                        enum filter_error *code, char *err, size_t err_len);

/* A RoomEventFilter on its own (/messages, /context `filter`, which the spec
 * defines as JSON only, no filter IDs). */
struct event_filter_part *filter_room_event_parse(const json_t *json, enum filter_error *code,
                                                  char *err, size_t err_len);
/* Same from the query text; returns FILTER_OK and sets *out, or an error. */
enum filter_error filter_room_event_parse_text(const char *text, struct event_filter_part **out,
                                               char *err, size_t err_len);
void filter_part_free(struct event_filter_part *p);

/* M_NOT_JSON, M_BAD_JSON, M_INVALID_PARAM, or M_UNKNOWN (OOM, FILTER_OK). */
const char *filter_error_errcode(enum filter_error code);

/* ---- matching ---------------------------------------------------------- */

/* room.rooms / room.not_rooms: whether the room appears at all. The spec
 * applies this "before the filters in ephemeral, state, timeline or
 * account_data", so callers check it first and the part filters below do
 * not repeat it. */
bool filter_room_allowed(const struct sync_filter *f, const char *room_id);

/* One part of a filter (never NULL: an absent part is the allow-all part). */
const struct event_filter_part *filter_part(const struct sync_filter *f,
                                            enum filter_part_kind kind);

/* Whether an event passes one part: types/not_types, senders/not_senders,
 * rooms/not_rooms (room from the event's "room_id"), contains_url. */
bool filter_event_allowed(const struct event_filter_part *p, const json_t *event);
/* The same for events that do not carry their room (ephemeral events,
 * room account data, events formatted without room_id): room_id is used in
 * place of the event's; NULL means "no room". */
bool filter_event_allowed_in_room(const struct event_filter_part *p, const json_t *event,
                                  const char *room_id);
/* True when no event can pass (types is [], not_types holds "*", senders or
 * rooms is []): the caller may skip loading that data at all. */
bool filter_part_blocks_all(const struct event_filter_part *p);

/* ---- accessors --------------------------------------------------------- */

/* The part's limit, clamped, or FILTER_LIMIT_DEFAULT if absent. */
int filter_part_limit(const struct event_filter_part *p);
bool filter_part_lazy_load_members(const struct event_filter_part *p);
/* False unless lazy_load_members is also true (room_event_filter.yaml:
 * include_redundant_members "Does not apply unless lazy_load_members is
 * true"). */
bool filter_part_include_redundant_members(const struct event_filter_part *p);

/* room.timeline.limit, at most FILTER_TIMELINE_LIMIT_MAX. */
int filter_timeline_limit(const struct sync_filter *f);
/* Lazy loading for /sync is read from room.state, as Synapse (and the
 * clients written against it: matrix-js-sdk, matrix-rust-sdk) do: it shapes
 * the state block, the timeline is untouched. */
bool filter_lazy_load_members(const struct sync_filter *f);
bool filter_include_redundant_members(const struct sync_filter *f);
/* room.timeline.unread_thread_notifications (room_event_filter.yaml). */
bool filter_unread_thread_notifications(const struct sync_filter *f);
bool filter_include_leave(const struct sync_filter *f);
enum filter_event_format filter_event_format(const struct sync_filter *f);

/* ---- event_fields ------------------------------------------------------ */

/* Whether event_fields restricts events. An absent or EMPTY list does not:
 * "If this list is absent then all fields are included" and Synapse treats
 * [] the same, as an empty event would be of no use to anyone. */
bool filter_has_event_fields(const struct sync_filter *f);
/* A new object holding only the event_fields paths of event (appendices
 * "Dot-separated property paths": '.' separates, "\." is a literal dot,
 * "\\" a literal backslash, any other "\x" stays as is). Paths that do not
 * exist, or cross a non-object, are skipped. Without event_fields the result
 * is a deep copy. NULL on OOM or if event is not an object. The caller
 * json_decref()s the result; event is not modified. */
json_t *filter_apply_event_fields(const json_t *event, const struct sync_filter *f);

#endif
