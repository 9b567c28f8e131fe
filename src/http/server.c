#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/auth.h"
#include "http/ratelimit.h"
#include "store/store.h"
#include "http/request_internal.h"
#include "util/cidr.h"
#include "util/log.h"
#include "util/timeutil.h"

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_server_opts opts;
	atomic_int inflight;
	uint16_t port;
};

/* One per HTTP exchange; MHD keeps it in *con_cls. */
struct exchange {
	struct request req;
	size_t body_cap;
	bool too_large;
	bool refused;       /* answered without a handler (404, 405, OPTIONS...) */
	bool answered;      /* a response was queued */
	bool suspended;     /* parked by the handler (long-poll) */
	bool counted;       /* in srv->inflight: its handler has started */
	bool authed;        /* authenticated before the body (BODY_UPLOAD) */
	bool close_early;   /* refused before the body was read: answer at once */
	bool io_error;      /* the streamed body could not be written */
	int64_t started_ms;
};

static enum http_method method_parse(const char *m)
{
	static const struct { const char *name; enum http_method m; } methods[] = {
		{ "GET", HTTP_GET }, { "POST", HTTP_POST }, { "PUT", HTTP_PUT },
		{ "DELETE", HTTP_DELETE }, { "OPTIONS", HTTP_OPTIONS }, { "HEAD", HTTP_HEAD },
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].m;
	return HTTP_OTHER;
}

static void add_cors(struct MHD_Response *r)
{
	/* client-server-api "Web Browser Clients": the recommended headers. */
	MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
	MHD_add_response_header(r, "Access-Control-Allow-Methods",
	                        "GET, POST, PUT, DELETE, OPTIONS");
	MHD_add_response_header(r, "Access-Control-Allow-Headers",
	                        "X-Requested-With, Content-Type, Authorization");
}

/* Common headers, the handler's own (res_header), queue, release r. */
static enum MHD_Result send_queue(struct MHD_Connection *c, struct request *req,
                                  struct MHD_Response *r)
{
	enum MHD_Result ret;

	MHD_add_response_header(r, "Cache-Control", "no-store");
	add_cors(r);
	for (size_t i = 0; i < req->n_res_headers; i++)
		MHD_add_response_header(r, req->res_headers[i].name, req->res_headers[i].value);
	ret = MHD_queue_response(c, req->status ? req->status : 500, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct request *req)
{
	struct MHD_Response *r;
	char *text = NULL;
	size_t len = 0;
	const char *ctype = "application/json";

	if (req->res_fd >= 0) {
		/* MHD owns the descriptor from here, and closes it */
		r = MHD_create_response_from_fd64(req->res_fd_len, req->res_fd);
		if (!r)
			return MHD_NO;   /* request_release closes the fd */
		req->res_fd = -1;
		if (req->res_content_type)
			MHD_add_response_header(r, "Content-Type", req->res_content_type);
		return send_queue(c, req, r);
	}
	if (req->res_raw) {
		text = req->res_raw;
		len = req->res_raw_len;
		req->res_raw = NULL;
		if (req->res_content_type)
			ctype = req->res_content_type;
	} else if (req->res_body) {
		text = json_dumps(req->res_body, JSON_COMPACT);
		len = text ? strlen(text) : 0;
	}
	if (!text && req->status != 204) {
		text = strdup("{}");
		len = text ? 2 : 0;
	}
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	if (len > 0)
		MHD_add_response_header(r, "Content-Type", ctype);
	return send_queue(c, req, r);
}

static int sockaddr_fill(const char *addr, uint16_t port, struct sockaddr_storage *ss,
                         socklen_t *len);

/* The right-most X-Forwarded-For entry that is a valid address and not
 * itself a trusted proxy (entries left of it could be forged by the
 * client). NULL if there is none. */
static char *forwarded_client(const char *xff, const char *trusted)
{
	char *copy = strdup(xff), *ip = NULL;
	size_t n;

	if (!copy)
		return NULL;
	n = strlen(copy);
	while (n > 0) {
		char *start, *end = copy + n;
		struct sockaddr_storage ss;
		socklen_t len;
		copy[n] = '\0';
		start = strrchr(copy, ',');
		start = start ? start + 1 : copy;
		n = start > copy ? (size_t)(start - copy - 1) : 0;
		while (*start == ' ' || *start == '\t')
			start++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (sockaddr_fill(start, 0, &ss, &len) != 0)
			break;   /* garbage: believe nothing further left */
		if (!cidr_list_contains(trusted, (struct sockaddr *)&ss)) {
			ip = strdup(start);
			break;
		}
	}
	free(copy);
	return ip;
}

static char *client_ip_of(struct MHD_Connection *c, const char *trusted)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char buf[INET6_ADDRSTRLEN] = "unknown";

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof(buf));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			          sizeof(buf));
		if (trusted && *trusted && cidr_list_contains(trusted, sa)) {
			const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
			                                              "X-Forwarded-For");
			char *fwd = xff && strlen(xff) < 4096 ? forwarded_client(xff, trusted) : NULL;
			if (fwd)
				return fwd;
		}
	}
	return strdup(buf);
}

