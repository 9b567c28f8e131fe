"""Filters: upload/download (filter.yaml) and their effect on /sync
(sync.yaml, definitions/sync_filter.yaml, room_event_filter.yaml,
event_filter.yaml) and /messages, plus lazy-loading room members
(content/client-server-api/_index.md, "Lazy-loading room members")."""

import asyncio
import json

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (MatrixUser, assert_error, message_bodies,
                        sync_room, sync_timeline, user_path)


def _upload(user, definition):
    return user.call("POST", f"user/{user_path(user.user_id)}/filter", definition)


def test_filter_upload_and_get(server):
    """POST /user/{userId}/filter returns filter_id, which "Cannot start with
    a {"; GET /user/{userId}/filter/{filterId} returns "The filter
    definition"; an unknown ID is 404 ("Unknown filter")."""
    definition = {"room": {"timeline": {"limit": 5, "types": ["m.room.message"],
                                        "not_senders": ["@spam:localhost"]},
                           "state": {"lazy_load_members": True}},
                  "event_fields": ["type", "content", "sender"],
                  "event_format": "client"}

    async def go(user):
        client = nio.AsyncClient(server.url, user.user_id, config=nio.AsyncClientConfig(
            max_limit_exceeded=0, max_timeouts=0, encryption_enabled=False,
            store_sync_tokens=False))
        client.access_token, client.user_id = user.token, user.user_id
        try:
            r = await client.upload_filter(room=definition["room"],
                                           event_fields=definition["event_fields"])
            assert isinstance(r, nio.UploadFilterResponse), r
            return r.filter_id
        finally:
            await client.close()

    alice = MatrixUser(server)
    fid = asyncio.run(go(alice))
    assert isinstance(fid, str) and fid and not fid.startswith("{"), fid
    got = alice.call("GET", f"user/{user_path(alice.user_id)}/filter/{fid}")
    assert got.status == 200, got
    assert got.json["room"]["timeline"]["limit"] == 5, got
    assert got.json["room"]["timeline"]["types"] == ["m.room.message"]
    assert got.json["room"]["timeline"]["not_senders"] == ["@spam:localhost"]
    assert got.json["room"]["state"]["lazy_load_members"] is True
    assert got.json["event_fields"] == ["type", "content", "sender"]

    r = _upload(alice, {"room": {"timeline": {"limit": 2}}})
    assert r.status == 200 and r.json["filter_id"] != fid, r

    missing = alice.call("GET", f"user/{user_path(alice.user_id)}/filter/nosuchfilter")
    assert missing.status == 404, missing
    # "The access token must be authorised to make requests for this user id."
    bob = MatrixUser(server)
    r = bob.call("POST", f"user/{user_path(alice.user_id)}/filter", {"room": {}})
    assert_error(r, 403, "M_FORBIDDEN")
    r = bob.call("GET", f"user/{user_path(alice.user_id)}/filter/{fid}")
    assert r.status in (403, 404), r
    assert "timeline" not in r.body.decode(errors="replace")


@pytest.mark.parametrize("definition", [
    {"room": {"timeline": {"limit": 0}}},          # "must be an integer greater than 0"
    {"room": {"timeline": {"limit": "ten"}}},
    {"room": {"timeline": {"types": "m.room.message"}}},
    {"room": {"rooms": [1, 2]}},
    {"event_format": "binary"},
    {"room": {"include_leave": "yes"}},
], ids=["limit0", "limit-string", "types-not-list", "rooms-not-strings",
        "format-enum", "include-leave-type"])
def test_filter_invalid_refused(server, definition):
    """A filter that does not match the schema is a bad request (400); an
    inline one on /sync likewise."""
    alice = MatrixUser(server)
    r = _upload(alice, definition)
    assert r.status == 400, r
    assert r.errcode in ("M_BAD_JSON", "M_INVALID_PARAM", "M_NOT_JSON"), r
    r = alice.call("GET", "sync", query={"filter": json.dumps(definition)})
    assert r.status == 400, r


def _members_in(events):
    return {e["state_key"] for e in events if e.get("type") == "m.room.member"}


