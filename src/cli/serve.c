/* serve.c: `chappe serve` and `chappe check-config`. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/app.h"
#include "media/media.h"
#include "api/client/sync_build.h"
#include "api/client/uia.h"
#include "cli/cli.h"
#include "config/config.h"
#include "events/events.h"
#include "http/ratelimit.h"
#include "http/server.h"
#include "json/sign.h"
#include "media/media_preview.h"
#include "security/nonces.h"
#include "security/secrets.h"
#include "security/ledger.h"
#include "security/detect_actions.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "sync/typing.h"
#include "util/log.h"
#include "util/str.h"
#include "util/timeutil.h"

#define SHUTDOWN_GRACE_MS 10000

struct serve_args {
	const char *config_path;
	const char *data_dir;
	const char *listen;
	const char *server_name;
};

static int serve_args_parse(int argc, char **argv, struct serve_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char **slot = NULL;
		if (strcmp(argv[i], "--config") == 0)
			slot = &a->config_path;
		else if (strcmp(argv[i], "--data-dir") == 0)
			slot = &a->data_dir;
		else if (strcmp(argv[i], "--listen") == 0)
			slot = &a->listen;
		else if (strcmp(argv[i], "--server-name") == 0)
			slot = &a->server_name;
		if (!slot || i + 1 >= argc) {
			fprintf(stderr, "chappe serve: unexpected argument '%s'\n", argv[i]);
			return -1;
		}
		*slot = argv[++i];
	}
	if (!a->config_path == !a->data_dir) {
		fprintf(stderr, "chappe serve: give exactly one of --config FILE or --data-dir DIR\n");
		return -1;
	}
	return 0;
}

/* "IP:PORT" or "[IPv6]:PORT" into cfg. */
static int listen_apply(struct config *cfg, const char *listen)
{
	const char *colon = strrchr(listen, ':');
	char addr[64];
	size_t n;
	long port;
	char *end;

	if (!colon)
		return -1;
	n = (size_t)(colon - listen);
	if (listen[0] == '[' && n >= 2 && listen[n - 1] == ']') {
		listen++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, listen, n);
	addr[n] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	free(cfg->listen_addr);
	cfg->listen_addr = strdup(addr);
	cfg->listen_port = (uint16_t)port;
	return cfg->listen_addr ? 0 : -1;
}

/* First start in an empty data dir: write a documented homeserver.yaml. */
static int data_dir_init(const char *dir, const char *path, const struct serve_args *a)
{
	struct config cfg;
	char abs[PATH_MAX];
	int ret = -1;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "chappe: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (!realpath(dir, abs)) {
		fprintf(stderr, "chappe: cannot resolve %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (config_defaults(&cfg, a->server_name ? a->server_name : "localhost", abs) != 0) {
		fprintf(stderr, "chappe: cannot build the default config\n");
		return -1;
	}
	if (a->listen) {
		const char *fmt;
		if (listen_apply(&cfg, a->listen) != 0) {
			fprintf(stderr, "chappe: --listen wants IP:PORT, got '%s'\n", a->listen);
			goto out;
		}
		fmt = strchr(cfg.listen_addr, ':') ? "http://[%s]:%u/" : "http://%s:%u/";
		free(cfg.public_baseurl);
		cfg.public_baseurl = str_printf(fmt, cfg.listen_addr, (unsigned)cfg.listen_port);
	}
	if (config_write(&cfg, path) != 0) {
		fprintf(stderr, "chappe: cannot write %s: %s\n", path, strerror(errno));
		goto out;
	}
	printf("chappe: wrote %s (edit it to change any setting)\n", path);
	ret = 0;
out:
	config_free(&cfg);
	return ret;
}

int cli_config_open(struct config *cfg, const char *config_path, const char *data_dir)
{
	char err[512];
	char *path = config_path ? strdup(config_path)
	                         : str_printf("%s/homeserver.yaml", data_dir);
	int ret = 0;

	if (!path)
		return -1;
	if (config_load(cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "chappe: %s: %s\n", path, err);
		ret = -1;
	}
	free(path);
	return ret;
}

