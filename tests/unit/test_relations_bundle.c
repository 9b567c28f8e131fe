/*
 * test_relations_bundle: bundled aggregations (events/relations.h) over a
 * real store in a fresh mkdtemp directory, with the served chokepoint
 * deciding visibility from stored memberships.
 *
 * Spec, Client-Server API, Aggregations of child events: "a m.relations
 * property is included under unsigned if the event has child events which
 * can be aggregated and point at it"; "State events do not currently
 * receive bundled aggregations"; "Due to history visibility restrictions,
 * child events might not be visible to the user ... any aggregations which
 * would normally include those events will be lacking them"; "Servers must
 * additionally ensure they do not consider child events from ignored
 * users". Event replacements: the most recent valid replacement, "formatted
 * as normal". Threading: latest_event, count, current_user_participated;
 * "child events of the latest_event should themselves be aggregated".
 * Reference relations: {"chunk": [{"event_id"}...]}. Forming relationships:
 * relationships "which don't match the schema ... are simply ignored".
 *
 * What is proven: a viewer who left sees only the children from before
 * the leave (the newest visible edit, thread reply and references), found
 * through several visibility rounds when many newer children are hidden;
 * the count leaves out the hidden ones; the owner sees everything; state
 * events and events without unsigned get nothing; latest_event carries
 * its own edit; ignored senders drop out; more parents than one page
 * still all get their bundle; a store failure is reported and leaves no
 * bundle behind; failing JSON allocations at every point neither crash
 * nor leak; events_relation_of keeps only well-formed relations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "events/events.h"
#include "events/relations.h"
#include "store/store.h"

#define ROOM "!r:example.org"
#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define CAROL "@carol:example.org"

struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
	int64_t ts;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-bundle-XXXXXX");
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
	f->ts = 1000;
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

/* ---- building events -------------------------------------------------- */

/* Persist one event: content is JSON text; rel_type/parent fill
 * m.relates_to (and the store row) when set. */
static void put_event(struct fixture *f, const struct store_room_new *room, const char *id,
                      const char *type, const char *state_key, const char *sender,
                      const char *content, const char *rel_type, const char *parent)
{
	struct store_event_new e = { 0 };
	json_t *c = json_loads(content, 0, NULL), *pdu;
	char *text;

	assert_non_null(c);
	if (rel_type != NULL)
		json_object_set_new(c, "m.relates_to", json_pack("{s:s,s:s}", "rel_type", rel_type,
		                                                 "event_id", parent));
	pdu = json_pack("{s:s,s:s,s:s,s:I,s:O}", "type", type, "sender", sender, "room_id", ROOM,
	                "origin_server_ts", (json_int_t)++f->ts, "content", c);
	if (state_key != NULL)
		json_object_set_new(pdu, "state_key", json_string(state_key));
	text = json_dumps(pdu, JSON_COMPACT);
	e.event_id = id;
	e.room_id = ROOM;
	e.type = type;
	e.state_key = state_key;
	e.sender = sender;
	e.origin_ts = f->ts;
	e.depth = 1;
	e.json = text;
	e.json_len = strlen(text);
	if (state_key != NULL && strcmp(type, "m.room.member") == 0)
		e.membership = json_string_value(json_object_get(c, "membership"));
	events_relation_of(c, &e.rel_type, &e.relates_to);
	assert_int_equal(store_events_persist(f->st, room, &e, 1, NULL), STORE_OK);
	free(text);
	json_decref(pdu);
	json_decref(c);
}

static void msg(struct fixture *f, const char *id, const char *sender, const char *rel_type,
                const char *parent)
{
	put_event(f, NULL, id, "m.room.message", NULL, sender, "{\"body\":\"x\"}", rel_type,
	          parent);
}

static void edit(struct fixture *f, const char *id, const char *sender, const char *parent)
{
	put_event(f, NULL, id, "m.room.message", NULL, sender,
	          "{\"body\":\"* x\",\"m.new_content\":{\"body\":\"x\"}}", "m.replace", parent);
}

static void member(struct fixture *f, const char *id, const char *user, const char *m)
{
	char content[64];

	snprintf(content, sizeof(content), "{\"membership\":\"%s\"}", m);
	put_event(f, NULL, id, "m.room.member", user, user, content, NULL, NULL);
}

static void room_create(struct fixture *f)
{
	struct store_room_new room = { ROOM, "11", ALICE, 1000 };

	put_event(f, &room, "$create", "m.room.create", "", ALICE, "{}", NULL, NULL);
	member(f, "$alice-join", ALICE, "join");
}

