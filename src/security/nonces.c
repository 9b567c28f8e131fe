#include "security/nonces.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uthash.h>

struct nonce {
	char value[NONCE_LEN + 1];
	int64_t expires_ms;
	UT_hash_handle hh;
};

struct nonces {
	pthread_mutex_t lock;
	struct nonce *table;
	int64_t ttl_ms;
	size_t max;
};

struct nonces *nonces_new(int64_t ttl_ms, size_t max)
{
	struct nonces *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	pthread_mutex_init(&n->lock, NULL);
	n->ttl_ms = ttl_ms;
	n->max = max;
	return n;
}

void nonces_free(struct nonces *n)
{
	struct nonce *e, *tmp;
	if (!n)
		return;
	HASH_ITER(hh, n->table, e, tmp) {
		HASH_DEL(n->table, e);
		free(e);
	}
	pthread_mutex_destroy(&n->lock);
	free(n);
}

static void drop_expired(struct nonces *n, int64_t now_ms)
{
	struct nonce *e, *tmp;
	HASH_ITER(hh, n->table, e, tmp) {
		if (e->expires_ms <= now_ms) {
			HASH_DEL(n->table, e);
			free(e);
		}
	}
}

int nonces_issue(struct nonces *n, char out[NONCE_LEN + 1], int64_t now_ms)
{
	unsigned char raw[NONCE_LEN / 2];
	struct nonce *e;
	int ret = -1;

	pthread_mutex_lock(&n->lock);
	if (HASH_COUNT(n->table) >= n->max)
		drop_expired(n, now_ms);
	if (HASH_COUNT(n->table) >= n->max)
		goto out;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(e->value, sizeof(e->value), raw, sizeof(raw));
	e->expires_ms = now_ms + n->ttl_ms;
	HASH_ADD_STR(n->table, value, e);
	memcpy(out, e->value, NONCE_LEN + 1);
	ret = 0;
out:
	pthread_mutex_unlock(&n->lock);
	return ret;
}

bool nonces_consume(struct nonces *n, const char *nonce, int64_t now_ms)
{
	struct nonce *e;
	bool ok = false;

	if (strlen(nonce) != NONCE_LEN)
		return false;
	pthread_mutex_lock(&n->lock);
	HASH_FIND_STR(n->table, nonce, e);
	if (e) {
		ok = e->expires_ms > now_ms;
		HASH_DEL(n->table, e);
		free(e);
	}
	pthread_mutex_unlock(&n->lock);
	return ok;
}
