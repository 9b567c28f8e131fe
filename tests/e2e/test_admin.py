"""Incident response, parts 1, 2 and 6 of issue 5: the admin API on Synapse's
paths and shapes, account lock and suspension, server notices (one user,
broadcast, new login), and the `chappe admin` verbs. Raw HTTP.

Spec sections quoted per test: client-server-api "Account locking",
"Account suspension", modules/server_notices.md, admin.yaml (whois,
lock, suspend). Synapse's admin API is not in the spec: its shapes follow
Synapse's documentation (docs/admin_api/*.md)."""

import json
import secrets
import threading
import time

import pytest

from chappe_e2e import (PASSWORD, MatrixUser, assert_error, message_bodies, mxid,
                        room_path, sanitizer_reports, sync_room, sync_timeline, unique_name,
                        user_path)

ADMIN = "/_synapse/admin"


def _password_file(tmp_path, password=PASSWORD):
    path = tmp_path / f"pw-{unique_name()}"
    path.write_text(password)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def admin_token(module_server, tmp_path_factory):
    """An admin account made with `chappe admin create-user --admin`."""
    name = unique_name("boss")
    pw = _password_file(tmp_path_factory.mktemp("pw"))
    res = module_server.admin("create-user", name, "--admin", "--password-file", pw)
    assert res.returncode == 0, res.stderr
    return module_server.login(name)["access_token"]


def admin_call(server, token, method, path, body=None, **kw):
    return server.request(method, ADMIN + path, body, token=token, **kw)


