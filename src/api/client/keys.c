/* keys.c: client-server-api "End-to-End Encryption" key distribution
 * (keys.yaml): POST /keys/upload, POST /keys/claim, GET /keys/changes,
 * and what the key handlers share (keys_internal.h). /keys/query is in
 * keys_query.c, cross-signing in keys_xsign.c, /sync in sync_keys.c. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/keys_internal.h"
#include "api/client/keys_verify.h"
#include "config/config.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "sync/token.h"
#include "util/ids.h"

/* ---- shared ------------------------------------------------------------ */

static bool keys_membership_shares(const char *m)
{
	return strcmp(m, "join") == 0 || strcmp(m, "invite") == 0;
}

json_t *keys_shared_users(struct app *app, const char *user_id)
{
	json_t *set = json_object();
	char **users = NULL;
	size_t n = 0;

	if (set == NULL || store_keys_shared_users(app->store, user_id, &users, &n) != STORE_OK) {
		json_decref(set);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		json_object_set_new(set, users[i], json_true());
	store_room_ids_free(users, n);
	return set;
}

void keys_notify_change(struct app *app, const char *user_id)
{
	struct store_membership_list ms = { 0 };
	const char **rooms = NULL;
	size_t n = 0;

	if (store_user_memberships(app->store, user_id, &ms) == STORE_OK && ms.n > 0)
		rooms = calloc(ms.n, sizeof(*rooms));
	for (size_t i = 0; rooms != NULL && i < ms.n && n < KEYS_ROOMS_MAX; i++)
		if (keys_membership_shares(ms.items[i].membership))
			rooms[n++] = ms.items[i].room_id;
	notifier_notify(app->notifier, rooms, n, &user_id, 1);
	free(rooms);
	store_membership_list_clear(&ms);
}

int keys_stored_device_ed25519(struct app *app, const char *user_id, const char *device_id,
                               unsigned char pk[32])
{
	struct store_device_keys_list l = { 0 };
	char name[STORE_DEVICE_ID_MAX + 16];
	json_t *dk = NULL, *v;
	int ret = -1;

	if (store_device_keys_get(app->store, user_id, device_id, &l) != STORE_OK || l.n != 1)
		goto out;
	dk = json_loads(l.items[0].json, 0, NULL);
	snprintf(name, sizeof(name), "ed25519:%s", device_id);
	v = json_object_get(json_object_get(dk, "keys"), name);
	if (json_is_string(v) && keys_ed25519_decode(json_string_value(v), pk) == 0)
		ret = 0;
out:
	json_decref(dk);
	store_device_keys_list_clear(&l);
	return ret;
}

json_t *keys_otk_counts_json(struct app *app, const char *user_id, const char *device_id,
                             json_t **fallback_out)
{
	struct store_key_counts c = { 0 };
	json_t *counts;

	if (store_keys_counts(app->store, user_id, device_id, &c) != STORE_OK)
		return NULL;
	counts = json_pack("{s:i}", "signed_curve25519", 0);
	for (size_t i = 0; counts != NULL && i < c.n; i++)
		json_object_set_new(counts, c.items[i].algorithm, json_integer(c.items[i].count));
	if (counts != NULL && fallback_out != NULL) {
		*fallback_out = json_array();
		for (size_t i = 0; *fallback_out != NULL && i < c.n_unused_fallbacks; i++)
			json_array_append_new(*fallback_out, json_string(c.unused_fallbacks[i]));
		if (*fallback_out == NULL) {
			json_decref(counts);
			counts = NULL;
		}
	}
	store_key_counts_clear(&c);
	return counts;
}

/* ---- POST /keys/upload --------------------------------------------------- */

/* The checked keys of one map (one_time_keys or fallback_keys). */
struct keys_batch {
	struct store_key_new *keys;
	char (*alg)[STORE_KEY_ALGORITHM_MAX + 1];
	char (*id)[STORE_KEY_ID_MAX + 1];
	char **json;
	size_t n;
};

static void keys_batch_free(struct keys_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->json[i]);
	free(b->keys);
	free(b->alg);
	free(b->id);
	free(b->json);
	memset(b, 0, sizeof(*b));
}

