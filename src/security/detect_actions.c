/* detect_actions.c: the scraper detector's actions and outside feeds
 * (contract in detect_actions.h). Compiled into the API library
 * (src/api/client/meson.build), like containment.c. */
#include "security/detect_actions.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#ifdef CHAPPE_HAVE_CURL
#include <curl/curl.h>
#endif

#include "api/app.h"
#include "api/client/rooms_util.h"
#include "api/client/server_notices.h"
#include "config/config.h"
#include "events/events.h"
#include "rooms/room_version.h"
#include "security/containment.h"
#include "security/detect.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/timeutil.h"

_Static_assert(CONFIG_DETECT_METRICS == DETECT_METRIC_COUNT, "config and detect metrics");
_Static_assert(CONFIG_DETECT_ACTIONS == DETECT_ACTION_COUNT, "config and detect actions");

struct alert {
	struct alert *next;
	char *user_id;
	char *text;        /* the notice body */
	json_t *json;      /* the webhook body */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stopping;
	struct app *app;
	struct alert *head, *tail;
	size_t queued;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void alert_free(struct alert *a)
{
	if (!a)
		return;
	free(a->user_id);
	free(a->text);
	json_decref(a->json);
	free(a);
}

/* ---- the security room ---------------------------------------------------- */

/* The notices account exists and holds no password (nobody can sign in
 * as it, so nobody can post as the security room's owner). */
static int sender_ready(struct app *app, const char *sender)
{
	struct store_user u = { 0 };
	enum store_result r = store_user_get(app->store, sender, &u);
	int ret = -1;

	if (r == STORE_NOT_FOUND) {
		r = store_user_create(app->store, sender, NULL, "Server Notices", false,
		                      time_now_ms());
		if (r == STORE_OK || r == STORE_CONFLICT)
			r = store_user_get(app->store, sender, &u);
	}
	if (r == STORE_OK && u.password_hash == NULL && !u.deactivated)
		ret = 0;
	else
		log_error("detect: %s cannot own the security room", sender);
	store_user_clear(&u);
	return ret;
}

static int security_room_create(struct app *app, const char *sender, char **room_id)
{
	const struct room_version *rv = room_version_get(app->cfg->default_room_version);
	json_t *users = json_object(), *c[4];
	struct event_spec specs[4];
	struct event_error err = { 0 };
	int ret = -1;

	/* v12: creators have infinite power and must not be listed */
	if (rv && users && !rv->creators_infinite_power)
		json_object_set_new(users, sender, json_integer(100));
	c[0] = json_pack("{s:s,s:s}", "membership", "join", "displayname", "Server Notices");
	c[1] = json_pack("{s:o,s:i,s:i,s:i,s:i,s:i,s:i}", "users", users, "users_default", 0,
	                 "events_default", 0, "state_default", 100, "invite", 100, "kick", 100,
	                 "ban", 100);
	c[2] = json_pack("{s:s}", "join_rule", "invite");
	c[3] = json_pack("{s:s}", "name", "Security alerts");
	specs[0] = (struct event_spec){ "m.room.member", sender, c[0], NULL };
	specs[1] = (struct event_spec){ "m.room.power_levels", "", c[1], NULL };
	specs[2] = (struct event_spec){ "m.room.join_rules", "", c[2], NULL };
	specs[3] = (struct event_spec){ "m.room.name", "", c[3], NULL };
	if (rv && c[0] && c[1] && c[2] && c[3])
		ret = events_create_room(app->events, rv, sender, NULL, specs, 4, room_id, &err);
	if (ret != 0)
		log_error("detect: cannot create the security room: %s", err.message);
	for (size_t i = 0; i < 4; i++)
		json_decref(c[i]);
	return ret;
}

/* The security room, created on first use and remembered in the notices
 * account's global account data: nobody can sign in as that account, so
 * nobody can point the alerts elsewhere (an alias could be squatted by any
 * user before the first alert). Only the alert thread creates it. */
static int security_room_get(struct app *app, const char *sender, char **room_id)
{
	char *text = NULL, *out = NULL;
	json_t *j = NULL;
	enum store_result r;
	int64_t stream;
	int ret = -1;

	*room_id = NULL;
	r = store_account_data_get(app->store, sender, NULL, DETECT_SECURITY_ROOM_TYPE, &text);
	if (r == STORE_OK) {
		j = json_loads(text, 0, NULL);
		if (json_string_value(json_object_get(j, "room_id")) &&
		    (*room_id = strdup(json_string_value(json_object_get(j, "room_id")))))
			ret = 0;
		else
			log_error("detect: unreadable %s account data", DETECT_SECURITY_ROOM_TYPE);
		goto out;
	}
	if (r != STORE_NOT_FOUND || security_room_create(app, sender, room_id) != 0)
		goto out;
	j = json_pack("{s:s}", "room_id", *room_id);
	out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!out || store_account_data_put(app->store, sender, NULL, DETECT_SECURITY_ROOM_TYPE,
	                                   out, &stream) != STORE_OK)
		log_error("detect: cannot remember the security room %s", *room_id);
	ret = 0;   /* this alert still goes to the room just made */
out:
	json_decref(j);
	free(text);
	free(out);
	if (ret != 0) {
		free(*room_id);
		*room_id = NULL;
	}
	return ret;
}

