/* relations.c: GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]
 * (relations.yaml) and GET /rooms/{roomId}/threads (threads_list.yaml),
 * both on the v1 prefix.
 *
 * Tokens: /relations pages with the same "p<N>" boundaries as /messages
 * (the spec lets a /messages start or a /sync next_batch be a from or to):
 * backwards returns children before N, forwards from N on. /threads pages
 * by latest thread activity with "t<N>": the next page holds threads whose
 * latest reply is before N.
 *
 * Every event served passes served_events_filter (SERVED_RELATIONS) and is
 * given its bundled aggregations (events/relations.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "events/events.h"
#include "events/relations.h"
#include "rooms/redact.h"
#include "security/served.h"
#include "store/store.h"
#include "sync/token.h"
#include "util/timeutil.h"

#define RELATIONS_LIMIT_DEFAULT 10
#define RELATIONS_LIMIT_MAX 100
#define THREADS_LIMIT_DEFAULT 10
#define THREADS_LIMIT_MAX 100

static struct served_viewer viewer_of(const struct request *req)
{
	return (struct served_viewer){ req->auth.user_id, req->auth.device_id, req->client_ip,
	                               req->user_agent };
}

/* A decimal limit of at least min (absent: *out is left as it is); one
 * above cap is lowered to cap. -1 with the response set on anything else,
 * a number too large for a long long included. */
static int limit_parse(struct request *req, const char *text, long long min, size_t cap,
                       size_t *out)
{
	char *end;
	long long v;

	if (text == NULL)
		return 0;
	errno = 0;
	v = strtoll(text, &end, 10);
	/* digits only (strtoll would also take leading blanks and a sign) */
	if (errno != 0 || end == text || *end != '\0' || v < min ||
	    text[strspn(text, "0123456789")] != '\0') {
		res_error(req, 400, "M_INVALID_PARAM", "limit must be an integer of at least %lld",
		          min);
		return -1;
	}
	*out = v > (long long)cap ? cap : (size_t)v;
	return 0;
}

/* A "p<N>" or sync token as an events-stream boundary (see the top). */
static int boundary_parse(const char *token, int64_t *out)
{
	uint64_t pos;

	if (page_token_parse_any(token, &pos) != 0 || pos > INT64_MAX - 1)
		return -1;
	*out = (int64_t)pos + (token[0] == 's' ? 1 : 0);
	return 0;
}

/* The stored event, if it is in room_id and the caller may see it: the
 * parent of /relations. "The parent event was not found or the user does
 * not have permission to read this event" is one 404 (relations.yaml). */
static int parent_visible(struct request *req, const char *room_id, const char *event_id)
{
	struct store_event_list l = { 0 };
	struct served_viewer v = viewer_of(req);
	int ret = -1;

	l.items = calloc(1, sizeof(*l.items));
	if (l.items == NULL)
		return -1;
	l.n = 1;
	/* checked, not sent: the access ledger does not record the parent */
	if (store_event_get(APP(req)->store, event_id, &l.items[0]) == STORE_OK &&
	    strcmp(l.items[0].room_id, room_id) == 0 &&
	    served_events_filter(APP(req)->store, &v, SERVED_UNREAD, room_id, &l) == 0 &&
	    l.n == 1)
		ret = 0;
	store_event_list_clear(&l);
	return ret;
}

/* Client format of a list, bundled; NULL on a store failure. */
static json_t *served_chunk(struct request *req, const char *room_id,
                            const struct store_event_list *l)
{
	struct served_viewer v = viewer_of(req);
	json_t *chunk = json_array();
	int64_t now = time_now_ms();

	for (size_t i = 0; i < l->n; i++) {
		json_t *ev = event_client_format(&l->items[i], req->auth.user_id,
		                                 req->auth.device_id, now);
		if (ev != NULL)
			json_array_append_new(chunk, ev);
	}
	if (events_bundle_aggregations(APP(req)->store, &v, SERVED_RELATIONS, room_id, chunk) != 0) {
		json_decref(chunk);
		return NULL;
	}
	return chunk;
}

/* ---- GET /relations --------------------------------------------------- */

struct relations_args {
	struct store_relations_query q;
	bool recurse_given;
	bool empty;              /* the range asked is empty */
};

