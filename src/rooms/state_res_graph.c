/* state_res_graph: see state_res_graph.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* uthash exits on allocation failure by default; report it instead. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (add_oom = 1)
#include "rooms/state_res_graph.h"

#include "rooms/redact.h"

int sr_fail(struct sr_ctx *c, int err, const char *fmt, ...)
{
    va_list ap;

    if (c->err != 0)
        return -1;
    c->err = err;
    if (c->why != NULL && c->why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(c->why, c->why_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int sr_step(struct sr_ctx *c)
{
    if (c->err != 0)
        return -1;
    if (++c->steps > c->max_steps)
        return sr_fail(c, STATE_RES_TOO_BIG, "state resolution: over %zu steps",
                       c->max_steps);
    return 0;
}

static void sr_ev_free(struct sr_ev *e)
{
    free(e->id);
    free(e->auth);
    json_decref(e->ev);
    free(e);
}

/* Insert a new cache entry for ev under id (takes a new reference). */
static struct sr_ev *sr_insert(struct sr_ctx *c, const char *id, json_t *ev)
{
    struct sr_ev *e;
    const json_t *ts = json_object_get(ev, "origin_server_ts");
    int add_oom = 0;

    if (c->n_loaded >= c->max_events) {
        sr_fail(c, STATE_RES_TOO_BIG, "state resolution: over %zu events",
                c->max_events);
        return NULL;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL || (e->id = strdup(id)) == NULL) {
        free(e);
        sr_fail(c, STATE_RES_ERROR, "out of memory");
        return NULL;
    }
    e->ev = json_incref(ev);
    e->type = json_string_value(json_object_get(ev, "type"));
    e->state_key = json_string_value(json_object_get(ev, "state_key"));
    e->sender = json_string_value(json_object_get(ev, "sender"));
    e->ts = json_is_integer(ts) ? (int64_t)json_integer_value(ts) : 0;
    e->rejected = -1;
    e->mainline_idx = SR_POS_NONE;
    e->pos = SR_POS_NONE;
    HASH_ADD_KEYPTR(hh, c->events, e->id, strlen(e->id), e);
    if (add_oom) {
        sr_ev_free(e);
        sr_fail(c, STATE_RES_ERROR, "out of memory");
        return NULL;
    }
    c->n_loaded++;
    return e;
}

static struct sr_ev *sr_find(struct sr_ctx *c, const char *id)
{
    struct sr_ev *e = NULL;

    HASH_FIND_STR(c->events, id, e);
    return e;
}

struct sr_ev *sr_from_json(struct sr_ctx *c, json_t *ev)
{
    const char *id = json_string_value(json_object_get(ev, "event_id"));
    char *computed = NULL;
    struct sr_ev *e;

    if (c->err != 0)
        return NULL;
    if (id == NULL) {
        computed = event_compute_id(c->rv, ev);
        if (computed == NULL) {
            sr_fail(c, STATE_RES_ERROR, "cannot compute an event ID");
            return NULL;
        }
        id = computed;
    }
    e = sr_find(c, id);
    if (e == NULL)
        e = sr_insert(c, id, ev);
    free(computed);
    return e;
}

struct sr_ev *sr_get(struct sr_ctx *c, const char *id)
{
    struct sr_ev *e;
    json_t *ev;

    if (c->err != 0 || id == NULL)
        return NULL;
    e = sr_find(c, id);
    if (e != NULL || c->io->fetch_event == NULL)
        return e;
    if (sr_step(c) != 0)
        return NULL;
    ev = c->io->fetch_event(c->io->ctx, id);
    if (ev == NULL)
        return NULL;
    if (json_is_object(ev))
        e = sr_insert(c, id, ev);
    json_decref(ev);
    return e;
}

int sr_auth_load(struct sr_ctx *c, struct sr_ev *e)
{
    const json_t *ids = json_object_get(e->ev, "auth_events");
    size_t n = json_array_size(ids);

    if (e->auth_loaded)
        return c->err != 0 ? -1 : 0;
    e->auth_loaded = true;
    if (n == 0)
        return 0;
    e->auth = calloc(n, sizeof *e->auth);
    if (e->auth == NULL)
        return sr_fail(c, STATE_RES_ERROR, "out of memory");
    e->n_auth = n;
    for (size_t i = 0; i < n; i++) {
        /* Each entry is work even when cached: a hostile event may list
         * the same ID a thousand times. */
        if (sr_step(c) != 0)
            return -1;
        /* Malformed entries are unknown events, like missing ones. */
        e->auth[i] = sr_get(c, json_string_value(json_array_get(ids, i)));
        if (c->err != 0)
            return -1;
    }
    return 0;
}

bool sr_is_rejected(struct sr_ctx *c, struct sr_ev *e)
{
    if (e->rejected < 0)
        e->rejected = c->io->is_rejected != NULL
                      && c->io->is_rejected(c->io->ctx, e->id) ? 1 : 0;
    return e->rejected == 1;
}

struct sr_ev *sr_room_create(struct sr_ctx *c, const struct sr_ev *e)
{
    const char *room_id = json_string_value(json_object_get(e->ev, "room_id"));
    char id[300];

    if (!c->rv->room_id_from_create || room_id == NULL || room_id[0] != '!'
        || strlen(room_id) >= sizeof id)
        return NULL;
    /* v12.md: "The room ID is the event ID of the event with sigil !
     * instead of $." */
    id[0] = '$';
    memcpy(id + 1, room_id + 1, strlen(room_id));
    return sr_get(c, id);
}

