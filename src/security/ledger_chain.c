#include "security/ledger_chain.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

static void chain_text(crypto_hash_sha256_state *h, const char *name, const char *v)
{
	char len[32];

	crypto_hash_sha256_update(h, (const unsigned char *)name, strlen(name));
	crypto_hash_sha256_update(h, (const unsigned char *)"=", 1);
	if (v == NULL) {
		crypto_hash_sha256_update(h, (const unsigned char *)"-", 1);
	} else {
		size_t n = strlen(v);
		int k = snprintf(len, sizeof(len), "%zu:", n);
		crypto_hash_sha256_update(h, (const unsigned char *)len, (size_t)k);
		crypto_hash_sha256_update(h, (const unsigned char *)v, n);
	}
	crypto_hash_sha256_update(h, (const unsigned char *)";", 1);
}

static void chain_int(crypto_hash_sha256_state *h, const char *name, int64_t v)
{
	char buf[64];
	int k = snprintf(buf, sizeof(buf), "%s=%" PRId64 ";", name, v);
	crypto_hash_sha256_update(h, (const unsigned char *)buf, (size_t)k);
}

void ledger_chain_hash(const unsigned char prev[STORE_LEDGER_HASH_LEN],
                       const struct store_ledger_row *r,
                       unsigned char out[STORE_LEDGER_HASH_LEN])
{
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, prev, STORE_LEDGER_HASH_LEN);
	chain_int(&h, "seq", r->seq);
	chain_int(&h, "ts", r->ts);
	chain_text(&h, "user_id", r->user_id);
	chain_text(&h, "device_id", r->device_id);
	chain_text(&h, "ip", r->ip);
	chain_text(&h, "user_agent", r->user_agent);
	chain_text(&h, "kind", r->kind);
	chain_text(&h, "room_id", r->room_id);
	chain_text(&h, "items", r->items);
	chain_int(&h, "n_events", r->n_events);
	chain_text(&h, "media_id", r->media_id);
	chain_int(&h, "bytes", r->bytes);
	chain_text(&h, "query", r->query);
	chain_int(&h, "result_count", r->result_count);
	crypto_hash_sha256_final(&h, out);
}

struct verify_walk {
	struct ledger_verify_result *out;
	int64_t expect_seq;
	unsigned char prev[STORE_LEDGER_HASH_LEN];
};

static int verify_row(void *ctx, const struct store_ledger_row *r)
{
	struct verify_walk *w = ctx;
	unsigned char h[STORE_LEDGER_HASH_LEN];

	/* rows a running server appended after the head was read are checked
	 * by the next run: the head is what this run can vouch for */
	if (r->seq > w->out->head_seq && w->expect_seq > w->out->head_seq)
		return 1;
	if (r->seq != w->expect_seq) {
		w->out->status = LEDGER_VERIFY_MISSING;
		w->out->bad_seq = w->expect_seq;
		return 1;
	}
	ledger_chain_hash(w->prev, r, h);
	/* an edited hash column breaks the next row's link instead: either
	 * way the first row whose stored hash is not the recomputed one is
	 * the first row touched */
	if (sodium_memcmp(h, r->hash, sizeof(h)) != 0) {
		w->out->status = LEDGER_VERIFY_EDITED;
		w->out->bad_seq = r->seq;
		return 1;
	}
	memcpy(w->prev, h, sizeof(h));
	w->expect_seq++;
	w->out->rows++;
	return 0;
}

static enum ledger_verify_status chain_verify_once(struct store *st,
                                                   struct ledger_verify_result *out)
{
	struct store_ledger_mark head, cp;
	struct verify_walk w = { out, 0, { 0 } };
	enum store_result r;

	memset(out, 0, sizeof(*out));
	if (store_ledger_marks(st, &head, &cp) != STORE_OK)
		return out->status = LEDGER_VERIFY_STORE_ERROR;
	out->checkpoint_seq = cp.seq;
	out->head_seq = head.seq;
	memcpy(out->head_hash, head.hash, sizeof(head.hash));
	w.expect_seq = cp.seq + 1;
	memcpy(w.prev, cp.hash, sizeof(w.prev));
	r = store_ledger_walk(st, NULL, 0, INT64_MAX, verify_row, &w);
	if (out->status != LEDGER_VERIFY_OK)
		return out->status;
	if (r != STORE_OK) {
		/* a row of the wrong type or size: the one after the last good */
		out->bad_seq = w.expect_seq;
		return out->status = LEDGER_VERIFY_UNREADABLE;
	}
	if (w.expect_seq - 1 != head.seq ||
	    sodium_memcmp(w.prev, head.hash, sizeof(w.prev)) != 0) {
		out->bad_seq = w.expect_seq;
		return out->status = w.expect_seq - 1 < head.seq ? LEDGER_VERIFY_TAIL_MISSING
		                                                 : LEDGER_VERIFY_EDITED;
	}
	return LEDGER_VERIFY_OK;
}

enum ledger_verify_status ledger_chain_verify(struct store *st, struct ledger_verify_result *out)
{
	struct store_ledger_mark head, cp;
	enum ledger_verify_status v = chain_verify_once(st, out);

	/* a retention purge between reading the marks and walking the rows
	 * looks like deleted rows: if the checkpoint moved, walk again */
	if (v != LEDGER_VERIFY_OK && v != LEDGER_VERIFY_STORE_ERROR &&
	    store_ledger_marks(st, &head, &cp) == STORE_OK && cp.seq != out->checkpoint_seq)
		v = chain_verify_once(st, out);
	return v;
}

const char *ledger_verify_status_name(enum ledger_verify_status s)
{
	switch (s) {
	case LEDGER_VERIFY_OK: return "ok";
	case LEDGER_VERIFY_EDITED: return "edited";
	case LEDGER_VERIFY_MISSING: return "missing";
	case LEDGER_VERIFY_TAIL_MISSING: return "tail missing";
	case LEDGER_VERIFY_UNREADABLE: return "unreadable";
	case LEDGER_VERIFY_STORE_ERROR: return "store error";
	}
	return "unknown";
}
