/*
 * test_config: homeserver.yaml loading, validation, writing.
 *
 * Each test works in its own mkdtemp directory (removed at the end), so the
 * tests can run in parallel with anything. Fixtures live next to this file
 * in data/config/ and are found through __FILE__, which meson makes relative
 * to the build directory, where `meson test` runs the executable (run it by
 * hand from there too). docs/configuration.md is found the same way.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/config_internal.h"

/* ---- helpers ---------------------------------------------------------- */

static char tmpdir[512];

static int tmp_setup(void **state)
{
	char *real;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/chappe-test-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* realpath: /tmp may be a symlink, and loaded paths are resolved. */
	real = realpath(tmpdir, NULL);
	if (!real)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", real);
	free(real);
	return 0;
}

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[PATH_MAX];

	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		rm_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

static int tmp_teardown(void **state)
{
	rm_tree(tmpdir);
	return 0;
}

static void path_in_tmp(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static void file_put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static char *file_get(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The source tree's root, from this file's path. */
static void source_path(char *out, size_t len, const char *rel)
{
	const char *me = __FILE__;
	const char *tail = strstr(me, "tests/unit/test_config.c");

	assert_non_null(tail);
	snprintf(out, len, "%.*s%s", (int)(tail - me), me, rel);
}

static void assert_config_equal(const struct config *a, const struct config *b)
{
	assert_string_equal(a->server_name, b->server_name);
	assert_string_equal(a->listen_addr, b->listen_addr);
	assert_int_equal(a->listen_port, b->listen_port);
	assert_string_equal(a->public_baseurl, b->public_baseurl);
	assert_string_equal(a->data_dir, b->data_dir);
	assert_string_equal(a->database_backend, b->database_backend);
	assert_string_equal(a->database_path, b->database_path);
	assert_string_equal(a->signing_key_path, b->signing_key_path);
	assert_string_equal(a->log_level, b->log_level);
	assert_int_equal(a->http_threads, b->http_threads);
	assert_int_equal(a->registration, b->registration);
	assert_string_equal(a->registration_shared_secret, b->registration_shared_secret);
	assert_int_equal(a->password_min_length, b->password_min_length);
	assert_int_equal(a->password_hash_ops_limit, b->password_hash_ops_limit);
	assert_int_equal(a->password_hash_mem_limit_kib, b->password_hash_mem_limit_kib);
	assert_int_equal(a->access_token_lifetime_ms, b->access_token_lifetime_ms);
	assert_int_equal(a->refresh_token_lifetime_ms, b->refresh_token_lifetime_ms);
	assert_int_equal(a->max_json_body_bytes, b->max_json_body_bytes);
	assert_int_equal(a->max_json_depth, b->max_json_depth);
	const struct config_rate *ra[] = { &a->rate_login_per_account, &a->rate_login_per_ip,
	                                   &a->rate_register_per_ip, &a->rate_client_per_user };
	const struct config_rate *rb[] = { &b->rate_login_per_account, &b->rate_login_per_ip,
	                                   &b->rate_register_per_ip, &b->rate_client_per_user };
	for (int i = 0; i < 4; i++) {
		/* Exact: the writer must print doubles that read back bit-identical. */
		assert_true(ra[i]->per_second == rb[i]->per_second);
		assert_int_equal(ra[i]->burst, rb[i]->burst);
	}
}

/* Load text written to tmpdir/homeserver.yaml. */
static int load_text(struct config *cfg, const char *text, char *err, size_t err_len)
{
	char path[PATH_MAX];

	path_in_tmp(path, sizeof(path), "homeserver.yaml");
	file_put(path, text);
	return config_load(cfg, path, err, err_len);
}

static bool config_is_zero(const struct config *cfg)
{
	static const struct config zero;
	return memcmp(cfg, &zero, sizeof(zero)) == 0;
}

/* ---- defaults and round trips ------------------------------------------ */

static void test_defaults_roundtrip(void **state)
{
	struct config a, b;
	char path[PATH_MAX], expect[PATH_MAX], err[256] = "";
	struct stat st;

	assert_int_equal(config_defaults(&a, "example.org", tmpdir), 0);
	assert_int_equal(config_validate(&a, err, sizeof(err)), 0);
	snprintf(expect, sizeof(expect), "%s/homeserver.db", tmpdir);
	assert_string_equal(a.database_path, expect);
	snprintf(expect, sizeof(expect), "%s/signing.key", tmpdir);
	assert_string_equal(a.signing_key_path, expect);
	assert_int_equal(a.registration, CONFIG_REGISTRATION_CLOSED);

	path_in_tmp(path, sizeof(path), "homeserver.yaml");
	assert_int_equal(config_write(&a, path), 0);
	/* mode 0600: the file may hold registration_shared_secret */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(config_load(&b, path, err, sizeof(err)), 0);
	assert_config_equal(&a, &b);
	config_free(&a);
	config_free(&b);
	assert_true(config_is_zero(&a));
}

/* Every field away from its default, strings that need escaping, doubles
 * with no short decimal form. */
static void test_custom_roundtrip(void **state)
{
	struct config a, b;
	char path[PATH_MAX], err[256] = "";

	assert_int_equal(config_defaults(&a, "[2001:db8::1]:8448", tmpdir), 0);
	free(a.listen_addr);
	a.listen_addr = strdup("::");
	a.listen_port = 65535;
	free(a.registration_shared_secret);
	a.registration_shared_secret = strdup("q\"uote\\back 'single' #hash: colon \xc3\xa9 \xf0\x9f\x94\x91");
	free(a.log_level);
	a.log_level = strdup("warning");
	a.registration = CONFIG_REGISTRATION_OPEN;
	a.http_threads = 1;
	a.password_hash_ops_limit = 4294967295u;
	a.password_hash_mem_limit_kib = 8192;
	a.access_token_lifetime_ms = CONFIG_TTL_MS_MAX;
	a.refresh_token_lifetime_ms = 60000;
	a.max_json_depth = 512;
	a.rate_login_per_account.per_second = 0.1;
	a.rate_login_per_ip.per_second = 1.0 / 3.0;
	a.rate_register_per_ip.per_second = 5e-324;   /* smallest positive double */
	a.rate_client_per_user.per_second = 1e6;
	a.rate_client_per_user.burst = 1000000;
	assert_int_equal(config_validate(&a, err, sizeof(err)), 0);

	path_in_tmp(path, sizeof(path), "custom.yaml");
	assert_int_equal(config_write(&a, path), 0);
	assert_int_equal(config_load(&b, path, err, sizeof(err)), 0);
	assert_config_equal(&a, &b);
	assert_string_equal(b.listen_addr, "::");
	config_free(&a);
	config_free(&b);
}

/* The brief's example file: every key at its default. */
static void test_example_fixture(void **state)
{
	struct config a, b;
	char path[PATH_MAX], dir[PATH_MAX], err[256] = "";
	char *real;

	source_path(path, sizeof(path), "tests/unit/data/config/example.yaml");
	assert_int_equal(config_load(&a, path, err, sizeof(err)), 0);
	source_path(dir, sizeof(dir), "tests/unit/data/config");
	real = realpath(dir, NULL);
	assert_non_null(real);
	assert_int_equal(config_defaults(&b, "localhost", real), 0);
	assert_config_equal(&a, &b);
	free(real);
	config_free(&a);
	config_free(&b);
}

static void test_custom_fixture(void **state)
{
	struct config c;
	char path[PATH_MAX], dir[PATH_MAX], expect[PATH_MAX + 64], err[256] = "";
	char *real;

	source_path(path, sizeof(path), "tests/unit/data/config/custom.yaml");
	assert_int_equal(config_load(&c, path, err, sizeof(err)), 0);
	source_path(dir, sizeof(dir), "tests/unit/data/config");
	real = realpath(dir, NULL);
	assert_non_null(real);
	assert_string_equal(c.server_name, "chat.example.org:8448");
	assert_string_equal(c.listen_addr, "::1");
	assert_int_equal(c.listen_port, 9009);
	assert_string_equal(c.public_baseurl, "https://chat.example.org/");
	snprintf(expect, sizeof(expect), "%s/state/db", real);
	assert_string_equal(c.data_dir, expect);
	snprintf(expect, sizeof(expect), "%s/state/db/sub/server.sqlite", real);
	assert_string_equal(c.database_path, expect);
	assert_string_equal(c.signing_key_path, "/etc/chappe/signing.key");
	assert_string_equal(c.log_level, "debug");
	assert_int_equal(c.http_threads, 64);
	assert_int_equal(c.registration, CONFIG_REGISTRATION_OPEN);
	assert_string_equal(c.registration_shared_secret, "s3cr\"et\\");
	assert_int_equal(c.password_min_length, 1024);
	assert_int_equal(c.password_hash_ops_limit, 3);
	assert_int_equal(c.password_hash_mem_limit_kib, 65536);
	assert_int_equal(c.access_token_lifetime_ms, 60000);
	assert_int_equal(c.refresh_token_lifetime_ms, 86400000);
	assert_int_equal(c.max_json_body_bytes, 67108864);
	assert_int_equal(c.max_json_depth, 4);
	assert_true(c.rate_login_per_account.per_second == 1.5);
	assert_int_equal(c.rate_login_per_account.burst, 1);
	assert_true(c.rate_login_per_ip.per_second == 1e6);
	assert_int_equal(c.rate_login_per_ip.burst, 1000000);
	/* a partly given section keeps the defaults of the keys it omits */
	assert_true(c.rate_register_per_ip.per_second == 0.17);
	assert_int_equal(c.rate_register_per_ip.burst, 7);
	/* an empty section is all defaults */
	assert_true(c.rate_client_per_user.per_second == 50);
	assert_int_equal(c.rate_client_per_user.burst, 200);
	free(real);
	config_free(&c);
}

static void test_minimal_file(void **state)
{
	struct config c;
	char expect[PATH_MAX + 32], err[256] = "";

	assert_int_equal(load_text(&c, "server_name: example.org\n", err, sizeof(err)), 0);
	/* data_dir defaults to the config file's directory */
	assert_string_equal(c.data_dir, tmpdir);
	snprintf(expect, sizeof(expect), "%s/homeserver.db", tmpdir);
	assert_string_equal(c.database_path, expect);
	assert_string_equal(c.listen_addr, "127.0.0.1");
	assert_int_equal(c.listen_port, 8008);
	assert_int_equal(c.http_threads, 16);
	/* media repository: 50 MiB uploads, 1 GiB per user, legacy media
	 * paths and URL previews off */
	assert_int_equal(c.max_upload_bytes, 52428800);
	assert_int_equal(c.media_quota_bytes_per_user, 1073741824);
	assert_false(c.legacy_media_authenticated);
	assert_false(c.url_preview_enabled);
	config_free(&c);
}

static void test_media_keys(void **state)
{
	struct config c;
	char err[256] = "";

	assert_int_equal(load_text(&c, "server_name: example.org\nmax_upload_bytes: 1024\n"
	                                "media_quota_bytes_per_user: 0\n"
	                                "legacy_media_authenticated: true\n"
	                                "url_preview_enabled: false\n", err, sizeof(err)), 0);
	assert_int_equal(c.max_upload_bytes, 1024);
	assert_int_equal(c.media_quota_bytes_per_user, 0);   /* no quota */
	assert_true(c.legacy_media_authenticated);
	config_free(&c);
}

/* An empty or null value is the key's default: above all, a null secret
 * must not become the secret "null". */
static void test_null_means_default(void **state)
{
	struct config c;
	char err[256] = "";

	assert_int_equal(load_text(&c, "server_name: example.org\n"
	                               "registration_shared_secret: null\n"
	                               "http_threads:\n"
	                               "log_level: ~\n"
	                               "data_dir: \"\"\n"
	                               "database: {path: NULL}\n", err, sizeof(err)), 0);
	assert_string_equal(c.registration_shared_secret, "");
	assert_int_equal(c.http_threads, 16);
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.data_dir, tmpdir);
	config_free(&c);
	/* but server_name has no default */
	assert_int_equal(load_text(&c, "server_name: ~\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "server_name: required"));
}

/* ---- path resolution --------------------------------------------------- */

static void test_relative_paths(void **state)
{
	struct config c;
	char sub[PATH_MAX], cwd[PATH_MAX], expect[PATH_MAX + 64], err[256] = "";

	path_in_tmp(sub, sizeof(sub), "etc");
	assert_int_equal(mkdir(sub, 0700), 0);
	path_in_tmp(sub, sizeof(sub), "etc/homeserver.yaml");
	file_put(sub, "server_name: example.org\n"
	              "data_dir: ../var//lib/./chappe/\n"
	              "database:\n  path: db/main.db\n"
	              "signing_key_path: ./keys/signing.key\n");
	/* Load through a relative path: the base is the file's directory, not
	 * the process's working directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(config_load(&c, "etc/homeserver.yaml", err, sizeof(err)), 0);
	assert_int_equal(chdir(cwd), 0);
	/* ".." is kept for the OS (symlinks make a lexical ".." wrong), "." goes */
	snprintf(expect, sizeof(expect), "%s/etc/../var/lib/chappe", tmpdir);
	assert_string_equal(c.data_dir, expect);
	snprintf(expect, sizeof(expect), "%s/etc/../var/lib/chappe/db/main.db", tmpdir);
	assert_string_equal(c.database_path, expect);
	snprintf(expect, sizeof(expect), "%s/etc/../var/lib/chappe/keys/signing.key", tmpdir);
	assert_string_equal(c.signing_key_path, expect);
	config_free(&c);
}

static void test_path_resolve(void **state)
{
	char *p;

	p = config_path_resolve("/a/b", "./c//d/.");
	assert_string_equal(p, "/a/b/c/d");
	free(p);
	p = config_path_resolve("/", ".");
	assert_string_equal(p, "/");
	free(p);
	p = config_path_resolve("/a", "/x/./y/");
	assert_string_equal(p, "/x/y");
	free(p);
	p = config_path_resolve("/a/", "../b");
	assert_string_equal(p, "/a/../b");
	free(p);
	errno = 0;
	assert_null(config_path_resolve("rel", "x"));
	assert_int_equal(errno, EINVAL);
}

/* ---- refusals ---------------------------------------------------------- */

struct bad_case {
	const char *yaml;
	const char *expect;   /* substring of the message: the key path first */
};

/* The server_name line is prepended unless the case starts with '!'.
 *
 * Server names, spec appendices "Server Name":
 *     server_name = hostname [ ":" port ]
 *     port        = 1*5DIGIT
 *     hostname    = IPv4address / "[" IPv6address "]" / dns-name
 *     IPv6char    = DIGIT / %x41-46 / %x61-66 / ":" / "."
 *     dns-char    = DIGIT / ALPHA / "-" / "."
 * so a space, '_', '@', an empty name, a bare ':' or a port of 6 digits are
 * all outside it; port 0 is in the grammar but no server listens there. */
static const struct bad_case bad_cases[] = {
	/* required key */
	{ "!listen: \"127.0.0.1:8008\"\n", "server_name: required" },
	{ "!", "server_name: required" },
	{ "!# only a comment\n", "server_name: required" },
	/* unknown keys, at every depth */
	{ "servername: x\n", "servername: unknown key" },
	{ "database:\n  backend: sqlite\n  file: x.db\n", "database.file: unknown key" },
	{ "rate_limits:\n  login_per_ip:\n    burts: 3\n", "rate_limits.login_per_ip.burts: unknown key" },
	{ "rate_limits:\n  login_per_device: {burst: 3}\n", "rate_limits.login_per_device: unknown key" },
	/* wrong types */
	{ "http_threads: four\n", "http_threads: expected a whole number, got 'four'" },
	{ "http_threads: 1.5\n", "http_threads: expected a whole number" },
	{ "http_threads: 0x10\n", "http_threads: expected a whole number" },
	{ "http_threads: -4\n", "http_threads: expected a whole number" },
	{ "http_threads: [4]\n", "http_threads: expected a single value" },
	{ "server_name2: {a: 1}\n", "server_name2: unknown key" },
	{ "database: sqlite\n", "database: expected a mapping" },
	{ "limits:\n  max_json_depth: {x: 1}\n", "limits.max_json_depth: expected a single value" },
	{ "rate_limits:\n  login_per_ip: {per_second: fast}\n",
	  "rate_limits.login_per_ip.per_second: expected a decimal number, got 'fast'" },
	{ "rate_limits:\n  login_per_ip: {per_second: nan}\n", "rate_limits.login_per_ip.per_second: expected" },
	{ "rate_limits:\n  login_per_ip: {per_second: .inf}\n", "rate_limits.login_per_ip.per_second: expected" },
	{ "rate_limits:\n  login_per_ip: {per_second: 1e999}\n", "rate_limits.login_per_ip.per_second: expected" },
	{ "rate_limits:\n  login_per_ip: {per_second: 0x1p3}\n", "rate_limits.login_per_ip.per_second: expected" },
	{ "http_threads: 99999999999\n", "http_threads: number too large" },
	{ "access_token_lifetime_ms: 99999999999999999999999\n", "access_token_lifetime_ms: number too large" },
	/* out of range */
	{ "http_threads: 0\n", "http_threads: must be 1 to 64, got 0" },
	{ "http_threads: 65\n", "http_threads: must be 1 to 64, got 65" },
	{ "password_min_length: 0\n", "password_min_length: must be 1 to 1024" },
	{ "password_min_length: 1025\n", "password_min_length: must be 1 to 1024" },
	{ "password_hash: {ops_limit: 0}\n", "password_hash.ops_limit: must be" },
	{ "password_hash: {ops_limit: 4294967296}\n", "password_hash.ops_limit: must be" },
	{ "password_hash: {mem_limit_kib: 8191}\n", "password_hash.mem_limit_kib: must be 8192 to 1048576" },
	{ "password_hash: {mem_limit_kib: 1048577}\n", "password_hash.mem_limit_kib: must be 8192 to 1048576" },
	{ "access_token_lifetime_ms: 59999\n", "access_token_lifetime_ms: must be 60000 to" },
	{ "access_token_lifetime_ms: 0\n", "access_token_lifetime_ms: must be 60000 to" },
	{ "refresh_token_lifetime_ms: 1\n", "refresh_token_lifetime_ms: must be 0 or 60000 to" },
	{ "refresh_token_lifetime_ms: 315360000001\n", "refresh_token_lifetime_ms: must be 0 or" },
	{ "limits: {max_json_body_bytes: 1023}\n", "limits.max_json_body_bytes: must be 1024 to 67108864" },
	{ "limits: {max_json_body_bytes: 67108865}\n", "limits.max_json_body_bytes: must be 1024 to 67108864" },
	{ "limits: {max_json_depth: 3}\n", "limits.max_json_depth: must be 4 to 512" },
	{ "limits: {max_json_depth: 513}\n", "limits.max_json_depth: must be 4 to 512" },
	{ "rate_limits:\n  login_per_ip: {burst: 0}\n", "rate_limits.login_per_ip.burst: must be 1 to 1000000" },
	{ "rate_limits:\n  client_per_user: {burst: 1000001}\n", "rate_limits.client_per_user.burst: must be 1 to 1000000" },
	{ "rate_limits:\n  register_per_ip: {per_second: 0}\n", "rate_limits.register_per_ip.per_second: must be above 0" },
	{ "rate_limits:\n  login_per_account: {per_second: -1}\n", "rate_limits.login_per_account.per_second: must be above 0" },
	{ "rate_limits:\n  client_per_user: {per_second: 1000001}\n", "rate_limits.client_per_user.per_second: must be above 0" },
	/* bad enums */
	{ "registration: maybe\n", "registration: must be open or closed" },
	{ "registration: Open\n", "registration: must be open or closed" },
	{ "log_level: verbose\n", "log_level: must be one of error, warning, info, debug" },
	{ "database: {backend: postgres}\n", "database.backend: must be \"sqlite\"" },
	/* bad server names (appendices "Server Name") */
	{ "!server_name: \"exa mple.org\"\n", "server_name: not a valid server name" },
	{ "!server_name: \"\"\n", "server_name: required" },
	{ "!server_name: under_score.org\n", "server_name: not a valid server name" },
	{ "!server_name: \"example.org:\"\n", "server_name: not a valid server name" },
	{ "!server_name: \"example.org:0\"\n", "server_name: not a valid server name" },
	{ "!server_name: \"example.org:123456\"\n", "server_name: not a valid server name" },
	{ "!server_name: \"[::1\"\n", "server_name: not a valid server name" },
	{ "!server_name: \"[xyz::1]\"\n", "server_name: not a valid server name" },
	{ "!server_name: \"@alice:example.org\"\n", "server_name: not a valid server name" },
	{ "!server_name: [a, b]\n", "server_name: expected a single value" },
	/* bad listen */
	{ "listen: \"localhost:8008\"\n", "listen: \"localhost\" is not an IPv4 address literal" },
	{ "listen: \"127.0.0.1\"\n", "listen: expected \"IP:PORT\"" },
	{ "listen: \"127.0.0.1:0\"\n", "listen: the port must be a number from 1 to 65535" },
	{ "listen: \"127.0.0.1:65536\"\n", "listen: the port must be a number from 1 to 65535" },
	{ "listen: \"127.0.0.1:80a\"\n", "listen: the port must be" },
	{ "listen: \"127.0.0.1:\"\n", "listen: the port must be" },
	{ "listen: \"999.0.0.1:80\"\n", "listen: \"999.0.0.1\" is not an IPv4" },
	{ "listen: \"::1:8008\"\n", "listen: an IPv6 address needs brackets" },
	{ "listen: \"[::1]8008\"\n", "listen: expected \"[IPv6]:PORT\"" },
	{ "listen: \"[127.0.0.1]:80\"\n", "listen: \"127.0.0.1\" is not an IPv6" },
	{ "listen: \":8008\"\n", "listen: the address is missing" },
	{ "listen: \"a\\nb:8008\"\n", "listen: \"?\" is not an IPv4" },
	/* other values */
	{ "public_baseurl: \"ftp://example.org/\"\n", "public_baseurl: must start with http:// or https://" },
	{ "public_baseurl: \"https://\"\n", "public_baseurl: the host is missing" },
	{ "public_baseurl: \"https://exa mple.org/\"\n", "public_baseurl: too long or holds" },
	{ "signing_key_path: \"a\\nb\"\n", "signing_key_path: too long, or holds control characters" },
	{ "registration_shared_secret: \"a\\x01b\"\n", "registration_shared_secret: at most 1024 bytes" },
	/* YAML escapes can name code points a config has no use for */
	{ "registration_shared_secret: \"a\\x85b\"\n", "registration_shared_secret: at most 1024 bytes" },
	{ "data_dir: \"/srv/\\uFFFE\"\n", "data_dir: too long, or holds control characters" },
	{ "public_baseurl: \"https://a.org/\\x9b\"\n", "public_baseurl: too long or holds" },
	/* media repository */
	{ "max_upload_bytes: 1023\n", "max_upload_bytes: must be 1024 to 4294967296, got 1023" },
	{ "max_upload_bytes: 4294967297\n", "max_upload_bytes: must be" },
	{ "max_upload_bytes: -1\n", "max_upload_bytes: expected a whole number" },
	{ "media_quota_bytes_per_user: 10\n", "media_quota_bytes_per_user: must be 0 or 1024" },
	{ "legacy_media_authenticated: yes\n", "legacy_media_authenticated: expected true or false" },
	{ "legacy_media_authenticated: 1\n", "legacy_media_authenticated: expected true or false" },
	/* previews are not implemented: turning them on must not pass silently */
	{ "url_preview_ip_allowlist: \"10.0.0.1\"\n", "url_preview_ip_allowlist: must be a comma-separated list" },
	{ "trusted_proxies: \"10.0.0.0/40\"\n", "trusted_proxies: must be a comma-separated list" },
	/* YAML-level refusals */
	{ "http_threads: 4\nhttp_threads: 5\n", "http_threads: key given twice" },
	{ "limits:\n  max_json_depth: 8\n  max_json_depth: 9\n", "limits.max_json_depth: key given twice" },
	{ "log_level: &lvl info\npublic_baseurl: *lvl\n", "public_baseurl: YAML anchors and aliases are not supported" },
	{ "!- server_name: a\n", "the file must be a YAML mapping" },
	{ "!just a string\n", "the file must be a YAML mapping" },
	{ "---\nlog_level: info\n---\nlog_level: debug\n", "more than one YAML document" },
	{ "limits:\n  max_json_depth: 8\n max_json_body_bytes: 9\n", "YAML syntax error at line 4, column 2" },
	{ "log_level: \"info\n", "YAML syntax error at line" },
	{ "log_level: info\n  x: : y\n", "YAML syntax error at line 3" },
};

static void test_bad_values(void **state)
{
	char text[4096], err[256];
	struct config c;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		if (bc->yaml[0] == '!')
			snprintf(text, sizeof(text), "%s", bc->yaml + 1);
		else
			snprintf(text, sizeof(text), "server_name: example.org\n%s", bc->yaml);
		memset(err, 0, sizeof(err));
		memset(&c, 0xa5, sizeof(c));
		int rc = load_text(&c, text, err, sizeof(err));
		if (rc != -1 || !strstr(err, bc->expect) || strchr(err, '\n')) {
			print_error("case %zu:\n%s\nwant \"%s\"\ngot rc %d \"%s\"\n",
			            i, text, bc->expect, rc, err);
			fail();
		}
		/* nothing half-loaded is left to the caller */
		assert_true(config_is_zero(&c));
	}
}

/* An over-long string is refused by the schema, before any allocation of
 * its size; the message still names the key. */
static void test_too_long_values(void **state)
{
	char *text = malloc(8192), err[256];
	struct config c;
	int n;

	assert_non_null(text);
	n = snprintf(text, 8192, "server_name: ");
	memset(text + n, 'a', 300);
	snprintf(text + n + 300, 8192 - (size_t)n - 300, "\n");
	assert_int_equal(load_text(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "server_name: value too long"));

	n = snprintf(text, 8192, "server_name: a.org\nregistration_shared_secret: ");
	memset(text + n, 's', CONFIG_SECRET_MAX + 1);
	snprintf(text + n + CONFIG_SECRET_MAX + 1, 16, "\n");
	assert_int_equal(load_text(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "registration_shared_secret: value too long"));
	free(text);
}

/* The parts of a message that echo input cannot smuggle in control
 * characters or run past the buffer. */
static void test_error_echo_is_bounded(void **state)
{
	char text[1024], err[256], small[16];
	struct config c;

	snprintf(text, sizeof(text), "server_name: a.org\nhttp_threads: \"12\\x1b[31m%040d\"\n", 0);
	assert_int_equal(load_text(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "http_threads: expected a whole number, got '12?[31m"));
	assert_null(strchr(err, '\x1b'));
	assert_true(strlen(err) < 160);
	/* a tiny buffer is filled, terminated, never overrun */
	memset(small, 'x', sizeof(small));
	assert_int_equal(load_text(&c, text, small, 8), -1);
	assert_int_equal(strlen(small), 7);
	assert_int_equal(small[8], 'x');
	/* and a NULL buffer is allowed */
	assert_int_equal(load_text(&c, text, NULL, 0), -1);
}

static void test_missing_and_odd_files(void **state)
{
	char path[PATH_MAX], err[256];
	struct config c;
	FILE *f;

	path_in_tmp(path, sizeof(path), "absent.yaml");
	assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_true(config_is_zero(&c));

	/* a directory is not a config file */
	assert_int_equal(config_load(&c, tmpdir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));

	/* bounded size: a 1 MiB + 1 file is refused before parsing */
	path_in_tmp(path, sizeof(path), "big.yaml");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("server_name: a.org\n", f);
	for (long i = 19; i <= CONFIG_FILE_MAX_BYTES; i++)
		fputc('#', f);
	fclose(f);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than"));
}

/* ---- validation of a filled struct ------------------------------------- */

static void test_validate_struct(void **state)
{
	struct config c;
	char err[256];
	char *saved;

	assert_int_equal(config_defaults(&c, "example.org", "/srv/chappe"), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);

	saved = c.data_dir;
	c.data_dir = "relative/dir";
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "data_dir: must be an absolute path"));
	c.data_dir = saved;

	saved = c.listen_addr;
	c.listen_addr = "localhost";
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "listen: the address must be an IP literal"));
	c.listen_addr = saved;

	c.listen_port = 0;
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "listen: the port"));
	c.listen_port = 8008;

	c.registration = (enum config_registration)7;
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "registration: must be open or closed"));
	c.registration = CONFIG_REGISTRATION_OPEN;

	/* Invalid UTF-8 could never be written back as YAML: refused. */
	const char *bad_text[] = { "/srv/\xc3\x28", "/srv/\xc0\xaf", "/srv/\xed\xa0\x80",
	                           "/srv/\xf4\x90\x80\x80", "/srv/\xe2\x82", "/srv/\xff" };
	saved = c.data_dir;
	for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		c.data_dir = (char *)bad_text[i];
		assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "data_dir: too long, or holds control characters or invalid UTF-8"));
	}
	c.data_dir = "/srv/caf\xc3\xa9/\xf0\x9f\x94\x91";   /* é and a 4-byte emoji are fine */
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	c.data_dir = saved;

	saved = c.server_name;
	c.server_name = NULL;
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "server_name:"));
	c.server_name = saved;

	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	config_free(&c);
	config_free(&c);   /* freeing twice is harmless: the struct is zeroed */
}

