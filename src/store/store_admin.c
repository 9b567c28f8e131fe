/*
 * store_admin: the front of the storage layer for incident response:
 * account lock and suspension, server-notices rooms, the events an admin
 * redaction removes, the list of every room, admin redaction jobs.
 *
 * As in store.c: arguments are checked against store.h before a back end
 * sees them, and what a back end loads is checked before a caller sees it
 * (IDs with their sigil, lists within their limit and in order).
 *
 * Threads: no state of its own; any thread. Memory: outputs are zeroed
 * first and left empty on any result other than STORE_OK.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

/* A sigil then 1..max-1 bytes. */
static bool admin_sigil_ok(const char *id, char sigil, size_t max)
{
	size_t n;

	if (id == NULL || id[0] != sigil)
		return false;
	n = strnlen(id, max + 1);
	return n >= 2 && n <= max;
}

static bool admin_room_id_ok(const char *id)
{
	return admin_sigil_ok(id, '!', STORE_ID_MAX);
}

static bool admin_event_id_ok(const char *id)
{
	return admin_sigil_ok(id, '$', STORE_ID_MAX);
}

/* ---- lock and suspend ------------------------------------------------- */

enum store_result store_user_set_locked(struct store *st, const char *user_id, bool locked)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	be = store_backend_of(st, &h);
	return be->user_set_locked(h, user_id, locked);
}

enum store_result store_user_set_suspended(struct store *st, const char *user_id,
                                           bool suspended)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_user_id_ok(user_id))
		return store_refuse("user ID");
	be = store_backend_of(st, &h);
	return be->user_set_suspended(h, user_id, suspended);
}

/* ---- server-notices rooms --------------------------------------------- */

enum store_result store_server_notice_room_get(struct store *st, const char *user_id,
                                               char **room_id_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (room_id_out != NULL)
		*room_id_out = NULL;
	if (st == NULL || room_id_out == NULL || !store_user_id_ok(user_id))
		return store_refuse("argument to store_server_notice_room_get");
	be = store_backend_of(st, &h);
	r = be->server_notice_room_get(h, user_id, room_id_out);
	r = store_loaded(r, r != STORE_OK || admin_room_id_ok(*room_id_out), "notice room");
	if (r != STORE_OK) {
		free(*room_id_out);
		*room_id_out = NULL;
	}
	return r;
}

enum store_result store_server_notice_room_set(struct store *st, const char *user_id,
                                               const char *room_id)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_user_id_ok(user_id) || !admin_room_id_ok(room_id))
		return store_refuse("argument to store_server_notice_room_set");
	be = store_backend_of(st, &h);
	return be->server_notice_room_set(h, user_id, room_id);
}

/* ---- ID lists --------------------------------------------------------- */

/* Each ID valid; strictly increasing after since when ordered. */
static bool admin_ids_valid(char **ids, size_t n, size_t limit, bool (*ok)(const char *),
                            bool ordered, const char *since)
{
	if (n > limit)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *prev = i > 0 ? ids[i - 1] : since;

		if (!ok(ids[i]))
			return false;
		if (ordered && prev != NULL && strcmp(prev, ids[i]) >= 0)
			return false;
	}
	return true;
}

enum store_result store_room_sender_events(struct store *st, const char *room_id,
                                           const char *sender, size_t limit,
                                           char ***event_ids_out, size_t *n_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (event_ids_out != NULL)
		*event_ids_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (st == NULL || event_ids_out == NULL || n_out == NULL || !admin_room_id_ok(room_id) ||
	    !store_user_id_ok(sender))
		return store_refuse("argument to store_room_sender_events");
	if (limit > STORE_LIST_LIMIT_MAX)
		limit = STORE_LIST_LIMIT_MAX;
	if (limit == 0)
		return STORE_OK;
	be = store_backend_of(st, &h);
	r = be->room_sender_events(h, room_id, sender, limit, event_ids_out, n_out);
	r = store_loaded(r, r != STORE_OK || admin_ids_valid(*event_ids_out, *n_out, limit,
	                                                     admin_event_id_ok, false, NULL),
	                 "sender events");
	if (r != STORE_OK) {
		store_room_ids_free(*event_ids_out, *n_out);
		*event_ids_out = NULL;
		*n_out = 0;
	}
	return r;
}

enum store_result store_rooms_all(struct store *st, const char *since, size_t limit,
                                  char ***room_ids_out, size_t *n_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (room_ids_out != NULL)
		*room_ids_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (st == NULL || room_ids_out == NULL || n_out == NULL ||
	    (since != NULL && !store_text_ok(since, STORE_ID_MAX, false)))
		return store_refuse("argument to store_rooms_all");
	if (limit > STORE_LIST_LIMIT_MAX)
		limit = STORE_LIST_LIMIT_MAX;
	if (limit == 0)
		return STORE_OK;
	be = store_backend_of(st, &h);
	r = be->rooms_all(h, since, limit, room_ids_out, n_out);
	r = store_loaded(r, r != STORE_OK || admin_ids_valid(*room_ids_out, *n_out, limit,
	                                                     admin_room_id_ok, true, since),
	                 "room list");
	if (r != STORE_OK) {
		store_room_ids_free(*room_ids_out, *n_out);
		*room_ids_out = NULL;
		*n_out = 0;
	}
	return r;
}

/* ---- admin redaction jobs --------------------------------------------- */

void store_redaction_job_clear(struct store_redaction_job *j)
{
	if (j == NULL)
		return;
	free(j->redact_id);
	free(j->user_id);
	free(j->status);
	free(j->failed_json);
	memset(j, 0, sizeof(*j));
}

static bool admin_redaction_job_ok(const struct store_redaction_job *j)
{
	return store_text_ok(j->redact_id, STORE_ADMIN_REDACT_ID_MAX, false) &&
	       j->redact_id[0] != '\0' && store_user_id_ok(j->user_id) &&
	       store_text_ok(j->status, STORE_ADMIN_STATUS_MAX, false) &&
	       store_text_ok(j->failed_json, STORE_ADMIN_FAILED_MAX, false) &&
	       j->created_ts >= 0;
}

enum store_result store_redaction_job_put(struct store *st, const struct store_redaction_job *j)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || j == NULL || !admin_redaction_job_ok(j))
		return store_refuse("argument to store_redaction_job_put");
	be = store_backend_of(st, &h);
	return be->redaction_job_put(h, j);
}

enum store_result store_redaction_job_get(struct store *st, const char *redact_id,
                                          struct store_redaction_job *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_text_ok(redact_id, STORE_ADMIN_REDACT_ID_MAX, false))
		return store_refuse("argument to store_redaction_job_get");
	be = store_backend_of(st, &h);
	r = be->redaction_job_get(h, redact_id, out);
	r = store_loaded(r, r != STORE_OK || (admin_redaction_job_ok(out) &&
	                                      strcmp(out->redact_id, redact_id) == 0),
	                 "redaction job");
	if (r != STORE_OK)
		store_redaction_job_clear(out);
	return r;
}
