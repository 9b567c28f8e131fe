/* register.c: client-server-api "Account registration" (registration.yaml)
 * and Synapse's shared-secret registration (/_synapse/admin/v1/register),
 * which admin tooling and the benchmarks use to create accounts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <sodium.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/uia.h"
#include "config/config.h"
#include "http/ratelimit.h"
#include "security/accounts.h"
#include "security/nonces.h"
#include "util/ids.h"
#include "util/str.h"
#include "util/timeutil.h"

static void account_error(struct request *req, enum account_result ar)
{
	static const char *messages[] = {
		[ACCOUNT_INVALID_USERNAME] = "User ID may only contain a-z, 0-9, '.', '_', '=', '-', '/', '+' and must not be all digits",
		[ACCOUNT_IN_USE] = "User ID already taken",
		[ACCOUNT_WEAK_PASSWORD] = "Password too short or too long",
	};
	const char *msg = (ar < sizeof(messages) / sizeof(messages[0]) && messages[ar])
	                  ? messages[ar] : "Internal error";
	res_error(req, ar == ACCOUNT_ERROR ? 500 : 400, account_errcode(ar), "%s", msg);
}

/* A localpart for a registration that gave none. */
static void localpart_generate(char out[16])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	out[0] = 'u';
	for (int i = 1; i < 15; i++)
		out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	out[15] = '\0';
}

struct register_params {
	const char *username, *password, *device_id, *display;
	bool inhibit_login, want_refresh;
};

static int register_parse(struct request *req, json_t *body, struct register_params *p)
{
	const char *kind = req_query(req, "kind");

	if (kind && strcmp(kind, "user") != 0) {
		res_error(req, 403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled");
		return -1;
	}
	if (req_get_string(req, body, "username", false, &p->username) != 0 ||
	    req_get_string(req, body, "password", false, &p->password) != 0 ||
	    req_get_string(req, body, "device_id", false, &p->device_id) != 0 ||
	    req_get_string(req, body, "initial_device_display_name", false, &p->display) != 0 ||
	    req_get_bool(req, body, "inhibit_login", &p->inhibit_login) != 0 ||
	    req_get_bool(req, body, "refresh_token", &p->want_refresh) != 0)
		return -1;
	if (p->device_id && !id_opaque_valid(p->device_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid device_id");
		return -1;
	}
	return 0;
}

void api_register(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, true), *out;
	struct register_params p = { 0 };
	char generated[16];
	char *uid = NULL;
	enum account_result ar;

	if (!body || register_parse(req, body, &p) != 0)
		return;
	if (app->cfg->registration != CONFIG_REGISTRATION_OPEN) {
		res_error(req, 403, "M_FORBIDDEN", "Registration has been disabled");
		return;
	}
	if (!p.username) {
		localpart_generate(generated);
		p.username = generated;
	}
	/* Refuse a bad name or password before any UIA round trip, as
	 * Synapse does, so clients can tell the user at once. */
	ar = account_check_new(app->store, app->cfg, p.username, &uid);
	free(uid);
	uid = NULL;
	if (ar == ACCOUNT_OK && p.password)
		ar = account_check_password_policy(app->cfg, p.password);
	if (ar != ACCOUNT_OK) {
		account_error(req, ar);
		return;
	}
	if (uia_require(req, body, "register", NULL, UIA_DUMMY) != 0)
		return;
	if (!p.password) {
		res_error(req, 400, "M_MISSING_PARAM", "Missing parameter: password");
		return;
	}
	if (req_ratelimited(req, app->ratelimiter, "register-ip", req->client_ip,
	                    app->cfg->rate_register_per_ip.per_second,
	                    app->cfg->rate_register_per_ip.burst))
		return;
	ar = account_create(app->store, app->cfg, p.username, p.password, NULL, false, &uid);
	if (ar != ACCOUNT_OK) {
		account_error(req, ar);
		return;
	}
	out = json_pack("{s:s,s:s}", "user_id", uid, "home_server", app->cfg->server_name);
	if (!p.inhibit_login &&
	    api_session_issue(req, uid, p.device_id, p.display, p.want_refresh, out) != 0) {
		json_decref(out);
		free(uid);
		return;
	}
	res_json(req, 200, out);
	free(uid);
}

void api_register_available(struct request *req)
{
	struct app *app = APP(req);
	const char *username = req_query(req, "username");
	char *uid = NULL;
	enum account_result ar;

	if (!username) {
		res_error(req, 400, "M_MISSING_PARAM", "Missing parameter: username");
		return;
	}
	ar = account_check_new(app->store, app->cfg, username, &uid);
	free(uid);
	if (ar != ACCOUNT_OK)
		account_error(req, ar);
	else
		res_json(req, 200, json_pack("{s:b}", "available", 1));
}

/* ---- shared-secret registration (Synapse admin API) ----------------- */

static bool shared_secret_enabled(struct request *req)
{
	const char *secret = APP(req)->cfg->registration_shared_secret;
	if (secret && *secret)
		return true;
	res_error(req, 400, "M_UNKNOWN", "Shared secret registration is not enabled");
	return false;
}

void api_admin_register_nonce(struct request *req)
{
	char nonce[NONCE_LEN + 1];

	if (!shared_secret_enabled(req))
		return;
	if (nonces_issue(APP(req)->reg_nonces, nonce, time_mono_ms()) != 0) {
		res_error(req, 429, "M_LIMIT_EXCEEDED", "Too many outstanding nonces");
		return;
	}
	res_json(req, 200, json_pack("{s:s}", "nonce", nonce));
}

/* hex HMAC-SHA1(secret, nonce \0 username \0 password \0 admin|notadmin) */
static bool admin_mac_ok(const char *secret, const char *nonce, const char *user,
                         const char *password, bool admin, const char *mac_hex)
{
	size_t ln = strlen(nonce), lu = strlen(user), lp = strlen(password);
	const char *flag = admin ? "admin" : "notadmin";
	size_t total = ln + lu + lp + strlen(flag) + 3;
	unsigned char digest[20];
	char hex[41];
	char *msg = malloc(total);
	bool ok = false;

	if (!msg)
		return false;
	memcpy(msg, nonce, ln + 1);
	memcpy(msg + ln + 1, user, lu + 1);
	memcpy(msg + ln + lu + 2, password, lp + 1);
	memcpy(msg + ln + lu + lp + 3, flag, strlen(flag));
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA1, secret, strlen(secret), msg, total, digest) == 0) {
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		ok = strlen(mac_hex) == 40 && sodium_memcmp(hex, mac_hex, 40) == 0;
	}
	sodium_memzero(msg, total);
	free(msg);
	return ok;
}

