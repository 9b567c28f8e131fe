/*
 * ledger_chain: the access ledger's hash chain, and its verification.
 *
 * Each row's hash is SHA-256(previous row's hash || canonical row), the
 * previous hash of the first row being the checkpoint's (32 zero bytes on
 * a ledger never purged). The canonical row is every field but the hash,
 * in a fixed order, each written as "name=" followed by "-" for NULL or
 * "<decimal byte length>:<bytes>" for a string, or the decimal value for a
 * number, and ";". Length prefixes make it unambiguous: no choice of
 * field values can make two different rows encode the same.
 *
 * Pure functions and a read-only walk: any thread.
 */
#ifndef CHAPPE_SECURITY_LEDGER_CHAIN_H
#define CHAPPE_SECURITY_LEDGER_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* out = SHA-256(prev || canonical(r)); r->hash is not read. */
void ledger_chain_hash(const unsigned char prev[STORE_LEDGER_HASH_LEN],
                       const struct store_ledger_row *r,
                       unsigned char out[STORE_LEDGER_HASH_LEN]);

enum ledger_verify_status {
	LEDGER_VERIFY_OK = 0,
	LEDGER_VERIFY_EDITED,       /* a row's content does not match its hash */
	LEDGER_VERIFY_MISSING,      /* a seq is missing: deleted rows */
	LEDGER_VERIFY_TAIL_MISSING, /* the head names a row that is gone */
	LEDGER_VERIFY_UNREADABLE,   /* a row the store cannot load (edited type) */
	LEDGER_VERIFY_STORE_ERROR,
};

struct ledger_verify_result {
	enum ledger_verify_status status;
	int64_t rows;               /* rows checked */
	int64_t checkpoint_seq;     /* where the walk started */
	int64_t head_seq;
	int64_t bad_seq;            /* the first edited or missing seq (0 if OK) */
	unsigned char head_hash[STORE_LEDGER_HASH_LEN];
};

/* Walk the whole ledger from the checkpoint and report the first row that
 * breaks the chain. Returns the status (also in out->status). */
enum ledger_verify_status ledger_chain_verify(struct store *st, struct ledger_verify_result *out);

/* "edited", "missing", ... for messages. */
const char *ledger_verify_status_name(enum ledger_verify_status s);

#endif
