/*
 * server_notices: official messages from the server to one user, or to
 * every local user (modules/server_notices.md).
 *
 * - The sender is a reserved local account, "@server:<server_name>",
 *   created on first use with no password (nobody can log in as it). If
 *   that ID is already held by an ordinary account (one with a password,
 *   or deactivated), notices are refused rather than sent in its name.
 * - "Servers should manage exactly 1 server notices room per user": the
 *   room is created on the first notice (join rule invite, only the
 *   notices account may post), remembered by the store, and tagged
 *   m.server_notice in the user's room account data ("Servers must
 *   identify this room to clients with the m.server_notice tag"). The user
 *   is invited, not joined ("Servers should invite the target user rather
 *   than automatically join them"); a user who left is invited again by
 *   the next notice.
 * - Notices are m.room.message events; content is sent as given (the
 *   admin API's), or built by server_notice_text with msgtype
 *   m.server_notice.
 *
 * Threads: any thread; creating a user's room is serialised so two
 * concurrent first notices make one room. Memory: outputs malloc'd.
 */
#ifndef CHAPPE_API_CLIENT_SERVER_NOTICES_H
#define CHAPPE_API_CLIENT_SERVER_NOTICES_H

#include "security/accounts.h"
#include <stddef.h>

#include <jansson.h>

struct app;
struct event_error;

#define SERVER_NOTICE_LOCALPART ACCOUNT_RESERVED_NOTICES  /* security/accounts.h */
#define SERVER_NOTICE_BROADCAST_MAX 100000   /* users one broadcast reaches */

/* "@server:<server_name>", malloc'd (NULL when out of memory). */
char *server_notice_sender(const struct app *app);

/* Send content (an object, borrowed) as an m.room.message into user_id's
 * notices room, creating it first if needed. user_id must be a local,
 * existing, not deactivated account (else 404 M_NOT_FOUND in err).
 * 0 with *event_id_out (may be NULL), or -1 with err set. */
int server_notice_send(struct app *app, const char *user_id, json_t *content,
                       char **event_id_out, struct event_error *err);

/* {"msgtype": "m.server_notice", "body": text, "server_notice_type": type}. */
json_t *server_notice_text(const char *type, const char *text);

/* Send content to every local account that is not deactivated (the
 * notices account itself aside), at most SERVER_NOTICE_BROADCAST_MAX.
 * *sent counts the notices sent, *failed the users they could not reach.
 * 0, or -1 if the account list could not be read. */
int server_notice_broadcast(struct app *app, json_t *content, size_t *sent, size_t *failed);

/* The new-login notice (issue 5, part 6): tell user_id's sessions that a
 * new device signed in, with its name, IP and time. Best effort: failures
 * are logged, never returned (a login must not fail over a notice). */
void server_notice_new_login(struct app *app, const char *user_id, const char *device_id,
                             const char *display_name, const char *ip);

#endif
