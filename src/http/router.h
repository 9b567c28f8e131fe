/*
 * router: the map of every endpoint.
 *
 * The application hands the server one table of struct route (Redis
 * commands.def style): reading it tells which endpoints exist, which skip
 * authentication, which rate-limit class and which ledger kind applies.
 * Adding an endpoint is one row plus one handler.
 *
 * Patterns are written after their prefix, segments separated by '/',
 * "{name}" matching exactly one non-empty segment (percent-decoded before
 * the handler sees it). Matching runs on the raw, still-encoded path, so
 * an encoded '/' inside a user ID never splits a segment.
 *
 * Pure and thread-safe: the table is read-only after start.
 */
#ifndef CHAPPE_HTTP_ROUTER_H
#define CHAPPE_HTTP_ROUTER_H

#include <stddef.h>

#include "http/request.h"

/* Path prefixes a row is served under (a bit set). */
enum route_prefix {
	PFX_CLIENT_V3 = 1 << 0,   /* /_matrix/client/v3 */
	PFX_CLIENT_R0 = 1 << 1,   /* /_matrix/client/r0 (legacy clients: nio 0.20) */
	PFX_CLIENT_V1 = 1 << 2,   /* /_matrix/client/v1 */
	PFX_MEDIA_V3 = 1 << 3,    /* /_matrix/media/v3 */
	PFX_SYNAPSE_ADMIN = 1 << 4, /* /_synapse/admin */
	PFX_ROOT = 1 << 5,        /* the pattern is the whole path */
	PFX_MEDIA_R0 = 1 << 6,    /* /_matrix/media/r0 (legacy clients: nio 0.20 uploads here) */
};
#define PFX_CLIENT (PFX_CLIENT_V3 | PFX_CLIENT_R0)
#define PFX_MEDIA (PFX_MEDIA_V3 | PFX_MEDIA_R0)

enum route_auth {
	AUTH_NONE = 0,      /* never looks at a token */
	AUTH_OPTIONAL,      /* identifies the caller when a token is given */
	AUTH_REQUIRED,      /* 401 without a valid token */
	AUTH_ADMIN,         /* valid token of a server admin, else 403 */
};

enum route_ratelimit {
	RL_NONE = 0,        /* the handler limits itself (login) or nothing to limit */
	RL_CLIENT,          /* per authenticated user: rate_limits.client_per_user */
	RL_REGISTER,        /* per client IP: rate_limits.register_per_ip */
};

/* What the access ledger records for a successful call (security/). */
enum route_ledger {
	LEDGER_NONE = 0,
	LEDGER_PROFILE,
	LEDGER_DIRECTORY,
	LEDGER_SYNC,
	LEDGER_STATE,
	LEDGER_EVENT,
	LEDGER_MEMBERS,
	LEDGER_MESSAGES,
	LEDGER_PUBLIC_ROOMS,     /* the published room directory (directory feature) */
	LEDGER_RELATIONS,        /* children of an event, thread lists (relations feature) */
	LEDGER_CONTEXT,          /* events around an event (relations feature) */
	LEDGER_SEARCH,           /* server-side search results (search feature) */
	LEDGER_MEDIA,            /* media downloads and thumbnails (media feature;
	                          * each one recorded by served_media()) */
	LEDGER_KEY_QUERY,        /* device keys asked for (access ledger: served_key_query) */
};

/* How the server takes a request body; either way it is bounded while it
 * streams in (413 M_TOO_LARGE past the limit). */
enum route_body {
	BODY_JSON = 0,      /* into memory (req->body), up to http_server_opts.max_body */
	BODY_UPLOAD,        /* media uploads: streamed to a temp file (req->body_fd),
	                     * up to max_upload_body; the caller is authenticated
	                     * before the first byte is read, so an anonymous peer
	                     * cannot fill the disk */
};

/* What an account under moderation may still do on this row, decided in
 * http/auth.c right after the token is looked up, for every request:
 * - locked (client-server-api "Account locking"): "servers MUST return a
 *   401 Unauthorized error response with an M_USER_LOCKED error code and
 *   soft_logout set to true on all but" POST /logout and /logout/all;
 * - suspended ("Account suspension"): rows that write on the user's
 *   behalf (joins, invites, sends, state, profile, room creation,
 *   uploads...) answer 403 M_USER_SUSPENDED; reading, leaving, logging
 *   out, deleting devices and key management still work. */
enum route_moderation {
	MOD_ANY = 0,        /* refused when locked; allowed when suspended */
	MOD_WRITE,          /* refused when locked and when suspended */
	MOD_LOCK_EXEMPT,    /* allowed even when locked (logout) */
};

typedef void (*route_handler)(struct request *req);

struct route {
	unsigned int prefixes;        /* enum route_prefix bits */
	enum http_method method;
	const char *pattern;          /* "/profile/{userId}/displayname" */
	route_handler handler;
	enum route_auth auth;
	enum route_ratelimit ratelimit;
	enum route_ledger ledger;
	const char *name;             /* for logs: "api_profile_get" */
	enum route_body body;
	enum route_moderation moderation;
};

enum router_result {
	ROUTER_MATCH = 0,
	ROUTER_NOT_FOUND,             /* no row's pattern matches the path */
	ROUTER_BAD_METHOD,            /* a pattern matches, but not for this method */
	ROUTER_BAD_PATH,              /* matched, but a segment does not decode, or an
	                               * {roomId}/{userId}/{eventId} lacks its sigil */
};

/* Find the row for (method, raw path). On ROUTER_MATCH, *out is the row and
 * params[0..*n_params) are malloc'd decoded segments the caller frees. */
enum router_result router_match(const struct route *table, size_t n, enum http_method method,
                                const char *path, const struct route **out,
                                char *params[REQUEST_MAX_PARAMS], size_t *n_params);

/* Percent-decode src[0..len) into a malloc'd NUL-terminated string; NULL if
 * the encoding is invalid or decodes to a NUL byte. */
char *router_percent_decode(const char *src, size_t len);

#endif
