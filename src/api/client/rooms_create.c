/* rooms_create.c: POST /createRoom (create_room.yaml). The initial events
 * follow the spec's order: create, the creator's join, power levels,
 * canonical alias, the preset's join rules / history visibility / guest
 * access, initial_state, name, topic, then the invites. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/directory.h"
#include "api/client/handlers.h"
#include "api/client/rooms_util.h"
#include "config/config.h"
#include "events/events.h"
#include "rooms/room_version.h"
#include "store/store.h"
#include "util/ids.h"

#define CREATE_INITIAL_STATE_MAX 100
#define CREATE_INVITES_MAX 100
#define CREATE_SPECS_MAX (CREATE_INITIAL_STATE_MAX + CREATE_INVITES_MAX + 16)

static json_t *power_levels_default(const struct room_version *rv, const char *creator,
                                    json_t *invites, bool trusted)
{
	json_t *users = json_object(), *v;
	size_t i;

	/* v12: creators have infinite power and must not be listed. */
	if (!rv->creators_infinite_power)
		json_object_set_new(users, creator, json_integer(100));
	if (trusted)
		json_array_foreach(invites, i, v)
			json_object_set_new(users, json_string_value(v), json_integer(100));
	return json_pack("{s:o,s:i,s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i},s:i,s:i,s:i,s:i,s:i,s:i,"
	                 "s:i,s:{s:i}}",
	                 "users", users, "users_default", 0,
	                 "events", "m.room.name", 50, "m.room.power_levels", 100,
	                 "m.room.history_visibility", 100, "m.room.canonical_alias", 50,
	                 "m.room.avatar", 50, "m.room.tombstone", 100, "m.room.server_acl", 100,
	                 "m.room.encryption", 100,
	                 "events_default", 0, "state_default", 50, "ban", 50, "kick", 50,
	                 "redact", 50, "invite", 0, "historical", 100,
	                 "notifications", "room", 50);
}

struct create_specs {
	struct event_spec items[CREATE_SPECS_MAX];
	size_t n;
	json_t *owned;   /* contents created here, released at the end */
};

static void spec_add(struct create_specs *s, const char *type, const char *state_key,
                     json_t *content /* stolen */)
{
	if (s->n >= CREATE_SPECS_MAX) {
		json_decref(content);
		return;
	}
	json_array_append_new(s->owned, content);
	s->items[s->n++] = (struct event_spec){ type, state_key, content, NULL };
}

struct create_params {
	const char *preset, *visibility, *name, *topic, *alias_name, *version;
	json_t *invites, *initial_state, *pl_override, *creation;
	bool is_direct;
};

static int create_params_parse(struct request *req, json_t *body, struct create_params *p)
{
	memset(p, 0, sizeof(*p));
	if (req_get_string(req, body, "preset", false, &p->preset) != 0 ||
	    req_get_string(req, body, "visibility", false, &p->visibility) != 0 ||
	    req_get_string(req, body, "name", false, &p->name) != 0 ||
	    req_get_string(req, body, "topic", false, &p->topic) != 0 ||
	    req_get_string(req, body, "room_alias_name", false, &p->alias_name) != 0 ||
	    req_get_string(req, body, "room_version", false, &p->version) != 0 ||
	    req_get_bool(req, body, "is_direct", &p->is_direct) != 0)
		return -1;
	p->invites = json_object_get(body, "invite");
	p->initial_state = json_object_get(body, "initial_state");
	p->pl_override = json_object_get(body, "power_level_content_override");
	p->creation = json_object_get(body, "creation_content");
	if ((p->invites && !json_is_array(p->invites)) ||
	    (p->initial_state && !json_is_array(p->initial_state)) ||
	    (p->pl_override && !json_is_object(p->pl_override)) ||
	    (p->creation && !json_is_object(p->creation))) {
		res_error(req, 400, "M_BAD_JSON", "invite, initial_state, "
		          "power_level_content_override or creation_content has the wrong type");
		return -1;
	}
	if (json_array_size(p->invites) > CREATE_INVITES_MAX ||
	    json_array_size(p->initial_state) > CREATE_INITIAL_STATE_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "Too many invites or initial state events");
		return -1;
	}
	if (p->visibility && strcmp(p->visibility, "public") != 0 &&
	    strcmp(p->visibility, "private") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "visibility must be public or private");
		return -1;
	}
	if (!p->preset)
		p->preset = p->visibility && strcmp(p->visibility, "public") == 0 ? "public_chat"
		                                                                  : "private_chat";
	if (strcmp(p->preset, "public_chat") != 0 && strcmp(p->preset, "private_chat") != 0 &&
	    strcmp(p->preset, "trusted_private_chat") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "Unknown preset %s", p->preset);
		return -1;
	}
	return 0;
}

static int invites_check(struct request *req, json_t *invites)
{
	struct app *app = APP(req);
	char lp[256];
	size_t i;
	json_t *v;
	json_array_foreach(invites, i, v) {
		const char *uid = json_string_value(v);
		if (!json_is_string(v) || !id_user_valid(uid)) {
			res_error(req, 400, "M_INVALID_PARAM", "invite must list user IDs");
			return -1;
		}
		/* No federation: only this server's existing users can be invited. */
		if (!id_user_is_local(uid, app->cfg->server_name, lp, sizeof(lp)) ||
		    store_user_exists(app->store, uid) != STORE_OK) {
			res_error(req, 404, "M_NOT_FOUND", "Unknown user %s", uid);
			return -1;
		}
	}
	return 0;
}