struct admins {
	char **ids;
	size_t n, cap;
};

static int admin_collect(void *ctx, const struct store_user *u)
{
	struct admins *a = ctx;
	char **grown;

	if (!u->admin || u->deactivated)
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		if (cap > 4096 || !(grown = realloc(a->ids, cap * sizeof(*grown))))
			return 1;   /* enough admins for one room */
		a->ids = grown;
		a->cap = cap;
	}
	if ((a->ids[a->n] = strdup(u->user_id)) != NULL)
		a->n++;
	return 0;
}

/* Invite every admin who is neither joined nor invited. */
static void security_room_invite_admins(struct app *app, const char *sender,
                                        const char *room_id)
{
	struct admins a = { 0 };

	if (store_user_list(app->store, admin_collect, &a) != STORE_OK)
		log_error("detect: cannot list the admins to invite");
	for (size_t i = 0; i < a.n; i++) {
		char *m = events_membership(app->events, room_id, a.ids[i]);
		bool in = m && (strcmp(m, "join") == 0 || strcmp(m, "invite") == 0 ||
		                strcmp(m, "ban") == 0);
		json_t *content = in ? NULL : rooms_member_content(app, a.ids[i], "invite");
		struct event_spec spec = { "m.room.member", a.ids[i], content, NULL };
		struct event_error err = { 0 };
		char *event_id = NULL;

		if (content && events_send(app->events, room_id, sender, &spec, NULL, NULL,
		                           &event_id, &err) != 0)
			log_error("detect: cannot invite %s to the security room: %s", a.ids[i],
			          err.message);
		free(event_id);
		json_decref(content);
		free(m);
		free(a.ids[i]);
	}
	free(a.ids);
}

static void security_room_post(struct app *app, const struct alert *al)
{
	char *sender = server_notice_sender(app), *room_id = NULL, *event_id = NULL;
	json_t *content = json_pack("{s:s,s:s}", "msgtype", "m.notice", "body", al->text);
	struct event_spec spec = { "m.room.message", NULL, content, NULL };
	struct event_error err = { 0 };

	if (!sender || !content || sender_ready(app, sender) != 0 ||
	    security_room_get(app, sender, &room_id) != 0)
		goto out;
	security_room_invite_admins(app, sender, room_id);
	if (events_send(app->events, room_id, sender, &spec, NULL, NULL, &event_id, &err) != 0)
		log_error("detect: cannot post the alert about %s: %s", al->user_id, err.message);
out:
	free(event_id);
	json_decref(content);
	free(room_id);
	free(sender);
}

/* ---- webhook -------------------------------------------------------------- */

