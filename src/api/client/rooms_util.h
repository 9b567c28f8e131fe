/* rooms_util: small helpers the room handlers share. */
#ifndef CHAPPE_API_CLIENT_ROOMS_UTIL_H
#define CHAPPE_API_CLIENT_ROOMS_UTIL_H

#include <jansson.h>

#include "http/request.h"

struct app;
struct event_spec;

/* {"membership": m, "displayname", "avatar_url"} from the user's profile. */
json_t *rooms_member_content(struct app *app, const char *user_id, const char *membership);
/* Send one event as the caller; answers the request itself on error.
 * Returns the event ID (malloc'd) or NULL. */
char *rooms_send(struct request *req, const char *room_id, const struct event_spec *spec,
                 const char *txn_id);

/* Where the caller may read the room's state from: 0 (current) while
 * joined or for world_readable rooms, just after their leave if they left
 * or were banned after having joined. Otherwise 403 M_FORBIDDEN is set
 * and -1 returned. */
int rooms_read_position(struct request *req, const char *room_id, int64_t *at);

#endif
