/* search_results.c: the room_events object of a POST /search response
 * (search.yaml "Result Room Events"): results with their context and
 * historic profiles, groups, current state and highlights.
 *
 * Everything added here besides the results themselves (events before and
 * after, state) is room content too, so it passes the served chokepoint
 * like the results did; context events also pass the request's filter. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/search.h"
#include "events/events.h"
#include "security/served.h"
#include "store/store.h"
#include "sync/filter.h"
#include "util/timeutil.h"

static int search_served(struct request *req, enum served_kind kind, const char *room_id,
                         struct store_event_list *l)
{
	struct served_viewer v = { req->auth.user_id, req->auth.device_id, req->client_ip,
	                           req->user_agent };

	return served_events_filter(APP(req)->store, &v, kind, room_id, l);
}

/* Client events of l that the filter lets through, appended to arr and
 * recorded as served (access ledger); each sender is noted in senders
 * (may be NULL). */
static void search_append_events(struct request *req, const struct search_criteria *c,
                                 const char *room_id, const struct store_event_list *l,
                                 json_t *arr, json_t *senders)
{
	struct served_viewer v = { req->auth.user_id, req->auth.device_id, req->client_ip,
	                           req->user_agent };
	int64_t now = time_now_ms();
	bool *sent = calloc(l->n ? l->n : 1, sizeof(*sent));

	for (size_t i = 0; i < l->n; i++) {
		json_t *ev = event_client_format(&l->items[i], req->auth.user_id,
		                                 req->auth.device_id, now);
		if (ev == NULL)
			continue;
		if (c->filter != NULL && !filter_event_allowed(c->filter, ev)) {
			json_decref(ev);
			continue;
		}
		if (senders != NULL)
			json_object_set_new(senders, l->items[i].sender, json_true());
		if (json_array_append_new(arr, ev) == 0 && sent)
			sent[i] = true;
	}
	served_events_record_sent(&v, SERVED_SEARCH, room_id, l, sent);
	free(sent);
}

/* profile_info: "The historic profile information of the users that sent
 * the events returned": their member event in the state before the result. */
static json_t *search_profiles(struct request *req, const struct store_event *e, json_t *senders)
{
	json_t *out = json_object(), *unused;
	const char *user;

	json_object_foreach(senders, user, unused) {
		struct store_event se = { 0 };
		json_t *ev, *content, *p;
		const char *dn, *av;

		if (store_room_state_get(APP(req)->store, e->room_id, e->stream, "m.room.member", user,
		                         &se) != STORE_OK)
			continue;
		ev = json_loads(se.json, 0, NULL);
		content = json_object_get(ev, "content");
		dn = json_string_value(json_object_get(content, "displayname"));
		av = json_string_value(json_object_get(content, "avatar_url"));
		p = json_object();
		if (dn != NULL)
			json_object_set_new(p, "displayname", json_string(dn));
		if (av != NULL)
			json_object_set_new(p, "avatar_url", json_string(av));
		json_object_set_new(out, user, p);
		json_decref(ev);
		store_event_clear(&se);
	}
	return out;
}

/* event_context: events just before (nearest first, as /context) and just
 * after the result, with tokens for /messages ("p<N>", as rooms_messages.c
 * reads them). NULL on a store error. */
static json_t *search_context(struct request *req, const struct search_criteria *c,
                              const struct store_event *e)
{
	struct store_event_list b = { 0 }, a = { 0 };
	json_t *ctx = NULL, *before = json_array(), *after = json_array(), *senders = json_object();
	int64_t start = e->stream, end = e->stream + 1;
	char tok[32];

	json_object_set_new(senders, e->sender, json_true());
	if ((c->before_limit > 0 && e->stream > 1 &&
	     store_room_events(APP(req)->store, e->room_id, 0, e->stream - 1, c->before_limit, true,
	                       &b) != STORE_OK) ||
	    (c->after_limit > 0 &&
	     store_room_events(APP(req)->store, e->room_id, e->stream, 0, c->after_limit, false,
	                       &a) != STORE_OK))
		goto out;
	/* the tokens cover what was read, shown or not */
	if (b.n > 0)
		start = b.items[b.n - 1].stream;
	if (a.n > 0)
		end = a.items[a.n - 1].stream + 1;
	if (search_served(req, SERVED_UNREAD, e->room_id, &b) != 0 ||
	    search_served(req, SERVED_UNREAD, e->room_id, &a) != 0)
		goto out;
	search_append_events(req, c, e->room_id, &b, before, senders);
	search_append_events(req, c, e->room_id, &a, after, senders);
	ctx = json_object();
	snprintf(tok, sizeof(tok), "p%lld", (long long)start);
	json_object_set_new(ctx, "start", json_string(tok));
	snprintf(tok, sizeof(tok), "p%lld", (long long)end);
	json_object_set_new(ctx, "end", json_string(tok));
	json_object_set(ctx, "events_before", before);
	json_object_set(ctx, "events_after", after);
	if (c->include_profile)
		json_object_set_new(ctx, "profile_info", search_profiles(req, e, senders));
out:
	store_event_list_clear(&b);
	store_event_list_clear(&a);
	json_decref(before);
	json_decref(after);
	json_decref(senders);
	return ctx;
}

/* The position whose state the user may be shown: current while joined,
 * at their leave once they were joined; -1 for no state at all. */
