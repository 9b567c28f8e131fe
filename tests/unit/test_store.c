/*
 * test_store: the storage contract (src/store/store.h) on the SQLite back
 * end, in a fresh mkdtemp directory per test, removed afterwards.
 *
 * What is proven here: every operation of store.h on its normal path and
 * its error paths (conflict, not found, refused arguments, rows that fail
 * validation when loaded back), the session rules the Client-Server API
 * needs, migrations across reopen, durability of acknowledged writes
 * across a crash, group commit under concurrency with a failing write
 * isolated to itself, and per-thread readers (their cleanup is checked by
 * the ASan build's leak detector).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-XXXXXX");
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

/* Run SQL on the database behind the store's back (corruption, locks). */
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

static int64_t raw_count(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

static void hash_fill(unsigned char h[STORE_TOKEN_HASH_LEN], unsigned int seed)
{
	for (int i = 0; i < STORE_TOKEN_HASH_LEN; i++)
		h[i] = (unsigned char)(seed * 31u + (unsigned int)i * 7u + (seed >> 8));
	h[0] = (unsigned char)seed;
	h[1] = (unsigned char)(seed >> 8);
}

/* A session request: access token seed a, refresh seed r (0: none). */
static struct store_session_new session_new(const char *user_id, const char *device_id,
                                            unsigned int a, unsigned int r)
{
	struct store_session_new s;

	memset(&s, 0, sizeof(s));
	s.user_id = user_id;
	s.device_id = device_id;
	s.device_display_name = "Phone";
	hash_fill(s.access_hash, a);
	s.with_refresh = r != 0;
	if (r != 0)
		hash_fill(s.refresh_hash, r);
	s.now_ms = 1000;
	return s;
}

static enum store_result lookup(struct store *st, unsigned int seed)
{
	unsigned char h[STORE_TOKEN_HASH_LEN];
	struct store_token_info t;
	enum store_result r;

	hash_fill(h, seed);
	r = store_access_token_lookup(st, h, &t);
	store_token_info_clear(&t);
	return r;
}

/* ---- open ------------------------------------------------------------- */

static void test_open_errors(void **state)
{
	struct store *st = (struct store *)0x1;
	char err[128];

	(void)state;
	assert_int_equal(store_open(&st, "postgres", "/tmp/x.db", err, sizeof(err)), STORE_ERROR);
	assert_null(st);
	assert_non_null(strstr(err, "unknown store back end"));
	assert_int_equal(store_open(&st, "sqlite", "/nonexistent-dir/sub/x.db", err, sizeof(err)),
	                 STORE_ERROR);
	assert_true(strlen(err) > 0);
	assert_int_equal(store_open(&st, NULL, "/tmp/x.db", err, sizeof(err)), STORE_ERROR);
	assert_int_equal(store_open(NULL, "sqlite", "/tmp/x.db", err, sizeof(err)), STORE_ERROR);
	assert_int_equal(store_schema_version(NULL), -1);
	store_close(NULL);
}

/* ---- users ------------------------------------------------------------ */

static void test_user_create_get(void **state)
{
	struct fixture *f = *state;
	struct store_user u;

	assert_int_equal(store_user_create(f->st, "@alice:example.org", "$argon2id$x", "Alice",
	                                   false, 1234), STORE_OK);
	assert_int_equal(store_user_get(f->st, "@alice:example.org", &u), STORE_OK);
	assert_string_equal(u.user_id, "@alice:example.org");
	assert_string_equal(u.password_hash, "$argon2id$x");
	assert_string_equal(u.displayname, "Alice");
	assert_null(u.avatar_url);
	assert_false(u.admin);
	assert_false(u.deactivated);
	assert_false(u.locked);
	assert_false(u.suspended);
	assert_int_equal(u.created_ts, 1234);
	store_user_clear(&u);
	assert_null(u.user_id);

	/* IDs are unique: a second create is a conflict and changes nothing */
	assert_int_equal(store_user_create(f->st, "@alice:example.org", NULL, "Mallory",
	                                   true, 5), STORE_CONFLICT);
	assert_int_equal(store_user_get(f->st, "@alice:example.org", &u), STORE_OK);
	assert_string_equal(u.displayname, "Alice");
	assert_false(u.admin);
	store_user_clear(&u);

	/* no password, no displayname, admin */
	assert_int_equal(store_user_create(f->st, "@bot:example.org", NULL, NULL, true, 1),
	                 STORE_OK);
	assert_int_equal(store_user_get(f->st, "@bot:example.org", &u), STORE_OK);
	assert_null(u.password_hash);
	assert_null(u.displayname);
	assert_true(u.admin);
	store_user_clear(&u);

	assert_int_equal(store_user_get(f->st, "@nobody:example.org", &u), STORE_NOT_FOUND);
	assert_null(u.user_id);
	assert_int_equal(store_user_exists(f->st, "@alice:example.org"), STORE_OK);
	assert_int_equal(store_user_exists(f->st, "@nobody:example.org"), STORE_NOT_FOUND);
}

/* "The length of a user ID, including the @ sigil and the domain, MUST NOT
 * exceed 255 bytes." (Appendices, Identifier Grammar, User Identifiers) */
static void test_arguments_refused(void **state)
{
	struct fixture *f = *state;
	char id[300], dev[300];
	char *big = malloc(STORE_TEXT_MAX + 2);
	struct store_user u;
	struct store_device d;
	struct store_session_new s;
	unsigned char h[STORE_TOKEN_HASH_LEN] = { 0 };
	char *ou, *od;

	assert_non_null(big);
	memset(big, 'x', STORE_TEXT_MAX + 1);
	big[STORE_TEXT_MAX + 1] = '\0';

	/* exactly 255 bytes is accepted, 256 is refused */
	memset(id, 'a', sizeof(id));
	id[0] = '@';
	memcpy(id + 255 - 4, ":x.y", 4);
	id[255] = '\0';
	assert_int_equal(store_user_create(f->st, id, NULL, NULL, false, 1), STORE_OK);
	assert_int_equal(store_user_exists(f->st, id), STORE_OK);
	memset(id, 'a', sizeof(id));
	id[0] = '@';
	memcpy(id + 256 - 4, ":x.y", 4);
	id[256] = '\0';
	assert_int_equal(store_user_create(f->st, id, NULL, NULL, false, 1), STORE_ERROR);
	assert_int_equal(store_user_exists(f->st, id), STORE_ERROR);
	assert_int_equal(store_user_get(f->st, id, &u), STORE_ERROR);

	assert_int_equal(store_user_create(f->st, NULL, NULL, NULL, false, 1), STORE_ERROR);
	assert_int_equal(store_user_create(f->st, "alice:x", NULL, NULL, false, 1), STORE_ERROR);
	assert_int_equal(store_user_create(f->st, "@", NULL, NULL, false, 1), STORE_ERROR);
	assert_int_equal(store_user_create(NULL, "@a:x", NULL, NULL, false, 1), STORE_ERROR);
	assert_int_equal(store_user_create(f->st, "@a:x", NULL, big, false, 1), STORE_ERROR);
	assert_int_equal(store_user_create(f->st, "@a:x", NULL, NULL, false, -1), STORE_ERROR);
	assert_int_equal(store_user_exists(f->st, "@a:x"), STORE_NOT_FOUND);
	assert_int_equal(store_user_create(f->st, "@a:x", NULL, NULL, false, 1), STORE_OK);

	assert_int_equal(store_profile_set(f->st, "@a:x", "password_hash", "x"), STORE_ERROR);
	assert_int_equal(store_profile_set(f->st, "@a:x", NULL, "x"), STORE_ERROR);
	assert_int_equal(store_profile_set(f->st, "@a:x", "displayname", big), STORE_ERROR);
	assert_int_equal(store_user_get(f->st, "@a:x", NULL), STORE_ERROR);

	memset(dev, 'D', sizeof(dev));
	dev[STORE_DEVICE_ID_MAX + 1] = '\0';
	assert_int_equal(store_device_get(f->st, "@a:x", dev, &d), STORE_ERROR);
	assert_int_equal(store_device_get(f->st, "@a:x", "", &d), STORE_ERROR);
	assert_int_equal(store_device_delete(f->st, "@a:x", dev), STORE_ERROR);
	assert_int_equal(store_devices_delete_all(f->st, "@a:x", dev), STORE_ERROR);
	assert_int_equal(store_device_touch(f->st, "@a:x", "D", big, NULL, 1), STORE_ERROR);
	s = session_new("@a:x", dev, 1, 0);
	assert_int_equal(store_session_create(f->st, &s), STORE_ERROR);
	s = session_new("@a:x", "D", 1, 0);
	s.device_display_name = big;
	assert_int_equal(store_session_create(f->st, &s), STORE_ERROR);
	assert_int_equal(store_session_create(f->st, NULL), STORE_ERROR);
	assert_int_equal(store_access_token_lookup(f->st, NULL, NULL), STORE_ERROR);
	assert_int_equal(store_refresh_rotate(f->st, h, NULL, &ou, &od), STORE_ERROR);
	assert_int_equal(store_user_list(f->st, NULL, NULL), STORE_ERROR);
	/* nothing was written by the refused session */
	assert_int_equal(store_device_get(f->st, "@a:x", "D", &d), STORE_NOT_FOUND);
	free(big);
}

static void test_user_updates(void **state)
{
	struct fixture *f = *state;
	struct store_user u;

	assert_int_equal(store_user_create(f->st, "@bob:x", "old", NULL, false, 1), STORE_OK);
	assert_int_equal(store_user_set_password_hash(f->st, "@bob:x", "new"), STORE_OK);
	assert_int_equal(store_user_set_admin(f->st, "@bob:x", true), STORE_OK);
	assert_int_equal(store_profile_set(f->st, "@bob:x", "displayname", "Bob"), STORE_OK);
	assert_int_equal(store_profile_set(f->st, "@bob:x", "avatar_url", "mxc://x/abc"), STORE_OK);
	assert_int_equal(store_user_get(f->st, "@bob:x", &u), STORE_OK);
	assert_string_equal(u.password_hash, "new");
	assert_true(u.admin);
	assert_string_equal(u.displayname, "Bob");
	assert_string_equal(u.avatar_url, "mxc://x/abc");
	store_user_clear(&u);

	/* NULL clears */
	assert_int_equal(store_profile_set(f->st, "@bob:x", "displayname", NULL), STORE_OK);
	assert_int_equal(store_user_set_password_hash(f->st, "@bob:x", NULL), STORE_OK);
	assert_int_equal(store_user_set_admin(f->st, "@bob:x", false), STORE_OK);
	assert_int_equal(store_user_get(f->st, "@bob:x", &u), STORE_OK);
	assert_null(u.displayname);
	assert_null(u.password_hash);
	assert_false(u.admin);
	assert_string_equal(u.avatar_url, "mxc://x/abc");
	store_user_clear(&u);

	assert_int_equal(store_user_set_password_hash(f->st, "@nobody:x", "h"), STORE_NOT_FOUND);
	assert_int_equal(store_user_set_admin(f->st, "@nobody:x", true), STORE_NOT_FOUND);
	assert_int_equal(store_profile_set(f->st, "@nobody:x", "avatar_url", "mxc://a/b"),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_user_exists(f->st, "@nobody:x"), STORE_NOT_FOUND);
}

struct list_ctx {
	struct store *st;
	int seen;
	int stop_after;
	int nested_total;
	char order[8][32];
};

static int count_user(void *ctx, const struct store_user *u)
{
	int *n = ctx;

	(void)u;
	(*n)++;
	return 0;
}

static int list_user(void *ctx, const struct store_user *u)
{
	struct list_ctx *c = ctx;
	struct store_user again;
	int n = 0;

	if (c->seen < 8)
		snprintf(c->order[c->seen], sizeof(c->order[0]), "%s", u->user_id);
	c->seen++;
	/* a callback may call the store again on the same thread, even the
	 * same statement (the cached one is busy: a fresh one is used) */
	assert_int_equal(store_user_get(c->st, u->user_id, &again), STORE_OK);
	assert_string_equal(again.user_id, u->user_id);
	store_user_clear(&again);
	assert_int_equal(store_user_list(c->st, count_user, &n), STORE_OK);
	c->nested_total += n;
	return c->stop_after > 0 && c->seen >= c->stop_after;
}

static void test_user_list(void **state)
{
	struct fixture *f = *state;
	struct list_ctx c;
	int n = 0;

	assert_int_equal(store_user_list(f->st, count_user, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_user_create(f->st, "@carol:x", NULL, NULL, false, 1), STORE_OK);
	assert_int_equal(store_user_create(f->st, "@alice:x", NULL, NULL, false, 1), STORE_OK);
	assert_int_equal(store_user_create(f->st, "@bob:x", NULL, NULL, false, 1), STORE_OK);

	memset(&c, 0, sizeof(c));
	c.st = f->st;
	assert_int_equal(store_user_list(f->st, list_user, &c), STORE_OK);
	assert_int_equal(c.seen, 3);
	assert_string_equal(c.order[0], "@alice:x");
	assert_string_equal(c.order[1], "@bob:x");
	assert_string_equal(c.order[2], "@carol:x");
	assert_int_equal(c.nested_total, 9);

	/* non-zero from the callback stops the walk */
	memset(&c, 0, sizeof(c));
	c.st = f->st;
	c.stop_after = 2;
	assert_int_equal(store_user_list(f->st, list_user, &c), STORE_OK);
	assert_int_equal(c.seen, 2);
}

/* POST /account/deactivate: "Deactivate the user's account, removing all
 * ability for the user to login again." and with erase, "The server should
 * additionally erase any non-event data associated with the user"
 * (data/api/client-server/account_deactivation.yaml). store.h: devices and
 * tokens go, the password hash is cleared, the ID stays taken. */
static void test_user_deactivate(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s;
	struct store_device d;
	struct store_user u;
	struct store_token_info t;
	unsigned char h[STORE_TOKEN_HASH_LEN];

	assert_int_equal(store_user_create(f->st, "@eve:x", "hash", "Eve", false, 1), STORE_OK);
	assert_int_equal(store_profile_set(f->st, "@eve:x", "avatar_url", "mxc://x/e"), STORE_OK);
	assert_int_equal(store_user_create(f->st, "@fay:x", "hash", "Fay", false, 1), STORE_OK);
	s = session_new("@eve:x", "D1", 1, 2);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	s = session_new("@eve:x", "D2", 3, 0);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	s = session_new("@fay:x", "F1", 4, 0);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	hash_fill(h, 1);
	assert_int_equal(store_access_token_lookup(f->st, h, &t), STORE_OK);
	assert_false(t.deactivated);
	store_token_info_clear(&t);

	assert_int_equal(store_user_deactivate(f->st, "@eve:x", false), STORE_OK);
	assert_int_equal(lookup(f->st, 1), STORE_NOT_FOUND);
	assert_int_equal(lookup(f->st, 3), STORE_NOT_FOUND);
	assert_int_equal(store_device_get(f->st, "@eve:x", "D1", &d), STORE_NOT_FOUND);
	assert_int_equal(store_device_get(f->st, "@eve:x", "D2", &d), STORE_NOT_FOUND);
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM refresh_tokens "
	                                    "WHERE user_id = '@eve:x'"), 0);
	assert_int_equal(store_user_get(f->st, "@eve:x", &u), STORE_OK);
	assert_true(u.deactivated);
	assert_null(u.password_hash);
	assert_string_equal(u.displayname, "Eve");        /* no erase */
	assert_string_equal(u.avatar_url, "mxc://x/e");
	store_user_clear(&u);
	/* someone else's session is untouched */
	assert_int_equal(lookup(f->st, 4), STORE_OK);

	/* the ID is never reused, and cannot get a password or a session */
	assert_int_equal(store_user_exists(f->st, "@eve:x"), STORE_OK);
	assert_int_equal(store_user_create(f->st, "@eve:x", "h", NULL, false, 2), STORE_CONFLICT);
	assert_int_equal(store_user_set_password_hash(f->st, "@eve:x", "h"), STORE_NOT_FOUND);
	s = session_new("@eve:x", "D3", 5, 0);
	assert_int_equal(store_session_create(f->st, &s), STORE_NOT_FOUND);
	assert_int_equal(lookup(f->st, 5), STORE_NOT_FOUND);

	/* erase clears the profile too; deactivating twice is fine */
	assert_int_equal(store_user_deactivate(f->st, "@eve:x", true), STORE_OK);
	assert_int_equal(store_user_get(f->st, "@eve:x", &u), STORE_OK);
	assert_null(u.displayname);
	assert_null(u.avatar_url);
	store_user_clear(&u);

	assert_int_equal(store_user_deactivate(f->st, "@nobody:x", true), STORE_NOT_FOUND);
}

