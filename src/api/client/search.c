/* search.c: POST /search (search.yaml; Client-Server API, "Server Side
 * Search"): the request, the rooms searched, and paging through the
 * store's hits (search.h says how the parts fit).
 *
 * Rooms: every room the user has a membership in ("all rooms that the
 * user has been in, including those that they have left"), narrowed by
 * filter.rooms / not_rooms. Which of their events the user may see is the
 * served chokepoint's decision (history visibility: "it won't include
 * events in rooms that happened after you left"), taken per hit, before
 * anything is counted or returned.
 *
 * Paging: the store returns candidates in the order asked; this file
 * walks them in batches, keeps the visible ones, and stops after a page
 * plus a bounded look-ahead for the count (SEARCH_SCAN_MAX candidates per
 * request, so a user cannot make one request filter without end). The
 * next_batch token is a position among candidates, not results:
 *   "t<before>.<seen>"            order_by recent: candidates with stream < before
 *   "r<bound>.<offset>.<seen>"    order_by rank: skip offset, stream < bound
 * (bound is fixed on the first page, so new events do not shift pages);
 * seen is how many results earlier pages returned, so that count = seen +
 * this page + the visible look-ahead. "count ... Homeservers may give an
 * estimate": it is exact when the look-ahead reached the end, a lower
 * bound otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/search.h"
#include "events/events.h"
#include "security/served.h"
#include "store/store.h"
#include "sync/filter.h"
#include "util/timeutil.h"

#define SEARCH_BATCH      50     /* candidates read from the store per round */
#define SEARCH_SCAN_MAX   500    /* candidates examined per request */
#define SEARCH_TOKEN_MAX  80

struct search_cursor {
	int64_t before;     /* recent: stream bound; rank: the fixed bound */
	size_t offset;      /* rank only */
	uint64_t seen;      /* results returned by earlier pages */
};

/* ---- the request ------------------------------------------------------ */

/* keys: "The keys to search. Defaults to all." An empty list searches
 * no key at all: *mask 0 with *none set. */
static int search_keys_parse(struct request *req, const json_t *keys, unsigned *mask, bool *none)
{
	static const char *const names[] = { "content.body", "content.name", "content.topic" };
	static const unsigned bits[] = { STORE_SEARCH_KEY_BODY, STORE_SEARCH_KEY_NAME,
	                                 STORE_SEARCH_KEY_TOPIC };
	size_t i;
	const json_t *k;

	*mask = 0;
	*none = false;
	if (keys == NULL || json_is_null(keys))
		return 0;
	if (!json_is_array(keys)) {
		res_error(req, 400, "M_BAD_JSON", "keys must be an array");
		return -1;
	}
	json_array_foreach(keys, i, k) {
		size_t n;
		for (n = 0; n < 3; n++)
			if (json_is_string(k) && strcmp(json_string_value(k), names[n]) == 0)
				break;
		if (n == 3) {
			res_error(req, 400, "M_INVALID_PARAM", "keys[%zu]: not a searchable key", i);
			return -1;
		}
		*mask |= bits[n];
	}
	*none = *mask == 0;
	return 0;
}

/* A non-negative integer member, clamped to max; def when absent. */
static int search_int_member(struct request *req, const json_t *obj, const char *key,
                             size_t def, size_t max, size_t *out)
{
	const json_t *v = json_object_get(obj, key);

	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v)) {
		res_error(req, 400, "M_BAD_JSON", "%s must be an integer", key);
		return -1;
	}
	if (json_integer_value(v) < 0) {
		res_error(req, 400, "M_INVALID_PARAM", "%s must not be negative", key);
		return -1;
	}
	*out = (uint64_t)json_integer_value(v) > max ? max : (size_t)json_integer_value(v);
	return 0;
}

static int search_context_parse(struct request *req, json_t *ctx, struct search_criteria *c)
{
	if (ctx == NULL || json_is_null(ctx))
		return 0;
	if (!json_is_object(ctx)) {
		res_error(req, 400, "M_BAD_JSON", "event_context must be an object");
		return -1;
	}
	c->context = true;
	if (search_int_member(req, ctx, "before_limit", SEARCH_CONTEXT_DEFAULT, SEARCH_CONTEXT_MAX,
	                      &c->before_limit) != 0 ||
	    search_int_member(req, ctx, "after_limit", SEARCH_CONTEXT_DEFAULT, SEARCH_CONTEXT_MAX,
	                      &c->after_limit) != 0)
		return -1;
	return req_get_bool(req, ctx, "include_profile", &c->include_profile);
}

