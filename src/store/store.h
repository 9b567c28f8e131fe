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

#endif
