/*
 * exposure: the report's data (contract in exposure.h). Three passes:
 * walk the account's ledger rows in the window and gather them per room,
 * media, search, session; resolve each room's served stream positions to
 * events and read the room's description and the account's membership
 * history; then total it all.
 */
#include "security/exposure.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

#define RESOLVE_CHUNK 500   /* events per store read when resolving ranges */

struct room_acc {
	char *room_id;
	int64_t *pos;           /* served stream positions (sorted at the end) */
	size_t n, cap;
	json_t *reads;          /* kind -> count */
	UT_hash_handle hh;
};

struct gather {
	struct room_acc *rooms;
	json_t *media;          /* media_id -> {...} */
	json_t *searches;       /* [{ts, term, results}] */
	json_t *revealed;       /* user_id -> true */
	json_t *profiles;       /* user_id -> count */
	json_t *sessions;       /* device_id -> {...} */
	json_t *ips;            /* ip -> count */
	int64_t rows, dropped, key_queries, public_pages, public_listed, bad_rows;
	bool oom;
};

/* ---- pass 1: the ledger rows ------------------------------------------- */

static struct room_acc *room_acc_of(struct gather *g, const char *room_id)
{
	struct room_acc *r;

	HASH_FIND_STR(g->rooms, room_id, r);
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->room_id = strdup(room_id)) == NULL ||
	    (r->reads = json_object()) == NULL) {
		if (r)
			free(r->room_id);
		free(r);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, g->rooms, r->room_id, strlen(r->room_id), r);
	return r;
}

static int pos_push(struct room_acc *r, int64_t p)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		int64_t *np = realloc(r->pos, cap * sizeof(*np));
		if (np == NULL)
			return -1;
		r->pos = np;
		r->cap = cap;
	}
	r->pos[r->n++] = p;
	return 0;
}

