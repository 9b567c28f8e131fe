/* sync_build.c: the /sync response: rooms by membership, account data,
 * next_batch. Per-room sections are in sync_room.c. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/pushrules_state.h"
#include "api/client/sync_internal.h"
#include "store/store.h"
#include "util/timeutil.h"

void sync_result_clear(struct sync_result *r)
{
	json_decref(r->body);
	for (size_t i = 0; i < r->n_watch_rooms; i++)
		free(r->watch_rooms[i]);
	free(r->watch_rooms);
	memset(r, 0, sizeof(*r));
}

/* Account data since the last sync: global events into `global`, room
 * events grouped per room into `per_room` (room_id -> array). */
static int account_data_load(struct sync_ctx *c, json_t *global, json_t *per_room)
{
	struct store_account_data_list l = { 0 };
	int64_t since = c->p->initial ? 0 : (int64_t)c->p->since.account_data;

	if (store_account_data_since(c->app->store, c->p->user_id, since, &l) != STORE_OK)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		json_t *content = json_loads(l.items[i].json, 0, NULL);
		json_t *ev;
		if (!content)
			continue;   /* validated on write; never serve what does not parse */
		if (strncmp(l.items[i].type, ACCOUNT_DATA_INTERNAL_PREFIX,
		            strlen(ACCOUNT_DATA_INTERNAL_PREFIX)) == 0) {
			json_decref(content);
			continue;   /* server-private entries are never served */
		}
		if (!l.items[i].room_id && strcmp(l.items[i].type, "m.push_rules") == 0)
			c->push_rules_sent = true;
		ev = json_pack("{s:s,s:o}", "type", l.items[i].type, "content", content);
		if (!l.items[i].room_id) {
			json_array_append_new(global, ev);
		} else {
			json_t *arr = json_object_get(per_room, l.items[i].room_id);
			if (!arr) {
				arr = json_array();
				json_object_set_new(per_room, l.items[i].room_id, arr);
			}
			json_array_append_new(arr, ev);
		}
	}
	store_account_data_list_clear(&l);
	return 0;
}

static int watch_add(struct sync_result *out, const char *room_id)
{
	char **grown = realloc(out->watch_rooms, (out->n_watch_rooms + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	out->watch_rooms = grown;
	if (!(grown[out->n_watch_rooms] = strdup(room_id)))
		return -1;
	out->n_watch_rooms++;
	return 0;
}

static int rooms_build(struct sync_ctx *c, json_t *room_ad, struct sync_result *out)
{
	struct store_membership_list ms = { 0 };
	int ret = -1;

	if (store_user_memberships(c->app->store, c->p->user_id, &ms) != STORE_OK)
		return -1;
	for (size_t i = 0; i < ms.n; i++) {
		const struct store_membership *m = &ms.items[i];
		bool changed = c->p->initial || m->stream > (int64_t)c->p->since.events;
		int r = 0;

		if (m->stream > c->now_pos)
			continue;   /* committed after this response's position */
		if (!filter_room_allowed(c->p->filter, m->room_id))
			continue;
		if (strcmp(m->membership, "join") == 0) {
			if (watch_add(out, m->room_id) != 0)
				goto out;
			r = sync_room_joined(c, m, json_object_get(room_ad, m->room_id));
		} else if (strcmp(m->membership, "invite") == 0 ||
		           strcmp(m->membership, "knock") == 0) {
			if (watch_add(out, m->room_id) != 0)
				goto out;
			if (changed)
				r = m->membership[0] == 'i' ? sync_room_invited(c, m) : sync_room_knocked(c, m);
		} else if ((strcmp(m->membership, "leave") == 0 ||
		            strcmp(m->membership, "ban") == 0) && changed &&
		           (!c->p->initial || filter_include_leave(c->p->filter)) &&
		           /* a forgotten room is gone from the leave section
		            * (POST /rooms/{roomId}/forget, directory feature) */
		           store_room_forgotten(c->app->store, c->p->user_id, m->room_id) !=
		                   STORE_OK) {
			r = sync_room_left(c, m);
		}
		if (r != 0)
			goto out;
	}
	ret = 0;
out:
	store_membership_list_clear(&ms);
	return ret;
}

int sync_build(struct app *app, const struct sync_params *p, struct sync_result *out)
{
	struct sync_ctx c = { .app = app, .p = p };
	json_t *global = json_array(), *room_ad = json_object();
	json_t *presence = NULL, *to_device = NULL;
	struct sync_token next = p->since;
	char *token = NULL;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	/* Read the positions first: everything up to them is committed, and
	 * anything committed later is left for the next sync. */
	c.now_pos = store_stream_max(app->store);
	next.account_data = (uint64_t)store_account_data_stream_max(app->store);
	next.events = (uint64_t)c.now_pos;
	/* typing, receipts and presence positions (sync_ephemeral.c) */
	if (sync_ephemeral_positions(&c, &next) != 0)
		goto out;
	/* device-list position (end-to-end encryption keys, sync_keys.c) */
	if (sync_keys_position(app, &next) != 0)
		goto out;
	c.now_ms = time_now_ms();
	c.join = json_object();
	c.invite = json_object();
	c.leave = json_object();
	c.knock = json_object();
	if (account_data_load(&c, global, room_ad) != 0 || rooms_build(&c, room_ad, out) != 0)
		goto out;
	if (!(presence = sync_presence_events(&c)) || !(to_device = sync_to_device_events(&c, &next)))
		goto out;
	if (p->initial && !c.push_rules_sent) {
		/* Clients read their push rules from the initial sync; a user who
		 * never edited them has the server defaults. */
		json_t *rules = pushrules_merged(app, p->user_id);
		if (rules)
			json_array_append_new(global, json_pack("{s:s,s:o}", "type", "m.push_rules",
			                                        "content", rules));
	}
	token = sync_token_format(&next);
	if (!token)
		goto out;
	out->empty = !c.has_content && json_array_size(global) == 0 &&
	             json_array_size(presence) == 0;
	out->body = json_pack("{s:s,s:{s:o,s:o,s:o,s:o},s:{s:O},s:{s:O},s:{s:O},s:{s:[],s:[]}}",
	                      "next_batch", token,
	                      "rooms", "join", c.join, "invite", c.invite, "leave", c.leave, "knock",
	                      c.knock,
	                      "account_data", "events", global,
	                      "presence", "events", presence,
	                      "to_device", "events", to_device,
	                      "device_lists", "changed", "left");
	c.join = c.invite = c.leave = c.knock = NULL;
	ret = out->body ? 0 : -1;
	/* device_lists and one-time key counts (end-to-end encryption keys) */
	if (ret == 0 && sync_keys_fill(&c, &next, out) != 0)
		ret = -1;
out:
	json_decref(c.join);
	json_decref(c.invite);
	json_decref(c.leave);
	json_decref(c.knock);
	json_decref(c.push_ruleset);
	json_decref(global);
	json_decref(presence);
	json_decref(to_device);
	json_decref(room_ad);
	free(token);
	if (ret != 0)
		sync_result_clear(out);
	return ret;
}
