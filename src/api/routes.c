/*
 * routes: the map of every endpoint chappe serves. One row per endpoint:
 * prefixes, method, pattern, handler, authentication, rate-limit class,
 * ledger kind. A reviewer reads this table to see which endpoints skip
 * authentication (AUTH_NONE) or the ledger.
 */
#include "api/app.h"
#include "api/client/handlers.h"

#define ROW(pfx, m, pat, h, auth, rl, led) { pfx, m, pat, h, auth, rl, led, #h, BODY_JSON, MOD_ANY }
/* media uploads: the body streams to a temp file, bounded by max_upload_bytes */
#define ROW_UPLOAD(pfx, m, pat, h, auth, rl, led) { pfx, m, pat, h, auth, rl, led, #h, BODY_UPLOAD, MOD_WRITE }
/* account moderation (router.h, enum route_moderation): ROW_WRITE rows are
 * refused to a suspended account (403 M_USER_SUSPENDED), ROW_LOGOUT rows
 * stay open to a locked one; uploads above are writes too */
#define ROW_WRITE(pfx, m, pat, h, auth, rl, led) { pfx, m, pat, h, auth, rl, led, #h, BODY_JSON, MOD_WRITE }
#define ROW_LOGOUT(pfx, m, pat, h, auth, rl, led) { pfx, m, pat, h, auth, rl, led, #h, BODY_JSON, MOD_LOCK_EXEMPT }

