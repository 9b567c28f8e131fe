/*
 * store: the storage contract. Everything chappe persists goes through here,
 * in the server's own words; only src/store/ knows SQL.
 *
 * Back ends: store_open() picks one by name ("sqlite" today; "postgres" is
 * meant to slot in behind the same table of operations in store_backend.h).
 * No back-end type (sqlite3 *, PGconn *) appears in this header.
 *
 * Threads: a struct store is shared by every thread. Reads run on a
 * connection owned by the calling thread (opened on first use). Writes are
 * handed to one writer thread that batches concurrent writes into a single
 * transaction (group commit); a write call returns only after its
 * transaction is durable (committed, fsync per the back end's setting), or
 * with an error after it was rolled back: never half-written.
 *
 * Memory: output structs are filled by the store and released by the
 * matching *_clear() function; strings in them are malloc'd and owned by
 * the struct. Input strings are borrowed for the duration of the call.
 *
 * Results: every call returns an enum store_result. STORE_NOT_FOUND and
 * STORE_CONFLICT are normal outcomes the caller maps to API errors;
 * STORE_ERROR means the back end failed (logged by the store).
 */
#ifndef CHAPPE_STORE_H
#define CHAPPE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum store_result {
	STORE_OK = 0,
	STORE_NOT_FOUND = 1,
	STORE_CONFLICT = 2,   /* unique key taken (user exists, device id reused...) */
	STORE_ERROR = -1,
};

#define STORE_TOKEN_HASH_LEN 32   /* SHA-256 of a token; tokens are never stored */

/* Limits the store enforces on what it is given and on what it loads back.
 * A call whose arguments break them (or pass NULL where a value is
 * required, or name an unknown profile field) returns STORE_ERROR without
 * reaching the back end; callers validate client input first and map it to
 * the spec's errors (M_INVALID_PARAM, M_TOO_LARGE...).
 * User IDs: "The length of a user ID, including the @ sigil and the domain,
 * MUST NOT exceed 255 bytes" (spec, Appendices, User Identifiers). The
 * spec sets no maximum for device IDs; 255 bytes is ours. */
#define STORE_USER_ID_MAX       255
#define STORE_DEVICE_ID_MAX     255
#define STORE_PASSWORD_HASH_MAX 1024
#define STORE_IP_MAX            255     /* textual IPv4/IPv6 address */
#define STORE_TEXT_MAX          65536   /* displayname, avatar_url, device name, user agent */

/* Open (creating if needed) the store and apply pending migrations.
 * backend: "sqlite"; location: the database file path. On failure returns
 * STORE_ERROR and writes a one-line reason into err. */
enum store_result store_open(struct store **out, const char *backend,
                             const char *location, char *err, size_t err_len);
/* Wait for queued writes, stop the writer, close every connection.
 * Call it once no other thread is inside a store call (or exiting after
 * having used the store): their read connections are closed here. */
void store_close(struct store *st);
/* Schema version after migrations (for diagnostics and tests). */
int store_schema_version(struct store *st);

/* Counters since store_open (diagnostics, tests): how many write calls
 * reached the writer and how many transactions they were grouped into, and
 * how many per-thread read connections are open right now. */
struct store_stats {
	uint64_t write_jobs;
	uint64_t write_batches;
	uint64_t largest_batch;
	uint64_t readers_open;
};
void store_stats_get(struct store *st, struct store_stats *out);

/* ---- users ---------------------------------------------------------- */

struct store_user {
	char *user_id;          /* "@alice:example.org" */
	char *password_hash;    /* argon2id encoded string, NULL if none */
	char *displayname;      /* NULL if unset */
	char *avatar_url;       /* NULL if unset */
	bool admin;
	bool deactivated;
	bool locked;
	bool suspended;
	int64_t created_ts;     /* ms since epoch */
};
void store_user_clear(struct store_user *u);

/* Create a user; STORE_CONFLICT if the ID is taken (also by a deactivated
 * account: IDs are never reused). displayname may be NULL. */
enum store_result store_user_create(struct store *st, const char *user_id,
                                    const char *password_hash, const char *displayname,
                                    bool admin, int64_t now_ms);
enum store_result store_user_get(struct store *st, const char *user_id, struct store_user *out);
/* STORE_OK if the ID exists (in any state), STORE_NOT_FOUND otherwise. */
enum store_result store_user_exists(struct store *st, const char *user_id);
/* password_hash NULL clears it. STORE_NOT_FOUND for an unknown or a
 * deactivated account (a deactivated account never gets a password back). */
enum store_result store_user_set_password_hash(struct store *st, const char *user_id,
                                               const char *password_hash);
enum store_result store_user_set_admin(struct store *st, const char *user_id, bool admin);
/* Deactivate: mark the account, delete every device and token, clear the
 * password hash, in one transaction. With erase, also clear displayname
 * and avatar_url. */
enum store_result store_user_deactivate(struct store *st, const char *user_id, bool erase);
/* field: "displayname" or "avatar_url"; value NULL clears it. */
enum store_result store_profile_set(struct store *st, const char *user_id,
                                    const char *field, const char *value);

/* Calls fn for each user in user_id order; fn returns non-zero to stop.
 * The struct passed to fn is valid only during the call. */
typedef int (*store_user_fn)(void *ctx, const struct store_user *u);
enum store_result store_user_list(struct store *st, store_user_fn fn, void *ctx);

/* ---- devices -------------------------------------------------------- */

struct store_device {
	char *user_id;
	char *device_id;
	char *display_name;     /* NULL if unset */
	int64_t created_ts;
	int64_t last_seen_ts;   /* 0 if never */
	char *last_seen_ip;     /* NULL if never */
	char *last_seen_user_agent;
};
void store_device_clear(struct store_device *d);

enum store_result store_device_get(struct store *st, const char *user_id,
                                   const char *device_id, struct store_device *out);
typedef int (*store_device_fn)(void *ctx, const struct store_device *d);
/* Devices of one user, by device_id. */
enum store_result store_device_list(struct store *st, const char *user_id,
                                    store_device_fn fn, void *ctx);
/* NULL display_name clears it. STORE_NOT_FOUND if no such device. */
enum store_result store_device_set_display_name(struct store *st, const char *user_id,
                                                const char *device_id, const char *display_name);
/* Record activity; callers throttle (this is a write). */
enum store_result store_device_touch(struct store *st, const char *user_id,
                                     const char *device_id, const char *ip,
                                     const char *user_agent, int64_t now_ms);
/* Delete a device with its access and refresh tokens, atomically. */
enum store_result store_device_delete(struct store *st, const char *user_id,
                                      const char *device_id);
/* Delete every device of a user (with tokens) except keep_device_id
 * (NULL: delete all). Used by logout/all and password change. */
enum store_result store_devices_delete_all(struct store *st, const char *user_id,
                                           const char *keep_device_id);

/* ---- sessions: access and refresh tokens ---------------------------- */

struct store_session_new {
	const char *user_id;
	const char *device_id;
	const char *device_display_name;       /* used only when the device is new */
	unsigned char access_hash[STORE_TOKEN_HASH_LEN];
	int64_t access_expires_ts;             /* 0 = never expires */
	bool with_refresh;
	unsigned char refresh_hash[STORE_TOKEN_HASH_LEN];
	int64_t refresh_expires_ts;            /* 0 = never expires */
	int64_t now_ms;
};
/* Create the device if it does not exist (an existing device of the same
 * user is reused, and its previous tokens are revoked, as the spec says for
 * a login that names an existing device_id), then the access token and
 * optional refresh token, in one transaction.
 * STORE_NOT_FOUND if the user is unknown or deactivated; STORE_CONFLICT if
 * a token hash is already in use (nothing is written). */