def notices_room(user, since=None, deadline_s=10):
    """Wait for the invite to the server-notices room; join it; return
    (room_id, next_batch)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        body = user.sync(since, timeout=2000)
        since = body["next_batch"]
        for room_id, room in body.get("rooms", {}).get("invite", {}).items():
            senders = {e.get("sender") for e in room["invite_state"]["events"]}
            if mxid("server") in senders:
                user.join(room_id)
                return room_id, since
    pytest.fail(f"no server-notices invite for {user.user_id}")


def notice_bodies(user, room_id, since=None, want=1, deadline_s=10):
    """Sync until want notices are in room_id; returns (bodies, account_data
    types seen for the room, next_batch)."""
    bodies, tags = [], {}
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and len(bodies) < want:
        body = user.sync(since, timeout=2000)
        since = body["next_batch"]
        bodies += message_bodies(sync_timeline(body, room_id))
        room = sync_room(body, room_id) or {}
        for ev in room.get("account_data", {}).get("events", []):
            tags[ev["type"]] = ev["content"]
    return bodies, tags, since


# ---- every admin endpoint refuses a non-admin --------------------------------

ADMIN_ENDPOINTS = [
    ("GET", ADMIN + "/v2/users"),
    ("GET", ADMIN + "/v2/users/{u}"),
    ("PUT", ADMIN + "/v2/users/{u}"),
    ("POST", ADMIN + "/v1/deactivate/{u}"),
    ("PUT", ADMIN + "/v1/suspend/{u}"),
    ("GET", ADMIN + "/v2/users/{u}/devices"),
    ("DELETE", ADMIN + "/v2/users/{u}/devices/ABC"),
    ("POST", ADMIN + "/v2/users/{u}/delete_devices"),
    ("GET", ADMIN + "/v1/whois/{u}"),
    ("GET", ADMIN + "/v1/users/{u}/joined_rooms"),
    ("POST", ADMIN + "/v1/user/{u}/redact"),
    ("GET", ADMIN + "/v1/user/redact_status/abc"),
    ("POST", ADMIN + "/v1/send_server_notice"),
    ("POST", ADMIN + "/v1/send_server_notice/broadcast"),
    ("GET", ADMIN + "/v1/rooms"),
    ("GET", ADMIN + "/v1/rooms/{r}"),
    ("GET", ADMIN + "/v1/rooms/{r}/members"),
    ("DELETE", ADMIN + "/v1/rooms/{r}"),
    ("GET", "/_matrix/client/v1/admin/lock/{u}"),
    ("PUT", "/_matrix/client/v1/admin/lock/{u}"),
    ("GET", "/_matrix/client/v1/admin/suspend/{u}"),
    ("PUT", "/_matrix/client/v1/admin/suspend/{u}"),
    ("GET", "/_matrix/client/v3/admin/whois/{u}"),
]


def test_admin_endpoints_refuse_non_admins(server):
    """Issue 5: "Admin endpoints refuse non-admins (403 M_FORBIDDEN)";
    admin.yaml: "The user calling this endpoint MUST be a server admin",
    checked "prior to trying to do account lookups"."""
    user = MatrixUser(server)
    room_id = user.create_room()
    for method, path in ADMIN_ENDPOINTS:
        path = path.format(u=user_path(user.user_id), r=room_path(room_id))
        body = {} if method in ("PUT", "POST") else None
        r = server.request(method, path, body, token=user.token)
        assert_error(r, 403, "M_FORBIDDEN")
        # and no token at all is a 401, never a leak
        r = server.request(method, path, body)
        assert_error(r, 401, "M_MISSING_TOKEN")


# ---- users -------------------------------------------------------------------

def test_users_create_get_modify_list(server, admin_token):
    """Synapse's PUT /v2/users/{userId}: 201 on create, 200 on modify, the
    user object in both; GET the same; the list pages with next_token and
    leaves deactivated and locked accounts out unless asked."""
    name = unique_name("made")
    uid = mxid(name)
    r = admin_call(server, admin_token, "PUT", f"/v2/users/{user_path(uid)}",
                   {"password": "a fine password", "displayname": "Made Here"})
    assert r.status == 201, r
    assert r.json["name"] == uid and r.json["displayname"] == "Made Here"
    assert r.json["admin"] is False and r.json["deactivated"] is False
    assert r.json["locked"] is False and r.json["suspended"] is False
    # the new account logs in with the password given
    token = server.login(name, "a fine password")["access_token"]

    r = admin_call(server, admin_token, "PUT", f"/v2/users/{user_path(uid)}",
                   {"displayname": "Renamed", "admin": True})
    assert r.status == 200, r
    assert r.json["displayname"] == "Renamed" and r.json["admin"] is True
    r = admin_call(server, admin_token, "GET", f"/v2/users/{user_path(uid)}")
    assert r.status == 200 and r.json["displayname"] == "Renamed", r
    assert isinstance(r.json["creation_ts"], int)
    # a password change logs the account out everywhere (logout_devices default)
    r = admin_call(server, admin_token, "PUT", f"/v2/users/{user_path(uid)}",
                   {"password": "another fine one"})
    assert r.status == 200, r
    assert_error(server.whoami(token), 401, "M_UNKNOWN_TOKEN")

    # unknown user, foreign user, bad types
    assert_error(admin_call(server, admin_token, "GET",
                            f"/v2/users/{user_path(mxid(unique_name('nobody')))}"),
                 404, "M_NOT_FOUND")
    assert_error(admin_call(server, admin_token, "GET",
                            f"/v2/users/{user_path('@x:elsewhere.example')}"),
                 400, "M_INVALID_PARAM")
    assert_error(admin_call(server, admin_token, "PUT", f"/v2/users/{user_path(uid)}",
                            {"admin": "yes"}), 400, "M_BAD_JSON")

    # list: paging and filters
    names = [unique_name("listed") for _ in range(3)]
    for n in names:
        assert admin_call(server, admin_token, "PUT", f"/v2/users/{user_path(mxid(n))}",
                          {}).status == 201
    r = admin_call(server, admin_token, "GET", "/v2/users",
                   query={"name": "listed", "limit": "2"})
    assert r.status == 200, r
    assert r.json["total"] >= 3 and len(r.json["users"]) == 2
    assert r.json["next_token"] == "2"
    r2 = admin_call(server, admin_token, "GET", "/v2/users",
                    query={"name": "listed", "limit": "2", "from": r.json["next_token"]})
    seen = [u["name"] for u in r.json["users"] + r2.json["users"]]
    for n in names:
        assert mxid(n) in seen
    # deactivated and locked accounts are left out by default
    locked, gone = names[0], names[1]
    assert admin_call(server, admin_token, "PUT", f"/v2/users/{user_path(mxid(locked))}",
                      {"locked": True}).json["locked"] is True
    assert admin_call(server, admin_token, "POST", f"/v1/deactivate/{user_path(mxid(gone))}",
                      {}).status == 200
    listed = {u["name"] for u in admin_call(server, admin_token, "GET", "/v2/users",
                                            query={"name": "listed"}).json["users"]}
    assert mxid(locked) not in listed and mxid(gone) not in listed and mxid(names[2]) in listed
    listed = {u["name"] for u in admin_call(
        server, admin_token, "GET", "/v2/users",
        query={"name": "listed", "locked": "true", "deactivated": "true"}).json["users"]}
    assert {mxid(locked), mxid(gone)} <= listed
    assert_error(admin_call(server, admin_token, "GET", "/v2/users",
                            query={"deactivated": "maybe"}), 400, "M_INVALID_PARAM")


def test_deactivate_with_erase(server, admin_token):
    """POST /v1/deactivate/{userId} {"erase": true}: every session ends, the
    account leaves its rooms, and its profile is erased."""
    victim = MatrixUser(server)
    assert victim.call("PUT", f"profile/{user_path(victim.user_id)}/displayname",
                       {"displayname": "Soon Gone"}).status == 200
    owner = MatrixUser(server)
    room_id = owner.create_room(preset="public_chat")
    victim.join(room_id)
    r = admin_call(server, admin_token, "POST", f"/v1/deactivate/{user_path(victim.user_id)}",
                   {"erase": True})
    assert r.status == 200 and r.json == {"id_server_unbind_result": "success"}, r
    assert_error(server.whoami(victim.token), 401, "M_UNKNOWN_TOKEN")
    u = admin_call(server, admin_token, "GET", f"/v2/users/{user_path(victim.user_id)}").json
    assert u["deactivated"] is True and u["displayname"] is None
    members = admin_call(server, admin_token, "GET",
                         f"/v1/rooms/{room_path(room_id)}/members").json
    assert victim.user_id not in members["members"]


# ---- devices and whois ---------------------------------------------------------

def test_whois_devices_and_delete(server, admin_token):
    """admin.yaml whois: devices -> sessions -> connections with "ip",
    "last_seen" and "user_agent"; Synapse's device list and deletes."""
    user = MatrixUser(server)
    ua = f"chappe-e2e-agent/{secrets.token_hex(4)}"
    assert user.call("GET", "account/whoami", headers={"User-Agent": ua}).status == 200
    for path in (f"{ADMIN}/v1/whois/{user_path(user.user_id)}",
                 f"/_matrix/client/v3/admin/whois/{user_path(user.user_id)}"):
        r = server.request("GET", path, token=admin_token)
        assert r.status == 200, r
        assert r.json["user_id"] == user.user_id
        conns = r.json["devices"][user.device_id]["sessions"][0]["connections"]
        assert conns and conns[0]["ip"] == "127.0.0.1"
        assert conns[0]["user_agent"] == ua and isinstance(conns[0]["last_seen"], int)

    second = server.login(user.name)
    r = admin_call(server, admin_token, "GET", f"/v2/users/{user_path(user.user_id)}/devices")
    assert r.status == 200 and r.json["total"] == 2, r
    assert {d["device_id"] for d in r.json["devices"]} == {user.device_id, second["device_id"]}
    assert all(d["user_id"] == user.user_id for d in r.json["devices"])

    r = admin_call(server, admin_token, "DELETE",
                   f"/v2/users/{user_path(user.user_id)}/devices/{second['device_id']}")
    assert r.status == 200, r
    assert_error(server.whoami(second["access_token"]), 401, "M_UNKNOWN_TOKEN")
    assert_error(admin_call(server, admin_token, "DELETE",
                            f"/v2/users/{user_path(user.user_id)}/devices/{'%20' * 3}"),
                 400, "M_INVALID_PARAM")
    third = server.login(user.name)
    r = admin_call(server, admin_token, "POST",
                   f"/v2/users/{user_path(user.user_id)}/delete_devices",
                   {"devices": [third["device_id"], user.device_id]})
    assert r.status == 200, r
    assert_error(server.whoami(third["access_token"]), 401, "M_UNKNOWN_TOKEN")
    assert_error(server.whoami(user.token), 401, "M_UNKNOWN_TOKEN")
    assert_error(admin_call(server, admin_token, "POST",
                            f"/v2/users/{user_path(user.user_id)}/delete_devices",
                            {"devices": "all"}), 400, "M_BAD_JSON")


