/*
 * test_store_media: media repository metadata in the storage contract
 * (store.h, "media repository") on the SQLite back end, in a fresh
 * mkdtemp directory per test.
 *
 * Spec, Client-Server API, content-repo.yaml:
 * - PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: 409 "The
 *   endpoint was called with a media ID that already has content",
 *   M_CANNOT_OVERWRITE_MEDIA; 403 "the user does not have permission to
 *   upload to the media ID" (another user's, or an expired one);
 * - content_repo.md "Security considerations": "Homeservers should limit
 *   the number and total size of media that can be uploaded by clients",
 *   and media IDs allow only A-Za-z0-9, '_' and '-'.
 *
 * What is proven here: rows round-trip; a taken ID conflicts; the quota is
 * enforced inside the write (8 concurrent uploads never overshoot it);
 * pending rows complete once, only for their owner and before they expire;
 * quarantine by IDs and by user counts what it changed; bad arguments are
 * refused before the back end.
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
#include <unistd.h>

#include "store/store.h"

#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-media-XXXXXX");
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
	char p[200];

	store_close(f->st);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct store_media stored(const char *id, const char *user, int64_t size)
{
	struct store_media m = {
		.media_id = (char *)id, .user_id = (char *)user, .sha256 = (char *)HASH_A,
		.content_type = (char *)"image/png", .upload_name = (char *)"cat.png",
		.sniffed_type = (char *)"image/png", .size = size, .created_ts = 1000,
	};
	return m;
}

static struct store_media pending(const char *id, const char *user, int64_t expires)
{
	struct store_media m = {
		.media_id = (char *)id, .user_id = (char *)user, .created_ts = 1000,
		.expires_ts = expires,
	};
	return m;
}

static void test_roundtrip_and_conflict(void **state)
{
	struct fixture *f = *state;
	struct store_media m = stored("abc_DEF-1", ALICE, 123), out;
	bool over = true;

	assert_int_equal(store_media_insert(f->st, &m, 0, &over), STORE_OK);
	assert_false(over);
	assert_int_equal(store_media_get(f->st, "abc_DEF-1", &out), STORE_OK);
	assert_string_equal(out.user_id, ALICE);
	assert_string_equal(out.sha256, HASH_A);
	assert_string_equal(out.content_type, "image/png");
	assert_string_equal(out.upload_name, "cat.png");
	assert_string_equal(out.sniffed_type, "image/png");
	assert_int_equal(out.size, 123);
	assert_false(out.quarantined);
	store_media_clear(&out);

	/* IDs are never reused */
	m.user_id = (char *)BOB;
	assert_int_equal(store_media_insert(f->st, &m, 0, &over), STORE_CONFLICT);
	assert_false(over);
	assert_int_equal(store_media_get(f->st, "nope", &out), STORE_NOT_FOUND);
}

static void test_quota(void **state)
{
	struct fixture *f = *state;
	struct store_media a = stored("a1", ALICE, 600), b = stored("a2", ALICE, 500);
	struct store_media c = stored("b1", BOB, 500), out;
	bool over = false;
	int64_t bytes, npending;

	assert_int_equal(store_media_insert(f->st, &a, 1000, &over), STORE_OK);
	assert_int_equal(store_media_insert(f->st, &b, 1000, &over), STORE_CONFLICT);
	assert_true(over);
	assert_int_equal(store_media_get(f->st, "a2", &out), STORE_NOT_FOUND);  /* nothing written */
	/* quotas are per user */
	assert_int_equal(store_media_insert(f->st, &c, 1000, &over), STORE_OK);
	assert_false(over);
	/* exactly at the quota is allowed */
	b.size = 400;
	assert_int_equal(store_media_insert(f->st, &b, 1000, &over), STORE_OK);
	assert_int_equal(store_media_usage(f->st, ALICE, 0, &bytes, &npending), STORE_OK);
	assert_int_equal(bytes, 1000);
	assert_int_equal(npending, 0);
	/* quota 0 means none */
	b.media_id = (char *)"a3";
	b.size = 1 << 30;
	assert_int_equal(store_media_insert(f->st, &b, 0, &over), STORE_OK);
}

struct racer {
	struct store *st;
	int idx;
	enum store_result r;
};

static void *race_insert(void *arg)
{
	struct racer *rc = arg;
	char id[32];
	struct store_media m;
	bool over;

	snprintf(id, sizeof(id), "race%d", rc->idx);
	m = stored(id, ALICE, 100);
	rc->r = store_media_insert(rc->st, &m, 500, &over);
	return NULL;
}

