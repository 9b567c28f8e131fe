/*
 * sqlite_keys: end-to-end encryption keys in SQL (tables of migration 8).
 *
 * Writes are jobs on the writer thread. A claim runs all its picks in one
 * job: there is one writer, so two claims never see the same one-time key,
 * and the DELETE ... RETURNING takes the very row it picked. Every job
 * that changes what /keys/query serves for a user appends one row to
 * device_list_changes in the same savepoint, so the device-list position
 * is committed with what it stands for.
 *
 * Reads run on the caller's reader connection; what they load is checked
 * for type and size here and for shape by the front (store_keys.c).
 */
#include "store/sqlite/sqlite_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static const char *const sqlite_xsign_usage[STORE_XSIGN_COUNT] = {
	[STORE_XSIGN_MASTER] = "master",
	[STORE_XSIGN_SELF_SIGNING] = "self_signing",
	[STORE_XSIGN_USER_SIGNING] = "user_signing",
};

/* Bind texts to ?1..?n of stmt; SQLITE_OK or the failing code. */
static int sqlite_keys_bind(sqlite3_stmt *stmt, const char *const *texts, int n)
{
	for (int i = 0; i < n; i++) {
		int rc = sqlite_bind_text(stmt, i + 1, texts[i]);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* Append a change of user_id to the device-list stream; *stream_out its
 * position. */
static enum store_result sqlite_keys_change(struct sqlite_conn *w, const char *user_id,
                                            int64_t *stream_out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_KEYS_CHANGE_INSERT);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "device list change");
		goto out;
	}
	if (sqlite_col_int(stmt, 0, stream_out) != 0 || *stream_out <= 0)
		goto out;
	rc = sqlite3_step(stmt);   /* finish the RETURNING statement */
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(w, rc, "device list change");
out:
	sqlite_stmt_put(w, SQ_KEYS_CHANGE_INSERT, stmt);
	return r;
}

/* One text column of the single row a statement returns: STORE_OK with
 * *out malloc'd, STORE_NOT_FOUND without a row. */
static enum store_result sqlite_keys_text_row(struct sqlite_conn *c, enum sqlite_stmt_id id,
                                              const char *const *texts, int n, size_t max,
                                              char **out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, id);
	enum store_result r = STORE_ERROR;
	int rc;

	*out = NULL;
	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_keys_bind(stmt, texts, n) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else if (rc != SQLITE_ROW)
		r = sqlite_result_of(c, rc, "keys read");
	else if (sqlite_col_text(stmt, 0, false, max, out) == 0)
		r = STORE_OK;
	else
		log_error("store: unreadable keys row (wrong type, size, or out of memory)");
out:
	sqlite_stmt_put(c, id, stmt);
	return r;
}

/* ---- upload ----------------------------------------------------------- */

struct sqlite_upload_args {
	const struct store_keys_upload *u;
	enum store_keys_refusal refusal;
	int64_t stream;
};

/* What is stored for the device now: STORE_OK with *same set when the
 * upload is byte-identical, STORE_NOT_FOUND when nothing is, STORE_CONFLICT
 * (refusal set) when another identity is. */
static enum store_result sqlite_device_keys_compare(struct sqlite_conn *w,
                                                   struct sqlite_upload_args *a, bool *same)
{
	const struct store_keys_upload *u = a->u;
	const char *key[2] = { u->user_id, u->device_id };
	sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_KEYS_DEVICE_IDENTITY);
	char *identity = NULL, *json = NULL;
	enum store_result r = STORE_ERROR;
	int rc;

	*same = false;
	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_keys_bind(stmt, key, 2) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
	} else if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc, "device keys read");
	} else if (sqlite_col_text(stmt, 0, false, STORE_KEY_JSON_MAX, &identity) == 0 &&
	           sqlite_col_text(stmt, 1, false, STORE_KEY_JSON_MAX, &json) == 0) {
		if (strcmp(identity, u->device_identity) != 0) {
			a->refusal = STORE_KEYS_IDENTITY_CHANGED;
			r = STORE_CONFLICT;
		} else {
			*same = strcmp(json, u->device_keys) == 0;
			r = STORE_OK;
		}
	}
out:
	sqlite_stmt_put(w, SQ_KEYS_DEVICE_IDENTITY, stmt);
	free(identity);
	free(json);
	return r;
}

