/* bench_fanout.c: the fanout scenario. N receivers long-poll /sync in one
 * room while one sender sends M messages, one at a time: each message is
 * sent once every receiver has seen the previous one and had time to park
 * its next long-poll. Measures, per receiver and message, the delay from
 * the start of the send to the end of the /sync answer carrying it
 * (p50, p99, max), and how many receivers were woken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* A message not seen by every receiver within 120 s is an error. Long, so
 * that a slow server still yields a figure (chappe's first 2,000-receiver
 * runs needed over 10 s per message), yet a lost wake-up cannot hang CI. */
#define FANOUT_WAIT_US 120000000
/* {"room":{"timeline":{"limit":5},"state":{"lazy_load_members":true}}}:
 * only the newest events, and only the members who sent them, as clients
 * of big rooms ask. Without lazy loading each of N initial syncs carries N
 * member events (N squared in all), and what the setup measures is that,
 * not the wake-up. */
#define FANOUT_FILTER "%7B%22room%22%3A%7B%22timeline%22%3A%7B%22limit%22%3A5%7D%2C" \
	"%22state%22%3A%7B%22lazy_load_members%22%3Atrue%7D%7D%7D"

struct receiver {
	struct fanout_run *run;
	const struct bench_user *user;
	char *since;
	int seen;             /* messages 0..seen-1 received */
};

struct fanout_run {
	struct bench_loop *lp;
	struct bench_result *r;
	const char *room;
	int64_t *sent_at_us;  /* per message: when its send started */
	int *received;        /* per message: receivers that saw it */
	int n_sent;
	int ready;            /* receivers past their initial sync */
	struct bench_samples delay;
	bool stopping;
};

static int receiver_poll(struct receiver *rv);

/* Messages carry "fanout <k>" bodies; note the new ones this answer holds. */
static void receiver_scan(struct receiver *rv, json_t *b, int64_t at_us)
{
	struct fanout_run *run = rv->run;
	json_t *events = json_object_get(
		json_object_get(json_object_get(json_object_get(json_object_get(b, "rooms"), "join"),
		                                run->room), "timeline"), "events");
	size_t i;
	json_t *ev;

	json_array_foreach(events, i, ev) {
		const char *body = json_string_value(json_object_get(json_object_get(ev, "content"), "body"));
		int k;

		if (!body || sscanf(body, "fanout %d", &k) != 1 || k < rv->seen || k >= run->n_sent)
			continue;
		/* a later message implies the earlier ones were delivered too */
		for (; rv->seen <= k; rv->seen++) {
			run->received[rv->seen]++;
			bench_samples_add(&run->delay,
			                  (double)(at_us - run->sent_at_us[rv->seen]) / 1000.0);
		}
	}
}

static void receiver_done(void *ctx, const struct bench_resp *resp)
{
	struct receiver *rv = ctx;
	json_t *b;
	const char *next;

	if (!bench_result_check(rv->run->r, resp, "sync"))
		return;
	if (!(b = bench_resp_json(resp)) || !(next = json_string_value(json_object_get(b, "next_batch")))) {
		bench_result_error(rv->run->r, "sync: no next_batch");
		json_decref(b);
		return;
	}
	if (!rv->since)
		rv->run->ready++;
	free(rv->since);
	rv->since = strdup(next);
	if (rv->since)
		receiver_scan(rv, b, resp->end_us);
	json_decref(b);
	if (!rv->since)
		bench_result_error(rv->run->r, "sync: out of memory");
	else if (!rv->run->stopping)
		receiver_poll(rv);
}

static int receiver_poll(struct receiver *rv)
{
	char path[1024], esc[512];

	if (rv->since && bench_path_escape(rv->since, esc, sizeof(esc)) != 0) {
		bench_result_error(rv->run->r, "sync: next_batch too long");
		return -1;
	}
	if (rv->since)
		snprintf(path, sizeof(path), "/_matrix/client/v3/sync?filter=%s&timeout=60000&since=%s",
		         FANOUT_FILTER, esc);
	else
		snprintf(path, sizeof(path), "/_matrix/client/v3/sync?filter=%s", FANOUT_FILTER);
	if (bench_request(rv->run->lp, "GET", path, rv->user->access_token, NULL, receiver_done,
	                  rv) != 0) {
		bench_result_error(rv->run->r, "sync: out of memory");
		return -1;
	}
	return 0;
}

static void sender_done(void *ctx, const struct bench_resp *resp)
{
	bench_result_check(ctx, resp, "send");
}