/* Check every key of map; 0, or -1 with the response set. */
static int keys_batch_parse(struct request *req, const json_t *map, bool fallback,
                            const unsigned char *pk, struct keys_batch *b)
{
	size_t n = json_object_size(map), i = 0;
	char err[256];
	const char *name;
	json_t *v;

	if (n > STORE_KEYS_UPLOAD_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "At most %d keys in one upload",
		          STORE_KEYS_UPLOAD_MAX);
		return -1;
	}
	if (n == 0)
		return 0;
	b->keys = calloc(n, sizeof(*b->keys));
	b->alg = calloc(n, sizeof(*b->alg));
	b->id = calloc(n, sizeof(*b->id));
	b->json = calloc(n, sizeof(*b->json));
	if (!b->keys || !b->alg || !b->id || !b->json) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return -1;
	}
	json_object_foreach((json_t *)map, name, v) {
		if (keys_one_time_key_check(name, v, req->auth.user_id, req->auth.device_id, pk,
		                            fallback, b->alg[i], sizeof(b->alg[i]), b->id[i],
		                            sizeof(b->id[i]), &b->json[i], err, sizeof(err)) != 0) {
			b->n = i;
			res_error(req, 400, "M_INVALID_PARAM", "Invalid key: %s", err);
			return -1;
		}
		b->keys[i] = (struct store_key_new){ b->alg[i], b->id[i], b->json[i] };
		b->n = ++i;
		for (size_t j = 0; fallback && j + 1 < i; j++)
			if (strcmp(b->alg[j], b->alg[i - 1]) == 0) {
				res_error(req, 400, "M_INVALID_PARAM", "One fallback key per algorithm");
				return -1;
			}
	}
	return 0;
}

/* The map at key (or its MSC2732 name), which must be an object if present. */
static int keys_upload_map(struct request *req, json_t *body, const char *key, const char *alt,
                           json_t **out)
{
	*out = json_object_get(body, key);
	if (*out == NULL && alt != NULL)
		*out = json_object_get(body, alt);
	if (*out != NULL && !json_is_object(*out)) {
		res_error(req, 400, "M_BAD_JSON", "%s must be an object", key);
		return -1;
	}
	return 0;
}

static void keys_upload_refused(struct request *req, enum store_result r,
                                enum store_keys_refusal why)
{
	if (r == STORE_NOT_FOUND)
		res_error(req, 400, "M_INVALID_PARAM", "The device no longer exists");
	else if (r == STORE_CONFLICT && why == STORE_KEYS_IDENTITY_CHANGED)
		/* a device's identity keys never change: a client with new keys
		 * is a new device and logs in as one */
		res_error(req, 400, "M_INVALID_PARAM",
		          "This device already has different identity keys");
	else if (r == STORE_CONFLICT && why == STORE_KEYS_OTK_CHANGED)
		res_error(req, 400, "M_INVALID_PARAM", "A one-time key with this ID already exists");
	else if (r == STORE_CONFLICT && why == STORE_KEYS_OTK_LIMIT)
		res_error(req, 400, "M_INVALID_PARAM", "Too many unclaimed one-time keys (at most %d)",
		          STORE_OTK_PER_DEVICE_MAX);
	else
		res_error(req, 500, "M_UNKNOWN", "Could not store the keys");
}

void api_keys_upload(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, true), *dk, *otks, *fbs, *counts;
	struct keys_batch otk = { 0 }, fb = { 0 };
	char *canonical = NULL, *identity = NULL, err[256];
	enum store_keys_refusal why;
	unsigned char pk[32];
	bool have_pk = false;
	enum store_result r;
	int64_t pos = 0;

	if (!body)
		return;
	if (!req->auth.device_id) {
		res_error(req, 400, "M_INVALID_PARAM", "This access token has no device");
		return;
	}
	if (keys_upload_map(req, body, "device_keys", NULL, &dk) != 0 ||
	    keys_upload_map(req, body, "one_time_keys", NULL, &otks) != 0 ||
	    keys_upload_map(req, body, "fallback_keys", "org.matrix.msc2732.fallback_keys",
	                    &fbs) != 0)
		goto out;
	if (dk) {
		if (keys_device_keys_check(dk, req->auth.user_id, req->auth.device_id, pk, &canonical,
		                           &identity, err, sizeof(err)) != 0) {
			res_error(req, 400, "M_INVALID_PARAM", "Invalid device_keys: %s", err);
			goto out;
		}
		have_pk = true;
	} else {
		have_pk = keys_stored_device_ed25519(app, req->auth.user_id, req->auth.device_id,
		                                     pk) == 0;
	}
	if ((otks && keys_batch_parse(req, otks, false, have_pk ? pk : NULL, &otk) != 0) ||
	    (fbs && keys_batch_parse(req, fbs, true, have_pk ? pk : NULL, &fb) != 0))
		goto out;
	{
		struct store_keys_upload u = {
			.user_id = req->auth.user_id, .device_id = req->auth.device_id,
			.device_keys = canonical, .device_identity = identity,
			.otks = otk.keys, .n_otks = otk.n, .fallbacks = fb.keys, .n_fallbacks = fb.n,
		};
		r = store_keys_upload(app->store, &u, &why, &pos);
	}
	if (r != STORE_OK) {
		keys_upload_refused(req, r, why);
		goto out;
	}
	if (pos > 0)
		keys_notify_change(app, req->auth.user_id);
	counts = keys_otk_counts_json(app, req->auth.user_id, req->auth.device_id, NULL);
	if (!counts)
		res_error(req, 500, "M_UNKNOWN", "Could not count the keys");
	else
		res_json(req, 200, json_pack("{s:o}", "one_time_key_counts", counts));
