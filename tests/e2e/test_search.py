"""Server-side search: POST /search (search.yaml).

Spec: content/client-server-api/modules/search.md, "Server Side Search".
matrix-nio 0.20 has no call for /search, so the requests are raw HTTP (the
MatrixUser helpers); every test quotes the sentence it checks.
"""

import json

from chappe_e2e import MatrixUser, assert_error, room_path


def search(user, term, *, next_batch=None, status=200, **criteria):
    body = {"search_categories": {"room_events": dict(search_term=term, **criteria)}}
    query = {"next_batch": next_batch} if next_batch is not None else None
    r = user.call("POST", "search", body, query=query)
    assert r.status == status, f"search {term!r}: {r!r}"
    return r.json["search_categories"]["room_events"] if status == 200 else r


def result_ids(room_events):
    return [res["result"]["event_id"] for res in room_events["results"]]


def test_finds_a_message_by_a_word(server):
    """room_events "covers all events that the user is allowed to see";
    the supported keys include "content.body in m.room.message"; results
    carry "rank", "result" (the event); "count" and "highlights"."""
    alice = MatrixUser(server)
    room = alice.create_room()
    other = alice.send(room, "nothing to see here")
    eid = alice.send(room, "The Quick brown fox jumps")
    re = search(alice, "fox")
    assert result_ids(re) == [eid]
    res = re["results"][0]
    assert res["rank"] > 0
    assert res["result"]["room_id"] == room
    assert res["result"]["content"]["body"] == "The Quick brown fox jumps"
    assert res["result"]["sender"] == alice.user_id
    assert re["count"] == 1
    assert "fox" in re["highlights"]
    assert "next_batch" not in re
    # words are matched case-insensitively, as prefixes, all required
    assert result_ids(search(alice, "QUICK bro")) == [eid]
    assert result_ids(search(alice, "quick nothing")) == []
    assert other not in result_ids(search(alice, "fox"))


def test_names_and_topics_by_key(server):
    """Keys: "content.name in m.room.name", "content.topic" in
    m.room.topic; "keys: The keys to search. Defaults to all." """
    alice = MatrixUser(server)
    room = alice.create_room(name="Orchard planning", topic="apples and orchard pears")
    body = alice.send(room, "meet at the orchard")
    everything = search(alice, "orchard", order_by="recent")
    assert len(everything["results"]) == 3
    types = {r["result"]["type"] for r in everything["results"]}
    assert types == {"m.room.name", "m.room.topic", "m.room.message"}
    only_name = search(alice, "orchard", keys=["content.name"])
    assert [r["result"]["type"] for r in only_name["results"]] == ["m.room.name"]
    only_body = search(alice, "orchard", keys=["content.body"])
    assert result_ids(only_body) == [body]
    assert_error(search(alice, "orchard", keys=["content.msgtype"], status=400), 400,
                 "M_INVALID_PARAM")
    # "as well as the body of the text/plain representation in
    # content['m.topic']" ("The mimetype. Defaults to text/plain if omitted")
    r = alice.put_state(room, "m.room.topic", {"topic": "orchard news", "m.topic": {"m.text": [
        {"mimetype": "text/html", "body": "<b>htmlonlyword</b>"},
        {"body": "plainrepresentation of the orchard"}]}})
    assert r.status == 200, r
    topic_id = r.json["event_id"]
    assert result_ids(search(alice, "plainrepresentation")) == [topic_id]
    assert result_ids(search(alice, "news", keys=["content.topic"])) == [topic_id]
    assert search(alice, "htmlonlyword")["results"] == []


def test_does_not_find_messages_of_rooms_the_user_is_not_in(server):
    """"The server must only return results that the user has permission
    to see." A room the user never joined is not searched at all."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    bobs = bob.create_room(preset="public_chat")
    bob.send(bobs, "zanzibar treasure map")
    assert result_ids(search(bob, "zanzibar"))
    re = search(alice, "zanzibar")
    assert re["results"] == [] and re["count"] == 0
    # a filter naming the room does not open it either
    re = search(alice, "zanzibar", filter={"rooms": [bobs]})
    assert re["results"] == [] and re["count"] == 0


def test_events_after_leaving_are_not_found(server):
    """"Only events that the user is allowed to see will be searched, e.g.
    it won't include events in rooms that happened after you left." """
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    before = alice.send(room, "quasar before")
    assert bob.membership(room, "leave").status == 200
    alice.send(room, "quasar after")
    re = search(bob, "quasar")
    assert result_ids(re) == [before]
    assert re["count"] == 1
    assert len(search(alice, "quasar")["results"]) == 2


