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

/* The m.thread relation of an event's content, or NULL. */
static const char *thread_root_of(const json_t *pdu)
{
	json_t *rel = json_object_get(json_object_get(pdu, "content"), "m.relates_to");
	const char *rel_type = json_string_value(json_object_get(rel, "rel_type"));

	if (rel_type == NULL || strcmp(rel_type, "m.thread") != 0)
		return NULL;
	return json_string_value(json_object_get(rel, "event_id"));
}

/* receipts.yaml 400: "The event_id is not related to the thread_id".
 * Only a direct contradiction is refused: a threaded event receipted as
 * "main", or receipted under a thread other than its own. Indirect
 * relations ("a maximum of 3 hops", Threaded read receipts) are not
 * walked, so an event related to a thread through another event is
 * accepted under either thread. */
static bool thread_consistent(const struct store_event *e, const char *thread_id)
{
	json_t *pdu;
	const char *root;
	bool ok = true;

	if (thread_id == NULL)
		return true;
	pdu = json_loads(e->json, 0, NULL);
	root = thread_root_of(pdu);
	if (root != NULL)
		ok = strcmp(thread_id, root) == 0;
	json_decref(pdu);
	return ok;
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
	if (!thread_consistent(&e, t->thread_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "The event is not in thread %s",
		          t->thread_id);
		goto out;
	}
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
