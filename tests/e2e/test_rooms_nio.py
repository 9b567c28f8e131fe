"""Rooms and events as a real client library sees them (matrix-nio 0.20),
with raw HTTP where nio has no call (knock, /members filters) or where the
exact wire value matters (redacted content, room IDs without a server part).

Each test names the part of the Client-Server API spec (v1.19,
data/api/client-server/*.yaml and content/client-server-api/_index.md) it
checks. Users are fresh per test, so tests do not depend on each other.
"""

import asyncio
import json
import re

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (PASSWORD, MatrixUser, assert_error, message_bodies,
                        paginate, room_path, sync_collect, sync_room, sync_timeline,
                        unique_name)


def nio_client(server, user=""):
    # No retries: a 429 or a dead server must surface, not be waited out.
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


async def close_all(*clients):
    for c in clients:
        await c.close()


def nio_bodies(sync_resp, room_id):
    """Bodies of the m.room.message events of one joined room in a nio
    SyncResponse (raw `source`, so nothing nio drops is hidden)."""
    room = sync_resp.rooms.join.get(room_id)
    if room is None:
        return []
    return message_bodies([e.source for e in room.timeline.events])


async def nio_sync_until(client, room_id, want, rounds=10):
    """Incremental nio syncs until every body in `want` was seen in room_id's
    timeline; returns the bodies seen, in order."""
    seen = []
    for _ in range(rounds):
        resp = await client.sync(timeout=2000)
        assert isinstance(resp, nio.SyncResponse), resp
        seen += nio_bodies(resp, room_id)
        if all(w in seen for w in want):
            break
    return seen


def test_create_invite_join_exchange(server):
    """createRoom (private_chat, name, topic) -> POST /invite -> the invitee's
    /sync lists the room under rooms.invite ("The rooms that the user has been
    invited to") -> POST /join -> both users see both messages, in send order,
    in their /sync timelines (Syncing: "all new events which are visible to
    the client will appear in the response")."""

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            await alice.sync()
            await bob.sync()
            cr = await alice.room_create(name="Tea room", topic="Oolong",
                                         preset=nio.RoomPreset.private_chat)
            assert isinstance(cr, nio.RoomCreateResponse), cr
            room = cr.room_id
            # v10/v11 IDs end in the server name; v12 IDs are the create
            # event's hash ("!" + 43 url-safe base64 characters)
            assert re.fullmatch(r"![^:]+:localhost|![A-Za-z0-9_-]{43}", room), room

            # An invite-only room: bob may not join before he is invited.
            early = await bob.join(room)
            assert isinstance(early, nio.JoinError), early
            assert early.status_code == "M_FORBIDDEN", early

            inv = await alice.room_invite(room, bob.user_id)
            assert isinstance(inv, nio.RoomInviteResponse), inv
            s = await bob.sync(timeout=2000)
            assert isinstance(s, nio.SyncResponse), s
            assert room in s.rooms.invite, s.rooms

            j = await bob.join(room)
            assert isinstance(j, nio.JoinResponse), j
            assert j.room_id == room

            for client, text in ((alice, "hello bob"), (bob, "hello alice")):
                r = await client.room_send(room, "m.room.message",
                                           {"msgtype": "m.text", "body": text})
                assert isinstance(r, nio.RoomSendResponse), r
                assert r.event_id.startswith("$"), r

            for client in (alice, bob):
                seen = await nio_sync_until(client, room, ["hello bob", "hello alice"])
                assert [b for b in seen if b.startswith("hello")] == \
                    ["hello bob", "hello alice"], (client.user_id, seen)

            # The room state the creator asked for (createRoom step 7, name/topic).
            st = await bob.room_get_state_event(room, "m.room.name")
            assert isinstance(st, nio.RoomGetStateEventResponse), st
            assert st.content == {"name": "Tea room"}
            st = await bob.room_get_state_event(room, "m.room.topic")
            assert st.content.get("topic") == "Oolong", st
        finally:
            await close_all(alice, bob)

    run(go())


