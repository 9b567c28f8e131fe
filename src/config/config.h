/*
 * config: homeserver.yaml, its schema, defaults, generation and validation.
 *
 * Contract: config_load() reads and validates a file into a struct config the
 * caller owns (config_free releases it). Every key is checked; an unknown or
 * invalid key fails the load with a message naming the key path
 * ("rate_limits.login_per_ip.burst: must be >= 1"). Relative paths in the file
 * are resolved against the file's directory, so the loaded config holds
 * absolute paths only. A loaded config is read-only and may be shared by all
 * threads.
 */
#ifndef CHAPPE_CONFIG_H
#define CHAPPE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum config_registration { CONFIG_REGISTRATION_CLOSED = 0, CONFIG_REGISTRATION_OPEN = 1 };

struct config_rate {
	double per_second;     /* steady refill rate of the bucket */
	uint32_t burst;        /* bucket size */
};

/* scraper detection (security/detect.h, config/config_detect.c): one
 * line per detector, in detect.h's enum order; thresholds by action
 * (record, alert, throttle, suspend, lock), 0 = that action is off. */
#define CONFIG_DETECT_METRICS 9
#define CONFIG_DETECT_ACTIONS 5
struct config_detect_rule {
	uint32_t window_seconds;
	uint64_t threshold[CONFIG_DETECT_ACTIONS];
};
struct config_detect {
	bool enabled;
	uint32_t young_account_days;        /* younger accounts get tighter limits */
	uint32_t young_account_percent;     /* ...this share of each threshold */
	uint32_t throttle_seconds;          /* cool-down of a throttle */
	uint32_t old_event_days;            /* old_events counts events older */
	char *alert_webhook_url;            /* NULL: no webhook */
	struct config_detect_rule rules[CONFIG_DETECT_METRICS];
};

struct config {
	char *server_name;            /* the domain in user IDs, e.g. "agent.education.example" */
	char *listen_addr;            /* IP literal to bind, e.g. "127.0.0.1" or "::" */
	uint16_t listen_port;
	char *public_baseurl;         /* advertised in /.well-known/matrix/client */
	char *data_dir;               /* absolute */
	char *database_backend;       /* "sqlite" (only back end so far) */
	char *database_path;          /* absolute path of the SQLite file */
	char *signing_key_path;       /* absolute */
	char *log_level;              /* error|warning|info|debug */
	uint32_t http_threads;        /* MHD thread pool size */
	char *default_room_version;   /* "10", "11" or "12": for createRoom without one */

	enum config_registration registration;
	char *registration_shared_secret;   /* NULL or "" = shared-secret API disabled */
	uint32_t password_min_length;
	uint64_t password_hash_ops_limit;     /* argon2id passes */
	uint64_t password_hash_mem_limit_kib; /* argon2id memory */

	uint64_t access_token_lifetime_ms;  /* for clients that asked for refresh tokens */
	uint64_t refresh_token_lifetime_ms; /* 0 = refresh tokens never expire */

	uint64_t max_json_body_bytes;       /* request bodies of the JSON APIs */
	uint32_t max_json_depth;

	struct config_rate rate_login_per_account;
	struct config_rate rate_login_per_ip;
	struct config_rate rate_register_per_ip;
	struct config_rate rate_client_per_user;  /* every authenticated request */

	/* media repository */
	uint64_t max_upload_bytes;          /* one upload; larger is 413 M_TOO_LARGE */
	uint64_t media_quota_bytes_per_user; /* all of a user's uploads; 0 = no quota */
	bool legacy_media_authenticated;    /* serve /_matrix/media/v3/download etc. to
	                                     * requests with a valid token (never anonymous) */
	bool url_preview_enabled;           /* GET .../preview_url fetches pages for users */
	char *trusted_proxies;              /* "CIDR,...": peers whose X-Forwarded-For is
	                                     * believed for the client IP; "" none */
	char *url_preview_ip_allowlist;     /* "CIDR,..." a preview may reach despite the
	                                     * SSRF guard (loopback, private...); "" none */

	/* access ledger (security/ledger.h) */
	bool ledger_enabled;                /* record every read served */
	uint32_t ledger_retention_days;     /* purge older rows; 0 = keep forever */

	/* scraper detection (security/detect.h) */
	struct config_detect detect;
};

/* Fill *cfg with defaults for a server named server_name whose data lives in
 * data_dir (absolute). Used by `serve --data-dir` on first start. 0 or -1. */
int config_defaults(struct config *cfg, const char *server_name, const char *data_dir);

/* Write cfg to path as YAML with every option documented in comments, mode
 * 0600 (it may hold the shared secret), atomically (temp, fsync, rename).
 * 0 or -1 (errno set; EINVAL if cfg fails config_validate, as the file
 * would not load back). docs/configuration.md describes the same keys. */
int config_write(const struct config *cfg, const char *path);

/* Load and validate. On failure returns -1, leaves *cfg zeroed and writes
 * a one-line message naming the bad key into err (err may be NULL). Keeps
 * no global state: any thread may call it. */
int config_load(struct config *cfg, const char *path, char *err, size_t err_len);

/* Validate a filled struct (ranges, formats); same error style. */
int config_validate(const struct config *cfg, char *err, size_t err_len);

/* Set listen_addr and listen_port from "IP:PORT" or "[IPv6]:PORT", the
 * format of the `listen` key (for a --listen flag, say). 0, or -1 with cfg
 * untouched and a message in err. */
int config_listen_set(struct config *cfg, const char *listen, char *err, size_t err_len);

/* Release the strings (the shared secret is wiped first) and zero *cfg, so
 * a second call is harmless. */
void config_free(struct config *cfg);

#endif
