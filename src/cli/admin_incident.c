/* admin_incident.c: the incident-response verbs of `chappe admin`.
 *
 * - lock, unlock, suspend, unsuspend, whois, joined-rooms, room-list act
 *   on the database directly, like the account verbs: usable with the
 *   server stopped or running (a lock is read by the running server's
 *   very next request; its parked /syncs, which this process cannot
 *   wake, are refused when their own timeout makes them re-authenticate).
 * - send-notice, broadcast-notice and room-shutdown send events. Only the
 *   running server may do that (it holds each room's state in memory), so
 *   these verbs call its admin API at the configured listen address, with
 *   an admin's access token from --token or $CHAPPE_ADMIN_TOKEN (the
 *   environment keeps it out of `ps`).
 * Output is JSON on stdout (the admin API's shapes); errors go to stderr
 * and the exit code is 1 (2 for usage errors). */
#include "cli/admin_incident.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "api/app.h"
#include "api/client/admin.h"
#include "api/client/server_notices.h"
#include "config/config.h"
#include "events/events.h"
#include "security/accounts.h"
#include "security/containment.h"
#include "store/store.h"

#define CLI_HTTP_RESPONSE_MAX (16 * 1024 * 1024)
#define CLI_HTTP_TIMEOUT_S 600   /* a broadcast to many users takes a while */

static int cli_print_json(json_t *o)
{
	if (!o) {
		fprintf(stderr, "chappe admin: could not read the database\n");
		return 1;
	}
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(o);
	return 0;
}

/* ---- a minimal HTTP/1.1 client for the running server ----------------- */

/* Percent-encode everything but unreserved characters (a path segment). */
static char *cli_path_segment(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *p = out;

	if (!out)
		return NULL;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("-._~", *c)) {
			*p++ = (char)*c;
		} else {
			*p++ = '%';
			*p++ = hex[*c >> 4];
			*p++ = hex[*c & 15];
		}
	}
	*p = '\0';
	return out;
}

