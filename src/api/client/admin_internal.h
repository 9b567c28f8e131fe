/* admin_internal: what the admin handler files share (not the CLI). */
#ifndef CHAPPE_API_CLIENT_ADMIN_INTERNAL_H
#define CHAPPE_API_CLIENT_ADMIN_INTERNAL_H

#include <stddef.h>

#include "http/request.h"

struct store_user;

/* Path parameter n as a local user ID, or NULL with 400 M_INVALID_PARAM
 * set ("The user ID does not belong to the local server", admin.yaml). */
const char *admin_local_user_param(struct request *req, size_t n);
/* Load the account: 0, or -1 with 404 M_NOT_FOUND / 500 set. */
int admin_user_load(struct request *req, const char *uid, struct store_user *u);

#endif
