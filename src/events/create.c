/* create.c: events_create_room: the create event and the initial state,
 * authorized one after another against the state built so far, then
 * persisted with the room in one transaction. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "events/build.h"
#include "events/events_internal.h"
#include "events/search_text.h"
#include "rooms/room_version.h"
#include "rooms/state_map.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/str.h"
#include "util/timeutil.h"

#define CREATE_MAX_EVENTS 256

/* v10/v11 room IDs: "!" + 18 random letters + ":" + server name. */
static char *room_id_random(const char *server_name)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char local[19];
	for (int i = 0; i < 18; i++)
		local[i] = letters[randombytes_uniform(sizeof(letters) - 1)];
	local[18] = '\0';
	return str_printf("!%s:%s", local, server_name);
}

struct create_run {
	struct events_ctx *ctx;
	const struct room_version *rv;
	const char *sender;
	char *room_id;
	struct state_map *state, *empty;
	struct event_built *built;
	struct store_event_new *rows;
	json_t **events;
	char **prevs;
	size_t n;
	int64_t now;
};

/* Build events[i] from spec on top of the run's state. */
static int create_step(struct create_run *run, const struct event_spec *spec,
                       struct event_error *err)
{
	struct event_build_args a = { 0 };
	size_t i = run->n;
	json_t *ev;

	a.rv = run->rv;
	a.cfg = run->ctx->cfg;
	a.key = run->ctx->key;
	a.room_id = run->room_id;
	a.sender = run->sender;
	a.spec = spec;
	a.state = i == 0 ? NULL : run->state;
	a.empty_state = run->empty;
	a.prev_event_id = i == 0 ? NULL : run->built[i - 1].event_id;
	a.prev_depth = (int64_t)i;
	a.now_ms = run->now;
	ev = event_build(&a, err);
	if (!ev)
		return -1;
	if (event_finish(run->rv, ev, &run->built[i], err) != 0) {
		json_decref(ev);
		return -1;
	}
	run->events[i] = ev;
	run->n++;
	if (i == 0 && run->rv->room_id_from_create) {
		/* v12: the room is named after its create event. */
		run->room_id = str_printf("!%s", run->built[0].event_id + 1);
		if (!run->room_id)
			return -1;
	}
	if (spec->state_key) {
		json_t *tagged = json_deep_copy(ev);
		run->prevs[i] = NULL;
		if (json_object_get(ev, "state_key")) {
			json_t *old = state_map_get(run->state, spec->type, spec->state_key);
			if (old)
				run->prevs[i] = json_dumps(json_object_get(old, "content"), JSON_COMPACT);
		}
		json_object_set_new(tagged, "event_id", json_string(run->built[i].event_id));
		state_map_set_event(run->state, tagged);
		json_decref(tagged);
	}
	return 0;
}

static void create_run_free(struct create_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		event_built_clear(&run->built[i]);
		json_decref(run->events[i]);
		free(run->prevs[i]);
	}
	free(run->built);
	free(run->rows);
	free(run->events);
	free(run->prevs);
	state_map_free(run->state);
	state_map_free(run->empty);
	free(run->room_id);
}

static int create_persist(struct create_run *run, struct event_error *err)
{
	struct store_room_new room = { run->room_id, run->rv->id, run->sender, run->now };
	int64_t *streams = calloc(run->n, sizeof(*streams));
	/* search feature: the texts /search may find; none at all when the
	 * initial state encrypts the room */
	char **search = calloc(run->n, sizeof(*search));
	bool encrypted = state_map_get(run->state, "m.room.encryption", "") != NULL;
	enum store_result r;

	if (!streams || !search) {
		free(streams);
		free(search);
		event_error_set(err, 500, "M_UNKNOWN", "Out of memory");
		return -1;
	}
	for (size_t i = 0; i < run->n; i++) {
		const json_t *ev = run->events[i];
		struct store_event_new *row = &run->rows[i];
		const char *sk = json_string_value(json_object_get(ev, "state_key"));
		memset(row, 0, sizeof(*row));
		row->event_id = run->built[i].event_id;
		row->room_id = run->room_id;
		row->type = json_string_value(json_object_get(ev, "type"));
		row->state_key = sk;
		row->sender = run->sender;
		row->origin_ts = run->now;
		row->depth = (int64_t)i + 1;
		row->json = run->built[i].json;
		row->json_len = run->built[i].json_len;
		row->prev_content = run->prevs[i];
		if (sk && strcmp(row->type, "m.room.member") == 0)
			row->membership = json_string_value(
			    json_object_get(json_object_get(ev, "content"), "membership"));
		search[i] = event_search_text(ev, encrypted, &row->search_key);
		row->search_text = search[i];
	}
	r = store_events_persist(run->ctx->store, &room, run->rows, run->n, streams);
	free(streams);
	for (size_t i = 0; i < run->n; i++)
		free(search[i]);
	free(search);
	if (r != STORE_OK) {
		event_error_set(err, 500, "M_UNKNOWN", "Could not store the room");
		return -1;
	}
	return 0;
}

