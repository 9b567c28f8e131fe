/* server_notices.c: the notices account, one notices room per user, and
 * the notices themselves (see server_notices.h). */
#include "api/client/server_notices.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "api/client/rooms_util.h"
#include "config/config.h"
#include "events/events.h"
#include "rooms/room_version.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/timeutil.h"

#define NOTICE_DISPLAYNAME "Server Notices"
#define NOTICE_TEXT_MAX 1024

/* Serialises the creation of notices rooms: between "the user has none"
 * and "remember this one", no second room may be made. */
static pthread_mutex_t notice_room_lock = PTHREAD_MUTEX_INITIALIZER;

char *server_notice_sender(const struct app *app)
{
	return id_user_make(SERVER_NOTICE_LOCALPART, app->cfg->server_name);
}

/* The notices account exists and is ours: created here with no password,
 * never deactivated. An ordinary account holding the ID is refused. */
static int notice_sender_ready(struct app *app, const char *sender, struct event_error *err)
{
	struct store_user u = { 0 };
	enum store_result r = store_user_get(app->store, sender, &u);
	int ret = -1;

	if (r == STORE_NOT_FOUND) {
		r = store_user_create(app->store, sender, NULL, NOTICE_DISPLAYNAME, false,
		                      time_now_ms());
		/* a concurrent first notice may have created it: read it back */
		if (r == STORE_OK || r == STORE_CONFLICT)
			r = store_user_get(app->store, sender, &u);
	}
	if (r != STORE_OK) {
		event_error_set(err, 500, "M_UNKNOWN", "Could not read the server notices account");
		goto out;
	}
	if (u.password_hash != NULL || u.deactivated) {
		log_error("server notices: %s is an ordinary account; refusing to send notices "
		          "in its name", sender);
		event_error_set(err, 500, "M_UNKNOWN", "The server notices account is unusable");
		goto out;
	}
	ret = 0;
out:
	store_user_clear(&u);
	return ret;
}

/* Only the notices account may post, set state or invite; the user may
 * read and leave (m.room.member leave needs no power). */
static json_t *notice_power_levels(const struct room_version *rv, const char *sender)
{
	json_t *users = json_object();

	/* v12: creators have infinite power and must not be listed. */
	if (!rv->creators_infinite_power)
		json_object_set_new(users, sender, json_integer(100));
	return json_pack("{s:o,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:{}}", "users", users,
	                 "users_default", 0, "events_default", 100, "state_default", 100,
	                 "invite", 100, "kick", 100, "ban", 100, "redact", 100, "events");
}