def test_lazy_load_members(server):
    """lazy_load_members: "the server will only return membership events for
    the sender of events in the timeline, not all members of a room"; and
    "servers MUST include the syncing user's own membership event ... when
    the full state of rooms is requested". Without it, "the default behaviour
    of state is to include all membership events"."""
    alice, bob, carol, dave = (MatrixUser(server) for _ in range(4))
    room = alice.create_room(preset="public_chat")
    for u in (bob, carol, dave):
        u.join(room)
    bob.send(room, "only bob speaks")
    lazy = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}}

    body = alice.sync(filter=lazy)
    joined = sync_room(body, room)
    assert message_bodies(joined["timeline"]["events"]) == ["only bob speaks"]
    members = _members_in(joined["state"]["events"]) | _members_in(joined["timeline"]["events"])
    assert bob.user_id in members, joined["state"]
    assert carol.user_id not in members and dave.user_id not in members, members
    # Lazy loading concerns members only: the rest of the state is there.
    types = {e["type"] for e in joined["state"]["events"]}
    assert {"m.room.create", "m.room.power_levels", "m.room.join_rules"} <= types, types

    full = alice.sync(body["next_batch"], filter=lazy, full_state=True)
    state = sync_room(full, room)["state"]["events"]
    assert alice.user_id in _members_in(state), state

    # By filter ID, the same behaviour.
    fid = _upload(alice, lazy).json["filter_id"]
    joined = sync_room(alice.sync(filter=fid), room)
    members = _members_in(joined["state"]["events"])
    assert carol.user_id not in members and dave.user_id not in members, members

    eager = sync_room(alice.sync(filter={"room": {"timeline": {"limit": 1}}}), room)
    everyone = _members_in(eager["state"]["events"]) | _members_in(eager["timeline"]["events"])
    assert {alice.user_id, bob.user_id, carol.user_id, dave.user_id} <= everyone, everyone


def test_types_and_not_types(server):
    """EventFilter types / not_types: "A * can be used as a wildcard"; "A
    matching type will be excluded even if it is listed in the types
    filter". Applied to the /sync timeline and to /messages."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    alice.send(room, "text one")
    alice.send(room, event_type="org.chappe.ping", content={"n": 1})
    alice.send(room, "text two")
    alice.send(room, event_type="org.chappe.pong", content={"n": 2})

    def timeline_types(timeline_filter):
        body = alice.sync(filter={"room": {"timeline": dict(limit=50, **timeline_filter)}})
        return [e["type"] for e in sync_timeline(body, room)]

    assert timeline_types({"types": ["m.room.message"]}) == ["m.room.message"] * 2
    assert timeline_types({"types": ["org.chappe.*"]}) == ["org.chappe.ping", "org.chappe.pong"]
    got = timeline_types({"not_types": ["m.room.message", "m.room.member"]})
    assert "m.room.message" not in got and "m.room.member" not in got, got
    assert "org.chappe.ping" in got and "m.room.create" in got, got
    assert timeline_types({"types": ["org.chappe.*"], "not_types": ["*.pong"]}) == \
        ["org.chappe.ping"]

    r = alice.messages(room, "b", limit=50, filter={"types": ["org.chappe.ping"]})
    assert r.status == 200, r
    assert [e["type"] for e in r.json["chunk"]] == ["org.chappe.ping"], r
    r = alice.messages(room, "f", limit=50, filter={"not_types": ["m.room.*", "org.*"]})
    assert r.status == 200 and r.json["chunk"] == [], r


def test_timeline_limit(server):
    """RoomEventFilter limit: "The maximum number of events to return"; a
    timeline cut short is `limited` with a prev_batch."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    for i in range(8):
        alice.send(room, f"n{i}")
    for limit in (1, 3, 8):
        tl = sync_room(alice.sync(filter={"room": {"timeline": {"limit": limit}}}),
                       room)["timeline"]
        assert len(tl["events"]) == limit, (limit, tl)
        assert message_bodies(tl["events"]) == [f"n{i}" for i in range(8 - limit, 8)]
        assert tl["limited"] is True and isinstance(tl["prev_batch"], str), tl
    fid = _upload(alice, {"room": {"timeline": {"limit": 2}}}).json["filter_id"]
    tl = sync_room(alice.sync(filter=fid), room)["timeline"]
    assert message_bodies(tl["events"]) == ["n6", "n7"], tl


