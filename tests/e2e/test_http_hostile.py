"""Raw-HTTP tests: every error the accounts/sessions API must produce, the
hostile inputs it must survive, CORS, and r0/v3 prefix equivalence.

Each test names the part of the Client-Server API spec (v1.19,
content/client-server-api/_index.md and data/api/client-server/*.yaml) it
checks. After every test the shared server must still be running (see the
`server` fixture), so "never crash" is checked everywhere.
"""

import http.client
import json
import re
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from chappe_e2e import (PASSWORD, SERVER_NAME, Response, assert_error, mxid,
                        password_auth, unique_name, user_path)

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
# Routing errors: M_UNRECOGNIZED
# --------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/_matrix/client/v3/no_such_endpoint",
    "/_matrix/client/r0/no_such_endpoint",
    "/_matrix/client/v99/login",
    "/_matrix/client/v3/account/whoami/extra",
])
def test_unknown_endpoint(server, path):
    """M_UNRECOGNIZED: "expected to be returned with a 404 HTTP status code
    if the endpoint is not implemented"."""
    assert_error(server.request("GET", path), 404, "M_UNRECOGNIZED")


@pytest.mark.parametrize("method,endpoint", [
    ("PUT", "login"), ("DELETE", "login"), ("GET", "logout"),
    ("DELETE", "account/whoami"), ("POST", "account/whoami"), ("GET", "register"),
    ("PUT", "refresh"), ("PATCH", "login"), ("PATCH", "account/password"),
])
def test_wrong_method(server, method, endpoint):
    """M_UNRECOGNIZED: "... or a 405 HTTP status code if the endpoint is
    implemented, but the incorrect HTTP method is used"."""
    assert_error(server.client(method, endpoint, b"{}"), 405, "M_UNRECOGNIZED")


# --------------------------------------------------------------------------
# Body errors: M_NOT_JSON, M_BAD_JSON, M_TOO_LARGE, depth
# --------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b'{"type": "m.login.password", ',          # truncated
    b"{'type': 'm.login.password'}",           # not JSON quoting
    b'{"type": "m.login.password"} trailing',  # trailing garbage
    b'{"type": "m.login.\xff\xfe"}',           # invalid UTF-8 in a string
    b'{"type": "\xc0\xaf"}',                   # overlong UTF-8 encoding
    b'{"type": "\xed\xa0\x80"}',               # UTF-8 encoded surrogate
    b"\xef\xbb\xbf\xff",
    b"",                                       # no body at all
    b"NaN",
])
def test_not_json(server, raw):
    """M_NOT_JSON: "Request did not contain valid JSON"; "All JSON data, in
    requests or responses, must be encoded using UTF-8"."""
    r = server.client("POST", "login", raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "M_NOT_JSON")


@pytest.mark.parametrize("body", [
    [], ["m.login.password"], "m.login.password", 42, None, True,
])
def test_body_not_an_object(server, body):
    """API Standards: POST and PUT endpoints "require the client to supply a
    request body containing a (potentially empty) JSON object"; valid JSON
    that is not an object is M_BAD_JSON."""
    r = server.client("POST", "login", json.dumps(body).encode(),
                      headers={"Content-Type": "application/json"})
    assert_error(r, 400, "M_BAD_JSON")


@pytest.mark.parametrize("body", [
    {"type": 42},
    {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": 42},
     "password": PASSWORD},
    {"type": "m.login.password", "identifier": "alice", "password": PASSWORD},
    {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
     "password": ["x"]},
    {"type": "m.login.password", "user": "alice", "password": PASSWORD, "device_id": 7},
    {"type": "m.login.password", "user": "alice", "password": PASSWORD,
     "refresh_token": "yes"},
])
def test_login_wrong_field_types(server, body):
    """M_BAD_JSON: "Request contained valid JSON, but it was malformed in
    some way, e.g. missing required keys, invalid values for keys"."""
    assert_error(server.client("POST", "login", body), 400, "M_BAD_JSON")


