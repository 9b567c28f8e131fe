/*
 * test_store_receipts: read receipts and presence in the storage contract
 * (store.h, "receipts and presence") on the SQLite back end, in a fresh
 * mkdtemp directory per test.
 *
 * Spec, Client-Server API, Receipts: "Each user_id, receipt_type, and
 * categorisation (unthreaded, or thread_id) tuple must be associated with
 * only a single event_id." and, Private read receipts: "Servers MUST NOT
 * send the m.read.private receipt to any other user than the one which
 * originally sent it." Presence: "Presence events are sent to interested
 * parties where users share a room membership."
 *
 * What is proven here: one receipt per (room, type, user, thread), a put
 * replaces it and takes a new position, a receipt never moves backwards
 * (and an unmoved put takes no position); ranges (since, to]; another
 * user's private receipt is never returned; presence put/get/clear and
 * who may see it (own, joined co-members; not invitees, not those who
 * left, not strangers); both streams survive a reopen; arguments breaking
 * the contract are refused; planted bad rows are refused on load; and
 * every statement of this feature uses an index (EXPLAIN QUERY PLAN).
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

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_backend.h"

#define ROOM_A "!a:example.org"
#define ROOM_B "!b:example.org"
#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define CAROL "@carol:example.org"
#define DAVE "@dave:example.org"

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-rcpt-XXXXXX");
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

/* ---- receipts --------------------------------------------------------- */

static int64_t put_receipt(struct store *st, const char *room, const char *type,
                           const char *user, const char *thread, const char *event_id,
                           int64_t event_stream, int64_t ts)
{
	struct store_receipt_new r = { room, type, user, thread, event_id, event_stream, ts };
	int64_t pos = -1;

	assert_int_equal(store_receipt_put(st, &r, &pos), STORE_OK);
	return pos;
}

/* The receipts of room as "type user thread event;" lines, in order. */
static void expect_receipts(struct store *st, const char *room, const char *viewer,
                            int64_t since, int64_t to, const char *want)
{
	struct store_receipt_list l = { 0 };
	char got[2048] = "", line[512];

	assert_int_equal(store_room_receipts(st, room, viewer, since, to, &l), STORE_OK);
	for (size_t i = 0; i < l.n; i++) {
		snprintf(line, sizeof(line), "%s %s %s %s;", l.items[i].receipt_type,
		         l.items[i].user_id, l.items[i].thread_id ? l.items[i].thread_id : "-",
		         l.items[i].event_id);
		strcat(got, line);
	}
	store_receipt_list_clear(&l);
	assert_string_equal(got, want);
}

static void test_receipt_one_per_key(void **state)
{
	struct fixture *f = *state;
	int64_t p1, p2, p3, p4, p5;

	assert_int_equal(store_receipts_stream_max(f->st), 0);
	p1 = put_receipt(f->st, ROOM_A, "m.read", ALICE, NULL, "$e1", 1, 100);
	assert_true(p1 > 0);
	/* threaded receipts are separate categories: "main" and a thread root */
	p2 = put_receipt(f->st, ROOM_A, "m.read", ALICE, "main", "$e2", 2, 100);
	p3 = put_receipt(f->st, ROOM_A, "m.read", ALICE, "$root", "$e3", 3, 100);
	/* and another type is another key */
	p4 = put_receipt(f->st, ROOM_A, "m.read.private", ALICE, NULL, "$e3", 3, 100);
	assert_true(p1 < p2 && p2 < p3 && p3 < p4);
	expect_receipts(f->st, ROOM_A, ALICE, 0, 0,
	                "m.read " ALICE " - $e1;m.read " ALICE " main $e2;"
	                "m.read " ALICE " $root $e3;m.read.private " ALICE " - $e3;");
	/* a later event replaces the unthreaded m.read, at a new position */
	p5 = put_receipt(f->st, ROOM_A, "m.read", ALICE, NULL, "$e4", 4, 200);
	assert_true(p5 > p4);
	assert_int_equal(store_receipts_stream_max(f->st), p5);
	expect_receipts(f->st, ROOM_A, ALICE, 0, 0,
	                "m.read " ALICE " main $e2;m.read " ALICE " $root $e3;"
	                "m.read.private " ALICE " - $e3;m.read " ALICE " - $e4;");
	/* other rooms are untouched */
	expect_receipts(f->st, ROOM_B, ALICE, 0, 0, "");
}