/* Device keys: refuse another identity; write (and record a device-list
 * change) when new or different, e.g. with new signatures. */
static enum store_result sqlite_upload_device(struct sqlite_conn *w,
                                              struct sqlite_upload_args *a)
{
	const struct store_keys_upload *u = a->u;
	const char *row[4] = { u->user_id, u->device_id, u->device_keys, u->device_identity };
	enum store_result r;
	bool same;

	r = sqlite_device_keys_compare(w, a, &same);
	if (r == STORE_NOT_FOUND)
		same = false;
	else if (r != STORE_OK || same)
		return r;
	r = sqlite_exec_texts(w, SQ_KEYS_DEVICE_UPSERT, row, 4, NULL);
	if (r == STORE_OK)
		r = sqlite_keys_change(w, u->user_id, &a->stream);
	return r;
}

/* One-time keys: an existing ID must hold the same key; the device may
 * not go over STORE_OTK_PER_DEVICE_MAX. */
static enum store_result sqlite_upload_otks(struct sqlite_conn *w, struct sqlite_upload_args *a)
{
	const struct store_keys_upload *u = a->u;
	const char *key[2] = { u->user_id, u->device_id };
	enum store_result r;
	char *stored = NULL;
	int64_t n_have = 0;

	if (u->n_otks == 0)
		return STORE_OK;
	{
		sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_KEYS_OTK_TOTAL);
		int rc;
		if (stmt == NULL)
			return STORE_ERROR;
		r = STORE_ERROR;
		if (sqlite_keys_bind(stmt, key, 2) == SQLITE_OK) {
			rc = sqlite3_step(stmt);
			if (rc == SQLITE_ROW && sqlite_col_int(stmt, 0, &n_have) == 0)
				r = STORE_OK;
			else if (rc != SQLITE_ROW)
				r = sqlite_result_of(w, rc, "one-time key count");
		}
		sqlite_stmt_put(w, SQ_KEYS_OTK_TOTAL, stmt);
		if (r != STORE_OK)
			return r;
	}
	for (size_t i = 0; i < u->n_otks; i++) {
		const struct store_key_new *k = &u->otks[i];
		const char *sel[4] = { u->user_id, u->device_id, k->algorithm, k->key_id };
		const char *row[5] = { u->user_id, u->device_id, k->algorithm, k->key_id, k->json };

		r = sqlite_keys_text_row(w, SQ_KEYS_OTK_GET, sel, 4, STORE_KEY_JSON_MAX, &stored);
		if (r == STORE_OK) {
			bool same = strcmp(stored, k->json) == 0;
			free(stored);
			stored = NULL;
			if (!same) {
				a->refusal = STORE_KEYS_OTK_CHANGED;
				return STORE_CONFLICT;
			}
			continue;   /* a retried upload: already there */
		}
		if (r != STORE_NOT_FOUND)
			return r;
		if (++n_have > STORE_OTK_PER_DEVICE_MAX) {
			a->refusal = STORE_KEYS_OTK_LIMIT;
			return STORE_CONFLICT;
		}
		r = sqlite_exec_texts(w, SQ_KEYS_OTK_INSERT, row, 5, NULL);
		if (r != STORE_OK)
			return r;
	}
	return STORE_OK;
}

static enum store_result job_keys_upload(struct sqlite_conn *w, void *arg)
{
	struct sqlite_upload_args *a = arg;
	const struct store_keys_upload *u = a->u;
	const char *key[2] = { u->user_id, u->device_id };
	enum store_result r;

	/* keys only for a device that exists (it may have been deleted by a
	 * racing logout: the trigger would not see keys written after it) */
	{
		sqlite3_stmt *stmt = sqlite_stmt_get(w, SQ_KEYS_DEVICE_EXISTS);
		int rc;
		if (stmt == NULL)
			return STORE_ERROR;
		r = STORE_ERROR;
		if (sqlite_keys_bind(stmt, key, 2) == SQLITE_OK) {
			rc = sqlite3_step(stmt);
			r = rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND :
			    sqlite_result_of(w, rc, "device exists");
		}
		sqlite_stmt_put(w, SQ_KEYS_DEVICE_EXISTS, stmt);
		if (r != STORE_OK)
			return r;
	}
	if (u->device_keys != NULL && (r = sqlite_upload_device(w, a)) != STORE_OK)
		return r;
	if ((r = sqlite_upload_otks(w, a)) != STORE_OK)
		return r;
	for (size_t i = 0; i < u->n_fallbacks; i++) {
		const struct store_key_new *k = &u->fallbacks[i];
		const char *row[5] = { u->user_id, u->device_id, k->algorithm, k->key_id, k->json };
		if ((r = sqlite_exec_texts(w, SQ_KEYS_FALLBACK_UPSERT, row, 5, NULL)) != STORE_OK)
			return r;
	}
	return STORE_OK;
}

