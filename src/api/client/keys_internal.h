/*
 * keys_internal: what the end-to-end encryption key handlers share
 * (keys.c, keys_query.c, keys_xsign.c, sync_keys.c).
 *
 * Who may see whose keys: a user sees their own devices and keys, and
 * those of the users who share a room with them: both members of one room
 * (joined or invited), at least one of the two joined. Invitees count
 * because clients share room keys with invited members; an inviter can
 * therefore see the devices of whom they invited. Everyone else is
 * answered as if they had no devices, so that nobody can enumerate the
 * devices of arbitrary users (Synapse answers for any local user; we
 * choose not to) and nobody can drain the one-time keys of a stranger.
 *
 * Contract: called from handler threads; read the store only, except
 * keys_notify_change, which wakes parked /sync requests. JSON returned is
 * owned by the caller.
 */
#ifndef CHAPPE_API_CLIENT_KEYS_INTERNAL_H
#define CHAPPE_API_CLIENT_KEYS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "sync/token.h"

struct app;

#define KEYS_QUERY_USERS_MAX    1000   /* users in one /keys/query or /keys/claim */
#define KEYS_QUERY_DEVICES_MAX  1000   /* device IDs asked for one user */
#define KEYS_ROOMS_MAX          10000  /* rooms looked at for "shares a room" */

/* The users user_id shares a room with, and user_id: an object used as a
 * set (user ID -> true). NULL on a store error. */
json_t *keys_shared_users(struct app *app, const char *user_id);

/* user_id's devices or keys changed: wake their own parked /sync and
 * those of everyone in their rooms. */
void keys_notify_change(struct app *app, const char *user_id);

/* device_lists between two positions, for user_id: users (sharing a room
 * now, or user_id) whose devices or keys changed with since_devices <
 * position <= to_devices, or who joined a shared room (or whose room
 * user_id joined) with since_events < stream <= to_events, into changed;
 * users with whom a membership change in that range left no shared room,
 * into left. Both arrays of user IDs, appended to. 0, or -1 on a store
 * error. */
int keys_device_list_delta(struct app *app, const char *user_id, int64_t since_events,
                           int64_t to_events, int64_t since_devices, int64_t to_devices,
                           json_t *changed, json_t *left);

/* The device's ed25519 key from its stored device keys; 0, or -1 if it
 * has none (or they do not parse). */
int keys_stored_device_ed25519(struct app *app, const char *user_id, const char *device_id,
                               unsigned char pk[32]);

/* {"algorithm": count} with signed_curve25519 always present (clients
 * read it to decide whether to upload more), and, if fallback_out is not
 * NULL, the array of algorithms with an unused fallback key. NULL on a
 * store error. */
json_t *keys_otk_counts_json(struct app *app, const char *user_id, const char *device_id,
                             json_t **fallback_out);

#endif