/* "12-15,18" into r's positions. -1 on malformed text or OOM. */
static int ranges_add(struct room_acc *r, const char *s)
{
	while (*s) {
		char *end;
		long long a = strtoll(s, &end, 10), b = a;

		if (end == s || a <= 0)
			return -1;
		s = end;
		if (*s == '-') {
			b = strtoll(s + 1, &end, 10);
			if (end == s + 1 || b < a || b - a > 100000000)
				return -1;
			s = end;
		}
		for (long long p = a; p <= b; p++)
			if (pos_push(r, p) != 0)
				return -1;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return 0;
}

static void count_in(json_t *obj, const char *key, int64_t by)
{
	json_t *v = json_object_get(obj, key);
	json_object_set_new(obj, key, json_integer((v ? json_integer_value(v) : 0) + by));
}

static void set_add(json_t *set, const char *key)
{
	if (key && !json_object_get(set, key))
		json_object_set_new(set, key, json_true());
}

static void gather_session(struct gather *g, const struct store_ledger_row *r)
{
	const char *dev = r->device_id ? r->device_id : "(none)";
	json_t *s = json_object_get(g->sessions, dev);

	if (s == NULL) {
		s = json_pack("{s:s,s:{},s:{},s:I,s:I,s:I}", "device_id", dev, "ips",
		              "user_agents", "first_ts", (json_int_t)r->ts, "last_ts",
		              (json_int_t)r->ts, "reads", (json_int_t)0);
		if (s == NULL || json_object_set_new(g->sessions, dev, s) != 0) {
			g->oom = true;
			return;
		}
	}
	set_add(json_object_get(s, "ips"), r->ip);
	set_add(json_object_get(s, "user_agents"), r->user_agent);
	json_object_set_new(s, "last_ts", json_integer(r->ts));
	count_in(s, "reads", 1);
	if (r->ip)
		count_in(g->ips, r->ip, 1);
}

static void gather_media(struct gather *g, const struct store_ledger_row *r)
{
	json_t *m = json_object_get(g->media, r->media_id);
	bool thumb = strcmp(r->kind, "thumbnail") == 0;

	if (m == NULL) {
		m = json_pack("{s:s,s:I,s:I,s:I,s:I}", "media_id", r->media_id, "bytes_served",
		              (json_int_t)0, "downloads", (json_int_t)0, "thumbnails", (json_int_t)0,
		              "first_ts", (json_int_t)r->ts);
		if (m == NULL || json_object_set_new(g->media, r->media_id, m) != 0) {
			g->oom = true;
			return;
		}
	}
	if (r->room_id && !json_object_get(m, "room_id"))
		json_object_set_new(m, "room_id", json_string(r->room_id));
	count_in(m, "bytes_served", r->bytes);
	count_in(m, thumb ? "thumbnails" : "downloads", 1);
}

static void gather_search(struct gather *g, const struct store_ledger_row *r)
{
	char *users, *save = NULL;

	json_array_append_new(g->searches,
	                      json_pack("{s:I,s:s?,s:I}", "ts", (json_int_t)r->ts, "term", r->query,
	                                "results", (json_int_t)r->result_count));
	if (r->items == NULL || (users = strdup(r->items)) == NULL)
		return;
	for (char *u = strtok_r(users, " ", &save); u; u = strtok_r(NULL, " ", &save))
		set_add(g->revealed, u);
	free(users);
}

static int gather_row(void *ctx, const struct store_ledger_row *r)
{
	struct gather *g = ctx;

	g->rows++;
	gather_session(g, r);
	if (strcmp(r->kind, "ledger_dropped") == 0) {
		g->dropped += r->result_count;
	} else if (r->media_id) {
		gather_media(g, r);
	} else if (strcmp(r->kind, "directory_search") == 0) {
		gather_search(g, r);
	} else if (strcmp(r->kind, "public_rooms") == 0) {
		g->public_pages++;
		g->public_listed += r->result_count;
	} else if (strcmp(r->kind, "profile") == 0) {
		if (r->query)
			count_in(g->profiles, r->query, 1);
	} else if (strcmp(r->kind, "key_query") == 0) {
		g->key_queries++;
	} else if (r->room_id) {
		struct room_acc *ra = room_acc_of(g, r->room_id);
		if (ra == NULL) {
			g->oom = true;
			return 1;
		}
		count_in(ra->reads, r->kind, 1);
		if (r->items && ranges_add(ra, r->items) != 0)
			g->bad_rows++;
	}
	return g->oom;
}

static void gather_free(struct gather *g)
{
	struct room_acc *r, *tmp;

	HASH_ITER(hh, g->rooms, r, tmp) {
		HASH_DEL(g->rooms, r);
		free(r->room_id);
		free(r->pos);
		json_decref(r->reads);
		free(r);
	}
	json_decref(g->media);
	json_decref(g->searches);
	json_decref(g->revealed);
	json_decref(g->profiles);
	json_decref(g->sessions);
	json_decref(g->ips);
}

/* ---- pass 2: rooms ------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void pos_unique(struct room_acc *r)
{
	size_t k = 0;

	if (r->n == 0)
		return;
	qsort(r->pos, r->n, sizeof(*r->pos), cmp_i64);
	for (size_t i = 1; i < r->n; i++)
		if (r->pos[i] != r->pos[k])
			r->pos[++k] = r->pos[i];
	r->n = k + 1;
}

struct served_acc {
	json_t *ids, *senders;
	int64_t count, cipher, first_ts, last_ts;
};

static void served_add(struct served_acc *a, const struct store_event *e)
{
	a->count++;
	if (strcmp(e->type, "m.room.encrypted") == 0)
		a->cipher++;
	if (a->first_ts == 0 || e->origin_ts < a->first_ts)
		a->first_ts = e->origin_ts;
	if (e->origin_ts > a->last_ts)
		a->last_ts = e->origin_ts;
	set_add(a->senders, e->sender);
	if (a->ids)
		json_array_append_new(a->ids, json_string(e->event_id));
}

/* The events at r's positions, in runs of consecutive positions. */
static int served_resolve(struct store *st, struct room_acc *r, struct served_acc *a)
{
	for (size_t i = 0; i < r->n;) {
		size_t j = i;
		int64_t from, to;

		while (j + 1 < r->n && r->pos[j + 1] == r->pos[j] + 1)
			j++;
		from = r->pos[i] - 1;
		to = r->pos[j];
		while (from < to) {
			struct store_event_list l = { 0 };
			if (store_room_events(st, r->room_id, from, to, RESOLVE_CHUNK, false, &l) !=
			    STORE_OK)
				return -1;
			for (size_t k = 0; k < l.n; k++)
				served_add(a, &l.items[k]);
			from = l.n ? l.items[l.n - 1].stream : to;
			if (l.n < RESOLVE_CHUNK)
				from = to;
			store_event_list_clear(&l);
		}
		i = j + 1;
	}
	return 0;
}

/* content[key] of the room's current state event (type, ""), as a string. */
static char *state_string(struct store *st, const char *room_id, const char *type,
                          const char *key)
{
	struct store_event se = { 0 };
	json_t *ev;
	char *out = NULL;
	const char *v;

	if (store_room_state_get(st, room_id, 0, type, "", &se) != STORE_OK)
		return NULL;
	ev = json_loads(se.json, 0, NULL);
	v = json_string_value(json_object_get(json_object_get(ev, "content"), key));
	if (v)
		out = strdup(v);
	json_decref(ev);
	store_event_clear(&se);
	return out;
}

static json_t *room_describe(struct store *st, const char *room_id)
{
	struct store_room room = { 0 };
	char *name = state_string(st, room_id, "m.room.name", "name");
	char *rule = state_string(st, room_id, "m.room.join_rules", "join_rule");
	char *alg = state_string(st, room_id, "m.room.encryption", "algorithm");
	bool published = store_room_get(st, room_id, &room) == STORE_OK && room.published;
	bool world = false;
	char *vis = state_string(st, room_id, "m.room.history_visibility", "history_visibility");
	json_t *o;

	world = vis && strcmp(vis, "world_readable") == 0;
	o = json_pack("{s:s,s:s?,s:b,s:b,s:s?,s:b,s:b}", "room_id", room_id, "name", name,
	              "public", (rule && strcmp(rule, "public") == 0) || published,
	              "published", published, "join_rule", rule, "encrypted", alg != NULL,
	              "world_readable", world);
	store_room_clear(&room);
	free(name);
	free(rule);
	free(alg);
	free(vis);
	return o;
}

/* The account's membership events in the room, with their times; sets
 * *readable when a joined span overlaps [since, until), and the first
 * join and the last leave after it. */
struct membership_span {
	bool readable;
	int64_t joined_ts, left_ts;
};

static int64_t event_ts(struct store *st, const char *event_id)
{
	struct store_event e = { 0 };
	int64_t ts = 0;

	if (event_id && store_event_get(st, event_id, &e) == STORE_OK)
		ts = e.origin_ts;
	store_event_clear(&e);
	return ts;
}

static json_t *room_memberships(struct store *st, const struct exposure_query *q,
                                const char *room_id, struct membership_span *sp)
{
	struct store_membership_list h = { 0 };
	json_t *arr = json_array();
	int64_t open = -1;   /* start of the current joined span, or -1 */

	memset(sp, 0, sizeof(*sp));
	if (arr == NULL || store_membership_history(st, room_id, q->user_id, &h) != STORE_OK) {
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; i < h.n; i++) {
		const struct store_membership *m = &h.items[i];
		int64_t ts = event_ts(st, m->event_id);
		bool join = strcmp(m->membership, "join") == 0;

		json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "membership", m->membership,
		                                     "event_id", m->event_id, "ts", (json_int_t)ts));
		if (join && open < 0) {
			open = ts;
			if (sp->joined_ts == 0)
				sp->joined_ts = ts;
		} else if (!join && open >= 0) {
			if (open < q->until && ts > q->since)
				sp->readable = true;
			sp->left_ts = ts;
			open = -1;
		}
	}
	if (open >= 0 && open < q->until)
		sp->readable = true;
	store_membership_list_clear(&h);
	return arr;
}