enum store_result sqlite_keys_upload(void *h, const struct store_keys_upload *u,
                                     enum store_keys_refusal *refusal, int64_t *stream_out)
{
	struct sqlite_upload_args a = { .u = u };
	enum store_result r = sqlite_writer_submit(h, job_keys_upload, &a);

	*refusal = r == STORE_CONFLICT ? a.refusal : STORE_KEYS_ACCEPTED;
	*stream_out = r == STORE_OK ? a.stream : 0;
	return r;
}

/* ---- counts and device keys ------------------------------------------- */

/* A list's array with room for item n (doubling, capped at max). */
static void *sqlite_keys_grow(void *items, size_t n, size_t *cap, size_t size, size_t max)
{
	void *grown;
	size_t want;

	if (n < *cap)
		return items;
	if (*cap >= max) {
		log_error("store: keys list longer than %zu; refusing it", max);
		return NULL;
	}
	want = *cap == 0 ? 8 : *cap * 2;
	if (want > max)
		want = max;
	grown = realloc(items, want * size);
	if (grown == NULL) {
		log_error("store: out of memory reading keys");
		return NULL;
	}
	*cap = want;
	return grown;
}

static enum store_result sqlite_counts_otk(struct sqlite_conn *c, const char *const *key,
                                           struct store_key_counts *out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, SQ_KEYS_OTK_COUNTS);
	enum store_result r = STORE_ERROR;
	size_t cap = 0;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_keys_bind(stmt, key, 2) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_key_count *items, *k;
		items = sqlite_keys_grow(out->items, out->n, &cap, sizeof(*items), 1000);
		if (items == NULL)
			goto out;
		out->items = items;
		k = &items[out->n];
		memset(k, 0, sizeof(*k));
		if (sqlite_col_text(stmt, 0, false, STORE_KEY_ALGORITHM_MAX, &k->algorithm) != 0 ||
		    sqlite_col_int(stmt, 1, &k->count) != 0) {
			free(k->algorithm);
			goto out;
		}
		out->n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "one-time key counts");
out:
	sqlite_stmt_put(c, SQ_KEYS_OTK_COUNTS, stmt);
	return r;
}

static enum store_result sqlite_counts_fallback(struct sqlite_conn *c, const char *const *key,
                                                struct store_key_counts *out)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, SQ_KEYS_FALLBACK_UNUSED);
	enum store_result r = STORE_ERROR;
	size_t cap = 0;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_keys_bind(stmt, key, 2) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char **items = sqlite_keys_grow(out->unused_fallbacks, out->n_unused_fallbacks, &cap,
		                                sizeof(*items), 1000);
		if (items == NULL)
			goto out;
		out->unused_fallbacks = items;
		if (sqlite_col_text(stmt, 0, false, STORE_KEY_ALGORITHM_MAX,
		                    &items[out->n_unused_fallbacks]) != 0)
			goto out;
		out->n_unused_fallbacks++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "fallback keys");
out:
	sqlite_stmt_put(c, SQ_KEYS_FALLBACK_UNUSED, stmt);
	return r;
}

enum store_result sqlite_keys_counts(void *h, const char *user_id, const char *device_id,
                                     struct store_key_counts *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	const char *key[2] = { user_id, device_id };
	enum store_result r;

	if (c == NULL)
		return STORE_ERROR;
	/* one snapshot for both reads */
	if (sqlite_exec_stmt(c, SQ_READ_BEGIN) != STORE_OK)
		return STORE_ERROR;
	r = sqlite_counts_otk(c, key, out);
	if (r == STORE_OK)
		r = sqlite_counts_fallback(c, key, out);
	if (sqlite_exec_stmt(c, SQ_COMMIT) != STORE_OK)
		r = STORE_ERROR;
	if (r != STORE_OK)
		store_key_counts_clear(out);
	return r;
}

