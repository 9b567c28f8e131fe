"""/sync beyond the timeline: state sections, full_state, the long-poll
timeout, room summaries, transaction IDs and event formats.

Spec: data/api/client-server/sync.yaml, definitions/client_event*.yaml and
content/client-server-api/_index.md ("Syncing").
"""

import asyncio
import json
import threading
import time

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (MatrixUser, assert_error, message_bodies, room_path,
                        sync_room, sync_timeline, user_path)

WIDE = {"room": {"timeline": {"limit": 100}}}


def test_state_is_before_timeline(server):
    """rooms.join.{id}.state: "Updates to the state, between the time
    indicated by the since parameter, and the start of the timeline (or all
    state up to the start of the timeline, if since is not given)". With a
    one-event timeline the state holds everything before it; no event is in
    both sections."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat", name="state room", topic="t1")
    alice.put_state(room, "m.room.topic", {"topic": "t2"})
    alice.send(room, "last")

    joined = sync_room(alice.sync(filter={"room": {"timeline": {"limit": 1}}}), room)
    assert message_bodies(joined["timeline"]["events"]) == ["last"]
    state = {(e["type"], e["state_key"]): e for e in joined["state"]["events"]}
    for key in (("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.join_rules", ""),
                ("m.room.member", alice.user_id), ("m.room.name", "")):
        assert key in state, (key, sorted(state))
    assert state[("m.room.topic", "")]["content"]["topic"] == "t2"

    joined = sync_room(alice.sync(filter={"room": {"timeline": {"limit": 2}}}), room)
    tl = joined["timeline"]["events"]
    assert [e["type"] for e in tl] == ["m.room.topic", "m.room.message"], tl
    state_ids = {e["event_id"] for e in joined["state"]["events"]}
    assert not state_ids & {e["event_id"] for e in tl}, "an event in both state and timeline"
    # The state at the start of this timeline still has the old topic.
    old = [e for e in joined["state"]["events"] if e["type"] == "m.room.topic"]
    assert [e["content"]["topic"] for e in old] == ["t1"], old


def test_incremental_state_and_full_state(server):
    """An incremental sync carries a state change in the timeline; an empty
    increment has no timeline events for the room. full_state: "If this is
    set to true, then all state events will be returned, even if since is
    non-empty"."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat", name="n")
    since = alice.sync()["next_batch"]

    body = alice.sync(since)
    assert sync_timeline(body, room) == [], body
    joined = sync_room(body, room)
    assert joined is None or not joined.get("state", {}).get("events"), joined

    alice.put_state(room, "m.room.topic", {"topic": "changed"})
    body = alice.sync(since)
    tl = sync_timeline(body, room)
    assert [(e["type"], e["content"].get("topic")) for e in tl] == [("m.room.topic", "changed")]

    full = alice.sync(body["next_batch"], full_state=True)
    state = {(e["type"], e["state_key"]) for e in sync_room(full, room)["state"]["events"]}
    assert {("m.room.create", ""), ("m.room.name", ""), ("m.room.topic", ""),
            ("m.room.member", alice.user_id)} <= state, state


def test_long_poll_timeout_and_wake(server):
    """timeout: "The maximum time to wait, in milliseconds, before returning
    this request. If no events ... become available before this time elapses,
    the server will return a response with empty fields"; "By default, this
    is 0, so the server will return immediately". An event in a room the user
    is not in is not an event for them; one in their room returns early
    ("returning early if an event occurs")."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    elsewhere = alice.create_room(preset="private_chat")
    since = bob.sync()["next_batch"]

    t = time.monotonic()
    r = bob.call("GET", "sync", query={"since": since})
    assert r.status == 200 and time.monotonic() - t < 1.0, r

    t = time.monotonic()
    body = bob.sync(since, timeout=1500)
    waited = time.monotonic() - t
    assert waited >= 1.3, f"returned after {waited:.2f} s of a 1.5 s timeout"
    assert sync_timeline(body, room) == []

    sender = threading.Timer(0.5, lambda: alice.send(elsewhere, "not for bob"))
    sender.start()
    t = time.monotonic()
    body = bob.sync(since, timeout=2000)
    waited = time.monotonic() - t
    sender.join()
    assert "not for bob" not in json.dumps(body)
    assert waited >= 1.8, f"woken by another room's event after {waited:.2f} s"

    waker = threading.Timer(0.5, lambda: alice.send(room, "for bob"))
    waker.start()
    t = time.monotonic()
    body = bob.sync(since, timeout=10000)
    waited = time.monotonic() - t
    waker.join()
    assert message_bodies(sync_timeline(body, room)) == ["for bob"], body
    assert waited < 5, f"took {waited:.2f} s to wake for an event"


def test_since_replay_is_stable(server):
    """A since token names "A point in time to continue a sync from": the
    same token twice gives the same events; the next_batch after them gives
    none of them again."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    since = alice.sync()["next_batch"]
    for i in range(3):
        alice.send(room, f"r{i}")
    a, b = alice.sync(since), alice.sync(since)
    ids_a = [e["event_id"] for e in sync_timeline(a, room)]
    ids_b = [e["event_id"] for e in sync_timeline(b, room)]
    assert ids_a == ids_b and len(ids_a) == 3, (ids_a, ids_b)
    after = alice.sync(a["next_batch"])
    assert sync_timeline(after, room) == []