static void test_listen_set(void **state)
{
	struct config c;
	char err[256];

	assert_int_equal(config_defaults(&c, "example.org", "/srv"), 0);
	assert_int_equal(config_listen_set(&c, "[::]:443", err, sizeof(err)), 0);
	assert_string_equal(c.listen_addr, "::");
	assert_int_equal(c.listen_port, 443);
	assert_int_equal(config_listen_set(&c, "10.0.0.1:1", err, sizeof(err)), 0);
	assert_string_equal(c.listen_addr, "10.0.0.1");
	assert_int_equal(c.listen_port, 1);
	/* a refusal leaves the previous value in place */
	assert_int_equal(config_listen_set(&c, "localhost:8008", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "listen: \"localhost\" is not an IPv4 address literal"));
	assert_int_equal(config_listen_set(&c, "10.0.0.2:0", err, sizeof(err)), -1);
	assert_string_equal(c.listen_addr, "10.0.0.1");
	assert_int_equal(c.listen_port, 1);
	config_free(&c);
}

static void test_defaults_refuse_bad_arguments(void **state)
{
	struct config c;

	errno = 0;
	assert_int_equal(config_defaults(&c, "example.org", "relative"), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(config_is_zero(&c));
	assert_int_equal(config_defaults(&c, NULL, "/srv"), -1);
	assert_int_equal(config_defaults(&c, "example.org", NULL), -1);
}

/* ---- writing ----------------------------------------------------------- */

static size_t dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			n++;
	closedir(d);
	return n;
}