/* Tag the room for the user ("m.server_notice") and wake their /sync. */
static void notice_room_tag(struct app *app, const char *user_id, const char *room_id)
{
	const char *users[1] = { user_id };
	json_t *tag = json_pack("{s:{s:{}}}", "tags", "m.server_notice");
	char *text = tag ? json_dumps(tag, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int64_t stream;

	if (!text || store_account_data_put(app->store, user_id, room_id, "m.tag", text,
	                                    &stream) != STORE_OK)
		log_error("server notices: could not tag %s for %s", room_id, user_id);
	else if (app->notifier)
		notifier_notify(app->notifier, NULL, 0, users, 1);
	free(text);
	json_decref(tag);
}

static int notice_room_create(struct app *app, const char *sender, const char *user_id,
                              char **room_id_out, struct event_error *err)
{
	const struct room_version *rv = room_version_get(app->cfg->default_room_version);
	struct event_spec specs[6];
	json_t *owned = json_array();
	size_t n = 0;
	int ret = -1;

	if (!rv || !owned) {
		event_error_set(err, 500, "M_UNKNOWN", "Cannot create the server notices room");
		goto out;
	}
#define NOTICE_SPEC(type, key, content)                                               \
	do {                                                                          \
		json_t *c_ = (content);                                               \
		json_array_append_new(owned, c_);                                     \
		specs[n++] = (struct event_spec){ type, key, c_, NULL };              \
	} while (0)
	NOTICE_SPEC("m.room.member", sender,
	            json_pack("{s:s,s:s}", "membership", "join", "displayname", NOTICE_DISPLAYNAME));
	NOTICE_SPEC("m.room.power_levels", "", notice_power_levels(rv, sender));
	NOTICE_SPEC("m.room.join_rules", "", json_pack("{s:s}", "join_rule", "invite"));
	NOTICE_SPEC("m.room.history_visibility", "",
	            json_pack("{s:s}", "history_visibility", "shared"));
	NOTICE_SPEC("m.room.name", "", json_pack("{s:s}", "name", NOTICE_DISPLAYNAME));
	NOTICE_SPEC("m.room.member", user_id, rooms_member_content(app, user_id, "invite"));
#undef NOTICE_SPEC
	for (size_t i = 0; i < n; i++) {
		if (!specs[i].content) {
			event_error_set(err, 500, "M_UNKNOWN", "Out of memory");
			goto out;
		}
	}
	ret = events_create_room(app->events, rv, sender, NULL, specs, n, room_id_out, err);
out:
	json_decref(owned);
	return ret;
}

/* The user's notices room, created (and tagged) on first use. */
static int notice_room_get(struct app *app, const char *sender, const char *user_id,
                           char **room_id_out, struct event_error *err)
{
	enum store_result r = store_server_notice_room_get(app->store, user_id, room_id_out);
	int ret = -1;

	if (r == STORE_OK)
		return 0;
	if (r != STORE_NOT_FOUND) {
		event_error_set(err, 500, "M_UNKNOWN", "Could not read the server notices room");
		return -1;
	}
	pthread_mutex_lock(&notice_room_lock);
	r = store_server_notice_room_get(app->store, user_id, room_id_out);
	if (r == STORE_OK) {
		ret = 0;
		goto out;
	}
	if (notice_room_create(app, sender, user_id, room_id_out, err) != 0)
		goto out;
	if (store_server_notice_room_set(app->store, user_id, *room_id_out) != STORE_OK) {
		/* the room exists but is not remembered: the next notice makes
		 * another; better than losing this one */
		log_error("server notices: could not remember %s for %s", *room_id_out, user_id);
	}
	notice_room_tag(app, user_id, *room_id_out);
	ret = 0;
out:
	pthread_mutex_unlock(&notice_room_lock);
	return ret;
}

/* A user who left (or whose invite was lost) is invited again. */
static int notice_invite_again(struct app *app, const char *sender, const char *user_id,
                               const char *room_id, struct event_error *err)
{
	char *membership = events_membership(app->events, room_id, user_id);
	struct event_spec spec;
	char *event_id = NULL;
	int ret = 0;

	if (!membership || strcmp(membership, "leave") == 0) {
		spec = (struct event_spec){ "m.room.member", user_id,
		                            rooms_member_content(app, user_id, "invite"), NULL };
		ret = spec.content ? events_send(app->events, room_id, sender, &spec, NULL, NULL,
		                                 &event_id, err)
		                   : -1;
		if (!spec.content)
			event_error_set(err, 500, "M_UNKNOWN", "Out of memory");
		json_decref(spec.content);
		free(event_id);
	}
	free(membership);
	return ret;
}

int server_notice_send(struct app *app, const char *user_id, json_t *content,
                       char **event_id_out, struct event_error *err)
{
	char localpart[ID_MAX_LEN + 1];
	char *sender = NULL, *room_id = NULL, *event_id = NULL;
	struct store_user u = { 0 };
	struct event_spec spec;
	int ret = -1;

	if (event_id_out)
		*event_id_out = NULL;
	if (!json_is_object(content)) {
		event_error_set(err, 400, "M_BAD_JSON", "content must be an object");
		return -1;
	}
	if (!user_id || !id_user_is_local(user_id, app->cfg->server_name, localpart,
	                                  sizeof(localpart))) {
		event_error_set(err, 400, "M_INVALID_PARAM",
		                "Server notices can only be sent to local users");
		return -1;
	}
	if (store_user_get(app->store, user_id, &u) != STORE_OK || u.deactivated) {
		event_error_set(err, 404, "M_NOT_FOUND", "User not found");
		goto out;
	}
	sender = server_notice_sender(app);
	if (!sender || strcmp(sender, user_id) == 0) {
		event_error_set(err, 400, "M_INVALID_PARAM", "Not a recipient of server notices");
		goto out;
	}
	if (notice_sender_ready(app, sender, err) != 0 ||
	    notice_room_get(app, sender, user_id, &room_id, err) != 0 ||
	    notice_invite_again(app, sender, user_id, room_id, err) != 0)
		goto out;
	spec = (struct event_spec){ "m.room.message", NULL, content, NULL };
	if (events_send(app->events, room_id, sender, &spec, NULL, NULL, &event_id, err) != 0)
		goto out;
	if (event_id_out) {
		*event_id_out = event_id;
		event_id = NULL;
	}
	ret = 0;
out:
	store_user_clear(&u);
	free(sender);
	free(room_id);
	free(event_id);
	return ret;
}

json_t *server_notice_text(const char *type, const char *text)
{
	return json_pack("{s:s,s:s,s:s}", "msgtype", "m.server_notice", "body", text,
	                 "server_notice_type", type);
}

/* ---- broadcast -------------------------------------------------------- */

struct notice_targets {
	char **ids;
	size_t n, cap;
	const char *sender;
	bool failed;
};

static int notice_target_add(void *ctx, const struct store_user *u)
{
	struct notice_targets *t = ctx;
	char **grown;

	if (u->deactivated || strcmp(u->user_id, t->sender) == 0)
		return 0;
	if (t->n >= SERVER_NOTICE_BROADCAST_MAX)
		return 1;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		grown = realloc(t->ids, cap * sizeof(*grown));
		if (!grown) {
			t->failed = true;
			return 1;
		}
		t->ids = grown;
		t->cap = cap;
	}
	if (!(t->ids[t->n] = strdup(u->user_id))) {
		t->failed = true;
		return 1;
	}
	t->n++;
	return 0;
}

