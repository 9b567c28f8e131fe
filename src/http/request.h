/*
 * request: what a handler sees of one HTTP request, and how it answers.
 *
 * Contract: the HTTP server owns struct request for the life of the
 * exchange; handlers read it and set exactly one response through the
 * res_* functions (a later call replaces an earlier one). Every string a
 * request hands out is owned by the request and lives until the response
 * has been sent. A handler runs on one of the server's worker threads and
 * may block on the store; it must not keep pointers into the request after
 * it returns.
 */
#ifndef CHAPPE_HTTP_REQUEST_H
#define CHAPPE_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_PUT = 1 << 2,
	HTTP_DELETE = 1 << 3,
	HTTP_OPTIONS = 1 << 4,
	HTTP_HEAD = 1 << 5,
	HTTP_OTHER = 1 << 6,
};

#define REQUEST_MAX_PARAMS 8
#define REQUEST_MAX_RES_HEADERS 8

/* Who made the request, once the router has authenticated it. */
struct request_auth {
	bool present;          /* a valid token was presented */
	char *user_id;
	char *device_id;
	bool admin;
	bool suspended;
};

struct request_scratch;

struct request {
	void *app;                      /* the application context (api layer) */
	const struct route *route;      /* the matched row */
	enum http_method method;
	char *path;                     /* raw path, still percent-encoded */
	char *params[REQUEST_MAX_PARAMS]; /* decoded {placeholders}, in order */
	size_t n_params;
	char *client_ip;
	const char *user_agent;         /* may be NULL */
	const char *access_token;       /* as presented, NULL if none */

	char *body;                     /* NUL-terminated copy of the body */
	size_t body_len;
	json_t *json;                   /* parsed body, set by req_json_object */

	struct request_auth auth;

	/* response */
	unsigned int status;
	json_t *res_body;               /* owned; NULL means empty body */
	char *res_raw;                  /* alternative raw body (owned) */
	size_t res_raw_len;
	const char *res_content_type;

	/* long-polls (req_suspend) */
	bool suspend_requested;
	bool resumed;                   /* the handler runs again after a wake */
	void (*on_suspended)(struct request *req);
	void *state;                    /* the handler's own state across runs */
	void (*state_free)(void *state);

	void *conn;                     /* the server's connection handle */
	struct request_scratch *scratch; /* strings handed out, freed with the request */
	size_t max_json_depth;

	/* media repository: streamed bodies, file responses, extra headers */
	int body_fd;                    /* BODY_UPLOAD rows: temp file with the body
	                                 * (body_len bytes), else -1; closed with the request */
	char *body_path;                /* its path; unlinked with the request unless the
	                                 * handler took it (renamed it, then set NULL) */
	int res_fd;                     /* res_file(): file to send (owned), else -1 */
	uint64_t res_fd_len;
	struct { char *name, *value; } res_headers[REQUEST_MAX_RES_HEADERS];
	size_t n_res_headers;
};

/* The n-th {placeholder} of the route, percent-decoded. */
const char *req_param(const struct request *req, size_t n);
/* A query-string argument, percent-decoded, or NULL. */
const char *req_query(const struct request *req, const char *name);
/* A decimal integer query argument: absent -> def; not an integer (or
 * beyond int64) -> -1 with 400 M_INVALID_PARAM set; clamped to [min, max]. */
int req_query_int(struct request *req, const char *name, int64_t min, int64_t max,
                  int64_t def, int64_t *out);
/* A request header, or NULL. */
const char *req_header(const struct request *req, const char *name);

/* Parse the body as a JSON object. On failure the error response is set
 * (M_NOT_JSON, M_BAD_JSON) and NULL is returned; the handler just returns.
 * The object belongs to the request. An empty body parses as {} only if
 * empty_ok. */
json_t *req_json_object(struct request *req, bool empty_ok);

/* Answer with a JSON body; body is stolen (may be NULL for "{}"). */
void res_json(struct request *req, unsigned int status, json_t *body);
/* Answer with the spec's error object {"errcode", "error"}. */
void res_error(struct request *req, unsigned int status, const char *errcode,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Same, merging extra fields (stolen) into the error object. */
void res_error_extra(struct request *req, unsigned int status, const char *errcode,
                     const char *message, json_t *extra);
/* Raw bytes (copied) with a content type. */
void res_raw(struct request *req, unsigned int status, const char *content_type,
             const char *data, size_t len);

/* Answer with res_fd_len bytes of an open file, from its current offset;
 * fd is stolen (closed with the response, or at once on failure). */
void res_file(struct request *req, unsigned int status, const char *content_type,
              int fd, uint64_t len);
/* Add a response header (both copied) to whatever response is set; headers
 * persist across res_* calls. -1 if the table is full or out of memory. */
int res_header(struct request *req, const char *name, const char *value);

/* Long-poll: park this request without holding a thread. The handler
 * sets no response and returns; once the connection is parked, the server
 * calls on_suspended(req) (which registers the request with whoever will
 * wake it, e.g. the sync notifier). http_request_resume() then makes the
 * server run the handler again, with req->resumed set; it may answer or
 * park again. State kept across runs goes in req->state (freed with
 * state_free when the request ends). */
void req_suspend(struct request *req, void (*on_suspended)(struct request *req));
/* Wake a parked request; any thread; exactly once per park. */
void http_request_resume(struct request *req);

struct ratelimiter;
/* Take one token from the bucket "kind:id" (http/ratelimit.h). When it is
 * empty, set 429 M_LIMIT_EXCEEDED with retry_after_ms and return true: the
 * handler just returns. Every rate limit, in the server or a handler,
 * answers through here. */
bool req_ratelimited(struct request *req, struct ratelimiter *rl, const char *kind,
                     const char *id, double per_second, uint32_t burst);

/* Typed getters for a body object: return -1 and set M_BAD_JSON (naming
 * the key) when the key has the wrong type; *out untouched if absent and
 * optional. */
int req_get_string(struct request *req, json_t *obj, const char *key, bool required,
                   const char **out);
int req_get_bool(struct request *req, json_t *obj, const char *key, bool *out);

#endif