/* ---- devices ---------------------------------------------------------- */

struct device_seen {
	int n;
	char ids[4][16];
};

static int device_collect(void *ctx, const struct store_device *d)
{
	struct device_seen *s = ctx;

	if (s->n < 4)
		snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", d->device_id);
	s->n++;
	return 0;
}

static void test_devices(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s;
	struct store_device d;
	struct device_seen seen;

	assert_int_equal(store_user_create(f->st, "@dan:x", NULL, NULL, false, 1), STORE_OK);
	assert_int_equal(store_user_create(f->st, "@other:x", NULL, NULL, false, 1), STORE_OK);
	s = session_new("@dan:x", "ZZZ", 1, 0);
	s.now_ms = 777;
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	s = session_new("@dan:x", "AAA", 2, 3);
	s.device_display_name = NULL;
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	s = session_new("@other:x", "AAA", 4, 0);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);

	assert_int_equal(store_device_get(f->st, "@dan:x", "ZZZ", &d), STORE_OK);
	assert_string_equal(d.user_id, "@dan:x");
	assert_string_equal(d.device_id, "ZZZ");
	assert_string_equal(d.display_name, "Phone");
	assert_int_equal(d.created_ts, 777);
	assert_int_equal(d.last_seen_ts, 0);
	assert_null(d.last_seen_ip);
	assert_null(d.last_seen_user_agent);
	store_device_clear(&d);
	assert_int_equal(store_device_get(f->st, "@dan:x", "AAA", &d), STORE_OK);
	assert_null(d.display_name);
	store_device_clear(&d);
	assert_int_equal(store_device_get(f->st, "@dan:x", "nope", &d), STORE_NOT_FOUND);
	assert_null(d.device_id);

	/* a user's devices only, in device_id order */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_device_list(f->st, "@dan:x", device_collect, &seen), STORE_OK);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.ids[0], "AAA");
	assert_string_equal(seen.ids[1], "ZZZ");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_device_list(f->st, "@nobody:x", device_collect, &seen), STORE_OK);
	assert_int_equal(seen.n, 0);

	assert_int_equal(store_device_set_display_name(f->st, "@dan:x", "AAA", "Laptop"), STORE_OK);
	assert_int_equal(store_device_touch(f->st, "@dan:x", "AAA", "2001:db8::1", "curl/8", 999),
	                 STORE_OK);
	assert_int_equal(store_device_get(f->st, "@dan:x", "AAA", &d), STORE_OK);
	assert_string_equal(d.display_name, "Laptop");
	assert_int_equal(d.last_seen_ts, 999);
	assert_string_equal(d.last_seen_ip, "2001:db8::1");
	assert_string_equal(d.last_seen_user_agent, "curl/8");
	store_device_clear(&d);
	assert_int_equal(store_device_set_display_name(f->st, "@dan:x", "AAA", NULL), STORE_OK);
	assert_int_equal(store_device_get(f->st, "@dan:x", "AAA", &d), STORE_OK);
	assert_null(d.display_name);
	store_device_clear(&d);
	assert_int_equal(store_device_set_display_name(f->st, "@dan:x", "nope", "x"),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_device_touch(f->st, "@dan:x", "nope", NULL, NULL, 1),
	                 STORE_NOT_FOUND);

	/* delete takes the device's tokens with it, and only them */
	assert_int_equal(lookup(f->st, 2), STORE_OK);
	assert_int_equal(store_device_delete(f->st, "@dan:x", "AAA"), STORE_OK);
	assert_int_equal(lookup(f->st, 2), STORE_NOT_FOUND);
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM refresh_tokens"), 0);
	assert_int_equal(store_device_get(f->st, "@dan:x", "AAA", &d), STORE_NOT_FOUND);
	assert_int_equal(lookup(f->st, 1), STORE_OK);
	assert_int_equal(lookup(f->st, 4), STORE_OK);   /* same device ID, other user */
	assert_int_equal(store_device_delete(f->st, "@dan:x", "AAA"), STORE_NOT_FOUND);
	assert_int_equal(store_device_delete(f->st, "@nobody:x", "AAA"), STORE_NOT_FOUND);
}

