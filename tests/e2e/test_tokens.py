"""Refresh tokens, token rotation and logout/all (Client-Server API v1.19,
"Refreshing access tokens", "Soft logout", POST /refresh, POST /logout/all).

The test configuration uses access_token_lifetime_ms = 300000 (5 min), so no
token expires by time during a normal run; expiry by time is covered by one
slow test, skipped unless CHAPPE_E2E_SLOW=1.
"""

import os
import time

import pytest

from chappe_e2e import assert_error, mxid, unique_name

LIFETIME_MS = 300000


def _refresh(server, refresh_token, prefix="v3"):
    return server.client("POST", "refresh", {"refresh_token": refresh_token}, prefix=prefix)


def _check_refreshable(body, lifetime_ms=LIFETIME_MS):
    """POST /login and /register with refresh_token true: refresh_token
    ("A refresh token for the account") and expires_in_ms ("The lifetime of
    the access token, in milliseconds")."""
    assert isinstance(body.get("refresh_token"), str) and body["refresh_token"], body
    assert isinstance(body.get("expires_in_ms"), int), body
    assert 0 < body["expires_in_ms"] <= lifetime_ms, body
    assert body["refresh_token"] != body["access_token"]


def test_register_and_login_issue_refresh_tokens(server):
    name = unique_name()
    reg = server.register(name, refresh_token=True)
    _check_refreshable(reg)
    login = server.login(name, refresh_token=True)
    _check_refreshable(login)
    assert login["refresh_token"] != reg["refresh_token"]


def test_no_refresh_token_unless_asked(server):
    """Clients "indicate their support for refresh tokens by including a
    refresh_token: true property"; chappe gives the others a non-expiring
    token (expires_in_ms: "If not given, the client can assume that the
    access token will not expire")."""
    name = unique_name()
    for body in (server.register(name), server.login(name),
                 server.login(name, refresh_token=False)):
        assert "refresh_token" not in body, body
        assert "expires_in_ms" not in body, body


def test_refresh_returns_new_pair(server):
    """POST /refresh 200: a new access_token (required), a new refresh_token
    and expires_in_ms; "the new access and refresh tokens are now bound to
    the device associated with the initial refresh token"."""
    name = unique_name()
    reg = server.register(name, refresh_token=True)
    r = _refresh(server, reg["refresh_token"])
    assert r.status == 200, r
    new = r.json
    assert new["access_token"] and new["access_token"] != reg["access_token"]
    assert new["refresh_token"] and new["refresh_token"] != reg["refresh_token"]
    assert isinstance(new["expires_in_ms"], int) and 0 < new["expires_in_ms"] <= LIFETIME_MS
    who = server.whoami(new["access_token"])
    assert who.status == 200, who
    assert who.json == {**who.json, "user_id": mxid(name), "device_id": reg["device_id"]}
    # Refreshing makes no new device.
    devs = server.client("GET", "devices", token=new["access_token"]).json["devices"]
    assert [d["device_id"] for d in devs] == [reg["device_id"]]


def test_old_refresh_token_revoked_once_new_used(server):
    """Refreshing access tokens: "The old refresh token remains valid until
    the new access token or refresh token is used, at which point the old
    refresh token is revoked." POST /refresh 401: "The provided token was
    unknown, or has already been used"."""
    reg = server.register(unique_name(), refresh_token=True)
    first = _refresh(server, reg["refresh_token"])
    assert first.status == 200, first
    # Use the new access token: from now on the old refresh token is dead.
    assert server.whoami(first.json["access_token"]).status == 200
    assert_error(_refresh(server, reg["refresh_token"]), 401, "M_UNKNOWN_TOKEN")
    # The new one still works, and chains.
    second = _refresh(server, first.json["refresh_token"])
    assert second.status == 200, second
    assert _refresh(server, second.json["refresh_token"]).status == 200
    # Reusing a revoked token from earlier in the chain stays refused.
    assert_error(_refresh(server, reg["refresh_token"]), 401, "M_UNKNOWN_TOKEN")


def test_old_refresh_token_revoked_once_new_refresh_used(server):
    """Same, when it is the new refresh token that gets used first."""
    reg = server.register(unique_name(), refresh_token=True)
    first = _refresh(server, reg["refresh_token"])
    assert first.status == 200, first
    second = _refresh(server, first.json["refresh_token"])
    assert second.status == 200, second
    assert_error(_refresh(server, reg["refresh_token"]), 401, "M_UNKNOWN_TOKEN")


def test_refresh_before_new_tokens_used_may_repeat(server):
    """"This ensures that if a client fails to receive or persist the new
    tokens, it will be able to repeat the refresh operation": until the new
    tokens are used, the old refresh token still refreshes."""
    reg = server.register(unique_name(), refresh_token=True)
    lost = _refresh(server, reg["refresh_token"])
    assert lost.status == 200, lost
    retry = _refresh(server, reg["refresh_token"])
    assert retry.status == 200, retry
    assert server.whoami(retry.json["access_token"]).status == 200


def test_refreshed_access_token_soft_logged_out(server):
    """After a refresh, "a server can choose to invalidate the old access
    token immediately, or can choose not to". chappe invalidates it, and
    since the device lives on this is an expired token: "Any HTTP calls that
    use an expired access token will return with an error code
    M_UNKNOWN_TOKEN, preferably with soft_logout: true"."""
    reg = server.register(unique_name(), refresh_token=True)
    new = _refresh(server, reg["refresh_token"])
    assert new.status == 200, new
    assert server.whoami(new.json["access_token"]).status == 200
    r = server.whoami(reg["access_token"])
    assert_error(r, 401, "M_UNKNOWN_TOKEN")
    assert r.json.get("soft_logout") is True, r