enum store_result store_session_create(struct store *st, const struct store_session_new *s);

/* What authenticating a request needs, in one read. */
struct store_token_info {
	char *user_id;
	char *device_id;
	int64_t expires_ts;     /* 0 = never */
	bool admin;
	bool deactivated;
	bool locked;
	bool suspended;
};
void store_token_info_clear(struct store_token_info *t);
/* STORE_NOT_FOUND for an unknown (or revoked) token. Expiry is the
 * caller's to check (expired tokens answer soft_logout); an access token
 * whose refresh token was rotated comes back expired at the rotation's
 * now_ms. The first lookup of a pair issued by store_refresh_rotate is the
 * "use" that revokes the refresh token it came from: that lookup also
 * writes (once per refresh), and fails with STORE_ERROR if the write does. */
enum store_result store_access_token_lookup(struct store *st,
                                            const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                            struct store_token_info *out);

/* Rotate a refresh token: if old_refresh_hash names a valid (not revoked,
 * unexpired) refresh token, atomically issue the new pair on the same
 * device (s->user_id and s->device_id are ignored and filled from the old
 * token into out_user_id / out_device_id, malloc'd), expire the access
 * token issued with the old one, and drop any pair issued from it earlier
 * and never used. As the spec says, "The old refresh token remains valid
 * until the new access token or refresh token is used, at which point the
 * old refresh token is revoked" (Client-Server API, Refreshing access
 * tokens); without s->with_refresh the old one simply stays valid.
 * STORE_NOT_FOUND if unknown, revoked or expired (nothing changes);
 * STORE_CONFLICT if a new hash is in use (rolled back). */
enum store_result store_refresh_rotate(struct store *st,
                                       const unsigned char old_refresh_hash[STORE_TOKEN_HASH_LEN],
                                       const struct store_session_new *s,
                                       char **out_user_id, char **out_device_id);

/* ---- rooms and events ------------------------------------------------ */
/*
 * Events are stored once, as the canonical JSON of the signed PDU, with the
 * columns the server queries on. Every event has a position in one global
 * stream (stream ordering, 1, 2, 3...) assigned at commit; on one server the
 * stream order in a room is also its DAG order, so "the state before
 * position P" is, per (type, state_key), the last state event of the room
 * with a position < P. Only events that passed the authorization rules are
 * persisted: a rejected event never enters state.
 */
#define STORE_EVENT_MAX_BYTES 65536

struct store_room {
	char *room_id;
	char *room_version;
	char *creator;
	int64_t created_ts;
	bool published;          /* listed in the public room directory */
};
void store_room_clear(struct store_room *r);

struct store_event {
	int64_t stream;          /* position in the global stream */
	char *event_id;
	char *room_id;
	char *type;
	char *state_key;         /* NULL for a non-state event */
	char *sender;
	int64_t origin_ts;
	char *json;              /* the PDU as stored (canonical JSON) */
	char *prev_content;      /* JSON text of the state it replaced, or NULL */
	char *redacted_by;       /* event ID of the redaction, or NULL */
	char *txn_id;            /* the sender device's transaction ID, or NULL */
	char *txn_device_id;     /* the device that sent it, or NULL */
};
void store_event_clear(struct store_event *e);

struct store_event_list {
	struct store_event *items;
	size_t n;
};
void store_event_list_clear(struct store_event_list *l);

struct store_room_new {
	const char *room_id;
	const char *room_version;
	const char *creator;
	int64_t created_ts;
};

struct store_event_new {
	const char *event_id;
	const char *room_id;
	const char *type;
	const char *state_key;       /* NULL for non-state */
	const char *sender;
	int64_t origin_ts;
	int64_t depth;
	const char *json;            /* canonical PDU */
	size_t json_len;             /* <= STORE_EVENT_MAX_BYTES */
	const char *prev_content;    /* JSON text or NULL */
	const char *membership;      /* content.membership of an m.room.member event */
	const char *txn_id;          /* with txn_device_id: idempotency of PUT /send */
	const char *txn_device_id;
	const char *redacts;         /* m.room.redaction: the target event ID */
	const char *redacted_json;   /* the target's redacted PDU, replacing its stored JSON */
	/* relations: content["m.relates_to"] of an event with a rel_type
	 * (both set, or both NULL; see "relations" below) */
	const char *rel_type;
	const char *relates_to;
	/* search feature: the text server-side search indexes for this event
	 * (see "server-side search" below), or NULL; search_key says which
	 * key it came from (an enum store_search_key value). */
	const char *search_text;
	int search_key;
};

/* Persist events in order, in ONE transaction: optionally create the room
 * first (createRoom), then each event; update the room's current state
 * and the membership index for state events; record (sender, device,
 * txn_id) -> event_id; apply redactions (the target's stored JSON is
 * replaced by redacted_json and its redacted_by set). streams_out[i]
 * receives each event's stream position. STORE_CONFLICT if an event ID,
 * the room ID or the transaction ID already exists (nothing is written). */
enum store_result store_events_persist(struct store *st, const struct store_room_new *room,
                                       const struct store_event_new *events, size_t n,
                                       int64_t *streams_out);

enum store_result store_room_get(struct store *st, const char *room_id, struct store_room *out);
enum store_result store_room_set_published(struct store *st, const char *room_id, bool published);
/* Rooms in the public directory, ordered by room ID after `since` (NULL
 * from the start), at most limit. */
enum store_result store_rooms_published(struct store *st, const char *since, size_t limit,
                                        char ***room_ids_out, size_t *n_out);

/* The highest stream position committed so far (0 if none).
 * -1 if the back end failed (logged). */
int64_t store_stream_max(struct store *st);

enum store_result store_event_get(struct store *st, const char *event_id, struct store_event *out);
/* The event an earlier PUT /send (or redact) with this transaction ID of
 * this device created: STORE_OK with *event_id_out malloc'd, or NOT_FOUND. */
enum store_result store_txn_get(struct store *st, const char *user_id, const char *device_id,
                                const char *txn_id, char **event_id_out);

/* Events of a room with from < stream <= to (to = 0: no upper bound), at
 * most limit, ordered forwards (backwards=false: ascending, the first
 * `limit` after from) or backwards (descending from `to`, the last `limit`
 * before to; from is then the lower bound, 0 for none). */
enum store_result store_room_events(struct store *st, const char *room_id, int64_t from,
                                    int64_t to, size_t limit, bool backwards,
                                    struct store_event_list *out);

/* The room's state before stream position `at` (at = 0: current state),
 * one event per (type, state_key), ordered by type then state_key. */
enum store_result store_room_state(struct store *st, const char *room_id, int64_t at,
                                   struct store_event_list *out);
/* One state entry before `at` (0: current). */
enum store_result store_room_state_get(struct store *st, const char *room_id, int64_t at,
                                       const char *type, const char *state_key,
                                       struct store_event *out);

struct store_membership {
	char *room_id;
	char *user_id;
	char *membership;        /* join, invite, leave, ban, knock */
	char *event_id;
	int64_t stream;
};
void store_membership_clear(struct store_membership *m);
struct store_membership_list {
	struct store_membership *items;
	size_t n;
};
void store_membership_list_clear(struct store_membership_list *l);

/* The user's current membership in every room they ever had one in. */
enum store_result store_user_memberships(struct store *st, const char *user_id,
                                         struct store_membership_list *out);
