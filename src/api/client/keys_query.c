/* keys_query.c: POST /keys/query (keys.yaml): the device keys and
 * cross-signing keys of the users asked for, as keys_internal.h says who
 * may see whose: users who share no room with the caller come back with
 * no devices and no cross-signing keys. Signatures uploaded later (POST
 * /keys/signatures/upload) are merged into the objects they sign. Users
 * of other servers get nothing (no federation yet), and failures is {}. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/keys_internal.h"
#include "config/config.h"
#include "security/served.h"
#include "store/store.h"
#include "util/ids.h"

/* Add the stored signatures of target_key_id to obj.signatures; with
 * viewer set, only those by the target user or by the viewer (whom a user
 * has verified is the verifier's business, not everyone's). */
static void keys_merge_signatures(json_t *obj, const struct store_key_signature_list *sigs,
                                  const char *target_user, const char *target_key_id,
                                  const char *viewer)
{
	json_t *all = json_object_get(obj, "signatures"), *ent;

	for (size_t i = 0; i < sigs->n; i++) {
		const struct store_key_signature *s = &sigs->items[i];
		if (strcmp(s->target_key_id, target_key_id) != 0)
			continue;
		if (viewer && strcmp(s->signer_user, target_user) != 0 &&
		    strcmp(s->signer_user, viewer) != 0)
			continue;
		if (!json_is_object(all)) {
			all = json_object();
			json_object_set_new(obj, "signatures", all);
		}
		if (!json_is_object(ent = json_object_get(all, s->signer_user))) {
			ent = json_object();
			json_object_set_new(all, s->signer_user, ent);
		}
		json_object_set_new(ent, s->signer_key_id, json_string(s->signature));
	}
}

static bool keys_device_wanted(const json_t *wanted, const char *device_id)
{
	size_t i;
	json_t *v;

	if (json_array_size(wanted) == 0)
		return true;   /* "an empty list indicates all devices" */
	json_array_foreach(wanted, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), device_id) == 0)
			return true;
	return false;
}

/* user's devices (those in wanted) into an object. NULL on error. */
static json_t *keys_user_devices(struct app *app, const char *user, const json_t *wanted,
                                 const struct store_key_signature_list *sigs, bool own)
{
	struct store_device_keys_list l = { 0 };
	json_t *devices = json_object();

	if (!devices || store_device_keys_get(app->store, user, NULL, &l) != STORE_OK) {
		json_decref(devices);
		return NULL;
	}
	for (size_t i = 0; i < l.n; i++) {
		json_t *dk;
		if (!keys_device_wanted(wanted, l.items[i].device_id) ||
		    !(dk = json_loads(l.items[i].json, 0, NULL)))
			continue;
		keys_merge_signatures(dk, sigs, user, l.items[i].device_id, NULL);
		/* Device names ("Jean's iPhone (Ministry)") are for their owner:
		 * anyone who merely shares a room (an unsolicited invite is
		 * enough) gets the keys needed to encrypt, not the names. */
		if (own && l.items[i].display_name)
			json_object_set_new(dk, "unsigned", json_pack("{s:s}", "device_display_name",
			                                              l.items[i].display_name));
		json_object_set_new(devices, l.items[i].device_id, dk);
	}
	store_device_keys_list_clear(&l);
	return devices;
}

/* Add user's cross-signing keys to the response sections. */
static int keys_user_cross_signing(struct app *app, const char *user, const char *viewer,
                                   const struct store_key_signature_list *sigs, json_t *res)
{
	static const char *const section[STORE_XSIGN_COUNT] = {
		[STORE_XSIGN_MASTER] = "master_keys",
		[STORE_XSIGN_SELF_SIGNING] = "self_signing_keys",
		[STORE_XSIGN_USER_SIGNING] = "user_signing_keys",
	};
	struct store_cross_signing cs = { 0 };

	if (store_cross_signing_get(app->store, user, &cs) != STORE_OK)
		return -1;
	for (int i = 0; i < STORE_XSIGN_COUNT; i++) {
		json_t *k;
		/* "user_signing_keys: ... Only the requesting user's own" (keys.yaml) */
		if (!cs.json[i] || (i == STORE_XSIGN_USER_SIGNING && strcmp(user, viewer) != 0))
			continue;
		if (!(k = json_loads(cs.json[i], 0, NULL)))
			continue;
		keys_merge_signatures(k, sigs, user, cs.public_key[i], viewer);
		json_object_set_new(json_object_get(res, section[i]), user, k);
	}
	store_cross_signing_clear(&cs);
	return 0;
}

static int keys_query_user(struct app *app, const char *user, const json_t *wanted,
                           const char *viewer, json_t *res)
{
	struct store_key_signature_list sigs = { 0 };
	json_t *devices;
	int ret = -1;

	if (store_key_signatures_get(app->store, user, &sigs) != STORE_OK)
		return -1;
	if (!(devices = keys_user_devices(app, user, wanted, &sigs, strcmp(user, viewer) == 0)))
		goto out;
	json_object_set_new(json_object_get(res, "device_keys"), user, devices);
	ret = keys_user_cross_signing(app, user, viewer, &sigs, res);
out:
	store_key_signature_list_clear(&sigs);
	return ret;
}

/* The query is well-formed and within bounds; 0, or -1 with the response set. */
static int keys_query_check(struct request *req, const json_t *q)
{
	const char *user;
	json_t *devs;

	if (!json_is_object(q)) {
		res_error(req, 400, "M_BAD_JSON", "device_keys must be an object");
		return -1;
	}
	if (json_object_size(q) > KEYS_QUERY_USERS_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "At most %d users in one query",
		          KEYS_QUERY_USERS_MAX);
		return -1;
	}
	json_object_foreach((json_t *)q, user, devs) {
		if (!json_is_array(devs) || json_array_size(devs) > KEYS_QUERY_DEVICES_MAX) {
			res_error(req, 400, "M_BAD_JSON",
			          "device_keys maps users to arrays of at most %d device IDs",
			          KEYS_QUERY_DEVICES_MAX);
			return -1;
		}
	}
	return 0;
}

void api_keys_query(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false), *q, *devs, *shared = NULL, *res = NULL;
	char local[256];
	const char *user;

	if (!body)
		return;
	q = json_object_get(body, "device_keys");
	if (keys_query_check(req, q) != 0)
		return;
	if (!(shared = keys_shared_users(app, req->auth.user_id))) {
		res_error(req, 500, "M_UNKNOWN", "Could not read memberships");
		return;
	}
	res = json_pack("{s:{},s:{},s:{},s:{},s:{}}", "device_keys", "master_keys",
	                "self_signing_keys", "user_signing_keys", "failures");
	if (!res)
		goto err;
	json_object_foreach(q, user, devs) {
		if (!id_user_is_local(user, app->cfg->server_name, local, sizeof(local)))
			continue;   /* another server's user: no federation yet */
		if (!json_object_get(shared, user)) {
			/* as if they had no devices: nobody enumerates strangers' devices */
			json_object_set_new(json_object_get(res, "device_keys"), user, json_object());
			continue;
		}
		if (keys_query_user(app, user, devs, req->auth.user_id, res) != 0)
			goto err;
	}
	/* access ledger: how many users' keys were asked for */
	served_key_query(&(struct served_viewer){ req->auth.user_id, req->auth.device_id,
	                                          req->client_ip, req->user_agent },
	                 json_object_size(q));
	res_json(req, 200, res);
	json_decref(shared);
	return;
err:
	res_error(req, 500, "M_UNKNOWN", "Could not read the keys");
	json_decref(res);
	json_decref(shared);
}
