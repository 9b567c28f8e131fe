/*
 * test_store_relations: event relations in the storage contract (store.h,
 * "relations") on the SQLite back end, in a fresh mkdtemp directory per
 * test.
 *
 * Spec, Client-Server API:
 * - Forming relationships between events: "The relationship between a
 *   child and its parent event is described in the child event's content
 *   as m.relates_to"; Aggregations of child events: "when a child event is
 *   redacted then the relationship is broken".
 * - relations.yaml (recurse): "Homeservers SHOULD traverse at least 3
 *   levels of relationships"; Relationships API: "Events that would match
 *   the filter, but whose only relation to the original given event is
 *   through a non-matching intermediate event, will not be included."
 * - Event replacements, Validity of replacement events: same sender, same
 *   type, no state_key on either, the original not itself an m.replace,
 *   an m.new_content property; "The most recent event is determined by
 *   comparing origin_server_ts; if two or more replacement events have
 *   identical origin_server_ts, the event with the lexicographically
 *   largest event_id is treated as more recent." "If the original event
 *   is redacted, any m.replace relationship should not be bundled".
 * - Threading, Server-side aggregation: "count is simply the number of
 *   events using m.thread as a rel_type pointing to the target event";
 *   current_user_participated; threads_list.yaml: "ordered by the
 *   latest_event", include=participated.
 *
 * What is proven: relations are recorded by the persist job (and roll
 * back with it), children by rel_type / event type / paging both ways,
 * recursion to depth 3 and no further, filters at every level; edit
 * validity and "most recent" ordering; thread totals and participation;
 * the per-parent bound; redacted children and redacted originals; thread
 * lists by latest activity, participated, paged; duplicate annotations
 * (Event annotations, Server behaviour); arguments breaking the
 * contract are refused; planted bad rows are refused on load; relations
 * survive a reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define ROOM_A "!a:example.org"
#define ROOM_B "!b:example.org"
#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define CAROL "@carol:example.org"

struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-rel-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (store_open(&f->st, "sqlite", f->path, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "store_open: %s\n", err);
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char p[160];

	store_close(f->st);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	char err[256];

	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(&f->st, "sqlite", f->path, err, sizeof(err)), STORE_OK);
}

/* Run SQL on the database behind the store's back (planting bad rows). */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw SQL failed: %s", msg != NULL ? msg : "?");
	sqlite3_close(db);
}

/* ---- building events -------------------------------------------------- */

/* A test event owns its strings: the store borrows them. */
struct test_event {
	struct store_event_new e;
	char event_id[64];
	char relates_to[64];
	char rel_type[32];
	char json[512];
};

/* An event of type by sender; with rel_type, content.m.relates_to points
 * at parent; with new_content, the edit carries m.new_content. */
static void ev_init(struct test_event *t, const char *event_id, const char *room_id,
                    const char *type, const char *sender, int64_t ts,
                    const char *rel_type, const char *parent, bool new_content)
{
	char rel[160] = "";

	memset(t, 0, sizeof(*t));
	snprintf(t->event_id, sizeof(t->event_id), "%s", event_id);
	if (rel_type != NULL) {
		snprintf(t->rel_type, sizeof(t->rel_type), "%s", rel_type);
		snprintf(t->relates_to, sizeof(t->relates_to), "%s", parent);
		snprintf(rel, sizeof(rel), ",\"m.relates_to\":{\"rel_type\":\"%s\",\"event_id\":\"%s\"}",
		         rel_type, parent);
		t->e.rel_type = t->rel_type;
		t->e.relates_to = t->relates_to;
	}
	snprintf(t->json, sizeof(t->json),
	         "{\"type\":\"%s\",\"sender\":\"%s\",\"content\":{\"body\":\"%s\"%s%s}}",
	         type, sender, event_id, rel,
	         new_content ? ",\"m.new_content\":{\"body\":\"new\"}" : "");
	t->e.event_id = t->event_id;
	t->e.room_id = room_id;
	t->e.type = type;
	t->e.sender = sender;
	t->e.origin_ts = ts;
	t->e.depth = 1;
	t->e.json = t->json;
	t->e.json_len = strlen(t->json);
}

