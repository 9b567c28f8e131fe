"""Typing notifications, read receipts, read markers and presence, end to
end: matrix-nio 0.20 where it has the call (room_typing,
update_receipt_marker, room_read_markers, set_presence, get_presence), raw
HTTP where the exact wire value or an error code matters.

Each test quotes the part of the Client-Server API spec (v1.19,
content/client-server-api/modules/{typing_notifications,receipts,
read_markers,presence}.md and data/api/client-server/{typing,receipts,
read_markers,presence}.yaml) it checks. Users are fresh per test.
"""

import asyncio
import threading
import time

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (PASSWORD, MatrixUser, assert_error, room_path, sync_room,
                        unique_name)


# ---- helpers ---------------------------------------------------------------

def nio_client(server, user=""):
    config = nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                   request_timeout=30, encryption_enabled=False,
                                   store_sync_tokens=False)
    return nio.AsyncClient(server.url, user, config=config)


async def nio_user(server, prefix="nio"):
    name = unique_name(prefix)
    client = nio_client(server, name)
    resp = await client.register(name, PASSWORD, device_name="nio")
    assert isinstance(resp, nio.RegisterResponse), resp
    return client


def run(coro):
    return asyncio.run(coro)


def raw(server, client):
    """The raw-HTTP twin of a nio client's session."""
    return MatrixUser(server, token=client.access_token, user_id=client.user_id)


def shared_room(alice, bob, **create):
    """A room alice created and bob joined (raw users)."""
    room_id = alice.create_room(**create)
    alice.invite(room_id, bob.user_id)
    bob.join(room_id)
    return room_id


def ephemeral(body, room_id, event_type):
    room = sync_room(body, room_id) or {}
    return [e for e in room.get("ephemeral", {}).get("events", [])
            if e.get("type") == event_type]


def typing_put(user, room_id, typing, timeout=None, target=None):
    body = {"typing": typing}
    if timeout is not None:
        body["timeout"] = timeout
    target = target or user.user_id
    return user.call("PUT", f"rooms/{room_path(room_id)}/typing/{room_path(target)}", body)


def receipt_post(user, room_id, event_id, receipt_type="m.read", body=None):
    return user.call("POST", f"rooms/{room_path(room_id)}/receipt/{receipt_type}/"
                     f"{room_path(event_id)}", body if body is not None else {})


def receipts_of(body, room_id):
    """{(event_id, type, user): receipt} from a /sync body's m.receipt events."""
    out = {}
    for ev in ephemeral(body, room_id, "m.receipt"):
        for event_id, by_type in ev["content"].items():
            for rtype, by_user in by_type.items():
                for user, rec in by_user.items():
                    out[(event_id, rtype, user)] = rec
    return out


def sync_until(user, since, pred, deadline_s=15):
    """Incremental syncs until pred(body) holds; returns (body, next_batch)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        body = user.sync(since, timeout=1000)
        since = body["next_batch"]
        if pred(body):
            return body, since
    pytest.fail("the expected /sync content never came")


# ---- typing ------------------------------------------------------------------

def test_typing_seen_then_stopped_nio(server):
    """typing.yaml: "This tells the server that the user is typing for the
    next N milliseconds ... if `typing` is `false`, it tells the server that
    the user has stopped typing." typing_notifications.md: clients "MUST use
    the user ID list to REPLACE" their knowledge, so a stop arrives as an
    m.typing with the list that remains (here empty)."""

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            room_id = shared_room(raw(server, alice), raw(server, bob))
            await bob.sync()
            resp = await alice.room_typing(room_id, True, timeout=30000)
            assert isinstance(resp, nio.RoomTypingResponse), resp
            for _ in range(10):
                await bob.sync(timeout=2000)
                if alice.user_id in bob.rooms[room_id].typing_users:
                    break
            assert bob.rooms[room_id].typing_users == [alice.user_id]
            resp = await alice.room_typing(room_id, False)
            assert isinstance(resp, nio.RoomTypingResponse), resp
            for _ in range(10):
                await bob.sync(timeout=2000)
                if not bob.rooms[room_id].typing_users:
                    break
            assert bob.rooms[room_id].typing_users == []
        finally:
            await alice.close()
            await bob.close()

    run(go())


def test_typing_in_initial_sync_and_expiry(server):
    """typing.yaml, `timeout`: "The length of time in milliseconds to mark
    this user as typing." After it passes the user is no longer listed,
    and a client that saw them typing is told (typing_notifications.md:
    "the server *does not remember* users who are not currently typing")."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    assert typing_put(alice, room_id, True, timeout=1500).status == 200
    body = bob.sync()
    typing = ephemeral(body, room_id, "m.typing")
    assert len(typing) == 1 and typing[0]["content"]["user_ids"] == [alice.user_id], body
    since = body["next_batch"]
    time.sleep(2.0)
    body, _ = sync_until(bob, since, lambda b: ephemeral(b, room_id, "m.typing"))
    assert ephemeral(body, room_id, "m.typing")[0]["content"]["user_ids"] == []


