/*
 * admin: the server admin's view and actions (Synapse's admin API shapes,
 * /_synapse/admin/...), shared by the HTTP handlers (admin_users.c,
 * admin_sessions.c, admin_rooms.c, admin_redact.c) and `chappe admin`
 * (src/cli/admin.c), so both report and act the same way.
 *
 * Every function reads or writes through the store and the event
 * pipeline; none trusts its input: IDs are checked, lists bounded.
 * Threads: any thread. Memory: JSON returned is new (caller decrefs);
 * strings returned are malloc'd.
 */
#ifndef CHAPPE_API_CLIENT_ADMIN_H
#define CHAPPE_API_CLIENT_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct app;
struct store_user;

#define ADMIN_ROOMS_MAX        100000   /* rooms one room list reads */
#define ADMIN_USERS_MAX        1000000  /* accounts one user list reads */
#define ADMIN_REDACT_ROOMS_MAX 1000     /* rooms one redact job covers */
#define ADMIN_REDACT_TOTAL_MAX 10000    /* events one redact job redacts */

/* Synapse's user object: list_form gives creation_ts in ms (as its user
 * list), else in seconds (as its user query). */
json_t *admin_user_json(const struct store_user *u, bool list_form);

/* {"user_id", "devices": {device_id: {"sessions": [{"connections":
 * [{"ip", "last_seen", "user_agent"}]}]}}} (admin.yaml whois, Synapse's
 * shape), from each device's last seen IP, time and user agent. NULL on a
 * store error. */
json_t *admin_whois(struct app *app, const char *user_id);

/* Room IDs the user is joined to, as a JSON array; NULL on a store error. */
json_t *admin_joined_rooms(struct app *app, const char *user_id);

/* Synapse's room object (rooms list entry; with details: topic, avatar). */
json_t *admin_room_json(struct app *app, const char *room_id, bool details);

/* Every room, as admin_room_json entries, at most ADMIN_ROOMS_MAX. */
json_t *admin_rooms_all(struct app *app);

/* Shut a room down: its join rule becomes "invite" (set by the local
 * member with the most power, if one may), every local member (joined,
 * invited, knocking) is made to leave, the room is taken out of the public
 * directory and its aliases deleted. Returns Synapse's {"kicked_users",
 * "failed_to_kick_users", "local_aliases", "new_room_id": null} plus
 * "closed_by" (who set the join rule, or null), or NULL if the room is
 * unknown. */
json_t *admin_room_shutdown(struct app *app, const char *room_id);

/* Make user_id leave every room they are joined to, invited to or knocking
 * on (deactivation). Returns how many leaves failed. */
size_t admin_user_leave_all(struct app *app, const char *user_id);

/* Redact user_id's events (admin_redact.c): in rooms (a JSON array of room
 * IDs; empty or NULL: every room they ever were in), newest first, at most
 * limit per room and ADMIN_REDACT_TOTAL_MAX in all, as admin_id (or, where
 * the admin may not, as the user). The outcome is recorded for
 * redact_status. 0 with *redact_id_out, or -1 (store failure). */
int admin_user_redact(struct app *app, const char *admin_id, const char *user_id,
                      json_t *rooms, const char *reason, size_t limit,
                      char **redact_id_out);

#endif
