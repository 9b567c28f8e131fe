#include "http/request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/ratelimit.h"
#include "http/request_internal.h"
#include "http/router.h"
#include "json/canonical.h"
#include "util/timeutil.h"

struct request_scratch {
	struct request_scratch *next;
	char text[];
};

void request_init(struct request *req, void *app, void *conn, const char *url,
                  size_t max_json_depth)
{
	memset(req, 0, sizeof(*req));
	req->app = app;
	req->conn = conn;
	req->path = strdup(url);
	req->max_json_depth = max_json_depth;
	req->body_fd = -1;
	req->res_fd = -1;
	req->user_agent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
}

void req_suspend(struct request *req, void (*on_suspended)(struct request *req))
{
	req->suspend_requested = true;
	req->on_suspended = on_suspended;
}

void http_request_resume(struct request *req)
{
	MHD_resume_connection(req->conn);
}

void request_release(struct request *req)
{
	struct request_scratch *s = req->scratch;

	if (req->state && req->state_free)
		req->state_free(req->state);
	while (s) {
		struct request_scratch *next = s->next;
		free(s);
		s = next;
	}
	for (size_t i = 0; i < req->n_params; i++)
		free(req->params[i]);
	free(req->path);
	free(req->client_ip);
	free(req->body);
	json_decref(req->json);
	json_decref(req->res_body);
	free(req->res_raw);
	free(req->auth.user_id);
	free(req->auth.device_id);
	/* an upload the handler did not keep leaves nothing on disk */
	request_body_discard(req);
	if (req->res_fd >= 0)
		close(req->res_fd);
	for (size_t i = 0; i < req->n_res_headers; i++) {
		free(req->res_headers[i].name);
		free(req->res_headers[i].value);
	}
	memset(req, 0, sizeof(*req));
}

const char *req_param(const struct request *req, size_t n)
{
	return n < req->n_params ? req->params[n] : NULL;
}

static char *scratch_keep(struct request *req, const char *text)
{
	size_t n = strlen(text);
	struct request_scratch *s = malloc(sizeof(*s) + n + 1);
	if (!s)
		return NULL;
	memcpy(s->text, text, n + 1);
	s->next = req->scratch;
	req->scratch = s;
	return s->text;
}

const char *req_query(const struct request *req_const, const char *name)
{
	struct request *req = (struct request *)req_const;
	const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
	char *plus, *decoded;
	const char *kept;

	if (!raw)
		return NULL;
	plus = strdup(raw);
	if (!plus)
		return NULL;
	/* Form encoding: '+' is a space (what browsers and Synapse do). */
	for (char *p = plus; *p; p++)
		if (*p == '+')
			*p = ' ';
	decoded = router_percent_decode(plus, strlen(plus));
	free(plus);
	if (!decoded)
		return NULL;
	kept = scratch_keep(req, decoded);
	free(decoded);
	return kept;
}

int req_query_int(struct request *req, const char *name, int64_t min, int64_t max,
                  int64_t def, int64_t *out)
{
	const char *s = req_query(req, name);
	char *end;
	long long v;

	*out = def;
	if (!s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE) {
		res_error(req, 400, "M_INVALID_PARAM", "%s must be an integer", name);
		return -1;
	}
	*out = v < min ? min : v > max ? max : v;
	return 0;
}