static uint64_t body_limit(const struct http_server *srv, const struct route *rt)
{
	return rt->body == BODY_UPLOAD ? srv->opts.max_upload_body : srv->opts.max_body;
}

/* An upload's caller is known before its body is read (a refusal is sent
 * at once and the connection closed), and its body goes to a temp file. */
static bool upload_begin(struct http_server *srv, struct exchange *ex)
{
	struct request *req = &ex->req;
	char *path = NULL;
	int fd;

	if (http_authenticate(req, srv->opts.store, req->route->auth) != 0) {
		ex->close_early = true;
		return false;
	}
	ex->authed = true;
	if (!srv->opts.upload_dir ||
	    asprintf(&path, "%s/upload-XXXXXX", srv->opts.upload_dir) < 0) {
		res_error(req, 500, "M_UNKNOWN", "No place for uploads");
		return false;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		log_error("http: cannot create an upload temp file in %s: %m", srv->opts.upload_dir);
		free(path);
		res_error(req, 500, "M_UNKNOWN", "Cannot store the upload");
		return false;
	}
	req->body_fd = fd;
	req->body_path = path;
	return true;
}

static void upload_append(struct exchange *ex, const char *data, size_t n)
{
	struct request *req = &ex->req;

	while (n > 0 && !ex->io_error) {
		ssize_t w = write(req->body_fd, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_error("http: writing an upload failed: %m");
			ex->io_error = true;
			return;
		}
		data += w;
		n -= (size_t)w;
		req->body_len += (size_t)w;
	}
}

/* Match the route and decide early answers. Returns false if a response
 * was queued already (or must be). */
static bool exchange_begin(struct http_server *srv, struct exchange *ex,
                           struct MHD_Connection *c, const char *url, const char *method)
{
	struct request *req = &ex->req;
	enum router_result rr;
	const char *clen;

	req->method = method_parse(method);
	if (req->method == HTTP_OPTIONS) {
		/* CORS preflight: any path, no auth, no body. */
		req->status = 200;
		return false;
	}
	rr = router_match(srv->opts.routes, srv->opts.n_routes, req->method, url,
	                  &req->route, req->params, &req->n_params);
	switch (rr) {
	case ROUTER_MATCH:
		break;
	case ROUTER_BAD_METHOD:
		res_error(req, 405, "M_UNRECOGNIZED", "Unrecognized request method");
		return false;
	case ROUTER_BAD_PATH:
		res_error(req, 400, "M_INVALID_PARAM", "Invalid path parameter (encoding or identifier)");
		return false;
	case ROUTER_NOT_FOUND:
	default:
		res_error(req, 404, "M_UNRECOGNIZED", "Unrecognized request");
		return false;
	}
	clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen && strtoull(clen, NULL, 10) > body_limit(srv, req->route)) {
		res_error(req, 413, "M_TOO_LARGE", "Request body too large");
		return false;
	}
	if (req->route->body == BODY_UPLOAD)
		return upload_begin(srv, ex);
	return true;
}

static void exchange_body_append(struct http_server *srv, struct exchange *ex,
                                 const char *data, size_t n)
{
	struct request *req = &ex->req;

	if (ex->too_large)
		return;
	if ((uint64_t)req->body_len + n > body_limit(srv, req->route)) {
		ex->too_large = true;
		/* The part already written is of no use: drop it now, not when
		 * the rest of the refused body has drained. */
		request_body_discard(req);
		return;
	}
	if (req->route->body == BODY_UPLOAD) {
		upload_append(ex, data, n);
		return;
	}
	if (req->body_len + n + 1 > ex->body_cap) {
		size_t cap = ex->body_cap ? ex->body_cap : 1024;
		char *nb;
		while (cap < req->body_len + n + 1)
			cap *= 2;
		nb = realloc(req->body, cap);
		if (!nb) {
			ex->too_large = true;   /* answered as 413: we cannot hold it */
			return;
		}
		req->body = nb;
		ex->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, n);
	req->body_len += n;
	req->body[req->body_len] = '\0';
}

