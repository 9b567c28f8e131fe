/* login.c: client-server-api "Login", "Logout", "Refreshing access tokens"
 * (data/api/client-server/login.yaml, logout.yaml, refresh.yaml). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/server_notices.h"
#include "config/config.h"
#include "http/ratelimit.h"
#include "security/accounts.h"
#include "security/detect_actions.h"
#include "security/secrets.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/timeutil.h"

void api_login_flows(struct request *req)
{
	/* nheko hides its password field unless m.login.password is listed. */
	res_json(req, 200, json_pack("{s:[{s:s}]}", "flows", "type", "m.login.password"));
}

/* Which user the body names: identifier {type m.id.user, user} or the
 * deprecated top-level "user". NULL with the response set on error. */
static char *login_user_of(struct request *req, json_t *body)
{
	json_t *ident = json_object_get(body, "identifier");
	const char *user = NULL;
	char *uid;

	if (ident && !json_is_null(ident)) {
		const char *type;
		if (!json_is_object(ident)) {
			res_error(req, 400, "M_BAD_JSON", "identifier must be an object");
			return NULL;
		}
		type = json_string_value(json_object_get(ident, "type"));
		if (!type || strcmp(type, "m.id.user") != 0) {
			res_error(req, 400, "M_UNKNOWN", "Only m.id.user identifiers are supported");
			return NULL;
		}
		if (req_get_string(req, ident, "user", true, &user) != 0)
			return NULL;
	} else if (req_get_string(req, body, "user", true, &user) != 0) {
		return NULL;
	}
	uid = account_user_id_parse(APP(req)->cfg, user);
	if (!uid)
		res_error(req, 403, "M_FORBIDDEN", "Invalid username or password");
	return uid;
}

/* Login attempts are limited per client IP and per account (Synapse's
 * rc_login.address and rc_login.account); the IP bucket is checked before
 * the body names an account, the account bucket after. */
static bool login_ratelimited(struct request *req, const char *prefix, const char *id,
                              const struct config_rate *rate)
{
	return req_ratelimited(req, APP(req)->ratelimiter, prefix, id, rate->per_second,
	                       rate->burst);
}

/* incident response: does this login create a device (no device_id, or
 * one the account does not have)? Then its other sessions get a notice. */
static bool login_device_is_new(struct app *app, const char *uid, const char *device_id)
{
	struct store_device d = { 0 };
	enum store_result r;

	if (!device_id)
		return true;
	r = store_device_get(app->store, uid, device_id, &d);
	store_device_clear(&d);
	return r == STORE_NOT_FOUND;
}

void api_login(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false), *out;
	const char *type = NULL, *password = NULL, *device_id = NULL, *display = NULL;
	bool want_refresh = false, new_device;
	char *uid = NULL;
	enum account_result ar;

	if (!body || req_get_string(req, body, "type", true, &type) != 0)
		return;
	if (strcmp(type, "m.login.password") != 0) {
		res_error(req, 400, "M_UNKNOWN", "Unknown login type %s", type);
		return;
	}
	if (req_get_string(req, body, "password", true, &password) != 0 ||
	    req_get_string(req, body, "device_id", false, &device_id) != 0 ||
	    req_get_string(req, body, "initial_device_display_name", false, &display) != 0 ||
	    req_get_bool(req, body, "refresh_token", &want_refresh) != 0)
		return;
	if (device_id && !id_opaque_valid(device_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid device_id");
		return;
	}
	if (login_ratelimited(req, "login-ip", req->client_ip, &app->cfg->rate_login_per_ip))
		return;
	uid = login_user_of(req, body);
	if (!uid || login_ratelimited(req, "login-account", uid,
	                              &app->cfg->rate_login_per_account))
		goto out;
	ar = account_verify_password(app->store, app->cfg, uid, password);
	if (ar == ACCOUNT_LOCKED) {
		res_error_extra(req, 401, "M_USER_LOCKED", "This account has been locked",
		                json_pack("{s:b}", "soft_logout", 0));
		goto out;
	}
	if (ar != ACCOUNT_OK) {
		res_error(req, ar == ACCOUNT_ERROR ? 500 : 403, account_errcode(ar),
		          ar == ACCOUNT_DEACTIVATED ? "This account has been deactivated"
		                                    : "Invalid username or password");
		goto out;
	}
	new_device = login_device_is_new(app, uid, device_id);
	if (new_device)   /* scraper detection: a new device from a new IP? */
		detect_login_observe(app, uid, req->client_ip);
	out = json_object();
	if (api_session_issue(req, uid, device_id, display, want_refresh, out) != 0) {
		json_decref(out);
		goto out;
	}
	/* incident response: a new device tells the account's other sessions */
	if (new_device)
		server_notice_new_login(app, uid, json_string_value(json_object_get(out, "device_id")),
		                        display, req->client_ip);
	res_json(req, 200, out);
out:
	free(uid);
}

void api_logout(struct request *req)
{
	/* logout.yaml: the token is invalidated and its device deleted. */
	struct app *app = APP(req);
	enum store_result r = store_device_delete(app->store, req->auth.user_id,
	                                          req->auth.device_id);
	if (r == STORE_ERROR) {
		res_error(req, 500, "M_UNKNOWN", "Could not log out");
		return;
	}
	api_sessions_revoked(req, req->auth.user_id);
	res_json(req, 200, NULL);
}

void api_logout_all(struct request *req)
{
	struct app *app = APP(req);
	if (store_devices_delete_all(app->store, req->auth.user_id, NULL) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not log out");
		return;
	}
	api_sessions_revoked(req, req->auth.user_id);
	res_json(req, 200, NULL);
}

void api_refresh(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false);
	const char *old = NULL;
	unsigned char old_hash[SECRET_TOKEN_HASH_LEN];
	struct store_session_new s = { 0 };
	char access[SECRET_TOKEN_MAX_LEN], refresh[SECRET_TOKEN_MAX_LEN];
	char *uid = NULL, *dev = NULL;
	int64_t now = time_now_ms();
	enum store_result r;

	if (!body || req_get_string(req, body, "refresh_token", true, &old) != 0)
		return;
	if (secret_token_hash(old, old_hash) != 0 ||
	    secret_token_new("syt", access, s.access_hash) != 0 ||
	    secret_token_new("syr", refresh, s.refresh_hash) != 0) {
		res_error(req, 401, "M_UNKNOWN_TOKEN", "Unknown refresh token");
		return;
	}
	s.with_refresh = true;
	s.now_ms = now;
	s.access_expires_ts = now + (int64_t)app->cfg->access_token_lifetime_ms;
	if (app->cfg->refresh_token_lifetime_ms)
		s.refresh_expires_ts = now + (int64_t)app->cfg->refresh_token_lifetime_ms;
	r = store_refresh_rotate(app->store, old_hash, &s, &uid, &dev);
	if (r == STORE_NOT_FOUND) {
		res_error(req, 401, "M_UNKNOWN_TOKEN", "Unknown, used or expired refresh token");
	} else if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not refresh");
	} else {
		res_json(req, 200, json_pack("{s:s,s:s,s:I}", "access_token", access,
		                             "refresh_token", refresh, "expires_in_ms",
		                             (json_int_t)app->cfg->access_token_lifetime_ms));
	}
	free(uid);
	free(dev);
}
