"""Accounts and sessions over raw HTTP: discovery, login, registration,
User-Interactive Authentication, devices, profiles and concurrent use -
the behaviour each endpoint's spec text requires, including its refusals.
(test_http_hostile.py has the cross-cutting errors: routing, bodies,
tokens, rate limits, CORS, wire garbage.)

Each test names the part of the Client-Server API spec (v1.19,
content/client-server-api/_index.md and data/api/client-server/*.yaml) it
checks. After every test the shared server must still be running (see the
`server` fixture).
"""

import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chappe_e2e import (PASSWORD, SERVER_NAME, assert_error, mxid, password_auth,
                        unique_name, user_path)

USER_ID_RE = re.compile(r"^@[a-z0-9._=\-/+]+:" + re.escape(SERVER_NAME) + r"$")
ERRCODE_RE = re.compile(r"^[A-Z0-9_.]+_[A-Z0-9_]+$")


def _login_body(user, password=PASSWORD, **extra):
    body = {"type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password}
    body.update(extra)
    return body

# --------------------------------------------------------------------------
# Discovery: versions, well-known, login flows, capabilities
# --------------------------------------------------------------------------

def test_versions(server):
    """API Versions: GET /_matrix/client/versions, `versions` required; values
    "take the form vX.Y or rX.Y.Z in historical cases"."""
    r = server.request("GET", "/_matrix/client/versions")
    assert r.status == 200, r
    versions = r.json["versions"]
    assert versions and all(re.fullmatch(r"v\d+\.\d+|r\d+\.\d+\.\d+", v) for v in versions), r
    assert any(v.startswith("v1.") for v in versions), r
    if "unstable_features" in r.json:
        assert all(isinstance(v, bool) for v in r.json["unstable_features"].values())


def test_well_known_client(server):
    """Well-known URIs: GET /.well-known/matrix/client has m.homeserver with
    base_url (public_baseurl from the config here)."""
    r = server.request("GET", "/.well-known/matrix/client")
    assert r.status == 200, r
    assert r.json["m.homeserver"]["base_url"].rstrip("/") == server.url
    if "m.identity_server" in r.json:
        assert isinstance(r.json["m.identity_server"].get("base_url"), str)


def test_well_known_server(server):
    """Server-Server API, GET /.well-known/matrix/server: m.server is a server
    name with optional port."""
    r = server.request("GET", "/.well-known/matrix/server")
    assert r.status == 200, r
    assert re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+(:\d{1,5})?", r.json["m.server"]), r


def test_login_flows(server):
    """GET /login: "Gets the homeserver's supported login types"."""
    for prefix in ("v3", "r0"):
        r = server.client("GET", "login", prefix=prefix)
        assert r.status == 200, r
        assert "m.login.password" in [f["type"] for f in r.json["flows"]], r


def test_capabilities(server):
    """Capabilities negotiation: GET /capabilities (authenticated)."""
    assert_error(server.client("GET", "capabilities"), 401, "M_MISSING_TOKEN")
    token = server.register(unique_name())["access_token"]
    r = server.client("GET", "capabilities", token=token)
    assert r.status == 200, r
    caps = r.json["capabilities"]
    # The server implements POST /account/password and profile changes.
    assert caps["m.change_password"]["enabled"] is True
    assert caps["m.set_displayname"]["enabled"] is True
    assert caps["m.set_avatar_url"]["enabled"] is True
    assert isinstance(caps["m.3pid_changes"]["enabled"], bool)
    rv = caps["m.room_versions"]
    assert rv["default"] in rv["available"], rv
    assert set(rv["available"].values()) <= {"stable", "unstable"}, rv


# --------------------------------------------------------------------------
# Login
# --------------------------------------------------------------------------

def test_login_variants(server):
    """POST /login: m.id.user with localpart or full ID, and the deprecated
    top-level `user` field; the response carries user_id, access_token and
    device_id (required)."""
    name = unique_name()
    server.register(name)
    bodies = [
        _login_body(name),
        _login_body(mxid(name)),
        {"type": "m.login.password", "user": name, "password": PASSWORD},
        {"type": "m.login.password", "user": mxid(name), "password": PASSWORD},
    ]
    tokens = set()
    for body in bodies:
        r = server.client("POST", "login", body)
        assert r.status == 200, (body, r)
        assert r.json["user_id"] == mxid(name)
        assert isinstance(r.json["device_id"], str) and r.json["device_id"]
        tokens.add(r.json["access_token"])
        assert server.whoami(r.json["access_token"]).json["user_id"] == mxid(name)
    assert len(tokens) == len(bodies)


def test_login_failures(server):
    """403 M_FORBIDDEN: "The provided authentication data was incorrect"."""
    name = unique_name()
    server.register(name)
    for body in (_login_body(name, "wrong password"),
                 _login_body(name, ""),
                 _login_body(unique_name("ghost")),
                 _login_body(name.upper(), "wrong password"),
                 {"type": "m.login.password", "user": name, "password": "nope nope"}):
        assert_error(server.client("POST", "login", body), 403, "M_FORBIDDEN")


def test_login_unknown_user_not_faster(make_server):
    """Login failures must not reveal which accounts exist: a wrong password
    for an unknown user costs about as much as for a real one (a password
    hash is computed either way). With a 32 MiB argon2 the hash dominates;
    the bound is loose (x0.35) so that only a skipped hash trips it."""
    srv = make_server(password_hash={"ops_limit": 2, "mem_limit_kib": 32768})
    name = unique_name()
    srv.register(name)

    def median_ms(user):
        times = []
        for _ in range(9):
            start = time.perf_counter()
            r = srv.client("POST", "login", _login_body(user, "wrong password"))
            times.append(time.perf_counter() - start)
            assert_error(r, 403, "M_FORBIDDEN")
        return statistics.median(times) * 1000

    real, ghost = median_ms(name), median_ms(unique_name("ghost"))
    assert ghost >= 0.35 * real, f"unknown user {ghost:.1f} ms vs known user {real:.1f} ms"


def test_login_other_server_user(server):
    """A user ID on another server cannot log in here."""
    r = server.client("POST", "login", _login_body("@someone:elsewhere.example"))
    assert r.status in (400, 403), r
    assert ERRCODE_RE.match(r.errcode or ""), r


def test_login_flows_are_usable(server):
    """GET /login lists the types a client can supply "as the type when
    logging in": each listed type is understood by POST /login (a bad
    credential of that type is M_FORBIDDEN, not an unknown type)."""
    flows = server.client("GET", "login").json["flows"]
    for flow in flows:
        kind = flow["type"]
        if kind == "m.login.password":
            r = server.client("POST", "login", _login_body(unique_name("ghost")))
            assert_error(r, 403, "M_FORBIDDEN")
        elif kind == "m.login.token":
            # "In the case that the token is not valid, the homeserver must
            # respond with 403 Forbidden and an error code of M_FORBIDDEN."
            r = server.client("POST", "login", {"type": "m.login.token", "token": "bogus"})
            assert_error(r, 403, "M_FORBIDDEN")


def test_login_bad_type(server):
    """POST /login 400: "Part of the request was invalid. For example, the
    login type may not be recognised." A missing type or password is a bad
    request too."""
    name = unique_name()
    server.register(name)
    for body in ({"type": "m.login.unknown", "user": name, "password": PASSWORD},
                 {"identifier": {"type": "m.id.user", "user": name}, "password": PASSWORD},
                 {"type": "m.login.password", "identifier": {"type": "m.id.user",
                                                             "user": name}},
                 {"type": "m.login.password", "identifier": {"type": "m.id.unknown",
                                                             "user": name},
                  "password": PASSWORD}):
        r = server.client("POST", "login", body)
        assert r.status in (400, 403), (body, r)
        assert r.status != 403 or r.errcode == "M_FORBIDDEN", (body, r)
        assert ERRCODE_RE.match(r.errcode or ""), (body, r)


def test_login_device_id_honoured(server):
    """POST /login device_id: "ID of the client device. If this does not
    correspond to a known client device, a new device will be created";
    response device_id "Will be the same as the corresponding parameter in
    the request"; initial_device_display_name "Ignored if device_id
    corresponds to a known device"."""
    name = unique_name()
    reg = server.register(name, initial_device_display_name="first")
    r1 = server.login(name, device_id="MYDEVICE1", initial_device_display_name="named once")
    assert r1["device_id"] == "MYDEVICE1"
    assert server.whoami(r1["access_token"]).json["device_id"] == "MYDEVICE1"
    r2 = server.login(name, device_id="MYDEVICE1", initial_device_display_name="renamed?")
    assert r2["device_id"] == "MYDEVICE1"
    devs = server.client("GET", "devices", token=reg["access_token"]).json["devices"]
    assert sorted(d["device_id"] for d in devs) == sorted([reg["device_id"], "MYDEVICE1"])
    mine = [d for d in devs if d["device_id"] == "MYDEVICE1"][0]
    assert mine.get("display_name") == "named once"
    assert server.whoami(r2["access_token"]).status == 200


def test_deactivate_unbind_result(server):
    """POST /account/deactivate 200: id_server_unbind_result is required, and
    "This must be success if the homeserver has no identifiers to unbind for
    the user" (chappe stores no 3PIDs)."""
    name = unique_name()
    reg = server.register(name)
    r = server.uia("POST", "account/deactivate", {}, reg["access_token"], name)
    assert r.status == 200, r
    assert r.json.get("id_server_unbind_result") == "success", r


def test_deactivated_user_login_refused(server):
    """Login 403: M_USER_DEACTIVATED, or M_FORBIDDEN "when they can no longer
    authenticate the deactivated user"."""
    name = unique_name()
    reg = server.register(name)
    r = server.uia("POST", "account/deactivate", {}, reg["access_token"], name)
    assert r.status == 200, r
    assert_error(server.whoami(reg["access_token"]), 401, "M_UNKNOWN_TOKEN")
    for body in (_login_body(name), _login_body(name, "wrong password")):
        r = server.client("POST", "login", body)
        assert r.status == 403, r
        assert r.errcode in ("M_USER_DEACTIVATED", "M_FORBIDDEN"), r


# --------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------

def test_register_uia_dummy(server):
    """POST /register uses User-Interactive Authentication: the first call
    without auth answers 401 with flows and a session; m.login.dummy
    ("always succeeds") completes it."""
    name = unique_name()
    first = server.client("POST", "register", {"username": name, "password": PASSWORD})
    assert first.status == 401, first
    assert ["m.login.dummy"] in [f["stages"] for f in first.json["flows"]], first
    session = first.json["session"]
    assert isinstance(session, str) and session
    # The account does not exist yet: only 401 so far.
    avail = server.client("GET", "register/available", query={"username": name})
    assert avail.status == 200 and avail.json == {"available": True}, avail
    r = server.client("POST", "register", {"username": name, "password": PASSWORD,
                                           "auth": {"type": "m.login.dummy",
                                                    "session": session}})
    assert r.status == 200, r
    assert r.json["user_id"] == mxid(name)
    assert r.json["access_token"] and r.json["device_id"]
    # "The returned access token must be associated with the device_id".
    who = server.whoami(r.json["access_token"]).json
    assert who["user_id"] == mxid(name) and who["device_id"] == r.json["device_id"], who


def test_register_unknown_auth_type(server):
    """UIA: a stage the server did not offer cannot complete the flow."""
    name = unique_name()
    first = server.client("POST", "register", {"username": name, "password": PASSWORD})
    assert first.status == 401, first
    r = server.client("POST", "register", {
        "username": name, "password": PASSWORD,
        "auth": {"type": "m.login.recaptcha", "response": "x",
                 "session": first.json["session"]}})
    assert r.status in (400, 401), r
    avail = server.client("GET", "register/available", query={"username": name})
    assert avail.status == 200, avail


def test_register_user_in_use(server):
    """POST /register 400 M_USER_IN_USE; "Homeservers MUST perform the
    relevant checks and return these codes before performing
    User-Interactive Authentication"."""
    name = unique_name()
    server.register(name)
    r = server.client("POST", "register", {"username": name, "password": PASSWORD})
    assert_error(r, 400, "M_USER_IN_USE")
    r = server.client("POST", "register", {"username": name, "password": PASSWORD,
                                           "auth": {"type": "m.login.dummy"}})
    assert_error(r, 400, "M_USER_IN_USE")


INVALID_USERNAMES = ["", "has space", "colon:inside", "@at", "\u00fcn\u00efcode",
                     "tab\tchar", "slash\\back", "a" * 300, "quote\"s", "new\nline"]


@pytest.mark.parametrize("username", INVALID_USERNAMES)
def test_register_invalid_username(server, username):
    """M_INVALID_USERNAME: the localpart "MUST NOT be empty, and MUST contain
    only the characters a-z, 0-9, ., _, =, -, / and +" and a user ID must not
    exceed 255 bytes (appendices, User Identifiers); the check comes before
    UIA."""
    r = server.client("POST", "register", {"username": username, "password": PASSWORD})
    assert_error(r, 400, "M_INVALID_USERNAME")


def test_register_uppercase_username(server):
    """POST /register: the server "MUST either map the provided username
    onto a user_id in a logical manner, or reject" it with
    M_INVALID_USERNAME. Either way a returned user_id obeys the grammar."""
    name = "Mixed" + unique_name()
    r = server.client("POST", "register", {"username": name, "password": PASSWORD})
    if r.status == 400:
        assert_error(r, 400, "M_INVALID_USERNAME")
        return
    assert r.status == 401, r
    r = server.client("POST", "register", {"username": name, "password": PASSWORD,
                                           "auth": {"type": "m.login.dummy",
                                                    "session": r.json["session"]}})
    assert r.status == 200, r
    assert USER_ID_RE.match(r.json["user_id"]), r


def test_register_without_username(server):
    """POST /register username: "If omitted, the homeserver MUST generate a
    Matrix ID local part"; two such registrations get different IDs."""
    a = server.register(None)
    b = server.register(None)
    assert USER_ID_RE.match(a["user_id"]) and USER_ID_RE.match(b["user_id"])
    assert a["user_id"] != b["user_id"]


def test_register_inhibit_login(server):
    """inhibit_login: "If true, an access_token and device_id should not be
    returned from this call"; the account exists and can log in."""
    name = unique_name()
    reg = server.register(name, inhibit_login=True, refresh_token=True)
    assert reg["user_id"] == mxid(name)
    for key in ("access_token", "device_id", "refresh_token", "expires_in_ms"):
        assert key not in reg, reg
    assert server.login(name)["user_id"] == mxid(name)


def test_register_device_id_and_name(server):
    """POST /register device_id and initial_device_display_name."""
    name = unique_name()
    reg = server.register(name, device_id="REGDEV", initial_device_display_name="Jungle Phone")
    assert reg["device_id"] == "REGDEV"
    r = server.client("GET", "devices/REGDEV", token=reg["access_token"])
    assert r.status == 200, r
    assert r.json["device_id"] == "REGDEV"
    assert r.json.get("display_name") == "Jungle Phone"


def test_register_weak_password(server):
    """Password management: "Servers MAY reject weak passwords with an error
    code M_WEAK_PASSWORD"; chappe enforces password_min_length = 8."""
    name = unique_name()
    r = server.client("POST", "register", {"username": name, "password": "short"})
    if r.status == 401:  # checked after UIA: complete it
        r = server.client("POST", "register", {
            "username": name, "password": "short",
            "auth": {"type": "m.login.dummy", "session": r.json["session"]}})
    assert_error(r, 400, "M_WEAK_PASSWORD")


def test_register_guest(server):
    """POST /register?kind=guest: a server may refuse guests ("This response
    can be used to identify that a particular kind of account is not
    allowed": 403 with M_FORBIDDEN, the spec's example, or the more precise
    M_GUEST_ACCESS_FORBIDDEN) or create one, which whoami then reports as
    is_guest true."""
    r = server.client("POST", "register?kind=guest", {"initial_device_display_name": "g"})
    if r.status == 200:
        who = server.whoami(r.json["access_token"])
        assert who.status == 200 and who.json.get("is_guest") is True, who
    else:
        assert_error(r, 403, ("M_FORBIDDEN", "M_GUEST_ACCESS_FORBIDDEN"))
    r = server.client("POST", "register?kind=superuser", {"username": unique_name(),
                                                          "password": PASSWORD})
    assert 400 <= r.status < 500, r


@pytest.mark.parametrize("password", ["pässwörd ✓ 密码 🔑", " leading and trailing ",
                                      "x" * 100000],
                         ids=["unicode", "spaces", "100k"])
def test_password_bytes_roundtrip(server, password):
    """Any JSON string is a password: non-ASCII and surrounding spaces are
    kept as given; a huge one is refused (400) or works - never a crash.
    A near miss does not log in."""
    name = unique_name()
    first = server.client("POST", "register", {"username": name, "password": password})
    if first.status == 400:
        assert ERRCODE_RE.match(first.errcode or ""), first
        return
    assert first.status == 401, first
    r = server.client("POST", "register", {"username": name, "password": password,
                                           "auth": {"type": "m.login.dummy",
                                                    "session": first.json["session"]}})
    assert r.status == 200, r
    assert server.login(name, password)["user_id"] == mxid(name)
    for near in (password.strip() if password.strip() != password else password + " ",
                 password[:-1]):
        assert_error(server.client("POST", "login", _login_body(name, near)),
                     403, "M_FORBIDDEN")


def test_register_available(server):
    """GET /register/available: 200 {available: true}; 400 M_USER_IN_USE;
    400 M_INVALID_USERNAME."""
    name = unique_name()
    r = server.client("GET", "register/available", query={"username": name})
    assert r.status == 200 and r.json == {"available": True}, r
    server.register(name)
    assert_error(server.client("GET", "register/available", query={"username": name}),
                 400, "M_USER_IN_USE")
    for bad in ("has space", "colon:inside", "a" * 300, ""):
        r = server.client("GET", "register/available", query={"username": bad})
        assert_error(r, 400, "M_INVALID_USERNAME")
    r = server.client("GET", "register/available")
    assert r.status == 400, r
    assert ERRCODE_RE.match(r.errcode or ""), r


def test_registration_closed(make_server):
    """POST /register 403 M_FORBIDDEN: "registration is generally not
    supported by the homeserver"."""
    srv = make_server(registration="closed")
    name = unique_name()
    for body in ({"username": name, "password": PASSWORD},
                 {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}):
        assert_error(srv.client("POST", "register", body), 403, "M_FORBIDDEN")
    assert_error(srv.client("POST", "login", _login_body(name)), 403, "M_FORBIDDEN")


# --------------------------------------------------------------------------
# User-Interactive Authentication misuse
# --------------------------------------------------------------------------

def test_uia_wrong_password(server):
    """UIA: "If the homeserver decides that an attempt on a stage was
    unsuccessful, but the client may make a second attempt, it returns the
    same HTTP status 401 response as above, with the addition of the
    standard errcode and error fields"."""
    name = unique_name()
    reg = server.register(name)
    tok = reg["access_token"]
    first = server.client("POST", "account/password", {"new_password": "another password"},
                          token=tok)
    assert first.status == 401, first
    session = first.json.get("session")
    r = server.client("POST", "account/password", {
        "new_password": "another password",
        "auth": password_auth(name, "wrong password", session)}, token=tok)
    assert r.status == 401, r
    assert r.errcode == "M_FORBIDDEN", r
    assert r.json["flows"], r
    # The password did not change.
    server.login(name, PASSWORD)


def test_uia_other_users_credentials(server):
    """UIA must prove the requester is the account owner: Bob's password
    cannot authorise changing Alice's password or deleting her device."""
    alice, bob = unique_name("alice"), unique_name("bob")
    a = server.register(alice)
    server.register(bob)
    first = server.client("POST", "account/password", {"new_password": "taken over!"},
                          token=a["access_token"])
    assert first.status == 401, first
    r = server.client("POST", "account/password", {
        "new_password": "taken over!",
        "auth": password_auth(bob, PASSWORD, first.json.get("session"))},
        token=a["access_token"])
    assert r.status in (401, 403), r
    server.login(alice, PASSWORD)  # unchanged
    first = server.client("DELETE", f"devices/{a['device_id']}", {}, token=a["access_token"])
    assert first.status == 401, first
    r = server.client("DELETE", f"devices/{a['device_id']}", {
        "auth": password_auth(bob, PASSWORD, first.json.get("session"))},
        token=a["access_token"])
    assert r.status in (401, 403), r
    assert server.whoami(a["access_token"]).status == 200


def test_uia_unknown_session(server):
    """UIA: the auth dict "must also contain a session key with the value of
    the session key given by the homeserver". A session the server never
    issued does not authorise anything."""
    name = unique_name()
    reg = server.register(name)
    first = server.client("POST", "account/password", {"new_password": "changed pw!"},
                          token=reg["access_token"])
    assert first.status == 401, first
    if "session" not in first.json:
        pytest.skip("server issues no UIA session for this endpoint")
    r = server.client("POST", "account/password", {
        "new_password": "changed pw!",
        "auth": password_auth(name, PASSWORD, "not-a-session-" + first.json["session"])},
        token=reg["access_token"])
    assert r.status in (400, 401, 403), r
    server.login(name, PASSWORD)  # unchanged


def test_delete_own_current_device(server):
    """DELETE /devices/{deviceId} on the device making the request: allowed,
    and its own token dies with it."""
    name = unique_name()
    reg = server.register(name)
    keep = server.login(name)
    r = server.uia("DELETE", f"devices/{reg['device_id']}", {}, reg["access_token"], name)
    assert r.status == 200, r
    assert_error(server.whoami(reg["access_token"]), 401, "M_UNKNOWN_TOKEN")
    devs = server.client("GET", "devices", token=keep["access_token"]).json["devices"]
    assert [d["device_id"] for d in devs] == [keep["device_id"]]


def test_password_change_keep_devices(server):
    """POST /account/password logout_devices false: other sessions survive."""
    name = unique_name()
    reg = server.register(name)
    other = server.login(name)
    r = server.uia("POST", "account/password",
                   {"new_password": "new password 1", "logout_devices": False},
                   reg["access_token"], name)
    assert r.status == 200, r
    assert server.whoami(other["access_token"]).status == 200
    assert server.whoami(reg["access_token"]).status == 200
    server.login(name, "new password 1")


def test_password_change_weak(server):
    """Password management: "Servers MAY reject weak passwords with an error
    code M_WEAK_PASSWORD" - chappe applies password_min_length here too."""
    name = unique_name()
    reg = server.register(name)
    first = server.client("POST", "account/password", {"new_password": "short"},
                          token=reg["access_token"])
    r = first
    if first.status == 401:
        r = server.client("POST", "account/password", {
            "new_password": "short",
            "auth": password_auth(name, PASSWORD, first.json.get("session"))},
            token=reg["access_token"])
    assert_error(r, 400, "M_WEAK_PASSWORD")
    server.login(name, PASSWORD)


def test_password_change_missing_new_password(server):
    """new_password is required."""
    name = unique_name()
    reg = server.register(name)
    r = server.client("POST", "account/password", {
        "auth": password_auth(name, PASSWORD)}, token=reg["access_token"])
    assert r.status in (400, 401), r
    server.login(name, PASSWORD)


# --------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------

def test_device_not_found(server):
    """GET/PUT /devices/{deviceId} 404: "The current user has no device with
    the given ID" - including another user's device."""
    a = server.register(unique_name())
    b = server.register(unique_name())
    for dev in ("NOSUCHDEVICE", b["device_id"]):
        r = server.client("GET", f"devices/{dev}", token=a["access_token"])
        assert r.status == 404, r
        r = server.client("PUT", f"devices/{dev}", {"display_name": "mine now"},
                          token=a["access_token"])
        assert r.status == 404, r
    r = server.client("GET", f"devices/{b['device_id']}", token=b["access_token"])
    assert r.status == 200 and r.json.get("display_name") != "mine now", r


def test_delete_device_uia(server):
    """DELETE /devices/{deviceId}: UIA, then "Deletes the given device, and
    invalidates any access token associated with it"."""
    name = unique_name()
    reg = server.register(name)
    other = server.login(name)
    r = server.uia("DELETE", f"devices/{other['device_id']}", {}, reg["access_token"], name)
    assert r.status == 200, r
    assert_error(server.whoami(other["access_token"]), 401, "M_UNKNOWN_TOKEN")
    r = server.client("GET", f"devices/{other['device_id']}", token=reg["access_token"])
    assert r.status == 404, r


def test_delete_other_users_device_has_no_effect(server):
    """Deleting a device ID that belongs to someone else must not touch it."""
    alice = unique_name("alice")
    a = server.register(alice)
    b = server.register(unique_name("bob"))
    for method, endpoint, body in (("POST", "delete_devices", {"devices": [b["device_id"]]}),
                                   ("DELETE", f"devices/{b['device_id']}", {})):
        r = server.client(method, endpoint, body, token=a["access_token"])
        if r.status == 401:  # UIA first: complete it with Alice's password
            body = dict(body, auth=password_auth(alice, PASSWORD, r.json.get("session")))
            r = server.client(method, endpoint, body, token=a["access_token"])
        assert r.status in (200, 404), r
    assert server.whoami(b["access_token"]).status == 200
    assert server.client("GET", f"devices/{b['device_id']}",
                         token=b["access_token"]).status == 200


def test_rename_device_without_name_keeps_it(server):
    """PUT /devices/{deviceId} display_name: "If not given, the display name
    is unchanged"."""
    reg = server.register(unique_name(), initial_device_display_name="keep me")
    dev = f"devices/{reg['device_id']}"
    r = server.client("PUT", dev, {}, token=reg["access_token"])
    assert r.status == 200, r
    r = server.client("GET", dev, token=reg["access_token"])
    assert r.status == 200 and r.json.get("display_name") == "keep me", r
    r = server.client("PUT", dev, {"display_name": 12}, token=reg["access_token"])
    assert_error(r, 400, "M_BAD_JSON")


def test_delete_device_twice(server):
    """DELETE /devices/{deviceId} 200: "The device was successfully removed,
    or had been removed previously"; the same for POST /delete_devices."""
    name = unique_name()
    reg = server.register(name)
    other = server.login(name)
    for _ in range(2):
        r = server.uia("DELETE", f"devices/{other['device_id']}", {}, reg["access_token"], name)
        assert r.status == 200, r
        r = server.uia("POST", "delete_devices", {"devices": [other["device_id"]]},
                       reg["access_token"], name)
        assert r.status == 200, r
    r = server.uia("POST", "delete_devices", {"devices": []}, reg["access_token"], name)
    assert r.status == 200, r
    assert server.whoami(reg["access_token"]).status == 200


def test_device_id_of_another_user(server):
    """A device ID is scoped to its user: Bob logging in (or registering)
    with Alice's device ID gets his own device and leaves Alice's session and
    device alone."""
    alice = server.register(unique_name("alice"), initial_device_display_name="alice phone")
    bob = unique_name("bob")
    server.register(bob)
    r = server.login(bob, device_id=alice["device_id"], initial_device_display_name="bob's")
    assert r["device_id"] == alice["device_id"]
    assert server.whoami(r["access_token"]).json["user_id"] == mxid(bob)
    who = server.whoami(alice["access_token"])
    assert who.status == 200 and who.json["user_id"] == alice["user_id"], who
    dev = server.client("GET", f"devices/{alice['device_id']}", token=alice["access_token"])
    assert dev.status == 200 and dev.json.get("display_name") == "alice phone", dev
    carol = server.register(unique_name("carol"), device_id=alice["device_id"])
    assert server.whoami(carol["access_token"]).json["user_id"] == carol["user_id"]
    assert server.whoami(alice["access_token"]).status == 200


@pytest.mark.parametrize("field,value", [
    ("device_id", "D" * 10000), ("device_id", ""), ("device_id", "bad\u0001id"),
    ("initial_device_display_name", "n" * 200000),
], ids=["long-device-id", "empty-device-id", "control-char-device-id", "long-display-name"])
def test_hostile_device_fields(server, field, value):
    """Oversized or odd device fields are refused (400) or stored and echoed
    faithfully (200) - never a crash or a 500."""
    name = unique_name()
    server.register(name)
    body = _login_body(name, **{field: value})
    r = server.client("POST", "login", body)
    assert r.status in (200, 400), r
    if r.status == 200:
        if field == "device_id" and value:
            assert r.json["device_id"] == value
        got = server.client("GET", f"devices/{r.json['device_id']}",
                            token=r.json["access_token"])
        assert got.status == 200, got
        if field == "initial_device_display_name":
            assert got.json.get("display_name") == value
    else:
        assert ERRCODE_RE.match(r.errcode or ""), r


def test_delete_devices_bad_body(server):
    """POST /delete_devices: `devices` is required and must be a list."""
    name = unique_name()
    reg = server.register(name)
    for body in ({}, {"devices": "ABC"}, {"devices": [1, 2]}):
        body["auth"] = password_auth(name, PASSWORD)
        r = server.client("POST", "delete_devices", body, token=reg["access_token"])
        assert r.status in (400, 401), (body, r)
        assert r.status == 401 or r.errcode in ("M_BAD_JSON", "M_MISSING_PARAM",
                                                "M_INVALID_PARAM"), (body, r)
    assert server.whoami(reg["access_token"]).status == 200


# --------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------

def test_profile_missing_key(server):
    """PUT /profile/{userId}/{keyName} 400 M_MISSING_PARAM: "The required
    keyName property is missing from the request body" (M_BAD_JSON, "missing
    required keys", also fits)."""
    reg = server.register(unique_name())
    base = f"profile/{user_path(reg['user_id'])}"
    for key, body in (("displayname", {}), ("displayname", {"avatar_url": "mxc://a/b"}),
                      ("avatar_url", {"displayname": "x"})):
        r = server.client("PUT", f"{base}/{key}", body, token=reg["access_token"])
        assert r.status == 400, (key, body, r)
        assert r.errcode in ("M_MISSING_PARAM", "M_BAD_JSON"), (key, body, r)


def test_profile_of_someone_else_forbidden(server):
    """PUT /profile/{userId}/{keyName} 403: "insufficient permissions"."""
    a = server.register(unique_name())
    b = server.register(unique_name())
    for key, body in (("displayname", {"displayname": "hacked"}),
                      ("avatar_url", {"avatar_url": "mxc://localhost/hacked"})):
        r = server.client("PUT", f"profile/{user_path(b['user_id'])}/{key}", body,
                          token=a["access_token"])
        assert_error(r, 403, "M_FORBIDDEN")
    prof = server.client("GET", f"profile/{user_path(b['user_id'])}", token=a["access_token"])
    assert prof.status == 200, prof
    assert prof.json.get("displayname") != "hacked"
    assert prof.json.get("avatar_url") != "mxc://localhost/hacked"


def test_profile_roundtrip_raw(server):
    """GET /profile/{userId} returns displayname and avatar_url once set."""
    reg = server.register(unique_name())
    base = f"profile/{user_path(reg['user_id'])}"
    tok = reg["access_token"]
    assert server.client("PUT", f"{base}/displayname", {"displayname": "Ünï ✓"},
                         token=tok).status == 200
    assert server.client("PUT", f"{base}/avatar_url", {"avatar_url": "mxc://localhost/a1"},
                         token=tok).status == 200
    r = server.client("GET", base, token=tok)
    assert r.status == 200, r
    assert r.json["displayname"] == "Ünï ✓"
    assert r.json["avatar_url"] == "mxc://localhost/a1"
    r = server.client("GET", f"{base}/displayname", prefix="r0", token=tok)
    assert r.status == 200 and r.json == {"displayname": "Ünï ✓"}, r


def test_profile_readable_without_token(server):
    """GET /profile/{userId} and GET /profile/{userId}/{keyName} declare no
    `security` in profile.yaml (unlike PUT and DELETE): profiles are
    readable without an access token."""
    reg = server.register(unique_name())
    base = f"profile/{user_path(reg['user_id'])}"
    assert server.client("PUT", f"{base}/displayname", {"displayname": "Public"},
                         token=reg["access_token"]).status == 200
    r = server.client("GET", base)
    assert r.status == 200 and r.json.get("displayname") == "Public", r
    r = server.client("GET", f"{base}/displayname")
    assert r.status == 200 and r.json == {"displayname": "Public"}, r


def test_profile_unknown_user(server):
    """GET /profile/{userId} 404 "this user does not exist" (or 403 when the
    server is "unwilling to disclose whether the user exists")."""
    tok = server.register(unique_name())["access_token"]
    for uid in (mxid(unique_name("ghost")), "notauserid", "@x:elsewhere.example"):
        r = server.client("GET", f"profile/{user_path(uid)}", token=tok)
        assert r.status in (400, 403, 404), (uid, r)
        assert ERRCODE_RE.match(r.errcode or ""), (uid, r)


def test_profile_too_large(server):
    """PUT /profile/...: "the total profile MUST be under 64 KiB"."""
    reg = server.register(unique_name())
    base = f"profile/{user_path(reg['user_id'])}"
    tok = reg["access_token"]
    assert server.client("PUT", f"{base}/displayname", {"displayname": "small"},
                         token=tok).status == 200
    r = server.client("PUT", f"{base}/displayname", {"displayname": "z" * (70 * 1024)},
                      token=tok)
    assert r.status in (400, 413), r
    r = server.client("GET", f"{base}/displayname", token=tok)
    assert r.json == {"displayname": "small"}, r


# --------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------

def test_concurrent_registration_same_name(server):
    """Racing registrations of one username: exactly one account, the others
    get M_USER_IN_USE (never a 500 or two owners)."""
    name = unique_name("race")

    def attempt(_):
        body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
        first = server.client("POST", "register", {"username": name, "password": PASSWORD})
        if first.status == 401:
            body["auth"]["session"] = first.json["session"]
        return server.client("POST", "register", body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))
    ok = [r for r in results if r.status == 200]
    assert len(ok) == 1, results
    for r in results:
        if r.status != 200:
            assert_error(r, 400, "M_USER_IN_USE")


