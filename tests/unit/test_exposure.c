/*
 * test_exposure: the exposure report (security/exposure.h) over a real
 * SQLite store holding rooms, memberships and access ledger rows.
 *
 * Issue 5, part 4: "every room the account could read (membership history)
 * and every room it was actually served from (name, public or private,
 * encrypted or not, join/leave times, number of events served and their
 * time span, senders whose messages were served) ... Encrypted rooms are
 * reported as ciphertext served. The report distinguishes 'served' from
 * 'readable but never requested'. It must match exactly what the account's
 * clients received."
 *
 * What is proven here: the served positions resolve to exactly the events
 * at those positions (not their neighbours); rooms the account was a
 * member of but never read are listed apart, and rooms it left before the
 * window are not listed; encrypted rooms count ciphertext; media,
 * directory sweeps (distinct users), profiles and sessions are totalled;
 * the window bounds the rows; Markdown and HTML escape hostile names; the
 * time and format arguments refuse what they do not understand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "security/exposure.h"
#include "security/ledger.h"
#include "security/served.h"
#include "store/store.h"

#define ALICE "@alice:example.org"
#define BOB "@bob:example.org"
#define CAROL "@carol:example.org"
#define ROOM_A "!a:example.org"
#define ROOM_B "!b:example.org"
#define ROOM_C "!c:example.org"
#define ROOM_D "!d:example.org"
#define T0 INT64_C(1780272000000)   /* 2026-06-01T00:00:00Z */

struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	struct ledger_opts o = { 0, 0, 0 };

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-exposure-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (store_open(&f->st, "sqlite", f->path, err, sizeof(err)) != STORE_OK ||
	    ledger_start(f->st, &o) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
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

/* ---- a small room history, written straight to the store --------------- */

struct ev {
	struct store_event_new e;
	char id[64];
	char json[512];
};

/* One event at origin_ts ts; content is a JSON object text. Returns its
 * stream position. A room is created by its first event (m.room.create). */
static int64_t put(struct store *st, const char *room_id, const char *type,
                   const char *state_key, const char *sender, const char *content,
                   const char *membership, int64_t ts)
{
	static int counter;
	struct ev t;
	struct store_room_new room = { room_id, "11", sender, ts };
	int64_t pos = 0;

	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "$ev%d", ++counter);
	snprintf(t.json, sizeof(t.json),
	         "{\"event_id\":\"%s\",\"room_id\":\"%s\",\"type\":\"%s\",\"sender\":\"%s\","
	         "\"content\":%s}", t.id, room_id, type, sender, content);
	t.e.event_id = t.id;
	t.e.room_id = room_id;
	t.e.type = type;
	t.e.state_key = state_key;
	t.e.sender = sender;
	t.e.origin_ts = ts;
	t.e.depth = counter;
	t.e.json = t.json;
	t.e.json_len = strlen(t.json);
	t.e.membership = membership;
	assert_int_equal(store_events_persist(st, strcmp(type, "m.room.create") == 0 ? &room : NULL,
	                                      &t.e, 1, &pos),
	                 STORE_OK);
	return pos;
}

static int64_t put_member(struct store *st, const char *room_id, const char *user,
                          const char *membership, int64_t ts)
{
	char content[64];

	snprintf(content, sizeof(content), "{\"membership\":\"%s\"}", membership);
	return put(st, room_id, "m.room.member", user, user, content, membership, ts);
}

static int64_t put_message(struct store *st, const char *room_id, const char *sender,
                           int64_t ts)
{
	return put(st, room_id, "m.room.message", NULL, sender,
	           "{\"msgtype\":\"m.text\",\"body\":\"hi\"}", NULL, ts);
}

static void create(struct store *st, const char *room_id, const char *name, bool public_,
                   int64_t ts)
{
	char content[256];

	put(st, room_id, "m.room.create", "", ALICE, "{}", NULL, ts);
	put_member(st, room_id, ALICE, "join", ts);
	put(st, room_id, "m.room.join_rules", "", ALICE,
	    public_ ? "{\"join_rule\":\"public\"}" : "{\"join_rule\":\"invite\"}", NULL, ts);
	snprintf(content, sizeof(content), "{\"name\":\"%s\"}", name);
	put(st, room_id, "m.room.name", "", ALICE, content, NULL, ts);
}