def test_joined_rooms(server, admin_token):
    user = MatrixUser(server)
    a, b = user.create_room(), user.create_room()
    user.membership(b, "leave")
    r = admin_call(server, admin_token, "GET", f"/v1/users/{user_path(user.user_id)}/joined_rooms")
    assert r.status == 200, r
    assert r.json["joined_rooms"] == [a] and r.json["total"] == 1


# ---- lock ------------------------------------------------------------------------

def test_lock_ends_long_poll_at_once_and_refuses_everything(server, admin_token):
    """client-server-api "Account locking": "servers MUST return a 401
    Unauthorized error response with an M_USER_LOCKED error code and
    soft_logout set to true on all but" POST /logout and /logout/all. Issue
    5: a waiting long-poll ends at once; every endpoint answers
    M_USER_LOCKED afterwards; unlock restores (tokens are kept: "Servers
    SHOULD NOT invalidate access tokens on locked accounts")."""
    user = MatrixUser(server)
    room_id = user.create_room()
    up = server.request("POST", "/_matrix/media/v3/upload", b"leaked file", token=user.token,
                        headers={"Content-Type": "text/plain"})
    assert up.status == 200, up
    media_path = "/_matrix/client/v1/media/download/" + up.json["content_uri"][len("mxc://"):]
    assert server.request("GET", media_path, token=user.token).body == b"leaked file"
    # two sessions, each with a parked long-poll
    laptop = MatrixUser(server, token=server.login(user.name)["access_token"],
                        user_id=user.user_id)
    results = {}

    def long_poll(who, session):
        since = session.sync()["next_batch"]
        t0 = time.monotonic()
        results[who] = (session.call("GET", "sync", query={"since": since, "timeout": "30000"},
                                     timeout=60), time.monotonic() - t0)

    threads = [threading.Thread(target=long_poll, args=(w, s))
               for w, s in (("phone", user), ("laptop", laptop))]
    for t in threads:
        t.start()
    time.sleep(1.0)  # parked
    r = admin_call(server, admin_token, "PUT", f"/v2/users/{user_path(user.user_id)}",
                   {"locked": True})
    assert r.status == 200 and r.json["locked"] is True, r
    for t in threads:
        t.join(20)
        assert not t.is_alive()
    for who, (resp, elapsed) in results.items():
        assert_error(resp, 401, "M_USER_LOCKED")
        assert resp.json["soft_logout"] is True
        assert elapsed < 5, f"the {who} long-poll lasted {elapsed:.1f} s"

    rp = room_path(room_id)
    for method, endpoint, body in [
            ("GET", "sync", None), ("GET", "account/whoami", None), ("GET", "joined_rooms", None),
            ("GET", f"rooms/{rp}/messages", None), ("GET", f"rooms/{rp}/state", None),
            ("GET", f"rooms/{rp}/members", None), ("PUT", f"rooms/{rp}/send/m.room.message/t1",
                                                   {"msgtype": "m.text", "body": "x"}),
            ("GET", "publicRooms", None), ("POST", "user_directory/search", {"search_term": "a"}),
            ("GET", f"profile/{user_path(user.user_id)}", None),
            ("POST", "keys/query", {"device_keys": {}}), ("GET", "devices", None)]:
        r = user.call(method, endpoint, body)
        assert_error(r, 401, "M_USER_LOCKED")
        assert r.json.get("soft_logout") is True, (endpoint, r)
    for path in ("/_matrix/client/v1/media/config", media_path):
        r = server.request("GET", path, token=user.token)
        assert_error(r, 401, "M_USER_LOCKED")
        assert b"leaked file" not in r.body
    # the spec's own lock endpoint reports it
    r = server.request("GET", f"/_matrix/client/v1/admin/lock/{user_path(user.user_id)}",
                       token=admin_token)
    assert r.status == 200 and r.json == {"locked": True}, r

    # unlock (through the spec's endpoint) restores the same token
    r = server.request("PUT", f"/_matrix/client/v1/admin/lock/{user_path(user.user_id)}",
                       {"locked": False}, token=admin_token)
    assert r.status == 200, r
    assert user.call("GET", "account/whoami").status == 200
    assert laptop.sync()["next_batch"]
    assert server.request("GET", media_path, token=user.token).body == b"leaked file"

    # and logout stays open to a locked account
    admin_call(server, admin_token, "PUT", f"/v2/users/{user_path(user.user_id)}",
               {"locked": True})
    assert user.call("POST", "logout", {}).status == 200
    assert_error(server.whoami(user.token), 401, "M_UNKNOWN_TOKEN")