static int64_t persist1(struct store *st, struct test_event *t)
{
	int64_t pos = 0;

	assert_int_equal(store_events_persist(st, NULL, &t->e, 1, &pos), STORE_OK);
	assert_true(pos > 0);
	return pos;
}

/* A message (rel_type NULL) or a child of parent. */
static int64_t put(struct store *st, const char *event_id, const char *sender, int64_t ts,
                   const char *rel_type, const char *parent)
{
	struct test_event t;

	ev_init(&t, event_id, ROOM_A, "m.room.message", sender, ts, rel_type, parent,
	        rel_type != NULL && strcmp(rel_type, "m.replace") == 0);
	return persist1(st, &t);
}

static void create_room(struct store *st, const char *room_id)
{
	struct store_room_new room = { room_id, "11", ALICE, 1000 };
	struct test_event t;
	char id[64];

	snprintf(id, sizeof(id), "$create-%s", room_id + 1);
	ev_init(&t, id, room_id, "m.room.create", ALICE, 1000, NULL, NULL, false);
	t.e.state_key = "";
	assert_int_equal(store_events_persist(st, &room, &t.e, 1, NULL), STORE_OK);
}

/* Redact target by a redaction event (its stored JSON replaced). */
static void redact(struct store *st, const char *redaction_id, const char *target)
{
	struct test_event t;

	ev_init(&t, redaction_id, ROOM_A, "m.room.redaction", ALICE, 9000, NULL, NULL, false);
	t.e.redacts = target;
	t.e.redacted_json = "{\"type\":\"m.room.message\",\"content\":{}}";
	persist1(st, &t);
}

static struct store_relations_query query(const char *parent, const char *rel_type,
                                          const char *event_type, int depth, int64_t from,
                                          int64_t to, size_t limit, bool backwards)
{
	return (struct store_relations_query){ ROOM_A, parent, rel_type, event_type, depth,
	                                       from, to, limit, backwards };
}

/* Children of q as a space-separated list of event IDs, for compact
 * assertions. */
static void children_ids(struct store *st, const struct store_relations_query *q, char *out,
                         size_t out_len)
{
	struct store_event_list l = { 0 };
	size_t o = 0;

	assert_int_equal(store_relations_children(st, q, &l), STORE_OK);
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++)
		o += (size_t)snprintf(out + o, out_len - o, "%s%s", i ? " " : "", l.items[i].event_id);
	store_event_list_clear(&l);
}

#define assert_children(st, q, expected) do { \
	char got_[1024]; \
	struct store_relations_query q_ = (q); \
	children_ids((st), &q_, got_, sizeof(got_)); \
	assert_string_equal(got_, (expected)); \
} while (0)

/* ---- GET /relations --------------------------------------------------- */

static void test_children_filters_and_paging(void **state)
{
	struct fixture *f = *state;
	int64_t p, t1, e1, r1, a1;

	create_room(f->st, ROOM_A);
	p = put(f->st, "$p", ALICE, 2000, NULL, NULL);
	t1 = put(f->st, "$t1", BOB, 2001, "m.thread", "$p");
	e1 = put(f->st, "$e1", ALICE, 2002, "m.replace", "$p");
	r1 = put(f->st, "$r1", CAROL, 2003, "m.reference", "$p");
	a1 = put(f->st, "$a1", BOB, 2004, "m.annotation", "$p");
	assert_true(p < t1 && t1 < e1 && e1 < r1 && r1 < a1);
	put(f->st, "$other", ALICE, 2005, NULL, NULL);   /* not a child */

	/* "ordered topologically most-recent first" (relations.yaml, chunk) */
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 10, true), "$a1 $r1 $e1 $t1");
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 10, false), "$t1 $e1 $r1 $a1");
	/* relType and eventType */
	assert_children(f->st, query("$p", "m.thread", NULL, 1, 0, 0, 10, true), "$t1");
	assert_children(f->st, query("$p", "m.annotation", "m.room.message", 1, 0, 0, 10, true),
	                "$a1");
	assert_children(f->st, query("$p", "m.annotation", "m.reaction", 1, 0, 0, 10, true), "");
	/* pages of two, backwards then forwards, with (from, to] bounds */
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 2, true), "$a1 $r1");
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, r1 - 1, 2, true), "$e1 $t1");
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, t1 - 1, 2, true), "");
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 2, false), "$t1 $e1");
	assert_children(f->st, query("$p", NULL, NULL, 1, e1, 0, 2, false), "$r1 $a1");
	assert_children(f->st, query("$p", NULL, NULL, 1, e1, r1, 5, false), "$r1");
	/* an empty range and a zero limit ask nothing */
	assert_children(f->st, query("$p", NULL, NULL, 1, r1, r1, 5, false), "");
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 0, true), "");
	/* a parent without children, and an unknown parent */
	assert_children(f->st, query("$t1", NULL, NULL, 1, 0, 0, 10, true), "");
	assert_children(f->st, query("$nope", NULL, NULL, 1, 0, 0, 10, true), "");

	/* relations survive a reopen (the migration and the rows) */
	reopen(f);
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 10, true), "$a1 $r1 $e1 $t1");
}