static void test_devices_delete_all(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s;
	struct device_seen seen;

	assert_int_equal(store_user_create(f->st, "@gus:x", NULL, NULL, false, 1), STORE_OK);
	assert_int_equal(store_user_create(f->st, "@hal:x", NULL, NULL, false, 1), STORE_OK);
	for (unsigned int i = 0; i < 3; i++) {
		char dev[8];

		snprintf(dev, sizeof(dev), "G%u", i);
		s = session_new("@gus:x", dev, 10 + i, 20 + i);
		assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	}
	s = session_new("@hal:x", "H", 30, 31);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);

	/* logout/all from the password-change path: keep the caller's device */
	assert_int_equal(store_devices_delete_all(f->st, "@gus:x", "G1"), STORE_OK);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_device_list(f->st, "@gus:x", device_collect, &seen), STORE_OK);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.ids[0], "G1");
	assert_int_equal(lookup(f->st, 10), STORE_NOT_FOUND);
	assert_int_equal(lookup(f->st, 11), STORE_OK);
	assert_int_equal(lookup(f->st, 12), STORE_NOT_FOUND);

	assert_int_equal(store_devices_delete_all(f->st, "@gus:x", NULL), STORE_OK);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_device_list(f->st, "@gus:x", device_collect, &seen), STORE_OK);
	assert_int_equal(seen.n, 0);
	assert_int_equal(lookup(f->st, 11), STORE_NOT_FOUND);
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM refresh_tokens "
	                                    "WHERE user_id = '@gus:x'"), 0);
	assert_int_equal(lookup(f->st, 30), STORE_OK);
	assert_int_equal(store_devices_delete_all(f->st, "@nobody:x", NULL), STORE_NOT_FOUND);
	/* a user with nothing left to delete is fine */
	assert_int_equal(store_devices_delete_all(f->st, "@gus:x", NULL), STORE_OK);
}