enum store_result sqlite_device_keys_get(void *h, const char *user_id, const char *device_id,
                                         struct store_device_keys_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	const char *key[2] = { user_id, device_id };
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_KEYS_DEVICE_LIST)) == NULL)
		return STORE_ERROR;
	if (sqlite_keys_bind(stmt, key, 2) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_device_keys *items, *d;
		items = sqlite_keys_grow(out->items, out->n, &cap, sizeof(*items), STORE_STATE_MAX);
		if (items == NULL)
			goto out;
		out->items = items;
		d = &items[out->n];
		memset(d, 0, sizeof(*d));
		if (sqlite_col_text(stmt, 0, false, STORE_DEVICE_ID_MAX, &d->device_id) != 0 ||
		    sqlite_col_text(stmt, 1, false, STORE_KEY_JSON_MAX, &d->json) != 0 ||
		    sqlite_col_text(stmt, 2, true, STORE_TEXT_MAX, &d->display_name) != 0) {
			log_error("store: unreadable device_keys row");
			free(d->device_id);
			free(d->json);
			free(d->display_name);
			goto out;
		}
		out->n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "device keys");
out:
	sqlite_stmt_put(c, SQ_KEYS_DEVICE_LIST, stmt);
	if (r != STORE_OK)
		store_device_keys_list_clear(out);
	return r;
}

/* ---- claim ------------------------------------------------------------ */

struct sqlite_claim_args {
	const struct store_key_claim *claims;
	size_t n;
	struct store_key_claimed *out;
};

/* Run a RETURNING (key_id, json) statement for one claim: STORE_OK with
 * the key, STORE_NOT_FOUND when it touched no row. */
static enum store_result sqlite_claim_step(struct sqlite_conn *w, enum sqlite_stmt_id id,
                                           const struct store_key_claim *c,
                                           struct store_key_claimed *k)
{
	const char *args[3] = { c->user_id, c->device_id, c->algorithm };
	sqlite3_stmt *stmt = sqlite_stmt_get(w, id);
	enum store_result r = STORE_ERROR;
	char *key_id = NULL;
	size_t len;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_keys_bind(stmt, args, 3) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		r = STORE_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sqlite_result_of(w, rc, "key claim");
		goto out;
	}
	if (sqlite_col_text(stmt, 0, false, STORE_KEY_ID_MAX, &key_id) != 0 ||
	    sqlite_col_text(stmt, 1, false, STORE_KEY_JSON_MAX, &k->json) != 0)
		goto out;
	rc = sqlite3_step(stmt);   /* the change is made; finish the statement */
	if (rc != SQLITE_DONE) {
		r = sqlite_result_of(w, rc, "key claim");
		goto out;
	}
	len = strlen(c->algorithm) + 1 + strlen(key_id) + 1;
	if ((k->key_id = malloc(len)) == NULL)
		goto out;
	snprintf(k->key_id, len, "%s:%s", c->algorithm, key_id);
	r = STORE_OK;
out:
	sqlite_stmt_put(w, id, stmt);
	free(key_id);
	if (r != STORE_OK) {
		free(k->json);
		k->json = NULL;
	}
	return r;
}

static enum store_result job_keys_claim(struct sqlite_conn *w, void *arg)
{
	struct sqlite_claim_args *a = arg;
	enum store_result r;

	for (size_t i = 0; i < a->n; i++) {
		struct store_key_claimed *k = &a->out[i];
		r = sqlite_claim_step(w, SQ_KEYS_OTK_CLAIM, &a->claims[i], k);
		if (r == STORE_NOT_FOUND) {
			/* none left: the fallback key, marked used */
			r = sqlite_claim_step(w, SQ_KEYS_FALLBACK_CLAIM, &a->claims[i], k);
			k->fallback = r == STORE_OK;
		}
		if (r == STORE_ERROR)
			return r;
	}
	return STORE_OK;
}

enum store_result sqlite_keys_claim(void *h, const struct store_key_claim *claims, size_t n,
                                    struct store_key_claimed *out)
{
	struct sqlite_claim_args a = { .claims = claims, .n = n, .out = out };
	enum store_result r = sqlite_writer_submit(h, job_keys_claim, &a);

