/* media_preview.c: GET /_matrix/client/v1/media/preview_url
 * (authed-content-repo.yaml; the fetch and its SSRF guard are in
 * src/media/media_preview.c). Off unless url_preview_enabled. */
#include <stdatomic.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/media.h"
#include "config/config.h"
#include "media/media_preview.h"

#define PREVIEW_MAX_BYTES (1024 * 1024)
#define PREVIEW_TIMEOUT_MS 10000L
#define PREVIEW_CONCURRENT_MAX 2   /* fetches hold an HTTP worker thread */
#define PREVIEW_URL_MAX 2048

void api_media_preview(struct request *req)
{
	const struct config *cfg = APP(req)->cfg;
	const char *url = req_query(req, "url");
	struct preview_error err;
	json_t *og;

	if (!cfg->url_preview_enabled) {
		res_error(req, 404, "M_UNRECOGNIZED", "URL previews are disabled");
		return;
	}
	if (!api_media_legacy_allowed(req))
		return;
	if (!url || !*url || strlen(url) > PREVIEW_URL_MAX) {
		res_error(req, 400, "M_MISSING_PARAM", "url is required (at most %d bytes)",
		          PREVIEW_URL_MAX);
		return;
	}
	if (atomic_fetch_add(&APP(req)->previews_running, 1) >= PREVIEW_CONCURRENT_MAX) {
		atomic_fetch_sub(&APP(req)->previews_running, 1);
		res_error_extra(req, 429, "M_LIMIT_EXCEEDED", "Too many previews at once",
		                json_pack("{s:i}", "retry_after_ms", 1000));
		return;
	}
	og = media_preview_fetch(url, cfg->url_preview_ip_allowlist, PREVIEW_MAX_BYTES,
	                         PREVIEW_TIMEOUT_MS, &err);
	atomic_fetch_sub(&APP(req)->previews_running, 1);
	if (!og)
		res_error(req, err.status, err.errcode, "%s", err.message);
	else
		res_json(req, 200, og);
}
