/*
 * ledger: queue, writer thread, retention (contract in ledger.h; the
 * per-account counters are in ledger_counters.c).
 */
#include "security/ledger.h"
#include "security/ledger_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "security/ledger_chain.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

#define LEDGER_PURGE_DEFAULT_MS (3600 * 1000)
#define LEDGER_RETRY_MS 1000

struct ledger {
	pthread_mutex_t lock;       /* guards everything below but the store */
	pthread_cond_t work_cv;     /* the writer waits for entries */
	pthread_cond_t room_cv;     /* readers wait for room in the queue */
	pthread_cond_t flushed_cv;  /* ledger_flush waits for the writer */
	struct ledger_entry *head, *tail;
	size_t queued;
	bool running, stopping;
	pthread_t writer;
	struct store *st;
	struct ledger_opts opts;
	size_t queue_max;
	struct store_ledger_mark chain;    /* the last row written */
	uint64_t taken;                    /* entries the writer has finished with */
	uint64_t flush_asked;              /* ledger_flush calls not yet served */
	bool last_failed;
	/* drops not yet written as a "ledger_dropped" row, per user */
	struct ledger_drop *drops;
	struct ledger_stats stats;
};

struct ledger_drop {
	struct ledger_drop *next;
	int64_t count;
	char user_id[];
};

/* ledger_running() without the lock: served_* asks it on every read */
static atomic_bool g_on;

static struct ledger g_ledger = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work_cv = PTHREAD_COND_INITIALIZER,
	.room_cv = PTHREAD_COND_INITIALIZER,
	.flushed_cv = PTHREAD_COND_INITIALIZER,
};

/* ---- entries ------------------------------------------------------------ */

