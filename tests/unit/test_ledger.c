/*
 * test_ledger: the access ledger (security/ledger.h, ledger_chain.h,
 * served.h "access ledger") on a real SQLite store in a fresh mkdtemp
 * directory per test.
 *
 * Issue 5 ("Incident response"), part 3: every read is recorded,
 * "append-only and hash-chained (`chappe audit verify` detects any edited
 * or deleted row), written in batches off the request path, with a
 * configurable retention".
 *
 * What is proven here: the chain verifies after real appends; an edited
 * row, a deleted middle row and a deleted last row are each detected and
 * named; a burst of records is written in far fewer batches than records
 * with no gap in seq; served positions are stored as exact compact items
 * (SERVED_UNREAD is filtered but not recorded); retention purges only a
 * prefix, records a checkpoint and the chain still verifies from it; an
 * append that does not continue the head is refused; the per-account
 * counters see what was written; with the ledger off nothing is written.
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
#include <time.h>
#include <unistd.h>

#include "security/ledger.h"
#include "security/ledger_chain.h"
#include "security/served.h"
#include "store/store.h"
#include "util/timeutil.h"

#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define ROOM "!room:example.org"

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-ledger-XXXXXX");
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

	ledger_stop();
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

static const struct served_viewer alice = { ALICE, "DEV1", "192.0.2.1", "nio/0.20" };

/* A list of events at the given stream positions. */
static void list_of(struct store_event_list *l, const int64_t *pos, size_t n)
{
	l->items = calloc(n, sizeof(*l->items));
	assert_non_null(l->items);
	l->n = n;
	for (size_t i = 0; i < n; i++)
		l->items[i].stream = pos[i];
}

static void start(struct fixture *f, uint32_t retention_days, uint32_t purge_ms)
{
	struct ledger_opts o = { retention_days, purge_ms, 0 };
	assert_int_equal(ledger_start(f->st, &o), 0);
}

/* n records of alice: a directory search each. */
static void append_searches(int n)
{
	static const char *const found[] = { BOB, "@carol:example.org" };

	for (int i = 0; i < n; i++)
		served_directory_search(&alice, "a", found, (size_t)(i % 3));
}

/* Run SQL on the database file directly, as an intruder would. */
static void tamper(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
}

static void test_chain_verifies_and_detects_edit(void **state)
{
	struct fixture *f = *state;
	struct ledger_verify_result v;

	start(f, 0, 0);
	append_searches(10);
	assert_int_equal(ledger_flush(), 0);
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_OK);
	assert_int_equal(v.rows, 10);
	assert_int_equal(v.head_seq, 10);
	ledger_stop();

	/* an intruder rewrites what a search asked for */
	tamper(f, "UPDATE ledger SET query = 'b' WHERE seq = 4");
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_EDITED);
	assert_int_equal(v.bad_seq, 4);
	assert_int_equal(v.rows, 3);
}

static void test_detects_edited_hash_and_timestamp(void **state)
{
	struct fixture *f = *state;
	struct ledger_verify_result v;

	start(f, 0, 0);
	append_searches(5);
	assert_int_equal(ledger_flush(), 0);
	ledger_stop();
	/* moving a read in time is an edit too */
	tamper(f, "UPDATE ledger SET ts = ts - 1 WHERE seq = 2");
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_EDITED);
	assert_int_equal(v.bad_seq, 2);
}

static void test_detects_deleted_rows(void **state)
{
	struct fixture *f = *state;
	struct ledger_verify_result v;

	start(f, 0, 0);
	append_searches(6);
	assert_int_equal(ledger_flush(), 0);
	ledger_stop();

	tamper(f, "DELETE FROM ledger WHERE seq = 6");
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_TAIL_MISSING);
	assert_int_equal(v.bad_seq, 6);

	tamper(f, "DELETE FROM ledger WHERE seq = 3");
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_MISSING);
	assert_int_equal(v.bad_seq, 3);
	assert_int_equal(v.rows, 2);
}

static void test_detects_unreadable_row(void **state)
{
	struct fixture *f = *state;
	struct ledger_verify_result v;

	start(f, 0, 0);
	append_searches(3);
	assert_int_equal(ledger_flush(), 0);
	ledger_stop();
	tamper(f, "UPDATE ledger SET hash = x'00' WHERE seq = 2");
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_UNREADABLE);
	assert_int_equal(v.bad_seq, 2);
}

