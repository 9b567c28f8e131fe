/* context.c: GET /rooms/{roomId}/context/{eventId} (event_context.yaml).
 *
 * "The limit applies to the sum of the events_before and events_after
 * arrays": half (rounded down) before, the rest after. start and end are
 * /messages boundaries ("p<N>", see rooms_messages.c): start pages
 * backwards from the oldest event read before, end forwards from just
 * past the newest read after. "state" is the room's state after the last
 * event returned. The filter applies to events_before, events_after and
 * state, never to event; lazy_load_members keeps only the members who
 * sent an event of the response.
 *
 * "The server must only return results that the user has permission to
 * see" (Event Context, Security considerations): every event passes
 * served_events_filter (SERVED_CONTEXT), the event itself included (a
 * hidden event is a 404, the same answer as a missing one), and each gets
 * its bundled aggregations. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "events/events.h"
#include "events/relations.h"
#include "security/served.h"
#include "store/store.h"
#include "sync/filter.h"
#include "util/timeutil.h"

#define CONTEXT_LIMIT_DEFAULT 10
#define CONTEXT_LIMIT_MAX 1000

struct context_read {
	struct store_event_list event;     /* one item */
	struct store_event_list before;    /* newest first */
	struct store_event_list after;     /* oldest first */
	struct store_event_list state;
	struct event_filter_part *filter;
	json_t *senders;                   /* user ID -> true, for lazy loading */
	int64_t start, end;
};

static void context_read_clear(struct context_read *c)
{
	store_event_list_clear(&c->event);
	store_event_list_clear(&c->before);
	store_event_list_clear(&c->after);
	store_event_list_clear(&c->state);
	filter_part_free(c->filter);
	json_decref(c->senders);
}

static int context_args(struct request *req, struct context_read *c, size_t *limit)
{
	const char *text = req_query(req, "limit"), *filter = req_query(req, "filter");
	enum filter_error code;
	char err[200], *end;
	long long v;

	*limit = CONTEXT_LIMIT_DEFAULT;
	if (text) {
		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno != 0 || end == text || *end != '\0' || v < 0 ||
		    text[strspn(text, "0123456789")] != '\0') {
			res_error(req, 400, "M_INVALID_PARAM", "limit must be a non-negative integer");
			return -1;
		}
		*limit = v > CONTEXT_LIMIT_MAX ? CONTEXT_LIMIT_MAX : (size_t)v;
	}
	if (filter && (code = filter_room_event_parse_text(filter, &c->filter, err, sizeof(err))) !=
	              FILTER_OK) {
		res_error(req, code == FILTER_ERR_OOM ? 500 : 400, filter_error_errcode(code),
		          "Invalid filter: %s", err);
		return -1;
	}
	return 0;
}

/* The event asked, in the room and visible: 0, or -1 with the response set. */
static int context_event(struct request *req, const struct served_viewer *v,
                         struct context_read *c)
{
	const char *room_id = req_param(req, 0);

	c->event.items = calloc(1, sizeof(*c->event.items));
	if (c->event.items == NULL) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return -1;
	}
	c->event.n = 1;
	if (store_event_get(APP(req)->store, req_param(req, 1), &c->event.items[0]) != STORE_OK ||
	    strcmp(c->event.items[0].room_id, room_id) != 0 ||
	    served_events_filter(APP(req)->store, v, SERVED_CONTEXT, room_id, &c->event) != 0 ||
	    c->event.n == 0) {
		res_error(req, 404, "M_NOT_FOUND", "Event not found");
		return -1;
	}
	return 0;
}

/* Before and after the event, and the state after the last one kept. */
static int context_load(struct request *req, const struct served_viewer *v,
                        struct context_read *c, size_t limit)
{
	struct store *st = APP(req)->store;
	const char *room_id = req_param(req, 0);
	int64_t at = c->event.items[0].stream;
	size_t n_before = limit / 2, n_after = limit - n_before;

	if (at > 1 && store_room_events(st, room_id, 0, at - 1, n_before, true, &c->before) !=
	    STORE_OK)
		return -1;
	if (store_room_events(st, room_id, at, 0, n_after, false, &c->after) != STORE_OK)
		return -1;
	/* tokens from what was read: hidden events are not read again */
	c->start = c->before.n ? c->before.items[c->before.n - 1].stream : at;
	c->end = (c->after.n ? c->after.items[c->after.n - 1].stream : at) + 1;
	/* visibility here; the access ledger records what the filter then
	 * keeps (context_json, context_state_json) */
	if (served_events_filter(st, v, SERVED_UNREAD, room_id, &c->before) != 0 ||
	    served_events_filter(st, v, SERVED_UNREAD, room_id, &c->after) != 0)
		return -1;
	if (c->after.n)
		at = c->after.items[c->after.n - 1].stream;
	/* the state is served whole (served.h): access was decided by the
	 * read position */
	if (store_room_state(st, room_id, at + 1, &c->state) != STORE_OK)
		return -1;
	return 0;
}

