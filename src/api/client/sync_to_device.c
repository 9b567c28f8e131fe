/* sync_to_device.c: the to_device section of /sync (send_to_device.md).
 * A sync whose token carries to-device position X acknowledges everything
 * up to X for this device: those messages are deleted, then the next ones
 * (at most SYNC_TO_DEVICE_MAX) are delivered and the token's position
 * advances to the last one delivered, so none is skipped or repeated. */
#include <string.h>

#include "api/app.h"
#include "api/client/sync_internal.h"
#include "store/store.h"

#define SYNC_TO_DEVICE_MAX 100

/* Whether the device still holds a message at or before `upto`: the
 * acknowledgement is a write, and most syncs have nothing to delete. */
static bool to_device_pending_upto(struct sync_ctx *c, int64_t upto)
{
	struct store_to_device_list l = { 0 };
	bool pending;

	if (store_to_device_get(c->app->store, c->p->user_id, c->p->device_id, 0, 1, &l) != STORE_OK)
		return true;   /* cannot tell: acknowledge anyway */
	pending = l.n == 1 && l.items[0].stream <= upto;
	store_to_device_list_clear(&l);
	return pending;
}

json_t *sync_to_device_events(struct sync_ctx *c, struct sync_token *next)
{
	struct store_to_device_list l = { 0 };
	int64_t since = c->p->initial ? 0 : (int64_t)c->p->since.to_device;
	json_t *events = json_array();

	if (!events)
		return NULL;
	if (since > 0 && to_device_pending_upto(c, since) &&
	    store_to_device_ack(c->app->store, c->p->user_id, c->p->device_id, since) != STORE_OK)
		goto fail;
	if (store_to_device_get(c->app->store, c->p->user_id, c->p->device_id, since,
	                        SYNC_TO_DEVICE_MAX, &l) != STORE_OK)
		goto fail;
	next->to_device = (uint64_t)since;
	for (size_t i = 0; i < l.n; i++) {
		json_t *content = json_loads(l.items[i].content, 0, NULL);
		if (content)
			json_array_append_new(events, json_pack("{s:s,s:s,s:o}", "sender",
			                                        l.items[i].sender, "type", l.items[i].type,
			                                        "content", content));
		next->to_device = (uint64_t)l.items[i].stream;
	}
	if (l.n)
		c->has_content = true;
	store_to_device_list_clear(&l);
	return events;
fail:
	json_decref(events);
	return NULL;
}
