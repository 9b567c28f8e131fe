/* build: PDU construction for the pipeline (src/events/ only). Pure: no
 * store, no locks; the caller holds the room's lock and passes its state. */
#ifndef CHAPPE_EVENTS_BUILD_H
#define CHAPPE_EVENTS_BUILD_H

#include "events/events.h"

struct event_build_args {
	const struct room_version *rv;
	const struct config *cfg;
	const struct signing_key *key;
	const char *room_id;             /* NULL only for a v12 create event */
	const char *sender;
	const struct event_spec *spec;
	const struct state_map *state;   /* current state; NULL for the create event */
	const struct state_map *empty_state;
	const char *prev_event_id;       /* NULL for the create event */
	int64_t prev_depth;              /* 0 for the create event */
	int64_t now_ms;
};

/* The signed PDU, authorized against args->state; NULL with err set
 * (403 M_FORBIDDEN with the rule that refused it, 413 M_TOO_LARGE...). */
json_t *event_build(const struct event_build_args *args, struct event_error *err);

struct event_built {
	char *event_id;
	char *json;        /* canonical */
	size_t json_len;
};
int event_finish(const struct room_version *rv, json_t *ev, struct event_built *out,
                 struct event_error *err);
void event_built_clear(struct event_built *b);

#endif
