"""Breach replay (issue 5, part 5, "Tests that must exist and pass in CI"):
the June 2026 scrape, small, against chappe's DEFAULT detection rules.

A shard is seeded through raw HTTP: USERS users, PUBLIC_ROOMS public rooms
with MESSAGES messages each, FILES files posted in them, and private
encrypted rooms. Then, over the same period:

- a busy legitimate user (young account: the tighter limits) joins a few
  public rooms, talks in two private rooms, uploads and downloads some
  files, pages back a few hundred messages and searches the directory a
  few times: nothing may fire (no log line, no alert, no refusal);
- a scraper (python3-matrix-nio) lists the public rooms, joins each one,
  pages back through all its history, then would download every file and
  sweep the user directory. The default rules must contain it (lock)
  before it has received MAX_SHARE of the public messages; an alert must
  reach the admins' security room with the exposure summary; nothing is
  served after the lock; and the ledger's exposure report must equal, item
  by item, what the scraper's client recorded receiving.

Spec: client-server-api "Account locking" (401 M_USER_LOCKED, soft_logout
true), "Rate limiting" (429 M_LIMIT_EXCEEDED), "Syncing" and "Getting
events for a room" (what the scraper reads), "User directory", content
repository "Client behaviour" (authenticated downloads).
"""

import asyncio
import concurrent.futures
import json
import time

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (PASSWORD, MatrixUser, message_bodies, mxid, room_path, run_cli,
                        sanitizer_reports, sync_timeline, unique_name, user_path)

USERS = 200
PUBLIC_ROOMS = 40
MESSAGES = 100
FILES = 20
PRIVATE_ROOMS = 4
# The bound this test holds the default rules to: the scraper is locked
# before it has received this share of the public messages.
MAX_SHARE = 0.25

ADMIN = "/_synapse/admin"
V1_MEDIA = "/_matrix/client/v1/media"
LEGACY_MEDIA = "/_matrix/media/v3"


def pool_map(fn, items, workers=8):
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, items))


def ok(r, what):
    assert r.status == 200, f"{what}: {r!r}"
    return r.json


