"""Relations, threads, event context and bundled aggregations, end to end:
matrix-nio 0.20 sends the edits and thread replies (room_send with
m.relates_to) and reads /event, /messages, /context and /sync; raw HTTP
covers what nio has no call for (GET /relations, GET /threads) and exact
wire values.

Spec v1.19, Client-Server API: "Forming relationships between events",
"Aggregations of child events" (_index.md), modules event_replacements.md,
threading.md, reference_relations.md, event_context.md, and
data/api/client-server relations.yaml, threads_list.yaml,
event_context.yaml. Each test quotes what it checks.
"""

import asyncio
import json

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import PASSWORD, MatrixUser, assert_error, room_path, unique_name


def nio_client(server, user=""):
    config = nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                   request_timeout=30, encryption_enabled=False,
                                   store_sync_tokens=False)
    return nio.AsyncClient(server.url, user, config=config)


async def nio_user(server, prefix="rel"):
    name = unique_name(prefix)
    client = nio_client(server, name)
    resp = await client.register(name, PASSWORD, device_name="nio")
    assert isinstance(resp, nio.RegisterResponse), resp
    return client


def run(coro):
    return asyncio.run(coro)


def as_user(server, client):
    """The raw-HTTP view of a nio client's session."""
    return MatrixUser(server, token=client.access_token, user_id=client.user_id)


async def nio_send(client, room_id, content, event_type="m.room.message"):
    resp = await client.room_send(room_id, event_type, content)
    assert isinstance(resp, nio.RoomSendResponse), resp
    return resp.event_id


def text(body):
    return {"msgtype": "m.text", "body": body}