static int search_groupings_parse(struct request *req, const json_t *g, struct search_criteria *c)
{
	const json_t *by, *item;
	size_t i;

	if (g == NULL || json_is_null(g))
		return 0;
	by = json_object_get(g, "group_by");
	if (!json_is_object(g) || (by != NULL && !json_is_null(by) && !json_is_array(by))) {
		res_error(req, 400, "M_BAD_JSON", "groupings must be an object with a group_by array");
		return -1;
	}
	json_array_foreach(by, i, item) {
		const char *key = json_string_value(json_object_get(item, "key"));
		if (key != NULL && strcmp(key, "room_id") == 0) {
			c->group_room = true;
		} else if (key != NULL && strcmp(key, "sender") == 0) {
			c->group_sender = true;
		} else {
			res_error(req, 400, "M_INVALID_PARAM", "group_by[%zu].key must be room_id or sender",
			          i);
			return -1;
		}
	}
	return 0;
}

/* The room_events criteria. *none when no key can match (keys: []). */
static int search_criteria_parse(struct request *req, json_t *re, struct search_criteria *c,
                                 bool *none)
{
	const char *order = NULL;
	json_t *filter = json_object_get(re, "filter");
	enum filter_error code;
	char err[200];

	memset(c, 0, sizeof(*c));
	c->by_rank = true;   /* "By default, this is rank" */
	c->limit = SEARCH_LIMIT_DEFAULT;
	if (req_get_string(req, re, "search_term", true, &c->term) != 0 ||
	    search_keys_parse(req, json_object_get(re, "keys"), &c->keys, none) != 0 ||
	    req_get_string(req, re, "order_by", false, &order) != 0)
		return -1;
	if (c->term[0] == '\0' || strlen(c->term) > STORE_EVENT_SEARCH_TERM_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "search_term must be 1 to %d bytes",
		          STORE_EVENT_SEARCH_TERM_MAX);
		return -1;
	}
	if (order != NULL && strcmp(order, "rank") != 0 && strcmp(order, "recent") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "order_by must be rank or recent");
		return -1;
	}
	c->by_rank = order == NULL || strcmp(order, "rank") == 0;
	if (filter != NULL && !json_is_null(filter)) {
		c->filter = filter_room_event_parse(filter, &code, err, sizeof(err));
		if (c->filter == NULL) {
			res_error(req, code == FILTER_ERR_OOM ? 500 : 400, filter_error_errcode(code),
			          "Invalid filter: %s", err);
			return -1;
		}
		if (json_object_get(filter, "limit") != NULL) {
			int l = filter_part_limit(c->filter);
			c->limit = l < 1 ? 1 : l > SEARCH_LIMIT_MAX ? SEARCH_LIMIT_MAX : (size_t)l;
		}
	}
	if (search_context_parse(req, json_object_get(re, "event_context"), c) != 0 ||
	    req_get_bool(req, re, "include_state", &c->include_state) != 0 ||
	    search_groupings_parse(req, json_object_get(re, "groupings"), c) != 0)
		return -1;
	return 0;
}

/* ---- next_batch ------------------------------------------------------- */

/* A decimal number of at most 19 digits at *p, which is advanced. */
static int search_token_number(const char **p, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	while (**p >= '0' && **p <= '9' && digits < 19) {
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
		digits++;
	}
	if (digits == 0 || (**p >= '0' && **p <= '9') || v > max)
		return -1;
	*out = v;
	return 0;
}

static int search_token_parse(const char *s, bool by_rank, struct search_cursor *cur)
{
	uint64_t before, offset = 0, seen;
	const char *p = s + 1;

	if (strlen(s) > SEARCH_TOKEN_MAX || s[0] != (by_rank ? 'r' : 't') ||
	    search_token_number(&p, INT64_MAX, &before) != 0 || *p++ != '.')
		return -1;
	if (by_rank && (search_token_number(&p, STORE_SEARCH_OFFSET_MAX, &offset) != 0 ||
	                *p++ != '.'))
		return -1;
	if (search_token_number(&p, INT64_MAX, &seen) != 0 || *p != '\0' || before == 0)
		return -1;
	cur->before = (int64_t)before;
	cur->offset = (size_t)offset;
	cur->seen = seen;
	return 0;
}

