/*
 * nonces: single-use random tokens with a lifetime (shared-secret
 * registration hands one out per attempt, as Synapse does).
 *
 * Contract: thread-safe; bounded to max entries (issuing past the bound
 * first drops expired ones, then refuses). Time is a monotonic clock in ms
 * passed by the caller so tests control it.
 */
#ifndef CHAPPE_SECURITY_NONCES_H
#define CHAPPE_SECURITY_NONCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NONCE_LEN 32   /* hex chars */

struct nonces;

struct nonces *nonces_new(int64_t ttl_ms, size_t max);
void nonces_free(struct nonces *n);
/* Issue a nonce into out (NONCE_LEN + 1 bytes). 0 or -1 (full / OOM). */
int nonces_issue(struct nonces *n, char out[NONCE_LEN + 1], int64_t now_ms);
/* true once for a nonce that was issued and has not expired. */
bool nonces_consume(struct nonces *n, const char *nonce, int64_t now_ms);

#endif
