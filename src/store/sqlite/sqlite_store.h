/*
 * sqlite_store: internals of the SQLite back end (src/store/sqlite/ only).
 *
 * Connections:
 * - one read-write connection owned by the writer thread (used by the
 *   opening thread only while migrations run, before the writer starts);
 * - one read-only connection per thread that reads, opened on first use,
 *   kept in the store's list and under a pthread key whose destructor
 *   closes it when that thread exits; store_close closes what is left.
 * Each connection caches its prepared statements (struct sqlite_conn).
 *
 * Writes: an operation packs its arguments, hands a job to
 * sqlite_writer_submit() and blocks until the writer has committed (or
 * rolled back) the batch the job was part of. Job functions run on the
 * writer thread, inside a SAVEPOINT of the batch's transaction; they only
 * see the writer connection and their argument struct, whose borrowed
 * strings stay valid because the submitting thread is blocked.
 */
#ifndef CHAPPE_STORE_SQLITE_STORE_H
#define CHAPPE_STORE_SQLITE_STORE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store_backend.h"

/* Every statement the back end runs, one row each in sqlite_stmt_sql[]. */
enum sqlite_stmt_id {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_SAVEPOINT,
	SQ_RELEASE,
	SQ_ROLLBACK_TO,

	SQ_USER_INSERT,
	SQ_USER_GET,
	SQ_USER_EXISTS,
	SQ_USER_ACTIVE,
	SQ_USER_SET_PASSWORD,
	SQ_USER_SET_ADMIN,
	SQ_USER_DEACTIVATE,
	SQ_USER_ERASE,
	SQ_USER_SET_DISPLAYNAME,
	SQ_USER_SET_AVATAR_URL,
	SQ_USER_LIST,

	SQ_DEVICE_GET,
	SQ_DEVICE_LIST,
	SQ_DEVICE_INSERT_IF_NEW,
	SQ_DEVICE_SET_NAME,
	SQ_DEVICE_TOUCH,
	SQ_DEVICE_DELETE,
	SQ_DEVICES_DELETE_ALL,

	SQ_ACCESS_DELETE_DEVICE,
	SQ_REFRESH_DELETE_DEVICE,
	SQ_ACCESS_DELETE_OTHER_DEVICES,
	SQ_REFRESH_DELETE_OTHER_DEVICES,
	SQ_ACCESS_INSERT,
	SQ_REFRESH_INSERT,
	SQ_ACCESS_LOOKUP,
	SQ_REFRESH_GET,
	SQ_REFRESH_PARENT_GET,
	SQ_ACCESS_DELETE_USED,
	SQ_REFRESH_DELETE_USED,
	SQ_REFRESH_MARK_USED,
	SQ_REFRESH_CLEAR_PARENT,
	SQ_ACCESS_DELETE_CHILDREN,
	SQ_REFRESH_DELETE_CHILDREN,
	SQ_ACCESS_EXPIRE_BY_REFRESH,

	/* rooms, events, memberships (sqlite_rooms.c, sqlite_events.c) */
	SQ_READ_BEGIN,
	SQ_ROOM_INSERT,
	SQ_ROOM_EXISTS,
	SQ_ROOM_GET,
	SQ_ROOM_SET_PUBLISHED,
	SQ_ROOMS_PUBLISHED,
	SQ_EVENT_INSERT,
	SQ_EVENT_GET,
	SQ_EVENT_REDACT,
	SQ_TXN_INSERT,
	SQ_TXN_GET,
	SQ_STATE_UPSERT,
	SQ_MEMBERSHIP_INSERT,
	SQ_STREAM_MAX,
	SQ_ROOM_EVENTS_FWD,
	SQ_ROOM_EVENTS_BWD,
	SQ_STATE_AT,
	SQ_STATE_CURRENT,
	SQ_STATE_GET_AT,
	SQ_STATE_GET_CURRENT,
	SQ_USER_MEMBERSHIPS,
	SQ_MEMBERSHIP_HISTORY,
	SQ_ROOM_MEMBERS,
	SQ_ROOMS_CHANGED,

	/* filters and account data (sqlite_account_data.c) */
	SQ_FILTER_INSERT,
	SQ_FILTER_GET,
	SQ_ACCOUNT_DATA_NEXT,
	SQ_ACCOUNT_DATA_UPSERT,
	SQ_ACCOUNT_DATA_GET,
	SQ_ACCOUNT_DATA_SINCE,
	SQ_ACCOUNT_DATA_MAX,