static void search_token_format(char *buf, size_t len, bool by_rank,
                                const struct search_cursor *cur)
{
	if (by_rank)
		snprintf(buf, len, "r%lld.%zu.%llu", (long long)cur->before, cur->offset,
		         (unsigned long long)cur->seen);
	else
		snprintf(buf, len, "t%lld.%llu", (long long)cur->before, (unsigned long long)cur->seen);
}

/* ---- rooms ------------------------------------------------------------ */

static bool search_json_has(const json_t *arr, const char *s)
{
	size_t i;
	const json_t *v;

	json_array_foreach(arr, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

/* The rooms to search (IDs borrowed from *ml, which the caller clears):
 * the user's, narrowed by the filter's rooms and not_rooms, at most
 * STORE_SEARCH_ROOMS_MAX. -1 with the response set on a store error. */
static int search_rooms(struct request *req, const json_t *filter,
                        struct store_membership_list *ml, const char ***out, size_t *n_out)
{
	const json_t *rooms = json_object_get(filter, "rooms");
	const json_t *not_rooms = json_object_get(filter, "not_rooms");
	const char **ids;
	size_t n = 0;

	*out = NULL;
	*n_out = 0;
	if (store_user_memberships(APP(req)->store, req->auth.user_id, ml) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read your rooms");
		return -1;
	}
	ids = calloc(ml->n > 0 ? ml->n : 1, sizeof(*ids));
	if (ids == NULL) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return -1;
	}
	for (size_t i = 0; i < ml->n && n < STORE_SEARCH_ROOMS_MAX; i++) {
		const char *room = ml->items[i].room_id;
		if (json_is_array(rooms) && !search_json_has(rooms, room))
			continue;
		if (json_is_array(not_rooms) && search_json_has(not_rooms, room))
			continue;
		ids[n++] = room;
	}
	*out = ids;
	*n_out = n;
	return 0;
}

/* ---- visibility ------------------------------------------------------- */

/* Pass the hits of one room (those at idx[0..k-1]) through the served
 * chokepoint; hits it withholds are left cleared in l. 0 or -1. */
static int search_served_room(struct request *req, struct store_search_hit_list *l,
                              const size_t *idx, size_t k, struct store_event_list *sub,
                              int64_t *streams)
{
	struct served_viewer v = { req->auth.user_id, req->auth.device_id, req->client_ip,
	                           req->user_agent };
	char *room = strdup(l->items[idx[0]].event.room_id);
	size_t p = 0;
	int ret;

	/* the filter clears events, room strings included: keep our own */
	if (room == NULL)
		return -1;
	for (size_t m = 0; m < k; m++) {
		sub->items[m] = l->items[idx[m]].event;
		streams[m] = sub->items[m].stream;
		memset(&l->items[idx[m]].event, 0, sizeof(l->items[idx[m]].event));
	}
	sub->n = k;
	/* visibility only: of the hits, those that make the page are recorded
	 * as served by search_results_json (access ledger) */
	ret = served_events_filter(APP(req)->store, &v, SERVED_UNREAD, room, sub);
	for (size_t m = 0; m < k && ret == 0; m++) {
		if (p < sub->n && sub->items[p].stream == streams[m])
			l->items[idx[m]].event = sub->items[p++];
	}
	if (ret != 0)
		store_event_list_clear(sub);   /* emptied already: fail closed */
	free(room);
	return ret;
}

/* client[i] receives the client format of each hit the user may see and
 * the request's filter lets through, NULL for the others. 0 or -1. */
static int search_visible(struct request *req, const struct search_criteria *c,
                          struct store_search_hit_list *l, json_t **client)
{
	struct store_event_list sub = { calloc(l->n, sizeof(*sub.items)), 0 };
	size_t *idx = calloc(l->n, sizeof(*idx));
	int64_t *streams = calloc(l->n, sizeof(*streams));
	bool *done = calloc(l->n, sizeof(*done));
	int64_t now = time_now_ms();
	int ret = -1;

	if (sub.items == NULL || idx == NULL || streams == NULL || done == NULL)
		goto out;
	for (size_t i = 0; i < l->n; i++) {
		size_t k = 0;
		if (done[i])
			continue;
		for (size_t j = i; j < l->n; j++) {
			if (!done[j] && strcmp(l->items[j].event.room_id, l->items[i].event.room_id) == 0) {
				idx[k++] = j;
				done[j] = true;
			}
		}
		if (search_served_room(req, l, idx, k, &sub, streams) != 0)
			goto out;
	}
	for (size_t i = 0; i < l->n; i++) {
		client[i] = NULL;
		if (l->items[i].event.event_id == NULL)
			continue;   /* withheld */
		client[i] = event_client_format(&l->items[i].event, req->auth.user_id,
		                                req->auth.device_id, now);
		if (client[i] != NULL && c->filter != NULL &&
		    !filter_event_allowed(c->filter, client[i])) {
			json_decref(client[i]);
			client[i] = NULL;
		}
	}
	ret = 0;
out:
	free(sub.items);
	free(idx);
	free(streams);
	free(done);
	return ret;
}

/* ---- the scan --------------------------------------------------------- */

struct search_scan {
	struct search_page page;
	uint64_t extra;                 /* visible hits seen past the page */
	bool exhausted;                 /* the store has no candidate left */
	struct search_cursor after_page;    /* resumes after the last result */
	struct search_cursor after_scan;    /* resumes after the last candidate */
};

static void search_page_clear(struct search_page *p)
{
	for (size_t i = 0; i < p->n; i++) {
		store_event_clear(&p->items[i].event);
		json_decref(p->items[i].client);
	}
	free(p->items);
	memset(p, 0, sizeof(*p));
}

/* Take one batch's hits: results while the page has room, then count. */
static void search_take(const struct search_criteria *c, struct store_search_hit_list *l,
                        json_t **client, struct search_cursor *q, struct search_scan *s)
{
	for (size_t i = 0; i < l->n; i++) {
		struct search_cursor at = *q;

		/* the position just past candidate i */
		if (c->by_rank)
			at.offset = q->offset + i + 1;
		else
			at.before = l->items[i].event.stream;
		s->after_scan = at;
		if (client[i] == NULL)
			continue;
		if (s->page.n < c->limit) {
			struct search_result *r = &s->page.items[s->page.n++];
			r->event = l->items[i].event;
			memset(&l->items[i].event, 0, sizeof(l->items[i].event));
			r->rank = l->items[i].rank;
			r->client = client[i];
			client[i] = NULL;
			s->after_page = at;
		} else {
			s->extra++;
		}
	}
}

/* Walk candidates from cur: fill a page and look ahead for the count.
 * 0, or -1 with the response set. */
static int search_scan_run(struct request *req, const struct search_criteria *c,
                           const char **rooms, size_t n_rooms, const struct search_cursor *cur,
                           struct search_scan *s)
{
	struct store_search_query q = { rooms, n_rooms, c->term, c->keys, c->by_rank,
	                                cur->before, cur->offset, SEARCH_BATCH };
	struct search_cursor pos = *cur;
	json_t *client[SEARCH_BATCH];
	size_t scanned = 0;

	memset(s, 0, sizeof(*s));
	s->after_page = s->after_scan = *cur;
	s->page.items = calloc(c->limit, sizeof(*s->page.items));
	if (s->page.items == NULL) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return -1;
	}
	while (scanned < SEARCH_SCAN_MAX) {
		struct store_search_hit_list l;

		q.before = pos.before;
		q.offset = pos.offset;
		if (store_events_search(APP(req)->store, &q, &l) != STORE_OK ||
		    search_visible(req, c, &l, client) != 0) {
			store_search_hit_list_clear(&l);
			res_error(req, 500, "M_UNKNOWN", "Could not search");
			return -1;
		}
		search_take(c, &l, client, &pos, s);
		for (size_t i = 0; i < l.n; i++)
			json_decref(client[i]);
		scanned += l.n;
		pos = s->after_scan;
		if (l.n < SEARCH_BATCH)
			s->exhausted = true;
		store_search_hit_list_clear(&l);
		/* ranked paging cannot skip past the store's offset bound */
		if (s->exhausted || pos.offset + SEARCH_BATCH > STORE_SEARCH_OFFSET_MAX)
			break;
	}
	return 0;
}

