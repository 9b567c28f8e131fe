/* admin.c: `chappe admin`: account administration straight on the data
 * dir, usable while the server runs (the store serialises writers). It
 * applies the same rules as the API (security/accounts.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/admin_incident.h"
#include "cli/cli.h"
#include "config/config.h"
#include "security/accounts.h"
#include "security/erasure.h"
#include "security/secrets.h"
#include "store/store.h"

#define PASSWORD_LINE_MAX 1024

struct admin_args {
	const char *config_path, *data_dir, *verb, *name, *password_file;
	const char *text, *token;    /* incident-response verbs (admin_incident.c) */
	bool admin, erase;
};

static int admin_args_parse(int argc, char **argv, struct admin_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(arg, "--config") == 0 && has_value)
			a->config_path = argv[++i];
		else if (strcmp(arg, "--data-dir") == 0 && has_value)
			a->data_dir = argv[++i];
		else if (strcmp(arg, "--password-file") == 0 && has_value)
			a->password_file = argv[++i];
		else if (strcmp(arg, "--token") == 0 && has_value)
			a->token = argv[++i];
		else if (strcmp(arg, "--admin") == 0)
			a->admin = true;
		else if (strcmp(arg, "--erase") == 0)
			a->erase = true;
		else if (arg[0] == '-')
			goto bad;
		else if (!a->verb)
			a->verb = arg;
		else if (!a->name)
			a->name = arg;
		else if (!a->text)
			a->text = arg;
		else
			goto bad;
		continue;
bad:
		fprintf(stderr, "chappe admin: unexpected argument '%s'\n", arg);
		return -1;
	}
	if (!a->config_path == !a->data_dir || !a->verb) {
		fprintf(stderr, "usage: chappe admin (--config FILE | --data-dir DIR) VERB ...\n");
		return -1;
	}
	return 0;
}

/* First line of the file (or of stdin), without the newline. */
static char *password_read(const char *path)
{
	FILE *f = path ? fopen(path, "r") : stdin;
	char *line = calloc(1, PASSWORD_LINE_MAX + 1);

	if (!f || !line) {
		fprintf(stderr, "chappe admin: cannot read the password%s%s\n",
		        path ? " file " : "", path ? path : "");
		if (f && f != stdin)
			fclose(f);
		free(line);
		return NULL;
	}
	if (!path && isatty(0))
		fprintf(stderr, "password: ");
	if (!fgets(line, PASSWORD_LINE_MAX + 1, f))
		line[0] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (f != stdin)
		fclose(f);
	return line;
}

static void password_free(char *p)
{
	if (p) {
		sodium_memzero(p, strlen(p));
		free(p);
	}
}

static int print_user(void *ctx, const struct store_user *u)
{
	(void)ctx;
	printf("%s%s%s%s%s\n", u->user_id, u->admin ? " admin" : "",
	       u->deactivated ? " deactivated" : "", u->locked ? " locked" : "",
	       u->suspended ? " suspended" : "");
	return 0;
}

static int admin_user_verb(struct store *st, const struct config *cfg,
                           const struct admin_args *a)
{
	enum account_result ar = ACCOUNT_ERROR;
	char *pw = NULL, *uid = NULL;

	if (!a->name) {
		fprintf(stderr, "chappe admin %s: NAME is required\n", a->verb);
		return 2;
	}
	if (strcmp(a->verb, "create-user") == 0) {
		if (!(pw = password_read(a->password_file)))
			return 1;
		ar = account_create(st, cfg, a->name, pw, NULL, a->admin, &uid);
		if (ar == ACCOUNT_OK)
			printf("created %s%s\n", uid, a->admin ? " (admin)" : "");
		goto out;
	}
	uid = account_user_id_parse(cfg, a->name);
	if (!uid || store_user_exists(st, uid) != STORE_OK) {
		fprintf(stderr, "chappe admin: no such user %s\n", a->name);
		free(uid);
		return 1;
	}
	if (strcmp(a->verb, "reset-password") == 0) {
		if (!(pw = password_read(a->password_file)))
			goto out;
		ar = account_set_password(st, cfg, uid, pw, true, NULL);
		if (ar == ACCOUNT_OK)
			printf("password of %s reset; every session was logged out\n", uid);
	} else if (strcmp(a->verb, "deactivate") == 0) {
		ar = store_user_deactivate(st, uid, a->erase) == STORE_OK &&
		     (!a->erase || erasure_mark(st, uid) == 0) ? ACCOUNT_OK : ACCOUNT_ERROR;
		if (ar == ACCOUNT_OK)
			printf("deactivated %s\n", uid);
	} else {
		fprintf(stderr, "chappe admin: unknown verb '%s'\n", a->verb);
		free(uid);
		return 2;
	}
out:
	if (ar != ACCOUNT_OK)
		fprintf(stderr, "chappe admin %s: failed (%s)\n", a->verb, account_errcode(ar));
	password_free(pw);
	free(uid);
	return ar == ACCOUNT_OK ? 0 : 1;
}

int cli_admin(int argc, char **argv)
{
	struct admin_args a = { 0 };
	struct cli_incident_args ia;
	struct config cfg;
	struct store *st = NULL;
	bool handled = false;
	char err[256];
	int ret;

	if (admin_args_parse(argc, argv, &a) != 0)
		return 2;
	umask(077);
	if (cli_config_open(&cfg, a.config_path, a.data_dir) != 0)
		return 1;
	if (secrets_init() != 0 ||
	    store_open(&st, cfg.database_backend, cfg.database_path, err, sizeof(err)) !=
	        STORE_OK) {
		fprintf(stderr, "chappe admin: cannot open the database: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	if (strcmp(a.verb, "list-users") == 0) {
		ret = store_user_list(st, print_user, NULL) == STORE_OK ? 0 : 1;
	} else {
		ia = (struct cli_incident_args){ a.verb, a.name, a.text, a.token };
		ret = cli_admin_incident(&cfg, st, &ia, &handled);
		if (!handled && a.text) {
			fprintf(stderr, "chappe admin: unexpected argument '%s'\n", a.text);
			ret = 2;
		} else if (!handled) {
			ret = admin_user_verb(st, &cfg, &a);
		}
	}
	store_close(st);
	config_free(&cfg);
	return ret;
}
