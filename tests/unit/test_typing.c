/*
 * test_typing: the in-memory typing registry behind PUT
 * /rooms/{roomId}/typing/{userId} and the m.typing event of /sync.
 *
 * Spec, Client-Server API, Typing Notifications (typing.yaml): "This tells
 * the server that the user is typing for the next N milliseconds where N
 * is the value specified in the `timeout` key. Alternatively, if `typing`
 * is `false`, it tells the server that the user has stopped typing."
 * And modules/typing_notifications.md: "the server *does not remember*
 * users who are not currently typing". So: expiry, stop, and what a sync
 * must learn (serials), within bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/typing.h"

#define ROOM "!r:example.org"
#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"

/* The users typing in room at now, as one comma-joined string. */
static void expect_typing(struct typing *t, const char *room, int64_t now, const char *want)
{
	char **users = NULL;
	size_t n = 0;
	uint64_t changed = 0;
	char got[1024] = "";

	assert_int_equal(typing_room_get(t, room, now, &users, &n, &changed), 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(got, ",");
		strcat(got, users[i]);
	}
	typing_users_free(users, n);
	assert_string_equal(got, want);
}

static uint64_t room_changed(struct typing *t, const char *room, int64_t now)
{
	char **users = NULL;
	size_t n = 0;
	uint64_t changed = 0;

	assert_int_equal(typing_room_get(t, room, now, &users, &n, &changed), 0);
	typing_users_free(users, n);
	return changed;
}

static void test_start_stop_and_serials(void **state)
{
	struct typing *t = typing_new(0, 0, 1000);
	uint64_t s0, s1, s2;

	(void)state;
	assert_non_null(t);
	/* the counter starts where the server says (a token from before a
	 * restart must not be ahead of it) */
	s0 = typing_serial(t, 0);
	assert_int_equal(s0, 1000);
	expect_typing(t, ROOM, 0, "");
	assert_int_equal(room_changed(t, ROOM, 0), 1000);

	assert_int_equal(typing_set(t, ROOM, ALICE, true, 30000, 0), TYPING_CHANGED);
	s1 = typing_serial(t, 0);
	assert_true(s1 > s0);
	assert_int_equal(room_changed(t, ROOM, 0), s1);
	assert_int_equal(typing_set(t, ROOM, BOB, true, 30000, 10), TYPING_CHANGED);
	/* in the order they started */
	expect_typing(t, ROOM, 10, ALICE "," BOB);

	/* a renewal (the client's keep-alive) is not a change: no serial */
	s2 = typing_serial(t, 20);
	assert_int_equal(typing_set(t, ROOM, ALICE, true, 30000, 20), TYPING_UNCHANGED);
	assert_int_equal(typing_serial(t, 20), s2);

	/* stop: the list changes, the room's change serial moves */
	assert_int_equal(typing_set(t, ROOM, ALICE, false, 0, 30), TYPING_CHANGED);
	expect_typing(t, ROOM, 30, BOB);
	assert_true(room_changed(t, ROOM, 30) > s2);
	/* stopping again, or someone who never typed, changes nothing */
	s2 = typing_serial(t, 30);
	assert_int_equal(typing_set(t, ROOM, ALICE, false, 0, 30), TYPING_UNCHANGED);
	assert_int_equal(typing_set(t, "!other:example.org", ALICE, false, 0, 30),
	                 TYPING_UNCHANGED);
	assert_int_equal(typing_serial(t, 30), s2);
	/* ... and a stop never creates a room record */
	{
		size_t rooms = 0;
		assert_int_equal(typing_count(t, &rooms), 1);
		assert_int_equal(rooms, 1);
	}
	typing_free(t);
}

static void test_expiry(void **state)
{
	struct typing *t = typing_new(0, 0, 1);
	uint64_t before;

	(void)state;
	assert_int_equal(typing_set(t, ROOM, ALICE, true, 5000, 100), TYPING_CHANGED);
	assert_int_equal(typing_set(t, ROOM, BOB, true, 8000, 100), TYPING_CHANGED);
	assert_int_equal(typing_next_expiry(t), 5100);
	before = typing_serial(t, 5099);
	/* "for the next N milliseconds": typing up to N, gone at N */
	expect_typing(t, ROOM, 5099, ALICE "," BOB);
	assert_int_equal(typing_serial(t, 5099), before);
	expect_typing(t, ROOM, 5100, BOB);
	/* an expiry is a change a sync must see, like a stop */
	assert_true(typing_serial(t, 5100) > before);
	assert_int_equal(room_changed(t, ROOM, 5100), typing_serial(t, 5100));
	assert_int_equal(typing_next_expiry(t), 8100);

	/* a renewal pushes the expiry back */
	assert_int_equal(typing_set(t, ROOM, BOB, true, 8000, 8000), TYPING_UNCHANGED);
	expect_typing(t, ROOM, 8100, BOB);
	expect_typing(t, ROOM, 15999, BOB);
	expect_typing(t, ROOM, 16000, "");
	assert_int_equal(typing_next_expiry(t), 0);
	assert_int_equal(typing_count(t, NULL), 0);
	typing_free(t);
}

