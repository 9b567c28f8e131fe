/*
 * config_internal: what the config module's files share and nobody else needs.
 *
 * The seams: config.c owns the struct (defaults, validation, paths, free),
 * config_load.c turns YAML into the struct (libcyaml schema, error messages),
 * config_write.c turns the struct into documented YAML. The defaults and
 * ranges below are the single source for all three and for
 * docs/configuration.md (whose sync the unit test checks).
 *
 * Thread safety: everything here is pure or works on caller-owned data.
 */
#ifndef CHAPPE_CONFIG_INTERNAL_H
#define CHAPPE_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults (docs/configuration.md explains each choice). */
#define CONFIG_DEFAULT_LISTEN_ADDR      "127.0.0.1"
#define CONFIG_DEFAULT_LISTEN_PORT      8008
#define CONFIG_DEFAULT_PUBLIC_BASEURL   "http://localhost:8008/"
#define CONFIG_DEFAULT_DATABASE_BACKEND "sqlite"
#define CONFIG_DEFAULT_DATABASE_PATH    "homeserver.db"
#define CONFIG_DEFAULT_SIGNING_KEY_PATH "signing.key"
#define CONFIG_DEFAULT_LOG_LEVEL        "info"
#define CONFIG_DEFAULT_ROOM_VERSION     "12"
#define CONFIG_DEFAULT_HTTP_THREADS     16
#define CONFIG_DEFAULT_PASSWORD_MIN     8
#define CONFIG_DEFAULT_HASH_OPS         2
#define CONFIG_DEFAULT_HASH_MEM_KIB     19456
#define CONFIG_DEFAULT_ACCESS_TTL_MS    300000
#define CONFIG_DEFAULT_REFRESH_TTL_MS   0
#define CONFIG_DEFAULT_JSON_BODY        1048576
#define CONFIG_DEFAULT_JSON_DEPTH       64
#define CONFIG_DEFAULT_LOGIN_RATE       0.17
#define CONFIG_DEFAULT_LOGIN_BURST      3
#define CONFIG_DEFAULT_CLIENT_RATE      50.0
#define CONFIG_DEFAULT_CLIENT_BURST     200
/* media repository */
#define CONFIG_DEFAULT_MAX_UPLOAD       52428800            /* 50 MiB */
#define CONFIG_DEFAULT_MEDIA_QUOTA      UINT64_C(1073741824) /* 1 GiB per user */
/* access ledger: 400 days covers a breach found up to a year after the
 * fact (the June 2026 one surfaced through a third party) plus the usual
 * annual audit's margin, without keeping who-read-what forever. */
#define CONFIG_DEFAULT_LEDGER_RETENTION_DAYS 400

/* Ranges, inclusive. */
#define CONFIG_HTTP_THREADS_MIN     1
#define CONFIG_HTTP_THREADS_MAX     64
#define CONFIG_PASSWORD_MIN_MIN     1
#define CONFIG_PASSWORD_MIN_MAX     1024
#define CONFIG_HASH_MEM_KIB_MIN     8192
#define CONFIG_HASH_MEM_KIB_MAX     1048576
/* Lifetimes are added to "now" in milliseconds: ten years keeps that sum far
 * from int64 overflow while leaving admins every sensible choice. */
#define CONFIG_TTL_MS_MAX           UINT64_C(315360000000)
#define CONFIG_ACCESS_TTL_MS_MIN    60000
#define CONFIG_JSON_BODY_MIN        1024
#define CONFIG_JSON_BODY_MAX        67108864
#define CONFIG_JSON_DEPTH_MIN       4
#define CONFIG_JSON_DEPTH_MAX       512
#define CONFIG_RATE_MAX             1e6
#define CONFIG_BURST_MIN            1
#define CONFIG_BURST_MAX            1000000
/* media repository: an upload is streamed to disk, so the ceiling is about
 * disk space and time, not memory; 4 GiB keeps sizes far from overflow. */
#define CONFIG_UPLOAD_MIN           1024
#define CONFIG_UPLOAD_MAX           UINT64_C(4294967296)
#define CONFIG_MEDIA_QUOTA_MAX      (UINT64_C(1) << 50)
/* access ledger: 0 (keep forever) or 1 day to 100 years */
#define CONFIG_LEDGER_RETENTION_MIN 1
#define CONFIG_LEDGER_RETENTION_MAX 36500

/* Bounds on hostile input: the whole file, any string value. */
#define CONFIG_FILE_MAX_BYTES       (1024 * 1024)
#define CONFIG_STRING_MAX           4096
#define CONFIG_SECRET_MAX           1024

/* printf into err (if err_len > 0), always NUL-terminated. Returns -1 so
 * callers can `return config_err(...)`. */
int config_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resolve p against the absolute directory base (p itself if absolute) and
 * tidy it: "." segments, repeated and trailing slashes go; ".." stays for the
 * OS to resolve, as symlinks make a lexical ".." wrong. malloc'd, or NULL
 * (errno ENOMEM, or EINVAL if the result would not be absolute). */
char *config_path_resolve(const char *base, const char *p);

/* Split "IP:PORT" or "[IPv6]:PORT" into a malloc'd address and a port.
 * 0, or -1 with a message (without key prefix) in err. */
int config_listen_parse(const char *s, char **addr, uint16_t *port,
                        char *err, size_t err_len);

#endif
