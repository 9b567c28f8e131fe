"""History visibility on /sync, /messages and /event.

Spec: content/client-server-api/modules/history_visibility.md, "Server
behaviour" - the rules are applied with the state *at each event*:
  1. world_readable -> allow; 2. the user's membership was join -> allow;
  3. shared and the user joined at any point after the event -> allow;
  4. membership invite and invited -> allow; 5. otherwise deny.
And: "After a user has left a room, they may see any events which they were
allowed to see before they left the room, but no events received after they
left." GET /event answers 404 for "do not have permission to read this
event" (rooms.yaml).
"""

import json

from chappe_e2e import (MatrixUser, assert_error, message_bodies, paginate,
                        room_path, sync_collect, sync_timeline)

WIDE = {"room": {"timeline": {"limit": 100}}}


def _room(owner, visibility, join_rule="public"):
    return owner.create_room(initial_state=[
        {"type": "m.room.history_visibility", "state_key": "",
         "content": {"history_visibility": visibility}},
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": join_rule}},
    ])


def _seen_everywhere(user, room):
    """Message bodies the user gets from an initial /sync (wide timeline) and
    from /messages back to the start, as two lists."""
    synced = message_bodies(sync_timeline(user.sync(filter=WIDE), room))
    history, _ = paginate(user, room, "b", limit=50)
    return synced, list(reversed(message_bodies(history)))


def test_joined_hides_earlier_messages(server):
    """`joined`: "Events are accessible to newly joined members from the
    point they joined the room onwards"."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "joined")
    early = [alice.send(room, f"before {i}") for i in range(2)]
    bob.join(room)
    late = alice.send(room, "after join")

    synced, paged = _seen_everywhere(bob, room)
    assert synced == ["after join"], synced
    assert paged == ["after join"], paged
    for eid in early:
        assert bob.event(room, eid).status == 404, eid
        assert alice.event(room, eid).status == 200
    assert bob.event(room, late).status == 200
    # "a user can always see m.room.member events which set their membership
    # to join".
    history, _ = paginate(bob, room, "b", limit=50)
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob.user_id
               and e["content"]["membership"] == "join" for e in history)


def test_shared_shows_earlier_messages(server):
    """`shared`: "Previous events are always accessible to newly joined
    members. All events in the room are accessible, even those sent when the
    member was not a part of the room"."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "shared")
    early = [alice.send(room, f"before {i}") for i in range(2)]
    bob.join(room)
    alice.send(room, "after join")

    synced, paged = _seen_everywhere(bob, room)
    assert synced == ["before 0", "before 1", "after join"], synced
    assert paged == ["before 0", "before 1", "after join"], paged
    for eid in early:
        r = bob.event(room, eid)
        assert r.status == 200 and r.json["event_id"] == eid, r


def test_shared_not_before_joining(server):
    """Rule 3 says "the user joined the room at any point after the event":
    a user who was never in a shared room reads nothing ("In all cases except
    world_readable, a user needs to join a room to view events")."""
    alice, carol = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "shared")
    eid = alice.send(room, "members only")
    r = carol.messages(room, "b")
    assert_error(r, 403, "M_FORBIDDEN")
    assert carol.event(room, eid).status == 404
    assert "members only" not in json.dumps(carol.sync(filter=WIDE))


def test_invited_shows_from_invite(server):
    """`invited`: "Events are accessible to newly joined members from the
    point they were invited onwards"."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "invited", join_rule="invite")
    pre = alice.send(room, "before invite")
    alice.invite(room, bob.user_id)
    during = alice.send(room, "while invited")
    bob.join(room)
    alice.send(room, "after join")

    synced, paged = _seen_everywhere(bob, room)
    assert synced == ["while invited", "after join"], synced
    assert paged == ["while invited", "after join"], paged
    assert bob.event(room, pre).status == 404
    assert bob.event(room, during).status == 200


def test_world_readable_non_member_reads(server):
    """`world_readable`: "All events while this is the m.room.history_visibility
    value may be shared ... with any authenticated user, regardless of whether
    they have ever joined the room" - /messages and /event work for a
    non-member, even in an invite-only room."""
    alice, carol = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "world_readable", join_rule="invite")
    ids = [alice.send(room, f"public {i}") for i in range(3)]

    history, _ = paginate(carol, room, "b", limit=2)
    assert list(reversed(message_bodies(history))) == ["public 0", "public 1", "public 2"]
    r = carol.event(room, ids[1])
    assert r.status == 200 and r.json["content"]["body"] == "public 1", r
    # Reading is not joining.
    assert room not in carol.call("GET", "joined_rooms").json["joined_rooms"]
    assert_error(carol.call("PUT", f"rooms/{room_path(room)}/send/m.room.message/x",
                            {"msgtype": "m.text", "body": "no"}), 403, "M_FORBIDDEN")

    # Switching to joined: what was sent afterwards is hidden from carol, what
    # was sent while world_readable stays readable (rules apply "at the
    # point an event is sent").
    r = alice.put_state(room, "m.room.history_visibility", {"history_visibility": "joined"})
    assert r.status == 200, r
    secret = alice.send(room, "members only now")
    assert carol.event(room, secret).status == 404
    assert carol.event(room, ids[0]).status == 200
    r = carol.messages(room, "b", limit=50)
    if r.status == 200:
        assert "members only now" not in message_bodies(r.json["chunk"]), r
    else:
        assert_error(r, 403, "M_FORBIDDEN")


def test_left_user_sees_nothing_after_leave(server):
    """"After a user has left a room, they may see any events which they were
    allowed to see before they left the room, but no events received after
    they left." Rule 2 allows what was sent while they were joined."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "shared")
    bob.join(room)
    during = alice.send(room, "while joined")
    events, since, _ = sync_collect(bob, None, room,
                                    lambda ev: "while joined" in message_bodies(ev))
    assert "while joined" in message_bodies(events)
    r = bob.membership(room, "leave")
    assert r.status == 200, r

    after = [alice.send(room, f"after leave {i}") for i in range(3)]
    alice.put_state(room, "m.room.topic", {"topic": "after leave topic"})
    seen = []
    for _ in range(2):
        body = bob.sync(since)
        seen.append(json.dumps(body))
        since = body["next_batch"]
    seen.append(json.dumps(bob.sync(filter=WIDE)))
    assert not any("after leave" in s for s in seen), seen

    r = bob.messages(room, "b", limit=100)
    if r.status == 200:
        bodies = message_bodies(r.json["chunk"])
        assert not [b for b in bodies if b.startswith("after leave")], bodies
        assert "after leave topic" not in json.dumps(r.json)
    else:
        assert_error(r, 403, "M_FORBIDDEN")
    for eid in after:
        assert bob.event(room, eid).status == 404, eid
    r = bob.event(room, during)
    assert r.status == 200 and r.json["content"]["body"] == "while joined", r