# ---- suspend ---------------------------------------------------------------------

def test_suspend_reads_work_writes_refused(server, admin_token):
    """client-server-api "Account suspension": servers SHOULD permit to "See
    and receive messages", "Leave rooms", "Log out or delete any device";
    the recommended forbidden actions include joining, invites, sending
    messages and changing profile data; refusals are "403 Forbidden ...
    M_USER_SUSPENDED"."""
    user = MatrixUser(server)
    other = MatrixUser(server)
    mine = user.create_room()
    user.send(mine, "before")
    theirs = other.create_room(preset="public_chat")
    leave_me = other.create_room(preset="public_chat")
    user.join(leave_me)

    r = admin_call(server, admin_token, "PUT", f"/v1/suspend/{user_path(user.user_id)}",
                   {"suspend": True})
    assert r.status == 200 and r.json == {f"user_{user.user_id}_suspended": True}, r
    r = server.request("GET", f"/_matrix/client/v1/admin/suspend/{user_path(user.user_id)}",
                       token=admin_token)
    assert r.json == {"suspended": True}, r

    # reads
    assert user.call("GET", "account/whoami").status == 200
    assert user.sync()["next_batch"]
    assert user.messages(mine).status == 200
    assert user.call("GET", f"rooms/{room_path(mine)}/state").status == 200
    # writes
    for method, endpoint, body in [
            ("PUT", f"rooms/{room_path(mine)}/send/m.room.message/s1",
             {"msgtype": "m.text", "body": "x"}),
            ("PUT", f"rooms/{room_path(mine)}/state/m.room.topic", {"topic": "t"}),
            ("POST", "createRoom", {}),
            ("POST", f"rooms/{room_path(theirs)}/join", {}),
            ("POST", f"join/{room_path(theirs)}", {}),
            ("POST", f"rooms/{room_path(mine)}/invite", {"user_id": other.user_id}),
            ("PUT", f"profile/{user_path(user.user_id)}/displayname", {"displayname": "x"})]:
        assert_error(user.call(method, endpoint, body), 403, "M_USER_SUSPENDED")
    # still allowed: leaving, logging out a device
    assert user.membership(leave_me, "leave").status == 200
    second = server.login(user.name)  # "Log in and create additional sessions"
    assert_error(server.client("POST", "createRoom", {}, token=second["access_token"]),
                 403, "M_USER_SUSPENDED")
    assert server.client("POST", "logout", {}, token=second["access_token"]).status == 200

    r = admin_call(server, admin_token, "PUT", f"/v1/suspend/{user_path(user.user_id)}",
                   {"suspend": False})
    assert r.status == 200, r
    user.send(mine, "after")
    assert_error(admin_call(server, admin_token, "PUT", f"/v1/suspend/{user_path(user.user_id)}",
                            {"suspend": "yes"}), 400, "M_BAD_JSON")


