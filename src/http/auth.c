#include "http/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "security/secrets.h"
#include "store/store.h"
#include "util/timeutil.h"

static const char *token_of(struct request *req)
{
	const char *h = req_header(req, "Authorization");

	if (h) {
		if (strncasecmp(h, "Bearer ", 7) == 0) {
			h += 7;
			while (*h == ' ')
				h++;
			return *h ? h : NULL;
		}
		return NULL;
	}
	/* Deprecated by the spec but still sent by older clients (nio 0.20). */
	return req_query(req, "access_token");
}

static int refuse_unknown(struct request *req, bool soft_logout)
{
	json_t *extra = soft_logout ? json_pack("{s:b}", "soft_logout", 1) : NULL;
	res_error_extra(req, 401, "M_UNKNOWN_TOKEN",
	                soft_logout ? "Access token has expired" : "Unrecognised access token",
	                extra);
	return -1;
}

int http_authenticate(struct request *req, struct store *st, enum route_auth level)
{
	unsigned char hash[SECRET_TOKEN_HASH_LEN];
	struct store_token_info info = { 0 };
	enum store_result r;
	const char *token;

	if (level == AUTH_NONE)
		return 0;
	token = token_of(req);
	req->access_token = token;
	if (!token) {
		if (level == AUTH_OPTIONAL)
			return 0;
		res_error(req, 401, "M_MISSING_TOKEN", "Missing access token");
		return -1;
	}
	if (secret_token_hash(token, hash) != 0)
		return refuse_unknown(req, false);
	r = store_access_token_lookup(st, hash, &info);
	if (r == STORE_NOT_FOUND)
		return refuse_unknown(req, false);
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Internal error");
		return -1;
	}
	if (info.deactivated) {
		store_token_info_clear(&info);
		return refuse_unknown(req, false);
	}
	if (info.expires_ts && info.expires_ts <= time_now_ms()) {
		store_token_info_clear(&info);
		return refuse_unknown(req, true);
	}
	if (info.locked) {
		/* client-server-api "Account locking": 401 M_USER_LOCKED, soft_logout. */
		store_token_info_clear(&info);
		res_error_extra(req, 401, "M_USER_LOCKED", "This account has been locked",
		                json_pack("{s:b}", "soft_logout", 1));
		return -1;
	}
	req->auth.present = true;
	req->auth.user_id = info.user_id;
	req->auth.device_id = info.device_id;
	req->auth.admin = info.admin;
	req->auth.suspended = info.suspended;
	info.user_id = info.device_id = NULL;
	store_token_info_clear(&info);
	if (level == AUTH_ADMIN && !req->auth.admin) {
		res_error(req, 403, "M_FORBIDDEN", "You are not a server admin");
		return -1;
	}
	return 0;
}
