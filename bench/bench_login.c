/* bench_login.c: the login scenario. C clients (--users, at most 16
 * accounts shared between them) each keep one POST /login
 * (m.login.password) in flight for T seconds. Measures logins/s and their
 * latency. A login's cost is mostly the password hash, by design: the
 * figure says how many the server can check per second, so it is also the
 * ceiling of a password-guessing attack. Every login creates a device; the
 * scenario leaves them (a logout per login would halve what is measured). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define LOGIN_MAX_ACCOUNTS 16

struct login_run {
	struct bench_loop *lp;
	struct bench_result *r;
	struct bench_user *users;
	int n_users;
	struct bench_samples lat;
	struct bench_timeline tl;
	int64_t start_us, stop_us, last_us;
	uint64_t ok;
};

struct login_client {
	struct login_run *run;
	int index;
	char *body;
};

static int login_issue(struct login_client *c);

static void login_done(void *ctx, const struct bench_resp *resp)
{
	struct login_client *c = ctx;
	struct login_run *run = c->run;

	if (!bench_result_check(run->r, resp, "login"))
		return;
	run->ok++;
	bench_samples_add(&run->lat, (double)(resp->end_us - resp->start_us) / 1000.0);
	bench_timeline_add(&run->tl, run->start_us, resp->end_us);
	if (resp->end_us > run->last_us)
		run->last_us = resp->end_us;
	if (bench_now_us() < run->stop_us)
		login_issue(c);
}

static int login_issue(struct login_client *c)
{
	if (bench_request(c->run->lp, "POST", "/_matrix/client/v3/login", NULL, c->body, login_done,
	                  c) != 0) {
		bench_result_error(c->run->r, "login: out of memory");
		return -1;
	}
	return 0;
}

static char *login_body(const char *user_id)
{
	json_t *j = json_pack("{s:s,s:{s:s,s:s},s:s,s:s}", "type", "m.login.password",
	                      "identifier", "type", "m.id.user", "user", user_id,
	                      "password", BENCH_PASSWORD, "initial_device_display_name", "bench");
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

int bench_scenario_login(const struct bench_opts *o, struct bench_result *r)
{
	struct login_run run = { .r = r };
	struct login_client *clients = calloc((size_t)o->users, sizeof(*clients));
	double elapsed;
	int ret = -1;

	run.n_users = o->users < LOGIN_MAX_ACCOUNTS ? o->users : LOGIN_MAX_ACCOUNTS;
	if (!clients || !(run.lp = bench_loop_new(o->url))) {
		bench_result_error(r, "out of memory");
		goto out;
	}
	if (!(run.users = bench_users_create(run.lp, o, "l", run.n_users, r)))
		goto out;
	for (int i = 0; i < o->users; i++) {
		clients[i] = (struct login_client){ &run, i, login_body(run.users[i % run.n_users].user_id) };
		if (!clients[i].body) {
			bench_result_error(r, "out of memory");
			goto out;
		}
	}
	run.start_us = run.last_us = bench_now_us();
	run.stop_us = run.start_us + (int64_t)(o->seconds * 1e6);
	for (int i = 0; i < o->users; i++)
		if (login_issue(&clients[i]) != 0)
			goto out;
	bench_loop_run(run.lp, 0);
	elapsed = (double)(run.last_us - run.start_us) / 1e6;
	bench_result_int(r, "clients", o->users, NULL);
	bench_result_int(r, "logins", (int64_t)run.ok, NULL);
	bench_result_num(r, "logins_per_s", elapsed > 0 ? (double)run.ok / elapsed : 0, NULL);
	bench_result_num(r, "p50_ms", bench_samples_pct(&run.lat, 50), NULL);
	bench_result_num(r, "p99_ms", bench_samples_pct(&run.lat, 99), NULL);
	bench_write_samples(o, "login-latency.dat", &run.lat);
	bench_write_timeline(o, "login-throughput.dat", &run.tl);
	ret = r->errors ? -1 : 0;
out:
	bench_loop_free(run.lp);
	for (int i = 0; clients && i < o->users; i++)
		free(clients[i].body);
	free(clients);
	bench_users_free(run.users, run.n_users);
	bench_samples_free(&run.lat);
	bench_timeline_free(&run.tl);
	return ret;
}
