/*
 * config_load.c: homeserver.yaml -> struct config.
 *
 * libcyaml checks the shape (known keys, nesting, no duplicates) into a
 * "raw" struct whose scalars are all strings, NULL when the key is absent.
 * C then parses each scalar itself: libcyaml's integer parsing accepts
 * "1.5" as 1 and "0x10" as 16, and absent-versus-zero must be told apart
 * to apply defaults. libcyaml reports where an error is only through its
 * log, so a log function captures the message and backtrace of this one
 * call (on the stack: config_load stays thread-safe) and turns them into a
 * key path. Syntax errors are located by running libyaml's parser, since
 * libcyaml's backtrace points at the enclosing key, not at the fault.
 */
#include "config/config.h"
#include "config/config_internal.h"
#include "config/config_detect.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <sodium.h>
#include <yaml.h>

#include "util/log.h"

struct raw_rate { char *per_second; char *burst; };
struct raw_rates {
	struct raw_rate *login_per_account;
	struct raw_rate *login_per_ip;
	struct raw_rate *register_per_ip;
	struct raw_rate *client_per_user;
};
struct raw_database { char *backend; char *path; };
struct raw_hash { char *ops_limit; char *mem_limit_kib; };
struct raw_limits { char *max_json_body_bytes; char *max_json_depth; };
struct raw_config {
	char *server_name, *listen, *public_baseurl, *data_dir;
	struct raw_database *database;
	char *signing_key_path, *log_level, *http_threads, *registration, *default_room_version;
	char *registration_shared_secret, *password_min_length;
	struct raw_hash *password_hash;
	char *access_token_lifetime_ms, *refresh_token_lifetime_ms;
	struct raw_limits *limits;
	struct raw_rates *rate_limits;
	/* media repository */
	char *max_upload_bytes, *media_quota_bytes_per_user;
	char *legacy_media_authenticated, *url_preview_enabled, *url_preview_ip_allowlist;
	char *trusted_proxies;
	/* access ledger */
	char *ledger_enabled, *ledger_retention_days;
	/* scraper detection (config_detect.c) */
	struct config_raw_detect *scraper_detection;
};

/* Every scalar is an optional string; every section an optional mapping
 * that may be left empty ("rate_limits:" with all children commented out).
 * An empty or null scalar ("key:", "key: ~", "key: null") reads as absent,
 * so it takes its default: without this, "registration_shared_secret: null"
 * would set the guessable secret "null". */
#define SCALAR(key, type, member, max) \
	CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL, type, member, 0, max)
#define SECTION(key, type, member, fields) \
	CYAML_FIELD_MAPPING_PTR(key, CYAML_FLAG_POINTER_NULL | CYAML_FLAG_OPTIONAL, type, member, fields)

