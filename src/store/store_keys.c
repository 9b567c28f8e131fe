/*
 * store_keys: the front of the storage layer for end-to-end encryption
 * keys (the contract is in store.h, "end-to-end encryption keys").
 *
 * As in store.c, arguments are checked before a back end sees them (IDs,
 * sizes, counts) and what a back end loads is checked before a caller sees
 * it: a key list in the wrong order, a claimed key of another algorithm or
 * a change list that is not distinct never reaches the API layer.
 *
 * Threads: no state of its own; callable from any thread. Memory: lists
 * and structs returned are released with their *_clear().
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* A non-empty key name part (algorithm or key ID) within max bytes,
 * without the ':' that separates them. */
static bool store_key_part_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, max + 1);
	return n >= 1 && n <= max && memchr(s, ':', n) == NULL;
}

static bool store_key_json_ok(const char *json)
{
	return json != NULL && store_text_ok(json, STORE_KEY_JSON_MAX, false) && json[0] != '\0';
}

static bool store_key_new_ok(const struct store_key_new *k)
{
	return store_key_part_ok(k->algorithm, STORE_KEY_ALGORITHM_MAX) &&
	       store_key_part_ok(k->key_id, STORE_KEY_ID_MAX) && store_key_json_ok(k->json);
}

static bool store_keys_upload_ok(const struct store_keys_upload *u)
{
	if (u == NULL || !store_user_id_ok(u->user_id) || !store_device_id_ok(u->device_id))
		return false;
	if ((u->device_keys == NULL) != (u->device_identity == NULL))
		return false;
	if (u->device_keys != NULL &&
	    (!store_key_json_ok(u->device_keys) || !store_key_json_ok(u->device_identity)))
		return false;
	if (u->n_otks > STORE_KEYS_UPLOAD_MAX || (u->n_otks > 0 && u->otks == NULL) ||
	    (u->n_fallbacks > 0 && u->fallbacks == NULL) || u->n_fallbacks > STORE_KEYS_UPLOAD_MAX)
		return false;
	for (size_t i = 0; i < u->n_otks; i++)
		if (!store_key_new_ok(&u->otks[i]))
			return false;
	for (size_t i = 0; i < u->n_fallbacks; i++) {
		if (!store_key_new_ok(&u->fallbacks[i]))
			return false;
		/* one fallback key per algorithm: two would race for the slot */
		for (size_t j = 0; j < i; j++)
			if (strcmp(u->fallbacks[i].algorithm, u->fallbacks[j].algorithm) == 0)
				return false;
	}
	return true;
}

enum store_result store_keys_upload(struct store *st, const struct store_keys_upload *u,
                                    enum store_keys_refusal *refusal, int64_t *stream_out)
{
	enum store_keys_refusal why = STORE_KEYS_ACCEPTED;
	const struct store_backend *be;
	enum store_result r;
	int64_t pos = 0;
	void *h;

	if (refusal != NULL)
		*refusal = STORE_KEYS_ACCEPTED;
	if (stream_out != NULL)
		*stream_out = 0;
	if (st == NULL || !store_keys_upload_ok(u))
		return store_refuse("argument to store_keys_upload");
	be = store_backend_of(st, &h);
	r = be->keys_upload(h, u, &why, &pos);
	r = store_loaded(r, r != STORE_OK || pos >= 0, "device list position");
	if (refusal != NULL)
		*refusal = why;
	if (r == STORE_OK && stream_out != NULL)
		*stream_out = pos;
	return r;
}

void store_key_counts_clear(struct store_key_counts *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->items[i].algorithm);
	free(c->items);
	store_room_ids_free(c->unused_fallbacks, c->n_unused_fallbacks);
	memset(c, 0, sizeof(*c));
}

static bool store_key_counts_valid(const struct store_key_counts *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (!store_key_part_ok(c->items[i].algorithm, STORE_KEY_ALGORITHM_MAX) ||
		    c->items[i].count <= 0 || c->items[i].count > STORE_OTK_PER_DEVICE_MAX)
			return false;
	for (size_t i = 0; i < c->n_unused_fallbacks; i++)
		if (!store_key_part_ok(c->unused_fallbacks[i], STORE_KEY_ALGORITHM_MAX))
			return false;
	return true;
}

enum store_result store_keys_counts(struct store *st, const char *user_id,
                                    const char *device_id, struct store_key_counts *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id) || !store_device_id_ok(device_id))
		return store_refuse("argument to store_keys_counts");
	be = store_backend_of(st, &h);
	r = be->keys_counts(h, user_id, device_id, out);
	r = store_loaded(r, r != STORE_OK || store_key_counts_valid(out), "key counts");
	if (r != STORE_OK)
		store_key_counts_clear(out);
	return r;
}

void store_device_keys_list_clear(struct store_device_keys_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].device_id);
		free(l->items[i].json);
		free(l->items[i].display_name);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

