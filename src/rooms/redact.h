/*
 * redact: the redaction algorithm of each room version and the event ID
 * that derives from it.
 *
 * Contract:
 * - event_redact() never modifies its input. It returns a NEW object (new
 *   reference, caller json_decref()s) holding only what the version's
 *   redaction rules keep, deep-copied so the caller may modify it; NULL on
 *   allocation failure or if event is not an object.
 *   v10: rooms/fragments/v9-redactions.md; v11, v12: v11-redactions.md.
 * - event_compute_id() returns a malloc'd "$" + URL-safe unpadded base64 of
 *   the reference hash (server-server-api.md "Calculating the reference
 *   hash for an event"; fragments/v4-event-ids.md), caller free()s; NULL on
 *   allocation failure or non-canonical input (e.g. floats, out-of-range
 *   integers). Since v4 the event ID is not part of the event: a local
 *   "event_id" member that the server attached is ignored here.
 * - Pure, no globals, thread-safe.
 */
#ifndef CHAPPE_ROOMS_REDACT_H
#define CHAPPE_ROOMS_REDACT_H

#include <jansson.h>

#include "rooms/room_version.h"

json_t *event_redact(const struct room_version *rv, const json_t *event);
/* The event ID an m.room.redaction targets, borrowed from the event:
 * content.redacts from v11 on ("moved from a top-level event property to
 * a property under the event content"), the top-level redacts in v10.
 * NULL if absent, not a string, or the event is not a redaction. */
const char *event_redaction_target(const struct room_version *rv,
                                   const json_t *event);
char *event_compute_id(const struct room_version *rv, const json_t *event);
/* v12 (rooms/v12.md, auth rule 2): the room ID of the room an m.room.create
 * event creates, "!" + its event ID without "$". malloc'd, caller frees;
 * NULL if the version does not derive room IDs from the create event, the
 * event is not an m.room.create, or on failure. */
char *event_room_id_from_create(const struct room_version *rv,
                                const json_t *create);

#endif