static void test_children_recursion(void **state)
{
	struct fixture *f = *state;

	create_room(f->st, ROOM_A);
	put(f->st, "$p", ALICE, 2000, NULL, NULL);
	put(f->st, "$d1", BOB, 2001, "m.thread", "$p");
	put(f->st, "$d2", BOB, 2002, "m.reference", "$d1");
	put(f->st, "$d3", BOB, 2003, "m.reference", "$d2");
	put(f->st, "$d4", BOB, 2004, "m.reference", "$d3");
	put(f->st, "$x1", CAROL, 2005, "m.reference", "$p");

	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 10, true), "$x1 $d1");
	assert_children(f->st, query("$p", NULL, NULL, 2, 0, 0, 10, true), "$x1 $d2 $d1");
	/* depth 3 stops before the fourth level */
	assert_children(f->st, query("$p", NULL, NULL, 3, 0, 0, 10, true), "$x1 $d3 $d2 $d1");
	/* "through a non-matching intermediate event, will not be included":
	 * $d2 and $d3 are m.reference but hang below the m.thread $d1 */
	assert_children(f->st, query("$p", "m.reference", NULL, 3, 0, 0, 10, true), "$x1");
	/* paging applies to the whole tree */
	assert_children(f->st, query("$p", NULL, NULL, 3, 0, 0, 2, true), "$x1 $d3");

	/* a redacted intermediate cuts the chain below it too */
	redact(f->st, "$red", "$d2");
	assert_children(f->st, query("$p", NULL, NULL, 3, 0, 0, 10, true), "$x1 $d1");
}

/* ---- aggregations ----------------------------------------------------- */

/* The children of the aggregation for (parent, rel_type), in order. */
static void agg_ids(const struct store_aggregation *a, const char *parent, const char *rel_type,
                    char *out, size_t out_len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < a->children.n; i++) {
		assert_string_equal(a->rels[i].event_id, a->children.items[i].event_id);
		if (strcmp(a->rels[i].relates_to, parent) == 0 &&
		    strcmp(a->rels[i].rel_type, rel_type) == 0)
			o += (size_t)snprintf(out + o, out_len - o, "%s%s", o ? " " : "",
			                      a->children.items[i].event_id);
	}
}

#define assert_agg(a, parent, rel_type, expected) do { \
	char got_[1024]; \
	agg_ids((a), (parent), (rel_type), got_, sizeof(got_)); \
	assert_string_equal(got_, (expected)); \
} while (0)

static const struct store_thread_total *thread_of(const struct store_aggregation *a,
                                                  const char *root)
{
	for (size_t i = 0; i < a->n_threads; i++)
		if (strcmp(a->threads[i].root_id, root) == 0)
			return &a->threads[i];
	return NULL;
}

