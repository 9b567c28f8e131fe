/*
 * test_detect: the scraper detector (security/detect.h) and its
 * homeserver.yaml section (config/config_detect.c).
 *
 * The clock is the test's own, so windows, cool-downs, idle eviction and
 * account ages are driven exactly. Rules fire into a recorder.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/config_detect.h"
#include "security/detect.h"
#include "security/served.h"
#include "store/store.h"

#define DAY_MS (INT64_C(86400) * 1000)
#define T0 (INT64_C(1780000000) * 1000)   /* June 2026 */

static int64_t clock_ms;
static int64_t fake_now(void) { return clock_ms; }

/* created_ts by user: "@old..." accounts are a year old, "@new..." an
 * hour, anything else unknown (-1). */
static int64_t fake_created(void *ctx, const char *user_id)
{
	(void)ctx;
	if (strncmp(user_id, "@old", 4) == 0)
		return clock_ms - 365 * DAY_MS;
	if (strncmp(user_id, "@new", 4) == 0)
		return clock_ms - 3600 * 1000;
	return -1;
}

#define FIRES_MAX 64
static struct detect_fire fires[FIRES_MAX];
static char fire_users[FIRES_MAX][64];
static size_t n_fires;

static void record_fire(void *ctx, const struct detect_fire *f)
{
	(void)ctx;
	assert_true(n_fires < FIRES_MAX);
	fires[n_fires] = *f;
	snprintf(fire_users[n_fires], sizeof(fire_users[0]), "%s", f->user_id);
	fires[n_fires].user_id = fire_users[n_fires];
	n_fires++;
}

static void start(const struct detect_rule *rules, size_t n, uint32_t young_days)
{
	struct detect_opts o = { .rules = rules, .n_rules = n, .young_days = young_days,
	                         .young_percent = 50, .throttle_s = 600, .old_event_days = 30,
	                         .on_fire = record_fire, .created = fake_created,
	                         .now_ms = fake_now };
	clock_ms = T0;
	n_fires = 0;
	assert_int_equal(detect_start(&o), 0);
}

static int teardown(void **state)
{
	(void)state;
	detect_stop();
	return 0;
}

/* n events, each sent ts_age_ms before now. */
static void serve(const char *user, int kind, const char *room, size_t n, int64_t age_ms)
{
	struct store_event *items = calloc(n, sizeof(*items));
	struct store_event_list l = { items, n };

	assert_non_null(items);
	for (size_t i = 0; i < n; i++) {
		items[i].stream = (int64_t)i + 1;
		items[i].origin_ts = clock_ms - age_ms;
	}
	detect_observe_events(user, kind, room, &l);
	free(items);
}

/* ---- windows and thresholds ------------------------------------------------ */

static void test_threshold_fires_once_per_window(void **state)
{
	const struct detect_rule r[] = { { DETECT_HISTORY_EVENTS, DETECT_ALERT, 60, 10 } };

	(void)state;
	start(r, 1, 0);
	serve("@a:x", SERVED_MESSAGES, "!r:x", 9, 1000);
	assert_int_equal(n_fires, 0);
	serve("@a:x", SERVED_MESSAGES, "!r:x", 1, 1000);
	assert_int_equal(n_fires, 1);
	assert_string_equal(fires[0].user_id, "@a:x");
	assert_int_equal(fires[0].rule.metric, DETECT_HISTORY_EVENTS);
	assert_int_equal(fires[0].rule.action, DETECT_ALERT);
	assert_int_equal(fires[0].count, 10);
	assert_int_equal(fires[0].threshold, 10);
	/* the exposure so far travels with the alert */
	assert_int_equal(fires[0].exposure.events, 10);
	assert_int_equal(fires[0].exposure.rooms, 1);
	/* more in the same window: no second alert */
	serve("@a:x", SERVED_MESSAGES, "!r:x", 50, 1000);
	assert_int_equal(n_fires, 1);
	/* another account has its own counters */
	serve("@b:x", SERVED_MESSAGES, "!r:x", 9, 1000);
	assert_int_equal(n_fires, 1);
	/* long after: quiet, then fires again on a new burst */
	clock_ms += 10 * 60 * 1000;
	serve("@a:x", SERVED_MESSAGES, "!r:x", 9, 1000);
	assert_int_equal(n_fires, 1);
	serve("@a:x", SERVED_MESSAGES, "!r:x", 1, 1000);
	assert_int_equal(n_fires, 2);
}

