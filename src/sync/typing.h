/*
 * typing: who is typing in which room (client-server-api "Typing
 * Notifications"), in memory only.
 *
 * The spec makes typing ephemeral: "the server *does not remember* users
 * who are not currently typing" (modules/typing_notifications.md), so
 * nothing here is persisted; a restart forgets everyone, which is what
 * typing timeouts would do a few seconds later anyway.
 *
 * Serials: every change of a room's typing list (a user starts, stops, or
 * their timeout passes) takes the next value of one counter, and the room
 * remembers the serial of its last change. /sync puts the counter in its
 * token's typing position and sends a room's m.typing again when the room
 * changed after the client's position. The counter starts at the value
 * given to typing_new (the server passes the wall clock in ms) so that a
 * token issued before a restart is not ahead of the new counter.
 *
 * Expiry without a thread: a timed-out typist is removed by the next call
 * that reads or writes (any room), which bumps the serial as a stop would.
 * Nobody is woken at expiry by this module; typing_rooms_next_expiry()
 * lets a long-poll bound its sleep to report expiries promptly.
 *
 * Bounds: at most max_typists (room, user) pairs and max_rooms room
 * records. A room whose list became empty keeps its record (so a sync can
 * learn "nobody types now") until records run short; then empty records
 * are dropped and the highest serial dropped becomes the "floor": a room
 * without a record reports the floor as its last change, so a client
 * behind it is sent an (empty) m.typing rather than missing a stop.
 *
 * Threads: every function is thread-safe (one mutex). Memory: strings are
 * copied in; lists returned are malloc'd for the caller (typing_users_free).
 * Times are monotonic milliseconds passed by the caller (time_mono_ms in
 * the server; tests pass their own clock).
 */
#ifndef CHAPPE_SYNC_TYPING_H
#define CHAPPE_SYNC_TYPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What Synapse does with the request's timeout: 30 s when absent, capped
 * at 120 s "to stop people from setting silly typing timeouts". */
#define TYPING_TIMEOUT_DEFAULT_MS 30000
#define TYPING_TIMEOUT_MAX_MS     120000
/* Room and user IDs: "MUST NOT exceed 255 bytes" (spec, Appendices). */
#define TYPING_ID_MAX             255

struct typing;

enum typing_result {
	TYPING_UNCHANGED = 0,    /* accepted; the room's list is the same */
	TYPING_CHANGED = 1,      /* accepted; the list changed (wake /sync) */
	TYPING_INVALID = -1,     /* an ID empty or too long, or a NULL */
	TYPING_FULL = -2,        /* a bound is reached: refused */
	TYPING_NOMEM = -3,
};

/* max_typists, max_rooms: 0 takes the defaults (10000 and 10000).
 * first_serial: where the counter starts. NULL on allocation failure. */
struct typing *typing_new(size_t max_typists, size_t max_rooms, uint64_t first_serial);
void typing_free(struct typing *t);

/* user_id starts (typing, for timeout_ms, clamped to 0..TYPING_TIMEOUT_MAX_MS)
 * or stops typing in room_id. Renewing an ongoing typing only moves its
 * expiry: the list does not change, so no serial is taken. */
enum typing_result typing_set(struct typing *t, const char *room_id, const char *user_id,
                              bool typing, int64_t timeout_ms, int64_t now_ms);

/* The counter after expiring what is due: the typing position a /sync
 * response covers. Read it BEFORE the rooms (a change in between is then
 * sent twice, never lost). */
uint64_t typing_serial(struct typing *t, int64_t now_ms);

/* Who types in room_id now, in the order they started (*users_out
 * malloc'd, NULL when nobody), and the serial of the room's last change
 * (the floor for a room without a record). 0, or -1 on allocation failure
 * or invalid arguments (outputs then empty). */
int typing_room_get(struct typing *t, const char *room_id, int64_t now_ms,
                    char ***users_out, size_t *n_out, uint64_t *changed_out);
void typing_users_free(char **users, size_t n);

/* The earliest pending expiry (monotonic ms), or 0 when nobody types. */
int64_t typing_next_expiry(struct typing *t);
/* The same among the typists of these rooms: a parked /sync watching them
 * wakes then, so that a timeout reaches clients like a stop does. */
int64_t typing_rooms_next_expiry(struct typing *t, const char *const *room_ids, size_t n);
/* Typists and room records held (diagnostics, tests). */
size_t typing_count(struct typing *t, size_t *rooms_out);

#endif
