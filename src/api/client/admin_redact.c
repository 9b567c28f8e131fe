/* admin_redact.c: cleaning up after an account and speaking to users, on
 * Synapse's admin paths: v1/user/{userId}/redact and
 * v1/user/redact_status/{redactId}; v1/send_server_notice; and our
 * broadcast, POST /_synapse/admin/v1/send_server_notice/broadcast (Synapse
 * has no such path; the body is {"content": {...}} as for one user). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/app.h"
#include "api/client/admin.h"
#include "api/client/admin_internal.h"
#include "api/client/handlers.h"
#include "api/client/server_notices.h"
#include "events/events.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

#define ADMIN_REDACT_LIMIT_DEFAULT 1000
#define ADMIN_REASON_MAX 1024

/* ---- redact a user's events ------------------------------------------- */

struct admin_redact_run {
	struct app *app;
	const char *admin_id, *user_id, *reason;
	size_t limit, done;
	json_t *failed;          /* event ID -> why */
	bool failed_full;
};

/* Redact one event: as the admin, or else as its sender (a user may
 * always redact their own events while in the room). */
static void admin_redact_event(struct admin_redact_run *run, const char *room_id,
                               const char *event_id)
{
	struct event_spec spec = { "m.room.redaction", NULL, NULL, event_id };
	struct event_error err;
	char *redaction_id = NULL;
	int rc;

	spec.content = run->reason ? json_pack("{s:s}", "reason", run->reason) : json_object();
	if (!spec.content) {
		json_object_set_new(run->failed, event_id, json_string("out of memory"));
		return;
	}
	rc = events_send(run->app->events, room_id, run->admin_id, &spec, NULL, NULL,
	                 &redaction_id, &err);
	if (rc != 0)
		rc = events_send(run->app->events, room_id, run->user_id, &spec, NULL, NULL,
		                 &redaction_id, &err);
	if (rc == 0)
		run->done++;
	else if (json_object_size(run->failed) < ADMIN_REDACT_TOTAL_MAX)
		json_object_set_new(run->failed, event_id, json_string(err.message));
	json_decref(spec.content);
	free(redaction_id);
}

static void admin_redact_room(struct admin_redact_run *run, const char *room_id)
{
	char **ids = NULL;
	size_t n = 0;

	if (store_room_sender_events(run->app->store, room_id, run->user_id, run->limit, &ids,
	                             &n) != STORE_OK) {
		json_object_set_new(run->failed, room_id, json_string("could not read the room"));
		return;
	}
	for (size_t i = 0; i < n && run->done + json_object_size(run->failed) <
	                                ADMIN_REDACT_TOTAL_MAX; i++)
		admin_redact_event(run, room_id, ids[i]);
	store_room_ids_free(ids, n);
}

/* The rooms named, or every room the user ever had a membership in. */
static json_t *admin_redact_rooms(struct app *app, const char *user_id, json_t *rooms)
{
	struct store_membership_list l = { 0 };
	json_t *out;

	if (json_array_size(rooms) > 0)
		return json_incref(rooms);
	if (store_user_memberships(app->store, user_id, &l) != STORE_OK)
		return NULL;
	out = json_array();
	for (size_t i = 0; out && i < l.n && i < ADMIN_REDACT_ROOMS_MAX; i++)
		json_array_append_new(out, json_string(l.items[i].room_id));
	store_membership_list_clear(&l);
	return out;
}

int admin_user_redact(struct app *app, const char *admin_id, const char *user_id,
                      json_t *rooms, const char *reason, size_t limit,
                      char **redact_id_out)
{
	struct admin_redact_run run = { app, admin_id, user_id, reason, limit, 0, NULL, false };
	struct store_redaction_job job = { 0 };
	unsigned char raw[12];
	char hex[sizeof(raw) * 2 + 1];
	json_t *targets, *v;
	size_t i;
	int ret = -1;

	*redact_id_out = NULL;
	run.failed = json_object();
	targets = admin_redact_rooms(app, user_id, rooms);
	if (!run.failed || !targets)
		goto out;
	json_array_foreach(targets, i, v)
		admin_redact_room(&run, json_string_value(v));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	job.redact_id = hex;
	job.user_id = (char *)user_id;
	job.status = (char *)"complete";
	job.failed_json = json_dumps(run.failed, JSON_COMPACT | JSON_SORT_KEYS);
	job.created_ts = time_now_ms();
	if (!job.failed_json || store_redaction_job_put(app->store, &job) != STORE_OK)
		goto out;
	log_warn("admin: %s redacted %zu events of %s (%zu failed), job %s", admin_id, run.done,
	         user_id, json_object_size(run.failed), hex);
	*redact_id_out = strdup(hex);
	ret = *redact_id_out ? 0 : -1;
out:
	free(job.failed_json);
	json_decref(run.failed);
	json_decref(targets);
	return ret;
}

