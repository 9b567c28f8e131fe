/* chappe-bench: run load scenarios against any Matrix homeserver.
 *
 *   chappe-bench --url URL --shared-secret S [--pid PID] [--out DIR]
 *                [--scenarios send,fanout,initial-sync,idle,login,e2ee|all]
 *                [--seconds T] [--users U] [--rooms R] [--sync-rooms R]
 *                [--events E] [--clients N] [--idle-clients N] [--messages M]
 *                [--no-override]
 *
 * Prints one JSON line per scenario on stdout; with --out also writes
 * results.jsonl, results.md (a Markdown table) and the raw samples the
 * plots of bench/run are drawn from. Exits 1 if any scenario had an error
 * (the CI smoke relies on it), 2 on bad arguments. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "bench.h"

struct scenario {
	const char *name;
	int (*run)(const struct bench_opts *o, struct bench_result *r);
};

/* idle first: its "at rest" figure means little after the others filled caches */
static const struct scenario scenarios[] = {
	{ "idle", bench_scenario_idle },
	{ "login", bench_scenario_login },
	{ "send", bench_scenario_send },
	{ "fanout", bench_scenario_fanout },
	{ "initial-sync", bench_scenario_initial_sync },
	{ "e2ee", bench_scenario_e2ee },
};
#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: chappe-bench --url URL --shared-secret S [--pid PID] [--out DIR]\n"
	           "  [--scenarios LIST|all] [--seconds T] [--users U] [--rooms R]\n"
	           "  [--sync-rooms R] [--events E] [--clients N] [--idle-clients N]\n"
	           "  [--messages M] [--no-override]\n"
	           "scenarios: idle, login, send, fanout, initial-sync, e2ee\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

struct args {
	struct bench_opts o;
	bool want[N_SCENARIOS];
};

static int parse_scenarios(const char *list, bool want[N_SCENARIOS])
{
	char *copy = strdup(list), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < N_SCENARIOS; i++) {
			if (strcmp(tok, "all") == 0 || strcmp(tok, scenarios[i].name) == 0)
				want[i] = true;
		}
		if (strcmp(tok, "all") != 0) {
			for (i = 0; i < N_SCENARIOS && strcmp(tok, scenarios[i].name) != 0; i++)
				;
			if (i == N_SCENARIOS) {
				fprintf(stderr, "chappe-bench: unknown scenario %s\n", tok);
				rc = -1;
			}
		}
	}
	free(copy);
	return rc;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longs[] = {
		{ "url", required_argument, 0, 'u' },     { "shared-secret", required_argument, 0, 'k' },
		{ "pid", required_argument, 0, 'p' },     { "out", required_argument, 0, 'o' },
		{ "scenarios", required_argument, 0, 's' }, { "seconds", required_argument, 0, 't' },
		{ "users", required_argument, 0, 'U' },   { "rooms", required_argument, 0, 'R' },
		{ "sync-rooms", required_argument, 0, 'S' }, { "events", required_argument, 0, 'E' },
		{ "clients", required_argument, 0, 'N' }, { "idle-clients", required_argument, 0, 'I' },
		{ "messages", required_argument, 0, 'M' }, { "help", no_argument, 0, 'h' },
		{ "no-override", no_argument, 0, 'n' },
		{ 0, 0, 0, 0 },
	};
	struct bench_opts *o = &a->o;
	int c, v = 0, bad = 0;
	bool any = false;

	*o = (struct bench_opts){ .seconds = 10, .users = 64, .rooms = 8, .sync_rooms = 100,
	                          .events = 100, .clients = 2000, .idle_clients = 1000,
	                          .messages = 20 };
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 'k': o->secret = optarg; break;
		case 'o': o->out_dir = optarg; break;
		case 's': bad |= parse_scenarios(optarg, a->want); any = true; break;
		case 'p': bad |= parse_int(optarg, 1, 1 << 30, &v); o->pid = v; break;
		case 't': bad |= parse_int(optarg, 1, 3600, &v); o->seconds = v; break;
		case 'U': bad |= parse_int(optarg, 1, 4096, &o->users); break;
		case 'R': bad |= parse_int(optarg, 1, 4096, &o->rooms); break;
		case 'S': bad |= parse_int(optarg, 1, 4096, &o->sync_rooms); break;
		case 'E': bad |= parse_int(optarg, 1, 100000, &o->events); break;
		case 'N': bad |= parse_int(optarg, 1, BENCH_MAX_USERS - 1, &o->clients); break;
		case 'I': bad |= parse_int(optarg, 1, BENCH_MAX_USERS, &o->idle_clients); break;
		case 'M': bad |= parse_int(optarg, 1, 100000, &o->messages); break;
		case 'n': o->no_override = true; break;
		case 'h': usage(stdout); exit(0);
		default: bad = -1;
		}
	}
	if (bad || optind != argc || !o->url || !o->secret) {
		usage(stderr);
		return -1;
	}
	if (!any)
		parse_scenarios("all", a->want);
	return 0;
}