static void test_receipt_never_backwards(void **state)
{
	struct fixture *f = *state;
	int64_t p1, max;

	p1 = put_receipt(f->st, ROOM_A, "m.read", BOB, NULL, "$e5", 5, 100);
	assert_true(p1 > 0);
	/* an older event, or the same one again: nothing moves, no position */
	assert_int_equal(put_receipt(f->st, ROOM_A, "m.read", BOB, NULL, "$e3", 3, 200), 0);
	assert_int_equal(put_receipt(f->st, ROOM_A, "m.read", BOB, NULL, "$e5", 5, 300), 0);
	max = store_receipts_stream_max(f->st);
	assert_int_equal(max, p1);
	expect_receipts(f->st, ROOM_A, BOB, 0, 0, "m.read " BOB " - $e5;");
	/* "a receipt ... behind the m.read.private receipt" is valid: the two
	 * types move independently */
	assert_true(put_receipt(f->st, ROOM_A, "m.read.private", BOB, NULL, "$e9", 9, 1) > 0);
	assert_true(put_receipt(f->st, ROOM_A, "m.read", BOB, NULL, "$e6", 6, 1) > 0);
}

static void test_receipt_ranges_and_privacy(void **state)
{
	struct fixture *f = *state;
	int64_t a, b, c;

	a = put_receipt(f->st, ROOM_A, "m.read", ALICE, NULL, "$e1", 1, 100);
	b = put_receipt(f->st, ROOM_A, "m.read.private", BOB, NULL, "$e2", 2, 100);
	c = put_receipt(f->st, ROOM_A, "m.read", CAROL, NULL, "$e3", 3, 100);
	/* Bob sees his private receipt; nobody else does, whatever the range */
	expect_receipts(f->st, ROOM_A, BOB, 0, 0,
	                "m.read " ALICE " - $e1;m.read.private " BOB " - $e2;"
	                "m.read " CAROL " - $e3;");
	expect_receipts(f->st, ROOM_A, ALICE, 0, 0,
	                "m.read " ALICE " - $e1;m.read " CAROL " - $e3;");
	expect_receipts(f->st, ROOM_A, CAROL, a, b, "");
	expect_receipts(f->st, ROOM_A, BOB, a, b, "m.read.private " BOB " - $e2;");
	/* (since, to]: since excluded, to included */
	expect_receipts(f->st, ROOM_A, ALICE, a, c, "m.read " CAROL " - $e3;");
	expect_receipts(f->st, ROOM_A, ALICE, 0, a, "m.read " ALICE " - $e1;");
	expect_receipts(f->st, ROOM_A, ALICE, c, 0, "");
	/* what was acknowledged survives a restart, positions too */
	reopen(f);
	assert_int_equal(store_receipts_stream_max(f->st), c);
	expect_receipts(f->st, ROOM_A, ALICE, a, 0, "m.read " CAROL " - $e3;");
	assert_true(put_receipt(f->st, ROOM_A, "m.read", ALICE, NULL, "$e4", 4, 1) > c);
}

static void test_receipt_refused(void **state)
{
	struct fixture *f = *state;
	struct store_receipt_new ok = { ROOM_A, "m.read", ALICE, NULL, "$e1", 1, 100 };
	struct store_receipt_new bad;
	struct store_receipt_list l = { 0 };
	char long_id[300];
	int64_t pos = 7;

	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[0] = '$';
	long_id[sizeof(long_id) - 1] = '\0';
#define REFUSE(field, value) do { \
		bad = ok; bad.field = value; pos = 7; \
		assert_int_equal(store_receipt_put(f->st, &bad, &pos), STORE_ERROR); \
		assert_int_equal(pos, 0); \
	} while (0)
	/* m.fully_read is account data (read_markers.md), not a receipt */
	REFUSE(receipt_type, "m.fully_read");
	REFUSE(receipt_type, NULL);
	REFUSE(room_id, "a:example.org");
	REFUSE(room_id, NULL);
	REFUSE(user_id, "alice");
	REFUSE(event_id, "e1");
	REFUSE(event_id, long_id);
	/* receipts.yaml 400: "It is empty." */
	REFUSE(thread_id, "");
	REFUSE(thread_id, "thread");
	REFUSE(event_stream, 0);
	REFUSE(ts, -1);
