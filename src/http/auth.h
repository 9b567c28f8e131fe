/*
 * auth: who is calling. Reads the access token from the Authorization
 * header ("Bearer ...") or the access_token query argument, looks up its
 * hash in the store, and fills req->auth.
 *
 * Contract: returns 0 when the request may proceed per the route's auth
 * level; otherwise the error response is already set (401
 * M_MISSING_TOKEN / M_UNKNOWN_TOKEN [soft_logout for expired tokens] /
 * M_USER_LOCKED, 403 M_FORBIDDEN for non-admins on admin routes, 403
 * M_USER_SUSPENDED for a suspended account on a MOD_WRITE row) and -1 is
 * returned. A locked account passes only on MOD_LOCK_EXEMPT rows (logout).
 * An authenticated request records its device's last seen IP, user agent
 * and time (store_device_touch, at most once a minute per device unless
 * the IP or user agent changed). Thread-safe.
 */
#ifndef CHAPPE_HTTP_AUTH_H
#define CHAPPE_HTTP_AUTH_H

#include "http/request.h"
#include "http/router.h"

struct store;

int http_authenticate(struct request *req, struct store *st, enum route_auth level);

#endif
