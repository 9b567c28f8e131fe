/*
 * served: the single chokepoint for room content served to a user.
 *
 * Every read path that returns room events (sync, messages, context,
 * event, relations, search, members, state) passes its candidate events
 * through served_events_filter(). It applies the spec's history visibility
 * rules (client-server-api "History visibility") for that user, and is the
 * place where the access ledger (incident response) records what was
 * actually served: the kind of read, the room and the events kept.
 *
 * Contract: thread-safe, reads the store only. The list is filtered in
 * place (events removed are cleared); order is kept.
 */
#ifndef CHAPPE_SECURITY_SERVED_H
#define CHAPPE_SECURITY_SERVED_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct store_event_list;

enum served_kind {
	SERVED_SYNC = 1,
	SERVED_MESSAGES,
	SERVED_CONTEXT,
	SERVED_EVENT,
	SERVED_RELATIONS,
	SERVED_SEARCH,
	SERVED_MEMBERS,
	SERVED_STATE,
};

struct served_viewer {
	const char *user_id;
	const char *device_id;
	const char *ip;
	const char *user_agent;
};

/* Keep only the events of room_id that viewer may see. 0, or -1 on a
 * store error (the list is then emptied: fail closed). */
int served_events_filter(struct store *st, const struct served_viewer *viewer,
                         enum served_kind kind, const char *room_id,
                         struct store_event_list *events);

/* May the viewer see one event at stream position `stream` of room_id?
 * (The rules above, for single-event paths.) */
bool served_event_visible(struct store *st, const char *user_id, const char *room_id,
                          int64_t stream, const char *event_type, const char *state_key,
                          const char *own_membership);

#endif