/* Thousands of long-polls need as many descriptors: raise the soft limit
 * to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void markdown_rows(FILE *md, const struct bench_result *r)
{
	size_t i;
	json_t *row;

	json_array_foreach(r->rows, i, row) {
		json_t *v = json_array_get(row, 1);
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));

		fprintf(md, "| %s | %s | %s | %s |\n", r->scenario,
		        json_string_value(json_array_get(row, 0)),
		        json_is_string(v) ? json_string_value(v) : (text ? text : "?"),
		        json_string_value(json_array_get(row, 2)));
		free(text);
	}
	if (r->errors)
		fprintf(md, "| %s | errors | %llu (first: %s) | 0 |\n", r->scenario,
		        (unsigned long long)r->errors, r->first_error);
}

static FILE *open_out(const struct bench_opts *o, const char *name)
{
	char path[4096];

	if (!o->out_dir || (size_t)snprintf(path, sizeof(path), "%s/%s", o->out_dir, name) >=
	                       sizeof(path))
		return NULL;
	return fopen(path, "w");
}

static int run_all(struct args *a)
{
	FILE *jl = open_out(&a->o, "results.jsonl"), *md = open_out(&a->o, "results.md");
	int failed = 0;

	if (md)
		fprintf(md, "| scenario | metric | value | target |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < N_SCENARIOS; i++) {
		struct bench_result r;
		char *line;

		if (!a->want[i])
			continue;
		fprintf(stderr, "chappe-bench: %s...\n", scenarios[i].name);
		bench_result_init(&r, scenarios[i].name);
		scenarios[i].run(&a->o, &r);
		json_object_set_new(r.json, "errors", json_integer((json_int_t)r.errors));
		if (r.errors) {
			json_object_set_new(r.json, "first_error", json_string(r.first_error));
			fprintf(stderr, "chappe-bench: %s: %llu errors, first: %s\n", scenarios[i].name,
			        (unsigned long long)r.errors, r.first_error);
			failed = 1;
		}
		if ((line = json_dumps(r.json, JSON_COMPACT | JSON_REAL_PRECISION(12)))) {
			printf("%s\n", line);
			fflush(stdout);
			if (jl)
				fprintf(jl, "%s\n", line);
			free(line);
		}
		if (md)
			markdown_rows(md, &r);
		bench_result_clear(&r);
	}
	if (jl)
		fclose(jl);
	if (md)
		fclose(md);
	return failed;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	char run_id[32];
	int rc;

	if (parse_args(argc, argv, &a) != 0)
		return 2;
	if (a.o.out_dir && mkdir(a.o.out_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "chappe-bench: %s: %s\n", a.o.out_dir, strerror(errno));
		return 2;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "chappe-bench: cannot initialise libsodium or libcurl\n");
		return 2;
	}
	raise_fd_limit();
	/* user names unique per run, so runs can follow each other on one server */
	snprintf(run_id, sizeof(run_id), "bench%08x", randombytes_random());
	a.o.run_id = run_id;
	rc = run_all(&a);
	curl_global_cleanup();
	return rc;
}
