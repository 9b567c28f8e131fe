/*
 * events: the event pipeline of a local server — build, authorize, sign,
 * persist, notify — and the in-memory cache of each room's current state
 * that the pipeline and the read paths consult.
 *
 * Sits between the API handlers and the pure room logic (src/rooms/) and
 * the store: handlers describe what to send; this layer decides prev_events,
 * depth and auth_events, runs the room version's authorization rules against
 * the room's current state, and persists only what passes. An event is
 * acknowledged (events_send returns) only once it is durable, and waiters
 * (/sync) are notified after that.
 *
 * Threads: all functions are thread-safe. Sends to one room are serialised
 * by the room's lock (prev_events and auth must see the previous send);
 * different rooms proceed in parallel and share group commits.
 *
 * Memory: outputs are malloc'd for the caller; inputs are borrowed.
 */
#ifndef CHAPPE_EVENTS_H
#define CHAPPE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;
struct config;
struct signing_key;
struct notifier;
struct room_cache;
struct room_version;
struct store_event;

struct events_ctx {
	struct store *store;
	const struct config *cfg;
	const struct signing_key *key;
	struct notifier *notifier;
	struct room_cache *cache;
};

struct event_error {
	unsigned int status;     /* HTTP status */
	const char *errcode;     /* M_FORBIDDEN, M_NOT_FOUND, M_TOO_LARGE... */
	char message[256];
};

/* What a handler asks to send. */
struct event_spec {
	const char *type;
	const char *state_key;   /* NULL: not a state event */
	json_t *content;         /* borrowed; must be an object */
	const char *redacts;     /* m.room.redaction: target event ID */
};

struct room_cache *room_cache_new(void);
void room_cache_free(struct room_cache *c);

/* Send one event into an existing room. With device_id and txn_id, a repeat
 * of the same transaction returns the first event's ID without sending.
 * event_id_out may be NULL. */
int events_send(struct events_ctx *ctx, const char *room_id, const char *sender,
                const struct event_spec *spec, const char *device_id, const char *txn_id,
                char **event_id_out, struct event_error *err);

/* Create a room of room_version: the m.room.create event (content from
 * creation_content plus what the version requires), then specs[] in order,
 * each authorized against the state built so far; all persisted in one
 * transaction. */
int events_create_room(struct events_ctx *ctx, const struct room_version *rv,
                       const char *sender, json_t *creation_content,
                       const struct event_spec *specs, size_t n,
                       char **room_id_out, struct event_error *err);

/* A copy of one current state event's content (NULL if absent), from the
 * cache: cheap, for permission checks in handlers. */
json_t *events_state_content(struct events_ctx *ctx, const char *room_id,
                             const char *type, const char *state_key);
/* The room's version, or NULL if the room is unknown here. */
const struct room_version *events_room_version(struct events_ctx *ctx, const char *room_id);
/* A user's current membership ("join", "invite"...), malloc'd, or NULL. */
char *events_membership(struct events_ctx *ctx, const char *room_id, const char *user_id);
/* Power level of user_id in the room, and the level needed to send an
 * event of type (state or not); -1 on unknown room. */
int64_t events_power_level(struct events_ctx *ctx, const char *room_id, const char *user_id);
int64_t events_required_level(struct events_ctx *ctx, const char *room_id,
                              const char *type, bool is_state);
/* A named level of the power levels ("redact", "ban", "invite"...). */
int64_t events_named_level(struct events_ctx *ctx, const char *room_id, const char *name);

/* The client format of a stored event (client-server-api "Room Events"):
 * the PDU without auth_events, prev_events, hashes, signatures, depth,
 * origin; with event_id, room_id and unsigned (age, prev_content,
 * redacted_because, transaction_id when viewer_device sent it). */
json_t *event_client_format(const struct store_event *e, const char *viewer_user,
                            const char *viewer_device, int64_t now_ms);

void event_error_set(struct event_error *err, unsigned int status, const char *errcode,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
