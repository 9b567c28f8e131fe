/*
 * detect.c: per-account sliding-window rules (contract in detect.h).
 *
 * One hash table of accounts under one mutex. An observation finds (or
 * makes) the account, adds to the counters of the rules of the metrics it
 * touches, and collects the rules that reached their threshold; the
 * action function runs after the lock is released, since locking an
 * account writes the store and wakes its long-polls.
 */
#include "security/detect.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "security/served.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

struct rule_state {
	int64_t win_start;          /* ms, start of the current fixed window */
	uint64_t cur, prev;         /* counts of the current and previous one */
	int64_t quiet_until;        /* fired: not again before this */
};

/* Distinct items seen: hashes and when each was last counted. */
struct distinct {
	uint64_t *hash;
	int64_t *ts;
	size_t n, cap;
};

struct account {
	char *user_id;
	int64_t created_ts;         /* -1 unknown */
	int64_t last_seen;
	int64_t throttle_until;
	struct distinct rooms, users;
	struct detect_exposure exp;
	UT_hash_handle hh;
	struct rule_state rs[];     /* one per rule, same order as g.rules */
};

static struct {
	pthread_mutex_t lock;
	bool running;
	struct detect_rule rules[DETECT_RULES_MAX];
	size_t n_rules;
	struct detect_opts o;
	struct account *accounts;
	int64_t last_sweep;
	struct detect_stats stats;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char *const metric_names[DETECT_METRIC_COUNT] = {
	[DETECT_PUBLIC_JOINS] = "public_room_joins",
	[DETECT_ROOMS_READ] = "rooms_read",
	[DETECT_HISTORY_EVENTS] = "history_events",
	[DETECT_OLD_EVENTS] = "old_events",
	[DETECT_MEDIA_BYTES] = "media_bytes",
	[DETECT_MEDIA_DOWNLOADS] = "media_downloads",
	[DETECT_DIRECTORY_SEARCHES] = "directory_searches",
	[DETECT_DIRECTORY_USERS] = "directory_users",
	[DETECT_NEW_DEVICE_IP] = "new_device_ip",
};
static const char *const action_names[DETECT_ACTION_COUNT] = {
	[DETECT_RECORD] = "record", [DETECT_ALERT] = "alert", [DETECT_THROTTLE] = "throttle",
	[DETECT_SUSPEND] = "suspend", [DETECT_LOCK] = "lock",
};

const char *detect_metric_name(enum detect_metric m)
{
	return (unsigned)m < DETECT_METRIC_COUNT ? metric_names[m] : NULL;
}

const char *detect_action_name(enum detect_action a)
{
	return (unsigned)a < DETECT_ACTION_COUNT ? action_names[a] : NULL;
}

int detect_metric_parse(const char *s, enum detect_metric *out)
{
	for (unsigned i = 0; s && i < DETECT_METRIC_COUNT; i++) {
		if (strcmp(s, metric_names[i]) == 0) {
			*out = (enum detect_metric)i;
			return 0;
		}
	}
	return -1;
}

int detect_action_parse(const char *s, enum detect_action *out)
{
	for (unsigned i = 0; s && i < DETECT_ACTION_COUNT; i++) {
		if (strcmp(s, action_names[i]) == 0) {
			*out = (enum detect_action)i;
			return 0;
		}
	}
	return -1;
}

static int64_t now_ms(void)
{
	return g.o.now_ms ? g.o.now_ms() : time_now_ms();
}

static void distinct_free(struct distinct *d)
{
	free(d->hash);
	free(d->ts);
	memset(d, 0, sizeof(*d));
}

static void account_free(struct account *a)
{
	distinct_free(&a->rooms);
	distinct_free(&a->users);
	free(a->user_id);
	free(a);
}

/* Caller holds g.lock. */
static void accounts_clear(void)
{
	struct account *a, *tmp;

	HASH_ITER(hh, g.accounts, a, tmp) {
		HASH_DEL(g.accounts, a);
		account_free(a);
	}
}

int detect_start(const struct detect_opts *o)
{
	if (o->n_rules > DETECT_RULES_MAX || o->young_percent > 100 ||
	    (o->young_days > 0 && o->young_percent == 0)) {
		log_error("detect: bad options (%zu rules, young_percent %u)", o->n_rules,
		          o->young_percent);
		return -1;
	}
	for (size_t i = 0; i < o->n_rules; i++) {
		const struct detect_rule *r = &o->rules[i];
		if (!detect_metric_name(r->metric) || !detect_action_name(r->action) ||
		    r->window_s == 0 || r->window_s > DETECT_WINDOW_MAX_S || r->threshold == 0) {
			log_error("detect: rule %zu is invalid", i);
			return -1;
		}
	}
	pthread_mutex_lock(&g.lock);
	accounts_clear();
	memcpy(g.rules, o->rules, o->n_rules * sizeof(*o->rules));
	g.n_rules = o->n_rules;
	g.o = *o;
	g.o.rules = NULL;
	memset(&g.stats, 0, sizeof(g.stats));
	g.last_sweep = 0;
	g.running = true;
	pthread_mutex_unlock(&g.lock);
	return 0;
}

void detect_stop(void)
{
	pthread_mutex_lock(&g.lock);
	g.running = false;
	accounts_clear();
	pthread_mutex_unlock(&g.lock);
}

bool detect_running(void)
{
	bool r;

	pthread_mutex_lock(&g.lock);
	r = g.running;
	pthread_mutex_unlock(&g.lock);
	return r;
}

/* ---- accounts ----------------------------------------------------------- */

/* Forget idle accounts (at most once a minute), and when the table is
 * still full, the least recently seen one. Caller holds g.lock. */
static void accounts_make_room(int64_t now)
{
	struct account *a, *tmp, *oldest = NULL;

	if (now - g.last_sweep >= 60000 || HASH_COUNT(g.accounts) >= DETECT_ACCOUNTS_MAX) {
		g.last_sweep = now;
		HASH_ITER(hh, g.accounts, a, tmp) {
			if (now - a->last_seen > DETECT_IDLE_MS) {
				HASH_DEL(g.accounts, a);
				account_free(a);
			}
		}
	}
	if (HASH_COUNT(g.accounts) < DETECT_ACCOUNTS_MAX)
		return;
	HASH_ITER(hh, g.accounts, a, tmp) {
		if (!oldest || a->last_seen < oldest->last_seen)
			oldest = a;
	}
	HASH_DEL(g.accounts, oldest);
	account_free(oldest);
	g.stats.evicted++;
}

/* The account of user_id with g.lock held, or NULL (lock released) when
 * the detector is off or memory ran out. The creation time is read
 * without the lock: it may be a store read. */
static struct account *account_enter(const char *user_id, int64_t now)
{
	struct account *a;
	int64_t created;