/* ---- the handler ------------------------------------------------------ */

/* The first page's cursor, or the one next_batch names. */
static int search_cursor_start(struct request *req, const struct search_criteria *c,
                               struct search_cursor *cur)
{
	const char *token = req_query(req, "next_batch");
	int64_t max;

	memset(cur, 0, sizeof(*cur));
	if (token != NULL) {
		if (search_token_parse(token, c->by_rank, cur) != 0) {
			res_error(req, 400, "M_INVALID_PARAM", "Invalid next_batch token");
			return -1;
		}
		return 0;
	}
	if (c->by_rank) {
		/* fix the candidates now: later events would reshuffle pages */
		max = store_stream_max(APP(req)->store);
		if (max < 0) {
			res_error(req, 500, "M_UNKNOWN", "Could not search");
			return -1;
		}
		cur->before = max + 1;
	}
	return 0;
}

/* next_batch for what comes after this page, or "" when nothing does. */
static void search_next_token(const struct search_criteria *c, const struct search_scan *s,
                              const struct search_cursor *cur, char *buf, size_t len)
{
	struct search_cursor next;

	buf[0] = '\0';
	if (s->extra == 0 && s->exhausted)
		return;   /* every candidate was looked at: nothing follows */
	next = s->page.n == c->limit ? s->after_page : s->after_scan;
	if (c->by_rank ? next.offset + SEARCH_BATCH > STORE_SEARCH_OFFSET_MAX
	               : next.before <= 1)
		return;   /* a server "need not support pagination" without end */
	next.seen = cur->seen + s->page.n;
	search_token_format(buf, len, c->by_rank, &next);
}