def test_txn_id_idempotent(server):
    """Transaction identifiers: "Where a retransmission has been identified,
    the homeserver should return the same HTTP response code and content as
    the original request" - one event, same event_id. "The scope of a
    transaction ID is for a single device": another device reusing the txnId
    sends a new event."""

    async def go():
        alice = await nio_user(server, "alice")
        try:
            cr = await alice.room_create(preset=nio.RoomPreset.public_chat)
            room = cr.room_id
            content = {"msgtype": "m.text", "body": "exactly once"}
            first = await alice.room_send(room, "m.room.message", content, tx_id="txn-fixed-1")
            again = await alice.room_send(room, "m.room.message", content, tx_id="txn-fixed-1")
            assert isinstance(first, nio.RoomSendResponse), first
            assert isinstance(again, nio.RoomSendResponse), again
            assert again.event_id == first.event_id

            other = await alice.room_send(room, "m.room.message",
                                          {"msgtype": "m.text", "body": "other txn"},
                                          tx_id="txn-fixed-2")
            assert other.event_id != first.event_id

            # A second device of the same user, same txnId: a distinct request.
            second = nio_client(server, alice.user_id)
            lr = await second.login(PASSWORD, device_name="second")
            assert isinstance(lr, nio.LoginResponse), lr
            dev2 = await second.room_send(room, "m.room.message",
                                          {"msgtype": "m.text", "body": "second device"},
                                          tx_id="txn-fixed-1")
            await second.close()
            assert isinstance(dev2, nio.RoomSendResponse), dev2
            assert dev2.event_id != first.event_id

            # The whole history, paginated: each body exactly once, and the
            # retransmission's event is the original one.
            raw = MatrixUser(server, token=alice.access_token, user_id=alice.user_id)
            history, _ = paginate(raw, room, "f", limit=50)
            bodies = message_bodies(history)
            assert bodies == ["exactly once", "other txn", "second device"], bodies
            once = [e["event_id"] for e in history
                    if e.get("content", {}).get("body") == "exactly once"]
            assert once == [first.event_id]
            s = await alice.sync()
            assert isinstance(s, nio.SyncResponse), s
            assert nio_bodies(s, room).count("exactly once") == 1, nio_bodies(s, room)
        finally:
            await alice.close()

    run(go())


def test_state_get_put(server):
    """PUT /rooms/{roomId}/state/{eventType}/{stateKey} "will be overwritten
    if <room id>, <event type> and <state key> all match"; GET state/{type}/
    {key} returns the content; GET /state lists the current state; a missing
    state key is 404 ("The room has no state with the given type or key")."""

    async def go():
        alice = await nio_user(server, "alice")
        try:
            room = (await alice.room_create(preset=nio.RoomPreset.private_chat)).room_id
            for value in ("first", "second"):
                r = await alice.room_put_state(room, "org.chappe.test",
                                               {"value": value}, state_key="k1")
                assert isinstance(r, nio.RoomPutStateResponse), r
            r = await alice.room_put_state(room, "org.chappe.test", {"value": "other"},
                                           state_key="k2")
            assert isinstance(r, nio.RoomPutStateResponse), r

            one = await alice.room_get_state_event(room, "org.chappe.test", "k1")
            assert isinstance(one, nio.RoomGetStateEventResponse), one
            assert one.content == {"value": "second"}

            full = await alice.room_get_state(room)
            assert isinstance(full, nio.RoomGetStateResponse), full
            mine = [e for e in full.events if e["type"] == "org.chappe.test"]
            assert sorted((e["state_key"], e["content"]["value"]) for e in mine) == \
                [("k1", "second"), ("k2", "other")], mine
            types = {e["type"] for e in full.events}
            assert {"m.room.create", "m.room.member", "m.room.power_levels",
                    "m.room.join_rules", "m.room.history_visibility"} <= types, types

            missing = await alice.room_get_state_event(room, "org.chappe.test", "nope")
            assert isinstance(missing, nio.RoomGetStateEventError), missing
            assert missing.transport_response.status == 404
            assert missing.status_code == "M_NOT_FOUND", missing
        finally:
            await alice.close()

    run(go())