/* The previous fixed window counts in proportion to its overlap with the
 * sliding one. */
static void test_window_slides(void **state)
{
	const struct detect_rule r[] = { { DETECT_HISTORY_EVENTS, DETECT_RECORD, 100, 10 } };

	(void)state;
	start(r, 1, 0);
	clock_ms = T0 - T0 % 100000;          /* start of a fixed window */
	serve("@a:x", SERVED_MESSAGES, "!r:x", 8, 1000);
	clock_ms += 150 * 1000;               /* half-way through the next */
	serve("@a:x", SERVED_MESSAGES, "!r:x", 5, 1000);   /* 5 + 8/2 = 9 */
	assert_int_equal(n_fires, 0);
	serve("@a:x", SERVED_MESSAGES, "!r:x", 1, 1000);   /* 10 */
	assert_int_equal(n_fires, 1);
	/* two windows later, nothing of the old burst is left */
	clock_ms += 200 * 1000;
	serve("@b:x", SERVED_MESSAGES, "!r:x", 8, 1000);
	clock_ms += 250 * 1000;
	serve("@b:x", SERVED_MESSAGES, "!r:x", 9, 1000);
	assert_int_equal(n_fires, 1);
}

/* Live /sync timelines are not history; a sync serving old events is, as
 * is any paging read. State and member lists count as rooms read only. */
static void test_history_kinds(void **state)
{
	const struct detect_rule r[] = { { DETECT_HISTORY_EVENTS, DETECT_ALERT, 3600, 5 },
	                                 { DETECT_OLD_EVENTS, DETECT_ALERT, 3600, 3 } };

	(void)state;
	start(r, 2, 0);
	serve("@a:x", SERVED_SYNC, "!r:x", 100, 1000);        /* fresh */
	serve("@a:x", SERVED_STATE, "!r:x", 100, 10 * DAY_MS);
	serve("@a:x", SERVED_MEMBERS, "!r:x", 100, 10 * DAY_MS);
	serve("@a:x", SERVED_UNREAD, "!r:x", 100, 10 * DAY_MS);
	assert_int_equal(n_fires, 0);
	serve("@a:x", SERVED_SYNC, "!r:x", 5, 2 * 3600 * 1000);
	assert_int_equal(n_fires, 1);
	assert_int_equal(fires[0].rule.metric, DETECT_HISTORY_EVENTS);
	/* how far back: events older than old_event_days (30) */
	serve("@b:x", SERVED_CONTEXT, "!r:x", 2, 31 * DAY_MS);
	assert_int_equal(n_fires, 1);
	serve("@b:x", SERVED_SEARCH, "!r:x", 1, 29 * DAY_MS);
	assert_int_equal(n_fires, 1);
	serve("@b:x", SERVED_EVENT, "!r:x", 1, 40 * DAY_MS);
	assert_int_equal(n_fires, 2);
	assert_int_equal(fires[1].rule.metric, DETECT_OLD_EVENTS);
	/* nothing without a user or a room, or with no events */
	serve(NULL, SERVED_MESSAGES, "!r:x", 50, 1000);
	serve("@c:x", SERVED_MESSAGES, NULL, 50, 1000);
	detect_observe_events("@c:x", SERVED_MESSAGES, "!r:x", NULL);
	assert_int_equal(n_fires, 2);
}

static void test_distinct_rooms(void **state)
{
	const struct detect_rule r[] = { { DETECT_ROOMS_READ, DETECT_LOCK, 86400, 3 } };

	(void)state;
	start(r, 1, 0);
	for (int i = 0; i < 10; i++)
		serve("@a:x", SERVED_SYNC, "!one:x", 1, 1000);
	serve("@a:x", SERVED_STATE, "!two:x", 1, 1000);
	serve("@a:x", SERVED_STATE, "!two:x", 1, 1000);
	assert_int_equal(n_fires, 0);
	serve("@a:x", SERVED_MESSAGES, "!three:x", 1, 1000);
	assert_int_equal(n_fires, 1);
	assert_int_equal(fires[0].rule.action, DETECT_LOCK);
	assert_int_equal(fires[0].exposure.rooms, 3);
	assert_int_equal(fires[0].exposure.events, 13);
}