#undef REFUSE
	assert_int_equal(store_receipt_put(f->st, NULL, &pos), STORE_ERROR);
	assert_int_equal(store_receipt_put(NULL, &ok, &pos), STORE_ERROR);
	assert_int_equal(store_room_receipts(f->st, ROOM_A, "bob", 0, 0, &l), STORE_ERROR);
	assert_int_equal(store_room_receipts(f->st, ROOM_A, BOB, -1, 0, &l), STORE_ERROR);
	assert_int_equal(store_room_receipts(f->st, "x", BOB, 0, 0, &l), STORE_ERROR);
	assert_int_equal(l.n, 0);
	/* nothing refused reached the table */
	assert_int_equal(store_receipts_stream_max(f->st), 0);
}

static void test_receipt_bad_rows_refused(void **state)
{
	struct fixture *f = *state;
	struct store_receipt_list l = { 0 };

	put_receipt(f->st, ROOM_A, "m.read", ALICE, NULL, "$e1", 1, 100);
	/* a row whose thread is neither "main" nor an event ID, or whose
	 * type the store does not keep, never reaches a caller */
	raw_exec(f->path, "INSERT INTO receipts VALUES ('!a:example.org', 'm.read', "
	                  "'@bob:example.org', 'garbage', '$e2', 2, 100, 50)");
	assert_int_equal(store_room_receipts(f->st, ROOM_A, ALICE, 0, 0, &l), STORE_ERROR);
	assert_null(l.items);
	raw_exec(f->path, "UPDATE receipts SET thread_id = '', receipt_type = 'm.weird' "
	                  "WHERE stream = 50");
	assert_int_equal(store_room_receipts(f->st, ROOM_A, ALICE, 0, 0, &l), STORE_ERROR);
	raw_exec(f->path, "UPDATE receipts SET receipt_type = 'm.read', ts = 'soon' "
	                  "WHERE stream = 50");
	assert_int_equal(store_room_receipts(f->st, ROOM_A, ALICE, 0, 0, &l), STORE_ERROR);
	raw_exec(f->path, "DELETE FROM receipts WHERE stream = 50");
	assert_int_equal(store_room_receipts(f->st, ROOM_A, ALICE, 0, 0, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	store_receipt_list_clear(&l);
}

/* ---- presence --------------------------------------------------------- */

struct test_event {
	struct store_event_new e;
	char event_id[64];
	char json[256];
};

static void ev_init(struct test_event *t, const char *event_id, const char *room_id,
                    const char *type, const char *state_key, const char *sender)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->event_id, sizeof(t->event_id), "%s", event_id);
	snprintf(t->json, sizeof(t->json), "{\"event_id\":\"%s\",\"room_id\":\"%s\"}",
	         event_id, room_id);
	t->e.event_id = t->event_id;
	t->e.room_id = room_id;
	t->e.type = type;
	t->e.state_key = state_key;
	t->e.sender = sender;
	t->e.origin_ts = 1000;
	t->e.depth = 1;
	t->e.json = t->json;
	t->e.json_len = strlen(t->json);
}

static void create_room(struct store *st, const char *room_id, const char *creator)
{
	struct store_room_new room = { room_id, "11", creator, 1000 };
	struct test_event t[2];
	struct store_event_new rows[2];
	char id[64];

	snprintf(id, sizeof(id), "$create-%s", room_id + 1);
	ev_init(&t[0], id, room_id, "m.room.create", "", creator);
	snprintf(id, sizeof(id), "$join-%s-%s", room_id + 1, creator + 1);
	ev_init(&t[1], id, room_id, "m.room.member", creator, creator);
	t[1].e.membership = "join";
	rows[0] = t[0].e;
	rows[1] = t[1].e;
	assert_int_equal(store_events_persist(st, &room, rows, 2, NULL), STORE_OK);
}

static void member(struct store *st, const char *room_id, const char *user,
                   const char *membership)
{
	static int seq;
	struct test_event t;
	char id[64];

	snprintf(id, sizeof(id), "$m%d", ++seq);
	ev_init(&t, id, room_id, "m.room.member", user, user);
	t.e.membership = membership;
	assert_int_equal(store_events_persist(st, NULL, &t.e, 1, NULL), STORE_OK);
}