static const struct served_viewer bob = { BOB, "BOBDEV", "198.51.100.7", "scraper/1.0" };

/* Record that bob was served the events at positions pos[0..n). */
static void serve(enum served_kind kind, const char *room_id, const int64_t *pos, size_t n)
{
	struct store_event_list l = { calloc(n, sizeof(struct store_event)), n };

	assert_non_null(l.items);
	for (size_t i = 0; i < n; i++)
		l.items[i].stream = pos[i];
	served_events_record(&bob, kind, room_id, &l);
	free(l.items);
}

static json_t *room_of(json_t *report, const char *room_id)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(report, "rooms"), i, r)
		if (strcmp(json_string_value(json_object_get(r, "room_id")), room_id) == 0)
			return r;
	return NULL;
}

static int64_t num(json_t *o, const char *key)
{
	assert_true(json_is_integer(json_object_get(o, key)));
	return json_integer_value(json_object_get(o, key));
}

static json_t *event_ids_at(struct store *st, const char *room_id, const int64_t *pos,
                            size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		struct store_event_list l = { 0 };
		assert_int_equal(store_room_events(st, room_id, pos[i] - 1, pos[i], 1, false, &l),
		                 STORE_OK);
		assert_int_equal(l.n, 1);
		json_array_append_new(arr, json_string(l.items[0].event_id));
		store_event_list_clear(&l);
	}
	return arr;
}

static void test_report_matches_what_was_served(void **state)
{
	struct fixture *f = *state;
	struct exposure_query q = { BOB, 0, INT64_MAX, true };
	int64_t a[6], b[2];
	json_t *report, *ra, *rb, *rc, *want;

	create(f->st, ROOM_A, "Town square", true, T0);
	put_member(f->st, ROOM_A, BOB, "join", T0 + 1000);
	for (int i = 0; i < 6; i++)
		a[i] = put_message(f->st, ROOM_A, i % 2 ? ALICE : CAROL, T0 + 2000 + i);
	create(f->st, ROOM_B, "Back office", false, T0);
	put(f->st, ROOM_B, "m.room.encryption", "", ALICE,
	    "{\"algorithm\":\"m.megolm.v1.aes-sha2\"}", NULL, T0);
	put_member(f->st, ROOM_B, BOB, "join", T0 + 1000);
	for (int i = 0; i < 2; i++)
		b[i] = put(f->st, ROOM_B, "m.room.encrypted", NULL, ALICE, "{\"ciphertext\":\"x\"}",
		           NULL, T0 + 3000 + i);
	create(f->st, ROOM_C, "Never opened", true, T0);
	put_member(f->st, ROOM_C, BOB, "join", T0 + 5000);
	put_message(f->st, ROOM_C, ALICE, T0 + 6000);

	/* bob was served a[1], a[2], a[4] (not a[3]: visibility dropped it)
	 * and both ciphertexts; a[1] twice (sync, then messages) */
	serve(SERVED_SYNC, ROOM_A, (int64_t[]){ a[1], a[2] }, 2);
	serve(SERVED_MESSAGES, ROOM_A, (int64_t[]){ a[4], a[1] }, 2);
	serve(SERVED_SYNC, ROOM_B, b, 2);
	assert_int_equal(ledger_flush(), 0);

	report = exposure_report(f->st, &q);
	assert_non_null(report);
	ra = room_of(report, ROOM_A);
	rb = room_of(report, ROOM_B);
	rc = room_of(report, ROOM_C);
	assert_non_null(ra);
	assert_non_null(rb);
	assert_non_null(rc);
	want = event_ids_at(f->st, ROOM_A, (int64_t[]){ a[1], a[2], a[4] }, 3);
	assert_true(json_equal(json_object_get(ra, "event_ids"), want));
	json_decref(want);
	assert_string_equal(json_string_value(json_object_get(ra, "status")), "served");
	assert_string_equal(json_string_value(json_object_get(ra, "name")), "Town square");
	assert_true(json_is_true(json_object_get(ra, "public")));
	assert_true(json_is_false(json_object_get(ra, "encrypted")));
	assert_int_equal(num(ra, "events_served"), 3);
	assert_int_equal(num(ra, "first_event_ts"), T0 + 2001);
	assert_int_equal(num(ra, "last_event_ts"), T0 + 2004);
	assert_int_equal(num(ra, "joined_ts"), T0 + 1000);
	assert_true(json_is_null(json_object_get(ra, "left_ts")));
	/* a[1] and a[2] by alice and carol; a[4] by carol */
	assert_int_equal(json_array_size(json_object_get(ra, "senders")), 2);
	assert_int_equal(num(json_object_get(ra, "reads"), "sync"), 1);
	assert_int_equal(num(json_object_get(ra, "reads"), "messages"), 1);

	assert_true(json_is_true(json_object_get(rb, "encrypted")));
	assert_true(json_is_false(json_object_get(rb, "public")));
	assert_int_equal(num(rb, "ciphertext_events_served"), 2);

	assert_string_equal(json_string_value(json_object_get(rc, "status")),
	                    "readable_not_requested");
	assert_int_equal(num(rc, "events_served"), 0);
	assert_int_equal(num(json_object_get(report, "totals"), "events_served"), 5);
	assert_int_equal(num(json_object_get(report, "totals"), "rooms_served"), 2);
	assert_int_equal(num(json_object_get(report, "totals"), "rooms_readable_not_requested"), 1);
	json_decref(report);
}

