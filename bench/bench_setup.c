/* bench_setup.c: accounts and rooms a scenario needs (contract in bench.h).
 * Accounts come from Synapse's shared-secret registration
 * (/_synapse/admin/v1/register: GET a nonce, POST the HMAC-SHA1 of
 * nonce\0username\0password\0admin|notadmin keyed by the secret), and the
 * first account of each set, an admin, lifts every account's rate limit
 * with POST /_synapse/admin/v1/users/{userId}/override_ratelimit
 * (messages_per_second 0 and burst_count 0: no limit), so what is measured
 * is the server, not its limiter. Both endpoints are Synapse's, so the same
 * setup works against Synapse and chappe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "bench.h"

#define REG_PARALLEL 16      /* registrations in flight: each costs a password hash */
#define REG_MAX_RETRIES 50   /* 429s tolerated per account (nonce rate limits) */

enum reg_step { REG_NONCE, REG_REGISTER, REG_OVERRIDE, REG_DONE, REG_FAILED };

struct reg_job {
	struct reg_ctx *rc;
	int index;
	enum reg_step step;
	int retries;
	int64_t retry_at_us;     /* 0: not waiting */
	bool busy;               /* a request is in flight */
};

struct reg_ctx {
	struct bench_loop *lp;
	const struct bench_opts *o;
	const char *tag;
	struct bench_user *users;
	struct reg_job *jobs;
	const char *admin_token;
	struct bench_result *r;
	int settled;             /* jobs done or failed */
};

static void reg_issue(struct reg_job *j);

