/*
 * store_key_backup: the front of the storage layer for server-side key
 * backups (the contract is in store.h, "server-side key backup"), and the
 * spec's rule for which of two keys of one session a backup keeps.
 *
 * As in store.c, arguments are checked before a back end sees them (IDs,
 * sizes, counts, a session named twice in one put) and what a back end
 * loads is checked before a caller sees it: a version row with a negative
 * count, or a key list out of order or outside the selection asked for,
 * never reaches the API layer.
 *
 * Threads: no state of its own; callable from any thread. Memory: lists
 * and structs returned are released with their *_clear().
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

bool store_backup_key_replaces(const struct store_backup_key_rank *existing,
                               const struct store_backup_key_rank *candidate)
{
	/* "if the keys have different values for is_verified, then it will
	 * keep the key that has is_verified set to true" */
	if (existing->is_verified != candidate->is_verified)
		return candidate->is_verified;
	/* "if they have the same values for is_verified, then it will keep
	 * the key with a lower first_message_index" */
	if (existing->first_message_index != candidate->first_message_index)
		return candidate->first_message_index < existing->first_message_index;
	/* "and finally, if is_verified and first_message_index are equal,
	 * then it will keep the key with a lower forwarded_count"; a tie
	 * keeps what is stored (nothing to gain, and the etag stays put) */
	return candidate->forwarded_count < existing->forwarded_count;
}

void store_backup_version_clear(struct store_backup_version *v)
{
	if (v == NULL)
		return;
	free(v->algorithm);
	free(v->auth_data);
	memset(v, 0, sizeof(*v));
}

void store_backup_key_list_clear(struct store_backup_key_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].room_id);
		free(l->items[i].session_id);
		free(l->items[i].session_data);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static bool store_backup_version_ok(int64_t version)
{
	return version > 0 && version <= STORE_BACKUP_VERSION_MAX;
}

/* A non-empty string within max bytes. */
static bool store_backup_text_ok(const char *s, size_t max)
{
	return s != NULL && store_text_ok(s, max, false) && s[0] != '\0';
}

static bool store_backup_json_ok(const char *json, size_t max)
{
	/* a JSON object text: the API layer serialised it */
	return store_backup_text_ok(json, max) && json[0] == '{';
}

static bool store_backup_rank_ok(const struct store_backup_key_rank *k)
{
	return k->first_message_index >= 0 && k->forwarded_count >= 0;
}

/* A selection of keys: room only with a version, session only with a room. */
static bool store_backup_selection_ok(const char *room_id, const char *session_id)
{
	if (room_id == NULL)
		return session_id == NULL;
	return store_backup_text_ok(room_id, STORE_BACKUP_ROOM_ID_MAX) &&
	       (session_id == NULL ||
	        store_backup_text_ok(session_id, STORE_BACKUP_SESSION_ID_MAX));
}

enum store_result store_backup_version_create(struct store *st, const char *user_id,
                                              const char *algorithm, const char *auth_data,
                                              int64_t *version_out)
{
	const struct store_backend *be;
	enum store_result r;
	int64_t version = 0;
	void *h;

	if (version_out != NULL)
		*version_out = 0;
	if (st == NULL || version_out == NULL || !store_user_id_ok(user_id) ||
	    !store_backup_text_ok(algorithm, STORE_BACKUP_ALGORITHM_MAX) ||
	    !store_backup_json_ok(auth_data, STORE_BACKUP_AUTH_DATA_MAX))
		return store_refuse("argument to store_backup_version_create");
	be = store_backend_of(st, &h);
	r = be->backup_version_create(h, user_id, algorithm, auth_data, &version);
	r = store_loaded(r, r != STORE_OK || store_backup_version_ok(version), "backup version");
	if (r == STORE_OK)
		*version_out = version;
	return r;
}

enum store_result store_backup_version_get(struct store *st, const char *user_id,
                                           int64_t version, struct store_backup_version *out)
{
	const struct store_backend *be;
	enum store_result r;
	bool valid;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id) ||
	    (version != 0 && !store_backup_version_ok(version)))
		return store_refuse("argument to store_backup_version_get");
	be = store_backend_of(st, &h);
	r = be->backup_version_get(h, user_id, version, out);
	valid = r != STORE_OK ||
	        (store_backup_version_ok(out->version) &&
	         (version == 0 || out->version == version) &&
	         store_backup_text_ok(out->algorithm, STORE_BACKUP_ALGORITHM_MAX) &&
	         store_backup_json_ok(out->auth_data, STORE_BACKUP_AUTH_DATA_MAX) &&
	         out->etag >= 0 && out->count >= 0 && out->count <= STORE_BACKUP_SESSIONS_MAX);
	r = store_loaded(r, valid, "backup version");
	if (r != STORE_OK)
		store_backup_version_clear(out);
	return r;
}

enum store_result store_backup_version_update(struct store *st, const char *user_id,
                                              int64_t version, const char *algorithm,
                                              const char *auth_data)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_user_id_ok(user_id) || !store_backup_version_ok(version) ||
	    !store_backup_text_ok(algorithm, STORE_BACKUP_ALGORITHM_MAX) ||
	    !store_backup_json_ok(auth_data, STORE_BACKUP_AUTH_DATA_MAX))
		return store_refuse("argument to store_backup_version_update");
	be = store_backend_of(st, &h);
	return be->backup_version_update(h, user_id, version, algorithm, auth_data);
}

enum store_result store_backup_version_delete(struct store *st, const char *user_id,
                                              int64_t version)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_user_id_ok(user_id) || !store_backup_version_ok(version))
		return store_refuse("argument to store_backup_version_delete");
	be = store_backend_of(st, &h);
	return be->backup_version_delete(h, user_id, version);
}

