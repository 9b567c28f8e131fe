/*
 * store_to_device: the front of the storage layer for to-device messages:
 * argument checks before the back end, row checks after it.
 * Threads: stateless; any thread. Memory: lists are the caller's to clear.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

void store_to_device_list_clear(struct store_to_device_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].sender);
		free(l->items[i].type);
		free(l->items[i].content);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

enum store_result store_to_device_send(struct store *st, const char *sender,
                                       const char *sender_device, const char *txn_id,
                                       const char *type, const struct store_to_device_new *msgs,
                                       size_t n)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);

	if (!store_user_id_ok(sender) || !store_device_id_ok(sender_device) ||
	    !store_text_ok(txn_id, STORE_TXN_ID_MAX, false) || !store_text_ok(type, STORE_ID_MAX, false) ||
	    n > STORE_TO_DEVICE_BATCH_MAX || (n > 0 && msgs == NULL))
		return store_refuse("to_device_send");
	for (size_t i = 0; i < n; i++)
		if (!store_user_id_ok(msgs[i].user_id) || !store_device_id_ok(msgs[i].device_id) ||
		    !store_text_ok(msgs[i].content, STORE_TEXT_MAX, false))
			return store_refuse("to_device_send message");
	return be->to_device_send(h, sender, sender_device, txn_id, type, msgs, n);
}

enum store_result store_to_device_ack(struct store *st, const char *user_id,
                                      const char *device_id, int64_t upto)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);

	if (!store_user_id_ok(user_id) || !store_device_id_ok(device_id) || upto < 0)
		return store_refuse("to_device_ack");
	return be->to_device_ack(h, user_id, device_id, upto);
}

enum store_result store_to_device_get(struct store *st, const char *user_id,
                                      const char *device_id, int64_t since, size_t limit,
                                      struct store_to_device_list *out)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);
	enum store_result r;
	bool valid = true;

	memset(out, 0, sizeof(*out));
	if (!store_user_id_ok(user_id) || !store_device_id_ok(device_id) || since < 0 ||
	    limit == 0 || limit > STORE_LIST_LIMIT_MAX)
		return store_refuse("to_device_get");
	r = be->to_device_get(h, user_id, device_id, since, limit, out);
	for (size_t i = 0; r == STORE_OK && i < out->n; i++)
		valid = valid && out->items[i].stream > since && out->items[i].content[0] == '{';
	r = store_loaded(r, valid, "to_device");
	if (r != STORE_OK)
		store_to_device_list_clear(out);
	return r;
}

int64_t store_to_device_stream_max(struct store *st)
{
	void *h;
	const struct store_backend *be = store_backend_of(st, &h);
	int64_t pos = 0;

	return be->to_device_stream_max(h, &pos) == STORE_OK ? pos : -1;
}
