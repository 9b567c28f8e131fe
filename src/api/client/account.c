/* account.c: whoami, password change, deactivation
 * (data/api/client-server/whoami in registration.yaml, password_management.yaml,
 * account_deactivation.yaml). */
#include <string.h>

#include "api/app.h"
#include "api/client/admin.h"
#include "api/client/handlers.h"
#include "api/client/uia.h"
#include "security/accounts.h"
#include "security/erasure.h"
#include "store/store.h"

void api_whoami(struct request *req)
{
	res_json(req, 200, json_pack("{s:s,s:s,s:b}", "user_id", req->auth.user_id,
	                             "device_id", req->auth.device_id, "is_guest", 0));
}

void api_account_password(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false);
	const char *password = NULL;
	bool logout_devices = true;
	enum account_result ar;

	if (!body || req_get_string(req, body, "new_password", true, &password) != 0 ||
	    req_get_bool(req, body, "logout_devices", &logout_devices) != 0)
		return;
	if (account_check_password_policy(app->cfg, password) != ACCOUNT_OK) {
		res_error(req, 400, "M_WEAK_PASSWORD", "Password too short or too long");
		return;
	}
	if (uia_require(req, body, "password", req->auth.user_id, UIA_PASSWORD) != 0)
		return;
	/* password_management.yaml: other devices' tokens are invalidated;
	 * the one making this request stays signed in. */
	ar = account_set_password(app->store, app->cfg, req->auth.user_id, password,
	                          logout_devices, req->auth.device_id);
	if (ar != ACCOUNT_OK) {
		res_error(req, ar == ACCOUNT_ERROR ? 500 : 400, account_errcode(ar),
		          "Could not change the password");
		return;
	}
	if (logout_devices)
		api_sessions_revoked(req, req->auth.user_id);
	res_json(req, 200, NULL);
}

void api_account_deactivate(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, true);
	bool erase = false;

	if (!body || req_get_bool(req, body, "erase", &erase) != 0)
		return;
	if (uia_require(req, body, "deactivate", req->auth.user_id, UIA_PASSWORD) != 0)
		return;
	/* As Synapse: a deactivated account leaves its rooms and rejects its
	 * invites (sent first, while the account can still send them). */
	admin_user_leave_all(app, req->auth.user_id);
	if (store_user_deactivate(app->store, req->auth.user_id, erase) != STORE_OK ||
	    (erase && erasure_mark(app->store, req->auth.user_id) != 0)) {
		res_error(req, 500, "M_UNKNOWN", "Could not deactivate the account");
		return;
	}
	api_sessions_revoked(req, req->auth.user_id);
	/* account_deactivation.yaml: "success" when every bound 3PID was
	 * unbound; accounts here have none bound, so nothing failed. */
	res_json(req, 200, json_pack("{s:s}", "id_server_unbind_result", "success"));
}
