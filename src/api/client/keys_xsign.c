/* keys_xsign.c: cross-signing (cross_signing.yaml; client-server-api
 * "Cross-signing"): POST /keys/device_signing/upload and POST
 * /keys/signatures/upload.
 *
 * Uploading keys when the user has none needs no UIA (a new account's
 * client sets cross-signing up right away, as Synapse allows); replacing
 * existing keys needs m.login.password UIA, except a re-upload of exactly
 * the stored keys. The store refuses a "first" upload that lost a race
 * with another (only_if_no_master), so UIA cannot be skipped twice.
 *
 * A signature is stored only after it verifies: a device of the user
 * signed by their self-signing key, the user's master key signed by one
 * of their devices, another user's master key signed by the uploader's
 * user-signing key. Anything else is reported in failures. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/keys_internal.h"
#include "api/client/keys_verify.h"
#include "api/client/uia.h"
#include "json/canonical.h"
#include "json/sign.h"
#include "store/store.h"
#include "util/ids.h"

#define KEYS_SIG_UPLOAD_MAX 100   /* signed objects in one signatures upload */

static const char *const xsign_field[STORE_XSIGN_COUNT] = {
	[STORE_XSIGN_MASTER] = "master_key",
	[STORE_XSIGN_SELF_SIGNING] = "self_signing_key",
	[STORE_XSIGN_USER_SIGNING] = "user_signing_key",
};
static const char *const xsign_usage[STORE_XSIGN_COUNT] = {
	[STORE_XSIGN_MASTER] = "master",
	[STORE_XSIGN_SELF_SIGNING] = "self_signing",
	[STORE_XSIGN_USER_SIGNING] = "user_signing",
};

struct xsign_upload {
	char *json[STORE_XSIGN_COUNT];
	char *pub[STORE_XSIGN_COUNT];
};

static void xsign_upload_free(struct xsign_upload *u)
{
	for (int i = 0; i < STORE_XSIGN_COUNT; i++) {
		free(u->json[i]);
		free(u->pub[i]);
	}
}

/* Check each key present; the subkeys must be signed by the master key
 * (the one uploaded with them, else the stored one). 0, or -1 with the
 * response set. */
static int xsign_parse(struct request *req, json_t *body, const struct store_cross_signing *cur,
                       struct xsign_upload *u)
{
	const char *user = req->auth.user_id, *master;
	char err[256];
	int n = 0;

	for (int i = 0; i < STORE_XSIGN_COUNT; i++) {
		json_t *k = json_object_get(body, xsign_field[i]);
		if (!k)
			continue;
		if (keys_cross_signing_key_check(k, user, xsign_usage[i], &u->pub[i], &u->json[i],
		                                 err, sizeof(err)) != 0) {
			res_error(req, 400, "M_INVALID_PARAM", "Invalid %s: %s", xsign_field[i], err);
			return -1;
		}
		n++;
	}
	if (n == 0) {
		res_error(req, 400, "M_MISSING_PARAM", "No cross-signing key given");
		return -1;
	}
	master = u->pub[STORE_XSIGN_MASTER] ? u->pub[STORE_XSIGN_MASTER] :
	                                     cur->public_key[STORE_XSIGN_MASTER];
	if (!master) {
		res_error(req, 400, "M_MISSING_PARAM", "A master key is needed first");
		return -1;
	}
	for (int i = STORE_XSIGN_SELF_SIGNING; i < STORE_XSIGN_COUNT; i++) {
		json_t *k = json_object_get(body, xsign_field[i]);
		if (k && !keys_signed_by(k, user, master, master)) {
			res_error(req, 400, "M_INVALID_SIGNATURE", "%s is not signed by the master key",
			          xsign_field[i]);
			return -1;
		}
	}
	return 0;
}

/* Every key given is already stored as it is. */
static bool xsign_same_as_stored(const struct xsign_upload *u, const struct store_cross_signing *c)
{
	for (int i = 0; i < STORE_XSIGN_COUNT; i++)
		if (u->json[i] && (!c->json[i] || strcmp(u->json[i], c->json[i]) != 0))
			return false;
	return true;
}