	if (!user_id)
		return NULL;
	pthread_mutex_lock(&g.lock);
	if (!g.running)
		goto none;
	HASH_FIND_STR(g.accounts, user_id, a);
	if (a)
		goto found;
	{
		detect_created_fn fn = g.o.created;
		void *ctx = g.o.ctx;

		pthread_mutex_unlock(&g.lock);
		created = fn ? fn(ctx, user_id) : -1;
		pthread_mutex_lock(&g.lock);
	}
	if (!g.running)
		goto none;
	HASH_FIND_STR(g.accounts, user_id, a);   /* another thread may have made it */
	if (a)
		goto found;
	accounts_make_room(now);
	a = calloc(1, sizeof(*a) + g.n_rules * sizeof(a->rs[0]));
	if (!a || !(a->user_id = strdup(user_id))) {
		free(a);
		goto none;
	}
	a->created_ts = created;
	HASH_ADD_KEYPTR(hh, g.accounts, a->user_id, strlen(a->user_id), a);
found:
	a->last_seen = now;
	return a;
none:
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

/* FNV-1a. */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Count s once per DETECT_DISTINCT_TTL_MS: true when it is new (or was
 * last counted longer ago). Out of memory counts it (the safe side). */
static bool distinct_add(struct distinct *d, const char *s, int64_t now)
{
	uint64_t h = hash_str(s);
	size_t oldest = 0;

	for (size_t i = 0; i < d->n; i++) {
		if (d->hash[i] != h)
			continue;
		if (now - d->ts[i] < DETECT_DISTINCT_TTL_MS)
			return false;
		d->ts[i] = now;
		return true;
	}
	if (d->n == d->cap && d->cap < DETECT_DISTINCT_MAX) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		uint64_t *nh = realloc(d->hash, cap * sizeof(*nh));
		int64_t *nt;

		if (!nh)
			return true;
		d->hash = nh;
		if (!(nt = realloc(d->ts, cap * sizeof(*nt))))
			return true;
		d->ts = nt;
		d->cap = cap;
	}
	if (d->n < d->cap) {
		d->hash[d->n] = h;
		d->ts[d->n++] = now;
		return true;
	}
	for (size_t i = 1; i < d->n; i++)   /* full: replace the oldest */
		if (d->ts[i] < d->ts[oldest])
			oldest = i;
	d->hash[oldest] = h;
	d->ts[oldest] = now;
	return true;
}

/* ---- rules -------------------------------------------------------------- */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Add to a rule's sliding window counter; returns the estimate. */
static uint64_t window_add(struct rule_state *s, uint32_t window_s, int64_t now, uint64_t add)
{
	int64_t w = (int64_t)window_s * 1000;
	int64_t start = now - now % w;
	double prev_part;

	if (s->win_start != start) {
		s->prev = s->win_start == start - w ? s->cur : 0;
		s->cur = 0;
		s->win_start = start;
	}
	s->cur = sat_add(s->cur, add);
	prev_part = (double)s->prev * (double)(w - (now - start)) / (double)w;
	return sat_add(s->cur, (uint64_t)prev_part);
}

/* The rule's threshold for this account's age. */
static uint64_t threshold_scaled(const struct account *a, const struct detect_rule *r,
                                 int64_t now)
{
	int64_t young_ms = (int64_t)g.o.young_days * 86400 * 1000;
	uint64_t t;

	if (g.o.young_days == 0 || (a->created_ts >= 0 && now - a->created_ts >= young_ms))
		return r->threshold;
	t = r->threshold / 100 * g.o.young_percent +
	    ((r->threshold % 100) * g.o.young_percent + 99) / 100;
	return t ? t : 1;
}

struct fired {
	size_t n;
	struct detect_fire f[DETECT_RULES_MAX];
};

/* Add adds[m] to every rule of metric m; rules reaching their threshold
 * go to out. Caller holds g.lock. */
static void account_apply(struct account *a, const uint64_t adds[DETECT_METRIC_COUNT],
                          int64_t now, struct fired *out)
{
	for (size_t i = 0; i < g.n_rules; i++) {
		const struct detect_rule *r = &g.rules[i];
		struct rule_state *s = &a->rs[i];
		uint64_t est, thr;

		if (adds[r->metric] == 0)
			continue;
		est = window_add(s, r->window_s, now, adds[r->metric]);
		thr = threshold_scaled(a, r, now);
		if (est < thr || now < s->quiet_until)
			continue;
		s->quiet_until = now + (int64_t)r->window_s * 1000;
		if (r->action == DETECT_THROTTLE)
			a->throttle_until = now + (int64_t)g.o.throttle_s * 1000;
		g.stats.fired[r->action]++;
		out->f[out->n++] = (struct detect_fire){
			.user_id = a->user_id, .rule = *r, .threshold = thr, .count = est,
			.account_age_ms = a->created_ts >= 0 ? now - a->created_ts : -1,
			.exposure = a->exp,
		};
	}
}

/* Release g.lock and run the actions of what fired. user_id is the
 * caller's (valid for the call), not the account's, which may be evicted
 * once the lock is gone. */
static void account_leave(const char *user_id, struct fired *out)
{
	detect_action_fn fn = g.o.on_fire;
	void *ctx = g.o.ctx;

	for (size_t i = 0; i < out->n; i++)
		out->f[i].user_id = user_id;
	pthread_mutex_unlock(&g.lock);
	for (size_t i = 0; i < out->n; i++) {
		const struct detect_fire *f = &out->f[i];

		log_warn("detect: %s: %s reached %llu (threshold %llu over %us): %s",
		         user_id, detect_metric_name(f->rule.metric), (unsigned long long)f->count,
		         (unsigned long long)f->threshold, f->rule.window_s,
		         detect_action_name(f->rule.action));
		if (fn)
			fn(ctx, f);
	}
}

static void observe(const char *user_id, const uint64_t adds[DETECT_METRIC_COUNT],
                    int64_t now)
{
	struct account *a = account_enter(user_id, now);
	struct fired out;

	if (!a)
		return;
	out.n = 0;
	account_apply(a, adds, now, &out);
	account_leave(user_id, &out);
}

/* ---- observations -------------------------------------------------------- */

static bool kind_is_history(int kind)
{
	return kind == SERVED_MESSAGES || kind == SERVED_CONTEXT || kind == SERVED_EVENT ||
	       kind == SERVED_RELATIONS || kind == SERVED_SEARCH;
}

void detect_observe_events(const char *user_id, int kind, const char *room_id,
                           const struct store_event_list *events)
{
	uint64_t adds[DETECT_METRIC_COUNT] = { 0 };
	int64_t now = now_ms(), old_before, sync_before;
	struct account *a;
	struct fired out;

	if (!events || events->n == 0 || kind == SERVED_UNREAD || !room_id)
		return;
	if (!(a = account_enter(user_id, now)))
		return;
	old_before = now - (int64_t)g.o.old_event_days * 86400 * 1000;
	sync_before = now - DETECT_SYNC_HISTORY_AGE_MS;
	for (size_t i = 0; i < events->n; i++) {
		int64_t ts = events->items[i].origin_ts;
		if (kind_is_history(kind) || (kind == SERVED_SYNC && ts < sync_before))
			adds[DETECT_HISTORY_EVENTS]++;
		if (g.o.old_event_days > 0 && ts < old_before)
			adds[DETECT_OLD_EVENTS]++;
	}
	if (distinct_add(&a->rooms, room_id, now)) {
		adds[DETECT_ROOMS_READ] = 1;
		a->exp.rooms++;
	}
	a->exp.events = sat_add(a->exp.events, events->n);
	out.n = 0;
	account_apply(a, adds, now, &out);
	account_leave(user_id, &out);
}

void detect_observe_media(const char *user_id, bool thumbnail, uint64_t bytes)
{
	uint64_t adds[DETECT_METRIC_COUNT] = { 0 };
	int64_t now = now_ms();
	struct account *a = account_enter(user_id, now);
	struct fired out;

	if (!a)
		return;
	adds[DETECT_MEDIA_BYTES] = bytes;
	adds[DETECT_MEDIA_DOWNLOADS] = !thumbnail;
	a->exp.media_bytes = sat_add(a->exp.media_bytes, bytes);
	a->exp.media_downloads += !thumbnail;
	out.n = 0;
	account_apply(a, adds, now, &out);
	account_leave(user_id, &out);
}

void detect_observe_directory(const char *user_id, const char *const *user_ids, size_t n)
{
	uint64_t adds[DETECT_METRIC_COUNT] = { 0 };
	int64_t now = now_ms();
	struct account *a = account_enter(user_id, now);
	struct fired out;

	if (!a)
		return;
	adds[DETECT_DIRECTORY_SEARCHES] = 1;
	a->exp.directory_searches++;
	for (size_t i = 0; i < n; i++) {
		if (!user_ids || (user_ids[i] && distinct_add(&a->users, user_ids[i], now)))
			adds[DETECT_DIRECTORY_USERS]++;
	}
	a->exp.directory_users = sat_add(a->exp.directory_users, adds[DETECT_DIRECTORY_USERS]);
	out.n = 0;
	account_apply(a, adds, now, &out);
	account_leave(user_id, &out);
}

void detect_observe_public_join(const char *user_id, const char *room_id)
{
	uint64_t adds[DETECT_METRIC_COUNT] = { 0 };
	int64_t now = now_ms();
	struct account *a;
	struct fired out;

	if (!room_id || !(a = account_enter(user_id, now)))
		return;
	adds[DETECT_PUBLIC_JOINS] = 1;
	a->exp.public_joins++;
	out.n = 0;
	account_apply(a, adds, now, &out);
	account_leave(user_id, &out);
}

void detect_observe_new_device_ip(const char *user_id)
{
	uint64_t adds[DETECT_METRIC_COUNT] = { [DETECT_NEW_DEVICE_IP] = 1 };

	observe(user_id, adds, now_ms());
}

bool detect_throttled(const char *user_id, int64_t *retry_ms)
{
	struct account *a;
	int64_t now;
	bool t = false;

	if (!user_id)
		return false;
	pthread_mutex_lock(&g.lock);
	if (g.running) {
		now = now_ms();
		HASH_FIND_STR(g.accounts, user_id, a);
		if (a && a->throttle_until > now) {
			t = true;
			if (retry_ms)
				*retry_ms = a->throttle_until - now;
		}
	}
	pthread_mutex_unlock(&g.lock);
	return t;
}

void detect_exposure_get(const char *user_id, struct detect_exposure *out)
{
	struct account *a = NULL;

	memset(out, 0, sizeof(*out));
	if (!user_id)
		return;
	pthread_mutex_lock(&g.lock);
	HASH_FIND_STR(g.accounts, user_id, a);
	if (a)
		*out = a->exp;
	pthread_mutex_unlock(&g.lock);
}

void detect_stats_get(struct detect_stats *out)
{
	pthread_mutex_lock(&g.lock);
	*out = g.stats;
	out->tracked = HASH_COUNT(g.accounts);
	pthread_mutex_unlock(&g.lock);
}