const char *req_header(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

json_t *req_json_object(struct request *req, bool empty_ok)
{
	enum cjson_status st;
	char msg[160];
	json_t *v;

	if (req->json)
		return req->json;
	if (req->body_len == 0) {
		if (empty_ok)
			return req->json = json_object();
		res_error(req, 400, "M_NOT_JSON", "Content not JSON.");
		return NULL;
	}
	v = cjson_parse(req->body, req->body_len, (int)req->max_json_depth, &st, msg, sizeof(msg));
	if (!v) {
		if (st == CJSON_TOO_DEEP || st == CJSON_BAD_JSON)
			res_error(req, 400, "M_BAD_JSON", "%s", st == CJSON_TOO_DEEP ?
			          "JSON nested too deeply" : "JSON value out of range");
		else if (st == CJSON_OOM)
			res_error(req, 500, "M_UNKNOWN", "Out of memory");
		else
			res_error(req, 400, "M_NOT_JSON", "Content not JSON: %s", msg);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		res_error(req, 400, "M_BAD_JSON", "Content must be a JSON object");
		return NULL;
	}
	return req->json = v;
}

static void res_reset(struct request *req)
{
	json_decref(req->res_body);
	req->res_body = NULL;
	free(req->res_raw);
	req->res_raw = NULL;
	req->res_raw_len = 0;
	if (req->res_fd >= 0)
		close(req->res_fd);
	req->res_fd = -1;
	req->res_fd_len = 0;
}

void res_json(struct request *req, unsigned int status, json_t *body)
{
	res_reset(req);
	req->status = status;
	req->res_body = body ? body : json_object();
}

void res_error_extra(struct request *req, unsigned int status, const char *errcode,
                     const char *message, json_t *extra)
{
	json_t *o = json_pack("{s:s,s:s}", "errcode", errcode, "error", message);
	if (o && extra)
		json_object_update(o, extra);
	json_decref(extra);
	res_json(req, status, o);
}

void res_error(struct request *req, unsigned int status, const char *errcode,
               const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	res_error_extra(req, status, errcode, msg, NULL);
}

void res_raw(struct request *req, unsigned int status, const char *content_type,
             const char *data, size_t len)
{
	res_reset(req);
	req->status = status;
	req->res_raw = malloc(len ? len : 1);
	if (!req->res_raw) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
	memcpy(req->res_raw, data, len);
	req->res_raw_len = len;
	req->res_content_type = content_type;
}

void res_file(struct request *req, unsigned int status, const char *content_type,
              int fd, uint64_t len)
{
	res_reset(req);
	req->status = status;
	req->res_fd = fd;
	req->res_fd_len = len;
	/* kept with the request: the type usually comes from a store row */
	req->res_content_type = scratch_keep(req, content_type);
	if (!req->res_content_type) {
		res_error(req, 500, "M_UNKNOWN", "Out of memory");
		return;
	}
}

int res_header(struct request *req, const char *name, const char *value)
{
	char *n, *v;

	if (req->n_res_headers >= REQUEST_MAX_RES_HEADERS)
		return -1;
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -1;
	}
	req->res_headers[req->n_res_headers].name = n;
	req->res_headers[req->n_res_headers].value = v;
	req->n_res_headers++;
	return 0;
}

void request_body_discard(struct request *req)
{
	if (req->body_fd >= 0)
		close(req->body_fd);
	req->body_fd = -1;
	if (req->body_path)
		unlink(req->body_path);
	free(req->body_path);
	req->body_path = NULL;
}

void request_auth_reset(struct request *req)
{
	free(req->auth.user_id);
	free(req->auth.device_id);
	memset(&req->auth, 0, sizeof(req->auth));
}

void res_ratelimited(struct request *req, int64_t retry_after_ms)
{
	res_error_extra(req, 429, "M_LIMIT_EXCEEDED", "Too many requests",
	                json_pack("{s:I}", "retry_after_ms", (json_int_t)retry_after_ms));
}

bool req_ratelimited(struct request *req, struct ratelimiter *rl, const char *kind,
                     const char *id, double per_second, uint32_t burst)
{
	char key[320];
	int64_t wait;

	snprintf(key, sizeof(key), "%s:%s", kind, id);
	wait = ratelimit_take(rl, key, per_second, burst, time_mono_ms());
	if (wait <= 0)
		return false;
	res_ratelimited(req, wait);
	return true;
}

int req_get_string(struct request *req, json_t *obj, const char *key, bool required,
                   const char **out)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		res_error(req, 400, "M_MISSING_PARAM", "Missing parameter: %s", key);
		return -1;
	}
	if (!json_is_string(v)) {
		res_error(req, 400, "M_BAD_JSON", "Parameter %s must be a string", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int req_get_bool(struct request *req, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		res_error(req, 400, "M_BAD_JSON", "Parameter %s must be a boolean", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}