	/* rolled back: nothing was taken, so nothing may be handed out */
	if (r != STORE_OK)
		store_key_claimed_clear(out, n);
	return r;
}

/* ---- cross-signing and signatures ------------------------------------- */

enum store_result sqlite_cross_signing_get(void *h, const char *user_id,
                                           struct store_cross_signing *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	char *usage = NULL;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_XSIGN_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int u = -1;
		if (sqlite_col_text(stmt, 0, false, 32, &usage) != 0)
			goto out;
		for (int i = 0; i < STORE_XSIGN_COUNT; i++)
			if (strcmp(usage, sqlite_xsign_usage[i]) == 0)
				u = i;
		free(usage);
		usage = NULL;
		if (u < 0 || out->json[u] != NULL ||
		    sqlite_col_text(stmt, 1, false, STORE_XSIGN_JSON_MAX, &out->json[u]) != 0 ||
		    sqlite_col_text(stmt, 2, false, STORE_KEY_ID_MAX, &out->public_key[u]) != 0) {
			log_error("store: unreadable cross_signing_keys row");
			goto out;
		}
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "cross-signing keys");
out:
	sqlite_stmt_put(c, SQ_XSIGN_GET, stmt);
	if (r != STORE_OK)
		store_cross_signing_clear(out);
	return r;
}

struct sqlite_xsign_args {
	const char *user_id;
	const char *const *json;
	const char *const *public_key;
	bool only_if_no_master;
	int64_t stream;
};

static enum store_result job_cross_signing_put(struct sqlite_conn *w, void *arg)
{
	struct sqlite_xsign_args *a = arg;
	enum store_result r;

	if (a->only_if_no_master) {
		r = sqlite_probe(w, SQ_XSIGN_MASTER_EXISTS, a->user_id);
		if (r == STORE_OK)
			return STORE_CONFLICT;
		if (r != STORE_NOT_FOUND)
			return r;
	}
	{
		const char *drop[3] = { a->user_id, a->public_key[STORE_XSIGN_SELF_SIGNING],
		                        a->public_key[STORE_XSIGN_MASTER] };
		if ((r = sqlite_exec_texts(w, SQ_KEYSIG_DROP_REPLACED, drop, 3, NULL)) != STORE_OK)
			return r;
	}
	for (int i = 0; i < STORE_XSIGN_COUNT; i++) {
		const char *row[4] = { a->user_id, sqlite_xsign_usage[i], a->json[i],
		                       a->public_key[i] };
		if (a->json[i] == NULL)
			continue;
		if ((r = sqlite_exec_texts(w, SQ_XSIGN_UPSERT, row, 4, NULL)) != STORE_OK)
			return r;
	}
	return sqlite_keys_change(w, a->user_id, &a->stream);
}

enum store_result sqlite_cross_signing_put(void *h, const char *user_id,
                                           const char *const json[STORE_XSIGN_COUNT],
                                           const char *const public_key[STORE_XSIGN_COUNT],
                                           bool only_if_no_master, int64_t *stream_out)
{
	struct sqlite_xsign_args a = { .user_id = user_id, .json = json,
	                               .public_key = public_key,
	                               .only_if_no_master = only_if_no_master };
	enum store_result r = sqlite_writer_submit(h, job_cross_signing_put, &a);

	*stream_out = r == STORE_OK ? a.stream : 0;
	return r;
}

struct sqlite_keysig_args {
	const char *target_user;
	const struct store_key_signature *sigs;
	size_t n;
	int64_t stream;
};

static enum store_result job_key_signatures_add(struct sqlite_conn *w, void *arg)
{
	struct sqlite_keysig_args *a = arg;
	enum store_result r;

	for (size_t i = 0; i < a->n; i++) {
		const struct store_key_signature *s = &a->sigs[i];
		const char *row[5] = { a->target_user, s->target_key_id, s->signer_user,
		                       s->signer_key_id, s->signature };
		if ((r = sqlite_exec_texts(w, SQ_KEYSIG_UPSERT, row, 5, NULL)) != STORE_OK)
			return r;
	}
	return sqlite_keys_change(w, a->target_user, &a->stream);
}

