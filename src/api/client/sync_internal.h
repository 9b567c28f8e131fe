/* sync_internal: what the /sync builder's files share (api/client/sync_*.c). */
#ifndef CHAPPE_API_CLIENT_SYNC_INTERNAL_H
#define CHAPPE_API_CLIENT_SYNC_INTERNAL_H

#include "api/client/sync_build.h"
#include "sync/filter.h"

struct store_membership;
struct store_event_list;

struct sync_ctx {
	struct app *app;
	const struct sync_params *p;
	int64_t now_pos;         /* events stream position this response covers */
	int64_t now_ms;
	json_t *join, *invite, *leave, *knock;
	bool has_content;
	bool push_rules_sent;    /* m.push_rules was among the account data */
	json_t *push_ruleset;    /* the user's merged rules, loaded on first need */
	/* typing, receipts, presence: positions this response covers, read
	 * by sync_ephemeral_positions before anything is loaded */
	uint64_t typing_pos;
	int64_t receipts_pos;
	int64_t presence_pos;
};

/* Client-format events of room_id passing the filter part, as a JSON
 * array; the ones included are recorded as served (access ledger). */
json_t *sync_events_json(const struct sync_ctx *c, const char *room_id,
                         const struct store_event_list *l, enum filter_part_kind part);
/* account_data: the room's account data events since the last sync, or NULL. */
int sync_room_joined(struct sync_ctx *c, const struct store_membership *m, json_t *account_data);
int sync_room_invited(struct sync_ctx *c, const struct store_membership *m);
/* The to_device events for the syncing device (acknowledging what the
 * token covered); sets next->to_device. NULL on a store error. */
json_t *sync_to_device_events(struct sync_ctx *c, struct sync_token *next);
/* {"notification_count", "highlight_count"} for a joined room. */
json_t *sync_unread_counts(struct sync_ctx *c, const char *room_id);
int sync_room_knocked(struct sync_ctx *c, const struct store_membership *m);
int sync_room_left(struct sync_ctx *c, const struct store_membership *m);
/* sync_ephemeral.c: read the typing, receipts and presence positions into
 * c and next (0, or -1 on a store error); a joined room's ephemeral events
 * (full: the client sees the room whole); the presence events. The last
 * two return NULL on error. */
int sync_ephemeral_positions(struct sync_ctx *c, struct sync_token *next);
json_t *sync_ephemeral_room(const struct sync_ctx *c, const char *room_id, bool full);
json_t *sync_presence_events(const struct sync_ctx *c);

/* sync_keys.c (end-to-end encryption keys): read the device-list position
 * into next (0, or -1 on a store error); then, once out->body is built,
 * fill device_lists, device_one_time_keys_count and
 * device_unused_fallback_key_types (clearing out->empty when device_lists
 * has news). 0, or -1 on a store error. */
int sync_keys_position(struct app *app, struct sync_token *next);
int sync_keys_fill(struct sync_ctx *c, const struct sync_token *next, struct sync_result *out);

#endif