static int64_t put_presence(struct store *st, const char *user, const char *presence,
                            const char *msg)
{
	int64_t pos = 0;

	assert_int_equal(store_presence_put(st, user, presence, msg, 5000, &pos), STORE_OK);
	assert_true(pos > 0);
	return pos;
}

/* The presence viewer may see in (since, to], as "user presence;" lines. */
static void expect_visible(struct store *st, const char *viewer, int64_t since, int64_t to,
                           const char *want)
{
	struct store_presence_list l = { 0 };
	char got[2048] = "", line[512];

	assert_int_equal(store_presence_visible(st, viewer, since, to, &l), STORE_OK);
	for (size_t i = 0; i < l.n; i++) {
		snprintf(line, sizeof(line), "%s %s;", l.items[i].user_id, l.items[i].presence);
		strcat(got, line);
	}
	store_presence_list_clear(&l);
	assert_string_equal(got, want);
}

static void test_presence_put_get(void **state)
{
	struct fixture *f = *state;
	struct store_presence p;
	int64_t a, b;

	assert_int_equal(store_presence_get(f->st, ALICE, &p), STORE_NOT_FOUND);
	assert_null(p.user_id);
	assert_int_equal(store_presence_stream_max(f->st), 0);
	a = put_presence(f->st, ALICE, "online", "I am here.");
	assert_int_equal(store_presence_get(f->st, ALICE, &p), STORE_OK);
	assert_string_equal(p.user_id, ALICE);
	assert_string_equal(p.presence, "online");
	assert_string_equal(p.status_msg, "I am here.");
	assert_int_equal(p.last_active_ts, 5000);
	assert_int_equal(p.stream, a);
	store_presence_clear(&p);
	/* a put replaces all of it: a NULL status message clears the old one */
	b = put_presence(f->st, ALICE, "unavailable", NULL);
	assert_true(b > a);
	assert_int_equal(store_presence_get(f->st, ALICE, &p), STORE_OK);
	assert_string_equal(p.presence, "unavailable");
	assert_null(p.status_msg);
	store_presence_clear(&p);
	reopen(f);
	assert_int_equal(store_presence_stream_max(f->st), b);
	assert_int_equal(store_presence_get(f->st, ALICE, &p), STORE_OK);
	assert_int_equal(p.stream, b);
	store_presence_clear(&p);
}

static void test_presence_refused(void **state)
{
	struct fixture *f = *state;
	struct store_presence_list l = { 0 };
	struct store_presence p;
	char *big = malloc(STORE_PRESENCE_MSG_MAX + 2);
	int64_t pos = 9;

	assert_non_null(big);
	memset(big, 'm', STORE_PRESENCE_MSG_MAX + 1);
	big[STORE_PRESENCE_MSG_MAX + 1] = '\0';
	/* presence.yaml: enum [online, offline, unavailable] */
	assert_int_equal(store_presence_put(f->st, ALICE, "away", NULL, 1, &pos), STORE_ERROR);
	assert_int_equal(pos, 0);
	assert_int_equal(store_presence_put(f->st, ALICE, NULL, NULL, 1, &pos), STORE_ERROR);
	assert_int_equal(store_presence_put(f->st, "alice", "online", NULL, 1, &pos),
	                 STORE_ERROR);
	assert_int_equal(store_presence_put(f->st, ALICE, "online", big, 1, &pos), STORE_ERROR);
	assert_int_equal(store_presence_put(f->st, ALICE, "online", NULL, -1, &pos),
	                 STORE_ERROR);
	assert_int_equal(store_presence_get(f->st, "", &p), STORE_ERROR);
	assert_int_equal(store_presence_visible(f->st, ALICE, -1, 0, &l), STORE_ERROR);
	assert_int_equal(store_presence_stream_max(f->st), 0);
	free(big);
	/* a planted row of the wrong type is refused, not served */
	put_presence(f->st, ALICE, "online", NULL);
	raw_exec(f->path, "UPDATE presence SET last_active_ts = 'never'");
	assert_int_equal(store_presence_get(f->st, ALICE, &p), STORE_ERROR);
	assert_null(p.user_id);
	assert_int_equal(store_presence_visible(f->st, ALICE, 0, 0, &l), STORE_ERROR);
	assert_null(l.items);
}

