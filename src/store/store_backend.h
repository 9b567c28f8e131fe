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
};

/* The front's ID checks, shared so that a back end can check IDs it loads
 * inside a write, before it acts on them. */
bool store_user_id_ok(const char *user_id);
bool store_device_id_ok(const char *device_id);

/* The back ends compiled in (src/store/<name>/). */
extern const struct store_backend store_backend_sqlite;

#endif
