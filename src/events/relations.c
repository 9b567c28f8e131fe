/* relations.c: what an event relates to, and bundled aggregations
 * (see relations.h for the contract). */
#include "events/relations.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

#define REL_REPLACE "m.replace"
#define REL_THREAD "m.thread"
#define REL_REFERENCE "m.reference"
#define REL_ANNOTATION "m.annotation"

/* What the visibility rounds know about each child of an aggregation. */
enum child_seen { CHILD_UNCHECKED = 0, CHILD_VISIBLE, CHILD_HIDDEN };

/* One (parent, rel_type) run of the aggregation's children, newest first. */
struct bundle_group {
	const char *parent;          /* borrowed from the aggregation */
	const char *rel_type;
	size_t start, end;           /* children [start, end) */
	size_t next;                 /* first child not yet checked */
	bool want_all;               /* m.reference lists every visible child */
	bool done;
	size_t first_visible;        /* SIZE_MAX until found */
	int64_t hidden;              /* children checked and found hidden */
};

struct bundle_ctx {
	struct store *st;
	const struct served_viewer *viewer;
	enum served_kind kind;
	const char *room_id;
	json_t *ignored;             /* the viewer's ignored_users object, or NULL */
	int64_t now_ms;
};

/* ---- what an event relates to ----------------------------------------- */

/* A JSON string without an embedded NUL (what C code would read short). */
static const char *plain_string(const json_t *v)
{
	const char *s = json_string_value(v);

	return s != NULL && strlen(s) == json_string_length(v) ? s : NULL;
}

void events_relation_of(const json_t *content, const char **rel_type, const char **relates_to)
{
	const json_t *rel = json_object_get(content, "m.relates_to");
	const char *t = plain_string(json_object_get(rel, "rel_type"));
	const char *id = plain_string(json_object_get(rel, "event_id"));

	*rel_type = NULL;
	*relates_to = NULL;
	if (json_is_object(rel) && t != NULL && id != NULL && store_relation_ok(t, id)) {
		*rel_type = t;
		*relates_to = id;
	}
}

/* A second identical annotation by the same sender: 400. */
static int annotation_check(struct store *st, const char *room_id, const char *sender,
                            const char *type, const char *parent_id, const json_t *content,
                            struct event_error *err)
{
	const char *key = plain_string(json_object_get(json_object_get(content, "m.relates_to"),
	                                               "key"));
	enum store_result r;

	if (key == NULL || strlen(key) > STORE_TEXT_MAX)
		return 0;   /* no key to compare: nothing the rule can match */
	r = store_annotation_exists(st, room_id, parent_id, sender, type, key);
	if (r == STORE_OK) {
		event_error_set(err, 400, "M_DUPLICATE_ANNOTATION",
		                "You already sent this annotation to this event");
		return -1;
	}
	if (r != STORE_NOT_FOUND) {
		event_error_set(err, 500, "M_UNKNOWN", "Could not read the annotations");
		return -1;
	}
	return 0;
}

int events_relation_check(struct store *st, const char *room_id, const char *sender,
                          const char *type, const json_t *content, struct event_error *err)
{
	const char *rel_type, *parent_id, *parent_rel, *parent_parent;
	struct store_event parent = { 0 };
	enum store_result r;
	json_t *pj = NULL;
	int ret = 0;

	events_relation_of(content, &rel_type, &parent_id);
	if (rel_type != NULL && strcmp(rel_type, REL_ANNOTATION) == 0)
		return annotation_check(st, room_id, sender, type, parent_id, content, err);
	if (rel_type == NULL || strcmp(rel_type, REL_THREAD) != 0)
		return 0;
	r = store_event_get(st, parent_id, &parent);
	if (r == STORE_NOT_FOUND)
		return 0;   /* an unknown parent: the relationship is just not aggregated */
	if (r != STORE_OK) {
		event_error_set(err, 500, "M_UNKNOWN", "Could not read the thread root");
		return -1;
	}
	/* "It is not possible to create a thread from an event which itself is
	 * the child of an event relationship (i.e., one with an m.relates_to
	 * property with a rel_type property)" (Threading) */
	if (strcmp(parent.room_id, room_id) == 0 && (pj = json_loads(parent.json, 0, NULL))) {
		events_relation_of(json_object_get(pj, "content"), &parent_rel, &parent_parent);
		if (parent_rel != NULL) {
			event_error_set(err, 400, "M_UNKNOWN",
			                "Cannot start a thread from an event with a relation");
			ret = -1;
		}
	}
	json_decref(pj);
	store_event_clear(&parent);
	return ret;
}

/* ---- visibility of the children --------------------------------------- */