static void test_edit_validity(void **state)
{
	struct fixture *f = *state;
	struct store_aggregation a = { 0 };
	struct test_event t;
	const char *parents[] = { "$orig", "$state", "$edit_of_edit_target", "$enc" };

	create_room(f->st, ROOM_A);
	put(f->st, "$orig", ALICE, 2000, NULL, NULL);
	/* valid edits: same sender, type, m.new_content; two share a ts and
	 * the larger event ID wins the tie */
	put(f->st, "$v1", ALICE, 3000, "m.replace", "$orig");
	put(f->st, "$v3b", ALICE, 5000, "m.replace", "$orig");
	put(f->st, "$v3a", ALICE, 5000, "m.replace", "$orig");
	put(f->st, "$v2", ALICE, 4000, "m.replace", "$orig");
	/* invalid: another sender, newest of all */
	put(f->st, "$bob_edit", BOB, 9000, "m.replace", "$orig");
	/* invalid: another type */
	ev_init(&t, "$type_edit", ROOM_A, "m.sticker", ALICE, 9000, "m.replace", "$orig", true);
	persist1(f->st, &t);
	/* invalid: no m.new_content */
	ev_init(&t, "$no_new", ROOM_A, "m.room.message", ALICE, 9000, "m.replace", "$orig", false);
	persist1(f->st, &t);
	/* invalid: the edit is a state event */
	ev_init(&t, "$state_edit", ROOM_A, "m.room.message", ALICE, 9000, "m.replace", "$orig",
	        true);
	t.e.state_key = "";
	persist1(f->st, &t);
	/* invalid: the original is a state event */
	ev_init(&t, "$state", ROOM_A, "m.room.topic", ALICE, 2000, NULL, NULL, false);
	t.e.state_key = "";
	persist1(f->st, &t);
	ev_init(&t, "$edit_state", ROOM_A, "m.room.topic", ALICE, 3000, "m.replace", "$state", true);
	persist1(f->st, &t);
	/* invalid: the original is itself an edit */
	put(f->st, "$edit_of_edit_target", ALICE, 2500, "m.replace", "$nowhere");
	put(f->st, "$edit_of_edit", ALICE, 3500, "m.replace", "$edit_of_edit_target");
	/* valid: an encrypted edit carries m.new_content inside the payload */
	ev_init(&t, "$enc", ROOM_A, "m.room.encrypted", ALICE, 2000, NULL, NULL, false);
	persist1(f->st, &t);
	ev_init(&t, "$enc_edit", ROOM_A, "m.room.encrypted", ALICE, 3000, "m.replace", "$enc",
	        false);
	persist1(f->st, &t);

	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 4, BOB, &a), STORE_OK);
	assert_agg(&a, "$orig", "m.replace", "$v3b $v3a $v2 $v1");
	assert_agg(&a, "$state", "m.replace", "");
	assert_agg(&a, "$edit_of_edit_target", "m.replace", "");
	assert_agg(&a, "$enc", "m.replace", "$enc_edit");
	assert_int_equal(a.n_threads, 0);
	store_aggregation_clear(&a);

	/* redacting the newest edit falls back to the one before it */
	redact(f->st, "$red1", "$v3b");
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 1, BOB, &a), STORE_OK);
	assert_agg(&a, "$orig", "m.replace", "$v3a $v2 $v1");
	store_aggregation_clear(&a);
	/* a redacted original bundles no edit at all */
	redact(f->st, "$red2", "$orig");
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 1, BOB, &a), STORE_OK);
	assert_agg(&a, "$orig", "m.replace", "");
	store_aggregation_clear(&a);
}