static void test_window_and_left_rooms(void **state)
{
	struct fixture *f = *state;
	struct exposure_query q = { BOB, 0, INT64_MAX, false };
	int64_t m;
	json_t *report, *rd;

	create(f->st, ROOM_D, "Old room", false, T0 - 100000);
	put_member(f->st, ROOM_D, BOB, "join", T0 - 90000);
	m = put_message(f->st, ROOM_D, ALICE, T0 - 80000);
	put_member(f->st, ROOM_D, BOB, "leave", T0 - 70000);
	serve(SERVED_SYNC, ROOM_D, &m, 1);
	assert_int_equal(ledger_flush(), 0);

	/* the whole history: served, with its join and leave */
	report = exposure_report(f->st, &q);
	rd = room_of(report, ROOM_D);
	assert_non_null(rd);
	assert_int_equal(num(rd, "joined_ts"), T0 - 90000);
	assert_int_equal(num(rd, "left_ts"), T0 - 70000);
	assert_null(json_object_get(rd, "event_ids"));   /* event_ids false */
	assert_int_equal(json_array_size(json_object_get(rd, "memberships")), 2);
	json_decref(report);

	/* a window that ends before the read: no rows; the room was left
	 * before the window started, so it is not readable in it either */
	q.until = 1000;
	report = exposure_report(f->st, &q);
	assert_int_equal(num(json_object_get(report, "totals"), "reads"), 0);
	assert_null(room_of(report, ROOM_D));
	json_decref(report);
	q.since = T0;   /* after the leave; the read itself happened now */
	q.until = INT64_MAX;
	report = exposure_report(f->st, &q);
	rd = room_of(report, ROOM_D);
	assert_non_null(rd);
	assert_true(json_is_false(json_object_get(rd, "readable_in_window")));
	assert_string_equal(json_string_value(json_object_get(rd, "status")), "served");
	json_decref(report);
}

static void test_media_directory_sessions(void **state)
{
	struct fixture *f = *state;
	struct exposure_query q = { BOB, 0, INT64_MAX, true };
	struct served_viewer phone = { BOB, "PHONE", "203.0.113.9", "app/2" };
	json_t *report, *d, *t;

	served_media_record(&bob, false, "MEDIA1", NULL, 1000);
	served_media_record(&bob, true, "MEDIA1", ROOM_A, 50);
	served_media_record(&phone, false, "MEDIA2", NULL, 7);
	served_directory_search(&bob, "a", (const char *const[]){ ALICE, CAROL }, 2);
	served_directory_search(&bob, "c", (const char *const[]){ CAROL }, 1);
	served_profile(&bob, ALICE);
	served_key_query(&bob, 3);
	served_public_rooms(&bob, NULL, 12);
	assert_int_equal(ledger_flush(), 0);

	report = exposure_report(f->st, &q);
	assert_non_null(report);
	t = json_object_get(report, "totals");
	assert_int_equal(num(t, "media_items"), 2);
	assert_int_equal(num(t, "media_bytes"), 1057);
	assert_int_equal(num(t, "directory_searches"), 2);
	assert_int_equal(num(t, "users_revealed"), 2);   /* carol counted once */
	assert_int_equal(num(t, "sessions"), 2);
	assert_int_equal(num(t, "reads"), 8);
	d = json_object_get(report, "directory");
	assert_int_equal(num(d, "distinct_users_revealed"), 2);
	assert_int_equal(num(json_object_get(report, "public_room_list"), "rooms_listed"), 12);
	assert_int_equal(num(report, "key_queries"), 1);
	assert_int_equal(json_array_size(json_object_get(report, "profiles_read")), 1);
	assert_int_equal(json_array_size(json_object_get(report, "ips")), 2);
	json_decref(report);
}

