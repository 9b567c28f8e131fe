/*
 * test_store_keys: end-to-end encryption keys in the storage contract
 * (store.h, "end-to-end encryption keys") on the SQLite back end, in a
 * fresh mkdtemp directory per test.
 *
 * Spec, Client-Server API, End-to-End Encryption, "POST /keys/claim":
 * "Claims one-time keys for use in pre-key messages." and "One-time and
 * fallback keys": "the server will return the fallback key ... if there
 * are no one-time keys available", and a one-time key "is used at most
 * once" ("Each one-time key should only be used once").
 *
 * What is proven here: 8 threads claiming concurrently get every one-time
 * key exactly once and never more keys than were uploaded; after
 * exhaustion the fallback key is handed out (marked used, and no longer in
 * the unused list); device identity cannot change; a one-time key ID with
 * other content is refused atomically; the per-device cap; device deletion
 * takes the keys and records a device-list change; cross-signing
 * first-upload guard; signatures; the device-list stream (distinct users
 * in byte order within (since, to]); several claims in one call; bad
 * arguments refused; every statement of the feature planned with an index.
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

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define ALGO "signed_curve25519"

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-store-keys-XXXXXX");
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

/* A user with one device (a session creates the device). */
static void add_device(struct store *st, const char *user, const char *device)
{
	static unsigned char seq;
	struct store_session_new s = { .user_id = user, .device_id = device, .now_ms = 1 };

	if (store_user_exists(st, user) != STORE_OK)
		assert_int_equal(store_user_create(st, user, NULL, NULL, false, 1), STORE_OK);
	memset(s.access_hash, ++seq, sizeof(s.access_hash));
	s.access_hash[0] = (unsigned char)(device[0]);
	assert_int_equal(store_session_create(st, &s), STORE_OK);
}

/* Upload n one-time keys "k<i>" with content "otk<i>". */
static enum store_result upload_otks(struct store *st, const char *user, const char *device,
                                     int first, int n, enum store_keys_refusal *why)
{
	struct store_key_new *k = calloc((size_t)n, sizeof(*k));
	char (*ids)[16] = calloc((size_t)n, 16);
	char (*json)[32] = calloc((size_t)n, 32);
	struct store_keys_upload u = { .user_id = user, .device_id = device, .otks = k,
	                               .n_otks = (size_t)n };
	enum store_result r;
	int64_t pos;

	assert_non_null(k);
	for (int i = 0; i < n; i++) {
		snprintf(ids[i], 16, "k%05d", first + i);
		snprintf(json[i], 32, "{\"key\":\"otk%d\"}", first + i);
		k[i] = (struct store_key_new){ ALGO, ids[i], json[i] };
	}
	r = store_keys_upload(st, &u, why, &pos);
	free(k);
	free(ids);
	free(json);
	return r;
}

static int64_t otk_count(struct store *st, const char *user, const char *device)
{
	struct store_key_counts c;
	int64_t n = 0;

	assert_int_equal(store_keys_counts(st, user, device, &c), STORE_OK);
	for (size_t i = 0; i < c.n; i++)
		if (strcmp(c.items[i].algorithm, ALGO) == 0)
			n = c.items[i].count;
	store_key_counts_clear(&c);
	return n;
}

/* ---- rooms, for who shares a room (same minimal events as
 * test_store_receipts.c: the store only needs the columns) ------------- */

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

/* The users viewer shares a room with, as "a;b;" */
static void expect_shared(struct store *st, const char *viewer, const char *want)
{
	char got[1024] = "", **users;
	size_t n;

	assert_int_equal(store_keys_shared_users(st, viewer, &users, &n), STORE_OK);
	for (size_t i = 0; i < n; i++) {
		strcat(got, users[i]);
		strcat(got, ";");
	}
	store_room_ids_free(users, n);
	assert_string_equal(got, want);
}

#define CAROL "@carol:example.org"
#define DAVE "@dave:example.org"

/* keys_internal.h's rule: members of one room, joined or invited, one of
 * the two joined; oneself always. */