void api_admin_user_redact(struct request *req)
{
	json_t *body = req_json_object(req, false), *rooms, *v;
	const char *uid = admin_local_user_param(req, 0), *reason = NULL;
	struct store_user u = { 0 };
	int64_t limit = ADMIN_REDACT_LIMIT_DEFAULT;
	char *redact_id = NULL;
	size_t i;

	if (!body || !uid || req_get_string(req, body, "reason", false, &reason) != 0)
		return;
	rooms = json_object_get(body, "rooms");
	if (!json_is_array(rooms) || json_array_size(rooms) > ADMIN_REDACT_ROOMS_MAX) {
		res_error(req, 400, "M_BAD_JSON", "rooms must be an array of at most %d room IDs",
		          ADMIN_REDACT_ROOMS_MAX);
		return;
	}
	json_array_foreach(rooms, i, v) {
		const char *r = json_string_value(v);
		if (!r || r[0] != '!' || json_string_length(v) > STORE_ID_MAX ||
		    strlen(r) != json_string_length(v)) {
			res_error(req, 400, "M_BAD_JSON", "rooms must hold room IDs");
			return;
		}
	}
	if (reason && strlen(reason) > ADMIN_REASON_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "reason is too long");
		return;
	}
	v = json_object_get(body, "limit");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
	          json_integer_value(v) > STORE_LIST_LIMIT_MAX)) {
		res_error(req, 400, "M_INVALID_PARAM", "limit must be 1..%d", STORE_LIST_LIMIT_MAX);
		return;
	}
	if (v)
		limit = json_integer_value(v);
	if (admin_user_load(req, uid, &u) != 0)
		return;
	store_user_clear(&u);
	/* Synchronous, and bounded: ADMIN_REDACT_TOTAL_MAX events per job. */
	if (admin_user_redact(APP(req), req->auth.user_id, uid, rooms, reason, (size_t)limit,
	                      &redact_id) != 0) {
		res_error(req, 500, "M_UNKNOWN", "Could not record the redaction job");
		return;
	}
	res_json(req, 200, json_pack("{s:s}", "redact_id", redact_id));
	free(redact_id);
}

void api_admin_redact_status(struct request *req)
{
	struct store_redaction_job job = { 0 };
	enum store_result r;
	json_t *failed;

	r = store_redaction_job_get(APP(req)->store, req_param(req, 0), &job);
	if (r == STORE_NOT_FOUND || (r == STORE_ERROR && strlen(req_param(req, 0)) >
	                                                     STORE_ADMIN_REDACT_ID_MAX)) {
		res_error(req, 404, "M_NOT_FOUND", "redact id not found");
		return;
	}
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Could not read the redaction job");
		return;
	}
	failed = json_loads(job.failed_json, 0, NULL);
	res_json(req, 200, json_pack("{s:s,s:o}", "status", job.status, "failed_redactions",
	                             json_is_object(failed) ? failed : json_object()));
	if (!json_is_object(failed))
		json_decref(failed);
	store_redaction_job_clear(&job);
}

/* ---- server notices --------------------------------------------------- */

void api_admin_send_server_notice(struct request *req)
{
	json_t *body = req_json_object(req, false), *content;
	const char *user_id = NULL, *type = NULL;
	struct event_error err;
	char *event_id = NULL;

	if (!body || req_get_string(req, body, "user_id", true, &user_id) != 0 ||
	    req_get_string(req, body, "type", false, &type) != 0)
		return;
	content = json_object_get(body, "content");
	if (!json_is_object(content)) {
		res_error(req, 400, "M_BAD_JSON", "content must be an object");
		return;
	}
	/* Notices are messages; state notices (Synapse's type + state_key) are
	 * not offered. */
	if (type && strcmp(type, "m.room.message") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "Only m.room.message notices can be sent");
		return;
	}
	if (server_notice_send(APP(req), user_id, content, &event_id, &err) != 0) {
		res_error(req, err.status, err.errcode, "%s", err.message);
		return;
	}
	res_json(req, 200, json_pack("{s:s}", "event_id", event_id));
	free(event_id);
}

void api_admin_broadcast_server_notice(struct request *req)
{
	json_t *body = req_json_object(req, false), *content;
	size_t sent, failed;

	if (!body)
		return;
	content = json_object_get(body, "content");
	if (!json_is_object(content)) {
		res_error(req, 400, "M_BAD_JSON", "content must be an object");
		return;
	}
	if (server_notice_broadcast(APP(req), content, &sent, &failed) != 0) {
		res_error(req, 500, "M_UNKNOWN", "Could not list the accounts");
		return;
	}
	log_warn("admin: %s broadcast a server notice to %zu users (%zu failed)",
	         req->auth.user_id, sent, failed);
	res_json(req, 200, json_pack("{s:I,s:I}", "sent", (json_int_t)sent, "failed",
	                             (json_int_t)failed));
}
