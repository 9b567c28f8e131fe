/* to_device.c: PUT /sendToDevice/{eventType}/{txnId} (to_device.yaml,
 * modules/send_to_device.md). Messages are queued per recipient device and
 * delivered by /sync (sync_to_device.c) until acknowledged. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "config/config.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/ids.h"

#define TO_DEVICE_CONTENT_MAX 65536   /* bytes of one message's content */

struct td_batch {
	struct store_to_device_new *msgs;
	char **owned;                /* strings the batch owns (content, expanded IDs) */
	size_t n, cap, n_owned, cap_owned;
	const char **users;          /* recipients to wake */
	size_t n_users;
};

static char *td_own(struct td_batch *b, char *s)
{
	if (!s)
		return NULL;
	if (b->n_owned == b->cap_owned) {
		size_t cap = b->cap_owned ? b->cap_owned * 2 : 16;
		char **grown = realloc(b->owned, cap * sizeof(*grown));
		if (!grown) {
			free(s);
			return NULL;
		}
		b->owned = grown;
		b->cap_owned = cap;
	}
	return b->owned[b->n_owned++] = s;
}

static int td_add(struct td_batch *b, const char *user, const char *device, const char *content)
{
	if (b->n == STORE_TO_DEVICE_BATCH_MAX)
		return -1;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct store_to_device_new *grown = realloc(b->msgs, cap * sizeof(*grown));
		if (!grown)
			return -1;
		b->msgs = grown;
		b->cap = cap;
	}
	b->msgs[b->n++] = (struct store_to_device_new){ user, device, content };
	return 0;
}

static void td_batch_free(struct td_batch *b)
{
	for (size_t i = 0; i < b->n_owned; i++)
		free(b->owned[i]);
	free(b->owned);
	free(b->msgs);
	free(b->users);
}

struct td_expand {
	struct td_batch *b;
	const char *user, *content;
	int failed;
};

static int td_expand_one(void *ctx, const struct store_device *d)
{
	struct td_expand *x = ctx;
	char *id = td_own(x->b, strdup(d->device_id));
	if (!id || td_add(x->b, x->user, id, x->content) != 0)
		x->failed = 1;
	return x->failed;
}

/* One recipient user: each named device that exists, or all for "*". */
static int td_user(struct request *req, struct td_batch *b, const char *user, json_t *devices)
{
	struct store *st = APP(req)->store;
	const char *device;
	json_t *content;

	json_object_foreach(devices, device, content) {
		char *text;
		if (!json_is_object(content))
			return -1;
		text = td_own(b, json_dumps(content, JSON_COMPACT));
		if (!text || strlen(text) > TO_DEVICE_CONTENT_MAX)
			return -1;
		if (strcmp(device, "*") == 0) {
			struct td_expand x = { b, user, text, 0 };
			if (store_device_list(st, user, td_expand_one, &x) != STORE_OK || x.failed)
				return -1;
		} else {
			struct store_device d = { 0 };
			/* Only devices that exist: a message for no device would wait
			 * forever for an acknowledgement. */
			enum store_result r = store_device_get(st, user, device, &d);
			store_device_clear(&d);
			if (r == STORE_OK && td_add(b, user, device, text) != 0)
				return -1;
			if (r == STORE_ERROR)
				return -1;
		}
	}
	return 0;
}

void api_send_to_device(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false), *messages, *devices;
	const char *type = req_param(req, 0), *txn = req_param(req, 1), *user;
	struct td_batch b = { 0 };
	char lp[256];
	enum store_result r;

	if (!body)
		return;
	messages = json_object_get(body, "messages");
	if (!json_is_object(messages)) {
		res_error(req, 400, "M_BAD_JSON", "messages must be an object");
		return;
	}
	b.users = calloc(json_object_size(messages) + 1, sizeof(*b.users));
	if (!b.users)
		goto fail;
	json_object_foreach(messages, user, devices) {
		if (!id_user_valid(user) || !json_is_object(devices)) {
			res_error(req, 400, "M_INVALID_PARAM", "messages must map user IDs to devices");
			goto out;
		}
		/* No federation yet: only this server's users can be reached. */
		if (!id_user_is_local(user, app->cfg->server_name, lp, sizeof(lp)))
			continue;
		if (td_user(req, &b, user, devices) != 0) {
			res_error(req, 400, "M_INVALID_PARAM",
			          "Invalid or oversized message (at most %d bytes, %d devices)",
			          TO_DEVICE_CONTENT_MAX, STORE_TO_DEVICE_BATCH_MAX);
			goto out;
		}
		b.users[b.n_users++] = user;
	}
	r = store_to_device_send(app->store, req->auth.user_id, req->auth.device_id, txn, type,
	                         b.msgs, b.n);
	/* STORE_CONFLICT: this transaction was sent before: same answer. */
	if (r != STORE_OK && r != STORE_CONFLICT)
		goto fail;
	if (r == STORE_OK && b.n_users)
		notifier_notify(app->notifier, NULL, 0, b.users, b.n_users);
	res_json(req, 200, NULL);
	goto out;
fail:
	res_error(req, 500, "M_UNKNOWN", "Could not queue the messages");
out:
	td_batch_free(&b);
}
