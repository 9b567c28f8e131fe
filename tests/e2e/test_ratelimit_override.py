"""Per-user rate-limit overrides on Synapse's admin path
/_synapse/admin/v1/users/{userId}/override_ratelimit (GET, POST, DELETE),
which the benchmarks (bench/) use to measure the server and not its
limiter. Not part of the Matrix spec: the shapes follow Synapse's admin API
documentation (docs/admin_api/user_admin_api.md, "Override ratelimiting for
users"): "messages_per_second - The number of actions that can be
performed in a second. Defaults to 0. burst_count - How many actions that
can be performed before being limited. Defaults to 0. To protect the
server from abuse, 0 means no limit" (here: 0 messages per second), and
GET answers {} when the user has no override.

The server below keeps a tight per-user limit (1 request per second, burst
2) so that an override visibly lifts or tightens it. The spec's 429 error
is client-server-api "Rate limiting": M_LIMIT_EXCEEDED with
retry_after_ms."""

import pytest

from chappe_e2e import PASSWORD, assert_error, mxid, unique_name, user_path

GENEROUS = {"per_second": 1000, "burst": 1000}
TIGHT = {"per_second": 1, "burst": 2}


@pytest.fixture
def srv(make_server, tmp_path):
    # separate dicts: a shared one would be written as a YAML alias, which
    # the configuration loader refuses
    s = make_server(rate_limits={"login_per_account": dict(GENEROUS),
                                 "login_per_ip": dict(GENEROUS),
                                 "register_per_ip": dict(GENEROUS),
                                 "client_per_user": dict(TIGHT)})
    name = unique_name("boss")
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    pw.chmod(0o600)
    res = s.admin("create-user", name, "--admin", "--password-file", str(pw))
    assert res.returncode == 0, res.stderr
    s.admin_token = s.login(name)["access_token"]
    return s


def _path(user_id):
    return f"/_synapse/admin/v1/users/{user_path(user_id)}/override_ratelimit"


def _override(s, method, user_id, body=None, token=None):
    return s.request(method, _path(user_id), body, token=token or s.admin_token)


def _whoami_statuses(s, token, n):
    return [s.whoami(token).status for _ in range(n)]


def test_no_override_reads_empty_and_the_server_limit_applies(srv):
    user = srv.register(unique_name("u"))
    r = _override(srv, "GET", user["user_id"])
    assert r.status == 200 and r.json == {}, r
    statuses = _whoami_statuses(srv, user["access_token"], 6)
    assert 429 in statuses, statuses
    limited = srv.whoami(user["access_token"])
    if limited.status == 429:
        assert_error(limited, 429, "M_LIMIT_EXCEEDED")
        assert isinstance(limited.json.get("retry_after_ms"), int), limited


def test_zero_lifts_the_limit(srv):
    user = srv.register(unique_name("u"))
    r = _override(srv, "POST", user["user_id"], {"messages_per_second": 0, "burst_count": 0})
    assert r.status == 200, r
    assert r.json == {"messages_per_second": 0, "burst_count": 0}, r
    assert _override(srv, "GET", user["user_id"]).json == r.json
    assert _whoami_statuses(srv, user["access_token"], 30) == [200] * 30


def test_empty_body_means_zero(srv):
    user = srv.register(unique_name("u"))
    r = _override(srv, "POST", user["user_id"], {})
    assert r.status == 200 and r.json == {"messages_per_second": 0, "burst_count": 0}, r


def test_override_replaces_the_server_limit(srv):
    user = srv.register(unique_name("u"))
    r = _override(srv, "POST", user["user_id"], {"messages_per_second": 1000,
                                                 "burst_count": 1000})
    assert r.status == 200 and r.json == {"messages_per_second": 1000, "burst_count": 1000}, r
    assert _whoami_statuses(srv, user["access_token"], 30) == [200] * 30


def test_delete_restores_the_server_limit(srv):
    user = srv.register(unique_name("u"))
    assert _override(srv, "POST", user["user_id"], {}).status == 200
    r = _override(srv, "DELETE", user["user_id"])
    assert r.status == 200 and r.json == {}, r
    assert _override(srv, "GET", user["user_id"]).json == {}
    assert 429 in _whoami_statuses(srv, user["access_token"], 6)
    # deleting again is not an error (Synapse answers {} too)
    r = _override(srv, "DELETE", user["user_id"])
    assert r.status == 200 and r.json == {}, r


@pytest.mark.parametrize("body", [
    {"messages_per_second": -1},
    {"burst_count": -5},
    {"messages_per_second": 1.5},
    {"messages_per_second": "10"},
    {"burst_count": True},
    {"messages_per_second": 2147483648},
])
def test_bad_values_are_refused(srv, body):
    user = srv.register(unique_name("u"))
    assert_error(_override(srv, "POST", user["user_id"], body), 400, "M_INVALID_PARAM")
    assert _override(srv, "GET", user["user_id"]).json == {}


def test_not_json_is_refused(srv):
    user = srv.register(unique_name("u"))
    r = srv.request("POST", _path(user["user_id"]), b"[1, 2",
                    token=srv.admin_token, headers={"Content-Type": "application/json"})
    assert r.status == 400, r


def test_unknown_and_remote_users(srv):
    assert_error(_override(srv, "GET", mxid(unique_name("ghost"))), 404, "M_NOT_FOUND")
    assert_error(_override(srv, "POST", mxid(unique_name("ghost")), {}), 404, "M_NOT_FOUND")
    assert_error(_override(srv, "GET", "@someone:elsewhere.example"), 400, "M_INVALID_PARAM")
    assert_error(_override(srv, "DELETE", "@someone:elsewhere.example"), 400,
                 "M_INVALID_PARAM")


def test_admins_only(srv):
    user = srv.register(unique_name("u"))
    other = srv.register(unique_name("v"))
    for method, body in (("GET", None), ("POST", {}), ("DELETE", None)):
        assert_error(_override(srv, method, other["user_id"], body, token=user["access_token"]),
                     403, "M_FORBIDDEN")
    r = srv.request("GET", _path(other["user_id"]))
    assert_error(r, 401, "M_MISSING_TOKEN")
    assert _override(srv, "GET", other["user_id"]).json == {}


def test_override_survives_a_restart(srv):
    user = srv.register(unique_name("u"))
    assert _override(srv, "POST", user["user_id"], {"messages_per_second": 7,
                                                    "burst_count": 9}).status == 200
    srv.stop()
    srv.start()
    r = _override(srv, "GET", user["user_id"])
    assert r.status == 200 and r.json == {"messages_per_second": 7, "burst_count": 9}, r