void api_keys_device_signing_upload(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false);
	struct store_cross_signing cur = { 0 };
	struct xsign_upload u = { 0 };
	bool first;
	enum store_result r;
	int64_t pos;

	if (!body)
		return;
	if (store_cross_signing_get(app->store, req->auth.user_id, &cur) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the keys");
		return;
	}
	if (xsign_parse(req, body, &cur, &u) != 0)
		goto out;
	first = cur.json[STORE_XSIGN_MASTER] == NULL;
	if (!first && xsign_same_as_stored(&u, &cur)) {
		res_json(req, 200, NULL);
		goto out;
	}
	if (!first && uia_require(req, body, "device_signing", req->auth.user_id,
	                          UIA_PASSWORD) != 0)
		goto out;
	r = store_cross_signing_put(app->store, req->auth.user_id,
	                            (const char *const *)u.json, (const char *const *)u.pub, first,
	                            &pos);
	if (r == STORE_CONFLICT) {
		/* another upload set a master key meanwhile: replacing it needs
		 * UIA, so offer it (a body without auth opens a session) */
		json_t *no_auth = json_object();
		if (no_auth)
			uia_require(req, no_auth, "device_signing", req->auth.user_id, UIA_PASSWORD);
		else
			res_error(req, 500, "M_UNKNOWN", "Out of memory");
		json_decref(no_auth);
		goto out;
	}
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not store the keys");
		goto out;
	}
	keys_notify_change(app, req->auth.user_id);
	res_json(req, 200, NULL);
out:
	xsign_upload_free(&u);
	store_cross_signing_clear(&cur);
}

/* ---- POST /keys/signatures/upload -------------------------------------- */

/* obj equals stored (canonical JSON, both without signatures/unsigned). */
static bool xsign_same_object(const json_t *obj, const char *stored)
{
	json_t *a = json_deep_copy(obj), *b = json_loads(stored, 0, NULL);
	char *ta = NULL, *tb = NULL;
	bool same = false;

	if (a && b) {
		json_object_del(a, "signatures");
		json_object_del(a, "unsigned");
		json_object_del(b, "signatures");
		json_object_del(b, "unsigned");
		ta = cjson_check(a) == 0 ? cjson_encode(a, NULL) : NULL;
		tb = cjson_check(b) == 0 ? cjson_encode(b, NULL) : NULL;
		same = ta && tb && strcmp(ta, tb) == 0;
	}
	free(ta);
	free(tb);
	json_decref(a);
	json_decref(b);
	return same;
}

struct sig_ctx {
	struct app *app;
	const char *me;
	struct store_cross_signing mine;   /* the uploader's cross-signing keys */
	json_t *failures;
};

static void sig_fail(struct sig_ctx *c, const char *user, const char *key_id,
                     const char *errcode, const char *msg)
{
	json_t *u = json_object_get(c->failures, user);

	if (!u) {
		u = json_object();
		json_object_set_new(c->failures, user, u);
	}
	json_object_set_new(u, key_id, json_pack("{s:s,s:s}", "errcode", errcode, "error", msg));
}

/* Store signatures[me][signer_key] of obj as a signature of target. */
static void sig_store(struct sig_ctx *c, const json_t *obj, const char *target_user,
                      const char *target_key_id, const char *signer_pub)
{
	char key_id[STORE_KEY_ID_MAX + 16];
	const json_t *s;
	struct store_key_signature sig;
	int64_t pos;

	snprintf(key_id, sizeof(key_id), "ed25519:%s", signer_pub);
	s = json_object_get(json_object_get(json_object_get(obj, "signatures"), c->me), key_id);
	sig = (struct store_key_signature){ (char *)target_key_id, (char *)c->me, key_id,
	                                    (char *)json_string_value(s) };
	if (store_key_signatures_add(c->app->store, target_user, &sig, 1, &pos) != STORE_OK)
		sig_fail(c, target_user, target_key_id, "M_UNKNOWN", "Could not store the signature");
	else
		keys_notify_change(c->app, target_user);
}

/* One of my devices, signed by my self-signing key. */
static void sig_own_device(struct sig_ctx *c, const char *device_id, const json_t *obj)
{
	struct store_device_keys_list l = { 0 };
	const char *ssk = c->mine.public_key[STORE_XSIGN_SELF_SIGNING];

	if (store_device_keys_get(c->app->store, c->me, device_id, &l) != STORE_OK || l.n != 1)
		sig_fail(c, c->me, device_id, "M_NOT_FOUND", "No such device keys");
	else if (!xsign_same_object(obj, l.items[0].json))
		sig_fail(c, c->me, device_id, "M_INVALID_PARAM", "The object is not the device's keys");
	else if (!ssk || !keys_signed_by(obj, c->me, ssk, ssk))
		sig_fail(c, c->me, device_id, "M_INVALID_SIGNATURE",
		         "Not signed by the self-signing key");
	else
		sig_store(c, obj, c->me, device_id, ssk);
	store_device_keys_list_clear(&l);
}

