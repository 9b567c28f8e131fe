/*
 * room_version: the table of room versions chappe implements (10, 11, 12)
 * and the per-version switches the rest of the server consults instead of
 * comparing version strings.
 *
 * Contract:
 * - room_version_get() returns a pointer into a static const table (never
 *   freed, valid for the life of the process) or NULL for a version we do
 *   not implement. Pure, thread-safe.
 * - Each switch names the spec section it comes from (content/rooms/vN.md).
 */
#ifndef CHAPPE_ROOMS_ROOM_VERSION_H
#define CHAPPE_ROOMS_ROOM_VERSION_H

#include <stdbool.h>

/* Which redaction algorithm ("Redactions" section of the room version). */
enum room_redaction_rules {
    ROOM_REDACT_V9,   /* fragments/v9-redactions.md (used by v10) */
    ROOM_REDACT_V11,  /* fragments/v11-redactions.md (v11, v12) */
};

/* Which authorisation rules ("Authorisation rules" section). */
enum room_auth_rules {
    ROOM_AUTH_V10,    /* create needs content.creator; creator = content.creator */
    ROOM_AUTH_V11,    /* creator = sender of m.room.create */
    ROOM_AUTH_V12,    /* room ID is the create event's hash, creators have
                       * infinite power, create not in auth_events */
};

/* Which state resolution algorithm. */
enum room_state_res {
    ROOM_STATE_RES_V2,    /* fragments/v2-state-res.md */
    ROOM_STATE_RES_V2_1,  /* v12.md "State resolution": empty start state,
                           * conflicted state subgraph */
};

struct room_version {
    const char *id;
    enum room_redaction_rules redaction;
    enum room_auth_rules auth;
    enum room_state_res state_res;
    /* v12: room_id = "!" + reference hash of the create event; the create
     * event has no room_id and is never listed in auth_events. */
    bool room_id_from_create;
    /* v10: m.room.create content must carry "creator". */
    bool create_requires_creator;
    /* v12: sender + content.additional_creators have infinite power. */
    bool creators_infinite_power;
    /* v11+: m.room.redaction carries "redacts" in content. */
    bool redacts_in_content;
    /* Join rules accepted (rooms/_index.md "Feature matrix"). */
    bool knock_allowed;
    bool restricted_allowed;
    bool knock_restricted_allowed;
    /* v6+: events must be strict canonical JSON (fragments/v6-canonical-json). */
    bool strict_canonical_json;
    /* v10+: power level values must be JSON integers, never strings. */
    bool integer_power_levels;
};

/* The version for id ("10", "11", "12"), or NULL if unknown or id is NULL. */
const struct room_version *room_version_get(const char *id);

/* The version new rooms are created with when the client names none. */
const struct room_version *room_version_default(void);

#endif
