/* rooms_messages.c: GET /rooms/{roomId}/messages (message_pagination.yaml).
 *
 * Tokens: "p<N>" is a boundary in the event stream: backwards pagination
 * returns events before N, forwards returns events from N on. A sync
 * token ("s...", a prev_batch or next_batch) is accepted too: it names the
 * last event it covered, so its boundary is one past it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/rooms_util.h"
#include "events/events.h"
#include "events/relations.h"
#include "security/served.h"
#include "store/store.h"
#include "sync/filter.h"
#include "sync/token.h"
#include "util/timeutil.h"

#define MESSAGES_LIMIT_DEFAULT 10
#define MESSAGES_LIMIT_MAX 1000

static int boundary_of(const char *token, int64_t *out)
{
	uint64_t pos;
	if (page_token_parse_any(token, &pos) != 0 || pos > INT64_MAX - 1)
		return -1;
	*out = (int64_t)pos + (token[0] == 's' ? 1 : 0);
	return 0;
}

struct messages_args {
	bool backwards;
	int64_t from, to;        /* boundaries; to = -1 when absent */
	size_t limit;
	struct event_filter_part *filter;
};

static int messages_args_parse(struct request *req, struct messages_args *a)
{
	const char *dir = req_query(req, "dir"), *from = req_query(req, "from");
	const char *to = req_query(req, "to");
	const char *filter = req_query(req, "filter");
	char err[200];

	memset(a, 0, sizeof(*a));
	a->to = -1;
	if (!dir || (strcmp(dir, "b") != 0 && strcmp(dir, "f") != 0)) {
		res_error(req, 400, "M_INVALID_PARAM", "dir must be b or f");
		return -1;
	}
	a->backwards = dir[0] == 'b';
	if (from) {
		if (boundary_of(from, &a->from) != 0) {
			res_error(req, 400, "M_INVALID_PARAM", "Invalid from token");
			return -1;
		}
	} else {
		/* No from: the newest end going backwards, the oldest forwards. */
		a->from = a->backwards ? store_stream_max(APP(req)->store) + 1 : 0;
	}
	if (to && boundary_of(to, &a->to) != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid to token");
		return -1;
	}
	{
		int64_t l;
		if (req_query_int(req, "limit", 0, MESSAGES_LIMIT_MAX, MESSAGES_LIMIT_DEFAULT, &l) != 0)
			return -1;
		a->limit = (size_t)l;
	}
	if (filter && filter_room_event_parse_text(filter, &a->filter, err, sizeof(err)) != FILTER_OK) {
		res_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", err);
		return -1;
	}
	return 0;
}

/* The chunk: the events of l passing the filter, recorded as served
 * (access ledger) once the filter has spoken. */
static json_t *messages_chunk(struct request *req, const struct served_viewer *v,
                              const char *room_id, struct store_event_list *l,
                              const struct event_filter_part *filter, json_t *senders)
{
	json_t *chunk = json_array();
	int64_t now = time_now_ms();
	bool *sent = calloc(l->n ? l->n : 1, sizeof(*sent));

	for (size_t i = 0; i < l->n; i++) {
		json_t *ev = event_client_format(&l->items[i], req->auth.user_id,
		                                 req->auth.device_id, now);
		if (!ev)
			continue;
		if (filter && !filter_event_allowed(filter, ev)) {
			json_decref(ev);
			continue;
		}
		json_object_set_new(senders, l->items[i].sender, json_true());
		if (json_array_append_new(chunk, ev) == 0 && sent)
			sent[i] = true;
	}
	served_events_record_sent(v, SERVED_MESSAGES, room_id, l, sent);
	free(sent);
	return chunk;
}

/* lazy_load_members: the member events of the chunk's senders, recorded
 * as served (access ledger). */
static json_t *messages_state(struct request *req, const struct served_viewer *v,
                              const char *room_id, json_t *senders)
{
	json_t *state = json_array(), *unused;
	const char *user;
	int64_t now = time_now_ms();
	struct store_event_list sent = { calloc(json_object_size(senders) + 1,
	                                        sizeof(struct store_event)), 0 };

	json_object_foreach(senders, user, unused) {
		struct store_event se = { 0 };
		json_t *ev = NULL;

		if (store_room_state_get(APP(req)->store, room_id, 0, "m.room.member", user, &se) ==
		    STORE_OK &&
		    (ev = event_client_format(&se, req->auth.user_id, req->auth.device_id, now)) &&
		    json_array_append_new(state, ev) == 0 && sent.items) {
			sent.items[sent.n++] = se;   /* kept until recorded */
			continue;
		}
		store_event_clear(&se);
	}
	served_events_record(v, SERVED_STATE, room_id, &sent);
	store_event_list_clear(&sent);
	return state;
}

void api_room_messages(struct request *req)
{
	struct app *app = APP(req);
	const char *room_id = req_param(req, 0);
	struct messages_args a;
	struct store_event_list l = { 0 };
	struct served_viewer v = { req->auth.user_id, req->auth.device_id, req->client_ip,
	                           req->user_agent };
	json_t *body, *senders;
	char start[SYNC_TOKEN_MAX_LEN + 1], end[32];
	bool has_end = false;
	enum store_result r;
	int64_t read_at;

	if (rooms_read_position(req, room_id, &read_at) != 0 || messages_args_parse(req, &a) != 0)
		return;
	if (a.backwards)
		r = store_room_events(app->store, room_id, a.to > 0 ? a.to - 1 : 0,
		                      a.from - 1 > 0 ? a.from - 1 : 0, a.limit, true, &l);
	else
		r = store_room_events(app->store, room_id, a.from > 0 ? a.from - 1 : 0,
		                      a.to > 0 ? a.to - 1 : 0, a.limit, false, &l);
	if (a.backwards && a.from <= 1)
		store_event_list_clear(&l);   /* nothing before the first event */
	if (r != STORE_OK) {
		filter_part_free(a.filter);
		res_error(req, 500, "M_UNKNOWN", "Could not read the room");
		return;
	}
	/* message_pagination.yaml: start is the token given as from. */
	if (req_query(req, "from"))
		snprintf(start, sizeof(start), "%s", req_query(req, "from"));
	else
		snprintf(start, sizeof(start), "p%lld", (long long)a.from);
	if (l.n > 0 && l.n == a.limit) {
		int64_t last = l.items[l.n - 1].stream;
		snprintf(end, sizeof(end), "p%lld", (long long)(a.backwards ? last : last + 1));
		has_end = true;
	}
	/* visibility here; messages_chunk records what its filter keeps */
	if (served_events_filter(app->store, &v, SERVED_UNREAD, room_id, &l) != 0) {
		filter_part_free(a.filter);
		res_error(req, 500, "M_UNKNOWN", "Could not read the room");
		return;
	}
	senders = json_object();
	body = json_pack("{s:s,s:o}", "start", start, "chunk",
	                 messages_chunk(req, &v, room_id, &l, a.filter, senders));
	/* relations: bundled aggregations on the chunk; a store failure only
	 * leaves them out */
	events_bundle_aggregations(app->store, &v, SERVED_MESSAGES, room_id,
	                           json_object_get(body, "chunk"));
	if (has_end)
		json_object_set_new(body, "end", json_string(end));
	if (a.filter && filter_part_lazy_load_members(a.filter))
		json_object_set_new(body, "state", messages_state(req, &v, room_id, senders));
	json_decref(senders);
	res_json(req, 200, body);
	store_event_list_clear(&l);
	filter_part_free(a.filter);
}
