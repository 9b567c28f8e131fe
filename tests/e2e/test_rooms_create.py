"""POST /createRoom: what the resulting room holds, checked through the
room's own history and state (data/api/client-server/create_room.yaml).

The spec: "It MUST apply the events implied by the request in the following
order: 1. m.room.create ... 2. An m.room.member event for the creator ...
3. A default m.room.power_levels event ... 5. Events set by the preset ...
6. Events listed in initial_state ... 7. Events implied by name and topic
... 8. Invite events implied by invite".
"""

import pytest

from chappe_e2e import MatrixUser, paginate, room_path, sync_room

# create_room.yaml preset table.
PRESETS = {
    "private_chat": ("invite", "shared", "can_join"),
    "trusted_private_chat": ("invite", "shared", "can_join"),
    "public_chat": ("public", "shared", "forbidden"),
}


def _state(user, room, event_type, state_key=""):
    path = f"rooms/{room_path(room)}/state/{event_type}"
    if state_key:
        path += "/" + room_path(state_key)
    r = user.call("GET", path)
    assert r.status == 200, (event_type, state_key, r)
    return r.json


def _history(user, room):
    events, _ = paginate(user, room, "f", limit=100)
    return events


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets(server, preset):
    """The preset table: join_rules, history_visibility, guest_access."""
    alice = MatrixUser(server)
    room = alice.create_room(preset=preset)
    join_rule, visibility, guest = PRESETS[preset]
    assert _state(alice, room, "m.room.join_rules")["join_rule"] == join_rule
    assert _state(alice, room, "m.room.history_visibility")["history_visibility"] == visibility
    assert _state(alice, room, "m.room.guest_access")["guest_access"] == guest


@pytest.mark.parametrize("visibility,join_rule", [("public", "public"), ("private", "invite")])
def test_preset_from_visibility(server, visibility, join_rule):
    """preset: "If unspecified, the server should use the visibility to
    determine which preset to use. A visibility of public equates to a preset
    of public_chat and private visibility equates to a preset of
    private_chat"."""
    alice = MatrixUser(server)
    room = alice.create_room(visibility=visibility)
    assert _state(alice, room, "m.room.join_rules")["join_rule"] == join_rule


