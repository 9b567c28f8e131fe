/*
 * test_store_directory: the room directory part of the storage contract
 * (src/store/store.h, "room directory: aliases, forgotten rooms, user
 * directory") on the SQLite back end, in a fresh mkdtemp directory per
 * test, removed afterwards.
 *
 * What is proven here: an alias maps to its room and remembers its
 * creator; a taken alias is a conflict and an unknown room is not found;
 * a room's aliases come back in order within the limit; deleting works
 * once; forgetting is refused while joined and for a room never joined,
 * holds after a leave (the user's membership history, which the
 * visibility rules walk, is then empty), and lapses on a rejoin; joined and published
 * counts; backwards pagination of the published rooms; the user
 * directory finds exactly who the spec lets a searcher see (room-mates,
 * members of public and world_readable rooms), matches case-insensitively
 * on user ID and display name with no wildcards, ranks prefix matches and
 * users with a display name first, leaves out deactivated
 * users, users who left, and users who hide their profile, and reports a
 * cut list; arguments breaking the contract are refused; rows that fail
 * validation when loaded are refused; all of it survives a reopen; and
 * every statement of the feature reads through an index (EXPLAIN QUERY
 * PLAN).
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
#include "util/log.h"

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-dir-XXXXXX");
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

/* ---- building rooms --------------------------------------------------- */

#define SERVER ":example.org"
#define ALICE "@alice" SERVER
#define BOB "@bob" SERVER
#define CAROL "@carol" SERVER
#define DAVE "@dave" SERVER
#define ERIN "@erin" SERVER
#define FRANK "@frank" SERVER

static void room_create(struct fixture *f, const char *room_id, const char *creator)
{
	struct store_room_new r = { room_id, "10", creator, 1000 };
	char event_id[64], json[128];
	struct store_event_new e = { 0 };

	snprintf(event_id, sizeof(event_id), "$create%d", ++f->next_event);
	snprintf(json, sizeof(json), "{\"type\":\"m.room.create\",\"content\":{}}");
	e = (struct store_event_new){ .event_id = event_id, .room_id = room_id,
	                              .type = "m.room.create", .state_key = "",
	                              .sender = creator, .origin_ts = 1000, .depth = 1,
	                              .json = json, .json_len = strlen(json) };
	assert_int_equal(store_events_persist(f->st, &r, &e, 1, NULL), STORE_OK);
}

/* One state event whose content is content_json; membership for members. */
static void state_send(struct fixture *f, const char *room_id, const char *type,
                       const char *state_key, const char *content_json,
                       const char *membership)
{
	char event_id[64], json[512];
	struct store_event_new e;

	snprintf(event_id, sizeof(event_id), "$ev%d", ++f->next_event);
	snprintf(json, sizeof(json), "{\"type\":\"%s\",\"state_key\":\"%s\",\"content\":%s}",
	         type, state_key, content_json);
	e = (struct store_event_new){ .event_id = event_id, .room_id = room_id, .type = type,
	                              .state_key = state_key, .sender = ALICE,
	                              .origin_ts = 1000, .depth = 2, .json = json,
	                              .json_len = strlen(json), .membership = membership };
	assert_int_equal(store_events_persist(f->st, NULL, &e, 1, NULL), STORE_OK);
}

static void member(struct fixture *f, const char *room_id, const char *user_id,
                   const char *membership)
{
	char content[64];

	snprintf(content, sizeof(content), "{\"membership\":\"%s\"}", membership);
	state_send(f, room_id, "m.room.member", user_id, content, membership);
}

static void join_rule(struct fixture *f, const char *room_id, const char *rule)
{
	char content[64];

	snprintf(content, sizeof(content), "{\"join_rule\":\"%s\"}", rule);
	state_send(f, room_id, "m.room.join_rules", "", content, NULL);
}

static void user(struct fixture *f, const char *user_id, const char *displayname)
{
	assert_int_equal(store_user_create(f->st, user_id, NULL, displayname, false, 1000),
	                 STORE_OK);
}

/* ---- aliases ---------------------------------------------------------- */