/* A sweep past the distinct set's cap keeps counting (the oldest entry
 * makes room), so a scraper cannot hide behind the bound. */
static void test_distinct_cap(void **state)
{
	const struct detect_rule r[] = {
		{ DETECT_ROOMS_READ, DETECT_ALERT, 86400, DETECT_DISTINCT_MAX + 100 } };
	char room[32];

	(void)state;
	start(r, 1, 0);
	for (int i = 0; i < DETECT_DISTINCT_MAX + 100; i++) {
		snprintf(room, sizeof(room), "!r%d:x", i);
		serve("@a:x", SERVED_SYNC, room, 1, 1000);
	}
	assert_int_equal(n_fires, 1);
	assert_int_equal(fires[0].exposure.rooms, DETECT_DISTINCT_MAX + 100);
}

static void test_directory(void **state)
{
	const struct detect_rule r[] = { { DETECT_DIRECTORY_SEARCHES, DETECT_ALERT, 3600, 4 },
	                                 { DETECT_DIRECTORY_USERS, DETECT_ALERT, 3600, 5 } };
	const char *page1[] = { "@u1:x", "@u2:x", "@u3:x" };
	const char *page2[] = { "@u2:x", "@u3:x", "@u4:x" };
	const char *page3[] = { "@u5:x" };
	struct detect_exposure e;

	(void)state;
	start(r, 2, 0);
	detect_observe_directory("@a:x", page1, 3);
	detect_observe_directory("@a:x", page2, 3);     /* one new: 4 distinct */
	assert_int_equal(n_fires, 0);
	detect_observe_directory("@a:x", NULL, 0);      /* a room list page */
	assert_int_equal(n_fires, 0);
	detect_observe_directory("@a:x", page3, 1);     /* 4th search, 5th user */
	assert_int_equal(n_fires, 2);
	detect_exposure_get("@a:x", &e);
	assert_int_equal(e.directory_searches, 4);
	assert_int_equal(e.directory_users, 5);
}

static void test_media(void **state)
{
	const struct detect_rule r[] = { { DETECT_MEDIA_BYTES, DETECT_ALERT, 86400, 1000 },
	                                 { DETECT_MEDIA_DOWNLOADS, DETECT_ALERT, 86400, 3 } };

	(void)state;
	start(r, 2, 0);
	detect_observe_media("@a:x", true, 300);
	detect_observe_media("@a:x", true, 300);
	detect_observe_media("@a:x", true, 300);        /* thumbnails: bytes only */
	assert_int_equal(n_fires, 0);
	detect_observe_media("@a:x", false, 100);
	assert_int_equal(n_fires, 1);
	assert_int_equal(fires[0].rule.metric, DETECT_MEDIA_BYTES);
	assert_int_equal(fires[0].exposure.media_bytes, 1000);
	detect_observe_media("@a:x", false, 0);
	detect_observe_media("@a:x", false, 0);
	assert_int_equal(n_fires, 2);
	assert_int_equal(fires[1].rule.metric, DETECT_MEDIA_DOWNLOADS);
}

static void test_joins_and_devices(void **state)
{
	const struct detect_rule r[] = { { DETECT_PUBLIC_JOINS, DETECT_SUSPEND, 86400, 2 },
	                                 { DETECT_NEW_DEVICE_IP, DETECT_RECORD, 86400, 1 } };

	(void)state;
	start(r, 2, 0);
	detect_observe_public_join("@a:x", "!p1:x");
	detect_observe_public_join("@a:x", NULL);       /* ignored */
	assert_int_equal(n_fires, 0);
	detect_observe_public_join("@a:x", "!p2:x");
	assert_int_equal(n_fires, 1);
	assert_int_equal(fires[0].rule.action, DETECT_SUSPEND);
	assert_int_equal(fires[0].exposure.public_joins, 2);
	detect_observe_new_device_ip("@a:x");
	assert_int_equal(n_fires, 2);
	assert_int_equal(fires[1].rule.metric, DETECT_NEW_DEVICE_IP);
}