def test_concurrent_sessions(server):
    """Many clients at once: every login gets its own device and token."""
    name = unique_name("busy")
    server.register(name)

    def session(i):
        login = server.login(name, initial_device_display_name=f"dev{i}")
        who = server.whoami(login["access_token"])
        assert who.status == 200, who
        return login["device_id"], login["access_token"], who.json["device_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(session, range(24)))
    assert len({d for d, _, _ in results}) == 24
    assert len({t for _, t, _ in results}) == 24
    assert all(d == w for d, _, w in results)
    devs = server.client("GET", "devices", token=results[0][1]).json["devices"]
    assert {d for d, _, _ in results} <= {d["device_id"] for d in devs}


def test_server_notices_name_is_reserved(server):
    """The server-notices sender (@server:<name>) is created by the server on
    demand; registering it first would let an ordinary account speak for the
    operator, so the name is taken: 400 M_USER_IN_USE (registration.yaml)."""
    r = server.client("GET", "register/available", query={"username": "server"})
    assert r.status == 400 and r.json["errcode"] == "M_USER_IN_USE", r


def test_suspended_user_cannot_redact_others(server):
    """Account suspension: a suspended user may redact their own events only."""
    from chappe_e2e import MatrixUser, room_path
    import secrets
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    theirs = alice.send(room, "alice's")
    mine = bob.send(room, "bob's")
    res = server.admin("suspend", bob.user_id)
    assert res.returncode == 0, res
    r = bob.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(theirs)}/{secrets.token_hex(4)}", {})
    assert r.status == 403 and r.json["errcode"] == "M_USER_SUSPENDED", r
    r = bob.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(mine)}/{secrets.token_hex(4)}", {})
    assert r.status == 200, r