/* The client format of stored events, as a read path would serve them. */
static json_t *served(struct fixture *f, const char *viewer, const char *const *ids, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		struct store_event e;

		assert_int_equal(store_event_get(f->st, ids[i], &e), STORE_OK);
		json_array_append_new(arr, event_client_format(&e, viewer, NULL, 5000));
		store_event_clear(&e);
	}
	return arr;
}

static json_t *bundle_of(struct fixture *f, const char *viewer, const char *id)
{
	struct served_viewer v = { viewer, NULL, NULL, NULL };
	json_t *arr = served(f, viewer, &id, 1), *rels;

	assert_int_equal(events_bundle_aggregations(f->st, &v, SERVED_MESSAGES, ROOM, arr), 0);
	rels = json_object_get(json_object_get(json_array_get(arr, 0), "unsigned"),
	                       "m.relations");
	rels = rels != NULL ? json_incref(rels) : json_object();
	json_decref(arr);
	return rels;
}

static const char *rel_event_id(const json_t *rels, const char *rel_type)
{
	return json_string_value(json_object_get(json_object_get(rels, rel_type), "event_id"));
}

static const char *latest_id(const json_t *rels)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(rels, "m.thread"), "latest_event"), "event_id"));
}

static json_int_t thread_count(const json_t *rels)
{
	return json_integer_value(json_object_get(json_object_get(rels, "m.thread"), "count"));
}

/* ---- tests ------------------------------------------------------------ */

/* Bob joins, sees the root, one edit, one reply, one reference, then
 * leaves; nine more replies, an edit and a reference come after. */
static void test_viewer_who_left(void **state)
{
	struct fixture *f = *state;
	json_t *rels, *refs;
	char id[32];

	room_create(f);
	member(f, "$bob-join", BOB, "join");
	msg(f, "$root", ALICE, NULL, NULL);
	edit(f, "$edit1", ALICE, "$root");
	msg(f, "$r1", BOB, "m.thread", "$root");
	msg(f, "$ref1", ALICE, "m.reference", "$root");
	member(f, "$bob-leave", BOB, "leave");
	for (int i = 2; i <= 10; i++) {
		snprintf(id, sizeof(id), "$r%d", i);
		msg(f, id, ALICE, "m.thread", "$root");
	}
	edit(f, "$edit2", ALICE, "$root");
	msg(f, "$ref2", ALICE, "m.reference", "$root");

	/* bob: only what he could see; nine hidden replies took rounds */
	rels = bundle_of(f, BOB, "$root");
	assert_string_equal(rel_event_id(rels, "m.replace"), "$edit1");
	assert_string_equal(latest_id(rels), "$r1");
	assert_int_equal(thread_count(rels), 1);
	assert_true(json_is_true(json_object_get(json_object_get(rels, "m.thread"),
	                                         "current_user_participated")));
	refs = json_object_get(json_object_get(rels, "m.reference"), "chunk");
	assert_int_equal(json_array_size(refs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "event_id")),
	                    "$ref1");
	/* the edit is served "formatted as normal" */
	assert_string_equal(json_string_value(json_object_get(json_object_get(rels, "m.replace"),
	                                                      "type")), "m.room.message");
	json_decref(rels);

	/* alice: everything, references oldest first */
	rels = bundle_of(f, ALICE, "$root");
	assert_string_equal(rel_event_id(rels, "m.replace"), "$edit2");
	assert_string_equal(latest_id(rels), "$r10");
	assert_int_equal(thread_count(rels), 10);
	refs = json_object_get(json_object_get(rels, "m.reference"), "chunk");
	assert_int_equal(json_array_size(refs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "event_id")),
	                    "$ref1");
	json_decref(rels);

	/* carol never was a member: the root has no bundle for her at all */
	rels = bundle_of(f, CAROL, "$root");
	assert_int_equal(json_object_size(rels), 0);
	json_decref(rels);
}

static void test_what_gets_no_bundle(void **state)
{
	struct fixture *f = *state;
	struct served_viewer v = { ALICE, NULL, NULL, NULL };
	const char *ids[] = { "$topic", "$plain", "$root" };
	json_t *arr, *rels;

	room_create(f);
	put_event(f, NULL, "$topic", "m.room.topic", "", ALICE, "{\"topic\":\"t\"}", NULL, NULL);
	msg(f, "$plain", ALICE, NULL, NULL);
	msg(f, "$root", ALICE, NULL, NULL);
	/* an annotation is not aggregated; a reply to a state event is not
	 * bundled on it; an edit of the topic is not even valid */
	put_event(f, NULL, "$react", "m.reaction", NULL, ALICE, "{}", "m.annotation", "$root");
	msg(f, "$on-topic", ALICE, "m.thread", "$topic");
	msg(f, "$reply", ALICE, "m.thread", "$root");

	arr = served(f, ALICE, ids, 3);
	/* an event_fields filter may have cut unsigned: nothing is added */
	json_object_del(json_array_get(arr, 2), "unsigned");
	assert_int_equal(events_bundle_aggregations(f->st, &v, SERVED_MESSAGES, ROOM, arr), 0);
	for (size_t i = 0; i < 3; i++) {
		rels = json_object_get(json_object_get(json_array_get(arr, i), "unsigned"),
		                       "m.relations");
		assert_null(rels);
	}
	json_decref(arr);
	/* with unsigned, the root's only aggregation is its thread */
	rels = bundle_of(f, ALICE, "$root");
	assert_int_equal(json_object_size(rels), 1);
	assert_string_equal(latest_id(rels), "$reply");
	json_decref(rels);
	/* a single object works like an array of one; junk is refused */
	arr = json_integer(3);
	assert_int_equal(events_bundle_aggregations(f->st, &v, SERVED_EVENT, ROOM, arr), -1);
	json_decref(arr);
	assert_int_equal(events_bundle_aggregations(f->st, NULL, SERVED_EVENT, ROOM, NULL), -1);
}

