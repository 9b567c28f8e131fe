/*
 * state_res_graph: the event cache and auth-graph walks state resolution
 * runs on; private to src/rooms (state_res.c, state_res_graph.c).
 *
 * Contract: a struct sr_ctx lives for one state_res_resolve() call, on one
 * thread. It owns every struct sr_ev (and one json reference per event);
 * sr_ctx_clear() releases them. Loading counts against max_events, edge
 * visits against max_steps; past a bound ctx->err becomes STATE_RES_TOO_BIG
 * and the loaders return NULL / -1 from then on.
 */
#ifndef CHAPPE_ROOMS_STATE_RES_GRAPH_H
#define CHAPPE_ROOMS_STATE_RES_GRAPH_H

#include <stdint.h>
#include <uthash.h>

#include "rooms/state_res.h"

/* Flags of struct sr_ev. */
#define SR_CONFLICTED  0x01u  /* in the conflicted state set */
#define SR_FULL        0x02u  /* in the full conflicted set */
#define SR_IN_X        0x04u  /* picked in step 1 (power events + chains) */
#define SR_X_WALKED    0x08u  /* auth chain already added to X */
#define SR_SUB_SEEN    0x10u  /* subgraph walk: visited */
#define SR_SUB_DONE    0x20u  /* subgraph walk: reach computed */
#define SR_SUB_REACH   0x40u  /* reaches a conflicted event */

#define SR_POS_NONE UINT64_MAX

struct sr_ev {
    char *id;                 /* owned */
    json_t *ev;               /* owned reference */
    const char *type, *state_key, *sender;  /* borrowed from ev */
    int64_t ts;
    size_t n_auth;
    struct sr_ev **auth;      /* owned array; NULL entries: unknown events */
    bool auth_loaded;
    int rejected;             /* -1 not asked yet, 0, 1 */
    unsigned flags;
    size_t chain_mark;        /* auth difference: last state index + 1 */
    size_t chain_count;       /* how many states' chains hold it */
    int64_t power;            /* sender's power level (ordering) */
    size_t indeg, xidx;       /* Kahn's algorithm */
    uint64_t mainline_idx;    /* index in the mainline, or SR_POS_NONE */
    uint64_t pos;             /* mainline position */
    UT_hash_handle hh;
};

struct sr_ctx {
    const struct room_version *rv;
    const struct state_res_io *io;
    struct sr_ev *events;     /* hash by id */
    size_t n_loaded, steps, max_events, max_steps;
    int err;
    char *why;
    size_t why_len;
};

/* Record a failure (first one wins) and return -1. */
int sr_fail(struct sr_ctx *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Count one unit of work; -1 past max_steps. */
int sr_step(struct sr_ctx *c);
/* The cached event for a JSON event held by a state map (adds it). */
struct sr_ev *sr_from_json(struct sr_ctx *c, json_t *ev);
/* The event with this ID, fetched if needed; NULL if unknown or on error
 * (check c->err). */
struct sr_ev *sr_get(struct sr_ctx *c, const char *id);
/* Load e->auth; -1 on error. */
int sr_auth_load(struct sr_ctx *c, struct sr_ev *e);
bool sr_is_rejected(struct sr_ctx *c, struct sr_ev *e);
/* v12: the room's create event (from e's room_id); NULL otherwise. */
struct sr_ev *sr_room_create(struct sr_ctx *c, const struct sr_ev *e);
void sr_ctx_clear(struct sr_ctx *c);

/* A growable array of event pointers. */
struct sr_list {
    struct sr_ev **v;
    size_t n, cap;
};
int sr_list_push(struct sr_ctx *c, struct sr_list *l, struct sr_ev *e);
void sr_list_free(struct sr_list *l);

/* Add to each event's chain_count for the auth chain of one state
 * (mark = state index + 1). */
int sr_chain_count(struct sr_ctx *c, const struct sr_list *roots, size_t mark);
/* v12: flag the conflicted state subgraph SR_SUB_REACH, starting from the
 * conflicted events in `conflicted`. */
int sr_subgraph(struct sr_ctx *c, const struct sr_list *conflicted);
/* Add to x every SR_FULL event in the auth chain of e (flagging SR_IN_X). */
int sr_chain_into_x(struct sr_ctx *c, struct sr_ev *e, struct sr_list *x);

#endif
