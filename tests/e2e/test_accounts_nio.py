"""Accounts and sessions as a real client library sees them (matrix-nio 0.20).

Each test drives chappe with nio's AsyncClient where nio has the call, and
with raw HTTP where it has not (password change), then asserts the values
the Client-Server API spec (v1.19) requires. nio sends the access token as
the `access_token` query parameter, which the spec still requires servers to
accept ("Using access tokens": "Homeservers MUST support both methods").
"""

import asyncio

import pytest

nio = pytest.importorskip("nio")
nio_responses = pytest.importorskip("nio.responses")  # Whoami* are not re-exported

from chappe_e2e import (PASSWORD, SERVER_NAME, assert_error, mxid, password_auth,
                        unique_name)


def nio_client(server, user=""):
    # No retries: a 429 or a dead server must surface, not be waited out.
    config = nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                   request_timeout=30, encryption_enabled=False,
                                   store_sync_tokens=False)
    return nio.AsyncClient(server.url, user, config=config)


def run(coro):
    return asyncio.run(coro)


async def _nio_register_login(server, name, device_name="nio device"):
    """Register `name` with nio (its request carries m.login.dummy auth
    directly) and return a logged-in client."""
    client = nio_client(server, name)
    resp = await client.register(name, PASSWORD, device_name=device_name)
    assert isinstance(resp, nio.RegisterResponse), resp
    return client, resp


def test_register_login_whoami(server):
    """Account registration + Login + Current account information (whoami)."""
    name = unique_name("nio")

    async def go():
        client, reg = await _nio_register_login(server, name)
        try:
            # POST /register 200: user_id "MUST conform to the grammar", and
            # is on this server; access_token and device_id are present
            # because inhibit_login was not set.
            assert reg.user_id == mxid(name)
            assert reg.access_token and reg.device_id

            # POST /login with m.id.user (nio sends the localpart).
            login_client = nio_client(server, name)
            resp = await login_client.login(PASSWORD, device_name="second")
            assert isinstance(resp, nio.LoginResponse), resp
            assert resp.user_id == mxid(name)
            assert resp.device_id and resp.device_id != reg.device_id
            assert resp.access_token != reg.access_token

            # GET /account/whoami: "Device ID associated with the access token".
            who = await login_client.whoami()
            assert isinstance(who, nio_responses.WhoamiResponse), who
            assert who.user_id == mxid(name)
            raw = server.whoami(resp.access_token)
            assert raw.status == 200, raw
            assert raw.json["device_id"] == resp.device_id
            # is_guest: "When not present or false, the user is presumed to
            # be a non-guest user."
            assert raw.json.get("is_guest", False) is False
            await login_client.close()

            # A wrong password: 403 M_FORBIDDEN ("The provided authentication
            # data was incorrect").
            bad = nio_client(server, name)
            err = await bad.login("not the password")
            assert isinstance(err, nio.LoginError), err
            assert err.status_code == "M_FORBIDDEN"
            assert err.transport_response.status == 403
            await bad.close()
        finally:
            await client.close()

    run(go())


def test_login_with_full_user_id_and_discovery(server):
    """m.id.user accepts "the fully qualified Matrix user ID, or just the
    localpart"; GET /.well-known/matrix/client gives m.homeserver.base_url."""
    name = unique_name("nio")
    server.register(name)

    async def go():
        client = nio_client(server, mxid(name))
        try:
            resp = await client.login(PASSWORD)
            assert isinstance(resp, nio.LoginResponse), resp
            assert resp.user_id == mxid(name)
            info = await client.discovery_info()
            assert isinstance(info, nio.DiscoveryInfoResponse), info
            assert info.homeserver_url.rstrip("/") == server.url
            flows = await client.login_info()
            assert isinstance(flows, nio.LoginInfoResponse), flows
            assert "m.login.password" in flows.flows
        finally:
            await client.close()

    run(go())


def test_displayname_set_and_read(server):
    """Profiles: PUT/GET /profile/{userId}/displayname, GET /profile/{userId}."""
    name = unique_name("nio")

    async def go():
        client, _ = await _nio_register_login(server, name)
        try:
            resp = await client.set_displayname("Zoë ✓ Tester")
            assert isinstance(resp, nio.ProfileSetDisplayNameResponse), resp
            got = await client.get_displayname()
            assert isinstance(got, nio.ProfileGetDisplayNameResponse), got
            assert got.displayname == "Zoë ✓ Tester"
            # Another user reads the same value (with a token: reading
            # without one is checked in test_http_hostile).
            other, _ = await _nio_register_login(server, unique_name("reader"))
            prof = await other.get_profile(mxid(name))
            assert isinstance(prof, nio.ProfileGetResponse), prof
            assert prof.displayname == "Zoë ✓ Tester"
            await other.close()

            resp = await client.set_avatar("mxc://localhost/abcDEF123")
            assert isinstance(resp, nio.ProfileSetAvatarResponse), resp
            got = await client.get_avatar()
            assert got.avatar_url == "mxc://localhost/abcDEF123"
        finally:
            await client.close()

    run(go())


def _devices_raw(server, token):
    r = server.client("GET", "devices", token=token)
    assert r.status == 200, r
    return {d["device_id"]: d for d in r.json["devices"]}