static void test_write_replaces_atomically(void **state)
{
	struct config c, back;
	char path[PATH_MAX], err[256];
	struct stat st;
	char *text;

	path_in_tmp(path, sizeof(path), "homeserver.yaml");
	file_put(path, "old content\n");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(config_defaults(&c, "example.org", tmpdir), 0);
	assert_int_equal(config_write(&c, path), 0);
	/* replaced, not appended to; no temporary left next to it */
	text = file_get(path);
	assert_null(strstr(text, "old content"));
	free(text);
	assert_int_equal(dir_entries(tmpdir), 1);
	/* the replacement has its own mode, whatever the old file had */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(config_load(&back, path, err, sizeof(err)), 0);
	config_free(&back);
	config_free(&c);
}

static void test_write_refusals(void **state)
{
	struct config c;
	char path[PATH_MAX];

	assert_int_equal(config_defaults(&c, "example.org", tmpdir), 0);
	/* an invalid config is never written: load would refuse it */
	c.http_threads = 0;
	path_in_tmp(path, sizeof(path), "homeserver.yaml");
	errno = 0;
	assert_int_equal(config_write(&c, path), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(access(path, F_OK), -1);
	c.http_threads = 4;
	/* a missing directory reports the system's reason, leaves nothing */
	path_in_tmp(path, sizeof(path), "no/such/dir/homeserver.yaml");
	errno = 0;
	assert_int_equal(config_write(&c, path), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(dir_entries(tmpdir), 0);
	config_free(&c);
}

/* Collect the key paths of a written file: "a:", "  b:" -> "a.b"; flow
 * mappings "  r: {x: 1, y: 2}" -> "a.r.x", "a.r.y". */
static size_t written_keys(const char *text, char keys[][96], size_t max)
{
	char parent[64] = "", line[512];
	size_t n = 0;

	for (const char *p = text; *p && n + 2 < max;) {
		size_t len = strcspn(p, "\n");
		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (p[len] == '\n');
		if (line[0] == '#' || line[0] == '\0')
			continue;
		bool nested = line[0] == ' ';
		char *key = line + strspn(line, " ");
		char *colon = strchr(key, ':');
		assert_non_null(colon);
		*colon = '\0';
		if (!nested) {
			snprintf(parent, sizeof(parent), "%s", key);
			snprintf(keys[n++], 96, "%s", key);
			continue;
		}
		char *brace = strchr(colon + 1, '{');
		if (!brace) {
			snprintf(keys[n++], 96, "%s.%s", parent, key);
			continue;
		}
		for (char *tok = strtok(brace + 1, ",}"); tok && n < max; tok = strtok(NULL, ",}")) {
			tok += strspn(tok, " ");
			if (!strchr(tok, ':'))
				continue;
			*strchr(tok, ':') = '\0';
			snprintf(keys[n++], 96, "%s.%s.%s", parent, key, tok);
		}
	}
	return n;
}

/* Every option written carries a comment above it (a top-level key right
 * after a comment line), and docs/configuration.md documents every key
 * path written, so the two cannot drift apart. */
static void test_written_file_is_documented(void **state)
{
	struct config c;
	char path[PATH_MAX], docs_path[PATH_MAX], needle[128];
	char keys[64][96];
	char *text, *docs;
	size_t n;

	assert_int_equal(config_defaults(&c, "example.org", tmpdir), 0);
	path_in_tmp(path, sizeof(path), "homeserver.yaml");
	assert_int_equal(config_write(&c, path), 0);
	text = file_get(path);
	source_path(docs_path, sizeof(docs_path), "docs/configuration.md");
	docs = file_get(docs_path);

	/* the line before each top-level key must be a comment */
	for (const char *line = text, *prev = NULL; *line; ) {
		const char *next = strchr(line, '\n');
		if (line[0] >= 'a' && line[0] <= 'z' && (!prev || prev[0] != '#')) {
			print_error("key without a comment above it: %.40s\n", line);
			fail();
		}
		/* people read this file in terminals: 80 columns */
		assert_true((next ? (size_t)(next - line) : strlen(line)) <= 80);
		if (!next)
			break;
		prev = line;
		line = next + 1;
	}
	n = written_keys(text, keys, 64);
	assert_true(n >= 27);   /* 15 scalars, 4 sections, 4 x 2 rate keys */
	for (size_t i = 0; i < n; i++) {
		snprintf(needle, sizeof(needle), "`%.100s`", keys[i]);
		if (!strstr(docs, needle)) {
			print_error("docs/configuration.md lacks %s\n", needle);
			fail();
		}
	}
	free(docs);
	free(text);
	config_free(&c);
}

/* ---- hostile input ----------------------------------------------------- */

static uint32_t lcg_next(uint32_t *seed)
{
	*seed = *seed * 1664525u + 1013904223u;
	return *seed >> 8;
}

/* Mutate the example file a few thousand times (fixed seed, so a failure
 * reproduces): every outcome must be a clean refusal with a one-line
 * message, or a config that validates and survives write + load unchanged. */
static void test_mutations_never_crash(void **state)
{
	static const char alphabet[] = ":{}[],-&*!|>'\"#%@`\n \t\\0123456789.exz";
	char src[PATH_MAX], path[PATH_MAX], out[PATH_MAX], err[256];
	char *base = NULL, *text;
	uint32_t seed = 20261126;
	size_t len, loaded = 0, refused = 0;

	source_path(src, sizeof(src), "tests/unit/data/config/example.yaml");
	base = file_get(src);
	len = strlen(base);
	text = malloc(len + 64);
	assert_non_null(text);
	path_in_tmp(path, sizeof(path), "homeserver.yaml");
	path_in_tmp(out, sizeof(out), "rewritten.yaml");
	for (int iter = 0; iter < 3000; iter++) {
		struct config c, back;
		size_t n = len;
		FILE *f;

		memcpy(text, base, len);
		for (int k = 1 + (int)(lcg_next(&seed) % 3); k > 0 && n > 0; k--) {
			size_t at = lcg_next(&seed) % n;
			uint32_t how = lcg_next(&seed) % 8;
			if (how == 0)
				n = at;                         /* truncate */
			else if (how == 1)
				text[at] = (char)(lcg_next(&seed) & 0xff);
			else
				text[at] = alphabet[lcg_next(&seed) % (sizeof(alphabet) - 1)];
		}
		f = fopen(path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(text, 1, n, f), n);
		fclose(f);
		memset(err, 0, sizeof(err));
		if (config_load(&c, path, err, sizeof(err)) < 0) {
			assert_true(err[0] != '\0');
			assert_null(strchr(err, '\n'));
			assert_true(config_is_zero(&c));
			refused++;
			continue;
		}
		loaded++;
		assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
		assert_int_equal(config_write(&c, out), 0);
		assert_int_equal(config_load(&back, out, err, sizeof(err)), 0);
		assert_config_equal(&c, &back);
		config_free(&back);
		config_free(&c);
	}
	/* both outcomes were exercised, or the test proves little */
	assert_true(loaded > 100 && refused > 100);
	free(text);
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults_roundtrip, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_custom_roundtrip, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_example_fixture),
		cmocka_unit_test(test_custom_fixture),
		cmocka_unit_test_setup_teardown(test_minimal_file, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_media_keys, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_null_means_default, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_path_resolve),
		cmocka_unit_test_setup_teardown(test_bad_values, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_too_long_values, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_error_echo_is_bounded, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_odd_files, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_validate_struct),
		cmocka_unit_test(test_listen_set),
		cmocka_unit_test(test_defaults_refuse_bad_arguments),
		cmocka_unit_test_setup_teardown(test_write_replaces_atomically, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_write_refusals, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_written_file_is_documented, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_mutations_never_crash, tmp_setup, tmp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
