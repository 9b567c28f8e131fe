/* sync.c: GET /sync (sync.yaml) and the filter endpoints (filter.yaml).
 * A /sync with nothing new parks on the notifier until something it
 * watches changes or its timeout passes: it costs a connection, not a
 * thread. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/sync_build.h"
#include "store/store.h"
#include "sync/filter.h"
#include "sync/notifier.h"
#include "sync/token.h"
#include "sync/typing.h"
#include "util/timeutil.h"

#define SYNC_TIMEOUT_MAX_MS 300000

/* What a parked /sync keeps between runs. */
struct sync_wait {
	struct notifier_wait w;
	struct sync_result result;   /* owns the watched room IDs */
	char *user_id;
	int64_t deadline_ms;
};

static void sync_wait_free(void *p)
{
	struct sync_wait *sw = p;
	sync_result_clear(&sw->result);
	free(sw->user_id);
	free(sw);
}

static void sync_on_suspended(struct request *req)
{
	struct sync_wait *sw = req->state;
	notifier_register(APP(req)->notifier, &sw->w);
}

/* The filter named by ?filter= (inline JSON or a stored filter ID), or an
 * empty one. NULL with the response set on error. */
static struct sync_filter *sync_filter_of(struct request *req)
{
	const char *text = req_query(req, "filter");
	struct sync_filter *f = NULL;
	enum filter_error code = FILTER_OK;
	char err[200] = "";
	char *stored = NULL;
	json_t *j;

	if (!text) {
		j = json_object();
		f = filter_parse(j, err, sizeof(err));
		json_decref(j);
		return f;
	}
	switch (filter_parse_text(text, &f, &code, err, sizeof(err))) {
	case FILTER_TEXT_INLINE:
		return f;
	case FILTER_TEXT_ID:
		if (store_filter_get(APP(req)->store, req->auth.user_id, text, &stored) != STORE_OK) {
			res_error(req, 400, "M_INVALID_PARAM", "Unknown filter %s", text);
			return NULL;
		}
		j = json_loads(stored, 0, NULL);
		free(stored);
		f = j ? filter_parse_ex(j, &code, err, sizeof(err)) : NULL;
		json_decref(j);
		if (f)
			return f;
		break;
	default:
		break;
	}
	res_error(req, code == FILTER_ERR_OOM ? 500 : 400, filter_error_errcode(code),
	          "Invalid filter: %s", err);
	return NULL;
}

static int sync_params_of(struct request *req, struct sync_params *p, int64_t *timeout_ms)
{
	const char *since = req_query(req, "since");
	const char *full = req_query(req, "full_state");

	memset(p, 0, sizeof(*p));
	p->user_id = req->auth.user_id;
	p->device_id = req->auth.device_id;
	p->ip = req->client_ip;
	p->user_agent = req->user_agent;
	p->initial = since == NULL;
	p->full_state = full && strcmp(full, "true") == 0;
	p->use_state_after = req_query(req, "use_state_after") &&
	                     strcmp(req_query(req, "use_state_after"), "true") == 0;
	if (since && sync_token_parse(since, &p->since) != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid since token");
		return -1;
	}
	if (req_query_int(req, "timeout", 0, SYNC_TIMEOUT_MAX_MS, 0, timeout_ms) != 0)
		return -1;
	/* A position beyond what was ever committed is a token this server
	 * never issued. */
	if (since && ((int64_t)p->since.events > store_stream_max(APP(req)->store) ||
	              (int64_t)p->since.account_data >
	                  store_account_data_stream_max(APP(req)->store) ||
	              (int64_t)p->since.to_device > store_to_device_stream_max(APP(req)->store))) {
		res_error(req, 400, "M_INVALID_PARAM", "Unknown since token");
		return -1;
	}
	return 0;
}