def test_devices_list_rename_delete(server):
    """Device management: GET /devices, PUT /devices/{id}, and POST
    /delete_devices with User-Interactive Authentication (m.login.password)."""
    name = unique_name("nio")

    async def go():
        client, reg = await _nio_register_login(server, name, device_name="phone")
        second = nio_client(server, name)
        try:
            login = await second.login(PASSWORD, device_name="laptop")
            assert isinstance(login, nio.LoginResponse), login

            # nio 0.20 insists that display_name, last_seen_ip and
            # last_seen_ts are all present (the spec makes them optional), so
            # the listing is checked over raw HTTP against the spec's
            # client_device schema, and over nio only if nio accepts it.
            devs = _devices_raw(server, reg.access_token)
            assert set(devs) == {reg.device_id, login.device_id}
            assert devs[reg.device_id].get("display_name") == "phone"
            assert devs[login.device_id].get("display_name") == "laptop"
            listed = await client.devices()
            if isinstance(listed, nio.DevicesResponse):
                assert {d.id for d in listed.devices} == set(devs)

            # Rename the other device.
            resp = await client.update_device(login.device_id, {"display_name": "old laptop"})
            assert isinstance(resp, nio.UpdateDeviceResponse), resp
            assert _devices_raw(server, reg.access_token)[login.device_id]["display_name"] \
                == "old laptop"

            # Delete it: without auth the server must answer 401 with flows
            # and a session ("A request to an endpoint that uses
            # User-Interactive Authentication never succeeds without auth").
            first = server.client("POST", "delete_devices", {"devices": [login.device_id]},
                                  token=reg.access_token)
            assert first.status == 401, first
            assert ["m.login.password"] in [f["stages"] for f in first.json["flows"]]
            session = first.json.get("session")
            resp = await client.delete_devices([login.device_id],
                                               password_auth(name, PASSWORD, session))
            assert isinstance(resp, nio.DeleteDevicesResponse), resp

            # "Deletes the given devices, and invalidates any access token
            # associated with them."
            assert set(_devices_raw(server, reg.access_token)) == {reg.device_id}
            who = await second.whoami()
            assert isinstance(who, nio_responses.WhoamiError), who
            assert who.status_code == "M_UNKNOWN_TOKEN"
        finally:
            await client.close()
            await second.close()

    run(go())


def test_password_change_logs_out_other_devices(server):
    """POST /account/password: "Whether the user's other access tokens, and
    their associated devices, should be revoked if the request succeeds.
    Defaults to true." and "The homeserver SHOULD NOT revoke the access token
    provided in the request." """
    name = unique_name("nio")
    new_password = "a brand new passphrase"

    async def go():
        client, reg = await _nio_register_login(server, name)
        other = nio_client(server, name)
        try:
            login = await other.login(PASSWORD, device_name="other")
            assert isinstance(login, nio.LoginResponse), login

            r = server.uia("POST", "account/password", {"new_password": new_password},
                           reg.access_token, name)
            assert r.status == 200, r

            who = await client.whoami()
            assert isinstance(who, nio_responses.WhoamiResponse), who
            who = await other.whoami()
            assert isinstance(who, nio_responses.WhoamiError), who
            assert who.status_code == "M_UNKNOWN_TOKEN"
            assert set(_devices_raw(server, reg.access_token)) == {reg.device_id}

            old = nio_client(server, name)
            resp = await old.login(PASSWORD)
            assert isinstance(resp, nio.LoginError) and resp.status_code == "M_FORBIDDEN", resp
            resp = await old.login(new_password)
            assert isinstance(resp, nio.LoginResponse), resp
            await old.close()
        finally:
            await client.close()
            await other.close()

    run(go())


def test_logout(server):
    """POST /logout: "Invalidates an existing access token ... The device
    associated with the access token is also deleted." """
    name = unique_name("nio")

    async def go():
        client, reg = await _nio_register_login(server, name)
        other = nio_client(server, name)
        try:
            login = await other.login(PASSWORD)
            assert isinstance(login, nio.LoginResponse), login
            resp = await other.logout()
            assert isinstance(resp, nio.LogoutResponse), resp

            r = server.whoami(login.access_token)
            assert_error(r, 401, "M_UNKNOWN_TOKEN")
            # Logged out, not soft logged out: the session is destroyed.
            assert r.json.get("soft_logout", False) is False
            assert set(_devices_raw(server, reg.access_token)) == {reg.device_id}
            who = await client.whoami()
            assert isinstance(who, nio_responses.WhoamiResponse), who
        finally:
            await client.close()
            await other.close()

    run(go())


def test_deactivate_then_login_refused(server):
    """POST /account/deactivate: "Deactivate the user's account, removing all
    ability for the user to login again." Login then answers 403
    M_USER_DEACTIVATED (or M_FORBIDDEN, which the spec also allows)."""
    name = unique_name("nio")

    async def go():
        client, reg = await _nio_register_login(server, name)
        try:
            r = server.uia("POST", "account/deactivate", {}, reg.access_token, name)
            assert r.status == 200, r

            who = await client.whoami()
            assert isinstance(who, nio_responses.WhoamiError), who
            assert who.status_code == "M_UNKNOWN_TOKEN"

            again = nio_client(server, name)
            resp = await again.login(PASSWORD)
            assert isinstance(resp, nio.LoginError), resp
            assert resp.status_code in ("M_USER_DEACTIVATED", "M_FORBIDDEN")
            assert resp.transport_response.status == 403
            await again.close()
        finally:
            await client.close()

    run(go())


def test_server_name_in_user_ids(server):
    """User IDs are @localpart:server_name (appendices, User Identifiers)."""
    reg = server.register(unique_name("nio"))
    assert reg["user_id"].endswith(":" + SERVER_NAME)