static int count_rows(void *ctx, const struct store_ledger_row *r)
{
	int64_t *state = ctx;   /* [0] rows, [1] last seq, [2] gaps */
	if (state[1] != 0 && r->seq != state[1] + 1)
		state[2]++;
	state[0]++;
	state[1] = r->seq;
	return 0;
}

static void test_batching(void **state)
{
	struct fixture *f = *state;
	struct ledger_stats s;
	struct ledger_verify_result v;
	int64_t walk[3] = { 0 };
	const int n = 3000;

	start(f, 0, 0);
	append_searches(n);
	assert_int_equal(ledger_flush(), 0);
	ledger_stats_get(&s);
	assert_int_equal(s.appended, (uint64_t)n);
	assert_int_equal(s.written, (uint64_t)n);
	assert_int_equal(s.dropped, 0);
	assert_int_equal(s.queued, 0);
	/* batched: a burst takes far fewer store appends than records */
	assert_true(s.batches >= 1);
	assert_true(s.batches < (uint64_t)n / 10);
	assert_int_equal(store_ledger_walk(f->st, ALICE, 0, INT64_MAX, count_rows, walk), STORE_OK);
	assert_int_equal(walk[0], n);
	assert_int_equal(walk[2], 0);
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_OK);
	assert_int_equal(v.rows, n);
}

struct one_row {
	char items[128];
	char kind[32];
	int64_t n_events;
	int rows;
};

static int keep_row(void *ctx, const struct store_ledger_row *r)
{
	struct one_row *o = ctx;
	o->rows++;
	snprintf(o->items, sizeof(o->items), "%s", r->items ? r->items : "(null)");
	snprintf(o->kind, sizeof(o->kind), "%s", r->kind);
	o->n_events = r->n_events;
	return 0;
}

static void test_ranges_are_exact(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l = { 0 };
	struct one_row o = { 0 };
	/* newest first as /messages serves them, with a duplicate */
	const int64_t pos[] = { 12, 9, 9, 5, 4, 3, 20, 21 };

	start(f, 0, 0);
	list_of(&l, pos, sizeof(pos) / sizeof(pos[0]));
	served_events_record(&alice, SERVED_MESSAGES, ROOM, &l);
	/* computed from, never served: not recorded */
	served_events_record(&alice, SERVED_UNREAD, ROOM, &l);
	assert_int_equal(ledger_flush(), 0);
	assert_int_equal(store_ledger_walk(f->st, ALICE, 0, INT64_MAX, keep_row, &o), STORE_OK);
	assert_int_equal(o.rows, 1);
	assert_string_equal(o.kind, "messages");
	assert_string_equal(o.items, "3-5,9,12,20-21");
	assert_int_equal(o.n_events, 7);
	store_event_list_clear(&l);
}

static void test_empty_list_not_recorded(void **state)
{
	struct fixture *f = *state;
	struct store_event_list l = { 0 };
	struct one_row o = { 0 };

	start(f, 0, 0);
	served_events_record(&alice, SERVED_SYNC, ROOM, &l);
	assert_int_equal(ledger_flush(), 0);
	assert_int_equal(store_ledger_walk(f->st, NULL, 0, INT64_MAX, keep_row, &o), STORE_OK);
	assert_int_equal(o.rows, 0);
}

/* Append entries with a chosen timestamp (retention needs old rows). */
static void append_at(int64_t ts, int n)
{
	for (int i = 0; i < n; i++) {
		struct ledger_fields fl = { .user_id = BOB, .kind = "profile", .query = ALICE };
		struct ledger_entry *e = ledger_entry_new(&fl);
		assert_non_null(e);
		e->ts = ts;
		ledger_append(e);
	}
}