static void test_shared_users(void **state)
{
	struct fixture *f = *state;

	expect_shared(f->st, ALICE, ALICE ";");   /* no room: only oneself */
	create_room(f->st, "!a:example.org", ALICE);
	member(f->st, "!a:example.org", BOB, "invite");
	member(f->st, "!a:example.org", CAROL, "invite");
	member(f->st, "!a:example.org", DAVE, "leave");
	expect_shared(f->st, ALICE, ALICE ";" BOB ";" CAROL ";");
	/* two invitees share nothing: each sees only the joined inviter */
	expect_shared(f->st, BOB, ALICE ";" BOB ";");
	expect_shared(f->st, DAVE, DAVE ";");
	member(f->st, "!a:example.org", BOB, "join");
	expect_shared(f->st, CAROL, ALICE ";" BOB ";" CAROL ";");
	member(f->st, "!a:example.org", BOB, "ban");
	expect_shared(f->st, BOB, BOB ";");
	expect_shared(f->st, ALICE, ALICE ";" CAROL ";");
}

/* ---- concurrent claims -------------------------------------------------- */

#define CLAIM_THREADS 8
#define CLAIM_KEYS 150   /* fewer than threads * tries: some claims find none */
#define CLAIM_TRIES 25

struct claimer {
	struct store *st;
	char got[CLAIM_TRIES][32];
	int n_got;
	int n_fallback;
	int n_errors;
};

static void *claim_thread(void *arg)
{
	struct claimer *c = arg;
	struct store_key_claim q = { ALICE, "DEV1", ALGO };

	for (int i = 0; i < CLAIM_TRIES; i++) {
		struct store_key_claimed k;
		if (store_keys_claim(c->st, &q, 1, &k) != STORE_OK) {
			c->n_errors++;
			continue;
		}
		if (k.key_id != NULL && k.fallback)
			c->n_fallback++;
		else if (k.key_id != NULL)
			snprintf(c->got[c->n_got++], 32, "%s", k.key_id);
		store_key_claimed_clear(&k, 1);
	}
	return NULL;
}

/* Each key handed out exactly once, under 8 threads claiming at once. */
static void test_claim_concurrent_exactly_once(void **state)
{
	struct fixture *f = *state;
	static struct claimer c[CLAIM_THREADS];
	pthread_t t[CLAIM_THREADS];
	enum store_keys_refusal why;
	int seen[CLAIM_KEYS] = { 0 }, total = 0;

	add_device(f->st, ALICE, "DEV1");
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", 0, 100, &why), STORE_OK);
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", 100, 50, &why), STORE_OK);
	assert_int_equal(otk_count(f->st, ALICE, "DEV1"), CLAIM_KEYS);
	for (int i = 0; i < CLAIM_THREADS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].st = f->st;
		assert_int_equal(pthread_create(&t[i], NULL, claim_thread, &c[i]), 0);
	}
	for (int i = 0; i < CLAIM_THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < CLAIM_THREADS; i++) {
		assert_int_equal(c[i].n_errors, 0);
		assert_int_equal(c[i].n_fallback, 0);   /* none was uploaded */
		for (int j = 0; j < c[i].n_got; j++) {
			int idx;
			assert_int_equal(sscanf(c[i].got[j], ALGO ":k%d", &idx), 1);
			assert_true(idx >= 0 && idx < CLAIM_KEYS);
			assert_int_equal(seen[idx], 0);   /* never twice */
			seen[idx] = 1;
			total++;
		}
	}
	assert_int_equal(total, CLAIM_KEYS);   /* and every one handed out */
	assert_int_equal(otk_count(f->st, ALICE, "DEV1"), 0);
}

/* "The server will return the fallback key ... if there are no one-time
 * keys available" (One-time and fallback keys); claiming marks it used. */