static int reg_mac(const char *secret, const char *nonce, const char *user, bool admin,
                   char hex[41])
{
	const char *flag = admin ? "admin" : "notadmin";
	size_t ln = strlen(nonce), lu = strlen(user), lp = strlen(BENCH_PASSWORD);
	size_t total = ln + 1 + lu + 1 + lp + 1 + strlen(flag);
	unsigned char digest[20];
	char *msg = malloc(total);
	int rc;

	if (!msg)
		return -1;
	memcpy(msg, nonce, ln + 1);
	memcpy(msg + ln + 1, user, lu + 1);
	memcpy(msg + ln + 1 + lu + 1, BENCH_PASSWORD, lp + 1);
	memcpy(msg + ln + 1 + lu + 1 + lp + 1, flag, strlen(flag));
	rc = gnutls_hmac_fast(GNUTLS_MAC_SHA1, secret, strlen(secret), msg, total, digest);
	free(msg);
	if (rc != 0)
		return -1;
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

static void reg_fail(struct reg_job *j, const struct bench_resp *resp, const char *what)
{
	if (resp)
		bench_result_check(j->rc->r, resp, what);
	else
		bench_result_error(j->rc->r, "%s: out of memory or bad answer", what);
	j->step = REG_FAILED;
	j->rc->settled++;
}

/* A 429 is retried after the server's retry_after_ms (Synapse rate-limits
 * nonces per IP); anything else non-2xx fails the account. */
static bool reg_retry_later(struct reg_job *j, const struct bench_resp *resp)
{
	json_t *b;
	int64_t wait_ms = 1000;

	if (resp->status != 429 || j->retries >= REG_MAX_RETRIES)
		return false;
	if ((b = bench_resp_json(resp))) {
		json_t *w = json_object_get(b, "retry_after_ms");

		if (json_is_integer(w) && json_integer_value(w) > 0 &&
		    json_integer_value(w) < 60000)
			wait_ms = json_integer_value(w);
		json_decref(b);
	}
	j->retries++;
	j->retry_at_us = bench_now_us() + wait_ms * 1000;
	return true;
}

static void reg_on_register(struct reg_job *j, json_t *b)
{
	struct bench_user *u = &j->rc->users[j->index];
	json_t *uid = json_object_get(b, "user_id"), *tok = json_object_get(b, "access_token");
	json_t *dev = json_object_get(b, "device_id");

	if (!json_is_string(uid) || !json_is_string(tok) || !json_is_string(dev) ||
	    !(u->user_id = strdup(json_string_value(uid))) ||
	    !(u->access_token = strdup(json_string_value(tok))) ||
	    !(u->device_id = strdup(json_string_value(dev)))) {
		reg_fail(j, NULL, "register");
		return;
	}
	if (j->index == 0)
		j->rc->admin_token = u->access_token;
	if (j->rc->o->no_override) {
		j->step = REG_DONE;
		j->rc->settled++;
		return;
	}
	j->step = REG_OVERRIDE;
	reg_issue(j);
}

static void reg_done(void *ctx, const struct bench_resp *resp)
{
	struct reg_job *j = ctx;
	json_t *b = NULL;
	static const char *const names[] = { "register nonce", "register", "override_ratelimit" };

	j->busy = false;
	if (resp->status < 200 || resp->status >= 300) {
		if (!reg_retry_later(j, resp))
			reg_fail(j, resp, names[j->step]);
		return;
	}
	if (j->step == REG_OVERRIDE) {
		j->step = REG_DONE;
		j->rc->settled++;
		return;
	}
	if (!(b = bench_resp_json(resp))) {
		reg_fail(j, NULL, names[j->step]);
		return;
	}
	if (j->step == REG_NONCE) {
		json_t *nonce = json_object_get(b, "nonce");
		char user[128], mac[41], *body = NULL;
		json_t *req = NULL;

		snprintf(user, sizeof(user), "%s_%s%d", j->rc->o->run_id, j->rc->tag, j->index);
		if (json_is_string(nonce) &&
		    reg_mac(j->rc->o->secret, json_string_value(nonce), user, j->index == 0, mac) == 0)
			req = json_pack("{s:s,s:s,s:s,s:b,s:s}", "nonce", json_string_value(nonce),
			                "username", user, "password", BENCH_PASSWORD, "admin",
			                j->index == 0, "mac", mac);
		if (req)
			body = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		if (!body) {
			reg_fail(j, NULL, "register nonce");
		} else {
			j->step = REG_REGISTER;
			if (bench_request(j->rc->lp, "POST", "/_synapse/admin/v1/register", NULL, body,
			                  reg_done, j) != 0)
				reg_fail(j, NULL, "register");
			else
				j->busy = true;
		}
		free(body);
	} else {
		reg_on_register(j, b);
	}
	json_decref(b);
}

static void reg_issue(struct reg_job *j)
{
	struct reg_ctx *rc = j->rc;
	char path[512], esc[400];
	int rc_req;

	j->retry_at_us = 0;
	if (j->step == REG_NONCE) {
		rc_req = bench_request(rc->lp, "GET", "/_synapse/admin/v1/register", NULL, NULL,
		                       reg_done, j);
	} else if (j->step == REG_OVERRIDE) {
		if (bench_path_escape(rc->users[j->index].user_id, esc, sizeof(esc)) != 0) {
			reg_fail(j, NULL, "override_ratelimit");
			return;
		}
		snprintf(path, sizeof(path), "/_synapse/admin/v1/users/%s/override_ratelimit", esc);
		rc_req = bench_request(rc->lp, "POST", path, rc->admin_token,
		                       "{\"messages_per_second\":0,\"burst_count\":0}", reg_done, j);
	} else {
		/* REG_REGISTER is only retried from its nonce: a nonce is single-use */
		j->step = REG_NONCE;
		reg_issue(j);
		return;
	}
	if (rc_req != 0)
		reg_fail(j, NULL, "request");
	else
		j->busy = true;
}

/* Drive the jobs: the admin (index 0) alone first, as the others' override
 * needs its token; then up to REG_PARALLEL at a time. */
static void reg_drive(struct reg_ctx *rc, int n)
{
	int next = 0;

	while (rc->settled < n) {
		int64_t now = bench_now_us();
		int active = 0;

		for (int i = 0; i < next; i++) {
			struct reg_job *j = &rc->jobs[i];

			if (j->step == REG_DONE || j->step == REG_FAILED)
				continue;
			active++;
			if (!j->busy && j->retry_at_us && j->retry_at_us <= now)
				reg_issue(j);
		}
		if (rc->jobs[0].step == REG_FAILED)
			break;
		while (next < n && active < REG_PARALLEL && (next == 0 || rc->admin_token)) {
			reg_issue(&rc->jobs[next++]);
			active++;
		}
		bench_loop_run(rc->lp, bench_now_us() + 20000);
	}
	bench_loop_run(rc->lp, 0);   /* nothing of ours left in flight */
}

struct bench_user *bench_users_create(struct bench_loop *lp, const struct bench_opts *o,
                                      const char *tag, int n, struct bench_result *r)
{
	struct reg_ctx rc = { .lp = lp, .o = o, .tag = tag, .r = r };
	uint64_t errors_before = r->errors;

	if (n <= 0 || n > BENCH_MAX_USERS) {
		bench_result_error(r, "user count %d out of 1..%d", n, BENCH_MAX_USERS);
		return NULL;
	}
	rc.users = calloc((size_t)n, sizeof(*rc.users));
	rc.jobs = calloc((size_t)n, sizeof(*rc.jobs));
	if (!rc.users || !rc.jobs) {
		bench_result_error(r, "out of memory");
		goto err;
	}
	for (int i = 0; i < n; i++) {
		rc.jobs[i].rc = &rc;
		rc.jobs[i].index = i;
	}
	reg_drive(&rc, n);
	if (r->errors != errors_before || rc.settled < n) {
		if (r->errors == errors_before)
			bench_result_error(r, "registration did not complete");
		goto err;
	}
	free(rc.jobs);
	return rc.users;
err:
	free(rc.jobs);
	bench_users_free(rc.users, n);
	return NULL;
}

void bench_users_free(struct bench_user *u, int n)
{
	if (!u)
		return;
	for (int i = 0; i < n; i++) {
		free(u[i].user_id);
		free(u[i].access_token);
		free(u[i].device_id);
	}
	free(u);
}

struct call_ctx {
	bench_done_fn fn;
	void *ctx;
	struct bench_result *r;
	const char *what;
	int rc;
};

static void call_done(void *ctx, const struct bench_resp *resp)
{
	struct call_ctx *c = ctx;

	if (bench_result_check(c->r, resp, c->what)) {
		c->rc = 0;
		if (c->fn)
			c->fn(c->ctx, resp);
	}
}

int bench_call(struct bench_loop *lp, const char *method, const char *path, const char *token,
               const char *body, bench_done_fn fn, void *ctx, struct bench_result *r,
               const char *what)
{
	struct call_ctx c = { fn, ctx, r, what, -1 };

	if (bench_request(lp, method, path, token, body, call_done, &c) != 0) {
		bench_result_error(r, "%s: out of memory", what);
		return -1;
	}
	bench_loop_run(lp, 0);
	return c.rc;
}

static void room_id_of(void *ctx, const struct bench_resp *resp)
{
	char **out = ctx;
	json_t *b = bench_resp_json(resp), *id = json_object_get(b, "room_id");

	if (json_is_string(id))
		*out = strdup(json_string_value(id));
	json_decref(b);
}

char *bench_room_create(struct bench_loop *lp, const struct bench_user *creator,
                        struct bench_result *r)
{
	char *room = NULL;

	if (bench_call(lp, "POST", "/_matrix/client/v3/createRoom", creator->access_token,
	               "{\"preset\":\"public_chat\",\"name\":\"bench\"}", room_id_of, &room, r,
	               "createRoom") == 0 && !room)
		bench_result_error(r, "createRoom: no room_id in the answer");
	return room;
}

struct join_ctx {
	struct bench_result *r;
	int pending;
};

static void join_done(void *ctx, const struct bench_resp *resp)
{
	struct join_ctx *jc = ctx;

	bench_result_check(jc->r, resp, "join");
	jc->pending--;
}

int bench_rooms_join(struct bench_loop *lp, struct bench_user *users, int n_users,
                     char **rooms, int n_rooms, struct bench_result *r)
{
	struct join_ctx jc = { r, 0 };
	uint64_t errors_before = r->errors;
	int next = 0;

	/* a bounded number in flight: each join is a write on the server */
	while (next < n_users || jc.pending > 0) {
		while (next < n_users && jc.pending < 32) {
			char path[512], esc[400];

			if (bench_path_escape(rooms[next % n_rooms], esc, sizeof(esc)) != 0)
				return -1;
			snprintf(path, sizeof(path), "/_matrix/client/v3/rooms/%s/join", esc);
			if (bench_request(lp, "POST", path, users[next].access_token, "{}", join_done,
			                  &jc) != 0) {
				bench_result_error(r, "join: out of memory");
				bench_loop_run(lp, 0);
				return -1;
			}
			jc.pending++;
			next++;
		}
		bench_loop_run(lp, bench_now_us() + 20000);
	}
	return r->errors == errors_before ? 0 : -1;
}
