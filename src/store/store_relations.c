/*
 * store_relations: the front of the storage layer for event relations
 * (edits, threads, references): GET /relations, bundled aggregations and
 * GET /threads (store.h, "relations").
 *
 * As in store_rooms.c: every argument is checked against store.h before a
 * back end sees it, and everything a back end loads is checked before a
 * caller sees it, including that it answers the question asked (the room
 * asked, a parent asked, the promised order and bounds): a database is
 * input too.
 *
 * Threads: no state of its own; any thread may call. Memory: outputs are
 * zeroed first and left empty on any result other than STORE_OK.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* The three rel_types the server aggregates (m.annotation is "not
 * aggregated by the server", Event annotations, Server behaviour). */
static const char *const store_aggregated_rel_types[] = { "m.replace", "m.thread",
	                                                  "m.reference" };

/* A sigil then 1..254 bytes, as store_rooms.c checks IDs. */
static bool store_rel_id_ok(const char *id, char sigil)
{
	size_t n;

	if (id == NULL || id[0] != sigil)
		return false;
	n = strnlen(id, STORE_ID_MAX + 1);
	return n >= 2 && n <= STORE_ID_MAX;
}

static bool store_rel_name_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && store_text_ok(s, max, false);
}

bool store_relation_ok(const char *rel_type, const char *relates_to)
{
	if (rel_type == NULL && relates_to == NULL)
		return true;
	return store_rel_name_ok(rel_type, STORE_REL_TYPE_MAX) &&
	       store_rel_id_ok(relates_to, '$');
}

static bool store_rel_aggregated(const char *rel_type)
{
	for (size_t i = 0; i < sizeof(store_aggregated_rel_types) /
	                       sizeof(store_aggregated_rel_types[0]); i++) {
		if (strcmp(rel_type, store_aggregated_rel_types[i]) == 0)
			return true;
	}
	return false;
}

void store_aggregation_clear(struct store_aggregation *a)
{
	if (a == NULL)
		return;
	if (a->rels != NULL) {
		for (size_t i = 0; i < a->children.n; i++) {
			free(a->rels[i].event_id);
			free(a->rels[i].relates_to);
			free(a->rels[i].rel_type);
		}
	}
	free(a->rels);
	store_event_list_clear(&a->children);
	for (size_t i = 0; i < a->n_threads; i++)
		free(a->threads[i].root_id);
	free(a->threads);
	memset(a, 0, sizeof(*a));
}

/* ---- GET /relations --------------------------------------------------- */

static bool store_relations_query_ok(const struct store_relations_query *q)
{
	return store_rel_id_ok(q->room_id, '!') && store_rel_id_ok(q->parent_id, '$') &&
	       (q->rel_type == NULL || store_rel_name_ok(q->rel_type, STORE_REL_TYPE_MAX)) &&
	       (q->event_type == NULL || store_rel_name_ok(q->event_type, STORE_ID_MAX)) &&
	       q->depth >= 1 && q->depth <= STORE_RELATIONS_DEPTH_MAX &&
	       q->from >= 0 && q->to >= 0;
}

/* A page of children: of the room, never the parent, inside (from, to],
 * the asked type, at most limit, strictly ordered the way asked. */
static bool store_children_valid(const struct store_event_list *l,
                                 const struct store_relations_query *q, size_t limit)
{
	if (l->n > limit)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const struct store_event *e = &l->items[i];

		if (!store_event_valid(e) || strcmp(e->room_id, q->room_id) != 0 ||
		    strcmp(e->event_id, q->parent_id) == 0 || e->redacted_by != NULL ||
		    e->stream <= q->from || (q->to != 0 && e->stream > q->to) ||
		    (q->event_type != NULL && strcmp(e->type, q->event_type) != 0))
			return false;
		if (i > 0 && (q->backwards ? e->stream >= l->items[i - 1].stream
		                           : e->stream <= l->items[i - 1].stream))
			return false;
	}
	return true;
}

enum store_result store_relations_children(struct store *st, const struct store_relations_query *q,
                                           struct store_event_list *out)
{
	struct store_relations_query bounded;
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || q == NULL || out == NULL || !store_relations_query_ok(q))
		return store_refuse("argument to store_relations_children");
	bounded = *q;
	if (bounded.limit > STORE_LIST_LIMIT_MAX)
		bounded.limit = STORE_LIST_LIMIT_MAX;
	if (bounded.limit == 0 || (bounded.to != 0 && bounded.to <= bounded.from))
		return STORE_OK;   /* an empty range: nothing to ask */
	be = store_backend_of(st, &h);
	r = be->relations_children(h, &bounded, out);
	r = store_loaded(r, r != STORE_OK || store_children_valid(out, &bounded, bounded.limit),
	                 "relations page");
	if (r != STORE_OK)
		store_event_list_clear(out);
	return r;
}

/* ---- bundled aggregations --------------------------------------------- */

static bool store_parent_asked(const char *id, const char *const *parent_ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(id, parent_ids[i]) == 0)
			return true;
	}
	return false;
}

/* Children: sane rows of the room, unredacted, each relating to a parent
 * asked with an aggregated rel_type, at most STORE_AGGREGATE_PER_PARENT
 * per (parent, rel_type), grouped (a group never resumes once left). */
