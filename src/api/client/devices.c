/* devices.c: client-server-api "Device management" (device_management.yaml). */
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/uia.h"
#include "store/store.h"
#include "util/ids.h"

#define DELETE_DEVICES_MAX 1000

static json_t *device_json(const struct store_device *d)
{
	json_t *o = json_pack("{s:s}", "device_id", d->device_id);
	if (d->display_name)
		json_object_set_new(o, "display_name", json_string(d->display_name));
	if (d->last_seen_ip)
		json_object_set_new(o, "last_seen_ip", json_string(d->last_seen_ip));
	if (d->last_seen_ts)
		json_object_set_new(o, "last_seen_ts", json_integer(d->last_seen_ts));
	return o;
}

static int device_collect(void *ctx, const struct store_device *d)
{
	json_array_append_new(ctx, device_json(d));
	return 0;
}

void api_devices_list(struct request *req)
{
	json_t *list = json_array();
	if (store_device_list(APP(req)->store, req->auth.user_id, device_collect, list) !=
	    STORE_OK) {
		json_decref(list);
		res_error(req, 500, "M_UNKNOWN", "Could not list devices");
		return;
	}
	res_json(req, 200, json_pack("{s:o}", "devices", list));
}

void api_device_get(struct request *req)
{
	struct store_device d = { 0 };
	enum store_result r = store_device_get(APP(req)->store, req->auth.user_id,
	                                       req_param(req, 0), &d);
	if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "No such device");
	else if (r != STORE_OK)
		res_error(req, 500, "M_UNKNOWN", "Could not read the device");
	else
		res_json(req, 200, device_json(&d));
	store_device_clear(&d);
}

void api_device_put(struct request *req)
{
	json_t *body = req_json_object(req, true);
	const char *name = NULL;
	enum store_result r;

	if (!body || req_get_string(req, body, "display_name", false, &name) != 0)
		return;
	if (name && strlen(name) > DEVICE_DISPLAY_NAME_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "Device display name is too long");
		return;
	}
	if (!json_object_get(body, "display_name")) {
		/* Nothing to change; still 404 for someone else's device. */
		struct store_device d = { 0 };
		r = store_device_get(APP(req)->store, req->auth.user_id, req_param(req, 0), &d);
		store_device_clear(&d);
	} else {
		r = store_device_set_display_name(APP(req)->store, req->auth.user_id,
		                                  req_param(req, 0), name);
	}
	if (r == STORE_NOT_FOUND)
		res_error(req, 404, "M_NOT_FOUND", "No such device");
	else if (r != STORE_OK)
		res_error(req, 500, "M_UNKNOWN", "Could not update the device");
	else
		res_json(req, 200, NULL);
}

void api_device_delete(struct request *req)
{
	json_t *body = req_json_object(req, true);
	enum store_result r;

	if (!body)
		return;
	if (uia_require(req, body, "delete_devices", req->auth.user_id, UIA_PASSWORD) != 0)
		return;
	r = store_device_delete(APP(req)->store, req->auth.user_id, req_param(req, 0));
	if (r == STORE_ERROR) {
		res_error(req, 500, "M_UNKNOWN", "Could not delete the device");
		return;
	}
	api_sessions_revoked(req, req->auth.user_id);
	res_json(req, 200, NULL);   /* deleting an absent device is not an error */
}

void api_delete_devices(struct request *req)
{
	json_t *body = req_json_object(req, false), *list, *v;
	size_t i;

	if (!body)
		return;
	list = json_object_get(body, "devices");
	if (!json_is_array(list) || json_array_size(list) > DELETE_DEVICES_MAX) {
		res_error(req, 400, "M_BAD_JSON", "devices must be an array of at most %d IDs",
		          DELETE_DEVICES_MAX);
		return;
	}
	json_array_foreach(list, i, v) {
		if (!json_is_string(v)) {
			res_error(req, 400, "M_BAD_JSON", "devices must hold strings");
			return;
		}
	}
	if (uia_require(req, body, "delete_devices", req->auth.user_id, UIA_PASSWORD) != 0)
		return;
	json_array_foreach(list, i, v) {
		if (store_device_delete(APP(req)->store, req->auth.user_id,
		                        json_string_value(v)) == STORE_ERROR) {
			res_error(req, 500, "M_UNKNOWN", "Could not delete the devices");
			return;
		}
	}
	api_sessions_revoked(req, req->auth.user_id);
	res_json(req, 200, NULL);
}
