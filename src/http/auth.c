#include "http/auth.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "security/detect.h"
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

/* ---- last seen (admin whois, device lists) ----------------------------
 * devices.last_seen_* are written through store_device_touch, a write
 * through the store's writer: at most once a minute per device, or sooner
 * when the device shows up with another IP or user agent. The table is
 * fixed-size and keyed by a hash of (user, device): a collision only
 * costs an early write, never a missed one, and memory stays bounded
 * whatever the number of devices. */
#define AUTH_TOUCH_SLOTS 4096
#define AUTH_TOUCH_INTERVAL_MS 60000
#define AUTH_TOUCH_UA_MAX 512

struct auth_touch_slot {
	uint64_t device_hash;
	uint64_t seen_hash;      /* of (IP, user agent) last written */
	int64_t written_ms;
};

static struct auth_touch_slot auth_touch_slots[AUTH_TOUCH_SLOTS];
static pthread_mutex_t auth_touch_lock = PTHREAD_MUTEX_INITIALIZER;

/* FNV-1a over the strings, each with its terminating NUL. */
static uint64_t auth_hash(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	const char *parts[2] = { a ? a : "", b ? b : "" };

	for (size_t i = 0; i < 2; i++) {
		const unsigned char *p = (const unsigned char *)parts[i];
		do {
			h ^= *p;
			h *= 1099511628211ULL;
		} while (*p++);
	}
	return h;
}

static bool auth_touch_due(const char *user_id, const char *device_id, const char *ip,
                           const char *ua, int64_t now)
{
	uint64_t dh = auth_hash(user_id, device_id), sh = auth_hash(ip, ua);
	struct auth_touch_slot *slot = &auth_touch_slots[dh % AUTH_TOUCH_SLOTS];
	bool due;

	pthread_mutex_lock(&auth_touch_lock);
	due = slot->device_hash != dh || slot->seen_hash != sh ||
	      now - slot->written_ms >= AUTH_TOUCH_INTERVAL_MS;
	if (due) {
		slot->device_hash = dh;
		slot->seen_hash = sh;
		slot->written_ms = now;
	}
	pthread_mutex_unlock(&auth_touch_lock);
	return due;
}

static void auth_touch(struct request *req, struct store *st)
{
	char ua[AUTH_TOUCH_UA_MAX + 1] = "";
	int64_t now = time_now_ms();

	/* A longer user agent is cut: it is shown to admins, not parsed. */
	if (req->user_agent)
		snprintf(ua, sizeof(ua), "%s", req->user_agent);
	if (!auth_touch_due(req->auth.user_id, req->auth.device_id, req->client_ip, ua, now))
		return;
	/* Best effort: a failed write is logged by the store and retried at
	 * the next interval; it never fails the request. */
	(void)store_device_touch(st, req->auth.user_id, req->auth.device_id, req->client_ip,
	                         req->user_agent ? ua : NULL, now);
}

/* scraper detection (security/detect.h): an account a rule throttled is
 * refused every read (rows not marked as writes: /sync, /messages, media,
 * directory...) until its cool-down ends; writes and logout still work. */
static bool auth_throttled(struct request *req)
{
	int64_t retry_ms = 0;
	char secs[24];

	if (!req->route || req->route->moderation != MOD_ANY ||
	    !detect_throttled(req->auth.user_id, &retry_ms))
		return false;
	/* client-server-api "Rate limiting": 429 M_LIMIT_EXCEEDED, and
	 * "Homeservers SHOULD include a Retry-After header" */
	snprintf(secs, sizeof(secs), "%lld", (long long)((retry_ms + 999) / 1000));
	res_header(req, "Retry-After", secs);
	res_error_extra(req, 429, "M_LIMIT_EXCEEDED", "Too many reads: slow down",
	                json_pack("{s:I}", "retry_after_ms", (json_int_t)retry_ms));
	return true;
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
	if (info.locked && !(req->route && req->route->moderation == MOD_LOCK_EXEMPT)) {
		/* client-server-api "Account locking": 401 M_USER_LOCKED, soft_logout,
		 * "on all but" POST /logout and /logout/all (MOD_LOCK_EXEMPT rows). */
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
	if (req->client_ip)
		auth_touch(req, st);
	if (level == AUTH_ADMIN && !req->auth.admin) {
		res_error(req, 403, "M_FORBIDDEN", "You are not a server admin");
		return -1;
	}
	if (req->auth.suspended && req->route && req->route->moderation == MOD_WRITE) {
		/* client-server-api "Account suspension": "the server MUST respond
		 * with a 403 Forbidden error response with M_USER_SUSPENDED". */
		res_error(req, 403, "M_USER_SUSPENDED",
		          "You cannot perform this action while suspended.");
		return -1;
	}
	if (auth_throttled(req))
		return -1;
	return 0;
}