/* ---- age scaling --------------------------------------------------------- */

static void test_young_accounts_get_tighter_limits(void **state)
{
	const struct detect_rule r[] = { { DETECT_PUBLIC_JOINS, DETECT_LOCK, 86400, 9 } };

	(void)state;
	start(r, 1, 7);
	/* a year old: the full threshold */
	for (int i = 0; i < 8; i++)
		detect_observe_public_join("@old:x", "!p:x");
	assert_int_equal(n_fires, 0);
	detect_observe_public_join("@old:x", "!p:x");
	assert_int_equal(n_fires, 1);
	assert_int_equal(fires[0].threshold, 9);
	assert_true(fires[0].account_age_ms >= 364 * DAY_MS);
	/* an hour old: half, rounded up (9 -> 5) */
	for (int i = 0; i < 4; i++)
		detect_observe_public_join("@new:x", "!p:x");
	assert_int_equal(n_fires, 1);
	detect_observe_public_join("@new:x", "!p:x");
	assert_int_equal(n_fires, 2);
	assert_int_equal(fires[1].threshold, 5);
	assert_int_equal(fires[1].account_age_ms, 3600 * 1000);
	/* unknown age is treated as young: the safe side */
	for (int i = 0; i < 5; i++)
		detect_observe_public_join("@who:x", "!p:x");
	assert_int_equal(n_fires, 3);
	assert_int_equal(fires[2].account_age_ms, -1);
}

static void test_young_threshold_never_zero(void **state)
{
	const struct detect_rule r[] = { { DETECT_PUBLIC_JOINS, DETECT_ALERT, 86400, 1 } };

	(void)state;
	start(r, 1, 7);
	detect_observe_public_join("@new:x", "!p:x");
	assert_int_equal(n_fires, 1);
	assert_int_equal(fires[0].threshold, 1);
}

/* ---- throttle ------------------------------------------------------------ */

static void test_throttle_cool_down(void **state)
{
	const struct detect_rule r[] = { { DETECT_DIRECTORY_SEARCHES, DETECT_THROTTLE, 3600, 2 } };
	int64_t retry = 0;

	(void)state;
	start(r, 1, 0);
	detect_observe_directory("@a:x", NULL, 0);
	assert_false(detect_throttled("@a:x", &retry));
	detect_observe_directory("@a:x", NULL, 0);
	assert_true(detect_throttled("@a:x", &retry));
	assert_int_equal(retry, 600 * 1000);
	assert_false(detect_throttled("@b:x", NULL));
	assert_false(detect_throttled(NULL, NULL));
	clock_ms += 599 * 1000;
	assert_true(detect_throttled("@a:x", &retry));
	assert_int_equal(retry, 1000);
	clock_ms += 1000;
	assert_false(detect_throttled("@a:x", NULL));
}

/* ---- bounds ---------------------------------------------------------------- */

static void test_idle_accounts_evicted(void **state)
{
	const struct detect_rule r[] = { { DETECT_PUBLIC_JOINS, DETECT_ALERT, 86400, 100 } };
	struct detect_stats st;
	struct detect_exposure e;

	(void)state;
	start(r, 1, 0);
	detect_observe_public_join("@a:x", "!p:x");
	clock_ms += 60 * 1000;
	detect_observe_public_join("@b:x", "!p:x");
	detect_stats_get(&st);
	assert_int_equal(st.tracked, 2);
	clock_ms += DETECT_IDLE_MS;          /* @a idle past the limit, @b just under */
	detect_observe_public_join("@c:x", "!p:x");
	detect_stats_get(&st);
	assert_int_equal(st.tracked, 2);
	assert_int_equal(st.evicted, 0);     /* idle ones are not counted as evicted */
	detect_exposure_get("@a:x", &e);
	assert_int_equal(e.public_joins, 0);
	detect_exposure_get("@b:x", &e);
	assert_int_equal(e.public_joins, 1);
}

