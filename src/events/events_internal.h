/* events_internal: the room cache as the pipeline sees it (src/events/ only). */
#ifndef CHAPPE_EVENTS_INTERNAL_H
#define CHAPPE_EVENTS_INTERNAL_H

#include <pthread.h>

#include <uthash.h>

#include "events/events.h"

struct state_map;

/* One room's current state. Events in the map are the stored PDUs with an
 * extra "event_id" member (never persisted). Guarded by lock. */
struct room_entry {
	char *room_id;
	const struct room_version *rv;
	struct state_map *state;
	char *last_event_id;     /* the forward extremity */
	int64_t depth;           /* depth of last_event_id */
	pthread_mutex_t lock;
	UT_hash_handle hh;
};

/* The room's entry, loaded from the store on first use, returned LOCKED.
 * NULL with err set (404 M_NOT_FOUND for an unknown room). */
struct room_entry *room_cache_acquire(struct events_ctx *ctx, const char *room_id,
                                      struct event_error *err);
void room_cache_release(struct room_entry *e);
/* Add a freshly created room's entry (createRoom), taking ownership of
 * state and last_event_id. */
int room_cache_insert(struct room_cache *c, const char *room_id, const struct room_version *rv,
                      struct state_map *state, char *last_event_id, int64_t depth);

#endif
