/*
 * store_backend: the table of operations a storage back end implements.
 * Internal to src/store/ (nothing outside includes it).
 *
 * Contract between the front (store.c) and a back end:
 * - The front has already validated every argument (non-NULL where the
 *   public contract requires it, lengths within the STORE_*_MAX limits,
 *   field names known), so a back end only persists and loads.
 * - The front validates what a back end loads (store_*_validate in store.c)
 *   before a caller sees it; the back end still refuses values of the wrong
 *   type (a NULL where the schema forbids one) because only it can see them.
 * - Output structs are zeroed by the front before the call; on any result
 *   other than STORE_OK the back end leaves them empty (nothing to free).
 * - Thread safety and durability are the back end's: every operation may be
 *   called from any thread, and a write returns only once durable.
 * - field is the column to set for profile_set: the front passes one of its
 *   enum values, never a caller's string.
 */
#ifndef CHAPPE_STORE_BACKEND_H
#define CHAPPE_STORE_BACKEND_H

#include "store/store.h"

enum store_profile_field {
	STORE_PROFILE_DISPLAYNAME,
	STORE_PROFILE_AVATAR_URL,
};

struct store_backend {
	const char *name;

	/* Open or create at location and migrate; *handle is the back end's. */
	enum store_result (*open)(void **handle, const char *location,
	                          char *err, size_t err_len);
	void (*close)(void *handle);
	int (*schema_version)(void *handle);
	void (*stats)(void *handle, struct store_stats *out);

	enum store_result (*user_create)(void *h, const char *user_id,
	                                 const char *password_hash,
	                                 const char *displayname, bool admin,
	                                 int64_t now_ms);
	enum store_result (*user_get)(void *h, const char *user_id,
	                              struct store_user *out);
	enum store_result (*user_exists)(void *h, const char *user_id);
	enum store_result (*user_set_password_hash)(void *h, const char *user_id,
	                                            const char *password_hash);
	enum store_result (*user_set_admin)(void *h, const char *user_id, bool admin);
	enum store_result (*user_deactivate)(void *h, const char *user_id, bool erase);
	enum store_result (*profile_set)(void *h, const char *user_id,
	                                 enum store_profile_field field,
	                                 const char *value);
	enum store_result (*user_list)(void *h, store_user_fn fn, void *ctx);

	enum store_result (*device_get)(void *h, const char *user_id,
	                                const char *device_id,
	                                struct store_device *out);
	enum store_result (*device_list)(void *h, const char *user_id,
	                                 store_device_fn fn, void *ctx);
	enum store_result (*device_set_display_name)(void *h, const char *user_id,
	                                             const char *device_id,
	                                             const char *display_name);
	enum store_result (*device_touch)(void *h, const char *user_id,
	                                  const char *device_id, const char *ip,
	                                  const char *user_agent, int64_t now_ms);
	enum store_result (*device_delete)(void *h, const char *user_id,
	                                   const char *device_id);
	enum store_result (*devices_delete_all)(void *h, const char *user_id,
	                                        const char *keep_device_id);

	enum store_result (*session_create)(void *h, const struct store_session_new *s);
	enum store_result (*access_token_lookup)(void *h,
	                                         const unsigned char hash[STORE_TOKEN_HASH_LEN],
	                                         struct store_token_info *out);
	enum store_result (*refresh_rotate)(void *h,
	                                    const unsigned char old_hash[STORE_TOKEN_HASH_LEN],
	                                    const struct store_session_new *s,
	                                    char **out_user_id, char **out_device_id);