static const cyaml_schema_field_t rate_fields[] = {
	SCALAR("per_second", struct raw_rate, per_second, 64),
	SCALAR("burst", struct raw_rate, burst, 64),
	CYAML_FIELD_END
};
static const cyaml_schema_field_t rates_fields[] = {
	SECTION("login_per_account", struct raw_rates, login_per_account, rate_fields),
	SECTION("login_per_ip", struct raw_rates, login_per_ip, rate_fields),
	SECTION("register_per_ip", struct raw_rates, register_per_ip, rate_fields),
	SECTION("client_per_user", struct raw_rates, client_per_user, rate_fields),
	CYAML_FIELD_END
};
static const cyaml_schema_field_t database_fields[] = {
	SCALAR("backend", struct raw_database, backend, 64),
	SCALAR("path", struct raw_database, path, CONFIG_STRING_MAX - 1),
	CYAML_FIELD_END
};
static const cyaml_schema_field_t hash_fields[] = {
	SCALAR("ops_limit", struct raw_hash, ops_limit, 64),
	SCALAR("mem_limit_kib", struct raw_hash, mem_limit_kib, 64),
	CYAML_FIELD_END
};
static const cyaml_schema_field_t limits_fields[] = {
	SCALAR("max_json_body_bytes", struct raw_limits, max_json_body_bytes, 64),
	SCALAR("max_json_depth", struct raw_limits, max_json_depth, 64),
	CYAML_FIELD_END
};
static const cyaml_schema_field_t top_fields[] = {
	SCALAR("server_name", struct raw_config, server_name, 255),
	SCALAR("listen", struct raw_config, listen, 128),
	SCALAR("public_baseurl", struct raw_config, public_baseurl, CONFIG_STRING_MAX - 1),
	SCALAR("data_dir", struct raw_config, data_dir, CONFIG_STRING_MAX - 1),
	SECTION("database", struct raw_config, database, database_fields),
	SCALAR("signing_key_path", struct raw_config, signing_key_path, CONFIG_STRING_MAX - 1),
	SCALAR("log_level", struct raw_config, log_level, 64),
	SCALAR("default_room_version", struct raw_config, default_room_version, 16),
	SCALAR("http_threads", struct raw_config, http_threads, 64),
	SCALAR("registration", struct raw_config, registration, 64),
	SCALAR("registration_shared_secret", struct raw_config, registration_shared_secret,
	       CONFIG_SECRET_MAX),
	SCALAR("password_min_length", struct raw_config, password_min_length, 64),
	SECTION("password_hash", struct raw_config, password_hash, hash_fields),
	SCALAR("access_token_lifetime_ms", struct raw_config, access_token_lifetime_ms, 64),
	SCALAR("refresh_token_lifetime_ms", struct raw_config, refresh_token_lifetime_ms, 64),
	SECTION("limits", struct raw_config, limits, limits_fields),
	SECTION("rate_limits", struct raw_config, rate_limits, rates_fields),
	/* media repository */
	SCALAR("max_upload_bytes", struct raw_config, max_upload_bytes, 64),
	SCALAR("media_quota_bytes_per_user", struct raw_config, media_quota_bytes_per_user, 64),
	SCALAR("legacy_media_authenticated", struct raw_config, legacy_media_authenticated, 16),
	SCALAR("url_preview_enabled", struct raw_config, url_preview_enabled, 16),
	SCALAR("url_preview_ip_allowlist", struct raw_config, url_preview_ip_allowlist, 1024),
	SCALAR("trusted_proxies", struct raw_config, trusted_proxies, 1024),
	/* access ledger */
	SCALAR("ledger_enabled", struct raw_config, ledger_enabled, 16),
	SCALAR("ledger_retention_days", struct raw_config, ledger_retention_days, 64),
	/* scraper detection */
	SECTION("scraper_detection", struct raw_config, scraper_detection, config_detect_fields),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_config, top_fields),
};

#define LOAD_LOG_DEPTH 8

/* What libcyaml logged during one load. */
struct load_log {
	char msg[256];                       /* first error line, "Load: " cut */
	char fields[LOAD_LOG_DEPTH][64];     /* backtrace keys, innermost first */
	unsigned nfields;
	int line;                            /* innermost location, 0 = unknown */
	bool in_backtrace;
	bool extra_documents;
};

/* Relies on libcyaml 1.3's log wording; if it changes, messages lose the
 * key path but loading stays correct (the error code still fails it). */
static void load_log_capture(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct load_log *lg = ctx;
	char line[512], name[64];
	int ln, col;
	size_t n;

	vsnprintf(line, sizeof(line), fmt, args);
	n = strcspn(line, "\n");
	line[n] = '\0';
	if (strstr(line, "Ignoring documents after first")) {
		lg->extra_documents = true;
	} else if (strncmp(line, "Load: Backtrace:", 16) == 0) {
		lg->in_backtrace = true;
	} else if (lg->in_backtrace &&
	           sscanf(line, "  in mapping field '%63[^']' (line: %d, column: %d)",
	                  name, &ln, &col) == 3) {
		if (lg->nfields == 0)
			lg->line = ln;
		if (lg->nfields < LOAD_LOG_DEPTH)
			memcpy(lg->fields[lg->nfields++], name, sizeof(name));
	} else if (level == CYAML_LOG_ERROR && !lg->in_backtrace && lg->msg[0] == '\0' &&
	           strncmp(line, "Load: ", 6) == 0) {
		size_t len = strnlen(line + 6, sizeof(lg->msg) - 1);
		memcpy(lg->msg, line + 6, len);
		lg->msg[len] = '\0';
	}
}

