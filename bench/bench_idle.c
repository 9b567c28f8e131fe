/* bench_idle.c: the idle scenario. The server's resident memory (VmRSS of
 * /proc/<pid>/status, so only on the same machine and given --pid) at
 * rest, then with N long-polls of /sync parked, and the difference per
 * long-poll. The long-polls belong to N/10 users (10 devices' worth of
 * connections each would be odd; 10 long-polls per user is a household of
 * clients), each parked with a since token so the server holds them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define IDLE_POLLS_PER_USER 10

/* VmRSS in KiB, or -1. The file is the kernel's, but read it as if hostile:
 * bounded line, checked number. */
static long idle_rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			if (sscanf(line + 6, "%ld kB", &kib) != 1 || kib < 0)
				kib = -1;
			break;
		}
	}
	fclose(f);
	return kib;
}

struct idle_run {
	struct bench_loop *lp;
	struct bench_result *r;
	char **since;         /* per user, from its initial sync */
	int synced;
	bool stopping;
};

struct idle_sync {
	struct idle_run *run;
	int user;
};

static void idle_initial_done(void *ctx, const struct bench_resp *resp)
{
	struct idle_sync *s = ctx;
	json_t *b = bench_resp_json(resp);
	const char *next = json_string_value(json_object_get(b, "next_batch"));

	if (bench_result_check(s->run->r, resp, "initial sync")) {
		if (!next || !(s->run->since[s->user] = strdup(next)))
			bench_result_error(s->run->r, "initial sync: no next_batch");
		else
			s->run->synced++;
	}
	json_decref(b);
}

static void idle_poll_done(void *ctx, const struct bench_resp *resp)
{
	struct idle_run *run = ctx;

	/* a long-poll answered before we cancelled it: something woke it (or
	 * its timeout passed), which would make the figure wrong */
	if (!run->stopping)
		bench_result_error(run->r, "a parked long-poll was answered (HTTP %ld)", resp->status);
}

static int idle_park(const struct bench_opts *o, struct idle_run *run, struct bench_user *users,
                     int n_users)
{
	struct idle_sync *ctx = calloc((size_t)n_users, sizeof(*ctx));
	int rc = -1;

	if (!ctx)
		return -1;
	for (int u = 0; u < n_users; u++) {
		ctx[u] = (struct idle_sync){ run, u };
		if (bench_request(run->lp, "GET", "/_matrix/client/v3/sync", users[u].access_token, NULL,
		                  idle_initial_done, &ctx[u]) != 0)
			goto out;
		if (bench_loop_inflight(run->lp) >= 32)
			bench_loop_run(run->lp, bench_now_us() + 20000);
	}
	bench_loop_run(run->lp, 0);
	if (run->synced < n_users)
		goto out;
	for (int i = 0; i < o->idle_clients; i++) {
		char path[1024], esc[512];
		int u = i % n_users;

		if (bench_path_escape(run->since[u], esc, sizeof(esc)) != 0)
			goto out;
		snprintf(path, sizeof(path), "/_matrix/client/v3/sync?timeout=300000&since=%s", esc);
		if (bench_request(run->lp, "GET", path, users[u].access_token, NULL, idle_poll_done,
		                  run) != 0)
			goto out;
	}
	rc = 0;
out:
	free(ctx);
	return rc;
}

int bench_scenario_idle(const struct bench_opts *o, struct bench_result *r)
{
	struct idle_run run = { .r = r };
	struct bench_user *users = NULL;
	int n_users = (o->idle_clients + IDLE_POLLS_PER_USER - 1) / IDLE_POLLS_PER_USER;
	long rest, before, parked;
	int ret = -1;

	if (o->pid <= 0) {
		bench_result_note(r, "skipped", "needs --pid (the server's process, on this machine)");
		return 0;
	}
	if ((rest = idle_rss_kib(o->pid)) < 0) {
		bench_result_error(r, "cannot read /proc/%ld/status", o->pid);
		return -1;
	}
	if (!(run.lp = bench_loop_new(o->url)) ||
	    !(run.since = calloc((size_t)n_users, sizeof(*run.since)))) {
		bench_result_error(r, "out of memory");
		goto out;
	}
	if (!(users = bench_users_create(run.lp, o, "d", n_users, r)))
		goto out;
	before = idle_rss_kib(o->pid);
	if (idle_park(o, &run, users, n_users) != 0) {
		if (!r->errors)
			bench_result_error(r, "could not park the long-polls");
		goto out;
	}
	/* Every connection accepted and its request parked: drive the loop
	 * until curl has sent all of them, then give the server a moment. */
	bench_loop_run(run.lp, bench_now_us() + 2000000 + (int64_t)o->idle_clients * 500);
	parked = idle_rss_kib(o->pid);
	run.stopping = true;
	bench_loop_cancel_all(run.lp);
	if (before < 0 || parked < 0) {
		bench_result_error(r, "server process %ld went away", o->pid);
		goto out;
	}
	bench_result_num(r, "rss_rest_mib", (double)rest / 1024.0, "< 10");
	bench_result_int(r, "long_polls", o->idle_clients, NULL);
	bench_result_num(r, "rss_parked_mib", (double)parked / 1024.0, NULL);
	bench_result_num(r, "bytes_per_poll",
	                 (double)(parked - before) * 1024.0 / (double)o->idle_clients, "< 8192");
	ret = r->errors ? -1 : 0;
out:
	bench_loop_free(run.lp);
	for (int i = 0; run.since && i < n_users; i++)
		free(run.since[i]);
	free(run.since);
	bench_users_free(users, n_users);
	return ret;
}