# ---- redact ----------------------------------------------------------------------

def test_redact_user_events(server, admin_token):
    """Synapse's POST /v1/user/{userId}/redact {rooms, reason} answers
    {redact_id}; redact_status reports {status, failed_redactions}; the
    user's messages are redacted, others' are not."""
    admin = MatrixUser(server, token=admin_token,
                       user_id=server.whoami(admin_token).json["user_id"])
    room_id = admin.create_room(preset="public_chat")
    spammer = MatrixUser(server)
    spammer.join(room_id)
    spam = [spammer.send(room_id, f"spam {i}") for i in range(3)]
    keep = admin.send(room_id, "keep me")
    r = admin_call(server, admin_token, "POST", f"/v1/user/{user_path(spammer.user_id)}/redact",
                   {"rooms": [room_id], "reason": "spam"})
    assert r.status == 200, r
    redact_id = r.json["redact_id"]
    r = admin_call(server, admin_token, "GET", f"/v1/user/redact_status/{redact_id}")
    assert r.status == 200 and r.json == {"status": "complete", "failed_redactions": {}}, r
    for event_id in spam:
        ev = admin.event(room_id, event_id).json
        assert ev["content"] == {}, ev
        assert "redacted_because" in ev.get("unsigned", {}), ev
    assert admin.event(room_id, keep).json["content"]["body"] == "keep me"
    assert_error(admin_call(server, admin_token, "GET", "/v1/user/redact_status/nope"),
                 404, "M_NOT_FOUND")
    assert_error(admin_call(server, admin_token, "POST",
                            f"/v1/user/{user_path(spammer.user_id)}/redact", {"rooms": "all"}),
                 400, "M_BAD_JSON")


