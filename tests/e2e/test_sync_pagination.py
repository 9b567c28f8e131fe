"""Pagination over a long history and the /sync <-> /messages hand-over.

Spec: GET /rooms/{roomId}/messages (message_pagination.yaml) and Syncing
(content/client-server-api/_index.md, "limited" timelines and prev_batch).
One room with 1,000 numbered messages is built once per module and shared
by the read-only tests.
"""

import asyncio
import http.client
import json
import secrets

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (PASSWORD, MatrixUser, message_bodies, paginate, room_path,
                        sync_room, sync_timeline)

N = 1000


def numbered(prefix, n):
    return [f"{prefix}{i:04d}" for i in range(n)]


def send_many(user, room_id, bodies):
    """Send bodies in order over one kept-alive connection (1,000 fresh
    connections would only measure connect()). Returns the event IDs."""
    conn, ids = None, []
    try:
        for body in bodies:
            for attempt in (0, 1):
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", user.server.port, timeout=30)
                path = (f"/_matrix/client/v3/rooms/{room_path(room_id)}/send/"
                        f"m.room.message/{secrets.token_hex(8)}")
                try:
                    conn.request("PUT", path, json.dumps({"msgtype": "m.text", "body": body}),
                                 {"Authorization": f"Bearer {user.token}",
                                  "Content-Type": "application/json"})
                    resp = conn.getresponse()
                    data = resp.read()
                except (http.client.HTTPException, ConnectionError):
                    # The server may close an idle keep-alive; retry once on a
                    # new connection (a new txnId is harmless: nothing was sent).
                    conn.close()
                    conn = None
                    if attempt:
                        raise
                    continue
                assert resp.status == 200, (body, resp.status, data[:300])
                ids.append(json.loads(data)["event_id"])
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                break
    finally:
        if conn is not None:
            conn.close()
    return ids


@pytest.fixture(scope="module")
def long_room(module_server):
    """(owner, room_id, event_ids, reader) of a room holding messages
    m0000..m0999 as its last events; reader joined before them."""
    owner, reader = MatrixUser(module_server), MatrixUser(module_server)
    room = owner.create_room(preset="public_chat", name="long history")
    reader.join(room)
    ids = send_many(owner, room, numbered("m", N))
    assert len(set(ids)) == N
    return owner, room, ids, reader


def test_paginate_back_over_1000_with_nio(server, long_room):
    """GET /messages dir=b: "events will be returned in *reverse*
    chronological order"; "Clients should continue to paginate until no end
    property is returned". Starting at an initial sync's prev_batch, the
    pages plus the sync timeline are exactly the 1,000 messages, in order,
    none twice."""
    _, room, ids, reader = long_room

    async def go():
        client = nio.AsyncClient(server.url, reader.name, config=nio.AsyncClientConfig(
            max_limit_exceeded=0, max_timeouts=0, request_timeout=60,
            encryption_enabled=False, store_sync_tokens=False))
        try:
            login = await client.login(PASSWORD)
            assert isinstance(login, nio.LoginResponse), login
            s = await client.sync()
            assert isinstance(s, nio.SyncResponse), s
            timeline = s.rooms.join[room].timeline
            assert timeline.limited is True, "1,000 events cannot fit an initial sync"
            assert timeline.prev_batch, "a limited timeline must give prev_batch"
            tail = [e.source for e in timeline.events]

            token, chunk, pages = timeline.prev_batch, [], 0
            while token is not None:
                r = await client.room_messages(room, token, limit=100)
                assert isinstance(r, nio.RoomMessagesResponse), r
                chunk += [e.source for e in r.chunk]
                token, pages = r.end, pages + 1
                assert pages <= N, "pagination never ends"
            return chunk, tail
        finally:
            await client.close()

    chunk, tail = asyncio.run(go())
    before = list(reversed(chunk))
    everything = before + tail
    event_ids = [e["event_id"] for e in everything]
    assert len(event_ids) == len(set(event_ids)), "an event came twice"
    assert message_bodies(everything) == numbered("m", N)
    got_ids = [e["event_id"] for e in everything if e["type"] == "m.room.message"]
    assert got_ids == ids
    # Back to the beginning: the last page ends with the create event.
    assert before[0]["type"] == "m.room.create", before[0]