static int cli_connect(const struct config *cfg)
{
	const char *host = cfg->listen_addr;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct timeval tv = { .tv_sec = CLI_HTTP_TIMEOUT_S };
	char port[8];
	int fd = -1;

	/* a wildcard bind is reached through the loopback */
	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	snprintf(port, sizeof(port), "%u", (unsigned)cfg->listen_port);
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return -1;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	                connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int cli_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send one request (Connection: close) and read the whole response.
 * 0 with *status and *body (malloc'd, NUL-terminated), or -1. */
static int cli_http(const struct config *cfg, const char *token, const char *method,
                    const char *path, const char *body, int *status, char **body_out)
{
	char *req = NULL, *resp = NULL, *sep;
	size_t len = 0, cap = 0;
	int fd = cli_connect(cfg), ret = -1, n;

	if (fd < 0) {
		fprintf(stderr, "chappe admin: cannot reach the server at %s:%u (is it running?)\n",
		        cfg->listen_addr, (unsigned)cfg->listen_port);
		return -1;
	}
	n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	             "Connection: close\r\n\r\n%s", method, path, token, strlen(body), body);
	if (n < 0 || cli_write_all(fd, req, (size_t)n) != 0)
		goto out;
	for (;;) {
		ssize_t r;
		if (cap - len < 4096) {
			char *grown;
			if (cap >= CLI_HTTP_RESPONSE_MAX || !(grown = realloc(resp, cap + 65536)))
				goto out;
			resp = grown;
			cap += 65536;
		}
		r = read(fd, resp + len, cap - len - 1);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (!resp)
		goto out;
	resp[len] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", status) != 1 || !(sep = strstr(resp, "\r\n\r\n")))
		goto out;
	*body_out = strdup(sep + 4);
	ret = *body_out ? 0 : -1;
out:
	if (ret != 0)
		fprintf(stderr, "chappe admin: no valid answer from the server\n");
	close(fd);
	free(req);
	free(resp);
	return ret;
}

/* Call the running server's admin API and print its answer. */
static int cli_admin_call(const struct config *cfg, const char *token, const char *method,
                          const char *path, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT), *answer = NULL;
	json_t *parsed;
	int status = 0, ret = 1;

	if (!token || !*token) {
		fprintf(stderr, "chappe admin: this verb goes through the running server: give an "
		                "admin's access token with --token or CHAPPE_ADMIN_TOKEN\n");
		free(text);
		return 2;
	}
	if (!text || cli_http(cfg, token, method, path, text, &status, &answer) != 0)
		goto out;
	parsed = json_loads(answer, 0, NULL);
	if (status / 100 != 2) {
		fprintf(stderr, "chappe admin: the server answered %d: %s\n", status, answer);
		json_decref(parsed);
		goto out;
	}
	ret = cli_print_json(parsed ? parsed : json_object());
out:
	free(text);
	free(answer);
	return ret;
}

/* ---- verbs ------------------------------------------------------------ */

static int cli_contain(struct app *app, const char *verb, const char *uid)
{
	enum containment_result r;

	if (strcmp(verb, "lock") == 0)
		r = security_lock(app, uid, "chappe admin lock");
	else if (strcmp(verb, "unlock") == 0)
		r = security_unlock(app, uid);
	else if (strcmp(verb, "suspend") == 0)
		r = security_suspend(app, uid, "chappe admin suspend");
	else
		r = security_unsuspend(app, uid);
	if (r == CONTAIN_NOT_FOUND)
		fprintf(stderr, "chappe admin: no such user %s\n", uid);
	else if (r != CONTAIN_OK)
		fprintf(stderr, "chappe admin %s: failed\n", verb);
	else
		printf("%s: %sed\n", uid, verb);
	return r == CONTAIN_OK ? 0 : 1;
}

/* Verbs that name a user: lock, unlock, suspend, unsuspend, whois,
 * joined-rooms, send-notice. */
static int cli_user_verb(struct app *app, const struct cli_incident_args *a, const char *token)
{
	char *uid = account_user_id_parse(app->cfg, a->arg);
	json_t *o;
	int ret = 1;

	if (!uid || store_user_exists(app->store, uid) != STORE_OK) {
		fprintf(stderr, "chappe admin: no such user %s\n", a->arg);
		goto out;
	}
	if (strcmp(a->verb, "whois") == 0) {
		ret = cli_print_json(admin_whois(app, uid));
	} else if (strcmp(a->verb, "joined-rooms") == 0) {
		o = admin_joined_rooms(app, uid);
		ret = cli_print_json(o ? json_pack("{s:I,s:o}", "total",
		                                   (json_int_t)json_array_size(o), "joined_rooms", o)
		                       : NULL);
	} else if (strcmp(a->verb, "send-notice") == 0) {
		if (!a->text) {
			fprintf(stderr, "usage: chappe admin send-notice USER TEXT\n");
			ret = 2;
			goto out;
		}
		o = json_pack("{s:s,s:o}", "user_id", uid, "content",
		              server_notice_text("chappe.admin_notice", a->text));
		ret = cli_admin_call(app->cfg, token, "POST", "/_synapse/admin/v1/send_server_notice",
		                     o);
		json_decref(o);
	} else {
		ret = cli_contain(app, a->verb, uid);
	}
out:
	free(uid);
	return ret;
}

static int cli_room_verb(struct app *app, const struct cli_incident_args *a, const char *token)
{
	char *seg = NULL, *path = NULL;
	json_t *o;
	int ret = 1;

	if (strcmp(a->verb, "room-list") == 0) {
		o = admin_rooms_all(app);
		return cli_print_json(o ? json_pack("{s:o,s:I}", "rooms", o, "total_rooms",
		                                    (json_int_t)json_array_size(o))
		                        : NULL);
	}
	if (strcmp(a->verb, "broadcast-notice") == 0) {
		o = json_pack("{s:o}", "content", server_notice_text("chappe.admin_notice", a->arg));
		ret = cli_admin_call(app->cfg, token, "POST",
		                     "/_synapse/admin/v1/send_server_notice/broadcast", o);
		json_decref(o);
		return ret;
	}
	/* room-shutdown */
	if (a->arg[0] != '!' || !(seg = cli_path_segment(a->arg)) ||
	    asprintf(&path, "/_synapse/admin/v1/rooms/%s", seg) < 0) {
		fprintf(stderr, "chappe admin room-shutdown: not a room ID: %s\n", a->arg);
		free(seg);
		return 2;
	}
	o = json_object();
	ret = cli_admin_call(app->cfg, token, "DELETE", path, o);
	json_decref(o);
	free(seg);
	free(path);
	return ret;
}

int cli_admin_incident(const struct config *cfg, struct store *st,
                       const struct cli_incident_args *a, bool *handled)
{
	static const char *const user_verbs[] = { "lock", "unlock", "suspend", "unsuspend",
	                                          "whois", "joined-rooms", "send-notice" };
	static const char *const room_verbs[] = { "room-list", "broadcast-notice",
	                                          "room-shutdown" };
	struct events_ctx ev = { .store = st, .cfg = cfg };
	struct app app = { .cfg = cfg, .store = st, .events = &ev };
	const char *token = a->token ? a->token : getenv("CHAPPE_ADMIN_TOKEN");
	bool user_verb = false, room_verb = false;
	int ret;

	for (size_t i = 0; i < sizeof(user_verbs) / sizeof(user_verbs[0]); i++)
		user_verb |= strcmp(a->verb, user_verbs[i]) == 0;
	for (size_t i = 0; i < sizeof(room_verbs) / sizeof(room_verbs[0]); i++)
		room_verb |= strcmp(a->verb, room_verbs[i]) == 0;
	*handled = user_verb || room_verb;
	if (!*handled)
		return 2;
	if (!a->arg && strcmp(a->verb, "room-list") != 0) {
		fprintf(stderr, "chappe admin %s: an argument is required\n", a->verb);
		return 2;
	}
	/* a cache of its own, read-only here: room-list reads room state */
	if (!(ev.cache = room_cache_new()))
		return 1;
	ret = user_verb ? cli_user_verb(&app, a, token) : cli_room_verb(&app, a, token);
	room_cache_free(ev.cache);
	return ret;
}
