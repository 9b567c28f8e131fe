#include "api/client/uia.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uthash.h>

#include "api/app.h"
#include "config/config.h"
#include "http/ratelimit.h"
#include "security/accounts.h"
#include "util/str.h"
#include "util/timeutil.h"

struct uia_session {
	char id[33];
	char purpose[32];
	char *user_id;            /* NULL for registration */
	char *owner;              /* whose quota it counts against: user or "ip:<addr>" */
	int64_t expires_ms;
	unsigned int completed;   /* enum uia_stage bits */
	UT_hash_handle hh;
};

struct uia_sessions {
	pthread_mutex_t lock;
	struct uia_session *table;
};

struct uia_sessions *uia_sessions_new(void)
{
	struct uia_sessions *s = calloc(1, sizeof(*s));
	if (s)
		pthread_mutex_init(&s->lock, NULL);
	return s;
}

static void session_free(struct uia_session *e)
{
	free(e->owner);
	free(e->user_id);
	free(e);
}

void uia_sessions_free(struct uia_sessions *s)
{
	struct uia_session *e, *tmp;
	if (!s)
		return;
	HASH_ITER(hh, s->table, e, tmp) {
		HASH_DEL(s->table, e);
		session_free(e);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const char *stage_name(enum uia_stage stage)
{
	return stage == UIA_DUMMY ? "m.login.dummy" : "m.login.password";
}

static void expire_locked(struct uia_sessions *s, int64_t now)
{
	struct uia_session *e, *tmp;
	HASH_ITER(hh, s->table, e, tmp) {
		if (e->expires_ms <= now) {
			HASH_DEL(s->table, e);
			session_free(e);
		}
	}
}

/* Each owner holds at most UIA_SESSIONS_PER_USER (a user) or
 * UIA_SESSIONS_PER_ADDRESS (a client address, for registration) open
 * sessions: opening one more closes that owner's oldest. So nobody can
 * fill the table and lock everyone else out of password changes, device
 * deletion or registration. Lock held. */
static void owner_cap_locked(struct uia_sessions *s, const char *owner)
{
	struct uia_session *e, *tmp, *oldest = NULL;
	size_t n = 0;

	HASH_ITER(hh, s->table, e, tmp) {
		if (strcmp(e->owner, owner) != 0)
			continue;
		n++;
		if (!oldest || e->expires_ms < oldest->expires_ms)
			oldest = e;
	}
	if (oldest && n >= (strncmp(owner, "ip:", 3) == 0 ? UIA_SESSIONS_PER_ADDRESS
	                                                  : UIA_SESSIONS_PER_USER)) {
		HASH_DEL(s->table, oldest);
		session_free(oldest);
	}
}

/* Open a session; copies its ID into id_out. 0 or -1 (full / OOM). */
static int session_open(struct uia_sessions *s, const char *purpose, const char *user_id,
                        const char *owner, char id_out[33])
{
	unsigned char raw[16];
	struct uia_session *e;
	int64_t now = time_mono_ms();
	int ret = -1;

	pthread_mutex_lock(&s->lock);
	owner_cap_locked(s, owner);
	if (HASH_COUNT(s->table) >= UIA_MAX_SESSIONS)
		expire_locked(s, now);
	if (HASH_COUNT(s->table) >= UIA_MAX_SESSIONS)
		goto out;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(e->id, sizeof(e->id), raw, sizeof(raw));
	snprintf(e->purpose, sizeof(e->purpose), "%s", purpose);
	e->user_id = str_dup(user_id);
	e->owner = strdup(owner);
	if (!e->owner || (user_id && !e->user_id)) {
		session_free(e);
		goto out;
	}
	e->expires_ms = now + UIA_SESSION_TTL_MS;
	HASH_ADD_STR(s->table, id, e);
	memcpy(id_out, e->id, 33);
	ret = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* The 401 body: flows, params, session, completed, and an optional error. */
static void respond_401(struct request *req, const char *session, enum uia_stage stage,
                        unsigned int completed, const char *errcode, const char *error)
{
	json_t *body = json_pack("{s:[{s:[s]}],s:{},s:s}", "flows", "stages",
	                         stage_name(stage), "params", "session", session);
	json_t *done = json_array();

	if (completed & stage)
		json_array_append_new(done, json_string(stage_name(stage)));
	json_object_set_new(body, "completed", done);
	if (errcode) {
		json_object_set_new(body, "errcode", json_string(errcode));
		json_object_set_new(body, "error", json_string(error));
	}
	res_json(req, 401, body);
}

/* Check the password stage; on failure sets the response. */
static bool password_stage_ok(struct request *req, json_t *auth, const char *user_id,
                              const char *session, enum uia_stage stage)
{
	struct app *app = APP(req);
	const char *given = NULL, *password = NULL;
	json_t *ident = json_object_get(auth, "identifier");
	char *uid;
	enum account_result ar;

	if (json_is_object(ident))
		given = json_string_value(json_object_get(ident, "user"));
	if (!given)
		given = json_string_value(json_object_get(auth, "user"));
	password = json_string_value(json_object_get(auth, "password"));
	if (!password) {
		res_error(req, 400, "M_BAD_JSON", "m.login.password needs a password");
		return false;
	}
	/* A password stage may only prove the identity of the caller. */
	uid = given ? account_user_id_parse(app->cfg, given) : str_dup(user_id);
	if (!uid || strcmp(uid, user_id) != 0) {
		free(uid);
		respond_401(req, session, stage, 0, "M_FORBIDDEN",
		            "You can only authenticate as yourself");
		return false;
	}
	free(uid);
	if (req_ratelimited(req, app->ratelimiter, "login-account", user_id,
	                    app->cfg->rate_login_per_account.per_second,
	                    app->cfg->rate_login_per_account.burst))
		return false;
	ar = account_verify_password(app->store, app->cfg, user_id, password);
	if (ar != ACCOUNT_OK) {
		respond_401(req, session, stage, 0, "M_FORBIDDEN", "Invalid password");
		return false;
	}
	return true;
}

/* Look the session up; true if it exists and belongs to this purpose/user. */
static bool session_matches(struct uia_sessions *s, const char *id, const char *purpose,
                            const char *user_id)
{
	struct uia_session *e;
	bool ok = false;

	pthread_mutex_lock(&s->lock);
	HASH_FIND_STR(s->table, id, e);
	if (e && e->expires_ms > time_mono_ms() && strcmp(e->purpose, purpose) == 0 &&
	    ((!user_id && !e->user_id) ||
	     (user_id && e->user_id && strcmp(user_id, e->user_id) == 0)))
		ok = true;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void session_close(struct uia_sessions *s, const char *id)
{
	struct uia_session *e;
	pthread_mutex_lock(&s->lock);
	HASH_FIND_STR(s->table, id, e);
	if (e) {
		HASH_DEL(s->table, e);
		session_free(e);
	}
	pthread_mutex_unlock(&s->lock);
}

int uia_require(struct request *req, json_t *body, const char *purpose,
                const char *user_id, enum uia_stage stage)
{
	struct app *app = APP(req);
	json_t *auth = json_object_get(body, "auth");
	const char *type, *session;
	char fresh[33], owner[300];

	snprintf(owner, sizeof(owner), "%s%s", user_id ? "" : "ip:",
	         user_id ? user_id : req->client_ip);

	if (!auth || json_is_null(auth) ||
	    (json_is_object(auth) && !json_object_get(auth, "type"))) {
		/* First contact (or a session-only auth dict): offer the flow. */
		if (session_open(app->uia, purpose, user_id, owner, fresh) != 0) {
			res_error(req, 429, "M_LIMIT_EXCEEDED", "Too many authentication sessions");
			return -1;
		}
		respond_401(req, fresh, stage, 0, NULL, NULL);
		return -1;
	}
	if (!json_is_object(auth)) {
		res_error(req, 400, "M_BAD_JSON", "auth must be an object");
		return -1;
	}
	type = json_string_value(json_object_get(auth, "type"));
	session = json_string_value(json_object_get(auth, "session"));
	if (!type) {
		res_error(req, 400, "M_BAD_JSON", "auth.type must be a string");
		return -1;
	}
	if (session && !session_matches(app->uia, session, purpose, user_id)) {
		res_error(req, 400, "M_UNKNOWN", "Unknown or expired authentication session");
		return -1;
	}
	if (!session) {
		if (session_open(app->uia, purpose, user_id, owner, fresh) != 0) {
			res_error(req, 429, "M_LIMIT_EXCEEDED", "Too many authentication sessions");
			return -1;
		}
		session = fresh;
	}
	if (strcmp(type, stage_name(stage)) != 0) {
		respond_401(req, session, stage, 0, "M_UNRECOGNIZED",
		            "Authentication type not offered for this request");
		return -1;
	}
	if (stage == UIA_PASSWORD && !password_stage_ok(req, auth, user_id, session, stage))
		return -1;
	/* The one stage of the one flow is done: the flow is complete, and
	 * the session is consumed so it cannot authorise a second request. */
	session_close(app->uia, session);
	return 0;
}
