/*
 * handlers: every Client-Server API handler, one file per spec module
 * (versions.c, login.c, register.c, account.c, devices.c, profile.c),
 * listed in one place so routes.c can map them. Each handler parses and
 * validates its request, calls the layers below, and sets one response;
 * none touches SQL.
 */
#ifndef CHAPPE_API_CLIENT_HANDLERS_H
#define CHAPPE_API_CLIENT_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "http/request.h"

/* Longest device display name accepted (login, register, PUT /devices). */
#define DEVICE_DISPLAY_NAME_MAX 100

/* versions.c: discovery */
void api_versions(struct request *req);
void api_wellknown_client(struct request *req);
void api_wellknown_server(struct request *req);
void api_capabilities(struct request *req);

/* login.c: login, logout, refresh */
void api_login_flows(struct request *req);
void api_login(struct request *req);
void api_logout(struct request *req);
void api_logout_all(struct request *req);
void api_refresh(struct request *req);

/* register.c */
void api_register(struct request *req);
void api_register_available(struct request *req);
void api_admin_register_nonce(struct request *req);
void api_admin_register(struct request *req);
/* ratelimit_override.c: Synapse's admin API override_ratelimit */
void api_admin_ratelimit_override_get(struct request *req);
void api_admin_ratelimit_override_set(struct request *req);
void api_admin_ratelimit_override_delete(struct request *req);

/* account.c */
void api_whoami(struct request *req);
void api_account_password(struct request *req);
void api_account_deactivate(struct request *req);

/* devices.c */
void api_devices_list(struct request *req);
void api_device_get(struct request *req);
void api_device_put(struct request *req);
void api_device_delete(struct request *req);
void api_delete_devices(struct request *req);

/* profile.c */
void api_profile_get(struct request *req);
void api_profile_field_get(struct request *req);
void api_profile_field_put(struct request *req);

/* sync.c */
void api_sync(struct request *req);
void api_filter_post(struct request *req);
void api_filter_get(struct request *req);

/* rooms_create.c, rooms_membership.c, rooms_events.c, rooms_read.c, rooms_messages.c */
void api_create_room(struct request *req);
void api_room_join(struct request *req);
void api_room_knock(struct request *req);
void api_room_leave(struct request *req);
void api_room_invite(struct request *req);
void api_room_kick(struct request *req);
void api_room_ban(struct request *req);
void api_room_unban(struct request *req);
void api_room_send(struct request *req);
void api_room_state_put(struct request *req);
void api_room_redact(struct request *req);
void api_room_state_all(struct request *req);
void api_room_state_get(struct request *req);
void api_room_event_get(struct request *req);
void api_room_members(struct request *req);
void api_room_joined_members(struct request *req);
void api_joined_rooms(struct request *req);
void api_room_messages(struct request *req);

/* account_data.c */
void api_account_data_put(struct request *req);
void api_account_data_get(struct request *req);

/* media_preview.c */
void api_media_preview(struct request *req);

/* to_device.c */
void api_send_to_device(struct request *req);

/* keys.c, keys_query.c, keys_xsign.c: end-to-end encryption keys */
void api_keys_upload(struct request *req);
void api_keys_query(struct request *req);
void api_keys_claim(struct request *req);
void api_keys_changes(struct request *req);
void api_keys_device_signing_upload(struct request *req);
void api_keys_signatures_upload(struct request *req);

/* pushrules.c */
void api_pushrules_get_all(struct request *req);
void api_pushrule_get(struct request *req);
void api_pushrule_put(struct request *req);
void api_pushrule_delete(struct request *req);

/* directory_alias.c, directory_rooms.c, directory_users.c: room aliases, the
 * published room directory, the user directory, forgetting rooms */