def test_register_wrong_field_types(server):
    """M_BAD_JSON for /register fields of the wrong type."""
    for body in ({"username": 5, "password": PASSWORD},
                 {"username": unique_name(), "password": 12345678},
                 {"username": unique_name(), "password": PASSWORD, "inhibit_login": "no"},
                 {"username": unique_name(), "password": PASSWORD, "auth": "dummy"}):
        assert_error(server.client("POST", "register", body), 400, "M_BAD_JSON")


def test_displayname_wrong_type(server):
    """PUT /profile/{userId}/displayname: "For displayname, the value MUST be
    a string"; the 400 lists M_BAD_JSON."""
    reg = server.register(unique_name())
    path = f"profile/{user_path(reg['user_id'])}/displayname"
    for body in ({"displayname": 5}, {"displayname": {"a": "b"}}, []):
        r = server.client("PUT", path, body, token=reg["access_token"])
        assert_error(r, 400, "M_BAD_JSON")


def _raw_exchange(port, head, body=b"", *, wait_for_continue=False, chunked=False,
                  timeout=60):
    """Send a hand-built request. With wait_for_continue, behave like curl
    with `Expect: 100-continue`: wait up to 2 s for an interim or final
    answer before sending the body. Errors while sending the body are
    tolerated: the server may answer early and stop reading."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(head)
        if wait_for_continue:
            sock.settimeout(2)
            try:
                peek = sock.recv(12, socket.MSG_PEEK)
            except socket.timeout:
                peek = b""
            sock.settimeout(timeout)
            if re.match(rb"HTTP/1\.[01] 100", peek):
                buf = b""
                while not buf.endswith(b"\r\n\r\n"):
                    buf += sock.recv(1)
            elif peek:
                body = None  # the final answer came first: do not send
        if body is not None:
            try:
                for i in range(0, len(body), 65536):
                    piece = body[i:i + 65536]
                    if chunked:
                        piece = b"%x\r\n" % len(piece) + piece + b"\r\n"
                    sock.sendall(piece)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read()
        return Response(resp.status, resp.headers, data)
    finally:
        sock.close()


def _big_login_body(size):
    pad = "x" * size
    return json.dumps(_login_body("nobody", pad_field=pad)).encode()


@pytest.mark.parametrize("mode", ["content-length", "expect-100-continue", "chunked"])
def test_body_too_large(server, mode):
    """M_TOO_LARGE: "The request or entity was too large". A 10 MiB body
    against max_json_body_bytes = 1 MiB, sent the three ways clients do."""
    body = _big_login_body(10 * 1024 * 1024)
    head = b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: localhost\r\n" \
           b"Content-Type: application/json\r\n"
    if mode == "chunked":
        head += b"Transfer-Encoding: chunked\r\n\r\n"
    else:
        head += b"Content-Length: %d\r\n" % len(body)
        if mode == "expect-100-continue":
            head += b"Expect: 100-continue\r\n"
        head += b"\r\n"
    r = _raw_exchange(server.port, head, body, wait_for_continue=(mode == "expect-100-continue"),
                      chunked=(mode == "chunked"))
    assert_error(r, 413, "M_TOO_LARGE")


def test_body_under_limit_accepted(server):
    """The size limit must not refuse honest requests: a 900 KiB login body
    (under the 1 MiB limit) is processed (unknown field ignored)."""
    name = unique_name()
    server.register(name)
    r = server.client("POST", "login", _login_body(name, pad_field="y" * (900 * 1024)))
    assert r.status == 200, r


def _nested(depth):
    inner = {}
    for _ in range(depth - 1):
        inner = {"a": inner}
    return inner


def test_json_too_deep(server):
    """Nesting deeper than limits.max_json_depth (64) is refused with 400
    (M_BAD_JSON or M_NOT_JSON), never a crash."""
    r = server.client("POST", "login", _login_body("nobody", extra=_nested(100)))
    assert r.status == 400, r
    assert r.errcode in ("M_BAD_JSON", "M_NOT_JSON"), r
    for raw in (b"[" * 200000, b'{"a":' * 200000, b"[" * 100000 + b"]" * 100000):
        r = server.client("POST", "login", raw, headers={"Content-Type": "application/json"})
        assert r.status == 400, r
        assert r.errcode in ("M_BAD_JSON", "M_NOT_JSON"), r


def test_json_moderately_nested_accepted(server):
    """Depth well within the limit (a 20-deep unknown field) is fine."""
    name = unique_name()
    server.register(name)
    r = server.client("POST", "login", _login_body(name, extra=_nested(20)))
    assert r.status == 200, r


# --------------------------------------------------------------------------
# Access tokens: M_MISSING_TOKEN, M_UNKNOWN_TOKEN
# --------------------------------------------------------------------------

@pytest.mark.parametrize("method,endpoint,body", [
    ("GET", "account/whoami", None),
    ("GET", "devices", None),
    ("GET", "devices/ABCDEF", None),
    ("POST", "logout", b""),
    ("POST", "logout/all", b""),
    ("POST", "delete_devices", {"devices": []}),
    ("PUT", f"profile/{user_path(mxid('someone'))}/displayname", {"displayname": "x"}),
    ("GET", "capabilities", None),
])
def test_missing_token(server, method, endpoint, body):
    """Using access tokens: "When credentials are required but missing or
    invalid, the HTTP call will return with a status of 401 and the error
    code, M_MISSING_TOKEN or M_UNKNOWN_TOKEN respectively"."""
    assert_error(server.client(method, endpoint, body), 401, "M_MISSING_TOKEN")


