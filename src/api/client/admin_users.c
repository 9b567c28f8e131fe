/* admin_users.c: accounts on Synapse's admin paths (/_synapse/admin/v2/users,
 * v1/deactivate, v1/suspend) and the spec's own lock and suspend endpoints
 * (admin.yaml: /_matrix/client/v1/admin/lock/{userId} and suspend). Every
 * row is AUTH_ADMIN: others get 403 M_FORBIDDEN before a handler runs. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/admin.h"
#include "api/client/admin_internal.h"
#include "api/client/handlers.h"
#include "config/config.h"
#include "security/accounts.h"
#include "security/containment.h"
#include "security/erasure.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/timeutil.h"

#define ADMIN_LIST_LIMIT_DEFAULT 100
#define ADMIN_LIST_LIMIT_MAX 1000

json_t *admin_user_json(const struct store_user *u, bool list_form)
{
	/* Synapse: the user list gives creation_ts in ms, the user query in
	 * seconds; tools written against it expect exactly that. */
	int64_t created = list_form ? u->created_ts : u->created_ts / 1000;
	json_t *o = json_pack("{s:s,s:o,s:o,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:I,s:n,s:b}",
	                      "name", u->user_id,
	                      "displayname", u->displayname ? json_string(u->displayname)
	                                                    : json_null(),
	                      "avatar_url", u->avatar_url ? json_string(u->avatar_url)
	                                                  : json_null(),
	                      "is_guest", 0, "admin", u->admin, "deactivated", u->deactivated,
	                      "erased", 0, "shadow_banned", 0, "locked", u->locked,
	                      "suspended", u->suspended, "creation_ts", (json_int_t)created,
	                      "user_type", "approved", 1);

	if (o && !list_form) {
		json_object_set_new(o, "threepids", json_array());
		json_object_set_new(o, "external_ids", json_array());
		json_object_set_new(o, "appservice_id", json_null());
	}
	return o;
}

const char *admin_local_user_param(struct request *req, size_t n)
{
	const char *uid = req_param(req, n);
	char localpart[ID_MAX_LEN + 1];

	if (!uid || !id_user_is_local(uid, APP(req)->cfg->server_name, localpart,
	                              sizeof(localpart))) {
		res_error(req, 400, "M_INVALID_PARAM", "Only local users can be administered here");
		return NULL;
	}
	return uid;
}

int admin_user_load(struct request *req, const char *uid, struct store_user *u)
{
	enum store_result r = store_user_get(APP(req)->store, uid, u);

	if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "User not found");
	else if (r != STORE_OK)
		res_error(req, 500, "M_UNKNOWN", "Could not read the account");
	return r == STORE_OK ? 0 : -1;
}

/* ---- GET /v2/users ---------------------------------------------------- */

struct admin_user_filter {
	bool deactivated, locked;        /* include them */
	int admins;                      /* -1 any, 0 non-admins, 1 admins */
	const char *name, *user_id;      /* substrings, case-insensitive */
	json_t *users;
	bool full;
};

/* "true"/"false" query argument: 1 or 0; def when absent; -2 (400 set)
 * on anything else. */
static int admin_query_bool(struct request *req, const char *name, int def)
{
	const char *v = req_query(req, name);

	if (!v)
		return def;
	if (strcmp(v, "true") == 0)
		return 1;
	if (strcmp(v, "false") == 0)
		return 0;
	res_error(req, 400, "M_INVALID_PARAM", "Query parameter %s must be true or false", name);
	return -2;
}

static int admin_user_collect(void *ctx, const struct store_user *u)
{
	struct admin_user_filter *f = ctx;
	json_t *o;

	if ((u->deactivated && !f->deactivated) || (u->locked && !f->locked) ||
	    (f->admins >= 0 && u->admin != (f->admins == 1)))
		return 0;
	/* Synapse: "name" matches user ID localparts or display names */
	if (f->name && !strcasestr(u->user_id, f->name) &&
	    !(u->displayname && strcasestr(u->displayname, f->name)))
		return 0;
	if (f->user_id && !strcasestr(u->user_id, f->user_id))
		return 0;
	if (json_array_size(f->users) >= ADMIN_USERS_MAX)
		return 1;
	o = admin_user_json(u, true);
	if (!o || json_array_append_new(f->users, o) != 0) {
		f->full = true;
		return 1;
	}
	return 0;
}

