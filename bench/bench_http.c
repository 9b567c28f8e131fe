/* bench_http.c: the HTTP loop over one libcurl multi handle (contract in
 * bench.h). Connections stay in the multi handle's cache between requests,
 * so a client that sends one request after another reuses its connection,
 * as a real client does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bench.h"

struct bench_xfer {
	struct bench_xfer *prev, *next;   /* the in-flight list, for cancel_all */
	CURL *easy;
	struct curl_slist *headers;
	char *req_body;
	char *buf;
	size_t len, cap;
	bool too_big;
	int64_t start_us;
	bench_done_fn fn;
	void *ctx;
};

struct bench_loop {
	CURLM *multi;
	char *base;                        /* "http://127.0.0.1:8008", no trailing '/' */
	struct bench_xfer *inflight;
	size_t n_inflight;
	bool stop;
};

struct bench_loop *bench_loop_new(const char *base_url)
{
	struct bench_loop *lp = calloc(1, sizeof(*lp));
	size_t n;

	if (!lp)
		return NULL;
	lp->base = strdup(base_url);
	lp->multi = curl_multi_init();
	if (!lp->base || !lp->multi) {
		bench_loop_free(lp);
		return NULL;
	}
	n = strlen(lp->base);
	while (n > 0 && lp->base[n - 1] == '/')
		lp->base[--n] = '\0';
	/* Keep one cached connection per long-poll client: the default cache
	 * (4 per added handle, at most 10000) would close idle ones. */
	curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, (long)BENCH_MAX_USERS + 64);
	return lp;
}

static void xfer_free(struct bench_xfer *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->req_body);
	free(x->buf);
	free(x);
}

static void xfer_unlink(struct bench_loop *lp, struct bench_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		lp->inflight = x->next;
	if (x->next)
		x->next->prev = x->prev;
	lp->n_inflight--;
}

void bench_loop_cancel_all(struct bench_loop *lp)
{
	while (lp->inflight) {
		struct bench_xfer *x = lp->inflight;

		curl_multi_remove_handle(lp->multi, x->easy);
		xfer_unlink(lp, x);
		xfer_free(x);
	}
}

void bench_loop_free(struct bench_loop *lp)
{
	if (!lp)
		return;
	if (lp->multi) {
		bench_loop_cancel_all(lp);
		curl_multi_cleanup(lp->multi);
	}
	free(lp->base);
	free(lp);
}

static size_t xfer_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct bench_xfer *x = userp;
	size_t n = size * nmemb;

	if (x->len + n + 1 > BENCH_MAX_BODY) {
		x->too_big = true;
		return 0;   /* aborts the transfer: reported as an error */
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *nb;

		while (cap < x->len + n + 1)
			cap *= 2;
		nb = realloc(x->buf, cap);
		if (!nb)
			return 0;
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

static int xfer_setup(struct bench_loop *lp, struct bench_xfer *x, const char *method,
                      const char *path, const char *token, const char *body)
{
	char *url = NULL;
	char auth[2048];
	struct curl_slist *h;
	int rc = -1;

	if (asprintf(&url, "%s%s", lp->base, path) < 0) {
		url = NULL;
		goto out;
	}
	/* libcurl sends "Expect: 100-continue" for large bodies: a round trip
	 * a real client does not wait for. */
	if (!(h = curl_slist_append(NULL, "Expect:")))
		goto out;
	x->headers = h;
	if (body && !(h = curl_slist_append(x->headers, "Content-Type: application/json")))
		goto out;
	if (token) {
		if ((size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token) >=
		    sizeof(auth))
			goto out;
		if (!curl_slist_append(x->headers, auth))
			goto out;
	}
	if (body && !(x->req_body = strdup(body)))
		goto out;
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* A long-poll is at most 300 s in chappe; nothing should take longer. */
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, 330000L);
	if (x->req_body) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->req_body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->req_body));
	}
	rc = 0;
out:
	free(url);
	return rc;
}

int bench_request(struct bench_loop *lp, const char *method, const char *path,
                  const char *token, const char *body, bench_done_fn fn, void *ctx)
{
	struct bench_xfer *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	x->fn = fn;
	x->ctx = ctx;
	x->start_us = bench_now_us();
	if (!(x->easy = curl_easy_init()) || xfer_setup(lp, x, method, path, token, body) != 0 ||
	    curl_multi_add_handle(lp->multi, x->easy) != CURLM_OK) {
		xfer_free(x);
		return -1;
	}
	x->next = lp->inflight;
	if (lp->inflight)
		lp->inflight->prev = x;
	lp->inflight = x;
	lp->n_inflight++;
	return 0;
}

/* One finished transfer: hand the response to its callback, then free it.
 * The callback may start new requests (that is how clients loop). */
static void xfer_complete(struct bench_loop *lp, CURLMsg *msg)
{
	struct bench_xfer *x = NULL;
	struct bench_resp r = { 0 };
	curl_off_t total = 0;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
	curl_multi_remove_handle(lp->multi, x->easy);
	xfer_unlink(lp, x);
	r.start_us = x->start_us;
	r.end_us = bench_now_us();
	/* libcurl's own clock stops when the last byte arrived: callbacks run
	 * before this one (parsing other clients' answers) must not count as
	 * server latency. */
	if (curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total) == CURLE_OK && total > 0 &&
	    x->start_us + total < r.end_us)
		r.end_us = x->start_us + total;
	if (msg->data.result == CURLE_OK) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
	} else {
		r.status = 0;
		r.error = x->too_big ? "response body too large" : curl_easy_strerror(msg->data.result);
	}
	r.body = x->buf ? x->buf : "";
	r.len = x->len;
	if (x->fn)
		x->fn(x->ctx, &r);
	xfer_free(x);
}

void bench_loop_run(struct bench_loop *lp, int64_t deadline_us)
{
	lp->stop = false;
	while (lp->n_inflight > 0 && !lp->stop) {
		int running = 0, left = 0, wait_ms = 100;
		CURLMsg *msg;

		if (deadline_us) {
			int64_t now = bench_now_us();

			if (now >= deadline_us)
				break;
			if ((deadline_us - now) / 1000 < wait_ms)
				wait_ms = (int)((deadline_us - now) / 1000) + 1;
		}
		curl_multi_perform(lp->multi, &running);
		while ((msg = curl_multi_info_read(lp->multi, &left)) != NULL) {
			if (msg->msg == CURLMSG_DONE)
				xfer_complete(lp, msg);
		}
		if (lp->n_inflight > 0 && !lp->stop)
			curl_multi_poll(lp->multi, NULL, 0, wait_ms, NULL);
	}
}

void bench_loop_stop(struct bench_loop *lp)
{
	lp->stop = true;
}

size_t bench_loop_inflight(const struct bench_loop *lp)
{
	return lp->n_inflight;
}

int bench_path_escape(const char *in, char *out, size_t out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (o + (plain ? 1 : 3) >= out_len) {
			if (out_len)
				out[0] = '\0';
			return -1;
		}
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= out_len)
		return -1;
	out[o] = '\0';
	return 0;
}

json_t *bench_resp_json(const struct bench_resp *r)
{
	json_t *j;

	if (!r->body || r->len == 0)
		return NULL;
	j = json_loadb(r->body, r->len, 0, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}
