/* ratelimit_override.c: Synapse's admin API for per-user rate-limit
 * overrides, GET, POST and DELETE
 * /_synapse/admin/v1/users/{userId}/override_ratelimit (AUTH_ADMIN rows:
 * others get 403 M_FORBIDDEN before a handler runs).
 *
 * Synapse's semantics, so the same admin tools and benchmarks work on both:
 * - only local, existing users (400 M_INVALID_PARAM, 404 M_NOT_FOUND);
 * - POST takes messages_per_second and burst_count, each a non-negative
 *   integer defaulting to 0 (anything else: 400 M_INVALID_PARAM), and
 *   answers the stored values; 0 messages per second means no limit;
 * - GET answers the values, or {} when the user has no override;
 * - DELETE removes it (the server's limits apply again) and answers {}.
 * The override replaces the per-user request limit (RL_CLIENT) that
 * http/server.c applies; it does not touch the login and registration
 * limits, which are per IP address as in Synapse. */
#include <stdlib.h>

#include "api/app.h"
#include "api/client/admin_internal.h"
#include "api/client/handlers.h"
#include "store/store.h"

/* A user's override loaded for an answer: 0, or -1 with the error set. */
static int override_target(struct request *req, const char **uid)
{
	struct store_user u = { 0 };
	int rc;

	if (!(*uid = admin_local_user_param(req, 0)))
		return -1;
	rc = admin_user_load(req, *uid, &u);
	store_user_clear(&u);
	return rc;
}

static json_t *override_json(const struct store_ratelimit_override *o)
{
	return json_pack("{s:I,s:I}", "messages_per_second", (json_int_t)o->messages_per_second,
	                 "burst_count", (json_int_t)o->burst_count);
}

void api_admin_ratelimit_override_get(struct request *req)
{
	struct store_ratelimit_override o;
	const char *uid;
	enum store_result r;

	if (override_target(req, &uid) != 0)
		return;
	r = store_ratelimit_override_get(APP(req)->store, uid, &o);
	if (r == STORE_NOT_FOUND)
		res_json(req, 200, json_object());
	else if (r == STORE_OK)
		res_json(req, 200, override_json(&o));
	else
		res_error(req, 500, "M_UNKNOWN", "Could not read the override");
}

/* One field of the POST body: absent is 0; otherwise an integer 0..max
 * (a JSON real such as 1.5 or 1.0 is refused, as Synapse's int check does). */
static int override_field(struct request *req, json_t *body, const char *name, int64_t *out)
{
	json_t *v = json_object_get(body, name);

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > STORE_RATELIMIT_OVERRIDE_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "%s must be an integer from 0 to %d", name,
		          STORE_RATELIMIT_OVERRIDE_MAX);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

void api_admin_ratelimit_override_set(struct request *req)
{
	struct store_ratelimit_override o;
	const char *uid;
	json_t *body;

	if (override_target(req, &uid) != 0 || !(body = req_json_object(req, true)))
		return;
	if (override_field(req, body, "messages_per_second", &o.messages_per_second) != 0 ||
	    override_field(req, body, "burst_count", &o.burst_count) != 0)
		return;
	if (store_ratelimit_override_set(APP(req)->store, uid, &o) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not store the override");
		return;
	}
	res_json(req, 200, override_json(&o));
}

void api_admin_ratelimit_override_delete(struct request *req)
{
	const char *uid;
	enum store_result r;

	if (override_target(req, &uid) != 0)
		return;
	r = store_ratelimit_override_delete(APP(req)->store, uid);
	if (r == STORE_OK || r == STORE_NOT_FOUND)
		res_json(req, 200, json_object());
	else
		res_error(req, 500, "M_UNKNOWN", "Could not delete the override");
}
