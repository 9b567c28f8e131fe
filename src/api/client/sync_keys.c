/* sync_keys.c: the end-to-end encryption parts of /sync (sync.yaml,
 * client-server-api "End-to-End Encryption", "Extensions to /sync"):
 * device_lists (changed, left), device_one_time_keys_count and
 * device_unused_fallback_key_types; and the device-list delta that
 * GET /keys/changes serves too.
 *
 * The delta reads the current memberships, not those at the `to`
 * position: a membership that changed again after `to` is judged by its
 * latest state (and reported again at the next sync). Reporting a user in
 * changed once too often only costs the client a /keys/query. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/keys_internal.h"
#include "api/client/sync_internal.h"
#include "store/store.h"

/* A membership that can share a room (keys_internal.h: joined or
 * invited, one of the two joined). */
static bool sync_keys_shares(const char *m)
{
	return strcmp(m, "join") == 0 || strcmp(m, "invite") == 0;
}

/* Who shares a room with the user, read only when a candidate needs it:
 * most syncs have no device-list news and no membership change, and
 * reading every member of every room for them would cost each sync. */
struct sync_keys_shared {
	struct app *app;
	const char *user_id;
	json_t *set;
	bool failed;
};

/* Does user share a room with the syncing user now? -1 on a store error. */
static int sync_keys_is_shared(struct sync_keys_shared *sh, const char *user)
{
	if (!sh->set && !sh->failed && !(sh->set = keys_shared_users(sh->app, sh->user_id)))
		sh->failed = true;
	if (sh->failed)
		return -1;
	return json_object_get(sh->set, user) != NULL;
}

/* Users of the device-list stream in (since, to] who share a room now. */
static int sync_keys_stream_changes(struct app *app, int64_t since, int64_t to,
                                    struct sync_keys_shared *shared, json_t *changed_set)
{
	char **users = NULL;
	size_t n = 0;
	int ret = 0;

	if (to <= since)
		return 0;
	if (store_device_list_changes(app->store, since, to, &users, &n) != STORE_OK)
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		int is = sync_keys_is_shared(shared, users[i]);
		if (is < 0)
			ret = -1;
		else if (is)
			json_object_set_new(changed_set, users[i], json_true());
	}
	store_room_ids_free(users, n);
	return ret;
}

/* One room whose memberships may have moved in (since, to]. */
static int sync_keys_room(struct app *app, const char *user_id, const struct store_membership *mine,
                          int64_t since, int64_t to, struct sync_keys_shared *shared,
                          json_t *changed_set, json_t *left_set)
{
	struct store_membership_list members = { 0 };
	int ret = 0;
	bool i_share = sync_keys_shares(mine->membership);
	bool mine_moved = mine->stream > since && mine->stream <= to;

	if (store_room_members(app->store, mine->room_id, NULL, &members) != STORE_OK)
		return -1;
	for (size_t i = 0; i < members.n && ret == 0; i++) {
		const struct store_membership *x = &members.items[i];
		bool x_moved = x->stream > since && x->stream <= to;
		int is;
		if (strcmp(x->user_id, user_id) == 0 || (!x_moved && !mine_moved))
			continue;
		if (i_share && sync_keys_shares(x->membership) &&
		    (strcmp(mine->membership, "join") == 0 || strcmp(x->membership, "join") == 0)) {
			/* "who now share an encrypted room with the client" */
			json_object_set_new(changed_set, x->user_id, json_true());
		} else if ((is = sync_keys_is_shared(shared, x->user_id)) < 0) {
			ret = -1;
		} else if (!is) {
			/* "who no longer share any end-to-end encrypted rooms" */
			json_object_set_new(left_set, x->user_id, json_true());
		}
	}
	store_membership_list_clear(&members);
	return ret;
}