static int relations_range(struct request *req, struct relations_args *a)
{
	const char *from = req_query(req, "from"), *to = req_query(req, "to");
	int64_t b = 0, t = 0;

	if ((from && boundary_parse(from, &b) != 0) || (to && boundary_parse(to, &t) != 0)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid pagination token");
		return -1;
	}
	/* store range (q.from, q.to]: backwards [t, b), forwards [b, t) */
	if (a->q.backwards) {
		a->q.to = from ? b - 1 : 0;
		a->q.from = to && t > 0 ? t - 1 : 0;
		a->empty = (from && b <= 1) || (from && to && t >= b);
	} else {
		a->q.from = from && b > 0 ? b - 1 : 0;
		a->q.to = to ? t - 1 : 0;
		a->empty = (to && t <= 1) || (from && to && t <= b);
	}
	return 0;
}

static int relations_args_parse(struct request *req, struct relations_args *a)
{
	const char *dir = req_query(req, "dir"), *recurse = req_query(req, "recurse");

	memset(a, 0, sizeof(*a));
	a->q.room_id = req_param(req, 0);
	a->q.parent_id = req_param(req, 1);
	a->q.rel_type = req->n_params > 2 ? req_param(req, 2) : NULL;
	a->q.event_type = req->n_params > 3 ? req_param(req, 3) : NULL;
	a->q.depth = 1;
	a->q.limit = RELATIONS_LIMIT_DEFAULT;
	if ((a->q.rel_type && strlen(a->q.rel_type) > STORE_REL_TYPE_MAX) ||
	    (a->q.event_type && strlen(a->q.event_type) > STORE_ID_MAX)) {
		res_error(req, 400, "M_INVALID_PARAM", "relType or eventType is too long");
		return -1;
	}
	if (dir && strcmp(dir, "b") != 0 && strcmp(dir, "f") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "dir must be b or f");
		return -1;
	}
	a->q.backwards = !dir || dir[0] == 'b';   /* "Optional (default b)" */
	if (recurse) {
		if (strcmp(recurse, "true") != 0 && strcmp(recurse, "false") != 0) {
			res_error(req, 400, "M_INVALID_PARAM", "recurse must be true or false");
			return -1;
		}
		a->recurse_given = true;
		a->q.depth = recurse[0] == 't' ? STORE_RELATIONS_DEPTH_MAX : 1;
	}
	if (limit_parse(req, req_query(req, "limit"), 0, RELATIONS_LIMIT_MAX, &a->q.limit) != 0)
		return -1;
	return relations_range(req, a);
}

