"""The access ledger and exposure reports, end to end (issue 5, parts 3
and 4: "record every read ... append-only and hash-chained (`chappe audit
verify` detects any edited or deleted row)"; the exposure report "must
match exactly what the account's clients received" and "distinguishes
'served' from 'readable but never requested'").

A matrix-nio client reads rooms through /sync, /messages, /event, /context
and /members (raw HTTP with the nio session's token: nio 0.20 only has
/joined_members). Every event ID it receives is collected client-side and
compared, as a set, with the event IDs `chappe audit exposure` lists. The
spec sections the reads exercise are named in each step.
"""

import asyncio
import json
import sqlite3
import time

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (PASSWORD, MatrixUser, room_path, run_cli, sanitizer_reports,
                        unique_name)

ADMIN = "/_synapse/admin"


def nio_client(server, user=""):
    config = nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                   request_timeout=30, encryption_enabled=False,
                                   store_sync_tokens=False)
    return nio.AsyncClient(server.url, user, config=config)


def ids_of(events):
    """Event IDs of nio events (their raw `source`) or raw dicts."""
    out = set()
    for e in events or []:
        src = e if isinstance(e, dict) else e.source
        if "event_id" in src:
            out.add(src["event_id"])
    return out


def sync_ids(resp):
    """room_id -> event IDs a nio SyncResponse carried (timeline and state
    of joined and left rooms: the sections that hold room events)."""
    got = {}
    for section in (resp.rooms.join, resp.rooms.leave):
        for room_id, room in section.items():
            got.setdefault(room_id, set()).update(ids_of(room.timeline.events),
                                                  ids_of(room.state))
    return got


def merge(into, room_id, ids):
    into.setdefault(room_id, set()).update(ids)


def audit(server, *args):
    res = run_cli("audit", "--config", server.config_path, *args)
    assert not sanitizer_reports(res.stderr), res.stderr
    return res