static void test_thread_totals_and_bound(void **state)
{
	struct fixture *f = *state;
	struct store_aggregation a = { 0 };
	const struct store_thread_total *t;
	const char *parents[] = { "$root", "$quiet", "$refd" };
	char id[32];
	int64_t last = 0;

	create_room(f->st, ROOM_A);
	put(f->st, "$root", ALICE, 2000, NULL, NULL);
	put(f->st, "$quiet", ALICE, 2000, NULL, NULL);
	put(f->st, "$refd", CAROL, 2000, NULL, NULL);
	for (int i = 0; i < STORE_AGGREGATE_PER_PARENT + 10; i++) {
		snprintf(id, sizeof(id), "$reply%02d", i);
		last = put(f->st, id, i == 3 ? BOB : ALICE, 3000 + i, "m.thread", "$root");
	}
	put(f->st, "$ref1", BOB, 4000, "m.reference", "$refd");
	put(f->st, "$ref2", CAROL, 4001, "m.reference", "$refd");
	/* annotations are not aggregated by the server */
	put(f->st, "$react", BOB, 4002, "m.annotation", "$refd");
	/* a child in another room never counts */
	create_room(f->st, ROOM_B);
	{
		struct test_event ev;

		ev_init(&ev, "$elsewhere", ROOM_B, "m.room.message", CAROL, 5000, "m.thread",
		        "$root", false);
		persist1(f->st, &ev);
	}

	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 3, BOB, &a), STORE_OK);
	t = thread_of(&a, "$root");
	assert_non_null(t);
	assert_int_equal(t->count, STORE_AGGREGATE_PER_PARENT + 10);
	assert_true(t->participated);
	assert_null(thread_of(&a, "$quiet"));
	assert_null(thread_of(&a, "$refd"));
	/* the newest STORE_AGGREGATE_PER_PARENT replies, newest first */
	{
		size_t n = 0;
		for (size_t i = 0; i < a.children.n; i++) {
			if (strcmp(a.rels[i].rel_type, "m.thread") != 0)
				continue;
			if (n == 0)
				assert_int_equal(a.children.items[i].stream, last);
			n++;
		}
		assert_int_equal(n, STORE_AGGREGATE_PER_PARENT);
	}
	assert_agg(&a, "$refd", "m.reference", "$ref2 $ref1");
	assert_agg(&a, "$refd", "m.annotation", "");
	store_aggregation_clear(&a);

	/* carol never replied: not participated */
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 1, CAROL, &a), STORE_OK);
	assert_false(thread_of(&a, "$root")->participated);
	store_aggregation_clear(&a);

	/* a redacted reply no longer counts */
	redact(f->st, "$red", "$reply03");
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 1, BOB, &a), STORE_OK);
	assert_int_equal(thread_of(&a, "$root")->count, STORE_AGGREGATE_PER_PARENT + 9);
	assert_false(thread_of(&a, "$root")->participated);
	store_aggregation_clear(&a);

	/* no parents: nothing asked, nothing returned */
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 0, BOB, &a), STORE_OK);
	assert_int_equal(a.children.n, 0);
	assert_int_equal(a.n_threads, 0);
}

/* ---- GET /threads ----------------------------------------------------- */

static void threads_ids(struct store *st, const char *participant, int64_t before,
                        size_t limit, char *out, size_t out_len, int64_t *last)
{
	struct store_event_list l = { 0 };
	size_t o = 0;

	assert_int_equal(store_room_threads(st, ROOM_A, participant, before, limit, &l, last),
	                 STORE_OK);
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++)
		o += (size_t)snprintf(out + o, out_len - o, "%s%s", i ? " " : "", l.items[i].event_id);
	store_event_list_clear(&l);
}

static void test_threads_list(void **state)
{
	struct fixture *f = *state;
	char got[256];
	int64_t last = -1, r2;

	create_room(f->st, ROOM_A);
	put(f->st, "$A", ALICE, 1, NULL, NULL);
	put(f->st, "$B", BOB, 2, NULL, NULL);
	put(f->st, "$C", CAROL, 3, NULL, NULL);
	put(f->st, "$a1", BOB, 4, "m.thread", "$A");
	put(f->st, "$b1", ALICE, 5, "m.thread", "$B");
	put(f->st, "$c1", CAROL, 6, "m.thread", "$C");
	r2 = put(f->st, "$a2", CAROL, 7, "m.thread", "$A");   /* A is the most active now */
	put(f->st, "$not_thread", BOB, 8, "m.reference", "$C");

	threads_ids(f->st, NULL, 0, 10, got, sizeof(got), &last);
	assert_string_equal(got, "$A $C $B");
	/* pages of two: the second starts before the first's last activity */
	threads_ids(f->st, NULL, 0, 2, got, sizeof(got), &last);
	assert_string_equal(got, "$A $C");
	threads_ids(f->st, NULL, last, 2, got, sizeof(got), &last);
	assert_string_equal(got, "$B");
	threads_ids(f->st, NULL, last, 2, got, sizeof(got), &last);
	assert_string_equal(got, "");
	assert_int_equal(last, 0);
	/* participated: bob replied in A and started B; carol replied in A
	 * and started C */
	threads_ids(f->st, BOB, 0, 10, got, sizeof(got), &last);
	assert_string_equal(got, "$A $B");
	threads_ids(f->st, CAROL, 0, 10, got, sizeof(got), &last);
	assert_string_equal(got, "$A $C");
	/* redacting A's newest reply moves A back behind C */
	redact(f->st, "$red", "$a2");
	threads_ids(f->st, NULL, 0, 10, got, sizeof(got), &last);
	assert_string_equal(got, "$C $B $A");
	assert_true(last < r2);
	/* carol's only part in A is gone */
	threads_ids(f->st, CAROL, 0, 10, got, sizeof(got), &last);
	assert_string_equal(got, "$C");
}