static void test_rooms_next_expiry(void **state)
{
	struct typing *t = typing_new(0, 0, 1);
	const char *rooms[] = { "!a:x", "!b:x", "!none:x", "" };

	(void)state;
	assert_int_equal(typing_rooms_next_expiry(t, rooms, 4), 0);
	assert_int_equal(typing_set(t, "!a:x", ALICE, true, 9000, 0), TYPING_CHANGED);
	assert_int_equal(typing_set(t, "!a:x", BOB, true, 7000, 0), TYPING_CHANGED);
	assert_int_equal(typing_set(t, "!b:x", ALICE, true, 8000, 0), TYPING_CHANGED);
	assert_int_equal(typing_set(t, "!c:x", ALICE, true, 1000, 0), TYPING_CHANGED);
	/* only the rooms asked about count: !c's earlier expiry is not theirs */
	assert_int_equal(typing_rooms_next_expiry(t, rooms, 4), 7000);
	assert_int_equal(typing_rooms_next_expiry(t, rooms + 1, 3), 8000);
	assert_int_equal(typing_rooms_next_expiry(t, rooms + 2, 2), 0);
	assert_int_equal(typing_rooms_next_expiry(t, NULL, 2), 0);
	/* a stop takes the typist's expiry away */
	assert_int_equal(typing_set(t, "!a:x", BOB, false, 0, 10), TYPING_CHANGED);
	assert_int_equal(typing_rooms_next_expiry(t, rooms, 1), 9000);
	typing_free(t);
}

static void test_timeout_clamped(void **state)
{
	struct typing *t = typing_new(0, 0, 1);

	(void)state;
	/* a silly timeout is capped at 120 s, as Synapse does */
	assert_int_equal(typing_set(t, ROOM, ALICE, true, INT64_MAX, 0), TYPING_CHANGED);
	assert_int_equal(typing_next_expiry(t), TYPING_TIMEOUT_MAX_MS);
	expect_typing(t, ROOM, TYPING_TIMEOUT_MAX_MS - 1, ALICE);
	expect_typing(t, ROOM, TYPING_TIMEOUT_MAX_MS, "");
	/* a negative timeout means no time at all (and no overflow) */
	assert_int_equal(typing_set(t, ROOM, BOB, true, INT64_MIN, 200000), TYPING_CHANGED);
	expect_typing(t, ROOM, 200000, "");
	typing_free(t);
}

static void test_invalid_ids(void **state)
{
	struct typing *t = typing_new(0, 0, 1);
	char long_id[TYPING_ID_MAX + 2];
	char **users = (char **)&users;
	size_t n = 7;
	uint64_t changed = 7;

	(void)state;
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[0] = '@';
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(typing_set(t, NULL, ALICE, true, 1, 0), TYPING_INVALID);
	assert_int_equal(typing_set(t, ROOM, NULL, true, 1, 0), TYPING_INVALID);
	assert_int_equal(typing_set(t, "", ALICE, true, 1, 0), TYPING_INVALID);
	assert_int_equal(typing_set(t, ROOM, "", true, 1, 0), TYPING_INVALID);
	assert_int_equal(typing_set(t, ROOM, long_id, true, 1, 0), TYPING_INVALID);
	assert_int_equal(typing_set(NULL, ROOM, ALICE, true, 1, 0), TYPING_INVALID);
	/* exactly 255 bytes is fine */
	long_id[TYPING_ID_MAX] = '\0';
	assert_int_equal(typing_set(t, ROOM, long_id, true, 1000, 0), TYPING_CHANGED);
	/* refused reads leave empty outputs */
	assert_int_equal(typing_room_get(t, "", 0, &users, &n, &changed), -1);
	assert_null(users);
	assert_int_equal(n, 0);
	assert_int_equal(changed, 0);
	assert_int_equal(typing_room_get(t, ROOM, 0, NULL, &n, &changed), -1);
	typing_free(t);
}