static bool store_backup_key_fields_ok(const char *room_id, const char *session_id,
                                       const struct store_backup_key_rank *rank,
                                       const char *session_data)
{
	return store_backup_text_ok(room_id, STORE_BACKUP_ROOM_ID_MAX) &&
	       store_backup_text_ok(session_id, STORE_BACKUP_SESSION_ID_MAX) &&
	       store_backup_rank_ok(rank) &&
	       store_backup_json_ok(session_data, STORE_BACKUP_SESSION_DATA_MAX);
}

static int store_backup_key_cmp(const void *a, const void *b)
{
	const struct store_backup_key_new *x = *(const struct store_backup_key_new *const *)a;
	const struct store_backup_key_new *y = *(const struct store_backup_key_new *const *)b;
	int c = strcmp(x->room_id, y->room_id);

	return c != 0 ? c : strcmp(x->session_id, y->session_id);
}

/* Every key well-formed, and no session named twice: two rows for one
 * session in one job would make the kept key depend on their order. */
static bool store_backup_keys_new_ok(const struct store_backup_key_new *keys, size_t n)
{
	const struct store_backup_key_new **sorted;
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		if (!store_backup_key_fields_ok(keys[i].room_id, keys[i].session_id, &keys[i].rank,
		                                keys[i].session_data))
			return false;
	sorted = malloc(n * sizeof(*sorted));
	if (sorted == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &keys[i];
	qsort(sorted, n, sizeof(*sorted), store_backup_key_cmp);
	for (size_t i = 1; i < n && ok; i++)
		if (store_backup_key_cmp(&sorted[i - 1], &sorted[i]) == 0)
			ok = false;
	free(sorted);
	return ok;
}

static bool store_backup_counts_ok(const struct store_backup_counts *c)
{
	return c->etag >= 0 && c->count >= 0 && c->count <= STORE_BACKUP_SESSIONS_MAX;
}

enum store_result store_backup_keys_put(struct store *st, const char *user_id,
                                        int64_t version,
                                        const struct store_backup_key_new *keys, size_t n,
                                        enum store_backup_refusal *refusal,
                                        int64_t *current_out, struct store_backup_counts *out)
{
	enum store_backup_refusal why = STORE_BACKUP_ACCEPTED;
	const struct store_backend *be;
	int64_t current = 0;
	enum store_result r;
	void *h;

	if (refusal != NULL)
		*refusal = STORE_BACKUP_ACCEPTED;
	if (current_out != NULL)
		*current_out = 0;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || refusal == NULL || current_out == NULL || out == NULL ||
	    !store_user_id_ok(user_id) || !store_backup_version_ok(version) || keys == NULL ||
	    n == 0 || n > STORE_BACKUP_PUT_MAX || !store_backup_keys_new_ok(keys, n))
		return store_refuse("argument to store_backup_keys_put");
	be = store_backend_of(st, &h);
	r = be->backup_keys_put(h, user_id, version, keys, n, &why, &current, out);
	r = store_loaded(r, r != STORE_OK || store_backup_counts_ok(out), "backup counts");
	if (r == STORE_CONFLICT) {
		*refusal = why;
		*current_out = why == STORE_BACKUP_NOT_CURRENT && current > 0 ? current : 0;
	}
	if (r != STORE_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

/* Loaded keys: well-formed, in (room, session) order, within the
 * selection asked for. */
static bool store_backup_key_list_valid(const struct store_backup_key_list *l,
                                        const char *room_id, const char *session_id)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct store_backup_key *k = &l->items[i];
		if (!store_backup_key_fields_ok(k->room_id, k->session_id, &k->rank,
		                                k->session_data) ||
		    (room_id != NULL && strcmp(k->room_id, room_id) != 0) ||
		    (session_id != NULL && strcmp(k->session_id, session_id) != 0))
			return false;
		if (i > 0) {
			const struct store_backup_key *p = &l->items[i - 1];
			int c = strcmp(p->room_id, k->room_id);
			if (c > 0 || (c == 0 && strcmp(p->session_id, k->session_id) >= 0))
				return false;
		}
	}
	return l->n <= STORE_BACKUP_SESSIONS_MAX;
}

enum store_result store_backup_keys_get(struct store *st, const char *user_id,
                                        int64_t version, const char *room_id,
                                        const char *session_id,
                                        struct store_backup_key_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id) ||
	    !store_backup_version_ok(version) || !store_backup_selection_ok(room_id, session_id))
		return store_refuse("argument to store_backup_keys_get");
	be = store_backend_of(st, &h);
	r = be->backup_keys_get(h, user_id, version, room_id, session_id, out);
	r = store_loaded(r, r != STORE_OK || store_backup_key_list_valid(out, room_id, session_id),
	                 "backup keys");
	if (r != STORE_OK)
		store_backup_key_list_clear(out);
	return r;
}

enum store_result store_backup_keys_delete(struct store *st, const char *user_id,
                                           int64_t version, const char *room_id,
                                           const char *session_id,
                                           struct store_backup_counts *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_user_id_ok(user_id) ||
	    !store_backup_version_ok(version) || !store_backup_selection_ok(room_id, session_id))
		return store_refuse("argument to store_backup_keys_delete");
	be = store_backend_of(st, &h);
	r = be->backup_keys_delete(h, user_id, version, room_id, session_id, out);
	r = store_loaded(r, r != STORE_OK || store_backup_counts_ok(out), "backup counts");
	if (r != STORE_OK)
		memset(out, 0, sizeof(*out));
	return r;
}