static void test_presence_visibility(void **state)
{
	struct fixture *f = *state;
	int64_t pa, pb, pc, pd;

	/* Alice and Bob share room A; Carol is invited to it; Dave is joined
	 * only to room B with Carol */
	create_room(f->st, ROOM_A, ALICE);
	member(f->st, ROOM_A, BOB, "join");
	member(f->st, ROOM_A, CAROL, "invite");
	create_room(f->st, ROOM_B, DAVE);
	member(f->st, ROOM_B, CAROL, "join");
	pa = put_presence(f->st, ALICE, "online", NULL);
	pb = put_presence(f->st, BOB, "unavailable", NULL);
	pc = put_presence(f->st, CAROL, "online", NULL);
	pd = put_presence(f->st, DAVE, "offline", NULL);

	expect_visible(f->st, ALICE, 0, 0, ALICE " online;" BOB " unavailable;");
	expect_visible(f->st, BOB, 0, 0, ALICE " online;" BOB " unavailable;");
	/* an invite shares no room yet: Carol sees only room B's members */
	expect_visible(f->st, CAROL, 0, 0, CAROL " online;" DAVE " offline;");
	expect_visible(f->st, DAVE, 0, 0, CAROL " online;" DAVE " offline;");
	/* (since, to] */
	expect_visible(f->st, ALICE, pa, 0, BOB " unavailable;");
	expect_visible(f->st, ALICE, 0, pa, ALICE " online;");
	expect_visible(f->st, DAVE, pc, pd, DAVE " offline;");
	/* a stranger with no room sees their own presence only */
	expect_visible(f->st, "@eve:example.org", 0, 0, "");
	put_presence(f->st, "@eve:example.org", "online", NULL);
	expect_visible(f->st, "@eve:example.org", 0, 0, "@eve:example.org online;");
	/* Bob leaves room A: Alice and Bob no longer see each other */
	member(f->st, ROOM_A, BOB, "leave");
	expect_visible(f->st, ALICE, 0, 0, ALICE " online;");
	expect_visible(f->st, BOB, 0, 0, BOB " unavailable;");
	/* Carol joins room A: she and Alice see each other, and Dave still
	 * sees Carol through room B (one row for her, not one per room) */
	member(f->st, ROOM_A, CAROL, "join");
	expect_visible(f->st, ALICE, 0, 0, ALICE " online;" CAROL " online;");
	expect_visible(f->st, DAVE, pb, 0, CAROL " online;" DAVE " offline;");
}

/* No statement of this feature scans a table: each is planned with an
 * index (or a primary key) on a database that has every table. */
static void test_queries_use_indexes(void **state)
{
	struct fixture *f = *state;
	static const enum sqlite_stmt_id ids[] = {
		SQ_RECEIPT_EVENT_STREAM, SQ_RECEIPTS_NEXT, SQ_RECEIPT_UPSERT, SQ_RECEIPTS_ROOM,
		SQ_RECEIPTS_MAX, SQ_PRESENCE_NEXT, SQ_PRESENCE_UPSERT, SQ_PRESENCE_GET,
		SQ_PRESENCE_VISIBLE, SQ_PRESENCE_MAX,
	};
	struct sqlite_conn *c;
	sqlite3 *db = NULL;
	void *h;

	create_room(f->st, ROOM_A, ALICE);
	assert_string_equal(store_backend_of(f->st, &h)->name, "sqlite");
	c = sqlite_reader_get(h);
	assert_non_null(c);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sqlite3_stmt *stmt = sqlite_stmt_get(c, ids[i]), *plan = NULL;
		char sql[8192];

		if (stmt == NULL)
			fail_msg("statement %d does not prepare", (int)ids[i]);
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(stmt));
		sqlite_stmt_put(c, ids[i], stmt);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &plan, NULL), SQLITE_OK);
		while (sqlite3_step(plan) == SQLITE_ROW) {
			const char *detail = (const char *)sqlite3_column_text(plan, 3);

			if (strncmp(detail, "SCAN ", 5) == 0 &&
			    strncmp(detail, "SCAN CONSTANT ROW", 17) != 0)
				fail_msg("statement %d scans: %s\n%s", (int)ids[i], detail, sql);
		}
		sqlite3_finalize(plan);
	}
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_receipt_one_per_key, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_never_backwards, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_ranges_and_privacy, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_bad_rows_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_presence_put_get, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_presence_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_presence_visibility, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_queries_use_indexes, fixture_setup,
		                                fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