static void test_render_escapes_hostile_values(void **state)
{
	json_t *report = json_pack(
	        "{s:s,s:I,s:I,s:{s:I,s:I},s:[{s:s,s:s,s:s,s:b,s:b,s:I,s:[s]}],s:[],"
	        "s:{s:[],s:I},s:[{s:s,s:[s],s:[s],s:I,s:I,s:I}],s:{s:I}}",
	        "user_id", "@x:example.org", "since", (json_int_t)0, "until", (json_int_t)T0,
	        "ledger", "rows", (json_int_t)1, "dropped_records", (json_int_t)0,
	        "rooms", "room_id", "!r:example.org", "status", "served", "name",
	        "<script>alert(1)</script>\n| forged | row |", "public", 1, "encrypted", 0,
	        "events_served", (json_int_t)1, "senders", "@a:example.org",
	        "media", "directory", "searches", "distinct_users_revealed", (json_int_t)0,
	        "sessions", "device_id", "D", "ips", "192.0.2.1", "user_agents", "<b>ua</b>",
	        "first_ts", (json_int_t)T0, "last_ts", (json_int_t)T0, "reads", (json_int_t)1,
	        "totals", "reads", (json_int_t)1);
	char *html, *md;

	(void)state;
	assert_non_null(report);
	html = exposure_render(report, EXPOSURE_HTML);
	md = exposure_render(report, EXPOSURE_MARKDOWN);
	assert_non_null(html);
	assert_non_null(md);
	assert_null(strstr(html, "<script>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_null(strstr(html, "<b>ua"));
	assert_non_null(strstr(html, "Window: the first record to 2026-06-01 00:00:00 UTC"));
	/* one table row per room: the newline and the pipes cannot forge one */
	assert_null(strstr(md, "\n| forged"));
	assert_non_null(strstr(md, "\\| forged \\| row \\|"));
	assert_non_null(strstr(md, "\\<script\\>"));
	free(html);
	free(md);
	json_decref(report);
}

static void test_time_and_format_arguments(void **state)
{
	int64_t t = -1;
	enum exposure_format fmt;

	(void)state;
	assert_int_equal(exposure_time_parse("0", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(exposure_time_parse("1780272000123", &t), 0);
	assert_int_equal(t, 1780272000123);
	assert_int_equal(exposure_time_parse("2026-06-01", &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(exposure_time_parse("2026-06-01T12:30:00Z", &t), 0);
	assert_int_equal(t, INT64_C(1780317000000));
	assert_int_equal(exposure_time_parse("", &t), -1);
	assert_int_equal(exposure_time_parse(NULL, &t), -1);
	assert_int_equal(exposure_time_parse("yesterday", &t), -1);
	assert_int_equal(exposure_time_parse("2026-06-01T12:30:00", &t), -1);   /* no zone */
	assert_int_equal(exposure_time_parse("2026-06-01 junk", &t), -1);
	assert_int_equal(exposure_time_parse("-5", &t), -1);
	assert_int_equal(exposure_time_parse("99999999999999999999", &t), -1);

	assert_int_equal(exposure_format_parse(NULL, &fmt), 0);
	assert_int_equal(fmt, EXPOSURE_JSON);
	assert_int_equal(exposure_format_parse("md", &fmt), 0);
	assert_int_equal(fmt, EXPOSURE_MARKDOWN);
	assert_int_equal(exposure_format_parse("html", &fmt), 0);
	assert_int_equal(fmt, EXPOSURE_HTML);
	assert_int_equal(exposure_format_parse("pdf", &fmt), -1);
	assert_int_equal(exposure_format_parse("", &fmt), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_report_matches_what_was_served, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_window_and_left_rooms, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test_setup_teardown(test_media_directory_sessions, fixture_setup,
		                                fixture_teardown),
		cmocka_unit_test(test_render_escapes_hostile_values),
		cmocka_unit_test(test_time_and_format_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