@pytest.mark.parametrize("token", ["nope", "syt_" + "A" * 40, "a" * 2000, "\u00e9t\u00e9"])
def test_unknown_token(server, token):
    """M_UNKNOWN_TOKEN for a token that was never valid, in the header and
    in the query string; soft_logout is not set for it (Soft logout:
    "If the soft_logout parameter is omitted or is false, this means the
    server has destroyed the session")."""
    headers = {"Authorization": "Bearer " + token.encode().decode("latin-1")}
    r = server.client("GET", "account/whoami", headers=headers)
    assert_error(r, 401, "M_UNKNOWN_TOKEN")
    assert r.json.get("soft_logout", False) is False
    r = server.client("GET", "account/whoami", query={"access_token": token})
    assert_error(r, 401, "M_UNKNOWN_TOKEN")


def test_token_in_query_string(server):
    """Using access tokens: header "Authorization: Bearer" or the
    access_token query parameter; "Homeservers MUST support both methods"."""
    reg = server.register(unique_name())
    by_header = server.whoami(reg["access_token"])
    by_query = server.client("GET", "account/whoami",
                             query={"access_token": reg["access_token"]})
    assert by_header.status == by_query.status == 200
    assert by_header.json["user_id"] == by_query.json["user_id"] == reg["user_id"]


def test_malformed_authorization_header(server):
    """A non-Bearer or empty Authorization header is not a valid token."""
    for value in ("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer", "Bearer a b"):
        r = server.client("GET", "account/whoami", headers={"Authorization": value})
        assert r.status == 401, (value, r)
        assert r.errcode in ("M_MISSING_TOKEN", "M_UNKNOWN_TOKEN"), (value, r)


def test_logged_out_token_refused(server):
    """POST /logout takes an empty request body (API Standards exception) and
    the token then gives M_UNKNOWN_TOKEN."""
    reg = server.register(unique_name())
    r = server.client("POST", "logout", None, token=reg["access_token"])
    assert r.status == 200, r
    assert r.json == {}, r
    r = server.whoami(reg["access_token"])
    assert_error(r, 401, "M_UNKNOWN_TOKEN")
    assert r.json.get("soft_logout", False) is False
    # A second logout with the dead token is also refused.
    assert_error(server.client("POST", "logout", None, token=reg["access_token"]),
                 401, "M_UNKNOWN_TOKEN")


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


def test_login_other_server_user(server):
    """A user ID on another server cannot log in here."""
    r = server.client("POST", "login", _login_body("@someone:elsewhere.example"))
    assert r.status in (400, 403), r
    assert ERRCODE_RE.match(r.errcode or ""), r


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
# Rate limiting (each test runs its own server with one low limit)
# --------------------------------------------------------------------------