	/* room directory: aliases, forgotten rooms, user directory (sqlite_directory.c) */
	SQ_ALIAS_INSERT,
	SQ_ALIAS_GET,
	SQ_ALIAS_DELETE,
	SQ_ROOM_ALIASES,
	SQ_MEMBERSHIP_CURRENT,
	SQ_FORGET_UPSERT,
	SQ_FORGOTTEN_GET,
	SQ_ROOM_JOINED_COUNT,
	SQ_ROOMS_PUBLISHED_COUNT,
	SQ_ROOMS_PUBLISHED_BEFORE,
	SQ_USER_DIRECTORY_SEARCH,

	/* receipts and presence (sqlite_receipts.c) */
	SQ_RECEIPT_EVENT_STREAM,
	SQ_RECEIPTS_NEXT,
	SQ_RECEIPT_UPSERT,
	SQ_RECEIPTS_ROOM,
	SQ_RECEIPTS_MAX,
	SQ_PRESENCE_NEXT,
	SQ_PRESENCE_UPSERT,
	SQ_PRESENCE_GET,
	SQ_PRESENCE_VISIBLE,
	SQ_PRESENCE_MAX,

	/* server-side search (sqlite_search.c) */
	SQ_SEARCH_INDEX,
	SQ_SEARCH_UNINDEX,
	SQ_SEARCH_BY_RANK,
	SQ_SEARCH_BY_RECENT,

	/* relations: edits, threads, references (sqlite_relations.c) */
	SQ_RELATION_INSERT,
	SQ_RELATIONS_FWD,
	SQ_RELATIONS_BWD,
	SQ_RELATIONS_AGGREGATE,
	SQ_THREAD_TOTALS,
	SQ_ROOM_THREADS,
	SQ_ANNOTATION_EXISTS,

	/* to-device messages (sqlite_to_device.c) */
	SQ_TD_TXN_INSERT,
	SQ_TD_NEXT,
	SQ_TD_INSERT,
	SQ_TD_ACK,
	SQ_TD_GET,
	SQ_TD_MAX,
	SQ_TD_DELETE_DEVICE,
	SQ_TD_DELETE_OTHER_DEVICES,


	/* end-to-end encryption keys (sqlite_keys.c) */
	SQ_KEYS_DEVICE_EXISTS,
	SQ_KEYS_DEVICE_IDENTITY,
	SQ_KEYS_DEVICE_UPSERT,
	SQ_KEYS_DEVICE_LIST,
	SQ_KEYS_OTK_GET,
	SQ_KEYS_OTK_INSERT,
	SQ_KEYS_OTK_TOTAL,
	SQ_KEYS_OTK_COUNTS,
	SQ_KEYS_OTK_CLAIM,
	SQ_KEYS_FALLBACK_UPSERT,
	SQ_KEYS_FALLBACK_CLAIM,
	SQ_KEYS_FALLBACK_UNUSED,
	SQ_KEYS_CHANGE_INSERT,
	SQ_KEYS_CHANGES,
	SQ_KEYS_CHANGES_MAX,
	SQ_XSIGN_GET,
	SQ_XSIGN_MASTER_EXISTS,
	SQ_XSIGN_UPSERT,
	SQ_KEYSIG_UPSERT,
	SQ_KEYSIG_GET,
	SQ_KEYS_SHARED_USERS,
	SQ_KEYSIG_DROP_REPLACED,

	/* server-side key backup (sqlite_key_backup.c) */
	SQ_BACKUP_VERSION_INSERT,
	SQ_BACKUP_VERSION_CURRENT,
	SQ_BACKUP_VERSION_GET,
	SQ_BACKUP_VERSION_SET_AUTH,
	SQ_BACKUP_VERSION_MARK_DELETED,
	SQ_BACKUP_VERSION_BUMP,
	SQ_BACKUP_KEY_GET,
	SQ_BACKUP_KEY_UPSERT,
	SQ_BACKUP_KEYS_ALL,
	SQ_BACKUP_KEYS_ROOM,
	SQ_BACKUP_KEYS_SESSION,
	SQ_BACKUP_KEYS_DELETE_ALL,
	SQ_BACKUP_KEYS_DELETE_ROOM,
	SQ_BACKUP_KEYS_DELETE_SESSION,

