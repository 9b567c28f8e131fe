/*
 * test_admin_routes: the route table (src/api/routes.c) says what a locked
 * or suspended account may do and who may call the admin API; these tests
 * read the table the way a reviewer would and hold it to the spec:
 *
 * - client-server-api "Account locking": servers MUST answer 401
 *   M_USER_LOCKED "on all but the following Client-Server APIs: POST
 *   /logout, POST /logout/all" -> exactly those rows are MOD_LOCK_EXEMPT.
 * - "Account suspension": servers SHOULD permit "See and receive
 *   messages", "Leave rooms and reject invites", "Redact their own
 *   events", "Log out or delete any device", "Deactivate their account",
 *   "Verify other devices and write associated cross-signing data",
 *   "Populate their key backup" -> none of those rows is MOD_WRITE, and no
 *   read (GET) ever is; "the recommended set of explicitly forbidden
 *   actions is: Joining or knocking on rooms. Accepting or sending invites.
 *   Sending messages to rooms. Changing profile data" -> those rows are.
 * - admin.yaml: "The user calling this endpoint MUST be a server admin";
 *   issue 5: "admins' tokens only" -> every /_synapse/admin row but
 *   shared-secret registration (which authenticates by its own MAC) and
 *   every /admin/ client row is AUTH_ADMIN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api/app.h"

static const struct route *find(enum http_method m, const char *pattern)
{
	for (size_t i = 0; i < api_routes_count; i++)
		if (api_routes[i].method == m && strcmp(api_routes[i].pattern, pattern) == 0)
			return &api_routes[i];
	fail_msg("no route %s", pattern);
	return NULL;
}

static void test_lock_exempt_is_logout_only(void **state)
{
	size_t exempt = 0;

	(void)state;
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct route *r = &api_routes[i];
		if (r->moderation != MOD_LOCK_EXEMPT)
			continue;
		exempt++;
		assert_int_equal(r->method, HTTP_POST);
		assert_true(strcmp(r->pattern, "/logout") == 0 ||
		            strcmp(r->pattern, "/logout/all") == 0);
	}
	assert_int_equal(exempt, 2);
}

static void test_suspension_forbids_the_recommended_writes(void **state)
{
	static const struct { enum http_method m; const char *pattern; } writes[] = {
		{ HTTP_POST, "/createRoom" },
		{ HTTP_POST, "/rooms/{roomId}/join" },
		{ HTTP_POST, "/join/{roomIdOrAlias}" },
		{ HTTP_POST, "/knock/{roomIdOrAlias}" },
		{ HTTP_POST, "/rooms/{roomId}/invite" },
		{ HTTP_PUT, "/rooms/{roomId}/send/{eventType}/{txnId}" },
		{ HTTP_PUT, "/rooms/{roomId}/state/{eventType}/{stateKey}" },
		{ HTTP_PUT, "/rooms/{roomId}/state/{eventType}" },
		{ HTTP_PUT, "/profile/{userId}/displayname" },
		{ HTTP_PUT, "/profile/{userId}/avatar_url" },
		{ HTTP_POST, "/upload" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		const struct route *r = find(writes[i].m, writes[i].pattern);
		if (r->moderation != MOD_WRITE)
			fail_msg("%s is not refused to suspended accounts", writes[i].pattern);
	}
}

static void test_suspension_permits_reads_and_the_spec_list(void **state)
{
	static const struct { enum http_method m; const char *pattern; } allowed[] = {
		{ HTTP_GET, "/sync" },
		{ HTTP_GET, "/rooms/{roomId}/messages" },
		{ HTTP_POST, "/rooms/{roomId}/leave" },
		{ HTTP_PUT, "/rooms/{roomId}/redact/{eventId}/{txnId}" },
		{ HTTP_POST, "/logout" },
		{ HTTP_POST, "/logout/all" },
		{ HTTP_DELETE, "/devices/{deviceId}" },
		{ HTTP_POST, "/delete_devices" },
		{ HTTP_POST, "/account/deactivate" },
		{ HTTP_POST, "/keys/upload" },
		{ HTTP_POST, "/keys/device_signing/upload" },
		{ HTTP_POST, "/keys/signatures/upload" },
		{ HTTP_PUT, "/sendToDevice/{eventType}/{txnId}" },
		{ HTTP_POST, "/login" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		const struct route *r = find(allowed[i].m, allowed[i].pattern);
		if (r->moderation == MOD_WRITE)
			fail_msg("%s is refused to suspended accounts", allowed[i].pattern);
	}
	for (size_t i = 0; i < api_routes_count; i++)
		if (api_routes[i].method == HTTP_GET && api_routes[i].moderation == MOD_WRITE)
			fail_msg("read %s is refused to suspended accounts", api_routes[i].pattern);
}

static void test_admin_rows_need_an_admin(void **state)
{
	size_t admin_rows = 0;

	(void)state;
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct route *r = &api_routes[i];
		bool synapse = (r->prefixes & PFX_SYNAPSE_ADMIN) != 0;
		bool client_admin = strncmp(r->pattern, "/admin/", 7) == 0;

		if (!synapse && !client_admin)
			continue;
		/* Synapse's shared-secret registration proves itself with a MAC */
		if (synapse && strcmp(r->pattern, "/v1/register") == 0) {
			assert_int_equal(r->auth, AUTH_NONE);
			continue;
		}
		if (r->auth != AUTH_ADMIN)
			fail_msg("admin row %s is open to non-admins", r->pattern);
		admin_rows++;
	}
	/* users, devices, whois, rooms, redact, notices, lock and suspend */
	assert_true(admin_rows >= 23);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_exempt_is_logout_only),
		cmocka_unit_test(test_suspension_forbids_the_recommended_writes),
		cmocka_unit_test(test_suspension_permits_reads_and_the_spec_list),
		cmocka_unit_test(test_admin_rows_need_an_admin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