/* Every membership event of this user in this room, oldest first (the
 * history the visibility rules walk). Empty while the user has forgotten
 * the room (store_room_forget): a forgotten room's history is not theirs
 * to read any more. */
enum store_result store_membership_history(struct store *st, const char *room_id,
                                           const char *user_id,
                                           struct store_membership_list *out);
/* Members of a room (current), optionally only one membership. */
enum store_result store_room_members(struct store *st, const char *room_id,
                                     const char *membership /* NULL: all */,
                                     struct store_membership_list *out);
/* Positions of the newest event of each of these rooms with stream > since
 * (rooms without such an event are left out): for incremental /sync. */
enum store_result store_rooms_changed_since(struct store *st, const char *const *room_ids,
                                            size_t n, int64_t since,
                                            struct store_membership_list *out /* room_id, stream */);

/* ---- filters and account data --------------------------------------- */

/* Store a filter (JSON text) for a user; *filter_id_out is a decimal ID
 * (malloc'd), unique per user. */
enum store_result store_filter_put(struct store *st, const char *user_id, const char *json,
                                   char **filter_id_out);
enum store_result store_filter_get(struct store *st, const char *user_id,
                                   const char *filter_id, char **json_out);

/* Account data: room_id NULL for global. Each put takes the next position
 * of the account-data stream (*stream_out). */
enum store_result store_account_data_put(struct store *st, const char *user_id,
                                         const char *room_id, const char *type,
                                         const char *json, int64_t *stream_out);
enum store_result store_account_data_get(struct store *st, const char *user_id,
                                         const char *room_id, const char *type,
                                         char **json_out);
struct store_account_data {
	char *room_id;           /* NULL for global */
	char *type;
	char *json;
	int64_t stream;
};
struct store_account_data_list {
	struct store_account_data *items;
	size_t n;
};
void store_account_data_list_clear(struct store_account_data_list *l);
/* Everything of a user with stream > since (0: all). */
enum store_result store_account_data_since(struct store *st, const char *user_id,
                                           int64_t since, struct store_account_data_list *out);
/* The account-data stream's highest position (0 if none; -1 on failure). */
int64_t store_account_data_stream_max(struct store *st);

/* ---- limits of rooms, events and account data (additions) ------------- */
/* "state_key MUST NOT exceed 255 bytes. type MUST NOT exceed 255 bytes"
 * and room and event IDs "MUST NOT exceed 255 bytes" (spec, Client-Server
 * API, Size limits; Appendices, Room IDs and Event IDs). The store also
 * uses 255 bytes for account-data types and membership values. */
#define STORE_ID_MAX            255
#define STORE_TXN_ID_MAX        1024    /* the spec sets none; ours */
#define STORE_PERSIST_MAX       4096    /* events in one store_events_persist */
#define STORE_LIST_LIMIT_MAX    1000    /* a larger limit is lowered to this */
#define STORE_ROOMS_QUERY_MAX   100000  /* room IDs in one rooms_changed_since */
#define STORE_STATE_MAX         1000000 /* state entries one room may return */
/* Free what store_rooms_published returned: each ID, then the array. */
void store_room_ids_free(char **room_ids, size_t n);

/* ---- room directory: aliases, forgotten rooms, user directory --------- */
/* (directory feature: store_directory.c, sqlite/sqlite_directory.c)
 * "The length of a room alias, including the # sigil and the domain, MUST
 * NOT exceed 255 bytes" (spec, Appendices, Room Aliases). The store checks
 * the sigil and the length; the grammar is the API's job. */
#define STORE_ALIAS_MAX          255
#define STORE_SEARCH_TERM_MAX    256    /* bytes of a user directory search term */
#define STORE_USER_SEARCH_MAX    100    /* results of one user directory search */

/* Map alias -> room_id, remembering who created it. STORE_CONFLICT if the
 * alias is taken, STORE_NOT_FOUND if the room is unknown. */
enum store_result store_alias_create(struct store *st, const char *alias,
                                     const char *room_id, const char *creator);
/* The room of an alias (*room_id_out malloc'd) and, if creator_out is not
 * NULL, who created it (malloc'd). STORE_NOT_FOUND if unknown. */
enum store_result store_alias_get(struct store *st, const char *alias,
                                  char **room_id_out, char **creator_out);
/* STORE_NOT_FOUND if the alias does not exist. */
enum store_result store_alias_delete(struct store *st, const char *alias);
/* The aliases of a room in byte order, at most limit (lowered to
 * STORE_LIST_LIMIT_MAX); free with store_room_ids_free. */
enum store_result store_room_aliases(struct store *st, const char *room_id, size_t limit,
                                     char ***aliases_out, size_t *n_out);

/* Forget a room (POST /rooms/{roomId}/forget): remember the user's current
 * membership event as forgotten. A later membership change (a rejoin)
 * makes the room remembered again without any write. STORE_NOT_FOUND if
 * the user never had a membership in the room; STORE_CONFLICT if the user
 * is joined ("If the user is currently joined to the room, they must leave
 * the room before calling this API", Client-Server API, Leaving rooms). */
enum store_result store_room_forget(struct store *st, const char *user_id,
                                    const char *room_id);
/* STORE_OK if the user forgot the room and their membership has not
 * changed since; STORE_NOT_FOUND otherwise. */
enum store_result store_room_forgotten(struct store *st, const char *user_id,
                                       const char *room_id);

/* Members joined now. */
enum store_result store_room_joined_count(struct store *st, const char *room_id,
                                          int64_t *count_out);
/* How many rooms are in the public directory. */
enum store_result store_rooms_published_count(struct store *st, int64_t *count_out);
/* Published rooms before `before` (room ID order), nearest first (i.e.
 * descending), at most limit: backwards pagination of the directory. */
enum store_result store_rooms_published_before(struct store *st, const char *before,
                                               size_t limit, char ***room_ids_out,
                                               size_t *n_out);

/* User directory search (POST /user_directory/search). Candidates are the
 * active local users the searcher may see: joined to a room the searcher
 * is joined to, or joined to a room whose join rule is public or whose
 * history is world_readable (spec, users.yaml); users whose global account
 * data im.vector.hide_profile says {"hide_profile": true} are left out.
 * A candidate matches when term occurs, ASCII case-insensitively, in the
 * user ID or the display name. term must be 1..STORE_SEARCH_TERM_MAX bytes;
 * at most limit results (1..STORE_USER_SEARCH_MAX), ranked: matches at the
 * start of the localpart or display name first, then users with a display
 * name, then by user ID; *limited tells that more matched. */
struct store_user_hit {
	char *user_id;
	char *displayname;       /* NULL if unset */
	char *avatar_url;        /* NULL if unset */
};
struct store_user_hit_list {
	struct store_user_hit *items;
	size_t n;
	bool limited;
};
void store_user_hit_list_clear(struct store_user_hit_list *l);
enum store_result store_user_directory_search(struct store *st, const char *searcher,
                                              const char *term, size_t limit,
                                              struct store_user_hit_list *out);

/* ---- to-device messages (send_to_device.md) -------------------------- */
/*
 * One row per recipient device, each with a position in the to-device
 * stream. A device receives its rows in /sync and acknowledges them by
 * syncing again with a later token: rows at or before the token's position
 * are then deleted ("the server should delete the messages once the client
 * has acknowledged receipt"). The sender's (device, txn_id) is recorded in
 * the same transaction as the rows, so a retried PUT /sendToDevice sends
 * nothing twice, across restarts too.
 */
#define STORE_TO_DEVICE_BATCH_MAX 10000   /* recipient devices per send */