/* One room's entry: description, memberships, and what was served. */
static json_t *room_entry(struct store *st, const struct exposure_query *q,
                          const char *room_id, struct room_acc *acc, int64_t *events,
                          int64_t *cipher, json_t *all_senders)
{
	struct served_acc a = { 0 };
	struct membership_span sp;
	json_t *o = room_describe(st, room_id), *ms = room_memberships(st, q, room_id, &sp);
	const char *k;
	json_t *v;

	a.senders = json_object();
	a.ids = q->event_ids ? json_array() : NULL;
	if (!o || !ms || !a.senders || (q->event_ids && !a.ids) ||
	    (acc && served_resolve(st, acc, &a) != 0)) {
		json_decref(o);
		json_decref(ms);
		json_decref(a.senders);
		json_decref(a.ids);
		return NULL;
	}
	json_object_set_new(o, "status", json_string(acc && acc->n ? "served"
	                                                           : "readable_not_requested"));
	json_object_set_new(o, "memberships", ms);
	json_object_set_new(o, "readable_in_window", json_boolean(sp.readable));
	json_object_set_new(o, "joined_ts", sp.joined_ts ? json_integer(sp.joined_ts) : json_null());
	json_object_set_new(o, "left_ts", sp.left_ts ? json_integer(sp.left_ts) : json_null());
	json_object_set_new(o, "events_served", json_integer(a.count));
	json_object_set_new(o, "ciphertext_events_served", json_integer(a.cipher));
	json_object_set_new(o, "first_event_ts", a.first_ts ? json_integer(a.first_ts) : json_null());
	json_object_set_new(o, "last_event_ts", a.last_ts ? json_integer(a.last_ts) : json_null());
	json_object_set_new(o, "senders", json_array());
	json_object_foreach(a.senders, k, v) {
		json_array_append_new(json_object_get(o, "senders"), json_string(k));
		set_add(all_senders, k);
	}
	json_object_set_new(o, "reads", acc ? json_incref(acc->reads) : json_object());
	if (a.ids)
		json_object_set_new(o, "event_ids", a.ids);
	json_decref(a.senders);
	*events += a.count;
	*cipher += a.cipher;
	return o;
}