# ---- server notices ------------------------------------------------------------

def test_server_notice_arrives_tagged(server, admin_token):
    """modules/server_notices.md: "Servers should invite the target user
    rather than automatically join them", identify the room "with the
    m.server_notice tag", and manage "exactly 1 server notices room per
    user"."""
    user = MatrixUser(server)
    since = user.sync()["next_batch"]
    r = admin_call(server, admin_token, "POST", "/v1/send_server_notice",
                   {"user_id": user.user_id,
                    "content": {"msgtype": "m.text", "body": "Scheduled maintenance"}})
    assert r.status == 200 and r.json["event_id"].startswith("$"), r
    room_id, since = notices_room(user, since)
    bodies, tags, since = notice_bodies(user, room_id, None)
    assert "Scheduled maintenance" in bodies
    assert "m.server_notice" in tags.get("m.tag", {}).get("tags", {}), tags
    # a second notice goes to the same room
    admin_call(server, admin_token, "POST", "/v1/send_server_notice",
               {"user_id": user.user_id, "content": {"msgtype": "m.text", "body": "Second"}})
    bodies, _, _ = notice_bodies(user, room_id, since)
    assert bodies == ["Second"]
    assert_error(admin_call(server, admin_token, "POST", "/v1/send_server_notice",
                            {"user_id": mxid(unique_name("ghost")), "content": {"body": "x"}}),
                 404, "M_NOT_FOUND")
    assert_error(admin_call(server, admin_token, "POST", "/v1/send_server_notice",
                            {"user_id": user.user_id, "content": "x"}), 400, "M_BAD_JSON")


def test_notices_account_never_borrowed(make_server, tmp_path):
    """The notices are sent by a reserved account with no password: nobody
    can register its name first (registration or the admin CLI), so notices
    are never sent in an ordinary user's name, and they still go out."""
    srv = make_server()
    r = srv.client("POST", "register", {"username": "server", "password": "a long password",
                                        "auth": {"type": "m.login.dummy"}})
    assert_error(r, 400, "M_USER_IN_USE")
    assert srv.admin("create-user", "server", "--password-file",
                     _password_file(tmp_path)).returncode != 0
    boss = unique_name("boss")
    assert srv.admin("create-user", boss, "--admin", "--password-file",
                     _password_file(tmp_path)).returncode == 0
    token = srv.login(boss)["access_token"]
    victim = MatrixUser(srv)
    r = admin_call(srv, token, "POST", "/v1/send_server_notice",
                   {"user_id": victim.user_id, "content": {"msgtype": "m.text", "body": "x"}})
    assert r.status == 200, r


def test_spec_lock_and_suspend_endpoints_errors(server, admin_token):
    """admin.yaml: "The user ID does not belong to the local server. The
    errcode is M_INVALID_PARAM" (400); an unknown local user is 404."""
    for kind in ("lock", "suspend"):
        r = server.request("GET", f"/_matrix/client/v1/admin/{kind}/"
                                  f"{user_path('@a:elsewhere.example')}", token=admin_token)
        assert_error(r, 400, "M_INVALID_PARAM")
        r = server.request("PUT", f"/_matrix/client/v1/admin/{kind}/"
                                  f"{user_path(mxid(unique_name('ghost')))}",
                           {"locked": True, "suspended": True}, token=admin_token)
        assert_error(r, 404, "M_NOT_FOUND")
        r = server.request("PUT", f"/_matrix/client/v1/admin/{kind}/"
                                  f"{user_path(mxid(unique_name('ghost')))}",
                           {kind: "yes"}, token=admin_token)
        assert_error(r, 400, "M_BAD_JSON")