#ifdef CHAPPE_HAVE_CURL
static size_t webhook_discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static void webhook_post(const char *url, const struct alert *al)
{
	char *body = json_dumps(al->json, JSON_COMPACT | JSON_SORT_KEYS);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	CURLcode rc = CURLE_FAILED_INIT;
	long status = 0;

	if (body && hdr && c) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)DETECT_WEBHOOK_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, webhook_discard);
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
	if (rc != CURLE_OK || status < 200 || status > 299)
		log_error("detect: alert webhook failed (%s, HTTP %ld)", curl_easy_strerror(rc),
		          status);
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	free(body);
}
#else
static void webhook_post(const char *url, const struct alert *al)
{
	(void)al;
	log_error("detect: built without libcurl; alert webhook %s not called", url);
}
#endif

/* ---- the alert thread ----------------------------------------------------- */

static void *alert_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q.lock);
	for (;;) {
		struct alert *al;

		while (!q.head && !q.stopping)
			pthread_cond_wait(&q.cond, &q.lock);
		if (!q.head)
			break;
		al = q.head;
		q.head = al->next;
		if (!q.head)
			q.tail = NULL;
		q.queued--;
		pthread_mutex_unlock(&q.lock);
		security_room_post(q.app, al);
		if (q.app->cfg->detect.alert_webhook_url)
			webhook_post(q.app->cfg->detect.alert_webhook_url, al);
		alert_free(al);
		pthread_mutex_lock(&q.lock);
	}
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

static struct alert *alert_build(const struct detect_fire *f, const char *done)
{
	const struct detect_exposure *e = &f->exposure;
	struct alert *al = calloc(1, sizeof(*al));
	char text[1024];

	if (!al)
		return NULL;
	snprintf(text, sizeof(text),
	         "Scraper detection: %s reached %" PRIu64 " %s within %u s (threshold %" PRIu64
	         " for an account %s). Rule action: %s%s.\n"
	         "Exposure so far: %" PRIu64 " rooms, %" PRIu64 " events, %" PRIu64
	         " media files (%" PRIu64 " bytes), %" PRIu64 " directory searches revealing %"
	         PRIu64 " users, %" PRIu64 " public rooms joined.\n"
	         "Report: chappe audit exposure %s",
	         f->user_id, f->count, detect_metric_name(f->rule.metric), f->rule.window_s,
	         f->threshold, f->account_age_ms < 0 ? "of unknown age" :
	         f->account_age_ms < 86400000 ? "less than a day old" : "older than a day",
	         detect_action_name(f->rule.action), done, e->rooms, e->events,
	         e->media_downloads, e->media_bytes, e->directory_searches, e->directory_users,
	         e->public_joins, f->user_id);
	al->user_id = strdup(f->user_id);
	al->text = strdup(text);
	al->json = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:s}",
	                     "user_id", f->user_id, "rule", detect_metric_name(f->rule.metric),
	                     "action", detect_action_name(f->rule.action),
	                     "count", (json_int_t)f->count, "threshold", (json_int_t)f->threshold,
	                     "window_seconds", (json_int_t)f->rule.window_s, "exposure",
	                     "rooms", (json_int_t)e->rooms, "events", (json_int_t)e->events,
	                     "media_downloads", (json_int_t)e->media_downloads,
	                     "media_bytes", (json_int_t)e->media_bytes,
	                     "directory_searches", (json_int_t)e->directory_searches,
	                     "directory_users", (json_int_t)e->directory_users,
	                     "public_joins", (json_int_t)e->public_joins, "body", text);
	if (!al->user_id || !al->text || !al->json) {
		alert_free(al);
		return NULL;
	}
	return al;
}

static void alert_queue(const struct detect_fire *f, const char *done)
{
	struct alert *al = alert_build(f, done);
	bool queued = false;

	pthread_mutex_lock(&q.lock);
	if (al && q.started && !q.stopping && q.queued < DETECT_ALERTS_QUEUED) {
		if (q.tail)
			q.tail->next = al;
		else
			q.head = al;
		q.tail = al;
		q.queued++;
		queued = true;
		pthread_cond_signal(&q.cond);
	}
	pthread_mutex_unlock(&q.lock);
	if (!queued) {
		log_error("detect: alert about %s dropped (queue full or out of memory)",
		          f->user_id);
		alert_free(al);
	}
}

