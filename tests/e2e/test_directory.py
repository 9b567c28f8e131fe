"""Room aliases, the published room directory, the user directory and
forgetting rooms, as clients see them: matrix-nio 0.20 where it has a call
(createRoom with an alias, resolve / put / delete alias, join by alias,
directory visibility, forget), raw HTTP elsewhere (nio 0.20 has no
/publicRooms or /user_directory/search) and where the exact wire value
matters.

Each test quotes the part of the Client-Server API spec (v1.19,
data/api/client-server/directory.yaml, list_public_rooms.yaml, users.yaml,
leaving.yaml, create_room.yaml) it checks. Users and names are fresh per
test, so tests do not depend on each other.
"""

import asyncio
import secrets
import threading

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (PASSWORD, SERVER_NAME, MatrixUser, assert_error, message_bodies,
                        room_path, sync_room, unique_name, user_path)


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


def alias_path(alias):
    return "directory/room/" + room_path(alias)


def public_rooms(user, body=None, *, query=None, token=True):
    """GET /publicRooms (body None) or POST with body; asserts 200."""
    if body is None:
        r = user.server.client("GET", "publicRooms", query=query,
                               token=user.token if token else None)
    else:
        r = user.call("POST", "publicRooms", body)
    assert r.status == 200, r
    assert isinstance(r.json.get("chunk"), list), r
    return r.json


def chunk_entry(listing, room_id):
    found = [e for e in listing["chunk"] if e["room_id"] == room_id]
    assert len(found) <= 1, listing
    return found[0] if found else None


def set_displayname(user, name):
    r = user.call("PUT", f"profile/{user_path(user.user_id)}/displayname",
                  {"displayname": name})
    assert r.status == 200, r


def search_users(user, term, limit=None):
    body = {"search_term": term}
    if limit is not None:
        body["limit"] = limit
    r = user.call("POST", "user_directory/search", body)
    assert r.status == 200, r
    assert isinstance(r.json.get("limited"), bool), r
    return r.json


def test_third_user_finds_public_room_and_joins_by_alias(server):
    """createRoom with room_alias_name and visibility public: "a room alias
    will be created and mapped to the newly created room ... The complete
    room alias will become the canonical alias for the room and an
    m.room.canonical_alias event will be sent into the room"
    (create_room.yaml). A third user then lists the published room directory
    (GET and POST /publicRooms, list_public_rooms.yaml, with
    generic_search_term "to search for in the room metadata, e.g. name,
    topic, canonical alias"), resolves the alias (GET
    /directory/room/{roomAlias}: "The room ID and other information for this
    alias") and joins by alias (POST /join/{roomIdOrAlias})."""
    tag = secrets.token_hex(4)
    local = f"tea_{tag}"
    alias = f"#{local}:{SERVER_NAME}"

    async def go():
        alice, carol = await nio_user(server, "alice"), await nio_user(server, "carol")
        try:
            cr = await alice.room_create(visibility=nio.RoomVisibility.public, alias=local,
                                         name=f"Directory tea {tag}", topic=f"Oolong {tag}",
                                         preset=nio.RoomPreset.public_chat)
            assert isinstance(cr, nio.RoomCreateResponse), cr
            room = cr.room_id

            ev = await alice.room_get_state_event(room, "m.room.canonical_alias")
            assert isinstance(ev, nio.RoomGetStateEventResponse), ev
            assert ev.content.get("alias") == alias, ev

            vis = await carol.room_get_visibility(room)
            assert isinstance(vis, nio.RoomGetVisibilityResponse), vis
            assert vis.visibility == "public"

            carol_raw = MatrixUser(server, token=carol.access_token, user_id=carol.user_id)
            # GET /publicRooms needs no access token (no security in the spec).
            listing = public_rooms(carol_raw, query={"limit": "500"}, token=False)
            entry = chunk_entry(listing, room)
            assert entry is not None, listing
            assert entry["name"] == f"Directory tea {tag}"
            assert entry["topic"] == f"Oolong {tag}"
            assert entry["canonical_alias"] == alias
            assert entry["num_joined_members"] == 1
            assert entry["world_readable"] is False
            assert entry["guest_can_join"] is False
            assert entry["join_rule"] == "public"
            assert "room_type" not in entry
            assert listing["total_room_count_estimate"] >= 1

            # POST with a search term: the name, the topic, the alias match.
            for term in (f"tea {tag}".upper(), f"oolong {tag}", local):
                found = public_rooms(carol_raw, {"filter": {"generic_search_term": term}})
                assert [e["room_id"] for e in found["chunk"]] == [room], (term, found)
            miss = public_rooms(carol_raw, {"filter": {"generic_search_term": f"x{tag}x"}})
            assert miss["chunk"] == [], miss
            # room_types: "To include rooms without a room type, specify null"
            typed = public_rooms(carol_raw, {"filter": {"generic_search_term": tag,
                                                        "room_types": [None]}})
            assert [e["room_id"] for e in typed["chunk"]] == [room]
            spaces = public_rooms(carol_raw, {"filter": {"generic_search_term": tag,
                                                         "room_types": ["m.space"]}})
            assert spaces["chunk"] == []

            res = await carol.room_resolve_alias(alias)
            assert isinstance(res, nio.RoomResolveAliasResponse), res
            assert res.room_id == room
            assert res.servers == [SERVER_NAME]

            j = await carol.join(alias)
            assert isinstance(j, nio.JoinResponse), j
            assert j.room_id == room

            after = public_rooms(carol_raw, {"filter": {"generic_search_term": tag}})
            assert after["chunk"][0]["num_joined_members"] == 2, after

            # GET /rooms/{roomId}/aliases: "Get a list of aliases maintained
            # by the local server for the given room", for members.
            r = carol_raw.call("GET", f"rooms/{room_path(room)}/aliases")
            assert r.status == 200, r
            assert r.json == {"aliases": [alias]}
        finally:
            await alice.close()
            await carol.close()

    run(go())