/* Copy s (cut at max bytes, on a UTF-8 boundary) to *p; advance *p. */
static const char *entry_copy(char **p, const char *s, size_t max)
{
	size_t n;
	char *d = *p;

	if (s == NULL)
		return NULL;
	n = strnlen(s, max);
	while (n > 0 && n < strlen(s) && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(d, s, n);
	d[n] = '\0';
	*p = d + n + 1;
	return d;
}

static size_t entry_len(const char *s, size_t max)
{
	return s ? strnlen(s, max) + 1 : 0;
}

struct ledger_entry *ledger_entry_new(const struct ledger_fields *f)
{
	size_t need;
	struct ledger_entry *e;
	char *p;

	if (f->user_id == NULL || f->kind == NULL)
		return NULL;
	need = sizeof(*e) + entry_len(f->user_id, STORE_USER_ID_MAX) +
	       entry_len(f->device_id, STORE_DEVICE_ID_MAX) + entry_len(f->ip, STORE_IP_MAX) +
	       entry_len(f->user_agent, LEDGER_UA_MAX) + entry_len(f->room_id, LEDGER_ID_MAX) +
	       entry_len(f->items, STORE_LEDGER_ITEMS_MAX) +
	       entry_len(f->media_id, LEDGER_ID_MAX) + entry_len(f->query, STORE_LEDGER_QUERY_MAX);
	e = malloc(need);
	if (e == NULL)
		return NULL;
	p = (char *)(e + 1);
	e->next = NULL;
	e->ts = time_now_ms();
	e->kind = f->kind;
	e->user_id = entry_copy(&p, f->user_id, STORE_USER_ID_MAX);
	e->device_id = entry_copy(&p, f->device_id, STORE_DEVICE_ID_MAX);
	e->ip = entry_copy(&p, f->ip, STORE_IP_MAX);
	e->user_agent = entry_copy(&p, f->user_agent, LEDGER_UA_MAX);
	e->room_id = entry_copy(&p, f->room_id, LEDGER_ID_MAX);
	e->items = entry_copy(&p, f->items, STORE_LEDGER_ITEMS_MAX);
	e->media_id = entry_copy(&p, f->media_id, LEDGER_ID_MAX);
	e->query = entry_copy(&p, f->query, STORE_LEDGER_QUERY_MAX);
	e->n_events = f->n_events;
	e->bytes = f->bytes;
	e->result_count = f->result_count;
	return e;
}

/* ---- the request path --------------------------------------------------- */

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Under the lock: remember one lost record of user_id. */
static void drop_count(struct ledger *l, const char *user_id)
{
	struct ledger_drop *d;
	size_t n = strlen(user_id);

	l->stats.dropped++;
	for (d = l->drops; d; d = d->next) {
		if (strcmp(d->user_id, user_id) == 0) {
			d->count++;
			return;
		}
	}
	d = malloc(sizeof(*d) + n + 1);
	if (d == NULL)
		return;   /* still counted in stats.dropped, and logged */
	memcpy(d->user_id, user_id, n + 1);
	d->count = 1;
	d->next = l->drops;
	l->drops = d;
}

void ledger_append(struct ledger_entry *e)
{
	struct ledger *l = &g_ledger;
	struct timespec until;
	bool waited = false;

	if (e == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	while (l->running && !l->stopping && l->queued >= l->queue_max) {
		if (!waited) {
			deadline_in(&until, LEDGER_FULL_WAIT_MS);
			waited = true;
		}
		if (pthread_cond_timedwait(&l->room_cv, &l->lock, &until) == ETIMEDOUT)
			break;
	}
	if (!l->running || l->stopping) {
		pthread_mutex_unlock(&l->lock);
		free(e);
		return;
	}
	if (l->queued >= l->queue_max) {
		drop_count(l, e->user_id);
		pthread_mutex_unlock(&l->lock);
		log_error("ledger: queue full for %d ms, a %s record of %s is lost (counted, and "
		          "written as a ledger_dropped row)", LEDGER_FULL_WAIT_MS, e->kind, e->user_id);
		free(e);
		return;
	}
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	l->queued++;
	l->stats.appended++;
	/* wake the writer for the first record (it then waits for more, up
	 * to LEDGER_FLUSH_MS) and when a batch is worth writing now */
	if (l->queued == 1 || l->queued == LEDGER_BATCH_EAGER)
		pthread_cond_signal(&l->work_cv);
	pthread_mutex_unlock(&l->lock);
}

/* ---- the writer --------------------------------------------------------- */

static void row_of(struct store_ledger_row *r, const struct ledger_entry *e)
{
	memset(r, 0, sizeof(*r));
	r->ts = e->ts;
	r->user_id = (char *)e->user_id;
	r->device_id = (char *)e->device_id;
	r->ip = (char *)e->ip;
	r->user_agent = (char *)e->user_agent;
	r->kind = (char *)e->kind;
	r->room_id = (char *)e->room_id;
	r->items = (char *)e->items;
	r->n_events = e->n_events;
	r->media_id = (char *)e->media_id;
	r->bytes = e->bytes;
	r->query = (char *)e->query;
	r->result_count = e->result_count;
}

/* Under the lock: turn pending drop counts into entries at the queue's
 * front (they are written with the next batch). */
static void drops_to_entries(struct ledger *l)
{
	while (l->drops) {
		struct ledger_drop *d = l->drops;
		struct ledger_fields f = { .user_id = d->user_id, .kind = "ledger_dropped",
		                           .result_count = d->count };
		struct ledger_entry *e = ledger_entry_new(&f);

		if (e == NULL)
			return;   /* retried with the next batch */
		l->drops = d->next;
		free(d);
		e->next = l->head;
		l->head = e;
		if (l->tail == NULL)
			l->tail = e;
		l->queued++;
	}
}

/* Write entries[0..n) as rows continuing l->chain. The writer thread only. */
static int batch_write(struct ledger *l, struct ledger_entry *const *entries, size_t n,
                       struct store_ledger_row *rows)
{
	struct store_ledger_mark at = l->chain;
	enum store_result r;

	for (size_t i = 0; i < n; i++) {
		row_of(&rows[i], entries[i]);
		rows[i].seq = at.seq + 1;
		ledger_chain_hash(at.hash, &rows[i], rows[i].hash);
		at.seq = rows[i].seq;
		memcpy(at.hash, rows[i].hash, sizeof(at.hash));
	}
	r = store_ledger_append(l->st, rows, n);
	if (r == STORE_CONFLICT) {
		/* another process wrote to this ledger: continue from its head */
		struct store_ledger_mark cp;
		if (store_ledger_marks(l->st, &l->chain, &cp) == STORE_OK)
			log_error("ledger: the chain moved under us; continuing at seq %lld",
			          (long long)l->chain.seq);
		return -1;
	}
	if (r != STORE_OK)
		return -1;
	l->chain = at;
	return 0;
}

/* Retention, when the queue is idle: purge old rows STORE_LEDGER_PURGE_MAX
 * at a time, and come back at once (not an hour later) while old rows
 * remain but records are waiting to be written. */
static void purge_maybe(struct ledger *l, int64_t now, int64_t *next_purge)
{
	struct store_ledger_mark upto, head, cp;
	int64_t interval = l->opts.purge_interval_ms ? l->opts.purge_interval_ms
	                                             : LEDGER_PURGE_DEFAULT_MS;
	bool waiting = false;

	if (l->opts.retention_days == 0 || now < *next_purge)
		return;
	*next_purge = now + interval;
	while (!waiting && store_ledger_marks(l->st, &head, &cp) == STORE_OK &&
	       store_ledger_purge_point(l->st, now - (int64_t)l->opts.retention_days * 86400000,
	                                &upto) == STORE_OK &&
	       store_ledger_purge(l->st, &upto) == STORE_OK) {
		pthread_mutex_lock(&l->lock);
		l->stats.purged = (uint64_t)upto.seq;
		waiting = l->head != NULL || l->stopping;
		pthread_mutex_unlock(&l->lock);
		log_info("ledger: retention purged rows up to seq %lld", (long long)upto.seq);
		if (upto.seq - cp.seq < STORE_LEDGER_PURGE_MAX)
			return;   /* that was the last old run */
	}
	if (waiting)
		*next_purge = now;
}

/* Take up to STORE_LEDGER_BATCH_MAX entries from the queue (lock held). */
static size_t batch_take(struct ledger *l, struct ledger_entry **batch)
{
	size_t n = 0;

	drops_to_entries(l);
	while (l->head && n < STORE_LEDGER_BATCH_MAX) {
		batch[n] = l->head;
		l->head = l->head->next;
		batch[n]->next = NULL;
		n++;
	}
	if (l->head == NULL)
		l->tail = NULL;
	return n;
}

/* Put a failed batch back at the queue's front, in order (lock held). */
static void batch_return(struct ledger *l, struct ledger_entry **batch, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		batch[i]->next = l->head;
		l->head = batch[i];
		if (l->tail == NULL)
			l->tail = batch[i];
	}
}

static void writer_wait(struct ledger *l, long ms)
{
	struct timespec until;

	deadline_in(&until, ms);
	pthread_cond_timedwait(&l->work_cv, &l->lock, &until);
}

/* Lock held: should the writer wait for more records before writing?
 * Every batch is a transaction of the store's writer, shared with every
 * other write of the server: a few large batches cost far less than one
 * per read. The oldest record waits at most LEDGER_FLUSH_MS. */
static bool batch_wait_more(struct ledger *l)
{
	int64_t age;

	if (l->stopping || l->flush_asked || l->drops || l->queued >= LEDGER_BATCH_EAGER)
		return false;
	age = time_now_ms() - l->head->ts;
	if (age < 0 || age >= LEDGER_FLUSH_MS)
		return false;
	writer_wait(l, LEDGER_FLUSH_MS - (long)age);
	return true;
}

static void *ledger_writer(void *arg)
{
	struct ledger *l = arg;
	struct ledger_entry **batch = calloc(STORE_LEDGER_BATCH_MAX, sizeof(*batch));
	struct store_ledger_row *rows = calloc(STORE_LEDGER_BATCH_MAX, sizeof(*rows));
	int64_t next_purge = 0;

	pthread_mutex_lock(&l->lock);
	while (batch && rows) {
		size_t n;
		int rc;

		if (l->head == NULL && l->drops == NULL) {
			if (l->stopping)
				break;
			pthread_mutex_unlock(&l->lock);
			purge_maybe(l, time_now_ms(), &next_purge);
			pthread_mutex_lock(&l->lock);
			if (l->head == NULL && l->drops == NULL && !l->stopping)
				writer_wait(l, LEDGER_FLUSH_MS);
			continue;
		}
		if (l->head && batch_wait_more(l))
			continue;
		n = batch_take(l, batch);
		pthread_mutex_unlock(&l->lock);
		rc = batch_write(l, batch, n, rows);
		if (rc == 0)
			ledger_counters_add(batch, n);
		pthread_mutex_lock(&l->lock);
		l->last_failed = rc != 0;
		if (rc != 0) {
			l->stats.store_errors++;
			batch_return(l, batch, n);
			pthread_cond_broadcast(&l->flushed_cv);   /* ledger_flush reports it */
			/* at stop, a store that keeps failing must not hang the
			 * server: what is left is logged as lost */
			if (l->stopping && l->stats.store_errors > 3)
				break;
			writer_wait(l, LEDGER_RETRY_MS);
			continue;
		}
		l->queued -= n;
		l->taken += n;
		l->stats.written += n;
		l->stats.batches++;
		for (size_t i = 0; i < n; i++)
			free(batch[i]);
		if (l->head == NULL)
			l->flush_asked = 0;   /* every flush asked so far is served */
		pthread_cond_broadcast(&l->room_cv);
		pthread_cond_broadcast(&l->flushed_cv);
	}
	if (l->head)
		log_error("ledger: %zu records could not be written at stop", l->queued);
	pthread_cond_broadcast(&l->flushed_cv);
	pthread_mutex_unlock(&l->lock);
	free(batch);
	free(rows);
	return NULL;
}

/* ---- lifetime ----------------------------------------------------------- */

int ledger_start(struct store *st, const struct ledger_opts *o)
{
	struct ledger *l = &g_ledger;
	struct store_ledger_mark cp;

	pthread_mutex_lock(&l->lock);
	if (l->running) {
		pthread_mutex_unlock(&l->lock);
		return -1;
	}
	memset(&l->stats, 0, sizeof(l->stats));
	l->st = st;
	l->opts = *o;
	l->queue_max = o->queue_max ? o->queue_max : LEDGER_QUEUE_MAX;
	l->stopping = false;
	l->taken = 0;
	l->flush_asked = 0;
	l->last_failed = false;
	if (store_ledger_marks(st, &l->chain, &cp) != STORE_OK ||
	    ledger_counters_init() != 0) {
		pthread_mutex_unlock(&l->lock);
		log_error("ledger: cannot read the chain's head");
		return -1;
	}
	if (pthread_create(&l->writer, NULL, ledger_writer, l) != 0) {
		pthread_mutex_unlock(&l->lock);
		ledger_counters_free();
		log_error("ledger: cannot start the writer thread");
		return -1;
	}
	l->running = true;
	atomic_store(&g_on, true);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

void ledger_stop(void)
{
	struct ledger *l = &g_ledger;
	struct ledger_entry *e;

	pthread_mutex_lock(&l->lock);
	if (!l->running) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	l->stopping = true;
	atomic_store(&g_on, false);
	pthread_cond_broadcast(&l->work_cv);
	pthread_cond_broadcast(&l->room_cv);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->writer, NULL);

	pthread_mutex_lock(&l->lock);
	while ((e = l->head) != NULL) {
		l->head = e->next;
		free(e);
	}
	l->tail = NULL;
	l->queued = 0;
	while (l->drops) {
		struct ledger_drop *d = l->drops;
		l->drops = d->next;
		free(d);
	}
	l->running = false;
	l->st = NULL;
	pthread_mutex_unlock(&l->lock);
	ledger_counters_free();
}

bool ledger_running(void)
{
	return atomic_load(&g_on);
}

int ledger_flush(void)
{
	struct ledger *l = &g_ledger;
	uint64_t target;
	int ret;

	pthread_mutex_lock(&l->lock);
	target = l->taken + l->queued;
	for (struct ledger_drop *d = l->drops; d; d = d->next)
		target++;   /* each becomes one ledger_dropped row */
	l->flush_asked++;
	pthread_cond_signal(&l->work_cv);
	while (l->running && l->taken < target && !(l->stopping && l->head == NULL) &&
	       !l->last_failed)
		pthread_cond_wait(&l->flushed_cv, &l->lock);
	ret = l->last_failed ? -1 : 0;
	pthread_mutex_unlock(&l->lock);
	return ret;
}

void ledger_stats_get(struct ledger_stats *out)
{
	pthread_mutex_lock(&g_ledger.lock);
	*out = g_ledger.stats;
	out->queued = g_ledger.queued;
	pthread_mutex_unlock(&g_ledger.lock);
}
