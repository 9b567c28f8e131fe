/*
 * config_write.c: struct config -> documented homeserver.yaml.
 *
 * Written by hand rather than with cyaml_save: the file is read by people,
 * and every option carries its documentation in comments, which libcyaml
 * cannot emit. The text mirrors docs/configuration.md (the unit test checks
 * that every key written is documented there). Strings are always double-
 * quoted with escapes, doubles printed with enough digits to read back
 * bit-identical, so config_load() returns an equal struct.
 */
#include "config/config.h"
#include "config/config_internal.h"
#include "config/config_detect.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* key: "value" with YAML double-quote escapes. */
static void emit_str(FILE *f, const char *indent, const char *key, const char *v)
{
	fprintf(f, "%s%s: \"", indent, key);
	for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputs("\"\n", f);
}

/* Shortest %g form that strtod reads back to the same double. */
static void double_format(char *out, size_t out_len, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, out_len, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void emit_rate(FILE *f, const char *name, const struct config_rate *r)
{
	char num[40];

	double_format(num, sizeof(num), r->per_second);
	fprintf(f, "  %s: {per_second: %s, burst: %" PRIu32 "}\n", name, num, r->burst);
}

static void write_identity(FILE *f, const struct config *cfg)
{
	fputs("# The server name: the domain part of every user ID (@alice:server_name)\n"
	      "# and room alias here. Required; it cannot change once users exist, as\n"
	      "# their IDs contain it. A DNS name, an IPv4 literal or an [IPv6] literal,\n"
	      "# with an optional :port (spec appendices, \"Server Name\").\n", f);
	emit_str(f, "", "server_name", cfg->server_name);
	fprintf(f, "\n# Address the HTTP listener binds: \"IP:PORT\" or \"[IPv6]:PORT\", an IP\n"
	        "# literal, never a name. Default \"%s:%d\": loopback only, so a fresh\n"
	        "# server is not exposed until a TLS reverse proxy is put in front of it.\n",
	        CONFIG_DEFAULT_LISTEN_ADDR, CONFIG_DEFAULT_LISTEN_PORT);
	fprintf(f, strchr(cfg->listen_addr, ':') ? "listen: \"[%s]:%u\"\n" : "listen: \"%s:%u\"\n",
	        cfg->listen_addr, (unsigned)cfg->listen_port);
	fputs("\n# The URL clients reach this server at, advertised in\n"
	      "# /.well-known/matrix/client. http:// or https://. Default\n"
	      "# \"" CONFIG_DEFAULT_PUBLIC_BASEURL "\", which matches the default listen\n"
	      "# address; set it to the public https:// URL of your reverse proxy.\n", f);
	emit_str(f, "", "public_baseurl", cfg->public_baseurl);
	fputs("\n# Reverse proxies whose X-Forwarded-For header is believed, as\n"
	      "# \"CIDR, CIDR\" (e.g. \"127.0.0.1/32\" for a proxy on this host). Behind\n"
	      "# a proxy, set it: per-IP rate limits, the access ledger and new-IP\n"
	      "# detection need the client's address, not the proxy's. Default \"\".\n", f);
	emit_str(f, "", "trusted_proxies", cfg->trusted_proxies);
}

static void write_storage(FILE *f, const struct config *cfg)
{
	fputs("\n# Directory holding the server's data (database, signing key). A relative\n"
	      "# path is taken from the directory of this file. Default: the directory\n"
	      "# of this file, so a server is one self-contained folder.\n", f);
	emit_str(f, "", "data_dir", cfg->data_dir);
	fputs("\n# Storage. backend: only \"sqlite\" so far (embedded, nothing to set up).\n"
	      "# path: the SQLite file, relative to data_dir. Default \""
	      CONFIG_DEFAULT_DATABASE_PATH "\".\n", f);
	fputs("database:\n", f);
	emit_str(f, "  ", "backend", cfg->database_backend);
	emit_str(f, "  ", "path", cfg->database_path);
	fputs("\n# The server's ed25519 signing key, created on first start; relative to\n"
	      "# data_dir. Default \"" CONFIG_DEFAULT_SIGNING_KEY_PATH "\". Losing it makes other servers\n"
	      "# distrust events this server signed before; back it up.\n", f);
	emit_str(f, "", "signing_key_path", cfg->signing_key_path);
	fputs("\n# Log verbosity: error, warning, info or debug. Default \""
	      CONFIG_DEFAULT_LOG_LEVEL "\": one line per\n"
	      "# notable event without the volume of debug. Secrets are never logged.\n", f);
	emit_str(f, "", "log_level", cfg->log_level);
	fprintf(f, "\n# Threads serving HTTP requests, %d to %d. Default %d: a sender waits for\n"
	        "# its event to be on disk, and more waiting senders share each group\n"
	        "# commit (docs/performance.md). Parked /sync requests hold no thread.\n",
	        CONFIG_HTTP_THREADS_MIN, CONFIG_HTTP_THREADS_MAX, CONFIG_DEFAULT_HTTP_THREADS);
	fprintf(f, "http_threads: %" PRIu32 "\n", cfg->http_threads);
	fputs("\n# Room version of rooms created without one: \"10\", \"11\" or \"12\".\n"
	      "# Default \"" CONFIG_DEFAULT_ROOM_VERSION "\": the spec's recommended version, which\n"
	      "# matrix-nio and matrix-js-sdk both handle (docs/configuration.md).\n", f);
	emit_str(f, "", "default_room_version", cfg->default_room_version);
}

static void write_accounts(FILE *f, const struct config *cfg)
{
	fputs("\n# Who may create an account through the client API: open or closed.\n"
	      "# Default closed: an open server on the internet fills with spam\n"
	      "# accounts; admins create users with the shared secret below.\n", f);
	fprintf(f, "registration: \"%s\"\n",
	        cfg->registration == CONFIG_REGISTRATION_OPEN ? "open" : "closed");
	fprintf(f, "\n# Secret for the admin registration API (/_synapse/admin/v1/register).\n"
	        "# Empty (the default) disables that API: no secret exists to leak until\n"
	        "# an admin chooses one. At most %d bytes; keep this file mode 0600\n"
	        "# while it is set.\n", CONFIG_SECRET_MAX);
	emit_str(f, "", "registration_shared_secret", cfg->registration_shared_secret);
	fprintf(f, "\n# Shortest password accepted, in bytes, %d to %d. Default %d (NIST SP\n"
	        "# 800-63B's minimum for user-chosen passwords).\n",
	        CONFIG_PASSWORD_MIN_MIN, CONFIG_PASSWORD_MIN_MAX, CONFIG_DEFAULT_PASSWORD_MIN);
	fprintf(f, "password_min_length: %" PRIu32 "\n", cfg->password_min_length);
	fprintf(f, "\n# Password hashing cost (argon2id). ops_limit: passes, libsodium's\n"
	        "# range (1 and up). mem_limit_kib: memory per hash, %d to %d KiB.\n"
	        "# Defaults %d and %d (19 MiB): OWASP's minimum argon2id setting.\n"
	        "# Raising them slows every login and costs memory per concurrent one.\n",
	        CONFIG_HASH_MEM_KIB_MIN, CONFIG_HASH_MEM_KIB_MAX,
	        CONFIG_DEFAULT_HASH_OPS, CONFIG_DEFAULT_HASH_MEM_KIB);
	fputs("password_hash:\n", f);
	fprintf(f, "  ops_limit: %" PRIu64 "\n", cfg->password_hash_ops_limit);
	fprintf(f, "  mem_limit_kib: %" PRIu64 "\n", cfg->password_hash_mem_limit_kib);
}

static void write_tokens(FILE *f, const struct config *cfg)
{
	fprintf(f, "\n# Lifetime in ms of access tokens issued together with a refresh token\n"
	        "# (clients that send refresh_token: true); other tokens live until logout.\n"
	        "# At least %d, at most %" PRIu64 " (ten years). Default %d\n"
	        "# (5 minutes): a leaked token is short-lived and the client refreshes\n"
	        "# it silently.\n",
	        CONFIG_ACCESS_TTL_MS_MIN, CONFIG_TTL_MS_MAX, CONFIG_DEFAULT_ACCESS_TTL_MS);
	fprintf(f, "access_token_lifetime_ms: %" PRIu64 "\n", cfg->access_token_lifetime_ms);
	fprintf(f, "\n# Lifetime in ms of refresh tokens: 0 (the default) means they never\n"
	        "# expire, as a refresh token is used once and replaced; otherwise %d to\n"
	        "# %" PRIu64 ". A finite value logs idle devices out after that long.\n",
	        CONFIG_ACCESS_TTL_MS_MIN, CONFIG_TTL_MS_MAX);
	fprintf(f, "refresh_token_lifetime_ms: %" PRIu64 "\n", cfg->refresh_token_lifetime_ms);
}

static void write_limits(FILE *f, const struct config *cfg)
{
	fprintf(f, "\n# Bounds on JSON request bodies. max_json_body_bytes: %d to %d,\n"
	        "# default %d (1 MiB: an event is at most 64 KiB, the rest is headroom for\n"
	        "# key uploads). max_json_depth: nesting, %d to %d, default %d (no\n"
	        "# legitimate request nests deeper; deep nesting is an attack on parsers).\n",
	        CONFIG_JSON_BODY_MIN, CONFIG_JSON_BODY_MAX, CONFIG_DEFAULT_JSON_BODY,
	        CONFIG_JSON_DEPTH_MIN, CONFIG_JSON_DEPTH_MAX, CONFIG_DEFAULT_JSON_DEPTH);
	fputs("limits:\n", f);
	fprintf(f, "  max_json_body_bytes: %" PRIu64 "\n", cfg->max_json_body_bytes);
	fprintf(f, "  max_json_depth: %" PRIu32 "\n", cfg->max_json_depth);
	fprintf(f, "\n# Token buckets: per_second is the refill rate (above 0, at most %.0f),\n"
	        "# burst the bucket size (%d to %d). login_*: login attempts per\n"
	        "# account and per IP, default 0.17/s burst 3 (about 10 a\n"
	        "# minute: a person retyping is never blocked, password guessing is).\n"
	        "# register_per_ip: same reasoning. client_per_user: every authenticated\n"
	        "# request of one user, default 50/s burst 200 (an initial sync and a busy\n"
	        "# client fit, a runaway bot does not).\n",
	        CONFIG_RATE_MAX, CONFIG_BURST_MIN, CONFIG_BURST_MAX);
	fputs("rate_limits:\n", f);
	emit_rate(f, "login_per_account", &cfg->rate_login_per_account);
	emit_rate(f, "login_per_ip", &cfg->rate_login_per_ip);
	emit_rate(f, "register_per_ip", &cfg->rate_register_per_ip);
	emit_rate(f, "client_per_user", &cfg->rate_client_per_user);
}

static void write_media(FILE *f, const struct config *cfg)
{
	fprintf(f, "\n# Largest upload to the media repository, in bytes, %d to %" PRIu64 ".\n"
	        "# Default %d (50 MiB): photos and short videos fit; an upload is\n"
	        "# streamed to disk, so the cost is disk space, not memory.\n",
	        CONFIG_UPLOAD_MIN, CONFIG_UPLOAD_MAX, CONFIG_DEFAULT_MAX_UPLOAD);
	fprintf(f, "max_upload_bytes: %" PRIu64 "\n", cfg->max_upload_bytes);
	fprintf(f, "\n# Total bytes one user may upload; 0 means no quota, otherwise %d\n"
	        "# to 2^50. Default %" PRIu64 " (1 GiB): one account cannot fill the disk.\n",
	        CONFIG_UPLOAD_MIN, CONFIG_DEFAULT_MEDIA_QUOTA);
	fprintf(f, "media_quota_bytes_per_user: %" PRIu64 "\n", cfg->media_quota_bytes_per_user);
	fputs("\n# Serve the deprecated /_matrix/media/v3/download, /thumbnail and /config\n"
	      "# paths to requests carrying a valid access token (never to anonymous\n"
	      "# ones). Default false: only the authenticated /_matrix/client/v1/media\n"
	      "# endpoints serve media, so an mxc URL alone never reveals content.\n", f);
	fprintf(f, "legacy_media_authenticated: %s\n",
	        cfg->legacy_media_authenticated ? "true" : "false");
	fputs("\n# URL previews (GET /_matrix/client/v1/media/preview_url). Default false:\n"
	      "# when on, the server fetches pages users name (http and https only, at\n"
	      "# most 1 MiB and 10 s, 3 redirects), never from loopback, private,\n"
	      "# link-local or other internal addresses (checked on every connection).\n", f);
	fprintf(f, "url_preview_enabled: %s\n", cfg->url_preview_enabled ? "true" : "false");
	fputs("\n# Address ranges a URL preview may reach despite that guard, as\n"
	      "# \"CIDR, CIDR\" (e.g. an intranet wiki). Default \"\": none.\n", f);
	emit_str(f, "", "url_preview_ip_allowlist", cfg->url_preview_ip_allowlist);
}

static void write_ledger(FILE *f, const struct config *cfg)
{
	fputs("\n# Access ledger: record every read served to a user (room events by\n"
	      "# sync, messages, context..., media, directory searches, profiles, key\n"
	      "# queries) in a hash-chained table, for `chappe audit verify` and\n"
	      "# `chappe audit exposure`. Default true. false records nothing: after a\n"
	      "# breach nobody could tell what left.\n", f);
	fprintf(f, "ledger_enabled: %s\n", cfg->ledger_enabled ? "true" : "false");
	fprintf(f, "\n# Days a ledger row is kept; 0 keeps them forever, otherwise %d to %d.\n"
	        "# Default %d: a breach found up to a year later can still be answered.\n",
	        CONFIG_LEDGER_RETENTION_MIN, CONFIG_LEDGER_RETENTION_MAX,
	        CONFIG_DEFAULT_LEDGER_RETENTION_DAYS);
	fprintf(f, "ledger_retention_days: %" PRIu32 "\n", cfg->ledger_retention_days);
}

static int config_emit(const struct config *cfg, FILE *f)
{
	fputs("# homeserver.yaml: configuration of the chappe Matrix homeserver.\n"
	      "# Every key but server_name is optional and defaults to the value\n"
	      "# described above it; unknown keys are an error. docs/configuration.md\n"
	      "# holds the same reference.\n\n", f);
	write_identity(f, cfg);
	write_storage(f, cfg);
	write_accounts(f, cfg);
	write_tokens(f, cfg);
	write_limits(f, cfg);
	write_media(f, cfg);
	write_ledger(f, cfg);
	config_detect_write(f, &cfg->detect);   /* scraper detection */
	return ferror(f) ? -1 : 0;
}

/* Make the rename itself durable, not only the file's content. */
static int dir_sync(const char *path)
{
	char *copy = strdup(path), *slash;
	int fd, rc;

	if (!copy)
		return -1;
	slash = strrchr(copy, '/');
	if (!slash)
		strcpy(copy, ".");
	else if (slash == copy)
		copy[1] = '\0';
	else
		*slash = '\0';
	fd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int config_write(const struct config *cfg, const char *path)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd = -1, rc = -1, saved;

	if (config_validate(cfg, NULL, 0) < 0) {
		errno = EINVAL;
		return -1;
	}
	/* Same directory, so that rename() is atomic. */
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		errno = ENOMEM;
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		goto err;
	/* mkstemp already uses 0600; say it, the secret depends on it. */
	if (fchmod(fd, 0600) < 0)
		goto err;
	f = fdopen(fd, "w");
	if (!f)
		goto err;
	fd = -1;
	if (config_emit(cfg, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) < 0)
		goto err;
	if (fclose(f) != 0) {
		f = NULL;
		goto err;
	}
	f = NULL;
	if (rename(tmp, path) < 0)
		goto err;
	free(tmp);
	tmp = NULL;
	if (dir_sync(path) < 0)
		goto err;
	return 0;
err:
	saved = errno ? errno : EIO;
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	errno = saved;
	return rc;
}
