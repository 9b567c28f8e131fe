/*
 * relations: event relationships as the event layer sees them: what a new
 * event relates to (for the store row and for send-time checks), and the
 * "bundled aggregations" every read path adds to the parents it serves
 * (client-server-api "Aggregations of child events": unsigned.m.relations
 * on /messages, /context, /event, /relations, /threads and /sync).
 *
 * Aggregated here (v1.19): m.replace (the most recent valid edit, as a
 * client-format event), m.thread ({latest_event, count,
 * current_user_participated}, latest_event itself bundled one level) and
 * m.reference ({chunk: [{event_id}]}). m.annotation is "not aggregated by
 * the server" (Event annotations, Server behaviour). State events get no
 * bundle ("State events do not currently receive bundled aggregations").
 *
 * Every child that goes into a bundle has passed served_events_filter()
 * for the viewer (history visibility), so a bundle never shows an event
 * the viewer could not fetch itself; children sent by users the viewer
 * ignores (m.ignored_user_list) are left out as the spec asks.
 *
 * Threads: thread-safe (reads the store only). Memory: the JSON passed in
 * is modified in place and stays the caller's; pointers handed out by
 * events_relation_of are borrowed from the content given.
 */
#ifndef CHAPPE_EVENTS_RELATIONS_H
#define CHAPPE_EVENTS_RELATIONS_H

#include <jansson.h>

#include "security/served.h"

struct store;
struct event_error;

/* The relation content["m.relates_to"] declares, if it has a string
 * rel_type and a string event_id the store accepts (store_relation_ok):
 * *rel_type and *relates_to point into content; both NULL otherwise (a
 * relationship that does not match the schema is "simply ignored",
 * Forming relationships between events). */
void events_relation_of(const json_t *content, const char **rel_type, const char **relates_to);

/* Send-time rules for a relation from a local client, checked under the
 * room's lock (so two racing sends cannot both pass), before the event is
 * built:
 * - "Servers SHOULD reject client requests which attempt to start a thread
 *   off an event with an m.relates_to property" (Threading, Validation of
 *   m.thread relationships): 400 M_UNKNOWN;
 * - "Homeservers should prevent users from sending a second annotation for
 *   a given event with identical event type and annotation key (unless the
 *   first event has been redacted)" (Event annotations): 400
 *   M_DUPLICATE_ANNOTATION.
 * 0 if the event may be sent, -1 with err set otherwise (500 on a store
 * failure). */
int events_relation_check(struct store *st, const char *room_id, const char *sender,
                          const char *type, const json_t *content, struct event_error *err);

/* Add unsigned["m.relations"] to each client-format event of `events` (a
 * JSON array, or one event object) of room_id that has an event_id, an
 * unsigned object and no state_key. kind is the read path's (the ledger
 * records the children under it). Parents are read in pages of
 * STORE_AGGREGATE_PARENTS_MAX: one aggregation read per page, plus one
 * visibility pass per round of candidates (usually one). 0, or -1 on a
 * store failure (then no event gained a bundle from the failing page). */
int events_bundle_aggregations(struct store *st, const struct served_viewer *viewer,
                               enum served_kind kind, const char *room_id, json_t *events);

/* The "ignored_users" object of user_id's m.ignored_user_list account
 * data (a new reference, caller json_decref()s), or NULL if none. */
json_t *events_ignored_users(struct store *st, const char *user_id);

#endif