def test_public_rooms_pagination_and_what_is_listed(server):
    """The directory is paginated: "next_batch: ... The absence of this token
    means there are no more results to fetch", "prev_batch: A pagination
    token that allows fetching previous results" (public_rooms_response).
    Only published rooms are listed ("Lists a server's published room
    directory"), and, as Synapse does, a published room whose join rule
    lets nobody in is not shown."""
    tag = secrets.token_hex(4)
    owner, reader = MatrixUser(server), MatrixUser(server)
    rooms = {owner.create_room(preset="public_chat", visibility="public",
                               name=f"paged {tag} {i}") for i in range(3)}
    unpublished = owner.create_room(preset="public_chat", name=f"paged {tag} hidden")
    private = owner.create_room(preset="private_chat", name=f"paged {tag} private")
    r = owner.call("PUT", f"directory/list/room/{room_path(private)}",
                   {"visibility": "public"})
    assert r.status == 200, r

    seen, pages, since = [], [], None
    for _ in range(10):
        body = {"limit": 1, "filter": {"generic_search_term": f"paged {tag}"}}
        if since:
            body["since"] = since
        page = public_rooms(reader, body)
        pages.append(page)
        seen += [e["room_id"] for e in page["chunk"]]
        since = page.get("next_batch")
        if not since:
            break
    assert sorted(seen) == sorted(rooms), (seen, rooms)
    assert unpublished not in seen and private not in seen
    assert "prev_batch" not in pages[0], pages[0]
    # Back from the second page: the first page again.
    back = public_rooms(reader, {"limit": 1, "since": pages[1]["prev_batch"],
                                 "filter": {"generic_search_term": f"paged {tag}"}})
    assert [e["room_id"] for e in back["chunk"]] == [pages[0]["chunk"][0]["room_id"]]

    # Unpublishing takes a room out of the list.
    first = pages[0]["chunk"][0]["room_id"]
    r = owner.call("PUT", f"directory/list/room/{room_path(first)}",
                   {"visibility": "private"})
    assert r.status == 200, r
    r = server.client("GET", f"directory/list/room/{room_path(first)}")
    assert r.status == 200 and r.json == {"visibility": "private"}, r
    again = public_rooms(reader, {"filter": {"generic_search_term": f"paged {tag}"}})
    assert first not in [e["room_id"] for e in again["chunk"]]

    # Malformed input is refused, not guessed at.
    assert_error(reader.call("POST", "publicRooms", {"since": "garbage"}), 400,
                 "M_INVALID_PARAM")
    assert_error(reader.call("POST", "publicRooms", {"limit": "ten"}), 400, "M_BAD_JSON")
    assert_error(reader.call("POST", "publicRooms", {"filter": {"room_types": "m.space"}}),
                 400, "M_BAD_JSON")
    assert_error(server.client("GET", "publicRooms", query={"limit": "-1"}), 400,
                 "M_INVALID_PARAM")
    # "server: The server to fetch the published room directory from": there
    # is no federation here, so only our own.
    assert_error(server.client("GET", "publicRooms", query={"server": "other.example"}), 400,
                 "M_INVALID_PARAM")
    r = server.client("GET", "publicRooms", query={"server": SERVER_NAME, "limit": "1"})
    assert r.status == 200, r
    # No application service bridges a third-party network here.
    assert public_rooms(reader, {"third_party_instance_id": "irc"})["chunk"] == []