/* Copy untrusted text into a message: printable ASCII, bounded. */
static void echo_safe(char *out, size_t out_len, const char *s)
{
	size_t i = 0, max = out_len > 4 ? out_len - 4 : 0;

	if (out_len == 0)
		return;
	for (; *s && i < max; s++)
		out[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s && max > 0) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static void load_log_path(const struct load_log *lg, char *out, size_t out_len)
{
	size_t n = 0;

	out[0] = '\0';
	for (unsigned i = lg->nfields; i-- > 0 && n < out_len;)
		n += (size_t)snprintf(out + n, out_len - n, "%s%s", n ? "." : "", lg->fields[i]);
}

/* libcyaml only says "libyaml parser error"; libyaml knows where. */
static void syntax_error(const uint8_t *buf, size_t len, char *err, size_t err_len)
{
	yaml_parser_t parser;
	yaml_event_t event;
	bool done = false;

	if (!yaml_parser_initialize(&parser)) {
		config_err(err, err_len, "YAML syntax error");
		return;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &event)) {
			config_err(err, err_len, "YAML syntax error at line %zu, column %zu: %s",
			           parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			           parser.problem ? parser.problem : "invalid YAML");
			yaml_parser_delete(&parser);
			return;
		}
		done = event.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&event);
	}
	yaml_parser_delete(&parser);
	config_err(err, err_len, "YAML syntax error");
}

static void load_error(const struct load_log *lg, cyaml_err_t e,
                       const uint8_t *buf, size_t len, char *err, size_t err_len)
{
	char path[256], key[80];
	const char *what;

	load_log_path(lg, path, sizeof(path));
	switch (e) {
	case CYAML_ERR_LIBYAML_PARSER:
		syntax_error(buf, len, err, err_len);
		return;
	case CYAML_ERR_OOM:
		config_err(err, err_len, "out of memory");
		return;
	case CYAML_ERR_INVALID_KEY:
		/* The backtrace names the parents; the message names the key. */
		echo_safe(key, sizeof(key), strncmp(lg->msg, "Unexpected key: ", 16) == 0
		                            ? lg->msg + 16 : "?");
		config_err(err, err_len, "%s%s%s: unknown key", path, path[0] ? "." : "", key);
		return;
	case CYAML_ERR_INVALID_VALUE:
		what = strstr(lg->msg, "Expecting MAPPING") ? "expected a mapping of keys"
		     : "expected a single value, not a list or mapping";
		break;
	case CYAML_ERR_STRING_LENGTH_MAX:
		what = "value too long";
		break;
	case CYAML_ERR_UNEXPECTED_EVENT:
		/* The backtrace's line is the previous key's here, not the repeat's. */
		if (strstr(lg->msg, "already seen")) {
			config_err(err, err_len, "%s: key given twice", path[0] ? path : "?");
			return;
		}
		what = "unexpected YAML";
		break;
	case CYAML_ERR_ALIAS:
		what = "YAML anchors and aliases are not supported";
		break;
	default:
		what = cyaml_strerror(e);
		break;
	}
	if (path[0] == '\0' && e == CYAML_ERR_INVALID_VALUE)
		config_err(err, err_len, "the file must be a YAML mapping of keys, "
		           "like \"server_name: example.org\"");
	else if (path[0] == '\0')
		config_err(err, err_len, "%s", what);
	else if (lg->line > 0)
		config_err(err, err_len, "%s: %s (line %d)", path, what, lg->line);
	else
		config_err(err, err_len, "%s: %s", path, what);
}

/* Read a regular file of at most CONFIG_FILE_MAX_BYTES. */
static int file_read(const char *path, uint8_t **out, size_t *out_len, mode_t *mode,
                     char *err, size_t err_len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0)
		return config_err(err, err_len, "cannot open %s: %m", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		config_err(err, err_len, "%s: not a regular file", path);
		goto out;
	}
	buf = malloc(CONFIG_FILE_MAX_BYTES + 1);
	if (!buf) {
		config_err(err, err_len, "out of memory");
		goto out;
	}
	/* Read one byte past the limit to tell "exactly full" from "too big". */
	while (len <= CONFIG_FILE_MAX_BYTES) {
		ssize_t n = read(fd, buf + len, CONFIG_FILE_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			config_err(err, err_len, "cannot read %s: %m", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_FILE_MAX_BYTES) {
		config_err(err, err_len, "%s: larger than %d bytes", path, CONFIG_FILE_MAX_BYTES);
		goto out;
	}
	*out = buf;
	*out_len = len;
	*mode = st.st_mode;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* The absolute directory holding the config file (the directory of the
 * path as given, so a symlinked file resolves next to the link). */
static char *file_dir(const char *path)
{
	char *copy = strdup(path), *slash, *dir;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash)
		strcpy(copy, ".");
	else if (slash == copy)
		copy[1] = '\0';
	else
		*slash = '\0';
	dir = realpath(copy, NULL);
	free(copy);
	return dir;
}

static int u64_parse(const char *key, const char *s, uint64_t max, uint64_t *out,
                     char *err, size_t err_len)
{
	char shown[48];
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return config_err(err, err_len, "%s: number too large", key);
		v = v * 10 + d;
	}
	if (i == 0 || s[i] != '\0') {
		echo_safe(shown, sizeof(shown), s);
		return config_err(err, err_len, "%s: expected a whole number, got '%s'", key, shown);
	}
	*out = v;
	return 0;
}