static void test_table_full_evicts_least_recent(void **state)
{
	const struct detect_rule r[] = { { DETECT_PUBLIC_JOINS, DETECT_ALERT, 86400, 100 } };
	struct detect_stats st;
	struct detect_exposure e;
	char user[32];

	(void)state;
	start(r, 1, 0);
	for (int i = 0; i < DETECT_ACCOUNTS_MAX; i++) {
		snprintf(user, sizeof(user), "@u%d:x", i);
		clock_ms += (i == 1);            /* @u0 is the least recently seen */
		detect_observe_public_join(user, "!p:x");
	}
	detect_stats_get(&st);
	assert_int_equal(st.tracked, DETECT_ACCOUNTS_MAX);
	detect_observe_public_join("@last:x", "!p:x");
	detect_stats_get(&st);
	assert_int_equal(st.tracked, DETECT_ACCOUNTS_MAX);
	assert_int_equal(st.evicted, 1);
	detect_exposure_get("@u0:x", &e);
	assert_int_equal(e.public_joins, 0);
	detect_exposure_get("@u1:x", &e);
	assert_int_equal(e.public_joins, 1);
}

static void test_bad_rules_refused(void **state)
{
	struct detect_rule r = { DETECT_PUBLIC_JOINS, DETECT_ALERT, 60, 1 };
	struct detect_opts o = { .rules = &r, .n_rules = 1, .young_percent = 50 };

	(void)state;
	r.window_s = 0;
	assert_int_equal(detect_start(&o), -1);
	r.window_s = DETECT_WINDOW_MAX_S + 1;
	assert_int_equal(detect_start(&o), -1);
	r.window_s = 60;
	r.threshold = 0;
	assert_int_equal(detect_start(&o), -1);
	r.threshold = 1;
	r.metric = DETECT_METRIC_COUNT;
	assert_int_equal(detect_start(&o), -1);
	r.metric = DETECT_PUBLIC_JOINS;
	r.action = DETECT_ACTION_COUNT;
	assert_int_equal(detect_start(&o), -1);
	r.action = DETECT_ALERT;
	o.young_days = 7;
	o.young_percent = 0;
	assert_int_equal(detect_start(&o), -1);
	o.young_percent = 101;
	assert_int_equal(detect_start(&o), -1);
	o.n_rules = DETECT_RULES_MAX + 1;
	o.young_percent = 50;
	assert_int_equal(detect_start(&o), -1);
	assert_false(detect_running());
	/* not running: observations are no-ops */
	detect_observe_public_join("@a:x", "!p:x");
	assert_false(detect_throttled("@a:x", NULL));
	o.n_rules = 1;
	assert_int_equal(detect_start(&o), 0);
	assert_true(detect_running());
}

/* ---- threads ------------------------------------------------------------ */

static void *observer(void *arg)
{
	const char *user = arg;

	for (int i = 0; i < 1000; i++) {
		serve(user, SERVED_MESSAGES, i % 2 ? "!odd:x" : "!even:x", 1, 1000);
		detect_observe_media("@shared:x", false, 1);
		(void)detect_throttled("@shared:x", NULL);
	}
	return NULL;
}

/* Four threads on one shared account and on one account each: every
 * observation is counted once, the shared rule fires exactly once, and no
 * thread's own history rule (1000 events each, threshold 1001) fires.
 * Run under ASan in CI; record_fire is safe here because only one fire
 * can happen. */