SLOW = {"per_second": 0.05, "burst": 3}
FAST = {"per_second": 1000, "burst": 1000}


def _limits(**low):
    rl = {k: dict(FAST) for k in ("login_per_account", "login_per_ip",
                                  "register_per_ip", "client_per_user")}
    rl.update(low)
    return rl


def assert_rate_limited(r):
    """Rate limiting: 429 M_LIMIT_EXCEEDED; retry_after_ms (chappe sends it)
    and, when present, a Retry-After header in seconds."""
    assert_error(r, 429, "M_LIMIT_EXCEEDED")
    ms = r.json.get("retry_after_ms")
    assert isinstance(ms, int) and ms > 0, r
    if r.headers.get("Retry-After") is not None:
        assert int(r.headers["Retry-After"]) >= 0, r.headers


def test_rate_limit_login_per_account(make_server):
    srv = make_server(rate_limits=_limits(login_per_account=dict(SLOW)))
    victim, bystander = unique_name("victim"), unique_name("bystander")
    srv.register(victim)
    srv.register(bystander)
    results = [srv.client("POST", "login", _login_body(victim, "wrong password"))
               for _ in range(6)]
    assert [r.status for r in results[:3]] == [403, 403, 403], results
    limited = [r for r in results[3:] if r.status == 429]
    assert limited, results
    assert_rate_limited(limited[0])
    # The limit is per account: another account logs in from the same IP.
    assert srv.client("POST", "login", _login_body(bystander)).status == 200


def test_rate_limit_login_per_ip(make_server):
    srv = make_server(rate_limits=_limits(login_per_ip=dict(SLOW)))
    names = [unique_name() for _ in range(6)]
    for n in names:
        srv.register(n)
    results = [srv.client("POST", "login", _login_body(n)) for n in names]
    assert [r.status for r in results[:3]] == [200, 200, 200], results
    limited = [r for r in results[3:] if r.status == 429]
    assert limited, results
    assert_rate_limited(limited[0])


def test_rate_limit_register_per_ip(make_server):
    srv = make_server(rate_limits=_limits(register_per_ip=dict(SLOW)))
    srv.register(unique_name())  # the burst allows at least one registration
    seen = []
    for _ in range(8):
        body = {"username": unique_name(), "password": PASSWORD}
        r = srv.client("POST", "register", body)
        if r.status == 401:
            body["auth"] = {"type": "m.login.dummy", "session": r.json["session"]}
            r = srv.client("POST", "register", body)
        seen.append(r)
        if r.status == 429:
            break
    assert seen[-1].status == 429, seen
    assert_rate_limited(seen[-1])


def test_rate_limit_client_per_user(make_server):
    srv = make_server(rate_limits=_limits(client_per_user={"per_second": 0.05, "burst": 5}))
    a = srv.register(unique_name())
    b = srv.register(unique_name())
    results = [srv.whoami(a["access_token"]) for _ in range(10)]
    limited = [r for r in results if r.status == 429]
    assert limited, results
    assert_rate_limited(limited[0])
    assert all(r.status in (200, 429) for r in results), results
    # Per user: someone else is not affected.
    assert srv.whoami(b["access_token"]).status == 200