/* ---- duplicate annotations -------------------------------------------- */

/* An m.reaction of sender to parent with key. */
static int64_t react(struct store *st, const char *event_id, const char *sender,
                     const char *parent, const char *key)
{
	struct test_event t;

	ev_init(&t, event_id, ROOM_A, "m.reaction", sender, 3000, "m.annotation", parent, false);
	snprintf(t.json, sizeof(t.json),
	         "{\"type\":\"m.reaction\",\"content\":{\"m.relates_to\":{\"rel_type\":"
	         "\"m.annotation\",\"event_id\":\"%s\",\"key\":\"%s\"}}}", parent, key);
	t.e.json_len = strlen(t.json);
	return persist1(st, &t);
}

/* Event annotations, Server behaviour: "Homeservers should prevent users
 * from sending a second annotation for a given event with identical event
 * type and annotation key (unless the first event has been redacted)." */
static void test_annotation_exists(void **state)
{
	struct fixture *f = *state;

	create_room(f->st, ROOM_A);
	put(f->st, "$p", ALICE, 2000, NULL, NULL);
	put(f->st, "$q", ALICE, 2000, NULL, NULL);
	react(f->st, "$up", BOB, "$p", "\U0001F44D");
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", BOB, "m.reaction",
	                                         "\U0001F44D"), STORE_OK);
	/* another key, sender, type, parent or room is not a duplicate */
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", BOB, "m.reaction", "x"),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", CAROL, "m.reaction",
	                                         "\U0001F44D"), STORE_NOT_FOUND);
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", BOB, "m.room.message",
	                                         "\U0001F44D"), STORE_NOT_FOUND);
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$q", BOB, "m.reaction",
	                                         "\U0001F44D"), STORE_NOT_FOUND);
	assert_int_equal(store_annotation_exists(f->st, ROOM_B, "$p", BOB, "m.reaction",
	                                         "\U0001F44D"), STORE_NOT_FOUND);
	/* a key with SQL and JSON-path characters is only ever a value */
	react(f->st, "$odd", BOB, "$p", "a' OR '1'='1");
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", BOB, "m.reaction",
	                                         "a' OR '1'='1"), STORE_OK);
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", BOB, "m.reaction", "a"),
	                 STORE_NOT_FOUND);
	/* "unless the first event has been redacted" */
	redact(f->st, "$red", "$up");
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", BOB, "m.reaction",
	                                         "\U0001F44D"), STORE_NOT_FOUND);
	/* arguments */
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "p", BOB, "m.reaction", "x"),
	                 STORE_ERROR);
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", "bob", "m.reaction", "x"),
	                 STORE_ERROR);
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", BOB, "", "x"), STORE_ERROR);
	assert_int_equal(store_annotation_exists(f->st, ROOM_A, "$p", BOB, "m.reaction", NULL),
	                 STORE_ERROR);
	assert_int_equal(store_annotation_exists(NULL, ROOM_A, "$p", BOB, "m.reaction", "x"),
	                 STORE_ERROR);
}

/* ---- the contract's edges --------------------------------------------- */