/* Rooms of user_id with an event after since, then each of them. */
static int sync_keys_rooms(struct app *app, const char *user_id, int64_t since, int64_t to,
                           struct sync_keys_shared *shared, json_t *changed_set,
                           json_t *left_set)
{
	struct store_membership_list ms = { 0 }, moved = { 0 };
	json_t *moved_set = NULL;
	const char **ids = NULL;
	int ret = -1;

	if (to <= since)
		return 0;
	if (store_user_memberships(app->store, user_id, &ms) != STORE_OK)
		return -1;
	if (ms.n == 0) {
		ret = 0;
		goto out;
	}
	if (!(ids = calloc(ms.n, sizeof(*ids))))
		goto out;
	for (size_t i = 0; i < ms.n; i++)
		ids[i] = ms.items[i].room_id;
	if (store_rooms_changed_since(app->store, ids, ms.n < STORE_ROOMS_QUERY_MAX ? ms.n :
	                              STORE_ROOMS_QUERY_MAX, since, &moved) != STORE_OK)
		goto out;
	if (!(moved_set = json_object()))
		goto out;
	for (size_t j = 0; j < moved.n; j++)
		json_object_set_new(moved_set, moved.items[j].room_id, json_true());
	for (size_t i = 0; i < ms.n; i++) {
		if (json_object_get(moved_set, ms.items[i].room_id) &&
		    sync_keys_room(app, user_id, &ms.items[i], since, to, shared, changed_set,
		                   left_set) != 0)
			goto out;
	}
	ret = 0;
out:
	json_decref(moved_set);
	free(ids);
	store_membership_list_clear(&moved);
	store_membership_list_clear(&ms);
	return ret;
}

static void sync_keys_set_to_array(const json_t *set, json_t *arr)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)set, k, v)
		json_array_append_new(arr, json_string(k));
}

int keys_device_list_delta(struct app *app, const char *user_id, int64_t since_events,
                           int64_t to_events, int64_t since_devices, int64_t to_devices,
                           json_t *changed, json_t *left)
{
	struct sync_keys_shared shared = { .app = app, .user_id = user_id };
	json_t *changed_set = json_object(), *left_set = json_object();
	int ret = -1;

	if (!changed_set || !left_set)
		goto out;
	if (sync_keys_stream_changes(app, since_devices, to_devices, &shared, changed_set) != 0 ||
	    sync_keys_rooms(app, user_id, since_events, to_events, &shared, changed_set,
	                    left_set) != 0)
		goto out;
	sync_keys_set_to_array(changed_set, changed);
	sync_keys_set_to_array(left_set, left);
	ret = 0;
out:
	json_decref(shared.set);
	json_decref(changed_set);
	json_decref(left_set);
	return ret;
}

int sync_keys_position(struct app *app, struct sync_token *next)
{
	int64_t pos = store_device_list_stream_max(app->store);

	if (pos < 0)
		return -1;
	next->device_lists = (uint64_t)pos;
	return 0;
}

int sync_keys_fill(struct sync_ctx *c, const struct sync_token *next, struct sync_result *out)
{
	const struct sync_params *p = c->p;
	json_t *counts, *fallbacks = NULL, *dl, *changed, *left;

	if (p->device_id) {
		counts = keys_otk_counts_json(c->app, p->user_id, p->device_id, &fallbacks);
		if (!counts)
			return -1;
		json_object_set_new(out->body, "device_one_time_keys_count", counts);
		json_object_set_new(out->body, "device_unused_fallback_key_types", fallbacks);
	}
	/* device_lists: "only present on an incremental sync" (sync.yaml) */
	if (p->initial)
		return 0;
	dl = json_object_get(out->body, "device_lists");
	changed = json_object_get(dl, "changed");
	left = json_object_get(dl, "left");
	if (!json_is_array(changed) || !json_is_array(left) ||
	    keys_device_list_delta(c->app, p->user_id, (int64_t)p->since.events, c->now_pos,
	                           (int64_t)p->since.device_lists, (int64_t)next->device_lists,
	                           changed, left) != 0)
		return -1;
	if (json_array_size(changed) > 0 || json_array_size(left) > 0)
		out->empty = false;
	return 0;
}