def test_event_formats(server):
    """ClientEventWithoutRoomID in /sync (required: event_id, type, sender,
    origin_server_ts, content; state_key on state events) and ClientEvent
    (plus room_id) from /messages and /event."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat", name="fmt")
    eid = alice.send(room, "format me")
    timeline = sync_timeline(alice.sync(filter=WIDE), room)
    assert timeline, "no timeline"
    for e in timeline:
        for key in ("event_id", "type", "sender", "origin_server_ts", "content"):
            assert key in e, (key, e)
        assert isinstance(e["origin_server_ts"], int) and isinstance(e["content"], dict)
        if e["type"] in ("m.room.create", "m.room.member", "m.room.name"):
            assert isinstance(e.get("state_key"), str), e
    msg = [e for e in timeline if e["event_id"] == eid]
    assert msg and "state_key" not in msg[0], msg
    r = alice.messages(room, "b", limit=20)
    for e in r.json["chunk"]:
        assert e["room_id"] == room, e
    ev = alice.event(room, eid)
    assert ev.status == 200, ev
    assert ev.json["room_id"] == room and ev.json["content"]["body"] == "format me"
    for key in ("event_id", "type", "sender", "origin_server_ts"):
        assert key in ev.json, key


def test_transaction_id_only_for_sender(server):
    """unsigned.transaction_id: "The client-supplied transaction ID ... if the
    client being given the event is the same one which sent it"."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    a_since, b_since = alice.sync()["next_batch"], bob.sync()["next_batch"]
    alice.send(room, "with txn", txn="my-txn-42")
    mine = [e for e in sync_timeline(alice.sync(a_since), room)
            if e["type"] == "m.room.message"]
    assert mine and mine[0].get("unsigned", {}).get("transaction_id") == "my-txn-42", mine
    theirs = [e for e in sync_timeline(bob.sync(b_since), room) if e["type"] == "m.room.message"]
    assert theirs and "transaction_id" not in theirs[0].get("unsigned", {}), theirs


def test_transaction_id_not_for_other_device(server):
    """Transaction IDs are scoped to "a single device": another device of the
    same user is not "the same [client] which sent it"."""
    alice = MatrixUser(server)
    other = MatrixUser(server, token=server.login(alice.name)["access_token"],
                       user_id=alice.user_id)
    room = alice.create_room(preset="private_chat")
    since = other.sync()["next_batch"]
    alice.send(room, "from device one", txn="dev1-txn")
    seen = [e for e in sync_timeline(other.sync(since), room) if e["type"] == "m.room.message"]
    assert seen and "transaction_id" not in seen[0].get("unsigned", {}), seen


def test_room_summary_counts(server):
    """summary m.joined_member_count ("including the client's own user ID")
    and m.invited_member_count: "If this field has not changed since the last
    sync, it may be omitted. Required otherwise" - so required on an initial
    sync. m.heroes "must never include the client's own user ID"."""
    alice, bob, carol = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    alice.invite(room, carol.user_id)
    summary = sync_room(alice.sync(), room).get("summary", {})
    assert summary.get("m.joined_member_count") == 2, summary
    assert summary.get("m.invited_member_count") == 1, summary
    heroes = summary.get("m.heroes")
    # Required: the room has no m.room.name or m.room.canonical_alias.
    assert isinstance(heroes, list) and alice.user_id not in heroes, summary
    assert set(heroes) == {bob.user_id, carol.user_id}, summary