# --------------------------------------------------------------------------
# CORS and response format
# --------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/_matrix/client/v3/login",
    "/_matrix/client/v3/account/whoami",
    "/_matrix/client/r0/devices/ABC",
    "/_matrix/client/versions",
    "/_matrix/client/v3/no_such_endpoint",
])
def test_cors_preflight(server, path):
    """Web Browser Clients: "Servers MUST expect that clients will approach
    them with OPTIONS requests" and "MUST NOT perform any logic defined for
    the endpoints" (so no 401 for an authenticated endpoint). Recommended
    headers: Allow-Origin *, Allow-Methods GET, POST, PUT, DELETE, OPTIONS,
    Allow-Headers X-Requested-With, Content-Type, Authorization."""
    r = server.request("OPTIONS", path, headers={
        "Origin": "https://client.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status in (200, 204), r
    assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers
    methods = {m.strip().upper() for m in
               r.headers.get("Access-Control-Allow-Methods", "").split(",")}
    assert {"GET", "POST", "PUT", "DELETE", "OPTIONS"} <= methods, r.headers
    allowed = {h.strip().lower() for h in
               r.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert {"authorization", "content-type"} <= allowed, r.headers


def test_cors_on_normal_responses(server):
    """CORS headers "on all requests", errors included."""
    for r in (server.request("GET", "/_matrix/client/versions",
                             headers={"Origin": "https://client.example"}),
              server.client("GET", "account/whoami"),
              server.client("GET", "no_such_endpoint"),
              server.client("POST", "login", b"{", headers={"Content-Type":
                                                             "application/json"})):
        assert r.headers.get("Access-Control-Allow-Origin") == "*", (r, r.headers)


def test_json_content_type(server):
    """API Standards: "Servers must include a Content-Type header of
    application/json for all JSON responses"."""
    for r in (server.request("GET", "/_matrix/client/versions"),
              server.client("GET", "login"),
              server.client("GET", "account/whoami"),
              server.client("GET", "no_such_endpoint"),
              server.client("PUT", "login", b"{}")):
        ctype = r.headers.get("Content-Type", "")
        assert ctype.split(";")[0].strip() == "application/json", (r, ctype)
        assert isinstance(r.json, dict), r


# --------------------------------------------------------------------------
# r0 and v3 are the same API
# --------------------------------------------------------------------------

def test_r0_prefix_equivalence(server):
    """The r0 prefix (the pre-v1.0 path) serves the same endpoints as v3."""
    name = unique_name()
    reg = server.register(name)
    r = server.client("GET", "register/available", prefix="r0",
                      query={"username": unique_name()})
    assert r.status == 200 and r.json == {"available": True}, r
    login = server.client("POST", "login", _login_body(name), prefix="r0")
    assert login.status == 200, login
    tok = login.json["access_token"]
    v3 = server.client("GET", "account/whoami", token=tok)
    r0 = server.client("GET", "account/whoami", token=tok, prefix="r0")
    assert v3.status == r0.status == 200
    assert v3.json == r0.json
    d3 = server.client("GET", "devices", token=reg["access_token"])
    d0 = server.client("GET", "devices", token=reg["access_token"], prefix="r0")
    assert d3.status == d0.status == 200
    assert sorted(d["device_id"] for d in d3.json["devices"]) == \
        sorted(d["device_id"] for d in d0.json["devices"])
    assert_error(server.client("GET", "account/whoami", prefix="r0"), 401, "M_MISSING_TOKEN")
    assert_error(server.client("PUT", "login", b"{}", prefix="r0"), 405, "M_UNRECOGNIZED")
    # A full r0 registration (UIA) and logout.
    first = server.client("POST", "register", {"username": unique_name(),
                                               "password": PASSWORD}, prefix="r0")
    assert first.status == 401, first
    r = server.client("POST", "logout", None, token=tok, prefix="r0")
    assert r.status == 200, r
    assert_error(server.whoami(tok), 401, "M_UNKNOWN_TOKEN")


def test_r0_account_management(server):
    """The UIA-protected account endpoints under r0: password change, device
    rename and deletion, bulk deletion, logout/all, deactivation."""
    name = unique_name()
    reg = server.register(name)
    tok = reg["access_token"]

    def uia_r0(method, endpoint, body, password=PASSWORD):
        first = server.client(method, endpoint, body, token=tok, prefix="r0")
        assert first.status == 401, (endpoint, first)
        body = dict(body, auth=password_auth(name, password, first.json.get("session")))
        return server.client(method, endpoint, body, token=tok, prefix="r0")

    assert uia_r0("POST", "account/password", {"new_password": "r0 password",
                                               "logout_devices": False}).status == 200
    a, b, c = (server.login(name, "r0 password") for _ in range(3))
    r = server.client("PUT", f"devices/{a['device_id']}", {"display_name": "r0 name"},
                      token=tok, prefix="r0")
    assert r.status == 200, r
    r = server.client("GET", f"devices/{a['device_id']}", token=tok, prefix="r0")
    assert r.json.get("display_name") == "r0 name", r
    assert uia_r0("DELETE", f"devices/{a['device_id']}", {}, "r0 password").status == 200
    assert uia_r0("POST", "delete_devices", {"devices": [b["device_id"]]},
                  "r0 password").status == 200
    for gone in (a, b):
        assert_error(server.whoami(gone["access_token"]), 401, "M_UNKNOWN_TOKEN")
    assert server.whoami(c["access_token"]).status == 200
    r = uia_r0("POST", "account/deactivate", {}, "r0 password")
    assert r.status == 200, r
    for dead in (reg, c):
        assert_error(server.whoami(dead["access_token"]), 401, "M_UNKNOWN_TOKEN")


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


# --------------------------------------------------------------------------
# Garbage on the wire
# --------------------------------------------------------------------------

def _raw_bytes(port, data, timeout=3):
    """Send data, half-close (the client's EOF), and collect the answer until
    the server closes. Returns None if the server neither answered nor
    closed within timeout seconds."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before we finished
            pass
        out = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            return out or None
        except ConnectionResetError:
            pass
        return out
    finally:
        sock.close()


GARBAGE = [
    b"\x00\x01\x02garbage\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
    b"Content-Length: 99999999999999999999\r\n\r\n{}",
    b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /_matrix/client/v3/" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 200000
    + b"\r\n\r\n",
    b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"a\"",
]


@pytest.mark.parametrize("data", GARBAGE, ids=[
    "binary", "http-9.9", "negative-length", "huge-length", "bad-chunk", "long-uri",
    "long-header", "truncated-body"])
def test_garbage_requests_survived(make_server, data):
    """Whatever arrives, the server answers with an HTTP error or closes the
    connection once the client has finished sending (EOF), keeps serving
    others, and still shuts down cleanly on SIGTERM (a private server, so a
    stuck shutdown is blamed on this input)."""
    srv = make_server()
    # Several connections: a race in connection handling shows up in some
    # attempts only.
    for attempt in range(4):
        out = _raw_bytes(srv.port, data, timeout=1.5)
        assert out is not None, f"attempt {attempt}: server neither answered nor " \
                                "closed the connection within 1.5 s of the client's EOF"
        if out:
            m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
            assert m and 400 <= int(m.group(1)) < 600 and int(m.group(1)) != 500, out[:200]
        assert srv.request("GET", "/_matrix/client/versions").status == 200


@pytest.mark.parametrize("segment", [
    "%40a%00b%3Alocalhost", "..%2F..%2Fetc%2Fpasswd", "%", "%zz", "%40%3A",
    "@" + "a" * 5000 + ":localhost",
])
def test_hostile_path_segments(server, segment):
    """Hostile user IDs in paths are client errors, never 500 or a crash."""
    r = server.request("GET", f"/_matrix/client/v3/profile/{segment}")
    assert 400 <= r.status < 500, r
    r = server.request("GET", f"/_matrix/client/v3/profile/{segment}/displayname")
    assert 400 <= r.status < 500, r


def test_nul_in_strings(server):
    """A \\u0000 inside a JSON string must not truncate a C string somewhere:
    registering "evil\\u0000" must not create "evil"."""
    r = server.client("POST", "register", b'{"username": "evil\\u0000x", "password": '
                      b'"correct horse battery", "auth": {"type": "m.login.dummy"}}',
                      headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    r = server.client("POST", "login", b'{"type": "m.login.password", "identifier": '
                      b'{"type": "m.id.user", "user": "x"}, "password": "a\\u0000b"}',
                      headers={"Content-Type": "application/json"})
    assert r.status in (400, 403), r
    avail = server.client("GET", "register/available", query={"username": "evil"})
    assert avail.status == 200, avail