def test_typing_wakes_a_parked_sync(server):
    """Syncing: a long-poll returns "as soon as" there is something new; a
    typing notification is new to the room's other members."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    since = bob.sync()["next_batch"]
    # the join itself may still be news: drain until quiet
    body = bob.sync(since, timeout=0)
    since = body["next_batch"]
    result = {}

    def park():
        t0 = time.monotonic()
        result["body"] = bob.sync(since, timeout=20000)
        result["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=park)
    th.start()
    time.sleep(1.0)
    assert typing_put(alice, room_id, True).status == 200
    th.join(30)
    assert result["elapsed"] < 10, result
    assert ephemeral(result["body"], room_id, "m.typing")[0]["content"]["user_ids"] == [
        alice.user_id]


def test_typing_timeout_wakes_a_parked_sync(server):
    """typing.yaml: the user is typing "for the next N milliseconds"; when
    N passes, a member's long-poll learns it then (an m.typing without the
    user), not only at its own timeout."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    assert typing_put(alice, room_id, True, timeout=1500).status == 200
    body = bob.sync()
    assert ephemeral(body, room_id, "m.typing")[0]["content"]["user_ids"] == [alice.user_id]
    t0 = time.monotonic()
    body = bob.sync(body["next_batch"], timeout=20000)
    elapsed = time.monotonic() - t0
    assert elapsed < 10, elapsed
    assert ephemeral(body, room_id, "m.typing")[0]["content"]["user_ids"] == []


def test_typing_refusals(server):
    """typing.yaml, `userId`: "The user who has started to type" (only
    oneself), `typing` is required and a boolean; a user not joined to the
    room cannot announce typing in it."""
    alice, bob, eve = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    assert_error(typing_put(alice, room_id, True, target=bob.user_id), 403, "M_FORBIDDEN")
    assert_error(typing_put(eve, room_id, True), 403, "M_FORBIDDEN")
    r = alice.call("PUT", f"rooms/{room_path(room_id)}/typing/{room_path(alice.user_id)}",
                   {"timeout": 1000})
    assert_error(r, 400, "M_MISSING_PARAM")
    assert_error(typing_put(alice, room_id, "yes"), 400, "M_BAD_JSON")
    assert_error(typing_put(alice, room_id, True, timeout="soon"), 400, "M_BAD_JSON")
    # a huge timeout is accepted (capped by the server), not an error
    assert typing_put(alice, room_id, True, timeout=10**12).status == 200
    # nobody but alice was ever listed
    typing = ephemeral(bob.sync(), room_id, "m.typing")
    assert typing[0]["content"]["user_ids"] == [alice.user_id]


# ---- receipts ----------------------------------------------------------------

