/* bench_send.c: the send scenario. U users in R rooms (user i in room
 * i % R) each keep one PUT /rooms/{roomId}/send/m.room.message/{txnId} in
 * flight for T seconds, as a busy client does: a new message as soon as the
 * previous one is acknowledged. Measures events/s and the latency of each
 * send (p50, p95, p99), and the completions per second for the plot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct sender {
	struct send_run *run;
	const struct bench_user *user;
	char room_esc[400];
	uint64_t txn;
};

struct send_run {
	struct bench_loop *lp;
	struct bench_result *r;
	struct bench_samples lat;
	struct bench_timeline tl;
	int64_t start_us, stop_us, last_us;
	uint64_t sent;
};

static int sender_issue(struct sender *s);

static void sender_done(void *ctx, const struct bench_resp *resp)
{
	struct sender *s = ctx;
	struct send_run *run = s->run;

	if (bench_result_check(run->r, resp, "send")) {
		run->sent++;
		bench_samples_add(&run->lat, (double)(resp->end_us - resp->start_us) / 1000.0);
		bench_timeline_add(&run->tl, run->start_us, resp->end_us);
		if (resp->end_us > run->last_us)
			run->last_us = resp->end_us;
	}
	/* stop a client that fails, so an error does not spin at full speed */
	if (resp->status >= 200 && resp->status < 300 && bench_now_us() < run->stop_us)
		sender_issue(s);
}

static int sender_issue(struct sender *s)
{
	char path[640], body[128];

	snprintf(path, sizeof(path), "/_matrix/client/v3/rooms/%s/send/m.room.message/b%llu",
	         s->room_esc, (unsigned long long)s->txn);
	snprintf(body, sizeof(body), "{\"msgtype\":\"m.text\",\"body\":\"bench message %llu\"}",
	         (unsigned long long)s->txn);
	s->txn++;
	if (bench_request(s->run->lp, "PUT", path, s->user->access_token, body, sender_done, s) !=
	    0) {
		bench_result_error(s->run->r, "send: out of memory");
		return -1;
	}
	return 0;
}

static void send_report(const struct bench_opts *o, struct send_run *run)
{
	struct bench_result *r = run->r;
	double elapsed = (double)(run->last_us - run->start_us) / 1e6;

	bench_result_int(r, "senders", o->users, "64");
	bench_result_int(r, "rooms", o->rooms, NULL);
	bench_result_num(r, "seconds", elapsed, NULL);
	bench_result_int(r, "events", (int64_t)run->sent, NULL);
	bench_result_num(r, "events_per_s", elapsed > 0 ? (double)run->sent / elapsed : 0,
	                 ">= 10000");
	bench_result_num(r, "p50_ms", bench_samples_pct(&run->lat, 50), NULL);
	bench_result_num(r, "p95_ms", bench_samples_pct(&run->lat, 95), NULL);
	bench_result_num(r, "p99_ms", bench_samples_pct(&run->lat, 99), "< 20");
	bench_result_num(r, "max_ms", bench_samples_max(&run->lat), NULL);
	bench_write_samples(o, "send-latency.dat", &run->lat);
	bench_write_timeline(o, "send-throughput.dat", &run->tl);
}

int bench_scenario_send(const struct bench_opts *o, struct bench_result *r)
{
	struct send_run run = { .r = r };
	struct bench_user *users = NULL;
	struct sender *senders = NULL;
	char **rooms = NULL;
	int ret = -1;

	if (!(run.lp = bench_loop_new(o->url)) || !(rooms = calloc((size_t)o->rooms, sizeof(*rooms))) ||
	    !(senders = calloc((size_t)o->users, sizeof(*senders)))) {
		bench_result_error(r, "out of memory");
		goto out;
	}
	if (!(users = bench_users_create(run.lp, o, "s", o->users, r)))
		goto out;
	for (int i = 0; i < o->rooms; i++)
		if (!(rooms[i] = bench_room_create(run.lp, &users[0], r)))
			goto out;
	if (bench_rooms_join(run.lp, users, o->users, rooms, o->rooms, r) != 0)
		goto out;
	run.start_us = run.last_us = bench_now_us();
	run.stop_us = run.start_us + (int64_t)(o->seconds * 1e6);
	for (int i = 0; i < o->users; i++) {
		senders[i].run = &run;
		senders[i].user = &users[i];
		if (bench_path_escape(rooms[i % o->rooms], senders[i].room_esc,
		                      sizeof(senders[i].room_esc)) != 0 ||
		    sender_issue(&senders[i]) != 0)
			goto out;
	}
	/* after stop_us no new send starts; the ones in flight are waited for */
	bench_loop_run(run.lp, 0);
	send_report(o, &run);
	ret = r->errors ? -1 : 0;
out:
	bench_loop_free(run.lp);
	bench_users_free(users, o->users);
	for (int i = 0; rooms && i < o->rooms; i++)
		free(rooms[i]);
	free(rooms);
	free(senders);
	bench_samples_free(&run.lat);
	bench_timeline_free(&run.tl);
	return ret;
}