const struct route api_routes[] = {
	/* discovery */
	ROW(PFX_ROOT, HTTP_GET, "/_matrix/client/versions", api_versions, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_ROOT, HTTP_GET, "/.well-known/matrix/client", api_wellknown_client, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_ROOT, HTTP_GET, "/.well-known/matrix/server", api_wellknown_server, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/capabilities", api_capabilities, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* login, logout, tokens (login is rate-limited per IP and account inside) */
	ROW(PFX_CLIENT, HTTP_GET, "/login", api_login_flows, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/login", api_login, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW_LOGOUT(PFX_CLIENT, HTTP_POST, "/logout", api_logout, AUTH_REQUIRED, RL_NONE, LEDGER_NONE),
	ROW_LOGOUT(PFX_CLIENT, HTTP_POST, "/logout/all", api_logout_all, AUTH_REQUIRED, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT | PFX_CLIENT_V1, HTTP_POST, "/refresh", api_refresh, AUTH_NONE, RL_NONE, LEDGER_NONE),

	/* registration (accounts created are rate-limited per IP inside) */
	ROW(PFX_CLIENT, HTTP_POST, "/register", api_register, AUTH_NONE, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/register/available", api_register_available, AUTH_NONE, RL_REGISTER, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/register", api_admin_register_nonce, AUTH_NONE, RL_REGISTER, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/register", api_admin_register, AUTH_NONE, RL_NONE, LEDGER_NONE),
	/* per-user rate-limit overrides (Synapse's admin API; the benchmarks use it) */
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/users/{userId}/override_ratelimit", api_admin_ratelimit_override_get, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/users/{userId}/override_ratelimit", api_admin_ratelimit_override_set, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_DELETE, "/v1/users/{userId}/override_ratelimit", api_admin_ratelimit_override_delete, AUTH_ADMIN, RL_NONE, LEDGER_NONE),

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
	ROW_WRITE(PFX_CLIENT, HTTP_PUT, "/profile/{userId}/displayname", api_profile_field_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/profile/{userId}/avatar_url", api_profile_field_get, AUTH_OPTIONAL, RL_CLIENT, LEDGER_PROFILE),
	ROW_WRITE(PFX_CLIENT, HTTP_PUT, "/profile/{userId}/avatar_url", api_profile_field_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* sync and filters */
	ROW(PFX_CLIENT, HTTP_GET, "/sync", api_sync, AUTH_REQUIRED, RL_CLIENT, LEDGER_SYNC),
	ROW(PFX_CLIENT, HTTP_POST, "/user/{userId}/filter", api_filter_post, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/user/{userId}/filter/{filterId}", api_filter_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* account data */
	ROW(PFX_CLIENT, HTTP_PUT, "/user/{userId}/account_data/{type}", api_account_data_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/user/{userId}/account_data/{type}", api_account_data_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/user/{userId}/rooms/{roomId}/account_data/{type}", api_account_data_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/user/{userId}/rooms/{roomId}/account_data/{type}", api_account_data_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* to-device messages */
	ROW(PFX_CLIENT, HTTP_PUT, "/sendToDevice/{eventType}/{txnId}", api_send_to_device, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* end-to-end encryption keys */
	ROW(PFX_CLIENT, HTTP_POST, "/keys/upload", api_keys_upload, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/keys/query", api_keys_query, AUTH_REQUIRED, RL_CLIENT, LEDGER_KEY_QUERY),
	ROW(PFX_CLIENT, HTTP_POST, "/keys/claim", api_keys_claim, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/keys/changes", api_keys_changes, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/keys/device_signing/upload", api_keys_device_signing_upload, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/keys/signatures/upload", api_keys_signatures_upload, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* push rules */
	ROW(PFX_CLIENT, HTTP_GET, "/pushrules/", api_pushrules_get_all, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/pushrules", api_pushrules_get_all, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/pushrules/global/", api_pushrules_get_all, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/pushrules/{scope}/{kind}/{ruleId}", api_pushrule_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/pushrules/{scope}/{kind}/{ruleId}", api_pushrule_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_DELETE, "/pushrules/{scope}/{kind}/{ruleId}", api_pushrule_delete, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/pushrules/{scope}/{kind}/{ruleId}/enabled", api_pushrule_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/pushrules/{scope}/{kind}/{ruleId}/enabled", api_pushrule_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/pushrules/{scope}/{kind}/{ruleId}/actions", api_pushrule_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/pushrules/{scope}/{kind}/{ruleId}/actions", api_pushrule_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* rooms: creation and membership */
	ROW_WRITE(PFX_CLIENT, HTTP_POST, "/createRoom", api_create_room, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/join", api_room_join, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_POST, "/join/{roomIdOrAlias}", api_room_join, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_POST, "/knock/{roomIdOrAlias}", api_room_knock, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/leave", api_room_leave, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/invite", api_room_invite, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/kick", api_room_kick, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/ban", api_room_ban, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/unban", api_room_unban, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/joined_rooms", api_joined_rooms, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* rooms: events and state */
	ROW_WRITE(PFX_CLIENT, HTTP_PUT, "/rooms/{roomId}/send/{eventType}/{txnId}", api_room_send, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_PUT, "/rooms/{roomId}/state/{eventType}/{stateKey}", api_room_state_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_PUT, "/rooms/{roomId}/state/{eventType}", api_room_state_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_PUT, "/rooms/{roomId}/state/{eventType}/", api_room_state_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/rooms/{roomId}/redact/{eventId}/{txnId}", api_room_redact, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/state", api_room_state_all, AUTH_REQUIRED, RL_CLIENT, LEDGER_STATE),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/state/{eventType}/{stateKey}", api_room_state_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_STATE),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/state/{eventType}", api_room_state_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_STATE),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/state/{eventType}/", api_room_state_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_STATE),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/event/{eventId}", api_room_event_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_EVENT),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/members", api_room_members, AUTH_REQUIRED, RL_CLIENT, LEDGER_MEMBERS),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/joined_members", api_room_joined_members, AUTH_REQUIRED, RL_CLIENT, LEDGER_MEMBERS),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/messages", api_room_messages, AUTH_REQUIRED, RL_CLIENT, LEDGER_MESSAGES),

	/* room directory: aliases, published rooms, user directory, forget */
	ROW_WRITE(PFX_CLIENT, HTTP_PUT, "/directory/room/{roomAlias}", api_directory_alias_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/directory/room/{roomAlias}", api_directory_alias_get, AUTH_OPTIONAL, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_DELETE, "/directory/room/{roomAlias}", api_directory_alias_delete, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/aliases", api_room_aliases, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/directory/list/room/{roomId}", api_directory_visibility_get, AUTH_OPTIONAL, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_CLIENT, HTTP_PUT, "/directory/list/room/{roomId}", api_directory_visibility_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/publicRooms", api_public_rooms_get, AUTH_OPTIONAL, RL_CLIENT, LEDGER_PUBLIC_ROOMS),
	ROW(PFX_CLIENT, HTTP_POST, "/publicRooms", api_public_rooms_post, AUTH_REQUIRED, RL_CLIENT, LEDGER_PUBLIC_ROOMS),
	ROW(PFX_CLIENT, HTTP_POST, "/user_directory/search", api_user_directory_search, AUTH_REQUIRED, RL_CLIENT, LEDGER_DIRECTORY),
	ROW(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/forget", api_room_forget, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* typing, receipts, read markers, presence */
	ROW(PFX_CLIENT, HTTP_PUT, "/rooms/{roomId}/typing/{userId}", api_room_typing, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/receipt/{receiptType}/{eventId}", api_room_receipt, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_POST, "/rooms/{roomId}/read_markers", api_room_read_markers, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/presence/{userId}/status", api_presence_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_PROFILE),
	ROW(PFX_CLIENT, HTTP_PUT, "/presence/{userId}/status", api_presence_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* relations, threads, event context (relations feature) */
	ROW(PFX_CLIENT_V1, HTTP_GET, "/rooms/{roomId}/relations/{eventId}", api_room_relations, AUTH_REQUIRED, RL_CLIENT, LEDGER_RELATIONS),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/rooms/{roomId}/relations/{eventId}/{relType}", api_room_relations, AUTH_REQUIRED, RL_CLIENT, LEDGER_RELATIONS),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", api_room_relations, AUTH_REQUIRED, RL_CLIENT, LEDGER_RELATIONS),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/rooms/{roomId}/threads", api_room_threads, AUTH_REQUIRED, RL_CLIENT, LEDGER_RELATIONS),
	ROW(PFX_CLIENT, HTTP_GET, "/rooms/{roomId}/context/{eventId}", api_room_context, AUTH_REQUIRED, RL_CLIENT, LEDGER_CONTEXT),

	/* server-side search */
	ROW(PFX_CLIENT, HTTP_POST, "/search", api_search, AUTH_REQUIRED, RL_CLIENT, LEDGER_SEARCH),

	/* server-side key backup (key backup feature) */
	ROW(PFX_CLIENT, HTTP_POST, "/room_keys/version", api_room_keys_version_create, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/room_keys/version", api_room_keys_version_current, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/room_keys/version/{version}", api_room_keys_version_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/room_keys/version/{version}", api_room_keys_version_update, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_DELETE, "/room_keys/version/{version}", api_room_keys_version_delete, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/room_keys/keys", api_room_keys_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/room_keys/keys", api_room_keys_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_DELETE, "/room_keys/keys", api_room_keys_delete, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/room_keys/keys/{roomId}", api_room_keys_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/room_keys/keys/{roomId}", api_room_keys_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_DELETE, "/room_keys/keys/{roomId}", api_room_keys_delete, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_PUT, "/room_keys/keys/{roomId}/{sessionId}", api_room_keys_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/room_keys/keys/{roomId}/{sessionId}", api_room_keys_get, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_DELETE, "/room_keys/keys/{roomId}/{sessionId}", api_room_keys_delete, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),

	/* media repository: uploads stream to disk (ROW_UPLOAD); downloads only
	 * through the authenticated client v1 paths; the deprecated
	 * /_matrix/media/v3 download, thumbnail and config rows answer 404 unless
	 * legacy_media_authenticated, and then only with a token (AUTH_OPTIONAL
	 * so the handler can answer 404 first). /preview_url answers 404 unless
	 * url_preview_enabled (media/media_preview.h: the SSRF guard). */
	ROW_UPLOAD(PFX_MEDIA, HTTP_POST, "/upload", api_media_upload, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_UPLOAD(PFX_MEDIA, HTTP_PUT, "/upload/{serverName}/{mediaId}", api_media_upload_put, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW_WRITE(PFX_ROOT, HTTP_POST, "/_matrix/media/v1/create", api_media_create, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/media/config", api_media_config, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/media/preview_url", api_media_preview, AUTH_REQUIRED, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_MEDIA, HTTP_GET, "/preview_url", api_media_preview, AUTH_OPTIONAL, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/media/download/{serverName}/{mediaId}", api_media_download, AUTH_REQUIRED, RL_CLIENT, LEDGER_MEDIA),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/media/download/{serverName}/{mediaId}/{fileName}", api_media_download, AUTH_REQUIRED, RL_CLIENT, LEDGER_MEDIA),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/media/thumbnail/{serverName}/{mediaId}", api_media_thumbnail, AUTH_REQUIRED, RL_CLIENT, LEDGER_MEDIA),
	ROW(PFX_MEDIA, HTTP_GET, "/config", api_media_config, AUTH_OPTIONAL, RL_CLIENT, LEDGER_NONE),
	ROW(PFX_MEDIA, HTTP_GET, "/download/{serverName}/{mediaId}", api_media_download, AUTH_OPTIONAL, RL_CLIENT, LEDGER_MEDIA),
	ROW(PFX_MEDIA, HTTP_GET, "/download/{serverName}/{mediaId}/{fileName}", api_media_download, AUTH_OPTIONAL, RL_CLIENT, LEDGER_MEDIA),
	ROW(PFX_MEDIA, HTTP_GET, "/thumbnail/{serverName}/{mediaId}", api_media_thumbnail, AUTH_OPTIONAL, RL_CLIENT, LEDGER_MEDIA),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/media/quarantine/{serverName}/{mediaId}", api_admin_media_quarantine, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/user/{userId}/media/quarantine", api_admin_user_media_quarantine, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/room/{roomId}/media/quarantine", api_admin_room_media_quarantine, AUTH_ADMIN, RL_NONE, LEDGER_NONE),

	/* incident response: the admin API on Synapse's paths and shapes, and
	 * the spec's lock/suspend/whois admin endpoints (admin.yaml). Admins'
	 * tokens only (AUTH_ADMIN: 403 M_FORBIDDEN for others). The broadcast
	 * has no Synapse path: ours is send_server_notice/broadcast. */
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v2/users", api_admin_users_list, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v2/users/{userId}", api_admin_user_get, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_PUT, "/v2/users/{userId}", api_admin_user_put, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/deactivate/{userId}", api_admin_user_deactivate, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_PUT, "/v1/suspend/{userId}", api_admin_user_suspend, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/admin/lock/{userId}", api_admin_lock, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT_V1, HTTP_PUT, "/admin/lock/{userId}", api_admin_lock, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT_V1, HTTP_GET, "/admin/suspend/{userId}", api_admin_suspend, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT_V1, HTTP_PUT, "/admin/suspend/{userId}", api_admin_suspend, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v2/users/{userId}/devices", api_admin_user_devices, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_DELETE, "/v2/users/{userId}/devices/{deviceId}", api_admin_user_device_delete, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v2/users/{userId}/delete_devices", api_admin_user_delete_devices, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/whois/{userId}", api_admin_whois, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_CLIENT, HTTP_GET, "/admin/whois/{userId}", api_admin_whois, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/users/{userId}/joined_rooms", api_admin_user_joined_rooms, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/user/{userId}/redact", api_admin_user_redact, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/user/redact_status/{redactId}", api_admin_redact_status, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/send_server_notice", api_admin_send_server_notice, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_POST, "/v1/send_server_notice/broadcast", api_admin_broadcast_server_notice, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	/* access ledger: what one account was served (security/exposure.h) */
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/users/{userId}/exposure", api_admin_user_exposure, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/rooms", api_admin_rooms_list, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/rooms/{roomId}", api_admin_room_get, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_GET, "/v1/rooms/{roomId}/members", api_admin_room_members, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
	ROW(PFX_SYNAPSE_ADMIN, HTTP_DELETE, "/v1/rooms/{roomId}", api_admin_room_delete, AUTH_ADMIN, RL_NONE, LEDGER_NONE),
};

const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);
