/* rooms_receipts.c: read receipts and read markers (receipts.yaml,
 * read_markers.yaml).
 *
 * A receipt or marker names an event: it must be an event of this room
 * that the caller may see (history visibility, through the served module),
 * and the caller must be joined, since receipts are shown to the room.
 * A missing event and one the caller may not see get the same 404, so the
 * endpoint does not confirm that an event exists. Everything in a request
 * is checked before anything is written: /read_markers with one bad event
 * ID changes nothing.
 *
 * Receipts go to the receipts stream (store_receipt_put) and wake the
 * room's parked /sync; m.fully_read is room account data ("The fully read
 * marker is kept under an m.fully_read event" in the room's account data,
 * Read markers) and wakes the user's.
 */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "events/events.h"
#include "security/served.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/timeutil.h"

#define RECEIPT_ID_MAX 255   /* event IDs: "MUST NOT exceed 255 bytes" (Appendices) */

/* One receipt or marker a request asks for, checked and ready to write. */
struct receipt_target {
	const char *type;         /* m.read, m.read.private, m.fully_read */
	const char *event_id;
	const char *thread_id;    /* NULL: unthreaded */
	int64_t event_stream;
};

static bool caller_joined(struct request *req, const char *room_id)
{
	char *m = events_membership(APP(req)->events, room_id, req->auth.user_id);
	bool joined = m != NULL && strcmp(m, "join") == 0;

	free(m);
	return joined;
}

/* "a maximum of 3 hops is recommended to cover indirect relationships"
 * (Receipts, Threaded read receipts). */
#define THREAD_HOPS_MAX 3

/* The thread an event is in: the root its relations reach through
 * m.thread within THREAD_HOPS_MAX hops (copied into root, NUL-terminated),
 * or "" for the main timeline. An event is "in a thread" if "It has a
 * rel_type of m.thread, or Following the event relationships, it has a
 * parent event which references the thread root with a rel_type of
 * m.thread"; related events outside the room, or missing, end the walk. */
static int thread_of(struct request *req, const struct store_event *e,
                     char root[RECEIPT_ID_MAX + 1])
{
	json_t *pdu = json_loads(e->json, 0, NULL);
	int ret = 0;

	root[0] = '\0';
	for (int hop = 0; pdu != NULL && hop <= THREAD_HOPS_MAX; hop++) {
		json_t *rel = json_object_get(json_object_get(pdu, "content"), "m.relates_to");
		const char *type = json_string_value(json_object_get(rel, "rel_type"));
		const char *parent = json_string_value(json_object_get(rel, "event_id"));
		struct store_event pe = { 0 };
		char next[RECEIPT_ID_MAX + 1];

		if (type == NULL || parent == NULL || strlen(parent) > RECEIPT_ID_MAX)
			break;
		if (strcmp(type, "m.thread") == 0) {
			memcpy(root, parent, strlen(parent) + 1);
			break;
		}
		/* parent lives in pdu, which the next hop replaces */
		memcpy(next, parent, strlen(parent) + 1);
		json_decref(pdu);
		pdu = NULL;
		/* a malformed relation (hostile content) names no event */
		if (hop == THREAD_HOPS_MAX || next[0] != '$' || next[1] == '\0')
			break;
		if (store_event_get(APP(req)->store, next, &pe) == STORE_ERROR)
			ret = -1;
		else if (pe.room_id != NULL && strcmp(pe.room_id, e->room_id) == 0)
			pdu = json_loads(pe.json, 0, NULL);
		store_event_clear(&pe);
	}
	json_decref(pdu);
	return ret;
}

/* receipts.yaml 400: "The event_id is not related to the thread_id". An
 * event in thread T takes receipts under T; any other event takes them
 * under "main", and a thread root also under its own ID (it is in the
 * main timeline, and clients receipt it when they open its thread). So
 * receipts exist only for threads that exist: a client cannot make the
 * store keep one row per made-up thread ID. -1 with the response set. */
static int thread_check(struct request *req, const struct store_event *e,
                        const char *thread_id)
{
	char root[RECEIPT_ID_MAX + 1];
	bool ok;

	if (thread_id == NULL)
		return 0;
	if (thread_of(req, e, root) != 0) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the event's relations");
		return -1;
	}
	if (root[0] != '\0')
		ok = strcmp(thread_id, root) == 0;
	else
		ok = strcmp(thread_id, "main") == 0 || strcmp(thread_id, e->event_id) == 0;
	if (!ok) {
		res_error(req, 400, "M_INVALID_PARAM", "The event is not in thread %s", thread_id);
		return -1;
	}
	return 0;
}

/* Check that t->event_id is an event of room_id the caller may see, and
 * fill t->event_stream. -1 with the response set. */
static int receipt_target_check(struct request *req, const char *room_id,
                                struct receipt_target *t)
{
	struct store_event e = { 0 };
	int ret = -1;