struct store_to_device_new {
	const char *user_id;          /* recipient */
	const char *device_id;        /* recipient device (never "*": expand first) */
	const char *content;          /* JSON text */
};
struct store_to_device {
	char *sender;
	char *type;
	char *content;                /* JSON text */
	int64_t stream;
};
struct store_to_device_list {
	struct store_to_device *items;
	size_t n;
};
void store_to_device_list_clear(struct store_to_device_list *l);

/* Queue messages of one type from sender/sender_device. STORE_CONFLICT if
 * this (sender, sender_device, txn_id) was already sent: nothing written. */
enum store_result store_to_device_send(struct store *st, const char *sender,
                                       const char *sender_device, const char *txn_id,
                                       const char *type, const struct store_to_device_new *msgs,
                                       size_t n);
/* Delete the device's messages with stream <= upto (acknowledged). */
enum store_result store_to_device_ack(struct store *st, const char *user_id,
                                      const char *device_id, int64_t upto);
/* The device's messages with stream > since, oldest first, at most limit. */
enum store_result store_to_device_get(struct store *st, const char *user_id,
                                      const char *device_id, int64_t since, size_t limit,
                                      struct store_to_device_list *out);
/* The to-device stream's highest position (0 if none; -1 on failure). */
int64_t store_to_device_stream_max(struct store *st);

/* ---- receipts and presence (typing, receipts, read markers, presence) -- */
/*
 * Receipts (client-server-api "Receipts"): "Each user_id, receipt_type,
 * and categorisation (unthreaded, or thread_id) tuple must be associated
 * with only a single event_id", so the store keeps one current receipt per
 * (room, type, user, thread) and a put replaces it. Each put that moves a
 * receipt takes the next position of the receipts stream; a put for an
 * event at or before the current one (by stream position) changes nothing,
 * so a receipt never moves backwards. Presence is one row per user with
 * its own stream. Both streams are counters like account data's.
 */
#define STORE_RECEIPT_TYPE_MAX  32      /* "m.read", "m.read.private" */
#define STORE_PRESENCE_MSG_MAX  STORE_TEXT_MAX

struct store_receipt_new {
	const char *room_id;
	const char *receipt_type;     /* "m.read" or "m.read.private" */
	const char *user_id;
	const char *thread_id;        /* NULL: unthreaded; "main" or a thread root ID */
	const char *event_id;
	int64_t event_stream;         /* the event's stream position (> 0) */
	int64_t ts;                   /* ms since epoch, what clients see */
};

struct store_receipt {
	char *room_id;
	char *receipt_type;
	char *user_id;
	char *thread_id;              /* NULL: unthreaded */
	char *event_id;
	int64_t ts;
	int64_t stream;               /* position in the receipts stream */
};
struct store_receipt_list {
	struct store_receipt *items;
	size_t n;
};
void store_receipt_list_clear(struct store_receipt_list *l);

/* Set the user's receipt. *stream_out is its new position, or 0 when the
 * receipt already pointed at that event or a later one (nothing written). */
enum store_result store_receipt_put(struct store *st, const struct store_receipt_new *r,
                                    int64_t *stream_out);
/* Receipts of a room with since < stream <= to (to = 0: no upper bound),
 * ascending. m.read.private receipts are included only when they are
 * viewer_id's own: "Servers MUST NOT send the m.read.private receipt to any
 * other user than the one which originally sent it" (Receipts, Private
 * read receipts). */
enum store_result store_room_receipts(struct store *st, const char *room_id,
                                      const char *viewer_id, int64_t since, int64_t to,
                                      struct store_receipt_list *out);
/* The receipts stream's highest position (0 if none; -1 on failure). */
int64_t store_receipts_stream_max(struct store *st);

struct store_presence {
	char *user_id;
	char *presence;               /* "online", "unavailable", "offline" */
	char *status_msg;             /* NULL if none */
	int64_t last_active_ts;       /* ms since epoch */
	int64_t stream;
};
void store_presence_clear(struct store_presence *p);
struct store_presence_list {
	struct store_presence *items;
	size_t n;
};
void store_presence_list_clear(struct store_presence_list *l);

/* Set a user's presence (status_msg NULL clears it); takes the next
 * position of the presence stream (*stream_out, may be NULL). */
enum store_result store_presence_put(struct store *st, const char *user_id,
                                     const char *presence, const char *status_msg,
                                     int64_t last_active_ts, int64_t *stream_out);
/* STORE_NOT_FOUND if the user never set a presence. */
enum store_result store_presence_get(struct store *st, const char *user_id,
                                     struct store_presence *out);
/* Presence that viewer_id may see and that changed in (since, to] (to = 0:
 * no bound), ascending: their own, and that of every user joined to a room
 * the viewer is joined to ("Presence events are sent to interested parties
 * where users share a room membership", Presence). */
enum store_result store_presence_visible(struct store *st, const char *viewer_id,
                                         int64_t since, int64_t to,
                                         struct store_presence_list *out);
/* The presence stream's highest position (0 if none; -1 on failure). */
int64_t store_presence_stream_max(struct store *st);

/* ---- relations: edits, threads, references (relations feature) -------- */
/* (store_relations.c, sqlite/sqlite_relations.c)
 * "The relationship between a child and its parent event is described in
 * the child event's content as m.relates_to" (Client-Server API, Forming
 * relationships between events). store_events_persist records one for an
 * event whose store_event_new has rel_type and relates_to; the parent need
 * not be stored (it may arrive later), reads find children of the parents
 * they are given. A redacted child relates to nothing any more: "when a
 * child event is redacted then the relationship is broken" (Aggregations
 * of child events), so every read below leaves redacted children out. */
#define STORE_REL_TYPE_MAX          255
#define STORE_RELATIONS_DEPTH_MAX   3     /* "SHOULD traverse at least 3 levels" */
#define STORE_AGGREGATE_PARENTS_MAX 1000  /* parents in one aggregation read */
#define STORE_AGGREGATE_PER_PARENT  50    /* children read per (parent, rel_type) */

/* May (rel_type, relates_to) go into a store_event_new? Both NULL, or a
 * non-empty rel_type of at most STORE_REL_TYPE_MAX bytes and an event ID.
 * Callers drop relations that fail this (the spec ignores relationships
 * that do not match the schema) instead of failing the send. */
bool store_relation_ok(const char *rel_type, const char *relates_to);

/* GET /relations: children of parent_id in room_id, optionally only one
 * rel_type and one event type (NULL: any), following relations up to
 * depth levels (1: direct children; at most STORE_RELATIONS_DEPTH_MAX).
 * The filters apply at every level: a child reached only through a
 * non-matching intermediate event is not returned (relations.yaml). Paged
 * by stream like store_room_events: from < stream <= to (to 0: no bound),
 * at most limit, ascending or (backwards) descending from to. */
struct store_relations_query {
	const char *room_id;
	const char *parent_id;
	const char *rel_type;
	const char *event_type;
	int depth;
	int64_t from, to;
	size_t limit;
	bool backwards;
};
enum store_result store_relations_children(struct store *st, const struct store_relations_query *q,
                                           struct store_event_list *out);

/* What bundled aggregations need for a page of parents, read in one
 * snapshot. children: for each (parent, rel_type) of m.replace, m.thread
 * and m.reference, at most STORE_AGGREGATE_PER_PARENT children, newest
 * first (m.replace: by origin_server_ts then event ID, the spec's "most
 * recent"; the others: by stream), grouped by parent then rel_type.
 * m.replace children are only the VALID edits (Event replacements,
 * Validity of replacement events): same sender and type as the original,
 * neither a state event, the original not itself an edit nor redacted,
 * and an m.new_content object unless the edit is m.room.encrypted.
 * threads: per thread root among the parents, the number of (unredacted)
 * m.thread children and whether viewer_id sent one. */