@pytest.mark.parametrize("body", [
    {"refresh_token": "not-a-token"},
    {"refresh_token": ""},
    {"refresh_token": "x" * 5000},
])
def test_refresh_unknown_token(server, body):
    assert_error(server.client("POST", "refresh", body), 401, "M_UNKNOWN_TOKEN")


def test_refresh_with_access_token_refused(server):
    """An access token is not a refresh token."""
    reg = server.register(unique_name(), refresh_token=True)
    assert_error(_refresh(server, reg["access_token"]), 401, "M_UNKNOWN_TOKEN")
    assert server.whoami(reg["access_token"]).status == 200


@pytest.mark.parametrize("body", [{}, {"refresh_token": 5}, {"refresh_token": None}])
def test_refresh_bad_body(server, body):
    """refresh_token is a required string."""
    r = server.client("POST", "refresh", body)
    assert r.status == 400, r
    assert r.errcode in ("M_BAD_JSON", "M_MISSING_PARAM", "M_INVALID_PARAM"), r


def test_refresh_token_dies_with_logout(server):
    """POST /logout invalidates the session, refresh token included."""
    reg = server.register(unique_name(), refresh_token=True)
    assert server.client("POST", "logout", None, token=reg["access_token"]).status == 200
    assert_error(_refresh(server, reg["refresh_token"]), 401, "M_UNKNOWN_TOKEN")


def test_refresh_token_dies_with_device_deletion(server):
    """DELETE /devices/{deviceId} "invalidates any access token associated
    with it" - and a refresh token must not resurrect it."""
    name = unique_name()
    main = server.register(name)
    victim = server.login(name, refresh_token=True)
    r = server.uia("DELETE", f"devices/{victim['device_id']}", {}, main["access_token"], name)
    assert r.status == 200, r
    assert_error(_refresh(server, victim["refresh_token"]), 401, "M_UNKNOWN_TOKEN")


def test_refresh_token_dies_with_deactivation(server):
    """POST /account/deactivate removes "all ability for the user to login
    again": a refresh token must not mint new access tokens afterwards."""
    name = unique_name()
    main = server.register(name)
    other = server.login(name, refresh_token=True)
    r = server.uia("POST", "account/deactivate", {}, main["access_token"], name)
    assert r.status == 200, r
    assert_error(_refresh(server, other["refresh_token"]), 401, "M_UNKNOWN_TOKEN")


def test_logout_all_kills_every_session(server):
    """POST /logout/all: "Invalidates all access tokens for a user ... This
    includes the access token that made this request. All devices for the
    user are also deleted." Refresh tokens die with them."""
    name = unique_name()
    other = unique_name()
    sessions = [server.register(name, refresh_token=True),
                server.login(name),
                server.login(name, refresh_token=True)]
    bystander = server.register(other)
    r = server.client("POST", "logout/all", None, token=sessions[1]["access_token"])
    assert r.status == 200, r
    assert r.json == {}, r
    for s in sessions:
        r = server.whoami(s["access_token"])
        assert_error(r, 401, "M_UNKNOWN_TOKEN")
        assert r.json.get("soft_logout", False) is False, r
        if "refresh_token" in s:
            assert_error(_refresh(server, s["refresh_token"]), 401, "M_UNKNOWN_TOKEN")
    fresh = server.login(name)
    devs = server.client("GET", "devices", token=fresh["access_token"]).json["devices"]
    assert [d["device_id"] for d in devs] == [fresh["device_id"]]
    # Another user's session is untouched.
    assert server.whoami(bystander["access_token"]).status == 200


def test_password_change_revokes_refresh_tokens(server):
    """Password change with logout_devices defaulting to true revokes the
    other devices' tokens - their refresh tokens included."""
    name = unique_name()
    main = server.register(name)
    other = server.login(name, refresh_token=True)
    r = server.uia("POST", "account/password", {"new_password": "fresh password"},
                   main["access_token"], name)
    assert r.status == 200, r
    assert_error(_refresh(server, other["refresh_token"]), 401, "M_UNKNOWN_TOKEN")
    assert server.whoami(main["access_token"]).status == 200


def test_refresh_r0_prefix(server):
    """/refresh was added in v1.3 but chappe serves all endpoints under r0 too."""
    reg = server.register(unique_name(), refresh_token=True)
    r = _refresh(server, reg["refresh_token"], prefix="r0")
    assert r.status == 200, r


@pytest.mark.skipif(os.environ.get("CHAPPE_E2E_SLOW") != "1",
                    reason="waits 61 s for a token to expire; set CHAPPE_E2E_SLOW=1")
def test_access_token_expires_with_soft_logout(make_server):
    """Expiry by time: with access_token_lifetime_ms = 60000 (the minimum),
    after 61 s the access token answers 401 M_UNKNOWN_TOKEN with
    soft_logout: true, and the refresh token still gets a new one."""
    srv = make_server(access_token_lifetime_ms=60000)
    name = unique_name()
    reg = srv.register(name, refresh_token=True)
    assert 0 < reg["expires_in_ms"] <= 60000
    plain = srv.login(name)  # did not ask for refresh tokens: does not expire
    time.sleep(61)
    r = srv.whoami(reg["access_token"])
    assert_error(r, 401, "M_UNKNOWN_TOKEN")
    assert r.json.get("soft_logout") is True, r
    assert srv.whoami(plain["access_token"]).status == 200
    new = _refresh(srv, reg["refresh_token"])
    assert new.status == 200, new
    who = srv.whoami(new.json["access_token"])
    assert who.status == 200 and who.json["device_id"] == reg["device_id"], who
