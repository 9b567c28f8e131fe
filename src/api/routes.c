/*
 * routes: the map of every endpoint chappe serves. One row per endpoint:
 * prefixes, method, pattern, handler, authentication, rate-limit class,
 * ledger kind. A reviewer reads this table to see which endpoints skip
 * authentication (AUTH_NONE) or the ledger.
 */
#include "api/app.h"
#include "api/client/handlers.h"

#define ROW(pfx, m, pat, h, auth, rl, led) { pfx, m, pat, h, auth, rl, led, #h }

const struct route api_routes[] = {
	/* discovery */
	ROW(PFX_ROOT, HTTP_GET, "/_matrix/client/versions", api_versions, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_ROOT, HTTP_GET, "/.well-known/matrix/client", api_wellknown_client, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_ROOT, HTTP_GET, "/.well-known/matrix/server", api_wellknown_server, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/capabilities", api_capabilities, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* login, logout, tokens (login is rate-limited per IP and account inside) */
	ROW(PFX_CLIENT, HTTP_GET, "/login", api_login_flows, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/login", api_login, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/logout", api_logout, AUTH_REQUIRED, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/logout/all", api_logout_all, AUTH_REQUIRED, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT | PFX_CLIENT_V1, HTTP_POST, "/refresh", api_refresh, AUTH_NONE, RL_NONE, LEDGER_NONE),

	/* registration (accounts created are rate-limited per IP inside) */
	ROW(PFX_CLIENT, HTTP_POST, "/register", api_register, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/register/available", api_register_available, AUTH_NONE, RL_REGISTER, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/register", api_admin_register_nonce, AUTH_NONE, RL_REGISTER, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/register", api_admin_register, AUTH_NONE, RL_NONE, LEDGER_NONE),

	/* account */
	ROW(PFX_CLIENT, HTTP_GET, "/account/whoami", api_whoami, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/account/password", api_account_password, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/account/deactivate", api_account_deactivate, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* devices */
	ROW(PFX_CLIENT, HTTP_GET, "/devices", api_devices_list, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/devices/{deviceId}", api_device_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/devices/{deviceId}", api_device_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_DELETE, "/devices/{deviceId}", api_device_delete, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/delete_devices", api_delete_devices, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* profile */
	ROW(PFX_CLIENT, HTTP_GET, "/profile/{userId}", api_profile_get, AUTH_OPTIONAL, RL_CLIENT, LEDGER_PROFILE),
	ROW(PFX_CLIENT, HTTP_GET, "/profile/{userId}/displayname", api_profile_field_get, AUTH_OPTIONAL, RL_CLIENT, LEDGER_PROFILE),
	ROW(PFX_CLIENT, HTTP_PUT, "/profile/{userId}/displayname", api_profile_field_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/profile/{userId}/avatar_url", api_profile_field_get, AUTH_OPTIONAL, RL_CLIENT, LEDGER_PROFILE),
	ROW(PFX_CLIENT, HTTP_PUT, "/profile/{userId}/avatar_url", api_profile_field_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
};

const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);