def test_rooms_and_not_rooms(server):
    """RoomFilter rooms / not_rooms: "A matching room will be excluded even if
    it is listed in the rooms filter"; include_leave "Defaults to false"."""
    alice = MatrixUser(server)
    r1 = alice.create_room(preset="private_chat", name="one")
    r2 = alice.create_room(preset="private_chat", name="two")
    r3 = alice.create_room(preset="private_chat", name="three")
    assert alice.membership(r3, "leave").status == 200

    def joined(room_filter):
        return set(alice.sync(filter={"room": room_filter}).get("rooms", {}).get("join", {}))

    assert {r1, r2} <= joined({})
    assert joined({"rooms": [r1]}) == {r1}
    assert joined({"not_rooms": [r1], "rooms": [r1, r2]}) == {r2}
    assert r1 not in joined({"not_rooms": [r1]})
    assert joined({"rooms": []}) == set()

    default = alice.sync().get("rooms", {}).get("leave", {})
    assert r3 not in default, "include_leave defaults to false"
    left = alice.sync(filter={"room": {"include_leave": True}}).get("rooms", {}).get("leave", {})
    assert r3 in left, left

    # The same filter applies to incremental syncs: a message in a filtered-
    # out room does not wake or fill the response.
    since = alice.sync(filter={"room": {"rooms": [r1]}})["next_batch"]
    alice.send(r2, "not for this filter")
    body = alice.sync(since, filter={"room": {"rooms": [r1]}})
    assert r2 not in body.get("rooms", {}).get("join", {}), body
    assert "not for this filter" not in json.dumps(body)


def test_senders_and_contains_url(server):
    """EventFilter senders / not_senders ("A matching sender will be excluded
    even if it is listed in the senders filter") and RoomEventFilter
    contains_url ("If true, includes only events with a url key in their
    content. If false, excludes those events"), on /sync and /messages."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    alice.send(room, "alice text")
    bob.send(room, "bob text")
    alice.send(room, content={"msgtype": "m.image", "body": "pic.png",
                              "url": "mxc://localhost/abcdef"})

    def bodies(timeline_filter):
        f = {"room": {"timeline": dict(limit=50, types=["m.room.message"], **timeline_filter)}}
        return message_bodies(sync_timeline(alice.sync(filter=f), room))

    assert bodies({"senders": [bob.user_id]}) == ["bob text"]
    assert bodies({"not_senders": [bob.user_id]}) == ["alice text", "pic.png"]
    assert bodies({"senders": [bob.user_id], "not_senders": [bob.user_id]}) == []
    assert bodies({"contains_url": True}) == ["pic.png"]
    assert bodies({"contains_url": False}) == ["alice text", "bob text"]

    r = alice.messages(room, "b", limit=50, filter={"contains_url": True})
    assert r.status == 200 and message_bodies(r.json["chunk"]) == ["pic.png"], r
    r = alice.messages(room, "f", limit=50, filter={"senders": [bob.user_id]})
    assert r.status == 200, r
    assert {e["sender"] for e in r.json["chunk"]} == {bob.user_id}, r


def test_messages_lazy_load_members(server):
    """/messages supports lazy-loading ("The current endpoints which support
    lazy-loading room members are: /sync, /rooms/<room_id>/messages ..."):
    with lazy_load_members, "lazy-loading aware endpoints ... will only
    include membership events for the sender of events being included in the
    response" - so `state` never holds members who sent nothing in `chunk`."""
    alice, bob, carol, dave = (MatrixUser(server) for _ in range(4))
    room = alice.create_room(preset="public_chat")
    for u in (bob, carol, dave):
        u.join(room)
    bob.send(room, "bob speaks")
    r = alice.messages(room, "b", limit=1, filter={"lazy_load_members": True})
    assert r.status == 200, r
    assert message_bodies(r.json["chunk"]) == ["bob speaks"], r
    members = _members_in(r.json.get("state", []))
    assert members <= {bob.user_id, alice.user_id}, members
    eager = alice.messages(room, "b", limit=1)
    assert eager.status == 200 and len(eager.json["chunk"]) == 1, eager