static int64_t search_state_position(struct request *req, const char *room_id)
{
	struct store_membership_list h = { 0 };
	int64_t at = -1;
	bool was_joined = false;

	if (store_membership_history(APP(req)->store, room_id, req->auth.user_id, &h) != STORE_OK)
		return -1;
	for (size_t i = 0; i < h.n; i++)
		was_joined = was_joined || strcmp(h.items[i].membership, "join") == 0;
	if (h.n > 0 && strcmp(h.items[h.n - 1].membership, "join") == 0)
		at = 0;
	else if (h.n > 0 && was_joined)
		at = h.items[h.n - 1].stream + 1;
	store_membership_list_clear(&h);
	return at;
}

/* state: "The current state for every room in the results". */
static json_t *search_state(struct request *req, const struct search_page *page)
{
	json_t *out = json_object();
	int64_t now = time_now_ms();

	for (size_t i = 0; i < page->n; i++) {
		const char *room = page->items[i].event.room_id;
		struct store_event_list l = { 0 };
		json_t *arr;
		int64_t at;

		if (json_object_get(out, room) != NULL || (at = search_state_position(req, room)) < 0)
			continue;
		if (store_room_state(APP(req)->store, room, at, &l) != STORE_OK ||
		    search_served(req, SERVED_STATE, room, &l) != 0) {
			store_event_list_clear(&l);
			json_decref(out);
			return NULL;
		}
		arr = json_array();
		for (size_t k = 0; k < l.n; k++) {
			json_t *ev = event_client_format(&l.items[k], req->auth.user_id,
			                                 req->auth.device_id, now);
			if (ev != NULL)
				json_array_append_new(arr, ev);
		}
		json_object_set_new(out, room, arr);
		store_event_list_clear(&l);
	}
	return out;
}

/* groups.<key>.<value> = {"results": [event IDs], "order": n}, n counting
 * groups in the order their first result appears. */
static json_t *search_group(const struct search_page *page, bool by_room)
{
	json_t *out = json_object();
	int order = 0;

	for (size_t i = 0; i < page->n; i++) {
		const struct store_event *e = &page->items[i].event;
		const char *value = by_room ? e->room_id : e->sender;
		json_t *g = json_object_get(out, value);

		if (g == NULL) {
			g = json_pack("{s:[],s:i}", "results", "order", ++order);
			json_object_set_new(out, value, g);
		}
		json_array_append_new(json_object_get(g, "results"), json_string(e->event_id));
	}
	return out;
}

/* highlights: "List of words which should be highlighted": the words of
 * the term as they are matched (ASCII folded, surrounding punctuation
 * off, each once, as many as the store uses). */
static json_t *search_highlights(const char *term)
{
	json_t *out = json_array();
	const char *p = term;

	while (*p != '\0' && json_array_size(out) < STORE_SEARCH_WORDS_MAX) {
		const char *s, *t;
		char *w;
		size_t i;
		json_t *v;

		while (*p != '\0' && isspace((unsigned char)*p))
			p++;
		s = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		t = p;
		while (s < t && ispunct((unsigned char)*s))
			s++;
		while (t > s && ispunct((unsigned char)t[-1]))
			t--;
		if (s == t || (w = strndup(s, (size_t)(t - s))) == NULL)
			continue;
		for (char *q = w; *q != '\0'; q++)
			*q = (char)tolower((unsigned char)*q);
		json_array_foreach(out, i, v) {
			if (strcmp(json_string_value(v), w) == 0)
				break;
		}
		if (i == json_array_size(out))   /* not there yet */
			json_array_append_new(out, json_string(w));
		free(w);
	}
	return out;
}

/* Access ledger: the page's results go out, recorded per room. */
static void search_page_record(struct request *req, const struct search_page *page)
{
	struct served_viewer v = { req->auth.user_id, req->auth.device_id, req->client_ip,
	                           req->user_agent };
	struct store_event_list l = { calloc(page->n ? page->n : 1, sizeof(*l.items)), 0 };

	for (size_t i = 0; l.items && i < page->n; i++) {
		const char *room = page->items[i].event.room_id;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(page->items[j].event.room_id, room) == 0;
		if (seen)
			continue;
		l.n = 0;
		for (size_t j = i; j < page->n; j++)
			if (strcmp(page->items[j].event.room_id, room) == 0)
				l.items[l.n++] = page->items[j].event;   /* shallow */
		served_events_record(&v, SERVED_SEARCH, room, &l);
	}
	free(l.items);
}

json_t *search_results_json(struct request *req, const struct search_criteria *c,
                            const struct search_page *page, uint64_t count,
                            const char *next_batch)
{
	json_t *out = json_object(), *results = json_array(), *groups;

	for (size_t i = 0; i < page->n; i++) {
		const struct search_result *r = &page->items[i];
		json_t *item = json_pack("{s:f,s:O}", "rank", r->rank, "result", r->client);

		if (c->context) {
			json_t *ctx = search_context(req, c, &r->event);
			if (ctx == NULL) {
				json_decref(item);
				goto err;
			}
			json_object_set_new(item, "context", ctx);
		}
		json_array_append_new(results, item);
	}
	json_object_set_new(out, "results", results);
	results = NULL;
	search_page_record(req, page);
	json_object_set_new(out, "count", json_integer((json_int_t)count));
	json_object_set_new(out, "highlights", search_highlights(c->term));
	if (next_batch != NULL)
		json_object_set_new(out, "next_batch", json_string(next_batch));
	if (c->group_room || c->group_sender) {
		groups = json_object();
		if (c->group_room)
			json_object_set_new(groups, "room_id", search_group(page, true));
		if (c->group_sender)
			json_object_set_new(groups, "sender", search_group(page, false));
		json_object_set_new(out, "groups", groups);
	}
	if (c->include_state) {
		json_t *state = search_state(req, page);
		if (state == NULL)
			goto err;
		json_object_set_new(out, "state", state);
	}
	return out;
err:
	json_decref(results);
	json_decref(out);
	return NULL;
}