/* Client format of a list passing the filter, noting senders; a filtered
 * list's events that pass are recorded as served (the event itself was,
 * by context_event). */
static json_t *context_json(struct request *req, const struct served_viewer *v,
                            struct context_read *c, const struct store_event_list *l,
                            bool filtered)
{
	json_t *arr = json_array();
	int64_t now = time_now_ms();
	bool *sent = filtered ? calloc(l->n ? l->n : 1, sizeof(*sent)) : NULL;

	for (size_t i = 0; i < l->n; i++) {
		json_t *ev = event_client_format(&l->items[i], req->auth.user_id,
		                                 req->auth.device_id, now);
		if (!ev)
			continue;
		if (filtered && c->filter && !filter_event_allowed(c->filter, ev)) {
			json_decref(ev);
			continue;
		}
		json_object_set_new(c->senders, l->items[i].sender, json_true());
		if (json_array_append_new(arr, ev) == 0 && sent)
			sent[i] = true;
	}
	if (filtered)
		served_events_record_sent(v, SERVED_CONTEXT, req_param(req, 0), l, sent);
	free(sent);
	return arr;
}

/* The state, filtered; with lazy loading only the senders' members. What
 * is included is recorded as served (access ledger). */
static json_t *context_state_json(struct request *req, const struct served_viewer *v,
                                  struct context_read *c)
{
	bool lazy = c->filter && filter_part_lazy_load_members(c->filter);
	json_t *arr = json_array();
	int64_t now = time_now_ms();
	bool *sent = calloc(c->state.n ? c->state.n : 1, sizeof(*sent));

	for (size_t i = 0; i < c->state.n; i++) {
		const struct store_event *e = &c->state.items[i];
		json_t *ev;

		if (lazy && strcmp(e->type, "m.room.member") == 0 &&
		    !json_object_get(c->senders, e->state_key))
			continue;
		ev = event_client_format(e, req->auth.user_id, req->auth.device_id, now);
		if (ev && c->filter && !filter_event_allowed(c->filter, ev)) {
			json_decref(ev);
			continue;
		}
		if (ev && json_array_append_new(arr, ev) == 0 && sent)
			sent[i] = true;
	}
	served_events_record_sent(v, SERVED_STATE, req_param(req, 0), &c->state, sent);
	free(sent);
	return arr;
}

void api_room_context(struct request *req)
{
	struct served_viewer v = { req->auth.user_id, req->auth.device_id, req->client_ip,
	                           req->user_agent };
	struct context_read c = { 0 };
	const char *room_id = req_param(req, 0);
	json_t *body = NULL, *event, *before, *after, *all;
	char start[32], end[32];
	size_t limit;

	c.senders = json_object();
	if (!c.senders || context_args(req, &c, &limit) != 0 || context_event(req, &v, &c) != 0)
		goto out;
	if (context_load(req, &v, &c, limit) != 0) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the room");
		goto out;
	}
	event = context_json(req, &v, &c, &c.event, false);
	before = context_json(req, &v, &c, &c.before, true);
	after = context_json(req, &v, &c, &c.after, true);
	snprintf(start, sizeof(start), "p%lld", (long long)c.start);
	snprintf(end, sizeof(end), "p%lld", (long long)c.end);
	body = json_pack("{s:s,s:s,s:o,s:O,s:o,s:o}", "start", start, "end", end,
	                 "events_before", before, "event", json_array_get(event, 0),
	                 "events_after", after, "state", context_state_json(req, &v, &c));
	/* one aggregation read for all of them: the array shares the objects */
	all = json_array();
	json_array_extend(all, event);
	json_array_extend(all, json_object_get(body, "events_before"));
	json_array_extend(all, json_object_get(body, "events_after"));
	json_decref(event);
	if (!body || events_bundle_aggregations(APP(req)->store, &v, SERVED_CONTEXT, room_id,
	                                        all) != 0) {
		json_decref(all);
		json_decref(body);
		res_error(req, 500, "M_UNKNOWN", "Could not read the room");
		goto out;
	}
	json_decref(all);
	res_json(req, 200, body);
out:
	context_read_clear(&c);
}
