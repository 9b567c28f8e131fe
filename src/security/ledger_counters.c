/*
 * ledger_counters: per-account usage computed from the records the ledger
 * writer has made durable (contract in ledger.h, "Per-account counters").
 *
 * One struct per account that was served anything since start, in a hash
 * table under one lock; a ring of one-minute buckets gives the sliding
 * window. Distinct rooms are remembered as 64-bit hashes of the room ID
 * (open addressing, LEDGER_ROOMS_TRACKED slots at most): an account that
 * reads more rooms than that is flagged saturated rather than growing the
 * table without bound.
 */
#include "security/ledger_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#define ROOM_SLOTS (LEDGER_ROOMS_TRACKED * 2)   /* load factor <= 1/2 */

struct minute_bucket {
	int64_t minute;             /* ts / 60000 of what it holds */
	struct ledger_usage u;
};

struct account {
	char *user_id;
	struct ledger_counters c;
	struct minute_bucket ring[LEDGER_WINDOW_MIN];
	uint64_t *rooms;            /* ROOM_SLOTS hashes, 0 = empty; lazily allocated */
	size_t n_rooms;
	UT_hash_handle hh;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct account *g_accounts;

int ledger_counters_init(void)
{
	ledger_counters_free();
	return 0;
}

void ledger_counters_free(void)
{
	struct account *a, *tmp;

	pthread_mutex_lock(&g_lock);
	HASH_ITER(hh, g_accounts, a, tmp) {
		HASH_DEL(g_accounts, a);
		free(a->user_id);
		free(a->rooms);
		free(a);
	}
	pthread_mutex_unlock(&g_lock);
}

/* FNV-1a, never 0 (0 marks an empty slot). */
static uint64_t room_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

/* true if room_id was not seen before for this account. */
static bool room_first_seen(struct account *a, const char *room_id)
{
	uint64_t h = room_hash(room_id);
	size_t i;

	if (a->rooms == NULL && (a->rooms = calloc(ROOM_SLOTS, sizeof(*a->rooms))) == NULL)
		return false;
	for (i = h % ROOM_SLOTS; a->rooms[i] != 0; i = (i + 1) % ROOM_SLOTS) {
		if (a->rooms[i] == h)
			return false;
	}
	if (a->n_rooms >= LEDGER_ROOMS_TRACKED) {
		a->c.rooms_saturated = true;
		return true;   /* counted, not remembered */
	}
	a->rooms[i] = h;
	a->n_rooms++;
	return true;
}

static struct account *account_of(const char *user_id)
{
	struct account *a;

	HASH_FIND_STR(g_accounts, user_id, a);
	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->user_id = strdup(user_id)) == NULL) {
		free(a);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, g_accounts, a->user_id, strlen(a->user_id), a);
	return a;
}

static void usage_add(struct ledger_usage *u, const struct ledger_entry *e, bool new_room)
{
	u->reads++;
	u->events += (uint64_t)e->n_events;
	u->rooms += new_room;
	if (strcmp(e->kind, "media") == 0 || strcmp(e->kind, "thumbnail") == 0) {
		u->media_items++;
		u->media_bytes += (uint64_t)e->bytes;
	} else if (strcmp(e->kind, "directory_search") == 0) {
		u->directory_searches++;
		u->directory_results += (uint64_t)e->result_count;
	} else if (strcmp(e->kind, "profile") == 0) {
		u->profile_lookups++;
	} else if (strcmp(e->kind, "key_query") == 0) {
		u->key_queries++;
	}
}

static void account_add(struct account *a, const struct ledger_entry *e)
{
	int64_t minute = e->ts / 60000;
	struct minute_bucket *b = &a->ring[minute % LEDGER_WINDOW_MIN];
	bool new_room = e->room_id && e->n_events > 0 && room_first_seen(a, e->room_id);

	if (a->c.first_ts == 0)
		a->c.first_ts = e->ts;
	a->c.last_ts = e->ts;
	if (e->items && e->n_events > 0) {
		int64_t first = strtoll(e->items, NULL, 10);   /* ranges are ascending */
		if (first > 0 && (a->c.oldest_event_pos == 0 || first < a->c.oldest_event_pos))
			a->c.oldest_event_pos = first;
	}
	if (b->minute != minute) {
		memset(b, 0, sizeof(*b));
		b->minute = minute;
	}
	usage_add(&a->c.total, e, new_room);
	usage_add(&b->u, e, new_room);
}

void ledger_counters_add(struct ledger_entry *const *entries, size_t n)
{
	pthread_mutex_lock(&g_lock);
	for (size_t i = 0; i < n; i++) {
		struct account *a = account_of(entries[i]->user_id);
		if (a)
			account_add(a, entries[i]);
	}
	pthread_mutex_unlock(&g_lock);
}

static void usage_sum(struct ledger_usage *to, const struct ledger_usage *u)
{
	to->reads += u->reads;
	to->events += u->events;
	to->rooms += u->rooms;
	to->media_items += u->media_items;
	to->media_bytes += u->media_bytes;
	to->directory_searches += u->directory_searches;
	to->directory_results += u->directory_results;
	to->profile_lookups += u->profile_lookups;
	to->key_queries += u->key_queries;
}

int ledger_counters_get(const char *user_id, int64_t now_ms, struct ledger_counters *out)
{
	struct account *a;
	int64_t now_min = now_ms / 60000;

	memset(out, 0, sizeof(*out));
	if (user_id == NULL)
		return -1;
	pthread_mutex_lock(&g_lock);
	HASH_FIND_STR(g_accounts, user_id, a);
	if (a == NULL) {
		pthread_mutex_unlock(&g_lock);
		return -1;
	}
	*out = a->c;
	memset(&out->window, 0, sizeof(out->window));
	for (size_t i = 0; i < LEDGER_WINDOW_MIN; i++) {
		const struct minute_bucket *b = &a->ring[i];
		if (b->minute > now_min - LEDGER_WINDOW_MIN && b->minute <= now_min)
			usage_sum(&out->window, &b->u);
	}
	pthread_mutex_unlock(&g_lock);
	return 0;
}