/* Send message k, then wait until every receiver saw it (or the deadline). */
static void fanout_one(struct fanout_run *run, const struct bench_user *sender, int n_recv, int k)
{
	char path[640], esc[400], body[64];
	int64_t deadline;

	bench_path_escape(run->room, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/_matrix/client/v3/rooms/%s/send/m.room.message/f%d", esc, k);
	snprintf(body, sizeof(body), "{\"msgtype\":\"m.text\",\"body\":\"fanout %d\"}", k);
	run->sent_at_us[k] = bench_now_us();
	run->n_sent = k + 1;
	if (bench_request(run->lp, "PUT", path, sender->access_token, body, sender_done, run->r) != 0) {
		bench_result_error(run->r, "send: out of memory");
		return;
	}
	deadline = run->sent_at_us[k] + FANOUT_WAIT_US;
	while (run->received[k] < n_recv && bench_now_us() < deadline)
		bench_loop_run(run->lp, bench_now_us() + 5000);
	if (run->received[k] < n_recv)
		bench_result_error(run->r, "message %d reached %d of %d receivers in 120 s", k,
		                   run->received[k], n_recv);
	/* let every receiver park its next long-poll */
	bench_loop_run(run->lp, bench_now_us() + 200000 + (int64_t)n_recv * 100);
}

static void fanout_report(const struct bench_opts *o, struct fanout_run *run)
{
	struct bench_result *r = run->r;
	int64_t woken = 0;

	for (int k = 0; k < run->n_sent; k++)
		woken += run->received[k];
	bench_result_int(r, "receivers", o->clients, "2000");
	bench_result_int(r, "messages", run->n_sent, NULL);
	bench_result_num(r, "woken_pct",
	                 run->n_sent ? 100.0 * (double)woken / ((double)run->n_sent * o->clients) : 0,
	                 "100");
	bench_result_num(r, "p50_ms", bench_samples_pct(&run->delay, 50), NULL);
	bench_result_num(r, "p99_ms", bench_samples_pct(&run->delay, 99), "< 100");
	bench_result_num(r, "max_ms", bench_samples_max(&run->delay), NULL);
	bench_write_samples(o, "fanout-delay.dat", &run->delay);
}

int bench_scenario_fanout(const struct bench_opts *o, struct bench_result *r)
{
	struct fanout_run run = { .r = r };
	struct bench_user *users = NULL;
	struct receiver *recv = NULL;
	char *room = NULL;
	int n = o->clients + 1, ret = -1;

	if (!(run.lp = bench_loop_new(o->url)) ||
	    !(recv = calloc((size_t)o->clients, sizeof(*recv))) ||
	    !(run.sent_at_us = calloc((size_t)o->messages, sizeof(*run.sent_at_us))) ||
	    !(run.received = calloc((size_t)o->messages, sizeof(*run.received)))) {
		bench_result_error(r, "out of memory");
		goto out;
	}
	/* users[0] sends, users[1..n-1] receive */
	if (!(users = bench_users_create(run.lp, o, "f", n, r)) ||
	    !(room = bench_room_create(run.lp, &users[0], r)) ||
	    bench_rooms_join(run.lp, users + 1, o->clients, &room, 1, r) != 0)
		goto out;
	run.room = room;
	/* the initial syncs, 64 at a time, then the long-polls */
	for (int i = 0; i < o->clients; i++) {
		recv[i] = (struct receiver){ .run = &run, .user = &users[i + 1] };
		if (receiver_poll(&recv[i]) != 0)
			goto out;
		if (bench_loop_inflight(run.lp) >= 64)
			bench_loop_run(run.lp, bench_now_us() + 20000);
	}
	while (r->errors == 0 && run.ready < o->clients && bench_loop_inflight(run.lp) > 0)
		bench_loop_run(run.lp, bench_now_us() + 20000);
	bench_loop_run(run.lp, bench_now_us() + 500000 + (int64_t)o->clients * 200);
	for (int k = 0; k < o->messages && r->errors == 0; k++)
		fanout_one(&run, &users[0], o->clients, k);
	run.stopping = true;
	bench_loop_cancel_all(run.lp);
	fanout_report(o, &run);
	ret = r->errors ? -1 : 0;
out:
	bench_loop_free(run.lp);
	for (int i = 0; recv && i < o->clients; i++)
		free(recv[i].since);
	free(recv);
	free(room);
	free(run.sent_at_us);
	free(run.received);
	bench_users_free(users, n);
	bench_samples_free(&run.delay);
	return ret;
}