void api_sync(struct request *req)
{
	struct app *app = APP(req);
	struct sync_wait *sw = req->state;
	struct sync_params p;
	struct sync_result result;
	struct sync_filter *filter;
	int64_t timeout_ms;
	uint64_t generation = notifier_generation(app->notifier);
	bool may_wait;

	if (sync_params_of(req, &p, &timeout_ms) != 0 || !(filter = sync_filter_of(req)))
		return;
	p.filter = filter;
	if (sync_build(app, &p, &result) != 0) {
		filter_free(filter);
		res_error(req, 500, "M_UNKNOWN", "Could not compute the sync");
		return;
	}
	filter_free(filter);
	if (!sw && timeout_ms > 0) {
		sw = calloc(1, sizeof(*sw));
		if (sw) {
			sw->deadline_ms = time_mono_ms() + timeout_ms;
			req->state = sw;
			req->state_free = sync_wait_free;
		}
	}
	/* a wake at a typing expiry (set below) is not the client's timeout */
	if (sw && sw->w.woken && sw->w.timed_out && sw->w.deadline_ms < sw->deadline_ms)
		sw->w.timed_out = false;
	may_wait = sw && !p.initial && result.empty && time_mono_ms() < sw->deadline_ms &&
	           !(sw->w.woken && sw->w.timed_out) && !notifier_is_shut_down(app->notifier);
	if (!may_wait) {
		res_json(req, 200, result.body);
		result.body = NULL;
		sync_result_clear(&result);
		return;
	}
	/* Nothing new: park until a watched room or the user changes. */
	sync_result_clear(&sw->result);
	sw->result = result;
	json_decref(sw->result.body);
	sw->result.body = NULL;
	free(sw->user_id);
	sw->user_id = strdup(req->auth.user_id);
	memset(&sw->w, 0, sizeof(sw->w));
	sw->w.req = req;
	sw->w.user_id = sw->user_id;
	sw->w.rooms = (const char *const *)sw->result.watch_rooms;
	sw->w.n_rooms = sw->result.n_watch_rooms;
	sw->w.deadline_ms = sw->deadline_ms;
	/* a typist of a watched room timing out is news (sync_ephemeral.c):
	 * wake then, as a stop would have */
	if (app->typing) {
		int64_t te = typing_rooms_next_expiry(app->typing, sw->w.rooms, sw->w.n_rooms);
		if (te > 0 && te < sw->w.deadline_ms)
			sw->w.deadline_ms = te;
	}
	sw->w.generation_seen = generation;
	req_suspend(req, sync_on_suspended);
}

/* ---- filters (filter.yaml) ---------------------------------------- */

void api_filter_post(struct request *req)
{
	json_t *body = req_json_object(req, false);
	struct sync_filter *f;
	char err[200], *text, *id = NULL;

	if (!body)
		return;
	if (strcmp(req_param(req, 0), req->auth.user_id) != 0) {
		res_error(req, 403, "M_FORBIDDEN", "Cannot create filters for other users");
		return;
	}
	f = filter_parse(body, err, sizeof(err));
	if (!f) {
		res_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", err);
		return;
	}
	filter_free(f);
	text = json_dumps(body, JSON_COMPACT);
	if (!text || store_filter_put(APP(req)->store, req->auth.user_id, text, &id) != STORE_OK)
		res_error(req, 500, "M_UNKNOWN", "Could not store the filter");
	else
		res_json(req, 200, json_pack("{s:s}", "filter_id", id));
	free(text);
	free(id);
}

void api_filter_get(struct request *req)
{
	char *text = NULL;
	json_t *j;

	if (strcmp(req_param(req, 0), req->auth.user_id) != 0) {
		res_error(req, 403, "M_FORBIDDEN", "Cannot read other users' filters");
		return;
	}
	if (store_filter_get(APP(req)->store, req->auth.user_id, req_param(req, 1), &text) !=
	    STORE_OK || !(j = json_loads(text, 0, NULL))) {
		free(text);
		res_error(req, 404, "M_NOT_FOUND", "No such filter");
		return;
	}
	free(text);
	res_json(req, 200, j);
}