void api_admin_users_list(struct request *req)
{
	struct admin_user_filter f = { .admins = -1 };
	int64_t from, limit;
	size_t total, i;
	const char *dir = req_query(req, "dir");
	json_t *page;

	if (req_query_int(req, "from", 0, INT64_MAX, 0, &from) != 0 ||
	    req_query_int(req, "limit", 0, ADMIN_LIST_LIMIT_MAX, ADMIN_LIST_LIMIT_DEFAULT,
	                  &limit) != 0)
		return;
	/* Synapse: deactivated and (since 1.93) locked accounts are left out
	 * unless asked for; there are no guests here, so guests changes nothing */
	f.deactivated = admin_query_bool(req, "deactivated", 0) == 1;
	f.locked = admin_query_bool(req, "locked", 0) == 1;
	f.admins = admin_query_bool(req, "admins", -1);
	admin_query_bool(req, "guests", 1);
	if (req->status)
		return;
	if (dir && strcmp(dir, "f") != 0 && strcmp(dir, "b") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "dir must be f or b");
		return;
	}
	f.name = req_query(req, "name");
	f.user_id = req_query(req, "user_id");
	f.users = json_array();
	if (!f.users || store_user_list(APP(req)->store, admin_user_collect, &f) != STORE_OK ||
	    f.full) {
		json_decref(f.users);
		res_error(req, 500, "M_UNKNOWN", "Could not list the accounts");
		return;
	}
	total = json_array_size(f.users);
	page = json_array();
	for (i = 0; page && (int64_t)i < limit && (size_t)from + i < total; i++) {
		size_t k = dir && dir[0] == 'b' ? total - 1 - ((size_t)from + i) : (size_t)from + i;
		json_array_append(page, json_array_get(f.users, k));
	}
	json_decref(f.users);
	if (!page) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
	page = json_pack("{s:o,s:I}", "users", page, "total", (json_int_t)total);
	if (page && (size_t)from + i < total) {
		char next[32];
		snprintf(next, sizeof(next), "%zu", (size_t)from + i);
		json_object_set_new(page, "next_token", json_string(next));
	}
	res_json(req, 200, page);
}

/* ---- GET and PUT /v2/users/{userId} ----------------------------------- */

void api_admin_user_get(struct request *req)
{
	struct store_user u = { 0 };
	const char *uid = admin_local_user_param(req, 0);

	json_t *o;

	if (!uid || admin_user_load(req, uid, &u) != 0)
		return;
	o = admin_user_json(&u, false);
	if (o)
		json_object_set_new(o, "erased",
		                    json_boolean(erasure_is_erased(APP(req)->store, uid)));
	res_json(req, 200, o);
	store_user_clear(&u);
}

/* What a PUT asks, each field only if present. */
struct admin_user_put {
	const char *password, *displayname, *avatar_url;
	bool has_displayname, has_avatar, has_admin, has_deactivated, has_locked;
	bool admin, deactivated, locked, logout_devices;
};

#define ADMIN_DISPLAYNAME_MAX 256
#define ADMIN_AVATAR_URL_MAX 1024