enum store_result store_device_keys_get(struct store *st, const char *user_id,
                                        const char *device_id,
                                        struct store_device_keys_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	bool valid = true;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id) ||
	    (device_id != NULL && !store_device_id_ok(device_id)))
		return store_refuse("argument to store_device_keys_get");
	be = store_backend_of(st, &h);
	r = be->device_keys_get(h, user_id, device_id, out);
	for (size_t i = 0; r == STORE_OK && i < out->n; i++) {
		const struct store_device_keys *d = &out->items[i];
		if (!store_device_id_ok(d->device_id) || !store_key_json_ok(d->json) ||
		    (device_id != NULL && strcmp(d->device_id, device_id) != 0) ||
		    (i > 0 && strcmp(out->items[i - 1].device_id, d->device_id) >= 0))
			valid = false;
	}
	r = store_loaded(r, valid, "device keys");
	if (r != STORE_OK)
		store_device_keys_list_clear(out);
	return r;
}

void store_key_claimed_clear(struct store_key_claimed *out, size_t n)
{
	if (out == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(out[i].key_id);
		free(out[i].json);
	}
	memset(out, 0, n * sizeof(*out));
}

/* A claimed key is of the algorithm asked for ("algorithm:id"). */
static bool store_key_claimed_valid(const struct store_key_claim *c,
                                    const struct store_key_claimed *k)
{
	size_t alen = strlen(c->algorithm);

	if (k->key_id == NULL)
		return k->json == NULL && !k->fallback;
	return strncmp(k->key_id, c->algorithm, alen) == 0 && k->key_id[alen] == ':' &&
	       store_key_part_ok(k->key_id + alen + 1, STORE_KEY_ID_MAX) &&
	       store_key_json_ok(k->json);
}

enum store_result store_keys_claim(struct store *st, const struct store_key_claim *claims,
                                   size_t n, struct store_key_claimed *out)
{
	const struct store_backend *be;
	enum store_result r;
	bool valid = true;
	void *h;

	if (out != NULL && n <= STORE_KEYS_CLAIM_MAX)
		memset(out, 0, n * sizeof(*out));
	if (st == NULL || out == NULL || claims == NULL || n == 0 || n > STORE_KEYS_CLAIM_MAX)
		return store_refuse("argument to store_keys_claim");
	for (size_t i = 0; i < n; i++)
		if (!store_user_id_ok(claims[i].user_id) || !store_device_id_ok(claims[i].device_id) ||
		    !store_key_part_ok(claims[i].algorithm, STORE_KEY_ALGORITHM_MAX))
			return store_refuse("claim in store_keys_claim");
	be = store_backend_of(st, &h);
	r = be->keys_claim(h, claims, n, out);
	for (size_t i = 0; r == STORE_OK && i < n; i++)
		if (!store_key_claimed_valid(&claims[i], &out[i]))
			valid = false;
	/* the keys are taken already; an invalid one is still not handed out */
	r = store_loaded(r, valid, "claimed key");
	if (r != STORE_OK)
		store_key_claimed_clear(out, n);
	return r;
}

void store_cross_signing_clear(struct store_cross_signing *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < STORE_XSIGN_COUNT; i++) {
		free(c->json[i]);
		free(c->public_key[i]);
	}
	memset(c, 0, sizeof(*c));
}

enum store_result store_cross_signing_get(struct store *st, const char *user_id,
                                          struct store_cross_signing *out)
{
	const struct store_backend *be;
	enum store_result r;
	bool valid = true;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id))
		return store_refuse("argument to store_cross_signing_get");
	be = store_backend_of(st, &h);
	r = be->cross_signing_get(h, user_id, out);
	for (int i = 0; r == STORE_OK && i < STORE_XSIGN_COUNT; i++)
		if ((out->json[i] == NULL) != (out->public_key[i] == NULL) ||
		    (out->json[i] != NULL && (!store_key_json_ok(out->json[i]) ||
		                              !store_key_part_ok(out->public_key[i], STORE_KEY_ID_MAX))))
			valid = false;
	r = store_loaded(r, valid, "cross-signing keys");
	if (r != STORE_OK)
		store_cross_signing_clear(out);
	return r;
}

enum store_result store_cross_signing_put(struct store *st, const char *user_id,
                                          const char *const json[STORE_XSIGN_COUNT],
                                          const char *const public_key[STORE_XSIGN_COUNT],
                                          bool only_if_no_master, int64_t *stream_out)
{
	const struct store_backend *be;
	enum store_result r;
	int64_t pos = 0;
	int n = 0;
	void *h;

	if (stream_out != NULL)
		*stream_out = 0;
	if (st == NULL || !store_user_id_ok(user_id) || json == NULL || public_key == NULL)
		return store_refuse("argument to store_cross_signing_put");
	for (int i = 0; i < STORE_XSIGN_COUNT; i++) {
		if (json[i] == NULL && public_key[i] == NULL)
			continue;
		if (!store_key_json_ok(json[i]) || !store_key_part_ok(public_key[i], STORE_KEY_ID_MAX))
			return store_refuse("key in store_cross_signing_put");
		n++;
	}
	if (n == 0)
		return store_refuse("no key in store_cross_signing_put");
	be = store_backend_of(st, &h);
	r = be->cross_signing_put(h, user_id, json, public_key, only_if_no_master, &pos);
	r = store_loaded(r, r != STORE_OK || pos > 0, "device list position");
	if (r == STORE_OK && stream_out != NULL)
		*stream_out = pos;
	return r;
}