	if (t->event_id[0] != '$' || strlen(t->event_id) > RECEIPT_ID_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid event ID for %s", t->type);
		return -1;
	}
	if (store_event_get(APP(req)->store, t->event_id, &e) != STORE_OK ||
	    strcmp(e.room_id, room_id) != 0 ||
	    !served_event_visible(APP(req)->store, req->auth.user_id, room_id, e.stream, e.type,
	                          e.state_key, NULL)) {
		/* "The event MUST belong to the room" (read_markers.yaml); same
		 * answer for an event the caller may not see */
		res_error(req, 404, "M_NOT_FOUND", "Event not found");
		goto out;
	}
	if (thread_check(req, &e, t->thread_id) != 0)
		goto out;
	t->event_stream = e.stream;
	ret = 0;
out:
	store_event_clear(&e);
	return ret;
}

/* Write one checked target. -1 with the response set. */
static int receipt_target_write(struct request *req, const char *room_id,
                                const struct receipt_target *t)
{
	struct app *app = APP(req);
	const char *user = req->auth.user_id;
	int64_t pos = 0;

	if (strcmp(t->type, "m.fully_read") == 0) {
		json_t *content = json_pack("{s:s}", "event_id", t->event_id);
		char *text = content ? json_dumps(content, JSON_COMPACT) : NULL;
		enum store_result r = text ? store_account_data_put(app->store, user, room_id,
		                                                    "m.fully_read", text, &pos)
		                           : STORE_ERROR;
		json_decref(content);
		free(text);
		if (r != STORE_OK) {
			res_error(req, 500, "M_UNKNOWN", "Could not store the read marker");
			return -1;
		}
		notifier_notify(app->notifier, NULL, 0, &user, 1);
		return 0;
	}
	{
		struct store_receipt_new r = {
			.room_id = room_id, .receipt_type = t->type, .user_id = user,
			.thread_id = t->thread_id, .event_id = t->event_id,
			.event_stream = t->event_stream, .ts = time_now_ms(),
		};
		if (store_receipt_put(app->store, &r, &pos) != STORE_OK) {
			res_error(req, 500, "M_UNKNOWN", "Could not store the receipt");
			return -1;
		}
	}
	if (pos > 0)   /* 0: the receipt was already there or further on */
		notifier_notify(app->notifier, &room_id, 1, NULL, 0);
	return 0;
}

static bool receipt_type_known(const char *type)
{
	return strcmp(type, "m.read") == 0 || strcmp(type, "m.read.private") == 0 ||
	       strcmp(type, "m.fully_read") == 0;
}

/* thread_id of a receipt body: absent (unthreaded), "main", or an event
 * ID; receipts.yaml 400 lists "not a string", "empty", and "provided for
 * an incompatible receipt type". -1 with the response set. */
static int receipt_thread_of(struct request *req, json_t *body, const char *type,
                             const char **thread_id)
{
	json_t *v = json_object_get(body, "thread_id");

	*thread_id = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0) {
		res_error(req, 400, "M_INVALID_PARAM", "thread_id field must be a non-empty string");
		return -1;
	}
	if (strcmp(type, "m.fully_read") == 0) {
		res_error(req, 400, "M_INVALID_PARAM", "thread_id is not allowed for m.fully_read");
		return -1;
	}
	*thread_id = json_string_value(v);
	if (strcmp(*thread_id, "main") != 0 &&
	    ((*thread_id)[0] != '$' || strlen(*thread_id) > RECEIPT_ID_MAX)) {
		res_error(req, 400, "M_INVALID_PARAM",
		          "thread_id must be \"main\" or a thread root's event ID");
		return -1;
	}
	return 0;
}

void api_room_receipt(struct request *req)
{
	const char *room_id = req_param(req, 0);
	struct receipt_target t = { .type = req_param(req, 1), .event_id = req_param(req, 2) };
	json_t *body = req_json_object(req, true);

	if (!body)
		return;
	if (!receipt_type_known(t.type)) {
		res_error(req, 400, "M_INVALID_PARAM",
		          "Receipt type must be m.read, m.read.private or m.fully_read");
		return;
	}
	if (receipt_thread_of(req, body, t.type, &t.thread_id) != 0)
		return;
	if (!caller_joined(req, room_id)) {
		res_error(req, 403, "M_FORBIDDEN", "You are not joined to this room");
		return;
	}
	if (receipt_target_check(req, room_id, &t) != 0 ||
	    receipt_target_write(req, room_id, &t) != 0)
		return;
	res_json(req, 200, NULL);
}

void api_room_read_markers(struct request *req)
{
	static const char *const keys[] = { "m.fully_read", "m.read", "m.read.private" };
	const char *room_id = req_param(req, 0);
	struct receipt_target t[3];
	size_t n = 0;
	json_t *body = req_json_object(req, false);

	if (!body)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *id = NULL;
		if (req_get_string(req, body, keys[i], false, &id) != 0)
			return;
		if (id != NULL)
			t[n++] = (struct receipt_target){ .type = keys[i], .event_id = id };
	}
	if (!caller_joined(req, room_id)) {
		res_error(req, 403, "M_FORBIDDEN", "You are not joined to this room");
		return;
	}
	/* all checked before any is written */
	for (size_t i = 0; i < n; i++)
		if (receipt_target_check(req, room_id, &t[i]) != 0)
			return;
	for (size_t i = 0; i < n; i++)
		if (receipt_target_write(req, room_id, &t[i]) != 0)
			return;
	res_json(req, 200, NULL);
}