def test_encrypted_room_is_not_searchable(server):
    """"The search will not include rooms that are end to end encrypted."
    A room created with m.room.encryption in initial_state, and sent a
    plaintext m.room.message through the raw API anyway, yields nothing;
    neither does its name, nor a room that turns encryption on later."""
    alice = MatrixUser(server)
    enc = alice.create_room(name="Plutonium lab", initial_state=[
        {"type": "m.room.encryption", "state_key": "",
         "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    leaked = alice.send(enc, "plutonium plaintext")
    # the event exists and alice can read it: only search leaves it out
    assert alice.event(enc, leaked).status == 200
    assert search(alice, "plutonium")["results"] == []

    later = alice.create_room()
    kept = alice.send(later, "plutonium before encryption")
    r = alice.put_state(later, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})
    assert r.status == 200, r
    alice.send(later, "plutonium after encryption")
    assert result_ids(search(alice, "plutonium")) == [kept]


def test_pagination_with_next_batch(server):
    """"To fetch more results, the client should send the same request to
    the server with a next_batch query parameter set to that of the
    token." "If this field is absent, there are no more results." """
    alice = MatrixUser(server)
    room = alice.create_room()
    sent = [alice.send(room, f"paginated word {i}") for i in range(13)]
    for order in ("recent", "rank"):
        seen, token, pages = [], None, 0
        while True:
            re = search(alice, "paginated", order_by=order, filter={"limit": 5},
                        next_batch=token)
            pages += 1
            assert len(re["results"]) <= 5
            if pages == 1:
                assert re["count"] == 13
            seen += result_ids(re)
            token = re.get("next_batch")
            if token is None:
                break
            assert pages < 10, "pagination does not end"
        assert pages == 3
        assert sorted(seen) == sorted(sent), order
        if order == "recent":
            assert seen == sent[::-1]
    # a token from the other ordering, or garbage, is refused
    token = search(alice, "paginated", order_by="recent", filter={"limit": 5})["next_batch"]
    r = search(alice, "paginated", order_by="rank", next_batch=token, status=400)
    assert_error(r, 400, "M_INVALID_PARAM")
    for bad in ("", "t", "tx.1", "t5.", "t99999999999999999999.0", "r1.2", "t0.0"):
        r = search(alice, "paginated", order_by="recent", next_batch=bad, status=400)
        assert_error(r, 400, "M_INVALID_PARAM")


def test_order_by_recent_and_rank(server):
    """"recent, which returns the most recent results first"; "rank, which
    returns the most relevant results first"; "The default ordering is
    rank." "The higher the rank the more relevant the result is." """
    alice = MatrixUser(server)
    room = alice.create_room()
    for i in range(8):
        alice.send(room, f"unrelated filler text number {i}")
    close = alice.send(room, "nebula nebula nebula")
    far = alice.send(room, "a long message which mentions a nebula once amid many words")
    newest = alice.send(room, "another nebula mention in a fairly long sentence here")
    recent = search(alice, "nebula", order_by="recent")
    assert result_ids(recent) == [newest, far, close]
    ranked = search(alice, "nebula")
    assert result_ids(ranked)[0] == close
    ranks = [r["rank"] for r in ranked["results"]]
    assert ranks == sorted(ranks, reverse=True)
    assert result_ids(search(alice, "nebula", order_by="rank")) == result_ids(ranked)
    assert_error(search(alice, "nebula", order_by="oldest", status=400), 400,
                 "M_INVALID_PARAM")


def test_event_context_before_and_after(server):
    """event_context: "before_limit: How many events before the result are
    returned", "after_limit: How many events after", include_profile:
    "the historic profile information of the users that sent the events
    returned", with start/end tokens."""
    alice = MatrixUser(server)
    r = alice.call("PUT", f"profile/{room_path(alice.user_id)}/displayname",
                   {"displayname": "Alice Old"})
    assert r.status == 200, r
    room = alice.create_room()
    ids = [alice.send(room, text) for text in
           ("one", "two", "three marmalade", "four", "five")]
    re = search(alice, "marmalade", event_context={"before_limit": 2, "after_limit": 1,
                                                   "include_profile": True})
    assert result_ids(re) == [ids[2]]
    ctx = re["results"][0]["context"]
    assert [e["event_id"] for e in ctx["events_before"]] == [ids[1], ids[0]]
    assert [e["event_id"] for e in ctx["events_after"]] == [ids[3]]
    assert ctx["profile_info"][alice.user_id]["displayname"] == "Alice Old"
    # the tokens continue the timeline with /messages
    back = alice.messages(room, "b", from_=ctx["start"], limit=50)
    assert back.status == 200, back
    assert ids[0] not in [e["event_id"] for e in back.json["chunk"]]
    fwd = alice.messages(room, "f", from_=ctx["end"], limit=50)
    assert [e["event_id"] for e in fwd.json["chunk"]][:1] == [ids[4]]
    # defaults: 5 and 5 ("By default, this is 5")
    ctx = search(alice, "marmalade", event_context={})["results"][0]["context"]
    assert [e["event_id"] for e in ctx["events_after"]] == [ids[3], ids[4]]
    assert ids[1] in [e["event_id"] for e in ctx["events_before"]]
    assert "profile_info" not in ctx
    # without event_context there is no context
    assert "context" not in search(alice, "marmalade")["results"][0]


def test_redacted_message_is_not_found(server):
    """Redacting an event strips content.body (the room version's
    redaction algorithm): the words it held are no longer searchable."""
    alice = MatrixUser(server)
    room = alice.create_room()
    eid = alice.send(room, "kumquat recipe")
    assert result_ids(search(alice, "kumquat")) == [eid]
    r = alice.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(eid)}/t1", {})
    assert r.status == 200, r
    assert search(alice, "kumquat")["results"] == []


def test_groups_and_state(server):
    """groupings: "a group entry for each distinct value of room_id ... at
    least a list of the event_ids that are in that group"; include_state:
    "the current state for each room returned"."""
    alice = MatrixUser(server)
    r1, r2 = alice.create_room(), alice.create_room()
    a = alice.send(r1, "gazebo one")
    b = alice.send(r2, "gazebo two")
    c = alice.send(r1, "gazebo three")
    re = search(alice, "gazebo", order_by="recent", include_state=True,
                groupings={"group_by": [{"key": "room_id"}, {"key": "sender"}]})
    groups = re["groups"]["room_id"]
    assert groups[r1]["results"] == [c, a]
    assert groups[r2]["results"] == [b]
    assert {groups[r1]["order"], groups[r2]["order"]} == {1, 2}
    assert re["groups"]["sender"][alice.user_id]["results"] == [c, b, a]
    for room in (r1, r2):
        types = {e["type"] for e in re["state"][room]}
        assert "m.room.create" in types and "m.room.member" in types
    assert "groups" not in search(alice, "gazebo")
    assert_error(search(alice, "gazebo", groupings={"group_by": [{"key": "type"}]},
                        status=400), 400, "M_INVALID_PARAM")


def test_filter_types_and_senders(server):
    """filter: "This takes a filter" (RoomEventFilter): not_senders and
    types restrict the results, and count follows the filter."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat", name="walrus room")
    bob.join(room)
    mine = alice.send(room, "walrus from alice")
    bob.send(room, "walrus from bob")
    re = search(alice, "walrus", filter={"not_senders": [bob.user_id],
                                         "types": ["m.room.message"]})
    assert result_ids(re) == [mine]
    assert re["count"] == 1


def test_hostile_terms_and_bad_requests(server):
    """Search terms are words, not query syntax: operators, quotes and
    brackets neither fail nor widen the search. Malformed requests are
    refused with the spec's standard errors."""
    alice = MatrixUser(server)
    room = alice.create_room()
    alice.send(room, "hello world")
    alice.send(room, "hello or world")
    assert len(search(alice, "hello OR world")["results"]) == 1
    for term in ('"', 'hello"*', "NEAR(hello world)", "text:hello", "(((", "*",
                 "hello NOT", "^hello", "\u00e9\u00e8", "'; DROP TABLE events; --"):
        re = search(alice, term)
        assert isinstance(re["results"], list)
    assert_error(alice.call("POST", "search", {}), 400, "M_BAD_JSON")
    assert_error(alice.call("POST", "search", {"search_categories": []}), 400, "M_BAD_JSON")
    assert_error(alice.call("POST", "search", {"search_categories": {"room_events": {}}}),
                 400, ("M_MISSING_PARAM", "M_BAD_JSON"))
    assert_error(alice.call("POST", "search", {"search_categories": {"room_events": {
        "search_term": 5}}}), 400, "M_BAD_JSON")
    assert_error(search(alice, "", status=400), 400, "M_INVALID_PARAM")
    assert_error(search(alice, "x" * 2000, status=400), 400, "M_INVALID_PARAM")
    assert_error(search(alice, "hello", event_context={"before_limit": -1}, status=400),
                 400, "M_INVALID_PARAM")
    assert_error(search(alice, "hello", filter={"rooms": "nope"}, status=400), 400,
                 "M_BAD_JSON")
    r = server.client("POST", "search", {"search_categories": {}})
    assert_error(r, 401, "M_MISSING_TOKEN")
    # no room_events: an empty answer
    r = alice.call("POST", "search", {"search_categories": {}})
    assert r.status == 200 and r.json == {"search_categories": {}}, r
    assert json.dumps(r.json)
