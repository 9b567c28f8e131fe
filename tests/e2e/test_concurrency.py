"""50 clients send into one room at once, 20 messages each, while all of them
long-poll /sync. Nothing may be lost, and every client's /sync stream must
hold every message exactly once, all in the same order.

Spec: Syncing (content/client-server-api/_index.md): "all new events which
are visible to the client will appear in the response to the /sync API";
a "limited" timeline leaves a gap the client fills with /messages from
`since` to `prev_batch` - so a client that got a limited response closes
the gap that way, as the spec tells clients to, and still must see each
message once. Room events have one order (the room's timeline), so every
member sees the same sequence; each sender's messages keep their send order
(they were sent one after the other).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from chappe_e2e import MatrixUser, paginate, room_path, sync_room

CLIENTS = 50
PER_CLIENT = 20
TOTAL = CLIENTS * PER_CLIENT
DEADLINE_S = 150
FILTER = {"room": {"timeline": {"limit": 200}}}


def _stream(user, room, since, stop_at, errors):
    """One client's view: incremental /sync from `since` until TOTAL test
    messages were seen or the deadline; returns the events, in order."""
    events = []
    count = 0
    try:
        while count < TOTAL and time.monotonic() < stop_at:
            body = user.sync(since, timeout=5000, filter=FILTER, http_timeout=60)
            room_part = sync_room(body, room)
            if room_part is not None:
                tl = room_part.get("timeline", {})
                if tl.get("limited"):
                    gap, _ = paginate(user, room, "f", from_=since,
                                      to=tl["prev_batch"], limit=100)
                    events += gap
                events += tl.get("events", [])
            since = body["next_batch"]
            count = sum(1 for e in events if _tag(e) is not None)
    except Exception as exc:  # reported by the main thread
        errors.append(f"{user.user_id} sync: {exc!r}")
    return events


def _tag(event):
    """(sender index, message index) of one of this test's messages."""
    body = event.get("content", {}).get("body") if event.get("type") == "m.room.message" else None
    if not isinstance(body, str) or not body.startswith("c"):
        return None
    try:
        who, n = body[1:].split("-")
        return int(who), int(n)
    except ValueError:
        return None


def test_fifty_clients_send_at_once(server):
    with ThreadPoolExecutor(16) as pool:
        users = list(pool.map(lambda _: MatrixUser(server), range(CLIENTS)))
    room = users[0].create_room(preset="public_chat")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda u: u.join(room), users[1:]))
    starts = [u.sync(filter=FILTER)["next_batch"] for u in users]

    errors, sent_ids = [], {}
    go = threading.Barrier(CLIENTS)
    stop_at = time.monotonic() + DEADLINE_S

    def sender(i):
        go.wait(timeout=60)
        for n in range(PER_CLIENT):
            try:
                sent_ids[(i, n)] = users[i].send(room, f"c{i}-{n}")
            except Exception as exc:
                errors.append(f"send c{i}-{n}: {exc!r}")

    with ThreadPoolExecutor(2 * CLIENTS) as pool:
        streams = [pool.submit(_stream, u, room, s, stop_at, errors)
                   for u, s in zip(users, starts)]
        sends = [pool.submit(sender, i) for i in range(CLIENTS)]
        for f in sends:
            f.result()
        views = [f.result() for f in streams]

    assert not errors, errors[:10]
    assert len(sent_ids) == TOTAL and len(set(sent_ids.values())) == TOTAL

    # Nothing lost: the room's own history holds every message once.
    history, _ = paginate(users[0], room, "f", from_=starts[0], limit=100)
    hist = [e["event_id"] for e in history if _tag(e) is not None]
    assert sorted(hist) == sorted(sent_ids.values()), \
        f"history has {len(hist)} of {TOTAL} messages ({len(set(hist))} distinct)"

    reference = None
    for i, view in enumerate(views):
        ids = [e["event_id"] for e in view if _tag(e) is not None]
        assert len(ids) == len(set(ids)), f"client {i} saw a message twice"
        assert len(ids) == TOTAL, f"client {i} saw {len(ids)} of {TOTAL} messages"
        if reference is None:
            reference = ids
            tags = [_tag(e) for e in view if _tag(e) is not None]
            for who in range(CLIENTS):
                mine = [n for w, n in tags if w == who]
                assert mine == list(range(PER_CLIENT)), f"sender {who} out of order: {mine}"
        assert ids == reference, f"client {i} saw a different order than client 0"
    assert reference == hist, "the /sync order differs from the /messages order"


def test_concurrent_retransmissions_one_event(server):
    """Transaction identifiers: a retransmission gets "the same HTTP response
    code and content as the original request". Twenty copies of one request
    racing each other are still one request: one event, one event_id."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="private_chat")
    go = threading.Barrier(20)

    def retransmit(_):
        go.wait(timeout=30)
        return alice.call("PUT", f"rooms/{room_path(room)}/send/m.room.message/race-1",
                          {"msgtype": "m.text", "body": "raced"})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(retransmit, range(20)))
    assert all(r.status == 200 for r in answers), [r for r in answers if r.status != 200][:3]
    ids = {r.json["event_id"] for r in answers}
    assert len(ids) == 1, ids
    history, _ = paginate(alice, room, "b", limit=100)
    raced = [e["event_id"] for e in history if e.get("content", {}).get("body") == "raced"]
    assert raced == list(ids), raced


def test_membership_churn_while_talking(server):
    """Twenty users join and leave a room ten times each, all at once, while
    its creator keeps sending. Room state must end consistent: each user's
    m.room.member is the last thing they did, joined_members lists exactly
    the joined ones, and every message sent is in the history once."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    with ThreadPoolExecutor(10) as pool:
        users = list(pool.map(lambda _: MatrixUser(server), range(20)))
    go = threading.Barrier(21)
    errors = []

    def churn(i):
        go.wait(timeout=60)
        u = users[i]
        rounds = 10 + (i % 2)  # odd users end joined, even users end left
        for n in range(rounds):
            action = "join" if n % 2 == 0 else "leave"
            r = u.membership(room, action)
            if r.status != 200:
                errors.append(f"{u.user_id} {action} #{n}: {r!r}")

    def talk():
        go.wait(timeout=60)
        return [alice.send(room, f"churn {n}") for n in range(100)]

    with ThreadPoolExecutor(21) as pool:
        churners = [pool.submit(churn, i) for i in range(20)]
        talker = pool.submit(talk)
        for f in churners:
            f.result()
        sent = talker.result()
    assert not errors, errors[:5]

    want_joined = {alice.user_id} | {u.user_id for i, u in enumerate(users) if i % 2}
    r = alice.call("GET", f"rooms/{room_path(room)}/joined_members")
    assert r.status == 200 and set(r.json["joined"]) == want_joined, r
    for i, u in enumerate(users):
        m = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.member/"
                       f"{room_path(u.user_id)}")
        assert m.json["membership"] == ("join" if i % 2 else "leave"), (u.user_id, m)
    history, _ = paginate(alice, room, "b", limit=200)
    got = [e["event_id"] for e in history if e["type"] == "m.room.message"]
    assert sorted(got) == sorted(sent), f"{len(got)} of {len(sent)} messages in history"
    members = [e for e in history if e["type"] == "m.room.member" and e["sender"] != alice.user_id]
    assert len(members) == sum(10 + (i % 2) for i in range(20)), len(members)
