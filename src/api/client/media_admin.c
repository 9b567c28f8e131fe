/*
 * media_admin.c: quarantine media (Synapse admin API paths, AUTH_ADMIN):
 * POST /_synapse/admin/v1/media/quarantine/{serverName}/{mediaId}
 * POST /_synapse/admin/v1/user/{userId}/media/quarantine
 * POST /_synapse/admin/v1/room/{roomId}/media/quarantine
 * Quarantined media is never served again (404, media_download.c); the
 * rows and files stay, so the IDs are never reused and the evidence is
 * kept. A room's media are the local mxc URIs its events reference
 * (content.url, content.info.thumbnail_url, content.file.url and
 * content.info.thumbnail_file.url: images, files, avatars, encrypted media).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "config/config.h"
#include "media/media.h"
#include "store/store.h"
#include "util/log.h"

#define ROOM_SCAN_PAGE 500

void api_admin_media_quarantine(struct request *req)
{
	const char *server = req_param(req, 0), *media_id = req_param(req, 1);
	const char *ids[1] = { media_id };
	int64_t changed = 0;

	if (strcmp(server, APP(req)->cfg->server_name) != 0 || !media_id_valid(media_id)) {
		res_error(req, 404, "M_NOT_FOUND", "Only local media can be quarantined");
		return;
	}
	if (store_media_quarantine(APP(req)->store, ids, 1, NULL, req->auth.user_id, &changed) !=
	    STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Database error");
		return;
	}
	log_info("media: %s quarantined mxc://%s/%s", req->auth.user_id, server, media_id);
	res_json(req, 200, json_object());
}

void api_admin_user_media_quarantine(struct request *req)
{
	const char *user_id = req_param(req, 0);
	int64_t changed = 0;

	if (store_media_quarantine(APP(req)->store, NULL, 0, user_id, req->auth.user_id,
	                           &changed) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Database error");
		return;
	}
	log_info("media: %s quarantined %lld media of %s", req->auth.user_id, (long long)changed,
	         user_id);
	res_json(req, 200, json_pack("{s:I}", "num_quarantined", (json_int_t)changed));
}

/* IDs of local media an mxc URI names, appended to ids (deduplicated
 * by the store: quarantining twice changes nothing). */
struct media_ids {
	char **ids;
	size_t n, cap;
	const char *prefix;     /* "mxc://<server>/" */
};

static int media_ids_add(struct media_ids *l, const char *uri)
{
	size_t plen = strlen(l->prefix);
	char *id;

	if (!uri || strncmp(uri, l->prefix, plen) != 0 || !media_id_valid(uri + plen))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **grown = realloc(l->ids, cap * sizeof(*grown));
		if (!grown)
			return -1;
		l->ids = grown;
		l->cap = cap;
	}
	id = strdup(uri + plen);
	if (!id)
		return -1;
	l->ids[l->n++] = id;
	return 0;
}

static int media_ids_of_event(struct media_ids *l, const char *json)
{
	json_t *ev = json_loads(json, 0, NULL);
	json_t *c = json_object_get(ev, "content"), *info = json_object_get(c, "info");
	int rc;

	rc = media_ids_add(l, json_string_value(json_object_get(c, "url")));
	rc |= media_ids_add(l, json_string_value(json_object_get(info, "thumbnail_url")));
	rc |= media_ids_add(l, json_string_value(
	    json_object_get(json_object_get(c, "file"), "url")));
	rc |= media_ids_add(l, json_string_value(
	    json_object_get(json_object_get(info, "thumbnail_file"), "url")));
	json_decref(ev);
	return rc;
}

/* Quarantine the collected IDs in store-sized batches; adds to *changed. */
static enum store_result media_ids_quarantine(struct request *req, struct media_ids *l,
                                              int64_t *changed)
{
	for (size_t off = 0; off < l->n; off += STORE_MEDIA_QUARANTINE_MAX) {
		size_t n = l->n - off < STORE_MEDIA_QUARANTINE_MAX ? l->n - off
		                                                   : STORE_MEDIA_QUARANTINE_MAX;
		int64_t c = 0;
		enum store_result r = store_media_quarantine(APP(req)->store,
		                                             (const char *const *)l->ids + off, n,
		                                             NULL, req->auth.user_id, &c);
		if (r != STORE_OK)
			return r;
		*changed += c;
	}
	return STORE_OK;
}

void api_admin_room_media_quarantine(struct request *req)
{
	const char *room_id = req_param(req, 0);
	struct media_ids l = { 0 };
	struct store_event_list page = { 0 };
	struct store_room room = { 0 };
	enum store_result r;
	int64_t from = 0, changed = 0;
	char *prefix = NULL;
	size_t got;

	r = store_room_get(APP(req)->store, room_id, &room);
	store_room_clear(&room);
	if (r == STORE_NOT_FOUND) {
		res_error(req, 404, "M_NOT_FOUND", "Unknown room");
		return;
	}
	if (r != STORE_OK)
		goto db_error;
	if (asprintf(&prefix, "mxc://%s/", APP(req)->cfg->server_name) < 0) {
		prefix = NULL;
		goto oom;
	}
	l.prefix = prefix;
	/* the whole timeline, a page at a time (bounded memory per page) */
	do {
		r = store_room_events(APP(req)->store, room_id, from, 0, ROOM_SCAN_PAGE, false, &page);
		if (r != STORE_OK)
			goto db_error;
		got = page.n;
		for (size_t i = 0; i < page.n; i++) {
			if (media_ids_of_event(&l, page.items[i].json) != 0)
				goto oom;
			from = page.items[i].stream;
		}
		store_event_list_clear(&page);
	} while (got == ROOM_SCAN_PAGE);
	if (media_ids_quarantine(req, &l, &changed) != STORE_OK)
		goto db_error;
	log_info("media: %s quarantined %lld media of %s", req->auth.user_id, (long long)changed,
	         room_id);
	res_json(req, 200, json_pack("{s:I}", "num_quarantined", (json_int_t)changed));
	goto out;
oom:
	res_error(req, 500, "M_UNKNOWN", "Out of memory");
	goto out;
db_error:
	res_error(req, 500, "M_UNKNOWN", "Database error");
out:
	store_event_list_clear(&page);
	for (size_t i = 0; i < l.n; i++)
		free(l.ids[i]);
	free(l.ids);
	free(prefix);
}