struct store_relation_child {
	char *event_id;          /* the child (== children.items[i].event_id) */
	char *relates_to;        /* its parent */
	char *rel_type;
};
struct store_thread_total {
	char *root_id;
	int64_t count;
	bool participated;       /* viewer_id sent an m.thread child */
};
struct store_aggregation {
	struct store_event_list children;
	struct store_relation_child *rels;   /* rels[i] describes children.items[i] */
	struct store_thread_total *threads;
	size_t n_threads;
};
void store_aggregation_clear(struct store_aggregation *a);
enum store_result store_relations_aggregate(struct store *st, const char *room_id,
                                            const char *const *parent_ids, size_t n,
                                            const char *viewer_id,
                                            struct store_aggregation *out);

/* GET /threads: thread roots of room_id ordered by their latest m.thread
 * child, newest first, whose latest child is before `before` (0: no
 * bound); with participant, only threads they started or replied in.
 * At most limit roots; *last_latest_out is the latest-child position of
 * the last root returned (the next page's `before`), 0 if none. */
enum store_result store_room_threads(struct store *st, const char *room_id,
                                     const char *participant, int64_t before, size_t limit,
                                     struct store_event_list *roots_out,
                                     int64_t *last_latest_out);

/* Has sender already annotated parent_id (in room_id) with an unredacted
 * event of this type and m.relates_to key? "Homeservers should prevent
 * users from sending a second annotation for a given event with identical
 * event type and annotation key (unless the first event has been
 * redacted)" (Event annotations, Server behaviour). key is at most
 * STORE_TEXT_MAX bytes. STORE_OK if so, STORE_NOT_FOUND if not. */
enum store_result store_annotation_exists(struct store *st, const char *room_id,
                                          const char *parent_id, const char *sender,
                                          const char *type, const char *key);

/* ---- server-side search (search feature: store_search.c, sqlite/sqlite_search.c) -- */
/*
 * A full-text index over what the spec's room_events search category
 * covers: "content.body in m.room.message, content.name in m.room.name,
 * content.topic in m.room.topic" (Client-Server API, Server Side Search).
 * - An event is indexed in the transaction that persists it, when its
 *   store_event_new carries search_text (1..STORE_SEARCH_TEXT_MAX bytes)
 *   with a known search_key. A redaction removes its target from the
 *   index in the redaction's own transaction.
 * - "The search will not include rooms that are end to end encrypted":
 *   the store drops the search_text of any event whose room holds
 *   m.room.encryption state when the event is persisted (state persisted
 *   earlier in the same call counts), whatever the caller passed.
 * - A search matches words, never query syntax: term is split on
 *   whitespace; words made only of ASCII punctuation are dropped (they
 *   cannot match a token); the first STORE_SEARCH_WORDS_MAX words are
 *   kept, each matched as a prefix of an indexed word (a word of one or
 *   two bytes: as a whole word only, which keeps a query from expanding
 *   to most of the vocabulary), all of them required (AND), case- and
 *   diacritic-insensitively.
 * - Only rooms the caller names are searched: which rooms a user may
 *   search, and which hits they may see, is the caller's decision (the
 *   served chokepoint), not the store's.
 */
#define STORE_SEARCH_TEXT_MAX       STORE_EVENT_MAX_BYTES
#define STORE_EVENT_SEARCH_TERM_MAX 1024   /* bytes of one search term */
#define STORE_SEARCH_WORDS_MAX      16     /* words of one term that are used */
#define STORE_SEARCH_ROOMS_MAX      10000  /* rooms one search covers */
#define STORE_SEARCH_LIMIT_MAX      100    /* hits of one store_events_search */
#define STORE_SEARCH_OFFSET_MAX     10000  /* hits a search may skip (paging by rank) */

enum store_search_key {
	STORE_SEARCH_KEY_BODY = 1,    /* content.body of m.room.message */
	STORE_SEARCH_KEY_NAME = 2,    /* content.name of m.room.name */
	STORE_SEARCH_KEY_TOPIC = 4,   /* content.topic (and m.topic text/plain) of m.room.topic */
};
#define STORE_SEARCH_KEYS_ALL 7

struct store_search_query {
	const char *const *room_ids;  /* 1..STORE_SEARCH_ROOMS_MAX rooms to search */
	size_t n_rooms;
	const char *term;             /* 1..STORE_EVENT_SEARCH_TERM_MAX bytes */
	unsigned keys;                /* mask of store_search_key; 0 means all */
	bool by_rank;                 /* most relevant first; else most recent first */
	int64_t before;               /* only events with stream < before (0: no bound) */
	size_t offset;                /* skip this many first, <= STORE_SEARCH_OFFSET_MAX */
	size_t limit;                 /* 1..STORE_SEARCH_LIMIT_MAX */
};

struct store_search_hit {
	struct store_event event;     /* never a redacted one */
	double rank;                  /* relevance, > 0, higher is closer */
};
struct store_search_hit_list {
	struct store_search_hit *items;
	size_t n;
};
void store_search_hit_list_clear(struct store_search_hit_list *l);

/* Indexed events of q->room_ids matching q->term in the keys asked, in
 * the order asked (by rank: rank descending, then stream descending; by
 * recency: stream descending), after skipping q->offset, at most
 * q->limit. A term with no usable word matches nothing (STORE_OK, empty).
 * STORE_ERROR for arguments outside the bounds above. */
enum store_result store_events_search(struct store *st, const struct store_search_query *q,
                                      struct store_search_hit_list *out);

/* ---- end-to-end encryption keys (keys feature: store_keys.c, sqlite/sqlite_keys.c) -- */
/*
 * What the server keeps for end-to-end encryption (Client-Server API,
 * End-to-End Encryption): the clients do the cryptography; the server
 * stores and hands out what they published, checked by the API layer
 * first (signatures, shapes) and stored as canonical JSON.
 * - Device keys: one object per device. A device's identity (its
 *   "algorithms" and "keys") never changes once published: a re-upload
 *   with another identity is refused, the same identity may be re-uploaded.
 * - One-time keys are handed out once each: a claim takes and deletes the
 *   key inside one write job (one writer thread, so concurrent claims
 *   never get the same key); with none left, the device's fallback key of
 *   that algorithm is handed out (again and again) and marked used.
 * - Every change of a user's devices or keys takes the next position of
 *   the device-list stream (the sync token's device_lists field). Deleting
 *   a device deletes its keys and records a change in the same statement
 *   (a trigger of migration 8), whichever path deletes it.
 */
#define STORE_KEY_JSON_MAX        16384  /* one key object or device-keys object */
#define STORE_KEY_ALGORITHM_MAX   64     /* "signed_curve25519" */
#define STORE_KEY_ID_MAX          128    /* the part after "algorithm:" */
#define STORE_KEYS_UPLOAD_MAX     200    /* one-time keys in one upload */
#define STORE_OTK_PER_DEVICE_MAX  5000   /* one-time keys a device may hold */
#define STORE_KEYS_CLAIM_MAX      1000   /* (user, device, algorithm) in one claim */
#define STORE_XSIGN_JSON_MAX      STORE_KEY_JSON_MAX
#define STORE_KEY_SIG_MAX         1000   /* signatures in one store_key_signatures_add */
#define STORE_DEVICE_LIST_CHANGES_MAX 10000 /* users one changes read returns */