void store_key_signature_list_clear(struct store_key_signature_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].target_key_id);
		free(l->items[i].signer_user);
		free(l->items[i].signer_key_id);
		free(l->items[i].signature);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static bool store_key_signature_ok(const struct store_key_signature *s)
{
	return store_text_ok(s->target_key_id, STORE_KEY_ID_MAX, false) &&
	       s->target_key_id[0] != '\0' && store_user_id_ok(s->signer_user) &&
	       store_text_ok(s->signer_key_id, STORE_KEY_ID_MAX, false) &&
	       strncmp(s->signer_key_id, "ed25519:", 8) == 0 &&
	       store_text_ok(s->signature, STORE_KEY_ID_MAX, false) && s->signature[0] != '\0';
}

enum store_result store_key_signatures_add(struct store *st, const char *target_user,
                                           const struct store_key_signature *sigs, size_t n,
                                           int64_t *stream_out)
{
	const struct store_backend *be;
	enum store_result r;
	int64_t pos = 0;
	void *h;

	if (stream_out != NULL)
		*stream_out = 0;
	if (st == NULL || !store_user_id_ok(target_user) || sigs == NULL || n == 0 ||
	    n > STORE_KEY_SIG_MAX)
		return store_refuse("argument to store_key_signatures_add");
	for (size_t i = 0; i < n; i++)
		if (!store_key_signature_ok(&sigs[i]))
			return store_refuse("signature in store_key_signatures_add");
	be = store_backend_of(st, &h);
	r = be->key_signatures_add(h, target_user, sigs, n, &pos);
	r = store_loaded(r, r != STORE_OK || pos > 0, "device list position");
	if (r == STORE_OK && stream_out != NULL)
		*stream_out = pos;
	return r;
}

enum store_result store_key_signatures_get(struct store *st, const char *target_user,
                                           struct store_key_signature_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	bool valid = true;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(target_user))
		return store_refuse("argument to store_key_signatures_get");
	be = store_backend_of(st, &h);
	r = be->key_signatures_get(h, target_user, out);
	for (size_t i = 0; r == STORE_OK && i < out->n; i++)
		if (!store_key_signature_ok(&out->items[i]))
			valid = false;
	r = store_loaded(r, valid, "key signature");
	if (r != STORE_OK)
		store_key_signature_list_clear(out);
	return r;
}

enum store_result store_device_list_changes(struct store *st, int64_t since, int64_t to,
                                            char ***users_out, size_t *n_out)
{
	const struct store_backend *be;
	enum store_result r;
	bool valid = true;
	void *h;

	if (users_out != NULL)
		*users_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (st == NULL || users_out == NULL || n_out == NULL || since < 0 || to < since)
		return store_refuse("argument to store_device_list_changes");
	be = store_backend_of(st, &h);
	r = be->device_list_changes(h, since, to, users_out, n_out);
	for (size_t i = 0; r == STORE_OK && i < *n_out; i++)
		if (!store_user_id_ok((*users_out)[i]) ||
		    (i > 0 && strcmp((*users_out)[i - 1], (*users_out)[i]) >= 0))
			valid = false;
	r = store_loaded(r, valid && *n_out <= STORE_DEVICE_LIST_CHANGES_MAX,
	                 "device list change");
	if (r != STORE_OK) {
		store_room_ids_free(*users_out, *n_out);
		*users_out = NULL;
		*n_out = 0;
	}
	return r;
}

int64_t store_device_list_stream_max(struct store *st)
{
	const struct store_backend *be;
	int64_t pos = -1;
	void *h;

	if (st == NULL)
		return -1;
	be = store_backend_of(st, &h);
	if (be->device_list_stream_max(h, &pos) != STORE_OK || pos < 0)
		return -1;
	return pos;
}

enum store_result store_keys_shared_users(struct store *st, const char *user_id,
                                          char ***users_out, size_t *n_out)
{
	const struct store_backend *be;
	enum store_result r;
	bool valid = true, self = false;
	void *h;

	if (users_out != NULL)
		*users_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (st == NULL || users_out == NULL || n_out == NULL || !store_user_id_ok(user_id))
		return store_refuse("argument to store_keys_shared_users");
	be = store_backend_of(st, &h);
	r = be->keys_shared_users(h, user_id, users_out, n_out);
	for (size_t i = 0; r == STORE_OK && i < *n_out; i++) {
		if (!store_user_id_ok((*users_out)[i]) ||
		    (i > 0 && strcmp((*users_out)[i - 1], (*users_out)[i]) >= 0))
			valid = false;
		else if (strcmp((*users_out)[i], user_id) == 0)
			self = true;
	}
	/* the user is always in their own set (unless the cap cut it off) */
	r = store_loaded(r, valid && (self || *n_out == STORE_SHARED_USERS_MAX) &&
	                 *n_out <= STORE_SHARED_USERS_MAX, "users sharing a room");
	if (r != STORE_OK) {
		store_room_ids_free(*users_out, *n_out);
		*users_out = NULL;
		*n_out = 0;
	}
	return r;
}
