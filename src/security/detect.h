/*
 * detect: scraper detection (incident response, issue 5 part 5).
 *
 * Per-account sliding-window detectors fed from the read paths (the
 * served_* chokepoint: room events, media, directory searches, public
 * room lists), from joins of public rooms and from logins of new devices.
 * Each rule (detector, window, threshold, action) is evaluated when its
 * count grows; when the count over the window reaches the threshold, the
 * rule fires once for that window and its action is handed to the
 * action function given at start (detect_actions.c: log, alert, lock,
 * suspend). Throttling is kept here: a throttled account's reads are
 * refused (detect_throttled) until its cool-down ends.
 *
 * Windows are "sliding window counters": per rule, the count of the
 * current fixed window plus the previous one weighted by how much of it
 * still overlaps the sliding window. Exact at window edges' resolution,
 * two integers per rule, O(rules) per observation.
 *
 * Distinct counts (rooms read, directory users revealed) remember 64-bit
 * hashes of what was seen, at most DETECT_DISTINCT_MAX per account and
 * kind; an item counts once per DETECT_DISTINCT_TTL_MS. A full set
 * replaces its oldest entry, so a sweep past the cap keeps counting.
 *
 * Account age scales thresholds: an account younger than young_days has
 * each threshold multiplied by young_percent/100 (rounded up, at least 1).
 * The age comes from the age function given at start, asked once when an
 * account is first tracked (outside the lock).
 *
 * Bounds: at most DETECT_ACCOUNTS_MAX accounts tracked; an account with
 * no observation for DETECT_IDLE_MS is forgotten, and when the table is
 * full the least recently seen account is evicted.
 *
 * Threads: one detector per process (a named singleton, like the ledger:
 * the served_* functions it hangs off have no context). detect_start and
 * detect_stop from the main thread; everything else from any thread.
 * Observations before detect_start or after detect_stop are no-ops. The
 * action function is called on the observing thread, after the detector's
 * lock is released, so it may lock, suspend or queue an alert.
 */
#ifndef CHAPPE_SECURITY_DETECT_H
#define CHAPPE_SECURITY_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_event_list;

enum detect_metric {
	DETECT_PUBLIC_JOINS = 0,   /* public rooms joined */
	DETECT_ROOMS_READ,         /* distinct rooms events were served from */
	DETECT_HISTORY_EVENTS,     /* events served by history reads */
	DETECT_OLD_EVENTS,         /* events served older than old_event_days */
	DETECT_MEDIA_BYTES,        /* bytes of media and thumbnails served */
	DETECT_MEDIA_DOWNLOADS,    /* media downloads (thumbnails aside) */
	DETECT_DIRECTORY_SEARCHES, /* user directory searches and room list pages */
	DETECT_DIRECTORY_USERS,    /* distinct users the searches revealed */
	DETECT_NEW_DEVICE_IP,      /* new devices signing in from a new IP */
	DETECT_METRIC_COUNT
};

enum detect_action {
	DETECT_RECORD = 0,         /* log line and counter */
	DETECT_ALERT,              /* security room notice (and webhook) */
	DETECT_THROTTLE,           /* 429 on the account's reads for a cool-down */
	DETECT_SUSPEND,            /* security_suspend: read-only */
	DETECT_LOCK,               /* security_lock: nothing more is served */
	DETECT_ACTION_COUNT
};

#define DETECT_RULES_MAX       (DETECT_METRIC_COUNT * DETECT_ACTION_COUNT)
#define DETECT_ACCOUNTS_MAX    65536
#define DETECT_IDLE_MS         (INT64_C(26) * 3600 * 1000)  /* > the longest default window */
#define DETECT_DISTINCT_MAX    1024
#define DETECT_DISTINCT_TTL_MS (INT64_C(24) * 3600 * 1000)
#define DETECT_WINDOW_MAX_S    (30u * 86400u)
/* sync timeline events older than this count as history: a filter with a
 * large timeline limit on an initial sync is paging back by another name */
