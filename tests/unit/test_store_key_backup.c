/*
 * test_store_key_backup: server-side key backups in the storage contract
 * (store.h, "server-side key backup") on the SQLite back end, in a fresh
 * mkdtemp directory per test.
 *
 * Spec, Client-Server API, End-to-End Encryption, "Server-side key
 * backups": "Backups are per-user, and users may replace backups with new
 * backups." "Keys can only be written to the most recently created version
 * of the backup." DELETE /room_keys/version/{version} (key_backup.yaml):
 * "Both the information about the backup, as well as all key data related
 * to the backup will be deleted." and "If the backup was previously
 * deleted, the call should succeed rather than returning an error."
 * GET /room_keys/version: etag is "An opaque string representing stored
 * keys in the backup"; count is "The number of keys stored in the backup".
 *
 * What is proven here: version numbering (never reused after a delete),
 * the current version (newest not deleted, per user), update refusing
 * another algorithm, delete taking the keys and succeeding twice; puts
 * only into the current version (the refusal names it); the replace rule
 * applied inside the write job, also under 8 racing threads; etag and
 * count moving exactly when keys change; get and delete by version, room
 * and session; the per-version session cap refusing a put as a whole;
 * everything surviving a reopen; bad arguments refused; rows planted
 * behind the store's back (wrong types, wrong shapes, negative counts)
 * refused when loaded instead of handed out; and every statement of the
 * feature planned with an index.
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
#include <unistd.h>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_backend.h"

#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define ALGO "m.megolm_backup.v1.curve25519-aes-sha2"
#define AUTH "{\"public_key\":\"abcdefg\"}"
#define ROOM1 "!room1:example.org"
#define ROOM2 "!room2:example.org"

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-backup-XXXXXX");
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
	rmdir(f->dir);
	free(f);
	return 0;
}

static int64_t create_version(struct store *st, const char *user)
{
	int64_t v = 0;

	assert_int_equal(store_backup_version_create(st, user, ALGO, AUTH, &v), STORE_OK);
	assert_true(v > 0);
	return v;
}

/* Put one key; returns the store result, *c the counts. */
static enum store_result put_one(struct store *st, const char *user, int64_t version,
                                 const char *room, const char *session, bool verified,
                                 int64_t index, int64_t forwarded, const char *data,
                                 struct store_backup_counts *c)
{
	struct store_backup_key_new k = { room, session, { verified, index, forwarded }, data };
	enum store_backup_refusal why;
	int64_t current;

	return store_backup_keys_put(st, user, version, &k, 1, &why, &current, c);
}

/* session_data of one stored key (malloc'd), NULL if absent. */
static char *stored_data(struct store *st, const char *user, int64_t version, const char *room,
                         const char *session)
{
	struct store_backup_key_list l = { 0 };
	char *data = NULL;

	assert_int_equal(store_backup_keys_get(st, user, version, room, session, &l), STORE_OK);
	assert_true(l.n <= 1);
	if (l.n == 1) {
		data = l.items[0].session_data;
		l.items[0].session_data = NULL;
	}
	store_backup_key_list_clear(&l);
	return data;
}