def test_broadcast_reaches_every_user(server, admin_token):
    """Issue 5: "A broadcast of a server notice to every local user (the
    'reminder to all users' an operator sends after an incident)"."""
    users = [MatrixUser(server) for _ in range(3)]
    gone = MatrixUser(server)
    admin_call(server, admin_token, "POST", f"/v1/deactivate/{user_path(gone.user_id)}", {})
    text = f"Please change your password ({secrets.token_hex(3)})"
    r = admin_call(server, admin_token, "POST", "/v1/send_server_notice/broadcast",
                   {"content": {"msgtype": "m.text", "body": text}})
    assert r.status == 200 and r.json["sent"] >= 3 and r.json["failed"] == 0, r
    for u in users:
        room_id, _ = notices_room(u)
        bodies, _, _ = notice_bodies(u, room_id)
        assert text in bodies


def test_new_login_notice(server):
    """Issue 5 part 6: "when an account signs in on a new device, its other
    sessions get a server notice with the device name, IP and time"."""
    user = MatrixUser(server)
    since = user.sync()["next_batch"]
    server.login(user.name, initial_device_display_name="Suspicious Laptop")
    room_id, _ = notices_room(user, since)
    bodies, _, _ = notice_bodies(user, room_id)
    assert any("Suspicious Laptop" in b and "127.0.0.1" in b and "UTC" in b for b in bodies), \
        bodies
    # logging in again on a known device (its old token is then revoked)
    # tells nobody, and neither does a first session
    again = MatrixUser(server)
    token = server.login(again.name, device_id=again.device_id)["access_token"]
    body = MatrixUser(server, token=token, user_id=again.user_id).sync(timeout=1000)
    assert not body.get("rooms", {}).get("invite"), body


# ---- rooms -----------------------------------------------------------------------

def test_rooms_list_details_members_shutdown(server, admin_token):
    """Synapse's room admin API: list (search_term, order_by, paging),
    details, members, and DELETE (shutdown: every local member leaves, the
    room leaves the directory, its aliases are deleted)."""
    owner, guest = MatrixUser(server), MatrixUser(server)
    tag = secrets.token_hex(4)
    alias_name = f"incident{tag}"
    room_id = owner.create_room(preset="public_chat", visibility="public",
                                name=f"Leak {tag}", topic="sensitive",
                                room_alias_name=alias_name)
    guest.join(room_id)
    other = owner.create_room(name=f"Other {tag}")

    r = admin_call(server, admin_token, "GET", "/v1/rooms", query={"search_term": tag})
    assert r.status == 200, r
    assert r.json["total_rooms"] == 2 and {x["room_id"] for x in r.json["rooms"]} == {room_id, other}
    r = admin_call(server, admin_token, "GET", "/v1/rooms",
                   query={"search_term": tag, "order_by": "joined_members", "dir": "b",
                          "limit": "1"})
    assert [x["room_id"] for x in r.json["rooms"]] == [room_id] and r.json["next_batch"] == 1
    entry = r.json["rooms"][0]
    assert entry["name"] == f"Leak {tag}" and entry["joined_members"] == 2
    assert entry["public"] is True and entry["join_rules"] == "public"
    assert entry["canonical_alias"] == f"#{alias_name}:localhost"
    assert_error(admin_call(server, admin_token, "GET", "/v1/rooms", query={"order_by": "x"}),
                 400, "M_INVALID_PARAM")

    r = admin_call(server, admin_token, "GET", f"/v1/rooms/{room_path(room_id)}")
    assert r.status == 200 and r.json["topic"] == "sensitive", r
    r = admin_call(server, admin_token, "GET", f"/v1/rooms/{room_path(room_id)}/members")
    assert r.status == 200 and sorted(r.json["members"]) == sorted([owner.user_id, guest.user_id])
    assert_error(admin_call(server, admin_token, "GET", f"/v1/rooms/{room_path('!no:localhost')}"),
                 404, "M_NOT_FOUND")

    r = admin_call(server, admin_token, "DELETE", f"/v1/rooms/{room_path(room_id)}", {})
    assert r.status == 200, r
    assert sorted(r.json["kicked_users"]) == sorted([owner.user_id, guest.user_id])
    assert r.json["failed_to_kick_users"] == []
    assert r.json["local_aliases"] == [f"#{alias_name}:localhost"]
    assert r.json["closed_by"] == owner.user_id
    assert admin_call(server, admin_token, "GET",
                      f"/v1/rooms/{room_path(room_id)}/members").json["members"] == []
    pub = guest.call("GET", "publicRooms").json
    assert room_id not in [c["room_id"] for c in pub["chunk"]]
    r = guest.call("GET", f"directory/room/{room_path('#' + alias_name + ':localhost')}")
    assert_error(r, 404, "M_NOT_FOUND")
    # the guest is out: it can no longer post there, nor come back to the
    # history of what was a public room
    assert_error(guest.call("PUT", f"rooms/{room_path(room_id)}/send/m.room.message/z",
                            {"msgtype": "m.text", "body": "x"}), 403, "M_FORBIDDEN")
    assert_error(guest.membership(room_id, "join"), 403, "M_FORBIDDEN")
    assert_error(MatrixUser(server).membership(room_id, "join"), 403, "M_FORBIDDEN")


