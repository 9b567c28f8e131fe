/*
 * served_ledger: the served_* calls that feed the access ledger (contract
 * in served.h, "access ledger"). Each builds one ledger entry and queues
 * it; the only work on the request path beyond that is turning the served
 * stream positions into compact ranges ("12-15,18").
 */
#include "security/served.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "security/detect.h"
#include "security/ledger.h"
#include "store/store.h"

static const char *const kind_names[] = {
	[SERVED_SYNC] = "sync",
	[SERVED_MESSAGES] = "messages",
	[SERVED_CONTEXT] = "context",
	[SERVED_EVENT] = "event",
	[SERVED_RELATIONS] = "relations",
	[SERVED_SEARCH] = "search",
	[SERVED_MEMBERS] = "members",
	[SERVED_STATE] = "state",
};

static const char *viewer_user(const struct served_viewer *v)
{
	return v && v->user_id ? v->user_id : "@anonymous";
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The positions of l as "a-b,c,..." ascending, duplicates merged; *count
 * is how many distinct positions. NULL when out of memory or too long
 * for the store (then the record keeps the count and says so). */
static char *ranges_of(const struct store_event_list *l, int64_t *count)
{
	int64_t *pos = malloc(l->n * sizeof(*pos));
	size_t n = 0, cap = l->n * 24 + 1, len = 0;
	char *out = NULL;

	*count = 0;
	if (pos == NULL || (out = malloc(cap)) == NULL)
		goto err;
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].stream > 0)
			pos[n++] = l->items[i].stream;
	qsort(pos, n, sizeof(*pos), cmp_i64);
	out[0] = '\0';
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && pos[j + 1] <= pos[j] + 1)
			j++;
		len += (size_t)snprintf(out + len, cap - len, pos[j] != pos[i] ?
		                        "%s%" PRId64 "-%" PRId64 : "%s%" PRId64,
		                        len ? "," : "", pos[i], pos[j]);
		for (size_t k = i; k <= j; k++)
			*count += k == i || pos[k] != pos[k - 1];
		i = j + 1;
	}
	free(pos);
	if (len > STORE_LEDGER_ITEMS_MAX) {
		free(out);
		return NULL;
	}
	return out;
err:
	free(pos);
	free(out);
	return NULL;
}

static void record(const struct served_viewer *v, const struct ledger_fields *f0)
{
	struct ledger_fields f = *f0;

	f.user_id = viewer_user(v);
	if (v) {
		f.device_id = v->device_id;
		f.ip = v->ip;
		f.user_agent = v->user_agent;
	}
	ledger_append(ledger_entry_new(&f));
}

void served_events_record(const struct served_viewer *viewer, enum served_kind kind,
                          const char *room_id, const struct store_event_list *events)
{
	struct ledger_fields f = { 0 };
	char *items;

	/* scraper detection sees every read, ledger on or off (detect.h) */
	if (viewer && events && kind != SERVED_UNREAD)
		detect_observe_events(viewer->user_id, kind, room_id, events);
	if (kind <= 0 || kind >= (int)(sizeof(kind_names) / sizeof(kind_names[0])) ||
	    !kind_names[kind] || events == NULL || events->n == 0 || !ledger_running())
		return;
	items = ranges_of(events, &f.n_events);
	f.kind = kind_names[kind];
	f.room_id = room_id;
	f.items = items;
	if (items == NULL)   /* the count still says how much left */
		f.n_events = (int64_t)events->n;
	record(viewer, &f);
	free(items);
}

void served_events_record_sent(const struct served_viewer *viewer, enum served_kind kind,
                               const char *room_id, const struct store_event_list *l,
                               const bool *sent)
{
	struct store_event_list kept = { NULL, 0 };

	if (sent == NULL || l->n == 0 ||
	    (kept.items = malloc(l->n * sizeof(*kept.items))) == NULL) {
		served_events_record(viewer, kind, room_id, l);
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		if (sent[i])
			kept.items[kept.n++] = l->items[i];   /* shallow: l owns them */
	served_events_record(viewer, kind, room_id, &kept);
	free(kept.items);
}

void served_media_record(const struct served_viewer *viewer, bool thumbnail,
                         const char *media_id, const char *room_id, uint64_t bytes)
{
	struct ledger_fields f = { .kind = thumbnail ? "thumbnail" : "media", .media_id = media_id,
	                           .room_id = room_id,
	                           .bytes = bytes > INT64_MAX ? INT64_MAX : (int64_t)bytes };
	if (viewer)   /* scraper detection (detect.h) */
		detect_observe_media(viewer->user_id, thumbnail, bytes);
	if (ledger_running())
		record(viewer, &f);
}

/* user_ids joined by spaces (user IDs hold none); NULL if none or OOM. */
static char *users_joined(const char *const *user_ids, size_t n)
{
	size_t len = 0;
	char *out, *p;

	if (user_ids == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		len += strnlen(user_ids[i], STORE_USER_ID_MAX) + 1;
	if (len == 0 || len > STORE_LEDGER_ITEMS_MAX || (out = malloc(len)) == NULL)
		return NULL;
	p = out;
	for (size_t i = 0; i < n; i++) {
		size_t k = strnlen(user_ids[i], STORE_USER_ID_MAX);
		memcpy(p, user_ids[i], k);
		p += k;
		*p++ = i + 1 < n ? ' ' : '\0';
	}
	return out;
}

void served_directory_search(const struct served_viewer *viewer, const char *term,
                             const char *const *user_ids, size_t n)
{
	struct ledger_fields f = { .kind = "directory_search", .query = term,
	                           .result_count = (int64_t)n };
	char *users;

	if (viewer)   /* scraper detection (detect.h) */
		detect_observe_directory(viewer->user_id, user_ids, n);
	if (!ledger_running())
		return;
	users = users_joined(user_ids, n);
	f.items = users;
	record(viewer, &f);
	free(users);
}

void served_public_rooms(const struct served_viewer *viewer, const char *term, size_t results)
{
	struct ledger_fields f = { .kind = "public_rooms", .query = term,
	                           .result_count = (int64_t)results };
	if (viewer)   /* scraper detection: a room list page counts as a search */
		detect_observe_directory(viewer->user_id, NULL, 0);
	if (ledger_running())
		record(viewer, &f);
}

void served_profile(const struct served_viewer *viewer, const char *target_user_id)
{
	struct ledger_fields f = { .kind = "profile", .query = target_user_id, .result_count = 1 };
	if (ledger_running())
		record(viewer, &f);
}

void served_key_query(const struct served_viewer *viewer, size_t n_users)
{
	struct ledger_fields f = { .kind = "key_query", .result_count = (int64_t)n_users };
	if (ledger_running())
		record(viewer, &f);
}
