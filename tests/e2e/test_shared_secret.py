"""Shared-secret registration (/_synapse/admin/v1/register), the admin API
Synapse defines and tools such as register_new_matrix_user speak:

  GET  -> {"nonce": "..."}
  POST {nonce, username, password, admin, mac}
       mac = hex HMAC-SHA1(secret, nonce NUL username NUL password NUL
                                   "admin"|"notadmin")

It is not part of the Matrix spec; its results are checked with the spec's
own endpoints (login, whoami, register/available) and with `chappe admin
list-users` for the admin flag. Registration stays closed on this server:
the shared secret is how an operator creates accounts anyway.
"""

import pytest

from chappe_e2e import (PASSWORD, assert_error, mxid, sanitizer_reports, shared_secret_mac,
                        unique_name)

SECRET = "s3cr3t shared with the operator"
PATH = "/_synapse/admin/v1/register"


@pytest.fixture
def secret_server(make_server):
    return make_server(registration="closed", registration_shared_secret=SECRET)


def _nonce(srv):
    r = srv.request("GET", PATH)
    assert r.status == 200, r
    nonce = r.json["nonce"]
    assert isinstance(nonce, str) and len(nonce) >= 16, r
    return nonce


def _body(nonce, username, password=PASSWORD, admin=False, secret=SECRET, mac_admin=None):
    mac_admin = admin if mac_admin is None else mac_admin
    return {"nonce": nonce, "username": username, "password": password, "admin": admin,
            "mac": shared_secret_mac(secret, nonce, username, password, mac_admin)}


def _available(srv, name):
    r = srv.client("GET", "register/available", query={"username": name})
    return r.status == 200


def _admins(srv):
    res = srv.admin("list-users")
    assert res.returncode == 0, res.stderr
    assert not sanitizer_reports(res.stderr), res.stderr
    flags = {}
    for line in res.stdout.splitlines():
        if line.strip():
            uid, *rest = line.split()
            flags[uid] = set(rest)
    return flags


def test_nonces_are_fresh(secret_server):
    assert _nonce(secret_server) != _nonce(secret_server)


def test_register_plain_user(secret_server):
    srv = secret_server
    name = unique_name("ss")
    r = srv.request("POST", PATH, _body(_nonce(srv), name))
    assert r.status == 200, r
    assert r.json["user_id"] == mxid(name)
    who = srv.whoami(r.json["access_token"])
    assert who.status == 200 and who.json["user_id"] == mxid(name), who
    assert who.json["device_id"] == r.json["device_id"]
    assert srv.login(name)["user_id"] == mxid(name)
    assert "admin" not in _admins(srv)[mxid(name)]


def test_register_admin_user(secret_server):
    srv = secret_server
    name = unique_name("ssadmin")
    r = srv.request("POST", PATH, _body(_nonce(srv), name, admin=True))
    assert r.status == 200, r
    assert "admin" in _admins(srv)[mxid(name)]


def test_nonce_usable_once(secret_server):
    srv = secret_server
    nonce = _nonce(srv)
    first = unique_name("once")
    assert srv.request("POST", PATH, _body(nonce, first)).status == 200
    second = unique_name("twice")
    r = srv.request("POST", PATH, _body(nonce, second))
    assert 400 <= r.status < 500, r
    assert _available(srv, second)


@pytest.mark.parametrize("tamper", ["secret", "admin_flag", "password", "nonce", "garbage",
                                    "uppercase_hex_of_wrong", "empty"])
def test_bad_mac_refused(secret_server, tamper):
    """A MAC that does not cover exactly what was sent is refused and no
    account appears. In particular the admin flag is covered: a MAC made for
    "notadmin" cannot create an admin."""
    srv = secret_server
    nonce = _nonce(srv)
    name = unique_name("bad")
    body = _body(nonce, name)
    if tamper == "secret":
        body = _body(nonce, name, secret="wrong secret")
    elif tamper == "admin_flag":
        body = _body(nonce, name, admin=True, mac_admin=False)
    elif tamper == "password":
        body["password"] = "another password"
    elif tamper == "nonce":
        body["mac"] = shared_secret_mac(SECRET, "other nonce", name, PASSWORD, False)
    elif tamper == "garbage":
        body["mac"] = "zz" * 20
    elif tamper == "uppercase_hex_of_wrong":
        body["mac"] = shared_secret_mac("nope", nonce, name, PASSWORD, False).upper()
    elif tamper == "empty":
        body["mac"] = ""
    r = srv.request("POST", PATH, body)
    assert r.status in (400, 401, 403), r
    assert _available(srv, name), f"{name} was created despite a bad MAC"


def test_unknown_nonce_refused(secret_server):
    srv = secret_server
    name = unique_name("nononce")
    r = srv.request("POST", PATH, _body("made-up-nonce", name))
    assert 400 <= r.status < 500, r
    assert _available(srv, name)


@pytest.mark.parametrize("drop", ["nonce", "username", "password", "mac"])
def test_missing_fields_refused(secret_server, drop):
    srv = secret_server
    name = unique_name("missing")
    body = _body(_nonce(srv), name)
    del body[drop]
    r = srv.request("POST", PATH, body)
    assert r.status == 400, r
    assert _available(srv, name)


def test_existing_and_invalid_usernames(secret_server):
    """Same user-ID rules as /register: M_USER_IN_USE, M_INVALID_USERNAME."""
    srv = secret_server
    name = unique_name("dup")
    assert srv.request("POST", PATH, _body(_nonce(srv), name)).status == 200
    assert_error(srv.request("POST", PATH, _body(_nonce(srv), name)), 400, "M_USER_IN_USE")
    for bad in ("has space", "colon:in", "x" * 300):
        assert_error(srv.request("POST", PATH, _body(_nonce(srv), bad)),
                     400, "M_INVALID_USERNAME")


def test_refused_without_configured_secret(server):
    """With registration_shared_secret empty the API is off: the nonce GET
    and the POST are refused (404 or 400), whatever MAC is sent."""
    g = server.request("GET", PATH)
    assert g.status in (400, 404), g
    name = unique_name("nosecret")
    for secret in ("", SECRET):
        r = server.request("POST", PATH, _body("any-nonce", name, secret=secret))
        assert r.status in (400, 404), r
    assert _available(server, name)
