/*
 * auth: who is calling. Reads the access token from the Authorization
 * header ("Bearer ...") or the access_token query argument, looks up its
 * hash in the store, and fills req->auth.
 *
 * Contract: returns 0 when the request may proceed per the route's auth
 * level; otherwise the error response is already set (401
 * M_MISSING_TOKEN / M_UNKNOWN_TOKEN [soft_logout for expired tokens] /
 * M_USER_LOCKED, 403 M_FORBIDDEN for non-admins on admin routes) and -1 is
 * returned. Thread-safe.
 */
#ifndef CHAPPE_HTTP_AUTH_H
#define CHAPPE_HTTP_AUTH_H

#include "http/request.h"
#include "http/router.h"

struct store;

int http_authenticate(struct request *req, struct store *st, enum route_auth level);

#endif
