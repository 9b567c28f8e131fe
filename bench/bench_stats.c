/* bench_stats.c: latency samples, percentiles and throughput over time
 * (contract in bench.h). Percentiles are nearest-rank on every sample kept:
 * runs are short enough that keeping them all is cheaper than being
 * approximately right. */
#include <stdlib.h>
#include <time.h>

#include "bench.h"

#define TIMELINE_MAX_S 86400   /* a day: beyond, a completion is not plotted */

int64_t bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void bench_samples_add(struct bench_samples *s, double ms)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv) {
			s->oom = true;
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_samples_pct(struct bench_samples *s, double p)
{
	size_t rank;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	if (p <= 0)
		return s->v[0];
	if (p >= 100)
		return s->v[s->n - 1];
	/* nearest rank: the smallest value with at least p% of samples <= it */
	rank = (size_t)((p / 100.0) * (double)s->n);
	if ((double)rank < (p / 100.0) * (double)s->n)
		rank++;
	if (rank == 0)
		rank = 1;
	return s->v[rank - 1];
}

double bench_samples_max(const struct bench_samples *s)
{
	double m = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return m;
}

void bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void bench_timeline_add(struct bench_timeline *t, int64_t start_us, int64_t at_us)
{
	size_t sec;

	if (at_us < start_us)
		return;
	sec = (size_t)((at_us - start_us) / 1000000);
	if (sec >= TIMELINE_MAX_S)
		return;
	if (sec >= t->n) {
		uint64_t *nv = realloc(t->per_s, (sec + 1) * sizeof(*nv));

		if (!nv)
			return;
		for (size_t i = t->n; i <= sec; i++)
			nv[i] = 0;
		t->per_s = nv;
		t->n = sec + 1;
	}
	t->per_s[sec]++;
}

void bench_timeline_free(struct bench_timeline *t)
{
	free(t->per_s);
	t->per_s = NULL;
	t->n = 0;
}
