/*
 * media.h: what the media repository's handler files share (media.c,
 * media_download.c, media_admin.c). Stateless; any handler thread.
 */
#ifndef CHAPPE_API_CLIENT_MEDIA_H
#define CHAPPE_API_CLIENT_MEDIA_H

#include <stdbool.h>

#include "http/request.h"

/* "mxc://<our server name>/<media_id>", malloc'd, or NULL. */
char *api_media_mxc(const struct request *req, const char *media_id);

/* May this request be served? Always for the authenticated
 * /_matrix/client/v1/media paths. The deprecated /_matrix/media/v3
 * download, thumbnail and config paths only with legacy_media_authenticated
 * on (else 404 M_UNRECOGNIZED, as if they did not exist) and only with a
 * valid access token (else 401 M_MISSING_TOKEN). false means the error
 * response is set. */
bool api_media_legacy_allowed(struct request *req);

#endif