static void test_alias_lifecycle(void **state)
{
	struct fixture *f = *state;
	char *room = NULL, *creator = NULL;

	room_create(f, "!r:example.org", ALICE);
	assert_int_equal(store_alias_create(f->st, "#a:example.org", "!r:example.org", ALICE),
	                 STORE_OK);
	assert_int_equal(store_alias_get(f->st, "#a:example.org", &room, &creator), STORE_OK);
	assert_string_equal(room, "!r:example.org");
	assert_string_equal(creator, ALICE);
	free(room);
	free(creator);
	/* creator is optional */
	assert_int_equal(store_alias_get(f->st, "#a:example.org", &room, NULL), STORE_OK);
	assert_string_equal(room, "!r:example.org");
	free(room);

	/* taken, even for another room and another user: nothing changes */
	room_create(f, "!s:example.org", BOB);
	assert_int_equal(store_alias_create(f->st, "#a:example.org", "!s:example.org", BOB),
	                 STORE_CONFLICT);
	assert_int_equal(store_alias_get(f->st, "#a:example.org", &room, &creator), STORE_OK);
	assert_string_equal(room, "!r:example.org");
	assert_string_equal(creator, ALICE);
	free(room);
	free(creator);
	/* an unknown room */
	assert_int_equal(store_alias_create(f->st, "#b:example.org", "!nope:example.org", ALICE),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_alias_get(f->st, "#b:example.org", &room, NULL), STORE_NOT_FOUND);
	assert_null(room);

	/* aliases are case-sensitive keys */
	assert_int_equal(store_alias_get(f->st, "#A:example.org", &room, NULL), STORE_NOT_FOUND);

	reopen(f);
	assert_int_equal(store_alias_delete(f->st, "#a:example.org"), STORE_OK);
	assert_int_equal(store_alias_delete(f->st, "#a:example.org"), STORE_NOT_FOUND);
	assert_int_equal(store_alias_get(f->st, "#a:example.org", &room, &creator),
	                 STORE_NOT_FOUND);
	assert_null(room);
	assert_null(creator);
	/* free again once deleted */
	assert_int_equal(store_alias_create(f->st, "#a:example.org", "!s:example.org", BOB),
	                 STORE_OK);
}