static void test_versions(void **state)
{
	struct fixture *f = *state;
	struct store_backup_version v = { 0 };
	int64_t v1, v2, v3, vb;

	/* no backup yet */
	assert_int_equal(store_backup_version_get(f->st, ALICE, 0, &v), STORE_NOT_FOUND);
	v1 = create_version(f->st, ALICE);
	vb = create_version(f->st, BOB);
	v2 = create_version(f->st, ALICE);
	assert_true(v1 < vb && vb < v2);

	/* current = newest; a version is the owner's only */
	assert_int_equal(store_backup_version_get(f->st, ALICE, 0, &v), STORE_OK);
	assert_int_equal(v.version, v2);
	assert_string_equal(v.algorithm, ALGO);
	assert_string_equal(v.auth_data, AUTH);
	assert_int_equal(v.count, 0);
	store_backup_version_clear(&v);
	assert_int_equal(store_backup_version_get(f->st, ALICE, vb, &v), STORE_NOT_FOUND);
	assert_int_equal(store_backup_version_get(f->st, BOB, v1, &v), STORE_NOT_FOUND);
	assert_int_equal(store_backup_version_get(f->st, ALICE, v1, &v), STORE_OK);
	assert_int_equal(v.version, v1);
	store_backup_version_clear(&v);

	/* update: "Only auth_data can be modified"; the algorithm must match */
	assert_int_equal(store_backup_version_update(f->st, ALICE, v1, "other.algorithm",
	                                             "{\"x\":1}"), STORE_CONFLICT);
	assert_int_equal(store_backup_version_update(f->st, ALICE, v1, ALGO, "{\"x\":1}"),
	                 STORE_OK);
	assert_int_equal(store_backup_version_get(f->st, ALICE, v1, &v), STORE_OK);
	assert_string_equal(v.auth_data, "{\"x\":1}");
	store_backup_version_clear(&v);
	assert_int_equal(store_backup_version_update(f->st, BOB, v1, ALGO, "{\"x\":2}"),
	                 STORE_NOT_FOUND);

	/* delete the newest: the current falls back to the older one */
	assert_int_equal(store_backup_version_delete(f->st, ALICE, v2), STORE_OK);
	assert_int_equal(store_backup_version_delete(f->st, ALICE, v2), STORE_OK);
	assert_int_equal(store_backup_version_get(f->st, ALICE, v2, &v), STORE_NOT_FOUND);
	assert_int_equal(store_backup_version_update(f->st, ALICE, v2, ALGO, AUTH),
	                 STORE_NOT_FOUND);
	assert_int_equal(store_backup_version_get(f->st, ALICE, 0, &v), STORE_OK);
	assert_int_equal(v.version, v1);
	store_backup_version_clear(&v);
	/* never had it: not found, and bob cannot delete alice's */
	assert_int_equal(store_backup_version_delete(f->st, ALICE, v2 + 100), STORE_NOT_FOUND);
	assert_int_equal(store_backup_version_delete(f->st, BOB, v1), STORE_NOT_FOUND);
	assert_int_equal(store_backup_version_get(f->st, ALICE, v1, &v), STORE_OK);
	store_backup_version_clear(&v);

	/* a deleted number is never handed out again */
	v3 = create_version(f->st, ALICE);
	assert_true(v3 > v2);
}

