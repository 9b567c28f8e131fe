/*
 * auth: the authorisation rules of room versions 10, 11 and 12
 * (content/rooms/v10.md, v11.md, v12.md "Authorisation rules") and the
 * auth events selection (server-server-api.md "Auth events selection").
 *
 * Contract:
 * - Pure: no I/O, no globals, thread-safe. Inputs are borrowed and never
 *   modified. Every input is treated as hostile: a missing or mistyped field
 *   makes the event refused, never a crash.
 * - auth_state maps (type, state_key) to the events the check runs against:
 *   either the event's auth events or the room state before it. It MUST
 *   hold the room's m.room.create event under ("m.room.create", ""), in
 *   every version: in v12 the caller finds it from the room ID (the create
 *   event's ID with "!" instead of "$") since it is not in auth_events.
 * - What the caller does before, because it needs keys or storage:
 *   verifying the cryptographic signatures of the event ("Events must be
 *   signed by the server denoted by the sender property", and the
 *   join_authorised_via_users_server server's signature: here we only
 *   check that such a signature is present), and knowing which events
 *   were rejected (auth rule "entries which were themselves rejected").
 * - Third-party invites: the signed block of content.third_party_invite
 *   is verified here (ed25519, json_verify) against the public keys of the
 *   m.room.third_party_invite event, at most 16 keys and 16 signatures.
 * - Return values: 0 allowed, -1 refused; why (may be NULL) receives a
 *   NUL-terminated reason naming the rule, truncated to why_len.
 */
#ifndef CHAPPE_ROOMS_AUTH_H
#define CHAPPE_ROOMS_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/room_version.h"
#include "rooms/state_map.h"

/* Power level of v12 room creators: "infinitely high". Greater than any
 * value a power levels event can hold (canonical JSON bounds integers to
 * +-(2^53 - 1)). */
#define AUTH_POWER_INFINITE INT64_MAX

/* The most (type, state_key) pairs auth_events_selection() yields. */
#define AUTH_SELECTION_MAX 8

struct auth_key {
    const char *type;
    const char *state_key;  /* borrowed from the event or a literal */
};

/* Which state an event needs as auth events: the create event (v10, v11
 * only), the power levels, the sender's membership, and for m.room.member
 * the target's membership, the join rules (join, invite, knock), the
 * m.room.third_party_invite named by the invite's token, and the
 * authorising user's membership for restricted joins. Fills out[] (no
 * duplicates) and *n; -1 if the event lacks a string type or sender. The
 * create event itself needs nothing (*n = 0). */
int auth_events_selection(const struct room_version *rv, const json_t *event,
                          struct auth_key out[AUTH_SELECTION_MAX], size_t *n);

/* Rule "Considering the event's auth_events" minus the rejection test:
 * auth_events are the events the PDU lists in auth_events, in order.
 * Refuses duplicate (type, state_key) pairs, pairs the selection does not
 * name, a missing create event (v10, v11), a listed create event (v12),
 * and auth events from another room. */
int auth_check_auth_events(const struct room_version *rv, const json_t *event,
                           const json_t *const *auth_events, size_t n_auth,
                           char *why, size_t why_len);

/* Build a state map from auth events (each under its type/state_key;
 * events without a state_key are skipped). NULL on allocation failure. */
struct state_map *auth_state_from_events(const json_t *const *events, size_t n);

/* The authorisation rules proper. See the contract above. */
int auth_check_event(const struct room_version *rv, const json_t *event,
                     const struct state_map *auth_state,
                     char *why, size_t why_len);

/* Helpers the server calls often. All read auth_state only. */

/* True if user_id is a room creator: v10 content.creator, v11 the create
 * event's sender, v12 its sender and content.additional_creators. */
bool auth_is_creator(const struct room_version *rv,
                     const struct state_map *auth_state, const char *user_id);
/* The user's power level: AUTH_POWER_INFINITE for v12 creators; otherwise
 * users[user_id], else users_default, else 0; with no power levels event,
 * 100 for the creator and 0 for everyone else. */
int64_t auth_user_power_level(const struct room_version *rv,
                              const struct state_map *auth_state,
                              const char *user_id);
/* Level needed to send an event of this type: events[type], else
 * state_default (50) for state events (state_key != NULL), else
 * events_default (0). */
int64_t auth_required_level_for_event(const struct room_version *rv,
                                      const struct state_map *auth_state,
                                      const char *type, const char *state_key);
/* "ban", "kick", "redact" (default 50), "invite" (default 0), or any other
 * top-level integer of the power levels content (default 0). */
int64_t auth_named_level(const struct state_map *auth_state, const char *name);
/* "Handling redactions" (fragments/v3-handling-redactions.md): whether a
 * redaction that passed the auth rules may be applied to `original`: the
 * redaction's sender has at least the redact level, or its sender's
 * domain is the original sender's domain. Both events must be known. */
bool auth_redaction_applies(const struct room_version *rv,
                            const struct state_map *auth_state,
                            const json_t *redaction, const json_t *original);
/* content.membership of user_id's m.room.member event, or NULL if none. */
const char *auth_membership(const struct state_map *auth_state,
                            const char *user_id);

#endif