static void test_quota_concurrent(void **state)
{
	struct fixture *f = *state;
	struct racer r[8];
	pthread_t t[8];
	int ok = 0;
	int64_t bytes, npending;

	for (int i = 0; i < 8; i++) {
		r[i] = (struct racer){ f->st, i, STORE_ERROR };
		assert_int_equal(pthread_create(&t[i], NULL, race_insert, &r[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ok += r[i].r == STORE_OK;
		assert_true(r[i].r == STORE_OK || r[i].r == STORE_CONFLICT);
	}
	assert_int_equal(ok, 5);
	assert_int_equal(store_media_usage(f->st, ALICE, 0, &bytes, &npending), STORE_OK);
	assert_int_equal(bytes, 500);
}

static void test_pending_complete(void **state)
{
	struct fixture *f = *state;
	struct store_media p = pending("pend1", ALICE, 5000), done, out;
	struct store_media old = pending("pend2", ALICE, 2000);
	bool over;
	int64_t bytes, npending;

	assert_int_equal(store_media_insert(f->st, &p, 0, &over), STORE_OK);
	assert_int_equal(store_media_insert(f->st, &old, 0, &over), STORE_OK);
	assert_int_equal(store_media_usage(f->st, ALICE, 3000, &bytes, &npending), STORE_OK);
	assert_int_equal(npending, 1);                 /* pend2 expired at 2000 */
	assert_int_equal(store_media_get(f->st, "pend1", &out), STORE_OK);
	assert_null(out.sha256);
	store_media_clear(&out);

	done = stored("pend1", BOB, 10);
	assert_int_equal(store_media_complete(f->st, &done, 3000, 0, &over), STORE_NOT_FOUND);
	done.user_id = (char *)ALICE;
	assert_int_equal(store_media_complete(f->st, &done, 3000, 5, &over), STORE_CONFLICT);
	assert_true(over);                             /* 10 bytes over a quota of 5 */
	assert_int_equal(store_media_complete(f->st, &done, 3000, 0, &over), STORE_OK);
	assert_int_equal(store_media_get(f->st, "pend1", &out), STORE_OK);
	assert_string_equal(out.sha256, HASH_A);
	assert_int_equal(out.size, 10);
	assert_int_equal(out.expires_ts, 0);
	store_media_clear(&out);
	/* M_CANNOT_OVERWRITE_MEDIA */
	done.sha256 = (char *)HASH_B;
	assert_int_equal(store_media_complete(f->st, &done, 3000, 0, &over), STORE_CONFLICT);
	assert_false(over);
	/* too late, and never created */
	done.media_id = (char *)"pend2";
	assert_int_equal(store_media_complete(f->st, &done, 3000, 0, &over), STORE_NOT_FOUND);
	done.media_id = (char *)"pend3";
	assert_int_equal(store_media_complete(f->st, &done, 3000, 0, &over), STORE_NOT_FOUND);
}

static void test_quarantine(void **state)
{
	struct fixture *f = *state;
	struct store_media a = stored("q1", ALICE, 1), b = stored("q2", ALICE, 1);
	struct store_media c = stored("q3", BOB, 1), out;
	const char *ids[] = { "q1", "unknown" };
	bool over;
	int64_t changed = -1;

	assert_int_equal(store_media_insert(f->st, &a, 0, &over), STORE_OK);
	assert_int_equal(store_media_insert(f->st, &b, 0, &over), STORE_OK);
	assert_int_equal(store_media_insert(f->st, &c, 0, &over), STORE_OK);
	assert_int_equal(store_media_quarantine(f->st, ids, 2, NULL, BOB, &changed), STORE_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(store_media_get(f->st, "q1", &out), STORE_OK);
	assert_true(out.quarantined);
	store_media_clear(&out);
	assert_int_equal(store_media_quarantine(f->st, ids, 2, NULL, BOB, &changed), STORE_OK);
	assert_int_equal(changed, 0);                  /* already quarantined */

	assert_int_equal(store_media_quarantine(f->st, NULL, 0, ALICE, BOB, &changed), STORE_OK);
	assert_int_equal(changed, 1);                  /* q2; q1 was already */
	assert_int_equal(store_media_get(f->st, "q2", &out), STORE_OK);
	assert_true(out.quarantined);
	store_media_clear(&out);
	assert_int_equal(store_media_get(f->st, "q3", &out), STORE_OK);
	assert_false(out.quarantined);                 /* Bob's media untouched */
	store_media_clear(&out);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct store_media m = stored("../etc", ALICE, 1), out;
	const char *bad_ids[] = { "ok", "a/b" };
	bool over;
	int64_t changed, bytes, npending;

	assert_int_equal(store_media_insert(f->st, &m, 0, &over), STORE_ERROR);
	m = stored("fine", "alice", 1);
	assert_int_equal(store_media_insert(f->st, &m, 0, &over), STORE_ERROR);
	m = stored("fine", ALICE, -1);
	assert_int_equal(store_media_insert(f->st, &m, 0, &over), STORE_ERROR);
	m = stored("fine", ALICE, 1);
	m.sha256 = (char *)"ABCDEF";
	assert_int_equal(store_media_insert(f->st, &m, 0, &over), STORE_ERROR);
	m = pending("fine", ALICE, 10);
	m.size = 5;                                    /* a pending row has no size */
	assert_int_equal(store_media_insert(f->st, &m, 0, &over), STORE_ERROR);
	m = stored("fine", ALICE, 1);
	assert_int_equal(store_media_insert(f->st, &m, -1, &over), STORE_ERROR);
	assert_int_equal(store_media_get(f->st, "", &out), STORE_ERROR);
	assert_int_equal(store_media_quarantine(f->st, bad_ids, 2, NULL, BOB, &changed), STORE_ERROR);
	assert_int_equal(store_media_quarantine(f->st, NULL, 0, NULL, BOB, &changed), STORE_ERROR);
	assert_int_equal(store_media_usage(f->st, "x", 0, &bytes, &npending), STORE_ERROR);
	/* nothing reached the table */
	assert_int_equal(store_media_get(f->st, "fine", &out), STORE_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_and_conflict, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_quota, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_quota_concurrent, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_pending_complete, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