static void test_keys_put_get_delete(void **state)
{
	struct fixture *f = *state;
	struct store_backup_key_list l = { 0 };
	struct store_backup_counts c = { 0 }, c2 = { 0 };
	struct store_backup_version v = { 0 };
	int64_t v1 = create_version(f->st, ALICE);
	struct store_backup_key_new keys[3] = {
		{ ROOM2, "sB", { false, 0, 0 }, "{\"d\":\"2b\"}" },
		{ ROOM1, "sB", { false, 0, 0 }, "{\"d\":\"1b\"}" },
		{ ROOM1, "sA", { true, 3, 1 }, "{\"d\":\"1a\"}" },
	};
	enum store_backup_refusal why;
	int64_t current;

	assert_int_equal(store_backup_keys_put(f->st, ALICE, v1, keys, 3, &why, &current, &c),
	                 STORE_OK);
	assert_int_equal(c.count, 3);
	assert_true(c.etag > 0);

	/* GET /room_keys/version carries the same count and etag */
	assert_int_equal(store_backup_version_get(f->st, ALICE, 0, &v), STORE_OK);
	assert_int_equal(v.count, 3);
	assert_int_equal(v.etag, c.etag);
	store_backup_version_clear(&v);

	/* all keys, by room then session */
	assert_int_equal(store_backup_keys_get(f->st, ALICE, v1, NULL, NULL, &l), STORE_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[0].room_id, ROOM1);
	assert_string_equal(l.items[0].session_id, "sA");
	assert_true(l.items[0].rank.is_verified);
	assert_int_equal(l.items[0].rank.first_message_index, 3);
	assert_int_equal(l.items[0].rank.forwarded_count, 1);
	assert_string_equal(l.items[0].session_data, "{\"d\":\"1a\"}");
	assert_string_equal(l.items[1].session_id, "sB");
	assert_string_equal(l.items[2].room_id, ROOM2);
	store_backup_key_list_clear(&l);
	/* one room, one session, a missing session, a room without keys */
	assert_int_equal(store_backup_keys_get(f->st, ALICE, v1, ROOM1, NULL, &l), STORE_OK);
	assert_int_equal(l.n, 2);
	store_backup_key_list_clear(&l);
	assert_int_equal(store_backup_keys_get(f->st, ALICE, v1, ROOM2, "sB", &l), STORE_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].session_data, "{\"d\":\"2b\"}");
	store_backup_key_list_clear(&l);
	assert_int_equal(store_backup_keys_get(f->st, ALICE, v1, ROOM2, "sX", &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_backup_keys_get(f->st, ALICE, v1, "!none:x", NULL, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	/* bob sees nothing of alice's */
	assert_int_equal(store_backup_keys_get(f->st, BOB, v1, NULL, NULL, &l), STORE_NOT_FOUND);

	/* deleting nothing leaves the etag */
	assert_int_equal(store_backup_keys_delete(f->st, ALICE, v1, ROOM2, "sX", &c2), STORE_OK);
	assert_int_equal(c2.etag, c.etag);
	assert_int_equal(c2.count, 3);
	/* one session, then one room */
	assert_int_equal(store_backup_keys_delete(f->st, ALICE, v1, ROOM1, "sA", &c2), STORE_OK);
	assert_true(c2.etag > c.etag);
	assert_int_equal(c2.count, 2);
	c = c2;
	assert_int_equal(store_backup_keys_delete(f->st, ALICE, v1, ROOM1, NULL, &c2), STORE_OK);
	assert_true(c2.etag > c.etag);
	assert_int_equal(c2.count, 1);
	c = c2;
	assert_int_equal(store_backup_keys_delete(f->st, ALICE, v1, NULL, NULL, &c2), STORE_OK);
	assert_true(c2.etag > c.etag);
	assert_int_equal(c2.count, 0);
	assert_int_equal(store_backup_keys_get(f->st, ALICE, v1, NULL, NULL, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	/* an unknown version */
	assert_int_equal(store_backup_keys_delete(f->st, ALICE, v1 + 50, NULL, NULL, &c2),
	                 STORE_NOT_FOUND);
}

static void test_put_only_current(void **state)
{
	struct fixture *f = *state;
	struct store_backup_key_new k = { ROOM1, "s", { false, 0, 0 }, "{}" };
	struct store_backup_key_list l = { 0 };
	struct store_backup_counts c = { 0 };
	enum store_backup_refusal why;
	int64_t v1, v2, current = -1;

	/* no backup at all: refused, no current version to name */
	assert_int_equal(store_backup_keys_put(f->st, ALICE, 1, &k, 1, &why, &current, &c),
	                 STORE_CONFLICT);
	assert_int_equal(why, STORE_BACKUP_NOT_CURRENT);
	assert_int_equal(current, 0);

	v1 = create_version(f->st, ALICE);
	assert_int_equal(put_one(f->st, ALICE, v1, ROOM1, "old", false, 0, 0, "{}", &c), STORE_OK);
	v2 = create_version(f->st, ALICE);
	/* the older version is readable but no longer writable */
	assert_int_equal(store_backup_keys_put(f->st, ALICE, v1, &k, 1, &why, &current, &c),
	                 STORE_CONFLICT);
	assert_int_equal(why, STORE_BACKUP_NOT_CURRENT);
	assert_int_equal(current, v2);
	assert_int_equal(store_backup_keys_get(f->st, ALICE, v1, NULL, NULL, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	store_backup_key_list_clear(&l);
	/* another user's version, or a number never issued */
	assert_int_equal(store_backup_keys_put(f->st, BOB, v2, &k, 1, &why, &current, &c),
	                 STORE_CONFLICT);
	assert_int_equal(current, 0);
	assert_int_equal(store_backup_keys_put(f->st, ALICE, v2 + 7, &k, 1, &why, &current, &c),
	                 STORE_CONFLICT);
	assert_int_equal(current, v2);

	/* deleting v2 takes its keys; v1 is current again */
	assert_int_equal(put_one(f->st, ALICE, v2, ROOM1, "new", false, 0, 0, "{}", &c), STORE_OK);
	assert_int_equal(store_backup_version_delete(f->st, ALICE, v2), STORE_OK);
	assert_int_equal(store_backup_keys_get(f->st, ALICE, v2, NULL, NULL, &l), STORE_NOT_FOUND);
	assert_int_equal(store_backup_keys_put(f->st, ALICE, v2, &k, 1, &why, &current, &c),
	                 STORE_CONFLICT);
	assert_int_equal(current, v1);
	assert_int_equal(store_backup_keys_put(f->st, ALICE, v1, &k, 1, &why, &current, &c),
	                 STORE_OK);
	assert_int_equal(c.count, 2);
}

/* The replace rule as the store applies it: a worse key leaves the stored
 * one (and the etag) alone; a better one replaces it. */
static void test_put_replace_rule(void **state)
{
	struct fixture *f = *state;
	struct store_backup_counts c = { 0 }, c2 = { 0 };
	int64_t v = create_version(f->st, ALICE);
	char *data;

	assert_int_equal(put_one(f->st, ALICE, v, ROOM1, "s", false, 5, 2, "{\"k\":\"first\"}", &c),
	                 STORE_OK);
	assert_int_equal(c.count, 1);
	/* higher index: kept out, etag unchanged */
	assert_int_equal(put_one(f->st, ALICE, v, ROOM1, "s", false, 6, 0, "{\"k\":\"worse\"}", &c2),
	                 STORE_OK);
	assert_int_equal(c2.etag, c.etag);
	assert_int_equal(c2.count, 1);
	data = stored_data(f->st, ALICE, v, ROOM1, "s");
	assert_string_equal(data, "{\"k\":\"first\"}");
	free(data);
	/* identical rank: kept out too */
	assert_int_equal(put_one(f->st, ALICE, v, ROOM1, "s", false, 5, 2, "{\"k\":\"same\"}", &c2),
	                 STORE_OK);
	assert_int_equal(c2.etag, c.etag);
	/* lower forwarded_count at the same index: replaces */
	assert_int_equal(put_one(f->st, ALICE, v, ROOM1, "s", false, 5, 1, "{\"k\":\"fc1\"}", &c2),
	                 STORE_OK);
	assert_true(c2.etag > c.etag);
	assert_int_equal(c2.count, 1);
	c = c2;
	/* verified beats a lower index */
	assert_int_equal(put_one(f->st, ALICE, v, ROOM1, "s", true, 40, 9, "{\"k\":\"ver\"}", &c2),
	                 STORE_OK);
	assert_true(c2.etag > c.etag);
	assert_int_equal(put_one(f->st, ALICE, v, ROOM1, "s", false, 0, 0, "{\"k\":\"unv\"}", &c2),
	                 STORE_OK);
	data = stored_data(f->st, ALICE, v, ROOM1, "s");
	assert_string_equal(data, "{\"k\":\"ver\"}");
	free(data);
}

struct racer {
	struct store *st;
	int64_t version;
	int id;
	int failures;
};

/* Each thread uploads its own rank for the same sessions, many times. */
static void *race_thread(void *arg)
{
	struct racer *r = arg;
	char data[64];

	for (int round = 0; round < 20; round++) {
		for (int s = 0; s < 4; s++) {
			struct store_backup_counts c;
			char session[16];
			snprintf(session, sizeof(session), "s%d", s);
			/* thread 5 holds the best rank: verified, index 1, count 0 */
			snprintf(data, sizeof(data), "{\"from\":%d}", r->id);
			if (put_one(r->st, ALICE, r->version, ROOM1, session, r->id % 2 == 1,
			            r->id == 5 ? 1 : 10 - r->id, r->id == 5 ? 0 : r->id, data,
			            &c) != STORE_OK)
				r->failures++;
		}
	}
	return NULL;
}

static void test_put_race_keeps_best(void **state)
{
	struct fixture *f = *state;
	struct racer racers[8];
	pthread_t threads[8];
	int64_t v = create_version(f->st, ALICE);

	for (int i = 0; i < 8; i++) {
		racers[i] = (struct racer){ f->st, v, i, 0 };
		assert_int_equal(pthread_create(&threads[i], NULL, race_thread, &racers[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(racers[i].failures, 0);
	}
	for (int s = 0; s < 4; s++) {
		char session[16], *data;
		snprintf(session, sizeof(session), "s%d", s);
		data = stored_data(f->st, ALICE, v, ROOM1, session);
		assert_string_equal(data, "{\"from\":5}");
		free(data);
	}
	{
		struct store_backup_version info = { 0 };
		assert_int_equal(store_backup_version_get(f->st, ALICE, v, &info), STORE_OK);
		assert_int_equal(info.count, 4);
		store_backup_version_clear(&info);
	}
}

/* A version holds at most STORE_BACKUP_SESSIONS_MAX sessions; a put that
 * would go over is refused whole. */
static void test_session_cap(void **state)
{
	struct fixture *f = *state;
	struct store_backup_key_new *keys = calloc(STORE_BACKUP_PUT_MAX, sizeof(*keys));
	char (*ids)[16] = calloc(STORE_BACKUP_PUT_MAX, 16);
	struct store_backup_counts c = { 0 };
	enum store_backup_refusal why;
	int64_t v = create_version(f->st, ALICE), current;
	int batches = STORE_BACKUP_SESSIONS_MAX / STORE_BACKUP_PUT_MAX;

	assert_non_null(keys);
	assert_non_null(ids);
	for (int b = 0; b <= batches; b++) {
		for (int i = 0; i < STORE_BACKUP_PUT_MAX; i++) {
			/* the last batch re-sends one stored session plus new ones */
			int n = b == batches && i == 0 ? 0 : b * STORE_BACKUP_PUT_MAX + i;
			snprintf(ids[i], 16, "s%07d", n);
			keys[i] = (struct store_backup_key_new){ ROOM1, ids[i], { false, 0, 0 }, "{}" };
		}
		if (b < batches) {
			assert_int_equal(store_backup_keys_put(f->st, ALICE, v, keys,
			                                       STORE_BACKUP_PUT_MAX, &why, &current, &c),
			                 STORE_OK);
			assert_int_equal(c.count, (int64_t)(b + 1) * STORE_BACKUP_PUT_MAX);
		}
	}
	{
		int64_t etag = c.etag;
		struct store_backup_version info = { 0 };
		assert_int_equal(store_backup_keys_put(f->st, ALICE, v, keys, STORE_BACKUP_PUT_MAX,
		                                       &why, &current, &c), STORE_CONFLICT);
		assert_int_equal(why, STORE_BACKUP_FULL);
		assert_int_equal(store_backup_version_get(f->st, ALICE, v, &info), STORE_OK);
		assert_int_equal(info.count, STORE_BACKUP_SESSIONS_MAX);
		assert_int_equal(info.etag, etag);
		store_backup_version_clear(&info);
	}
	/* replacing a stored session adds none: still accepted when full */
	keys[0].rank.is_verified = true;
	assert_int_equal(store_backup_keys_put(f->st, ALICE, v, keys, 1, &why, &current, &c),
	                 STORE_OK);
	assert_int_equal(c.count, STORE_BACKUP_SESSIONS_MAX);
	free(keys);
	free(ids);
}

static void test_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct store_backup_counts c = { 0 };
	struct store_backup_version v = { 0 };
	int64_t v1 = create_version(f->st, ALICE);
	char err[256], *data;

	assert_int_equal(put_one(f->st, ALICE, v1, ROOM1, "s", true, 2, 0, "{\"x\":1}", &c), STORE_OK);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(&f->st, "sqlite", f->path, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_backup_version_get(f->st, ALICE, 0, &v), STORE_OK);
	assert_int_equal(v.version, v1);
	assert_int_equal(v.count, 1);
	assert_int_equal(v.etag, c.etag);
	store_backup_version_clear(&v);
	data = stored_data(f->st, ALICE, v1, ROOM1, "s");
	assert_string_equal(data, "{\"x\":1}");
	free(data);
}

static void test_arguments_refused(void **state)
{
	struct fixture *f = *state;
	struct store_backup_key_list l = { 0 };
	struct store_backup_counts c = { 0 };
	struct store_backup_version v = { 0 };
	enum store_backup_refusal why;
	int64_t ver = create_version(f->st, ALICE), current, out;
	char *big = malloc(STORE_BACKUP_SESSION_DATA_MAX + 2);
	struct store_backup_key_new dup[2] = {
		{ ROOM1, "s", { false, 0, 0 }, "{}" },
		{ ROOM1, "s", { true, 0, 0 }, "{}" },
	};

	assert_non_null(big);
	memset(big, 'a', STORE_BACKUP_SESSION_DATA_MAX + 1);
	big[0] = '{';
	big[STORE_BACKUP_SESSION_DATA_MAX + 1] = '\0';
	assert_int_equal(store_backup_version_create(f->st, "alice", ALGO, AUTH, &out), STORE_ERROR);
	assert_int_equal(store_backup_version_create(f->st, ALICE, "", AUTH, &out), STORE_ERROR);
	assert_int_equal(store_backup_version_create(f->st, ALICE, ALGO, "[1]", &out), STORE_ERROR);
	assert_int_equal(store_backup_version_get(f->st, ALICE, -1, &v), STORE_ERROR);
	assert_int_equal(store_backup_version_delete(f->st, ALICE, 0), STORE_ERROR);
	/* a session twice in one put, session_data not an object or too big,
	 * negative counts, none or too many keys, version 0 */
	assert_int_equal(store_backup_keys_put(f->st, ALICE, ver, dup, 2, &why, &current, &c),
	                 STORE_ERROR);
	assert_int_equal(put_one(f->st, ALICE, ver, ROOM1, "s", false, 0, 0, "\"x\"", &c),
	                 STORE_ERROR);
	assert_int_equal(put_one(f->st, ALICE, ver, ROOM1, "s", false, 0, 0, big, &c), STORE_ERROR);
	assert_int_equal(put_one(f->st, ALICE, ver, ROOM1, "s", false, -1, 0, "{}", &c),
	                 STORE_ERROR);
	assert_int_equal(put_one(f->st, ALICE, ver, ROOM1, "s", false, 0, -1, "{}", &c),
	                 STORE_ERROR);
	assert_int_equal(put_one(f->st, ALICE, ver, ROOM1, "", false, 0, 0, "{}", &c), STORE_ERROR);
	assert_int_equal(put_one(f->st, ALICE, 0, ROOM1, "s", false, 0, 0, "{}", &c), STORE_ERROR);
	assert_int_equal(store_backup_keys_put(f->st, ALICE, ver, dup, 0, &why, &current, &c),
	                 STORE_ERROR);
	assert_int_equal(store_backup_keys_put(f->st, ALICE, ver, dup, STORE_BACKUP_PUT_MAX + 1,
	                                       &why, &current, &c), STORE_ERROR);
	/* a session without its room */
	assert_int_equal(store_backup_keys_get(f->st, ALICE, ver, NULL, "s", &l), STORE_ERROR);
	assert_int_equal(store_backup_keys_delete(f->st, ALICE, ver, NULL, "s", &c), STORE_ERROR);
	/* nothing reached the back end */
	assert_int_equal(store_backup_version_get(f->st, ALICE, ver, &v), STORE_OK);
	assert_int_equal(v.count, 0);
	assert_int_equal(v.etag, 0);
	store_backup_version_clear(&v);
	free(big);
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

/* "Validate what you load": a corrupted row is an error, never data. */
static void test_bad_rows_refused(void **state)
{
	struct fixture *f = *state;
	struct store_backup_key_list l = { 0 };
	struct store_backup_version v = { 0 };
	struct store_backup_counts c = { 0 };
	int64_t ver = create_version(f->st, ALICE);

	assert_int_equal(put_one(f->st, ALICE, ver, ROOM1, "s", false, 1, 0, "{}", &c), STORE_OK);
	/* session_data that is not an object */
	raw_exec(f->path, "UPDATE backup_keys SET session_data = '[1]'");
	assert_int_equal(store_backup_keys_get(f->st, ALICE, ver, NULL, NULL, &l), STORE_ERROR);
	assert_null(l.items);
	/* an index of the wrong type */
	raw_exec(f->path, "UPDATE backup_keys SET session_data = '{}', first_message_index = 'x'");
	assert_int_equal(store_backup_keys_get(f->st, ALICE, ver, ROOM1, NULL, &l), STORE_ERROR);
	raw_exec(f->path, "UPDATE backup_keys SET first_message_index = -3");
	assert_int_equal(store_backup_keys_get(f->st, ALICE, ver, ROOM1, "s", &l), STORE_ERROR);
	raw_exec(f->path, "UPDATE backup_keys SET first_message_index = 1");
	assert_int_equal(store_backup_keys_get(f->st, ALICE, ver, ROOM1, "s", &l), STORE_OK);
	assert_int_equal(l.n, 1);
	store_backup_key_list_clear(&l);
	/* a version row with a negative count, or auth_data not an object */
	raw_exec(f->path, "UPDATE backup_versions SET count = -1");
	assert_int_equal(store_backup_version_get(f->st, ALICE, ver, &v), STORE_ERROR);
	assert_null(v.algorithm);
	raw_exec(f->path, "UPDATE backup_versions SET count = 1, auth_data = 'null'");
	assert_int_equal(store_backup_version_get(f->st, ALICE, 0, &v), STORE_ERROR);
}

/* No statement of this feature scans a table: each is planned with an
 * index (or a primary key). */
static void test_queries_use_indexes(void **state)
{
	struct fixture *f = *state;
	static const enum sqlite_stmt_id ids[] = {
		SQ_BACKUP_VERSION_INSERT, SQ_BACKUP_VERSION_CURRENT, SQ_BACKUP_VERSION_GET,
		SQ_BACKUP_VERSION_SET_AUTH, SQ_BACKUP_VERSION_MARK_DELETED, SQ_BACKUP_VERSION_BUMP,
		SQ_BACKUP_KEY_GET, SQ_BACKUP_KEY_UPSERT, SQ_BACKUP_KEYS_ALL, SQ_BACKUP_KEYS_ROOM,
		SQ_BACKUP_KEYS_SESSION, SQ_BACKUP_KEYS_DELETE_ALL, SQ_BACKUP_KEYS_DELETE_ROOM,
		SQ_BACKUP_KEYS_DELETE_SESSION,
	};
	struct sqlite_conn *c;
	sqlite3 *db = NULL;
	void *h;

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
		cmocka_unit_test_setup_teardown(test_versions, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_keys_put_get_delete, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_put_only_current, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_put_replace_rule, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_put_race_keeps_best, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_session_cap, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_survives_reopen, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_arguments_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bad_rows_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_queries_use_indexes, fixture_setup,
		                                fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