def test_alias_errors(server):
    """directory.yaml: 400 M_INVALID_PARAM "The given roomAlias is not a valid
    room alias" (grammar: Appendices, Room Aliases), 409 "A room alias with
    that name already exists" (M_UNKNOWN in the spec's example), 404
    M_NOT_FOUND "There is no mapped room ID for this room alias"; deleting is
    for "their creator or a server administrator" (we also let room admins,
    as Synapse); create_room.yaml: "The room alias specified is already
    taken (errcode set to M_ROOM_IN_USE)"."""
    tag = secrets.token_hex(4)
    alice, bob, carol = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat", room_alias_name=f"err_{tag}")
    taken = f"#err_{tag}:{SERVER_NAME}"
    bob.join(room)
    carol.join(room)

    # Creating.
    for bad in ("nosigil", f"#nocolon{tag}", f"#bad:{tag}:not a server", "#:localhost"):
        assert_error(bob.call("PUT", alias_path(bad), {"room_id": room}), 400,
                     "M_INVALID_PARAM")
    assert_error(bob.call("PUT", alias_path(f"#x{tag}:other.example"), {"room_id": room}),
                 400, "M_INVALID_PARAM")
    assert_error(bob.call("PUT", alias_path(f"#sp ace{tag}:{SERVER_NAME}"),
                          {"room_id": room}), 400, "M_INVALID_PARAM")
    assert_error(bob.call("PUT", alias_path(taken), {"room_id": room}), 409, "M_UNKNOWN")
    assert_error(bob.call("PUT", alias_path(f"#n{tag}:{SERVER_NAME}"), {}), 400,
                 "M_MISSING_PARAM")
    assert_error(bob.call("PUT", alias_path(f"#n{tag}:{SERVER_NAME}"), {"room_id": 7}), 400,
                 "M_BAD_JSON")
    assert_error(bob.call("PUT", alias_path(f"#n{tag}:{SERVER_NAME}"),
                          {"room_id": f"!nope{tag}:{SERVER_NAME}"}), 404, "M_NOT_FOUND")
    outsider = MatrixUser(server)
    assert_error(outsider.call("PUT", alias_path(f"#n{tag}:{SERVER_NAME}"),
                               {"room_id": room}), 403, "M_FORBIDDEN")
    assert_error(bob.call("PUT", alias_path(f"#n{tag}:{SERVER_NAME}"), {"room_id": "nope"}),
                 400, "M_INVALID_PARAM")
    bobs = f"#bob_{tag}:{SERVER_NAME}"
    r = bob.call("PUT", alias_path(bobs), {"room_id": room})
    assert r.status == 200 and r.json == {}, r
    # "any valid non-surrogate Unicode codepoints except : and NUL"
    # (Appendices, Room Aliases): a non-ASCII localpart is fine ...
    unicode_alias = f"#caf\u00e9_\u6f22_{tag}:{SERVER_NAME}"
    r = bob.call("PUT", alias_path(unicode_alias), {"room_id": room})
    assert r.status == 200, r
    r = server.client("GET", alias_path(unicode_alias))
    assert r.status == 200 and r.json["room_id"] == room, r
    # ... but bytes that are not UTF-8, and UTF-8-encoded surrogates, are not.
    for raw in ("%23%FF" + tag + "%3Alocalhost", "%23%ED%A0%80" + tag + "%3Alocalhost",
                "%23%C0%AF" + tag + "%3Alocalhost"):
        assert_error(bob.call("PUT", "directory/room/" + raw, {"room_id": room}), 400,
                     "M_INVALID_PARAM")
        assert_error(server.client("GET", "directory/room/" + raw), 400, "M_INVALID_PARAM")
    r = server.client("GET", "directory/room/%23a%00" + tag + "%3Alocalhost")
    assert r.status == 400, r

    # Resolving.
    assert_error(server.client("GET", alias_path(f"#unknown{tag}:{SERVER_NAME}")), 404,
                 "M_NOT_FOUND")
    assert_error(server.client("GET", alias_path(f"#x{tag}:other.example")), 404,
                 "M_NOT_FOUND")
    assert_error(server.client("GET", alias_path(f"#nocolon{tag}")), 400, "M_INVALID_PARAM")
    r = server.client("GET", alias_path(bobs))
    assert r.status == 200 and r.json["room_id"] == room, r

    # Listing: members only (the room is not world_readable).
    assert_error(outsider.call("GET", f"rooms/{room_path(room)}/aliases"), 403,
                 "M_FORBIDDEN")
    r = carol.call("GET", f"rooms/{room_path(room)}/aliases")
    assert r.status == 200 and sorted(r.json["aliases"]) == sorted([taken, bobs,
                                                                     unicode_alias]), r

    # Deleting: not an ordinary member; the room admin may; then it is gone.
    assert_error(carol.call("DELETE", alias_path(bobs)), 403, "M_FORBIDDEN")
    assert_error(carol.call("DELETE", alias_path(f"#nocolon{tag}")), 400, "M_INVALID_PARAM")
    assert_error(carol.call("DELETE", alias_path(f"#unknown{tag}:{SERVER_NAME}")), 404,
                 "M_NOT_FOUND")
    r = alice.call("DELETE", alias_path(bobs))
    assert r.status == 200, r
    assert_error(alice.call("DELETE", alias_path(bobs)), 404, "M_NOT_FOUND")
    assert_error(server.client("GET", alias_path(bobs)), 404, "M_NOT_FOUND")
    # The creator may delete their own alias.
    r = bob.call("PUT", alias_path(bobs), {"room_id": room})
    assert r.status == 200, r
    r = bob.call("DELETE", alias_path(bobs))
    assert r.status == 200, r

    # createRoom's room_alias_name.
    assert_error(carol.call("POST", "createRoom", {"room_alias_name": f"err_{tag}"}), 400,
                 "M_ROOM_IN_USE")
    for bad in (f"a:{tag}", f"has space {tag}", "", "tab\there", "x" * 250):
        assert_error(carol.call("POST", "createRoom", {"room_alias_name": bad}), 400,
                     "M_INVALID_PARAM")

    # Joining an alias that names nothing.
    assert_error(carol.call("POST", f"join/{room_path(f'#unknown{tag}:{SERVER_NAME}')}",
                            {}), 404, "M_NOT_FOUND")
    assert_error(carol.call("POST", f"knock/{room_path(f'#unknown{tag}:{SERVER_NAME}')}",
                            {}), 404, "M_NOT_FOUND")
    assert_error(carol.call("POST", f"join/{room_path(f'#nocolon{tag}')}", {}), 400,
                 "M_INVALID_PARAM")

    # Directory visibility: "Servers MAY implement additional access control
    # checks" (setRoomVisibilityOnDirectory): not an ordinary member.
    assert_error(carol.call("PUT", f"directory/list/room/{room_path(room)}",
                            {"visibility": "public"}), 403, "M_FORBIDDEN")
    assert_error(alice.call("PUT", f"directory/list/room/{room_path(room)}",
                            {"visibility": "open"}), 400, "M_INVALID_PARAM")
    assert_error(server.client("GET", f"directory/list/room/{room_path('!nope:' + tag)}"),
                 404, "M_NOT_FOUND")
    assert_error(alice.call("PUT", f"directory/list/room/{room_path('!nope:' + tag)}",
                            {"visibility": "public"}), 404, "M_NOT_FOUND")