int server_notice_broadcast(struct app *app, json_t *content, size_t *sent, size_t *failed)
{
	struct notice_targets t = { 0 };
	struct event_error err;
	int ret = -1;

	*sent = *failed = 0;
	t.sender = server_notice_sender(app);
	/* The list is read first and the notices sent after: no read stays
	 * open while thousands of events are written. */
	if (!t.sender || store_user_list(app->store, notice_target_add, &t) != STORE_OK ||
	    t.failed)
		goto out;
	for (size_t i = 0; i < t.n; i++) {
		if (server_notice_send(app, t.ids[i], content, NULL, &err) == 0) {
			(*sent)++;
		} else {
			(*failed)++;
			log_warn("server notices: broadcast did not reach %s: %s", t.ids[i],
			         err.message);
		}
	}
	ret = 0;
out:
	for (size_t i = 0; i < t.n; i++)
		free(t.ids[i]);
	free(t.ids);
	free((char *)t.sender);
	return ret;
}

/* ---- new-login notice ------------------------------------------------- */

static int notice_count_device(void *ctx, const struct store_device *d)
{
	(void)d;
	(*(size_t *)ctx)++;
	return 0;
}

void server_notice_new_login(struct app *app, const char *user_id, const char *device_id,
                             const char *display_name, const char *ip)
{
	char when[32] = "an unknown time", text[NOTICE_TEXT_MAX];
	struct event_error err;
	time_t now = time(NULL);
	size_t devices = 0;
	struct tm tm;
	json_t *content;

	/* Only the account's other sessions need telling: a first login has
	 * none. */
	if (store_device_list(app->store, user_id, notice_count_device, &devices) != STORE_OK ||
	    devices < 2)
		return;
	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(text, sizeof(text),
	         "New sign-in to your account: device \"%s\" (%s) from IP address %s at %s. "
	         "If this was not you, change your password and tell the server administrators.",
	         display_name ? display_name : device_id, device_id, ip ? ip : "unknown", when);
	content = server_notice_text("chappe.new_login", text);
	if (content) {
		json_object_set_new(content, "device_id", json_string(device_id));
		if (ip)
			json_object_set_new(content, "ip", json_string(ip));
	}
	if (!content || server_notice_send(app, user_id, content, NULL, &err) != 0)
		log_warn("server notices: no new-login notice for %s: %s", user_id,
		         content ? err.message : "out of memory");
	json_decref(content);
}
