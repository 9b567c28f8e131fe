/* containment.c: lock and suspend (see containment.h). Compiled into the
 * API library (src/api/client/meson.build): it reaches the notifier
 * through struct app, which the security library below it cannot see. */
#include "security/containment.h"

#include "api/app.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/log.h"

static enum containment_result containment_of(enum store_result r)
{
	switch (r) {
	case STORE_OK:
		return CONTAIN_OK;
	case STORE_NOT_FOUND:
		return CONTAIN_NOT_FOUND;
	default:
		return CONTAIN_ERROR;
	}
}

/* Wake the user's parked long-polls: each re-authenticates before its
 * handler runs again (http/server.c) and so sees the new flags. */
static void containment_wake(struct app *app, const char *user_id)
{
	const char *users[1] = { user_id };

	if (app->notifier)
		notifier_notify(app->notifier, NULL, 0, users, 1);
}

static enum containment_result containment_set(struct app *app, const char *user_id,
                                               bool lock, bool on, const char *reason)
{
	enum store_result r;

	r = lock ? store_user_set_locked(app->store, user_id, on)
	         : store_user_set_suspended(app->store, user_id, on);
	if (r == STORE_OK) {
		log_warn("containment: %s %s%s%s", user_id,
		         lock ? (on ? "locked" : "unlocked") : (on ? "suspended" : "unsuspended"),
		         reason ? ": " : "", reason ? reason : "");
		containment_wake(app, user_id);
	}
	return containment_of(r);
}

enum containment_result security_lock(struct app *app, const char *user_id,
                                      const char *reason)
{
	return containment_set(app, user_id, true, true, reason);
}

enum containment_result security_unlock(struct app *app, const char *user_id)
{
	return containment_set(app, user_id, true, false, NULL);
}

enum containment_result security_suspend(struct app *app, const char *user_id,
                                         const char *reason)
{
	return containment_set(app, user_id, false, true, reason);
}

enum containment_result security_unsuspend(struct app *app, const char *user_id)
{
	return containment_set(app, user_id, false, false, NULL);
}
