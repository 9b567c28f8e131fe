"""Raw-HTTP tests: the cross-cutting errors of the accounts/sessions API
(routing, request bodies, access tokens, rate limits), the hostile inputs
it must survive, CORS, and r0/v3 prefix equivalence. Endpoint-specific
behaviour is in test_accounts_http.py.

Each test names the part of the Client-Server API spec (v1.19,
content/client-server-api/_index.md and data/api/client-server/*.yaml) it
checks. After every test the shared server must still be running (see the
`server` fixture), so "never crash" is checked everywhere.
"""

import http.client
import json
import re
import socket
import time

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


def test_rate_limit_retry_after_is_honest(make_server):
    """retry_after_ms: "The amount of time in milliseconds the client should
    wait before trying the request again" - waiting that long is enough, and
    the value fits the configured rate (2 per second: at most ~500 ms)."""
    srv = make_server(rate_limits=_limits(login_per_ip={"per_second": 2, "burst": 2}))
    name = unique_name()
    srv.register(name)
    limited = None
    for _ in range(6):
        r = srv.client("POST", "login", _login_body(name))
        if r.status == 429:
            limited = r
            break
        assert r.status == 200, r
    assert limited is not None, "no 429 after 6 quick logins with burst 2"
    assert_rate_limited(limited)
    wait_ms = limited.json["retry_after_ms"]
    assert wait_ms <= 600, limited
    time.sleep(wait_ms / 1000 + 0.05)
    r = srv.client("POST", "login", _login_body(name))
    assert r.status == 200, r


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
    # Ten connections: the client's EOF arriving in the same segment as the
    # data is missed by some servers in about half the attempts only.
    for attempt in range(10):
        out = _raw_bytes(srv.port, data, timeout=1.0)
        assert out is not None, f"attempt {attempt}: server neither answered nor " \
                                "closed the connection within 1 s of the client's EOF"
        if out:
            m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
            assert m and 400 <= int(m.group(1)) < 600 and int(m.group(1)) != 500, out[:200]
        assert srv.request("GET", "/_matrix/client/versions").status == 200


def test_keepalive_after_errors(server):
    """One persistent connection, as clients use them: error answers (404,
    405, 400, 403, 401) leave it usable for the next request."""
    name = unique_name()
    tok = server.register(name)["access_token"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        steps = [
            ("GET", "/_matrix/client/v3/no_such_endpoint", None, {}, 404),
            ("PUT", "/_matrix/client/v3/login", b"{}", {}, 405),
            ("POST", "/_matrix/client/v3/login", b"{not json", {}, 400),
            ("POST", "/_matrix/client/v3/login",
             json.dumps(_login_body(name, "wrong password")).encode(), {}, 403),
            ("GET", "/_matrix/client/v3/account/whoami", None, {}, 401),
            ("GET", "/_matrix/client/v3/account/whoami", None,
             {"Authorization": f"Bearer {tok}"}, 200),
        ]
        for method, path, body, headers, status in steps:
            headers = dict(headers, **{"Content-Type": "application/json"})
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status == status, (method, path, resp.status, data)
    finally:
        conn.close()


SMUGGLED = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("method,path", [
    ("POST", "/_matrix/client/v3/logout"),            # 401 before the body matters
    ("PUT", "/_matrix/client/v3/login"),              # 405
    ("POST", "/_matrix/client/v3/no_such_endpoint"),  # 404
    ("POST", "/_matrix/client/v3/account/whoami"),    # 405 on an authenticated path
])
def test_unread_body_not_parsed_as_request(server, method, path):
    """A body the server answers without needing (an early error) must still
    be consumed as the body: its bytes must never be parsed as a second
    request on a kept-alive connection (request smuggling)."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(SMUGGLED)}\r\n\r\n").encode()
    follow = b"GET /_matrix/client/v3/account/whoami HTTP/1.1\r\nHost: x\r\n" \
             b"Connection: close\r\n\r\n"
    out = _raw_bytes(server.port, head + SMUGGLED + follow, timeout=5)
    assert out, out
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", out)]
    assert statuses and statuses[0] in (401, 404, 405), out[:300]
    assert 200 not in statuses, f"the body was served as a request: {statuses}"
    assert b'"versions"' not in out, out[:300]
    if len(statuses) > 1:  # the follow-up request got its own, right answer
        assert statuses[1:] == [401], statuses


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


def test_trusted_proxy_forwarded_for(make_server):
    """trusted_proxies: behind a reverse proxy the client's address comes from
    X-Forwarded-For, so one client's failed logins do not rate-limit everyone
    behind the same proxy; a peer that is not a trusted proxy cannot pick its
    address by sending the header."""
    srv = make_server(trusted_proxies="127.0.0.1/32",
                      rate_limits={"login_per_ip": {"per_second": 0.01, "burst": 2},
                                   "login_per_account": {"per_second": 1000, "burst": 1000},
                                   "register_per_ip": {"per_second": 1000, "burst": 1000},
                                   "client_per_user": {"per_second": 1000, "burst": 1000}})
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"},
            "password": "wrong password"}

    def login(xff):
        return srv.request("POST", "/_matrix/client/v3/login", body,
                           headers={"X-Forwarded-For": xff})
    # the attacker behind the proxy exhausts its own bucket...
    statuses = [login("203.0.113.7").status for _ in range(3)]
    assert statuses == [403, 403, 429], statuses
    # ...another client behind the same proxy is unaffected
    assert login("198.51.100.9").status == 403
    # the right-most untrusted entry counts: a forged left part changes nothing
    assert login("198.51.100.77, 203.0.113.7").status == 429