static void test_fallback_after_exhaustion(void **state)
{
	struct fixture *f = *state;
	struct store_key_new fb = { ALGO, "fb1", "{\"key\":\"fallback\",\"fallback\":true}" };
	struct store_keys_upload u = { .user_id = ALICE, .device_id = "DEV1", .fallbacks = &fb,
	                               .n_fallbacks = 1 };
	struct store_key_claim q = { ALICE, "DEV1", ALGO };
	struct store_key_claimed k;
	struct store_key_counts cnt;
	enum store_keys_refusal why;
	int64_t pos;

	add_device(f->st, ALICE, "DEV1");
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", 0, 1, &why), STORE_OK);
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_OK);
	assert_int_equal(store_keys_counts(f->st, ALICE, "DEV1", &cnt), STORE_OK);
	assert_int_equal(cnt.n_unused_fallbacks, 1);
	assert_string_equal(cnt.unused_fallbacks[0], ALGO);
	store_key_counts_clear(&cnt);

	/* the one-time key first */
	assert_int_equal(store_keys_claim(f->st, &q, 1, &k), STORE_OK);
	assert_string_equal(k.key_id, ALGO ":k00000");
	assert_false(k.fallback);
	store_key_claimed_clear(&k, 1);
	/* then the fallback, again and again */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_keys_claim(f->st, &q, 1, &k), STORE_OK);
		assert_string_equal(k.key_id, ALGO ":fb1");
		assert_true(k.fallback);
		assert_string_equal(k.json, fb.json);
		store_key_claimed_clear(&k, 1);
	}
	assert_int_equal(store_keys_counts(f->st, ALICE, "DEV1", &cnt), STORE_OK);
	assert_int_equal(cnt.n_unused_fallbacks, 0);
	store_key_counts_clear(&cnt);

	/* the same fallback again stays used; a new one is unused */
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_OK);
	assert_int_equal(store_keys_counts(f->st, ALICE, "DEV1", &cnt), STORE_OK);
	assert_int_equal(cnt.n_unused_fallbacks, 0);
	store_key_counts_clear(&cnt);
	fb.key_id = "fb2";
	fb.json = "{\"key\":\"fallback2\",\"fallback\":true}";
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_OK);
	assert_int_equal(store_keys_counts(f->st, ALICE, "DEV1", &cnt), STORE_OK);
	assert_int_equal(cnt.n_unused_fallbacks, 1);
	store_key_counts_clear(&cnt);

	/* a device without any key: nothing, and no error */
	add_device(f->st, BOB, "BOBDEV");
	q.user_id = BOB;
	q.device_id = "BOBDEV";
	assert_int_equal(store_keys_claim(f->st, &q, 1, &k), STORE_OK);
	assert_null(k.key_id);
	assert_null(k.json);
}

/* ---- upload rules -------------------------------------------------------- */

static void test_device_keys_identity(void **state)
{
	struct fixture *f = *state;
	struct store_keys_upload u = { .user_id = ALICE, .device_id = "DEV1",
	                               .device_keys = "{\"keys\":{\"a\":\"1\"},\"sig\":1}",
	                               .device_identity = "{\"keys\":{\"a\":\"1\"}}" };
	struct store_device_keys_list l;
	enum store_keys_refusal why;
	int64_t pos, pos2;

	/* no such device */
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_NOT_FOUND);
	add_device(f->st, ALICE, "DEV1");
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_OK);
	assert_true(pos > 0);
	assert_int_equal(store_device_list_stream_max(f->st), pos);
	/* identical again: accepted, no change recorded */
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos2), STORE_OK);
	assert_int_equal(pos2, 0);
	/* same identity, new signatures: stored, one change */
	u.device_keys = "{\"keys\":{\"a\":\"1\"},\"sig\":2}";
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos2), STORE_OK);
	assert_true(pos2 > pos);
	/* another identity: refused, nothing changed */
	u.device_keys = "{\"keys\":{\"a\":\"2\"},\"sig\":3}";
	u.device_identity = "{\"keys\":{\"a\":\"2\"}}";
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_CONFLICT);
	assert_int_equal(why, STORE_KEYS_IDENTITY_CHANGED);
	assert_int_equal(store_device_keys_get(f->st, ALICE, NULL, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].json, "{\"keys\":{\"a\":\"1\"},\"sig\":2}");
	store_device_keys_list_clear(&l);
}

/* A changed one-time key is refused, and the whole upload with it. */
static void test_otk_changed_refused_atomically(void **state)
{
	struct fixture *f = *state;
	struct store_key_new k[2] = { { ALGO, "new1", "{\"key\":\"n\"}" },
	                              { ALGO, "k00000", "{\"key\":\"other\"}" } };
	struct store_keys_upload u = { .user_id = ALICE, .device_id = "DEV1", .otks = k,
	                               .n_otks = 2 };
	enum store_keys_refusal why;
	int64_t pos;

	add_device(f->st, ALICE, "DEV1");
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", 0, 3, &why), STORE_OK);
	/* the same keys again (a retry) are fine */
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", 0, 3, &why), STORE_OK);
	assert_int_equal(otk_count(f->st, ALICE, "DEV1"), 3);
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_CONFLICT);
	assert_int_equal(why, STORE_KEYS_OTK_CHANGED);
	assert_int_equal(otk_count(f->st, ALICE, "DEV1"), 3);   /* new1 not kept */
}

