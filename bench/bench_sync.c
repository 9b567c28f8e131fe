/* bench_sync.c: the initial-sync scenario. One user in R rooms of E
 * messages each (sent beforehand, 32 in flight), then initial /sync
 * requests (no since, no filter: what a client does on first start) one
 * after another for T seconds (at least 3). Measures the time of each and
 * the size of the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define FILL_PARALLEL 32

struct fill {
	struct bench_loop *lp;
	struct bench_result *r;
	const struct bench_user *user;
	char **rooms;
	int n_rooms, per_room;
	int64_t next, total;  /* messages issued, to issue */
	int pending;
};

static void fill_done(void *ctx, const struct bench_resp *resp)
{
	struct fill *f = ctx;

	bench_result_check(f->r, resp, "send");
	f->pending--;
}

static int fill_rooms(struct fill *f)
{
	uint64_t errors_before = f->r->errors;

	while ((f->next < f->total || f->pending > 0) && f->r->errors == errors_before) {
		while (f->next < f->total && f->pending < FILL_PARALLEL) {
			char path[640], esc[400], body[96];
			int64_t k = f->next++;

			bench_path_escape(f->rooms[k % f->n_rooms], esc, sizeof(esc));
			snprintf(path, sizeof(path),
			         "/_matrix/client/v3/rooms/%s/send/m.room.message/i%lld", esc, (long long)k);
			snprintf(body, sizeof(body),
			         "{\"msgtype\":\"m.text\",\"body\":\"history message %lld\"}", (long long)k);
			if (bench_request(f->lp, "PUT", path, f->user->access_token, body, fill_done, f) != 0) {
				bench_result_error(f->r, "send: out of memory");
				break;
			}
			f->pending++;
		}
		bench_loop_run(f->lp, bench_now_us() + 20000);
	}
	bench_loop_run(f->lp, 0);
	return f->r->errors == errors_before ? 0 : -1;
}

struct sync_sample {
	size_t bytes;
	double ms;            /* request to last byte, not our parsing */
	int64_t timeline_events;
	int rooms;
};

static void sync_done(void *ctx, const struct bench_resp *resp)
{
	struct sync_sample *s = ctx;
	json_t *b = bench_resp_json(resp), *join = json_object_get(json_object_get(b, "rooms"), "join");
	const char *id;
	json_t *room;

	s->bytes = resp->len;
	s->ms = (double)(resp->end_us - resp->start_us) / 1000.0;
	json_object_foreach(join, id, room) {
		s->rooms++;
		s->timeline_events += (int64_t)json_array_size(
			json_object_get(json_object_get(room, "timeline"), "events"));
	}
	json_decref(b);
}

static void sync_measure(const struct bench_opts *o, struct bench_loop *lp,
                         const struct bench_user *u, struct bench_result *r)
{
	struct bench_samples t = { 0 };
	struct sync_sample last = { 0 };
	int64_t stop = bench_now_us() + (int64_t)(o->seconds * 1e6);
	int runs = 0;

	while (runs < 3 || bench_now_us() < stop) {
		memset(&last, 0, sizeof(last));
		if (bench_call(lp, "GET", "/_matrix/client/v3/sync", u->access_token, NULL, sync_done,
		               &last, r, "initial sync") != 0)
			break;
		bench_samples_add(&t, last.ms);
		runs++;
	}
	if (runs > 0 && last.rooms < o->sync_rooms)
		bench_result_error(r, "initial sync listed %d of %d rooms", last.rooms, o->sync_rooms);
	bench_result_int(r, "rooms", o->sync_rooms, "100");
	bench_result_int(r, "events_per_room", o->events, "100");
	bench_result_int(r, "syncs", runs, NULL);
	bench_result_num(r, "p50_ms", bench_samples_pct(&t, 50), "< 50");
	bench_result_num(r, "min_ms", bench_samples_pct(&t, 0), NULL);
	bench_result_num(r, "max_ms", bench_samples_max(&t), NULL);
	bench_result_int(r, "response_bytes", (int64_t)last.bytes, NULL);
	bench_result_int(r, "timeline_events", last.timeline_events, NULL);
	bench_write_samples(o, "initial-sync-latency.dat", &t);
	bench_samples_free(&t);
}

int bench_scenario_initial_sync(const struct bench_opts *o, struct bench_result *r)
{
	struct bench_loop *lp = bench_loop_new(o->url);
	struct bench_user *users = NULL;
	char **rooms = calloc((size_t)o->sync_rooms, sizeof(*rooms));
	struct fill f = { 0 };
	int ret = -1;

	if (!lp || !rooms) {
		bench_result_error(r, "out of memory");
		goto out;
	}
	if (!(users = bench_users_create(lp, o, "i", 1, r)))
		goto out;
	for (int i = 0; i < o->sync_rooms; i++)
		if (!(rooms[i] = bench_room_create(lp, &users[0], r)))
			goto out;
	f = (struct fill){ .lp = lp, .r = r, .user = &users[0], .rooms = rooms,
	                   .n_rooms = o->sync_rooms, .total = (int64_t)o->sync_rooms * o->events };
	if (fill_rooms(&f) != 0)
		goto out;
	sync_measure(o, lp, &users[0], r);
	ret = r->errors ? -1 : 0;
out:
	bench_loop_free(lp);
	for (int i = 0; rooms && i < o->sync_rooms; i++)
		free(rooms[i]);
	free(rooms);
	bench_users_free(users, 1);
	return ret;
}