/* ---- sessions --------------------------------------------------------- */

static void test_session_and_lookup(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s;
	struct store_token_info t;
	struct store_device d;
	unsigned char h[STORE_TOKEN_HASH_LEN];

	assert_int_equal(store_user_create(f->st, "@ivy:x", NULL, NULL, true, 1), STORE_OK);
	s = session_new("@ivy:x", "DEV", 1, 0);
	s.access_expires_ts = 5000;
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	hash_fill(h, 1);
	assert_int_equal(store_access_token_lookup(f->st, h, &t), STORE_OK);
	assert_string_equal(t.user_id, "@ivy:x");
	assert_string_equal(t.device_id, "DEV");
	assert_int_equal(t.expires_ts, 5000);
	assert_true(t.admin);
	assert_false(t.deactivated);
	assert_false(t.locked);
	assert_false(t.suspended);
	store_token_info_clear(&t);
	assert_null(t.user_id);

	/* flags come from the users row at lookup time */
	raw_exec(f->path, "UPDATE users SET locked = 1, suspended = 1 WHERE user_id = '@ivy:x'");
	assert_int_equal(store_access_token_lookup(f->st, h, &t), STORE_OK);
	assert_true(t.locked);
	assert_true(t.suspended);
	store_token_info_clear(&t);

	hash_fill(h, 99);
	assert_int_equal(store_access_token_lookup(f->st, h, &t), STORE_NOT_FOUND);
	assert_null(t.user_id);

	/* "If the client sets the `device_id`, the server will invalidate any
	 * access and refresh tokens previously assigned to that device."
	 * (Client-Server API, Relationship between access tokens and devices)
	 * and POST /login device_id: "If this does not correspond to a known
	 * client device, a new device will be created." */
	s = session_new("@ivy:x", "DEV", 2, 3);
	s.device_display_name = "Renamed";
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	assert_int_equal(lookup(f->st, 1), STORE_NOT_FOUND);
	assert_int_equal(lookup(f->st, 2), STORE_OK);
	assert_int_equal(store_device_get(f->st, "@ivy:x", "DEV", &d), STORE_OK);
	assert_string_equal(d.display_name, "Phone");    /* only used for new devices */
	store_device_clear(&d);
	s = session_new("@ivy:x", "DEV", 4, 5);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM refresh_tokens"), 1);

	/* unknown user: nothing is written */
	s = session_new("@nobody:x", "DEV", 6, 0);
	assert_int_equal(store_session_create(f->st, &s), STORE_NOT_FOUND);
	assert_int_equal(lookup(f->st, 6), STORE_NOT_FOUND);

	/* a reused token hash is a conflict and the whole session rolls back,
	 * device included */
	s = session_new("@ivy:x", "NEWDEV", 4, 0);
	assert_int_equal(store_session_create(f->st, &s), STORE_CONFLICT);
	assert_int_equal(store_device_get(f->st, "@ivy:x", "NEWDEV", &d), STORE_NOT_FOUND);
	s = session_new("@ivy:x", "NEWDEV", 7, 5);
	assert_int_equal(store_session_create(f->st, &s), STORE_CONFLICT);
	assert_int_equal(lookup(f->st, 7), STORE_NOT_FOUND);
	assert_int_equal(store_device_get(f->st, "@ivy:x", "NEWDEV", &d), STORE_NOT_FOUND);
}

/* Rotate old_seed into a new pair (access a, refresh r; r 0: none). */
static enum store_result rotate(struct store *st, unsigned int old_seed, unsigned int a,
                                unsigned int r, int64_t now_ms)
{
	struct store_session_new n = session_new(NULL, NULL, a, r);
	unsigned char old[STORE_TOKEN_HASH_LEN];
	char *uid = NULL, *did = NULL;
	enum store_result res;

	n.now_ms = now_ms;
	hash_fill(old, old_seed);
	res = store_refresh_rotate(st, old, &n, &uid, &did);
	if (res == STORE_OK) {
		assert_non_null(uid);
		assert_non_null(did);
	} else {
		assert_null(uid);
		assert_null(did);
	}
	free(uid);
	free(did);
	return res;
}

static int64_t lookup_expiry(struct store *st, unsigned int seed)
{
	unsigned char h[STORE_TOKEN_HASH_LEN];
	struct store_token_info t;
	int64_t e;

	hash_fill(h, seed);
	assert_int_equal(store_access_token_lookup(st, h, &t), STORE_OK);
	e = t.expires_ts;
	store_token_info_clear(&t);
	return e;
}

/* "When a refresh token is used to generate a new access token and refresh
 * token, the new access and refresh tokens are now bound to the device
 * associated with the initial refresh token." (Client-Server API,
 * Relationship between access tokens and devices) */