def test_forget(server):
    """POST /rooms/{roomId}/forget: "If the user is currently joined to the
    room, they must leave the room before calling this API" (400, M_UNKNOWN
    in the spec's example); after it, the room is no longer in the user's
    /sync (not even with include_leave)."""
    leave_filter = {"room": {"include_leave": True}}

    async def go():
        alice, bob = await nio_user(server, "alice"), await nio_user(server, "bob")
        try:
            cr = await alice.room_create(preset=nio.RoomPreset.public_chat)
            assert isinstance(cr, nio.RoomCreateResponse), cr
            room = cr.room_id
            assert isinstance(await bob.join(room), nio.JoinResponse)

            f = await bob.room_forget(room)
            assert isinstance(f, nio.RoomForgetError), f
            assert f.status_code == "M_UNKNOWN", f

            said = await alice.room_send(room, "m.room.message",
                                         {"msgtype": "m.text", "body": "before the leave"})
            assert isinstance(said, nio.RoomSendResponse), said
            assert isinstance(await bob.room_leave(room), nio.RoomLeaveResponse)
            bob_raw = MatrixUser(server, token=bob.access_token, user_id=bob.user_id)
            assert sync_room(bob_raw.sync(filter=leave_filter), room, "leave") is not None
            # Left but not forgotten: "the user will still be allowed to
            # retrieve history from the room which they were previously
            # allowed to see" (leaveRoom).
            r = bob_raw.messages(room, limit=50)
            assert r.status == 200, r
            assert "before the leave" in message_bodies(r.json["chunk"]), r

            f = await bob.room_forget(room)
            assert isinstance(f, nio.RoomForgetResponse), f
            body = bob_raw.sync(filter=leave_filter)
            assert sync_room(body, room, "leave") is None, body
            assert sync_room(body, room, "join") is None, body
            r = bob_raw.call("GET", "joined_rooms")
            assert room not in r.json["joined_rooms"], r
            # "After this API is called, however, a user will no longer be
            # able to retrieve history for this room." (forgetRoom)
            assert_error(bob_raw.messages(room, limit=50), 403, "M_FORBIDDEN")
            assert_error(bob_raw.call("GET", f"rooms/{room_path(room)}/state"), 403,
                         "M_FORBIDDEN")
            assert_error(bob_raw.event(room, said.event_id), 404, ("M_NOT_FOUND",))

            # A rejoin brings the room back.
            assert isinstance(await bob.join(room), nio.JoinResponse)
            assert sync_room(bob_raw.sync(), room, "join") is not None

            # Never in the room.
            other = (await alice.room_create()).room_id
            f = await bob.room_forget(other)
            assert isinstance(f, nio.RoomForgetError), f
            assert f.status_code == "M_NOT_FOUND", f
        finally:
            await alice.close()
            await bob.close()

    run(go())


