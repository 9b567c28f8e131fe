"""Every error the rooms/events/sync endpoints must give, and the hostile
inputs they must survive. Each test names the part of the Client-Server API
spec (v1.19) it checks; the `server` fixture fails the test if the server
died, so "never crash" is checked after each one.

Standard error codes (content/client-server-api/_index.md, "Common error
codes"): M_NOT_JSON "Request did not contain valid JSON"; M_BAD_JSON
"valid JSON, but it was malformed in some way, e.g. missing required keys,
invalid values for keys"; M_INVALID_PARAM "A parameter that was specified
has the wrong value"; M_NOT_FOUND "No resource was found for this request";
M_TOO_LARGE "The request or entity was too large".
"""

import json
import urllib.parse

import pytest

from chappe_e2e import MatrixUser, assert_error, room_path

UNKNOWN_ROOM = "!doesnotexist000:localhost"


@pytest.fixture
def pair(server):
    """(alice, bob, room): alice created a public room bob is in."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    return alice, bob, room


def _send_path(room, txn="t1", event_type="m.room.message"):
    return f"rooms/{room_path(room)}/send/{event_type}/{txn}"


MSG = {"msgtype": "m.text", "body": "x"}


def test_unknown_room(server):
    """A well-formed room ID the server has never heard of. rooms.yaml:
    /state, /members, /joined_members, /messages -> 403 "You aren't a member
    of the room and weren't previously a member of the room"; /event -> 404
    "The event was not found"; state/{type}/{key} 403 (or 404 "The room has
    no state with the given type or key"); joining.yaml /join -> 403 or 404
    ("could not be found"); send and state PUT -> 403 ("The sender doesn't
    have permission to send the event into the room") or an honest 404.
    Every mismatch is collected, so one run shows them all."""
    u = MatrixUser(server)
    rp = room_path(UNKNOWN_ROOM)
    expect = [
        ("PUT", _send_path(UNKNOWN_ROOM), MSG, (403, 404)),
        ("PUT", f"rooms/{rp}/state/m.room.topic", {"topic": "t"}, (403, 404)),
        ("GET", f"rooms/{rp}/state", None, (403,)),
        ("GET", f"rooms/{rp}/state/m.room.create", None, (403, 404)),
        ("GET", f"rooms/{rp}/members", None, (403,)),
        ("GET", f"rooms/{rp}/joined_members", None, (403,)),
        ("GET", f"rooms/{rp}/messages?dir=b", None, (403,)),
        ("GET", f"rooms/{rp}/event/%24nosuchevent", None, (404,)),
        ("POST", f"rooms/{rp}/join", {}, (403, 404)),
        ("POST", f"join/{rp}", {}, (403, 404)),
    ]
    for action in ("invite", "kick", "ban"):
        expect.append(("POST", f"rooms/{rp}/{action}", {"user_id": "@x:localhost"}, (403, 404)))
    expect.append(("POST", f"rooms/{rp}/leave", {}, (403, 404)))
    problems = []
    for method, endpoint, body, statuses in expect:
        r = u.call(method, endpoint, body)
        codes = {403: "M_FORBIDDEN", 404: "M_NOT_FOUND"}
        if r.status not in statuses or r.errcode != codes.get(r.status) \
                or not isinstance(r.json.get("error"), str):
            problems.append(f"{method} {endpoint}: expected {statuses}, got {r!r}")
    assert not problems, "\n".join(problems)


def test_unknown_event_in_known_room(pair):
    """GET /rooms/{roomId}/event/{eventId}: 404 "The event was not found"."""
    alice, _, room = pair
    assert_error(alice.event(room, "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                 404, "M_NOT_FOUND")
    # An event of another room is not an event of this one.
    other = alice.create_room(preset="private_chat")
    eid = alice.send(other, "elsewhere")
    assert_error(alice.event(room, eid), 404, "M_NOT_FOUND")


def test_not_in_room(pair, server):
    """Sending to a room you are not in: 403 (room_state.yaml "The sender
    doesn't have permission to send the event into the room"); reading its
    state, members or history likewise 403."""
    alice, _, room = pair
    outsider = MatrixUser(server)
    private = alice.create_room(preset="private_chat")
    for rid in (room, private):
        assert_error(outsider.call("PUT", _send_path(rid), MSG), 403, "M_FORBIDDEN")
        assert_error(outsider.put_state(rid, "m.room.topic", {"topic": "hi"}),
                     403, "M_FORBIDDEN")
        assert_error(outsider.call("GET", f"rooms/{room_path(rid)}/joined_members"),
                     403, "M_FORBIDDEN")
        assert_error(outsider.call("GET", f"rooms/{room_path(rid)}/state"),
                     403, "M_FORBIDDEN")
    # Invite-only: "The room is invite-only and the user was not invited".
    assert_error(outsider.membership(private, "join"), 403, "M_FORBIDDEN")
    # inviting.yaml: "The inviter is not currently in the room".
    assert_error(outsider.membership(room, "invite", {"user_id": outsider.user_id}),
                 403, "M_FORBIDDEN")
    # kicking.yaml: "The kickee is not currently in the room".
    assert_error(alice.membership(room, "kick", {"user_id": outsider.user_id}),
                 403, "M_FORBIDDEN")


def test_invite_already_member(pair):
    """inviting.yaml 403: "The invitee is already a member of the room"."""
    alice, bob, room = pair
    assert_error(alice.membership(room, "invite", {"user_id": bob.user_id}),
                 403, "M_FORBIDDEN")


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"a":1} trailing',
                                 b'{"a": NaN}'],
                         ids=["broken", "empty", "binary", "trailing", "nan"])
def test_send_not_json(pair, raw):
    """PUT /send with a body that is not JSON: 400 M_NOT_JSON."""
    alice, _, room = pair
    r = alice.call("PUT", _send_path(room, "nj"), raw,
                   headers={"Content-Type": "application/json"})
    assert_error(r, 400, ("M_NOT_JSON", "M_BAD_JSON"))


@pytest.mark.parametrize("body", [[], "text", 5, None],
                         ids=["array", "string", "number", "null"])
def test_send_content_not_object(pair, body):
    """The request body of /send and /state is "the content object of the
    event": a JSON value that is not an object is M_BAD_JSON (or M_NOT_JSON)."""
    alice, _, room = pair
    raw = json.dumps(body).encode()
    r = alice.call("PUT", _send_path(room, "no"), raw)
    assert_error(r, 400, ("M_BAD_JSON", "M_NOT_JSON"))
    r = alice.call("PUT", f"rooms/{room_path(room)}/state/m.room.topic", raw)
    assert_error(r, 400, ("M_BAD_JSON", "M_NOT_JSON"))


@pytest.mark.parametrize("body", [
    {"preset": "party"},
    {"preset": 5},
    {"visibility": "secret"},
    {"invite": "@a:localhost"},
    {"invite": ["not a user id"]},
    {"initial_state": {"type": "m.room.topic"}},
    {"initial_state": [{"content": {}}]},
    {"creation_content": []},
    {"power_level_content_override": "all"},
    {"name": 5},
    {"is_direct": "yes"},
], ids=["preset-enum", "preset-type", "visibility", "invite-type", "invite-grammar",
        "initial-state-type", "initial-state-no-type", "creation-content",
        "pl-override", "name-type", "is-direct-type"])
def test_create_room_bad_body(server, body):
    """createRoom 400: "The request body is malformed (errcode set to
    M_BAD_JSON or M_NOT_JSON)", M_INVALID_PARAM for a bad value, or
    M_INVALID_ROOM_STATE ("The initial state implied by the parameters to the
    request is invalid")."""
    u = MatrixUser(server)
    r = u.call("POST", "createRoom", body)
    assert_error(r, 400, ("M_BAD_JSON", "M_NOT_JSON", "M_INVALID_PARAM",
                          "M_INVALID_ROOM_STATE"))


def test_create_room_not_json(server):
    u = MatrixUser(server)
    r = u.call("POST", "createRoom", b"{", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "M_NOT_JSON")


def test_create_room_unsupported_version(server):
    """createRoom room_version: "the homeserver will return a 400 error with
    the errcode M_UNSUPPORTED_ROOM_VERSION if it does not support the room
    version"."""
    u = MatrixUser(server)
    for version in ("999", "", "1" * 300, "org.example.custom"):
        r = u.call("POST", "createRoom", {"room_version": version})
        assert_error(r, 400, "M_UNSUPPORTED_ROOM_VERSION")
    for version in ("10", "11", "12"):
        r = u.call("POST", "createRoom", {"room_version": version})
        assert r.status == 200, (version, r)


def test_create_room_invalid_initial_state_power(server):
    """createRoom 400 M_INVALID_ROOM_STATE: "the initial state implied by the
    parameters to the request is invalid: for example, the user's
    power_level is set below that necessary to set the room name"."""
    u = MatrixUser(server)
    r = u.call("POST", "createRoom", {
        "name": "cannot be set",
        "power_level_content_override": {"users": {u.user_id: 0}, "state_default": 50,
                                         "events": {"m.room.name": 100}},
        "room_version": "11"})
    assert_error(r, 400, "M_INVALID_ROOM_STATE")


def test_event_too_large(pair):
    """Size limits: "The complete event MUST NOT be larger than 65536 bytes,
    when formatted with the federation event format ... encoded as Canonical
    JSON" -> 413 M_TOO_LARGE, for message and state events alike; a content
    comfortably under the limit is accepted; a rejected event is not stored."""
    alice, _, room = pair
    big = {"msgtype": "m.text", "body": "x" * 66000}
    assert_error(alice.call("PUT", _send_path(room, "big"), big), 413, "M_TOO_LARGE")
    # Just over: content alone is under 65536, the whole event is not.
    edge = {"msgtype": "m.text", "body": "y" * 65400}
    assert_error(alice.call("PUT", _send_path(room, "edge"), edge), 413, "M_TOO_LARGE")
    assert_error(alice.put_state(room, "org.chappe.big", {"v": "z" * 66000}),
                 413, "M_TOO_LARGE")
    # Multi-byte characters count as their UTF-8 bytes: 22,000 x 3 bytes.
    wide = {"msgtype": "m.text", "body": "\u20ac" * 22000}
    assert_error(alice.call("PUT", _send_path(room, "wide"), wide), 413, "M_TOO_LARGE")
    ok = alice.call("PUT", _send_path(room, "fits"), {"msgtype": "m.text", "body": "w" * 60000})
    assert ok.status == 200, ok
    r = alice.messages(room, "b", limit=5)
    bodies = [e["content"].get("body", "") for e in r.json["chunk"]]
    assert not any(b.startswith(("x", "y", "\u20ac")) and len(b) > 1000 for b in bodies)


def test_type_and_state_key_limits(pair):
    """Size limits: "state_key MUST NOT exceed 255 bytes"; "type MUST NOT
    exceed 255 bytes". Refused with a 4xx error, never stored."""
    alice, _, room = pair
    long_type = "org.chappe." + "t" * 250
    r = alice.call("PUT", _send_path(room, "lt", long_type), MSG)
    assert r.status in (400, 413), r
    assert_error(r, r.status, ("M_BAD_JSON", "M_INVALID_PARAM", "M_TOO_LARGE"))
    r = alice.put_state(room, "org.chappe.k", {"v": 1}, state_key="k" * 256)
    assert r.status in (400, 413), r
    assert_error(r, r.status, ("M_BAD_JSON", "M_INVALID_PARAM", "M_TOO_LARGE"))
    ok = alice.put_state(room, "org.chappe.k", {"v": 1}, state_key="k" * 255)
    assert ok.status == 200, ok


@pytest.mark.parametrize("room_id", [
    "notaroom", "#alias:localhost", "@user:localhost", "!", "!:", "!a:b:c:d",
    "!" + "a" * 300 + ":localhost", "!bad\x00id:localhost", "!sp ace:localhost",
], ids=["no-sigil", "alias", "user", "sigil-only", "empty-parts", "colons",
        "too-long", "nul", "space"])
def test_malformed_room_ids(server, room_id):
    """Room IDs (appendices, "Room IDs"): "!" sigil, at most 255 bytes. Every
    rooms/{roomId} endpoint refuses a malformed one as a bad parameter
    (400 M_INVALID_PARAM) or an unknown room (403/404) - never 200 or 5xx."""
    u = MatrixUser(server)
    rp = urllib.parse.quote(room_id, safe="")
    requests = [("PUT", _send_path(room_id), MSG),
                ("PUT", f"rooms/{rp}/state/m.room.topic", {"topic": "t"}),
                ("GET", f"rooms/{rp}/state", None),
                ("GET", f"rooms/{rp}/messages?dir=b", None),
                ("GET", f"rooms/{rp}/members", None),
                ("GET", f"rooms/{rp}/event/%24abc", None),
                ("POST", f"rooms/{rp}/join", {}),
                ("POST", f"rooms/{rp}/leave", {}),
                ("POST", f"rooms/{rp}/invite", {"user_id": u.user_id})]
    for method, endpoint, body in requests:
        r = u.call(method, endpoint, body)
        assert r.status in (400, 403, 404), (method, endpoint, r)
        assert_error(r, r.status, ("M_INVALID_PARAM", "M_FORBIDDEN", "M_NOT_FOUND",
                                   "M_UNRECOGNIZED", "M_BAD_JSON"))


@pytest.mark.parametrize("since", ["garbage", "s-1", "9" * 40, "%00", "s99999999_0_0",
                                   "x" * 5000],
                         ids=["word", "negative", "huge", "nul", "future", "long"])
def test_bad_since_token(server, since):
    """/sync since "should be the next_batch token returned by an earlier call";
    a token the server never issued is a bad parameter: 400."""
    u = MatrixUser(server)
    r = u.call("GET", "sync", query={"since": urllib.parse.unquote(since)})
    assert r.status == 400, r
    assert_error(r, 400, ("M_INVALID_PARAM", "M_UNKNOWN", "M_BAD_JSON"))


def test_bad_pagination_params(pair):
    """/messages: dir is required and one of b/f; from/to are tokens the
    server issued; limit is an integer; filter is a JSON RoomEventFilter."""
    alice, _, room = pair
    path = f"rooms/{room_path(room)}/messages"
    for query in ({}, {"dir": "sideways"}, {"dir": "b", "from": "garbage"},
                  {"dir": "b", "to": "garbage"}, {"dir": "b", "limit": "ten"},
                  {"dir": "b", "filter": "{not json"}, {"dir": "b", "filter": "[]"},
                  {"dir": "b", "filter": json.dumps({"limit": "x"})}):
        r = alice.call("GET", path, query=query)
        assert r.status == 400, (query, r)
        assert_error(r, 400, ("M_INVALID_PARAM", "M_BAD_JSON", "M_NOT_JSON",
                              "M_MISSING_PARAM"))
    # Huge and negative limits are clamped or refused, never honoured blindly.
    for limit in ("-1", "0", "100000000000"):
        r = alice.call("GET", path, query={"dir": "b", "limit": limit})
        assert r.status in (200, 400), (limit, r)
        if r.status == 200:
            assert len(r.json["chunk"]) <= 1000, limit


def test_members_bad_membership_param(pair):
    """GET /members `membership` / `not_membership` are enums (join, invite,
    knock, leave, ban): another value is "A parameter that was specified has
    the wrong value" (400 M_INVALID_PARAM), not a filter matching nothing."""
    alice, _, room = pair
    for key in ("membership", "not_membership"):
        r = alice.call("GET", f"rooms/{room_path(room)}/members", query={key: "married"})
        assert_error(r, 400, "M_INVALID_PARAM")


def test_membership_bad_bodies(pair):
    """invite/kick/ban/unban need user_id ("The fully qualified user ID"):
    missing or malformed -> 400 M_BAD_JSON/M_INVALID_PARAM (inviting.yaml
    "The request body is malformed")."""
    alice, _, room = pair
    for action in ("invite", "kick", "ban", "unban"):
        for body in ({}, {"user_id": 5}, {"user_id": "not-a-user"}, {"user_id": ""}):
            r = alice.membership(room, action, body)
            assert r.status == 400, (action, body, r)
            assert_error(r, 400, ("M_BAD_JSON", "M_INVALID_PARAM", "M_MISSING_PARAM"))
        r = alice.call("POST", f"rooms/{room_path(room)}/{action}", b"nope",
                       headers={"Content-Type": "application/json"})
        assert_error(r, 400, "M_NOT_JSON")


def test_state_put_wrong_type_content(pair):
    """Power levels and membership go through their own rules: sending an
    m.room.member state event for someone else, or a malformed power_levels
    content, is refused (403 or 400), and the room still works."""
    alice, bob, room = pair
    pl_path = f"rooms/{room_path(room)}/state/m.room.power_levels"
    before = alice.call("GET", pl_path).json
    r = bob.put_state(room, "m.room.member", {"membership": "join"}, state_key=alice.user_id)
    assert r.status in (400, 403), r
    r = alice.put_state(room, "m.room.power_levels", {"users": {bob.user_id: "lots"}})
    assert r.status in (400, 403), r
    assert alice.send(room, "still fine").startswith("$")
    after = alice.call("GET", pl_path)
    assert after.status == 200 and after.json == before, after


def test_redact_errors(pair):
    """PUT /redact/{eventId}/{txnId}: a non-object body is 400; redacting an
    unknown event gives a 4xx; a user with too little power cannot redact
    another's event (the room version's redaction auth rules)."""
    alice, bob, room = pair
    eid = alice.send(room, "target")
    r = bob.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(eid)}/r1", {})
    assert_error(r, 403, "M_FORBIDDEN")
    r = alice.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(eid)}/r2", b"[]")
    assert_error(r, 400, ("M_BAD_JSON", "M_NOT_JSON"))
    r = alice.call("PUT", f"rooms/{room_path(room)}/redact/%24nosuchevent/r3", {})
    assert r.status in (400, 403, 404), r
    # The target is untouched.
    assert alice.event(room, eid).json["content"]["body"] == "target"


@pytest.mark.parametrize("content", [
    {"n": 1.5}, {"n": 2 ** 53}, {"n": -(2 ** 53)}, {"deep": {"n": [1, 2.0]}}, {"n": 1e3},
], ids=["float", "2^53", "-2^53", "nested-float", "exponent"])
def test_non_canonical_numbers_refused(pair, content):
    """Room versions 6+ (v6-canonical-json.md): "Servers MUST strictly
    enforce the JSON format specified in the appendices ... the Client Server
    API's /send/{eventType} endpoint would return a M_BAD_JSON error."
    Canonical JSON: "Numbers in the JSON must be integers in the range
    [-(2**53)+1, (2**53)-1]"; "Float values are not permitted"."""
    alice, _, room = pair
    raw = json.dumps({"msgtype": "m.text", "body": "n", **content}).encode()
    if content == {"n": 1e3}:  # json.dumps writes 1000.0; send the exponent form
        raw = raw.replace(b"1000.0", b"1e3")
    r = alice.call("PUT", _send_path(room, "num"), raw)
    assert_error(r, 400, "M_BAD_JSON")
    r = alice.call("PUT", f"rooms/{room_path(room)}/state/org.chappe.num", raw)
    assert_error(r, 400, "M_BAD_JSON")


def test_canonical_boundaries_accepted(pair):
    """The largest allowed integers and -0's absence: (2**53)-1 and
    -(2**53)+1 are accepted and come back unchanged."""
    alice, _, room = pair
    content = {"msgtype": "m.text", "body": "edges", "max": 2 ** 53 - 1, "min": -(2 ** 53) + 1}
    eid = alice.send(room, content=content)
    got = alice.event(room, eid).json["content"]
    assert got == content, got


def test_deep_and_wide_content(pair):
    """Nesting beyond the server's JSON depth limit is refused with a 400
    (never a crash); 4,000 keys well under 64 KiB round-trip exactly."""
    alice, _, room = pair
    deep = {"msgtype": "m.text", "body": "deep"}
    cur = deep
    for _ in range(200):
        cur["d"] = {}
        cur = cur["d"]
    r = alice.call("PUT", _send_path(room, "deep"), deep)
    assert_error(r, 400, ("M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE"))
    wide = {"msgtype": "m.text", "body": "wide", **{f"k{i:04d}": i for i in range(4000)}}
    eid = alice.send(room, content=wide)
    assert alice.event(room, eid).json["content"] == wide


def test_odd_but_valid_path_values(pair):
    """txnId, event type and state key are opaque strings: unicode, '/'
    (sent as %2F) and long txnIds work, and a retransmission of such a
    request is still recognised."""
    alice, bob, room = pair
    txn = "tx-\u00e9\u4e2d-" + "9" * 200
    path = _send_path(room, urllib.parse.quote(txn, safe=""))
    first = alice.call("PUT", path, MSG)
    assert first.status == 200, first
    assert alice.call("PUT", path, MSG).json["event_id"] == first.json["event_id"]

    r = alice.put_state(room, "org.chappe.\u00fcnicode", {"v": 1}, state_key="a/b c")
    assert r.status == 200, r
    got = bob.call("GET", f"rooms/{room_path(room)}/state/{room_path('org.chappe.ünicode')}/"
                   f"{room_path('a/b c')}")
    assert got.status == 200 and got.json == {"v": 1}, got
    ev = alice.send(room, event_type="org.chappe.ünïcode", content={"x": 1})
    assert alice.event(room, ev).json["type"] == "org.chappe.ünïcode"


def test_create_room_hostile_sizes(server):
    """createRoom with an oversized name (the event would exceed 65536
    bytes: 413 M_TOO_LARGE, or 400) and with 300 initial_state entries
    (accepted or refused with a 4xx, never a crash or a half-made room the
    creator is in)."""
    u = MatrixUser(server)
    before = set(u.call("GET", "joined_rooms").json["joined_rooms"])
    r = u.call("POST", "createRoom", {"name": "n" * 70000})
    assert r.status in (400, 413), r
    assert_error(r, r.status, ("M_TOO_LARGE", "M_BAD_JSON", "M_INVALID_ROOM_STATE"))
    assert set(u.call("GET", "joined_rooms").json["joined_rooms"]) == before, \
        "a refused createRoom left a room behind"
    many = [{"type": "org.chappe.s", "state_key": str(i), "content": {"i": i}}
            for i in range(300)]
    r = u.call("POST", "createRoom", {"initial_state": many})
    if r.status == 200:
        state = u.call("GET", f"rooms/{room_path(r.json['room_id'])}/state").json
        assert len([e for e in state if e["type"] == "org.chappe.s"]) == 300
    else:
        assert_error(r, r.status, ("M_TOO_LARGE", "M_BAD_JSON", "M_INVALID_PARAM",
                                   "M_LIMIT_EXCEEDED"))
