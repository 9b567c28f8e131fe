#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/keys_internal.h"
#include "config/config.h"
#include "security/secrets.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/ids.h"
#include "util/timeutil.h"

int api_session_issue(struct request *req, const char *user_id, const char *device_id,
                      const char *display_name, bool with_refresh, json_t *out)
{
	struct app *app = APP(req);
	struct store_session_new s = { 0 };
	char access[SECRET_TOKEN_MAX_LEN], refresh[SECRET_TOKEN_MAX_LEN];
	char generated[11];
	int64_t now = time_now_ms();
	enum store_result r;
	int ret = -1;

	if (display_name && strlen(display_name) > DEVICE_DISPLAY_NAME_MAX) {
		res_error(req, 400, "M_INVALID_PARAM", "initial_device_display_name is too long");
		return -1;
	}
	if (!device_id) {
		id_device_generate(generated);
		device_id = generated;
	}
	s.user_id = user_id;
	s.device_id = device_id;
	s.device_display_name = display_name;
	s.now_ms = now;
	s.with_refresh = with_refresh;
	if (secret_token_new("syt", access, s.access_hash) != 0)
		goto fail;
	if (with_refresh) {
		/* Only clients that can refresh get expiring access tokens. */
		s.access_expires_ts = now + (int64_t)app->cfg->access_token_lifetime_ms;
		if (secret_token_new("syr", refresh, s.refresh_hash) != 0)
			goto fail;
		if (app->cfg->refresh_token_lifetime_ms)
			s.refresh_expires_ts = now + (int64_t)app->cfg->refresh_token_lifetime_ms;
	}
	r = store_session_create(app->store, &s);
	if (r != STORE_OK)
		goto fail;
	json_object_set_new(out, "user_id", json_string(user_id));
	json_object_set_new(out, "access_token", json_string(access));
	json_object_set_new(out, "device_id", json_string(device_id));
	json_object_set_new(out, "home_server", json_string(app->cfg->server_name));
	if (with_refresh) {
		json_object_set_new(out, "refresh_token", json_string(refresh));
		json_object_set_new(out, "expires_in_ms",
		                    json_integer((json_int_t)app->cfg->access_token_lifetime_ms));
	}
	ret = 0;
	goto out;
fail:
	res_error(req, 500, "M_UNKNOWN", "Could not create the session");
out:
	sodium_memzero(access, sizeof(access));
	sodium_memzero(refresh, sizeof(refresh));
	return ret;
}

void api_sessions_revoked(struct request *req, const char *user_id)
{
	const char *users[1] = { user_id };
	notifier_notify(APP(req)->notifier, NULL, 0, users, 1);
	/* end-to-end encryption keys: the devices that went are a device-list
	 * change for everyone in the user's rooms (sync_keys.c) */
	keys_notify_change(APP(req), user_id);
}