def test_user_directory(server):
    """POST /user_directory/search: "the homeserver MUST at a minimum
    consider users who are visible to the requester based on their
    membership in rooms": "users that share a room with the requesting
    user" and "users who are joined to rooms known to the homeserver that
    have a public join rule"; "performed case-insensitively on user IDs and
    display names"; limit "Defaults to 10"; limited "Indicates if the result
    list has been truncated by the limit" (users.yaml)."""
    tag = secrets.token_hex(4)
    alice, mate, stranger, pub = (MatrixUser(server, unique_name(p))
                                  for p in ("alice", "mate", "stranger", "pub"))
    set_displayname(mate, f"Room Mate {tag}")
    set_displayname(stranger, f"Stranger {tag}")
    set_displayname(pub, f"Public Person {tag}")

    shared = alice.create_room(preset="private_chat")
    alice.invite(shared, mate.user_id)
    mate.join(shared)
    lonely = stranger.create_room(preset="private_chat")
    assert lonely
    open_room = pub.create_room(preset="public_chat")
    assert open_room

    found = search_users(alice, f"room mate {tag}".upper())
    assert found["results"] == [{"user_id": mate.user_id,
                                 "display_name": f"Room Mate {tag}"}], found
    assert found["limited"] is False
    # by user ID too
    found = search_users(alice, mate.user_id.split(":")[0][1:])
    assert [u["user_id"] for u in found["results"]] == [mate.user_id], found
    # a member of a public room is visible; the stranger is not
    assert [u["user_id"] for u in search_users(alice, f"person {tag}")["results"]] == \
        [pub.user_id]
    assert search_users(alice, f"stranger {tag}")["results"] == []
    assert search_users(alice, stranger.user_id)["results"] == []

    # limited
    found = search_users(alice, tag, limit=1)
    assert len(found["results"]) == 1 and found["limited"] is True, found
    found = search_users(alice, tag, limit=10)
    assert {u["user_id"] for u in found["results"]} == {mate.user_id, pub.user_id}
    assert found["limited"] is False

    # A blank term lists nobody (no sweeping the directory in one call).
    assert search_users(alice, "   ") == {"results": [], "limited": False}
    assert_error(alice.call("POST", "user_directory/search", {}), 400, "M_MISSING_PARAM")
    assert_error(alice.call("POST", "user_directory/search",
                            {"search_term": "a", "limit": 0}), 400, "M_INVALID_PARAM")
    assert_error(alice.call("POST", "user_directory/search",
                            {"search_term": "a" * 300}), 400, "M_INVALID_PARAM")
    assert_error(server.client("POST", "user_directory/search", {"search_term": "a"}), 401,
                 "M_MISSING_TOKEN")

    # A user who hides the profile (account data im.vector.hide_profile)
    # is left out.
    r = mate.call("PUT", f"user/{user_path(mate.user_id)}/account_data/"
                  "im.vector.hide_profile", {"hide_profile": True})
    assert r.status == 200, r
    assert search_users(alice, f"room mate {tag}")["results"] == []

    # Leaving the only shared room makes a user a stranger again.
    r = pub.membership(open_room, "leave")
    assert r.status == 200, r
    assert search_users(alice, f"person {tag}")["results"] == []