static void test_persist_rolls_back_with_relation(void **state)
{
	struct fixture *f = *state;
	struct test_event t[2];
	struct store_event_new rows[2];

	create_room(f->st, ROOM_A);
	put(f->st, "$p", ALICE, 2000, NULL, NULL);
	/* the second event's ID is taken: the whole batch, with the first
	 * event's relation, is rolled back */
	ev_init(&t[0], "$child", ROOM_A, "m.room.message", BOB, 2001, "m.thread", "$p", false);
	ev_init(&t[1], "$p", ROOM_A, "m.room.message", BOB, 2002, NULL, NULL, false);
	rows[0] = t[0].e;
	rows[1] = t[1].e;
	assert_int_equal(store_events_persist(f->st, NULL, rows, 2, NULL), STORE_CONFLICT);
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 10, true), "");
	/* and it goes in once the batch is sound */
	assert_int_equal(store_events_persist(f->st, NULL, rows, 1, NULL), STORE_OK);
	assert_children(f->st, query("$p", NULL, NULL, 1, 0, 0, 10, true), "$child");
}

static void test_arguments_refused(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l = { 0 };
	struct store_aggregation a = { 0 };
	struct store_relations_query q;
	struct test_event t;
	const char *bad_parents[] = { "$ok", "not-an-id" };
	static const char *many[STORE_AGGREGATE_PARENTS_MAX + 1];
	char long_type[STORE_REL_TYPE_MAX + 2];
	int64_t last = 7;

	create_room(f->st, ROOM_A);
	/* relation fields: both or neither, a non-empty type, an event ID */
	assert_true(store_relation_ok(NULL, NULL));
	assert_true(store_relation_ok("m.thread", "$p"));
	assert_false(store_relation_ok("m.thread", NULL));
	assert_false(store_relation_ok(NULL, "$p"));
	assert_false(store_relation_ok("", "$p"));
	assert_false(store_relation_ok("m.thread", "p"));
	assert_false(store_relation_ok("m.thread", "$"));
	memset(long_type, 'x', sizeof(long_type) - 1);
	long_type[sizeof(long_type) - 1] = '\0';
	assert_false(store_relation_ok(long_type, "$p"));
	long_type[STORE_REL_TYPE_MAX] = '\0';
	assert_true(store_relation_ok(long_type, "$p"));
	/* ... and persist refuses an event breaking them, writing nothing */
	ev_init(&t, "$bad", ROOM_A, "m.room.message", BOB, 1, "m.thread", "$p", false);
	t.e.relates_to = "no-sigil";
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_ERROR);
	t.e.relates_to = NULL;
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_ERROR);
	{
		struct store_event e;
		assert_int_equal(store_event_get(f->st, "$bad", &e), STORE_NOT_FOUND);
	}

	/* children: depth 0 and beyond the maximum, bad IDs, bad types */
	q = query("$p", NULL, NULL, 0, 0, 0, 10, true);
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_ERROR);
	q.depth = STORE_RELATIONS_DEPTH_MAX + 1;
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_ERROR);
	q = query("p", NULL, NULL, 1, 0, 0, 10, true);
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_ERROR);
	q = query("$p", "", NULL, 1, 0, 0, 10, true);
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_ERROR);
	q = query("$p", NULL, "", 1, 0, 0, 10, true);
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_ERROR);
	q = query("$p", NULL, NULL, 1, -1, 0, 10, true);
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_ERROR);
	q = query("$p", NULL, NULL, 1, 0, 0, 10, true);
	q.room_id = "a:example.org";
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_ERROR);
	assert_int_equal(store_relations_children(f->st, NULL, &l), STORE_ERROR);
	assert_int_equal(store_relations_children(NULL, &q, &l), STORE_ERROR);
	assert_int_equal(l.n, 0);

	/* aggregation: bad parent, too many parents, bad viewer, bad room */
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, bad_parents, 2, BOB, &a),
	                 STORE_ERROR);
	for (size_t i = 0; i < STORE_AGGREGATE_PARENTS_MAX + 1; i++)
		many[i] = "$p";
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, many,
	                                           STORE_AGGREGATE_PARENTS_MAX + 1, BOB, &a),
	                 STORE_ERROR);
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, many,
	                                           STORE_AGGREGATE_PARENTS_MAX, BOB, &a),
	                 STORE_OK);
	store_aggregation_clear(&a);
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, many, 1, "bob", &a), STORE_ERROR);
	assert_int_equal(store_relations_aggregate(f->st, "!", many, 1, BOB, &a), STORE_ERROR);
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, NULL, 1, BOB, &a), STORE_ERROR);
	assert_int_equal(a.children.n, 0);

	/* threads: bad room, participant, negative bound */
	assert_int_equal(store_room_threads(f->st, "room", NULL, 0, 5, &l, &last), STORE_ERROR);
	assert_int_equal(last, 0);
	assert_int_equal(store_room_threads(f->st, ROOM_A, "bob", 0, 5, &l, &last), STORE_ERROR);
	assert_int_equal(store_room_threads(f->st, ROOM_A, NULL, -1, 5, &l, &last), STORE_ERROR);
	assert_int_equal(store_room_threads(f->st, ROOM_A, NULL, 0, 5, &l, NULL), STORE_ERROR);
}