def test_uia_sessions_cannot_be_exhausted(server):
    """One account opening UIA sessions without end (each POST without auth
    opens one) only recycles its own: another user can still change their
    password (password_management.yaml behind m.login.password UIA)."""
    from chappe_e2e import MatrixUser
    spammer, victim = MatrixUser(server), MatrixUser(server)
    sessions = []
    for _ in range(300):
        r = spammer.call("POST", "account/password", {"new_password": "another long password"})
        assert r.status == 401, r
        sessions.append(r.json["session"])
    # each user holds at most a few open sessions: the oldest were closed
    # (400 unknown session), the newest still work
    auth = {"type": "m.login.password", "password": PASSWORD,
            "identifier": {"type": "m.id.user", "user": spammer.user_id}}
    r = spammer.call("POST", "account/password", {"new_password": "another long password",
                                                  "auth": dict(auth, session=sessions[0])})
    assert r.status == 400, r
    r = spammer.call("POST", "account/password", {"new_password": "another long password",
                                                  "auth": dict(auth, session=sessions[-1])})
    assert r.status == 200, r
    first = victim.call("POST", "account/password", {"new_password": "victim new password"})
    assert first.status == 401 and "session" in first.json, first
    r = victim.call("POST", "account/password", {
        "new_password": "victim new password",
        "auth": {"type": "m.login.password", "session": first.json["session"],
                 "identifier": {"type": "m.id.user", "user": victim.user_id},
                 "password": PASSWORD}})
    assert r.status == 200, r


