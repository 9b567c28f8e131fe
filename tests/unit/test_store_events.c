/*
 * test_store_events: rooms, events, state, memberships, filters and account
 * data of the storage contract (src/store/store.h) on the SQLite back end,
 * in a fresh mkdtemp directory per test, removed afterwards.
 *
 * What is proven here: a room persisted with its events reads back whole;
 * the state before any position is the last state event per (type,
 * state_key) below it, and the current state follows overrides; membership
 * history and current memberships; rooms_changed_since across more rooms
 * than one statement binds; event ranges both ways with limits and bounds;
 * transaction IDs are idempotent (a reuse is a conflict that writes
 * nothing, the whole batch rolled back); redactions replace the stored
 * JSON; filters and the account-data stream; everything survives a
 * reopen; 8 threads persisting at once get distinct, increasing positions
 * without a gap; arguments breaking the contract are refused; rows that
 * fail validation when loaded are refused; and every query the back end
 * runs here uses an index (EXPLAIN QUERY PLAN).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "util/log.h"

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-ev-XXXXXX");
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

#define ROOM_A "!a:example.org"
#define ROOM_B "!b:example.org"
#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define CAROL "@carol:example.org"

/* Test events own their strings in fixed buffers: the store borrows them. */
struct test_event {
	struct store_event_new e;
	char event_id[64];
	char json[256];
};

static void ev_init(struct test_event *t, const char *event_id, const char *room_id,
                    const char *type, const char *state_key, const char *sender,
                    const char *body)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->event_id, sizeof(t->event_id), "%s", event_id);
	snprintf(t->json, sizeof(t->json),
	         "{\"event_id\":\"%s\",\"room_id\":\"%s\",\"type\":\"%s\",\"body\":\"%s\"}",
	         event_id, room_id, type, body != NULL ? body : "");
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

static void ev_member(struct test_event *t, const char *event_id, const char *room_id,
                      const char *user_id, const char *membership)
{
	ev_init(t, event_id, room_id, "m.room.member", user_id, user_id, membership);
	t->e.membership = membership;
}

/* Persist one event; its stream position. */
static int64_t persist1(struct store *st, struct test_event *t)
{
	int64_t pos = 0;

	assert_int_equal(store_events_persist(st, NULL, &t->e, 1, &pos), STORE_OK);
	assert_true(pos > 0);
	return pos;
}

static int64_t persist_member(struct store *st, const char *event_id, const char *room_id,
                              const char *user_id, const char *membership)
{
	struct test_event t;

	ev_member(&t, event_id, room_id, user_id, membership);
	return persist1(st, &t);
}

static int64_t persist_message(struct store *st, const char *event_id, const char *room_id,
                               const char *body)
{
	struct test_event t;

	ev_init(&t, event_id, room_id, "m.room.message", NULL, ALICE, body);
	return persist1(st, &t);
}

static int64_t persist_name(struct store *st, const char *event_id, const char *room_id,
                            const char *name)
{
	struct test_event t;

	ev_init(&t, event_id, room_id, "m.room.name", "", ALICE, name);
	return persist1(st, &t);
}

/* createRoom in one call: create, creator's join, power levels, join
 * rules, name. streams[] receives the five positions. */
static void create_room(struct store *st, const char *room_id, const char *tag,
                        int64_t streams[5])
{
	struct store_room_new room = { room_id, "11", ALICE, 1000 };
	struct test_event t[5];
	struct store_event_new rows[5];
	char id[64];

	snprintf(id, sizeof(id), "$%s-create", tag);
	ev_init(&t[0], id, room_id, "m.room.create", "", ALICE, "create");
	snprintf(id, sizeof(id), "$%s-join", tag);
	ev_member(&t[1], id, room_id, ALICE, "join");
	snprintf(id, sizeof(id), "$%s-pl", tag);
	ev_init(&t[2], id, room_id, "m.room.power_levels", "", ALICE, "pl");
	snprintf(id, sizeof(id), "$%s-jr", tag);
	ev_init(&t[3], id, room_id, "m.room.join_rules", "", ALICE, "public");
	snprintf(id, sizeof(id), "$%s-name", tag);
	ev_init(&t[4], id, room_id, "m.room.name", "", ALICE, "first name");
	for (int i = 0; i < 5; i++)
		rows[i] = t[i].e;
	assert_int_equal(store_events_persist(st, &room, rows, 5, streams), STORE_OK);
}

/* The event of a list with this (type, state_key), or NULL. */
static const struct store_event *state_find(const struct store_event_list *l, const char *type,
                                            const char *state_key)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].type, type) == 0 &&
		    strcmp(l->items[i].state_key, state_key) == 0)
			return &l->items[i];
	}
	return NULL;
}

/* ---- rooms and events ------------------------------------------------- */

static void test_persist_room(void **state)
{
	struct fixture *f = *state;
	struct store_room room;
	struct store_event e;
	int64_t s[5];

	assert_int_equal(store_stream_max(f->st), 0);
	create_room(f->st, ROOM_A, "a", s);
	/* the first positions, in the order given */
	for (int i = 0; i < 5; i++)
		assert_int_equal(s[i], i + 1);
	assert_int_equal(store_stream_max(f->st), 5);

	assert_int_equal(store_room_get(f->st, ROOM_A, &room), STORE_OK);
	assert_string_equal(room.room_id, ROOM_A);
	assert_string_equal(room.room_version, "11");
	assert_string_equal(room.creator, ALICE);
	assert_int_equal(room.created_ts, 1000);
	assert_false(room.published);
	store_room_clear(&room);
	assert_int_equal(store_room_get(f->st, ROOM_B, &room), STORE_NOT_FOUND);
	assert_null(room.room_id);

	assert_int_equal(store_event_get(f->st, "$a-join", &e), STORE_OK);
	assert_int_equal(e.stream, 2);
	assert_string_equal(e.event_id, "$a-join");
	assert_string_equal(e.room_id, ROOM_A);
	assert_string_equal(e.type, "m.room.member");
	assert_string_equal(e.state_key, ALICE);
	assert_string_equal(e.sender, ALICE);
	assert_int_equal(e.origin_ts, 1000);
	assert_non_null(strstr(e.json, "\"event_id\":\"$a-join\""));
	assert_null(e.prev_content);
	assert_null(e.redacted_by);
	assert_null(e.txn_id);
	assert_null(e.txn_device_id);
	store_event_clear(&e);
	assert_int_equal(store_event_get(f->st, "$nope", &e), STORE_NOT_FOUND);

	/* a message is not state */
	persist_message(f->st, "$m1", ROOM_A, "hello");
	assert_int_equal(store_event_get(f->st, "$m1", &e), STORE_OK);
	assert_null(e.state_key);
	assert_int_equal(e.stream, 6);
	store_event_clear(&e);

	/* the content a state event replaced is kept with it (unsigned.
	 * prev_content of the client format) */
	{
		struct test_event t;

		ev_init(&t, "$name2", ROOM_A, "m.room.name", "", ALICE, "second");
		t.e.prev_content = "{\"name\":\"first name\"}";
		t.e.origin_ts = -5;        /* another server's clock: stored as given */
		assert_int_equal(persist1(f->st, &t), 7);
		assert_int_equal(store_event_get(f->st, "$name2", &e), STORE_OK);
		assert_string_equal(e.prev_content, "{\"name\":\"first name\"}");
		assert_int_equal(e.origin_ts, -5);
		store_event_clear(&e);
	}

	/* the room ID is taken: conflict, and none of the batch is written */
	{
		int64_t s2[5] = { 7, 7, 7, 7, 7 };
		struct store_room_new again = { ROOM_A, "11", BOB, 5 };
		struct test_event t;

		ev_init(&t, "$fresh", ROOM_A, "m.room.create", "", BOB, "again");
		assert_int_equal(store_events_persist(f->st, &again, &t.e, 1, s2), STORE_CONFLICT);
		assert_int_equal(s2[0], 0);   /* no position for an unwritten event */
		assert_int_equal(store_event_get(f->st, "$fresh", &e), STORE_NOT_FOUND);
	}
	/* an event for a room never created */
	{
		struct test_event t;

		ev_init(&t, "$lost", ROOM_B, "m.room.message", NULL, BOB, "x");
		assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_NOT_FOUND);
	}
	assert_int_equal(store_stream_max(f->st), 7);
}