static void test_threads_count_exactly(void **state)
{
	const struct detect_rule r[] = { { DETECT_MEDIA_DOWNLOADS, DETECT_ALERT, 86400, 4000 },
	                                 { DETECT_HISTORY_EVENTS, DETECT_RECORD, 86400, 1001 } };
	static char users[4][16] = { "@t0:x", "@t1:x", "@t2:x", "@t3:x" };
	pthread_t th[4];
	struct detect_exposure e;

	(void)state;
	start(r, 2, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, observer, users[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(n_fires, 1);
	assert_int_equal(fires[0].rule.metric, DETECT_MEDIA_DOWNLOADS);
	detect_exposure_get("@shared:x", &e);
	assert_int_equal(e.media_downloads, 4000);
	for (int i = 0; i < 4; i++) {
		detect_exposure_get(users[i], &e);
		assert_int_equal(e.events, 1000);
		assert_int_equal(e.rooms, 2);
	}
}

/* The file's names are the detector's names, in the same order. */
static void test_names_match_config(void **state)
{
	enum detect_metric m;
	enum detect_action a;

	(void)state;
	assert_int_equal(CONFIG_DETECT_METRICS, DETECT_METRIC_COUNT);
	assert_int_equal(CONFIG_DETECT_ACTIONS, DETECT_ACTION_COUNT);
	for (unsigned i = 0; i < DETECT_METRIC_COUNT; i++) {
		assert_string_equal(detect_metric_name(i), config_detect_metric_names[i]);
		assert_int_equal(detect_metric_parse(config_detect_metric_names[i], &m), 0);
		assert_int_equal(m, i);
	}
	for (unsigned i = 0; i < DETECT_ACTION_COUNT; i++) {
		assert_string_equal(detect_action_name(i), config_detect_action_names[i]);
		assert_int_equal(detect_action_parse(config_detect_action_names[i], &a), 0);
		assert_int_equal(a, i);
	}
	assert_int_equal(detect_metric_parse("joins", &m), -1);
	assert_int_equal(detect_action_parse("ban", &a), -1);
	assert_null(detect_metric_name(DETECT_METRIC_COUNT));
	assert_null(detect_action_name(DETECT_ACTION_COUNT));
}

/* ---- homeserver.yaml -------------------------------------------------------- */

static int load_text(struct config *c, const char *text, char *err, size_t err_len)
{
	char dir[] = "/tmp/chappe-test-detect-XXXXXX", path[64];
	FILE *f;
	int rc;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/homeserver.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "server_name: example.org\n%s", text);
	fclose(f);
	rc = config_load(c, path, err, err_len);
	unlink(path);
	rmdir(dir);
	return rc;
}

static void test_config_defaults_and_overrides(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(load_text(&c, "", err, sizeof(err)), 0);
	assert_true(c.detect.enabled);
	assert_int_equal(c.detect.young_account_days, 7);
	assert_int_equal(c.detect.young_account_percent, 50);
	assert_int_equal(c.detect.rules[DETECT_PUBLIC_JOINS].threshold[DETECT_LOCK], 20);
	assert_int_equal(c.detect.rules[DETECT_HISTORY_EVENTS].threshold[DETECT_THROTTLE], 1500);
	assert_null(c.detect.alert_webhook_url);
	config_free(&c);

	assert_int_equal(load_text(&c,
	    "scraper_detection:\n"
	    "  enabled: false\n"
	    "  young_account_percent: 25\n"
	    "  alert_webhook_url: \"https://hooks.example.org/chappe\"\n"
	    "  public_room_joins: {seconds: 3600, alert: 3, lock: 0}\n"
	    "  media_bytes: {suspend: 12345678901}\n", err, sizeof(err)), 0);
	assert_false(c.detect.enabled);
	assert_int_equal(c.detect.young_account_percent, 25);
	assert_string_equal(c.detect.alert_webhook_url, "https://hooks.example.org/chappe");
	assert_int_equal(c.detect.rules[DETECT_PUBLIC_JOINS].window_seconds, 3600);
	assert_int_equal(c.detect.rules[DETECT_PUBLIC_JOINS].threshold[DETECT_ALERT], 3);
	assert_int_equal(c.detect.rules[DETECT_PUBLIC_JOINS].threshold[DETECT_LOCK], 0);
	assert_int_equal(c.detect.rules[DETECT_MEDIA_BYTES].threshold[DETECT_SUSPEND],
	                 UINT64_C(12345678901));
	/* untouched keys keep their defaults */
	assert_int_equal(c.detect.rules[DETECT_MEDIA_BYTES].window_seconds, 86400);
	assert_int_equal(c.detect.rules[DETECT_ROOMS_READ].threshold[DETECT_ALERT], 100);
	config_free(&c);
}

static void test_config_refuses_bad_values(void **state)
{
	static const struct { const char *yaml, *key; } bad[] = {
		{ "scraper_detection:\n  enabled: yes\n", "scraper_detection.enabled" },
		{ "scraper_detection:\n  young_account_percent: 0\n", "young_account_percent" },
		{ "scraper_detection:\n  young_account_percent: 101\n", "young_account_percent" },
		{ "scraper_detection:\n  throttle_seconds: 0\n", "throttle_seconds" },
		{ "scraper_detection:\n  rooms_read: {seconds: 59}\n", "rooms_read.seconds" },
		{ "scraper_detection:\n  rooms_read: {seconds: 99999999}\n", "rooms_read.seconds" },
		{ "scraper_detection:\n  rooms_read: {alert: -1}\n", "rooms_read.alert" },
		{ "scraper_detection:\n  rooms_read: {alert: 1.5}\n", "rooms_read.alert" },
		{ "scraper_detection:\n  rooms_read: {lock: 99999999999999999999}\n",
		  "rooms_read.lock" },
		{ "scraper_detection:\n  rooms_read: {ban: 3}\n", "ban" },
		{ "scraper_detection:\n  scrapes: {alert: 3}\n", "scrapes" },
		{ "scraper_detection:\n  alert_webhook_url: \"ftp://x\"\n", "alert_webhook_url" },
		{ "scraper_detection:\n  alert_webhook_url: \"http://x/\\\"y\"\n",
		  "alert_webhook_url" },
	};
	struct config c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(load_text(&c, bad[i].yaml, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].key)) {
			print_error("case %zu: '%s' does not name %s\n", i, err, bad[i].key);
			fail();
		}
	}
}