def test_anonymous_reads_limited_and_hidden_profiles(make_server):
    """Anonymous profile reads are rate-limited per address like a user's
    calls, and a user who hid their profile (im.vector.hide_profile) is not
    revealed to anonymous lookups."""
    from chappe_e2e import MatrixUser, user_path
    srv = make_server(rate_limits={
        "login_per_account": {"per_second": 1000, "burst": 1000},
        "login_per_ip": {"per_second": 1000, "burst": 1000},
        "register_per_ip": {"per_second": 1000, "burst": 1000},
        "client_per_user": {"per_second": 1, "burst": 5}})
    hidden = MatrixUser(srv)
    assert hidden.call("PUT", f"profile/{user_path(hidden.user_id)}/displayname",
                       {"displayname": "Hidden Person"}).status == 200
    assert hidden.call("PUT", f"user/{user_path(hidden.user_id)}/account_data/im.vector.hide_profile",
                       {"hide_profile": True}).status == 200
    r = srv.client("GET", f"profile/{user_path(hidden.user_id)}")
    assert r.status == 404, r
    # the owner still sees their own profile
    assert hidden.call("GET", f"profile/{user_path(hidden.user_id)}").json["displayname"] == "Hidden Person"
    statuses = [srv.client("GET", f"profile/{user_path(hidden.user_id)}").status for _ in range(10)]
    assert 429 in statuses, statuses


