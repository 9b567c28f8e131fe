/* bench_e2ee.c: the e2ee scenario. U users (--users, at most 64), each
 * with one device whose ed25519 key really signs what it uploads (servers
 * check the signatures), go through three timed phases of T/3 seconds,
 * one request in flight per user:
 * - upload: POST /keys/upload of 10 fresh signed one-time keys, as a
 *   client tops up its supply;
 * - query:  POST /keys/query for the devices of 10 users;
 * - claim:  POST /keys/claim of one signed_curve25519 key of another user.
 * The users share one room: servers answer queries and claims only about
 * users one shares a room with (chappe does), as clients only ask about
 * those. Device keys are uploaded once before the phases (untimed). One-time keys
 * are signed before the upload phase, so the load generator's own signing
 * does not compete with the server for the CPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"

#define E2EE_MAX_USERS 64
#define OTK_PER_UPLOAD 10
#define OTK_BATCHES 64        /* per user: what the upload phase can use */
#define QUERY_USERS 10

struct e2ee_user {
	const struct bench_user *u;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char *batches[OTK_BATCHES];
	int next_batch;
};

enum e2ee_phase { PH_UPLOAD, PH_QUERY, PH_CLAIM };

struct e2ee_run {
	struct bench_loop *lp;
	struct bench_result *r;
	struct e2ee_user *users;
	int n;
	enum e2ee_phase phase;
	int64_t start_us, stop_us, last_us;
	uint64_t ok, claimed;
	struct bench_samples lat;
};

