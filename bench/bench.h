/*
 * chappe-bench: a load generator that speaks only the plain Client-Server
 * API (plus Synapse's shared-secret registration and rate-limit override
 * admin endpoints), so the same run works against chappe, Synapse,
 * conduwuit/continuwuity or Dendrite.
 *
 * Contract:
 * - One thread. Every HTTP exchange goes through one libcurl multi handle
 *   (struct bench_loop); callbacks run inside bench_loop_run() on that
 *   thread, so scenario state needs no locks.
 * - Memory: a response body handed to a callback belongs to the loop and
 *   is freed when the callback returns (copy what must outlive it). Strings
 *   passed to bench_request() are copied before it returns.
 * - Every server answer is hostile: bodies are bounded (BENCH_MAX_BODY),
 *   JSON is parsed with jansson and every field is type-checked; a
 *   malformed answer is counted as an error, never trusted.
 * - A scenario reports errors in its result; main exits non-zero if any
 *   scenario had one, so the CI smoke fails when a scenario breaks.
 */
#ifndef CHAPPE_BENCH_H
#define CHAPPE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define BENCH_MAX_BODY (256u * 1024 * 1024) /* an initial /sync of a big account */
#define BENCH_MAX_USERS 20000
#define BENCH_PASSWORD "bench-password-0123"

/* ---- clock (bench_stats.c) ------------------------------------------ */

int64_t bench_now_us(void);   /* CLOCK_MONOTONIC, microseconds */

/* ---- the HTTP loop (bench_http.c) ------------------------------------ */

struct bench_loop;

struct bench_resp {
	long status;            /* HTTP status; 0 when the transfer failed */
	const char *error;      /* libcurl's message when status is 0 */
	const char *body;       /* NUL-terminated, owned by the loop */
	size_t len;
	int64_t start_us;       /* when bench_request() was called */
	int64_t end_us;         /* when the response was complete */
};

/* Called once per request unless the request is cancelled. */
typedef void (*bench_done_fn)(void *ctx, const struct bench_resp *r);

struct bench_loop *bench_loop_new(const char *base_url);
void bench_loop_free(struct bench_loop *lp);   /* cancels what is in flight */

/* Start method path (already escaped, from "/_matrix/..."), with a bearer
 * token (NULL: none) and a JSON body (NULL: none). -1 on allocation
 * failure (fn is then never called). */
int bench_request(struct bench_loop *lp, const char *method, const char *path,
                  const char *token, const char *body, bench_done_fn fn, void *ctx);
/* Drive transfers until none is in flight, bench_loop_stop() was called
 * from a callback, or deadline_us (0: none) passed. */
void bench_loop_run(struct bench_loop *lp, int64_t deadline_us);
void bench_loop_stop(struct bench_loop *lp);
size_t bench_loop_inflight(const struct bench_loop *lp);
/* Drop every request in flight without calling its callback. */
void bench_loop_cancel_all(struct bench_loop *lp);

/* Percent-encode one path segment into out (always NUL-terminated);
 * -1 if it does not fit. */
int bench_path_escape(const char *in, char *out, size_t out_len);
/* Parse a response body as a JSON object; NULL if it is not one. */
json_t *bench_resp_json(const struct bench_resp *r);

/* ---- measurements (bench_stats.c) ------------------------------------ */

struct bench_samples {
	double *v;              /* milliseconds */
	size_t n, cap;
	bool oom;               /* a sample could not be kept */
};
void bench_samples_add(struct bench_samples *s, double ms);
/* Nearest-rank percentile (p in 0..100) of the samples; sorts them.
 * 0 when there are none. */
double bench_samples_pct(struct bench_samples *s, double p);
double bench_samples_max(const struct bench_samples *s);
void bench_samples_free(struct bench_samples *s);

/* Completions per whole second since a start time (throughput over time). */
struct bench_timeline {
	uint64_t *per_s;
	size_t n;
};
void bench_timeline_add(struct bench_timeline *t, int64_t start_us, int64_t at_us);
void bench_timeline_free(struct bench_timeline *t);