static void create_notify(struct create_run *run)
{
	const char *rooms[1] = { run->room_id };
	const char **users = calloc(run->n, sizeof(*users));
	size_t n_users = 0;

	if (!users) {
		notifier_notify(run->ctx->notifier, rooms, 1, NULL, 0);
		return;
	}
	for (size_t i = 0; i < run->n; i++)
		if (run->rows[i].membership)
			users[n_users++] = run->rows[i].state_key;
	notifier_notify(run->ctx->notifier, rooms, 1, users, n_users);
	free(users);
}

int events_create_room(struct events_ctx *ctx, const struct room_version *rv,
                       const char *sender, json_t *creation_content,
                       const struct event_spec *specs, size_t n,
                       char **room_id_out, struct event_error *err)
{
	struct create_run run = { .ctx = ctx, .rv = rv, .sender = sender, .now = time_now_ms() };
	struct event_spec create = { "m.room.create", "", NULL, NULL };
	int ret = -1;

	*room_id_out = NULL;
	if (n + 1 > CREATE_MAX_EVENTS) {
		event_error_set(err, 400, "M_LIMIT_EXCEEDED", "Too much initial state");
		return -1;
	}
	run.built = calloc(n + 1, sizeof(*run.built));
	run.rows = calloc(n + 1, sizeof(*run.rows));
	run.events = calloc(n + 1, sizeof(*run.events));
	run.prevs = calloc(n + 1, sizeof(*run.prevs));
	run.state = state_map_new();
	run.empty = state_map_new();
	create.content = creation_content ? json_deep_copy(creation_content) : json_object();
	if (!run.built || !run.rows || !run.events || !run.prevs || !run.state || !run.empty ||
	    !create.content) {
		event_error_set(err, 500, "M_UNKNOWN", "Out of memory");
		goto out;
	}
	/* The server decides these two, whatever creation_content says. */
	json_object_set_new(create.content, "room_version", json_string(rv->id));
	if (rv->create_requires_creator)
		json_object_set_new(create.content, "creator", json_string(sender));
	else
		json_object_del(create.content, "creator");
	if (!rv->room_id_from_create && !(run.room_id = room_id_random(ctx->cfg->server_name)))
		goto out;
	if (create_step(&run, &create, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (create_step(&run, &specs[i], err) != 0) {
			/* create_room.yaml: initial state the rules refuse is a 400 */
			if (err->status == 403) {
				char why[sizeof(err->message)];
				memcpy(why, err->message, sizeof(why));
				event_error_set(err, 400, "M_INVALID_ROOM_STATE",
				                "Initial state %s refused: %.180s", specs[i].type, why);
			}
			goto out;
		}
	}
	if (create_persist(&run, err) != 0)
		goto out;
	/* The cache takes the state (or frees it if it cannot keep it: the
	 * room then loads from the store on first use). */
	room_cache_insert(ctx->cache, run.room_id, rv, run.state,
	                  strdup(run.built[run.n - 1].event_id), (int64_t)run.n);
	run.state = NULL;
	create_notify(&run);
	*room_id_out = run.room_id;
	run.room_id = NULL;
	ret = 0;
out:
	json_decref(create.content);
	create_run_free(&run);
	return ret;
}