def test_reject_invite_by_leaving(server):
    """leaving.yaml: leave "can also be used to reject an invite"; the room
    leaves rooms.invite for rooms.leave in the invitee's /sync and the inviter
    sees membership leave."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    since = bob.sync()["next_batch"]
    alice.invite(room, bob.user_id)
    body = bob.sync(since)
    assert sync_room(body, room, "invite") is not None, body
    r = bob.membership(room, "leave")
    assert r.status == 200, r
    body = bob.sync(body["next_batch"])
    assert sync_room(body, room, "leave") is not None, body
    assert sync_room(body, room, "invite") is None
    m = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.member/{room_path(bob.user_id)}")
    assert m.status == 200 and m.json["membership"] == "leave", m


def test_use_state_after(server):
    """use_state_after (v1.16): "servers MUST respond with the state between
    the previous sync and the end of the timeline in state_after and MUST
    omit state"."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat", topic="before")
    alice.put_state(room, "m.room.topic", {"topic": "after"})
    r = alice.call("GET", "sync", query={"use_state_after": "true",
                                         "filter": json.dumps({"room": {"timeline": {"limit": 1}}})})
    assert r.status == 200, r
    joined = sync_room(r.json, room)
    assert "state" not in joined, joined
    topics = [e["content"]["topic"] for e in joined["state_after"]["events"]
              if e["type"] == "m.room.topic"]
    # "all state up to the end of the timeline": the topic now in force.
    assert topics == ["after"], topics


def _ad_path(user, event_type, room=None):
    base = f"user/{user_path(user.user_id)}"
    if room is not None:
        base += f"/rooms/{room_path(room)}"
    return f"{base}/account_data/{event_type}"


def test_account_data_in_sync(server):
    """Client Config (modules/account_data.md): global account data "will be
    available to clients through the top-level account_data field" of /sync;
    room account data in "the account_data section of a room"; "Users may
    only view the account data for their own account" (403 M_FORBIDDEN);
    unknown type 404 M_NOT_FOUND. An update arrives in the next incremental
    sync and wakes a long-poll."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    since = alice.sync()["next_batch"]

    assert alice.call("PUT", _ad_path(alice, "org.chappe.cfg"), {"theme": "dark"}).status == 200
    assert alice.call("PUT", _ad_path(alice, "org.chappe.note", room),
                      {"note": "room scoped"}).status == 200
    got = alice.call("GET", _ad_path(alice, "org.chappe.cfg"))
    assert got.status == 200 and got.json == {"theme": "dark"}, got
    # "There is no inheritance mechanism": the room has no org.chappe.cfg.
    assert_error(alice.call("GET", _ad_path(alice, "org.chappe.cfg", room)), 404, "M_NOT_FOUND")
    assert_error(alice.call("GET", _ad_path(alice, "org.chappe.none")), 404, "M_NOT_FOUND")
    assert_error(bob.call("GET", _ad_path(alice, "org.chappe.cfg")), 403, "M_FORBIDDEN")
    assert_error(bob.call("PUT", _ad_path(alice, "org.chappe.cfg"), {"x": 1}), 403, "M_FORBIDDEN")

    body = alice.sync(since)
    top = {e["type"]: e["content"] for e in body.get("account_data", {}).get("events", [])}
    assert top.get("org.chappe.cfg") == {"theme": "dark"}, body.get("account_data")
    room_ad = {e["type"]: e["content"] for e in
               sync_room(body, room).get("account_data", {}).get("events", [])}
    assert room_ad.get("org.chappe.note") == {"note": "room scoped"}, sync_room(body, room)
    assert "org.chappe.cfg" not in json.dumps(bob.sync())

    waker = threading.Timer(0.5, lambda: alice.call(
        "PUT", _ad_path(alice, "org.chappe.cfg"), {"theme": "light"}))
    waker.start()
    t = time.monotonic()
    body = alice.sync(body["next_batch"], timeout=10000)
    waker.join()
    assert time.monotonic() - t < 5, "account data did not wake the long-poll"
    top = {e["type"]: e["content"] for e in body.get("account_data", {}).get("events", [])}
    assert top == {"org.chappe.cfg": {"theme": "light"}}, body.get("account_data")


def test_server_managed_account_data_refused(server):
    """"Servers MUST reject setting account data for event types that the
    server manages by using a 405 error response. Currently, this only
    includes m.fully_read and m.push_rules. This applies to both global and
    room-specific account data." (account-data.yaml: errcode M_BAD_JSON)."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    for event_type in ("m.fully_read", "m.push_rules"):
        for scope in (None, room):
            r = alice.call("PUT", _ad_path(alice, event_type, scope), {"event_id": "$x"})
            assert_error(r, 405, "M_BAD_JSON")
    r = alice.call("PUT", _ad_path(alice, "org.chappe.cfg"), b"[1]")
    assert_error(r, 400, ("M_BAD_JSON", "M_NOT_JSON"))