void api_directory_alias_put(struct request *req);
void api_directory_alias_get(struct request *req);
void api_directory_alias_delete(struct request *req);
void api_room_aliases(struct request *req);
void api_directory_visibility_get(struct request *req);
void api_directory_visibility_put(struct request *req);
void api_public_rooms_get(struct request *req);
void api_public_rooms_post(struct request *req);
void api_user_directory_search(struct request *req);
void api_room_forget(struct request *req);

/* rooms_typing.c, rooms_receipts.c, presence.c: typing, receipts, read
 * markers, presence; presence_content is the m.presence content of a
 * stored presence (last_active_ago from now_ms), for /sync too */
void api_room_typing(struct request *req);
void api_room_receipt(struct request *req);
void api_room_read_markers(struct request *req);
void api_presence_get(struct request *req);
void api_presence_put(struct request *req);
struct store_presence;
json_t *presence_content(const struct store_presence *p, int64_t now_ms);

/* relations.c, context.c: relations, threads, event context */
void api_room_relations(struct request *req);
void api_room_threads(struct request *req);
void api_room_context(struct request *req);

/* search.c, search_results.c: server-side search */
void api_search(struct request *req);

/* key_backup.c: server-side key backup (versions, and keys by version,
 * room and session; the keys handlers serve all three path forms) */
void api_room_keys_version_create(struct request *req);
void api_room_keys_version_current(struct request *req);
void api_room_keys_version_get(struct request *req);
void api_room_keys_version_update(struct request *req);
void api_room_keys_version_delete(struct request *req);
void api_room_keys_put(struct request *req);
void api_room_keys_get(struct request *req);
void api_room_keys_delete(struct request *req);

/* media.c, media_download.c, media_admin.c: the media repository
 * (content-repo.yaml, authed-content-repo.yaml; Synapse's quarantine admin
 * API) */
void api_media_upload(struct request *req);
void api_media_upload_put(struct request *req);
void api_media_create(struct request *req);
void api_media_config(struct request *req);
void api_media_download(struct request *req);
void api_media_thumbnail(struct request *req);
void api_admin_media_quarantine(struct request *req);
void api_admin_user_media_quarantine(struct request *req);
void api_admin_room_media_quarantine(struct request *req);

/* admin_users.c, admin_sessions.c, admin_rooms.c, admin_redact.c: the admin
 * API on Synapse's paths and shapes, and the spec's lock/suspend/whois
 * admin endpoints (incident response; see admin.h) */
void api_admin_users_list(struct request *req);
void api_admin_user_get(struct request *req);
void api_admin_user_put(struct request *req);
void api_admin_user_deactivate(struct request *req);
void api_admin_user_suspend(struct request *req);
void api_admin_lock(struct request *req);
void api_admin_suspend(struct request *req);
void api_admin_user_devices(struct request *req);
void api_admin_user_device_delete(struct request *req);
void api_admin_user_delete_devices(struct request *req);
void api_admin_whois(struct request *req);
void api_admin_user_joined_rooms(struct request *req);
void api_admin_user_redact(struct request *req);
void api_admin_redact_status(struct request *req);
void api_admin_send_server_notice(struct request *req);
void api_admin_broadcast_server_notice(struct request *req);
void api_admin_rooms_list(struct request *req);
void api_admin_room_get(struct request *req);
void api_admin_room_members(struct request *req);
void api_admin_room_delete(struct request *req);

/* session.c: sessions of user_id were revoked (logout, device deleted,
 * password change, deactivation): wake their parked /syncs so that they
 * re-check their token now and answer 401, rather than at their timeout. */
void api_sessions_revoked(struct request *req, const char *user_id);

/* session.c: a new login session (device + tokens) for user_id, written
 * into out as the spec's login/register response fields (user_id,
 * access_token, device_id, refresh_token, expires_in_ms). device_id NULL
 * generates one. On failure sets the error response and returns -1. */
int api_session_issue(struct request *req, const char *user_id, const char *device_id,
                      const char *display_name, bool with_refresh, json_t *out);

/* access ledger: exposure report (admin_exposure.c) */
void api_admin_user_exposure(struct request *req);

#endif