/* My master key, signed by one of my devices (each device signature that
 * verifies is stored). */
static void sig_own_master(struct sig_ctx *c, const char *key_id, const json_t *obj)
{
	const json_t *mine = json_object_get(json_object_get(obj, "signatures"), c->me);
	const char *name;
	json_t *v;
	bool any = false;

	if (!xsign_same_object(obj, c->mine.json[STORE_XSIGN_MASTER])) {
		sig_fail(c, c->me, key_id, "M_INVALID_PARAM", "The object is not the master key");
		return;
	}
	json_object_foreach((json_t *)mine, name, v) {
		struct store_key_signature sig = { (char *)key_id, (char *)c->me, (char *)name,
		                                   (char *)json_string_value(v) };
		unsigned char pk[32];
		int64_t pos;
		/* the master key's self-signature is in the key itself, not here */
		if (strncmp(name, "ed25519:", 8) != 0 || strcmp(name + 8, key_id) == 0 ||
		    keys_stored_device_ed25519(c->app, c->me, name + 8, pk) != 0 ||
		    json_verify(obj, c->me, name, pk) != 0)
			continue;
		if (store_key_signatures_add(c->app->store, c->me, &sig, 1, &pos) == STORE_OK)
			any = true;
	}
	if (!any)
		sig_fail(c, c->me, key_id, "M_INVALID_SIGNATURE", "Not signed by any of the devices");
	else
		keys_notify_change(c->app, c->me);
}

/* Another user's master key, signed by my user-signing key. */
static void sig_other_master(struct sig_ctx *c, const char *user, const char *key_id,
                             const json_t *obj)
{
	struct store_cross_signing theirs = { 0 };
	const char *usk = c->mine.public_key[STORE_XSIGN_USER_SIGNING];

	if (store_cross_signing_get(c->app->store, user, &theirs) != STORE_OK ||
	    !theirs.public_key[STORE_XSIGN_MASTER] ||
	    strcmp(theirs.public_key[STORE_XSIGN_MASTER], key_id) != 0)
		sig_fail(c, user, key_id, "M_NOT_FOUND", "Not the user's master key");
	else if (!xsign_same_object(obj, theirs.json[STORE_XSIGN_MASTER]))
		sig_fail(c, user, key_id, "M_INVALID_PARAM", "The object is not the master key");
	else if (!usk || !keys_signed_by(obj, c->me, usk, usk))
		sig_fail(c, user, key_id, "M_INVALID_SIGNATURE", "Not signed by the user-signing key");
	else
		sig_store(c, obj, user, key_id, usk);
	store_cross_signing_clear(&theirs);
}

void api_keys_signatures_upload(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false), *keys, *obj;
	struct sig_ctx c = { .app = app, .me = req->auth.user_id };
	const char *user, *key_id;
	size_t n = 0;

	if (!body)
		return;
	json_object_foreach(body, user, keys) {
		if (!json_is_object(keys)) {
			res_error(req, 400, "M_BAD_JSON", "Each user maps key IDs to signed objects");
			return;
		}
		n += json_object_size(keys);
	}
	if (n > KEYS_SIG_UPLOAD_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "At most %d signed objects in one upload",
		          KEYS_SIG_UPLOAD_MAX);
		return;
	}
	if (!(c.failures = json_object()) ||
	    store_cross_signing_get(app->store, c.me, &c.mine) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the keys");
		json_decref(c.failures);
		return;
	}
	json_object_foreach(body, user, keys) {
		json_object_foreach(keys, key_id, obj) {
			if (!json_is_object(obj) || strlen(key_id) > STORE_KEY_ID_MAX ||
			    !id_user_valid(user))
				sig_fail(&c, user, key_id, "M_BAD_JSON", "Not a signed object of a user");
			else if (strcmp(user, c.me) != 0)
				sig_other_master(&c, user, key_id, obj);
			else if (c.mine.public_key[STORE_XSIGN_MASTER] &&
			         strcmp(key_id, c.mine.public_key[STORE_XSIGN_MASTER]) == 0)
				sig_own_master(&c, key_id, obj);
			else
				sig_own_device(&c, key_id, obj);
		}
	}
	res_json(req, 200, json_pack("{s:o}", "failures", c.failures));
	store_cross_signing_clear(&c.mine);
}
