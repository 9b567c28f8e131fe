/* account_data.c: global and per-room account data (account-data.yaml).
 * Each write takes the next position of the account-data stream and wakes
 * the user's parked /sync. */
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/client/handlers.h"
#include "api/client/pushrules_state.h"
#include "store/store.h"
#include "sync/notifier.h"

#define ACCOUNT_DATA_TYPE_MAX 255
#define ACCOUNT_DATA_MAX_BYTES 65536   /* what the store keeps per entry */

/* Types the server owns (account-data.yaml 405): set through their own APIs. */
static bool server_owned(const char *type)
{
	return strcmp(type, "m.fully_read") == 0 || strcmp(type, "m.push_rules") == 0 ||
	       strncmp(type, ACCOUNT_DATA_INTERNAL_PREFIX, strlen(ACCOUNT_DATA_INTERNAL_PREFIX)) == 0;
}

/* Params: user, [room,] type. Checks ownership and the type. */
static bool account_data_args(struct request *req, const char **room, const char **type)
{
	bool with_room = req->n_params == 3;

	*room = with_room ? req_param(req, 1) : NULL;
	*type = req_param(req, with_room ? 2 : 1);
	if (strcmp(req_param(req, 0), req->auth.user_id) != 0) {
		res_error(req, 403, "M_FORBIDDEN", "Cannot access other users' account data");
		return false;
	}
	if (strlen(*type) > ACCOUNT_DATA_TYPE_MAX || (*room && (*room)[0] != '!')) {
		res_error(req, 400, "M_INVALID_PARAM", "Invalid type or room ID");
		return false;
	}
	return true;
}

void api_account_data_put(struct request *req)
{
	struct app *app = APP(req);
	json_t *body = req_json_object(req, false);
	const char *room, *type;
	const char *users[1] = { req->auth.user_id };
	char *text;
	int64_t stream;

	if (!body || !account_data_args(req, &room, &type))
		return;
	if (server_owned(type)) {
		res_error(req, 405, "M_BAD_JSON", "Cannot set %s through this API.", type);
		return;
	}
	text = json_dumps(body, JSON_COMPACT);
	if (text && strlen(text) > ACCOUNT_DATA_MAX_BYTES) {
		free(text);
		res_error(req, 413, "M_TOO_LARGE", "Account data is limited to %d bytes",
		          ACCOUNT_DATA_MAX_BYTES);
		return;
	}
	if (!text || store_account_data_put(app->store, req->auth.user_id, room, type, text,
	                                    &stream) != STORE_OK) {
		free(text);
		res_error(req, 500, "M_UNKNOWN", "Could not store the account data");
		return;
	}
	free(text);
	notifier_notify(app->notifier, NULL, 0, users, 1);
	res_json(req, 200, NULL);
}

void api_account_data_get(struct request *req)
{
	const char *room, *type;
	char *text = NULL;
	json_t *j;

	if (!account_data_args(req, &room, &type))
		return;
	if (strncmp(type, ACCOUNT_DATA_INTERNAL_PREFIX, strlen(ACCOUNT_DATA_INTERNAL_PREFIX)) == 0) {
		res_error(req, 404, "M_NOT_FOUND", "Account data not found");
		return;
	}
	if (store_account_data_get(APP(req)->store, req->auth.user_id, room, type, &text) !=
	    STORE_OK || !(j = json_loads(text, 0, NULL))) {
		free(text);
		res_error(req, 404, "M_NOT_FOUND", "Account data not found");
		return;
	}
	free(text);
	res_json(req, 200, j);
}