static void test_otk_limit(void **state)
{
	struct fixture *f = *state;
	enum store_keys_refusal why;
	int n = 0;

	add_device(f->st, ALICE, "DEV1");
	while (n + STORE_KEYS_UPLOAD_MAX <= STORE_OTK_PER_DEVICE_MAX) {
		assert_int_equal(upload_otks(f->st, ALICE, "DEV1", n, STORE_KEYS_UPLOAD_MAX, &why),
		                 STORE_OK);
		n += STORE_KEYS_UPLOAD_MAX;
	}
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", n, STORE_KEYS_UPLOAD_MAX, &why),
	                 STORE_CONFLICT);
	assert_int_equal(why, STORE_KEYS_OTK_LIMIT);
	assert_int_equal(otk_count(f->st, ALICE, "DEV1"), n);
	/* more than one upload may carry: refused before SQL */
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", 0, STORE_KEYS_UPLOAD_MAX + 1, &why),
	                 STORE_ERROR);
}

/* Deleting a device takes its keys and records a device-list change. */
static void test_device_delete_takes_keys(void **state)
{
	struct fixture *f = *state;
	struct store_keys_upload u = { .user_id = ALICE, .device_id = "DEV1",
	                               .device_keys = "{\"k\":1}", .device_identity = "{\"k\":1}" };
	struct store_key_claim q = { ALICE, "DEV1", ALGO };
	struct store_device_keys_list l;
	struct store_key_claimed k;
	enum store_keys_refusal why;
	char **users;
	size_t n;
	int64_t pos, after;

	add_device(f->st, ALICE, "DEV1");
	add_device(f->st, ALICE, "DEV2");
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_OK);
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", 0, 5, &why), STORE_OK);
	assert_int_equal(store_device_delete(f->st, ALICE, "DEV1"), STORE_OK);
	after = store_device_list_stream_max(f->st);
	assert_true(after > pos);
	assert_int_equal(store_device_list_changes(f->st, pos, after, &users, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(users[0], ALICE);
	store_room_ids_free(users, n);
	assert_int_equal(store_device_keys_get(f->st, ALICE, NULL, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	store_device_keys_list_clear(&l);
	assert_int_equal(store_keys_claim(f->st, &q, 1, &k), STORE_OK);
	assert_null(k.key_id);
	/* a device logged in again under the same ID starts without keys */
	add_device(f->st, ALICE, "DEV1");
	assert_int_equal(otk_count(f->st, ALICE, "DEV1"), 0);
}

static void test_cross_signing_and_signatures(void **state)
{
	struct fixture *f = *state;
	const char *json[STORE_XSIGN_COUNT] = { "{\"m\":1}", "{\"s\":1}", NULL };
	const char *pub[STORE_XSIGN_COUNT] = { "MASTERPUB", "SELFPUB", NULL };
	struct store_key_signature sig = { "DEV1", ALICE, "ed25519:SELFPUB", "SIG" };
	struct store_key_signature_list sl;
	struct store_cross_signing cs;
	int64_t p1, p2, p3;

	assert_int_equal(store_cross_signing_get(f->st, ALICE, &cs), STORE_OK);
	assert_null(cs.json[STORE_XSIGN_MASTER]);
	assert_int_equal(store_cross_signing_put(f->st, ALICE, json, pub, true, &p1), STORE_OK);
	/* a second "first upload" loses the race */
	assert_int_equal(store_cross_signing_put(f->st, ALICE, json, pub, true, &p2),
	                 STORE_CONFLICT);
	json[STORE_XSIGN_MASTER] = "{\"m\":2}";
	assert_int_equal(store_cross_signing_put(f->st, ALICE, json, pub, false, &p2), STORE_OK);
	assert_true(p2 > p1);
	assert_int_equal(store_cross_signing_get(f->st, ALICE, &cs), STORE_OK);
	assert_string_equal(cs.json[STORE_XSIGN_MASTER], "{\"m\":2}");
	assert_string_equal(cs.public_key[STORE_XSIGN_SELF_SIGNING], "SELFPUB");
	assert_null(cs.json[STORE_XSIGN_USER_SIGNING]);
	store_cross_signing_clear(&cs);

	assert_int_equal(store_key_signatures_add(f->st, ALICE, &sig, 1, &p3), STORE_OK);
	assert_true(p3 > p2);
	sig.signature = "SIG2";   /* the same signer again replaces */
	assert_int_equal(store_key_signatures_add(f->st, ALICE, &sig, 1, &p3), STORE_OK);
	assert_int_equal(store_key_signatures_get(f->st, ALICE, &sl), STORE_OK);
	assert_int_equal(sl.n, 1);
	assert_string_equal(sl.items[0].signature, "SIG2");
	assert_string_equal(sl.items[0].target_key_id, "DEV1");
	store_key_signature_list_clear(&sl);
	/* a new self-signing key: what the old one signed is gone; a new
	 * master key: the signatures of the old one are gone */
	{
		struct store_key_signature on_master = { "MASTERPUB", ALICE, "ed25519:DEV1", "S3" };
		assert_int_equal(store_key_signatures_add(f->st, ALICE, &on_master, 1, &p3),
		                 STORE_OK);
		json[STORE_XSIGN_MASTER] = NULL;
		pub[STORE_XSIGN_MASTER] = NULL;
		/* the same self-signing key again keeps its signatures */
		assert_int_equal(store_cross_signing_put(f->st, ALICE, json, pub, false, &p3),
		                 STORE_OK);
		assert_int_equal(store_key_signatures_get(f->st, ALICE, &sl), STORE_OK);
		assert_int_equal(sl.n, 2);
		store_key_signature_list_clear(&sl);
		json[STORE_XSIGN_SELF_SIGNING] = "{\"s\":2}";
		pub[STORE_XSIGN_SELF_SIGNING] = "SELFPUB2";
		assert_int_equal(store_cross_signing_put(f->st, ALICE, json, pub, false, &p3),
		                 STORE_OK);
		assert_int_equal(store_key_signatures_get(f->st, ALICE, &sl), STORE_OK);
		assert_int_equal(sl.n, 1);
		assert_string_equal(sl.items[0].target_key_id, "MASTERPUB");
		store_key_signature_list_clear(&sl);
		json[STORE_XSIGN_MASTER] = "{\"m\":3}";
		pub[STORE_XSIGN_MASTER] = "MASTERPUB2";
		assert_int_equal(store_cross_signing_put(f->st, ALICE, json, pub, false, &p3),
		                 STORE_OK);
		assert_int_equal(store_key_signatures_get(f->st, ALICE, &sl), STORE_OK);
		assert_int_equal(sl.n, 0);
		store_key_signature_list_clear(&sl);
	}
	/* a signer key that is not ed25519 never reaches SQL */
	sig.signer_key_id = "curve25519:X";
	assert_int_equal(store_key_signatures_add(f->st, ALICE, &sig, 1, &p3), STORE_ERROR);
}

static void test_arguments_refused(void **state)
{
	struct fixture *f = *state;
	struct store_key_new bad = { "alg:x", "id", "{}" };
	struct store_key_new fb[2] = { { ALGO, "a", "{}" }, { ALGO, "b", "{}" } };
	struct store_keys_upload u = { .user_id = ALICE, .device_id = "DEV1", .otks = &bad,
	                               .n_otks = 1 };
	struct store_key_claim q = { "nobody", "DEV1", ALGO };
	struct store_key_claimed k;
	enum store_keys_refusal why;
	char **users;
	size_t n;
	int64_t pos;

	add_device(f->st, ALICE, "DEV1");
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_ERROR);   /* ':' */
	bad.algorithm = ALGO;
	bad.key_id = "";
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_ERROR);   /* empty */
	u.n_otks = 0;
	u.fallbacks = fb;
	u.n_fallbacks = 2;   /* two of one algorithm */
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_ERROR);
	u.n_fallbacks = 0;
	u.device_keys = "{}";   /* without its identity */
	assert_int_equal(store_keys_upload(f->st, &u, &why, &pos), STORE_ERROR);
	assert_int_equal(store_keys_claim(f->st, &q, 1, &k), STORE_ERROR);
	assert_int_equal(store_keys_claim(f->st, &q, 0, &k), STORE_ERROR);
	assert_int_equal(store_device_list_changes(f->st, 5, 1, &users, &n), STORE_ERROR);
	assert_int_equal(store_device_list_stream_max(f->st), 0);
}