def test_canonical_alias_must_point_to_the_room(server):
    """m.room.canonical_alias: "the server SHOULD ensure that any new aliases
    being listed in the event are valid per their grammar/syntax and that they
    point to the room ID where the state event is to be sent. Servers do not
    validate aliases which are being removed or are already present in the
    state event." Errors (room_state.yaml): M_INVALID_PARAM "have invalid
    syntax", M_BAD_ALIAS "do not point to the room ID"."""
    tag = secrets.token_hex(4)
    alice = MatrixUser(server)
    room = alice.create_room(preset="public_chat", room_alias_name=f"ca_{tag}")
    alice.create_room(preset="public_chat", room_alias_name=f"other_{tag}")
    mine, other = f"#ca_{tag}:{SERVER_NAME}", f"#other_{tag}:{SERVER_NAME}"

    def put(content):
        return alice.put_state(room, "m.room.canonical_alias", content)

    assert_error(put({"alias": other}), 400, "M_BAD_ALIAS")
    assert_error(put({"alias": f"#nope_{tag}:{SERVER_NAME}"}), 400, "M_BAD_ALIAS")
    assert_error(put({"alias": f"#x_{tag}:remote.example"}), 400, "M_BAD_ALIAS")
    assert_error(put({"alias": mine, "alt_aliases": [other]}), 400, "M_BAD_ALIAS")
    assert_error(put({"alias": "no-sigil"}), 400, "M_INVALID_PARAM")
    assert_error(put({"alias": mine, "alt_aliases": [f"#nocolon{tag}"]}), 400,
                 "M_INVALID_PARAM")
    assert_error(put({"alias": 7}), 400, "M_INVALID_PARAM")
    assert_error(put({"alt_aliases": "not a list"}), 400, "M_INVALID_PARAM")

    second = f"#ca2_{tag}:{SERVER_NAME}"
    bob = MatrixUser(server)
    bob.join(room)
    r = bob.call("PUT", alias_path(second), {"room_id": room})
    assert r.status == 200, r
    r = put({"alias": mine, "alt_aliases": [second]})
    assert r.status == 200, r
    # Already present in the state: not checked again, even once deleted
    # (by bob, who may not update the event, so it still lists it).
    r = bob.call("DELETE", alias_path(second))
    assert r.status == 200, r
    r = put({"alias": second, "alt_aliases": [mine]})
    assert r.status == 200, r
    # Removing every alias needs no check.
    r = put({})
    assert r.status == 200, r
    r = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.canonical_alias")
    assert r.status == 200 and r.json == {}, r


