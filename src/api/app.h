/*
 * app: the application context every handler reaches through req->app.
 *
 * One instance per running server, built by main before the HTTP server
 * starts and torn down after it stops; this is the named singleton that
 * holds the server's shared state. Everything in it is either read-only
 * after start (config, signing key, route table) or internally
 * synchronised (store, rate limiter, UIA sessions, registration nonces).
 */
#ifndef CHAPPE_API_APP_H
#define CHAPPE_API_APP_H

#include <stdatomic.h>
#include <stddef.h>

#include "http/router.h"

struct config;
struct store;
struct ratelimiter;
struct signing_key;
struct uia_sessions;
struct nonces;
struct notifier;
struct events_ctx;
struct unread_cache;
struct typing;
struct media_repo;

struct app {
	const struct config *cfg;
	struct store *store;
	struct ratelimiter *ratelimiter;
	const struct signing_key *signing_key;
	struct uia_sessions *uia;
	struct nonces *reg_nonces;   /* shared-secret registration */
	struct notifier *notifier;   /* wakes parked /sync requests */
	struct events_ctx *events;   /* the event pipeline and room cache */
	struct unread_cache *unread; /* per (user, room) notification counts */
	atomic_int previews_running; /* URL preview fetches in progress */
	struct typing *typing;       /* who is typing where (sync/typing.h) */
	struct media_repo *media;    /* media repository files (media/media.h) */
};

/* The whole route table (src/api/routes.c). */
extern const struct route api_routes[];
extern const size_t api_routes_count;

#define APP(req) ((struct app *)(req)->app)

#endif