static void test_refresh_rotate(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s, n;
	unsigned char old[STORE_TOKEN_HASH_LEN];
	char *uid = NULL, *did = NULL;

	assert_int_equal(store_user_create(f->st, "@jo:x", NULL, NULL, false, 1), STORE_OK);
	s = session_new("@jo:x", "JD", 1, 2);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);

	/* the request's user_id and device_id are ignored */
	n = session_new("@ignored:x", "IGNORED", 3, 4);
	n.now_ms = 2000;
	hash_fill(old, 2);
	assert_int_equal(store_refresh_rotate(f->st, old, &n, &uid, &did), STORE_OK);
	assert_string_equal(uid, "@jo:x");
	assert_string_equal(did, "JD");
	free(uid);
	free(did);
	assert_int_equal(store_device_get(f->st, "@ignored:x", "IGNORED",
	                                  &(struct store_device){ 0 }), STORE_NOT_FOUND);
	/* After a refresh "a server can choose to invalidate the old access
	 * token immediately" (refresh.yaml): chappe expires it at the refresh,
	 * so a client still using it gets soft_logout, not an unknown token. */
	assert_int_equal(lookup_expiry(f->st, 1), 2000);
	assert_int_equal(lookup_expiry(f->st, 3), 0);
	assert_int_equal(rotate(f->st, 4, 5, 6, 2100), STORE_OK);
	assert_int_equal(lookup_expiry(f->st, 3), 2100);
}

/* "The old refresh token remains valid until the new access token or
 * refresh token is used, at which point the old refresh token is revoked.
 * This ensures that if a client fails to receive or persist the new
 * tokens, it will be able to repeat the refresh operation." (Client-Server
 * API, Refreshing access tokens) */
static void test_refresh_old_token_until_new_used(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s;

	assert_int_equal(store_user_create(f->st, "@jo:x", NULL, NULL, false, 1), STORE_OK);
	s = session_new("@jo:x", "JD", 1, 2);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);

	/* the pair (3, 4) is lost: refreshing with 2 again works, and the
	 * lost pair is dropped */
	assert_int_equal(rotate(f->st, 2, 3, 4, 2000), STORE_OK);
	assert_int_equal(rotate(f->st, 2, 5, 6, 2001), STORE_OK);
	assert_int_equal(lookup(f->st, 3), STORE_NOT_FOUND);
	assert_int_equal(rotate(f->st, 4, 7, 8, 2002), STORE_NOT_FOUND);
	assert_int_equal(lookup(f->st, 7), STORE_NOT_FOUND);

	/* using the new access token revokes the old refresh token, once and
	 * for good; the new one chains */
	assert_int_equal(lookup(f->st, 5), STORE_OK);
	assert_int_equal(rotate(f->st, 2, 9, 10, 2003), STORE_NOT_FOUND);
	assert_int_equal(lookup(f->st, 5), STORE_OK);
	assert_int_equal(rotate(f->st, 6, 11, 12, 2004), STORE_OK);

	/* using the new refresh token does the same */
	assert_int_equal(rotate(f->st, 12, 13, 14, 2005), STORE_OK);
	assert_int_equal(rotate(f->st, 6, 15, 16, 2006), STORE_NOT_FOUND);
	assert_int_equal(rotate(f->st, 12, 15, 16, 2007), STORE_OK);   /* 14 never used */
	assert_int_equal(rotate(f->st, 14, 17, 18, 2008), STORE_NOT_FOUND);

	/* without a new refresh token the old one stays the one to use */
	assert_int_equal(rotate(f->st, 16, 19, 0, 2009), STORE_OK);
	assert_int_equal(lookup(f->st, 19), STORE_OK);
	assert_int_equal(rotate(f->st, 16, 20, 21, 2010), STORE_OK);
	assert_int_equal(lookup_expiry(f->st, 19), 2010);

	/* however long the chain, a device keeps a bounded number of rows */
	for (unsigned int i = 0; i < 50; i++) {
		assert_int_equal(rotate(f->st, 21 + 2 * i, 100 + 2 * i, 21 + 2 * (i + 1), 3000 + i),
		                 STORE_OK);
		assert_int_equal(lookup(f->st, 100 + 2 * i), STORE_OK);
	}
	assert_true(raw_count(f->path, "SELECT COUNT(*) FROM refresh_tokens") <= 3);
	assert_true(raw_count(f->path, "SELECT COUNT(*) FROM access_tokens") <= 3);
	/* and deleting the device takes the whole chain */
	assert_int_equal(store_device_delete(f->st, "@jo:x", "JD"), STORE_OK);
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM refresh_tokens"), 0);
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM access_tokens"), 0);
}

static void test_refresh_refused(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s;

	assert_int_equal(store_user_create(f->st, "@jo:x", NULL, NULL, false, 1), STORE_OK);
	assert_int_equal(rotate(f->st, 42, 1, 2, 1000), STORE_NOT_FOUND);     /* unknown */
	/* an access token is not a refresh token */
	s = session_new("@jo:x", "JE", 8, 9);
	s.refresh_expires_ts = 3000;
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	assert_int_equal(rotate(f->st, 8, 10, 11, 1000), STORE_NOT_FOUND);
	/* expired at now_ms: refused, and the refusal changes nothing */
	assert_int_equal(rotate(f->st, 9, 10, 11, 3000), STORE_NOT_FOUND);
	assert_int_equal(lookup_expiry(f->st, 8), 0);
	assert_int_equal(lookup(f->st, 10), STORE_NOT_FOUND);
	assert_int_equal(rotate(f->st, 9, 10, 11, 2999), STORE_OK);

	/* a new hash that collides rolls the whole rotation back */
	s = session_new("@jo:x", "JF", 12, 13);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	assert_int_equal(rotate(f->st, 13, 10, 14, 1000), STORE_CONFLICT);    /* 10 taken */
	assert_int_equal(lookup_expiry(f->st, 12), 0);
	assert_int_equal(rotate(f->st, 13, 15, 11, 1000), STORE_CONFLICT);    /* 11 taken */
	assert_int_equal(rotate(f->st, 13, 15, 16, 1000), STORE_OK);

	/* a deactivated account's refresh tokens are gone */
	assert_int_equal(store_user_deactivate(f->st, "@jo:x", false), STORE_OK);
	assert_int_equal(rotate(f->st, 16, 17, 18, 1000), STORE_NOT_FOUND);
}

/* ---- migrations and durability ---------------------------------------- */