void api_room_relations(struct request *req)
{
	struct app *app = APP(req);
	struct relations_args a;
	struct store_event_list l = { 0 };
	struct served_viewer v = viewer_of(req);
	const char *from = req_query(req, "from");
	json_t *body, *chunk;
	char next[32] = "";

	if (relations_args_parse(req, &a) != 0)
		return;
	if (parent_visible(req, a.q.room_id, a.q.parent_id) != 0) {
		res_error(req, 404, "M_NOT_FOUND", "Event not found");
		return;
	}
	if (!a.empty && store_relations_children(app->store, &a.q, &l) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the relations");
		return;
	}
	/* the next boundary comes from what was read, before visibility drops
	 * any of it: a page of hidden events still moves the client on */
	if (l.n > 0 && l.n == a.q.limit) {
		int64_t last = l.items[l.n - 1].stream;
		snprintf(next, sizeof(next), "p%lld", (long long)(a.q.backwards ? last : last + 1));
	}
	if (served_events_filter(app->store, &v, SERVED_RELATIONS, a.q.room_id, &l) != 0 ||
	    (chunk = served_chunk(req, a.q.room_id, &l)) == NULL) {
		store_event_list_clear(&l);
		res_error(req, 500, "M_UNKNOWN", "Could not read the relations");
		return;
	}
	body = json_pack("{s:o}", "chunk", chunk);
	if (body == NULL) {
		store_event_list_clear(&l);
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
	if (next[0] != '\0')
		json_object_set_new(body, "next_batch", json_string(next));
	if (from)
		json_object_set_new(body, "prev_batch", json_string(from));
	if (a.recurse_given)
		json_object_set_new(body, "recursion_depth", json_integer(a.q.depth));
	store_event_list_clear(&l);
	res_json(req, 200, body);
}

/* ---- GET /threads ----------------------------------------------------- */

/* "The user cannot view or peek on the room ... The user has been banned
 * from the room. The room does not exist." (threads_list.yaml, 403). A
 * past member may list (each root still passes the visibility rules);
 * someone who never was one only in a world_readable room. */
static int threads_room_readable(struct request *req, const char *room_id)
{
	struct app *app = APP(req);
	struct store_membership_list h = { 0 };
	json_t *vis;
	bool ok = false;

	if (store_membership_history(app->store, room_id, req->auth.user_id, &h) != STORE_OK)
		return -1;
	if (h.n > 0) {
		ok = strcmp(h.items[h.n - 1].membership, "ban") != 0;
	} else {
		vis = events_state_content(app->events, room_id, "m.room.history_visibility", "");
		ok = json_is_string(json_object_get(vis, "history_visibility")) &&
		     strcmp(json_string_value(json_object_get(vis, "history_visibility")),
		            "world_readable") == 0;
		json_decref(vis);
	}
	store_membership_list_clear(&h);
	return ok ? 0 : -1;
}

static int threads_from_parse(const char *from, int64_t *before)
{
	char *end;
	long long v;

	*before = 0;
	if (from == NULL)
		return 0;
	if (from[0] != 't' || from[1] < '0' || from[1] > '9')
		return -1;
	errno = 0;
	v = strtoll(from + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return -1;
	*before = v;
	return 0;
}

/* threads_list.yaml: "If the thread root event was sent by an ignored
 * user, the event is returned redacted to the caller." The stored JSON of
 * such roots is swapped for its redaction before it is formatted. */
static void threads_redact_ignored(struct request *req, const char *room_id,
                                   struct store_event_list *roots)
{
	json_t *ignored = events_ignored_users(APP(req)->store, req->auth.user_id);
	const struct room_version *rv;

	if (ignored == NULL)
		return;
	rv = events_room_version(APP(req)->events, room_id);
	for (size_t i = 0; rv != NULL && i < roots->n; i++) {
		struct store_event *e = &roots->items[i];
		json_t *pdu, *red;
		char *text = NULL;

		if (json_object_get(ignored, e->sender) == NULL)
			continue;
		pdu = json_loads(e->json, 0, NULL);
		red = pdu ? event_redact(rv, pdu) : NULL;
		if (red)
			text = json_dumps(red, JSON_COMPACT);
		if (text) {
			free(e->json);
			e->json = text;
		} else {
			/* cannot redact it: do not serve it unredacted */
			store_event_clear(e);
			memmove(e, e + 1, (roots->n - i - 1) * sizeof(*e));
			roots->n--;
			i--;
		}
		json_decref(red);
		json_decref(pdu);
	}
	json_decref(ignored);
}

void api_room_threads(struct request *req)
{
	struct app *app = APP(req);
	const char *room_id = req_param(req, 0), *include = req_query(req, "include");
	struct store_event_list roots = { 0 };
	struct served_viewer v = viewer_of(req);
	size_t limit = THREADS_LIMIT_DEFAULT;
	int64_t before, last = 0;
	json_t *body, *chunk;
	char next[32];

	if (include && strcmp(include, "all") != 0 && strcmp(include, "participated") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "include must be all or participated");
		return;
	}
	/* "Must be an integer greater than zero." */
	if (limit_parse(req, req_query(req, "limit"), 1, THREADS_LIMIT_MAX, &limit) != 0)
		return;
	if (threads_from_parse(req_query(req, "from"), &before) != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "Unknown pagination token");
		return;
	}
	if (threads_room_readable(req, room_id) != 0) {
		res_error(req, 403, "M_FORBIDDEN", "You are not allowed to view this room.");
		return;
	}
	if (store_room_threads(app->store, room_id,
	                       include && include[0] == 'p' ? req->auth.user_id : NULL, before,
	                       limit, &roots, &last) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the threads");
		return;
	}
	next[0] = '\0';
	if (roots.n == limit && last > 0)
		snprintf(next, sizeof(next), "t%lld", (long long)last);
	if (served_events_filter(app->store, &v, SERVED_RELATIONS, room_id, &roots) != 0) {
		store_event_list_clear(&roots);
		res_error(req, 500, "M_UNKNOWN", "Could not read the threads");
		return;
	}
	threads_redact_ignored(req, room_id, &roots);
	if ((chunk = served_chunk(req, room_id, &roots)) == NULL) {
		store_event_list_clear(&roots);
		res_error(req, 500, "M_UNKNOWN", "Could not read the threads");
		return;
	}
	body = json_pack("{s:o}", "chunk", chunk);
	if (body == NULL) {
		store_event_list_clear(&roots);
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
	if (next[0] != '\0')
		json_object_set_new(body, "next_batch", json_string(next));
	store_event_list_clear(&roots);
	res_json(req, 200, body);
}