/* ---- pass 3: the report ------------------------------------------------- */

struct totals {
	int64_t events, cipher, served_rooms, unrequested_rooms, media_bytes;
	json_t *senders;
};

static int rooms_add(struct store *st, const struct exposure_query *q, struct gather *g,
                     json_t *rooms, struct totals *t)
{
	struct store_membership_list mine = { 0 };
	struct room_acc *acc, *tmp;

	HASH_ITER(hh, g->rooms, acc, tmp) {
		json_t *o;
		pos_unique(acc);
		o = room_entry(st, q, acc->room_id, acc, &t->events, &t->cipher, t->senders);
		if (o == NULL || json_array_append_new(rooms, o) != 0)
			return -1;
		t->served_rooms += acc->n > 0;
	}
	if (store_user_memberships(st, q->user_id, &mine) != STORE_OK)
		return -1;
	for (size_t i = 0; i < mine.n; i++) {
		json_t *o;
		HASH_FIND_STR(g->rooms, mine.items[i].room_id, acc);
		if (acc)
			continue;
		o = room_entry(st, q, mine.items[i].room_id, NULL, &t->events, &t->cipher,
		               t->senders);
		if (o == NULL) {
			store_membership_list_clear(&mine);
			return -1;
		}
		if (json_is_true(json_object_get(o, "readable_in_window"))) {
			json_array_append_new(rooms, o);
			t->unrequested_rooms++;
		} else {
			json_decref(o);
		}
	}
	store_membership_list_clear(&mine);
	return 0;
}

static json_t *media_list(struct store *st, json_t *media, struct totals *t)
{
	json_t *arr = json_array(), *m;
	const char *id;

	json_object_foreach(media, id, m) {
		struct store_media sm = { 0 };

		if (store_media_get(st, id, &sm) == STORE_OK) {
			json_object_set_new(m, "name", sm.upload_name ? json_string(sm.upload_name)
			                                              : json_null());
			json_object_set_new(m, "content_type",
			                    json_string(sm.sniffed_type ? sm.sniffed_type
			                                : sm.content_type ? sm.content_type : ""));
			json_object_set_new(m, "size", json_integer(sm.size));
			json_object_set_new(m, "uploader", json_string(sm.user_id));
		}
		store_media_clear(&sm);
		t->media_bytes += json_integer_value(json_object_get(m, "bytes_served"));
		json_array_append(arr, m);
	}
	return arr;
}