def test_paginate_back_from_next_batch(server, long_room):
    """from "can be obtained from a prev_batch or next_batch token returned by
    the /sync endpoint": from next_batch, dir=b alone yields all 1,000."""
    owner, room, _, _ = long_room
    token = owner.sync(filter={"room": {"timeline": {"limit": 1}}})["next_batch"]
    events, pages = paginate(owner, room, "b", from_=token, limit=250)
    bodies = message_bodies(events)
    assert bodies == list(reversed(numbered("m", N)))
    assert len({e["event_id"] for e in events}) == len(events)
    assert pages >= 4


def test_paginate_forward(server, long_room):
    """dir=f: "events will be returned in chronological order starting at
    from"; without from, "from the first ... visible event in the room
    history". A backward page's `end` token continues forward too."""
    owner, room, _, _ = long_room
    events, _ = paginate(owner, room, "f", limit=150)
    assert message_bodies(events) == numbered("m", N)
    assert events[0]["type"] == "m.room.create", events[0]

    token = owner.sync(filter={"room": {"timeline": {"limit": 1}}})["next_batch"]
    back = owner.messages(room, "b", from_=token, limit=250)
    assert back.status == 200, back
    assert message_bodies(back.json["chunk"]) == list(reversed(numbered("m", N)))[:250]
    fwd, _ = paginate(owner, room, "f", from_=back.json["end"], limit=100)
    assert message_bodies(fwd) == numbered("m", N)[-250:]


def test_start_echoes_from(server, long_room):
    """/messages `start`: "A token corresponding to the start of chunk. This
    will be the same as the value given in from" - for a /sync token and for
    an `end` token alike."""
    owner, room, _, _ = long_room
    token = owner.sync(filter={"room": {"timeline": {"limit": 1}}})["next_batch"]
    first = owner.messages(room, "b", from_=token, limit=5)
    assert first.status == 200, first
    assert first.json["start"] == token, first
    second = owner.messages(room, "b", from_=first.json["end"], limit=5)
    assert second.status == 200 and second.json["start"] == first.json["end"], second


def test_limit_is_honoured(server, long_room):
    """limit: "The maximum number of events to return. Default: 10"."""
    owner, room, _, _ = long_room
    token = owner.sync()["next_batch"]
    r = owner.messages(room, "b", from_=token)
    assert r.status == 200, r
    assert len(r.json["chunk"]) == 10, len(r.json["chunk"])
    r = owner.messages(room, "b", from_=token, limit=7)
    assert message_bodies(r.json["chunk"]) == list(reversed(numbered("m", N)))[:7]


def test_limited_sync_prev_batch_closes_gap(server):
    """Syncing: a "limited" timeline "containing only the most recent message
    events" and a prev_batch; "To close the gap, the client should make a
    request to /rooms/{roomId}/messages with the query parameters from=<since>
    and to=<prev_batch>". Continuing backwards from prev_batch gives the
    missed events without a gap or an overlap with the timeline."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    alice.send(room, "old")
    small = {"room": {"timeline": {"limit": 10}}}
    since = bob.sync(filter=small)["next_batch"]

    send_many(alice, room, numbered("g", 60))
    body = bob.sync(since, filter=small)
    joined = sync_room(body, room)
    assert joined is not None, body
    tl = joined["timeline"]
    assert tl.get("limited") is True, tl
    assert message_bodies(tl["events"]) == numbered("g", 60)[-10:]
    prev = tl["prev_batch"]

    # Forward over the gap, as the spec's example does it.
    gap_f, _ = paginate(bob, room, "f", from_=since, to=prev, limit=20)
    assert message_bodies(gap_f) == numbered("g", 50)
    # Backward from prev_batch down to since: the same events, reversed.
    gap_b, _ = paginate(bob, room, "b", from_=prev, to=since, limit=20)
    assert message_bodies(gap_b) == list(reversed(numbered("g", 50)))
    # Backward from prev_batch with no bound: the gap, then older history.
    older, _ = paginate(bob, room, "b", from_=prev, limit=100)
    assert message_bodies(older) == list(reversed(["old"] + numbered("g", 50)))
    timeline_ids = {e["event_id"] for e in tl["events"]}
    assert not timeline_ids & {e["event_id"] for e in older}, "overlap with the timeline"

    # A small increment is not limited, and contains exactly what was sent.
    alice.send(room, "fresh")
    body = bob.sync(body["next_batch"], filter=small)
    tl = sync_room(body, room)["timeline"]
    assert tl.get("limited", False) is False, tl
    assert message_bodies(sync_timeline(body, room)) == ["fresh"]