static int signing_key_ready(const struct config *cfg, struct signing_key *key)
{
	int r;

	if (access(cfg->signing_key_path, F_OK) != 0) {
		if (signing_key_generate(key, "a_1") != 0 ||
		    signing_key_save(key, cfg->signing_key_path) != 0) {
			log_error("cannot write the signing key %s", cfg->signing_key_path);
			return -1;
		}
		log_info("generated signing key %s (%s)", cfg->signing_key_path, key->key_id);
		return 0;
	}
	r = signing_key_load(key, cfg->signing_key_path);
	if (r < 0) {
		log_error("cannot read the signing key %s", cfg->signing_key_path);
		return -1;
	}
	if (r == 1)
		log_warn("signing key %s is readable by other users: chmod 600 it",
		         cfg->signing_key_path);
	return 0;
}

/* Resolve where the config lives, creating a data dir on first start. */
static int serve_config(const struct serve_args *a, struct config *cfg)
{
	char *path;
	int ret = -1;

	if (a->config_path)
		return cli_config_open(cfg, a->config_path, NULL);
	path = str_printf("%s/homeserver.yaml", a->data_dir);
	if (!path)
		return -1;
	if (access(path, F_OK) != 0 && data_dir_init(a->data_dir, path, a) != 0)
		goto out;
	if (cli_config_open(cfg, path, NULL) != 0)
		goto out;
	if (a->server_name && strcmp(a->server_name, cfg->server_name) != 0) {
		fprintf(stderr, "chappe: %s is configured for server_name '%s'; a server's name "
		        "cannot change once users exist\n", path, cfg->server_name);
		config_free(cfg);
		goto out;
	}
	if (a->listen && listen_apply(cfg, a->listen) != 0) {
		fprintf(stderr, "chappe: --listen wants IP:PORT, got '%s'\n", a->listen);
		config_free(cfg);
		goto out;
	}
	ret = 0;
out:
	free(path);
	return ret;
}

static struct http_server *serve_http(struct app *app, const struct config *cfg)
{
	struct http_server_opts o = {
		.listen_addr = cfg->listen_addr,
		.port = cfg->listen_port,
		.threads = cfg->http_threads,
		.max_body = cfg->max_json_body_bytes,
		/* media repository: uploads stream into its tmp dir */
		.max_upload_body = cfg->max_upload_bytes,
		.upload_dir = app->media ? media_repo_tmp_dir(app->media) : NULL,
		.max_json_depth = cfg->max_json_depth,
		.routes = api_routes,
		.n_routes = api_routes_count,
		.app = app,
		.store = app->store,
		.ratelimiter = app->ratelimiter,
		.rate_client = { cfg->rate_client_per_user.per_second, cfg->rate_client_per_user.burst },
		.trusted_proxies = cfg->trusted_proxies,
		.rate_register = { cfg->rate_register_per_ip.per_second,
		                   cfg->rate_register_per_ip.burst },
	};
	char err[256];
	struct http_server *srv = http_server_start(&o, err, sizeof(err));

	if (!srv)
		log_error("%s", err);
	return srv;
}

static void serve_banner(const struct config *cfg, uint16_t port, const char *config_hint)
{
	printf("chappe %s listening on http://%s%s%s:%u/ (server_name %s)\n", "0.1.0",
	       strchr(cfg->listen_addr, ':') ? "[" : "", cfg->listen_addr,
	       strchr(cfg->listen_addr, ':') ? "]" : "", (unsigned)port, cfg->server_name);
	printf("create the first admin account with:\n"
	       "  chappe admin %s create-user NAME --admin\n", config_hint);
	fflush(stdout);
}

/* Block until SIGTERM or SIGINT. The signals are blocked in every thread
 * (the mask is set before any thread starts), so only sigwait sees them. */