/* (since, to]: distinct users, in byte order. */
static void test_device_list_changes_range(void **state)
{
	struct fixture *f = *state;
	const char *json[STORE_XSIGN_COUNT] = { "{\"m\":1}", NULL, NULL };
	const char *pub[STORE_XSIGN_COUNT] = { "PUB", NULL, NULL };
	int64_t p1, p2, p3;
	char **users;
	size_t n;

	assert_int_equal(store_cross_signing_put(f->st, BOB, json, pub, false, &p1), STORE_OK);
	assert_int_equal(store_cross_signing_put(f->st, ALICE, json, pub, false, &p2), STORE_OK);
	assert_int_equal(store_cross_signing_put(f->st, BOB, json, pub, false, &p3), STORE_OK);
	assert_true(p1 < p2 && p2 < p3);
	assert_int_equal(store_device_list_changes(f->st, 0, p3, &users, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(users[0], ALICE);
	assert_string_equal(users[1], BOB);
	store_room_ids_free(users, n);
	assert_int_equal(store_device_list_changes(f->st, p1, p2, &users, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(users[0], ALICE);
	store_room_ids_free(users, n);
	assert_int_equal(store_device_list_changes(f->st, p3, p3, &users, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_null(users);
}

/* One claim call for several devices: each gets its own key, one that has
 * none gets nothing, and nothing is taken twice. */
static void test_claim_several(void **state)
{
	struct fixture *f = *state;
	struct store_key_claim q[3] = { { ALICE, "DEV1", ALGO }, { ALICE, "DEV2", ALGO },
	                                { ALICE, "DEV1", ALGO } };
	struct store_key_claimed k[3];
	enum store_keys_refusal why;

	add_device(f->st, ALICE, "DEV1");
	add_device(f->st, ALICE, "DEV2");
	assert_int_equal(upload_otks(f->st, ALICE, "DEV1", 0, 2, &why), STORE_OK);
	assert_int_equal(store_keys_claim(f->st, q, 3, k), STORE_OK);
	assert_string_equal(k[0].key_id, ALGO ":k00000");
	assert_null(k[1].key_id);
	assert_string_equal(k[2].key_id, ALGO ":k00001");
	store_key_claimed_clear(k, 3);
	assert_int_equal(otk_count(f->st, ALICE, "DEV1"), 0);
}

/* No statement of this feature scans a table: each is planned with an
 * index (or a primary key). */
static void test_queries_use_indexes(void **state)
{
	struct fixture *f = *state;
	static const enum sqlite_stmt_id ids[] = {
		SQ_KEYS_DEVICE_EXISTS, SQ_KEYS_DEVICE_IDENTITY, SQ_KEYS_DEVICE_UPSERT,
		SQ_KEYS_DEVICE_LIST, SQ_KEYS_OTK_GET, SQ_KEYS_OTK_INSERT, SQ_KEYS_OTK_TOTAL,
		SQ_KEYS_OTK_COUNTS, SQ_KEYS_OTK_CLAIM, SQ_KEYS_FALLBACK_UPSERT,
		SQ_KEYS_FALLBACK_CLAIM, SQ_KEYS_FALLBACK_UNUSED, SQ_KEYS_CHANGE_INSERT,
		SQ_KEYS_CHANGES, SQ_KEYS_CHANGES_MAX, SQ_XSIGN_GET, SQ_XSIGN_MASTER_EXISTS,
		SQ_XSIGN_UPSERT, SQ_KEYSIG_UPSERT, SQ_KEYSIG_GET, SQ_KEYS_SHARED_USERS,
		SQ_KEYSIG_DROP_REPLACED,
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
		cmocka_unit_test_setup_teardown(test_claim_concurrent_exactly_once, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_fallback_after_exhaustion, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_device_keys_identity, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_otk_changed_refused_atomically, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_otk_limit, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_device_delete_takes_keys, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_cross_signing_and_signatures, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_arguments_refused, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_device_list_changes_range, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_claim_several, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_shared_users, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_queries_use_indexes, fixture_setup,
		                                fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
