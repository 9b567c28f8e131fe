#include "security/accounts.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "security/secrets.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/timeutil.h"

#define PASSWORD_MAX_BYTES 512

const char *account_errcode(enum account_result r)
{
	switch (r) {
	case ACCOUNT_OK: return "M_OK";
	case ACCOUNT_INVALID_USERNAME: return "M_INVALID_USERNAME";
	case ACCOUNT_IN_USE: return "M_USER_IN_USE";
	case ACCOUNT_WEAK_PASSWORD: return "M_WEAK_PASSWORD";
	case ACCOUNT_BAD_PASSWORD: return "M_FORBIDDEN";
	case ACCOUNT_DEACTIVATED: return "M_USER_DEACTIVATED";
	case ACCOUNT_LOCKED: return "M_USER_LOCKED";
	case ACCOUNT_ERROR: default: return "M_UNKNOWN";
	}
}

char *account_user_id_parse(const struct config *cfg, const char *input)
{
	char lp[256];
	size_t n;

	if (input[0] == '@') {
		if (!id_user_is_local(input, cfg->server_name, lp, sizeof(lp)))
			return NULL;
	} else {
		n = strlen(input);
		if (n == 0 || n >= sizeof(lp))
			return NULL;
		memcpy(lp, input, n + 1);
	}
	for (char *p = lp; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return id_user_make(lp, cfg->server_name);
}

enum account_result account_check_new(struct store *st, const struct config *cfg,
                                      const char *localpart, char **user_id_out)
{
	bool all_digits = true;
	char *uid;
	enum store_result r;

	*user_id_out = NULL;
	for (const char *p = localpart; *p; p++)
		if (*p < '0' || *p > '9')
			all_digits = false;
	if (all_digits || !id_localpart_valid(localpart))
		return ACCOUNT_INVALID_USERNAME;
	/* The server-notices sender (api/client/server_notices.c) is created
	 * on demand; nobody may register its name first. */
	if (strcmp(localpart, ACCOUNT_RESERVED_NOTICES) == 0)
		return ACCOUNT_IN_USE;
	uid = id_user_make(localpart, cfg->server_name);
	if (!uid)
		return ACCOUNT_INVALID_USERNAME;   /* too long with the server name */
	r = store_user_exists(st, uid);
	if (r == STORE_OK) {
		free(uid);
		return ACCOUNT_IN_USE;
	}
	if (r != STORE_NOT_FOUND) {
		free(uid);
		return ACCOUNT_ERROR;
	}
	*user_id_out = uid;
	return ACCOUNT_OK;
}

enum account_result account_check_password_policy(const struct config *cfg,
                                                  const char *password)
{
	size_t n = strlen(password);
	if (n < cfg->password_min_length || n > PASSWORD_MAX_BYTES)
		return ACCOUNT_WEAK_PASSWORD;
	return ACCOUNT_OK;
}

enum account_result account_create(struct store *st, const struct config *cfg,
                                   const char *localpart, const char *password,
                                   const char *displayname, bool admin, char **user_id_out)
{
	enum account_result ar;
	enum store_result r;
	char *uid = NULL, *hash = NULL;

	*user_id_out = NULL;
	ar = account_check_new(st, cfg, localpart, &uid);
	if (ar != ACCOUNT_OK)
		return ar;
	if (password) {
		ar = account_check_password_policy(cfg, password);
		if (ar != ACCOUNT_OK)
			goto out;
		hash = secret_password_hash(password, cfg->password_hash_ops_limit,
		                            cfg->password_hash_mem_limit_kib);
		if (!hash) {
			ar = ACCOUNT_ERROR;
			goto out;
		}
	}
	/* Synapse's default display name is the localpart. */
	r = store_user_create(st, uid, hash, displayname ? displayname : localpart, admin,
	                      time_now_ms());
	if (r == STORE_CONFLICT)
		ar = ACCOUNT_IN_USE;   /* lost a race with another registration */
	else if (r != STORE_OK)
		ar = ACCOUNT_ERROR;
	else {
		*user_id_out = uid;
		uid = NULL;
		ar = ACCOUNT_OK;
	}
out:
	free(uid);
	free(hash);
	return ar;
}

enum account_result account_verify_password(struct store *st, const struct config *cfg,
                                            const char *user_id, const char *password)
{
	struct store_user u = { 0 };
	enum store_result r = store_user_get(st, user_id, &u);
	enum account_result ar;

	if (r == STORE_ERROR)
		return ACCOUNT_ERROR;
	if (r == STORE_NOT_FOUND) {
		/* Same cost as a real check: no user enumeration by timing. */
		secret_password_verify(NULL, password, cfg->password_hash_ops_limit,
		                       cfg->password_hash_mem_limit_kib);
		return ACCOUNT_BAD_PASSWORD;
	}
	if (!secret_password_verify(u.password_hash, password, cfg->password_hash_ops_limit,
	                            cfg->password_hash_mem_limit_kib))
		ar = ACCOUNT_BAD_PASSWORD;
	else if (u.deactivated)
		ar = ACCOUNT_DEACTIVATED;
	else if (u.locked)
		ar = ACCOUNT_LOCKED;
	else
		ar = ACCOUNT_OK;
	store_user_clear(&u);
	return ar;
}

enum account_result account_set_password(struct store *st, const struct config *cfg,
                                         const char *user_id, const char *password,
                                         bool logout_devices, const char *keep_device_id)
{
	enum account_result ar = account_check_password_policy(cfg, password);
	char *hash;
	enum store_result r;

	if (ar != ACCOUNT_OK)
		return ar;
	hash = secret_password_hash(password, cfg->password_hash_ops_limit,
	                            cfg->password_hash_mem_limit_kib);
	if (!hash)
		return ACCOUNT_ERROR;
	r = store_user_set_password_hash(st, user_id, hash);
	free(hash);
	if (r == STORE_NOT_FOUND)
		return ACCOUNT_BAD_PASSWORD;
	if (r != STORE_OK)
		return ACCOUNT_ERROR;
	if (logout_devices && store_devices_delete_all(st, user_id, keep_device_id) != STORE_OK)
		return ACCOUNT_ERROR;
	return ACCOUNT_OK;
}