	/* media repository (sqlite_media.c) */
	SQ_MEDIA_INSERT,
	SQ_MEDIA_GET,
	SQ_MEDIA_USAGE,
	SQ_MEDIA_COMPLETE,
	SQ_MEDIA_QUARANTINE_ONE,
	SQ_MEDIA_QUARANTINE_USER,

	/* incident response: lock, suspend, server notices, admin (sqlite_admin.c) */
	SQ_USER_SET_LOCKED,
	SQ_USER_SET_SUSPENDED,
	SQ_NOTICE_ROOM_GET,
	SQ_NOTICE_ROOM_INSERT,
	SQ_ROOM_SENDER_EVENTS,
	SQ_ROOMS_ALL,
	SQ_REDACTION_JOB_INSERT,
	SQ_REDACTION_JOB_GET,

	/* rate-limit overrides (sqlite_ratelimit.c) */
	SQ_RATELIMIT_OVERRIDE_GET,
	SQ_RATELIMIT_OVERRIDE_SET,
	SQ_RATELIMIT_OVERRIDE_DELETE,

	SQ_COUNT
};

struct sqlite_conn {
	sqlite3 *db;
	sqlite3_stmt *stmts[SQ_COUNT];
	/* A cached statement in use (a list walk whose callback reads again
	 * with the same statement) is not handed out twice: the nested call
	 * gets a fresh one, finalized on release. */
	bool busy[SQ_COUNT];
};

struct sqlite_job {
	enum store_result (*run)(struct sqlite_conn *w, void *args);
	void *args;
	enum store_result result;
	bool done;
	struct sqlite_job *next;
};

struct sqlite_reader;

struct sqlite_store {
	char *path;
	int schema_version;
	struct sqlite_conn writer_conn;

	pthread_mutex_t lock;          /* guards queue, stopping, stats */
	pthread_cond_t work_cv;        /* writer waits for jobs */
	pthread_cond_t done_cv;        /* submitters wait for their job */
	struct sqlite_job *queue_head, *queue_tail;
	bool stopping;
	bool writer_started;
	pthread_t writer;
	struct store_stats stats;

	pthread_key_t reader_key;
	bool reader_key_created;
	pthread_mutex_t readers_lock;  /* guards readers list */
	struct sqlite_reader *readers;
};

/* ---- connections and statements (sqlite_conn.c) ----------------------- */

/* Open the read-write connection with WAL, synchronous=FULL, foreign keys
 * and a busy timeout. Returns 0, or -1 with a reason in err. */
int sqlite_conn_open_writer(struct sqlite_conn *c, const char *path,
                            char *err, size_t err_len);
/* Open a read-only connection on an existing database. 0 or -1. */
int sqlite_conn_open_reader(struct sqlite_conn *c, const char *path);
/* Finalize cached statements and close; c is zeroed. */
void sqlite_conn_close(struct sqlite_conn *c);

/* A reset statement ready to bind, or NULL (logged). Pair with put. */
sqlite3_stmt *sqlite_stmt_get(struct sqlite_conn *c, enum sqlite_stmt_id id);
/* Reset (ending any read it held) or finalize what get returned. */
void sqlite_stmt_put(struct sqlite_conn *c, enum sqlite_stmt_id id, sqlite3_stmt *stmt);
/* Run a statement without result rows (get, step once, put). */
enum store_result sqlite_exec_stmt(struct sqlite_conn *c, enum sqlite_stmt_id id);

/* Bind texts[0..n-1] to ?1..?n (NULL binds SQL NULL), run a statement
 * without result rows, and report sqlite3_changes() if changes is set. */
enum store_result sqlite_exec_texts(struct sqlite_conn *c, enum sqlite_stmt_id id,
                                    const char *const *texts, int n, int *changes);
/* Bind vals[0..n-1] to ?1..?n as integers; otherwise as sqlite_exec_texts. */
enum store_result sqlite_exec_ints(struct sqlite_conn *c, enum sqlite_stmt_id id,
                                   const int64_t *vals, int n, int *changes);
/* Bind key to ?1 and report whether the statement returns a row:
 * STORE_OK, STORE_NOT_FOUND, or STORE_ERROR. */
enum store_result sqlite_probe(struct sqlite_conn *c, enum sqlite_stmt_id id, const char *key);
/* Bind text (NULL binds SQL NULL); borrowed for the statement's use. */
int sqlite_bind_text(sqlite3_stmt *stmt, int idx, const char *s);