static int initial_state_add(struct request *req, struct create_specs *s, json_t *list)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		const char *type = json_string_value(json_object_get(v, "type"));
		json_t *sk = json_object_get(v, "state_key"), *content = json_object_get(v, "content");
		if (!type || !json_is_object(content) || (sk && !json_is_string(sk))) {
			res_error(req, 400, "M_INVALID_ROOM_STATE", "initial_state entry %zu is invalid", i);
			return -1;
		}
		/* Memberships come from the creator's join and `invite`, never
		 * from initial_state (a leave there would orphan the room). */
		if (strcmp(type, "m.room.member") == 0) {
			res_error(req, 400, "M_INVALID_ROOM_STATE",
			          "initial_state may not set memberships (entry %zu)", i);
			return -1;
		}
		spec_add(s, type, sk ? json_string_value(sk) : "", json_deep_copy(content));
	}
	return 0;
}

static void preset_add(struct create_specs *s, const char *preset)
{
	bool pub = strcmp(preset, "public_chat") == 0;
	spec_add(s, "m.room.join_rules", "", json_pack("{s:s}", "join_rule", pub ? "public" : "invite"));
	spec_add(s, "m.room.history_visibility", "",
	         json_pack("{s:s}", "history_visibility", "shared"));
	spec_add(s, "m.room.guest_access", "",
	         json_pack("{s:s}", "guest_access", pub ? "forbidden" : "can_join"));
}

static void invites_add(struct create_specs *s, json_t *invites, bool is_direct)
{
	size_t i;
	json_t *v;
	json_array_foreach(invites, i, v) {
		json_t *c = json_pack("{s:s}", "membership", "invite");
		if (is_direct)
			json_object_set_new(c, "is_direct", json_true());
		spec_add(s, "m.room.member", json_string_value(v), c);
	}
}

/* "#room_alias_name:our.server" if the name is acceptable and the alias
 * is free; NULL with the response set otherwise. The caller holds the
 * alias lock until the alias is mapped, so "free" stays true. */
static char *create_alias_reserve(struct request *req, json_t *body)
{
	struct app *app = APP(req);
	json_t *v = json_object_get(body, "room_alias_name");
	const char *name = json_string_value(v);
	size_t len = json_string_length(v);
	char *alias = NULL, *taken_by = NULL;
	enum store_result r;

	/* "The desired room alias local part" (create_room.yaml): no ':', no
	 * NUL, which would cut the name short, and no whitespace. */
	if (!name || strlen(name) != len || !directory_alias_localpart_ok(name, len) ||
	    len + strlen(app->cfg->server_name) + 2 > ID_MAX_LEN) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid characters in room alias");
		return NULL;
	}
	alias = malloc(len + strlen(app->cfg->server_name) + 3);
	if (!alias) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return NULL;
	}
	strcpy(alias, "#");
	strcat(alias, name);
	strcat(alias, ":");
	strcat(alias, app->cfg->server_name);
	r = directory_alias_valid(alias) ? store_alias_get(app->store, alias, &taken_by, NULL)
	                                 : STORE_ERROR;
	free(taken_by);
	if (r == STORE_NOT_FOUND)
		return alias;
	if (r == STORE_OK)
		/* "The room alias specified is already taken (errcode set to
		 * M_ROOM_IN_USE)" (create_room.yaml, 400 response) */
		res_error(req, 400, "M_ROOM_IN_USE", "Room alias %s already taken", alias);
	else
		res_error(req, 500, "M_UNKNOWN", "Could not read the room directory");
	free(alias);
	return NULL;
}

void api_create_room(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, true);
	struct create_params p;
	struct create_specs s = { .n = 0 };
	const struct room_version *rv;
	struct event_error err;
	json_t *pl, *member;
	char *room_id = NULL, *alias = NULL;
	bool alias_locked = false;

	if (!body || create_params_parse(req, body, &p) != 0 || invites_check(req, p.invites) != 0)
		return;
	rv = room_version_get(p.version ? p.version : app->cfg->default_room_version);
	if (!rv) {
		res_error(req, 400, "M_UNSUPPORTED_ROOM_VERSION", "Unsupported room version");
		return;
	}
	if (p.alias_name) {
		directory_alias_lock();
		alias_locked = true;
		if (!(alias = create_alias_reserve(req, body)))
			goto out;
	}
	s.owned = json_array();
	member = rooms_member_content(app, req->auth.user_id, "join");
	spec_add(&s, "m.room.member", req->auth.user_id, member);
	pl = power_levels_default(rv, req->auth.user_id, p.invites,
	                          strcmp(p.preset, "trusted_private_chat") == 0);
	if (p.pl_override)
		json_object_update(pl, p.pl_override);
	spec_add(&s, "m.room.power_levels", "", pl);
	if (alias)
		spec_add(&s, "m.room.canonical_alias", "", json_pack("{s:s}", "alias", alias));
	preset_add(&s, p.preset);
	if (initial_state_add(req, &s, p.initial_state) != 0)
		goto out;
	if (p.name)
		spec_add(&s, "m.room.name", "", json_pack("{s:s}", "name", p.name));
	if (p.topic)
		spec_add(&s, "m.room.topic", "", json_pack("{s:s}", "topic", p.topic));
	invites_add(&s, p.invites, p.is_direct);
	if (events_create_room(app->events, rv, req->auth.user_id, p.creation, s.items, s.n,
	                       &room_id, &err) != 0) {
		res_error(req, err.status, err.errcode, "%s", err.message);
		goto out;
	}
	if (alias && store_alias_create(app->store, alias, room_id, req->auth.user_id) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Room %s created, but its alias could not be saved",
		          room_id);
		goto out;
	}
	if (p.visibility && strcmp(p.visibility, "public") == 0)
		store_room_set_published(app->store, room_id, true);
	res_json(req, 200, json_pack("{s:s}", "room_id", room_id));
out:
	if (alias_locked)
		directory_alias_unlock();
	json_decref(s.owned);
	free(room_id);
	free(alias);
}