def test_read_receipt_seen_by_other_user_nio(server):
    """receipts.yaml: "This API updates the marker for the given receipt
    type to the event ID specified." receipts.md: "In /sync, receipts are
    listed under the ephemeral array of events for a given room." """

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            ra, rb = raw(server, alice), raw(server, bob)
            room_id = shared_room(ra, rb)
            event_id = ra.send(room_id, "read me")
            await alice.sync()
            await bob.update_receipt_marker(room_id, event_id)
            for _ in range(10):
                await alice.sync(timeout=2000)
                rec = alice.rooms[room_id].read_receipts.get(bob.user_id)
                if rec is not None:
                    break
            assert rec is not None and rec.event_id == event_id
            assert rec.receipt_type == "m.read" and rec.timestamp > 0
        finally:
            await alice.close()
            await bob.close()

    run(go())


def test_private_receipt_only_for_its_sender(server):
    """receipts.md, Private read receipts: "Servers MUST NOT send the
    m.read.private receipt to any other user than the one which originally
    sent it." """
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    event_id = alice.send(room_id, "secretly read")
    since_a = alice.sync()["next_batch"]
    assert receipt_post(bob, room_id, event_id, "m.read.private").status == 200
    mine = receipts_of(bob.sync(), room_id)
    assert (event_id, "m.read.private", bob.user_id) in mine
    # alice: neither in an incremental nor in an initial sync
    body = alice.sync(since_a, timeout=1500)
    assert not any(k[1] == "m.read.private" for k in receipts_of(body, room_id)), body
    assert not any(k[1] == "m.read.private" for k in receipts_of(alice.sync(), room_id))
    # a public receipt afterwards is seen by alice, the private one still not
    assert receipt_post(bob, room_id, event_id, "m.read").status == 200
    seen = receipts_of(alice.sync(), room_id)
    assert (event_id, "m.read", bob.user_id) in seen
    assert (event_id, "m.read.private", bob.user_id) not in seen