static int u32_parse(const char *key, const char *s, uint32_t *out, char *err, size_t err_len)
{
	uint64_t v;

	if (u64_parse(key, s, UINT32_MAX, &v, err, err_len) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* YAML 1.2 core booleans only ("yes"/"on" are YAML 1.1 and surprise people). */
static int bool_parse(const char *key, const char *s, bool *out, char *err, size_t err_len)
{
	char shown[48];

	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
		*out = s[0] == 't';
		return 0;
	}
	echo_safe(shown, sizeof(shown), s);
	return config_err(err, err_len, "%s: expected true or false, got '%s'", key, shown);
}

/* media repository keys */
static int apply_media(struct config *cfg, const struct raw_config *raw,
                       char *err, size_t err_len)
{
	if ((raw->max_upload_bytes &&
	     u64_parse("max_upload_bytes", raw->max_upload_bytes, UINT64_MAX,
	               &cfg->max_upload_bytes, err, err_len) < 0) ||
	    (raw->media_quota_bytes_per_user &&
	     u64_parse("media_quota_bytes_per_user", raw->media_quota_bytes_per_user, UINT64_MAX,
	               &cfg->media_quota_bytes_per_user, err, err_len) < 0) ||
	    (raw->legacy_media_authenticated &&
	     bool_parse("legacy_media_authenticated", raw->legacy_media_authenticated,
	                &cfg->legacy_media_authenticated, err, err_len) < 0) ||
	    (raw->url_preview_enabled &&
	     bool_parse("url_preview_enabled", raw->url_preview_enabled,
	                &cfg->url_preview_enabled, err, err_len) < 0))
		return -1;
	return 0;
}

/* access ledger keys */
static int apply_ledger(struct config *cfg, const struct raw_config *raw,
                        char *err, size_t err_len)
{
	uint64_t days = cfg->ledger_retention_days;

	if ((raw->ledger_enabled &&
	     bool_parse("ledger_enabled", raw->ledger_enabled, &cfg->ledger_enabled, err,
	                err_len) < 0) ||
	    (raw->ledger_retention_days &&
	     u64_parse("ledger_retention_days", raw->ledger_retention_days, UINT32_MAX, &days,
	               err, err_len) < 0))
		return -1;
	cfg->ledger_retention_days = (uint32_t)days;
	return 0;
}

static int double_parse(const char *key, const char *s, double *out, char *err, size_t err_len)
{
	char shown[48], *end;
	double v;

	/* Decimal notation only: strtod would also take "nan", "inf", hex.
	 * Overflow gives an infinity (refused here); underflow a tiny or zero
	 * value that config_validate judges like any other. */
	v = (s[0] && strspn(s, "0123456789.eE+-") == strlen(s)) ? strtod(s, &end) : NAN;
	if (isnan(v) || *end != '\0' || !isfinite(v)) {
		echo_safe(shown, sizeof(shown), s);
		return config_err(err, err_len, "%s: expected a decimal number, got '%s'", key, shown);
	}
	*out = v;
	return 0;
}

/* Replace *dst with a copy of src. */
static int str_replace(char **dst, const char *src, char *err, size_t err_len)
{
	char *copy = strdup(src);

	if (!copy)
		return config_err(err, err_len, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

static int path_replace(const char *key, char **dst, const char *base, const char *p,
                        char *err, size_t err_len)
{
	char *abs;

	if (p[0] == '\0')
		return config_err(err, err_len, "%s: must not be empty", key);
	abs = config_path_resolve(base, p);
	if (!abs)
		return config_err(err, err_len, "%s: cannot resolve path: %m", key);
	free(*dst);
	*dst = abs;
	return 0;
}

static int apply_strings(struct config *cfg, const struct raw_config *raw,
                         char *err, size_t err_len)
{
	if (raw->listen && config_listen_set(cfg, raw->listen, err, err_len) < 0)
		return -1;
	if ((raw->public_baseurl && str_replace(&cfg->public_baseurl, raw->public_baseurl, err, err_len) < 0) ||
	    (raw->log_level && str_replace(&cfg->log_level, raw->log_level, err, err_len) < 0) ||
	    (raw->default_room_version &&
	     str_replace(&cfg->default_room_version, raw->default_room_version, err, err_len) < 0) ||
	    (raw->trusted_proxies &&
	     str_replace(&cfg->trusted_proxies, raw->trusted_proxies, err, err_len) < 0) ||
	    (raw->url_preview_ip_allowlist &&
	     str_replace(&cfg->url_preview_ip_allowlist, raw->url_preview_ip_allowlist, err,
	                 err_len) < 0) ||
	    (raw->registration_shared_secret &&
	     str_replace(&cfg->registration_shared_secret, raw->registration_shared_secret, err, err_len) < 0) ||
	    (raw->signing_key_path && path_replace("signing_key_path", &cfg->signing_key_path,
	                                           cfg->data_dir, raw->signing_key_path, err, err_len) < 0))
		return -1;
	if (raw->database) {
		if ((raw->database->backend &&
		     str_replace(&cfg->database_backend, raw->database->backend, err, err_len) < 0) ||
		    (raw->database->path && path_replace("database.path", &cfg->database_path,
		                                         cfg->data_dir, raw->database->path, err, err_len) < 0))
			return -1;
	}
	if (raw->registration) {
		if (strcmp(raw->registration, "open") == 0)
			cfg->registration = CONFIG_REGISTRATION_OPEN;
		else if (strcmp(raw->registration, "closed") == 0)
			cfg->registration = CONFIG_REGISTRATION_CLOSED;
		else
			return config_err(err, err_len, "registration: must be open or closed");
	}
	return 0;
}

static int apply_numbers(struct config *cfg, const struct raw_config *raw,
                         char *err, size_t err_len)
{
	const struct raw_hash *h = raw->password_hash;
	const struct raw_limits *l = raw->limits;

	if ((raw->http_threads &&
	     u32_parse("http_threads", raw->http_threads, &cfg->http_threads, err, err_len) < 0) ||
	    (raw->password_min_length &&
	     u32_parse("password_min_length", raw->password_min_length,
	               &cfg->password_min_length, err, err_len) < 0) ||
	    (h && h->ops_limit &&
	     u64_parse("password_hash.ops_limit", h->ops_limit, UINT64_MAX,
	               &cfg->password_hash_ops_limit, err, err_len) < 0) ||
	    (h && h->mem_limit_kib &&
	     u64_parse("password_hash.mem_limit_kib", h->mem_limit_kib, UINT64_MAX,
	               &cfg->password_hash_mem_limit_kib, err, err_len) < 0) ||
	    (raw->access_token_lifetime_ms &&
	     u64_parse("access_token_lifetime_ms", raw->access_token_lifetime_ms, UINT64_MAX,
	               &cfg->access_token_lifetime_ms, err, err_len) < 0) ||
	    (raw->refresh_token_lifetime_ms &&
	     u64_parse("refresh_token_lifetime_ms", raw->refresh_token_lifetime_ms, UINT64_MAX,
	               &cfg->refresh_token_lifetime_ms, err, err_len) < 0) ||
	    (l && l->max_json_body_bytes &&
	     u64_parse("limits.max_json_body_bytes", l->max_json_body_bytes, UINT64_MAX,
	               &cfg->max_json_body_bytes, err, err_len) < 0) ||
	    (l && l->max_json_depth &&
	     u32_parse("limits.max_json_depth", l->max_json_depth, &cfg->max_json_depth,
	               err, err_len) < 0))
		return -1;
	return 0;
}

static int apply_rates(struct config *cfg, const struct raw_config *raw,
                       char *err, size_t err_len)
{
	const struct raw_rates *rs = raw->rate_limits;
	char key[96];

	if (!rs)
		return 0;
	const struct { const char *name; const struct raw_rate *raw; struct config_rate *out; } rates[] = {
		{ "login_per_account", rs->login_per_account, &cfg->rate_login_per_account },
		{ "login_per_ip", rs->login_per_ip, &cfg->rate_login_per_ip },
		{ "register_per_ip", rs->register_per_ip, &cfg->rate_register_per_ip },
		{ "client_per_user", rs->client_per_user, &cfg->rate_client_per_user },
	};
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		const struct raw_rate *r = rates[i].raw;
		if (!r)
			continue;
		snprintf(key, sizeof(key), "rate_limits.%s.per_second", rates[i].name);
		if (r->per_second && double_parse(key, r->per_second, &rates[i].out->per_second,
		                                  err, err_len) < 0)
			return -1;
		snprintf(key, sizeof(key), "rate_limits.%s.burst", rates[i].name);
		if (r->burst && u32_parse(key, r->burst, &rates[i].out->burst, err, err_len) < 0)
			return -1;
	}
	return 0;
}

/* Defaults first, then every key the file sets, then the same validation
 * a programmatically built config gets. */
static int load_apply(struct config *cfg, const struct raw_config *raw, const char *file_dir_abs,
                      char *err, size_t err_len)
{
	char *data_dir = NULL;
	int rc = -1;

	if (!raw || !raw->server_name)
		return config_err(err, err_len,
		    "server_name: required (the domain in this server's user IDs, e.g. example.org)");
	if (raw->data_dir && raw->data_dir[0] == '\0')
		return config_err(err, err_len, "data_dir: must not be empty");
	data_dir = config_path_resolve(file_dir_abs, raw->data_dir ? raw->data_dir : ".");
	if (!data_dir)
		return config_err(err, err_len, "data_dir: cannot resolve path: %m");
	if (config_defaults(cfg, raw->server_name, data_dir) < 0) {
		config_err(err, err_len, "out of memory");
		goto out;
	}
	if (apply_strings(cfg, raw, err, err_len) < 0 ||
	    apply_numbers(cfg, raw, err, err_len) < 0 ||
	    apply_rates(cfg, raw, err, err_len) < 0 ||
	    apply_media(cfg, raw, err, err_len) < 0 ||
	    apply_ledger(cfg, raw, err, err_len) < 0 ||
	    config_detect_apply(&cfg->detect, raw->scraper_detection, err, err_len) < 0 ||
	    config_validate(cfg, err, err_len) < 0)
		goto out;
	rc = 0;
out:
	free(data_dir);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

int config_load(struct config *cfg, const char *path, char *err, size_t err_len)
{
	struct load_log lg = { 0 };
	cyaml_config_t cy = {
		.log_fn = load_log_capture,
		.log_ctx = &lg,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_WARNING,
		/* Aliases are never needed here and are the classic YAML bomb. */
		.flags = CYAML_CFG_NO_ALIAS,
	};
	struct raw_config *raw = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	mode_t mode = 0;
	char *dir = NULL;
	cyaml_err_t e;
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	if (file_read(path, &buf, &len, &mode, err, err_len) < 0)
		return -1;
	dir = file_dir(path);
	if (!dir) {
		config_err(err, err_len, "cannot resolve the directory of %s: %m", path);
		goto out;
	}
	e = cyaml_load_data(buf, len, &cy, &top_schema, (cyaml_data_t **)&raw, NULL);
	if (e != CYAML_OK) {
		load_error(&lg, e, buf, len, err, err_len);
		goto out;
	}
	if (lg.extra_documents) {
		config_err(err, err_len, "the file holds more than one YAML document");
		goto out;
	}
	if (load_apply(cfg, raw, dir, err, err_len) < 0)
		goto out;
	if ((mode & 077) && cfg->registration_shared_secret && cfg->registration_shared_secret[0])
		log_warn("%s holds registration_shared_secret but other users may read it: chmod 600",
		         path);
	rc = 0;
out:
	/* The secret passed through both buffers; do not leave it in the heap. */
	if (raw && raw->registration_shared_secret)
		sodium_memzero(raw->registration_shared_secret,
		               strlen(raw->registration_shared_secret));
	if (raw)
		cyaml_free(&cy, &top_schema, raw, 0);
	if (buf)
		sodium_memzero(buf, len);
	free(buf);
	free(dir);
	return rc;
}