enum store_result sqlite_key_signatures_add(void *h, const char *target_user,
                                            const struct store_key_signature *sigs, size_t n,
                                            int64_t *stream_out)
{
	struct sqlite_keysig_args a = { .target_user = target_user, .sigs = sigs, .n = n };
	enum store_result r = sqlite_writer_submit(h, job_key_signatures_add, &a);

	*stream_out = r == STORE_OK ? a.stream : 0;
	return r;
}

enum store_result sqlite_key_signatures_get(void *h, const char *target_user,
                                            struct store_key_signature_list *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_KEYSIG_GET)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, target_user) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_key_signature *items, *s;
		items = sqlite_keys_grow(out->items, out->n, &cap, sizeof(*items), 10000);
		if (items == NULL)
			goto out;
		out->items = items;
		s = &items[out->n];
		memset(s, 0, sizeof(*s));
		if (sqlite_col_text(stmt, 0, false, STORE_KEY_ID_MAX, &s->target_key_id) != 0 ||
		    sqlite_col_text(stmt, 1, false, STORE_USER_ID_MAX, &s->signer_user) != 0 ||
		    sqlite_col_text(stmt, 2, false, STORE_KEY_ID_MAX, &s->signer_key_id) != 0 ||
		    sqlite_col_text(stmt, 3, false, STORE_KEY_ID_MAX, &s->signature) != 0) {
			log_error("store: unreadable key_signatures row");
			free(s->target_key_id);
			free(s->signer_user);
			free(s->signer_key_id);
			free(s->signature);
			goto out;
		}
		out->n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "key signatures");
out:
	sqlite_stmt_put(c, SQ_KEYSIG_GET, stmt);
	if (r != STORE_OK)
		store_key_signature_list_clear(out);
	return r;
}

/* ---- device-list stream ----------------------------------------------- */

enum store_result sqlite_device_list_changes(void *h, int64_t since, int64_t to,
                                             char ***users_out, size_t *n_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	char **users = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_KEYS_CHANGES)) == NULL)
		return STORE_ERROR;
	if (sqlite3_bind_int64(stmt, 1, since) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, to) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, STORE_DEVICE_LIST_CHANGES_MAX) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char **grown = sqlite_keys_grow(users, n, &cap, sizeof(*grown),
		                                STORE_DEVICE_LIST_CHANGES_MAX);
		if (grown == NULL)
			goto out;
		users = grown;
		if (sqlite_col_text(stmt, 0, false, STORE_USER_ID_MAX, &users[n]) != 0)
			goto out;
		n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "device list changes");
out:
	sqlite_stmt_put(c, SQ_KEYS_CHANGES, stmt);
	if (r != STORE_OK) {
		store_room_ids_free(users, n);
		users = NULL;
		n = 0;
	}
	*users_out = users;
	*n_out = n;
	return r;
}

enum store_result sqlite_device_list_stream_max(void *h, int64_t *out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_KEYS_CHANGES_MAX)) == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite_col_int(stmt, 0, out) == 0)
		r = STORE_OK;
	else if (rc != SQLITE_ROW)
		r = sqlite_result_of(c, rc, "device list position");
	sqlite_stmt_put(c, SQ_KEYS_CHANGES_MAX, stmt);
	return r;
}

enum store_result sqlite_keys_shared_users(void *h, const char *user_id, char ***users_out,
                                           size_t *n_out)
{
	struct sqlite_conn *c = sqlite_reader_get(h);
	enum store_result r = STORE_ERROR;
	sqlite3_stmt *stmt;
	char **users = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (c == NULL || (stmt = sqlite_stmt_get(c, SQ_KEYS_SHARED_USERS)) == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, user_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, STORE_SHARED_USERS_MAX) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char **grown = sqlite_keys_grow(users, n, &cap, sizeof(*grown),
		                                STORE_SHARED_USERS_MAX);
		if (grown == NULL)
			goto out;
		users = grown;
		if (sqlite_col_text(stmt, 0, false, STORE_USER_ID_MAX, &users[n]) != 0)
			goto out;
		n++;
	}
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, "users sharing a room");
out:
	sqlite_stmt_put(c, SQ_KEYS_SHARED_USERS, stmt);
	if (r != STORE_OK) {
		store_room_ids_free(users, n);
		users = NULL;
		n = 0;
	}
	*users_out = users;
	*n_out = n;
	return r;
}