/* Split the aggregation into its (parent, rel_type) runs. NULL with *n 0
 * when there are none; NULL with *n 1 when out of memory. */
static struct bundle_group *groups_build(const struct store_aggregation *agg, size_t *n)
{
	struct bundle_group *g = NULL;
	size_t ng = 0;

	*n = 0;
	if (agg->children.n == 0)
		return NULL;
	g = calloc(agg->children.n, sizeof(*g));
	if (g == NULL) {
		*n = 1;
		return NULL;
	}
	for (size_t i = 0; i < agg->children.n; i++) {
		const struct store_relation_child *c = &agg->rels[i];
		struct bundle_group *last = ng > 0 ? &g[ng - 1] : NULL;

		if (last != NULL && strcmp(last->parent, c->relates_to) == 0 &&
		    strcmp(last->rel_type, c->rel_type) == 0) {
			last->end = i + 1;
			continue;
		}
		g[ng] = (struct bundle_group){ c->relates_to, c->rel_type, i, i + 1, i,
		                               strcmp(c->rel_type, REL_REFERENCE) == 0, false,
		                               SIZE_MAX, 0 };
		ng++;
	}
	*n = ng;
	return g;
}

static bool sender_ignored(const struct bundle_ctx *b, const char *sender)
{
	return b->ignored != NULL && json_object_get(b->ignored, sender) != NULL;
}

/* One round: check the candidates idx[0..n) with one pass of the served
 * chokepoint. The children are moved into a scratch list (the filter
 * clears what it drops) and the kept ones moved back. 0 or -1. */
static int round_check(const struct bundle_ctx *b, struct store_aggregation *agg,
                       const size_t *idx, size_t n, unsigned char *seen)
{
	struct store_event_list tmp = { 0 };
	size_t j = 0;

	tmp.items = calloc(n, sizeof(*tmp.items));
	if (tmp.items == NULL)
		return -1;
	for (size_t k = 0; k < n; k++) {
		tmp.items[k] = agg->children.items[idx[k]];
		memset(&agg->children.items[idx[k]], 0, sizeof(struct store_event));
		seen[idx[k]] = CHILD_HIDDEN;
	}
	tmp.n = n;
	/* candidates are checked, not sent: the ones bundled in full are
	 * recorded by bundle_sent (access ledger) */
	if (served_events_filter(b->st, b->viewer, SERVED_UNREAD, b->room_id, &tmp) != 0) {
		store_event_list_clear(&tmp);
		return -1;
	}
	/* the filter keeps order: the kept events are a subsequence of idx */
	for (size_t i = 0; i < tmp.n; i++) {
		while (j < n && strcmp(agg->rels[idx[j]].event_id, tmp.items[i].event_id) != 0)
			j++;
		if (j == n) {
			store_event_clear(&tmp.items[i]);   /* not ours: never served */
			continue;
		}
		agg->children.items[idx[j]] = tmp.items[i];
		if (!sender_ignored(b, tmp.items[i].sender))
			seen[idx[j]] = CHILD_VISIBLE;
		j++;
	}
	free(tmp.items);
	return 0;
}

/* After a round: what each group has learnt. */
static void groups_settle(struct bundle_group *g, size_t ng, const unsigned char *seen)
{
	for (size_t i = 0; i < ng; i++) {
		if (g[i].done)
			continue;
		g[i].hidden = 0;
		for (size_t k = g[i].start; k < g[i].next; k++) {
			if (seen[k] == CHILD_HIDDEN)
				g[i].hidden++;
			else if (g[i].first_visible == SIZE_MAX)
				g[i].first_visible = k;
		}
		g[i].done = g[i].want_all || g[i].next == g[i].end ||
		            g[i].first_visible != SIZE_MAX;
	}
}

/* Find, per group, the newest visible child (all visible children for
 * m.reference). Round r checks up to 2^r more candidates of each open
 * group, so a page needs one round when the newest children are visible
 * and a handful when many are hidden. 0 or -1. */
static int groups_resolve(const struct bundle_ctx *b, struct store_aggregation *agg,
                          struct bundle_group *g, size_t ng, unsigned char *seen)
{
	size_t *idx = calloc(agg->children.n, sizeof(*idx));
	int ret = 0;

	if (idx == NULL)
		return -1;
	for (unsigned int round = 0; ret == 0; round++) {
		size_t n = 0, take = round < 16 ? (size_t)1 << round : SIZE_MAX / 2;

		for (size_t i = 0; i < ng; i++) {
			size_t want = g[i].want_all ? g[i].end - g[i].next : take;

			for (; !g[i].done && want > 0 && g[i].next < g[i].end; want--)
				idx[n++] = g[i].next++;
		}
		if (n == 0)
			break;
		ret = round_check(b, agg, idx, n, seen);
		groups_settle(g, ng, seen);
	}
	free(idx);
	return ret;
}