/* "the state before position P" is, per (type, state_key), the last state
 * event of the room with a position < P (store.h); at = 0 is now. */
static void test_state_at_positions(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l;
	struct store_event e;
	int64_t s[5], msg, name2, bob_join, name3;

	create_room(f->st, ROOM_A, "a", s);
	msg = persist_message(f->st, "$m1", ROOM_A, "hi");
	name2 = persist_name(f->st, "$name2", ROOM_A, "second name");
	bob_join = persist_member(f->st, "$bob-join", ROOM_A, BOB, "join");
	name3 = persist_name(f->st, "$name3", ROOM_A, "third name");
	/* another room's state never leaks in */
	create_room(f->st, ROOM_B, "b", s);

	/* before the first event: nothing */
	assert_int_equal(store_room_state(f->st, ROOM_A, 1, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	store_event_list_clear(&l);

	/* before the join rules (position 4): create, join, power levels */
	assert_int_equal(store_room_state(f->st, ROOM_A, 4, &l), STORE_OK);
	assert_int_equal(l.n, 3);
	/* ordered by type then state_key */
	assert_string_equal(l.items[0].type, "m.room.create");
	assert_string_equal(l.items[1].type, "m.room.member");
	assert_string_equal(l.items[2].type, "m.room.power_levels");
	store_event_list_clear(&l);

	/* before name2: the first name is in force */
	assert_int_equal(store_room_state(f->st, ROOM_A, name2, &l), STORE_OK);
	assert_int_equal(l.n, 5);
	assert_string_equal(state_find(&l, "m.room.name", "")->event_id, "$a-name");
	assert_null(state_find(&l, "m.room.member", BOB));
	store_event_list_clear(&l);

	/* before name3: name2 overrides, bob has joined */
	assert_int_equal(store_room_state(f->st, ROOM_A, name3, &l), STORE_OK);
	assert_int_equal(l.n, 6);
	assert_string_equal(state_find(&l, "m.room.name", "")->event_id, "$name2");
	assert_int_equal(state_find(&l, "m.room.member", BOB)->stream, bob_join);
	store_event_list_clear(&l);

	/* current: name3; equal to the state before any later position */
	assert_int_equal(store_room_state(f->st, ROOM_A, 0, &l), STORE_OK);
	assert_int_equal(l.n, 6);
	assert_string_equal(state_find(&l, "m.room.name", "")->event_id, "$name3");
	assert_true(strstr(state_find(&l, "m.room.name", "")->json, "third name") != NULL);
	for (size_t i = 0; i < l.n; i++)
		assert_string_equal(l.items[i].room_id, ROOM_A);
	store_event_list_clear(&l);
	assert_int_equal(store_room_state(f->st, ROOM_A, name3 + 1, &l), STORE_OK);
	assert_int_equal(l.n, 6);
	assert_string_equal(state_find(&l, "m.room.name", "")->event_id, "$name3");
	store_event_list_clear(&l);

	/* single entries */
	assert_int_equal(store_room_state_get(f->st, ROOM_A, 0, "m.room.name", "", &e), STORE_OK);
	assert_string_equal(e.event_id, "$name3");
	store_event_clear(&e);
	assert_int_equal(store_room_state_get(f->st, ROOM_A, name3, "m.room.name", "", &e),
	                 STORE_OK);
	assert_string_equal(e.event_id, "$name2");
	store_event_clear(&e);
	assert_int_equal(store_room_state_get(f->st, ROOM_A, msg, "m.room.name", "", &e), STORE_OK);
	assert_string_equal(e.event_id, "$a-name");
	store_event_clear(&e);
	assert_int_equal(store_room_state_get(f->st, ROOM_A, bob_join, "m.room.member", BOB, &e),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_room_state_get(f->st, ROOM_A, 0, "m.room.member", BOB, &e),
	                 STORE_OK);
	assert_string_equal(e.event_id, "$bob-join");
	store_event_clear(&e);
	assert_int_equal(store_room_state_get(f->st, ROOM_A, 0, "m.room.topic", "", &e),
	                 STORE_NOT_FOUND);
	/* a state_key is a key: "" and " " differ */
	assert_int_equal(store_room_state_get(f->st, ROOM_A, 0, "m.room.name", " ", &e),
	                 STORE_NOT_FOUND);
	/* an unknown room has no state (not an error) */
	assert_int_equal(store_room_state(f->st, "!none:x", 0, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	store_event_list_clear(&l);
}

static void test_room_events_ranges(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l;
	int64_t s[5], m[10];
	char id[32];

	create_room(f->st, ROOM_A, "a", s);
	create_room(f->st, ROOM_B, "b", s);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "$m%d", i);
		m[i] = persist_message(f->st, id, i % 2 == 0 ? ROOM_A : ROOM_B, "x");
	}
	/* room A: 5 state events (1..5) and m0 m2 m4 m6 m8 */

	/* forwards from the start, limited */
	assert_int_equal(store_room_events(f->st, ROOM_A, 0, 0, 3, false, &l), STORE_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.items[0].stream, 1);
	assert_int_equal(l.items[2].stream, 3);
	store_event_list_clear(&l);
	/* forwards, from excluded, to included, only room A */
	assert_int_equal(store_room_events(f->st, ROOM_A, m[0], m[6], 100, false, &l), STORE_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[0].event_id, "$m2");
	assert_string_equal(l.items[1].event_id, "$m4");
	assert_string_equal(l.items[2].event_id, "$m6");
	store_event_list_clear(&l);
	/* backwards from the end: the last `limit`, newest first */
	assert_int_equal(store_room_events(f->st, ROOM_A, 0, 0, 2, true, &l), STORE_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[0].event_id, "$m8");
	assert_string_equal(l.items[1].event_id, "$m6");
	store_event_list_clear(&l);
	/* backwards from `to` (included) down to `from` (excluded) */
	assert_int_equal(store_room_events(f->st, ROOM_A, m[2], m[6], 10, true, &l), STORE_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[0].event_id, "$m6");
	assert_string_equal(l.items[1].event_id, "$m4");
	store_event_list_clear(&l);
	/* the whole room: 10 events, ascending */
	assert_int_equal(store_room_events(f->st, ROOM_B, 0, 0, 100, false, &l), STORE_OK);
	assert_int_equal(l.n, 10);
	for (size_t i = 1; i < l.n; i++)
		assert_true(l.items[i].stream > l.items[i - 1].stream);
	assert_string_equal(l.items[9].event_id, "$m9");
	store_event_list_clear(&l);
	/* empty ranges: past the end, to <= from, limit 0, unknown room */
	assert_int_equal(store_room_events(f->st, ROOM_A, m[9], 0, 10, false, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_room_events(f->st, ROOM_A, m[6], m[6], 10, true, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_room_events(f->st, ROOM_A, 0, 0, 0, false, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_room_events(f->st, "!none:x", 0, 0, 10, false, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	/* a huge limit is lowered, not refused */
	assert_int_equal(store_room_events(f->st, ROOM_A, 0, 0, SIZE_MAX, false, &l), STORE_OK);
	assert_int_equal(l.n, 10);
	store_event_list_clear(&l);
	/* negative positions are refused */
	assert_int_equal(store_room_events(f->st, ROOM_A, -1, 0, 10, false, &l), STORE_ERROR);
	assert_int_equal(store_room_events(f->st, ROOM_A, 0, -5, 10, false, &l), STORE_ERROR);
}

/* ---- memberships ------------------------------------------------------ */

static void test_memberships(void **state)
{
	struct fixture *f = *state;
	struct store_membership_list l;
	int64_t s[5], inv, j1, lv, j2, ban;

	create_room(f->st, ROOM_A, "a", s);
	create_room(f->st, ROOM_B, "b", s);
	inv = persist_member(f->st, "$bob-inv", ROOM_A, BOB, "invite");
	j1 = persist_member(f->st, "$bob-j1", ROOM_A, BOB, "join");
	lv = persist_member(f->st, "$bob-lv", ROOM_A, BOB, "leave");
	persist_member(f->st, "$bob-b", ROOM_B, BOB, "knock");
	j2 = persist_member(f->st, "$bob-j2", ROOM_A, BOB, "join");
	ban = persist_member(f->st, "$carol-ban", ROOM_A, CAROL, "ban");

	/* the history, oldest first: what the visibility rules walk */
	assert_int_equal(store_membership_history(f->st, ROOM_A, BOB, &l), STORE_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.items[0].membership, "invite");
	assert_int_equal(l.items[0].stream, inv);
	assert_string_equal(l.items[1].membership, "join");
	assert_int_equal(l.items[1].stream, j1);
	assert_string_equal(l.items[2].membership, "leave");
	assert_int_equal(l.items[2].stream, lv);
	assert_string_equal(l.items[3].membership, "join");
	assert_string_equal(l.items[3].event_id, "$bob-j2");
	for (size_t i = 0; i < l.n; i++) {
		assert_string_equal(l.items[i].room_id, ROOM_A);
		assert_string_equal(l.items[i].user_id, BOB);
	}
	store_membership_list_clear(&l);
	assert_int_equal(store_membership_history(f->st, ROOM_B, CAROL, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	store_membership_list_clear(&l);

	/* current memberships of a user, one per room, by room ID */
	assert_int_equal(store_user_memberships(f->st, BOB, &l), STORE_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[0].room_id, ROOM_A);
	assert_string_equal(l.items[0].membership, "join");
	assert_int_equal(l.items[0].stream, j2);
	assert_string_equal(l.items[1].room_id, ROOM_B);
	assert_string_equal(l.items[1].membership, "knock");
	store_membership_list_clear(&l);
	assert_int_equal(store_user_memberships(f->st, CAROL, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].membership, "ban");
	assert_int_equal(l.items[0].stream, ban);
	store_membership_list_clear(&l);
	assert_int_equal(store_user_memberships(f->st, "@nobody:x", &l), STORE_OK);
	assert_int_equal(l.n, 0);

	/* members of a room, all or one membership, by user ID */
	assert_int_equal(store_room_members(f->st, ROOM_A, NULL, &l), STORE_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[0].user_id, ALICE);
	assert_string_equal(l.items[1].user_id, BOB);
	assert_string_equal(l.items[2].user_id, CAROL);
	store_membership_list_clear(&l);
	assert_int_equal(store_room_members(f->st, ROOM_A, "join", &l), STORE_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[1].user_id, BOB);
	store_membership_list_clear(&l);
	assert_int_equal(store_room_members(f->st, ROOM_A, "invite", &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_room_members(f->st, ROOM_A, "joined", &l), STORE_ERROR);
}

static void test_rooms_changed_since(void **state)
{
	struct fixture *f = *state;
	struct store_membership_list l;
	/* more IDs than one statement binds (500), the real ones far apart */
	enum { N = 1234 };
	const char **ids = calloc(N, sizeof(*ids));
	char (*buf)[32] = calloc(N, sizeof(*buf));
	int64_t s[5], since, last_a, last_c;

	assert_non_null(ids);
	assert_non_null(buf);
	for (int i = 0; i < N; i++) {
		snprintf(buf[i], sizeof(buf[i]), "!r%d:x", i);
		ids[i] = buf[i];
	}
	ids[3] = ROOM_A;
	ids[700] = ROOM_B;
	ids[1201] = "!c:example.org";
	create_room(f->st, ROOM_A, "a", s);
	create_room(f->st, ROOM_B, "b", s);
	create_room(f->st, "!c:example.org", "c", s);
	since = store_stream_max(f->st);
	persist_message(f->st, "$a1", ROOM_A, "x");
	last_a = persist_message(f->st, "$a2", ROOM_A, "x");
	last_c = persist_message(f->st, "$c1", "!c:example.org", "x");

	assert_int_equal(store_rooms_changed_since(f->st, ids, N, since, &l), STORE_OK);
	assert_int_equal(l.n, 2);
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.items[i].room_id, ROOM_A) == 0) {
			assert_int_equal(l.items[i].stream, last_a);
		} else {
			assert_string_equal(l.items[i].room_id, "!c:example.org");
			assert_int_equal(l.items[i].stream, last_c);
		}
	}
	store_membership_list_clear(&l);
	/* since 0: every listed room with an event */
	assert_int_equal(store_rooms_changed_since(f->st, ids, N, 0, &l), STORE_OK);
	assert_int_equal(l.n, 3);
	store_membership_list_clear(&l);
	/* nothing after the newest position */
	assert_int_equal(store_rooms_changed_since(f->st, ids, N, last_c, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	/* a room not in the list is not reported */
	assert_int_equal(store_rooms_changed_since(f->st, ids, 3, since, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_rooms_changed_since(f->st, ids, 0, since, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	/* a bad ID anywhere in the list refuses the call */
	ids[900] = "not-a-room";
	assert_int_equal(store_rooms_changed_since(f->st, ids, N, since, &l), STORE_ERROR);
	assert_int_equal(store_rooms_changed_since(f->st, NULL, 2, since, &l), STORE_ERROR);
	free(ids);
	free(buf);
}

/* ---- transactions and redactions -------------------------------------- */

static void test_txn_idempotency(void **state)
{
	struct fixture *f = *state;
	struct test_event t;
	struct store_event e;
	char *id = NULL;
	int64_t s[5], before;

	create_room(f->st, ROOM_A, "a", s);
	ev_init(&t, "$sent1", ROOM_A, "m.room.message", NULL, ALICE, "once");
	t.e.txn_id = "txn-1";
	t.e.txn_device_id = "PHONE";
	persist1(f->st, &t);
	assert_int_equal(store_txn_get(f->st, ALICE, "PHONE", "txn-1", &id), STORE_OK);
	assert_string_equal(id, "$sent1");
	free(id);
	assert_int_equal(store_event_get(f->st, "$sent1", &e), STORE_OK);
	assert_string_equal(e.txn_id, "txn-1");
	assert_string_equal(e.txn_device_id, "PHONE");
	store_event_clear(&e);

	/* the same (user, device, txn) again: a conflict, nothing written */
	before = store_stream_max(f->st);
	ev_init(&t, "$sent2", ROOM_A, "m.room.message", NULL, ALICE, "twice");
	t.e.txn_id = "txn-1";
	t.e.txn_device_id = "PHONE";
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_CONFLICT);
	assert_int_equal(store_event_get(f->st, "$sent2", &e), STORE_NOT_FOUND);
	assert_int_equal(store_stream_max(f->st), before);

	/* the key is (user, device, txn): another device or user is new */
	t.e.txn_device_id = "LAPTOP";
	persist1(f->st, &t);
	ev_init(&t, "$sent3", ROOM_A, "m.room.message", NULL, BOB, "bob");
	t.e.txn_id = "txn-1";
	t.e.txn_device_id = "PHONE";
	persist1(f->st, &t);
	assert_int_equal(store_txn_get(f->st, ALICE, "LAPTOP", "txn-1", &id), STORE_OK);
	assert_string_equal(id, "$sent2");
	free(id);
	assert_int_equal(store_txn_get(f->st, BOB, "PHONE", "txn-1", &id), STORE_OK);
	assert_string_equal(id, "$sent3");
	free(id);
	assert_int_equal(store_txn_get(f->st, ALICE, "PHONE", "txn-2", &id), STORE_NOT_FOUND);
	assert_null(id);
	assert_int_equal(store_txn_get(f->st, ALICE, "PHONE", "", &id), STORE_ERROR);

	/* an event ID reused: conflict */
	ev_init(&t, "$sent1", ROOM_A, "m.room.message", NULL, ALICE, "dup");
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_CONFLICT);
}

/* A conflict on the last event of a batch undoes the whole batch: the
 * room, the earlier events, their state and memberships. */
static void test_batch_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct store_room_new room = { ROOM_B, "11", BOB, 5 };
	struct store_membership_list ml;
	struct store_event_list l;
	struct store_room r;
	struct test_event t[3];
	struct store_event_new rows[3];
	int64_t s[5], streams[3];

	create_room(f->st, ROOM_A, "a", s);
	ev_init(&t[0], "$b-create", ROOM_B, "m.room.create", "", BOB, "c");
	ev_member(&t[1], "$b-join", ROOM_B, BOB, "join");
	ev_init(&t[2], "$a-create", ROOM_B, "m.room.message", NULL, BOB, "taken ID");
	for (int i = 0; i < 3; i++)
		rows[i] = t[i].e;
	assert_int_equal(store_events_persist(f->st, &room, rows, 3, streams), STORE_CONFLICT);
	assert_int_equal(store_room_get(f->st, ROOM_B, &r), STORE_NOT_FOUND);
	assert_int_equal(store_room_state(f->st, ROOM_B, 0, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_user_memberships(f->st, BOB, &ml), STORE_OK);
	assert_int_equal(ml.n, 0);
	assert_int_equal(store_stream_max(f->st), 5);

	/* fixed, the same batch goes in whole; AUTOINCREMENT hands out the
	 * positions the rolled-back batch did not keep */
	snprintf(t[2].event_id, sizeof(t[2].event_id), "$b-msg");
	rows[2] = t[2].e;
	assert_int_equal(store_events_persist(f->st, &room, rows, 3, streams), STORE_OK);
	assert_int_equal(streams[0], 6);
	assert_int_equal(streams[2], 8);
	assert_int_equal(store_user_memberships(f->st, BOB, &ml), STORE_OK);
	assert_int_equal(ml.n, 1);
	store_membership_list_clear(&ml);
}

static void test_redaction(void **state)
{
	struct fixture *f = *state;
	struct test_event t;
	struct store_event e;
	int64_t s[5];

	create_room(f->st, ROOM_A, "a", s);
	create_room(f->st, ROOM_B, "b", s);
	persist_message(f->st, "$secret", ROOM_A, "my password is hunter2");
	persist_message(f->st, "$other", ROOM_B, "in another room");

	ev_init(&t, "$redact1", ROOM_A, "m.room.redaction", NULL, ALICE, "");
	t.e.redacts = "$secret";
	t.e.redacted_json = "{\"event_id\":\"$secret\",\"content\":{}}";
	persist1(f->st, &t);
	assert_int_equal(store_event_get(f->st, "$secret", &e), STORE_OK);
	assert_string_equal(e.json, "{\"event_id\":\"$secret\",\"content\":{}}");
	assert_null(strstr(e.json, "hunter2"));
	assert_string_equal(e.redacted_by, "$redact1");
	store_event_clear(&e);

	/* a second redaction: the first stays recorded */
	ev_init(&t, "$redact2", ROOM_A, "m.room.redaction", NULL, ALICE, "");
	t.e.redacts = "$secret";
	t.e.redacted_json = "{\"event_id\":\"$secret\",\"content\":{}}";
	persist1(f->st, &t);
	assert_int_equal(store_event_get(f->st, "$secret", &e), STORE_OK);
	assert_string_equal(e.redacted_by, "$redact1");
	store_event_clear(&e);

	/* a redaction never reaches into another room, and one whose target
	 * is unknown is stored all the same */
	ev_init(&t, "$redact3", ROOM_A, "m.room.redaction", NULL, ALICE, "");
	t.e.redacts = "$other";
	t.e.redacted_json = "{}";
	persist1(f->st, &t);
	assert_int_equal(store_event_get(f->st, "$other", &e), STORE_OK);
	assert_non_null(strstr(e.json, "in another room"));
	assert_null(e.redacted_by);
	store_event_clear(&e);
	ev_init(&t, "$redact4", ROOM_A, "m.room.redaction", NULL, ALICE, "");
	t.e.redacts = "$not-yet-seen";
	t.e.redacted_json = "{}";
	persist1(f->st, &t);
	assert_int_equal(store_event_get(f->st, "$redact4", &e), STORE_OK);
	store_event_clear(&e);
}

/* ---- refused arguments ------------------------------------------------ */

static enum store_result persist_bad(struct store *st, struct test_event *t)
{
	return store_events_persist(st, NULL, &t->e, 1, NULL);
}

static void test_arguments_refused(void **state)
{
	struct fixture *f = *state;
	static char big[STORE_EVENT_MAX_BYTES + 2];
	char long_id[300];
	struct test_event t;
	struct store_event e;
	struct store_event_list l;
	int64_t s[5];

	create_room(f->st, ROOM_A, "a", s);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[0] = '$';
	long_id[sizeof(long_id) - 1] = '\0';

#define BAD(stmt) do { ev_init(&t, "$bad", ROOM_A, "m.room.message", NULL, ALICE, "x"); \
		stmt; assert_int_equal(persist_bad(f->st, &t), STORE_ERROR); } while (0)
	BAD(t.e.event_id = "no-sigil");
	BAD(t.e.event_id = long_id);                 /* over 255 bytes */
	BAD(t.e.room_id = "#alias:x");
	BAD(t.e.sender = "alice");
	BAD(t.e.type = "");
	BAD(t.e.json = NULL);
	BAD(t.e.json_len = 0);
	BAD(t.e.json_len = STORE_EVENT_MAX_BYTES + 1; t.e.json = big);
	BAD(t.json[3] = '\0');                       /* a NUL inside json_len */
	BAD(t.e.membership = "join");                /* not a member event */
	BAD(t.e.txn_id = "t");                       /* txn without its device */
	BAD(t.e.txn_device_id = "D");
	BAD(t.e.redacts = "$x");                     /* redaction without its JSON */
	BAD(t.e.redacted_json = "{}");
	BAD(t.e.state_key = long_id);
	/* a member event needs a known membership and a user as state_key */
	BAD(t.e.type = "m.room.member"; t.e.state_key = BOB);
	BAD(t.e.type = "m.room.member"; t.e.state_key = BOB; t.e.membership = "joined");
	BAD(t.e.type = "m.room.member"; t.e.state_key = "bob"; t.e.membership = "join");
#undef BAD
	memset(big, 'a', sizeof(big) - 1);
	ev_init(&t, "$bad", ROOM_A, "m.room.message", NULL, ALICE, "x");
	t.e.prev_content = big;
	assert_int_equal(persist_bad(f->st, &t), STORE_ERROR);
	/* nothing of it was written */
	assert_int_equal(store_event_get(f->st, "$bad", &e), STORE_NOT_FOUND);
	assert_int_equal(store_stream_max(f->st), 5);

	/* the batch itself */
	ev_init(&t, "$ok", ROOM_A, "m.room.message", NULL, ALICE, "x");
	assert_int_equal(store_events_persist(f->st, NULL, NULL, 1, NULL), STORE_ERROR);
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 0, NULL), STORE_ERROR);
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, STORE_PERSIST_MAX + 1, NULL),
	                 STORE_ERROR);
	assert_int_equal(store_events_persist(NULL, NULL, &t.e, 1, NULL), STORE_ERROR);
	{
		struct store_room_new r = { "!new:x", "", ALICE, 1 };
		assert_int_equal(store_events_persist(f->st, &r, NULL, 0, NULL), STORE_ERROR);
		r.room_version = "11";
		r.creator = "alice";
		assert_int_equal(store_events_persist(f->st, &r, NULL, 0, NULL), STORE_ERROR);
		r.creator = ALICE;
		r.created_ts = -1;
		assert_int_equal(store_events_persist(f->st, &r, NULL, 0, NULL), STORE_ERROR);
		/* a room alone (no events yet) is allowed */
		r.created_ts = 1;
		assert_int_equal(store_events_persist(f->st, &r, NULL, 0, NULL), STORE_OK);
	}

	/* reads */
	assert_int_equal(store_event_get(f->st, "nope", &e), STORE_ERROR);
	assert_int_equal(store_event_get(f->st, NULL, &e), STORE_ERROR);
	assert_int_equal(store_room_state(f->st, ROOM_A, -1, &l), STORE_ERROR);
	assert_int_equal(store_room_state(f->st, "a", 0, &l), STORE_ERROR);
	assert_int_equal(store_room_state_get(f->st, ROOM_A, 0, "m.room.name", NULL, &e),
	                 STORE_ERROR);
	assert_int_equal(store_room_state(f->st, ROOM_A, 0, NULL), STORE_ERROR);
	assert_int_equal(store_stream_max(NULL), -1);
	assert_int_equal(store_account_data_stream_max(NULL), -1);
}

/* "The complete event MUST NOT be larger than 65536 bytes" (Client-Server
 * API, Size limits): exactly the limit is stored and read back whole, one
 * byte more is refused. */
static void test_event_size_boundary(void **state)
{
	struct fixture *f = *state;
	char *json = malloc(STORE_EVENT_MAX_BYTES + 2);
	struct test_event t;
	struct store_event e;
	int64_t s[5];

	assert_non_null(json);
	create_room(f->st, ROOM_A, "a", s);
	memset(json, ' ', STORE_EVENT_MAX_BYTES + 1);
	json[0] = '{';
	json[STORE_EVENT_MAX_BYTES - 1] = '}';
	json[STORE_EVENT_MAX_BYTES] = '}';
	json[STORE_EVENT_MAX_BYTES + 1] = '\0';
	ev_init(&t, "$big", ROOM_A, "m.room.message", NULL, ALICE, "");
	t.e.json = json;
	t.e.json_len = STORE_EVENT_MAX_BYTES + 1;
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_ERROR);
	/* json_len bounds what is read: the byte after it is not stored */
	t.e.json_len = STORE_EVENT_MAX_BYTES;
	persist1(f->st, &t);
	assert_int_equal(store_event_get(f->st, "$big", &e), STORE_OK);
	assert_int_equal(strlen(e.json), STORE_EVENT_MAX_BYTES);
	assert_memory_equal(e.json, json, STORE_EVENT_MAX_BYTES);
	store_event_clear(&e);
	free(json);
}

/* ---- published rooms -------------------------------------------------- */

static void test_published(void **state)
{
	struct fixture *f = *state;
	struct store_room room;
	char **ids = NULL;
	size_t n = 0;
	int64_t s[5];

	create_room(f->st, ROOM_A, "a", s);
	create_room(f->st, ROOM_B, "b", s);
	create_room(f->st, "!c:example.org", "c", s);
	assert_int_equal(store_rooms_published(f->st, NULL, 10, &ids, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_room_ids_free(ids, n);

	assert_int_equal(store_room_set_published(f->st, "!c:example.org", true), STORE_OK);
	assert_int_equal(store_room_set_published(f->st, ROOM_A, true), STORE_OK);
	assert_int_equal(store_room_set_published(f->st, "!zzz:x", true), STORE_NOT_FOUND);
	assert_int_equal(store_room_get(f->st, ROOM_A, &room), STORE_OK);
	assert_true(room.published);
	store_room_clear(&room);

	/* pages ordered by room ID */
	assert_int_equal(store_rooms_published(f->st, NULL, 1, &ids, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], ROOM_A);
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_published(f->st, ROOM_A, 1, &ids, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "!c:example.org");
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_published(f->st, "!c:example.org", 10, &ids, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_room_ids_free(ids, n);

	/* unpublished again */
	assert_int_equal(store_room_set_published(f->st, ROOM_A, false), STORE_OK);
	assert_int_equal(store_rooms_published(f->st, NULL, 10, &ids, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "!c:example.org");
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_published(f->st, NULL, 10, NULL, &n), STORE_ERROR);
}

/* ---- filters and account data ----------------------------------------- */

static void test_filters(void **state)
{
	struct fixture *f = *state;
	char *id = NULL, *json = NULL;

	/* "filter_id: The ID of the filter that was created. Cannot start
	 * with a { as this character is used to determine if the filter
	 * provided is inline JSON" (Client-Server API, POST /user/{userId}/
	 * filter): ours are decimal. */
	assert_int_equal(store_filter_put(f->st, ALICE, "{\"room\":{}}", &id), STORE_OK);
	assert_string_equal(id, "0");
	free(id);
	assert_int_equal(store_filter_put(f->st, ALICE, "{\"presence\":{}}", &id), STORE_OK);
	assert_string_equal(id, "1");
	free(id);
	/* IDs are per user */
	assert_int_equal(store_filter_put(f->st, BOB, "{}", &id), STORE_OK);
	assert_string_equal(id, "0");
	free(id);

	assert_int_equal(store_filter_get(f->st, ALICE, "1", &json), STORE_OK);
	assert_string_equal(json, "{\"presence\":{}}");
	free(json);
	assert_int_equal(store_filter_get(f->st, BOB, "0", &json), STORE_OK);
	assert_string_equal(json, "{}");
	free(json);
	/* another user's filter, an unknown one, and IDs we never issue */
	assert_int_equal(store_filter_get(f->st, BOB, "1", &json), STORE_NOT_FOUND);
	assert_null(json);
	assert_int_equal(store_filter_get(f->st, ALICE, "2", &json), STORE_NOT_FOUND);
	assert_int_equal(store_filter_get(f->st, ALICE, "01", &json), STORE_NOT_FOUND);
	assert_int_equal(store_filter_get(f->st, ALICE, "1x", &json), STORE_NOT_FOUND);
	assert_int_equal(store_filter_get(f->st, ALICE, "", &json), STORE_NOT_FOUND);
	assert_int_equal(store_filter_get(f->st, ALICE, "-1", &json), STORE_NOT_FOUND);
	assert_int_equal(store_filter_get(f->st, ALICE, "99999999999999999999999", &json),
	                 STORE_NOT_FOUND);
	/* refused */
	assert_int_equal(store_filter_get(f->st, ALICE, NULL, &json), STORE_ERROR);
	assert_int_equal(store_filter_put(f->st, "alice", "{}", &id), STORE_ERROR);
	assert_int_equal(store_filter_put(f->st, ALICE, "", &id), STORE_ERROR);
	assert_int_equal(store_filter_put(f->st, ALICE, NULL, &id), STORE_ERROR);
	assert_null(id);
}

static void test_account_data(void **state)
{
	struct fixture *f = *state;
	struct store_account_data_list l;
	char *json = NULL;
	int64_t s1, s2, s3, s4;

	assert_int_equal(store_account_data_stream_max(f->st), 0);
	assert_int_equal(store_account_data_put(f->st, ALICE, NULL, "m.direct", "{\"a\":1}", &s1),
	                 STORE_OK);
	assert_int_equal(store_account_data_put(f->st, ALICE, ROOM_A, "m.tag", "{\"t\":1}", &s2),
	                 STORE_OK);
	assert_int_equal(store_account_data_put(f->st, BOB, NULL, "m.direct", "{\"b\":1}", &s3),
	                 STORE_OK);
	/* one stream for every user, increasing */
	assert_int_equal(s1, 1);
	assert_int_equal(s2, 2);
	assert_int_equal(s3, 3);
	/* an overwrite takes a new position */
	assert_int_equal(store_account_data_put(f->st, ALICE, NULL, "m.direct", "{\"a\":2}", &s4),
	                 STORE_OK);
	assert_int_equal(s4, 4);
	assert_int_equal(store_account_data_stream_max(f->st), 4);

	assert_int_equal(store_account_data_get(f->st, ALICE, NULL, "m.direct", &json), STORE_OK);
	assert_string_equal(json, "{\"a\":2}");
	free(json);
	assert_int_equal(store_account_data_get(f->st, ALICE, ROOM_A, "m.tag", &json), STORE_OK);
	assert_string_equal(json, "{\"t\":1}");
	free(json);
	/* global and per-room entries of the same type are distinct */
	assert_int_equal(store_account_data_get(f->st, ALICE, NULL, "m.tag", &json),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_account_data_get(f->st, ALICE, ROOM_B, "m.tag", &json),
	                 STORE_NOT_FOUND);
	assert_null(json);

	/* everything of alice since 0: the room tag, then the rewritten direct */
	assert_int_equal(store_account_data_since(f->st, ALICE, 0, &l), STORE_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[0].room_id, ROOM_A);
	assert_string_equal(l.items[0].type, "m.tag");
	assert_int_equal(l.items[0].stream, 2);
	assert_null(l.items[1].room_id);
	assert_string_equal(l.items[1].json, "{\"a\":2}");
	assert_int_equal(l.items[1].stream, 4);
	store_account_data_list_clear(&l);
	assert_int_equal(store_account_data_since(f->st, ALICE, 2, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].stream, 4);
	store_account_data_list_clear(&l);
	assert_int_equal(store_account_data_since(f->st, ALICE, 4, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_account_data_since(f->st, BOB, 0, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	store_account_data_list_clear(&l);

	/* refused */
	assert_int_equal(store_account_data_put(f->st, ALICE, "room", "m.tag", "{}", &s1),
	                 STORE_ERROR);
	assert_int_equal(store_account_data_put(f->st, ALICE, NULL, "", "{}", &s1), STORE_ERROR);
	assert_int_equal(store_account_data_put(f->st, ALICE, NULL, "t", NULL, &s1), STORE_ERROR);
	assert_int_equal(s1, 0);
	assert_int_equal(store_account_data_since(f->st, ALICE, -1, &l), STORE_ERROR);
	assert_int_equal(store_account_data_stream_max(f->st), 4);
}

/* ---- reopen ----------------------------------------------------------- */

static void test_reopen_keeps_everything(void **state)
{
	struct fixture *f = *state;
	struct store_membership_list ml;
	struct store_event_list l;
	struct store_event e;
	struct test_event t;
	char *json = NULL, *id = NULL;
	int64_t s[5], pos;

	create_room(f->st, ROOM_A, "a", s);
	persist_member(f->st, "$bob-join", ROOM_A, BOB, "join");
	ev_init(&t, "$msg", ROOM_A, "m.room.message", NULL, BOB, "kept");
	t.e.txn_id = "t1";
	t.e.txn_device_id = "DEV";
	t.e.prev_content = NULL;
	persist1(f->st, &t);
	persist_name(f->st, "$name2", ROOM_A, "renamed");
	assert_int_equal(store_filter_put(f->st, BOB, "{\"f\":1}", &id), STORE_OK);
	free(id);
	assert_int_equal(store_account_data_put(f->st, BOB, NULL, "x.y", "{}", &pos), STORE_OK);
	assert_int_equal(store_room_set_published(f->st, ROOM_A, true), STORE_OK);

	reopen(f);
	assert_int_equal(store_stream_max(f->st), 8);
	assert_int_equal(store_event_get(f->st, "$msg", &e), STORE_OK);
	assert_non_null(strstr(e.json, "kept"));
	store_event_clear(&e);
	assert_int_equal(store_txn_get(f->st, BOB, "DEV", "t1", &id), STORE_OK);
	assert_string_equal(id, "$msg");
	free(id);
	assert_int_equal(store_room_state(f->st, ROOM_A, 0, &l), STORE_OK);
	assert_int_equal(l.n, 6);
	assert_string_equal(state_find(&l, "m.room.name", "")->event_id, "$name2");
	store_event_list_clear(&l);
	assert_int_equal(store_room_members(f->st, ROOM_A, "join", &ml), STORE_OK);
	assert_int_equal(ml.n, 2);
	store_membership_list_clear(&ml);
	assert_int_equal(store_filter_get(f->st, BOB, "0", &json), STORE_OK);
	assert_string_equal(json, "{\"f\":1}");
	free(json);
	assert_int_equal(store_account_data_stream_max(f->st), 1);
	/* both streams continue after a reopen */
	assert_int_equal(persist_message(f->st, "$after", ROOM_A, "x"), 9);
	assert_int_equal(store_account_data_put(f->st, BOB, NULL, "x.z", "{}", &pos), STORE_OK);
	assert_int_equal(pos, 2);
}

/* ---- concurrency ------------------------------------------------------ */

#define PERSISTERS 8
#define PERSISTS_EACH 40

struct persist_arg {
	struct store *st;
	int thread;
	int64_t streams[PERSISTS_EACH];
	int failures;
};

static void *persist_thread(void *p)
{
	struct persist_arg *a = p;
	struct test_event t;
	char id[64];

	for (int i = 0; i < PERSISTS_EACH; i++) {
		snprintf(id, sizeof(id), "$t%d-%d", a->thread, i);
		ev_init(&t, id, ROOM_A, "m.room.message", NULL, ALICE, "c");
		if (store_events_persist(a->st, NULL, &t.e, 1, &a->streams[i]) != STORE_OK)
			a->failures++;
	}
	return NULL;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

static void test_concurrent_persists(void **state)
{
	struct fixture *f = *state;
	static struct persist_arg args[PERSISTERS];
	int64_t all[PERSISTERS * PERSISTS_EACH];
	struct store_event_list l;
	pthread_t th[PERSISTERS];
	int64_t s[5], base;
	size_t k = 0;

	create_room(f->st, ROOM_A, "a", s);
	base = store_stream_max(f->st);
	for (int i = 0; i < PERSISTERS; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].st = f->st;
		args[i].thread = i;
		assert_int_equal(pthread_create(&th[i], NULL, persist_thread, &args[i]), 0);
	}
	for (int i = 0; i < PERSISTERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
		/* each thread's positions increase in its own order */
		for (int j = 0; j < PERSISTS_EACH; j++) {
			if (j > 0)
				assert_true(args[i].streams[j] > args[i].streams[j - 1]);
			all[k++] = args[i].streams[j];
		}
	}
	/* together: exactly base+1 .. base+N, each once (distinct, no gap) */
	qsort(all, k, sizeof(all[0]), cmp_i64);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(all[i], base + 1 + (int64_t)i);
	assert_int_equal(store_stream_max(f->st), base + (int64_t)k);
	/* and the room reads them back in that order */
	assert_int_equal(store_room_events(f->st, ROOM_A, base, 0, 1000, false, &l), STORE_OK);
	assert_int_equal(l.n, k);
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.items[i].stream, base + 1 + (int64_t)i);
	store_event_list_clear(&l);
}

struct one_persist {
	struct store *st;
	enum store_result result;
	int64_t stream;
};

static void *one_persist_thread(void *p)
{
	struct one_persist *a = p;
	struct test_event t;

	ev_init(&t, "$late", ROOM_A, "m.room.message", NULL, ALICE, "late");
	a->result = store_events_persist(a->st, NULL, &t.e, 1, &a->stream);
	return NULL;
}

/* store_stream_max never reports a position before its event is
 * committed: while the writer waits for a lock held elsewhere, readers
 * still see the old maximum and not the event. */
static void test_stream_max_only_committed(void **state)
{
	struct fixture *f = *state;
	struct one_persist a = { f->st, STORE_ERROR, 0 };
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	struct store_event e;
	sqlite3 *db = NULL;
	pthread_t th;
	int64_t s[5], before;

	create_room(f->st, ROOM_A, "a", s);
	before = store_stream_max(f->st);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(pthread_create(&th, NULL, one_persist_thread, &a), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(store_stream_max(f->st), before);
	assert_int_equal(store_event_get(f->st, "$late", &e), STORE_NOT_FOUND);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.result, STORE_OK);
	assert_int_equal(a.stream, before + 1);
	assert_int_equal(store_stream_max(f->st), before + 1);
}

/* A failure after the event row went in (here the membership insert,
 * made to fail by a trigger) rolls back the whole batch: STORE_ERROR,
 * no event, no state, no position used. */
static void test_failure_mid_batch(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l;
	struct store_event e;
	struct test_event t[2];
	struct store_event_new rows[2];
	int64_t s[5], before;

	create_room(f->st, ROOM_A, "a", s);
	before = store_stream_max(f->st);
	raw_exec(f->path, "CREATE TRIGGER fail_members BEFORE INSERT ON memberships "
	                  "BEGIN SELECT RAISE(ABORT, 'planted failure'); END");
	ev_init(&t[0], "$topic", ROOM_A, "m.room.topic", "", ALICE, "t");
	ev_member(&t[1], "$bob", ROOM_A, BOB, "join");
	rows[0] = t[0].e;
	rows[1] = t[1].e;
	assert_int_equal(store_events_persist(f->st, NULL, rows, 2, NULL), STORE_ERROR);
	assert_int_equal(store_event_get(f->st, "$topic", &e), STORE_NOT_FOUND);
	assert_int_equal(store_room_state_get(f->st, ROOM_A, 0, "m.room.topic", "", &e),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_stream_max(f->st), before);

	/* the store goes on: without the trigger the same batch lands whole */
	raw_exec(f->path, "DROP TRIGGER fail_members");
	assert_int_equal(store_events_persist(f->st, NULL, rows, 2, NULL), STORE_OK);
	assert_int_equal(store_room_state(f->st, ROOM_A, 0, &l), STORE_OK);
	assert_int_equal(l.n, 7);
	store_event_list_clear(&l);
}

/* ---- loaded rows are validated ---------------------------------------- */

static void test_loaded_rows_validated(void **state)
{
	struct fixture *f = *state;
	struct store_membership_list ml;
	struct store_event_list l;
	struct store_event e;
	int64_t s[5];

	create_room(f->st, ROOM_A, "a", s);
	persist_message(f->st, "$m", ROOM_A, "x");

	/* a sender that is no user ID */
	raw_exec(f->path, "UPDATE events SET sender = 'mallory' WHERE event_id = '$m'");
	assert_int_equal(store_event_get(f->st, "$m", &e), STORE_ERROR);
	assert_null(e.event_id);
	assert_int_equal(store_room_events(f->st, ROOM_A, 0, 0, 10, false, &l), STORE_ERROR);
	assert_null(l.items);
	raw_exec(f->path, "UPDATE events SET sender = '" ALICE "' WHERE event_id = '$m'");
	assert_int_equal(store_event_get(f->st, "$m", &e), STORE_OK);
	store_event_clear(&e);

	/* JSON of the wrong type, or larger than an event may be */
	raw_exec(f->path, "UPDATE events SET json = x'7b7d' WHERE event_id = '$m'");
	assert_int_equal(store_event_get(f->st, "$m", &e), STORE_ERROR);
	raw_exec(f->path, "UPDATE events SET json = replace(hex(zeroblob(35000)), '0', 'a') "
	                  "WHERE event_id = '$m'");
	assert_int_equal(store_event_get(f->st, "$m", &e), STORE_ERROR);
	raw_exec(f->path, "UPDATE events SET json = '{}' WHERE event_id = '$m'");

	/* current state pointing at a non-state event */
	raw_exec(f->path, "UPDATE current_state SET stream = 6, event_id = '$m' "
	                  "WHERE type = 'm.room.name'");
	assert_int_equal(store_room_state(f->st, ROOM_A, 0, &l), STORE_ERROR);
	assert_int_equal(store_room_state_get(f->st, ROOM_A, 0, "m.room.name", "", &e),
	                 STORE_ERROR);
	raw_exec(f->path, "UPDATE current_state SET stream = 5, event_id = '$a-name' "
	                  "WHERE type = 'm.room.name'");
	assert_int_equal(store_room_state(f->st, ROOM_A, 0, &l), STORE_OK);
	store_event_list_clear(&l);

	/* a membership no one knows */
	raw_exec(f->path, "UPDATE memberships SET membership = 'owner'");
	assert_int_equal(store_room_members(f->st, ROOM_A, NULL, &ml), STORE_ERROR);
	assert_int_equal(store_user_memberships(f->st, ALICE, &ml), STORE_ERROR);
	raw_exec(f->path, "UPDATE memberships SET membership = 'join'");

	/* filters and account data */
	{
		char *json = NULL, *id = NULL;
		struct store_account_data_list al;
		int64_t pos;

		assert_int_equal(store_filter_put(f->st, ALICE, "{}", &id), STORE_OK);
		free(id);
		raw_exec(f->path, "UPDATE filters SET json = x'7b7d'");
		assert_int_equal(store_filter_get(f->st, ALICE, "0", &json), STORE_ERROR);
		assert_null(json);
		assert_int_equal(store_account_data_put(f->st, ALICE, NULL, "t", "{}", &pos),
		                 STORE_OK);
		raw_exec(f->path, "UPDATE account_data SET room_id = 'not-a-room'");
		assert_int_equal(store_account_data_since(f->st, ALICE, 0, &al), STORE_ERROR);
		assert_null(al.items);
	}
}

/* ---- query plans ------------------------------------------------------ */

/* Every statement of these tables is served by an index: no plan step
 * scans a table (a temp b-tree for ORDER BY over a small result is
 * fine). The SQL is taken from the back end's own prepared statements. */
static void test_query_plans(void **state)
{
	struct fixture *f = *state;
	static const enum sqlite_stmt_id ids[] = {
		SQ_ROOM_EXISTS, SQ_ROOM_GET, SQ_ROOM_SET_PUBLISHED, SQ_ROOMS_PUBLISHED,
		SQ_EVENT_GET, SQ_EVENT_REDACT, SQ_TXN_GET, SQ_STREAM_MAX,
		SQ_ROOM_EVENTS_FWD, SQ_ROOM_EVENTS_BWD, SQ_STATE_AT, SQ_STATE_CURRENT,
		SQ_STATE_GET_AT, SQ_STATE_GET_CURRENT, SQ_USER_MEMBERSHIPS,
		SQ_MEMBERSHIP_HISTORY, SQ_ROOM_MEMBERS, SQ_ROOMS_CHANGED,
		SQ_FILTER_INSERT, SQ_FILTER_GET, SQ_ACCOUNT_DATA_NEXT, SQ_ACCOUNT_DATA_GET,
		SQ_ACCOUNT_DATA_SINCE, SQ_ACCOUNT_DATA_MAX,
	};
	const struct store_backend *be;
	struct sqlite_conn *c;
	sqlite3 *db = NULL;
	int64_t s[5];
	void *h;

	create_room(f->st, ROOM_A, "a", s);
	be = store_backend_of(f->st, &h);
	assert_string_equal(be->name, "sqlite");
	c = sqlite_reader_get(h);
	assert_non_null(c);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sqlite3_stmt *stmt = sqlite_stmt_get(c, ids[i]), *plan = NULL;
		char sql[8192];

		if (stmt == NULL) {
			/* writes cannot be prepared on a read-only connection
			 * only if they name a missing table; report which */
			fail_msg("statement %d does not prepare", (int)ids[i]);
		}
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(stmt));
		sqlite_stmt_put(c, ids[i], stmt);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &plan, NULL), SQLITE_OK);
		while (sqlite3_step(plan) == SQLITE_ROW) {
			const char *detail = (const char *)sqlite3_column_text(plan, 3);

			if (getenv("STORE_TEST_VERBOSE") != NULL)
				fprintf(stderr, "%d: %s\n", (int)ids[i], detail);
			if (strncmp(detail, "SCAN ", 5) == 0 &&
			    strncmp(detail, "SCAN CONSTANT ROW", 17) != 0)
				fail_msg("statement %d scans: %s\n%s", (int)ids[i], detail,
				         sql);
		}
		sqlite3_finalize(plan);
	}
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_persist_room),
		T(test_state_at_positions),
		T(test_room_events_ranges),
		T(test_memberships),
		T(test_rooms_changed_since),
		T(test_txn_idempotency),
		T(test_batch_all_or_nothing),
		T(test_redaction),
		T(test_arguments_refused),
		T(test_event_size_boundary),
		T(test_published),
		T(test_filters),
		T(test_account_data),
		T(test_reopen_keeps_everything),
		T(test_concurrent_persists),
		T(test_stream_max_only_committed),
		T(test_failure_mid_batch),
		T(test_loaded_rows_validated),
		T(test_query_plans),
#undef T
	};

	/* refused calls and planted bad rows log by design; keep output short */
	log_set_level(getenv("STORE_TEST_VERBOSE") != NULL ? LOG_DEBUG : LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