	/* rooms and events: limits and IDs checked by the front; n and limit
	 * within STORE_PERSIST_MAX and STORE_LIST_LIMIT_MAX. */
	enum store_result (*events_persist)(void *h, const struct store_room_new *room,
	                                    const struct store_event_new *events, size_t n,
	                                    int64_t *streams_out);
	enum store_result (*room_get)(void *h, const char *room_id, struct store_room *out);
	enum store_result (*room_set_published)(void *h, const char *room_id, bool published);
	enum store_result (*rooms_published)(void *h, const char *since, size_t limit,
	                                     char ***room_ids_out, size_t *n_out);
	enum store_result (*stream_max)(void *h, int64_t *out);
	enum store_result (*event_get)(void *h, const char *event_id, struct store_event *out);
	enum store_result (*txn_get)(void *h, const char *user_id, const char *device_id,
	                             const char *txn_id, char **event_id_out);
	enum store_result (*room_events)(void *h, const char *room_id, int64_t from, int64_t to,
	                                 size_t limit, bool backwards,
	                                 struct store_event_list *out);
	enum store_result (*room_state)(void *h, const char *room_id, int64_t at,
	                                struct store_event_list *out);
	enum store_result (*room_state_get)(void *h, const char *room_id, int64_t at,
	                                    const char *type, const char *state_key,
	                                    struct store_event *out);
	enum store_result (*user_memberships)(void *h, const char *user_id,
	                                      struct store_membership_list *out);
	enum store_result (*membership_history)(void *h, const char *room_id,
	                                        const char *user_id,
	                                        struct store_membership_list *out);
	enum store_result (*room_members)(void *h, const char *room_id, const char *membership,
	                                  struct store_membership_list *out);
	enum store_result (*rooms_changed_since)(void *h, const char *const *room_ids, size_t n,
	                                         int64_t since,
	                                         struct store_membership_list *out);

	/* filters (IDs as numbers: the front parses the decimal text) and
	 * account data (room_id NULL for global) */
	enum store_result (*filter_put)(void *h, const char *user_id, const char *json,
	                                int64_t *filter_id_out);
	enum store_result (*filter_get)(void *h, const char *user_id, int64_t filter_id,
	                                char **json_out);
	enum store_result (*account_data_put)(void *h, const char *user_id, const char *room_id,
	                                      const char *type, const char *json,
	                                      int64_t *stream_out);
	enum store_result (*account_data_get)(void *h, const char *user_id, const char *room_id,
	                                      const char *type, char **json_out);
	enum store_result (*account_data_since)(void *h, const char *user_id, int64_t since,
	                                        struct store_account_data_list *out);
	enum store_result (*account_data_stream_max)(void *h, int64_t *out);

	/* room directory: aliases, forgotten rooms, user directory (front:
	 * store_directory.c); limits within STORE_LIST_LIMIT_MAX and
	 * STORE_USER_SEARCH_MAX */
	enum store_result (*alias_create)(void *h, const char *alias, const char *room_id,
	                                  const char *creator);
	enum store_result (*alias_get)(void *h, const char *alias, char **room_id_out,
	                               char **creator_out);
	enum store_result (*alias_delete)(void *h, const char *alias);
	enum store_result (*room_aliases)(void *h, const char *room_id, size_t limit,
	                                  char ***aliases_out, size_t *n_out);
	enum store_result (*room_forget)(void *h, const char *user_id, const char *room_id);
	enum store_result (*room_forgotten)(void *h, const char *user_id, const char *room_id);
	enum store_result (*room_joined_count)(void *h, const char *room_id, int64_t *out);
	enum store_result (*rooms_published_count)(void *h, int64_t *out);
	enum store_result (*rooms_published_before)(void *h, const char *before, size_t limit,
	                                            char ***room_ids_out, size_t *n_out);
	enum store_result (*user_directory_search)(void *h, const char *searcher,
	                                           const char *term, size_t limit,
	                                           struct store_user_hit_list *out);

	/* receipts and presence (store_receipts.c): *stream_out 0 when a
	 * receipt put changed nothing; since/to as store.h says */
	enum store_result (*receipt_put)(void *h, const struct store_receipt_new *r,
	                                 int64_t *stream_out);
	enum store_result (*room_receipts)(void *h, const char *room_id, const char *viewer_id,
	                                   int64_t since, int64_t to,
	                                   struct store_receipt_list *out);
	enum store_result (*receipts_stream_max)(void *h, int64_t *out);
	enum store_result (*presence_put)(void *h, const char *user_id, const char *presence,
	                                  const char *status_msg, int64_t last_active_ts,
	                                  int64_t *stream_out);
	enum store_result (*presence_get)(void *h, const char *user_id,
	                                  struct store_presence *out);
	enum store_result (*presence_visible)(void *h, const char *viewer_id, int64_t since,
	                                      int64_t to, struct store_presence_list *out);
	enum store_result (*presence_stream_max)(void *h, int64_t *out);