static void search_room_events(struct request *req, json_t *re, json_t *categories)
{
	struct search_criteria c;
	struct store_membership_list ml = { 0 };
	struct search_scan s = { 0 };
	struct search_cursor cur;
	const char **rooms = NULL;
	size_t n_rooms = 0;
	char next[SEARCH_TOKEN_MAX];
	bool none = false;
	json_t *out;

	next[0] = '\0';
	if (search_criteria_parse(req, re, &c, &none) != 0 ||
	    search_cursor_start(req, &c, &cur) != 0 ||
	    search_rooms(req, json_object_get(re, "filter"), &ml, &rooms, &n_rooms) != 0)
		goto out;
	if (!none && n_rooms > 0) {
		if (search_scan_run(req, &c, rooms, n_rooms, &cur, &s) != 0)
			goto out;
		search_next_token(&c, &s, &cur, next, sizeof(next));
	}
	out = search_results_json(req, &c, &s.page, cur.seen + s.page.n + s.extra,
	                          next[0] != '\0' ? next : NULL);
	if (out == NULL) {
		res_error(req, 500, "M_UNKNOWN", "Could not search");
		goto out;
	}
	json_object_set_new(categories, "room_events", out);
	res_json(req, 200, json_pack("{s:O}", "search_categories", categories));
out:
	search_page_clear(&s.page);
	free(rooms);
	store_membership_list_clear(&ml);
	filter_part_free(c.filter);
}

void api_search(struct request *req)
{
	json_t *body = req_json_object(req, false), *cats, *re, *categories;

	if (body == NULL)
		return;
	cats = json_object_get(body, "search_categories");
	if (!json_is_object(cats)) {
		res_error(req, 400, "M_BAD_JSON", "search_categories must be an object");
		return;
	}
	categories = json_object();
	if (categories == NULL) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
	/* room_events is "Currently the only specified category" */
	re = json_object_get(cats, "room_events");
	if (re == NULL || json_is_null(re)) {
		res_json(req, 200, json_pack("{s:o}", "search_categories", categories));
		return;
	}
	if (!json_is_object(re)) {
		json_decref(categories);
		res_error(req, 400, "M_BAD_JSON", "room_events must be an object");
		return;
	}
	search_room_events(req, re, categories);
	json_decref(categories);
}