/* Copy a TEXT column into a malloc'd string, refusing a wrong type, an
 * embedded NUL, more than max bytes, or NULL unless nullable. 0 or -1. */
int sqlite_col_text(sqlite3_stmt *stmt, int col, bool nullable, size_t max, char **out);
/* An INTEGER column (no other type accepted). 0 or -1. */
int sqlite_col_int(sqlite3_stmt *stmt, int col, int64_t *out);
/* An INTEGER column, or NULL read as 0 (for IDs, which are never 0). */
int sqlite_col_id(sqlite3_stmt *stmt, int col, int64_t *out);
/* An INTEGER column that must be 0 or 1. 0 or -1. */
int sqlite_col_bool(sqlite3_stmt *stmt, int col, bool *out);

/* Map a failed step: unique/primary key violations are STORE_CONFLICT,
 * anything else STORE_ERROR (logged with what and SQLite's message). */
enum store_result sqlite_result_of(struct sqlite_conn *c, int rc, const char *what);

/* ---- migrations (migrations.c) ---------------------------------------- */

extern const int sqlite_migration_count;
/* The SQL of step version (1-based), or NULL: for tests that build an old
 * database and upgrade it. */
const char *sqlite_migration_sql(int version);
/* Apply pending migrations, each in its own transaction. Refuses a
 * database newer than this build. 0 with *version set, or -1 with err. */
int sqlite_migrate(sqlite3 *db, int *version, char *err, size_t err_len);

/* ---- writer (sqlite_writer.c) ----------------------------------------- */

int sqlite_writer_start(struct sqlite_store *s);
/* Drain the queue, then stop and join the writer. */
void sqlite_writer_stop(struct sqlite_store *s);
/* Run fn(writer connection, args) in the next batch; blocks until it is
 * committed or rolled back and returns its result. */
enum store_result sqlite_writer_submit(struct sqlite_store *s,
                                       enum store_result (*run)(struct sqlite_conn *, void *),
                                       void *args);

/* ---- readers (sqlite_backend.c) --------------------------------------- */

/* The calling thread's read connection, opened on first use; NULL on error. */
struct sqlite_conn *sqlite_reader_get(struct sqlite_store *s);

/* ---- operations (sqlite_users.c, sqlite_devices.c, sqlite_sessions.c) - */

enum store_result sqlite_user_create(void *h, const char *user_id, const char *password_hash,
                                     const char *displayname, bool admin, int64_t now_ms);
enum store_result sqlite_user_get(void *h, const char *user_id, struct store_user *out);
enum store_result sqlite_user_exists(void *h, const char *user_id);
enum store_result sqlite_user_set_password_hash(void *h, const char *user_id,
                                                const char *password_hash);
enum store_result sqlite_user_set_admin(void *h, const char *user_id, bool admin);
enum store_result sqlite_user_deactivate(void *h, const char *user_id, bool erase);
enum store_result sqlite_profile_set(void *h, const char *user_id,
                                     enum store_profile_field field, const char *value);
enum store_result sqlite_user_list(void *h, store_user_fn fn, void *ctx);

enum store_result sqlite_device_get(void *h, const char *user_id, const char *device_id,
                                    struct store_device *out);
enum store_result sqlite_device_list(void *h, const char *user_id, store_device_fn fn,
                                     void *ctx);
enum store_result sqlite_device_set_display_name(void *h, const char *user_id,
                                                 const char *device_id,
                                                 const char *display_name);
enum store_result sqlite_device_touch(void *h, const char *user_id, const char *device_id,
                                      const char *ip, const char *user_agent, int64_t now_ms);
enum store_result sqlite_device_delete(void *h, const char *user_id, const char *device_id);
enum store_result sqlite_devices_delete_all(void *h, const char *user_id,
                                            const char *keep_device_id);
/* Inside a write job: delete every device but keep_device_id (NULL: all)
 * with their tokens (devices delete all, and deactivation). */
enum store_result sqlite_devices_purge(struct sqlite_conn *w, const char *user_id,
                                       const char *keep_device_id);
/* Inside a write job: delete the access and refresh tokens of one device
 * (device delete, and session create reusing a device). */
enum store_result sqlite_device_tokens_delete(struct sqlite_conn *w, const char *user_id,
                                              const char *device_id);

enum store_result sqlite_session_create(void *h, const struct store_session_new *s);
enum store_result sqlite_access_token_lookup(void *h,
                                             const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                             struct store_token_info *out);