/* What config_write writes loads back the same. */
static void test_config_round_trip(void **state)
{
	struct config c, back;
	char dir[] = "/tmp/chappe-test-detect-XXXXXX", path[64], err[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(config_defaults(&c, "example.org", dir), 0);
	c.detect.rules[DETECT_HISTORY_EVENTS].threshold[DETECT_RECORD] = 123456789;
	c.detect.rules[DETECT_HISTORY_EVENTS].threshold[DETECT_SUSPEND] = 987654321;
	c.detect.rules[DETECT_HISTORY_EVENTS].threshold[DETECT_LOCK] = 2987654321;
	c.detect.alert_webhook_url = strdup("http://127.0.0.1:9/hook");
	snprintf(path, sizeof(path), "%s/homeserver.yaml", dir);
	assert_int_equal(config_write(&c, path), 0);
	{
		/* a detector with every action set is wrapped inside its flow
		 * mapping, so the file keeps to 80 columns and still loads */
		FILE *f = fopen(path, "r");
		char line[512];
		bool wrapped = false;

		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			assert_true(strlen(line) <= 81);
			wrapped |= strncmp(line, "    ", 4) == 0 && strstr(line, "987654321");
		}
		fclose(f);
		assert_true(wrapped);
	}
	assert_int_equal(config_load(&back, path, err, sizeof(err)), 0);
	assert_memory_equal(back.detect.rules, c.detect.rules, sizeof(c.detect.rules));
	assert_string_equal(back.detect.alert_webhook_url, c.detect.alert_webhook_url);
	assert_int_equal(back.detect.throttle_seconds, c.detect.throttle_seconds);
	config_free(&back);
	config_free(&c);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_threshold_fires_once_per_window, teardown),
		cmocka_unit_test_teardown(test_window_slides, teardown),
		cmocka_unit_test_teardown(test_history_kinds, teardown),
		cmocka_unit_test_teardown(test_distinct_rooms, teardown),
		cmocka_unit_test_teardown(test_distinct_cap, teardown),
		cmocka_unit_test_teardown(test_directory, teardown),
		cmocka_unit_test_teardown(test_media, teardown),
		cmocka_unit_test_teardown(test_joins_and_devices, teardown),
		cmocka_unit_test_teardown(test_young_accounts_get_tighter_limits, teardown),
		cmocka_unit_test_teardown(test_young_threshold_never_zero, teardown),
		cmocka_unit_test_teardown(test_throttle_cool_down, teardown),
		cmocka_unit_test_teardown(test_idle_accounts_evicted, teardown),
		cmocka_unit_test_teardown(test_table_full_evicts_least_recent, teardown),
		cmocka_unit_test_teardown(test_bad_rules_refused, teardown),
		cmocka_unit_test_teardown(test_threads_count_exactly, teardown),
		cmocka_unit_test(test_names_match_config),
		cmocka_unit_test(test_config_defaults_and_overrides),
		cmocka_unit_test(test_config_refuses_bad_values),
		cmocka_unit_test(test_config_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
