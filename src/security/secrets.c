#include "security/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/base64.h"

#define TOKEN_BYTES 32
#define TOKEN_PRESENTED_MAX 1024

int secrets_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int secret_token_new(const char *prefix, char out[SECRET_TOKEN_MAX_LEN],
                     unsigned char hash[SECRET_TOKEN_HASH_LEN])
{
	unsigned char raw[TOKEN_BYTES];
	char *b64;
	int n;

	randombytes_buf(raw, sizeof(raw));
	b64 = b64url_encode(raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	if (!b64)
		return -1;
	n = snprintf(out, SECRET_TOKEN_MAX_LEN, "%s_%s", prefix, b64);
	sodium_memzero(b64, strlen(b64));
	free(b64);
	if (n < 0 || n >= SECRET_TOKEN_MAX_LEN)
		return -1;
	return secret_token_hash(out, hash);
}

int secret_token_hash(const char *token, unsigned char hash[SECRET_TOKEN_HASH_LEN])
{
	size_t n = strnlen(token, TOKEN_PRESENTED_MAX + 1);
	if (n == 0 || n > TOKEN_PRESENTED_MAX)
		return -1;
	crypto_hash_sha256(hash, (const unsigned char *)token, n);
	return 0;
}

char *secret_password_hash(const char *password, uint64_t ops_limit, uint64_t mem_limit_kib)
{
	char *out = malloc(crypto_pwhash_STRBYTES);
	if (!out)
		return NULL;
	if (crypto_pwhash_str_alg(out, password, strlen(password), ops_limit,
	                          (size_t)mem_limit_kib * 1024,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

bool secret_password_verify(const char *encoded, const char *password,
                            uint64_t ops_limit, uint64_t mem_limit_kib)
{
	if (!encoded) {
		/* Spend the same effort as a real check, then refuse. */
		char *dummy = secret_password_hash(password, ops_limit, mem_limit_kib);
		free(dummy);
		return false;
	}
	return crypto_pwhash_str_verify(encoded, password, strlen(password)) == 0;
}
