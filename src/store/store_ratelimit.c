/*
 * store_ratelimit: the front of the storage layer for per-user rate-limit
 * overrides (Synapse's admin API
 * /_synapse/admin/v1/users/{userId}/override_ratelimit): argument checks
 * before the back end, value checks after it.
 * Threads: stateless; any thread. Memory: the override is a plain value,
 * nothing to free.
 */
#include "store/store.h"
#include "store/store_backend.h"

static bool ratelimit_override_ok(const struct store_ratelimit_override *o)
{
	return o->messages_per_second >= 0 &&
	       o->messages_per_second <= STORE_RATELIMIT_OVERRIDE_MAX &&
	       o->burst_count >= 0 && o->burst_count <= STORE_RATELIMIT_OVERRIDE_MAX;
}

enum store_result store_ratelimit_override_get(struct store *st, const char *user_id,
                                               struct store_ratelimit_override *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		*out = (struct store_ratelimit_override){ 0 };
	if (st == NULL || out == NULL || !store_user_id_ok(user_id))
		return store_refuse("argument to store_ratelimit_override_get");
	be = store_backend_of(st, &h);
	r = be->ratelimit_override_get(h, user_id, out);
	r = store_loaded(r, r != STORE_OK || ratelimit_override_ok(out), "rate-limit override");
	if (r != STORE_OK)
		*out = (struct store_ratelimit_override){ 0 };
	return r;
}

enum store_result store_ratelimit_override_set(struct store *st, const char *user_id,
                                               const struct store_ratelimit_override *o)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || o == NULL || !store_user_id_ok(user_id) || !ratelimit_override_ok(o))
		return store_refuse("argument to store_ratelimit_override_set");
	be = store_backend_of(st, &h);
	return be->ratelimit_override_set(h, user_id, o);
}

enum store_result store_ratelimit_override_delete(struct store *st, const char *user_id)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("argument to store_ratelimit_override_delete");
	be = store_backend_of(st, &h);
	return be->ratelimit_override_delete(h, user_id);
}
