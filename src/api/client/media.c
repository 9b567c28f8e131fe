/*
 * media.c: uploads to the media repository (content-repo.yaml):
 * POST /_matrix/media/v3/upload, POST /_matrix/media/v1/create,
 * PUT /_matrix/media/v3/upload/{serverName}/{mediaId}, and the media
 * configuration (authed-content-repo.yaml GET /_matrix/client/v1/media/config).
 *
 * The HTTP server has already authenticated the caller and streamed the
 * body to a temp file (BODY_UPLOAD rows, bounded by max_upload_bytes: 413
 * M_TOO_LARGE). Here: the quota, the content-addressed commit
 * (src/media/media_repo.c), then the metadata row. Order matters: the row
 * is written only once the bytes are durable, so a row never names absent
 * content; a crash between the two leaves an unreferenced file at worst
 * (no garbage collection of those yet).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/media.h"
#include "config/config.h"
#include "media/media.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Pending /create rows a user may hold at once (content-repo.yaml: "the
 * server should respond with an HTTP 429 error" past its limit), and how
 * long one stays open (Synapse's 24 hours). */
#define MEDIA_PENDING_MAX 50
#define MEDIA_PENDING_TTL_MS (24LL * 3600 * 1000)

/* 18 random bytes as unpadded URL-safe base64: 24 characters, all in the
 * media ID alphabet (A-Za-z0-9, '-', '_'). */
static void media_id_generate(char out[32])
{
	unsigned char raw[18];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, 32, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

char *api_media_mxc(const struct request *req, const char *media_id)
{
	char *uri = NULL;

	if (asprintf(&uri, "mxc://%s/%s", APP(req)->cfg->server_name, media_id) < 0)
		return NULL;
	return uri;
}

/* The upload's declared type and name, checked (400 M_INVALID_PARAM). */
static int upload_meta(struct request *req, const char **ctype, const char **name)
{
	*ctype = req_header(req, "Content-Type");
	*name = req_query(req, "filename");
	if (*ctype && !media_content_type_valid(*ctype)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid Content-Type");
		return -1;
	}
	if (*name && !media_filename_valid(*name)) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid filename");
		return -1;
	}
	if (!*ctype)
		*ctype = "application/octet-stream";
	return 0;
}

/* Refuse early when the user's stored bytes plus this upload pass the
 * quota (the store checks again inside its write, against races). */
static int quota_precheck(struct request *req, uint64_t size)
{
	uint64_t quota = APP(req)->cfg->media_quota_bytes_per_user;
	int64_t bytes = 0, pending = 0;

	if (quota == 0)
		return 0;
	if (store_media_usage(APP(req)->store, req->auth.user_id, time_now_ms(), &bytes,
	                      &pending) != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Database error");
		return -1;
	}
	if (size > quota || (uint64_t)bytes > quota - size) {
		res_error(req, 403, "M_FORBIDDEN", "Media quota exceeded");
		return -1;
	}
	return 0;
}

/* Commit the streamed body into the content store; fills m's content
 * fields (sha256 and sniffed type point into the caller's buffers). */
static int upload_commit(struct request *req, struct store_media *m,
                         char sha[MEDIA_SHA256_HEX_LEN + 1], char *sniffed, size_t sniffed_len)
{
	bool taken = false;

	if (req->body_fd < 0 || !req->body_path) {
		res_error(req, 500, "M_UNKNOWN", "Upload body missing");
		return -1;
	}
	if (media_repo_commit(APP(req)->media, req->body_fd, req->body_path, &taken, sha, sniffed,
	                      sniffed_len) != 0) {
		res_error(req, 500, "M_UNKNOWN", "Cannot store the upload");
		return -1;
	}
	if (taken) {
		free(req->body_path);   /* renamed into the store: not ours to unlink */
		req->body_path = NULL;
	}
	m->sha256 = sha;
	m->sniffed_type = sniffed;
	m->size = (int64_t)req->body_len;
	return 0;
}

static void store_error(struct request *req, enum store_result r, bool over_quota)
{
	if (r == STORE_CONFLICT && over_quota)
		res_error(req, 403, "M_FORBIDDEN", "Media quota exceeded");
	else
		res_error(req, 500, "M_UNKNOWN", "Database error");
}