def test_read_marker_with_nio(server):
    """POST /rooms/{roomId}/read_markers (nio room_read_markers): m.fully_read
    becomes the room's m.fully_read account data ("Servers must allow clients
    to read the above event types as normal") and shows in /sync."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    eid = alice.send(room, "read up to here")
    since = alice.sync()["next_batch"]

    async def mark():
        client = nio.AsyncClient(server.url, alice.user_id, config=nio.AsyncClientConfig(
            max_limit_exceeded=0, max_timeouts=0, encryption_enabled=False,
            store_sync_tokens=False))
        client.access_token, client.user_id = alice.token, alice.user_id
        try:
            r = await client.room_read_markers(room, eid, eid)
            assert isinstance(r, nio.RoomReadMarkersResponse), r
        finally:
            await client.close()

    asyncio.run(mark())
    got = alice.call("GET", _ad_path(alice, "m.fully_read", room))
    assert got.status == 200 and got.json == {"event_id": eid}, got
    body = alice.sync(since)
    events = sync_room(body, room).get("account_data", {}).get("events", [])
    assert {"type": "m.fully_read", "content": {"event_id": eid}} in events, events


def test_many_rooms_initial_sync(server):
    """An initial sync lists every joined room (rooms.join), with none
    missing and no others."""
    alice = MatrixUser(server)
    rooms = {alice.create_room(preset="private_chat") for _ in range(30)}
    joined = set(alice.sync(filter={"room": {"timeline": {"limit": 1}}})["rooms"]["join"])
    assert joined == rooms


def _wakes(user, since, action, timeout_ms=10000):
    """Run action() 0.5 s into a long-poll from `since`; returns (body,
    seconds the poll took)."""
    timer = threading.Timer(0.5, action)
    timer.start()
    t = time.monotonic()
    body = user.sync(since, timeout=timeout_ms)
    timer.join()
    return body, time.monotonic() - t


def test_membership_changes_wake_long_polls(server):
    """Events that concern a user who is not (or no longer) joined still wake
    their long-poll ("returning early if an event occurs"): an invite shows
    up in rooms.invite, a kick in rooms.leave, a knock's acceptance (invite)
    and a knock in the admin's timeline."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    since = bob.sync()["next_batch"]
    body, took = _wakes(bob, since, lambda: alice.invite(room, bob.user_id))
    assert took < 5 and sync_room(body, room, "invite") is not None, (took, body)

    bob.join(room)
    since = bob.sync()["next_batch"]
    body, took = _wakes(bob, since, lambda: alice.membership(
        room, "kick", {"user_id": bob.user_id}))
    assert took < 5 and sync_room(body, room, "leave") is not None, (took, body)

    knock_room = alice.create_room(room_version="11", preset="private_chat", initial_state=[
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    carol = MatrixUser(server)
    since = alice.sync()["next_batch"]
    body, took = _wakes(alice, since, lambda: carol.call(
        "POST", f"knock/{room_path(knock_room)}", {"reason": "hi"}))
    knocks = [e for e in sync_timeline(body, knock_room)
              if e["type"] == "m.room.member" and e["state_key"] == carol.user_id]
    assert took < 5 and knocks and knocks[0]["content"]["membership"] == "knock", (took, body)


def test_knock_rejected_and_withdrawn(server):
    """A knock is rejected by a kick (membership leave, which the knocker's
    /sync reports under rooms.leave) and a knocker may withdraw by leaving."""
    alice, carol, dave = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room = alice.create_room(room_version="11", preset="private_chat", initial_state=[
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    for u in (carol, dave):
        assert u.call("POST", f"knock/{room_path(room)}", {}).status == 200
    since = carol.sync()["next_batch"]
    assert alice.membership(room, "kick", {"user_id": carol.user_id,
                                           "reason": "no"}).status == 200
    body = carol.sync(since)
    assert sync_room(body, room, "leave") is not None, body
    assert sync_room(body, room, "knock") is None
    assert dave.membership(room, "leave").status == 200
    r = alice.call("GET", f"rooms/{room_path(room)}/members", query={"membership": "knock"})
    assert r.status == 200 and r.json["chunk"] == [], r
