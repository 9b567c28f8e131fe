/*
 * accounts: the rules of an account's life, shared by the Client-Server
 * API, the admin API and the `chappe admin` CLI so that all three apply
 * the same checks: which user IDs may be created, password strength and
 * hashing, verification, password change and deactivation.
 *
 * Contract: stateless apart from the store; thread-safe. Strings returned
 * through out-parameters are malloc'd for the caller.
 */
#ifndef CHAPPE_SECURITY_ACCOUNTS_H
#define CHAPPE_SECURITY_ACCOUNTS_H

#include <stdbool.h>

struct store;
struct config;

/* Localpart of the server-notices account, which no one may register. */
#define ACCOUNT_RESERVED_NOTICES "server"

enum account_result {
	ACCOUNT_OK = 0,
	ACCOUNT_INVALID_USERNAME,   /* M_INVALID_USERNAME */
	ACCOUNT_IN_USE,             /* M_USER_IN_USE */
	ACCOUNT_WEAK_PASSWORD,      /* M_WEAK_PASSWORD */
	ACCOUNT_BAD_PASSWORD,       /* wrong password or no such user: M_FORBIDDEN */
	ACCOUNT_DEACTIVATED,        /* M_USER_DEACTIVATED */
	ACCOUNT_LOCKED,             /* M_USER_LOCKED */
	ACCOUNT_ERROR,              /* store failure: M_UNKNOWN */
};

/* The spec error code for a result ("M_USER_IN_USE"...). */
const char *account_errcode(enum account_result r);

/* Turn what a user typed ("alice", "Alice", "@alice:hs") into a local user
 * ID of this server, lower-casing the localpart as Synapse does at login.
 * NULL if it is not a valid local user. */
char *account_user_id_parse(const struct config *cfg, const char *input);

/* Check that localpart can be registered: grammar (a-z 0-9 . _ = - / +),
 * not all digits (reserved, as in Synapse), total ID length; then that the
 * ID is free. On ACCOUNT_OK *user_id_out holds the new ID. */
enum account_result account_check_new(struct store *st, const struct config *cfg,
                                      const char *localpart, char **user_id_out);

/* Password policy: length between password_min_length and 512 bytes. */
enum account_result account_check_password_policy(const struct config *cfg,
                                                  const char *password);

/* Create a local account (checks of both functions above included). */
enum account_result account_create(struct store *st, const struct config *cfg,
                                   const char *localpart, const char *password,
                                   const char *displayname, bool admin, char **user_id_out);

/* Verify a password for a user ID. Unknown users cost a hash too. */
enum account_result account_verify_password(struct store *st, const struct config *cfg,
                                            const char *user_id, const char *password);

/* Set a new password; with logout_devices, every device but keep_device_id
 * (NULL: all) is deleted with its tokens. */
enum account_result account_set_password(struct store *st, const struct config *cfg,
                                         const char *user_id, const char *password,
                                         bool logout_devices, const char *keep_device_id);

#endif