def test_power_levels_refuse_state(server):
    """Room version auth rules ("If the event type's required power level is
    greater than the sender's power level, reject") as seen by PUT /state:
    403 "The sender doesn't have permission to send the event into the
    room", errcode M_FORBIDDEN; the state is unchanged. Raised to
    state_default, the same user succeeds."""

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            room = (await alice.room_create(preset=nio.RoomPreset.public_chat,
                                            topic="original")).room_id
            assert isinstance(await bob.join(room), nio.JoinResponse)

            refused = await bob.room_put_state(room, "m.room.topic", {"topic": "bob's"})
            assert isinstance(refused, nio.RoomPutStateError), refused
            assert refused.transport_response.status == 403
            assert refused.status_code == "M_FORBIDDEN"
            topic = await alice.room_get_state_event(room, "m.room.topic")
            assert topic.content.get("topic") == "original"

            # A message event needs only events_default (0): bob may talk.
            sent = await bob.room_send(room, "m.room.message",
                                       {"msgtype": "m.text", "body": "hi"})
            assert isinstance(sent, nio.RoomSendResponse), sent

            pl = (await alice.room_get_state_event(room, "m.room.power_levels")).content
            state_default = pl.get("state_default", 50)
            pl.setdefault("users", {})[bob.user_id] = state_default
            r = await alice.room_put_state(room, "m.room.power_levels", pl)
            assert isinstance(r, nio.RoomPutStateResponse), r
            ok = await bob.room_put_state(room, "m.room.topic", {"topic": "bob's"})
            assert isinstance(ok, nio.RoomPutStateResponse), ok
            topic = await alice.room_get_state_event(room, "m.room.topic")
            assert topic.content.get("topic") == "bob's"
        finally:
            await close_all(alice, bob)

    run(go())


def test_redact_empties_content_for_everyone(server):
    """PUT /rooms/{roomId}/redact/{eventId}/{txnId}: "Strips all information
    out of an event which isn't critical to the integrity of the server-side
    representation of the room". m.room.message keeps no content key (room
    version redaction algorithm), so both users get content {} from /event
    and /messages; type and sender survive. A user without the `redact`
    power level cannot redact someone else's event (403)."""

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            room = (await alice.room_create(preset=nio.RoomPreset.public_chat)).room_id
            assert isinstance(await bob.join(room), nio.JoinResponse)
            secret = (await alice.room_send(room, "m.room.message",
                                            {"msgtype": "m.text", "body": "secret words"})).event_id
            kept = (await alice.room_send(room, "m.room.message",
                                          {"msgtype": "m.text", "body": "kept words"})).event_id

            refused = await bob.room_redact(room, kept, reason="not mine")
            assert isinstance(refused, nio.RoomRedactError), refused
            assert refused.transport_response.status == 403

            red = await alice.room_redact(room, secret, reason="oops")
            assert isinstance(red, nio.RoomRedactResponse), red
            assert red.event_id.startswith("$") and red.event_id != secret

            for client in (alice, bob):
                ev = await client.room_get_event(room, secret)
                assert isinstance(ev, nio.RoomGetEventResponse), ev
                src = ev.event.source
                assert src["content"] == {}, src
                assert src["type"] == "m.room.message" and src["sender"] == alice.user_id
                assert src["event_id"] == secret
                ok = await client.room_get_event(room, kept)
                assert ok.event.source["content"]["body"] == "kept words"

                s = await client.sync()
                msgs = await client.room_messages(room, s.next_batch, limit=50)
                assert isinstance(msgs, nio.RoomMessagesResponse), msgs
                chunk = {e.source["event_id"]: e.source for e in msgs.chunk}
                assert chunk[secret]["content"] == {}, chunk[secret]
                assert chunk[kept]["content"]["body"] == "kept words"
                # The redaction itself is in the timeline, pointing at its target
                # (top-level `redacts` before v11, content.redacts from v11).
                r_ev = chunk[red.event_id]
                assert r_ev["type"] == "m.room.redaction"
                assert secret in (r_ev.get("redacts"), r_ev["content"].get("redacts"))
                assert "secret words" not in json.dumps(msgs.chunk and [e.source for e in msgs.chunk])
        finally:
            await close_all(alice, bob)

    run(go())


