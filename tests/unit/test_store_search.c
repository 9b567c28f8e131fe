/*
 * test_store_search: the server-side search index of the storage contract
 * (src/store/store.h, "server-side search") on the SQLite back end, in a
 * fresh mkdtemp directory per test.
 *
 * The spec (Client-Server API, Server Side Search): "The supported keys to
 * search over are: content.body in m.room.message, content.name in
 * m.room.name, In m.room.topic, content.topic ..."; "The search will not
 * include rooms that are end to end encrypted"; "rank ... The higher the
 * rank the more relevant the result is"; orderings "rank, which returns
 * the most relevant results first. recent, which returns the most recent
 * results first"; "The server must only return results that the user has
 * permission to see" (the room set is the caller's; the store must not
 * widen it).
 *
 * What is proven here: an event is indexed with the event, in the same
 * transaction (a batch that fails leaves no index row); words match as
 * prefixes, case and accents folded, every word required; keys restrict
 * the match; only the rooms named are searched (room IDs with quotes and
 * backslashes included); nothing of a room with m.room.encryption state is
 * indexed, even text the caller passed; a redaction removes its target,
 * but not a same-ID target in another room; rank order puts the closer
 * match first and recency order is stream descending; before and offset
 * page without overlap; FTS5 syntax in a term is plain text (fuzzed); the
 * index survives a reopen, and migrating an older database indexes what
 * it already held by the same rules; arguments outside the bounds are
 * refused; a row that fails validation when loaded is refused; the query
 * reads the FTS index and events by primary key.
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
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-search-XXXXXX");
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

/* One integer a query computes, read behind the store's back. */
static int64_t raw_count(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

/* ---- building events -------------------------------------------------- */

#define ROOM_A "!a:example.org"
#define ROOM_B "!b:example.org"
#define ROOM_E "!encrypted:example.org"
#define ALICE "@alice:example.org"

struct test_event {
	struct store_event_new e;
	char event_id[320];
	char json[768];
};

/* An event whose JSON stands in for a PDU; text (may be NULL) is what the
 * pipeline would hand the index. */
static void ev_init(struct test_event *t, const char *event_id, const char *room_id,
                    const char *type, const char *state_key, const char *text, int key)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->event_id, sizeof(t->event_id), "%s", event_id);
	snprintf(t->json, sizeof(t->json), "{\"event_id\":\"%s\",\"type\":\"%s\"}", event_id,
	         type);
	t->e.event_id = t->event_id;
	t->e.room_id = room_id;
	t->e.type = type;
	t->e.state_key = state_key;
	t->e.sender = ALICE;
	t->e.origin_ts = 1000;
	t->e.depth = 1;
	t->e.json = t->json;
	t->e.json_len = strlen(t->json);
	t->e.search_text = text;
	t->e.search_key = text != NULL ? key : 0;
}

static void create_room(struct store *st, const char *room_id)
{
	struct store_room_new room = { room_id, "11", ALICE, 1000 };
	struct test_event t;
	char id[300];

	snprintf(id, sizeof(id), "$create-%s", room_id + 1);
	ev_init(&t, id, room_id, "m.room.create", "", NULL, 0);
	assert_int_equal(store_events_persist(st, &room, &t.e, 1, NULL), STORE_OK);
}

static int64_t persist(struct store *st, struct test_event *t)
{
	int64_t pos = 0;

	assert_int_equal(store_events_persist(st, NULL, &t->e, 1, &pos), STORE_OK);
	assert_true(pos > 0);
	return pos;
}

static int64_t message(struct store *st, const char *event_id, const char *room_id,
                       const char *body)
{
	struct test_event t;

	ev_init(&t, event_id, room_id, "m.room.message", NULL, body, STORE_SEARCH_KEY_BODY);
	return persist(st, &t);
}

/* ---- searching -------------------------------------------------------- */

struct q {
	struct store_search_query q;
	const char *rooms[2];
};

static void q_init(struct q *s, const char *term, const char *room1, const char *room2)
{
	memset(s, 0, sizeof(*s));
	s->rooms[0] = room1;
	s->rooms[1] = room2;
	s->q.room_ids = s->rooms;
	s->q.n_rooms = room2 != NULL ? 2 : 1;
	s->q.term = term;
	s->q.limit = STORE_SEARCH_LIMIT_MAX;
}