static void test_migrations_reopen(void **state)
{
	struct fixture *f = *state;
	struct store *st2 = NULL;
	struct store_user u;
	char err[256];

	assert_true(sqlite_migration_count >= 1);
	assert_int_equal(store_schema_version(f->st), sqlite_migration_count);
	assert_int_equal(store_user_create(f->st, "@kim:x", "h", "Kim", false, 1), STORE_OK);
	reopen(f);
	/* the steps are plain CREATE TABLE: re-applying one would fail open */
	assert_int_equal(store_schema_version(f->st), sqlite_migration_count);
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM schema_version"),
	                 sqlite_migration_count);
	assert_int_equal(store_user_get(f->st, "@kim:x", &u), STORE_OK);
	assert_string_equal(u.displayname, "Kim");
	store_user_clear(&u);
	/* WAL mode: the -wal file exists while the store is open */
	{
		char wal[160];

		snprintf(wal, sizeof(wal), "%s-wal", f->path);
		assert_int_equal(access(wal, F_OK), 0);
	}

	/* a database written by a newer build is refused, not modified */
	raw_exec(f->path, "INSERT INTO schema_version (version, applied_ts) VALUES (999, 0)");
	assert_int_equal(store_open(&st2, "sqlite", f->path, err, sizeof(err)), STORE_ERROR);
	assert_null(st2);
	assert_non_null(strstr(err, "newer"));
	raw_exec(f->path, "DELETE FROM schema_version WHERE version = 999");
	assert_int_equal(store_open(&st2, "sqlite", f->path, err, sizeof(err)), STORE_OK);
	store_close(st2);
}

/* A database left at schema version 1 by an older build is upgraded in
 * place, its rows kept and usable under the new rules. */
static void test_migration_upgrade(void **state)
{
	struct fixture *f = *state;
	char sql[1024], p[160];
	static const char *const suffixes[] = { "", "-wal", "-shm" };

	store_close(f->st);
	f->st = NULL;
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	assert_non_null(sqlite_migration_sql(1));
	assert_null(sqlite_migration_sql(0));
	assert_null(sqlite_migration_sql(sqlite_migration_count + 1));
	raw_exec(f->path, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
	                  "applied_ts INTEGER NOT NULL);"
	                  "INSERT INTO schema_version VALUES (1, 0);");
	raw_exec(f->path, sqlite_migration_sql(1));
	/* rows as a version-1 build wrote them, tokens seeded as hash_fill does */
	{
		unsigned char hr[STORE_TOKEN_HASH_LEN], ha[STORE_TOKEN_HASH_LEN];
		char hex_r[2 * STORE_TOKEN_HASH_LEN + 1], hex_a[2 * STORE_TOKEN_HASH_LEN + 1];

		hash_fill(hr, 2);
		hash_fill(ha, 1);
		for (int i = 0; i < STORE_TOKEN_HASH_LEN; i++) {
			snprintf(hex_r + 2 * i, 3, "%02x", hr[i]);
			snprintf(hex_a + 2 * i, 3, "%02x", ha[i]);
		}
		snprintf(sql, sizeof(sql),
		         "INSERT INTO users (user_id, created_ts) VALUES ('@old:x', 1);"
		         "INSERT INTO devices (user_id, device_id, created_ts) "
		         "VALUES ('@old:x', 'OD', 1);"
		         "INSERT INTO refresh_tokens (id, token_hash, user_id, device_id, created_ts) "
		         "VALUES (7, x'%s', '@old:x', 'OD', 1);"
		         "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, "
		         "refresh_token_id) VALUES (x'%s', '@old:x', 'OD', 1, 7);",
		         hex_r, hex_a);
	}
	raw_exec(f->path, sql);

	reopen(f);
	assert_int_equal(store_schema_version(f->st), sqlite_migration_count);
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM schema_version"),
	                 sqlite_migration_count);
	assert_int_equal(lookup(f->st, 1), STORE_OK);
	assert_int_equal(rotate(f->st, 2, 3, 4, 1000), STORE_OK);
	assert_int_equal(rotate(f->st, 2, 5, 6, 1001), STORE_OK);     /* new pair not used yet */
	assert_int_equal(lookup(f->st, 5), STORE_OK);
	assert_int_equal(rotate(f->st, 2, 7, 8, 1002), STORE_NOT_FOUND);
}

/* What a write call acknowledged survives the process dying right after
 * (no store_close, no atexit): synchronous=FULL, the WAL is replayed. */
static void test_crash_durability(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status = 0;
	int n = 0;

	store_close(f->st);
	f->st = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = NULL;
		char err[256], id[32];

		if (store_open(&st, "sqlite", f->path, err, sizeof(err)) != STORE_OK)
			_exit(2);
		for (int i = 0; i < 50; i++) {
			snprintf(id, sizeof(id), "@crash%02d:x", i);
			if (store_user_create(st, id, NULL, NULL, false, 1) != STORE_OK)
				_exit(3);
		}
		raise(SIGKILL);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	reopen(f);
	assert_int_equal(store_user_list(f->st, count_user, &n), STORE_OK);
	assert_int_equal(n, 50);
}

/* ---- validate what you load ------------------------------------------- */

static void test_loaded_rows_validated(void **state)
{
	struct fixture *f = *state;
	struct store_session_new s;
	struct store_user u;
	struct store_device d;
	struct store_token_info t;
	unsigned char h[STORE_TOKEN_HASH_LEN];
	int n = 0;

	assert_int_equal(store_user_create(f->st, "@lee:x", "h", "Lee", false, 1), STORE_OK);
	s = session_new("@lee:x", "LD", 1, 0);
	assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	assert_int_equal(store_user_get(f->st, "@lee:x", &u), STORE_OK);
	store_user_clear(&u);

	static const char *const bad_user_rows[] = {
		"UPDATE users SET displayname = x'00ff' WHERE user_id = '@lee:x'",    /* BLOB */
		"UPDATE users SET displayname = CAST(x'610062' AS TEXT) WHERE user_id = '@lee:x'",
		"UPDATE users SET created_ts = -5 WHERE user_id = '@lee:x'",
		"UPDATE users SET created_ts = 'soon' WHERE user_id = '@lee:x'",
		"UPDATE users SET password_hash = x'41' WHERE user_id = '@lee:x'",
		"UPDATE users SET avatar_url = substr(hex(zeroblob(40000)), 1, 65537) WHERE user_id = '@lee:x'",
		/* deactivated with a password left behind: not a state we write */
		"PRAGMA ignore_check_constraints = 1; "
		"UPDATE users SET deactivated = 1 WHERE user_id = '@lee:x'",
	};
	for (size_t i = 0; i < sizeof(bad_user_rows) / sizeof(bad_user_rows[0]); i++) {
		raw_exec(f->path, bad_user_rows[i]);
		assert_int_equal(store_user_get(f->st, "@lee:x", &u), STORE_ERROR);
		assert_null(u.user_id);
		assert_int_equal(store_user_list(f->st, count_user, &n), STORE_ERROR);
		raw_exec(f->path, "UPDATE users SET displayname = 'Lee', created_ts = 1, "
		                  "password_hash = 'h', avatar_url = NULL, deactivated = 0 "
		                  "WHERE user_id = '@lee:x'");
		assert_int_equal(store_user_get(f->st, "@lee:x", &u), STORE_OK);
		store_user_clear(&u);
	}
	/* booleans must be 0 or 1 (checks off to plant the value) */
	raw_exec(f->path, "PRAGMA ignore_check_constraints = 1; "
	                  "UPDATE users SET admin = 2 WHERE user_id = '@lee:x'");
	assert_int_equal(store_user_get(f->st, "@lee:x", &u), STORE_ERROR);
	hash_fill(h, 1);
	assert_int_equal(store_access_token_lookup(f->st, h, &t), STORE_ERROR);
	assert_null(t.user_id);
	raw_exec(f->path, "UPDATE users SET admin = 0 WHERE user_id = '@lee:x'");
	assert_int_equal(store_access_token_lookup(f->st, h, &t), STORE_OK);
	store_token_info_clear(&t);

	raw_exec(f->path, "UPDATE devices SET last_seen_ip = substr(hex(zeroblob(200)), 1, 300)");
	assert_int_equal(store_device_get(f->st, "@lee:x", "LD", &d), STORE_ERROR);
	assert_null(d.device_id);
	assert_int_equal(store_device_list(f->st, "@lee:x", device_collect, &(struct device_seen){0}),
	                 STORE_ERROR);
	raw_exec(f->path, "UPDATE devices SET last_seen_ip = NULL, last_seen_ts = 'never'");
	assert_int_equal(store_device_get(f->st, "@lee:x", "LD", &d), STORE_ERROR);
	raw_exec(f->path, "UPDATE devices SET last_seen_ts = 0");
	assert_int_equal(store_device_get(f->st, "@lee:x", "LD", &d), STORE_OK);
	store_device_clear(&d);

	raw_exec(f->path, "UPDATE access_tokens SET expires_ts = -1");
	assert_int_equal(store_access_token_lookup(f->st, h, &t), STORE_ERROR);
	assert_null(t.user_id);
}

