/*
 * search_text: what server-side search indexes of an event.
 *
 * Client-Server API, Server Side Search, room_events: "The supported keys
 * to search over are: content.body in m.room.message; content.name in
 * m.room.name; In m.room.topic, content.topic as well as the body of the
 * text/plain representation in content['m.topic']." and "The search will
 * not include rooms that are end to end encrypted."
 *
 * Pure function of its arguments: thread-safe, no I/O. The caller says
 * whether the room is encrypted (m.room.encryption in its state); then, as
 * for any m.room.encrypted event, nothing is indexed. The store repeats the
 * encryption check when it persists (store.h), so a slip here still leaks
 * nothing into the index.
 */
#ifndef CHAPPE_EVENTS_SEARCH_TEXT_H
#define CHAPPE_EVENTS_SEARCH_TEXT_H

#include <stdbool.h>

#include <jansson.h>

/* The text to index for ev (a PDU or client event: "type" and "content"),
 * malloc'd, with *key_out set to its enum store_search_key; or NULL when
 * there is nothing to index (another type, a missing or empty string, an
 * encrypted room, out of memory). */
char *event_search_text(const json_t *ev, bool room_encrypted, int *key_out);

#endif