def test_deleting_an_alias_updates_the_canonical_alias(server):
    """DELETE /directory/room/{roomAlias}: "Servers may choose to update the
    alt_aliases for the m.room.canonical_alias state event in the room when
    an alias is removed. Servers which choose to update the canonical alias
    event are recommended to ... delete the alias and return a successful
    response even if the user does not have permission to update the
    m.room.canonical_alias event." (directory.yaml)"""
    tag = secrets.token_hex(4)
    alice, carol = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat", room_alias_name=f"main_{tag}")
    carol.join(room)
    main, alt, carols = (f"#{n}_{tag}:{SERVER_NAME}" for n in ("main", "alt", "carol"))
    for user, alias in ((alice, alt), (carol, carols)):
        r = user.call("PUT", alias_path(alias), {"room_id": room})
        assert r.status == 200, r
    r = alice.put_state(room, "m.room.canonical_alias",
                        {"alias": main, "alt_aliases": [alt, carols]})
    assert r.status == 200, r

    def canonical():
        r = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.canonical_alias")
        assert r.status == 200, r
        return r.json

    # carol created her alias but may not send m.room.canonical_alias:
    # the alias goes, the event stays as it was.
    r = carol.call("DELETE", alias_path(carols))
    assert r.status == 200, r
    assert canonical() == {"alias": main, "alt_aliases": [alt, carols]}
    # the room admin's deletes update the event
    r = alice.call("DELETE", alias_path(alt))
    assert r.status == 200, r
    assert canonical() == {"alias": main, "alt_aliases": [carols]}
    r = alice.call("DELETE", alias_path(main))
    assert r.status == 200, r
    assert canonical() == {"alt_aliases": [carols]}
    listing = public_rooms(alice, {"filter": {"generic_search_term": tag}})
    assert all("canonical_alias" not in e for e in listing["chunk"]), listing


def test_knock_by_alias(server):
    """POST /knock/{roomIdOrAlias}: "The room identifier or alias to knock
    upon" (knocking.yaml); the answer names the room the alias maps to."""
    tag = secrets.token_hex(4)
    alice, carol = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="private_chat", room_alias_name=f"knock_{tag}",
                             initial_state=[{"type": "m.room.join_rules", "state_key": "",
                                             "content": {"join_rule": "knock"}}])
    alias = f"#knock_{tag}:{SERVER_NAME}"
    r = carol.call("POST", f"knock/{room_path(alias)}", {"reason": "let me in"})
    assert r.status == 200 and r.json == {"room_id": room}, r
    r = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.member/"
                          f"{user_path(carol.user_id)}")
    assert r.status == 200 and r.json.get("membership") == "knock", r
    # a knock-only room is listable once published ("knock" join rule)
    r = alice.call("PUT", f"directory/list/room/{room_path(room)}", {"visibility": "public"})
    assert r.status == 200, r
    entry = chunk_entry(public_rooms(carol, {"filter": {"generic_search_term": alias}}), room)
    assert entry is not None and entry["join_rule"] == "knock", entry


def test_racing_alias_claims_have_one_winner(server):
    """An alias names one room: of ten createRoom calls racing for one
    room_alias_name, exactly one succeeds and the others get M_ROOM_IN_USE
    (create_room.yaml); of ten racing PUT /directory/room for one alias,
    exactly one succeeds and the others get 409 (directory.yaml). The alias
    then resolves to the winner's room, whose canonical alias it is."""
    tag = secrets.token_hex(4)
    users = [MatrixUser(server) for _ in range(10)]
    results = [None] * len(users)

    def create(i):
        results[i] = users[i].call("POST", "createRoom",
                                   {"preset": "public_chat", "room_alias_name": f"race_{tag}"})

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r.status == 200]
    assert len(winners) == 1, results
    for r in results:
        if r.status != 200:
            assert_error(r, 400, "M_ROOM_IN_USE")
    room = winners[0].json["room_id"]
    alias = f"#race_{tag}:{SERVER_NAME}"
    r = server.client("GET", alias_path(alias))
    assert r.status == 200 and r.json["room_id"] == room, r

    # Everyone joins, then all race for a second alias of the room.
    for u in users:
        if u.call("POST", f"join/{room_path(alias)}", {}).status != 200:
            raise AssertionError(f"{u.user_id} could not join {alias}")
    second = f"#race2_{tag}:{SERVER_NAME}"

    def put(i):
        results[i] = users[i].call("PUT", alias_path(second), {"room_id": room})

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.status == 200 for r in results) == 1, results
    for r in results:
        if r.status != 200:
            assert_error(r, 409, "M_UNKNOWN")


