/*
 * store_media: the front of the storage layer for the media repository:
 * argument checks before the back end, row checks after it.
 * Threads: stateless; any thread. Memory: rows are the caller's to clear.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

void store_media_clear(struct store_media *m)
{
	if (m == NULL)
		return;
	free(m->media_id);
	free(m->user_id);
	free(m->sha256);
	free(m->content_type);
	free(m->upload_name);
	free(m->sniffed_type);
	memset(m, 0, sizeof(*m));
}

/* content_repo "Security considerations": A-Za-z0-9, '_' and '-' only. */
static bool media_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n > 0 && n <= STORE_MEDIA_ID_MAX &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool sha256_ok(const char *hex, bool nullable)
{
	if (hex == NULL)
		return nullable;
	return strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64;
}

/* The content fields of a row: all set for stored content, all clear for a
 * pending one (nothing half-filled ever reaches the table). */
static bool media_content_ok(const struct store_media *m, bool pending_ok)
{
	if (m->sha256 == NULL)
		return pending_ok && m->size == 0 && m->sniffed_type == NULL;
	return sha256_ok(m->sha256, false) && m->size >= 0 &&
	       store_text_ok(m->sniffed_type, STORE_MEDIA_TEXT_MAX, false);
}

static bool media_row_ok(const struct store_media *m, bool pending_ok)
{
	return media_id_ok(m->media_id) && store_user_id_ok(m->user_id) &&
	       store_text_ok(m->content_type, STORE_MEDIA_TEXT_MAX, true) &&
	       store_text_ok(m->upload_name, STORE_MEDIA_TEXT_MAX, true) &&
	       media_content_ok(m, pending_ok) && m->created_ts >= 0 && m->expires_ts >= 0;
}

enum store_result store_media_insert(struct store *st, const struct store_media *m,
                                     int64_t quota, bool *over_quota)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);

	*over_quota = false;
	if (m == NULL || !media_row_ok(m, true) || quota < 0 || m->quarantined)
		return store_refuse("media_insert");
	return be->media_insert(h, m, quota, over_quota);
}

enum store_result store_media_get(struct store *st, const char *media_id,
                                  struct store_media *out)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);
	enum store_result r;

	memset(out, 0, sizeof(*out));
	if (!media_id_ok(media_id))
		return store_refuse("media_get");
	r = be->media_get(h, media_id, out);
	r = store_loaded(r, r != STORE_OK || (media_row_ok(out, true) &&
	                                      strcmp(out->media_id, media_id) == 0), "media");
	if (r != STORE_OK)
		store_media_clear(out);
	return r;
}

enum store_result store_media_complete(struct store *st, const struct store_media *m,
                                       int64_t now_ms, int64_t quota, bool *over_quota)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);

	*over_quota = false;
	if (m == NULL || !media_row_ok(m, false) || now_ms < 0 || quota < 0)
		return store_refuse("media_complete");
	return be->media_complete(h, m, now_ms, quota, over_quota);
}

enum store_result store_media_usage(struct store *st, const char *user_id, int64_t now_ms,
                                    int64_t *bytes, int64_t *pending)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);
	enum store_result r;

	*bytes = 0;
	*pending = 0;
	if (!store_user_id_ok(user_id) || now_ms < 0)
		return store_refuse("media_usage");
	r = be->media_usage(h, user_id, now_ms, bytes, pending);
	return store_loaded(r, r != STORE_OK || (*bytes >= 0 && *pending >= 0), "media usage");
}

enum store_result store_media_quarantine(struct store *st, const char *const *ids, size_t n,
                                         const char *user_id, const char *by,
                                         int64_t *changed)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);

	*changed = 0;
	if (!store_user_id_ok(by) || n > STORE_MEDIA_QUARANTINE_MAX ||
	    (ids == NULL && !store_user_id_ok(user_id)) || (ids != NULL && user_id != NULL))
		return store_refuse("media_quarantine");
	for (size_t i = 0; ids != NULL && i < n; i++)
		if (!media_id_ok(ids[i]))
			return store_refuse("media_quarantine id");
	return be->media_quarantine(h, ids, n, user_id, by, changed);
}