/* ---- building the bundles --------------------------------------------- */

static int group_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct bundle_group *)elem)->parent);
}

/* The group of (parent, rel_type), or NULL. Groups are sorted by parent
 * (the store orders them so), at most three per parent. */
static const struct bundle_group *group_find(const struct bundle_group *g, size_t ng,
                                             const char *parent, const char *rel_type)
{
	const struct bundle_group *hit;

	if (ng == 0)
		return NULL;   /* g is NULL then: bsearch must not see it */
	hit = bsearch(parent, g, ng, sizeof(*g), group_cmp);
	if (hit == NULL)
		return NULL;
	while (hit > g && strcmp(hit[-1].parent, parent) == 0)
		hit--;
	for (; hit < g + ng && strcmp(hit->parent, parent) == 0; hit++) {
		if (strcmp(hit->rel_type, rel_type) == 0)
			return hit;
	}
	return NULL;
}

static const struct store_thread_total *thread_find(const struct store_aggregation *agg,
                                                    const char *root)
{
	for (size_t i = 0; i < agg->n_threads; i++) {
		if (strcmp(agg->threads[i].root_id, root) == 0)
			return &agg->threads[i];
	}
	return NULL;
}

static json_t *child_json(const struct bundle_ctx *b, const struct store_aggregation *agg,
                          size_t i)
{
	return event_client_format(&agg->children.items[i], b->viewer->user_id,
	                           b->viewer->device_id, b->now_ms);
}

/* Access ledger: child i goes out in full (an edit, a thread's latest
 * event), so it is recorded as served with the parent's kind of read. */
static void bundle_sent(const struct bundle_ctx *b, const struct store_aggregation *agg,
                        size_t i)
{
	struct store_event_list one = { &agg->children.items[i], 1 };

	served_events_record(b->viewer, b->kind, b->room_id, &one);
}

/* Event replacements, Server-side aggregation: "the most recent valid
 * replacement event, formatted as normal". */
static void bundle_replace(const struct bundle_ctx *b, const struct store_aggregation *agg,
                           const struct bundle_group *g, json_t *rels)
{
	json_t *ev;

	if (g == NULL || g->first_visible == SIZE_MAX)
		return;
	if ((ev = child_json(b, agg, g->first_visible)) != NULL) {
		json_object_set_new(rels, REL_REPLACE, ev);
		bundle_sent(b, agg, g->first_visible);
	}
}

/* Threading, Server-side aggregation: latest_event, count ("the number of
 * events using m.thread as a rel_type pointing to the target event",
 * less the newest ones found hidden from this viewer: the spec calls it
 * approximate) and current_user_participated (the root's sender, or the
 * sender of a thread event). Added to `nested` to bundle latest_event. */
static void bundle_thread(const struct bundle_ctx *b, const struct store_aggregation *agg,
                          const struct bundle_group *g, const char *parent_sender,
                          json_t *rels, json_t *nested)
{
	const struct store_thread_total *t;
	json_t *latest;
	int64_t count;
	bool participated;

	if (g == NULL || g->first_visible == SIZE_MAX ||
	    (latest = child_json(b, agg, g->first_visible)) == NULL)
		return;
	t = thread_find(agg, g->parent);
	count = t != NULL ? t->count - g->hidden : 1;
	participated = (t != NULL && t->participated) ||
	               (parent_sender != NULL && strcmp(parent_sender, b->viewer->user_id) == 0);
	bundle_sent(b, agg, g->first_visible);
	if (nested != NULL)
		json_array_append(nested, latest);
	json_object_set_new(rels, REL_THREAD,
	                    json_pack("{s:o,s:I,s:b}", "latest_event", latest, "count",
	                              (json_int_t)(count > 0 ? count : 1),
	                              "current_user_participated", participated));
}

/* Reference relations: "a single chunk property, which lists all the
 * events which m.reference the event", each as {event_id}; oldest first. */
static void bundle_reference(const struct store_aggregation *agg, const struct bundle_group *g,
                             const unsigned char *seen, json_t *rels)
{
	json_t *chunk;

	if (g == NULL || g->first_visible == SIZE_MAX)
		return;
	chunk = json_array();
	for (size_t k = g->end; k-- > g->start;) {
		if (seen[k] == CHILD_VISIBLE)
			json_array_append_new(chunk, json_pack("{s:s}", "event_id",
			                                       agg->children.items[k].event_id));
	}
	json_object_set_new(rels, REL_REFERENCE, json_pack("{s:o}", "chunk", chunk));
}