/* A string or null for key; -1 with 400 set otherwise. */
static int admin_nullable_string(struct request *req, json_t *body, const char *key,
                                 size_t max, bool *has, const char **out)
{
	json_t *v = json_object_get(body, key);

	*has = v != NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		res_error(req, 400, "M_INVALID_PARAM", "%s must be a string of at most %zu bytes",
		          key, max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int admin_user_put_parse(struct request *req, json_t *body, struct admin_user_put *p)
{
	memset(p, 0, sizeof(*p));
	p->logout_devices = true;
	p->has_admin = json_object_get(body, "admin") != NULL;
	p->has_deactivated = json_object_get(body, "deactivated") != NULL;
	p->has_locked = json_object_get(body, "locked") != NULL;
	if (req_get_string(req, body, "password", false, &p->password) != 0 ||
	    req_get_bool(req, body, "logout_devices", &p->logout_devices) != 0 ||
	    req_get_bool(req, body, "admin", &p->admin) != 0 ||
	    req_get_bool(req, body, "deactivated", &p->deactivated) != 0 ||
	    req_get_bool(req, body, "locked", &p->locked) != 0 ||
	    admin_nullable_string(req, body, "displayname", ADMIN_DISPLAYNAME_MAX,
	                          &p->has_displayname, &p->displayname) != 0 ||
	    admin_nullable_string(req, body, "avatar_url", ADMIN_AVATAR_URL_MAX,
	                          &p->has_avatar, &p->avatar_url) != 0)
		return -1;
	return 0;
}

static void admin_account_error(struct request *req, enum account_result ar)
{
	res_error(req, ar == ACCOUNT_ERROR ? 500 : 400, account_errcode(ar),
	          ar == ACCOUNT_WEAK_PASSWORD ? "Password too weak" : "Cannot apply this change");
}

/* A new account: with a password through the account rules, or without
 * one (it can only be used once a password is set). */
static int admin_user_create(struct request *req, const char *uid,
                             const struct admin_user_put *p)
{
	struct app *app = APP(req);
	char localpart[ID_MAX_LEN + 1];
	enum account_result ar;
	char *new_uid = NULL;

	if (!id_user_is_local(uid, app->cfg->server_name, localpart, sizeof(localpart)))
		return -1;
	if (p->password)
		ar = account_create(app->store, app->cfg, localpart, p->password, p->displayname,
		                    p->admin, &new_uid);
	else if ((ar = account_check_new(app->store, app->cfg, localpart, &new_uid)) == ACCOUNT_OK &&
	         store_user_create(app->store, new_uid, NULL, p->displayname, p->admin,
	                           time_now_ms()) != STORE_OK)
		ar = ACCOUNT_ERROR;
	free(new_uid);
	if (ar != ACCOUNT_OK) {
		admin_account_error(req, ar);
		return -1;
	}
	return 0;
}

/* Changes to an existing account, in the order Synapse applies them. */
static int admin_user_modify(struct request *req, const char *uid, const struct store_user *u,
                             const struct admin_user_put *p)
{
	struct app *app = APP(req);
	enum account_result ar;

	if (u->deactivated && (p->password || (p->has_deactivated && !p->deactivated))) {
		res_error(req, 400, "M_UNKNOWN", "Deactivated accounts cannot be reactivated here");
		return -1;
	}
	if (p->password) {
		ar = account_set_password(app->store, app->cfg, uid, p->password, p->logout_devices,
		                          NULL);
		if (ar != ACCOUNT_OK) {
			admin_account_error(req, ar);
			return -1;
		}
		if (p->logout_devices)
			api_sessions_revoked(req, uid);
	}
	if (p->has_admin && store_user_set_admin(app->store, uid, p->admin) != STORE_OK)
		goto fail;
	if (p->has_deactivated && p->deactivated && !u->deactivated) {
		admin_user_leave_all(app, uid);
		if (store_user_deactivate(app->store, uid, false) != STORE_OK)
			goto fail;
		api_sessions_revoked(req, uid);
	}
	return 0;
fail:
	res_error(req, 500, "M_UNKNOWN", "Could not update the account");
	return -1;
}

void api_admin_user_put(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false);
	const char *uid = admin_local_user_param(req, 0);
	struct store_user u = { 0 };
	struct admin_user_put p;
	enum store_result r;
	bool created = false;

	if (!body || !uid || admin_user_put_parse(req, body, &p) != 0)
		return;
	r = store_user_get(app->store, uid, &u);
	if (r == STORE_NOT_FOUND) {
		if (admin_user_create(req, uid, &p) != 0)
			return;
		created = true;
	} else if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the account");
		return;
	} else if (admin_user_modify(req, uid, &u, &p) != 0) {
		goto out;
	}
	if ((p.has_displayname && !created &&
	     store_profile_set(app->store, uid, "displayname", p.displayname) != STORE_OK) ||
	    (p.has_avatar && store_profile_set(app->store, uid, "avatar_url", p.avatar_url) !=
	                         STORE_OK) ||
	    (p.has_locked && (p.locked ? security_lock(app, uid, "admin API")
	                               : security_unlock(app, uid)) != CONTAIN_OK)) {
		res_error(req, 500, "M_UNKNOWN", "Could not update the account");
		goto out;
	}
	store_user_clear(&u);
	if (admin_user_load(req, uid, &u) == 0)
		res_json(req, created ? 201 : 200, admin_user_json(&u, false));
out:
	store_user_clear(&u);
}

