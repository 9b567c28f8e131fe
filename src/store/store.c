/*
 * store.c: the front of the storage layer.
 *
 * What every back end needs lives here: choosing a back end by name,
 * checking each argument against the contract of store.h before a back end
 * sees it, checking every struct a back end loads before a caller sees it
 * (a database is input too: it may be corrupt, hand-edited, or written by
 * an older build), and the *_clear functions.
 *
 * Threads: struct store holds only the back-end pointer and handle, both
 * fixed between store_open and store_close, so every function may be
 * called from any thread; the back end serialises what needs it.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct store {
	const struct store_backend *be;
	void *handle;
};

/* Chosen by name at open (OpenSMTPD style): one row per back end. */
static const struct store_backend *const store_backends[] = {
	&store_backend_sqlite,
};

/* ---- argument checks -------------------------------------------------- */

/* A string within max bytes; NULL is accepted only when nullable. */
bool store_text_ok(const char *s, size_t max, bool nullable)
{
	if (s == NULL)
		return nullable;
	return strnlen(s, max + 1) <= max;
}

/* The store only needs what keeps its keys sane: the sigil, not empty, the
 * spec's 255-byte limit. The full grammar is the ids module's job. */
bool store_user_id_ok(const char *user_id)
{
	size_t n;

	if (user_id == NULL || user_id[0] != '@')
		return false;
	n = strnlen(user_id, STORE_USER_ID_MAX + 1);
	return n >= 2 && n <= STORE_USER_ID_MAX;
}

bool store_device_id_ok(const char *device_id)
{
	size_t n;

	if (device_id == NULL)
		return false;
	n = strnlen(device_id, STORE_DEVICE_ID_MAX + 1);
	return n >= 1 && n <= STORE_DEVICE_ID_MAX;
}

enum store_result store_refuse(const char *what)
{
	log_warn("store: refused call with invalid %s", what);
	return STORE_ERROR;
}

/* ---- checks on what a back end loaded --------------------------------- */

static bool store_ts_ok(int64_t ts)
{
	return ts >= 0;
}

static bool store_user_valid(const struct store_user *u)
{
	return store_user_id_ok(u->user_id) &&
	       store_text_ok(u->password_hash, STORE_PASSWORD_HASH_MAX, true) &&
	       store_text_ok(u->displayname, STORE_TEXT_MAX, true) &&
	       store_text_ok(u->avatar_url, STORE_TEXT_MAX, true) &&
	       store_ts_ok(u->created_ts) &&
	       /* a deactivated account never keeps a usable password */
	       !(u->deactivated && u->password_hash != NULL);
}

static bool store_device_valid(const struct store_device *d)
{
	return store_user_id_ok(d->user_id) && store_device_id_ok(d->device_id) &&
	       store_text_ok(d->display_name, STORE_TEXT_MAX, true) &&
	       store_ts_ok(d->created_ts) && store_ts_ok(d->last_seen_ts) &&
	       store_text_ok(d->last_seen_ip, STORE_IP_MAX, true) &&
	       store_text_ok(d->last_seen_user_agent, STORE_TEXT_MAX, true);
}

static bool store_token_info_valid(const struct store_token_info *t)
{
	return store_user_id_ok(t->user_id) && store_device_id_ok(t->device_id) &&
	       store_ts_ok(t->expires_ts);
}

/* Turns a STORE_OK whose output failed validation into STORE_ERROR. */
enum store_result store_loaded(enum store_result r, bool valid, const char *what)
{
	if (r != STORE_OK || valid)
		return r;
	log_error("store: back end loaded an invalid %s row; refusing it", what);
	return STORE_ERROR;
}

/* ---- open / close ----------------------------------------------------- */

enum store_result store_open(struct store **out, const char *backend,
                             const char *location, char *err, size_t err_len)
{
	const struct store_backend *be = NULL;
	struct store *st = NULL;
	enum store_result r;

	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (out == NULL || backend == NULL || location == NULL || err == NULL ||
	    err_len == 0)
		return STORE_ERROR;
	*out = NULL;
	for (size_t i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++) {
		if (strcmp(store_backends[i]->name, backend) == 0)
			be = store_backends[i];
	}
	if (be == NULL) {
		snprintf(err, err_len, "unknown store back end \"%.64s\"", backend);
		return STORE_ERROR;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, err_len, "out of memory");
		return STORE_ERROR;
	}
	st->be = be;
	r = be->open(&st->handle, location, err, err_len);
	if (r != STORE_OK) {
		free(st);
		return STORE_ERROR;
	}
	*out = st;
	return STORE_OK;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->be->close(st->handle);
	free(st);
}

const struct store_backend *store_backend_of(struct store *st, void **handle)
{
	*handle = st->handle;
	return st->be;
}

int store_schema_version(struct store *st)
{
	if (st == NULL)
		return -1;
	return st->be->schema_version(st->handle);
}