/* An escaped parent ID (quotes, backslashes, control bytes) reaches the
 * back end intact through the JSON array it is bound as. */
static void test_odd_parent_ids(void **state)
{
	struct fixture *f = *state;
	struct store_aggregation a = { 0 };
	struct test_event t;
	const char *parents[] = { "$q\"uo\\te\x01" };

	create_room(f->st, ROOM_A);
	ev_init(&t, "$q\"uo\\te\x01", ROOM_A, "m.room.message", ALICE, 1, NULL, NULL, false);
	/* the JSON is ours; the ID need not appear in it for the store */
	snprintf(t.json, sizeof(t.json), "{\"type\":\"m.room.message\",\"content\":{}}");
	t.e.json_len = strlen(t.json);
	persist1(f->st, &t);
	ev_init(&t, "$child", ROOM_A, "m.room.message", BOB, 2, "m.thread", "$x", false);
	t.e.relates_to = parents[0];
	persist1(f->st, &t);
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 1, BOB, &a), STORE_OK);
	assert_int_equal(a.n_threads, 1);
	assert_int_equal(a.threads[0].count, 1);
	assert_agg(&a, parents[0], "m.thread", "$child");
	store_aggregation_clear(&a);
}

static void test_planted_rows_refused(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l = { 0 };
	struct store_aggregation a = { 0 };
	struct store_relations_query q = query("$p", NULL, NULL, 1, 0, 0, 10, true);
	const char *parents[] = { "$p" };
	int64_t last = 0;

	create_room(f->st, ROOM_A);
	put(f->st, "$p", ALICE, 2000, NULL, NULL);
	put(f->st, "$c", BOB, 2001, "m.thread", "$p");
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	store_event_list_clear(&l);

	/* a child whose sender is not a user ID any more */
	raw_exec(f->path, "UPDATE events SET sender = 'bob' WHERE event_id = '$c'");
	assert_int_equal(store_relations_children(f->st, &q, &l), STORE_ERROR);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 1, BOB, &a), STORE_ERROR);
	assert_int_equal(a.children.n, 0);
	assert_null(a.rels);
	raw_exec(f->path, "UPDATE events SET sender = '" BOB "' WHERE event_id = '$c'");

	/* a thread root whose stored row is broken */
	assert_int_equal(store_room_threads(f->st, ROOM_A, NULL, 0, 5, &l, &last), STORE_OK);
	assert_int_equal(l.n, 1);
	store_event_list_clear(&l);
	raw_exec(f->path, "UPDATE events SET type = '' WHERE event_id = '$p'");
	assert_int_equal(store_room_threads(f->st, ROOM_A, NULL, 0, 5, &l, &last), STORE_ERROR);
	assert_int_equal(l.n, 0);
	assert_int_equal(last, 0);
	raw_exec(f->path, "UPDATE events SET type = 'm.room.message' WHERE event_id = '$p'");

	/* a relation row naming a rel_type as a number */
	raw_exec(f->path, "UPDATE event_relations SET rel_type = 7 WHERE event_id = '$c'");
	assert_int_equal(store_relations_aggregate(f->st, ROOM_A, parents, 1, BOB, &a), STORE_OK);
	assert_int_equal(a.children.n, 0);   /* not one of the aggregated types: not read */
	store_aggregation_clear(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_children_filters_and_paging, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_children_recursion, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_edit_validity, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_thread_totals_and_bound, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_threads_list, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_annotation_exists, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_persist_rolls_back_with_relation, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_arguments_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_odd_parent_ids, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_planted_rows_refused, fixture_setup,
		                                fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