/* MHD iterator: a query argument whose percent-encoding is invalid (or
 * decodes to a NUL byte) makes the whole request invalid. */
static enum MHD_Result query_arg_check(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
	bool *bad = cls;
	char *k, *v = NULL;

	(void)kind;
	k = router_percent_decode(key, strlen(key));
	if (value)
		v = router_percent_decode(value, strlen(value));
	if (!k || (value && !v))
		*bad = true;
	free(k);
	free(v);
	return *bad ? MHD_NO : MHD_YES;
}

/* The RL_CLIENT limit of one user: the server's, unless an admin set an
 * override (Synapse's override_ratelimit). false: the user has no limit
 * (an override of 0 messages per second, Synapse's meaning). A store error
 * keeps the server's limit: failing open would lift limits on a bad disk. */
static bool client_rate_of(struct http_server *srv, const char *user_id, struct http_rate *out)
{
	struct store_ratelimit_override ov;

	*out = srv->opts.rate_client;
	if (store_ratelimit_override_get(srv->opts.store, user_id, &ov) != STORE_OK)
		return true;
	if (ov.messages_per_second == 0)
		return false;
	out->per_second = (double)ov.messages_per_second;
	/* a bucket of 0 would refuse everything: at least one request */
	out->burst = ov.burst_count > 0 ? (uint32_t)ov.burst_count : 1;
	return true;
}

static void exchange_dispatch(struct http_server *srv, struct exchange *ex)
{
	struct request *req = &ex->req;
	const struct route *rt = req->route;
	struct http_rate rate;
	bool bad_query = false;

	if (ex->too_large) {
		res_error(req, 413, "M_TOO_LARGE", "Request body too large");
		return;
	}
	if (ex->io_error) {
		res_error(req, 500, "M_UNKNOWN", "Cannot store the upload");
		return;
	}
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_arg_check, &bad_query);
	if (bad_query) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid percent-encoding in the query string");
		return;
	}
	if (!ex->authed && http_authenticate(req, srv->opts.store, rt->auth) != 0)
		return;
	if (rt->ratelimit == RL_CLIENT && req->auth.present) {
		if (client_rate_of(srv, req->auth.user_id, &rate) &&
		    req_ratelimited(req, srv->opts.ratelimiter, "client", req->auth.user_id,
		                    rate.per_second, rate.burst))
			return;
	} else if (rt->ratelimit == RL_CLIENT) {
		/* Anonymous calls of AUTH_OPTIONAL rows (profiles, public rooms,
		 * aliases, legacy media) share a bucket per client address, at
		 * the per-user rate: otherwise they would be the one unlimited
		 * way to sweep the server. */
		if (req_ratelimited(req, srv->opts.ratelimiter, "anon-ip", req->client_ip,
		                    srv->opts.rate_client.per_second, srv->opts.rate_client.burst))
			return;
	} else if (rt->ratelimit == RL_REGISTER &&
	           req_ratelimited(req, srv->opts.ratelimiter, "register-ip", req->client_ip,
	                           srv->opts.rate_register.per_second,
	                           srv->opts.rate_register.burst)) {
		return;
	}
	rt->handler(req);
}

/* After a handler ran: park the connection or send the response. */
static enum MHD_Result exchange_finish(struct exchange *ex, struct MHD_Connection *c)
{
	struct request *req = &ex->req;

	if (req->suspend_requested && !req->status) {
		req->suspend_requested = false;
		ex->suspended = true;
		MHD_suspend_connection(c);
		/* Registered only now, so a wake can never come before the park. */
		req->on_suspended(req);
		return MHD_YES;
	}
	if (!req->status)
		res_error(req, 500, "M_UNKNOWN", "Handler produced no response");
	ex->answered = true;
	return send_response(c, req);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
	struct http_server *srv = cls;
	struct exchange *ex = *con_cls;