void api_media_upload(struct request *req)
{
	struct store_media m = { 0 };
	char id[32], sha[MEDIA_SHA256_HEX_LEN + 1], sniffed[STORE_MEDIA_TEXT_MAX + 1];
	const char *ctype, *name;
	enum store_result r;
	bool over = false;
	char *uri;

	if (upload_meta(req, &ctype, &name) != 0 || quota_precheck(req, req->body_len) != 0)
		return;
	if (upload_commit(req, &m, sha, sniffed, sizeof(sniffed)) != 0)
		return;
	media_id_generate(id);
	m.media_id = id;
	m.user_id = req->auth.user_id;
	m.content_type = (char *)ctype;
	m.upload_name = (char *)name;
	m.created_ts = time_now_ms();
	r = store_media_insert(APP(req)->store, &m,
	                       (int64_t)APP(req)->cfg->media_quota_bytes_per_user, &over);
	if (r != STORE_OK) {
		store_error(req, r, over);
		return;
	}
	uri = api_media_mxc(req, id);
	if (!uri) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
	log_info("media: %s uploaded %s (%zu bytes, %s)", req->auth.user_id, uri, req->body_len,
	         sniffed);
	res_json(req, 200, json_pack("{s:s}", "content_uri", uri));
	free(uri);
}

void api_media_create(struct request *req)
{
	struct store_media m = { 0 };
	int64_t now = time_now_ms(), bytes = 0, pending = 0;
	enum store_result r;
	bool over = false;
	char id[32], *uri;

	if (store_media_usage(APP(req)->store, req->auth.user_id, now, &bytes, &pending) !=
	    STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Database error");
		return;
	}
	if (pending >= MEDIA_PENDING_MAX) {
		res_error_extra(req, 429, "M_LIMIT_EXCEEDED", "Too many pending uploads",
		                json_pack("{s:I}", "retry_after_ms", (json_int_t)60000));
		return;
	}
	media_id_generate(id);
	m.media_id = id;
	m.user_id = req->auth.user_id;
	m.created_ts = now;
	m.expires_ts = now + MEDIA_PENDING_TTL_MS;
	r = store_media_insert(APP(req)->store, &m, 0, &over);
	uri = r == STORE_OK ? api_media_mxc(req, id) : NULL;
	if (!uri) {
		res_error(req, 500, "M_UNKNOWN", "Database error");
		return;
	}
	res_json(req, 200, json_pack("{s:s,s:I}", "content_uri", uri, "unused_expires_at",
	                             (json_int_t)m.expires_ts));
	free(uri);
}

/* Whether the caller may fill this pending ID: 0, or -1 with the spec's
 * answer set (404 unknown, 409 filled, 403 someone else's or expired). */
static int upload_put_allowed(struct request *req, const char *server, const char *media_id)
{
	struct store_media cur;
	enum store_result r;
	int ret = -1;

	if (strcmp(server, APP(req)->cfg->server_name) != 0 || !media_id_valid(media_id)) {
		res_error(req, 404, "M_NOT_FOUND", "Unknown media");
		return -1;
	}
	r = store_media_get(APP(req)->store, media_id, &cur);
	if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "Unknown media");
	else if (r != STORE_OK)
		res_error(req, 500, "M_UNKNOWN", "Database error");
	else if (strcmp(cur.user_id, req->auth.user_id) != 0)
		res_error(req, 403, "M_FORBIDDEN", "This media ID is not yours to upload to");
	else if (cur.sha256)
		res_error(req, 409, "M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded");
	else if (cur.expires_ts <= time_now_ms())
		res_error(req, 403, "M_FORBIDDEN", "This media ID has expired");
	else
		ret = 0;
	store_media_clear(&cur);
	return ret;
}

void api_media_upload_put(struct request *req)
{
	const char *server = req_param(req, 0), *media_id = req_param(req, 1);
	struct store_media m = { 0 };
	char sha[MEDIA_SHA256_HEX_LEN + 1], sniffed[STORE_MEDIA_TEXT_MAX + 1];
	const char *ctype, *name;
	enum store_result r;
	bool over = false;

	if (upload_put_allowed(req, server, media_id) != 0 || upload_meta(req, &ctype, &name) != 0 ||
	    quota_precheck(req, req->body_len) != 0 ||
	    upload_commit(req, &m, sha, sniffed, sizeof(sniffed)) != 0)
		return;
	m.media_id = (char *)media_id;
	m.user_id = req->auth.user_id;
	m.content_type = (char *)ctype;
	m.upload_name = (char *)name;
	m.created_ts = time_now_ms();
	r = store_media_complete(APP(req)->store, &m, time_now_ms(),
	                         (int64_t)APP(req)->cfg->media_quota_bytes_per_user, &over);
	if (r == STORE_CONFLICT && !over)
		res_error(req, 409, "M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded");
	else if (r == STORE_NOT_FOUND)
		res_error(req, 403, "M_FORBIDDEN", "This media ID is not yours to upload to");
	else if (r != STORE_OK)
		store_error(req, r, over);
	else
		res_json(req, 200, json_object());
}

void api_media_config(struct request *req)
{
	/* the legacy /_matrix/media/v3/config follows the legacy switch */
	if (!api_media_legacy_allowed(req))
		return;
	res_json(req, 200, json_pack("{s:I}", "m.upload.size",
	                             (json_int_t)APP(req)->cfg->max_upload_bytes));
}
