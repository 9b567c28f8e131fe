/*
 * server: the HTTP front door (libmicrohttpd, epoll, a thread pool).
 *
 * Contract: http_server_start() binds and serves the route table with the
 * given limits until http_server_stop(). Per request, in this order: the
 * route is matched on the raw path (404/405 M_UNRECOGNIZED), the body is
 * bounded while it streams in (413 M_TOO_LARGE; BODY_UPLOAD rows stream it
 * to a temp file and authenticate first), the caller is authenticated per
 * the row (401/403), the row's rate limit is applied
 * (429 M_LIMIT_EXCEEDED), then the handler runs on a pool thread. Every
 * response carries the spec's CORS headers; OPTIONS on any path is answered
 * with them and no body.
 *
 * The server keeps a count of requests in flight; http_server_stop() stops
 * accepting, waits for that count to reach zero (bounded by grace_ms), then
 * closes every connection.
 */
#ifndef CHAPPE_HTTP_SERVER_H
#define CHAPPE_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/router.h"

struct store;
struct ratelimiter;

struct http_rate {
	double per_second;
	uint32_t burst;
};

struct http_server_opts {
	const char *listen_addr;        /* IP literal */
	uint16_t port;                  /* 0: pick a free port */
	unsigned int threads;
	size_t max_body;                /* bytes, for BODY_JSON routes */
	uint64_t max_upload_body;       /* bytes, for BODY_UPLOAD routes */
	const char *upload_dir;         /* where BODY_UPLOAD bodies are streamed
	                                 * (temp files; same file system as their
	                                 * final place, so a rename is atomic) */
	size_t max_json_depth;
	const struct route *routes;
	size_t n_routes;
	void *app;                      /* handed to handlers as req->app */
	struct store *store;            /* token lookups */
	struct ratelimiter *ratelimiter;
	struct http_rate rate_client;   /* RL_CLIENT, per user */
	struct http_rate rate_register; /* RL_REGISTER, per IP */
	const char *trusted_proxies;    /* CIDR list whose X-Forwarded-For is believed */
};

struct http_server;

struct http_server *http_server_start(const struct http_server_opts *opts,
                                      char *err, size_t err_len);
/* The port actually bound (useful when opts->port was 0). */
uint16_t http_server_port(const struct http_server *srv);
void http_server_stop(struct http_server *srv, int grace_ms);

#endif