	(void)version;
	if (!ex) {
		ex = calloc(1, sizeof(*ex));
		if (!ex)
			return MHD_NO;
		*con_cls = ex;
		ex->started_ms = time_mono_ms();
		request_init(&ex->req, srv->opts.app, c, url, srv->opts.max_json_depth);
		ex->req.client_ip = client_ip_of(c, srv->opts.trusted_proxies);
		if (!exchange_begin(srv, ex, c, url, method)) {
			ex->refused = true;
			/* A declared oversized body is refused before it is read
			 * (MHD then closes the connection); other early answers
			 * wait for the end of the request so keep-alive survives. */
			if (ex->req.status == 413 || ex->close_early) {
				ex->answered = true;
				return send_response(c, &ex->req);
			}
		}
		return MHD_YES;
	}
	if (ex->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ex->refused) {
		if (*upload_data_size > 0) {
			*upload_data_size = 0;   /* discard the body of a refused request */
			return MHD_YES;
		}
		ex->answered = true;
		return send_response(c, &ex->req);
	}
	if (*upload_data_size > 0) {
		exchange_body_append(srv, ex, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ex->suspended) {
		/* Woken: check the token again (the account may have been locked
		 * or logged out while the request was parked: it must not be
		 * served one more byte), then run the handler again. */
		ex->suspended = false;
		ex->req.resumed = true;
		request_auth_reset(&ex->req);
		if (http_authenticate(&ex->req, srv->opts.store, ex->req.route->auth) == 0)
			ex->req.route->handler(&ex->req);
		return exchange_finish(ex, c);
	}
	/* In flight from here on: shutdown waits for what a handler started,
	 * not for a peer that stalls halfway through sending its request. */
	ex->counted = true;
	atomic_fetch_add(&srv->inflight, 1);
	exchange_dispatch(srv, ex);
	return exchange_finish(ex, c);
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct exchange *ex = *con_cls;

	(void)c;
	(void)toe;
	if (!ex)
		return;
	if (log_get_level() >= LOG_DEBUG)
		log_debug("%s %s -> %u (%lld ms)", ex->req.route ? ex->req.route->name : "-",
		          ex->req.path ? ex->req.path : "?", ex->req.status,
		          (long long)(time_mono_ms() - ex->started_ms));
	if (ex->counted)
		atomic_fetch_sub(&srv->inflight, 1);
	request_release(&ex->req);
	free(ex);
	*con_cls = NULL;
}

/* Keep the URL and arguments percent-encoded: the router decodes path
 * segments itself (an encoded '/' must not split a segment) and
 * req_query() decodes arguments. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("microhttpd: %s", line);
}

static int sockaddr_fill(const char *addr, uint16_t port, struct sockaddr_storage *ss,
                         socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

struct http_server *http_server_start(const struct http_server_opts *opts,
                                      char *err, size_t err_len)
{
	struct http_server *srv;
	struct sockaddr_storage ss;
	socklen_t sslen;
	/* poll(), not epoll: in epoll mode libmicrohttpd sometimes misses a
	 * client's EOF that arrives in the same segment as its data, leaving
	 * the connection open until the timeout (test_http_hostile.py
	 * garbage cases). Parked long-polls are not in the poll set, so the
	 * sets stay small. */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
	                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	const union MHD_DaemonInfo *info;

	if (sockaddr_fill(opts->listen_addr, opts->port, &ss, &sslen) != 0) {
		snprintf(err, err_len, "listen address is not an IP literal: %s", opts->listen_addr);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	srv->opts = *opts;
	atomic_init(&srv->inflight, 0);
	srv->daemon = MHD_start_daemon(flags, opts->port, NULL, NULL, access_cb, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(opts->threads ? opts->threads : 4),
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)20000,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(err, err_len, "cannot listen on %s:%u (address in use?)",
		         opts->listen_addr, (unsigned)opts->port);
		free(srv);
		return NULL;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : opts->port;
	return srv;
}

uint16_t http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_stop(struct http_server *srv, int grace_ms)
{
	MHD_socket fd;
	int64_t deadline;

	if (!srv)
		return;
	/* Stop accepting, let in-flight requests finish, then close. */
	fd = MHD_quiesce_daemon(srv->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	deadline = time_mono_ms() + grace_ms;
	while (atomic_load(&srv->inflight) > 0 && time_mono_ms() < deadline)
		usleep(10000);
	MHD_stop_daemon(srv->daemon);
	free(srv);
}