/* ---- POST /v1/deactivate/{userId} ------------------------------------- */

void api_admin_user_deactivate(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, true);
	const char *uid = admin_local_user_param(req, 0);
	struct store_user u = { 0 };
	bool erase = false;

	if (!body || !uid || req_get_bool(req, body, "erase", &erase) != 0 ||
	    admin_user_load(req, uid, &u) != 0)
		return;
	store_user_clear(&u);
	/* Leave the rooms first, while the account can still send its leaves. */
	admin_user_leave_all(app, uid);
	if (store_user_deactivate(app->store, uid, erase) != STORE_OK ||
	    (erase && erasure_mark(app->store, uid) != 0)) {
		res_error(req, 500, "M_UNKNOWN", "Could not deactivate the account");
		return;
	}
	api_sessions_revoked(req, uid);
	res_json(req, 200, json_pack("{s:s}", "id_server_unbind_result", "success"));
}

/* ---- lock and suspend ------------------------------------------------- */

static void admin_contained(struct request *req, enum containment_result c, json_t *ok)
{
	if (c == CONTAIN_OK) {
		res_json(req, 200, ok);
		return;
	}
	json_decref(ok);
	if (c == CONTAIN_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "User not found");
	else
		res_error(req, 500, "M_UNKNOWN", "Could not update the account");
}

/* PUT /_synapse/admin/v1/suspend/{userId} {"suspend": bool} */
void api_admin_user_suspend(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false);
	const char *uid = admin_local_user_param(req, 0);
	bool suspend;
	char key[ID_MAX_LEN + 32];

	if (!body || !uid)
		return;
	if (!json_is_boolean(json_object_get(body, "suspend"))) {
		res_error(req, 400, "M_BAD_JSON", "suspend must be a boolean");
		return;
	}
	suspend = json_is_true(json_object_get(body, "suspend"));
	/* Synapse answers {"user_<id>_suspended": bool} */
	snprintf(key, sizeof(key), "user_%s_suspended", uid);
	admin_contained(req, suspend ? security_suspend(app, uid, "admin API")
	                             : security_unsuspend(app, uid),
	                json_pack("{s:b}", key, suspend));
}

/* admin.yaml: GET and PUT /_matrix/client/v1/admin/{lock,suspend}/{userId} */
static void admin_flag(struct request *req, bool lock)
{
	const char *key = lock ? "locked" : "suspended";
	const char *uid = admin_local_user_param(req, 0);
	struct store_user u = { 0 };
	json_t *body;
	bool on;

	if (!uid)
		return;
	if (req->method == HTTP_GET) {
		if (admin_user_load(req, uid, &u) == 0)
			res_json(req, 200, json_pack("{s:b}", key, lock ? u.locked : u.suspended));
		store_user_clear(&u);
		return;
	}
	if (!(body = req_json_object(req, false)))
		return;
	if (!json_is_boolean(json_object_get(body, key))) {
		res_error(req, 400, "M_BAD_JSON", "%s must be a boolean", key);
		return;
	}
	on = json_is_true(json_object_get(body, key));
	admin_contained(req, lock ? (on ? security_lock(APP(req), uid, "admin API")
	                                : security_unlock(APP(req), uid))
	                          : (on ? security_suspend(APP(req), uid, "admin API")
	                                : security_unsuspend(APP(req), uid)),
	                json_pack("{s:b}", key, on));
}

void api_admin_lock(struct request *req)
{
	admin_flag(req, true);
}

void api_admin_suspend(struct request *req)
{
	admin_flag(req, false);
}
