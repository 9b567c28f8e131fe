/*
 * uia: User-Interactive Authentication (client-server-api "User-Interactive
 * Authentication API") for registration, password change, deactivation and
 * device deletion.
 *
 * Contract: uia_require() is called by a handler with the request body.
 * It returns 0 when the body's "auth" completes the flow (the session is
 * consumed: a completed session cannot be replayed); otherwise it has set
 * the response (401 with flows/params/session/completed, possibly with an
 * errcode for a failed stage, or 400 for a malformed auth dict) and returns
 * -1. Sessions live in memory for UIA_SESSION_TTL_MS, bound to the purpose
 * and the user they were opened for; at most UIA_MAX_SESSIONS exist.
 * Thread-safe.
 */
#ifndef CHAPPE_API_CLIENT_UIA_H
#define CHAPPE_API_CLIENT_UIA_H

#include <jansson.h>

#include "http/request.h"

#define UIA_SESSION_TTL_MS (15 * 60 * 1000)
#define UIA_MAX_SESSIONS 10000
#define UIA_SESSIONS_PER_USER 5     /* open sessions per signed-in user */
/* per client address, for registration: many people can register at once
 * from behind one NAT or proxy */
#define UIA_SESSIONS_PER_ADDRESS 100

struct uia_sessions;

struct uia_sessions *uia_sessions_new(void);
void uia_sessions_free(struct uia_sessions *s);

enum uia_stage {
	UIA_DUMMY = 1 << 0,      /* m.login.dummy */
	UIA_PASSWORD = 1 << 1,   /* m.login.password, for user_id */
};

/* purpose: "register", "password", "deactivate", "delete_devices".
 * user_id: whose password m.login.password checks (NULL for register).
 * stage: the single stage of the single flow this purpose offers. */
int uia_require(struct request *req, json_t *body, const char *purpose,
                const char *user_id, enum uia_stage stage);

#endif
