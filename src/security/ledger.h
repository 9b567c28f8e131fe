/*
 * ledger: the access ledger (incident response): one record per read
 * served to a user, kept off the request path and hash-chained.
 *
 * Path of a record: a served_* call (security/served.c) builds a struct
 * ledger_entry in ONE allocation and ledger_append() links it to an
 * in-memory queue under one mutex: that is the whole cost on the request
 * path. The ledger writer thread waits until the oldest entry is
 * LEDGER_FLUSH_MS old or LEDGER_BATCH_EAGER entries wait (every batch is a
 * transaction of the store's one writer, shared with the server's other
 * writes), takes up to STORE_LEDGER_BATCH_MAX entries, gives them their
 * seq and chain hash
 * (ledger_chain.h), appends them in one store_ledger_append (one job of the
 * store's group commit), then updates the per-account counters.
 *
 * Full queue: ledger_append waits up to LEDGER_FULL_WAIT_MS for room (the
 * reader is slowed, never silently forgotten); if there is still none the
 * entry is dropped, the drop is counted and logged, and the writer
 * appends a row of kind "ledger_dropped" whose result_count says how many
 * records of that user were lost, so the gap is itself in the chain and in
 * that user's exposure report.
 *
 * Retention: with retention_days > 0 the writer purges, at start and once
 * an hour, the prefix of rows older than that, recording the last purged
 * row as the checkpoint from which `chappe audit verify` starts.
 *
 * Threads: one ledger per process (a named singleton, like the served
 * chokepoint it serves); ledger_start/ledger_stop from the main thread,
 * everything else from any thread. Before ledger_start and after
 * ledger_stop, ledger_append drops nothing: it is a no-op (the ledger is
 * off), which is what ledger_enabled: false means.
 */
#ifndef CHAPPE_SECURITY_LEDGER_H
#define CHAPPE_SECURITY_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define LEDGER_QUEUE_MAX     65536   /* entries waiting for the writer */
#define LEDGER_FULL_WAIT_MS  100     /* how long a reader waits for room */
#define LEDGER_FLUSH_MS      200     /* a record waits at most this long */
#define LEDGER_BATCH_EAGER   1024    /* ...or until this many are queued */
#define LEDGER_WINDOW_MIN    60      /* counters' sliding window, in minutes */
#define LEDGER_ROOMS_TRACKED 4096    /* distinct rooms remembered per account */

/* One record, as served_* hands it over. Strings point into the same
 * allocation (ledger_entry_new); NULL when absent. */
struct ledger_entry {
	struct ledger_entry *next;
	int64_t ts;
	const char *user_id, *device_id, *ip, *user_agent;
	const char *kind;           /* static string: "sync", "media", ... */
	const char *room_id;
	const char *items;          /* "12-15,18", or user IDs (store.h) */
	int64_t n_events;
	const char *media_id;
	int64_t bytes;
	const char *query;
	int64_t result_count;
};

/* The fields of an entry to build; strings are copied. */
struct ledger_fields {
	const char *user_id, *device_id, *ip, *user_agent;
	const char *kind;           /* must be a static string */
	const char *room_id, *items, *media_id, *query;
	int64_t n_events, bytes, result_count;
};

/* One malloc holding the entry and copies of its strings (each cut to the
 * store's limits); ts is set to now. NULL when out of memory or when
 * user_id or kind is missing. */
struct ledger_entry *ledger_entry_new(const struct ledger_fields *f);

struct ledger_opts {
	uint32_t retention_days;    /* 0: keep forever */
	/* tests: how often retention runs (0: hourly), and how many entries
	 * may wait (0: LEDGER_QUEUE_MAX) */
	uint32_t purge_interval_ms;
	uint32_t queue_max;
};

/* Start the writer on st (which must outlive ledger_stop). Loads the
 * chain's head so new rows continue it. 0, or -1 (logged). */
int ledger_start(struct store *st, const struct ledger_opts *o);
/* Write what is queued, stop and join the writer, free the counters.
 * Records appended afterwards are ignored. */
void ledger_stop(void);
/* Is the ledger running (ledger_enabled and started)? */
bool ledger_running(void);

/* Queue e (taking it; freed even when the ledger is off or it is dropped). */
void ledger_append(struct ledger_entry *e);
/* Block until everything appended before the call is in the store (or
 * the store refused it). For tests, shutdown and `audit` readers.
 * 0, or -1 when the last batch failed. */
int ledger_flush(void);

struct ledger_stats {
	uint64_t appended;          /* records queued */
	uint64_t written;           /* rows in the store (this process) */
	uint64_t dropped;           /* records lost to a full queue */
	uint64_t batches;           /* store appends */
	uint64_t store_errors;      /* failed appends (retried) */
	uint64_t purged;            /* checkpoint seq after the last retention purge */
	size_t queued;              /* waiting right now */
};
void ledger_stats_get(struct ledger_stats *out);

/* Per-account counters, kept by the writer from what it wrote (so they lag
 * the request by at most LEDGER_FLUSH_MS). The scraper detector reads
 * them: totals since the process started, and the same over the last
 * LEDGER_WINDOW_MIN minutes. */
struct ledger_usage {
	uint64_t reads;             /* records */
	uint64_t events;            /* room events served */
	uint64_t rooms;             /* distinct rooms read (first seen in the span) */
	uint64_t media_items;
	uint64_t media_bytes;
	uint64_t directory_searches;
	uint64_t directory_results; /* users the searches revealed (with repeats) */
	uint64_t profile_lookups;
	uint64_t key_queries;
};
struct ledger_counters {
	int64_t first_ts, last_ts;  /* first and last record seen */
	int64_t oldest_event_pos;   /* lowest stream position served (0: none):
	                             * how far back the account has read */
	struct ledger_usage total;
	struct ledger_usage window; /* the last LEDGER_WINDOW_MIN minutes */
	bool rooms_saturated;       /* more than LEDGER_ROOMS_TRACKED rooms */
};
/* 0 with *out filled, or -1 when the ledger has nothing on user_id. */
int ledger_counters_get(const char *user_id, int64_t now_ms, struct ledger_counters *out);

#endif