def test_members_frozen_at_leave(server):
    """GET /members: "If you are joined to the room then this will be the
    current members of the room. If you have left the room then this will be
    the members of the room when you left." joined_members needs current
    membership ("You aren't a member of the room" -> 403)."""
    alice, bob, carol = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room = _room(alice, "shared")
    bob.join(room)
    assert bob.membership(room, "leave").status == 200
    carol.join(room)

    r = bob.call("GET", f"rooms/{room_path(room)}/members")
    assert r.status == 200, r
    members = {e["state_key"]: e["content"]["membership"] for e in r.json["chunk"]}
    assert carol.user_id not in members, members
    assert members.get(alice.user_id) == "join", members
    assert members.get(bob.user_id) == "leave", members
    assert_error(bob.call("GET", f"rooms/{room_path(room)}/joined_members"), 403, "M_FORBIDDEN")
    now = alice.call("GET", f"rooms/{room_path(room)}/members")
    assert carol.user_id in {e["state_key"] for e in now.json["chunk"]}, now


def test_members_at_token(server):
    """GET /members `at`: "The point in time (pagination token) to return
    members for in the room. This token can be obtained from a prev_batch
    token returned for each room by the sync API.\""""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "shared")
    alice.send(room, "before bob")
    body = alice.sync(filter={"room": {"timeline": {"limit": 1}}})
    at = body["rooms"]["join"][room]["timeline"]["prev_batch"]
    bob.join(room)
    r = alice.call("GET", f"rooms/{room_path(room)}/members", query={"at": at})
    assert r.status == 200, r
    ids = {e["state_key"] for e in r.json["chunk"]}
    assert alice.user_id in ids and bob.user_id not in ids, ids
    r = alice.call("GET", f"rooms/{room_path(room)}/members")
    assert bob.user_id in {e["state_key"] for e in r.json["chunk"]}


def test_visibility_applies_at_send_time(server):
    """"These options are applied at the point an event is *sent*. ... clients
    cannot retrospectively choose to show or hide history to new users":
    what was sent while `shared` stays readable by a later joiner after a
    switch to `joined`; what was sent after the switch and before the join
    is not. The switch event itself is visible if the visibility "before
    *or* after the event would allow"."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "shared")
    shared_id = alice.send(room, "sent while shared")
    switch = alice.put_state(room, "m.room.history_visibility", {"history_visibility": "joined"})
    assert switch.status == 200, switch
    joined_id = alice.send(room, "sent while joined-only")
    bob.join(room)
    alice.send(room, "after bob joined")

    synced, paged = _seen_everywhere(bob, room)
    assert paged == ["sent while shared", "after bob joined"], paged
    assert synced == ["sent while shared", "after bob joined"], synced
    assert bob.event(room, shared_id).status == 200
    assert bob.event(room, joined_id).status == 404
    assert bob.event(room, switch.json["event_id"]).status == 200


def test_joined_rejoin_leaves_a_hole(server):
    """`joined`: "Events stop being accessible when the member's state
    changes to something other than join". A user who joins, leaves and
    joins again sees both stretches, never what was sent in between."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = _room(alice, "joined")
    bob.join(room)
    alice.send(room, "first stretch")
    assert bob.membership(room, "leave").status == 200
    gap = alice.send(room, "while bob was away")
    bob.join(room)
    alice.send(room, "second stretch")

    synced, paged = _seen_everywhere(bob, room)
    assert paged == ["first stretch", "second stretch"], paged
    assert "while bob was away" not in synced, synced
    assert bob.event(room, gap).status == 404