def _member_events(events, user_id):
    return [e for e in events if e.get("type") == "m.room.member"
            and e.get("state_key") == user_id]


def test_kick_moves_room_to_leave(server):
    """POST /rooms/{roomId}/kick: "The caller must have the required power
    level"; the kicked user's membership becomes leave, so their /sync shows
    the room under rooms.leave ("The rooms that the user has left or been
    banned from") with the kick in its timeline; sending is then refused."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    since = bob.sync()["next_batch"]

    refused = bob.membership(room, "kick", {"user_id": alice.user_id})
    assert_error(refused, 403, "M_FORBIDDEN")

    async def kick():
        client = nio_client(server, alice.user_id)
        client.access_token, client.user_id = alice.token, alice.user_id
        try:
            r = await client.room_kick(room, bob.user_id, reason="be quiet")
            assert isinstance(r, nio.RoomKickResponse), r
        finally:
            await client.close()

    run(kick())
    body = bob.sync(since)
    left = sync_room(body, room, "leave")
    assert left is not None, f"kicked room not under rooms.leave: {body}"
    assert room not in body.get("rooms", {}).get("join", {})
    kicks = _member_events(left["timeline"]["events"], bob.user_id)
    assert kicks and kicks[-1]["content"]["membership"] == "leave", left
    assert kicks[-1]["sender"] == alice.user_id
    assert kicks[-1]["content"].get("reason") == "be quiet"

    assert room not in bob.call("GET", "joined_rooms").json["joined_rooms"]
    r = bob.call("PUT", f"rooms/{room_path(room)}/send/m.room.message/after-kick",
                 {"msgtype": "m.text", "body": "still here?"})
    assert_error(r, 403, "M_FORBIDDEN")
    # A kick is not a ban: a public room can be joined again.
    bob.join(room)


def test_ban_blocks_rejoin_and_all_later_events(server):
    """POST /rooms/{roomId}/ban: "the user will not be able to join the room
    again until they are unbanned". History visibility: "no events received
    after they left". So messages sent after the ban never reach the banned
    user - not in /sync, not in /messages, not by /event (404 "The event was
    not found or you do not have permission to read this event")."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    before = alice.send(room, "before ban")
    since = bob.sync()["next_batch"]

    ban = alice.membership(room, "ban", {"user_id": bob.user_id, "reason": "spam"})
    assert ban.status == 200, ban
    rejoin = bob.membership(room, "join")
    assert_error(rejoin, 403, "M_FORBIDDEN")
    rejoin = bob.call("POST", f"join/{room_path(room)}", {})
    assert_error(rejoin, 403, "M_FORBIDDEN")

    hidden = [alice.send(room, f"after ban {i}") for i in range(3)]
    alice.put_state(room, "m.room.topic", {"topic": "topic after ban"})

    seen = []
    for _ in range(3):
        body = bob.sync(since)
        seen.append(json.dumps(body))
        since = body["next_batch"]
    everything = "".join(seen)
    assert "after ban" not in everything, everything[:2000]
    # The ban itself is what bob must be told (rooms.leave, "or been banned").
    banned = [e for b in seen for e in _member_events(
        sync_timeline(json.loads(b), room, "leave"), bob.user_id)]
    assert banned and banned[-1]["content"]["membership"] == "ban", seen[0][:2000]

    full = bob.sync(full_state=True)
    assert "after ban" not in json.dumps(full)

    msgs = bob.messages(room, "b", limit=100)
    if msgs.status == 200:
        text = json.dumps(msgs.json)
        assert "after ban" not in text and "topic after ban" not in text, msgs
    else:
        assert_error(msgs, 403, "M_FORBIDDEN")
    for event_id in hidden:
        r = bob.event(room, event_id)
        assert r.status == 404, f"banned user read {event_id}: {r!r}"
    assert alice.event(room, before).status == 200
    for event_id in hidden:
        assert alice.event(room, event_id).status == 200


def test_unban_then_rejoin(server):
    """POST /rooms/{roomId}/unban: "the user will be allowed to join the room
    again"; after joining, new messages reach them again."""

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            room = (await alice.room_create(preset=nio.RoomPreset.public_chat)).room_id
            assert isinstance(await bob.join(room), nio.JoinResponse)
            r = await alice.room_ban(room, bob.user_id, reason="cool off")
            assert isinstance(r, nio.RoomBanResponse), r
            j = await bob.join(room)
            assert isinstance(j, nio.JoinError) and j.status_code == "M_FORBIDDEN", j

            refused = await bob.room_unban(room, bob.user_id)
            assert isinstance(refused, nio.RoomUnbanError), refused

            r = await alice.room_unban(room, bob.user_id)
            assert isinstance(r, nio.RoomUnbanResponse), r
            members = await alice.room_get_state_event(room, "m.room.member", bob.user_id)
            assert members.content["membership"] == "leave", members

            j = await bob.join(room)
            assert isinstance(j, nio.JoinResponse), j
            await bob.sync()
            await alice.room_send(room, "m.room.message",
                                  {"msgtype": "m.text", "body": "welcome back"})
            seen = await nio_sync_until(bob, room, ["welcome back"])
            assert "welcome back" in seen
            jr = await bob.joined_rooms()
            assert room in jr.rooms
        finally:
            await close_all(alice, bob)

    run(go())


def test_leave(server):
    """POST /rooms/{roomId}/leave: "the user will no longer be able to see
    new events in the room"; GET /joined_rooms drops it; the leave shows in
    the leaver's /sync under rooms.leave and in the others' joined_members."""

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            room = (await alice.room_create(preset=nio.RoomPreset.public_chat)).room_id
            assert isinstance(await bob.join(room), nio.JoinResponse)
            assert room in (await bob.joined_rooms()).rooms
            await bob.sync()
            r = await bob.room_leave(room)
            assert isinstance(r, nio.RoomLeaveResponse), r
            assert room not in (await bob.joined_rooms()).rooms
            s = await bob.sync()
            assert isinstance(s, nio.SyncResponse), s
            assert room in s.rooms.leave, s.rooms
            jm = await alice.joined_members(room)
            assert isinstance(jm, nio.JoinedMembersResponse), jm
            assert {m.user_id for m in jm.members} == {alice.user_id}
        finally:
            await close_all(alice, bob)

    run(go())


def _member_ids(resp):
    assert resp.status == 200, resp
    return {e["state_key"]: e["content"]["membership"] for e in resp.json["chunk"]}


def test_joined_rooms_members_filters(server):
    """GET /joined_rooms, GET /rooms/{roomId}/joined_members ("A map of MXID
    to room member objects") and GET /rooms/{roomId}/members with
    `membership` ("The kind of membership to filter for") and
    `not_membership` ("The kind of membership to exclude")."""
    alice, bob, carol, dave, erin = (MatrixUser(server) for _ in range(5))
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    alice.invite(room, carol.user_id)
    dave.join(room)
    assert alice.membership(room, "ban", {"user_id": dave.user_id}).status == 200
    erin.join(room)
    assert erin.membership(room, "leave").status == 200

    r = alice.call("GET", "joined_rooms")
    assert r.status == 200 and room in r.json["joined_rooms"], r
    assert room not in erin.call("GET", "joined_rooms").json["joined_rooms"]
    assert room not in carol.call("GET", "joined_rooms").json["joined_rooms"]

    r = bob.call("GET", f"rooms/{room_path(room)}/joined_members")
    assert r.status == 200, r
    assert set(r.json["joined"]) == {alice.user_id, bob.user_id}, r
    for info in r.json["joined"].values():
        assert set(info) <= {"display_name", "avatar_url"}, r

    path = f"rooms/{room_path(room)}/members"
    everyone = {alice.user_id: "join", bob.user_id: "join", carol.user_id: "invite",
                dave.user_id: "ban", erin.user_id: "leave"}
    assert _member_ids(alice.call("GET", path)) == everyone
    for membership in ("join", "invite", "ban", "leave"):
        got = _member_ids(alice.call("GET", path, query={"membership": membership}))
        assert got == {u: m for u, m in everyone.items() if m == membership}, membership
    got = _member_ids(alice.call("GET", path, query={"not_membership": "leave"}))
    assert got == {u: m for u, m in everyone.items() if m != "leave"}
    got = _member_ids(alice.call("GET", path, query={"not_membership": "join"}))
    assert got == {u: m for u, m in everyone.items() if m != "join"}

    # Not in the room and never was: 403 "You aren't a member of the room".
    outsider = MatrixUser(server)
    assert_error(outsider.call("GET", f"rooms/{room_path(room)}/joined_members"),
                 403, "M_FORBIDDEN")


def test_members_membership_and_not_membership_or(server):
    """GET /members: "When specified alongside not_membership, the two
    parameters create an 'or' condition: either the membership *is* the same
    as membership **or** *is not* the same as not_membership." Kept apart
    from the test above so a reading of this sentence as 'and' shows up here
    alone."""
    alice, bob, carol, erin = (MatrixUser(server) for _ in range(4))
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    alice.invite(room, carol.user_id)
    erin.join(room)
    erin.membership(room, "leave")
    got = _member_ids(alice.call("GET", f"rooms/{room_path(room)}/members",
                                 query={"membership": "invite", "not_membership": "join"}))
    assert got == {carol.user_id: "invite", erin.user_id: "leave"}, got


def test_knock(server):
    """Knocking (POST /knock/{roomIdOrAlias}, room versions 7+): allowed only
    when join_rule is knock ("The room is not set up for knocking" -> 403);
    "The knock will appear as an entry in the response of the /sync API"
    (rooms.knock.{id}.knock_state); the room sees membership knock and an
    invite accepts it."""
    alice, carol = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(room_version="10", preset="private_chat", initial_state=[
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    plain = alice.create_room(preset="private_chat")

    assert_error(carol.call("POST", f"knock/{room_path(plain)}", {}), 403, "M_FORBIDDEN")
    # Knocking is no way in: the room stays closed until someone lets you in.
    assert_error(carol.membership(room, "join"), 403, "M_FORBIDDEN")

    since = carol.sync()["next_batch"]
    r = carol.call("POST", f"knock/{room_path(room)}", {"reason": "let me in"})
    assert r.status == 200 and r.json["room_id"] == room, r

    body = carol.sync(since)
    knocked = sync_room(body, room, "knock")
    assert knocked is not None, f"no rooms.knock entry: {body}"
    mine = _member_events(knocked["knock_state"]["events"], carol.user_id)
    assert mine and mine[-1]["content"]["membership"] == "knock", knocked

    members = _member_ids(alice.call("GET", f"rooms/{room_path(room)}/members",
                                     query={"membership": "knock"}))
    assert members == {carol.user_id: "knock"}
    alice.invite(room, carol.user_id)
    carol.join(room)
    joined = alice.call("GET", f"rooms/{room_path(room)}/joined_members").json["joined"]
    assert set(joined) == {alice.user_id, carol.user_id}


def test_room_version_12_end_to_end(server):
    """Room version 12: "Room IDs no longer include a domain component and are
    instead a hash of the m.room.create event" (the create event's ID with
    sigil '!' instead of '$'); "the room creator is given infinite power level
    and cannot be specified in the users field of m.room.power_levels"
    (createRoom step 3). The room then works like any other."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(room_version="12", preset="public_chat", name="v12")
    assert re.fullmatch(r"![A-Za-z0-9_\-]{43}", room), room
    assert ":" not in room

    create = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.create")
    assert create.status == 200, create
    assert create.json.get("room_version") == "12", create
    # "When an empty string, the trailing slash on this endpoint is optional."
    pl = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.power_levels").json
    assert alice.user_id not in pl.get("users", {}), pl

    bob.join(room)
    eid = bob.send(room, "hello v12")
    alice.send(room, "hi bob")
    assert alice.event(room, eid).json["content"]["body"] == "hello v12"
    events, _, _ = sync_collect(bob, None, room, lambda ev: "hi bob" in message_bodies(ev))
    assert message_bodies(events)[-2:] == ["hello v12", "hi bob"], message_bodies(events)
    history, _ = paginate(bob, room, "b", limit=5)
    assert message_bodies(history)[:2] == ["hi bob", "hello v12"]
    creates = [e for e in history if e["type"] == "m.room.create"]
    assert [e["event_id"] for e in creates] == ["$" + room[1:]], creates
    assert alice.put_state(room, "m.room.topic", {"topic": "creator power"}).status == 200
    assert_error(bob.put_state(room, "m.room.topic", {"topic": "no"}), 403, "M_FORBIDDEN")


def test_state_format_event(server):
    """GET /rooms/{roomId}/state/{eventType}/{stateKey}?format=event: "The
    content of the state event, or the entire client-formatted event if
    ?format=event was used"."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat", topic="formatted")
    r = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.topic",
                   query={"format": "event"})
    assert r.status == 200, r
    assert r.json["type"] == "m.room.topic" and r.json["state_key"] == ""
    assert r.json["content"]["topic"] == "formatted"
    assert r.json["sender"] == alice.user_id and r.json["room_id"] == room
    assert r.json["event_id"].startswith("$")
    plain = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.topic",
                       query={"format": "content"})
    assert plain.status == 200 and plain.json.get("topic") == "formatted", plain


def test_state_empty_key_trailing_slash(server):
    """room_state.yaml / rooms.yaml stateKey: "Defaults to an empty string.
    When an empty string, the trailing slash on this endpoint is optional."
    Both spellings address the same state, for PUT and GET."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    base = f"rooms/{room_path(room)}/state/m.room.topic"
    r = alice.call("PUT", base + "/", {"topic": "with slash"})
    assert r.status == 200, r
    for path in (base, base + "/"):
        got = alice.call("GET", path)
        assert got.status == 200 and got.json == {"topic": "with slash"}, (path, got)
    r = alice.call("PUT", base, {"topic": "without"})
    assert r.status == 200, r
    assert alice.call("GET", base + "/").json == {"topic": "without"}


def test_profile_change_reaches_joined_rooms(server):
    """client-server-api "Events on Change of Profile Information": a new
    display name or avatar is sent as m.room.member in the user's rooms."""
    from chappe_e2e import MatrixUser, sync_timeline, user_path
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    since = alice.sync()["next_batch"]
    r = bob.call("PUT", f"profile/{user_path(bob.user_id)}/displayname", {"displayname": "Bobby"})
    assert r.status == 200, r
    r = bob.call("PUT", f"profile/{user_path(bob.user_id)}/avatar_url",
                 {"avatar_url": "mxc://localhost/abc"})
    assert r.status == 200, r
    events = sync_timeline(alice.sync(since=since), room)
    members = [e["content"] for e in events
               if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    assert members[-1] == {"membership": "join", "displayname": "Bobby",
                           "avatar_url": "mxc://localhost/abc"}, members