void store_stats_get(struct store *st, struct store_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (st != NULL)
		st->be->stats(st->handle, out);
}

/* ---- clear ------------------------------------------------------------ */

void store_user_clear(struct store_user *u)
{
	if (u == NULL)
		return;
	free(u->user_id);
	free(u->password_hash);
	free(u->displayname);
	free(u->avatar_url);
	memset(u, 0, sizeof(*u));
}

void store_device_clear(struct store_device *d)
{
	if (d == NULL)
		return;
	free(d->user_id);
	free(d->device_id);
	free(d->display_name);
	free(d->last_seen_ip);
	free(d->last_seen_user_agent);
	memset(d, 0, sizeof(*d));
}

void store_token_info_clear(struct store_token_info *t)
{
	if (t == NULL)
		return;
	free(t->user_id);
	free(t->device_id);
	memset(t, 0, sizeof(*t));
}

/* ---- users ------------------------------------------------------------ */

enum store_result store_user_create(struct store *st, const char *user_id,
                                    const char *password_hash, const char *displayname,
                                    bool admin, int64_t now_ms)
{
	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	if (!store_text_ok(password_hash, STORE_PASSWORD_HASH_MAX, true) ||
	    !store_text_ok(displayname, STORE_TEXT_MAX, true) || !store_ts_ok(now_ms))
		return store_refuse("user field");
	return st->be->user_create(st->handle, user_id, password_hash, displayname,
	                           admin, now_ms);
}

enum store_result store_user_get(struct store *st, const char *user_id, struct store_user *out)
{
	enum store_result r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	r = st->be->user_get(st->handle, user_id, out);
	r = store_loaded(r, r != STORE_OK || (store_user_valid(out) &&
	                                      strcmp(out->user_id, user_id) == 0), "user");
	if (r != STORE_OK)
		store_user_clear(out);
	return r;
}

enum store_result store_user_exists(struct store *st, const char *user_id)
{
	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	return st->be->user_exists(st->handle, user_id);
}

enum store_result store_user_set_password_hash(struct store *st, const char *user_id,
                                               const char *password_hash)
{
	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	if (!store_text_ok(password_hash, STORE_PASSWORD_HASH_MAX, true))
		return store_refuse("password hash");
	return st->be->user_set_password_hash(st->handle, user_id, password_hash);
}

enum store_result store_user_set_admin(struct store *st, const char *user_id, bool admin)
{
	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	return st->be->user_set_admin(st->handle, user_id, admin);
}

enum store_result store_user_deactivate(struct store *st, const char *user_id, bool erase)
{
	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	return st->be->user_deactivate(st->handle, user_id, erase);
}

enum store_result store_profile_set(struct store *st, const char *user_id,
                                    const char *field, const char *value)
{
	enum store_profile_field f;

	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	/* Map the caller's name to our own enum: no caller string ever reaches
	 * a back end as a column name. */
	if (field != NULL && strcmp(field, "displayname") == 0)
		f = STORE_PROFILE_DISPLAYNAME;
	else if (field != NULL && strcmp(field, "avatar_url") == 0)
		f = STORE_PROFILE_AVATAR_URL;
	else
		return store_refuse("profile field");
	if (!store_text_ok(value, STORE_TEXT_MAX, true))
		return store_refuse("profile value");
	return st->be->profile_set(st->handle, user_id, f, value);
}

/* The back end calls these trampolines, which validate each row before the
 * caller's function sees it. A bad row stops the walk with STORE_ERROR. */
struct store_user_walk {
	store_user_fn fn;
	void *ctx;
	bool bad_row;
};

static int store_user_walk_row(void *ctx, const struct store_user *u)
{
	struct store_user_walk *w = ctx;

	if (!store_user_valid(u)) {
		w->bad_row = true;
		return 1;
	}
	return w->fn(w->ctx, u);
}

enum store_result store_user_list(struct store *st, store_user_fn fn, void *ctx)
{
	struct store_user_walk w = { fn, ctx, false };
	enum store_result r;

	if (st == NULL || fn == NULL)
		return store_refuse("argument to store_user_list");
	r = st->be->user_list(st->handle, store_user_walk_row, &w);
	return store_loaded(r, !w.bad_row, "user");
}

/* ---- devices ---------------------------------------------------------- */

enum store_result store_device_get(struct store *st, const char *user_id,
                                   const char *device_id, struct store_device *out)
{
	enum store_result r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id) ||
	    !store_device_id_ok(device_id))
		return store_refuse("user or device ID");
	r = st->be->device_get(st->handle, user_id, device_id, out);
	r = store_loaded(r, r != STORE_OK || (store_device_valid(out) &&
	                                      strcmp(out->user_id, user_id) == 0 &&
	                                      strcmp(out->device_id, device_id) == 0),
	                 "device");
	if (r != STORE_OK)
		store_device_clear(out);
	return r;
}

struct store_device_walk {
	store_device_fn fn;
	void *ctx;
	const char *user_id;
	bool bad_row;
};