struct store_key_new {
	const char *algorithm;        /* "signed_curve25519" */
	const char *key_id;           /* "AAAAHQ" */
	const char *json;             /* canonical JSON of the key (object or string) */
};

struct store_keys_upload {
	const char *user_id;
	const char *device_id;
	const char *device_keys;          /* canonical JSON, or NULL: unchanged */
	const char *device_identity;      /* canonical {algorithms, keys}; with device_keys */
	const struct store_key_new *otks; /* at most STORE_KEYS_UPLOAD_MAX */
	size_t n_otks;
	const struct store_key_new *fallbacks; /* at most one per algorithm */
	size_t n_fallbacks;
};

enum store_keys_refusal {
	STORE_KEYS_ACCEPTED = 0,
	STORE_KEYS_IDENTITY_CHANGED,  /* device keys with another identity */
	STORE_KEYS_OTK_CHANGED,       /* a one-time key ID exists with other content */
	STORE_KEYS_OTK_LIMIT,         /* the device would hold too many one-time keys */
};

/* Publish a device's keys, all or nothing. An existing one-time key ID
 * with the same content is accepted and left alone; a fallback key
 * replaces the previous one of its algorithm (unused again) unless it is
 * the same key. STORE_NOT_FOUND if the device does not exist;
 * STORE_CONFLICT with *refusal set when refused (nothing written).
 * *stream_out: the device-list position taken (0 if the device keys were
 * not new or changed). */
enum store_result store_keys_upload(struct store *st, const struct store_keys_upload *u,
                                    enum store_keys_refusal *refusal, int64_t *stream_out);

struct store_key_count {
	char *algorithm;
	int64_t count;
};
struct store_key_counts {
	struct store_key_count *items;    /* unclaimed one-time keys per algorithm */
	size_t n;
	char **unused_fallbacks;          /* algorithms with an unused fallback key */
	size_t n_unused_fallbacks;
};
void store_key_counts_clear(struct store_key_counts *c);
enum store_result store_keys_counts(struct store *st, const char *user_id,
                                    const char *device_id, struct store_key_counts *out);

struct store_device_keys {
	char *device_id;
	char *json;                   /* canonical device-keys object */
	char *display_name;           /* the device's, NULL if unset */
};
struct store_device_keys_list {
	struct store_device_keys *items;
	size_t n;
};
void store_device_keys_list_clear(struct store_device_keys_list *l);
/* Device keys of a user's existing devices, by device ID; device_id NULL:
 * all of them. */
enum store_result store_device_keys_get(struct store *st, const char *user_id,
                                        const char *device_id,
                                        struct store_device_keys_list *out);

struct store_key_claim {
	const char *user_id;
	const char *device_id;
	const char *algorithm;
};
struct store_key_claimed {
	char *key_id;                 /* "algorithm:id", NULL when nothing was left */
	char *json;
	bool fallback;
};
/* Claim one key per entry, in one transaction; out has n entries
 * (release with store_key_claimed_clear). */
enum store_result store_keys_claim(struct store *st, const struct store_key_claim *claims,
                                   size_t n, struct store_key_claimed *out);
void store_key_claimed_clear(struct store_key_claimed *out, size_t n);

/* Cross-signing keys, indexed by usage. */
enum store_xsign_usage {
	STORE_XSIGN_MASTER = 0,
	STORE_XSIGN_SELF_SIGNING,
	STORE_XSIGN_USER_SIGNING,
	STORE_XSIGN_COUNT
};
struct store_cross_signing {
	char *json[STORE_XSIGN_COUNT];        /* canonical key object, NULL if none */
	char *public_key[STORE_XSIGN_COUNT];  /* its unpadded base64 ed25519 key */
};
void store_cross_signing_clear(struct store_cross_signing *c);
/* STORE_OK with every entry NULL for a user who has none. */
enum store_result store_cross_signing_get(struct store *st, const char *user_id,
                                          struct store_cross_signing *out);
/* Set the keys whose json[i] is not NULL (with public_key[i]). With
 * only_if_no_master, STORE_CONFLICT if the user already has a master key
 * (the first upload needs no UIA; a racing second one must not slip in).
 * Replacing the self-signing key drops the signatures it made of the
 * user's devices; replacing the master key drops the signatures of it. */
enum store_result store_cross_signing_put(struct store *st, const char *user_id,
                                          const char *const json[STORE_XSIGN_COUNT],
                                          const char *const public_key[STORE_XSIGN_COUNT],
                                          bool only_if_no_master, int64_t *stream_out);

struct store_key_signature {
	char *target_key_id;          /* a device ID or a cross-signing public key */
	char *signer_user;
	char *signer_key_id;          /* "ed25519:..." */
	char *signature;              /* unpadded base64 */
};
struct store_key_signature_list {
	struct store_key_signature *items;
	size_t n;
};
void store_key_signature_list_clear(struct store_key_signature_list *l);
/* Record signatures of target_user's keys (already verified), replacing
 * one by the same signer key; one device-list change for target_user. */
enum store_result store_key_signatures_add(struct store *st, const char *target_user,
                                           const struct store_key_signature *sigs, size_t n,
                                           int64_t *stream_out);
enum store_result store_key_signatures_get(struct store *st, const char *target_user,
                                           struct store_key_signature_list *out);

/* Users whose devices or keys changed with since < position <= to,
 * distinct, in byte order, at most STORE_DEVICE_LIST_CHANGES_MAX (free
 * with store_room_ids_free). */
enum store_result store_device_list_changes(struct store *st, int64_t since, int64_t to,
                                            char ***users_out, size_t *n_out);
/* The device-list stream's highest position (0 if none; -1 on failure). */
int64_t store_device_list_stream_max(struct store *st);

/* Who may see user_id's keys and whose keys user_id may see: user_id and
 * the users who are members of a room user_id is a member of, joined or
 * invited, at least one of the two joined (two invitees share nothing).
 * Distinct, in byte order, at most STORE_SHARED_USERS_MAX (free with
 * store_room_ids_free). */
#define STORE_SHARED_USERS_MAX    100000
enum store_result store_keys_shared_users(struct store *st, const char *user_id,
                                          char ***users_out, size_t *n_out);

/* ---- server-side key backup (key backup feature: store_key_backup.c,
 *      sqlite/sqlite_key_backup.c) ----------------------------------- */
/*
 * Client-Server API, End-to-End Encryption, "Server-side key backups":
 * "Backups are per-user, and users may replace backups with new backups."
 * A backup version holds an algorithm and its auth_data (JSON object text,
 * stored as given after the API layer checked it); its keys are stored per
 * (room ID, session ID), each with the metadata the replace rule reads.
 * - Versions are numbered 1, 2, 3... across all users and never reused
 *   (a deleted version stays deleted). The user's current version is the
 *   newest one not deleted: "Keys can only be written to the most
 *   recently created version of the backup."
 * - etag is a counter of the version, taken forward in the same write job
 *   whenever that version's keys change; count is the number of sessions
 *   the version holds. Both are kept in the version row.
 * - A put decides per session, inside its write job, whether the new key
 *   replaces the stored one (store_backup_key_replaces): concurrent puts
 *   never lose the better key.
 */
#define STORE_BACKUP_ALGORITHM_MAX     128
#define STORE_BACKUP_AUTH_DATA_MAX     65536      /* auth_data JSON text */
#define STORE_BACKUP_SESSION_DATA_MAX  65536      /* one session_data JSON text */
#define STORE_BACKUP_ROOM_ID_MAX       255
#define STORE_BACKUP_SESSION_ID_MAX    255
#define STORE_BACKUP_PUT_MAX           1000       /* sessions in one put */
#define STORE_BACKUP_SESSIONS_MAX      100000     /* sessions one version holds */
#define STORE_BACKUP_BYTES_MAX         (128L * 1024 * 1024) /* session_data bytes per version */
#define STORE_BACKUP_VERSION_MAX       INT64_C(999999999999999) /* 15 digits */