static json_t *keys_of(json_t *set)
{
	json_t *arr = json_array(), *v;
	const char *k;

	json_object_foreach(set, k, v)
		json_array_append_new(arr, json_string(k));
	return arr;
}

static json_t *sessions_list(json_t *sessions)
{
	json_t *arr = json_array(), *s;
	const char *dev;

	json_object_foreach(sessions, dev, s) {
		json_object_set_new(s, "ips", keys_of(json_object_get(s, "ips")));
		json_object_set_new(s, "user_agents", keys_of(json_object_get(s, "user_agents")));
		json_array_append(arr, s);
	}
	return arr;
}

static json_t *report_pack(const struct exposure_query *q, struct gather *g, json_t *rooms,
                           json_t *media, struct totals *t)
{
	return json_pack(
	        "{s:s,s:I,s:I,s:I,s:{s:I,s:I,s:I},s:o,s:o,"
	        "s:{s:O,s:I,s:o},s:{s:I,s:I},s:o,s:I,s:o,s:o,"
	        "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
	        "user_id", q->user_id, "since", (json_int_t)q->since, "until",
	        (json_int_t)q->until, "generated_ts", (json_int_t)time_now_ms(),
	        "ledger", "rows", (json_int_t)g->rows, "dropped_records", (json_int_t)g->dropped,
	        "unreadable_rows", (json_int_t)g->bad_rows,
	        "rooms", rooms, "media", media,
	        "directory", "searches", g->searches, "distinct_users_revealed",
	        (json_int_t)json_object_size(g->revealed), "users_revealed", keys_of(g->revealed),
	        "public_room_list", "pages", (json_int_t)g->public_pages, "rooms_listed",
	        (json_int_t)g->public_listed,
	        "profiles_read", keys_of(g->profiles), "key_queries", (json_int_t)g->key_queries,
	        "sessions", sessions_list(g->sessions), "ips", keys_of(g->ips),
	        "totals", "reads", (json_int_t)g->rows,
	        "rooms_readable_or_served", (json_int_t)json_array_size(rooms),
	        "rooms_served", (json_int_t)t->served_rooms,
	        "rooms_readable_not_requested", (json_int_t)t->unrequested_rooms,
	        "events_served", (json_int_t)t->events,
	        "ciphertext_events_served", (json_int_t)t->cipher,
	        "senders", (json_int_t)json_object_size(t->senders),
	        "media_items", (json_int_t)json_array_size(media),
	        "media_bytes", (json_int_t)t->media_bytes,
	        "directory_searches", (json_int_t)json_array_size(g->searches),
	        "users_revealed", (json_int_t)json_object_size(g->revealed),
	        "sessions", (json_int_t)json_object_size(g->sessions));
}

json_t *exposure_report(struct store *st, const struct exposure_query *q)
{
	struct gather g = { 0 };
	struct totals t = { 0 };
	json_t *rooms = json_array(), *media = NULL, *report = NULL;

	g.media = json_object();
	g.searches = json_array();
	g.revealed = json_object();
	g.profiles = json_object();
	g.sessions = json_object();
	g.ips = json_object();
	t.senders = json_object();
	if (!rooms || !g.media || !g.searches || !g.revealed || !g.profiles || !g.sessions ||
	    !g.ips || !t.senders)
		goto out;
	if (store_ledger_walk(st, q->user_id, q->since, q->until, gather_row, &g) != STORE_OK ||
	    g.oom) {
		log_error("exposure: cannot read the ledger of %s", q->user_id);
		goto out;
	}
	if (rooms_add(st, q, &g, rooms, &t) != 0) {
		log_error("exposure: cannot read the rooms of %s", q->user_id);
		goto out;
	}
	media = media_list(st, g.media, &t);
	report = report_pack(q, &g, rooms, media, &t);
	rooms = media = NULL;   /* taken by report_pack ("o"), even on failure */
out:
	json_decref(rooms);
	json_decref(media);
	json_decref(t.senders);
	gather_free(&g);
	return report;
}
