/*
 * config.c: the struct itself: defaults, validation, path and listen
 * helpers, release. YAML lives in config_load.c and config_write.c.
 */
#include "config/config.h"
#include "config/config_internal.h"
#include "config/config_detect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/ids.h"
#include "util/cidr.h"
#include "util/log.h"

int config_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

char *config_path_resolve(const char *base, const char *p)
{
	size_t cap = strlen(p) + (p[0] == '/' ? 0 : strlen(base) + 1) + 2;
	char *out = malloc(cap);
	const char *parts[2] = { p[0] == '/' ? p : base, p[0] == '/' ? NULL : p };
	size_t n = 0;

	if (!out)
		return NULL;
	if (parts[0][0] != '/') {
		free(out);
		errno = EINVAL;
		return NULL;
	}
	/* Copy segment by segment: each kept segment is written as "/seg". */
	for (int i = 0; i < 2 && parts[i]; i++) {
		const char *s = parts[i];
		while (*s) {
			const char *end;
			size_t len;
			while (*s == '/')
				s++;
			end = s;
			while (*end && *end != '/')
				end++;
			len = (size_t)(end - s);
			if (len > 0 && !(len == 1 && s[0] == '.')) {
				out[n++] = '/';
				memcpy(out + n, s, len);
				n += len;
			}
			s = end;
		}
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

static int port_parse(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (i >= 5 || s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int config_listen_parse(const char *s, char **addr, uint16_t *port,
                        char *err, size_t err_len)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hstart = s;
	size_t hlen;
	int family = AF_INET;

	*addr = NULL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return config_err(err, err_len,
			    "expected \"[IPv6]:PORT\", e.g. \"[::1]:8008\"");
		hstart = s + 1;
		hlen = (size_t)(close - hstart);
		colon = close + 1;
		family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return config_err(err, err_len,
			    "expected \"IP:PORT\", e.g. \"127.0.0.1:8008\"");
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen))
			return config_err(err, err_len,
			    "an IPv6 address needs brackets: \"[::1]:8008\"");
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return config_err(err, err_len, "the address is missing or too long");
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';
	/* inet_pton rather than getaddrinfo: a bind address must be a literal,
	 * never a name whose resolution could change between restarts. */
	if (inet_pton(family, host, bin) != 1) {
		/* Echo the address only when it cannot mangle the message. */
		bool printable = true;
		for (size_t i = 0; i < hlen; i++)
			printable = printable && host[i] > 0x20 && host[i] < 0x7f;
		return config_err(err, err_len, "\"%s\" is not an IPv%d address literal",
		                  printable ? host : "?", family == AF_INET ? 4 : 6);
	}
	if (port_parse(colon + 1, port) < 0)
		return config_err(err, err_len, "the port must be a number from 1 to 65535");
	*addr = strdup(host);
	if (!*addr)
		return config_err(err, err_len, "out of memory");
	return 0;
}

int config_listen_set(struct config *cfg, const char *listen, char *err, size_t err_len)
{
	char msg[160];
	char *addr;
	uint16_t port;

	if (config_listen_parse(listen, &addr, &port, msg, sizeof(msg)) < 0)
		return config_err(err, err_len, "listen: %s", msg);
	free(cfg->listen_addr);
	cfg->listen_addr = addr;
	cfg->listen_port = port;
	return 0;
}

static void rate_set(struct config_rate *r, double per_second, uint32_t burst)
{
	r->per_second = per_second;
	r->burst = burst;
}

int config_defaults(struct config *cfg, const char *server_name, const char *data_dir)
{
	memset(cfg, 0, sizeof(*cfg));
	if (!server_name || !data_dir || data_dir[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	cfg->server_name = strdup(server_name);
	cfg->listen_addr = strdup(CONFIG_DEFAULT_LISTEN_ADDR);
	cfg->listen_port = CONFIG_DEFAULT_LISTEN_PORT;
	cfg->public_baseurl = strdup(CONFIG_DEFAULT_PUBLIC_BASEURL);
	cfg->data_dir = config_path_resolve("/", data_dir);
	cfg->database_backend = strdup(CONFIG_DEFAULT_DATABASE_BACKEND);
	cfg->database_path = config_path_resolve(data_dir, CONFIG_DEFAULT_DATABASE_PATH);
	cfg->signing_key_path = config_path_resolve(data_dir, CONFIG_DEFAULT_SIGNING_KEY_PATH);
	cfg->log_level = strdup(CONFIG_DEFAULT_LOG_LEVEL);
	cfg->default_room_version = strdup(CONFIG_DEFAULT_ROOM_VERSION);
	cfg->http_threads = CONFIG_DEFAULT_HTTP_THREADS;
	cfg->registration = CONFIG_REGISTRATION_CLOSED;
	cfg->registration_shared_secret = strdup("");
	cfg->password_min_length = CONFIG_DEFAULT_PASSWORD_MIN;
	cfg->password_hash_ops_limit = CONFIG_DEFAULT_HASH_OPS;
	cfg->password_hash_mem_limit_kib = CONFIG_DEFAULT_HASH_MEM_KIB;
	cfg->access_token_lifetime_ms = CONFIG_DEFAULT_ACCESS_TTL_MS;
	cfg->refresh_token_lifetime_ms = CONFIG_DEFAULT_REFRESH_TTL_MS;
	cfg->max_json_body_bytes = CONFIG_DEFAULT_JSON_BODY;
	cfg->max_json_depth = CONFIG_DEFAULT_JSON_DEPTH;
	rate_set(&cfg->rate_login_per_account, CONFIG_DEFAULT_LOGIN_RATE, CONFIG_DEFAULT_LOGIN_BURST);
	rate_set(&cfg->rate_login_per_ip, CONFIG_DEFAULT_LOGIN_RATE, CONFIG_DEFAULT_LOGIN_BURST);
	rate_set(&cfg->rate_register_per_ip, CONFIG_DEFAULT_LOGIN_RATE, CONFIG_DEFAULT_LOGIN_BURST);
	rate_set(&cfg->rate_client_per_user, CONFIG_DEFAULT_CLIENT_RATE, CONFIG_DEFAULT_CLIENT_BURST);
	cfg->max_upload_bytes = CONFIG_DEFAULT_MAX_UPLOAD;
	cfg->media_quota_bytes_per_user = CONFIG_DEFAULT_MEDIA_QUOTA;
	cfg->legacy_media_authenticated = false;
	cfg->url_preview_enabled = false;
	cfg->url_preview_ip_allowlist = strdup("");
	cfg->trusted_proxies = strdup("");
	cfg->ledger_enabled = true;
	cfg->ledger_retention_days = CONFIG_DEFAULT_LEDGER_RETENTION_DAYS;
	config_detect_defaults(&cfg->detect);   /* scraper detection */

	if (!cfg->server_name || !cfg->listen_addr || !cfg->public_baseurl ||
	    !cfg->data_dir || !cfg->database_backend || !cfg->database_path ||
	    !cfg->signing_key_path || !cfg->log_level || !cfg->registration_shared_secret ||
	    !cfg->default_room_version) {
		config_free(cfg);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Integer options, checked from one table so that a new option is one row. */
struct config_range {
	const char *key;
	size_t offset;
	size_t size;           /* 4 or 8 */
	uint64_t min, max;
	bool zero_ok;          /* 0 is a meaningful value outside [min, max] */
};

#define RANGE(key, member, lo, hi, zero) \
	{ key, offsetof(struct config, member), sizeof(((struct config *)0)->member), lo, hi, zero }

static const struct config_range config_ranges[] = {
	RANGE("http_threads", http_threads, CONFIG_HTTP_THREADS_MIN, CONFIG_HTTP_THREADS_MAX, false),
	RANGE("password_min_length", password_min_length,
	      CONFIG_PASSWORD_MIN_MIN, CONFIG_PASSWORD_MIN_MAX, false),
	RANGE("password_hash.mem_limit_kib", password_hash_mem_limit_kib,
	      CONFIG_HASH_MEM_KIB_MIN, CONFIG_HASH_MEM_KIB_MAX, false),
	RANGE("access_token_lifetime_ms", access_token_lifetime_ms,
	      CONFIG_ACCESS_TTL_MS_MIN, CONFIG_TTL_MS_MAX, false),
	RANGE("refresh_token_lifetime_ms", refresh_token_lifetime_ms,
	      CONFIG_ACCESS_TTL_MS_MIN, CONFIG_TTL_MS_MAX, true),
	RANGE("limits.max_json_body_bytes", max_json_body_bytes,
	      CONFIG_JSON_BODY_MIN, CONFIG_JSON_BODY_MAX, false),
	RANGE("limits.max_json_depth", max_json_depth,
	      CONFIG_JSON_DEPTH_MIN, CONFIG_JSON_DEPTH_MAX, false),
	/* media repository */
	RANGE("max_upload_bytes", max_upload_bytes, CONFIG_UPLOAD_MIN, CONFIG_UPLOAD_MAX, false),
	RANGE("media_quota_bytes_per_user", media_quota_bytes_per_user,
	      CONFIG_UPLOAD_MIN, CONFIG_MEDIA_QUOTA_MAX, true),
	/* access ledger */
	RANGE("ledger_retention_days", ledger_retention_days,
	      CONFIG_LEDGER_RETENTION_MIN, CONFIG_LEDGER_RETENTION_MAX, true),
};

static int ranges_validate(const struct config *cfg, char *err, size_t err_len)
{
	for (size_t i = 0; i < sizeof(config_ranges) / sizeof(config_ranges[0]); i++) {
		const struct config_range *r = &config_ranges[i];
		const char *p = (const char *)cfg + r->offset;
		uint64_t v;

		if (r->size == sizeof(uint32_t)) {
			uint32_t v32;
			memcpy(&v32, p, sizeof(v32));
			v = v32;
		} else {
			memcpy(&v, p, sizeof(v));
		}
		if ((v == 0 && r->zero_ok) || (v >= r->min && v <= r->max))
			continue;
		return config_err(err, err_len, "%s: must be %s%" PRIu64 " to %" PRIu64 ", got %" PRIu64,
		                  r->key, r->zero_ok ? "0 or " : "", r->min, r->max, v);
	}
	/* libsodium's own bounds, so that hashing can never fail on them. */
	if (cfg->password_hash_ops_limit < crypto_pwhash_argon2id_opslimit_min() ||
	    cfg->password_hash_ops_limit > crypto_pwhash_argon2id_opslimit_max())
		return config_err(err, err_len, "password_hash.ops_limit: must be %zu to %zu, got %" PRIu64,
		                  (size_t)crypto_pwhash_argon2id_opslimit_min(),
		                  (size_t)crypto_pwhash_argon2id_opslimit_max(),
		                  cfg->password_hash_ops_limit);
	return 0;
}

static int rates_validate(const struct config *cfg, char *err, size_t err_len)
{
	const struct { const char *key; const struct config_rate *r; } rates[] = {
		{ "login_per_account", &cfg->rate_login_per_account },
		{ "login_per_ip", &cfg->rate_login_per_ip },
		{ "register_per_ip", &cfg->rate_register_per_ip },
		{ "client_per_user", &cfg->rate_client_per_user },
	};

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		double ps = rates[i].r->per_second;
		uint32_t burst = rates[i].r->burst;
		/* 0 would make the bucket never refill: a lockout, not a limit. */
		if (!isfinite(ps) || ps <= 0 || ps > CONFIG_RATE_MAX)
			return config_err(err, err_len,
			    "rate_limits.%s.per_second: must be above 0 and at most %g, got %.15g",
			    rates[i].key, CONFIG_RATE_MAX, ps);
		if (burst < CONFIG_BURST_MIN || burst > CONFIG_BURST_MAX)
			return config_err(err, err_len,
			    "rate_limits.%s.burst: must be %d to %d, got %" PRIu32,
			    rates[i].key, CONFIG_BURST_MIN, CONFIG_BURST_MAX, burst);
	}
	return 0;
}

/* Decode one UTF-8 sequence strictly (no overlongs, surrogates or values
 * past U+10FFFF). Returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
	           : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };

	if (len == 0)
		return 0;
	*cp = len == 1 ? s[0] : (uint32_t)(s[0] & (0xff >> (len + 1)));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min[len] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

/* Text a path, URL or secret may hold: valid UTF-8 of YAML's printable
 * characters minus every control character. Anything else only comes from
 * a mistake or an attack, would corrupt the log lines that print it, and
 * could not be written back to YAML for config_load to read. */
static bool text_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	while (*p) {
		n = utf8_decode(p, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    cp == 0xfffe || cp == 0xffff)
			return false;
		p += n;
	}
	return true;
}

static int path_validate(const char *key, const char *p, char *err, size_t err_len)
{
	if (!p || p[0] == '\0')
		return config_err(err, err_len, "%s: must not be empty", key);
	if (p[0] != '/')
		return config_err(err, err_len, "%s: must be an absolute path once resolved", key);
	if (strlen(p) >= CONFIG_STRING_MAX || !text_clean(p))
		return config_err(err, err_len, "%s: too long, or holds control characters or invalid UTF-8", key);
	return 0;
}

static int baseurl_validate(const char *u, char *err, size_t err_len)
{
	const char *host;

	if (!u)
		return config_err(err, err_len, "public_baseurl: must be set");
	if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else
		return config_err(err, err_len, "public_baseurl: must start with http:// or https://");
	if (host[0] == '\0' || host[0] == '/')
		return config_err(err, err_len, "public_baseurl: the host is missing");
	if (strlen(u) >= CONFIG_STRING_MAX || strpbrk(u, " \"<>\\^`{|}") || !text_clean(u))
		return config_err(err, err_len, "public_baseurl: too long or holds characters a URL cannot");
	return 0;
}

static int strings_validate(const struct config *cfg, char *err, size_t err_len)
{
	unsigned char bin[sizeof(struct in6_addr)];
	enum log_level level;

	if (!cfg->server_name || !id_server_name_valid(cfg->server_name))
		return config_err(err, err_len,
		    "server_name: not a valid server name (a DNS name, IPv4 or [IPv6] literal, "
		    "optional :port, as in the spec appendix \"Server Name\")");
	if (!cfg->listen_addr || (inet_pton(AF_INET, cfg->listen_addr, bin) != 1 &&
	                          inet_pton(AF_INET6, cfg->listen_addr, bin) != 1))
		return config_err(err, err_len, "listen: the address must be an IP literal");
	if (cfg->listen_port == 0)
		return config_err(err, err_len, "listen: the port must be 1 to 65535");
	if (baseurl_validate(cfg->public_baseurl, err, err_len) < 0 ||
	    path_validate("data_dir", cfg->data_dir, err, err_len) < 0 ||
	    path_validate("database.path", cfg->database_path, err, err_len) < 0 ||
	    path_validate("signing_key_path", cfg->signing_key_path, err, err_len) < 0)
		return -1;
	if (!cfg->database_backend || strcmp(cfg->database_backend, "sqlite") != 0)
		return config_err(err, err_len, "database.backend: must be \"sqlite\" (the only back end so far)");
	if (!cfg->log_level || log_level_parse(cfg->log_level, &level) < 0)
		return config_err(err, err_len, "log_level: must be one of error, warning, info, debug");
	/* The room versions src/rooms/ implements. */
	if (!cfg->default_room_version || (strcmp(cfg->default_room_version, "10") != 0 &&
	    strcmp(cfg->default_room_version, "11") != 0 &&
	    strcmp(cfg->default_room_version, "12") != 0))
		return config_err(err, err_len, "default_room_version: must be \"10\", \"11\" or \"12\"");
	if (cfg->registration != CONFIG_REGISTRATION_OPEN &&
	    cfg->registration != CONFIG_REGISTRATION_CLOSED)
		return config_err(err, err_len, "registration: must be open or closed");
	if (!cfg->trusted_proxies || !cidr_list_valid(cfg->trusted_proxies))
		return config_err(err, err_len,
		    "trusted_proxies: must be a comma-separated list of CIDR ranges "
		    "(\"127.0.0.1/32, ::1/128\")");
	if (!cfg->url_preview_ip_allowlist || !cidr_list_valid(cfg->url_preview_ip_allowlist))
		return config_err(err, err_len,
		    "url_preview_ip_allowlist: must be a comma-separated list of CIDR ranges "
		    "(\"127.0.0.1/32, ::1/128\")");
	if (cfg->registration_shared_secret &&
	    (strlen(cfg->registration_shared_secret) > CONFIG_SECRET_MAX ||
	     !text_clean(cfg->registration_shared_secret)))
		return config_err(err, err_len,
		    "registration_shared_secret: at most %d bytes, no control characters, valid UTF-8",
		    CONFIG_SECRET_MAX);
	return 0;
}

int config_validate(const struct config *cfg, char *err, size_t err_len)
{
	if (strings_validate(cfg, err, err_len) < 0 ||
	    ranges_validate(cfg, err, err_len) < 0 ||
	    rates_validate(cfg, err, err_len) < 0 ||
	    config_detect_validate(&cfg->detect, err, err_len) < 0)   /* scraper detection */
		return -1;
	return 0;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server_name);
	free(cfg->listen_addr);
	free(cfg->public_baseurl);
	free(cfg->data_dir);
	free(cfg->database_backend);
	free(cfg->database_path);
	free(cfg->signing_key_path);
	free(cfg->log_level);
	free(cfg->default_room_version);
	free(cfg->url_preview_ip_allowlist);
	free(cfg->trusted_proxies);
	if (cfg->registration_shared_secret)
		sodium_memzero(cfg->registration_shared_secret,
		               strlen(cfg->registration_shared_secret));
	free(cfg->registration_shared_secret);
	config_detect_free(&cfg->detect);   /* scraper detection */
	memset(cfg, 0, sizeof(*cfg));
}