static void test_retention_checkpoint(void **state)
{
	struct fixture *f = *state;
	struct ledger_verify_result v;
	struct ledger_stats s;
	struct store_ledger_mark head, cp;
	int64_t now = time_now_ms(), walk[3] = { 0 };
	int64_t old = now - 10LL * 86400000;

	start(f, 0, 0);
	append_at(old, 5);            /* 1..5: old */
	append_at(now, 3);            /* 6..8: young */
	append_at(old, 2);            /* 9..10: old again, after young rows */
	assert_int_equal(ledger_flush(), 0);
	ledger_stop();

	start(f, 7, 10);              /* keep 7 days, purge every 10 ms */
	for (int i = 0; i < 200; i++) {
		ledger_stats_get(&s);
		if (s.purged)
			break;
		usleep(10000);
	}
	ledger_stop();
	/* only the prefix goes: rows 9 and 10 stay behind the young ones, or
	 * the chain would have a hole */
	assert_int_equal(s.purged, 5);
	assert_int_equal(store_ledger_marks(f->st, &head, &cp), STORE_OK);
	assert_int_equal(cp.seq, 5);
	assert_int_equal(head.seq, 10);
	assert_int_equal(store_ledger_walk(f->st, NULL, 0, INT64_MAX, count_rows, walk), STORE_OK);
	assert_int_equal(walk[0], 5);
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_OK);
	assert_int_equal(v.checkpoint_seq, 5);
	assert_int_equal(v.rows, 5);

	/* the chain continues from the checkpoint after a restart */
	start(f, 7, 0);
	append_searches(2);
	assert_int_equal(ledger_flush(), 0);
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_OK);
	assert_int_equal(v.head_seq, 12);

	/* and deleting the first row after the checkpoint is still caught */
	ledger_stop();
	tamper(f, "DELETE FROM ledger WHERE seq = 6");
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_MISSING);
	assert_int_equal(v.bad_seq, 6);
}

static int dropped_rows(void *ctx, const struct store_ledger_row *r)
{
	int64_t *d = ctx;   /* [0] rows, [1] dropped rows, [2] their count */
	d[0]++;
	if (strcmp(r->kind, "ledger_dropped") == 0) {
		d[1]++;
		d[2] += r->result_count;
	}
	return 0;
}

/* ledger.h "Full queue": readers wait a little, then a record is dropped,
 * counted and logged, and the loss is itself written to the chain. */
static void test_full_queue_drops_loudly(void **state)
{
	struct fixture *f = *state;
	struct ledger_opts o = { 0, 0, 8 };
	struct ledger_stats s;
	struct ledger_verify_result v;
	int64_t d[3] = { 0 };
	sqlite3 *db;

	assert_int_equal(ledger_start(f->st, &o), 0);
	/* another process holds the write lock: the writer cannot commit */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	append_searches(20);
	ledger_stats_get(&s);
	assert_int_equal(s.appended, 8);
	assert_int_equal(s.dropped, 12);
	assert_int_equal(s.written, 0);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(ledger_flush(), 0);
	ledger_stats_get(&s);
	assert_int_equal(store_ledger_walk(f->st, ALICE, 0, INT64_MAX, dropped_rows, d), STORE_OK);
	/* the 8 kept, and the loss in one or more ledger_dropped rows (one per
	 * batch that found drops pending) adding up to the 12 lost */
	assert_true(d[1] >= 1);
	assert_int_equal(d[0], 8 + d[1]);
	assert_int_equal(d[2], 12);
	assert_int_equal(s.written, (uint64_t)d[0]);
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_OK);
}

/* A long old prefix goes in several short purges, not one long write. */
static void test_retention_in_chunks(void **state)
{
	struct fixture *f = *state;
	struct ledger_verify_result v;
	struct ledger_stats s = { 0 };
	int64_t now = time_now_ms();
	const int old_rows = STORE_LEDGER_PURGE_MAX + 5;

	start(f, 0, 0);
	append_at(now - 10LL * 86400000, old_rows);
	append_at(now, 2);
	assert_int_equal(ledger_flush(), 0);
	ledger_stop();
	start(f, 7, 10);
	for (int i = 0; i < 500 && s.purged != (uint64_t)old_rows; i++) {
		usleep(10000);
		ledger_stats_get(&s);
	}
	ledger_stop();
	assert_int_equal(s.purged, old_rows);
	assert_int_equal(ledger_chain_verify(f->st, &v), LEDGER_VERIFY_OK);
	assert_int_equal(v.checkpoint_seq, old_rows);
	assert_int_equal(v.rows, 2);
}

