/* admin_exposure.c: GET /_synapse/admin/v1/users/{userId}/exposure
 * (chappe's own endpoint, next to Synapse's per-user admin paths so admin
 * tools find it where they look): the exposure report of
 * security/exposure.h for one account, admins only (AUTH_ADMIN).
 *
 * Query: since, until (ms since the epoch or ISO 8601 UTC, as the CLI),
 * format=json|markdown|html (default json), event_ids=false to leave the
 * per-room event ID lists out of a large JSON report.
 *
 * The ledger is written off the request path (up to LEDGER_FLUSH_MS
 * behind): this handler flushes it first, so a report asked right after a
 * read includes that read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "security/exposure.h"
#include "security/ledger.h"
#include "store/store.h"
#include "util/ids.h"

static int window_parse(struct request *req, struct exposure_query *q)
{
	const char *since = req_query(req, "since"), *until = req_query(req, "until");

	if ((since && exposure_time_parse(since, &q->since) != 0) ||
	    (until && exposure_time_parse(until, &q->until) != 0) || q->since > q->until) {
		res_error(req, 400, "M_INVALID_PARAM",
		          "since and until are milliseconds or YYYY-MM-DD[THH:MM:SSZ], since first");
		return -1;
	}
	return 0;
}

void api_admin_user_exposure(struct request *req)
{
	struct exposure_query q = { req_param(req, 0), 0, INT64_MAX, true };
	const char *ids = req_query(req, "event_ids");
	enum exposure_format f;
	json_t *report = NULL;
	char *text = NULL;
	static const char *const types[] = { [EXPOSURE_JSON] = "application/json",
		                             [EXPOSURE_MARKDOWN] = "text/markdown; charset=utf-8",
		                             [EXPOSURE_HTML] = "text/html; charset=utf-8" };

	if (!id_user_valid(q.user_id)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid user ID");
		return;
	}
	if (window_parse(req, &q) != 0)
		return;
	if (exposure_format_parse(req_query(req, "format"), &f) != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "format is json, markdown or html");
		return;
	}
	if (ids && strcmp(ids, "false") == 0)
		q.event_ids = false;
	if (store_user_exists(APP(req)->store, q.user_id) != STORE_OK) {
		res_error(req, 404, "M_NOT_FOUND", "User not found");
		return;
	}
	if (ledger_running())
		ledger_flush();
	report = exposure_report(APP(req)->store, &q);
	if (report && f == EXPOSURE_JSON) {
		res_json(req, 200, report);
		return;
	}
	text = report ? exposure_render(report, f) : NULL;
	json_decref(report);
	if (text == NULL) {
		res_error(req, 500, "M_UNKNOWN", "Could not build the report");
		return;
	}
	res_raw(req, 200, types[f], text, strlen(text));
	free(text);
}