void sr_ctx_clear(struct sr_ctx *c)
{
    struct sr_ev *e, *tmp;

    HASH_ITER(hh, c->events, e, tmp) {
        HASH_DEL(c->events, e);
        sr_ev_free(e);
    }
}

int sr_list_push(struct sr_ctx *c, struct sr_list *l, struct sr_ev *e)
{
    struct sr_ev **nv;
    size_t ncap;

    if (l->n == l->cap) {
        ncap = l->cap ? l->cap * 2 : 16;
        nv = realloc(l->v, ncap * sizeof *nv);
        if (nv == NULL)
            return sr_fail(c, STATE_RES_ERROR, "out of memory");
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = e;
    return 0;
}

void sr_list_free(struct sr_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

int sr_chain_count(struct sr_ctx *c, const struct sr_list *roots, size_t mark)
{
    struct sr_list stack = { 0 };
    struct sr_ev *e, *a;
    int rc = -1;

    /* The auth chain excludes the roots themselves (unless another root
     * cites them), so start from their auth events. */
    for (size_t i = 0; i < roots->n; i++)
        if (sr_list_push(c, &stack, roots->v[i]) != 0)
            goto out;
    while (stack.n > 0) {
        e = stack.v[--stack.n];
        if (sr_auth_load(c, e) != 0)
            goto out;
        for (size_t i = 0; i < e->n_auth; i++) {
            a = e->auth[i];
            if (sr_step(c) != 0)
                goto out;
            if (a == NULL || a->chain_mark == mark)
                continue;
            a->chain_mark = mark;
            a->chain_count++;
            if (sr_list_push(c, &stack, a) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    sr_list_free(&stack);
    return rc;
}

/* The subgraph walk's explicit stack: frames (event, next auth index). */
struct sr_frames {
    struct sr_list ev;
    size_t *next;
    size_t cap;
};

static int sr_frame_push(struct sr_ctx *c, struct sr_frames *f, struct sr_ev *e)
{
    size_t *nn;

    if (sr_list_push(c, &f->ev, e) != 0)
        return -1;
    if (f->cap < f->ev.cap) {
        nn = realloc(f->next, f->ev.cap * sizeof *nn);
        if (nn == NULL)
            return sr_fail(c, STATE_RES_ERROR, "out of memory");
        f->next = nn;
        f->cap = f->ev.cap;
    }
    f->next[f->ev.n - 1] = 0;
    e->flags |= SR_SUB_SEEN;
    return sr_auth_load(c, e);
}

/* Post-order walk from one conflicted event: an event reaches the
 * conflicted set if it is conflicted or one of its auth events reaches
 * it. Events seen but not done are on the stack: meeting one again means
 * a cycle (only a hostile graph has one), and that edge is ignored. */
static int sr_subgraph_from(struct sr_ctx *c, struct sr_ev *root,
                            struct sr_frames *f)
{
    struct sr_ev *e, *a;

    if (root->flags & SR_SUB_SEEN)
        return 0;
    f->ev.n = 0;
    if (sr_frame_push(c, f, root) != 0)
        return -1;
    while (f->ev.n > 0) {
        e = f->ev.v[f->ev.n - 1];
        if (f->next[f->ev.n - 1] < e->n_auth) {
            a = e->auth[f->next[f->ev.n - 1]++];
            if (sr_step(c) != 0)
                return -1;
            if (a == NULL)
                continue;
            if (a->flags & SR_SUB_DONE) {
                if (a->flags & SR_SUB_REACH)
                    e->flags |= SR_SUB_REACH;
            } else if (!(a->flags & SR_SUB_SEEN)) {
                if (sr_frame_push(c, f, a) != 0)
                    return -1;
            }
            continue;
        }
        /* All auth events settled: settle e and pass its reach up. */
        if (e->flags & SR_CONFLICTED)
            e->flags |= SR_SUB_REACH;
        e->flags |= SR_SUB_DONE;
        f->ev.n--;
        if (f->ev.n > 0 && (e->flags & SR_SUB_REACH))
            f->ev.v[f->ev.n - 1]->flags |= SR_SUB_REACH;
    }
    return 0;
}

int sr_subgraph(struct sr_ctx *c, const struct sr_list *conflicted)
{
    struct sr_frames f = { 0 };
    int rc = 0;

    for (size_t i = 0; i < conflicted->n && rc == 0; i++)
        rc = sr_subgraph_from(c, conflicted->v[i], &f);
    sr_list_free(&f.ev);
    free(f.next);
    return rc;
}

int sr_chain_into_x(struct sr_ctx *c, struct sr_ev *root, struct sr_list *x)
{
    struct sr_list stack = { 0 };
    struct sr_ev *e, *a;
    int rc = -1;

    /* An event whose chain was walked already had its whole chain added:
     * the auth chain of an event does not depend on who reached it. */
    if (root->flags & SR_X_WALKED)
        return 0;
    root->flags |= SR_X_WALKED;
    if (sr_list_push(c, &stack, root) != 0)
        goto out;
    while (stack.n > 0) {
        e = stack.v[--stack.n];
        if (sr_auth_load(c, e) != 0)
            goto out;
        for (size_t i = 0; i < e->n_auth; i++) {
            a = e->auth[i];
            if (sr_step(c) != 0)
                goto out;
            if (a == NULL || (a->flags & SR_X_WALKED))
                continue;
            a->flags |= SR_X_WALKED;
            if ((a->flags & SR_FULL) && !(a->flags & SR_IN_X)) {
                a->flags |= SR_IN_X;
                if (sr_list_push(c, x, a) != 0)
                    goto out;
            }
            if (sr_list_push(c, &stack, a) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    sr_list_free(&stack);
    return rc;
}