/* ---- results (bench_result.c) ---------------------------------------- */

struct bench_opts {
	const char *url;
	const char *secret;
	const char *out_dir;    /* NULL: JSON lines on stdout only */
	const char *run_id;     /* prefix of every user name of this run */
	long pid;               /* server PID for idle (0: unknown) */
	bool no_override;       /* skip override_ratelimit (limits raised in the
	                         * server's configuration instead) */
	double seconds;         /* per timed phase */
	int users;              /* send: concurrent senders; e2ee, login clients */
	int rooms;              /* send: rooms the senders share */
	int sync_rooms;         /* initial-sync: rooms of the user */
	int events;             /* initial-sync: events per room */
	int clients;            /* fanout: long-polling receivers */
	int idle_clients;       /* idle: long-polls held open */
	int messages;           /* fanout: messages sent */
};

struct bench_result {
	const char *scenario;
	json_t *json;           /* the JSON line, built by result_* */
	json_t *rows;           /* Markdown rows: [metric, value, target] */
	uint64_t errors;
	char first_error[256];
};

void bench_result_init(struct bench_result *r, const char *scenario);
void bench_result_num(struct bench_result *r, const char *key, double v, const char *target);
void bench_result_int(struct bench_result *r, const char *key, int64_t v, const char *target);
void bench_result_note(struct bench_result *r, const char *key, const char *text);
/* Count an error; the first one is kept for the report. */
void bench_result_error(struct bench_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Count a response as an error unless its status is 2xx. true if it was. */
bool bench_result_check(struct bench_result *r, const struct bench_resp *resp, const char *what);
/* Write samples or a timeline for bench/run's plots (no-op without out_dir). */
void bench_write_samples(const struct bench_opts *o, const char *name,
                         const struct bench_samples *s);
void bench_write_timeline(const struct bench_opts *o, const char *name,
                          const struct bench_timeline *t);
void bench_result_clear(struct bench_result *r);

/* ---- accounts, rooms, keys (bench_setup.c) --------------------------- */

struct bench_user {
	char *user_id;
	char *access_token;
	char *device_id;
};

/* Register n users named <run_id>_<tag><i> through the shared-secret API
 * (the first one an admin, which then lifts every user's rate limit
 * through override_ratelimit). Runs at most 16 registrations at a time.
 * Returns the array (n entries) or NULL, the reason counted in r. */
struct bench_user *bench_users_create(struct bench_loop *lp, const struct bench_opts *o,
                                      const char *tag, int n, struct bench_result *r);
void bench_users_free(struct bench_user *u, int n);

/* Create a public room (creator joins); returns its malloc'd ID or NULL. */
char *bench_room_create(struct bench_loop *lp, const struct bench_user *creator,
                        struct bench_result *r);
/* Join each user to rooms[i % n_rooms]. 0 if every join succeeded. */
int bench_rooms_join(struct bench_loop *lp, struct bench_user *users, int n_users,
                     char **rooms, int n_rooms, struct bench_result *r);
/* One request, waited for: the response is handed to fn. 0 if it was 2xx. */
int bench_call(struct bench_loop *lp, const char *method, const char *path, const char *token,
               const char *body, bench_done_fn fn, void *ctx, struct bench_result *r,
               const char *what);

/* ---- scenarios (bench_send.c, bench_fanout.c, ...) ------------------- */

int bench_scenario_send(const struct bench_opts *o, struct bench_result *r);
int bench_scenario_fanout(const struct bench_opts *o, struct bench_result *r);
int bench_scenario_initial_sync(const struct bench_opts *o, struct bench_result *r);
int bench_scenario_idle(const struct bench_opts *o, struct bench_result *r);
int bench_scenario_login(const struct bench_opts *o, struct bench_result *r);
int bench_scenario_e2ee(const struct bench_opts *o, struct bench_result *r);

#endif
