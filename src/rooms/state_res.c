/*
 * state_res: state resolution v2 and its v12 revision. Contract in
 * state_res.h; the event cache and graph walks are in state_res_graph.c.
 * Step numbers refer to the "Algorithm" section of v2-state-res.md.
 */
#include <stdlib.h>
#include <string.h>

#include "rooms/auth.h"
#include "rooms/state_res_graph.h"

/* Everything one resolution holds; released by sr_run_free(). */
struct sr_run {
    struct sr_ctx c;
    struct state_map *unconflicted;
    struct state_map *resolved;
    struct sr_list conflicted;  /* conflicted state set */
    struct sr_list full;        /* full conflicted set */
    struct sr_list x;           /* step 1 */
    struct sr_list rest;        /* step 3 */
};

static bool str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* "A power event is a state event with type m.room.power_levels or
 * m.room.join_rules, or a state event with type m.room.member where the
 * membership is leave or ban and the sender does not match the
 * state_key." */
static bool sr_is_power_event(const struct sr_ev *e)
{
    const char *m;

    if (e->state_key == NULL || e->type == NULL)
        return false;
    if (strcmp(e->type, "m.room.power_levels") == 0
        || strcmp(e->type, "m.room.join_rules") == 0)
        return true;
    if (strcmp(e->type, "m.room.member") != 0)
        return false;
    m = json_string_value(json_object_get(json_object_get(e->ev, "content"),
                                          "membership"));
    return (str_eq(m, "leave") || str_eq(m, "ban"))
           && !str_eq(e->sender, e->state_key);
}

static int sr_mark(struct sr_run *r, struct sr_list *l, struct sr_ev *e,
                   unsigned flag)
{
    if (e->flags & flag)
        return 0;
    e->flags |= flag;
    return sr_list_push(&r->c, l, e);
}

/* True if a state before `i` holds the key (it was split there). */
static bool sr_key_seen(const struct state_map *const *states, size_t i,
                        const char *type, const char *sk)
{
    for (size_t j = 0; j < i; j++)
        if (state_map_get(states[j], type, sk) != NULL)
            return true;
    return false;
}

/* Split the states into the unconflicted state map and the conflicted
 * state set: a key is unconflicted if every state has it with the same
 * event; otherwise every event any state has for it is conflicted. */