@pytest.mark.parametrize("body,status,errcode", [
    ({"limit": 2 ** 62}, 200, None),
    ({"limit": -(2 ** 62)}, 400, "M_INVALID_PARAM"),
    ({"limit": 1.5}, 400, "M_BAD_JSON"),
    ({"since": "n"}, 400, "M_INVALID_PARAM"),
    ({"since": "p"}, 400, "M_INVALID_PARAM"),
    ({"since": "n!!!"}, 400, "M_INVALID_PARAM"),
    ({"since": "nYWJj"}, 400, "M_INVALID_PARAM"),          # "abc": not a room ID
    ({"since": "nIQA"}, 400, "M_INVALID_PARAM"),           # "!\0"
    ({"since": "n" + "IWFh" * 2000}, 400, "M_INVALID_PARAM"),
    ({"since": 7}, 400, "M_BAD_JSON"),
    ({"filter": []}, 400, "M_BAD_JSON"),
    ({"filter": {"generic_search_term": 7}}, 400, "M_BAD_JSON"),
    ({"filter": {"generic_search_term": "x" * 10000}}, 400, "M_INVALID_PARAM"),
    ({"filter": {"room_types": [None] * 33}}, 400, "M_BAD_JSON"),
    ({"filter": {"room_types": [1]}}, 400, "M_BAD_JSON"),
    ({"filter": {"room_types": [{"a": 1}]}}, 400, "M_BAD_JSON"),
    ({"include_all_networks": "yes"}, 400, "M_BAD_JSON"),
    ({"third_party_instance_id": ["irc"]}, 400, "M_BAD_JSON"),
], ids=["huge-limit", "negative-limit", "float-limit", "since-empty-n", "since-empty-p",
        "since-not-b64", "since-not-room", "since-nul", "since-long", "since-number",
        "filter-list", "term-number", "term-long", "types-many", "types-number",
        "types-object", "networks-string", "instance-list"])
def test_public_rooms_hostile_bodies(server, body, status, errcode):
    """POST /publicRooms with bodies of the wrong shape or size: every one is
    answered with the spec's error format (or, for a huge limit, lowered to
    our bound), never a crash or a 5xx."""
    u = MatrixUser(server)
    r = u.call("POST", "publicRooms", body)
    assert r.status == status, r
    if errcode:
        assert_error(r, status, errcode)
    else:
        assert isinstance(r.json.get("chunk"), list), r


def test_directory_hostile_requests(server):
    """Sizes and shapes the directory endpoints must refuse cleanly."""
    u = MatrixUser(server)
    long_alias = "#" + "a" * 5000 + ":" + SERVER_NAME
    assert_error(u.call("PUT", alias_path(long_alias), {"room_id": "!a:b"}), 400,
                 "M_INVALID_PARAM")
    assert_error(server.client("GET", alias_path(long_alias)), 400, "M_INVALID_PARAM")
    assert_error(u.call("DELETE", alias_path(long_alias)), 400, "M_INVALID_PARAM")
    assert_error(u.call("POST", "createRoom", {"room_alias_name": 7}), 400, "M_BAD_JSON")
    assert_error(u.call("POST", "createRoom", {"room_alias_name": "a\u0000b"}), 400,
                 ("M_INVALID_PARAM", "M_BAD_JSON", "M_NOT_JSON"))
    r = u.call("POST", "user_directory/search", {"search_term": "zzz", "limit": 2 ** 62})
    assert r.status == 200 and r.json == {"results": [], "limited": False}, r
    assert_error(u.call("POST", "user_directory/search", {"search_term": 7}), 400,
                 "M_BAD_JSON")
    assert_error(u.call("POST", "user_directory/search",
                        {"search_term": "a", "limit": "10"}), 400, "M_BAD_JSON")
    assert_error(u.call("POST", "user_directory/search", b"not json"), 400, "M_NOT_JSON")
    assert_error(u.call("PUT", "directory/list/room/" + room_path("!a:" + SERVER_NAME),
                        {"visibility": 1}), 400, "M_BAD_JSON")
    assert_error(u.call("POST", f"rooms/{room_path('!nope:' + SERVER_NAME)}/forget", {}),
                 404, "M_NOT_FOUND")
