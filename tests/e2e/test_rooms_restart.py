"""What a room acknowledged survives a restart and a crash.

STYLE.md: "a crash-and-restart test proves that what was acknowledged
survives". A 200 from PUT /send carries an event_id the client may rely on
(room_send.yaml "An ID for the sent event"), so after SIGKILL and a restart
the event, the room state and the membership are all still there, and a
/sync `since` token issued before the crash still continues the stream
("A point in time to continue a sync from").
"""

from chappe_e2e import MatrixUser, message_bodies, paginate, room_path, sync_timeline


def _reattach(srv, user):
    """The same account after a restart: log in again (tokens may or may not
    survive a restart; rooms must)."""
    return MatrixUser(srv, token=srv.login(user.name)["access_token"], user_id=user.user_id)


def test_sigkill_keeps_acknowledged_events(make_server):
    srv = make_server()
    alice, bob = MatrixUser(srv), MatrixUser(srv)
    room = alice.create_room(preset="public_chat", name="durable", room_version="11")
    bob.join(room)
    ids = [alice.send(room, f"d{i}") for i in range(50)]
    alice.put_state(room, "m.room.topic", {"topic": "survives"})
    since = bob.sync()["next_batch"]

    srv.kill()  # SIGKILL: no shutdown path runs
    srv.start()
    alice, bob = _reattach(srv, alice), _reattach(srv, bob)

    history, _ = paginate(bob, room, "f", limit=100)
    assert message_bodies(history) == [f"d{i}" for i in range(50)]
    assert [e["event_id"] for e in history if e["type"] == "m.room.message"] == ids
    topic = bob.call("GET", f"rooms/{room_path(room)}/state/m.room.topic")
    assert topic.status == 200 and topic.json == {"topic": "survives"}, topic
    joined = alice.call("GET", f"rooms/{room_path(room)}/joined_members").json["joined"]
    assert set(joined) == {alice.user_id, bob.user_id}
    assert room in bob.call("GET", "joined_rooms").json["joined_rooms"]

    # The stream continues from a token issued before the crash.
    alice.send(room, "after restart")
    body = bob.sync(since)
    assert message_bodies(sync_timeline(body, room)) == ["after restart"], body
    assert bob.event(room, ids[0]).json["content"]["body"] == "d0"


def test_clean_restart_keeps_rooms_and_filters(make_server):
    """A SIGTERM restart keeps rooms, an uploaded filter (its ID is handed to
    clients for reuse in "long poll requests") and history visibility."""
    srv = make_server()
    alice, bob = MatrixUser(srv), MatrixUser(srv)
    room = alice.create_room(preset="public_chat", initial_state=[
        {"type": "m.room.history_visibility", "state_key": "",
         "content": {"history_visibility": "joined"}}])
    alice.send(room, "before bob")
    r = alice.call("POST", f"user/{room_path(alice.user_id)}/filter",
                   {"room": {"timeline": {"limit": 3}}})
    assert r.status == 200, r
    fid = r.json["filter_id"]

    assert srv.stop() == []
    srv.start()
    alice, bob = _reattach(srv, alice), _reattach(srv, bob)
    got = alice.call("GET", f"user/{room_path(alice.user_id)}/filter/{fid}")
    assert got.status == 200 and got.json["room"]["timeline"]["limit"] == 3, got
    bob.join(room)
    alice.send(room, "after bob")
    history, _ = paginate(bob, room, "b", limit=50)
    assert message_bodies(history) == ["after bob"], message_bodies(history)