static bool store_aggregation_children_valid(const struct store_aggregation *a,
                                             const char *room_id,
                                             const char *const *parent_ids, size_t n)
{
	size_t run = 0;

	if (a->children.n > n * STORE_AGGREGATE_PER_PARENT *
	                    (sizeof(store_aggregated_rel_types) /
	                     sizeof(store_aggregated_rel_types[0])))
		return false;
	for (size_t i = 0; i < a->children.n; i++) {
		const struct store_event *e = &a->children.items[i];
		const struct store_relation_child *c = &a->rels[i], *p = i > 0 ? &a->rels[i - 1] : NULL;
		bool same_group;

		if (!store_event_valid(e) || strcmp(e->room_id, room_id) != 0 ||
		    e->redacted_by != NULL || c->event_id == NULL ||
		    strcmp(c->event_id, e->event_id) != 0 || c->relates_to == NULL ||
		    c->rel_type == NULL || !store_rel_aggregated(c->rel_type) ||
		    !store_parent_asked(c->relates_to, parent_ids, n))
			return false;
		same_group = p != NULL && strcmp(p->relates_to, c->relates_to) == 0 &&
		             strcmp(p->rel_type, c->rel_type) == 0;
		run = same_group ? run + 1 : 1;
		if (run > STORE_AGGREGATE_PER_PARENT)
			return false;
	}
	return true;
}

static bool store_aggregation_threads_valid(const struct store_aggregation *a,
                                            const char *const *parent_ids, size_t n)
{
	if (a->n_threads > n)
		return false;
	for (size_t i = 0; i < a->n_threads; i++) {
		const struct store_thread_total *t = &a->threads[i];

		if (t->root_id == NULL || !store_parent_asked(t->root_id, parent_ids, n) ||
		    t->count <= 0 ||
		    (i > 0 && strcmp(a->threads[i - 1].root_id, t->root_id) >= 0))
			return false;
	}
	return true;
}

enum store_result store_relations_aggregate(struct store *st, const char *room_id,
                                            const char *const *parent_ids, size_t n,
                                            const char *viewer_id,
                                            struct store_aggregation *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !store_rel_id_ok(room_id, '!') ||
	    (parent_ids == NULL && n > 0) || n > STORE_AGGREGATE_PARENTS_MAX ||
	    !store_user_id_ok(viewer_id))
		return store_refuse("argument to store_relations_aggregate");
	for (size_t i = 0; i < n; i++) {
		if (!store_rel_id_ok(parent_ids[i], '$'))
			return store_refuse("parent event ID");
	}
	if (n == 0)
		return STORE_OK;
	be = store_backend_of(st, &h);
	r = be->relations_aggregate(h, room_id, parent_ids, n, viewer_id, out);
	r = store_loaded(r, r != STORE_OK ||
	                    (store_aggregation_children_valid(out, room_id, parent_ids, n) &&
	                     store_aggregation_threads_valid(out, parent_ids, n)),
	                 "aggregation");
	if (r != STORE_OK)
		store_aggregation_clear(out);
	return r;
}

/* ---- GET /threads ----------------------------------------------------- */

enum store_result store_room_threads(struct store *st, const char *room_id,
                                     const char *participant, int64_t before, size_t limit,
                                     struct store_event_list *roots_out,
                                     int64_t *last_latest_out)
{
	const struct store_backend *be;
	enum store_result r;
	bool valid;
	void *h;

	if (roots_out != NULL)
		memset(roots_out, 0, sizeof(*roots_out));
	if (last_latest_out != NULL)
		*last_latest_out = 0;
	if (st == NULL || roots_out == NULL || last_latest_out == NULL ||
	    !store_rel_id_ok(room_id, '!') || before < 0 ||
	    (participant != NULL && !store_user_id_ok(participant)))
		return store_refuse("argument to store_room_threads");
	if (limit > STORE_LIST_LIMIT_MAX)
		limit = STORE_LIST_LIMIT_MAX;
	if (limit == 0)
		return STORE_OK;
	be = store_backend_of(st, &h);
	r = be->room_threads(h, room_id, participant, before, limit, roots_out, last_latest_out);
	/* roots of the room, at most limit, no root twice (a root's latest
	 * child is one position, so distinct roots never tie) */
	valid = roots_out->n <= limit &&
	        (roots_out->n == 0 ? *last_latest_out == 0
	                           : (*last_latest_out > 0 &&
	                              (before == 0 || *last_latest_out < before)));
	for (size_t i = 0; valid && i < roots_out->n; i++) {
		const struct store_event *e = &roots_out->items[i];

		valid = store_event_valid(e) && strcmp(e->room_id, room_id) == 0;
		for (size_t j = 0; valid && j < i; j++)
			valid = strcmp(roots_out->items[j].event_id, e->event_id) != 0;
	}
	r = store_loaded(r, r != STORE_OK || valid, "thread list");
	if (r != STORE_OK) {
		store_event_list_clear(roots_out);
		*last_latest_out = 0;
	}
	return r;
}

/* ---- duplicate annotations -------------------------------------------- */

enum store_result store_annotation_exists(struct store *st, const char *room_id,
                                          const char *parent_id, const char *sender,
                                          const char *type, const char *key)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_rel_id_ok(room_id, '!') || !store_rel_id_ok(parent_id, '$') ||
	    !store_user_id_ok(sender) || !store_rel_name_ok(type, STORE_ID_MAX) ||
	    !store_text_ok(key, STORE_TEXT_MAX, false))
		return store_refuse("argument to store_annotation_exists");
	be = store_backend_of(st, &h);
	return be->annotation_exists(h, room_id, parent_id, sender, type, key);
}
