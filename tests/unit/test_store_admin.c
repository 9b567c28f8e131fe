/*
 * test_store_admin: the incident-response part of the storage contract
 * (src/store/store.h, "incident response: lock, suspend, server notices,
 * admin API") on the SQLite back end, in a fresh mkdtemp directory per test.
 *
 * What is proven here: locking and suspending reach the very next token
 * lookup (client-server-api "Account locking": "When an account is
 * locked, servers MUST return a 401 Unauthorized error response with an
 * M_USER_LOCKED error code ... on all but" logout; the store's part is
 * that the lookup sees the flag at once), both are reversible and answer
 * NOT_FOUND for an unknown user; a user has exactly one server-notices
 * room ("Servers should manage exactly 1 server notices room per user",
 * modules/server_notices.md): a second one is a conflict, and a room
 * cannot serve two users; the events an admin redaction would remove are
 * the sender's own, unredacted, non-state, non-redaction events, newest
 * first, within the limit; the list of every room pages in order; admin
 * redaction jobs round-trip and their IDs are unique; arguments breaking
 * the contract are refused; a planted bad row is refused when loaded; all
 * of it survives a reopen.
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

#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"

struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
	int next_event;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-admin-XXXXXX");
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

static void room_create(struct fixture *f, const char *room_id)
{
	struct store_room_new r = { room_id, "10", ALICE, 1000 };
	const char *json = "{\"type\":\"m.room.create\",\"content\":{}}";
	char event_id[64];
	struct store_event_new e;

	snprintf(event_id, sizeof(event_id), "$create%d", ++f->next_event);
	e = (struct store_event_new){ .event_id = event_id, .room_id = room_id,
	                              .type = "m.room.create", .state_key = "",
	                              .sender = ALICE, .origin_ts = 1000, .depth = 1,
	                              .json = json, .json_len = strlen(json) };
	assert_int_equal(store_events_persist(f->st, &r, &e, 1, NULL), STORE_OK);
}

/* One event; returns its ID number (the event ID is "$ev<n>"). */
static int event_send(struct fixture *f, const char *room_id, const char *sender,
                      const char *type, const char *state_key, const char *redacts)
{
	const char *json = "{\"content\":{}}";
	char event_id[64];
	struct store_event_new e;

	snprintf(event_id, sizeof(event_id), "$ev%d", ++f->next_event);
	e = (struct store_event_new){ .event_id = event_id, .room_id = room_id, .type = type,
	                              .state_key = state_key, .sender = sender,
	                              .origin_ts = 1000, .depth = 2, .json = json,
	                              .json_len = strlen(json), .redacts = redacts,
	                              .membership = state_key != NULL &&
	                                            strcmp(type, "m.room.member") == 0
	                                                ? "join" : NULL,
	                              .redacted_json = redacts ? json : NULL };
	assert_int_equal(store_events_persist(f->st, NULL, &e, 1, NULL), STORE_OK);
	return f->next_event;
}

static struct store_token_info token_of(struct fixture *f, unsigned char seed)
{
	struct store_token_info info = { 0 };
	unsigned char hash[STORE_TOKEN_HASH_LEN];

	memset(hash, seed, sizeof(hash));
	assert_int_equal(store_access_token_lookup(f->st, hash, &info), STORE_OK);
	return info;
}

/* ---- lock and suspend ------------------------------------------------- */

