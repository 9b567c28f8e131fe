/*
 * store_ledger: the front of the storage layer for the access ledger:
 * argument checks before the back end, row checks after it.
 * Threads: stateless; any thread. Memory: rows passed to a walk callback
 * belong to the walk; store_ledger_row_clear frees a row the caller owns.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

void store_ledger_row_clear(struct store_ledger_row *r)
{
	if (r == NULL)
		return;
	free(r->user_id);
	free(r->device_id);
	free(r->ip);
	free(r->user_agent);
	free(r->kind);
	free(r->room_id);
	free(r->items);
	free(r->media_id);
	free(r->query);
	memset(r, 0, sizeof(*r));
}

/* What every row must hold, going in and coming out. */
static bool ledger_row_ok(const struct store_ledger_row *r)
{
	return r->seq > 0 && r->ts >= 0 && store_user_id_ok(r->user_id) &&
	       store_text_ok(r->device_id, STORE_DEVICE_ID_MAX, true) &&
	       store_text_ok(r->ip, STORE_IP_MAX, true) &&
	       store_text_ok(r->user_agent, STORE_TEXT_MAX, true) &&
	       r->kind != NULL && r->kind[0] != '\0' &&
	       store_text_ok(r->kind, STORE_LEDGER_KIND_MAX, false) &&
	       store_text_ok(r->room_id, STORE_TEXT_MAX, true) &&
	       store_text_ok(r->items, STORE_LEDGER_ITEMS_MAX, true) &&
	       store_text_ok(r->media_id, STORE_TEXT_MAX, true) &&
	       store_text_ok(r->query, STORE_LEDGER_QUERY_MAX, true) &&
	       r->n_events >= 0 && r->bytes >= 0 && r->result_count >= 0;
}

enum store_result store_ledger_append(struct store *st, const struct store_ledger_row *rows,
                                      size_t n)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);

	if (rows == NULL || n == 0 || n > STORE_LEDGER_BATCH_MAX)
		return store_refuse("ledger_append");
	for (size_t i = 0; i < n; i++) {
		if (!ledger_row_ok(&rows[i]) || (i > 0 && rows[i].seq != rows[i - 1].seq + 1))
			return store_refuse("ledger_append row");
	}
	return be->ledger_append(h, rows, n);
}

enum store_result store_ledger_marks(struct store *st, struct store_ledger_mark *head,
                                     struct store_ledger_mark *checkpoint)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);
	enum store_result r;

	memset(head, 0, sizeof(*head));
	memset(checkpoint, 0, sizeof(*checkpoint));
	r = be->ledger_marks(h, head, checkpoint);
	return store_loaded(r, head->seq >= checkpoint->seq && checkpoint->seq >= 0,
	                    "ledger marks");
}

/* Walks hand the caller only rows that pass ledger_row_ok: a row edited
 * into nonsense stops the walk rather than reach a report. */
struct ledger_walk_ctx {
	store_ledger_fn fn;
	void *ctx;
	bool bad;
};

static int ledger_walk_check(void *ctx, const struct store_ledger_row *r)
{
	struct ledger_walk_ctx *w = ctx;

	if (!ledger_row_ok(r)) {
		w->bad = true;
		return 1;
	}
	return w->fn(w->ctx, r);
}

enum store_result store_ledger_walk(struct store *st, const char *user_id, int64_t since,
                                    int64_t until, store_ledger_fn fn, void *ctx)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);
	struct ledger_walk_ctx w = { fn, ctx, false };
	enum store_result r;

	if (fn == NULL || (user_id != NULL && !store_user_id_ok(user_id)) || since > until)
		return store_refuse("ledger_walk");
	r = be->ledger_walk(h, user_id, since, until, ledger_walk_check, &w);
	return store_loaded(r, !w.bad, "ledger row");
}

enum store_result store_ledger_purge_point(struct store *st, int64_t before_ts,
                                           struct store_ledger_mark *out)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);

	memset(out, 0, sizeof(*out));
	return store_loaded(be->ledger_purge_point(h, before_ts, out), out->seq >= 0,
	                    "ledger purge point");
}

enum store_result store_ledger_purge(struct store *st, const struct store_ledger_mark *upto)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);

	if (upto == NULL || upto->seq <= 0)
		return store_refuse("ledger_purge");
	return be->ledger_purge(h, upto);
}