def edit(target, body):
    """Event replacements: "The content of the replacement must contain a
    m.new_content property which defines the replacement content"."""
    return {"msgtype": "m.text", "body": "* " + body,
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": target}}


def thread_reply(root, body):
    return {"msgtype": "m.text", "body": body,
            "m.relates_to": {"rel_type": "m.thread", "event_id": root}}


def relations_of(event):
    return event.get("unsigned", {}).get("m.relations", {})


def rel_path(room_id, event_id, *rest):
    path = f"rooms/{room_path(room_id)}/relations/{room_path(event_id)}"
    for part in rest:
        path += "/" + room_path(part)
    return path


def relations(user, room_id, event_id, *rest, **query):
    return user.call("GET", rel_path(room_id, event_id, *rest), prefix="v1",
                     query={k.rstrip("_"): str(v) for k, v in query.items()})


def threads(user, room_id, **query):
    return user.call("GET", f"rooms/{room_path(room_id)}/threads", prefix="v1",
                     query={k: str(v) for k, v in query.items()})


def context(user, room_id, event_id, **query):
    return user.call("GET", f"rooms/{room_path(room_id)}/context/{room_path(event_id)}",
                     query={k: (v if isinstance(v, str) else json.dumps(v))
                            for k, v in query.items()})


def find(events, event_id):
    for e in events:
        if e.get("event_id") == event_id:
            return e
    raise AssertionError(f"{event_id} not among {[e.get('event_id') for e in events]}")


def assert_bundle(event, edit_id, latest_id, count, participated):
    """Event replacements, Server-side aggregation: "The aggregation format
    of m.replace relationships gives the most recent valid replacement
    event, formatted as normal". Threading, Server-side aggregation:
    {latest_event, count, current_user_participated}."""
    rels = relations_of(event)
    assert rels["m.replace"]["event_id"] == edit_id, rels
    assert rels["m.replace"]["content"]["m.new_content"]["body"], rels
    assert rels["m.thread"]["latest_event"]["event_id"] == latest_id, rels
    assert rels["m.thread"]["count"] == count, rels
    assert rels["m.thread"]["current_user_participated"] is participated, rels
    # "the content of the original event is left intact"
    assert event["content"]["body"] == "root", event


def test_edit_and_thread_bundled_on_every_read_path(server):
    """Aggregations of child events: "The endpoints where the server should
    include bundled aggregations are: GET /rooms/{roomId}/messages, GET
    /rooms/{roomId}/context/{eventId}, GET /rooms/{roomId}/event/{eventId},
    ... GET /sync when the relevant section has a limited value of true"."""
    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        carol = await nio_user(server, "carol")
        try:
            cr = await alice.room_create(preset=nio.RoomPreset.public_chat)
            assert isinstance(cr, nio.RoomCreateResponse), cr
            room = cr.room_id
            for c in (bob, carol):
                assert isinstance(await c.join(room), nio.JoinResponse)
            root = await nio_send(alice, room, text("root"))
            edit_id = await nio_send(alice, room, edit(root, "root, edited"))
            reply = await nio_send(bob, room, thread_reply(root, "in the thread"))

            # GET /event: alice sent the root, bob replied, carol did neither
            for client, participated in ((alice, True), (bob, True), (carol, False)):
                ev = await client.room_get_event(room, root)
                assert isinstance(ev, nio.RoomGetEventResponse), ev
                assert_bundle(ev.event.source, edit_id, reply, 1, participated)

            # GET /messages
            s = await alice.sync(timeout=0)
            msgs = await alice.room_messages(room, s.next_batch, limit=10)
            assert isinstance(msgs, nio.RoomMessagesResponse), msgs
            assert_bundle(find([e.source for e in msgs.chunk], root), edit_id, reply, 1, True)

            # GET /context
            ctx = await alice.room_context(room, root, limit=4)
            assert isinstance(ctx, nio.RoomContextResponse), ctx
            raw = context(as_user(server, alice), room, root, limit="4")
            assert raw.status == 200, raw
            assert_bundle(raw.json["event"], edit_id, reply, 1, True)
            after = raw.json["events_after"]
            assert [e["event_id"] for e in after] == [edit_id, reply], raw

            # GET /sync with a limited timeline holding root, edit and reply
            fresh = nio_client(server, alice.user_id)
            fresh.access_token, fresh.user_id = alice.access_token, alice.user_id
            fresh.device_id = alice.device_id
            sync = await fresh.sync(timeout=0,
                                    sync_filter={"room": {"timeline": {"limit": 3}}})
            assert isinstance(sync, nio.SyncResponse), sync
            tl = sync.rooms.join[room].timeline
            assert tl.limited, "the room has more than 3 events"
            assert_bundle(find([e.source for e in tl.events], root), edit_id, reply, 1, True)
            await fresh.close()
        finally:
            for c in (alice, bob, carol):
                await c.close()
    run(go())


def test_only_valid_most_recent_edit_is_bundled(server):
    """Validity of replacement events: "The original event and replacement
    event must have the same sender (i.e. you cannot edit someone else's
    messages)" and "The replacement event ... must have an m.new_content
    property. If any of these criteria are not satisfied, implementations
    should ignore the replacement event (... the edit should not be included
    in the server-side aggregation)"."""
    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            cr = await alice.room_create(preset=nio.RoomPreset.public_chat)
            room = cr.room_id
            assert isinstance(await bob.join(room), nio.JoinResponse)
            root = await nio_send(alice, room, text("root"))
            first = await nio_send(alice, room, edit(root, "first edit"))
            # invalid: another sender, sent later
            await nio_send(bob, room, edit(root, "bob rewrites alice"))
            # invalid: no m.new_content
            await nio_send(alice, room, {"msgtype": "m.text", "body": "* nothing",
                                         "m.relates_to": {"rel_type": "m.replace",
                                                          "event_id": root}})
            ev = await alice.room_get_event(room, root)
            assert relations_of(ev.event.source)["m.replace"]["event_id"] == first
            # "the most recent valid replacement event"
            second = await nio_send(alice, room, edit(root, "second edit"))
            ev = await bob.room_get_event(room, root)
            rels = relations_of(ev.event.source)
            assert rels["m.replace"]["event_id"] == second, rels
            assert rels["m.replace"]["sender"] == alice.user_id, rels
            # redacting the newest edit falls back to the one before it
            red = await alice.room_redact(room, second)
            assert isinstance(red, nio.RoomRedactResponse), red
            ev = await bob.room_get_event(room, root)
            assert relations_of(ev.event.source)["m.replace"]["event_id"] == first
            # "If the original event is redacted, any m.replace relationship
            # should not be bundled with it"
            assert isinstance(await alice.room_redact(room, root), nio.RoomRedactResponse)
            ev = await bob.room_get_event(room, root)
            assert "m.replace" not in relations_of(ev.event.source)
        finally:
            await alice.close()
            await bob.close()
    run(go())


def test_relations_paging_both_directions(server):
    """relations.yaml: chunk "ordered topologically most-recent first";
    dir "Optional (default b) ... If this is set to f, events will be
    returned in chronological order"; next_batch "The absence of this token
    means there are no more results to fetch"; relType and eventType
    filters; recursion_depth "mandatory" when recurse was supplied; 404
    "The parent event was not found"."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    root = alice.send(room, "root")
    children = []
    for i in range(5):
        children.append(alice.send(room, content=thread_reply(root, f"reply {i}")))
    ref = alice.send(room, content={"msgtype": "m.text", "body": "see above",
                                    "m.relates_to": {"rel_type": "m.reference",
                                                     "event_id": root}})
    children.append(ref)
    nested = alice.send(room, content={"msgtype": "m.text", "body": "ref of ref",
                                       "m.relates_to": {"rel_type": "m.reference",
                                                        "event_id": ref}})

    def walk(direction, **extra):
        seen, token, pages = [], None, 0
        while True:
            q = dict(limit=2, dir=direction, **extra)
            if token:
                q["from_"] = token
            r = relations(alice, room, root, **q)
            assert r.status == 200, r
            seen += [e["event_id"] for e in r.json["chunk"]]
            pages += 1
            assert pages < 10
            if token:
                assert r.json["prev_batch"] == token, r
            token = r.json.get("next_batch")
            if not token:
                return seen

    assert walk("b") == children[::-1]
    assert walk("f") == children
    # default direction is b
    r = relations(alice, room, root)
    assert [e["event_id"] for e in r.json["chunk"]] == children[::-1]
    assert "recursion_depth" not in r.json
    # filters
    r = relations(alice, room, root, "m.thread")
    assert [e["event_id"] for e in r.json["chunk"]] == children[:5][::-1], r
    r = relations(alice, room, root, "m.thread", "m.room.message")
    assert len(r.json["chunk"]) == 5, r
    r = relations(alice, room, root, "m.thread", "m.reaction")
    assert r.json["chunk"] == [], r
    # recurse: the reference of the reference comes in, depth reported
    r = relations(alice, room, root, recurse="true")
    assert r.json["recursion_depth"] >= 3, r
    assert [e["event_id"] for e in r.json["chunk"]] == [nested] + children[::-1]
    r = relations(alice, room, root, recurse="false")
    assert r.json["recursion_depth"] == 1, r
    assert [e["event_id"] for e in r.json["chunk"]] == children[::-1], r
    # a from/to window: "from ... to" over the same range as page 1 and 2
    first = relations(alice, room, root, limit=2)
    second = relations(alice, room, root, limit=2, from_=first.json["next_batch"])
    window = relations(alice, room, root, limit=10, from_=first.json["next_batch"],
                       to=second.json["next_batch"])
    assert [e["event_id"] for e in window.json["chunk"]] == children[::-1][2:4], window
    # the children carry their own bundles: the reference has a reference
    r = relations(alice, room, root, "m.reference")
    assert relations_of(r.json["chunk"][0])["m.reference"]["chunk"] == [{"event_id": nested}]
    # errors
    assert_error(relations(alice, room, "$nope:example.org"), 404, ["M_NOT_FOUND"])
    assert_error(relations(alice, room, root, dir="x"), 400, ["M_INVALID_PARAM"])
    assert_error(relations(alice, room, root, limit="-1"), 400, ["M_INVALID_PARAM"])
    assert_error(relations(alice, room, root, from_="garbage"), 400, ["M_INVALID_PARAM"])
    assert_error(relations(alice, room, root, recurse="yes"), 400, ["M_INVALID_PARAM"])
    # a stranger to a private room is told the parent does not exist
    other = MatrixUser(server)
    private = alice.create_room(preset="private_chat")
    p_root = alice.send(private, "secret")
    assert_error(relations(other, private, p_root), 404, ["M_NOT_FOUND"])


def test_threads_list(server):
    """threads_list.yaml: "The thread roots, ordered by the latest_event in
    each event's aggregated children. All events returned include bundled
    aggregations"; include=participated: "only thread roots for threads the
    user has participated in"; limit "Must be an integer greater than
    zero"; 400 "The from token is unknown to the server"; 403 "The user
    cannot view or peek on the room"."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    a = alice.send(room, "thread A")
    b = bob.send(room, "thread B")
    alice.send(room, "no thread")
    alice.send(room, content=thread_reply(a, "a1"))
    latest_b = alice.send(room, content=thread_reply(b, "b1"))
    latest_a = bob.send(room, content=thread_reply(a, "a2"))   # A is the most recent now

    r = threads(alice, room)
    assert r.status == 200, r
    assert [e["event_id"] for e in r.json["chunk"]] == [a, b], r
    assert "next_batch" not in r.json
    ta = relations_of(r.json["chunk"][0])["m.thread"]
    assert ta["latest_event"]["event_id"] == latest_a and ta["count"] == 2, ta
    tb = relations_of(r.json["chunk"][1])["m.thread"]
    assert tb["latest_event"]["event_id"] == latest_b, tb

    # one per page
    page1 = threads(alice, room, limit=1)
    assert [e["event_id"] for e in page1.json["chunk"]] == [a], page1
    page2 = threads(alice, room, limit=1, **{"from": page1.json["next_batch"]})
    assert [e["event_id"] for e in page2.json["chunk"]] == [b], page2
    if "next_batch" in page2.json:
        page3 = threads(alice, room, limit=1, **{"from": page2.json["next_batch"]})
        assert page3.json["chunk"] == [], page3

    # participated: carol joined but never posted in a thread
    carol = MatrixUser(server)
    carol.join(room)
    assert threads(carol, room, include="participated").json["chunk"] == []
    assert [e["event_id"] for e in threads(carol, room).json["chunk"]] == [a, b]
    carol.send(room, content=thread_reply(b, "carol joins B"))
    r = threads(carol, room, include="participated")
    assert [e["event_id"] for e in r.json["chunk"]] == [b], r

    assert_error(threads(alice, room, limit=0), 400, ["M_INVALID_PARAM"])
    assert_error(threads(alice, room, include="some"), 400, ["M_INVALID_PARAM"])
    assert_error(threads(alice, room, **{"from": "nonsense"}), 400, ["M_INVALID_PARAM"])
    private = alice.create_room(preset="private_chat")
    assert_error(threads(MatrixUser(server), private), 403, ["M_FORBIDDEN"])


def test_context_before_after_and_state(server):
    """event_context.yaml: "The limit applies to the sum of the
    events_before and events_after arrays"; events_before "in
    reverse-chronological order", events_after "in chronological order";
    state "The state of the room at the last event returned"; start/end
    tokens "to paginate backwards/forwards with using GET /messages"; the
    filter "is not applied to the event itself"; lazy-loading members."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat", name="ctx room")
    bob.join(room)
    ids = [(alice if i % 2 else bob).send(room, f"m{i}") for i in range(7)]

    r = context(alice, room, ids[3], limit="4")
    assert r.status == 200, r
    assert r.json["event"]["event_id"] == ids[3]
    assert [e["event_id"] for e in r.json["events_before"]] == [ids[2], ids[1]], r
    assert [e["event_id"] for e in r.json["events_after"]] == [ids[4], ids[5]], r
    types = {(e["type"], e.get("state_key")) for e in r.json["state"]}
    assert ("m.room.create", "") in types and ("m.room.name", "") in types, types
    assert ("m.room.member", alice.user_id) in types and ("m.room.member", bob.user_id) in types

    # start and end continue with /messages
    back = alice.messages(room, "b", from_=r.json["start"], limit=1)
    assert [e["event_id"] for e in back.json["chunk"]] == [ids[0]], back
    fwd = alice.messages(room, "f", from_=r.json["end"], limit=1)
    assert [e["event_id"] for e in fwd.json["chunk"]] == [ids[6]], fwd

    # limit 0: only the event; the filter never hides the event itself
    r = context(alice, room, ids[3], limit="0",
                filter={"not_senders": [alice.user_id, bob.user_id]})
    assert r.json["event"]["event_id"] == ids[3]
    assert r.json["events_before"] == [] and r.json["events_after"] == [], r
    # a sender filter applies to before/after
    r = context(alice, room, ids[3], limit="6", filter={"senders": [bob.user_id]})
    assert all(e["sender"] == bob.user_id for e in r.json["events_before"] +
               r.json["events_after"]), r
    # lazy loading: members of the senders shown, not carol (who sent nothing)
    carol = MatrixUser(server)
    carol.join(room)
    r = context(alice, room, ids[3], limit="2",
                filter={"lazy_load_members": True, "senders": [alice.user_id]})
    members = {e["state_key"] for e in r.json["state"] if e["type"] == "m.room.member"}
    assert alice.user_id in members and carol.user_id not in members, members

    assert_error(context(alice, room, "$missing:example.org"), 404, ["M_NOT_FOUND"])
    assert_error(context(alice, room, ids[3], limit="-2"), 400, ["M_INVALID_PARAM"])
    assert_error(context(alice, room, ids[3], filter="{not json"), 400,
                 ["M_NOT_JSON", "M_BAD_JSON"])
    # "The server must only return results that the user has permission to see"
    private = alice.create_room(preset="private_chat")
    secret = alice.send(private, "secret")
    assert_error(context(MatrixUser(server), private, secret), 404, ["M_NOT_FOUND"])


def test_hidden_children_are_not_bundled(server):
    """Aggregations of child events: "Due to history visibility
    restrictions, child events might not be visible to the user ... This
    means any aggregations which would normally include those events will
    be lacking them". Bob left before the edit and the thread reply: he
    still sees the root, without either."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    alice.put_state(room, "m.room.history_visibility", {"history_visibility": "joined"})
    bob.join(room)
    root = alice.send(room, "root")
    assert bob.membership(room, "leave").status == 200
    edit_id = alice.send(room, content=edit(root, "after bob left"))
    reply = alice.send(room, content=thread_reply(root, "bob cannot see this"))

    mine = alice.event(room, root)
    assert relations_of(mine.json)["m.replace"]["event_id"] == edit_id
    assert relations_of(mine.json)["m.thread"]["latest_event"]["event_id"] == reply

    theirs = bob.event(room, root)
    assert theirs.status == 200, theirs
    assert relations_of(theirs.json) == {}, theirs
    r = relations(bob, room, root)
    assert r.status == 200 and r.json["chunk"] == [], r
    r = bob.messages(room, "b", limit=50)
    assert relations_of(find(r.json["chunk"], root)) == {}, r
    assert edit_id not in json.dumps(r.json) and reply not in json.dumps(r.json)


def test_thread_rules_and_redacted_replies(server):
    """Threading, Validation: "If the client attempts to target an event
    which itself has an m.relates_to property, then it should receive a HTTP
    400 error response ... servers should use M_UNKNOWN". Aggregations:
    "when a child event is redacted then the relationship is broken"."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    root = alice.send(room, "root")
    r1 = bob.send(room, content=thread_reply(root, "one"))
    r2 = alice.send(room, content=thread_reply(root, "two"))

    bad = alice.call("PUT", f"rooms/{room_path(room)}/send/m.room.message/nested1",
                     thread_reply(r1, "thread off a thread reply"))
    assert_error(bad, 400, ["M_UNKNOWN"])

    t = relations_of(alice.event(room, root).json)["m.thread"]
    assert t["count"] == 2 and t["latest_event"]["event_id"] == r2, t
    red = alice.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(r2)}/red1", {})
    assert red.status == 200, red
    t = relations_of(alice.event(room, root).json)["m.thread"]
    assert t["count"] == 1 and t["latest_event"]["event_id"] == r1, t
    # bob's reply is all that is left: alice still participated (the root)
    assert t["current_user_participated"] is True
    red = bob.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(r1)}/red2", {})
    assert red.status == 200, red
    assert "m.thread" not in relations_of(alice.event(room, root).json)
    assert threads(alice, room).json["chunk"] == []


def test_duplicate_annotation_refused(server):
    """Event annotations, Server behaviour: "Homeservers should prevent users
    from sending a second annotation for a given event with identical event
    type and annotation key (unless the first event has been redacted).
    Attempts to send such an annotation should be rejected with a 400 error
    and an error code of M_DUPLICATE_ANNOTATION." And "m.annotation
    relationships are not aggregated by the server"."""
    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            cr = await alice.room_create(preset=nio.RoomPreset.public_chat)
            room = cr.room_id
            assert isinstance(await bob.join(room), nio.JoinResponse)
            root = await nio_send(alice, room, text("react to me"))

            def reaction(key):
                return {"m.relates_to": {"rel_type": "m.annotation", "event_id": root,
                                         "key": key}}
            first = await nio_send(bob, room, reaction("\U0001F44D"), "m.reaction")
            again = await bob.room_send(room, "m.reaction", reaction("\U0001F44D"))
            assert isinstance(again, nio.RoomSendError), again
            assert again.status_code == "M_DUPLICATE_ANNOTATION", again
            # another key, another user: fine
            await nio_send(bob, room, reaction("\U0001F389"), "m.reaction")
            await nio_send(alice, room, reaction("\U0001F44D"), "m.reaction")
            # not aggregated, but listed by /relations
            ev = await alice.room_get_event(room, root)
            assert "m.annotation" not in relations_of(ev.event.source)
            r = relations(as_user(server, alice), room, root, "m.annotation", "m.reaction")
            assert len(r.json["chunk"]) == 3, r
            # once redacted, the same reaction may be sent again
            assert isinstance(await bob.room_redact(room, first), nio.RoomRedactResponse)
            await nio_send(bob, room, reaction("\U0001F44D"), "m.reaction")
        finally:
            await alice.close()
            await bob.close()
    run(go())


def test_ignored_users_children_left_out(server):
    """Aggregations of child events: "Servers must additionally ensure they
    do not consider child events from ignored users when preparing an
    aggregation for the client." Threading: latest_event is "the most recent
    event ... in the thread sent by an un-ignored user"."""
    alice, bob, carol = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    carol.join(room)
    root = alice.send(room, "root")
    mine = alice.send(room, content=thread_reply(root, "alice replies"))
    noisy = carol.send(room, content=thread_reply(root, "carol replies last"))

    before = relations_of(bob.event(room, root).json)["m.thread"]
    assert before["latest_event"]["event_id"] == noisy and before["count"] == 2, before
    r = bob.call("PUT", f"user/{room_path(bob.user_id)}/account_data/m.ignored_user_list",
                 {"ignored_users": {carol.user_id: {}}})
    assert r.status == 200, r
    after = relations_of(bob.event(room, root).json)["m.thread"]
    assert after["latest_event"]["event_id"] == mine, after
    assert after["count"] == 1, after
    # alice ignores nobody: unchanged for her
    assert relations_of(alice.event(room, root).json)["m.thread"]["count"] == 2


def test_thread_root_of_ignored_user_is_redacted_in_threads(server):
    """threads_list.yaml, chunk: "If the thread root event was sent by an
    ignored user, the event is returned redacted to the caller. This is to
    simulate the same behaviour of a client doing aggregation locally on
    the thread." The redaction algorithm keeps no message content."""
    alice, carol = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    carol.join(room)
    root = carol.send(room, "carol's root")
    alice.send(room, content=thread_reply(root, "alice answers"))

    r = threads(alice, room)
    assert r.json["chunk"][0]["content"]["body"] == "carol's root", r
    ad = alice.call("PUT", f"user/{room_path(alice.user_id)}/account_data/m.ignored_user_list",
                    {"ignored_users": {carol.user_id: {}}})
    assert ad.status == 200, ad
    r = threads(alice, room)
    assert r.status == 200, r
    (only,) = r.json["chunk"]
    assert only["event_id"] == root and only["content"] == {}, only
    # still a thread root with its (un-ignored) summary
    assert relations_of(only)["m.thread"]["latest_event"]["content"]["body"] == "alice answers"


def test_left_room_limited_timeline_is_bundled(server):
    """Aggregations of child events: bundles on "GET /sync when the relevant
    section has a limited value of true" -- the rooms.leave section too."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    since = bob.sync()["next_batch"]
    alice.send(room, "filler")
    root = alice.send(room, "root")
    edit_id = alice.send(room, content=edit(root, "root, edited"))
    assert bob.membership(room, "leave").status == 200

    body = bob.sync(since, filter={"room": {"timeline": {"limit": 3}}})
    left = body["rooms"]["leave"][room]["timeline"]
    assert left["limited"] is True, left
    assert [e["event_id"] for e in left["events"]][:2] == [root, edit_id], left
    assert relations_of(left["events"][0])["m.replace"]["event_id"] == edit_id, left


def test_hostile_parameters(server):
    """Every input is hostile: over-long path segments, odd IDs, huge or
    malformed numbers and tokens get the spec's errors, never a 500 or a
    crash (the server fixture fails the test if chappe dies)."""
    alice = MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    root = alice.send(room, "root")
    long = "x" * 300
    assert_error(relations(alice, room, root, long), 400, ["M_INVALID_PARAM"])
    assert_error(relations(alice, room, root, "m.thread", long), 400, ["M_INVALID_PARAM"])
    # malformed event IDs are the router's to refuse (it checks {eventId})
    for bad_id in ["no-sigil", "$" + "y" * 400, "!" + room[1:], "$a\u0000b"]:
        assert_error(relations(alice, room, bad_id), 400, ["M_INVALID_PARAM"])
        assert_error(context(alice, room, bad_id), 400, ["M_INVALID_PARAM"])
    # a well-formed ID of no event here
    assert_error(relations(alice, room, "$" + "y" * 200), 404, ["M_NOT_FOUND"])
    for limit in ["1e9", "", " 3", "99999999999999999999999", "-0x1"]:
        assert_error(relations(alice, room, root, limit=limit), 400, ["M_INVALID_PARAM"])
        assert_error(threads(alice, room, limit=limit), 400, ["M_INVALID_PARAM"])
    for token in ["p-1", "p99999999999999999999999", "t5", "s", "p1x"]:
        assert_error(relations(alice, room, root, from_=token), 400, ["M_INVALID_PARAM"])
        assert_error(relations(alice, room, root, to=token), 400, ["M_INVALID_PARAM"])
    for token in ["p5", "t-1", "t0", "t99999999999999999999999", "t1x", ""]:
        assert_error(threads(alice, room, **{"from": token}), 400, ["M_INVALID_PARAM"])
    # a huge limit is lowered, not refused
    r = relations(alice, room, root, limit="100000")
    assert r.status == 200 and r.json["chunk"] == [], r
    r = context(alice, room, root, limit="100000")
    assert r.status == 200 and r.json["event"]["event_id"] == root, r
    # rooms that do not exist
    assert_error(threads(alice, "!nowhere:localhost"), 403, ["M_FORBIDDEN"])
    assert_error(relations(alice, "!nowhere:localhost", root), 404, ["M_NOT_FOUND"])
    assert_error(context(alice, "!nowhere:localhost", root), 404, ["M_NOT_FOUND"])


def test_racing_identical_annotations_make_one_event(server):
    """The duplicate-annotation rule holds under concurrency: the check runs
    under the room's lock, so of ten identical reactions sent at once (each
    with its own transaction ID) exactly one is accepted and the others get
    "a 400 error and an error code of M_DUPLICATE_ANNOTATION"."""
    import threading
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    root = alice.send(room, "race me")
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "x"}}
    results, barrier = [], threading.Barrier(10)

    def send(i):
        barrier.wait()
        results.append(bob.call("PUT", f"rooms/{room_path(room)}/send/m.reaction/race{i}",
                                content))
    workers = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ok = [r for r in results if r.status == 200]
    assert len(ok) == 1, results
    for r in results:
        if r.status != 200:
            assert_error(r, 400, ["M_DUPLICATE_ANNOTATION"])
    r = relations(alice, room, root, "m.annotation")
    assert [e["event_id"] for e in r.json["chunk"]] == [ok[0].json["event_id"]], r
