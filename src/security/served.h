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
#include <stddef.h>
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
	/* access ledger: filtered by visibility, not recorded: the read only
	 * computes from the events (unread counts, the candidates of a bundled
	 * aggregation), or records what it finally sends itself with
	 * served_events_record (/sync, after the client's filter) */
	SERVED_UNREAD,
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

/* ---- media repository -------------------------------------------------
 * Every media download and thumbnail served passes served_media(), the one
 * place media access is recorded: who (viewer), which media (server name
 * and media ID, and whether a thumbnail), how many bytes. It hands the
 * record to the access ledger (served_media_record below), and also keeps
 * process-wide counters (served_media_counters) and a debug-level log line,
 * so a media read is recorded even with the ledger off.
 * Thread-safe (atomic counters). */
enum served_media_kind {
	SERVED_MEDIA_DOWNLOAD = 1,
	SERVED_MEDIA_THUMBNAIL,
};

void served_media(const struct served_viewer *viewer, enum served_media_kind kind,
                  const char *server_name, const char *media_id, uint64_t bytes);
/* Totals since start: media responses served and their bytes. */
void served_media_counters(uint64_t *served, uint64_t *bytes);

/* ---- access ledger (security/ledger.h; served_ledger.c) ----------------
 * served_events_filter records what it keeps (kind, room, the stream
 * positions as compact ranges): what leaves, not the candidates. Paths
 * that serve events access was decided for elsewhere (the state section of
 * /sync) record them with served_events_record. The other reads record
 * one row each: what was asked and how many results left. A viewer with
 * no user_id (an anonymous request) is recorded as "@anonymous". All are
 * one bounded append to the ledger's queue, and no-ops when it is off. */
void served_events_record(const struct served_viewer *viewer, enum served_kind kind,
                          const char *room_id, const struct store_event_list *events);
/* served_events_record of the events of l with sent[i] set: for paths
 * that filter further after visibility (a client's event filter). With
 * sent NULL (the caller ran out of memory) all of l is recorded: a record
 * may then say more than left, never less. */
void served_events_record_sent(const struct served_viewer *viewer, enum served_kind kind,
                               const char *room_id, const struct store_event_list *l,
                               const bool *sent);
/* A media download (thumbnail false) or thumbnail of media_id, with the
 * room it was posted in when the caller knows it (else NULL). */
void served_media_record(const struct served_viewer *viewer, bool thumbnail,
                         const char *media_id, const char *room_id, uint64_t bytes);
/* A user directory search: the term and the n users it returned (so a
 * report can count the distinct users a sweep revealed; user_ids NULL
 * records the count alone). */
void served_directory_search(const struct served_viewer *viewer, const char *term,
                             const char *const *user_ids, size_t n);
/* A page of the public room list (filter term or NULL, rooms returned). */
void served_public_rooms(const struct served_viewer *viewer, const char *term,
                         size_t results);
/* A profile (or presence) read of target_user_id. */
void served_profile(const struct served_viewer *viewer, const char *target_user_id);
/* A /keys/query answered for n_users users. */
void served_key_query(const struct served_viewer *viewer, size_t n_users);

#endif
