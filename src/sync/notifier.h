/*
 * notifier: wakes parked long-polls (/sync) when something they watch
 * changes, without a thread per waiter.
 *
 * A waiter names the rooms it watches and its user (for invites, to-device
 * messages, account data: anything addressed to the user). Writers call
 * notifier_notify() after their change is durable. The generation counter
 * closes the race between "computed an empty response" and "registered":
 * a handler reads notifier_generation() before computing, and a waiter
 * registered with an older generation is woken at once.
 *
 * Contract: thread-safe. struct notifier_wait is owned by the caller and
 * must stay valid until it is woken (woken waiters are unlinked before
 * their request is resumed, so the caller may free it as soon as its
 * handler runs again). Waking calls http_request_resume() exactly once.
 * One timer thread wakes waiters whose deadline passed (50 ms grain).
 */
#ifndef CHAPPE_SYNC_NOTIFIER_H
#define CHAPPE_SYNC_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct request;
struct notifier;
struct notifier_link;

struct notifier_wait {
	/* set by the caller */
	struct request *req;
	const char *user_id;            /* borrowed: must outlive the wait */
	const char *const *rooms;       /* borrowed */
	size_t n_rooms;
	int64_t deadline_ms;            /* monotonic */
	uint64_t generation_seen;
	/* notifier's own */
	bool woken;
	bool timed_out;
	struct notifier_link *links;
	size_t n_links;
	struct notifier_wait *prev, *next;
};

struct notifier *notifier_new(void);
/* Wake everyone, stop the timer thread, free. */
void notifier_free(struct notifier *n);
/* Wake everyone now and every later registration at once (shutdown). */
void notifier_shutdown(struct notifier *n);
bool notifier_is_shut_down(struct notifier *n);

uint64_t notifier_generation(struct notifier *n);
void notifier_register(struct notifier *n, struct notifier_wait *w);
/* Something changed in these rooms / for these users: wake their waiters. */
void notifier_notify(struct notifier *n, const char *const *rooms, size_t n_rooms,
                     const char *const *users, size_t n_users);
/* Number of parked waiters (diagnostics, tests). */
size_t notifier_waiting(struct notifier *n);

#endif