static void wait_for_signal(const sigset_t *set)
{
	int sig = 0;
	sigwait(set, &sig);
	log_info("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

int cli_serve(int argc, char **argv)
{
	struct serve_args a = { 0 };
	struct config cfg;
	struct signing_key key;
	struct app app = { 0 };
	struct events_ctx events = { 0 };
	struct http_server *srv = NULL;
	enum log_level lvl = LOG_INFO;
	sigset_t set;
	char err[256], *hint = NULL;
	int ret = 1;

	memset(&key, 0, sizeof(key));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(077);   /* the database holds password hashes and token hashes */
	if (serve_args_parse(argc, argv, &a) != 0 || serve_config(&a, &cfg) != 0)
		return 2;
	if (log_level_parse(cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	/* libcurl's global state (URL previews), before any thread starts */
	if (media_preview_global_init() != 0 || secrets_init() != 0 ||
	    signing_key_ready(&cfg, &key) != 0)
		goto out;
	if (store_open(&app.store, cfg.database_backend, cfg.database_path, err,
	               sizeof(err)) != STORE_OK) {
		log_error("cannot open the database: %s", err);
		goto out;
	}
	/* access ledger: started before the first request can be served, so
	 * no read goes unrecorded (ledger.h) */
	if (cfg.ledger_enabled) {
		struct ledger_opts lo = { cfg.ledger_retention_days, 0, 0 };
		if (ledger_start(app.store, &lo) != 0)
			goto out;
	}
	app.cfg = &cfg;
	app.signing_key = &key;
	app.ratelimiter = ratelimiter_new();
	app.uia = uia_sessions_new();
	app.reg_nonces = nonces_new(60 * 1000, 10000);
	app.notifier = notifier_new();
	events.store = app.store;
	events.cfg = &cfg;
	events.key = &key;
	events.notifier = app.notifier;
	events.cache = room_cache_new();
	app.events = &events;
	app.unread = unread_cache_new();
	/* typing notifications; the counter starts at the wall clock so that
	 * a sync token from before a restart is not ahead of it (typing.h) */
	app.typing = typing_new(0, 0, (uint64_t)time_now_ms());
	if (!app.typing)
		goto out;
	/* media repository: data_dir/media, libmagic */
	app.media = media_repo_open(cfg.data_dir, err, sizeof(err));
	if (!app.media) {
		log_error("media repository: %s", err);
		goto out;
	}
	if (!app.ratelimiter || !app.uia || !app.reg_nonces || !app.notifier || !events.cache || !app.unread ||
	    detect_actions_start(&app) != 0 ||   /* scraper detection */
	    !(srv = serve_http(&app, &cfg)))
		goto out;
	hint = a.config_path ? str_printf("--config %s", a.config_path)
	                     : str_printf("--data-dir %s", a.data_dir);
	serve_banner(&cfg, http_server_port(srv), hint ? hint : "");
	wait_for_signal(&set);
	ret = 0;
out:
	/* Parked long-polls answer first, so they count as finished requests. */
	if (app.notifier)
		notifier_shutdown(app.notifier);
	http_server_stop(srv, SHUTDOWN_GRACE_MS);
	/* scraper detection: queued alerts are posted while events still work */
	detect_actions_stop();
	notifier_free(app.notifier);
	typing_free(app.typing);
	media_repo_close(app.media);
	room_cache_free(events.cache);
	unread_cache_free(app.unread);
	/* access ledger: what is queued is written before the store closes */
	ledger_stop();
	if (app.store)
		store_close(app.store);
	ratelimiter_free(app.ratelimiter);
	uia_sessions_free(app.uia);
	nonces_free(app.reg_nonces);
	signing_key_wipe(&key);
	config_free(&cfg);
	free(hint);
	media_preview_global_cleanup();
	if (ret == 0)
		log_info("stopped cleanly");
	return ret;
}

int cli_check_config(int argc, char **argv)
{
	struct config cfg;
	char err[512];

	if (argc != 2) {
		fprintf(stderr, "usage: chappe check-config FILE\n");
		return 2;
	}
	if (config_load(&cfg, argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], err);
		return 1;
	}
	printf("%s: OK (server_name %s)\n", argv[1], cfg.server_name);
	config_free(&cfg);
	return 0;
}