static int sr_split(struct sr_run *r, const struct state_map *const *states,
                    size_t n)
{
    struct state_map_iter it;
    const char *type, *sk;
    json_t *ev, *other;
    struct sr_ev *e, *first;
    bool same;

    for (size_t i = 0; i < n; i++) {
        memset(&it, 0, sizeof it);
        while (state_map_next(states[i], &it, &type, &sk, &ev)) {
            if (sr_key_seen(states, i, type, sk))
                continue;
            if ((first = sr_from_json(&r->c, ev)) == NULL)
                return -1;
            /* Unseen before state i means absent from states 0..i-1. */
            same = i == 0;
            for (size_t j = i + 1; j < n && same; j++) {
                other = state_map_get(states[j], type, sk);
                e = other ? sr_from_json(&r->c, other) : NULL;
                if (r->c.err != 0)
                    return -1;
                same = e == first;
            }
            if (same) {
                if (state_map_set(r->unconflicted, type, sk, first->ev) != 0)
                    return sr_fail(&r->c, STATE_RES_ERROR, "out of memory");
                continue;
            }
            for (size_t j = i; j < n; j++) {
                other = state_map_get(states[j], type, sk);
                e = other ? sr_from_json(&r->c, other) : NULL;
                if (r->c.err != 0)
                    return -1;
                if (e != NULL && sr_mark(r, &r->conflicted, e, SR_CONFLICTED) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

/* Full conflicted set = conflicted set + auth difference (+ v12
 * conflicted state subgraph). */
static int sr_full_set(struct sr_run *r, const struct state_map *const *states,
                       size_t n)
{
    struct sr_list roots = { 0 };
    struct state_map_iter it;
    struct sr_ev *e, *tmp;
    json_t *ev;
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        roots.n = 0;
        memset(&it, 0, sizeof it);
        while (state_map_next(states[i], &it, NULL, NULL, &ev))
            if (sr_list_push(&r->c, &roots, sr_from_json(&r->c, ev)) != 0)
                goto out;
        if (r->c.err != 0 || sr_chain_count(&r->c, &roots, i + 1) != 0)
            goto out;
    }
    if (r->c.rv->state_res == ROOM_STATE_RES_V2_1
        && sr_subgraph(&r->c, &r->conflicted) != 0)
        goto out;
    for (size_t i = 0; i < r->conflicted.n; i++)
        if (sr_mark(r, &r->full, r->conflicted.v[i], SR_FULL) != 0)
            goto out;
    /* Auth difference: in some states' full auth chains but not all. */
    HASH_ITER(hh, r->c.events, e, tmp) {
        bool diff = e->chain_count > 0 && e->chain_count < n;
        if ((diff || (e->flags & SR_SUB_REACH))
            && sr_mark(r, &r->full, e, SR_FULL) != 0)
            goto out;
    }
    rc = 0;
out:
    sr_list_free(&roots);
    return rc;
}

/* The auth state an event is checked against in the iterative auth
 * checks: its non-rejected auth events, overridden by the resolved state
 * for every key the selection names (v12: plus the room's create event). */
static struct state_map *sr_auth_state(struct sr_run *r, struct sr_ev *e,
                                       const struct state_map *resolved)
{
    struct auth_key keys[AUTH_SELECTION_MAX];
    struct state_map *m = state_map_new();
    struct sr_ev *create;
    json_t *cur;
    size_t n = 0;

    if (m == NULL || sr_auth_load(&r->c, e) != 0)
        goto err;
    for (size_t i = 0; i < e->n_auth; i++) {
        struct sr_ev *a = e->auth[i];
        if (a == NULL || a->state_key == NULL || sr_is_rejected(&r->c, a))
            continue;
        if (state_map_set_event(m, a->ev) != 0)
            goto err;
    }
    if (resolved != NULL && auth_events_selection(r->c.rv, e->ev, keys, &n) == 0)
        for (size_t i = 0; i < n; i++) {
            cur = state_map_get(resolved, keys[i].type, keys[i].state_key);
            if (cur != NULL
                && state_map_set(m, keys[i].type, keys[i].state_key, cur) != 0)
                goto err;
        }
    if (r->c.rv->room_id_from_create
        && state_map_get(m, "m.room.create", "") == NULL) {
        create = sr_room_create(&r->c, e);
        if (r->c.err != 0)
            goto err;
        if (create != NULL && state_map_set(m, "m.room.create", "", create->ev) != 0)
            goto err;
    }
    return m;
err:
    state_map_free(m);
    sr_fail(&r->c, STATE_RES_ERROR, "out of memory");
    return NULL;
}

/* "Iterative auth checks": apply each event allowed by the auth rules. */
static int sr_iterate(struct sr_run *r, const struct sr_list *order)
{
    struct state_map *m;
    int ok;

    for (size_t i = 0; i < order->n; i++) {
        struct sr_ev *e = order->v[i];
        if (e->state_key == NULL || e->type == NULL)
            continue;
        if (sr_step(&r->c) != 0 || (m = sr_auth_state(r, e, r->resolved)) == NULL)
            return -1;
        ok = auth_check_event(r->c.rv, e->ev, m, NULL, 0) == 0;
        state_map_free(m);
        if (ok && state_map_set(r->resolved, e->type, e->state_key, e->ev) != 0)
            return sr_fail(&r->c, STATE_RES_ERROR, "out of memory");
    }
    return 0;
}

/* "Reverse topological power ordering": x < y if x's sender has greater
 * power, then earlier origin_server_ts, then smaller event_id. */
static int sr_power_cmp(const struct sr_ev *x, const struct sr_ev *y)
{
    if (x->power != y->power)
        return x->power > y->power ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void sr_heap_push(struct sr_ev **h, size_t *n, struct sr_ev *e)
{
    size_t i = (*n)++;

    while (i > 0 && sr_power_cmp(e, h[(i - 1) / 2]) < 0) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

static struct sr_ev *sr_heap_pop(struct sr_ev **h, size_t *n)
{
    struct sr_ev *top = h[0], *last = h[--*n];
    size_t i = 0, c;

    while ((c = 2 * i + 1) < *n) {
        if (c + 1 < *n && sr_power_cmp(h[c + 1], h[c]) < 0)
            c++;
        if (sr_power_cmp(h[c], last) >= 0)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0)
        h[i] = last;
    return top;
}

/* Sender power "when looking at their respective auth_events". */
static int sr_power_of(struct sr_run *r, struct sr_ev *e)
{
    struct state_map *m = sr_auth_state(r, e, NULL);

    if (m == NULL)
        return -1;
    e->power = auth_user_power_level(r->c.rv, m, e->sender);
    state_map_free(m);
    return 0;
}

/* Kahn's algorithm over X, taking the smallest ready event each time;
 * an event is ready once all its auth events in X are out. Children
 * (events citing a given one) are kept as one flat array, CSR style.
 * Rewrites r->x in order. */
static int sr_sort_x(struct sr_run *r)
{
    size_t n = r->x.n, nc = 0, nh = 0, no = 0;
    size_t *start = NULL, *fill = NULL, *child = NULL;
    struct sr_ev **heap = NULL, **order = NULL, *e, *a, *ch;
    int rc = -1;

    if (n == 0)
        return 0;
    start = calloc(n + 1, sizeof *start);
    fill = calloc(n + 1, sizeof *fill);
    heap = calloc(n, sizeof *heap);
    order = calloc(n, sizeof *order);
    if (start == NULL || fill == NULL || heap == NULL || order == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        e = r->x.v[i];
        e->xidx = i;
        e->indeg = 0;
        if (sr_power_of(r, e) != 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        e = r->x.v[i];
        for (size_t k = 0; k < e->n_auth; k++)
            if ((a = e->auth[k]) != NULL && (a->flags & SR_IN_X)) {
                start[a->xidx + 1]++;
                e->indeg++;
                nc++;
            }
    }
    for (size_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    memcpy(fill, start, n * sizeof *fill);
    child = calloc(nc + 1, sizeof *child);
    if (child == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        e = r->x.v[i];
        for (size_t k = 0; k < e->n_auth; k++)
            if ((a = e->auth[k]) != NULL && (a->flags & SR_IN_X))
                child[fill[a->xidx]++] = i;
    }
    for (size_t i = 0; i < n; i++)
        if (r->x.v[i]->indeg == 0)
            sr_heap_push(heap, &nh, r->x.v[i]);
    while (nh > 0) {
        e = sr_heap_pop(heap, &nh);
        order[no++] = e;
        for (size_t c = start[e->xidx]; c < start[e->xidx + 1]; c++) {
            if (sr_step(&r->c) != 0)
                goto out;
            ch = r->x.v[child[c]];
            if (--ch->indeg == 0)
                sr_heap_push(heap, &nh, ch);
        }
    }
    if (no != n) {
        /* Only a forged graph has a cycle: event IDs are hashes. */
        sr_fail(&r->c, STATE_RES_ERROR, "auth events form a cycle");
        goto out;
    }
    memcpy(r->x.v, order, n * sizeof *order);
    rc = 0;
    goto out;
oom:
    sr_fail(&r->c, STATE_RES_ERROR, "out of memory");
out:
    free(start);
    free(fill);
    free(child);
    free(heap);
    free(order);
    return rc;
}

/* The m.room.power_levels event among e's auth events, or NULL. */
static struct sr_ev *sr_auth_pl(struct sr_run *r, struct sr_ev *e)
{
    if (sr_auth_load(&r->c, e) != 0)
        return NULL;
    for (size_t i = 0; i < e->n_auth; i++) {
        struct sr_ev *a = e->auth[i];
        if (a != NULL && str_eq(a->type, "m.room.power_levels")
            && str_eq(a->state_key, ""))
            return a;
    }
    return NULL;
}

/* "Mainline ordering": mark the mainline of the resolved power levels,
 * then give each event of `rest` its mainline position (the index of the
 * first mainline event met walking power levels auth events from e,
 * e itself excluded; SR_POS_NONE, i.e. infinity, if none). */
static int sr_mainline_positions(struct sr_run *r)
{
    json_t *pl = state_map_get(r->resolved, "m.room.power_levels", "");
    struct sr_ev *p = pl ? sr_from_json(&r->c, pl) : NULL, *w;
    uint64_t i = 0;

    if (r->c.err != 0)
        return -1;
    /* A forged cycle of power levels would loop: stop at a marked one. */
    for (; p != NULL && p->mainline_idx == SR_POS_NONE; p = sr_auth_pl(r, p)) {
        if (sr_step(&r->c) != 0)
            return -1;
        p->mainline_idx = i++;
    }
    if (r->c.err != 0)
        return -1;
    for (size_t k = 0; k < r->rest.n; k++) {
        struct sr_ev *e = r->rest.v[k];
        e->pos = SR_POS_NONE;
        for (w = sr_auth_pl(r, e); w != NULL; w = sr_auth_pl(r, w)) {
            if (sr_step(&r->c) != 0)
                return -1;
            if (w->mainline_idx != SR_POS_NONE) {
                e->pos = w->mainline_idx;
                break;
            }
        }
        if (r->c.err != 0)
            return -1;
    }
    return 0;
}

/* x < y if x's mainline position is greater, then earlier
 * origin_server_ts, then smaller event_id. */
static int sr_mainline_cmp(const void *pa, const void *pb)
{
    const struct sr_ev *x = *(struct sr_ev *const *)pa;
    const struct sr_ev *y = *(struct sr_ev *const *)pb;

    if (x->pos != y->pos)
        return x->pos > y->pos ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Steps 1 to 5 once the full conflicted set is known. */
static int sr_steps(struct sr_run *r)
{
    struct state_map_iter it = { 0 };
    const char *type, *sk;
    json_t *ev;

    /* Step 1: power events of the full conflicted set and the parts of
     * their auth chains inside it, in reverse topological power order. */
    for (size_t i = 0; i < r->full.n; i++) {
        struct sr_ev *e = r->full.v[i];
        if (!sr_is_power_event(e))
            continue;
        if (sr_mark(r, &r->x, e, SR_IN_X) != 0
            || sr_chain_into_x(&r->c, e, &r->x) != 0)
            return -1;
    }
    if (sr_sort_x(r) != 0)
        return -1;
    /* Step 2: v2 starts from the unconflicted state map, v12 from an
     * empty one. */
    r->resolved = r->c.rv->state_res == ROOM_STATE_RES_V2_1
                  ? state_map_new() : state_map_copy(r->unconflicted);
    if (r->resolved == NULL)
        return sr_fail(&r->c, STATE_RES_ERROR, "out of memory");
    if (sr_iterate(r, &r->x) != 0)
        return -1;
    /* Step 3: the rest, by mainline order of the partial state's power
     * levels. */
    for (size_t i = 0; i < r->full.n; i++)
        if (!(r->full.v[i]->flags & SR_IN_X)
            && sr_list_push(&r->c, &r->rest, r->full.v[i]) != 0)
            return -1;
    if (sr_mainline_positions(r) != 0)
        return -1;
    if (r->rest.n > 1)
        qsort(r->rest.v, r->rest.n, sizeof *r->rest.v, sr_mainline_cmp);
    /* Step 4. */
    if (sr_iterate(r, &r->rest) != 0)
        return -1;
    /* Step 5: the unconflicted state map wins. */
    while (state_map_next(r->unconflicted, &it, &type, &sk, &ev))
        if (state_map_set(r->resolved, type, sk, ev) != 0)
            return sr_fail(&r->c, STATE_RES_ERROR, "out of memory");
    return 0;
}

static void sr_run_free(struct sr_run *r)
{
    state_map_free(r->unconflicted);
    state_map_free(r->resolved);
    sr_list_free(&r->conflicted);
    sr_list_free(&r->full);
    sr_list_free(&r->x);
    sr_list_free(&r->rest);
    sr_ctx_clear(&r->c);
}

int state_res_resolve(const struct room_version *rv,
                      const struct state_map *const *states, size_t n_states,
                      const struct state_res_io *io, struct state_map **out,
                      char *why, size_t why_len)
{
    static const struct state_res_io no_io = { 0 };
    struct sr_run r;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (rv == NULL || out == NULL || (states == NULL && n_states > 0))
        return STATE_RES_ERROR;
    for (size_t i = 0; i < n_states; i++)
        if (states[i] == NULL)
            return STATE_RES_ERROR;
    memset(&r, 0, sizeof r);
    r.c.rv = rv;
    r.c.io = io ? io : &no_io;
    r.c.max_events = r.c.io->max_events ? r.c.io->max_events
                                        : STATE_RES_DEFAULT_MAX_EVENTS;
    r.c.max_steps = r.c.io->max_steps ? r.c.io->max_steps
                                      : STATE_RES_DEFAULT_MAX_STEPS;
    r.c.why = why;
    r.c.why_len = why_len;
    r.unconflicted = state_map_new();
    if (r.unconflicted == NULL) {
        sr_fail(&r.c, STATE_RES_ERROR, "out of memory");
        goto done;
    }
    if (sr_split(&r, states, n_states) != 0
        || sr_full_set(&r, states, n_states) != 0
        || sr_steps(&r) != 0 || r.c.err != 0)
        goto done;
    *out = r.resolved;
    r.resolved = NULL;
done:
    rc = r.c.err;
    if (*out == NULL && rc == 0)
        rc = STATE_RES_ERROR;
    sr_run_free(&r);
    return rc;
}