void api_admin_register(struct request *req)
{
	struct app *app = APP(req);
	json_t *body, *out;
	const char *nonce = NULL, *user = NULL, *password = NULL, *mac = NULL, *display = NULL;
	bool admin = false;
	char *uid = NULL;
	enum account_result ar;

	if (!shared_secret_enabled(req) || !(body = req_json_object(req, false)))
		return;
	if (req_get_string(req, body, "nonce", true, &nonce) != 0 ||
	    req_get_string(req, body, "username", true, &user) != 0 ||
	    req_get_string(req, body, "password", true, &password) != 0 ||
	    req_get_string(req, body, "mac", true, &mac) != 0 ||
	    req_get_string(req, body, "displayname", false, &display) != 0 ||
	    req_get_bool(req, body, "admin", &admin) != 0)
		return;
	if (!nonces_consume(app->reg_nonces, nonce, time_mono_ms())) {
		res_error(req, 400, "M_UNKNOWN", "Unrecognised nonce");
		return;
	}
	if (!admin_mac_ok(app->cfg->registration_shared_secret, nonce, user, password, admin,
	                  mac)) {
		res_error(req, 403, "M_FORBIDDEN", "HMAC incorrect");
		return;
	}
	ar = account_create(app->store, app->cfg, user, password, display, admin, &uid);
	if (ar != ACCOUNT_OK) {
		account_error(req, ar);
		return;
	}
	out = json_object();
	if (api_session_issue(req, uid, NULL, NULL, false, out) != 0) {
		json_decref(out);
	} else {
		res_json(req, 200, out);
	}
	free(uid);
}