/* ---- concurrency ------------------------------------------------------ */

#define WRITERS 8
#define WRITES_EACH 200

struct writer_arg {
	struct store *st;
	int index;
	int failures;
};

static void *writer_thread(void *p)
{
	struct writer_arg *a = p;
	char id[64];

	for (int i = 0; i < WRITES_EACH; i++) {
		snprintf(id, sizeof(id), "@w%d_%03d:x", a->index, i);
		if (store_user_create(a->st, id, NULL, NULL, false, 1) != STORE_OK)
			a->failures++;
	}
	return NULL;
}

static void test_group_commit_concurrent(void **state)
{
	struct fixture *f = *state;
	pthread_t th[WRITERS];
	struct writer_arg args[WRITERS];
	struct store_stats before, after;
	int n = 0;

	store_stats_get(f->st, &before);
	for (int i = 0; i < WRITERS; i++) {
		args[i] = (struct writer_arg){ f->st, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &args[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(store_user_list(f->st, count_user, &n), STORE_OK);
	assert_int_equal(n, WRITERS * WRITES_EACH);
	store_stats_get(f->st, &after);
	assert_int_equal(after.write_jobs - before.write_jobs, WRITERS * WRITES_EACH);
	/* 8 threads each waiting on its own commit: the writer must have
	 * grouped some of them (one fsync for several writes) */
	assert_true(after.write_batches - before.write_batches < WRITERS * WRITES_EACH);
	assert_true(after.largest_batch >= 2);
}

struct create_arg {
	struct store *st;
	const char *user_id;
	enum store_result result;
};

static void *create_thread(void *p)
{
	struct create_arg *a = p;

	a->result = store_user_create(a->st, a->user_id, NULL, NULL, false, 1);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Hold the database's write lock from outside so the writer stalls and the
 * next writes queue up into one batch; one of them is a duplicate. */
static void test_group_commit_failure_isolated(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = {
		"@first:x", "@b1:x", "@b2:x", "@dup:x", "@b3:x", "@b4:x", "@b5:x",
	};
	enum { N = sizeof(ids) / sizeof(ids[0]) };
	struct create_arg args[N];
	pthread_t th[N];
	struct store_stats stats;
	sqlite3 *db = NULL;

	assert_int_equal(store_user_create(f->st, "@dup:x", NULL, NULL, false, 1), STORE_OK);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	for (int i = 0; i < N; i++) {
		args[i] = (struct create_arg){ f->st, ids[i], STORE_ERROR };
		assert_int_equal(pthread_create(&th[i], NULL, create_thread, &args[i]), 0);
		/* the first is taken alone and stalls on the lock; the rest queue */
		sleep_ms(i == 0 ? 150 : 20);
	}
	sleep_ms(150);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);

	store_stats_get(f->st, &stats);
	assert_true(stats.largest_batch >= N - 1);
	for (int i = 0; i < N; i++) {
		if (strcmp(ids[i], "@dup:x") == 0) {
			assert_int_equal(args[i].result, STORE_CONFLICT);
		} else {
			assert_int_equal(args[i].result, STORE_OK);
			assert_int_equal(store_user_exists(f->st, ids[i]), STORE_OK);
		}
	}
}

/* The writer gives up when the lock is held past its busy timeout: every
 * job of that batch fails, none half-lands. */
static void test_group_commit_begin_fails(void **state)
{
	struct fixture *f = *state;
	struct create_arg a = { f->st, "@late:x", STORE_OK };
	pthread_t th;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(pthread_create(&th, NULL, create_thread, &a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);   /* ~5 s busy timeout */
	assert_int_equal(a.result, STORE_ERROR);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_user_exists(f->st, "@late:x"), STORE_NOT_FOUND);
	assert_int_equal(store_user_create(f->st, "@late:x", NULL, NULL, false, 1), STORE_OK);
}

#define READERS 6

struct reader_arg {
	struct store *st;
	int errors;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	struct store_user u;
	struct store_token_info t;
	unsigned char h[STORE_TOKEN_HASH_LEN];
	char id[64];

	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "@r%03d:x", i % 50);
		if (store_user_get(a->st, id, &u) != STORE_OK || strcmp(u.user_id, id) != 0)
			a->errors++;
		store_user_clear(&u);
		hash_fill(h, (unsigned int)(i % 50) + 1);
		if (store_access_token_lookup(a->st, h, &t) != STORE_OK ||
		    strcmp(t.user_id, id) != 0)
			a->errors++;
		store_token_info_clear(&t);
		if (store_user_exists(a->st, "@absent:x") != STORE_NOT_FOUND)
			a->errors++;
	}
	/* exiting here runs the reader's key destructor (ASan checks leaks) */
	return NULL;
}

static void test_readers_threads(void **state)
{
	struct fixture *f = *state;
	struct reader_arg args[READERS];
	pthread_t th[READERS], w;
	struct writer_arg wa = { f->st, 7, 0 };
	struct store_stats stats;

	for (unsigned int i = 0; i < 50; i++) {
		struct store_session_new s;
		char id[64];

		snprintf(id, sizeof(id), "@r%03u:x", i);
		assert_int_equal(store_user_create(f->st, id, NULL, NULL, false, 1), STORE_OK);
		s = session_new(id, "D", i + 1, 0);
		assert_int_equal(store_session_create(f->st, &s), STORE_OK);
	}
	/* reads run alongside a stream of writes */
	assert_int_equal(pthread_create(&w, NULL, writer_thread, &wa), 0);
	for (int i = 0; i < READERS; i++) {
		args[i] = (struct reader_arg){ f->st, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &args[i]), 0);
	}
	for (int i = 0; i < READERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].errors, 0);
	}
	assert_int_equal(pthread_join(w, NULL), 0);
	assert_int_equal(wa.failures, 0);
	/* the exited threads' key destructors closed their readers */
	store_stats_get(f->st, &stats);
	assert_int_equal(stats.readers_open, 0);
	/* a thread still alive with its reader open: store_close closes it */
	assert_int_equal(store_user_exists(f->st, "@r000:x"), STORE_OK);
	store_stats_get(f->st, &stats);
	assert_int_equal(stats.readers_open, 1);
}