def test_threaded_receipt_carries_thread_id(server):
    """receipts.yaml, `thread_id`: "The thread root's event ID (or main)
    for which thread this receipt is intended"; receipts.md shows it in the
    receipt: {"ts": ..., "thread_id": "main"}. An unthreaded receipt is a
    separate category and both are kept."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    e1 = alice.send(room_id, "one")
    e2 = alice.send(room_id, "two")
    assert receipt_post(bob, room_id, e1, body={"thread_id": "main"}).status == 200
    assert receipt_post(bob, room_id, e2).status == 200
    seen = receipts_of(alice.sync(), room_id)
    assert seen[(e1, "m.read", bob.user_id)]["thread_id"] == "main"
    assert "thread_id" not in seen[(e2, "m.read", bob.user_id)]


def test_receipt_refusals(server):
    """receipts.yaml: receiptType is one of m.read, m.read.private,
    m.fully_read; 400 when thread_id "is not a string", "is empty", or "is
    provided for an incompatible receipt type". A receipt names an event of
    the room that the user may see (history visibility): an unknown event,
    another room's, or one from before the user could see the room, is not
    found; a user not in the room may not send receipts to it."""
    alice, bob, eve = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room_id = alice.create_room(initial_state=[{
        "type": "m.room.history_visibility", "state_key": "",
        "content": {"history_visibility": "joined"}}])
    before = alice.send(room_id, "before bob")
    alice.invite(room_id, bob.user_id)
    bob.join(room_id)
    after = alice.send(room_id, "after bob")
    other_room = alice.create_room()
    elsewhere = alice.send(other_room, "elsewhere")

    assert_error(receipt_post(bob, room_id, after, "m.seen"), 400, "M_INVALID_PARAM")
    assert_error(receipt_post(bob, room_id, after, body={"thread_id": ""}), 400,
                 "M_INVALID_PARAM")
    assert_error(receipt_post(bob, room_id, after, body={"thread_id": 7}), 400,
                 "M_INVALID_PARAM")
    assert_error(receipt_post(bob, room_id, after, "m.fully_read",
                              body={"thread_id": "main"}), 400, "M_INVALID_PARAM")
    assert_error(receipt_post(bob, room_id, "$nope:example.org"), 404, "M_NOT_FOUND")
    assert_error(receipt_post(bob, room_id, elsewhere), 404, "M_NOT_FOUND")
    assert_error(receipt_post(bob, room_id, before), 404, "M_NOT_FOUND")
    assert_error(receipt_post(eve, room_id, after), 403, "M_FORBIDDEN")
    # none of those left a receipt behind
    assert receipts_of(alice.sync(), room_id) == {}
    assert receipt_post(bob, room_id, after).status == 200
    assert set(receipts_of(alice.sync(), room_id)) == {(after, "m.read", bob.user_id)}


def test_receipt_never_moves_backwards(server):
    """receipts.md: receipts are "up to" markers ("the acknowledgement
    applies to all events up to and including the event specified"), so a
    receipt for an earlier event than the current one changes nothing."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    e1 = alice.send(room_id, "one")
    e2 = alice.send(room_id, "two")
    assert receipt_post(bob, room_id, e2).status == 200
    assert receipt_post(bob, room_id, e1).status == 200
    seen = receipts_of(alice.sync(), room_id)
    assert (e2, "m.read", bob.user_id) in seen and (e1, "m.read", bob.user_id) not in seen


# ---- read markers ------------------------------------------------------------

def test_read_markers_set_fully_read_nio(server):
    """read_markers.md: "The user's fully read marker is kept as an event
    in the room's account data" and "Upon updating the m.fully_read event
    due to a request to /read_markers, the server MUST send the updated
    account data event through to the client via the event stream"; the
    optional m.read "performs the same task as a request to
    /receipt/{receiptType}/{eventId}"."""

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            ra, rb = raw(server, alice), raw(server, bob)
            room_id = shared_room(ra, rb)
            e1 = ra.send(room_id, "one")
            e2 = ra.send(room_id, "two")
            since = rb.sync()["next_batch"]
            resp = await bob.room_read_markers(room_id, e1, e2)
            assert isinstance(resp, nio.RoomReadMarkersResponse), resp
            body = rb.sync(since, timeout=2000)
            ad = sync_room(body, room_id)["account_data"]["events"]
            assert {"type": "m.fully_read", "content": {"event_id": e1}} in ad, body
            r = rb.call("GET", f"user/{room_path(bob.user_id)}/rooms/{room_path(room_id)}"
                        "/account_data/m.fully_read")
            assert r.status == 200 and r.json == {"event_id": e1}
            assert (e2, "m.read", bob.user_id) in receipts_of(ra.sync(), room_id)
            # "The server MUST prevent clients from setting m.fully_read
            # directly in room account data."
            r = rb.call("PUT", f"user/{room_path(bob.user_id)}/rooms/{room_path(room_id)}"
                        "/account_data/m.fully_read", {"event_id": e2})
            assert r.status == 405
        finally:
            await alice.close()
            await bob.close()

    run(go())


def test_read_markers_all_or_nothing(server):
    """read_markers.yaml, m.fully_read: "The event MUST belong to the room."
    A request with one bad event ID changes nothing, and the receipt
    endpoint's m.fully_read is the same marker ("this endpoint effectively
    calls /read_markers internally")."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    e1 = alice.send(room_id, "one")
    path = f"rooms/{room_path(room_id)}/read_markers"
    r = bob.call("POST", path, {"m.fully_read": e1, "m.read": "$missing:example.org"})
    assert_error(r, 404, "M_NOT_FOUND")
    ad_path = (f"user/{room_path(bob.user_id)}/rooms/{room_path(room_id)}"
               "/account_data/m.fully_read")
    assert_error(bob.call("GET", ad_path), 404, "M_NOT_FOUND")
    assert receipts_of(alice.sync(), room_id) == {}
    assert_error(bob.call("POST", path, {"m.fully_read": 12}), 400, "M_BAD_JSON")
    assert receipt_post(bob, room_id, e1, "m.fully_read").status == 200
    assert bob.call("GET", ad_path).json == {"event_id": e1}
    # m.fully_read never appears as a receipt
    assert not any(k[1] == "m.fully_read" for k in receipts_of(alice.sync(), room_id))


# ---- presence ----------------------------------------------------------------

def test_presence_set_get_and_sync_nio(server):
    """presence.yaml PUT: "This API sets the given user's presence state";
    GET returns presence, last_active_ago, status_msg. presence.md:
    "Presence events are sent to interested parties where users share a
    room membership." """

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            shared_room(raw(server, alice), raw(server, bob))
            await bob.sync()
            resp = await alice.set_presence("online", "I am here.")
            assert isinstance(resp, nio.PresenceSetResponse), resp
            got = await bob.get_presence(alice.user_id)
            assert isinstance(got, nio.PresenceGetResponse), got
            assert got.presence == "online" and got.status_msg == "I am here."
            assert got.last_active_ago is not None and got.last_active_ago >= 0
            seen = None
            for _ in range(10):
                resp = await bob.sync(timeout=2000)
                for ev in resp.presence_events:
                    if ev.user_id == alice.user_id:
                        seen = ev
                if seen:
                    break
            assert seen is not None and seen.presence == "online"
            assert seen.status_msg == "I am here."
            # a change is a delta in the next incremental sync
            await alice.set_presence("unavailable")
            seen = None
            for _ in range(10):
                resp = await bob.sync(timeout=2000)
                seen = next((e for e in resp.presence_events
                             if e.user_id == alice.user_id), None)
                if seen:
                    break
            assert seen is not None and seen.presence == "unavailable"
            assert seen.status_msg is None
        finally:
            await alice.close()
            await bob.close()

    run(go())


def test_presence_privacy_and_refusals(server):
    """presence.yaml PUT: "You cannot set the presence state of another
    user"; presence: enum online, offline, unavailable. GET 403: "You are
    not allowed to see this user's presence status", and presence.md:
    presence is "published to all users who share a room"."""
    alice, bob, eve = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    shared_room(alice, bob)
    status = lambda u: f"presence/{room_path(u.user_id)}/status"
    assert_error(alice.call("PUT", status(bob), {"presence": "online"}), 403, "M_FORBIDDEN")
    assert_error(alice.call("PUT", status(alice), {"presence": "away"}), 400,
                 "M_INVALID_PARAM")
    assert_error(alice.call("PUT", status(alice), {}), 400, "M_MISSING_PARAM")
    assert_error(alice.call("PUT", status(alice), {"presence": "online", "status_msg": 3}),
                 400, "M_BAD_JSON")
    # never set: offline; own presence is always readable
    r = bob.call("GET", status(alice))
    assert r.status == 200 and r.json["presence"] == "offline", r
    assert alice.call("PUT", status(alice), {"presence": "online",
                                             "status_msg": "here"}).status == 200
    r = alice.call("GET", status(alice))
    assert r.status == 200 and r.json["status_msg"] == "here"
    # eve shares no room with alice: no presence, neither by GET nor /sync
    assert_error(eve.call("GET", status(alice)), 403, "M_FORBIDDEN")
    assert all(e["sender"] != alice.user_id
               for e in eve.sync()["presence"]["events"])
    body = bob.sync()
    ev = [e for e in body["presence"]["events"] if e["sender"] == alice.user_id]
    assert len(ev) == 1 and ev[0]["type"] == "m.presence"
    assert ev[0]["content"]["presence"] == "online"
    assert ev[0]["content"]["currently_active"] is True
    assert_error(bob.call("GET", "presence/%40nobody%3Alocalhost/status"), 404,
                 "M_NOT_FOUND")


# ---- filters and membership ------------------------------------------------------

def test_filters_select_ephemeral_and_presence(server):
    """Filtering (filter.yaml): room.ephemeral is a RoomEventFilter "The
    per user ephemeral events to include in rooms" and presence an
    EventFilter "The presence updates to include"; not_types excludes."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    event_id = alice.send(room_id, "hello")
    assert typing_put(alice, room_id, True).status == 200
    assert receipt_post(alice, room_id, event_id).status == 200
    assert alice.call("PUT", f"presence/{room_path(alice.user_id)}/status",
                      {"presence": "online"}).status == 200
    body = bob.sync(filter={"room": {"ephemeral": {"not_types": ["m.typing"]}},
                            "presence": {"types": []}})
    assert ephemeral(body, room_id, "m.typing") == []
    assert (event_id, "m.read", alice.user_id) in receipts_of(body, room_id)
    assert body["presence"]["events"] == []
    body = bob.sync(filter={"room": {"ephemeral": {"types": ["m.typing"]}}})
    assert ephemeral(body, room_id, "m.receipt") == []
    assert ephemeral(body, room_id, "m.typing")[0]["content"]["user_ids"] == [alice.user_id]
    assert any(e["sender"] == alice.user_id for e in body["presence"]["events"])


def test_typist_who_left_is_not_listed(server):
    """typing_notifications.md: m.typing lists "the users currently typing"
    in the room; someone who left the room is not typing in it, even if
    their timeout has not run out."""
    alice, bob, carol = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    alice.invite(room_id, carol.user_id)
    carol.join(room_id)
    assert typing_put(bob, room_id, True).status == 200
    assert typing_put(carol, room_id, True).status == 200
    assert bob.membership(room_id, "leave").status == 200
    typing = ephemeral(alice.sync(), room_id, "m.typing")
    assert typing[0]["content"]["user_ids"] == [carol.user_id]


def test_private_receipt_through_read_markers(server):
    """read_markers.yaml, m.read.private: "equivalent to calling
    /receipt/m.read.private/..."; so the same privacy holds ("Servers MUST
    NOT send the m.read.private receipt to any other user")."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    e1 = alice.send(room_id, "one")
    r = bob.call("POST", f"rooms/{room_path(room_id)}/read_markers",
                 {"m.fully_read": e1, "m.read.private": e1})
    assert r.status == 200, r
    assert (e1, "m.read.private", bob.user_id) in receipts_of(bob.sync(), room_id)
    assert receipts_of(alice.sync(), room_id) == {}


def test_acknowledged_survives_restart(make_server):
    """What a 200 acknowledged is durable: receipts, the fully read marker
    and presence read back the same after a restart, and a sync token from
    before the restart still works (its typing position is not ahead of
    the restarted server's, so typing news is not skipped)."""
    srv = make_server()
    alice, bob = MatrixUser(srv), MatrixUser(srv)
    room_id = shared_room(alice, bob)
    e1 = alice.send(room_id, "one")
    assert receipt_post(bob, room_id, e1).status == 200
    assert receipt_post(bob, room_id, e1, "m.fully_read").status == 200
    assert bob.call("PUT", f"presence/{room_path(bob.user_id)}/status",
                    {"presence": "unavailable", "status_msg": "lunch"}).status == 200
    since = alice.sync()["next_batch"]
    assert srv.stop() == []
    srv.start()
    body = alice.sync()
    assert (e1, "m.read", bob.user_id) in receipts_of(body, room_id)
    ev = [e for e in body["presence"]["events"] if e["sender"] == bob.user_id]
    assert ev and ev[0]["content"]["presence"] == "unavailable"
    assert ev[0]["content"]["status_msg"] == "lunch"
    r = bob.call("GET", f"user/{room_path(bob.user_id)}/rooms/{room_path(room_id)}"
                 "/account_data/m.fully_read")
    assert r.status == 200 and r.json == {"event_id": e1}
    assert typing_put(bob, room_id, True).status == 200
    body, _ = sync_until(alice, since, lambda b: ephemeral(b, room_id, "m.typing"))
    assert ephemeral(body, room_id, "m.typing")[0]["content"]["user_ids"] == [bob.user_id]


def test_threaded_receipt_must_match_the_thread(server):
    """receipts.yaml 400: "The event_id is not related to the thread_id."
    An event in a thread (rel_type m.thread, Threading) is not in the main
    timeline, nor in another thread; under its own root it is accepted,
    and so is the root itself under "main" ("Thread roots are considered
    to be in the main timeline", Threaded read receipts)."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    root = alice.send(room_id, "root")
    other_root = alice.send(room_id, "other root")
    reply = alice.send(room_id, content={
        "msgtype": "m.text", "body": "in thread",
        "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    assert_error(receipt_post(bob, room_id, reply, body={"thread_id": "main"}), 400,
                 "M_INVALID_PARAM")
    assert_error(receipt_post(bob, room_id, reply, body={"thread_id": other_root}), 400,
                 "M_INVALID_PARAM")
    assert_error(receipt_post(bob, room_id, reply, body={"thread_id": "thread-1"}), 400,
                 "M_INVALID_PARAM")
    assert receipt_post(bob, room_id, reply, body={"thread_id": root}).status == 200
    assert receipt_post(bob, room_id, root, body={"thread_id": "main"}).status == 200
    seen = receipts_of(alice.sync(), room_id)
    assert seen[(reply, "m.read", bob.user_id)]["thread_id"] == root
    assert seen[(root, "m.read", bob.user_id)]["thread_id"] == "main"
    # "Following the event relationships, it has a parent event which
    # references the thread root with a rel_type of m.thread": a reaction
    # to the threaded reply is in the thread too
    reaction = alice.send(room_id, event_type="m.reaction", content={
        "m.relates_to": {"rel_type": "m.annotation", "event_id": reply, "key": "+1"}})
    assert_error(receipt_post(bob, room_id, reaction, body={"thread_id": "main"}), 400,
                 "M_INVALID_PARAM")
    assert receipt_post(bob, room_id, reaction, body={"thread_id": root}).status == 200
    # a made-up thread: refused, so no receipt row per invented thread ID
    plain = alice.send(room_id, "plain")
    assert_error(receipt_post(bob, room_id, plain, body={"thread_id": "$made-up"}), 400,
                 "M_INVALID_PARAM")
    # hostile relations name no event: such events are in the main timeline
    for rel in ({"rel_type": "m.reference", "event_id": "$"},
                {"rel_type": "m.reference", "event_id": "x"},
                {"rel_type": "m.thread", "event_id": 5},
                {"rel_type": "m.reference", "event_id": "$" + "z" * 400},
                {"rel_type": "m.reference", "event_id": elsewhere_event(alice)}):
        odd = alice.send(room_id, content={"msgtype": "m.text", "body": "odd",
                                           "m.relates_to": rel})
        assert receipt_post(bob, room_id, odd, body={"thread_id": "main"}).status == 200, rel
    # two hops: a reaction to the reaction is still in the thread
    again = alice.send(room_id, event_type="m.reaction", content={
        "m.relates_to": {"rel_type": "m.annotation", "event_id": reaction, "key": "x"}})
    assert receipt_post(bob, room_id, again, body={"thread_id": root}).status == 200
    # a thread root may be receipted in its own thread
    assert receipt_post(bob, room_id, other_root,
                        body={"thread_id": other_root}).status == 200


def elsewhere_event(user):
    """An event of another room (a relation there ends the thread walk)."""
    room_id = user.create_room()
    return user.send(room_id, "elsewhere")


def test_malformed_ids_and_oversized_status(server):
    """Size limits (Client-Server API): event IDs "MUST NOT exceed 255
    bytes" and have the `$` sigil (Appendices, Event IDs); a status message
    larger than the server keeps is refused, not truncated."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room_id = shared_room(alice, bob)
    assert_error(receipt_post(bob, room_id, "not-an-event"), 400, "M_INVALID_PARAM")
    assert_error(receipt_post(bob, room_id, "$" + "e" * 300), 400, "M_INVALID_PARAM")
    r = bob.call("POST", f"rooms/{room_path(room_id)}/read_markers",
                 {"m.fully_read": "x" * 10})
    assert_error(r, 400, "M_INVALID_PARAM")
    r = bob.call("PUT", f"presence/{room_path(bob.user_id)}/status",
                 {"presence": "online", "status_msg": "m" * 70000})
    assert r.status in (400, 413) and r.errcode == "M_TOO_LARGE", r
    r = bob.call("GET", f"presence/{room_path(bob.user_id)}/status")
    assert r.status == 200 and "status_msg" not in r.json, r
