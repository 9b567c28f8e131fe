/*
 * media_download.c: serving media (authed-content-repo.yaml):
 * GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]
 * GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}
 * and the deprecated /_matrix/media/v3 forms behind legacy_media_authenticated.
 *
 * Every response: the Content-Type the bytes agree with (media_policy.c),
 * Content-Disposition inline only for the spec's safe types, the spec's
 * recommended Content-Security-Policy, X-Content-Type-Options: nosniff and
 * Cross-Origin-Resource-Policy: cross-origin (content_repo.md), so a hostile
 * upload cannot run script in a browser. Quarantined media is 404 as if it
 * never existed. Every byte served is reported to served_media() first.
 * Only local media exists (no federation): other server names are 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/media.h"
#include "config/config.h"
#include "http/router.h"
#include "media/media.h"
#include "security/served.h"
#include "store/store.h"

/* content_repo.md: "The recommended policy is ..." (verbatim) */
#define MEDIA_CSP "sandbox; default-src 'none'; script-src 'none'; " \
                  "plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';"

bool api_media_legacy_allowed(struct request *req)
{
	if (strncmp(req->path, "/_matrix/media/", 15) != 0)
		return true;
	if (!APP(req)->cfg->legacy_media_authenticated) {
		res_error(req, 404, "M_UNRECOGNIZED", "Unrecognized request");
		return false;
	}
	if (!req->auth.present) {
		res_error(req, 401, "M_MISSING_TOKEN", "Missing access token");
		return false;
	}
	return true;
}

/* The row behind {serverName}/{mediaId}, ready to serve: 0, or -1 with
 * the answer set (404 unknown or quarantined, 504 not yet uploaded). */
static int media_lookup(struct request *req, struct store_media *m)
{
	const char *server = req_param(req, 0), *media_id = req_param(req, 1);
	enum store_result r;

	memset(m, 0, sizeof(*m));
	if (!api_media_legacy_allowed(req))
		return -1;
	if (strcmp(server, APP(req)->cfg->server_name) != 0 || !media_id_valid(media_id)) {
		res_error(req, 404, "M_NOT_FOUND", "Media not found");
		return -1;
	}
	r = store_media_get(APP(req)->store, media_id, m);
	if (r == STORE_OK && m->quarantined) {
		store_media_clear(m);
		r = STORE_NOT_FOUND;
	}
	if (r == STORE_NOT_FOUND) {
		res_error(req, 404, "M_NOT_FOUND", "Media not found");
		return -1;
	}
	if (r != STORE_OK) {
		res_error(req, 500, "M_UNKNOWN", "Database error");
		return -1;
	}
	if (!m->sha256) {
		/* a /create'd ID whose upload has not come (we do not wait) */
		store_media_clear(m);
		res_error(req, 504, "M_NOT_YET_UPLOADED", "Media has not been uploaded yet");
		return -1;
	}
	return 0;
}

/* Answer with fd (stolen): the type, disposition and the safety headers. */
static void media_respond(struct request *req, const struct store_media *m,
                          const char *served_type, const char *filename, int fd,
                          uint64_t size, enum served_media_kind kind)
{
	struct served_viewer viewer = { req->auth.user_id, req->auth.device_id, req->client_ip,
	                                req->user_agent };
	char *disposition = media_disposition(served_type, filename);

	if (!disposition || res_header(req, "Content-Disposition", disposition) != 0 ||
	    res_header(req, "Content-Security-Policy", MEDIA_CSP) != 0 ||
	    res_header(req, "X-Content-Type-Options", "nosniff") != 0 ||
	    res_header(req, "Cross-Origin-Resource-Policy", "cross-origin") != 0) {
		free(disposition);
		close(fd);
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
	free(disposition);
	served_media(&viewer, kind, APP(req)->cfg->server_name, m->media_id, size);
	res_file(req, 200, served_type, fd, size);
}

/* The original content of m, with its served type. */
static void media_send_original(struct request *req, const struct store_media *m,
                                const char *filename, enum served_media_kind kind)
{
	char served[MEDIA_CONTENT_TYPE_MAX + 1];
	uint64_t size = 0;
	int fd = media_repo_open_content(APP(req)->media, m->sha256, &size);

	if (fd < 0) {
		res_error(req, 404, "M_NOT_FOUND", "Media content is missing");
		return;
	}
	media_type_to_serve(m->content_type, m->sniffed_type, served, sizeof(served));
	media_respond(req, m, served, filename, fd, size, kind);
}

void api_media_download(struct request *req)
{
	const char *name = req_param(req, 2);
	struct store_media m;

	if (media_lookup(req, &m) != 0)
		return;
	/* a path fileName overrides the uploaded name (an invalid one is dropped
	 * by media_disposition, never echoed) */
	media_send_original(req, &m, name ? name : m.upload_name, SERVED_MEDIA_DOWNLOAD);
	store_media_clear(&m);
}

/* width, height, method and animated, as the spec's parameters. */
static int thumb_params(struct request *req, struct media_thumb_size *sz)
{
	const char *method = req_query(req, "method"), *animated = req_query(req, "animated");
	enum media_thumb_method mth = MEDIA_THUMB_SCALE;
	int64_t w, h;

	if (!req_query(req, "width") || !req_query(req, "height")) {
		res_error(req, 400, "M_MISSING_PARAM", "width and height are required");
		return -1;
	}
	if (req_query_int(req, "width", INT64_MIN, INT64_MAX, 0, &w) < 0 ||
	    req_query_int(req, "height", INT64_MIN, INT64_MAX, 0, &h) < 0)
		return -1;
	if (method && strcmp(method, "crop") == 0)
		mth = MEDIA_THUMB_CROP;
	else if (method && strcmp(method, "scale") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "method must be crop or scale");
		return -1;
	}
	/* animated=true is a preference we cannot honour: "the server SHOULD
	 * behave as though animated is false" */
	if (animated && strcmp(animated, "true") != 0 && strcmp(animated, "false") != 0) {
		res_error(req, 400, "M_INVALID_PARAM", "animated must be true or false");
		return -1;
	}
	if (w < 1 || h < 1 || w > 10000 || h > 10000 ||
	    media_thumb_choose((int)w, (int)h, mth, sz) != 0) {
		res_error(req, 400, "M_UNKNOWN", "Thumbnail dimensions must be 1 to 10000");
		return -1;
	}
	return 0;
}

void api_media_thumbnail(struct request *req)
{
	struct media_thumb_size sz;
	struct store_media m;
	const char *type = NULL;
	uint64_t size = 0;
	bool too_large = false;
	int fd = -1, rc;

	if (!api_media_legacy_allowed(req) || thumb_params(req, &sz) != 0 ||
	    media_lookup(req, &m) != 0)
		return;
	rc = media_repo_thumbnail(APP(req)->media, m.sha256, &sz, &fd, &size, &type, &too_large);
	if (rc == 0)
		media_respond(req, &m, type, NULL, fd, size, SERVED_MEDIA_THUMBNAIL);
	else if (rc == 1)   /* "servers should return the original content" */
		media_send_original(req, &m, m.upload_name, SERVED_MEDIA_THUMBNAIL);
	else if (too_large) /* content_repo "Security considerations" */
		res_error(req, 413, "M_TOO_LARGE", "Image too large to thumbnail");
	else
		res_error(req, 400, "M_UNKNOWN", "Cannot generate a thumbnail of this content");
	store_media_clear(&m);
}