#define DETECT_SYNC_HISTORY_AGE_MS (INT64_C(3600) * 1000)

struct detect_rule {
	enum detect_metric metric;
	enum detect_action action;
	uint32_t window_s;         /* 1..DETECT_WINDOW_MAX_S */
	uint64_t threshold;        /* >= 1, for an account of full age */
};

/* What an account has been served since it was tracked: the exposure
 * summary every alert carries. */
struct detect_exposure {
	uint64_t rooms;            /* distinct rooms events were served from */
	uint64_t events;           /* room events served (every kind) */
	uint64_t media_downloads;
	uint64_t media_bytes;
	uint64_t directory_searches;
	uint64_t directory_users;  /* distinct users revealed */
	uint64_t public_joins;
};

/* One rule that fired, handed to the action function. */
struct detect_fire {
	const char *user_id;
	struct detect_rule rule;
	uint64_t threshold;        /* after age scaling */
	uint64_t count;            /* the count over the window that reached it */
	int64_t account_age_ms;    /* -1 when unknown */
	struct detect_exposure exposure;
};

typedef void (*detect_action_fn)(void *ctx, const struct detect_fire *fire);
/* Account creation time (ms since epoch), or -1 when unknown (the
 * account is then treated as young: tighter, the safe side). */
typedef int64_t (*detect_created_fn)(void *ctx, const char *user_id);
typedef int64_t (*detect_clock_fn)(void);

struct detect_opts {
	const struct detect_rule *rules;  /* copied */
	size_t n_rules;                   /* <= DETECT_RULES_MAX */
	uint32_t young_days;              /* 0: no scaling */
	uint32_t young_percent;           /* 1..100 */
	uint32_t throttle_s;              /* cool-down of a throttle */
	uint32_t old_event_days;          /* DETECT_OLD_EVENTS' age */
	detect_action_fn on_fire;         /* may be NULL (record only) */
	detect_created_fn created;        /* may be NULL (age unknown) */
	void *ctx;                        /* for on_fire and created */
	detect_clock_fn now_ms;           /* NULL: time_now_ms (tests set one) */
};

/* 0, or -1 on a bad rule (logged) or out of memory. Restarting replaces
 * the rules and forgets every account. */
int detect_start(const struct detect_opts *o);
void detect_stop(void);
bool detect_running(void);

/* ---- observations (cheap: one lock, O(rules)) ---- */
/* Room events served to user_id in room_id by a read of kind (served.h's
 * enum served_kind, passed as int so this header needs no other). */
void detect_observe_events(const char *user_id, int kind, const char *room_id,
                           const struct store_event_list *events);
void detect_observe_media(const char *user_id, bool thumbnail, uint64_t bytes);
/* A user directory search (user_ids may be NULL: then n counts as
 * revealed, without dedup) or a public room list page (user_ids NULL,
 * n 0). */
void detect_observe_directory(const char *user_id, const char *const *user_ids, size_t n);
void detect_observe_public_join(const char *user_id, const char *room_id);
void detect_observe_new_device_ip(const char *user_id);

/* Is user_id throttled right now? *retry_ms (may be NULL) gets the rest
 * of the cool-down. */
bool detect_throttled(const char *user_id, int64_t *retry_ms);

/* The exposure summary of user_id so far (zeroes when untracked). */
void detect_exposure_get(const char *user_id, struct detect_exposure *out);

/* Names as in homeserver.yaml ("public_room_joins", "lock"); NULL when
 * out of range. *_parse: 0, or -1 for an unknown name. */
const char *detect_metric_name(enum detect_metric m);
const char *detect_action_name(enum detect_action a);
int detect_metric_parse(const char *s, enum detect_metric *out);
int detect_action_parse(const char *s, enum detect_action *out);

struct detect_stats {
	uint64_t fired[DETECT_ACTION_COUNT];  /* rules fired, by action */
	uint64_t evicted;                     /* accounts forgotten when full */
	size_t tracked;                       /* accounts tracked now */
};
void detect_stats_get(struct detect_stats *out);

#endif