def test_deactivated_account_leaves_its_rooms(server):
    """Deactivation (account_deactivation.yaml) ends the account's part in its
    rooms: it leaves them and its pending invites are rejected, so it no
    longer counts as a member, holds power or shares keys (as Synapse)."""
    from chappe_e2e import MatrixUser, room_path
    alice, dora = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    dora.join(room)
    invited = alice.create_room(preset="private_chat", invite=[dora.user_id])
    r = server.uia("POST", "account/deactivate", {}, dora.token, dora.user_id)
    assert r.status == 200, r
    joined = alice.call("GET", f"rooms/{room_path(room)}/joined_members").json["joined"]
    assert dora.user_id not in joined, joined
    member = alice.call("GET", f"rooms/{room_path(invited)}/state/m.room.member/{dora.user_id}")
    assert member.status == 200 and member.json["membership"] == "leave", member


def test_erased_account_content_hidden_from_later_joiners(server):
    """account_deactivation.yaml, erase: the server "should not share any of
    the user's content with anyone who joins rooms the user was in after the
    erasure": later joiners get the erased user's events redacted, while
    members who were there when they were sent keep them."""
    from chappe_e2e import MatrixUser, room_path, sync_timeline
    alice, dora = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    dora.join(room)
    assert dora.call("PUT", f"profile/{user_path(dora.user_id)}/displayname",
                     {"displayname": "Jean Dupont"}).status == 200
    secret = dora.send(room, "my phone is 0612345678")
    r = server.uia("POST", "account/deactivate", {"erase": True}, dora.token, dora.user_id)
    assert r.status == 200, r
    newcomer = MatrixUser(server)
    newcomer.join(room)
    got = newcomer.event(room, secret)
    assert got.status == 200 and got.json["content"] == {}, got
    bodies = [e["content"].get("body") for e in sync_timeline(newcomer.sync(), room)
              if e["sender"] == dora.user_id]
    assert "my phone is 0612345678" not in bodies, bodies
    names = [e["content"].get("displayname") for e in sync_timeline(newcomer.sync(), room)
             if e["type"] == "m.room.member" and e["state_key"] == dora.user_id]
    assert "Jean Dupont" not in names, names
    # alice was in the room when it was sent: she keeps what she saw
    assert alice.event(room, secret).json["content"]["body"] == "my phone is 0612345678"