static void test_latest_event_is_bundled_and_ignored_users(void **state)
{
	struct fixture *f = *state;
	json_t *rels, *latest;

	room_create(f);
	member(f, "$bob-join", BOB, "join");
	member(f, "$carol-join", CAROL, "join");
	msg(f, "$root", ALICE, NULL, NULL);
	msg(f, "$r1", BOB, "m.thread", "$root");
	edit(f, "$r1-edit", BOB, "$r1");
	rels = bundle_of(f, ALICE, "$root");
	latest = json_object_get(json_object_get(rels, "m.thread"), "latest_event");
	assert_string_equal(json_string_value(json_object_get(latest, "event_id")), "$r1");
	/* "child events of the latest_event should themselves be aggregated" */
	assert_string_equal(rel_event_id(json_object_get(json_object_get(latest, "unsigned"),
	                                                 "m.relations"), "m.replace"), "$r1-edit");
	json_decref(rels);

	/* carol replies last; alice ignores her */
	msg(f, "$r2", CAROL, "m.thread", "$root");
	rels = bundle_of(f, ALICE, "$root");
	assert_string_equal(latest_id(rels), "$r2");
	assert_int_equal(thread_count(rels), 2);
	json_decref(rels);
	assert_int_equal(store_account_data_put(f->st, ALICE, NULL, "m.ignored_user_list",
	                                        "{\"ignored_users\":{\"" CAROL "\":{}}}", NULL),
	                 STORE_OK);
	rels = bundle_of(f, ALICE, "$root");
	assert_string_equal(latest_id(rels), "$r1");
	assert_int_equal(thread_count(rels), 1);
	json_decref(rels);
	/* bob ignores nobody */
	rels = bundle_of(f, BOB, "$root");
	assert_string_equal(latest_id(rels), "$r2");
	json_decref(rels);
}

/* More parents than one aggregation read takes: every one is bundled. */
static void test_more_parents_than_a_page(void **state)
{
	struct fixture *f = *state;
	struct served_viewer v = { ALICE, NULL, NULL, NULL };
	size_t n = STORE_AGGREGATE_PARENTS_MAX + 2;
	const char **ids = calloc(n, sizeof(*ids));
	char (*names)[16] = calloc(n, sizeof(*names));
	char child[24];
	json_t *arr;

	assert_non_null(ids);
	assert_non_null(names);
	room_create(f);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "$p%zu", i);
		ids[i] = names[i];
		msg(f, names[i], ALICE, NULL, NULL);
	}
	/* children of the first and the last two parents */
	msg(f, "$c0", ALICE, "m.thread", names[0]);
	snprintf(child, sizeof(child), "$c%zu", n - 2);
	msg(f, child, ALICE, "m.thread", names[n - 2]);
	snprintf(child, sizeof(child), "$c%zu", n - 1);
	msg(f, child, ALICE, "m.thread", names[n - 1]);

	arr = served(f, ALICE, ids, n);
	assert_int_equal(events_bundle_aggregations(f->st, &v, SERVED_MESSAGES, ROOM, arr), 0);
	for (size_t i = 0; i < n; i++) {
		json_t *rels = json_object_get(json_object_get(json_array_get(arr, i), "unsigned"),
		                               "m.relations");
		bool want = i == 0 || i >= n - 2;

		assert_true(want ? rels != NULL : rels == NULL);
	}
	json_decref(arr);
	free(ids);
	free(names);
}

/* JSON allocations that fail, one after another (the n-th of the call
 * and every later one), never crash or leak: the call still returns, the
 * events stay valid JSON objects, and whatever bundle is attached is
 * whole. jansson's allocator is global: it is restored before asserting. */
static int alloc_budget = -1;   /* allocations left; -1: unlimited */