static int store_device_walk_row(void *ctx, const struct store_device *d)
{
	struct store_device_walk *w = ctx;

	if (!store_device_valid(d) || strcmp(d->user_id, w->user_id) != 0) {
		w->bad_row = true;
		return 1;
	}
	return w->fn(w->ctx, d);
}

enum store_result store_device_list(struct store *st, const char *user_id,
                                    store_device_fn fn, void *ctx)
{
	struct store_device_walk w = { fn, ctx, user_id, false };
	enum store_result r;

	if (st == NULL || fn == NULL || !store_user_id_ok(user_id))
		return store_refuse("argument to store_device_list");
	r = st->be->device_list(st->handle, user_id, store_device_walk_row, &w);
	return store_loaded(r, !w.bad_row, "device");
}

enum store_result store_device_set_display_name(struct store *st, const char *user_id,
                                                const char *device_id, const char *display_name)
{
	if (st == NULL || !store_user_id_ok(user_id) || !store_device_id_ok(device_id))
		return store_refuse("user or device ID");
	if (!store_text_ok(display_name, STORE_TEXT_MAX, true))
		return store_refuse("device display name");
	return st->be->device_set_display_name(st->handle, user_id, device_id, display_name);
}

enum store_result store_device_touch(struct store *st, const char *user_id,
                                     const char *device_id, const char *ip,
                                     const char *user_agent, int64_t now_ms)
{
	if (st == NULL || !store_user_id_ok(user_id) || !store_device_id_ok(device_id))
		return store_refuse("user or device ID");
	if (!store_text_ok(ip, STORE_IP_MAX, true) ||
	    !store_text_ok(user_agent, STORE_TEXT_MAX, true) || !store_ts_ok(now_ms))
		return store_refuse("device activity");
	return st->be->device_touch(st->handle, user_id, device_id, ip, user_agent, now_ms);
}

enum store_result store_device_delete(struct store *st, const char *user_id,
                                      const char *device_id)
{
	if (st == NULL || !store_user_id_ok(user_id) || !store_device_id_ok(device_id))
		return store_refuse("user or device ID");
	return st->be->device_delete(st->handle, user_id, device_id);
}

enum store_result store_devices_delete_all(struct store *st, const char *user_id,
                                           const char *keep_device_id)
{
	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	if (keep_device_id != NULL && !store_device_id_ok(keep_device_id))
		return store_refuse("device ID");
	return st->be->devices_delete_all(st->handle, user_id, keep_device_id);
}

/* ---- sessions --------------------------------------------------------- */

/* Fields of a session request both session_create and refresh_rotate use;
 * the IDs are checked by session_create only (rotation ignores them). */
static bool store_session_fields_ok(const struct store_session_new *s)
{
	return store_text_ok(s->device_display_name, STORE_TEXT_MAX, true) &&
	       store_ts_ok(s->now_ms) && store_ts_ok(s->access_expires_ts) &&
	       store_ts_ok(s->refresh_expires_ts);
}

enum store_result store_session_create(struct store *st, const struct store_session_new *s)
{
	if (st == NULL || s == NULL || !store_user_id_ok(s->user_id) ||
	    !store_device_id_ok(s->device_id))
		return store_refuse("user or device ID");
	if (!store_session_fields_ok(s))
		return store_refuse("session field");
	return st->be->session_create(st->handle, s);
}

enum store_result store_access_token_lookup(struct store *st,
                                            const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                            struct store_token_info *out)
{
	enum store_result r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || hash == NULL || out == NULL)
		return store_refuse("argument to store_access_token_lookup");
	r = st->be->access_token_lookup(st->handle, hash, out);
	r = store_loaded(r, r != STORE_OK || store_token_info_valid(out), "access token");
	if (r != STORE_OK)
		store_token_info_clear(out);
	return r;
}

enum store_result store_refresh_rotate(struct store *st,
                                       const unsigned char old_refresh_hash[STORE_TOKEN_HASH_LEN],
                                       const struct store_session_new *s,
                                       char **out_user_id, char **out_device_id)
{
	enum store_result r;

	if (out_user_id != NULL)
		*out_user_id = NULL;
	if (out_device_id != NULL)
		*out_device_id = NULL;
	if (st == NULL || old_refresh_hash == NULL || s == NULL ||
	    out_user_id == NULL || out_device_id == NULL)
		return store_refuse("argument to store_refresh_rotate");
	if (!store_session_fields_ok(s))
		return store_refuse("session field");
	r = st->be->refresh_rotate(st->handle, old_refresh_hash, s, out_user_id,
	                           out_device_id);
	r = store_loaded(r, r != STORE_OK || (store_user_id_ok(*out_user_id) &&
	                                      store_device_id_ok(*out_device_id)),
	                 "refresh token");
	if (r != STORE_OK) {
		free(*out_user_id);
		free(*out_device_id);
		*out_user_id = NULL;
		*out_device_id = NULL;
	}
	return r;
}