/* A parent that gets a bundle: an event object with an event_id, an
 * unsigned object (an event_fields filter may have cut it: then nothing
 * is added) and no state_key. */
static const char *parent_id_of(const json_t *ev)
{
	if (!json_is_object(ev) || json_object_get(ev, "state_key") != NULL ||
	    !json_is_object(json_object_get(ev, "unsigned")))
		return NULL;
	return plain_string(json_object_get(ev, "event_id"));
}

/* Load, check and attach the bundles of the parents evs[0..n). */
static int bundle_page(const struct bundle_ctx *b, json_t **evs, size_t n, json_t *nested)
{
	struct store_aggregation agg = { 0 };
	struct bundle_group *g = NULL;
	unsigned char *seen = NULL;
	const char **ids = calloc(n > 0 ? n : 1, sizeof(*ids));
	size_t ng = 0;
	int ret = -1;

	if (ids == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		ids[i] = parent_id_of(evs[i]);
	if (store_relations_aggregate(b->st, b->room_id, ids, n, b->viewer->user_id, &agg) !=
	    STORE_OK)
		goto out;
	g = groups_build(&agg, &ng);
	if (g == NULL && ng > 0)
		goto out;
	seen = calloc(agg.children.n > 0 ? agg.children.n : 1, 1);
	if (seen == NULL || groups_resolve(b, &agg, g, ng, seen) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *rels = json_object(), *uns = json_object_get(evs[i], "unsigned");
		const char *sender = plain_string(json_object_get(evs[i], "sender"));

		bundle_replace(b, &agg, group_find(g, ng, ids[i], REL_REPLACE), rels);
		bundle_thread(b, &agg, group_find(g, ng, ids[i], REL_THREAD), sender, rels, nested);
		bundle_reference(&agg, group_find(g, ng, ids[i], REL_REFERENCE), seen, rels);
		if (json_object_size(rels) > 0)
			json_object_set(uns, "m.relations", rels);
		json_decref(rels);
	}
	ret = 0;
out:
	free(seen);
	free(g);
	free(ids);
	store_aggregation_clear(&agg);
	return ret;
}

/* Bundle the parents among `events` (array or object); with nested, the
 * thread latest_events found are collected there for one more level. */
static int bundle_events(const struct bundle_ctx *b, json_t *events, json_t *nested)
{
	json_t **page = calloc(STORE_AGGREGATE_PARENTS_MAX, sizeof(*page));
	size_t n = 0, total = json_is_array(events) ? json_array_size(events) : 1;
	int ret = 0;

	if (page == NULL)
		return -1;
	for (size_t i = 0; i < total && ret == 0; i++) {
		json_t *ev = json_is_array(events) ? json_array_get(events, i) : events;

		if (parent_id_of(ev) != NULL)
			page[n++] = ev;
		if (n == STORE_AGGREGATE_PARENTS_MAX || (i + 1 == total && n > 0)) {
			ret = bundle_page(b, page, n, nested);
			n = 0;
		}
	}
	free(page);
	return ret;
}

json_t *events_ignored_users(struct store *st, const char *user_id)
{
	char *text = NULL;
	json_t *doc, *users = NULL;

	if (store_account_data_get(st, user_id, NULL, "m.ignored_user_list", &text) != STORE_OK)
		return NULL;
	doc = json_loads(text, 0, NULL);
	if (json_is_object(json_object_get(doc, "ignored_users")))
		users = json_incref(json_object_get(doc, "ignored_users"));
	json_decref(doc);
	free(text);
	return users;
}

int events_bundle_aggregations(struct store *st, const struct served_viewer *viewer,
                               enum served_kind kind, const char *room_id, json_t *events)
{
	struct bundle_ctx b = { st, viewer, kind, room_id, NULL, time_now_ms() };
	json_t *nested;
	int ret;

	if (st == NULL || viewer == NULL || viewer->user_id == NULL || room_id == NULL ||
	    (!json_is_array(events) && !json_is_object(events)))
		return -1;
	nested = json_array();
	if (nested == NULL)
		return -1;
	b.ignored = events_ignored_users(st, viewer->user_id);
	ret = bundle_events(&b, events, nested);
	/* "child events of the latest_event should themselves be aggregated":
	 * one more level, without collecting further (m.thread cannot nest) */
	if (ret == 0 && json_array_size(nested) > 0)
		ret = bundle_events(&b, nested, NULL);
	json_decref(nested);
	json_decref(b.ignored);
	/* the read paths serve their events without the bundles then: say so */
	if (ret != 0)
		log_warn("relations: bundled aggregations left out in %s (store failure)", room_id);
	return ret;
}