/* ---- out of memory (SQLite style) -------------------------------------- */

/* SQLite's allocator, wrapped so that every allocation after the first
 * oom_budget ones fails (the writer thread allocates too: atomics). */
#define OOM_BUDGET_MAX 200000

static sqlite3_mem_methods oom_orig;
static _Atomic long oom_budget = -1;    /* -1: never fail */
static _Atomic long oom_failed;
static bool oom_installed;

static void *oom_malloc(int n)
{
	if (oom_budget >= 0 && atomic_fetch_sub(&oom_budget, 1) <= 0) {
		oom_failed++;
		return NULL;
	}
	return oom_orig.xMalloc(n);
}

static void *oom_realloc(void *p, int n)
{
	if (oom_budget >= 0 && atomic_fetch_sub(&oom_budget, 1) <= 0) {
		oom_failed++;
		return NULL;
	}
	return oom_orig.xRealloc(p, n);
}

static void oom_install(bool on)
{
	sqlite3_mem_methods m;

	/* the allocator can only change while SQLite is shut down, which
	 * needs every connection closed: this test runs with none open */
	assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
	if (on) {
		assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &oom_orig), SQLITE_OK);
		m = oom_orig;
		m.xMalloc = oom_malloc;
		m.xRealloc = oom_realloc;
		assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
	} else {
		assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &oom_orig), SQLITE_OK);
	}
	oom_installed = on;
	assert_int_equal(sqlite3_initialize(), SQLITE_OK);
}

/* One round of work with the allocator failing after `budget` calls.
 * Returns a bit per write that was acknowledged. */
static unsigned int oom_round(const char *path, long budget)
{
	struct store *st = NULL;
	struct store_session_new s = session_new("@oom:x", "OD", 1, 2);
	struct store_user u;
	struct store_token_info t;
	unsigned char h[STORE_TOKEN_HASH_LEN];
	char err[256], *uid = NULL, *did = NULL;
	unsigned int acked = 0;
	enum store_result r;

	oom_budget = budget;
	if (store_open(&st, "sqlite", path, err, sizeof(err)) != STORE_OK)
		goto out;
	r = store_user_create(st, "@oom:x", "h", "O", false, 1);
	assert_true(r == STORE_OK || r == STORE_ERROR);
	acked |= r == STORE_OK ? 1u : 0u;
	r = store_session_create(st, &s);
	assert_true(r == STORE_OK || r == STORE_ERROR || r == STORE_NOT_FOUND);
	acked |= r == STORE_OK ? 2u : 0u;
	r = store_user_get(st, "@oom:x", &u);
	assert_true(r == STORE_OK || r == STORE_ERROR || r == STORE_NOT_FOUND);
	store_user_clear(&u);
	hash_fill(h, 1);
	r = store_access_token_lookup(st, h, &t);
	store_token_info_clear(&t);
	hash_fill(h, 2);
	s = session_new(NULL, NULL, 3, 4);
	r = store_refresh_rotate(st, h, &s, &uid, &did);
	acked |= r == STORE_OK ? 4u : 0u;
	free(uid);
	free(did);
	store_close(st);
out:
	oom_budget = -1;
	return acked;
}

static void test_out_of_memory(void **state)
{
	struct fixture *f = *state;
	const char *path = f->path;
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	struct store *st = NULL;
	struct store_device d;
	char err[256], p[160];
	long budget;
	unsigned int acked = 0;

	store_close(f->st);
	f->st = NULL;
	oom_install(true);
	/* every budget while SQLite sets up, then growing steps: a round needs
	 * a few thousand allocations */
	for (budget = 0; budget < OOM_BUDGET_MAX; budget += budget < 400 ? 1 : 1 + budget / 32) {
		for (size_t i = 0; i < 3; i++) {
			snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
			unlink(p);
		}
		oom_failed = 0;
		acked = oom_round(path, budget);

		/* with memory back: the database opens (a half-applied migration
		 * would not), and what was acknowledged is there, whole */
		assert_int_equal(store_open(&st, "sqlite", path, err, sizeof(err)), STORE_OK);
		if (acked & 1u)
			assert_int_equal(store_user_exists(st, "@oom:x"), STORE_OK);
		if (acked & 2u) {
			assert_int_equal(store_device_get(st, "@oom:x", "OD", &d), STORE_OK);
			store_device_clear(&d);
		}
		if (acked & 4u)
			assert_int_equal(lookup(st, 3), STORE_OK);
		else if (acked & 2u)
			assert_int_equal(lookup(st, 1), STORE_OK);
		store_close(st);
		if (oom_failed == 0)
			break;    /* the round needed no more than budget */
	}
	oom_install(false);
	assert_true(budget < OOM_BUDGET_MAX);
	assert_int_equal(acked, 7u);
}

/* Runs even when the test failed: put SQLite's own allocator back (if a
 * failed round left a connection open this may not be possible, and the
 * remaining tests will say so). */
static int oom_teardown(void **state)
{
	if (oom_installed && sqlite3_shutdown() == SQLITE_OK &&
	    sqlite3_config(SQLITE_CONFIG_MALLOC, &oom_orig) == SQLITE_OK) {
		oom_installed = false;
		sqlite3_initialize();
	}
	oom_budget = -1;
	return fixture_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_user_create_get),
		T(test_arguments_refused),
		T(test_user_updates),
		T(test_user_list),
		T(test_user_deactivate),
		T(test_devices),
		T(test_devices_delete_all),
		T(test_session_and_lookup),
		T(test_refresh_rotate),
		T(test_refresh_old_token_until_new_used),
		T(test_refresh_refused),
		T(test_migrations_reopen),
		T(test_migration_upgrade),
		T(test_crash_durability),
		T(test_loaded_rows_validated),
		T(test_group_commit_concurrent),
		T(test_group_commit_failure_isolated),
		T(test_group_commit_begin_fails),
		T(test_readers_threads),
#undef T
		cmocka_unit_test_setup_teardown(test_out_of_memory, fixture_setup, oom_teardown),
	};

	/* refused calls and planted bad rows log by design; keep output short */
	log_set_level(getenv("STORE_TEST_VERBOSE") != NULL ? LOG_DEBUG : LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
