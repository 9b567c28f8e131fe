/* bench_result.c: what a scenario measured, as one JSON line and as rows
 * of the Markdown table (contract in bench.h). Raw samples go to files in
 * the output directory for bench/run's plots. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void bench_result_init(struct bench_result *r, const char *scenario)
{
	memset(r, 0, sizeof(*r));
	r->scenario = scenario;
	r->json = json_pack("{s:s}", "scenario", scenario);
	r->rows = json_array();
}

static void result_row(struct bench_result *r, const char *key, json_t *value, const char *target)
{
	json_t *row;

	if (!r->json || !r->rows || !value) {
		json_decref(value);
		return;
	}
	row = json_pack("[s,O,s]", key, value, target ? target : "");
	if (row)
		json_array_append_new(r->rows, row);
	json_object_set_new(r->json, key, value);
}

void bench_result_num(struct bench_result *r, const char *key, double v, const char *target)
{
	/* three decimals: microseconds when the unit is ms */
	result_row(r, key, json_real((double)(int64_t)(v * 1000.0 + (v < 0 ? -0.5 : 0.5)) / 1000.0),
	           target);
}

void bench_result_int(struct bench_result *r, const char *key, int64_t v, const char *target)
{
	result_row(r, key, json_integer(v), target);
}

void bench_result_note(struct bench_result *r, const char *key, const char *text)
{
	result_row(r, key, json_string(text), NULL);
}

void bench_result_error(struct bench_result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->errors++ == 0) {
		va_start(ap, fmt);
		vsnprintf(r->first_error, sizeof(r->first_error), fmt, ap);
		va_end(ap);
	}
}

bool bench_result_check(struct bench_result *r, const struct bench_resp *resp, const char *what)
{
	if (resp->status >= 200 && resp->status < 300)
		return true;
	if (resp->status == 0)
		bench_result_error(r, "%s: %s", what, resp->error ? resp->error : "transfer failed");
	else
		bench_result_error(r, "%s: HTTP %ld %.160s", what, resp->status, resp->body);
	return false;
}

static FILE *out_file(const struct bench_opts *o, const char *name)
{
	char path[4096];
	FILE *f;

	if (!o->out_dir)
		return NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", o->out_dir, name) >= sizeof(path))
		return NULL;
	if (!(f = fopen(path, "w")))
		fprintf(stderr, "chappe-bench: %s: %s\n", path, strerror(errno));
	return f;
}

void bench_write_samples(const struct bench_opts *o, const char *name,
                         const struct bench_samples *s)
{
	FILE *f = out_file(o, name);

	if (!f)
		return;
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%.3f\n", s->v[i]);
	fclose(f);
}

void bench_write_timeline(const struct bench_opts *o, const char *name,
                          const struct bench_timeline *t)
{
	FILE *f = out_file(o, name);

	if (!f)
		return;
	for (size_t i = 0; i < t->n; i++)
		fprintf(f, "%zu %llu\n", i, (unsigned long long)t->per_s[i]);
	fclose(f);
}

void bench_result_clear(struct bench_result *r)
{
	json_decref(r->json);
	json_decref(r->rows);
	r->json = r->rows = NULL;
}
