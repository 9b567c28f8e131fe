/*
 * containment: take an account out of use, at once, and give it back.
 *
 * Lock (client-server-api "Account locking"): from the moment
 * security_lock returns, every request with any of the account's tokens
 * is refused with 401 M_USER_LOCKED (soft_logout, so clients keep their
 * session and encryption state), and its /sync long-polls that were
 * parked are woken and refused the same way: not one more byte of room
 * content, media or directory data is served. Tokens are kept, as the
 * spec asks ("Servers SHOULD NOT invalidate access tokens on locked
 * accounts"), so an unlock restores every session.
 *
 * Suspend ("Account suspension"): the account becomes read-only: rows of
 * the route table marked as writes (http/router.h, MOD_WRITE) answer 403
 * M_USER_SUSPENDED; reading, leaving, logging out, deleting devices and
 * key management still work.
 *
 * Both flags live in the account row, which every token lookup reads: no
 * cache to expire. Called by the admin API, the `chappe admin` CLI and
 * the scraper detection (which contains an account on its own).
 *
 * Threads: any thread. app->notifier may be NULL (the CLI, a separate
 * process, has none: a parked long-poll of the running server then ends
 * at its own timeout, and is refused when it re-authenticates).
 * reason is logged (it may be NULL).
 */
#ifndef CHAPPE_SECURITY_CONTAINMENT_H
#define CHAPPE_SECURITY_CONTAINMENT_H

#include <stdbool.h>

struct app;

enum containment_result {
	CONTAIN_OK = 0,
	CONTAIN_NOT_FOUND,      /* no such account */
	CONTAIN_ERROR,          /* the store failed (logged) */
};

enum containment_result security_lock(struct app *app, const char *user_id,
                                      const char *reason);
enum containment_result security_unlock(struct app *app, const char *user_id);
enum containment_result security_suspend(struct app *app, const char *user_id,
                                         const char *reason);
enum containment_result security_unsuspend(struct app *app, const char *user_id);

#endif
