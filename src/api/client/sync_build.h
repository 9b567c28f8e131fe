/*
 * sync_build: the /sync response (client-server-api "Syncing"), computed
 * from the store for one user between two stream positions.
 *
 * Contract: sync_build() reads the store only; every room event it puts in
 * the response has passed served_events_filter() (history visibility and
 * membership). It never blocks waiting for news: the handler (sync.c)
 * decides whether to park the request when the result is empty.
 */
#ifndef CHAPPE_API_CLIENT_SYNC_BUILD_H
#define CHAPPE_API_CLIENT_SYNC_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "sync/token.h"

struct app;
struct sync_filter;

struct sync_params {
	const char *user_id;
	const char *device_id;
	const char *ip;
	const char *user_agent;
	const struct sync_filter *filter;   /* never NULL: an empty filter at least */
	bool initial;                        /* no since token */
	bool full_state;
	bool use_state_after;                /* state_after instead of state (v1.16) */
	struct sync_token since;
};

struct sync_result {
	json_t *body;              /* the response */
	bool empty;                /* nothing new for an incremental sync */
	char **watch_rooms;        /* rooms to wake on (joined and invited) */
	size_t n_watch_rooms;
};
void sync_result_clear(struct sync_result *r);

/* The unread-counts cache held in struct app (sync_unread.c). */
struct unread_cache *unread_cache_new(void);
void unread_cache_free(struct unread_cache *u);

/* 0, or -1 on a store error. */
int sync_build(struct app *app, const struct sync_params *p, struct sync_result *out);

#endif