/* The event IDs of the hits, space-separated, in order ("" for none). */
static void search_ids(struct store *st, const struct store_search_query *q, char *buf,
                       size_t len)
{
	struct store_search_hit_list l;
	size_t o = 0;

	buf[0] = '\0';
	assert_int_equal(store_events_search(st, q, &l), STORE_OK);
	for (size_t i = 0; i < l.n; i++) {
		int n = snprintf(buf + o, len - o, "%s%s", i > 0 ? " " : "", l.items[i].event.event_id);
		assert_true(n > 0 && (size_t)n < len - o);
		o += (size_t)n;
	}
	store_search_hit_list_clear(&l);
}

#define assert_hits(st, q, expected)                         \
	do {                                                 \
		char got_[1024];                             \
		search_ids((st), (q), got_, sizeof(got_));   \
		assert_string_equal(got_, (expected));       \
	} while (0)

/* ---- tests ------------------------------------------------------------ */

/* Words match as prefixes, case and accents folded, all words required. */
static void test_words_match(void **state)
{
	struct fixture *f = *state;
	struct q s;

	create_room(f->st, ROOM_A);
	message(f->st, "$m1", ROOM_A, "Martians and MEN");
	message(f->st, "$m2", ROOM_A, "un café crème");
	message(f->st, "$m3", ROOM_A, "nothing to see");
	q_init(&s, "martian", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$m1");
	q_init(&s, "men mart", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$m1");
	q_init(&s, "men nothing", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "");
	q_init(&s, "CAFE creme", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$m2");
	q_init(&s, "  \t see \n ", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$m3");
	q_init(&s, "absent", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "");
	/* one or two bytes match whole words only, three or more a prefix */
	q_init(&s, "ma", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "");
	q_init(&s, "un", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$m2");
	q_init(&s, "mar", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$m1");
}

/* keys: "The keys to search. Defaults to all." */
static void test_keys(void **state)
{
	struct fixture *f = *state;
	struct test_event t;
	struct q s;

	create_room(f->st, ROOM_A);
	message(f->st, "$body", ROOM_A, "garden party");
	ev_init(&t, "$name", ROOM_A, "m.room.name", "", "Garden room", STORE_SEARCH_KEY_NAME);
	persist(f->st, &t);
	ev_init(&t, "$topic", ROOM_A, "m.room.topic", "", "about the garden",
	        STORE_SEARCH_KEY_TOPIC);
	persist(f->st, &t);
	q_init(&s, "garden", ROOM_A, NULL);
	s.q.keys = 0;
	assert_hits(f->st, &s.q, "$topic $name $body");
	s.q.keys = STORE_SEARCH_KEY_NAME;
	assert_hits(f->st, &s.q, "$name");
	s.q.keys = STORE_SEARCH_KEY_BODY | STORE_SEARCH_KEY_TOPIC;
	assert_hits(f->st, &s.q, "$topic $body");
}

/* Only the rooms named are searched, whatever their IDs hold. */
static void test_rooms_named_only(void **state)
{
	static const char odd_room[] = "!q\"u\\o'te],\x01:example.org";
	struct fixture *f = *state;
	struct q s;

	create_room(f->st, ROOM_A);
	create_room(f->st, ROOM_B);
	create_room(f->st, odd_room);
	message(f->st, "$a", ROOM_A, "secret plans");
	message(f->st, "$b", ROOM_B, "secret plans");
	message(f->st, "$odd", odd_room, "secret plans");
	q_init(&s, "secret", ROOM_A, NULL);
	s.q.by_rank = false;
	assert_hits(f->st, &s.q, "$a");
	q_init(&s, "secret", ROOM_B, ROOM_A);
	assert_hits(f->st, &s.q, "$b $a");
	q_init(&s, "secret", odd_room, NULL);
	assert_hits(f->st, &s.q, "$odd");
	/* a room ID that is a prefix or a JSON fragment of another names nothing */
	q_init(&s, "secret", "!q", "!a:example.org\",\"!b:example.org");
	assert_hits(f->st, &s.q, "");
}

/* "The search will not include rooms that are end to end encrypted." */
static void test_encrypted_room_not_indexed(void **state)
{
	struct fixture *f = *state;
	struct store_room_new room = { ROOM_E, "11", ALICE, 1000 };
	struct test_event t[3];
	struct store_event_new rows[3];
	struct q s;

	create_room(f->st, ROOM_A);
	/* createRoom with initial_state m.room.encryption, then a name: the
	 * name, later in the same batch, is not indexed either */
	ev_init(&t[0], "$e-create", ROOM_E, "m.room.create", "", NULL, 0);
	ev_init(&t[1], "$e-enc", ROOM_E, "m.room.encryption", "", NULL, 0);
	ev_init(&t[2], "$e-name", ROOM_E, "m.room.name", "", "Hidden lair",
	        STORE_SEARCH_KEY_NAME);
	for (int i = 0; i < 3; i++)
		rows[i] = t[i].e;
	assert_int_equal(store_events_persist(f->st, &room, rows, 3, NULL), STORE_OK);
	/* a plaintext m.room.message sent into it anyway */
	message(f->st, "$e-msg", ROOM_E, "hidden plaintext");
	q_init(&s, "hidden", ROOM_E, ROOM_A);
	assert_hits(f->st, &s.q, "");
	q_init(&s, "lair", ROOM_E, NULL);
	assert_hits(f->st, &s.q, "");
	assert_int_equal(raw_count(f->path, "SELECT COUNT(*) FROM event_search"), 0);

	/* a room that turns encryption on: what came before stays
	 * searchable, nothing after it is indexed */
	message(f->st, "$before", ROOM_A, "hidden before");
	ev_init(&t[0], "$a-enc", ROOM_A, "m.room.encryption", "", NULL, 0);
	persist(f->st, &t[0]);
	message(f->st, "$after", ROOM_A, "hidden after");
	q_init(&s, "hidden", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$before");
}

/* The index row is part of the event's transaction: a batch that fails
 * (here on a reused event ID) leaves no index row behind. */
static void test_index_rolls_back_with_event(void **state)
{
	struct fixture *f = *state;
	struct test_event t[2];
	struct store_event_new rows[2];
	struct q s;

	create_room(f->st, ROOM_A);
	message(f->st, "$taken", ROOM_A, "first");
	ev_init(&t[0], "$new", ROOM_A, "m.room.message", NULL, "orphan words",
	        STORE_SEARCH_KEY_BODY);
	ev_init(&t[1], "$taken", ROOM_A, "m.room.message", NULL, "again", STORE_SEARCH_KEY_BODY);
	rows[0] = t[0].e;
	rows[1] = t[1].e;
	assert_int_equal(store_events_persist(f->st, NULL, rows, 2, NULL), STORE_CONFLICT);
	q_init(&s, "orphan", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "");
	/* and the stream position it would have used holds nothing stale */
	message(f->st, "$later", ROOM_A, "unrelated");
	assert_hits(f->st, &s.q, "");
}

/* A redaction removes its target from the index in its own transaction;
 * a redaction naming an event of another room removes nothing. */
static void test_redaction_unindexes(void **state)
{
	struct fixture *f = *state;
	struct test_event t;
	struct q s;

	create_room(f->st, ROOM_A);
	create_room(f->st, ROOM_B);
	message(f->st, "$keep", ROOM_A, "launch codes kept");
	message(f->st, "$gone", ROOM_A, "launch codes gone");
	message(f->st, "$other", ROOM_B, "launch codes elsewhere");

	ev_init(&t, "$r1", ROOM_A, "m.room.redaction", NULL, NULL, 0);
	t.e.redacts = "$gone";
	t.e.redacted_json = "{\"type\":\"m.room.message\",\"content\":{}}";
	persist(f->st, &t);
	ev_init(&t, "$r2", ROOM_A, "m.room.redaction", NULL, NULL, 0);
	t.e.redacts = "$other";   /* in ROOM_B: not this room's to redact */
	t.e.redacted_json = "{\"type\":\"m.room.message\",\"content\":{}}";
	persist(f->st, &t);

	q_init(&s, "launch", ROOM_A, ROOM_B);
	assert_hits(f->st, &s.q, "$other $keep");
	/* the row is gone, not only hidden by redacted_by */
	raw_exec(f->path, "UPDATE events SET redacted_by = NULL WHERE event_id = '$gone'");
	assert_hits(f->st, &s.q, "$other $keep");
}

/* rank: "The higher the rank the more relevant"; recent: newest first. */
static void test_orders(void **state)
{
	struct fixture *f = *state;
	struct store_search_hit_list l;
	struct q s;

	create_room(f->st, ROOM_A);
	for (int i = 0; i < 20; i++) {
		char id[16];
		snprintf(id, sizeof(id), "$filler%d", i);
		message(f->st, id, ROOM_A, "weather report");
	}
	message(f->st, "$close", ROOM_A, "rocket rocket rocket");
	message(f->st, "$far", ROOM_A, "a long message that mentions a rocket once among "
	                                 "many other words about the weather and lunch");
	q_init(&s, "rocket", ROOM_A, NULL);
	s.q.by_rank = true;
	assert_int_equal(store_events_search(f->st, &s.q, &l), STORE_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[0].event.event_id, "$close");
	assert_true(l.items[0].rank > l.items[1].rank);
	assert_true(l.items[1].rank > 0);
	store_search_hit_list_clear(&l);
	s.q.by_rank = false;
	assert_hits(f->st, &s.q, "$far $close");
}

/* Paging: by recency with before (the last position seen), by rank with
 * offset under a fixed bound; no hit twice, none lost. */
static void test_paging(void **state)
{
	struct fixture *f = *state;
	struct store_search_hit_list l;
	int64_t pos[7], bound;
	struct q s;
	char seen[7] = { 0 };

	create_room(f->st, ROOM_A);
	for (int i = 0; i < 7; i++) {
		char id[16], body[64];
		snprintf(id, sizeof(id), "$p%d", i);
		/* different lengths give different ranks */
		snprintf(body, sizeof(body), "page %.*s", i * 6, "a b c d e f g h i j k l m n o p q r s t u v");
		pos[i] = message(f->st, id, ROOM_A, body);
	}
	q_init(&s, "page", ROOM_A, NULL);
	s.q.limit = 3;
	s.q.by_rank = false;
	assert_hits(f->st, &s.q, "$p6 $p5 $p4");
	s.q.before = pos[4];
	assert_hits(f->st, &s.q, "$p3 $p2 $p1");
	s.q.before = pos[1];
	assert_hits(f->st, &s.q, "$p0");

	/* by rank: a bound taken before paging keeps later events out */
	bound = pos[6] + 1;
	message(f->st, "$late", ROOM_A, "page");
	s.q.by_rank = true;
	s.q.before = bound;
	for (size_t off = 0; off < 9; off += 3) {
		s.q.offset = off;
		assert_int_equal(store_events_search(f->st, &s.q, &l), STORE_OK);
		assert_true(l.n == (off < 6 ? 3 : 1));
		for (size_t i = 0; i < l.n; i++) {
			int k = l.items[i].event.event_id[2] - '0';
			assert_string_not_equal(l.items[i].event.event_id, "$late");
			assert_true(k >= 0 && k < 7);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
		}
		store_search_hit_list_clear(&l);
	}
	assert_memory_equal(seen, "\1\1\1\1\1\1\1", 7);
}

/* The term is words, never FTS5 syntax: operators, column filters,
 * quotes, stars, carets and parentheses are matched as text (or dropped
 * when they are punctuation alone), and never make the query fail. */
static void test_fts_syntax_is_text(void **state)
{
	static const char *const hostile[] = {
		"\"", "\"\"", "\"unbalanced", "a\"b", "*", "hello*", "^hello", "NEAR(hello world)",
		"text:hello", "key:1", "{text key}: hello", "hello OR world", "NOT hello",
		"hello AND", "(", ")", "((((((", "-hello", "+", ":", "hello\"* OR \"x",
		"\xff\xfe", "\xc3", "a\\b", "'; DROP TABLE events; --", "\x01\x02",
	};
	struct fixture *f = *state;
	struct q s;

	create_room(f->st, ROOM_A);
	message(f->st, "$hw", ROOM_A, "hello world");
	message(f->st, "$how", ROOM_A, "hello or world");
	message(f->st, "$th", ROOM_A, "text hello");
	/* "OR" is a word here, so both messages need an "or..." word */
	q_init(&s, "hello OR world", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$how");
	q_init(&s, "NOT hello", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "");
	q_init(&s, "text:hello", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$th");
	q_init(&s, "\"hello", ROOM_A, NULL);
	s.q.by_rank = false;
	assert_hits(f->st, &s.q, "$th $how $hw");
	q_init(&s, "hello !!! ...", ROOM_A, NULL);   /* punctuation words are dropped */
	assert_hits(f->st, &s.q, "$th $how $hw");
	q_init(&s, "!!! ... ***", ROOM_A, NULL);     /* no word left: nothing */
	assert_hits(f->st, &s.q, "");
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct store_search_hit_list l;
		q_init(&s, hostile[i], ROOM_A, NULL);
		assert_int_equal(store_events_search(f->st, &s.q, &l), STORE_OK);
		store_search_hit_list_clear(&l);
	}
	/* and 2000 random terms of hostile bytes */
	srand(7);
	for (int i = 0; i < 2000; i++) {
		static const char alphabet[] = "ab\"*^:(){}-+ \t'\\NOTANDRNEAR,.\x01\xc3\xa9\xff";
		char term[40];
		struct store_search_hit_list l;
		size_t n = 1 + (size_t)rand() % (sizeof(term) - 1);
		for (size_t k = 0; k < n - 1; k++)
			term[k] = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		term[n - 1] = 'a';
		term[n] = '\0';
		q_init(&s, term, ROOM_A, NULL);
		assert_int_equal(store_events_search(f->st, &s.q, &l), STORE_OK);
		store_search_hit_list_clear(&l);
	}
}

/* Only the first STORE_SEARCH_WORDS_MAX words are used. */
static void test_word_bound(void **state)
{
	struct fixture *f = *state;
	char term[STORE_EVENT_SEARCH_TERM_MAX + 1];
	size_t o = 0;
	struct q s;

	create_room(f->st, ROOM_A);
	message(f->st, "$w", ROOM_A, "w");
	for (int i = 0; i < STORE_SEARCH_WORDS_MAX; i++)
		o += (size_t)snprintf(term + o, sizeof(term) - o, "w ");
	snprintf(term + o, sizeof(term) - o, "absentword");
	q_init(&s, term, ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$w");
}

static void test_survives_reopen(void **state)
{
	struct fixture *f = *state;
	char err[256];
	struct q s;

	create_room(f->st, ROOM_A);
	message(f->st, "$durable", ROOM_A, "persistent words");
	store_close(f->st);
	assert_int_equal(store_open(&f->st, "sqlite", f->path, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_schema_version(f->st), sqlite_migration_count);
	q_init(&s, "persistent", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$durable");
}

/* Migration 7 indexes what was stored before it, by the same rules: the
 * three keys, nothing redacted, nothing of a room with m.room.encryption,
 * nothing that is not a non-empty string. */
static void test_migration_backfills(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = NULL;
	char err[256];
	struct q s;

	/* a database as the build before search left it (version 6) */
	store_close(f->st);
	f->st = NULL;
	unlink(f->path);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema_version (version INTEGER PRIMARY "
	                                  "KEY, applied_ts INTEGER NOT NULL)", NULL, NULL, NULL),
	                 SQLITE_OK);
	for (int v = 1; v <= 6; v++) {
		char sql[96];
		assert_int_equal(sqlite3_exec(db, sqlite_migration_sql(v), NULL, NULL, NULL), SQLITE_OK);
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d, 0)", v);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(sqlite3_exec(db,
		"INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES "
		"('!a:x', '11', '@alice:x', 0), ('!e:x', '11', '@alice:x', 0);"
		"INSERT INTO events (event_id, room_id, type, state_key, sender, origin_ts, depth, "
		"json, redacted_by) VALUES "
		"('$msg', '!a:x', 'm.room.message', NULL, '@alice:x', 0, 1, "
		"  '{\"content\":{\"body\":\"old lantern\"}}', NULL),"
		"('$name', '!a:x', 'm.room.name', '', '@alice:x', 0, 2, "
		"  '{\"content\":{\"name\":\"lantern room\"}}', NULL),"
		"('$topic', '!a:x', 'm.room.topic', '', '@alice:x', 0, 3, "
		"  '{\"content\":{\"topic\":\"lantern topic\"}}', NULL),"
		"('$red', '!a:x', 'm.room.message', NULL, '@alice:x', 0, 4, "
		"  '{\"content\":{\"body\":\"lantern redacted\"}}', '$r'),"
		"('$num', '!a:x', 'm.room.message', NULL, '@alice:x', 0, 5, "
		"  '{\"content\":{\"body\":5}}', NULL),"
		"('$bad', '!a:x', 'm.room.message', NULL, '@alice:x', 0, 6, 'not json lantern', NULL),"
		"('$other', '!a:x', 'm.room.member', '@alice:x', '@alice:x', 0, 7, "
		"  '{\"content\":{\"body\":\"lantern member\"}}', NULL),"
		"('$enc-msg', '!e:x', 'm.room.message', NULL, '@alice:x', 0, 1, "
		"  '{\"content\":{\"body\":\"lantern secret\"}}', NULL),"
		"('$enc', '!e:x', 'm.room.encryption', '', '@alice:x', 0, 2, '{}', NULL);",
		NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(&f->st, "sqlite", f->path, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_schema_version(f->st), sqlite_migration_count);
	q_init(&s, "lantern", "!a:x", "!e:x");
	assert_hits(f->st, &s.q, "$topic $name $msg");
	s.q.keys = STORE_SEARCH_KEY_NAME;
	assert_hits(f->st, &s.q, "$name");
}

/* Arguments outside the contract never reach the back end. */
static void test_refused_arguments(void **state)
{
	struct fixture *f = *state;
	struct store_search_hit_list l;
	char *long_term = malloc(STORE_EVENT_SEARCH_TERM_MAX + 2);
	const char **many = calloc(STORE_SEARCH_ROOMS_MAX + 1, sizeof(*many));
	struct test_event t;
	struct q s;

	assert_non_null(long_term);
	assert_non_null(many);
	create_room(f->st, ROOM_A);
#define REFUSED(mutate)                                                       \
	do {                                                                  \
		q_init(&s, "word", ROOM_A, NULL);                             \
		mutate;                                                       \
		assert_int_equal(store_events_search(f->st, &s.q, &l), STORE_ERROR); \
		assert_null(l.items);                                         \
		assert_int_equal(l.n, 0);                                     \
	} while (0)
	REFUSED(s.q.limit = 0);
	REFUSED(s.q.limit = STORE_SEARCH_LIMIT_MAX + 1);
	REFUSED(s.q.offset = STORE_SEARCH_OFFSET_MAX + 1);
	REFUSED(s.q.n_rooms = 0);
	REFUSED(s.q.room_ids = NULL);
	REFUSED(s.rooms[0] = "no-sigil");
	REFUSED(s.rooms[0] = "!");
	REFUSED(s.rooms[0] = NULL);
	REFUSED(s.q.term = NULL);
	REFUSED(s.q.term = "");
	REFUSED(s.q.keys = STORE_SEARCH_KEYS_ALL + 1);
	REFUSED(s.q.before = -1);
	memset(long_term, 'a', STORE_EVENT_SEARCH_TERM_MAX + 1);
	long_term[STORE_EVENT_SEARCH_TERM_MAX + 1] = '\0';
	REFUSED(s.q.term = long_term);
	for (size_t i = 0; i <= STORE_SEARCH_ROOMS_MAX; i++)
		many[i] = ROOM_A;
	REFUSED((s.q.room_ids = many, s.q.n_rooms = STORE_SEARCH_ROOMS_MAX + 1));
	assert_int_equal(store_events_search(f->st, NULL, &l), STORE_ERROR);
	q_init(&s, "word", ROOM_A, NULL);
	assert_int_equal(store_events_search(f->st, &s.q, NULL), STORE_ERROR);
	/* the largest term and room list allowed are fine */
	long_term[STORE_EVENT_SEARCH_TERM_MAX] = '\0';
	s.q.term = long_term;
	s.q.room_ids = many;
	s.q.n_rooms = STORE_SEARCH_ROOMS_MAX;
	assert_int_equal(store_events_search(f->st, &s.q, &l), STORE_OK);
	store_search_hit_list_clear(&l);

	/* persist: text without a known key, or empty text, is refused */
	ev_init(&t, "$bad", ROOM_A, "m.room.message", NULL, "x", 8);
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_ERROR);
	ev_init(&t, "$bad", ROOM_A, "m.room.message", NULL, "x", 0);
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_ERROR);
	ev_init(&t, "$bad", ROOM_A, "m.room.message", NULL, "", STORE_SEARCH_KEY_BODY);
	assert_int_equal(store_events_persist(f->st, NULL, &t.e, 1, NULL), STORE_ERROR);
	free(long_term);
	free(many);
}

/* A hit whose row fails validation when loaded is refused, not served. */
static void test_loaded_rows_checked(void **state)
{
	struct fixture *f = *state;
	struct store_search_hit_list l;
	struct q s;

	create_room(f->st, ROOM_A);
	message(f->st, "$ok", ROOM_A, "validated words");
	q_init(&s, "validated", ROOM_A, NULL);
	assert_hits(f->st, &s.q, "$ok");
	raw_exec(f->path, "UPDATE events SET sender = 'no-sigil' WHERE event_id = '$ok'");
	assert_int_equal(store_events_search(f->st, &s.q, &l), STORE_ERROR);
	assert_int_equal(l.n, 0);
	raw_exec(f->path, "UPDATE events SET sender = '@alice:example.org', event_id = 'x' "
	                  "WHERE event_id = '$ok'");
	assert_int_equal(store_events_search(f->st, &s.q, &l), STORE_ERROR);
}

/* The search reads the FTS index and each event by primary key: no scan
 * of the events table, and no sort for the recency order. */
static void test_query_plan(void **state)
{
	struct fixture *f = *state;
	static const enum sqlite_stmt_id ids[] = { SQ_SEARCH_BY_RANK, SQ_SEARCH_BY_RECENT,
	                                            SQ_SEARCH_UNINDEX };
	struct sqlite_conn c;
	sqlite3 *db = NULL;

	memset(&c, 0, sizeof(c));

	create_room(f->st, ROOM_A);
	assert_int_equal(sqlite_conn_open_reader(&c, f->path), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sqlite3_stmt *stmt = sqlite_stmt_get(&c, ids[i]), *plan = NULL;
		char sql[4096];
		bool fts = false;

		assert_non_null(stmt);
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(stmt));
		sqlite_stmt_put(&c, ids[i], stmt);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &plan, NULL), SQLITE_OK);
		while (sqlite3_step(plan) == SQLITE_ROW) {
			const char *detail = (const char *)sqlite3_column_text(plan, 3);
			if (strstr(detail, "VIRTUAL TABLE INDEX") != NULL &&
			    strstr(detail, "json_each") == NULL)
				fts = true;
			if (strcmp(detail, "SCAN e") == 0 || strncmp(detail, "SCAN e ", 7) == 0 ||
			    strncmp(detail, "SCAN events", 11) == 0 ||
			    (ids[i] == SQ_SEARCH_BY_RECENT && strstr(detail, "TEMP B-TREE") != NULL))
				fail_msg("statement %d: %s", (int)ids[i], detail);
		}
		sqlite3_finalize(plan);
		if (ids[i] != SQ_SEARCH_UNINDEX)
			assert_true(fts);
	}
	sqlite3_close(db);
	sqlite_conn_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_words_match),
		T(test_keys),
		T(test_rooms_named_only),
		T(test_encrypted_room_not_indexed),
		T(test_index_rolls_back_with_event),
		T(test_redaction_unindexes),
		T(test_orders),
		T(test_paging),
		T(test_fts_syntax_is_text),
		T(test_word_bound),
		T(test_survives_reopen),
		T(test_migration_backfills),
		T(test_refused_arguments),
		T(test_loaded_rows_checked),
		T(test_query_plan),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