# ---- the CLI -----------------------------------------------------------------------

def _cli_ok(server, *args):
    res = server.admin(*args)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    assert not sanitizer_reports(res.stderr), res.stderr
    return res.stdout


def test_cli_verbs(server, admin_token, monkeypatch):
    """`chappe admin` lock, unlock, suspend, unsuspend, whois, joined-rooms,
    room-list act on the database; send-notice, broadcast-notice and
    room-shutdown send events, so they go through the running server's admin
    API with an admin's token ($CHAPPE_ADMIN_TOKEN or --token)."""
    monkeypatch.delenv("CHAPPE_ADMIN_TOKEN", raising=False)
    user = MatrixUser(server)
    res = server.admin("send-notice", user.name, "no token")
    assert res.returncode == 2 and "CHAPPE_ADMIN_TOKEN" in res.stderr, res
    res = server.admin("room-shutdown", "!x:localhost", "--token", "not-a-token")
    assert res.returncode == 1 and "401" in res.stderr, res
    monkeypatch.setenv("CHAPPE_ADMIN_TOKEN", admin_token)
    room_id = user.create_room(name=f"cli {secrets.token_hex(3)}")

    _cli_ok(server, "lock", user.name)
    assert_error(user.call("GET", "account/whoami"), 401, "M_USER_LOCKED")
    _cli_ok(server, "unlock", user.name)
    assert user.call("GET", "account/whoami").status == 200
    _cli_ok(server, "suspend", user.user_id)
    assert_error(user.call("POST", "createRoom", {}), 403, "M_USER_SUSPENDED")
    _cli_ok(server, "unsuspend", user.user_id)
    assert user.call("POST", "createRoom", {}).status == 200

    # the last request's user agent is what whois shows
    assert user.call("GET", "account/whoami", headers={"User-Agent": "cli-agent"}).status == 200
    who = json.loads(_cli_ok(server, "whois", user.name))
    conns = who["devices"][user.device_id]["sessions"][0]["connections"]
    assert conns[0]["user_agent"] == "cli-agent"
    joined = json.loads(_cli_ok(server, "joined-rooms", user.name))
    assert room_id in joined["joined_rooms"]
    rooms = json.loads(_cli_ok(server, "room-list"))
    assert room_id in [r["room_id"] for r in rooms["rooms"]]

    assert "unknown" not in _cli_ok(server, "send-notice", user.name, "Hello from the CLI")
    notice_room, _ = notices_room(user)
    assert "Hello from the CLI" in notice_bodies(user, notice_room)[0]
    out = _cli_ok(server, "broadcast-notice", "Everyone: rotate your keys")
    assert "sent" in out
    assert "Everyone: rotate your keys" in notice_bodies(user, notice_room)[0]

    shut = json.loads(_cli_ok(server, "room-shutdown", room_id))
    assert user.user_id in shut["kicked_users"]
    res = server.admin("lock", unique_name("nobody"))
    assert res.returncode != 0