static void test_typist_bound(void **state)
{
	struct typing *t = typing_new(3, 100, 1);
	char user[64];

	(void)state;
	for (int i = 0; i < 3; i++) {
		snprintf(user, sizeof(user), "@u%d:example.org", i);
		assert_int_equal(typing_set(t, ROOM, user, true, i == 0 ? 100 : 10000, 0),
		                 TYPING_CHANGED);
	}
	/* full: a newcomer is refused, in this room or another */
	assert_int_equal(typing_set(t, ROOM, "@x:example.org", true, 1000, 50), TYPING_FULL);
	assert_int_equal(typing_set(t, "!b:example.org", "@x:example.org", true, 1000, 50),
	                 TYPING_FULL);
	/* ... but those already typing may renew, and stop */
	assert_int_equal(typing_set(t, ROOM, "@u1:example.org", true, 10000, 50),
	                 TYPING_UNCHANGED);
	/* once one expires, there is room again (expiry runs on the write) */
	assert_int_equal(typing_set(t, ROOM, "@x:example.org", true, 1000, 100), TYPING_CHANGED);
	assert_int_equal(typing_count(t, NULL), 3);
	assert_int_equal(typing_set(t, ROOM, "@u2:example.org", false, 0, 100), TYPING_CHANGED);
	assert_int_equal(typing_set(t, ROOM, "@y:example.org", true, 1000, 100), TYPING_CHANGED);
	typing_free(t);
}

static void test_room_bound_and_floor(void **state)
{
	struct typing *t = typing_new(100, 2, 1);
	uint64_t a_changed;
	size_t rooms;

	(void)state;
	assert_int_equal(typing_set(t, "!a:x", ALICE, true, 1000, 0), TYPING_CHANGED);
	assert_int_equal(typing_set(t, "!b:x", ALICE, true, 1000, 0), TYPING_CHANGED);
	/* two busy rooms: a third cannot get a record */
	assert_int_equal(typing_set(t, "!c:x", ALICE, true, 1000, 0), TYPING_FULL);
	/* !a empties but keeps its record: its stop is still news */
	assert_int_equal(typing_set(t, "!a:x", ALICE, false, 0, 0), TYPING_CHANGED);
	a_changed = room_changed(t, "!a:x", 0);
	assert_int_equal(room_changed(t, "!c:x", 0), 1);
	/* a third room evicts !a's empty record; !a now reports the floor,
	 * which is its last change: a client behind it is still told */
	assert_int_equal(typing_set(t, "!c:x", ALICE, true, 1000, 0), TYPING_CHANGED);
	typing_count(t, &rooms);
	assert_int_equal(rooms, 2);
	assert_int_equal(room_changed(t, "!a:x", 0), a_changed);
	expect_typing(t, "!a:x", 0, "");
	/* rooms never touched report the floor too: at worst an empty
	 * m.typing, never a missed stop */
	assert_int_equal(room_changed(t, "!never:x", 0), a_changed);
	typing_free(t);
}

#define THREADS 8
#define ROUNDS 2000

struct hammer {
	struct typing *t;
	int id;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	char room[32], user[32];

	snprintf(user, sizeof(user), "@t%d:x", h->id);
	for (int i = 0; i < ROUNDS; i++) {
		char **users = NULL;
		size_t n = 0;
		uint64_t changed;

		/* start on even rounds, stop in the same room on the next */
		snprintf(room, sizeof(room), "!r%d:x", (i / 2) % 5);
		typing_set(h->t, room, user, (i & 1) == 0, 50, i);
		if (typing_room_get(h->t, room, i, &users, &n, &changed) == 0)
			typing_users_free(users, n);
		typing_serial(h->t, i);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct typing *t = typing_new(0, 0, 1);
	pthread_t th[THREADS];
	struct hammer h[THREADS];
	size_t rooms;

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		h[i] = (struct hammer){ t, i };
		assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* every thread ended on a stop (odd round): nobody types */
	assert_int_equal(typing_count(t, &rooms), 0);
	assert_true(rooms <= 5);
	expect_typing(t, "!r0:x", ROUNDS, "");
	typing_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_stop_and_serials),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_rooms_next_expiry),
		cmocka_unit_test(test_timeout_clamped),
		cmocka_unit_test(test_invalid_ids),
		cmocka_unit_test(test_typist_bound),
		cmocka_unit_test(test_room_bound_and_floor),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
