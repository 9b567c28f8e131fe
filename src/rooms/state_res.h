/*
 * state_res: state resolution v2 (rooms/fragments/v2-state-res.md, used by
 * room versions 10 and 11) and its v12 revision (rooms/v12.md "State
 * resolution": empty start state for the power events, conflicted state
 * subgraph in the full conflicted set).
 *
 * Contract:
 * - Pure: no I/O of its own. Events it does not hold are asked for through
 *   io->fetch_event, which returns a NEW reference (released here) or NULL
 *   if the event is unknown; unknown auth events are left out of auth
 *   chains, as if not there. io->is_rejected (optional; NULL means "none")
 *   answers whether the server rejected an event, so that rejected auth
 *   events are not used in the iterative auth checks.
 * - Events are identified by their "event_id" member when present (the
 *   server attaches it to events it stores), else by event_compute_id().
 *   An event fetched by ID is known by that ID.
 * - v12: the room's create event is fetched by ID derived from the room ID
 *   ("!" -> "$") because it is not in auth_events.
 * - Bounded: at most io->max_events distinct events are loaded and at most
 *   io->max_steps graph steps taken (defaults below when 0); past either
 *   bound the call fails with STATE_RES_TOO_BIG, so a hostile auth chain
 *   cannot exhaust memory or CPU. Walks are iterative (explicit stacks).
 * - Inputs are borrowed and never modified. On success *out is a new map
 *   the caller frees with state_map_free(); on failure *out is NULL and why
 *   (may be NULL) holds a reason.
 * - Re-entrant, no globals; one call runs on the calling thread.
 */
#ifndef CHAPPE_ROOMS_STATE_RES_H
#define CHAPPE_ROOMS_STATE_RES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rooms/room_version.h"
#include "rooms/state_map.h"

/* Defaults sized for large public rooms (hundreds of thousands of state
 * events) while keeping a hostile graph to seconds of CPU; callers with
 * other needs set io->max_events / io->max_steps. */
#define STATE_RES_DEFAULT_MAX_EVENTS 500000
#define STATE_RES_DEFAULT_MAX_STEPS  20000000

enum state_res_result {
    STATE_RES_OK = 0,
    STATE_RES_ERROR = -1,    /* allocation failure, bad arguments */
    STATE_RES_TOO_BIG = -2,  /* max_events or max_steps exceeded */
};

struct state_res_io {
    json_t *(*fetch_event)(void *ctx, const char *event_id);
    bool (*is_rejected)(void *ctx, const char *event_id);
    void *ctx;
    size_t max_events;
    size_t max_steps;
};

/* Resolve n_states state maps (one per fork) into *out. */
int state_res_resolve(const struct room_version *rv,
                      const struct state_map *const *states, size_t n_states,
                      const struct state_res_io *io, struct state_map **out,
                      char *why, size_t why_len);

#endif
