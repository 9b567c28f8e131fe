/*
 * secrets: access/refresh tokens and password hashes.
 *
 * Tokens are 256 bits from the OS CSPRNG (libsodium randombytes), shown to
 * the client once as "<prefix>_<url-safe base64>" and stored only as their
 * SHA-256. Passwords are argon2id (libsodium crypto_pwhash_str) with the
 * configured cost. Pure apart from the RNG; thread-safe once
 * secrets_init() has returned (call it before starting threads).
 */
#ifndef CHAPPE_SECURITY_SECRETS_H
#define CHAPPE_SECURITY_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_TOKEN_HASH_LEN 32
#define SECRET_TOKEN_MAX_LEN 64   /* prefix + '_' + 43 base64 chars + NUL fits */

int secrets_init(void);

/* A new token "prefix_..." into out (NUL-terminated) and its hash. prefix
 * is a short tag ("syt" access, "syr" refresh) so leaked tokens are
 * recognisable by secret scanners. 0 or -1. */
int secret_token_new(const char *prefix, char out[SECRET_TOKEN_MAX_LEN],
                     unsigned char hash[SECRET_TOKEN_HASH_LEN]);
/* Hash of a presented token (any length up to 1 KiB; longer is refused
 * with -1 so an attacker cannot make us hash megabytes). */
int secret_token_hash(const char *token, unsigned char hash[SECRET_TOKEN_HASH_LEN]);

/* argon2id hash of password into a malloc'd encoded string, NULL on
 * failure (OOM or limits out of libsodium's range). */
char *secret_password_hash(const char *password, uint64_t ops_limit, uint64_t mem_limit_kib);
/* true if password matches the encoded hash. A NULL hash never matches,
 * but still costs one hash so timing does not reveal unknown users. */
bool secret_password_verify(const char *encoded, const char *password,
                            uint64_t ops_limit, uint64_t mem_limit_kib);

#endif