enum store_result sqlite_refresh_rotate(void *h,
                                        const unsigned char old_hash[STORE_TOKEN_HASH_LEN],
                                        const struct store_session_new *s,
                                        char **out_user_id, char **out_device_id);

/* ---- rooms, events, memberships (sqlite_rooms.c, sqlite_events.c) ---- */

enum store_result sqlite_events_persist(void *h, const struct store_room_new *room,
                                        const struct store_event_new *events, size_t n,
                                        int64_t *streams_out);
enum store_result sqlite_room_get(void *h, const char *room_id, struct store_room *out);
enum store_result sqlite_room_set_published(void *h, const char *room_id, bool published);
enum store_result sqlite_rooms_published(void *h, const char *since, size_t limit,
                                         char ***room_ids_out, size_t *n_out);
enum store_result sqlite_stream_max(void *h, int64_t *out);
enum store_result sqlite_event_get(void *h, const char *event_id, struct store_event *out);
enum store_result sqlite_txn_get(void *h, const char *user_id, const char *device_id,
                                 const char *txn_id, char **event_id_out);
enum store_result sqlite_room_events(void *h, const char *room_id, int64_t from, int64_t to,
                                     size_t limit, bool backwards,
                                     struct store_event_list *out);
enum store_result sqlite_room_state(void *h, const char *room_id, int64_t at,
                                    struct store_event_list *out);
enum store_result sqlite_room_state_get(void *h, const char *room_id, int64_t at,
                                        const char *type, const char *state_key,
                                        struct store_event *out);
enum store_result sqlite_user_memberships(void *h, const char *user_id,
                                          struct store_membership_list *out);
enum store_result sqlite_membership_history(void *h, const char *room_id, const char *user_id,
                                            struct store_membership_list *out);
enum store_result sqlite_room_members(void *h, const char *room_id, const char *membership,
                                      struct store_membership_list *out);
enum store_result sqlite_rooms_changed_since(void *h, const char *const *room_ids, size_t n,
                                             int64_t since, struct store_membership_list *out);

/* ---- filters and account data (sqlite_account_data.c) ----------------- */

enum store_result sqlite_filter_put(void *h, const char *user_id, const char *json,
                                    int64_t *filter_id_out);
enum store_result sqlite_filter_get(void *h, const char *user_id, int64_t filter_id,
                                    char **json_out);
enum store_result sqlite_account_data_put(void *h, const char *user_id, const char *room_id,
                                          const char *type, const char *json,
                                          int64_t *stream_out);
enum store_result sqlite_account_data_get(void *h, const char *user_id, const char *room_id,
                                          const char *type, char **json_out);
enum store_result sqlite_account_data_since(void *h, const char *user_id, int64_t since,
                                            struct store_account_data_list *out);
enum store_result sqlite_account_data_stream_max(void *h, int64_t *out);

/* ---- receipts and presence (sqlite_receipts.c) ------------------------ */

enum store_result sqlite_receipt_put(void *h, const struct store_receipt_new *r,
                                     int64_t *stream_out);
enum store_result sqlite_room_receipts(void *h, const char *room_id, const char *viewer_id,
                                       int64_t since, int64_t to,
                                       struct store_receipt_list *out);
enum store_result sqlite_receipts_stream_max(void *h, int64_t *out);
enum store_result sqlite_presence_put(void *h, const char *user_id, const char *presence,
                                      const char *status_msg, int64_t last_active_ts,
                                      int64_t *stream_out);
enum store_result sqlite_presence_get(void *h, const char *user_id,
                                      struct store_presence *out);
enum store_result sqlite_presence_visible(void *h, const char *viewer_id, int64_t since,
                                          int64_t to, struct store_presence_list *out);
enum store_result sqlite_presence_stream_max(void *h, int64_t *out);

/* ---- room directory (sqlite_directory.c) ------------------------------ */

enum store_result sqlite_alias_create(void *h, const char *alias, const char *room_id,
                                      const char *creator);
enum store_result sqlite_alias_get(void *h, const char *alias, char **room_id_out,
                                   char **creator_out);
enum store_result sqlite_alias_delete(void *h, const char *alias);
enum store_result sqlite_room_aliases(void *h, const char *room_id, size_t limit,
                                      char ***aliases_out, size_t *n_out);