static void b64(const unsigned char *bin, size_t len, char *out, size_t out_len)
{
	sodium_bin2base64(out, out_len, bin, len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/* Sign obj (canonical JSON: jansson's compact output with sorted keys is
 * canonical for the ASCII-only objects built here) and add
 * signatures.{user_id}.{ed25519:device} as the spec's "Signing JSON" says. */
static int e2ee_sign(json_t *obj, const struct e2ee_user *eu)
{
	char *canon = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS), key_id[300], sig_b64[128];
	unsigned char sig[crypto_sign_BYTES];
	json_t *sigs;

	if (!canon)
		return -1;
	crypto_sign_detached(sig, NULL, (const unsigned char *)canon, strlen(canon), eu->sk);
	free(canon);
	b64(sig, sizeof(sig), sig_b64, sizeof(sig_b64));
	snprintf(key_id, sizeof(key_id), "ed25519:%s", eu->u->device_id);
	sigs = json_pack("{s:{s:s}}", eu->u->user_id, key_id, sig_b64);
	if (!sigs)
		return -1;
	return json_object_set_new(obj, "signatures", sigs);
}

static char *e2ee_device_keys_body(const struct e2ee_user *eu)
{
	unsigned char curve[32];
	char curve_b64[64], ed_b64[64], kc[300], ke[300], *out = NULL;
	json_t *dk, *body = NULL;

	randombytes_buf(curve, sizeof(curve));
	b64(curve, sizeof(curve), curve_b64, sizeof(curve_b64));
	b64(eu->pk, sizeof(eu->pk), ed_b64, sizeof(ed_b64));
	snprintf(kc, sizeof(kc), "curve25519:%s", eu->u->device_id);
	snprintf(ke, sizeof(ke), "ed25519:%s", eu->u->device_id);
	dk = json_pack("{s:[s,s],s:s,s:{s:s,s:s},s:s}", "algorithms", "m.olm.v1.curve25519-aes-sha2",
	               "m.megolm.v1.aes-sha2", "device_id", eu->u->device_id, "keys", kc, curve_b64,
	               ke, ed_b64, "user_id", eu->u->user_id);
	if (dk && e2ee_sign(dk, eu) == 0 && (body = json_pack("{s:O}", "device_keys", dk)))
		out = json_dumps(body, JSON_COMPACT);
	json_decref(dk);
	json_decref(body);
	return out;
}

static char *e2ee_otk_body(const struct e2ee_user *eu, int batch)
{
	json_t *otks = json_object(), *body = NULL;
	char *out = NULL;

	for (int i = 0; otks && i < OTK_PER_UPLOAD; i++) {
		unsigned char curve[32];
		char curve_b64[64], id[64];
		json_t *k;

		randombytes_buf(curve, sizeof(curve));
		b64(curve, sizeof(curve), curve_b64, sizeof(curve_b64));
		snprintf(id, sizeof(id), "signed_curve25519:AAAA%06d", batch * OTK_PER_UPLOAD + i);
		if (!(k = json_pack("{s:s}", "key", curve_b64)) || e2ee_sign(k, eu) != 0 ||
		    json_object_set_new(otks, id, k) != 0)
			goto out;
	}
	if (otks && (body = json_pack("{s:O}", "one_time_keys", otks)))
		out = json_dumps(body, JSON_COMPACT);
out:
	json_decref(otks);
	json_decref(body);
	return out;
}

static char *e2ee_query_body(const struct e2ee_run *run)
{
	json_t *users = json_object(), *body;
	char *out = NULL;

	for (int i = 0; users && i < QUERY_USERS && i < run->n; i++)
		json_object_set_new(users, run->users[randombytes_uniform((uint32_t)run->n)].u->user_id,
		                    json_array());
	if ((body = json_pack("{s:o}", "device_keys", users)))
		out = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return out;
}

static char *e2ee_claim_body(const struct e2ee_run *run, int self)
{
	int other = run->n > 1 ? (self + 1 + (int)randombytes_uniform((uint32_t)run->n - 1)) % run->n : self;
	const struct bench_user *u = run->users[other].u;
	json_t *body = json_pack("{s:{s:{s:s}}}", "one_time_keys", u->user_id, u->device_id,
	                         "signed_curve25519");
	char *out = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	return out;
}

struct e2ee_client {
	struct e2ee_run *run;
	int index;
};

static int e2ee_issue(struct e2ee_client *c);

static void e2ee_done(void *ctx, const struct bench_resp *resp)
{
	struct e2ee_client *c = ctx;
	struct e2ee_run *run = c->run;
	static const char *const what[] = { "keys/upload", "keys/query", "keys/claim" };

	if (!bench_result_check(run->r, resp, what[run->phase]))
		return;
	run->ok++;
	bench_samples_add(&run->lat, (double)(resp->end_us - resp->start_us) / 1000.0);
	if (resp->end_us > run->last_us)
		run->last_us = resp->end_us;
	if (run->phase == PH_CLAIM) {
		json_t *b = bench_resp_json(resp);

		if (json_object_size(json_object_get(b, "one_time_keys")) > 0)
			run->claimed++;
		json_decref(b);
	}
	if (bench_now_us() < run->stop_us)
		e2ee_issue(c);
}

static int e2ee_issue(struct e2ee_client *c)
{
	struct e2ee_run *run = c->run;
	struct e2ee_user *eu = &run->users[c->index];
	static const char *const paths[] = { "/_matrix/client/v3/keys/upload",
	                                     "/_matrix/client/v3/keys/query",
	                                     "/_matrix/client/v3/keys/claim" };
	char *body = NULL;
	int rc;

	if (run->phase == PH_UPLOAD) {
		if (eu->next_batch >= OTK_BATCHES)
			return 0;   /* this client's keys are used up: it stops */
		body = eu->batches[eu->next_batch++];
	} else {
		body = run->phase == PH_QUERY ? e2ee_query_body(run) : e2ee_claim_body(run, c->index);
	}
	if (!body) {
		bench_result_error(run->r, "out of memory");
		return -1;
	}
	rc = bench_request(run->lp, "POST", paths[run->phase], eu->u->access_token, body, e2ee_done, c);
	if (run->phase != PH_UPLOAD)
		free(body);
	if (rc != 0)
		bench_result_error(run->r, "out of memory");
	return rc;
}

static void e2ee_phase(const struct bench_opts *o, struct e2ee_run *run, struct e2ee_client *cl,
                       enum e2ee_phase ph, const char *name)
{
	char key[64];
	double secs = o->seconds / 3.0 < 1 ? 1 : o->seconds / 3.0, elapsed;

	run->phase = ph;
	run->ok = 0;
	run->start_us = run->last_us = bench_now_us();
	run->stop_us = run->start_us + (int64_t)(secs * 1e6);
	for (int i = 0; i < run->n; i++)
		if (e2ee_issue(&cl[i]) != 0)
			break;
	bench_loop_run(run->lp, 0);
	elapsed = (double)(run->last_us - run->start_us) / 1e6;
	snprintf(key, sizeof(key), "%s_per_s", name);
	bench_result_num(run->r, key, elapsed > 0 ? (double)run->ok / elapsed : 0, NULL);
	snprintf(key, sizeof(key), "%s_p50_ms", name);
	bench_result_num(run->r, key, bench_samples_pct(&run->lat, 50), NULL);
	snprintf(key, sizeof(key), "%s_p99_ms", name);
	bench_result_num(run->r, key, bench_samples_pct(&run->lat, 99), NULL);
	snprintf(key, sizeof(key), "e2ee-%s-latency.dat", name);
	bench_write_samples(o, key, &run->lat);
	bench_samples_free(&run->lat);
}

/* Keys for every user: device keys uploaded now, one-time keys signed. */
static int e2ee_prepare(struct e2ee_run *run, struct bench_user *users)
{
	for (int i = 0; i < run->n; i++) {
		struct e2ee_user *eu = &run->users[i];
		char *body;
		int rc;

		eu->u = &users[i];
		crypto_sign_keypair(eu->pk, eu->sk);
		if (!(body = e2ee_device_keys_body(eu)))
			return -1;
		rc = bench_call(run->lp, "POST", "/_matrix/client/v3/keys/upload", eu->u->access_token,
		                body, NULL, NULL, run->r, "keys/upload (device keys)");
		free(body);
		if (rc != 0)
			return -1;
		for (int b = 0; b < OTK_BATCHES; b++)
			if (!(eu->batches[b] = e2ee_otk_body(eu, b)))
				return -1;
	}
	return 0;
}

int bench_scenario_e2ee(const struct bench_opts *o, struct bench_result *r)
{
	struct e2ee_run run = { .r = r };
	struct bench_user *users = NULL;
	struct e2ee_client *cl = NULL;
	char *room = NULL;
	int ret = -1;

	run.n = o->users < E2EE_MAX_USERS ? o->users : E2EE_MAX_USERS;
	if (!(run.lp = bench_loop_new(o->url)) ||
	    !(run.users = calloc((size_t)run.n, sizeof(*run.users))) ||
	    !(cl = calloc((size_t)run.n, sizeof(*cl)))) {
		bench_result_error(r, "out of memory");
		goto out;
	}
	if (!(users = bench_users_create(run.lp, o, "e", run.n, r)) ||
	    !(room = bench_room_create(run.lp, &users[0], r)) ||
	    bench_rooms_join(run.lp, users, run.n, &room, 1, r) != 0)
		goto out;
	if (e2ee_prepare(&run, users) != 0) {
		if (!r->errors)
			bench_result_error(r, "out of memory");
		goto out;
	}
	for (int i = 0; i < run.n; i++)
		cl[i] = (struct e2ee_client){ &run, i };
	bench_result_int(r, "clients", run.n, NULL);
	e2ee_phase(o, &run, cl, PH_UPLOAD, "upload");
	if (!r->errors)
		e2ee_phase(o, &run, cl, PH_QUERY, "query");
	if (!r->errors)
		e2ee_phase(o, &run, cl, PH_CLAIM, "claim");
	bench_result_int(r, "claims_with_key", (int64_t)run.claimed, NULL);
	ret = r->errors ? -1 : 0;
out:
	bench_loop_free(run.lp);
	for (int i = 0; run.users && i < run.n; i++) {
		for (int b = 0; b < OTK_BATCHES; b++)
			free(run.users[i].batches[b]);
		sodium_memzero(run.users[i].sk, sizeof(run.users[i].sk));
	}
	free(run.users);
	free(cl);
	free(room);
	bench_users_free(users, run.n);
	return ret;
}