@pytest.mark.parametrize("version", ["10", "11"])
def test_event_order_and_contents(server, version):
    """The order of the events createRoom implies, and what each holds."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(
        room_version=version, preset="private_chat", name="by name", topic="by topic",
        invite=[bob.user_id],
        initial_state=[
            {"type": "m.room.name", "state_key": "", "content": {"name": "by initial_state"}},
            {"type": "org.chappe.extra", "state_key": "x", "content": {"n": 1}},
            {"type": "m.room.join_rules", "content": {"join_rule": "public"}}],
        creation_content={"m.federate": False, "creator": "@mallory:localhost",
                          "room_version": "1"})
    events = _history(alice, room)
    kinds = [(e["type"], e.get("state_key")) for e in events]
    assert kinds[0] == ("m.room.create", "")
    assert kinds[1] == ("m.room.member", alice.user_id)
    assert kinds[2] == ("m.room.power_levels", "")
    order = {k: i for i, k in reversed(list(enumerate(kinds)))}
    preset_ix = [i for i, k in enumerate(kinds) if k[0] in
                 ("m.room.history_visibility", "m.room.guest_access")]
    initial_ix = order[("org.chappe.extra", "x")]
    assert preset_ix and max(preset_ix) < initial_ix, kinds
    name_events = [e for e in events if e["type"] == "m.room.name"]
    assert [e["content"]["name"] for e in name_events] == ["by initial_state", "by name"]
    assert order[("m.room.topic", "")] > initial_ix
    assert kinds[-1] == ("m.room.member", bob.user_id), kinds
    assert events[-1]["content"]["membership"] == "invite"

    create = events[0]["content"]
    # "The server will overwrite the following keys: creator, room_version."
    assert create["room_version"] == version, create
    assert create.get("creator", alice.user_id) == alice.user_id, create
    assert create["m.federate"] is False
    assert events[0]["sender"] == alice.user_id
    # initial_state "Takes precedence over events set by preset, but gets
    # overridden by name and topic keys".
    assert _state(alice, room, "m.room.join_rules")["join_rule"] == "public"
    assert _state(alice, room, "m.room.name")["name"] == "by name"
    assert _state(alice, room, "org.chappe.extra", "x") == {"n": 1}
    # Rooms 1-11: "the room creator (and not other members) will be given
    # permission to send state events".
    pl = _state(alice, room, "m.room.power_levels")
    assert pl["users"].get(alice.user_id, 0) >= pl.get("state_default", 50)
    assert pl["users"].get(bob.user_id, pl.get("users_default", 0)) < pl.get("state_default", 50)


def test_invite_and_is_direct(server):
    """invite: "A list of user IDs to invite to the room"; is_direct: "makes
    the server set the is_direct flag on the m.room.member events sent to the
    users in invite". The invitee's /sync lists the room in rooms.invite with
    stripped state ("can only have the sender, type, state_key and content
    properties"; m.room.create "is now required" in invite_state, v1.16)."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="trusted_private_chat", invite=[bob.user_id],
                             is_direct=True, name="dm")
    member = _state(alice, room, "m.room.member", bob.user_id)
    assert member["membership"] == "invite" and member.get("is_direct") is True, member

    invited = sync_room(bob.sync(), room, "invite")
    assert invited is not None, "invitee's /sync has no rooms.invite entry"
    events = invited["invite_state"]["events"]
    types = {e["type"] for e in events}
    assert "m.room.create" in types, types
    mine = [e for e in events if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    assert mine and mine[0]["content"]["membership"] == "invite", events
    assert any(e["type"] == "m.room.name" and e["content"].get("name") == "dm" for e in events)
    extra = [(e["type"], sorted(set(e) - {"sender", "type", "state_key", "content"}))
             for e in events]
    assert not any(keys for _, keys in extra), f"stripped state with extra keys: {extra}"


def test_trusted_private_chat_invitees_power(server):
    """trusted_private_chat: "All invitees are given the same power level as
    the room creator" (room versions before 12; in 12 they become
    additional_creators)."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="trusted_private_chat", invite=[bob.user_id],
                             room_version="11")
    pl = _state(alice, room, "m.room.power_levels")
    assert pl["users"].get(bob.user_id) == pl["users"].get(alice.user_id), pl
    bob.join(room)
    r = bob.put_state(room, "m.room.topic", {"topic": "bob is an admin"})
    assert r.status == 200, r


def test_power_level_content_override(server):
    """power_level_content_override "is applied on top of the generated
    m.room.power_levels event content prior to it being sent to the room"."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat", room_version="11",
                             power_level_content_override={
                                 "events": {"m.room.topic": 10},
                                 "users_default": 10, "invite": 77})
    pl = _state(alice, room, "m.room.power_levels")
    assert pl["users_default"] == 10 and pl["invite"] == 77, pl
    assert pl["events"]["m.room.topic"] == 10, pl
    assert pl["users"].get(alice.user_id) == 100, "the creator keeps the generated level"
    bob.join(room)
    assert bob.put_state(room, "m.room.topic", {"topic": "users_default is enough"}).status == 200
    assert bob.put_state(room, "m.room.name", {"name": "but not this"}).status == 403


def test_joined_rooms_after_create(server):
    """GET /joined_rooms: "This API returns a list of the user's current
    rooms"."""
    alice = MatrixUser(server)
    rooms = {alice.create_room(preset="private_chat") for _ in range(3)}
    got = alice.call("GET", "joined_rooms")
    assert got.status == 200, got
    assert set(got.json["joined_rooms"]) == rooms


def test_default_and_available_versions(server):
    """capabilities m.room_versions: "default: The default room version the
    server is using for new rooms"; createRoom without room_version uses it
    ("If not provided, the homeserver is to use its configured default").
    Every version listed as available can be created and used."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    caps = alice.call("GET", "capabilities")
    assert caps.status == 200, caps
    versions = caps.json["capabilities"]["m.room_versions"]
    default, available = versions["default"], versions["available"]
    assert available.get(default) == "stable", versions
    room = alice.create_room(preset="public_chat")
    assert _state(alice, room, "m.room.create")["room_version"] == default
    for version, stability in sorted(available.items()):
        assert stability in ("stable", "unstable"), versions
        room = alice.create_room(preset="public_chat", room_version=version)
        assert _state(alice, room, "m.room.create")["room_version"] == version
        bob.join(room)
        eid = bob.send(room, f"in v{version}")
        assert alice.event(room, eid).json["content"]["body"] == f"in v{version}"