enum store_result sqlite_room_forget(void *h, const char *user_id, const char *room_id);
enum store_result sqlite_room_forgotten(void *h, const char *user_id, const char *room_id);
enum store_result sqlite_room_joined_count(void *h, const char *room_id, int64_t *out);
enum store_result sqlite_rooms_published_count(void *h, int64_t *out);
enum store_result sqlite_rooms_published_before(void *h, const char *before, size_t limit,
                                                char ***room_ids_out, size_t *n_out);
enum store_result sqlite_user_directory_search(void *h, const char *searcher,
                                               const char *term, size_t limit,
                                               struct store_user_hit_list *out);

/* ---- relations (sqlite_relations.c) ----------------------------------- */

/* Inside the persist job: record e's relation (e->rel_type set). */
enum store_result sqlite_relation_insert(struct sqlite_conn *w, const struct store_event_new *e,
                                         int64_t stream);
enum store_result sqlite_relations_children(void *h, const struct store_relations_query *q,
                                            struct store_event_list *out);
enum store_result sqlite_relations_aggregate(void *h, const char *room_id,
                                             const char *const *parent_ids, size_t n,
                                             const char *viewer_id,
                                             struct store_aggregation *out);
enum store_result sqlite_room_threads(void *h, const char *room_id, const char *participant,
                                      int64_t before, size_t limit,
                                      struct store_event_list *roots_out,
                                      int64_t *last_latest_out);
enum store_result sqlite_annotation_exists(void *h, const char *room_id, const char *parent_id,
                                           const char *sender, const char *type,
                                           const char *key);
/* Shared by the event readers (sqlite_events.c defines them): fill e from
 * a row whose first 12 columns are EVENT_COLS; grow a list by doubling up
 * to STORE_STATE_MAX entries. 0, or -1 (e cleared; list unchanged). */
int sqlite_event_load(sqlite3_stmt *stmt, struct store_event *e);
int sqlite_list_reserve(void **items, size_t size, size_t n, size_t *cap);

/* ---- server-side search (sqlite_search.c) ----------------------------- */

/* Inside the persist job: index e (stream is its position) if it carries
 * search_text and its room is not encrypted; and remove the target of a
 * redaction from the index. */
enum store_result sqlite_search_index(struct sqlite_conn *w, const struct store_event_new *e,
                                      int64_t stream);
enum store_result sqlite_search_unindex(struct sqlite_conn *w, const char *redacts,
                                        const char *room_id);
enum store_result sqlite_events_search(void *h, const struct store_search_query *q,
                                       struct store_search_hit_list *out);

/* ---- to-device messages (sqlite_to_device.c) --------------------------- */

enum store_result sqlite_to_device_send(void *h, const char *sender, const char *sender_device,
                                        const char *txn_id, const char *type,
                                        const struct store_to_device_new *msgs, size_t n);
enum store_result sqlite_to_device_ack(void *h, const char *user_id, const char *device_id,
                                       int64_t upto);
enum store_result sqlite_to_device_get(void *h, const char *user_id, const char *device_id,
                                       int64_t since, size_t limit,
                                       struct store_to_device_list *out);
enum store_result sqlite_to_device_stream_max(void *h, int64_t *out);

/* ---- end-to-end encryption keys (sqlite_keys.c) ----------------------- */

enum store_result sqlite_keys_upload(void *h, const struct store_keys_upload *u,
                                     enum store_keys_refusal *refusal, int64_t *stream_out);
enum store_result sqlite_keys_counts(void *h, const char *user_id, const char *device_id,
                                     struct store_key_counts *out);
enum store_result sqlite_device_keys_get(void *h, const char *user_id, const char *device_id,
                                         struct store_device_keys_list *out);
enum store_result sqlite_keys_claim(void *h, const struct store_key_claim *claims, size_t n,
                                    struct store_key_claimed *out);
enum store_result sqlite_cross_signing_get(void *h, const char *user_id,
                                           struct store_cross_signing *out);
enum store_result sqlite_cross_signing_put(void *h, const char *user_id,
                                           const char *const json[STORE_XSIGN_COUNT],
                                           const char *const public_key[STORE_XSIGN_COUNT],
                                           bool only_if_no_master, int64_t *stream_out);
enum store_result sqlite_key_signatures_add(void *h, const char *target_user,
                                            const struct store_key_signature *sigs, size_t n,
                                            int64_t *stream_out);
enum store_result sqlite_key_signatures_get(void *h, const char *target_user,
                                            struct store_key_signature_list *out);
