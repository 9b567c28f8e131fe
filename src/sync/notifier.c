#include "sync/notifier.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uthash.h>

#include "http/request.h"
#include "util/timeutil.h"

#define TIMER_GRAIN_MS 50

/* One key (a room ID or "@user") with the waiters watching it, and the
 * generation of its last change. Keys live until the notifier is freed:
 * their number is bounded by rooms plus users. */
struct notifier_key {
	char *key;
	struct notifier_link *head;
	uint64_t changed_gen;
	UT_hash_handle hh;
};

struct notifier_link {
	struct notifier_key *key;
	struct notifier_wait *w;
	struct notifier_link *prev, *next;
};

struct notifier {
	pthread_mutex_t lock;
	pthread_cond_t tick;
	pthread_t timer;
	bool stopping;      /* timer thread exit */
	bool shut_down;     /* wake all registrations at once */
	uint64_t generation;
	struct notifier_key *keys;
	struct notifier_wait *waiters;
	size_t n_waiting;
};

static void key_unlink(struct notifier *n, struct notifier_link *l)
{
	struct notifier_key *k = l->key;
	if (l->prev)
		l->prev->next = l->next;
	else
		k->head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	(void)n;
}

/* Unlink w from every index and resume its request. Lock held. */
static void wake_locked(struct notifier *n, struct notifier_wait *w, bool timed_out)
{
	struct request *req = w->req;

	for (size_t i = 0; i < w->n_links; i++)
		key_unlink(n, &w->links[i]);
	free(w->links);
	w->links = NULL;
	w->n_links = 0;
	if (w->prev)
		w->prev->next = w->next;
	else
		n->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->woken = true;
	w->timed_out = timed_out;
	n->n_waiting--;
	/* After this the handler may run and free w: touch nothing of it. */
	http_request_resume(req);
}

static void *timer_main(void *arg)
{
	struct notifier *n = arg;

	pthread_mutex_lock(&n->lock);
	while (!n->stopping) {
		struct timespec ts;
		int64_t now = time_mono_ms();
		struct notifier_wait *w = n->waiters, *next;

		while (w) {
			next = w->next;
			if (w->deadline_ms <= now)
				wake_locked(n, w, true);
			w = next;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TIMER_GRAIN_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&n->tick, &n->lock, &ts);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

struct notifier *notifier_new(void)
{
	struct notifier *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->tick, NULL);
	n->generation = 1;
	if (pthread_create(&n->timer, NULL, timer_main, n) != 0) {
		pthread_mutex_destroy(&n->lock);
		pthread_cond_destroy(&n->tick);
		free(n);
		return NULL;
	}
	return n;
}

void notifier_shutdown(struct notifier *n)
{
	pthread_mutex_lock(&n->lock);
	n->shut_down = true;
	n->generation++;
	while (n->waiters)
		wake_locked(n, n->waiters, true);
	pthread_mutex_unlock(&n->lock);
}

bool notifier_is_shut_down(struct notifier *n)
{
	bool r;
	pthread_mutex_lock(&n->lock);
	r = n->shut_down;
	pthread_mutex_unlock(&n->lock);
	return r;
}

void notifier_free(struct notifier *n)
{
	struct notifier_key *k, *tmp;

	if (!n)
		return;
	notifier_shutdown(n);
	pthread_mutex_lock(&n->lock);
	n->stopping = true;
	pthread_cond_signal(&n->tick);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->timer, NULL);
	HASH_ITER(hh, n->keys, k, tmp) {
		HASH_DEL(n->keys, k);
		free(k->key);
		free(k);
	}
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->tick);
	free(n);
}

uint64_t notifier_generation(struct notifier *n)
{
	uint64_t g;
	pthread_mutex_lock(&n->lock);
	g = n->generation;
	pthread_mutex_unlock(&n->lock);
	return g;
}

static struct notifier_key *key_get(struct notifier *n, const char *key)
{
	struct notifier_key *k;

	HASH_FIND_STR(n->keys, key, k);
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k || !(k->key = strdup(key))) {
			free(k);
			return NULL;
		}
		HASH_ADD_KEYPTR(hh, n->keys, k->key, strlen(k->key), k);
	}
	return k;
}

/* Link l under key; returns 1 if the key changed after `seen` (the caller
 * must wake at once), 0 if linked, -1 on OOM. */
static int link_add(struct notifier *n, struct notifier_link *l, const char *key,
                    uint64_t seen)
{
	struct notifier_key *k = key_get(n, key);

	if (!k)
		return -1;
	if (k->changed_gen > seen)
		return 1;
	l->key = k;
	l->prev = NULL;
	l->next = k->head;
	if (k->head)
		k->head->prev = l;
	k->head = l;
	return 0;
}

void notifier_register(struct notifier *n, struct notifier_wait *w)
{
	size_t want = w->n_rooms + 1;

	pthread_mutex_lock(&n->lock);
	w->woken = w->timed_out = false;
	w->prev = NULL;
	w->next = n->waiters;
	if (n->waiters)
		n->waiters->prev = w;
	n->waiters = w;
	n->n_waiting++;
	w->n_links = 0;
	w->links = calloc(want, sizeof(*w->links));
	if (!w->links || n->shut_down) {
		wake_locked(n, w, n->shut_down);
		goto out;
	}
	for (size_t i = 0; i < want; i++) {
		const char *key = i < w->n_rooms ? w->rooms[i] : w->user_id;
		w->links[i].w = w;
		/* A key that changed since the caller computed its answer: the
		 * answer is stale, so wake now rather than miss the change. */
		if (link_add(n, &w->links[i], key, w->generation_seen) != 0) {
			wake_locked(n, w, false);
			goto out;
		}
		w->n_links++;
	}
out:
	pthread_mutex_unlock(&n->lock);
}

static void wake_key_locked(struct notifier *n, const char *key)
{
	struct notifier_key *k = key_get(n, key);

	if (!k)
		return;
	k->changed_gen = n->generation;
	/* wake_locked unlinks the head, so keep taking the new head. */
	while (k->head)
		wake_locked(n, k->head->w, false);
}

void notifier_notify(struct notifier *n, const char *const *rooms, size_t n_rooms,
                     const char *const *users, size_t n_users)
{
	pthread_mutex_lock(&n->lock);
	n->generation++;
	for (size_t i = 0; i < n_rooms; i++)
		wake_key_locked(n, rooms[i]);
	for (size_t i = 0; i < n_users; i++)
		wake_key_locked(n, users[i]);
	pthread_mutex_unlock(&n->lock);
}

size_t notifier_waiting(struct notifier *n)
{
	size_t c;
	pthread_mutex_lock(&n->lock);
	c = n->n_waiting;
	pthread_mutex_unlock(&n->lock);
	return c;
}