static void test_lock_and_suspend_reach_the_token_lookup(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s = { .user_id = ALICE, .device_id = "DEV", .now_ms = 1000 };
	struct store_token_info info;
	struct store_user u;

	assert_int_equal(store_user_create(f->st, ALICE, NULL, NULL, false, 1000), STORE_OK);
	memset(s.access_hash, 7, sizeof(s.access_hash));
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);

	info = token_of(f, 7);
	assert_false(info.locked);
	assert_false(info.suspended);
	store_token_info_clear(&info);

	assert_int_equal(store_user_set_locked(f->st, ALICE, true), STORE_OK);
	info = token_of(f, 7);
	assert_true(info.locked);
	assert_false(info.suspended);
	store_token_info_clear(&info);

	assert_int_equal(store_user_set_suspended(f->st, ALICE, true), STORE_OK);
	assert_int_equal(store_user_set_locked(f->st, ALICE, false), STORE_OK);
	info = token_of(f, 7);
	assert_false(info.locked);
	assert_true(info.suspended);
	store_token_info_clear(&info);

	/* the flags are the account's, and survive a restart */
	reopen(f);
	assert_int_equal(store_user_get(f->st, ALICE, &u), STORE_OK);
	assert_false(u.locked);
	assert_true(u.suspended);
	store_user_clear(&u);
	assert_int_equal(store_user_set_suspended(f->st, ALICE, false), STORE_OK);
	info = token_of(f, 7);
	assert_false(info.suspended);
	store_token_info_clear(&info);

	assert_int_equal(store_user_set_locked(f->st, BOB, true), STORE_NOT_FOUND);
	assert_int_equal(store_user_set_suspended(f->st, BOB, true), STORE_NOT_FOUND);
	assert_int_equal(store_user_set_locked(f->st, "alice", true), STORE_ERROR);
	assert_int_equal(store_user_set_suspended(f->st, NULL, true), STORE_ERROR);
}

/* ---- server-notices rooms --------------------------------------------- */

static void test_one_notice_room_per_user(void **state)
{
	struct fixture *f = *state;
	char *room = (char *)"untouched";

	assert_int_equal(store_server_notice_room_get(f->st, ALICE, &room), STORE_NOT_FOUND);
	assert_null(room);
	assert_int_equal(store_server_notice_room_set(f->st, ALICE, "!n1:example.org"), STORE_OK);
	assert_int_equal(store_server_notice_room_set(f->st, ALICE, "!n2:example.org"),
	                 STORE_CONFLICT);
	/* one room never serves two users */
	assert_int_equal(store_server_notice_room_set(f->st, BOB, "!n1:example.org"),
	                 STORE_CONFLICT);
	reopen(f);
	assert_int_equal(store_server_notice_room_get(f->st, ALICE, &room), STORE_OK);
	assert_string_equal(room, "!n1:example.org");
	free(room);

	assert_int_equal(store_server_notice_room_set(f->st, BOB, "n3:example.org"), STORE_ERROR);
	assert_int_equal(store_server_notice_room_get(f->st, "bob", &room), STORE_ERROR);
	assert_int_equal(store_server_notice_room_get(f->st, BOB, NULL), STORE_ERROR);

	/* a row that is not a room ID is refused when loaded */
	raw_exec(f->path, "INSERT INTO server_notice_rooms VALUES ('" BOB "', 'garbage')");
	assert_int_equal(store_server_notice_room_get(f->st, BOB, &room), STORE_ERROR);
	assert_null(room);
}

/* ---- what an admin redaction removes ---------------------------------- */