enum store_result sqlite_device_list_changes(void *h, int64_t since, int64_t to,
                                             char ***users_out, size_t *n_out);
enum store_result sqlite_device_list_stream_max(void *h, int64_t *out);
enum store_result sqlite_keys_shared_users(void *h, const char *user_id, char ***users_out,
                                           size_t *n_out);

/* ---- server-side key backup (sqlite_key_backup.c) --------------------- */

enum store_result sqlite_backup_version_create(void *h, const char *user_id,
                                               const char *algorithm, const char *auth_data,
                                               int64_t *version_out);
enum store_result sqlite_backup_version_get(void *h, const char *user_id, int64_t version,
                                            struct store_backup_version *out);
enum store_result sqlite_backup_version_update(void *h, const char *user_id, int64_t version,
                                               const char *algorithm, const char *auth_data);
enum store_result sqlite_backup_version_delete(void *h, const char *user_id, int64_t version);
enum store_result sqlite_backup_keys_put(void *h, const char *user_id, int64_t version,
                                         const struct store_backup_key_new *keys, size_t n,
                                         enum store_backup_refusal *refusal,
                                         int64_t *current_out, struct store_backup_counts *out);
enum store_result sqlite_backup_keys_get(void *h, const char *user_id, int64_t version,
                                         const char *room_id, const char *session_id,
                                         struct store_backup_key_list *out);
enum store_result sqlite_backup_keys_delete(void *h, const char *user_id, int64_t version,
                                            const char *room_id, const char *session_id,
                                            struct store_backup_counts *out);

/* ---- media repository (sqlite_media.c) ------------------------------- */

enum store_result sqlite_media_insert(void *h, const struct store_media *m, int64_t quota,
                                      bool *over_quota);
enum store_result sqlite_media_get(void *h, const char *media_id, struct store_media *out);
enum store_result sqlite_media_complete(void *h, const struct store_media *m, int64_t now_ms,
                                        int64_t quota, bool *over_quota);
enum store_result sqlite_media_usage(void *h, const char *user_id, int64_t now_ms,
                                     int64_t *bytes, int64_t *pending);
enum store_result sqlite_media_quarantine(void *h, const char *const *ids, size_t n,
                                          const char *user_id, const char *by,
                                          int64_t *changed);

/* ---- rate-limit overrides (sqlite_ratelimit.c) ------------------------ */

enum store_result sqlite_ratelimit_override_get(void *h, const char *user_id,
                                                struct store_ratelimit_override *out);
enum store_result sqlite_ratelimit_override_set(void *h, const char *user_id,
                                                const struct store_ratelimit_override *o);
enum store_result sqlite_ratelimit_override_delete(void *h, const char *user_id);

/* ---- incident response: lock, suspend, server notices, admin (sqlite_admin.c) */

enum store_result sqlite_user_set_locked(void *h, const char *user_id, bool locked);
enum store_result sqlite_user_set_suspended(void *h, const char *user_id, bool suspended);
enum store_result sqlite_server_notice_room_get(void *h, const char *user_id,
                                                char **room_id_out);
enum store_result sqlite_server_notice_room_set(void *h, const char *user_id,
                                                const char *room_id);
enum store_result sqlite_room_sender_events(void *h, const char *room_id, const char *sender,
                                            size_t limit, char ***ids_out, size_t *n_out);
enum store_result sqlite_rooms_all(void *h, const char *since, size_t limit,
                                   char ***ids_out, size_t *n_out);
enum store_result sqlite_redaction_job_put(void *h, const struct store_redaction_job *j);
enum store_result sqlite_redaction_job_get(void *h, const char *redact_id,
                                           struct store_redaction_job *out);

/* ---- access ledger (sqlite_ledger.c) --------------------------------- */

enum store_result sqlite_ledger_append(void *h, const struct store_ledger_row *rows, size_t n);
enum store_result sqlite_ledger_marks(void *h, struct store_ledger_mark *head,
                                      struct store_ledger_mark *checkpoint);
enum store_result sqlite_ledger_walk(void *h, const char *user_id, int64_t since, int64_t until,
                                     store_ledger_fn fn, void *ctx);
enum store_result sqlite_ledger_purge_point(void *h, int64_t before_ts,
                                            struct store_ledger_mark *out);
enum store_result sqlite_ledger_purge(void *h, const struct store_ledger_mark *upto);

#endif