out:
	keys_batch_free(&otk);
	keys_batch_free(&fb);
	free(canonical);
	free(identity);
}

/* ---- POST /keys/claim ------------------------------------------------------ */

/* The claims of the body, only for users who share a room with the
 * caller (the others are answered as if they had no keys). *n_out 0 is
 * fine. 0, or -1 with the response set. */
static int keys_claims_parse(struct request *req, const json_t *q, const json_t *shared,
                             struct store_key_claim **out, size_t *n_out)
{
	const char *user, *device;
	json_t *devices, *alg;
	size_t n = 0;

	*out = calloc(STORE_KEYS_CLAIM_MAX, sizeof(**out));
	if (*out == NULL) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return -1;
	}
	json_object_foreach((json_t *)q, user, devices) {
		if (!json_is_object(devices)) {
			res_error(req, 400, "M_BAD_JSON", "one_time_keys maps users to objects");
			return -1;
		}
		json_object_foreach(devices, device, alg) {
			if (!json_is_string(alg) || json_string_length(alg) > STORE_KEY_ALGORITHM_MAX) {
				res_error(req, 400, "M_BAD_JSON", "one_time_keys maps devices to algorithms");
				return -1;
			}
			if (!json_object_get(shared, user) || !id_opaque_valid(device) ||
			    json_string_length(alg) == 0 || strchr(json_string_value(alg), ':'))
				continue;   /* nothing to claim there */
			if (n == STORE_KEYS_CLAIM_MAX) {
				res_error(req, 400, "M_INVALID_PARAM", "At most %d keys in one claim",
				          STORE_KEYS_CLAIM_MAX);
				return -1;
			}
			(*out)[n++] = (struct store_key_claim){ user, device, json_string_value(alg) };
		}
	}
	*n_out = n;
	return 0;
}

void api_keys_claim(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false), *q, *shared = NULL, *res = NULL;
	struct store_key_claim *claims = NULL;
	struct store_key_claimed *got = NULL;
	size_t n = 0;

	if (!body)
		return;
	q = json_object_get(body, "one_time_keys");
	if (!json_is_object(q)) {
		res_error(req, 400, "M_BAD_JSON", "one_time_keys must be an object");
		return;
	}
	if (!(shared = keys_shared_users(app, req->auth.user_id))) {
		res_error(req, 500, "M_UNKNOWN", "Could not read memberships");
		return;
	}
	if (keys_claims_parse(req, q, shared, &claims, &n) != 0)
		goto out;
	res = json_object();
	got = calloc(n ? n : 1, sizeof(*got));
	if (!res || !got || (n > 0 && store_keys_claim(app->store, claims, n, got) != STORE_OK)) {
		res_error(req, 500, "M_UNKNOWN", "Could not claim the keys");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *key, *u;
		if (!got[i].key_id || !(key = json_loads(got[i].json, JSON_DECODE_ANY, NULL)))
			continue;
		if (!(u = json_object_get(res, claims[i].user_id))) {
			u = json_object();
			json_object_set_new(res, claims[i].user_id, u);
		}
		json_object_set_new(u, claims[i].device_id, json_pack("{s:o}", got[i].key_id, key));
	}
	res_json(req, 200, json_pack("{s:o,s:{}}", "one_time_keys", res, "failures"));
	res = NULL;
out:
	if (got)
		store_key_claimed_clear(got, n);
	free(got);
	free(claims);
	json_decref(res);
	json_decref(shared);
}

/* ---- GET /keys/changes ------------------------------------------------------ */

void api_keys_changes(struct request *req)
{
	struct app *app = APP(req);
	const char *from_s = req_query(req, "from"), *to_s = req_query(req, "to");
	struct sync_token from, to;
	json_t *changed = json_array(), *left = json_array();

	if (!from_s || !to_s) {
		res_error(req, 400, "M_MISSING_PARAM", "from and to are required");
		goto out;
	}
	if (sync_token_parse(from_s, &from) != 0 || sync_token_parse(to_s, &to) != 0 ||
	    from.events > to.events || from.device_lists > to.device_lists) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid from or to token");
		goto out;
	}
	if (!changed || !left ||
	    keys_device_list_delta(app, req->auth.user_id, (int64_t)from.events,
	                           (int64_t)to.events, (int64_t)from.device_lists,
	                           (int64_t)to.device_lists, changed, left) != 0) {
		res_error(req, 500, "M_UNKNOWN", "Could not compute the changes");
		goto out;
	}
	res_json(req, 200, json_pack("{s:o,s:o}", "changed", changed, "left", left));
	changed = left = NULL;
out:
	json_decref(changed);
	json_decref(left);
}