/* The detector's action function: runs on the observing thread. */
static void actions_fire(void *ctx, const struct detect_fire *f)
{
	struct app *app = ctx;
	char reason[160];
	enum containment_result r = CONTAIN_OK;

	snprintf(reason, sizeof(reason), "scraper detection: %s reached %" PRIu64,
	         detect_metric_name(f->rule.metric), f->count);
	switch (f->rule.action) {
	case DETECT_RECORD:
		return;   /* the detector logged it */
	case DETECT_ALERT:
		alert_queue(f, "");
		return;
	case DETECT_THROTTLE:
		alert_queue(f, " (reads refused for the cool-down)");
		return;
	case DETECT_SUSPEND:
		r = security_suspend(app, f->user_id, reason);
		break;
	case DETECT_LOCK:
		r = security_lock(app, f->user_id, reason);
		break;
	default:
		return;
	}
	alert_queue(f, r == CONTAIN_OK ? " (done)" : " (FAILED: see the server log)");
}

/* Creation time of the account, for age scaling. */
static int64_t actions_created(void *ctx, const char *user_id)
{
	struct app *app = ctx;
	struct store_user u = { 0 };
	int64_t ts = -1;

	if (store_user_get(app->store, user_id, &u) == STORE_OK)
		ts = u.created_ts;
	store_user_clear(&u);
	return ts;
}

int detect_actions_start(struct app *app)
{
	const struct config_detect *c = &app->cfg->detect;
	struct detect_rule rules[DETECT_RULES_MAX];
	struct detect_opts o = { 0 };
	size_t n = 0;

	if (!c->enabled) {
		log_warn("detect: scraper detection is disabled (scraper_detection.enabled)");
		return 0;
	}
	for (unsigned m = 0; m < DETECT_METRIC_COUNT; m++)
		for (unsigned a = 0; a < DETECT_ACTION_COUNT; a++)
			if (c->rules[m].threshold[a])
				rules[n++] = (struct detect_rule){ m, a, c->rules[m].window_seconds,
				                                   c->rules[m].threshold[a] };
	o = (struct detect_opts){ .rules = rules, .n_rules = n,
	                          .young_days = c->young_account_days,
	                          .young_percent = c->young_account_percent,
	                          .throttle_s = c->throttle_seconds,
	                          .old_event_days = c->old_event_days,
	                          .on_fire = actions_fire, .created = actions_created, .ctx = app };
	q.app = app;
	q.stopping = false;
	if (pthread_create(&q.thread, NULL, alert_thread, NULL) != 0) {
		log_error("detect: cannot start the alert thread");
		return -1;
	}
	q.started = true;
	if (detect_start(&o) != 0) {
		detect_actions_stop();
		return -1;
	}
	return 0;
}

void detect_actions_stop(void)
{
	detect_stop();
	if (!q.started)
		return;
	pthread_mutex_lock(&q.lock);
	q.stopping = true;
	pthread_cond_signal(&q.cond);
	pthread_mutex_unlock(&q.lock);
	pthread_join(q.thread, NULL);
	q.started = false;
}

/* ---- feeds from outside the served chokepoint ---------------------------- */

void detect_join_observe(struct app *app, const char *user_id, const char *room_id)
{
	json_t *jr = events_state_content(app->events, room_id, "m.room.join_rules", "");
	const char *rule = json_string_value(json_object_get(jr, "join_rule"));

	if (rule && strcmp(rule, "public") == 0)
		detect_observe_public_join(user_id, room_id);
	json_decref(jr);
}

struct ip_seen {
	const char *ip;
	size_t devices;
	bool seen;
};

static int device_ip_check(void *ctx, const struct store_device *d)
{
	struct ip_seen *s = ctx;

	s->devices++;
	if (d->last_seen_ip && strcmp(d->last_seen_ip, s->ip) == 0)
		s->seen = true;
	return 0;
}

void detect_login_observe(struct app *app, const char *user_id, const char *ip)
{
	struct ip_seen s = { .ip = ip };

	if (!ip || !detect_running())
		return;
	if (store_device_list(app->store, user_id, device_ip_check, &s) != STORE_OK)
		return;
	if (s.devices > 0 && !s.seen)
		detect_observe_new_device_ip(user_id);
}
