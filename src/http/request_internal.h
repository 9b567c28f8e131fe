/* request_internal: what only the HTTP layer does to a request. */
#ifndef CHAPPE_HTTP_REQUEST_INTERNAL_H
#define CHAPPE_HTTP_REQUEST_INTERNAL_H

#include <stdint.h>

#include "http/request.h"

/* conn is the MHD connection; url the raw path. */
void request_init(struct request *req, void *app, void *conn, const char *url,
                  size_t max_json_depth);
/* Free everything the request owns (not the struct itself). */
void request_release(struct request *req);
/* Close and delete an upload's temp file, if any. */
void request_body_discard(struct request *req);
/* Forget who the request was authenticated as (before authenticating again). */
void request_auth_reset(struct request *req);
/* 429 M_LIMIT_EXCEEDED with retry_after_ms. */
void res_ratelimited(struct request *req, int64_t retry_after_ms);

#endif