static void *failing_malloc(size_t n)
{
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return malloc(n);
}

static void test_json_allocation_failures(void **state)
{
	struct fixture *f = *state;
	struct served_viewer v = { ALICE, NULL, NULL, NULL };
	const char *id = "$root";
	bool completed = false;

	room_create(f);
	member(f, "$bob-join", BOB, "join");
	msg(f, "$root", ALICE, NULL, NULL);
	edit(f, "$edit", ALICE, "$root");
	msg(f, "$r1", BOB, "m.thread", "$root");
	edit(f, "$r1-edit", BOB, "$r1");
	msg(f, "$ref", BOB, "m.reference", "$root");
	for (int budget = 0; budget < 2000 && !completed; budget++) {
		json_t *arr = served(f, ALICE, &id, 1), *rels;
		int r;

		alloc_budget = budget;
		json_set_alloc_funcs(failing_malloc, free);
		r = events_bundle_aggregations(f->st, &v, SERVED_MESSAGES, ROOM, arr);
		json_set_alloc_funcs(malloc, free);
		completed = alloc_budget > 0;   /* the call never ran out */
		alloc_budget = -1;
		assert_true(r == 0 || r == -1);
		assert_true(json_is_object(json_array_get(arr, 0)));
		rels = json_object_get(json_object_get(json_array_get(arr, 0), "unsigned"),
		                       "m.relations");
		if (json_object_get(rels, "m.replace") != NULL)
			assert_string_equal(rel_event_id(rels, "m.replace"), "$edit");
		if (json_object_get(rels, "m.thread") != NULL)
			assert_string_equal(latest_id(rels), "$r1");
		if (completed) {
			/* with enough memory, everything is there */
			assert_int_equal(r, 0);
			assert_int_equal(json_object_size(rels), 3);
		}
		json_decref(arr);
	}
	assert_true(completed);
}

/* A store that fails mid-way: the call says so and no event is left with
 * a half-built bundle. */
static void test_store_failure(void **state)
{
	struct fixture *f = *state;
	struct served_viewer v = { ALICE, NULL, NULL, NULL };
	const char *id = "$root";
	sqlite3 *db = NULL;
	json_t *arr;

	room_create(f);
	msg(f, "$root", ALICE, NULL, NULL);
	msg(f, "$reply", ALICE, "m.thread", "$root");
	arr = served(f, ALICE, &id, 1);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE event_relations RENAME TO gone", NULL, NULL,
	                              NULL), SQLITE_OK);
	assert_int_equal(events_bundle_aggregations(f->st, &v, SERVED_MESSAGES, ROOM, arr), -1);
	assert_null(json_object_get(json_object_get(json_array_get(arr, 0), "unsigned"),
	                            "m.relations"));
	/* and it recovers once the store does */
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE gone RENAME TO event_relations", NULL, NULL,
	                              NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(events_bundle_aggregations(f->st, &v, SERVED_MESSAGES, ROOM, arr), 0);
	assert_non_null(json_object_get(json_object_get(json_array_get(arr, 0), "unsigned"),
	                                "m.relations"));
	json_decref(arr);
}

static void test_relation_of(void **state)
{
	static const char *const cases[][3] = {
		/* content, rel_type, relates_to (NULL: ignored) */
		{ "{\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":\"$a\"}}", "m.thread",
		  "$a" },
		{ "{\"m.relates_to\":{\"event_id\":\"$a\"}}", NULL, NULL },
		{ "{\"m.relates_to\":{\"m.in_reply_to\":{\"event_id\":\"$a\"}}}", NULL, NULL },
		{ "{\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":\"a\"}}", NULL, NULL },
		{ "{\"m.relates_to\":{\"rel_type\":\"\",\"event_id\":\"$a\"}}", NULL, NULL },
		{ "{\"m.relates_to\":{\"rel_type\":7,\"event_id\":\"$a\"}}", NULL, NULL },
		{ "{\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":\"$a\\u0000b\"}}", NULL,
		  NULL },
		{ "{\"m.relates_to\":[\"m.thread\"]}", NULL, NULL },
		{ "{}", NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *c = json_loads(cases[i][0], JSON_ALLOW_NUL, NULL);
		const char *t = "unset", *id = "unset";

		assert_non_null(c);
		events_relation_of(c, &t, &id);
		if (cases[i][1] == NULL) {
			assert_null(t);
			assert_null(id);
		} else {
			assert_string_equal(t, cases[i][1]);
			assert_string_equal(id, cases[i][2]);
		}
		json_decref(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_viewer_who_left, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_what_gets_no_bundle, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_latest_event_is_bundled_and_ignored_users,
		                                fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_more_parents_than_a_page, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_store_failure, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_json_allocation_failures, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test(test_relation_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