def exposure(server, user_id, *extra):
    res = audit(server, "exposure", user_id, "--format", "json", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def report_ids(report):
    return {r["room_id"]: set(r.get("event_ids", [])) for r in report["rooms"]
            if r["status"] == "served"}


def wait_report(server, user_id, want, deadline_s=15):
    """The ledger is written off the request path (a batch at most 200 ms
    behind): read the report until it holds everything, then return it."""
    end = time.monotonic() + deadline_s
    while True:
        report = exposure(server, user_id)
        got = report_ids(report)
        if all(want[r] <= got.get(r, set()) for r in want) or time.monotonic() > end:
            return report
        time.sleep(0.2)


def db_path(server):
    return server.workdir / "homeserver.db"


def tamper(server, sql, *params):
    db = sqlite3.connect(db_path(server), timeout=10)
    try:
        cur = db.execute(sql, params)
        db.commit()
        assert cur.rowcount == 1, sql
    finally:
        db.close()


def scenario(server):
    """alice: a public room with history, a private room bob is invited
    to, and a third room bob joins last and never reads. bob reads through
    nio. Returns (bob's user ID and token, the rooms, what bob received)."""
    alice = MatrixUser(server, unique_name("alice"))
    public = alice.create_room(preset="public_chat", name="Town square")
    private = alice.create_room(preset="private_chat", name="Back office")
    unread = alice.create_room(preset="public_chat", name="Never opened")
    for i in range(6):
        alice.send(public, f"public history {i}")
    for i in range(3):
        alice.send(private, f"private {i}")
    alice.send(unread, "nobody asked for this")
    received = {}

    async def go():
        name = unique_name("bob")
        bob = nio_client(server, name)
        r = await bob.register(name, PASSWORD, device_name="nio-ledger")
        assert isinstance(r, nio.RegisterResponse), r
        try:
            alice.invite(private, bob.user_id)
            for room in (public, private):
                assert isinstance(await bob.join(room), nio.JoinResponse)
            # Syncing (client-server-api "Syncing"): initial sync
            s = await bob.sync(timeout=0, full_state=True)
            assert isinstance(s, nio.SyncResponse), s
            for room_id, ids in sync_ids(s).items():
                merge(received, room_id, ids)
            prev_batch = s.rooms.join[public].timeline.prev_batch
            # incremental sync after two more messages
            alice.send(public, "new 1")
            alice.send(public, "new 2")
            s2 = await bob.sync(timeout=3000, since=s.next_batch)
            assert isinstance(s2, nio.SyncResponse), s2
            for room_id, ids in sync_ids(s2).items():
                merge(received, room_id, ids)
            # GET /rooms/{roomId}/messages ("Syncing", "Getting events for a room")
            m = await bob.room_messages(public, prev_batch, limit=3)
            assert isinstance(m, nio.RoomMessagesResponse), m
            merge(received, public, ids_of(m.chunk))
            # GET /rooms/{roomId}/event/{eventId}
            target = sorted(received[private])[0]
            e = await bob.room_get_event(private, target)
            assert isinstance(e, nio.RoomGetEventResponse), e
            merge(received, private, ids_of([e.event]))
            # GET /rooms/{roomId}/context/{eventId}
            pick = next(iter(ids_of(m.chunk)))
            c = await bob.room_context(public, pick, limit=4)
            assert isinstance(c, nio.RoomContextResponse), c
            merge(received, public, ids_of(c.events_before) | ids_of(c.events_after) |
                  ids_of([c.event]) | ids_of(c.state))
            return bob.user_id, bob.access_token
        finally:
            await bob.close()

    bob_id, token = asyncio.run(go())
    bob = MatrixUser(server, token=token, user_id=bob_id)
    # GET /rooms/{roomId}/members (nio 0.20 has only /joined_members)
    r = bob.call("GET", f"rooms/{room_path(private)}/members")
    assert r.status == 200, r
    merge(received, private, ids_of(r.json["chunk"]))
    # joined last, never synced or read: readable, not requested
    bob.join(unread)
    return bob, (public, private, unread), received


def test_exposure_lists_exactly_what_the_client_received(make_server):
    """Part 4: "It must match exactly what the account's clients received";
    "The report distinguishes 'served' from 'readable but never
    requested'"; encrypted or not, public or private per room."""
    server = make_server()
    bob, (public, private, unread), received = scenario(server)
    report = wait_report(server, bob.user_id, received)
    got = report_ids(report)

    assert got == received, {r: (sorted(received.get(r, set()) - got.get(r, set())),
                                 sorted(got.get(r, set()) - received.get(r, set())))
                             for r in set(got) | set(received)}
    rooms = {r["room_id"]: r for r in report["rooms"]}
    assert rooms[public]["status"] == "served" and rooms[public]["public"] is True
    assert rooms[public]["name"] == "Town square"
    assert rooms[private]["status"] == "served" and rooms[private]["public"] is False
    assert rooms[unread]["status"] == "readable_not_requested"
    assert rooms[unread]["events_served"] == 0 and rooms[unread]["joined_ts"]
    for room in (public, private):
        assert rooms[room]["encrypted"] is False
        assert rooms[room]["events_served"] == len(received[room])
        assert rooms[room]["joined_ts"] and rooms[room]["left_ts"] is None
    assert report["totals"]["events_served"] == sum(len(v) for v in received.values())
    assert report["totals"]["rooms_served"] == 2
    assert report["totals"]["rooms_readable_not_requested"] == 1
    # sessions: nio's device, and the IP it came from
    assert any(s["device_id"] for s in report["sessions"])
    assert "127.0.0.1" in report["ips"]
    # the kinds of reads the client made, per room
    assert {"sync", "messages", "context"} <= set(rooms[public]["reads"])
    assert {"sync", "event", "members"} <= set(rooms[private]["reads"])

    # a window that ends before everything is empty
    early = exposure(server, bob.user_id, "--until", "2000-01-01")
    assert report_ids(early) == {} and early["totals"]["reads"] == 0

    # markdown and html are rendered with the same rooms
    md = audit(server, "exposure", bob.user_id, "--format", "markdown")
    assert md.returncode == 0 and "Town square" in md.stdout
    assert "Rooms readable but never requested" in md.stdout
    html = audit(server, "exposure", bob.user_id, "--format", "html")
    assert html.returncode == 0 and "<table>" in html.stdout
    bad = audit(server, "exposure", bob.user_id, "--format", "pdf")
    assert bad.returncode == 2


def test_directory_search_and_profile_are_recorded(make_server):
    """Part 3's kinds beyond room events: "directory search" with its result
    count, "profile"; part 4: "directory searches and how many distinct users
    they revealed"."""
    server = make_server()
    prefix = unique_name("zed")
    targets = [MatrixUser(server, f"{prefix}{i}") for i in range(3)]
    seeker = MatrixUser(server, unique_name("seeker"))
    # the user directory shows users who share a room, or are in public rooms
    room = targets[0].create_room(preset="public_chat")
    for t in targets[1:] + [seeker]:
        t.join(room)
    hits = set()
    for term in (prefix, prefix + "1"):
        r = seeker.call("POST", "user_directory/search", {"search_term": term})
        assert r.status == 200, r
        hits |= {u["user_id"] for u in r.json["results"]}
    assert len(hits) == 3
    r = seeker.call("GET", f"profile/{room_path(targets[2].user_id)}")
    assert r.status == 200, r
    end = time.monotonic() + 15
    while True:
        report = exposure(server, seeker.user_id)
        if len(report["directory"]["searches"]) == 2 or time.monotonic() > end:
            break
        time.sleep(0.2)
    d = report["directory"]
    assert [s["term"] for s in d["searches"]] == [prefix, prefix + "1"]
    assert d["distinct_users_revealed"] == 3
    assert set(d["users_revealed"]) == hits
    assert report["profiles_read"] == [targets[2].user_id]


def test_admin_exposure_endpoint(make_server, tmp_path):
    """The report as an admin endpoint: GET
    /_synapse/admin/v1/users/{userId}/exposure, admins only (403 M_FORBIDDEN
    for others, as Synapse's admin API answers)."""
    server = make_server()
    bob, (public, private, unread), received = scenario(server)
    r = server.request("GET", f"{ADMIN}/v1/users/{room_path(bob.user_id)}/exposure",
                       token=bob.token)
    assert r.status == 403 and r.errcode == "M_FORBIDDEN", r
    name = unique_name("boss")
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    assert server.admin("create-user", name, "--admin", "--password-file", pw).returncode == 0
    token = server.login(name)["access_token"]
    # the endpoint flushes the ledger first: no waiting needed
    r = server.request("GET", f"{ADMIN}/v1/users/{room_path(bob.user_id)}/exposure",
                       token=token)
    assert r.status == 200, r
    assert report_ids(r.json) == received
    r = server.request("GET", f"{ADMIN}/v1/users/{room_path(bob.user_id)}/exposure",
                       token=token, query={"format": "html", "event_ids": "false"})
    assert r.status == 200 and b"Back office" in r.body, r
    r = server.request("GET", f"{ADMIN}/v1/users/{room_path(bob.user_id)}/exposure",
                       token=token, query={"since": "yesterday"})
    assert r.status == 400 and r.errcode == "M_INVALID_PARAM", r


def test_verify_detects_edited_and_deleted_rows(make_server):
    """Part 3: "`chappe audit verify` walks the chain and reports the first
    edited or deleted row (exit non-zero)"."""
    server = make_server()
    bob, _, received = scenario(server)
    wait_report(server, bob.user_id, received)
    ok = audit(server, "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ledger OK" in ok.stdout

    db = sqlite3.connect(db_path(server), timeout=10)
    (seq, items), = db.execute("SELECT seq, items FROM ledger WHERE user_id = ? AND "
                               "items IS NOT NULL ORDER BY seq LIMIT 1", (bob.user_id,))
    (last,), = db.execute("SELECT MAX(seq) FROM ledger")
    db.close()
    assert seq < last - 1

    # an intruder hides one event from what bob was served
    tamper(server, "UPDATE ledger SET items = ? WHERE seq = ?", items + ",999999", seq)
    bad = audit(server, "verify")
    assert bad.returncode == 1, bad.stdout
    assert f"row {seq} edited" in bad.stdout

    # put it back: the chain is whole again
    tamper(server, "UPDATE ledger SET items = ? WHERE seq = ?", items, seq)
    assert audit(server, "verify").returncode == 0

    # delete a row in the middle
    tamper(server, "DELETE FROM ledger WHERE seq = ?", seq + 1)
    gone = audit(server, "verify")
    assert gone.returncode == 1, gone.stdout
    assert f"row {seq + 1} missing" in gone.stdout


def test_ledger_disabled_records_nothing(make_server):
    """ledger_enabled: false (docs/configuration.md): nothing is recorded,
    so the report is empty, and the chain stays (trivially) whole."""
    server = make_server(ledger_enabled=False)
    bob, (public, private, unread), received = scenario(server)
    time.sleep(0.5)
    report = exposure(server, bob.user_id)
    assert report["totals"]["reads"] == 0 and report_ids(report) == {}
    # the rooms bob could read are still listed, as never requested
    assert {r["status"] for r in report["rooms"]} == {"readable_not_requested"}
    assert audit(server, "verify").returncode == 0


def with_bundled(ev):
    """An event's ID and those of the events bundled in full in its
    unsigned m.relations (client-server-api "Aggregations of child events":
    an edit's m.replace, a thread's latest_event), recursively."""
    ids = {ev["event_id"]}
    rels = ev.get("unsigned", {}).get("m.relations", {})
    if "m.replace" in rels:
        ids |= with_bundled(rels["m.replace"])
    if "m.thread" in rels:
        ids |= with_bundled(rels["m.thread"]["latest_event"])
    return ids


def test_bundled_aggregations_count_what_was_sent(make_server):
    """GET /rooms/{roomId}/event/{eventId} bundles the root's aggregations
    (Threading and Event replacements, "Server-side aggregation"): the latest
    thread reply and the latest edit go out in full, so they are served; the
    other replies, edits and references were only looked at to build the
    bundle, so they are not."""
    server = make_server()
    alice = MatrixUser(server, unique_name("alice"))
    room = alice.create_room(preset="public_chat")
    root = alice.send(room, "root")

    def rel(rel_type, body, **extra):
        content = {"msgtype": "m.text", "body": body,
                   "m.relates_to": {"rel_type": rel_type, "event_id": root}}
        content.update(extra)
        return alice.send(room, body, content=content)

    for i in range(3):
        rel("m.thread", f"reply {i}")
        rel("m.replace", f"* edit {i}", **{"m.new_content": {"msgtype": "m.text",
                                                             "body": f"edit {i}"}})
        alice.send(room, f"ref {i}", content={"msgtype": "m.text", "body": "ref",
                                              "m.relates_to": {"rel_type": "m.reference",
                                                               "event_id": root}})
    reader = MatrixUser(server, unique_name("reader"))
    reader.join(room)
    r = reader.event(room, root)
    assert r.status == 200, r
    received = {room: with_bundled(r.json)}
    assert len(received[room]) == 3, r.json   # the root, a reply and an edit
    report = wait_report(server, reader.user_id, received)
    assert report_ids(report) == received


def test_sync_filter_is_applied_before_recording(make_server):
    """Filtering (client-server-api "Filtering"): events a sync filter keeps
    out never reach the client, so they are not in its exposure either."""
    server = make_server()
    alice = MatrixUser(server, unique_name("alice"))
    room = alice.create_room(preset="public_chat", name="Filtered")
    for i in range(3):
        alice.send(room, f"message {i}")
        alice.send(room, "", event_type="org.example.other", content={"n": i})
    reader = MatrixUser(server, unique_name("reader"))
    reader.join(room)
    body = reader.sync(filter={"room": {"timeline": {"types": ["m.room.message"]},
                                        "state": {"types": ["m.room.name"]}}})
    joined = body["rooms"]["join"][room]
    received = {room: ids_of(joined["timeline"]["events"]) | ids_of(joined["state"]["events"])}
    assert len(received[room]) >= 3, joined   # at least the three messages
    report = wait_report(server, reader.user_id, received)
    assert report_ids(report) == received


def test_filtered_reads_record_what_was_sent(make_server):
    """Each read path with its own filter (rooms.yaml /members membership,
    /messages and /context RoomEventFilter with lazy_load_members,
    room_state.yaml GET /state/{eventType}/{stateKey}): the report lists
    what each response carried, not what was read to build it."""
    server = make_server()
    alice = MatrixUser(server, unique_name("alice"))
    carol = MatrixUser(server, unique_name("carol"))
    room = alice.create_room(preset="public_chat", name="Paths")
    carol.join(room)
    sent = [alice.send(room, f"m{i}") for i in range(4)]
    for i in range(3):
        carol.send(room, "", event_type="org.example.other", content={"n": i})
    reader = MatrixUser(server, unique_name("reader"))
    reader.join(room)
    got = set()
    lazy = {"lazy_load_members": True, "types": ["m.room.message", "m.room.member"]}

    r = reader.call("GET", f"rooms/{room_path(room)}/members", query={"membership": "join"})
    assert r.status == 200, r
    got |= ids_of(r.json["chunk"])
    r = reader.messages(room, "b", limit=6, filter=lazy)
    assert r.status == 200, r
    got |= ids_of(r.json["chunk"]) | ids_of(r.json.get("state", []))
    r = reader.call("GET", f"rooms/{room_path(room)}/context/{room_path(sent[1])}",
                    query={"limit": "4", "filter": json.dumps(lazy)})
    assert r.status == 200, r
    got |= (ids_of(r.json["events_before"]) | ids_of(r.json["events_after"]) |
            ids_of([r.json["event"]]) | ids_of(r.json["state"]))
    r = reader.call("GET", f"rooms/{room_path(room)}/state/m.room.name")
    assert r.status == 200 and r.json == {"name": "Paths"}, r
    name = reader.call("GET", f"rooms/{room_path(room)}/state/m.room.name",
                       query={"format": "event"}).json["event_id"]
    got.add(name)
    received = {room: got}
    report = wait_report(server, reader.user_id, received)
    assert report_ids(report) == received, (sorted(report_ids(report)[room] - got),
                                            sorted(got - report_ids(report)[room]))


def test_search_records_the_page_it_returns(make_server):
    """Server Side Search (POST /search): the server looks at many hits to
    count them and fill a page; only the page's results (and their
    context) are served."""
    server = make_server()
    alice = MatrixUser(server, unique_name("alice"))
    room = alice.create_room(preset="public_chat")
    for i in range(12):
        alice.send(room, f"needle number {i}")
    reader = MatrixUser(server, unique_name("reader"))
    reader.join(room)
    r = reader.call("POST", "search", {"search_categories": {"room_events": {
        "search_term": "needle", "filter": {"limit": 3},
        "event_context": {"before_limit": 1, "after_limit": 1}}}})
    assert r.status == 200, r
    res = r.json["search_categories"]["room_events"]
    assert res["count"] == 12 and len(res["results"]) == 3, res
    got = set()
    for item in res["results"]:
        got |= ids_of([item["result"]])
        got |= ids_of(item["context"]["events_before"]) | ids_of(item["context"]["events_after"])
    received = {room: got}
    report = wait_report(server, reader.user_id, received)
    assert report_ids(report) == received
    assert set(rooms_reads(report, room)) == {"search"}


def rooms_reads(report, room_id):
    return next(r["reads"] for r in report["rooms"] if r["room_id"] == room_id)


def test_relations_record_the_children_not_the_parent(make_server):
    """GET /rooms/{roomId}/relations/{eventId} (relations.yaml): the parent
    is checked for visibility but not sent; its children are."""
    server = make_server()
    alice = MatrixUser(server, unique_name("alice"))
    room = alice.create_room(preset="public_chat")
    root = alice.send(room, "root")
    for i in range(2):
        alice.send(room, f"ref {i}", content={"msgtype": "m.text", "body": "ref",
                                              "m.relates_to": {"rel_type": "m.reference",
                                                               "event_id": root}})
    reader = MatrixUser(server, unique_name("reader"))
    reader.join(room)
    r = reader.call("GET", f"rooms/{room_path(room)}/relations/{room_path(root)}",
                    prefix="v1")
    assert r.status == 200 and len(r.json["chunk"]) == 2, r
    received = {room: ids_of(r.json["chunk"])}
    report = wait_report(server, reader.user_id, received)
    assert report_ids(report) == received