static void test_sender_events(void **state)
{
	struct fixture *f = *state;
	char **ids = NULL;
	size_t n = 99;
	char want[32];
	int m1, m2, m3, target;

	room_create(f, "!r:example.org");
	room_create(f, "!s:example.org");
	m1 = event_send(f, "!r:example.org", BOB, "m.room.message", NULL, NULL);
	event_send(f, "!r:example.org", BOB, "m.room.member", BOB, NULL);      /* state */
	event_send(f, "!r:example.org", ALICE, "m.room.message", NULL, NULL);  /* not Bob's */
	m2 = event_send(f, "!r:example.org", BOB, "m.reaction", NULL, NULL);
	event_send(f, "!s:example.org", BOB, "m.room.message", NULL, NULL);    /* other room */
	target = event_send(f, "!r:example.org", BOB, "m.room.message", NULL, NULL);
	snprintf(want, sizeof(want), "$ev%d", target);
	/* a redaction (Bob's own) and the event it redacted: neither is left */
	event_send(f, "!r:example.org", BOB, "m.room.redaction", NULL, want);
	m3 = event_send(f, "!r:example.org", BOB, "m.room.encrypted", NULL, NULL);

	assert_int_equal(store_room_sender_events(f->st, "!r:example.org", BOB, 100, &ids, &n),
	                 STORE_OK);
	assert_int_equal(n, 3);
	snprintf(want, sizeof(want), "$ev%d", m3);
	assert_string_equal(ids[0], want);
	snprintf(want, sizeof(want), "$ev%d", m2);
	assert_string_equal(ids[1], want);
	snprintf(want, sizeof(want), "$ev%d", m1);
	assert_string_equal(ids[2], want);
	store_room_ids_free(ids, n);

	/* the limit keeps the newest */
	assert_int_equal(store_room_sender_events(f->st, "!r:example.org", BOB, 1, &ids, &n),
	                 STORE_OK);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "$ev%d", m3);
	assert_string_equal(ids[0], want);
	store_room_ids_free(ids, n);

	assert_int_equal(store_room_sender_events(f->st, "!r:example.org", BOB, 0, &ids, &n),
	                 STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_room_sender_events(f->st, "r:example.org", BOB, 5, &ids, &n),
	                 STORE_ERROR);
	assert_int_equal(store_room_sender_events(f->st, "!r:example.org", "bob", 5, &ids, &n),
	                 STORE_ERROR);
	assert_null(ids);
	assert_int_equal(n, 0);
}

static void test_rooms_all_pages_in_order(void **state)
{
	struct fixture *f = *state;
	char **ids = NULL;
	size_t n = 0;

	room_create(f, "!c:example.org");
	room_create(f, "!a:example.org");
	room_create(f, "!b:example.org");
	assert_int_equal(store_rooms_all(f->st, NULL, 2, &ids, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "!a:example.org");
	assert_string_equal(ids[1], "!b:example.org");
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_all(f->st, "!b:example.org", 10, &ids, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "!c:example.org");
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_all(f->st, "!c:example.org", 10, &ids, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_all(f->st, NULL, 10, NULL, &n), STORE_ERROR);
}

/* ---- admin redaction jobs --------------------------------------------- */

static void test_redaction_jobs(void **state)
{
	struct fixture *f = *state;
	struct store_redaction_job j = {
		.redact_id = (char *)"abc", .user_id = (char *)BOB, .status = (char *)"complete",
		.failed_json = (char *)"{\"$x\":\"no power\"}", .created_ts = 5,
	}, out;

	assert_int_equal(store_redaction_job_get(f->st, "abc", &out), STORE_NOT_FOUND);
	assert_int_equal(store_redaction_job_put(f->st, &j), STORE_OK);
	assert_int_equal(store_redaction_job_put(f->st, &j), STORE_CONFLICT);
	reopen(f);
	assert_int_equal(store_redaction_job_get(f->st, "abc", &out), STORE_OK);
	assert_string_equal(out.redact_id, "abc");
	assert_string_equal(out.user_id, BOB);
	assert_string_equal(out.status, "complete");
	assert_string_equal(out.failed_json, "{\"$x\":\"no power\"}");
	assert_int_equal(out.created_ts, 5);
	store_redaction_job_clear(&out);

	j.redact_id = (char *)"";
	assert_int_equal(store_redaction_job_put(f->st, &j), STORE_ERROR);
	j.redact_id = (char *)"def";
	j.user_id = (char *)"bob";
	assert_int_equal(store_redaction_job_put(f->st, &j), STORE_ERROR);
	j.user_id = (char *)BOB;
	j.failed_json = NULL;
	assert_int_equal(store_redaction_job_put(f->st, &j), STORE_ERROR);
	assert_int_equal(store_redaction_job_get(f->st, NULL, &out), STORE_ERROR);

	raw_exec(f->path, "INSERT INTO admin_redactions VALUES ('bad', 'nobody', 'x', '{}', 1)");
	assert_int_equal(store_redaction_job_get(f->st, "bad", &out), STORE_ERROR);
	assert_null(out.redact_id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock_and_suspend_reach_the_token_lookup,
		                                fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_one_notice_room_per_user, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_sender_events, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rooms_all_pages_in_order, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_redaction_jobs, fixture_setup,
		                                fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