	/* relations (store_relations.c): limits and IDs checked by the front;
	 * parent_ids within STORE_AGGREGATE_PARENTS_MAX */
	enum store_result (*relations_children)(void *h, const struct store_relations_query *q,
	                                        struct store_event_list *out);
	enum store_result (*relations_aggregate)(void *h, const char *room_id,
	                                         const char *const *parent_ids, size_t n,
	                                         const char *viewer_id,
	                                         struct store_aggregation *out);
	enum store_result (*room_threads)(void *h, const char *room_id, const char *participant,
	                                  int64_t before, size_t limit,
	                                  struct store_event_list *roots_out,
	                                  int64_t *last_latest_out);
	enum store_result (*annotation_exists)(void *h, const char *room_id, const char *parent_id,
	                                       const char *sender, const char *type,
	                                       const char *key);

	/* to-device messages (store_to_device.c) */
	enum store_result (*to_device_send)(void *h, const char *sender, const char *sender_device,
	                                    const char *txn_id, const char *type,
	                                    const struct store_to_device_new *msgs, size_t n);
	enum store_result (*to_device_ack)(void *h, const char *user_id, const char *device_id,
	                                   int64_t upto);
	enum store_result (*to_device_get)(void *h, const char *user_id, const char *device_id,
	                                   int64_t since, size_t limit,
	                                   struct store_to_device_list *out);
	enum store_result (*to_device_stream_max)(void *h, int64_t *out);

	/* server-side search (store_search.c): query bounds checked by the
	 * front; the term is the user's text, quoted by the back end */
	enum store_result (*events_search)(void *h, const struct store_search_query *q,
	                                   struct store_search_hit_list *out);

	/* end-to-end encryption keys (store_keys.c): arguments and bounds
	 * checked by the front; out arrays sized by the front */
	enum store_result (*keys_upload)(void *h, const struct store_keys_upload *u,
	                                 enum store_keys_refusal *refusal, int64_t *stream_out);
	enum store_result (*keys_counts)(void *h, const char *user_id, const char *device_id,
	                                 struct store_key_counts *out);
	enum store_result (*device_keys_get)(void *h, const char *user_id, const char *device_id,
	                                     struct store_device_keys_list *out);
	enum store_result (*keys_claim)(void *h, const struct store_key_claim *claims, size_t n,
	                                struct store_key_claimed *out);
	enum store_result (*cross_signing_get)(void *h, const char *user_id,
	                                       struct store_cross_signing *out);
	enum store_result (*cross_signing_put)(void *h, const char *user_id,
	                                       const char *const json[STORE_XSIGN_COUNT],
	                                       const char *const public_key[STORE_XSIGN_COUNT],
	                                       bool only_if_no_master, int64_t *stream_out);
	enum store_result (*key_signatures_add)(void *h, const char *target_user,
	                                        const struct store_key_signature *sigs, size_t n,
	                                        int64_t *stream_out);
	enum store_result (*key_signatures_get)(void *h, const char *target_user,
	                                        struct store_key_signature_list *out);
	enum store_result (*device_list_changes)(void *h, int64_t since, int64_t to,
	                                         char ***users_out, size_t *n_out);
	enum store_result (*device_list_stream_max)(void *h, int64_t *out);
	enum store_result (*keys_shared_users)(void *h, const char *user_id, char ***users_out,
	                                       size_t *n_out);

	/* server-side key backup (store_key_backup.c): arguments, bounds and
	 * distinct sessions checked by the front */
	enum store_result (*backup_version_create)(void *h, const char *user_id,
	                                           const char *algorithm, const char *auth_data,
	                                           int64_t *version_out);
	enum store_result (*backup_version_get)(void *h, const char *user_id, int64_t version,
	                                        struct store_backup_version *out);
	enum store_result (*backup_version_update)(void *h, const char *user_id, int64_t version,
	                                           const char *algorithm, const char *auth_data);
	enum store_result (*backup_version_delete)(void *h, const char *user_id, int64_t version);
	enum store_result (*backup_keys_put)(void *h, const char *user_id, int64_t version,
	                                     const struct store_backup_key_new *keys, size_t n,
	                                     enum store_backup_refusal *refusal,
	                                     int64_t *current_out, struct store_backup_counts *out);
	enum store_result (*backup_keys_get)(void *h, const char *user_id, int64_t version,
	                                     const char *room_id, const char *session_id,
	                                     struct store_backup_key_list *out);
	enum store_result (*backup_keys_delete)(void *h, const char *user_id, int64_t version,
	                                        const char *room_id, const char *session_id,
	                                        struct store_backup_counts *out);