static void test_append_must_continue_head(void **state)
{
	struct fixture *f = *state;
	struct store_ledger_row r = { 0 };
	struct store_ledger_mark m = { 0 };

	r.seq = 2;   /* head is 0 */
	r.ts = 1;
	r.user_id = ALICE;
	r.kind = "sync";
	assert_int_equal(store_ledger_append(f->st, &r, 1), STORE_CONFLICT);
	r.seq = 1;
	r.kind = "";
	assert_int_equal(store_ledger_append(f->st, &r, 1), STORE_ERROR);
	r.kind = "sync";
	r.n_events = -1;
	assert_int_equal(store_ledger_append(f->st, &r, 1), STORE_ERROR);
	r.n_events = 0;
	assert_int_equal(store_ledger_append(f->st, &r, 1), STORE_OK);
	assert_int_equal(store_ledger_append(f->st, &r, 1), STORE_CONFLICT);
	/* a purge must name a row as it is stored (this one's hash is zeros) */
	m.seq = 1;
	memset(m.hash, 0xff, sizeof(m.hash));
	assert_int_equal(store_ledger_purge(f->st, &m), STORE_CONFLICT);
	memset(m.hash, 0, sizeof(m.hash));
	assert_int_equal(store_ledger_purge(f->st, &m), STORE_OK);
}

static int directory_row(void *ctx, const struct store_ledger_row *r)
{
	struct one_row *o = ctx;
	if (strcmp(r->kind, "directory_search") == 0)
		keep_row(o, r);
	return 0;
}

static void test_counters(void **state)
{
	struct fixture *f = *state;
	struct ledger_counters c;
	struct store_event_list l = { 0 };
	const int64_t pos[] = { 40, 41, 42 };

	start(f, 0, 0);
	list_of(&l, pos, 3);
	served_events_record(&alice, SERVED_SYNC, ROOM, &l);
	served_events_record(&alice, SERVED_MESSAGES, ROOM, &l);
	served_events_record(&alice, SERVED_MESSAGES, "!other:example.org", &l);
	served_media_record(&alice, false, "abc", NULL, 1000);
	served_media_record(&alice, true, "abc", ROOM, 50);
	served_directory_search(&alice, "bo", (const char *const[]){ BOB, "@bo:example.org" }, 2);
	served_profile(&alice, BOB);
	served_key_query(&alice, 3);
	assert_int_equal(ledger_flush(), 0);
	assert_int_equal(ledger_counters_get(ALICE, time_now_ms(), &c), 0);
	assert_int_equal(c.total.reads, 8);
	assert_int_equal(c.total.events, 9);
	assert_int_equal(c.total.rooms, 2);
	assert_int_equal(c.total.media_items, 2);
	assert_int_equal(c.total.media_bytes, 1050);
	assert_int_equal(c.total.directory_searches, 1);
	assert_int_equal(c.total.directory_results, 2);
	assert_int_equal(c.total.profile_lookups, 1);
	assert_int_equal(c.total.key_queries, 1);
	assert_int_equal(c.oldest_event_pos, 40);
	assert_memory_equal(&c.window, &c.total, sizeof(c.total));
	/* an hour later the window is empty, the totals stay */
	assert_int_equal(ledger_counters_get(ALICE, time_now_ms() + 61 * 60000, &c), 0);
	assert_int_equal(c.window.reads, 0);
	assert_int_equal(c.total.reads, 8);
	assert_int_equal(ledger_counters_get(BOB, time_now_ms(), &c), -1);
	store_event_list_clear(&l);
	/* a directory search keeps the users it revealed, for the report */
	{
		struct one_row o = { 0 };
		assert_int_equal(store_ledger_walk(f->st, ALICE, 0, INT64_MAX, directory_row, &o),
		                 STORE_OK);
		assert_int_equal(o.rows, 1);
		assert_string_equal(o.items, BOB " @bo:example.org");
	}
}

static void test_off_records_nothing(void **state)
{
	struct fixture *f = *state;
	struct one_row o = { 0 };
	struct ledger_stats s;

	assert_false(ledger_running());
	append_searches(3);
	served_profile(NULL, ALICE);
	start(f, 0, 0);
	served_profile(NULL, ALICE);   /* anonymous reads are recorded as such */
	assert_int_equal(ledger_flush(), 0);
	ledger_stats_get(&s);
	assert_int_equal(s.appended, 1);
	assert_int_equal(store_ledger_walk(f->st, "@anonymous", 0, INT64_MAX, keep_row, &o),
	                 STORE_OK);
	assert_int_equal(o.rows, 1);
	assert_string_equal(o.kind, "profile");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_verifies_and_detects_edit, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_detects_edited_hash_and_timestamp, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_detects_deleted_rows, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_detects_unreadable_row, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_batching, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_ranges_are_exact, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_empty_list_not_recorded, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_retention_checkpoint, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_retention_in_chunks, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_full_queue_drops_loudly, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_append_must_continue_head, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_counters, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_off_records_nothing, fixture_setup,
		                                fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