struct store_backup_version {
	int64_t version;
	char *algorithm;
	char *auth_data;          /* JSON object text */
	int64_t etag;
	int64_t count;
};
void store_backup_version_clear(struct store_backup_version *v);

/* What decides between two keys of one session. */
struct store_backup_key_rank {
	bool is_verified;
	int64_t first_message_index;
	int64_t forwarded_count;
};
/* Whether a key ranked `candidate` replaces the stored key ranked
 * `existing`, as the spec says: "if the keys have different values for
 * is_verified, then it will keep the key that has is_verified set to true;
 * if they have the same values for is_verified, then it will keep the key
 * with a lower first_message_index; and finally, if is_verified and
 * first_message_index are equal, then it will keep the key with a lower
 * forwarded_count." Equal ranks keep the stored key. Pure. */
bool store_backup_key_replaces(const struct store_backup_key_rank *existing,
                               const struct store_backup_key_rank *candidate);

struct store_backup_key_new {
	const char *room_id;
	const char *session_id;
	struct store_backup_key_rank rank;   /* both integers >= 0 */
	const char *session_data;            /* JSON object text */
};

struct store_backup_key {
	char *room_id;
	char *session_id;
	struct store_backup_key_rank rank;
	char *session_data;
};
struct store_backup_key_list {
	struct store_backup_key *items;      /* by room ID, then session ID (bytes) */
	size_t n;
};
void store_backup_key_list_clear(struct store_backup_key_list *l);

/* A version's keys after a change: etag and count. */
struct store_backup_counts {
	int64_t etag;
	int64_t count;
};

enum store_backup_refusal {
	STORE_BACKUP_ACCEPTED = 0,
	STORE_BACKUP_NOT_CURRENT,     /* the version is not the user's current one */
	STORE_BACKUP_FULL,            /* the version would exceed SESSIONS_MAX or BYTES_MAX */
};

/* A new version for user_id, which becomes the current one. */
enum store_result store_backup_version_create(struct store *st, const char *user_id,
                                              const char *algorithm, const char *auth_data,
                                              int64_t *version_out);
/* version 0: the user's current version. STORE_NOT_FOUND if there is none,
 * or the version is unknown, deleted or another user's. */
enum store_result store_backup_version_get(struct store *st, const char *user_id,
                                           int64_t version, struct store_backup_version *out);
/* Replace auth_data. STORE_NOT_FOUND as for get; STORE_CONFLICT if
 * algorithm is not the version's (nothing written). */
enum store_result store_backup_version_update(struct store *st, const char *user_id,
                                              int64_t version, const char *algorithm,
                                              const char *auth_data);
/* Delete a version and its keys. STORE_OK also for a version deleted
 * before; STORE_NOT_FOUND if the user never had it. */
enum store_result store_backup_version_delete(struct store *st, const char *user_id,
                                              int64_t version);

/* Store keys (1..STORE_BACKUP_PUT_MAX, no session twice) into version,
 * which must be the user's current version, in one write job.
 * STORE_CONFLICT with *refusal set and nothing written when refused; with
 * STORE_BACKUP_NOT_CURRENT, *current_out is the current version (0 if the
 * user has none). On STORE_OK, *out holds the version's etag and count
 * (the etag moves only if a key was written). */
enum store_result store_backup_keys_put(struct store *st, const char *user_id,
                                        int64_t version,
                                        const struct store_backup_key_new *keys, size_t n,
                                        enum store_backup_refusal *refusal,
                                        int64_t *current_out, struct store_backup_counts *out);
/* Keys of a version: all (room_id NULL), one room's (session_id NULL) or
 * one session's. STORE_NOT_FOUND if the version is unknown or deleted;
 * STORE_OK with an empty list when no key matches. */
enum store_result store_backup_keys_get(struct store *st, const char *user_id,
                                        int64_t version, const char *room_id,
                                        const char *session_id,
                                        struct store_backup_key_list *out);
/* Delete keys as selected for get. STORE_NOT_FOUND if the version is
 * unknown or deleted; *out as for put (etag moves if a key went). */
enum store_result store_backup_keys_delete(struct store *st, const char *user_id,
                                           int64_t version, const char *room_id,
                                           const char *session_id,
                                           struct store_backup_counts *out);

/* ---- media repository (store_media.c) -------------------------------- */

/* Metadata of uploaded media; the bytes live on disk (src/media/), named
 * by sha256. A row made by POST /_matrix/media/v1/create is pending
 * (sha256 NULL) until its PUT, and only until expires_ts. */
#define STORE_MEDIA_ID_MAX 255
#define STORE_MEDIA_TEXT_MAX 255      /* content types, upload names */
#define STORE_MEDIA_QUARANTINE_MAX 10000 /* media IDs per quarantine call */

struct store_media {
	char *media_id;
	char *user_id;          /* the uploader */
	char *sha256;           /* 64 lowercase hex digits; NULL while pending */
	char *content_type;     /* as declared by the uploader; NULL if none */
	char *upload_name;      /* NULL if none */
	char *sniffed_type;     /* libmagic's MIME type of the bytes; NULL while pending */
	int64_t size;           /* bytes; 0 while pending */
	int64_t created_ts;
	int64_t expires_ts;     /* pending rows: the upload must come before; else 0 */
	bool quarantined;
};
void store_media_clear(struct store_media *m);

/* Insert a row (pending when m->sha256 is NULL). With quota > 0 the
 * uploader's stored bytes plus m->size must not pass quota: checked and
 * inserted in one write job, so concurrent uploads cannot overshoot.
 * STORE_CONFLICT with *over_quota set when over; STORE_CONFLICT with it
 * clear when the media ID is taken. */
enum store_result store_media_insert(struct store *st, const struct store_media *m,
                                     int64_t quota, bool *over_quota);
enum store_result store_media_get(struct store *st, const char *media_id,
                                  struct store_media *out);
/* Fill a pending row of user_id with its content (m's sha256, types,
 * upload_name, size), quota as for insert. STORE_NOT_FOUND when no such
 * row, another user's, or expired before now_ms; STORE_CONFLICT when the
 * content is there already (*over_quota clear) or over quota (set). */
enum store_result store_media_complete(struct store *st, const struct store_media *m,
                                       int64_t now_ms, int64_t quota, bool *over_quota);
/* A user's stored bytes, and pending uploads not yet expired at now_ms. */
enum store_result store_media_usage(struct store *st, const char *user_id, int64_t now_ms,
                                    int64_t *bytes, int64_t *pending);
/* Quarantine media (never served again): the listed IDs (unknown ones are
 * skipped), or every upload of user_id when ids is NULL. One write job.
 * *changed counts rows newly quarantined. */
enum store_result store_media_quarantine(struct store *st, const char *const *ids, size_t n,
                                         const char *user_id, const char *by,
                                         int64_t *changed);

/* ---- incident response: lock, suspend, server notices, admin API
 *      (admin feature: store_admin.c, sqlite/sqlite_admin.c) ---------- */
/*
 * Lock and suspend are flags of the account row, read by every access
 * token lookup: a change applies to the very next request, with no cache
 * to expire (client-server-api "Account locking", "Account suspension").
 * The server-notices room of a user is remembered here, one per user
 * (modules/server_notices.md: "Servers should manage exactly 1 server
 * notices room per user"). Admin redaction jobs keep their outcome so
 * GET /_synapse/admin/v1/user/redact_status/{id} can report it later.
 */