static void test_room_aliases_list(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = { "#c:example.org", "#a:example.org",
	                                     "#b:example.org", "#d:example.org" };
	char **list = NULL;
	size_t n = 99;

	room_create(f, "!r:example.org", ALICE);
	room_create(f, "!s:example.org", ALICE);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(store_alias_create(f->st, names[i], "!r:example.org", ALICE),
		                 STORE_OK);
	assert_int_equal(store_alias_create(f->st, "#other:example.org", "!s:example.org",
	                                    ALICE), STORE_OK);

	assert_int_equal(store_room_aliases(f->st, "!r:example.org", 10, &list, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_string_equal(list[0], "#a:example.org");
	assert_string_equal(list[3], "#d:example.org");
	store_room_ids_free(list, n);

	assert_int_equal(store_room_aliases(f->st, "!r:example.org", 2, &list, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[1], "#b:example.org");
	store_room_ids_free(list, n);

	/* no aliases is an empty list, not an error */
	assert_int_equal(store_room_aliases(f->st, "!none:example.org", 10, &list, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_room_ids_free(list, n);
	/* limit 0 asks for nothing */
	assert_int_equal(store_room_aliases(f->st, "!r:example.org", 0, &list, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_null(list);
}

static void test_alias_arguments_refused(void **state)
{
	struct fixture *f = *state;
	char long_alias[300];
	char *room = (char *)"untouched", **list = NULL;
	size_t n = 0;

	room_create(f, "!r:example.org", ALICE);
	memset(long_alias, 'x', sizeof(long_alias));
	long_alias[0] = '#';
	long_alias[STORE_ALIAS_MAX + 1] = '\0';   /* 256 bytes: one too many */

	assert_int_equal(store_alias_create(f->st, "a:example.org", "!r:example.org", ALICE),
	                 STORE_ERROR);
	assert_int_equal(store_alias_create(f->st, "#", "!r:example.org", ALICE), STORE_ERROR);
	assert_int_equal(store_alias_create(f->st, long_alias, "!r:example.org", ALICE),
	                 STORE_ERROR);
	long_alias[STORE_ALIAS_MAX] = '\0';       /* 255 bytes: allowed */
	assert_int_equal(store_alias_create(f->st, long_alias, "!r:example.org", ALICE),
	                 STORE_OK);
	assert_int_equal(store_alias_create(f->st, "#b:example.org", "r:example.org", ALICE),
	                 STORE_ERROR);
	assert_int_equal(store_alias_create(f->st, "#b:example.org", "!r:example.org", "bob"),
	                 STORE_ERROR);
	assert_int_equal(store_alias_create(NULL, "#b:example.org", "!r:example.org", ALICE),
	                 STORE_ERROR);
	assert_int_equal(store_alias_get(f->st, NULL, &room, NULL), STORE_ERROR);
	assert_null(room);
	assert_int_equal(store_alias_get(f->st, "#b:example.org", NULL, NULL), STORE_ERROR);
	assert_int_equal(store_alias_delete(f->st, "b"), STORE_ERROR);
	assert_int_equal(store_room_aliases(f->st, "#r", 5, &list, &n), STORE_ERROR);
	assert_int_equal(store_room_aliases(f->st, "!r:example.org", 5, NULL, &n), STORE_ERROR);
}

/* A row the store did not write: refused on load, never handed out. */
static void test_alias_bad_rows_refused(void **state)
{
	struct fixture *f = *state;
	char *room = NULL, *creator = NULL, **list = NULL;
	size_t n = 0;

	room_create(f, "!r:example.org", ALICE);
	raw_exec(f->path, "INSERT INTO room_aliases VALUES ('#x:example.org', 'no-sigil', "
	                  "'@alice:example.org');"
	                  "INSERT INTO room_aliases VALUES ('#y:example.org', '!r:example.org', "
	                  "'not-a-user');"
	                  "INSERT INTO room_aliases VALUES ('no-sigil', '!r:example.org', "
	                  "'@alice:example.org');"
	                  "INSERT INTO room_aliases VALUES ('#z:example.org', '!r:example.org', 7);");
	assert_int_equal(store_alias_get(f->st, "#x:example.org", &room, &creator), STORE_ERROR);
	assert_null(room);
	assert_int_equal(store_alias_get(f->st, "#y:example.org", &room, &creator), STORE_ERROR);
	assert_null(creator);
	assert_int_equal(store_alias_get(f->st, "#z:example.org", &room, &creator), STORE_ERROR);
	assert_int_equal(store_room_aliases(f->st, "!r:example.org", 10, &list, &n), STORE_ERROR);
	assert_null(list);
	assert_int_equal(n, 0);
}

/* ---- forgotten rooms -------------------------------------------------- */

static void test_forget(void **state)
{
	struct fixture *f = *state;
	struct store_membership_list h = { 0 };

	room_create(f, "!r:example.org", ALICE);
	member(f, "!r:example.org", ALICE, "join");
	member(f, "!r:example.org", BOB, "join");

	/* never in the room */
	assert_int_equal(store_room_forget(f->st, CAROL, "!r:example.org"), STORE_NOT_FOUND);
	assert_int_equal(store_room_forget(f->st, BOB, "!unknown:example.org"), STORE_NOT_FOUND);
	/* "If the user is currently joined to the room, they must leave the
	 * room before calling this API." (Client-Server API, Leaving rooms) */
	assert_int_equal(store_room_forget(f->st, BOB, "!r:example.org"), STORE_CONFLICT);
	assert_int_equal(store_room_forgotten(f->st, BOB, "!r:example.org"), STORE_NOT_FOUND);

	member(f, "!r:example.org", BOB, "leave");
	assert_int_equal(store_room_forgotten(f->st, BOB, "!r:example.org"), STORE_NOT_FOUND);
	assert_int_equal(store_membership_history(f->st, "!r:example.org", BOB, &h), STORE_OK);
	assert_int_equal(h.n, 2);
	store_membership_list_clear(&h);
	assert_int_equal(store_room_forget(f->st, BOB, "!r:example.org"), STORE_OK);
	assert_int_equal(store_room_forgotten(f->st, BOB, "!r:example.org"), STORE_OK);
	/* "a user will no longer be able to retrieve history for this room":
	 * the history the visibility rules walk is gone, for that user only */
	assert_int_equal(store_membership_history(f->st, "!r:example.org", BOB, &h), STORE_OK);
	assert_int_equal(h.n, 0);
	assert_int_equal(store_membership_history(f->st, "!r:example.org", ALICE, &h), STORE_OK);
	assert_int_equal(h.n, 1);
	store_membership_list_clear(&h);
	/* idempotent, and only for that user */
	assert_int_equal(store_room_forget(f->st, BOB, "!r:example.org"), STORE_OK);
	assert_int_equal(store_room_forgotten(f->st, ALICE, "!r:example.org"), STORE_NOT_FOUND);
	reopen(f);
	assert_int_equal(store_room_forgotten(f->st, BOB, "!r:example.org"), STORE_OK);

	/* a rejoin remembers the room; leaving again does not forget it */
	member(f, "!r:example.org", BOB, "join");
	assert_int_equal(store_room_forgotten(f->st, BOB, "!r:example.org"), STORE_NOT_FOUND);
	assert_int_equal(store_membership_history(f->st, "!r:example.org", BOB, &h), STORE_OK);
	assert_int_equal(h.n, 3);
	store_membership_list_clear(&h);
	member(f, "!r:example.org", BOB, "leave");
	assert_int_equal(store_room_forgotten(f->st, BOB, "!r:example.org"), STORE_NOT_FOUND);
	/* a ban can be forgotten as well */
	member(f, "!r:example.org", BOB, "ban");
	assert_int_equal(store_room_forget(f->st, BOB, "!r:example.org"), STORE_OK);
	assert_int_equal(store_room_forgotten(f->st, BOB, "!r:example.org"), STORE_OK);

	assert_int_equal(store_room_forget(f->st, "bob", "!r:example.org"), STORE_ERROR);
	assert_int_equal(store_room_forget(f->st, BOB, "r"), STORE_ERROR);
	assert_int_equal(store_room_forgotten(f->st, BOB, NULL), STORE_ERROR);
}

/* ---- counts and published rooms --------------------------------------- */

static void test_counts_and_published_before(void **state)
{
	struct fixture *f = *state;
	static const char *const rooms[] = { "!a:example.org", "!b:example.org",
	                                     "!c:example.org", "!d:example.org" };
	char **ids = NULL;
	size_t n = 0;
	int64_t count = -1;

	for (size_t i = 0; i < 4; i++)
		room_create(f, rooms[i], ALICE);
	member(f, rooms[0], ALICE, "join");
	member(f, rooms[0], BOB, "join");
	member(f, rooms[0], CAROL, "invite");
	member(f, rooms[0], DAVE, "join");
	member(f, rooms[0], DAVE, "leave");
	assert_int_equal(store_room_joined_count(f->st, rooms[0], &count), STORE_OK);
	assert_int_equal(count, 2);
	assert_int_equal(store_room_joined_count(f->st, rooms[1], &count), STORE_OK);
	assert_int_equal(count, 0);

	assert_int_equal(store_rooms_published_count(f->st, &count), STORE_OK);
	assert_int_equal(count, 0);
	for (size_t i = 0; i < 4; i++)
		if (i != 2)
			assert_int_equal(store_room_set_published(f->st, rooms[i], true), STORE_OK);
	assert_int_equal(store_rooms_published_count(f->st, &count), STORE_OK);
	assert_int_equal(count, 3);

	/* nearest first, the bound itself excluded, unpublished skipped */
	assert_int_equal(store_rooms_published_before(f->st, "!d:example.org", 10, &ids, &n),
	                 STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "!b:example.org");
	assert_string_equal(ids[1], "!a:example.org");
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_published_before(f->st, "~", 1, &ids, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "!d:example.org");
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_published_before(f->st, "!a:example.org", 5, &ids, &n),
	                 STORE_OK);
	assert_int_equal(n, 0);
	store_room_ids_free(ids, n);
	assert_int_equal(store_rooms_published_before(f->st, NULL, 5, &ids, &n), STORE_ERROR);
	assert_int_equal(store_room_joined_count(f->st, "a", &count), STORE_ERROR);
	assert_int_equal(store_rooms_published_count(f->st, NULL), STORE_ERROR);

	/* a planted row out of order for the bound is refused */
	raw_exec(f->path, "INSERT INTO rooms VALUES ('bad', '10', '@a:example.org', 1, 1)");
	assert_int_equal(store_rooms_published_before(f->st, "~", 10, &ids, &n), STORE_ERROR);
	assert_null(ids);
}

/* ---- user directory --------------------------------------------------- */

/*
 * Rooms:  !pub  public join rule:        alice, bob (joined), zed (left)
 *         !priv invite only:             alice, carol
 *         !wr   world_readable history:  dave
 *         !x    invite only:             erin, frank
 */
static void directory_world(struct fixture *f)
{
	user(f, ALICE, "Alice Liddell");
	user(f, BOB, "Bobby Tables");
	user(f, CAROL, "Carol");
	user(f, DAVE, NULL);
	user(f, ERIN, "Erin Stranger");
	user(f, FRANK, "Frank");
	user(f, "@zed" SERVER, "Zed Left");

	room_create(f, "!pub:example.org", ALICE);
	join_rule(f, "!pub:example.org", "public");
	member(f, "!pub:example.org", ALICE, "join");
	member(f, "!pub:example.org", BOB, "join");
	member(f, "!pub:example.org", "@zed" SERVER, "join");
	member(f, "!pub:example.org", "@zed" SERVER, "leave");

	room_create(f, "!priv:example.org", ALICE);
	join_rule(f, "!priv:example.org", "invite");
	member(f, "!priv:example.org", ALICE, "join");
	member(f, "!priv:example.org", CAROL, "join");

	room_create(f, "!wr:example.org", DAVE);
	join_rule(f, "!wr:example.org", "invite");
	state_send(f, "!wr:example.org", "m.room.history_visibility", "",
	           "{\"history_visibility\":\"world_readable\"}", NULL);
	member(f, "!wr:example.org", DAVE, "join");

	room_create(f, "!x:example.org", ERIN);
	join_rule(f, "!x:example.org", "invite");
	member(f, "!x:example.org", ERIN, "join");
	member(f, "!x:example.org", FRANK, "join");
}

/* The user IDs found, joined by spaces, into buf. */
static const char *search(struct fixture *f, const char *searcher, const char *term,
                          size_t limit, bool *limited, char *buf, size_t len)
{
	struct store_user_hit_list l;
	size_t used = 0;

	buf[0] = '\0';
	assert_int_equal(store_user_directory_search(f->st, searcher, term, limit, &l),
	                 STORE_OK);
	for (size_t i = 0; i < l.n; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "",
		                         l.items[i].user_id);
	if (limited != NULL)
		*limited = l.limited;
	store_user_hit_list_clear(&l);
	return buf;
}

static void test_user_directory_visibility(void **state)
{
	struct fixture *f = *state;
	char buf[512];

	directory_world(f);
	/* "users that share a room with the requesting user", "users who are
	 * joined to rooms ... that have a public join rule", and "... a
	 * world_readable history visibility" (users.yaml, searchUserDirectory) */
	assert_string_equal(search(f, ALICE, ":", 50, NULL, buf, sizeof(buf)),
	                    ALICE " " BOB " " CAROL " " DAVE);
	/* frank shares !x with erin; carol is only in a private room with alice */
	assert_string_equal(search(f, FRANK, ":", 50, NULL, buf, sizeof(buf)),
	                    ALICE " " BOB " " ERIN " " FRANK " " DAVE);
	/* someone in no room still sees the open rooms' members */
	user(f, "@lonely" SERVER, NULL);
	assert_string_equal(search(f, "@lonely" SERVER, "d", 50, NULL, buf, sizeof(buf)),
	                    DAVE " " ALICE);
	/* the stranger is not found by name either */
	assert_string_equal(search(f, ALICE, "stranger", 50, NULL, buf, sizeof(buf)), "");
	assert_string_equal(search(f, FRANK, "stranger", 50, NULL, buf, sizeof(buf)), ERIN);
	/* who left is not a member any more */
	assert_string_equal(search(f, ALICE, "zed", 50, NULL, buf, sizeof(buf)), "");

	/* a room turned private closes what it opened */
	join_rule(f, "!pub:example.org", "invite");
	assert_string_equal(search(f, FRANK, "bob", 50, NULL, buf, sizeof(buf)), "");
	assert_string_equal(search(f, ALICE, "bob", 50, NULL, buf, sizeof(buf)), BOB);
}

static void test_user_directory_matching(void **state)
{
	struct fixture *f = *state;
	char buf[512];
	bool limited = true;

	directory_world(f);
	/* "performed case-insensitively on user IDs and display names" */
	assert_string_equal(search(f, ALICE, "TABLES", 10, NULL, buf, sizeof(buf)), BOB);
	assert_string_equal(search(f, ALICE, "@CaRoL", 10, NULL, buf, sizeof(buf)), CAROL);
	assert_string_equal(search(f, ALICE, "liddell", 10, NULL, buf, sizeof(buf)), ALICE);
	/* no wildcards: % and _ are literal */
	assert_string_equal(search(f, ALICE, "%", 10, NULL, buf, sizeof(buf)), "");
	assert_string_equal(search(f, ALICE, "_", 10, NULL, buf, sizeof(buf)), "");
	assert_string_equal(search(f, ALICE, "' OR 1=1 --", 10, NULL, buf, sizeof(buf)), "");

	/* "Ordered by rank and then whether or not profile info is available":
	 * a match at the start of the localpart or the display name first,
	 * then users with a display name (dave has none), then by user ID */
	assert_string_equal(search(f, ALICE, "a", 10, NULL, buf, sizeof(buf)),
	                    ALICE " " BOB " " CAROL " " DAVE);
	assert_string_equal(search(f, ALICE, "c", 10, NULL, buf, sizeof(buf)), CAROL " " ALICE);
	assert_string_equal(search(f, ALICE, "tab", 10, NULL, buf, sizeof(buf)), BOB);
	assert_string_equal(search(f, ALICE, "e", 10, NULL, buf, sizeof(buf)),
	                    ALICE " " BOB " " CAROL " " DAVE);

	/* limited tells that more matched */
	assert_string_equal(search(f, ALICE, "example", 2, &limited, buf, sizeof(buf)),
	                    ALICE " " BOB);
	assert_true(limited);
	assert_string_equal(search(f, ALICE, "example", 4, &limited, buf, sizeof(buf)),
	                    ALICE " " BOB " " CAROL " " DAVE);
	assert_false(limited);
}

static void test_user_directory_hidden_and_deactivated(void **state)
{
	struct fixture *f = *state;
	struct store_user_hit_list l;
	char buf[512];
	int64_t pos;

	directory_world(f);
	assert_int_equal(store_user_directory_search(f->st, ALICE, "bob", 10, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].displayname, "Bobby Tables");
	assert_null(l.items[0].avatar_url);
	store_user_hit_list_clear(&l);

	/* a user who hides the profile is not listed (im.vector.hide_profile) */
	assert_int_equal(store_account_data_put(f->st, BOB, NULL, "im.vector.hide_profile",
	                                        "{\"hide_profile\":false}", &pos), STORE_OK);
	assert_string_equal(search(f, ALICE, "bob", 10, NULL, buf, sizeof(buf)), BOB);
	assert_int_equal(store_account_data_put(f->st, BOB, NULL, "im.vector.hide_profile",
	                                        "{\"hide_profile\":true}", &pos), STORE_OK);
	assert_string_equal(search(f, ALICE, "bob", 10, NULL, buf, sizeof(buf)), "");
	/* a room-scoped entry of that type does not count */
	assert_int_equal(store_account_data_put(f->st, CAROL, "!priv:example.org",
	                                        "im.vector.hide_profile",
	                                        "{\"hide_profile\":true}", &pos), STORE_OK);
	assert_string_equal(search(f, ALICE, "carol", 10, NULL, buf, sizeof(buf)), CAROL);

	/* a deactivated account is gone from the directory */
	assert_int_equal(store_user_deactivate(f->st, CAROL, false), STORE_OK);
	assert_string_equal(search(f, ALICE, "carol", 10, NULL, buf, sizeof(buf)), "");

	/* a corrupt account-data row fails nothing and hides nobody */
	raw_exec(f->path, "UPDATE account_data SET json = 'not json' WHERE user_id = "
	                  "'@bob:example.org'");
	reopen(f);
	assert_string_equal(search(f, ALICE, "bob", 10, NULL, buf, sizeof(buf)), BOB);
}

static void test_user_directory_arguments_refused(void **state)
{
	struct fixture *f = *state;
	struct store_user_hit_list l = { .n = 7 };
	char term[STORE_SEARCH_TERM_MAX + 2];

	directory_world(f);
	memset(term, 'a', sizeof(term));
	term[STORE_SEARCH_TERM_MAX + 1] = '\0';
	/* an empty term would sweep the directory */
	assert_int_equal(store_user_directory_search(f->st, ALICE, "", 10, &l), STORE_ERROR);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_user_directory_search(f->st, ALICE, NULL, 10, &l), STORE_ERROR);
	assert_int_equal(store_user_directory_search(f->st, ALICE, term, 10, &l), STORE_ERROR);
	term[STORE_SEARCH_TERM_MAX] = '\0';
	assert_int_equal(store_user_directory_search(f->st, ALICE, term, 10, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	store_user_hit_list_clear(&l);
	assert_int_equal(store_user_directory_search(f->st, ALICE, "a", 0, &l), STORE_ERROR);
	assert_int_equal(store_user_directory_search(f->st, ALICE, "a",
	                                             STORE_USER_SEARCH_MAX + 1, &l), STORE_ERROR);
	assert_int_equal(store_user_directory_search(f->st, "alice", "a", 10, &l), STORE_ERROR);
	assert_int_equal(store_user_directory_search(f->st, ALICE, "a", 10, NULL), STORE_ERROR);

	/* a users row that breaks the contract (a BLOB display name) is
	 * refused whole */
	raw_exec(f->path, "UPDATE users SET displayname = X'426f62' WHERE user_id = '@bob:example.org'");
	assert_int_equal(store_user_directory_search(f->st, ALICE, "example", 10, &l),
	                 STORE_ERROR);
	assert_int_equal(l.n, 0);
	assert_null(l.items);
}

/* Every statement of this feature reads through an index: no full scan
 * of a table (the CTE of rooms a searcher sees is walked, by design, and a
 * count over the published rooms' partial index is fine). */
static void test_query_plans_use_indexes(void **state)
{
	struct fixture *f = *state;
	static const enum sqlite_stmt_id ids[] = {
		SQ_ALIAS_GET, SQ_ROOM_ALIASES, SQ_MEMBERSHIP_CURRENT, SQ_FORGOTTEN_GET,
		SQ_ROOM_JOINED_COUNT, SQ_ROOMS_PUBLISHED_COUNT, SQ_ROOMS_PUBLISHED_BEFORE,
		SQ_USER_DIRECTORY_SEARCH,
	};
	const struct store_backend *be;
	struct sqlite_conn *c;
	sqlite3 *db = NULL;
	void *h;

	directory_world(f);
	be = store_backend_of(f->st, &h);
	assert_string_equal(be->name, "sqlite");
	c = sqlite_reader_get(h);
	assert_non_null(c);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sqlite3_stmt *stmt = sqlite_stmt_get(c, ids[i]), *plan = NULL;
		char sql[8192];

		assert_non_null(stmt);
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(stmt));
		sqlite_stmt_put(c, ids[i], stmt);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &plan, NULL), SQLITE_OK);
		while (sqlite3_step(plan) == SQLITE_ROW) {
			const char *detail = (const char *)sqlite3_column_text(plan, 3);

			if (getenv("STORE_TEST_VERBOSE") != NULL)
				fprintf(stderr, "%d: %s\n", (int)ids[i], detail);
			if (strncmp(detail, "SCAN ", 5) == 0 && strstr(detail, " USING ") == NULL &&
			    strcmp(detail, "SCAN r") != 0)
				fail_msg("statement %d scans: %s\n%s", (int)ids[i], detail, sql);
		}
		sqlite3_finalize(plan);
	}
	sqlite3_close(db);
}

static void test_schema_version(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(store_schema_version(f->st), sqlite_migration_count);
	assert_true(sqlite_migration_count >= 5);
	assert_non_null(strstr(sqlite_migration_sql(5), "room_aliases"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alias_lifecycle, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_room_aliases_list, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_alias_arguments_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_alias_bad_rows_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_forget, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_counts_and_published_before, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_user_directory_visibility, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_user_directory_matching, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_user_directory_hidden_and_deactivated,
		                                fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_user_directory_arguments_refused,
		                                fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_query_plans_use_indexes, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_schema_version, fixture_setup,
		                                fixture_teardown),
	};

	log_set_level(getenv("STORE_TEST_VERBOSE") != NULL ? LOG_DEBUG : LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