def seed(server):
    """The shard. Returns (public rooms, their seeded text message IDs, the
    mxc URIs of the files, the private rooms)."""
    authors = [MatrixUser(server, unique_name("agent")) for _ in range(4)]
    rooms = [authors[i % 4].create_room(preset="public_chat", visibility="public",
                                        name=f"Public {i}", topic=f"topic {i}")
             for i in range(PUBLIC_ROOMS)]
    owner = {room: authors[i % 4] for i, room in enumerate(rooms)}

    def people(i):
        u = MatrixUser(server, f"person{i}_{unique_name('p')}")
        u.join(rooms[i % PUBLIC_ROOMS])

    pool_map(people, range(USERS))

    def history(room):
        return [owner[room].send(room, f"{room} message {k}") for k in range(MESSAGES)]

    seeded = set()
    for ids in pool_map(history, rooms):
        seeded.update(ids)

    def post_file(i):
        a = owner[rooms[i * 2 % PUBLIC_ROOMS]]
        data = bytes([i]) * (4096 + i)
        r = server.request("POST", f"{LEGACY_MEDIA}/upload", data, token=a.token,
                           query={"filename": f"report{i}.bin"},
                           headers={"Content-Type": "application/octet-stream"})
        uri = ok(r, "upload")["content_uri"]
        a.send(rooms[i * 2 % PUBLIC_ROOMS], content={"msgtype": "m.file", "url": uri,
                                                      "body": f"report{i}.bin"})
        return uri

    files = pool_map(post_file, range(FILES))
    private = []
    for i in range(PRIVATE_ROOMS):
        a = authors[i % 4]
        room = a.create_room(preset="private_chat", name=f"Private {i}", initial_state=[
            {"type": "m.room.encryption", "state_key": "",
             "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
        for k in range(10):
            a.send(room, event_type="m.room.encrypted", content={
                "algorithm": "m.megolm.v1.aes-sha2", "ciphertext": f"opaque{k}",
                "sender_key": "x" * 43, "session_id": "s" * 43, "device_id": "D"})
        private.append(room)
    return rooms, seeded, files, private


def make_admin(server, tmp_path):
    name = unique_name("secadmin")
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    pw.chmod(0o600)
    res = server.admin("create-user", name, "--admin", "--password-file", pw)
    assert res.returncode == 0, res.stderr
    login = server.login(name)
    return MatrixUser(server, token=login["access_token"], user_id=login["user_id"])


def busy_legitimate_user(server, rooms, files):
    """An ordinary busy agent's day, compressed: every request must succeed."""
    me = MatrixUser(server, unique_name("busy"))
    colleague = MatrixUser(server, unique_name("colleague"))
    since = me.sync()["next_batch"]
    for room in rooms[:3]:
        me.join(room)
    team = [me.create_room(preset="private_chat", name=f"Team {i}") for i in range(2)]
    for room in team:
        me.invite(room, colleague.user_id)
        colleague.join(room)
    for k in range(60):
        room = (team + rooms[:3])[k % 5]
        me.send(room, f"busy work {k}")
        if k % 10 == 9:
            since = me.sync(since)["next_batch"]
            colleague.send(team[0], f"reply {k}")
    for i in range(3):
        data = b"minutes" * (500 + i)
        r = server.request("POST", f"{LEGACY_MEDIA}/upload", data, token=me.token,
                           headers={"Content-Type": "application/octet-stream"})
        uri = ok(r, "upload")["content_uri"]
        me.send(team[0], content={"msgtype": "m.file", "url": uri, "body": f"m{i}.txt"})
    for uri in files[:5]:
        srv, media_id = uri[len("mxc://"):].split("/", 1)
        ok(server.request("GET", f"{V1_MEDIA}/download/{srv}/{media_id}", token=me.token),
           "download")
    # a few hundred messages paged back, in the public rooms joined
    for room in rooms[:3]:
        ok(me.messages(room, limit=100), "messages")
    for term in ("person1", "agent", "colleague"):
        ok(me.call("POST", "user_directory/search", {"search_term": term, "limit": 10}),
           "directory")
    ok(me.call("GET", "publicRooms", query={"limit": "20"}), "publicRooms")
    me.sync(since)
    return me


def nio_client(server, user=""):
    # no retries: a 429 or 401 must surface to the scraper loop as is
    config = nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, request_timeout=30,
                                   encryption_enabled=False, store_sync_tokens=False)
    return nio.AsyncClient(server.url, user, config=config)


def ids_of(events):
    out = set()
    for e in events or []:
        src = e if isinstance(e, dict) else e.source
        if isinstance(src, dict) and "event_id" in src:
            out.add(src["event_id"])
    return out


class Scrape:
    """What the scraper's client recorded receiving, and how it ended."""

    def __init__(self):
        self.events = {}          # room_id -> event IDs received
        self.media = {}           # media_id -> bytes received
        self.directory = set()    # user IDs revealed
        self.refusals = []        # (what, errcode)
        self.locked = False
        self.throttled = 0

    def got(self, room_id, ids):
        if ids:
            self.events.setdefault(room_id, set()).update(ids)

    def refused(self, what, errcode):
        self.refusals.append((what, errcode))
        if errcode == "M_USER_LOCKED":
            self.locked = True
        elif errcode == "M_LIMIT_EXCEEDED":
            self.throttled += 1


def errcode_of(resp):
    code = getattr(resp, "status_code", None)
    return code if isinstance(code, str) else None


async def scraper_run(server, rooms, files, record):
    name = unique_name("scraper")
    client = nio_client(server, name)
    r = await client.register(name, PASSWORD, device_name="totally-normal-client")
    assert isinstance(r, nio.RegisterResponse), r
    token = client.access_token
    try:
        s = await client.sync(timeout=0)
        since = s.next_batch
        listing = server.request("GET", "/_matrix/client/v3/publicRooms", token=token,
                                 query={"limit": "100"})
        assert listing.status == 200, listing
        targets = [c["room_id"] for c in listing.json["chunk"]]
        assert set(rooms) <= set(targets)
        for room in targets:
            if record.locked:
                break
            j = await client.join(room)
            if not isinstance(j, nio.JoinResponse):
                record.refused("join", errcode_of(j))
                continue
            s = await client.sync(timeout=0, since=since)
            if not isinstance(s, nio.SyncResponse):
                record.refused("sync", errcode_of(s))
                continue
            since = s.next_batch
            for room_id, info in s.rooms.join.items():
                record.got(room_id, ids_of(info.timeline.events) | ids_of(info.state))
            info = s.rooms.join.get(room)
            token_back = info.timeline.prev_batch if info else None
            # page back through the whole history ("Getting events for a room")
            while token_back:
                m = await client.room_messages(room, token_back, limit=100)
                if not isinstance(m, nio.RoomMessagesResponse):
                    record.refused("messages", errcode_of(m))
                    break
                record.got(room, ids_of(m.chunk) | ids_of(getattr(m, "state", [])))
                if not m.chunk or not m.end or m.end == token_back:
                    break
                token_back = m.end
        # every file, through the authenticated download path
        for uri in files:
            srv, media_id = uri[len("mxc://"):].split("/", 1)
            d = server.request("GET", f"{V1_MEDIA}/download/{srv}/{media_id}", token=token)
            if d.status == 200:
                record.media[media_id] = len(d.body)
            else:
                record.refused("download", d.errcode)
        # the user directory, swept
        for term in "abcdefghijklmnopqrstuvwxyz0123456789":
            d = server.request("POST", "/_matrix/client/v3/user_directory/search", token=token,
                               body={"search_term": term, "limit": 100})
            if d.status == 200:
                record.directory.update(u["user_id"] for u in d.json["results"])
            else:
                record.refused("directory", d.errcode)
        return client.user_id, token
    finally:
        await client.close()


def security_notices(admin, scraper_id, deadline_s=20):
    """The admin is invited to the security room by the notices account,
    joins it, and reads the alerts about scraper_id. Returns (the room,
    the notice bodies)."""
    since, joined, bodies = None, {}, []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        body = admin.sync(since, timeout=1000)
        since = body["next_batch"]
        for rid, inv in body.get("rooms", {}).get("invite", {}).items():
            if mxid("server") in {e.get("sender") for e in inv["invite_state"]["events"]}:
                admin.join(rid)
                joined[rid] = []
        for rid in joined:
            joined[rid] += [e for e in sync_timeline(body, rid)
                            if e.get("content", {}).get("msgtype") == "m.notice"]
        for rid, notices in joined.items():
            bodies = message_bodies(notices)
            if any(scraper_id in b and "Rule action: lock" in b for b in bodies):
                return rid, bodies
    return None, bodies


def exposure(server, user_id):
    res = run_cli("audit", "--config", server.config_path, "exposure", user_id,
                  "--format", "json")
    assert not sanitizer_reports(res.stderr), res.stderr
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_breach_replay_scraper_contained_busy_user_untouched(make_server, tmp_path):
    # the DEFAULT rules (base_config turns detection off for other tests)
    server = make_server(scraper_detection={"enabled": True})
    admin = make_admin(server, tmp_path)
    t0 = time.monotonic()
    rooms, seeded, files, private = seed(server)
    seeded_s = time.monotonic() - t0

    # ---- a busy legitimate user, same period: nothing fires ----------------
    busy = busy_legitimate_user(server, rooms, files)
    assert f"detect: {busy.user_id}" not in server.stderr_text()
    invites = admin.sync().get("rooms", {}).get("invite", {})
    assert not invites, f"an alert was raised during ordinary use: {invites}"

    # ---- the scraper ------------------------------------------------------
    record = Scrape()
    scraper_id, token = asyncio.run(scraper_run(server, rooms, files, record))
    print(f"seeded in {seeded_s:.1f}s; scraper refusals: {record.refusals[:5]}...")

    # contained by the default rules ("Account locking": 401 M_USER_LOCKED)
    assert record.locked, f"the scraper was never locked: {record.refusals}"
    r = server.request("GET", f"/_matrix/client/v1/admin/lock/{user_path(scraper_id)}",
                       token=admin.token)
    assert r.status == 200 and r.json["locked"] is True, r

    # before it received a bounded share of the public content
    received = set().union(*record.events.values()) if record.events else set()
    got = len(received & seeded)
    share = got / len(seeded)
    print(f"scraper received {got} of {len(seeded)} public messages ({share:.1%}), "
          f"{len(record.media)} of {FILES} files, {len(record.directory)} users; "
          f"throttled {record.throttled} times")
    assert share < MAX_SHARE, f"the scraper got {share:.1%} of the public messages"
    assert not set(record.events) & set(private)

    # nothing is served after the lock
    before = {k: set(v) for k, v in record.events.items()}
    probes = [
        ("GET", "/_matrix/client/v3/sync", None, {"timeout": "0"}),
        ("GET", f"/_matrix/client/v3/rooms/{room_path(rooms[0])}/messages", None,
         {"dir": "b", "limit": "50"}),
        ("POST", "/_matrix/client/v3/user_directory/search", {"search_term": "p"}, None),
        ("GET", "/_matrix/client/v3/publicRooms", None, None),
        ("POST", f"/_matrix/client/v3/join/{room_path(rooms[-1])}", {}, None),
        ("GET", V1_MEDIA + "/download/" + files[0][len("mxc://"):], None, None),
    ]
    for method, path, body, query in probes:
        r = server.request(method, path, body, token=token, query=query)
        assert r.status == 401 and r.errcode == "M_USER_LOCKED", (path, r)
        assert r.json.get("soft_logout") is True
    assert record.events == before

    # an alert reached the security room, with the exposure summary
    room_id, bodies = security_notices(admin, scraper_id)
    assert room_id, "the admin was never invited to the security room"
    about = [b for b in bodies if scraper_id in b]
    assert about, bodies
    assert any("Rule action: lock" in b for b in about), about
    assert all("Exposure so far:" in b for b in about), about

    # the exposure report equals what the client recorded, item by item
    end = time.monotonic() + 15
    while True:
        report = exposure(server, scraper_id)
        served = {r["room_id"]: set(r.get("event_ids", [])) for r in report["rooms"]
                  if r["status"] == "served"}
        if served == record.events or time.monotonic() > end:
            break
        time.sleep(0.3)
    assert served == record.events, {
        r: (len(record.events.get(r, set()) - served.get(r, set())),
            len(served.get(r, set()) - record.events.get(r, set())))
        for r in set(served) | set(record.events)}
    assert {m["media_id"] for m in report["media"]} == set(record.media)
    assert {m["media_id"]: m["bytes_served"] for m in report["media"]} == record.media
    assert report["directory"]["distinct_users_revealed"] == len(record.directory)

    # and the busy user is still untouched at the end
    assert f"detect: {busy.user_id}" not in server.stderr_text()
    assert busy.call("GET", "account/whoami").status == 200


# ---- rules from homeserver.yaml: webhook, throttle, suspend ---------------------

class _Hook:
    """A local webhook receiver: the JSON bodies POSTed to it."""

    def __init__(self):
        import http.server
        import threading

        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                bodies.append((self.headers.get("Content-Type"), json.loads(self.rfile.read(n))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, deadline_s=10):
        end = time.monotonic() + deadline_s
        while len(self.bodies) < n and time.monotonic() < end:
            time.sleep(0.05)
        return self.bodies

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_configured_rules_webhook_throttle_suspend(make_server):
    hook = _Hook()
    try:
        server = make_server(scraper_detection={
            "enabled": True,
            "young_account_percent": 100,
            "throttle_seconds": 120,
            "alert_webhook_url": hook.url,
            "directory_searches": {"seconds": 3600, "alert": 2, "throttle": 3},
            "public_room_joins": {"seconds": 3600, "suspend": 1},
        })
        owner = MatrixUser(server, unique_name("owner"))
        room = owner.create_room(preset="public_chat", name="Lobby")
        user = MatrixUser(server, unique_name("searcher"))

        def search():
            return user.call("POST", "user_directory/search", {"search_term": "owner"})

        assert search().status == 200
        assert search().status == 200           # 2nd search: alert
        got = hook.wait(1)
        assert len(got) == 1, got
        ctype, alert = got[0]
        assert ctype == "application/json"
        assert alert["user_id"] == user.user_id and alert["rule"] == "directory_searches"
        assert alert["action"] == "alert" and alert["count"] == 2 and alert["threshold"] == 2
        assert alert["exposure"]["directory_searches"] == 2
        assert alert["exposure"]["directory_users"] == 1
        assert "Exposure so far:" in alert["body"]

        assert search().status == 200           # 3rd: throttled from now on
        # client-server-api "Rate limiting": 429 M_LIMIT_EXCEEDED, and
        # "Homeservers SHOULD include a Retry-After header"
        r = user.call("GET", "sync", query={"timeout": "0"})
        assert r.status == 429 and r.errcode == "M_LIMIT_EXCEEDED", r
        assert 0 < r.json["retry_after_ms"] <= 120000
        assert 0 < int(r.headers["Retry-After"]) <= 120
        assert search().status == 429
        # writes are not reads: they still work
        own = user.create_room(preset="private_chat")
        assert own
        assert hook.wait(2)[1][1]["action"] == "throttle"
        # other accounts are not affected
        assert owner.call("GET", "sync", query={"timeout": "0"}).status == 200

        # a public join with suspend at 1 (client-server-api "Account
        # suspension": writes get 403 M_USER_SUSPENDED, reads still work)
        joiner = MatrixUser(server, unique_name("joiner"))
        joiner.join(room)
        r = joiner.call("PUT", f"rooms/{room_path(room)}/send/m.room.message/t1",
                        {"msgtype": "m.text", "body": "hi"})
        assert r.status == 403 and r.errcode == "M_USER_SUSPENDED", r
        assert joiner.call("GET", "sync", query={"timeout": "0"}).status == 200
        got = hook.wait(3)
        assert got[2][1]["action"] == "suspend" and got[2][1]["user_id"] == joiner.user_id
        assert "(done)" in got[2][1]["body"]
        # joining a room the join rule does not make public counts nothing
        other = MatrixUser(server, unique_name("invitee"))
        private = owner.create_room(preset="private_chat")
        owner.invite(private, other.user_id)
        other.join(private)
        assert other.call("PUT", f"rooms/{room_path(private)}/send/m.room.message/t1",
                          {"msgtype": "m.text", "body": "hi"}).status == 200
    finally:
        hook.close()


def test_detection_disabled(make_server):
    """scraper_detection.enabled: false: nothing is counted, nothing fires."""
    server = make_server(scraper_detection={
        "enabled": False, "young_account_percent": 100,
        "public_room_joins": {"seconds": 3600, "lock": 1}})
    owner = MatrixUser(server, unique_name("owner"))
    room = owner.create_room(preset="public_chat")
    user = MatrixUser(server, unique_name("joiner"))
    user.join(room)
    assert user.call("GET", "sync", query={"timeout": "0"}).status == 200
    assert "scraper detection is disabled" in server.stderr_text()


def test_lock_from_a_read_path(make_server):
    """A lock fired while a read is being served (history_events, counted
    in /messages and /context) takes effect on the very next request, and
    the parked long-poll of another session of the account ends at once
    ("Account locking": 401 M_USER_LOCKED, soft_logout true)."""
    import threading

    server = make_server(scraper_detection={
        "enabled": True, "young_account_percent": 100,
        "history_events": {"seconds": 3600, "alert": 20, "lock": 40}})
    owner = MatrixUser(server, unique_name("owner"))
    room = owner.create_room(preset="public_chat")
    ids = [owner.send(room, f"m{k}") for k in range(60)]
    reader = MatrixUser(server, unique_name("reader"))
    reader.join(room)
    other = MatrixUser(server, token=server.login(reader.name)["access_token"],
                       user_id=reader.user_id)
    since = other.sync()["next_batch"]
    parked = {}

    def long_poll():
        parked["r"] = other.call("GET", "sync", query={"since": since, "timeout": "30000"},
                                 timeout=40)

    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(0.5)
    started = time.monotonic()
    r = reader.messages(room, limit=30)      # 30 history events: alert only
    assert r.status == 200 and len(r.json["chunk"]) == 30
    r = reader.call("GET", f"rooms/{room_path(room)}/context/{room_path(ids[10])}",
                    query={"limit": "20"})   # this read reaches 40: locked
    assert r.status == 200, r
    r = reader.messages(room, limit=5)
    assert r.status == 401 and r.errcode == "M_USER_LOCKED", r
    t.join(20)
    assert not t.is_alive()
    assert parked["r"].status == 401 and parked["r"].errcode == "M_USER_LOCKED"
    assert time.monotonic() - started < 10


def test_new_device_from_new_ip(make_server):
    """A new device signing in from an IP none of the account's devices
    was seen from counts for new_device_ip; the same IP does not. The
    client binds 127.0.0.2 as its source address for the "new" IP."""
    import http.client

    hook = _Hook()
    try:
        server = make_server(scraper_detection={
            "enabled": True, "young_account_percent": 100, "alert_webhook_url": hook.url,
            "new_device_ip": {"seconds": 3600, "alert": 1}})
        user = MatrixUser(server, unique_name("traveller"))
        user.sync()                          # the first device is seen from 127.0.0.1
        server.login(user.name)              # a new device, same IP: nothing
        time.sleep(0.5)
        assert hook.bodies == []
        body = json.dumps({"type": "m.login.password", "password": PASSWORD,
                           "identifier": {"type": "m.id.user", "user": user.name}})
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30,
                                          source_address=("127.0.0.2", 0))
        try:
            conn.request("POST", "/_matrix/client/v3/login", body=body,
                         headers={"Content-Type": "application/json"})
            assert conn.getresponse().status == 200
        finally:
            conn.close()
        got = hook.wait(1)
        assert len(got) == 1 and got[0][1]["rule"] == "new_device_ip", got
        assert got[0][1]["user_id"] == user.user_id
    finally:
        hook.close()