#define STORE_ADMIN_REDACT_ID_MAX   64
#define STORE_ADMIN_STATUS_MAX      32       /* "complete", "failed"... */
#define STORE_ADMIN_FAILED_MAX      STORE_TEXT_MAX /* JSON of failed redactions */

/* STORE_NOT_FOUND for an unknown user. */
enum store_result store_user_set_locked(struct store *st, const char *user_id, bool locked);
enum store_result store_user_set_suspended(struct store *st, const char *user_id,
                                           bool suspended);

/* The user's server-notices room (*room_id_out malloc'd) or NOT_FOUND. */
enum store_result store_server_notice_room_get(struct store *st, const char *user_id,
                                               char **room_id_out);
/* Remember it. STORE_CONFLICT if the user has one already (nothing written). */
enum store_result store_server_notice_room_set(struct store *st, const char *user_id,
                                               const char *room_id);

/* Events of sender in room_id that a redaction may still remove: not
 * state, not redactions, not redacted yet; newest first, at most limit
 * (lowered to STORE_LIST_LIMIT_MAX). Free with store_room_ids_free. */
enum store_result store_room_sender_events(struct store *st, const char *room_id,
                                           const char *sender, size_t limit,
                                           char ***event_ids_out, size_t *n_out);
/* Every room of this server in room ID order after since (NULL: from the
 * start), at most limit (lowered to STORE_LIST_LIMIT_MAX). */
enum store_result store_rooms_all(struct store *st, const char *since, size_t limit,
                                  char ***room_ids_out, size_t *n_out);

struct store_redaction_job {
	char *redact_id;
	char *user_id;          /* whose events */
	char *status;           /* "complete" or "failed" */
	char *failed_json;      /* JSON object: event ID -> reason */
	int64_t created_ts;
};
void store_redaction_job_clear(struct store_redaction_job *j);
/* Record a finished job. STORE_CONFLICT if redact_id is taken. */
enum store_result store_redaction_job_put(struct store *st, const struct store_redaction_job *j);
enum store_result store_redaction_job_get(struct store *st, const char *redact_id,
                                          struct store_redaction_job *out);

/* ---- access ledger (ledger feature: store_ledger.c, sqlite/sqlite_ledger.c) -- */
/*
 * One row per read served to a user (security/ledger.h builds them). The
 * rows form a hash chain: each row's hash is SHA-256(previous hash ||
 * canonical row), computed by the caller (security/ledger_chain.c), so the
 * store only keeps rows, the head (last row appended) and the checkpoint
 * (last row purged by retention), from which verification starts.
 * The ledger is append-only through this API: rows are never updated, and
 * deleted only as a prefix by store_ledger_purge.
 */
#define STORE_LEDGER_HASH_LEN    32
#define STORE_LEDGER_BATCH_MAX   4096      /* rows per append */
#define STORE_LEDGER_KIND_MAX    32
#define STORE_LEDGER_ITEMS_MAX   (1 << 20) /* "12-15,18,..." */
#define STORE_LEDGER_QUERY_MAX   1024      /* a directory search term, kept whole */
#define STORE_LEDGER_PURGE_MAX   10000     /* rows one retention purge removes */

struct store_ledger_row {
	int64_t seq;             /* 1, 2, 3... in chain order, no gaps */
	int64_t ts;              /* ms since epoch, when it was served */
	char *user_id;
	char *device_id;         /* NULL: no device (a token without one) */
	char *ip;
	char *user_agent;
	char *kind;              /* "sync", "messages", "media", ... */
	char *room_id;           /* NULL when not about one room */
	/* what left, compactly: for room events their stream positions as
	 * ascending ranges "12-15,18"; for a directory search the user IDs it
	 * returned, separated by spaces (user IDs hold none); else NULL */
	char *items;
	int64_t n_events;        /* room events: how many positions the ranges hold */
	char *media_id;          /* media and thumbnail reads, else NULL */
	int64_t bytes;           /* media bytes served */
	char *query;             /* directory search term, profile target... or NULL */
	int64_t result_count;    /* directory results, keys users...; 0 else */
	unsigned char hash[STORE_LEDGER_HASH_LEN];
};
void store_ledger_row_clear(struct store_ledger_row *r);

/* A position in the chain: a row's seq and hash (seq 0 and a zero hash
 * before the first row). */
struct store_ledger_mark {
	int64_t seq;
	unsigned char hash[STORE_LEDGER_HASH_LEN];
};

/* Append rows[0..n) (n <= STORE_LEDGER_BATCH_MAX; strings borrowed) in one
 * write job of the group commit, and make rows[n-1] the head.
 * STORE_CONFLICT, nothing written, unless rows[0].seq is head.seq + 1 and
 * the seqs follow each other: the chain never forks or skips. */
enum store_result store_ledger_append(struct store *st, const struct store_ledger_row *rows,
                                      size_t n);
/* The head and the checkpoint, as recorded (not recomputed). */
enum store_result store_ledger_marks(struct store *st, struct store_ledger_mark *head,
                                     struct store_ledger_mark *checkpoint);
/* Rows in seq order, fn returning non-zero stops (the row is valid only
 * during the call): every row when user_id is NULL (the walk `audit verify`
 * makes), else the rows of user_id with since <= ts < until. A row the
 * back end cannot read whole (wrong type, oversized) ends the walk with
 * STORE_ERROR. */
typedef int (*store_ledger_fn)(void *ctx, const struct store_ledger_row *r);
enum store_result store_ledger_walk(struct store *st, const char *user_id, int64_t since,
                                    int64_t until, store_ledger_fn fn, void *ctx);
/* Where a retention purge of the rows older than before_ts may end: the
 * last row of the oldest run of rows with ts < before_ts, at most
 * STORE_LEDGER_PURGE_MAX rows past the checkpoint, so that one purge is a
 * short write (STORE_NOT_FOUND when the first row is not that old). */
enum store_result store_ledger_purge_point(struct store *st, int64_t before_ts,
                                           struct store_ledger_mark *out);
/* Delete the rows with seq <= upto->seq and make *upto the checkpoint, in
 * one transaction. upto must be a row the caller read (its stored hash):
 * STORE_CONFLICT if that row is not there with that hash. */
enum store_result store_ledger_purge(struct store *st, const struct store_ledger_mark *upto);


/* ---- rate-limit overrides (store_ratelimit.c, sqlite/sqlite_ratelimit.c) -- */

/* Synapse's admin API /_synapse/admin/v1/users/{userId}/override_ratelimit:
 * a user's own limit for the per-user request bucket (RL_CLIENT).
 * messages_per_second 0 means no limit at all (Synapse's meaning, whatever
 * burst_count says). Both are integers 0..STORE_RATELIMIT_OVERRIDE_MAX. */
#define STORE_RATELIMIT_OVERRIDE_MAX 2147483647

struct store_ratelimit_override {
	int64_t messages_per_second;
	int64_t burst_count;
};

/* STORE_NOT_FOUND when the user has no override (the server's limits apply). */
enum store_result store_ratelimit_override_get(struct store *st, const char *user_id,
                                               struct store_ratelimit_override *out);
/* Insert or replace the user's override. */
enum store_result store_ratelimit_override_set(struct store *st, const char *user_id,
                                               const struct store_ratelimit_override *o);
/* STORE_NOT_FOUND when there was none. */
enum store_result store_ratelimit_override_delete(struct store *st, const char *user_id);

#endif