	/* media repository (store_media.c): arguments and bounds checked by
	 * the front */
	enum store_result (*media_insert)(void *h, const struct store_media *m, int64_t quota,
	                                  bool *over_quota);
	enum store_result (*media_get)(void *h, const char *media_id, struct store_media *out);
	enum store_result (*media_complete)(void *h, const struct store_media *m, int64_t now_ms,
	                                    int64_t quota, bool *over_quota);
	enum store_result (*media_usage)(void *h, const char *user_id, int64_t now_ms,
	                                 int64_t *bytes, int64_t *pending);
	enum store_result (*media_quarantine)(void *h, const char *const *ids, size_t n,
	                                      const char *user_id, const char *by,
	                                      int64_t *changed);

	/* incident response: lock, suspend, server notices, admin API
	 * (store_admin.c): arguments and bounds checked by the front */
	enum store_result (*user_set_locked)(void *h, const char *user_id, bool locked);
	enum store_result (*user_set_suspended)(void *h, const char *user_id, bool suspended);
	enum store_result (*server_notice_room_get)(void *h, const char *user_id,
	                                            char **room_id_out);
	enum store_result (*server_notice_room_set)(void *h, const char *user_id,
	                                            const char *room_id);
	enum store_result (*room_sender_events)(void *h, const char *room_id, const char *sender,
	                                        size_t limit, char ***ids_out, size_t *n_out);
	enum store_result (*rooms_all)(void *h, const char *since, size_t limit,
	                               char ***ids_out, size_t *n_out);
	enum store_result (*redaction_job_put)(void *h, const struct store_redaction_job *j);
	enum store_result (*redaction_job_get)(void *h, const char *redact_id,
	                                       struct store_redaction_job *out);

	/* rate-limit overrides (store_ratelimit.c): values checked by the front */
	enum store_result (*ratelimit_override_get)(void *h, const char *user_id,
	                                            struct store_ratelimit_override *out);
	enum store_result (*ratelimit_override_set)(void *h, const char *user_id,
	                                            const struct store_ratelimit_override *o);
	enum store_result (*ratelimit_override_delete)(void *h, const char *user_id);

	/* access ledger (store_ledger.c): rows and marks checked by the front */
	enum store_result (*ledger_append)(void *h, const struct store_ledger_row *rows, size_t n);
	enum store_result (*ledger_marks)(void *h, struct store_ledger_mark *head,
	                                  struct store_ledger_mark *checkpoint);
	enum store_result (*ledger_walk)(void *h, const char *user_id, int64_t since,
	                                 int64_t until, store_ledger_fn fn, void *ctx);
	enum store_result (*ledger_purge_point)(void *h, int64_t before_ts,
	                                        struct store_ledger_mark *out);
	enum store_result (*ledger_purge)(void *h, const struct store_ledger_mark *upto);
};

/* The front's ID checks, shared so that a back end can check IDs it loads
 * inside a write, before it acts on them. */
bool store_user_id_ok(const char *user_id);
bool store_device_id_ok(const char *device_id);

/* Shared by the front's files (store.c defines them): a string within max
 * bytes (NULL only if nullable); log and refuse a bad argument; turn a
 * STORE_OK whose loaded output failed validation into STORE_ERROR; and the
 * back end behind a store, for the front files other than store.c. */
bool store_text_ok(const char *s, size_t max, bool nullable);
enum store_result store_refuse(const char *what);
enum store_result store_loaded(enum store_result r, bool valid, const char *what);
const struct store_backend *store_backend_of(struct store *st, void **handle);
/* An event row as a back end loaded it is sane (store_rooms.c; shared with
 * the relations front, store_relations.c). */
bool store_event_valid(const struct store_event *e);

/* The back ends compiled in (src/store/<name>/). */
extern const struct store_backend store_backend_sqlite;

#endif
