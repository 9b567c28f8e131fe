"""Server-side key backups (Client-Server API, End-to-End Encryption,
"Server-side key backups"; data/api/client-server/key_backup.yaml).

Raw HTTP for every endpoint and error: versions (create, current, get,
update, delete), keys by version / room / session (put, get, delete), the
wrong and deleted version errors, etag and count, the spec's keep-or-replace
rule, hostile bodies, and a restart. matrix-nio 0.20 has no key backup API
(no room_keys endpoint anywhere in the package), so the client-side
cryptography is done with python3-olm directly: a real
m.megolm_backup.v1.curve25519-aes-sha2 backup of a real megolm session key,
encrypted to the backup's public key, uploaded, downloaded and decrypted.
"""
import json
import secrets
import urllib.parse

from chappe_e2e import MatrixUser, assert_error

ALGO = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM_A = "!backup_a:localhost"
ROOM_B = "!backup_b:localhost"


def q(s):
    return urllib.parse.quote(s, safe="")


def key_data(index=0, forwarded=0, verified=False, tag="x"):
    """A KeyBackupData object (definitions/key_backup_data.yaml)."""
    return {"first_message_index": index, "forwarded_count": forwarded,
            "is_verified": verified,
            "session_data": {"ephemeral": "eph", "ciphertext": f"ct-{tag}", "mac": "mac"}}


def create_version(user, auth_data=None):
    r = user.call("POST", "room_keys/version",
                  {"algorithm": ALGO, "auth_data": auth_data or {"public_key": "abcdefg"}})
    assert r.status == 200, r
    # "The backup version. This is an opaque string." Ours: a decimal number.
    assert isinstance(r.json["version"], str) and r.json["version"].isdigit(), r
    return r.json["version"]


def put_keys(user, version, body, path="room_keys/keys"):
    return user.call("PUT", path, body, query={"version": version})


def get_keys(user, version, path="room_keys/keys"):
    return user.call("GET", path, query={"version": version})


def session_path(room, session):
    return f"room_keys/keys/{q(room)}/{q(session)}"


def current(user):
    r = user.call("GET", "room_keys/version")
    assert r.status == 200, r
    return r.json


def test_no_backup_yet(server):
    """GET /room_keys/version: 404 "No backup exists." (M_NOT_FOUND)."""
    alice = MatrixUser(server)
    assert_error(alice.call("GET", "room_keys/version"), 404, "M_NOT_FOUND")
    assert_error(alice.call("GET", "room_keys/version/1"), 404, "M_NOT_FOUND")
    # no version to write to and none to name in current_version
    assert_error(put_keys(alice, "1", {"rooms": {}}), 404, "M_NOT_FOUND")
    assert_error(get_keys(alice, "1"), 404, "M_NOT_FOUND")
    # an access token is needed everywhere
    r = server.client("GET", "room_keys/version")
    assert_error(r, 401, "M_MISSING_TOKEN")


def test_create_and_get_version(server):
    """POST /room_keys/version returns the version; GET /room_keys/version
    answers algorithm, auth_data, count, etag and version (all required)."""
    alice = MatrixUser(server)
    auth = {"public_key": "abcdefg",
            "signatures": {alice.user_id: {"ed25519:DEV": "sig"}}}
    v = create_version(alice, auth)
    info = current(alice)
    assert info["algorithm"] == ALGO and info["auth_data"] == auth
    assert info["count"] == 0 and isinstance(info["etag"], str) and info["version"] == v
    by_id = alice.call("GET", f"room_keys/version/{v}")
    assert by_id.status == 200 and by_id.json == info, by_id
    # the legacy r0 prefix serves the same
    r0 = alice.call("GET", "room_keys/version", prefix="r0")
    assert r0.status == 200 and r0.json == info, r0
    # a newer version becomes the current one
    v2 = create_version(alice)
    assert int(v2) > int(v) and current(alice)["version"] == v2


def test_create_refuses_bad_bodies(server):
    alice = MatrixUser(server)
    cases = [
        ({"auth_data": {}}, 400, "M_MISSING_PARAM"),
        ({"algorithm": ALGO}, 400, "M_MISSING_PARAM"),
        ({"algorithm": 7, "auth_data": {}}, 400, "M_BAD_JSON"),
        ({"algorithm": ALGO, "auth_data": "key"}, 400, "M_BAD_JSON"),
        ({"algorithm": "", "auth_data": {}}, 400, "M_INVALID_PARAM"),
        ({"algorithm": "a" * 200, "auth_data": {}}, 400, "M_INVALID_PARAM"),
        ({"algorithm": ALGO, "auth_data": {"big": "x" * 70000}}, 413, "M_TOO_LARGE"),
    ]
    for body, status, errcode in cases:
        assert_error(alice.call("POST", "room_keys/version", body), status, errcode)
    assert_error(alice.call("POST", "room_keys/version", b"not json"), 400, "M_NOT_JSON")
    assert_error(alice.call("GET", "room_keys/version"), 404, "M_NOT_FOUND")


def test_update_version(server):
    """PUT /room_keys/version/{version}: "Only auth_data can be modified";
    400 M_INVALID_PARAM when "the algorithm does not match the current
    backup algorithm, or the version in the body does not match the version
    in the path"; 404 for an unknown backup."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    v = create_version(alice)
    new_auth = {"public_key": "newkey"}
    r = alice.call("PUT", f"room_keys/version/{v}", {"algorithm": ALGO, "auth_data": new_auth})
    assert r.status == 200 and r.json == {}, r
    assert current(alice)["auth_data"] == new_auth
    r = alice.call("PUT", f"room_keys/version/{v}",
                   {"algorithm": ALGO, "auth_data": {"public_key": "k3"}, "version": v})
    assert r.status == 200, r
    assert_error(alice.call("PUT", f"room_keys/version/{v}",
                            {"algorithm": "m.other", "auth_data": {}}), 400, "M_INVALID_PARAM")
    assert_error(alice.call("PUT", f"room_keys/version/{v}",
                            {"algorithm": ALGO, "auth_data": {}, "version": str(int(v) + 1)}),
                 400, "M_INVALID_PARAM")
    assert_error(alice.call("PUT", f"room_keys/version/{v}", {"algorithm": ALGO}),
                 400, "M_MISSING_PARAM")
    assert current(alice)["auth_data"] == {"public_key": "k3"}
    for bad in (str(int(v) + 1000), "abc", "0", "01", "9" * 30):
        assert_error(alice.call("PUT", f"room_keys/version/{bad}",
                                {"algorithm": ALGO, "auth_data": {}}), 404, "M_NOT_FOUND")
        assert_error(alice.call("GET", f"room_keys/version/{bad}"), 404, "M_NOT_FOUND")
    # "Backups are per-user": bob can neither see nor change alice's
    assert_error(bob.call("GET", f"room_keys/version/{v}"), 404, "M_NOT_FOUND")
    assert_error(bob.call("PUT", f"room_keys/version/{v}",
                          {"algorithm": ALGO, "auth_data": {}}), 404, "M_NOT_FOUND")
    assert_error(bob.call("DELETE", f"room_keys/version/{v}"), 404, "M_NOT_FOUND")
    assert_error(get_keys(bob, v), 404, "M_NOT_FOUND")


def test_keys_shapes_for_each_path(server):
    """PUT and GET /room_keys/keys, /room_keys/keys/{roomId} and
    /room_keys/keys/{roomId}/{sessionId}: RoomKeysUpdateResponse {etag,
    count} for puts; {rooms: ...}, {sessions: ...} and KeyBackupData for
    gets; an empty {sessions: {}} for a room without keys; 404 "Key not
    found." for a missing session."""
    alice = MatrixUser(server)
    v = create_version(alice)
    r = put_keys(alice, v, {"rooms": {
        ROOM_A: {"sessions": {"s1": key_data(tag="a1"), "s2": key_data(tag="a2")}},
        ROOM_B: {"sessions": {"s1": key_data(tag="b1")}}}})
    assert r.status == 200 and r.json["count"] == 3 and isinstance(r.json["etag"], str), r
    r2 = put_keys(alice, v, {"sessions": {"s3": key_data(tag="a3")}},
                  path=f"room_keys/keys/{q(ROOM_A)}")
    assert r2.status == 200 and r2.json["count"] == 4 and r2.json["etag"] != r.json["etag"], r2
    r3 = put_keys(alice, v, key_data(tag="b2"), path=session_path(ROOM_B, "s2"))
    assert r3.status == 200 and r3.json["count"] == 5, r3

    everything = get_keys(alice, v)
    assert everything.status == 200, everything
    assert everything.json == {"rooms": {
        ROOM_A: {"sessions": {"s1": key_data(tag="a1"), "s2": key_data(tag="a2"),
                              "s3": key_data(tag="a3")}},
        ROOM_B: {"sessions": {"s1": key_data(tag="b1"), "s2": key_data(tag="b2")}}}}
    room = get_keys(alice, v, path=f"room_keys/keys/{q(ROOM_B)}")
    assert room.status == 200 and room.json == everything.json["rooms"][ROOM_B], room
    one = get_keys(alice, v, path=session_path(ROOM_A, "s3"))
    assert one.status == 200 and one.json == key_data(tag="a3"), one
    empty = get_keys(alice, v, path=f"room_keys/keys/{q('!none:localhost')}")
    assert empty.status == 200 and empty.json == {"sessions": {}}, empty
    assert_error(get_keys(alice, v, path=session_path(ROOM_A, "nope")), 404, "M_NOT_FOUND")
    # GET /room_keys/version carries the same count and etag
    info = current(alice)
    assert info["count"] == 5 and info["etag"] == r3.json["etag"]
    # a backup without keys: {"rooms": {}}
    v2 = create_version(alice)
    assert get_keys(alice, v2).json == {"rooms": {}}


def test_wrong_version(server):
    """PUT of keys: 403 M_WRONG_ROOM_KEYS_VERSION "The version specified
    does not match the current backup version. The current version will be
    included in the current_version field." An older version stays
    readable; the version parameter is required."""
    alice = MatrixUser(server)
    v1 = create_version(alice)
    assert put_keys(alice, v1, key_data(tag="old"), path=session_path(ROOM_A, "s")).status == 200
    v2 = create_version(alice)
    for bad in (v1, str(int(v2) + 5), "garbage", "0"):
        r = put_keys(alice, bad, key_data(), path=session_path(ROOM_A, "s"))
        assert_error(r, 403, "M_WRONG_ROOM_KEYS_VERSION")
        assert r.json["current_version"] == v2, r
    r = put_keys(alice, v1, {"rooms": {}})
    assert_error(r, 403, "M_WRONG_ROOM_KEYS_VERSION")
    assert r.json["current_version"] == v2
    # the old backup can still be read, and its keys were not touched
    old = get_keys(alice, v1, path=session_path(ROOM_A, "s"))
    assert old.status == 200 and old.json == key_data(tag="old"), old
    assert get_keys(alice, v2).json == {"rooms": {}}
    for method in ("PUT", "GET", "DELETE"):
        body = {"rooms": {}} if method == "PUT" else None
        assert_error(alice.call(method, "room_keys/keys", body), 400, "M_MISSING_PARAM")
    assert_error(get_keys(alice, "garbage"), 404, "M_NOT_FOUND")


def test_deleted_version(server):
    """DELETE /room_keys/version/{version}: "Both the information about the
    backup, as well as all key data related to the backup will be deleted."
    "If the backup was previously deleted, the call should succeed rather
    than returning an error"; a backup that never existed is 404."""
    alice = MatrixUser(server)
    v1 = create_version(alice)
    v2 = create_version(alice)
    assert put_keys(alice, v2, key_data(), path=session_path(ROOM_A, "s")).status == 200
    r = alice.call("DELETE", f"room_keys/version/{v2}")
    assert r.status == 200 and r.json == {}, r
    assert alice.call("DELETE", f"room_keys/version/{v2}").status == 200
    assert_error(alice.call("DELETE", f"room_keys/version/{int(v2) + 100}"), 404, "M_NOT_FOUND")
    assert_error(alice.call("GET", f"room_keys/version/{v2}"), 404, "M_NOT_FOUND")
    assert_error(get_keys(alice, v2), 404, "M_NOT_FOUND")
    assert_error(get_keys(alice, v2, path=session_path(ROOM_A, "s")), 404, "M_NOT_FOUND")
    assert_error(alice.call("DELETE", "room_keys/keys", query={"version": v2}),
                 404, "M_NOT_FOUND")
    assert_error(alice.call("PUT", f"room_keys/version/{v2}",
                            {"algorithm": ALGO, "auth_data": {}}), 404, "M_NOT_FOUND")
    # the older backup is the current one again; the deleted one is wrong
    assert current(alice)["version"] == v1
    r = put_keys(alice, v2, key_data(), path=session_path(ROOM_A, "s"))
    assert_error(r, 403, "M_WRONG_ROOM_KEYS_VERSION")
    assert r.json["current_version"] == v1
    # with every backup deleted there is none to name
    assert alice.call("DELETE", f"room_keys/version/{v1}").status == 200
    assert_error(alice.call("GET", "room_keys/version"), 404, "M_NOT_FOUND")
    assert_error(put_keys(alice, v1, {"rooms": {}}), 404, "M_NOT_FOUND")
    # a deleted number is never handed out again
    v3 = create_version(alice)
    assert int(v3) > int(v2)
    assert get_keys(alice, v3).json == {"rooms": {}}


def test_etag_and_count(server):
    """etag: "Clients can compare it with the etag value they received in
    the request of their last key storage request. If not equal, another
    client has modified the backup." It moves exactly when keys change."""
    alice = MatrixUser(server)
    v = create_version(alice)
    first_etag = current(alice)["etag"]
    r = put_keys(alice, v, {"rooms": {ROOM_A: {"sessions": {
        "s1": key_data(index=5), "s2": key_data(), "s3": key_data()}}}})
    assert r.json["count"] == 3 and r.json["etag"] != first_etag
    etag = r.json["etag"]
    # a worse key changes nothing: same etag, same count
    same = put_keys(alice, v, key_data(index=9), path=session_path(ROOM_A, "s1"))
    assert same.json == {"etag": etag, "count": 3}, same
    # an empty put at the current version answers the current state
    assert put_keys(alice, v, {"rooms": {}}).json == {"etag": etag, "count": 3}
    # deleting a missing session changes nothing either
    r = alice.call("DELETE", session_path(ROOM_A, "missing"), query={"version": v})
    assert r.status == 200 and r.json == {"etag": etag, "count": 3}, r
    # deleting one session, then a room, then everything
    r = alice.call("DELETE", session_path(ROOM_A, "s1"), query={"version": v})
    assert r.json["count"] == 2 and r.json["etag"] != etag
    etag = r.json["etag"]
    put_keys(alice, v, key_data(), path=session_path(ROOM_B, "s1"))
    r = alice.call("DELETE", f"room_keys/keys/{q(ROOM_A)}", query={"version": v})
    assert r.json["count"] == 1 and r.json["etag"] != etag
    etag = r.json["etag"]
    assert get_keys(alice, v).json == {"rooms": {ROOM_B: {"sessions": {"s1": key_data()}}}}
    r = alice.call("DELETE", "room_keys/keys", query={"version": v})
    assert r.json["count"] == 0 and r.json["etag"] != etag
    info = current(alice)
    assert info["count"] == 0 and info["etag"] == r.json["etag"]
    assert get_keys(alice, v).json == {"rooms": {}}


def test_replace_rules(server):
    """"if the keys have different values for is_verified, then it will keep
    the key that has is_verified set to true; if they have the same values
    for is_verified, then it will keep the key with a lower
    first_message_index; and finally, if is_verified and
    first_message_index are equal, then it will keep the key with a lower
    forwarded_count." """
    alice = MatrixUser(server)
    v = create_version(alice)
    path = session_path(ROOM_A, "sess")

    def upload_then_stored(**kw):
        r = put_keys(alice, v, key_data(**kw), path=path)
        assert r.status == 200 and r.json["count"] == 1, r
        return get_keys(alice, v, path=path).json["session_data"]["ciphertext"]

    assert upload_then_stored(index=10, forwarded=3, tag="start") == "ct-start"
    # same verification, higher index: kept out (even with fewer forwards)
    assert upload_then_stored(index=11, forwarded=0, tag="higher") == "ct-start"
    # same index, more forwards: kept out; fewer: replaces
    assert upload_then_stored(index=10, forwarded=4, tag="more") == "ct-start"
    assert upload_then_stored(index=10, forwarded=2, tag="fewer") == "ct-fewer"
    # identical metadata keeps the stored key
    assert upload_then_stored(index=10, forwarded=2, tag="tie") == "ct-fewer"
    # lower index replaces, even with more forwards
    assert upload_then_stored(index=4, forwarded=9, tag="lower") == "ct-lower"
    # verified beats everything unverified, even a worse index
    assert upload_then_stored(index=50, forwarded=9, verified=True, tag="ver") == "ct-ver"
    assert upload_then_stored(index=0, forwarded=0, verified=False, tag="unv") == "ct-ver"
    # among verified keys the index decides again
    assert upload_then_stored(index=49, forwarded=9, verified=True, tag="ver2") == "ct-ver2"
    stored = get_keys(alice, v, path=path).json
    assert (stored["is_verified"], stored["first_message_index"],
            stored["forwarded_count"]) == (True, 49, 9)


def test_hostile_bodies(server):
    """Every input bounded: shapes, types, sizes, counts; nothing stored
    from a refused request."""
    alice = MatrixUser(server)
    v = create_version(alice)
    spath = session_path(ROOM_A, "s")
    bad_data = [
        {},
        {**key_data(), "first_message_index": -1},
        {**key_data(), "first_message_index": 1.5},
        {**key_data(), "first_message_index": "1"},
        {**key_data(), "forwarded_count": None},
        {**key_data(), "is_verified": "true"},
        {**key_data(), "session_data": "ciphertext"},
        {**key_data(), "session_data": ["a"]},
    ]
    for data in bad_data:
        assert_error(put_keys(alice, v, data, path=spath), 400, "M_BAD_JSON")
        assert_error(put_keys(alice, v, {"rooms": {ROOM_A: {"sessions": {"s": data}}}}),
                     400, "M_BAD_JSON")
    for body in ({}, {"rooms": []}, {"rooms": {ROOM_A: []}}, {"rooms": {ROOM_A: {}}},
                 {"rooms": {ROOM_A: {"sessions": []}}}):
        assert_error(put_keys(alice, v, body), 400, "M_BAD_JSON")
    # room IDs start with '!' and fit 255 bytes; session IDs 1..255 bytes
    assert_error(put_keys(alice, v, {"rooms": {"#alias:x": {"sessions": {}}}}),
                 400, "M_INVALID_PARAM")
    assert_error(put_keys(alice, v, {"rooms": {"!" + "r" * 300: {"sessions": {}}}}),
                 400, "M_INVALID_PARAM")
    assert_error(put_keys(alice, v, {"sessions": {"": key_data()}},
                          path=f"room_keys/keys/{q(ROOM_A)}"), 400, "M_INVALID_PARAM")
    assert_error(put_keys(alice, v, key_data(), path=session_path("norooom", "s")),
                 400, "M_INVALID_PARAM")
    assert_error(put_keys(alice, v, key_data(), path=session_path(ROOM_A, "s" * 300)),
                 400, "M_INVALID_PARAM")
    # session_data over 64 KiB, more than 1000 sessions in one request
    big = {**key_data(), "session_data": {"ciphertext": "A" * 70000}}
    assert_error(put_keys(alice, v, big, path=spath), 413, "M_TOO_LARGE")
    many = {f"s{i}": key_data() for i in range(1001)}
    assert_error(put_keys(alice, v, {"sessions": many}, path=f"room_keys/keys/{q(ROOM_A)}"),
                 413, "M_TOO_LARGE")
    # a refused request stored nothing, not even its valid part
    mixed = {"rooms": {ROOM_A: {"sessions": {"ok": key_data(), "bad": {"x": 1}}}}}
    assert_error(put_keys(alice, v, mixed), 400, "M_BAD_JSON")
    assert current(alice)["count"] == 0
    # exactly 1000 sessions is fine
    r = put_keys(alice, v, {"sessions": {f"s{i}": key_data() for i in range(1000)}},
                 path=f"room_keys/keys/{q(ROOM_A)}")
    assert r.status == 200 and r.json["count"] == 1000, r
    assert len(get_keys(alice, v).json["rooms"][ROOM_A]["sessions"]) == 1000


def test_survives_restart(make_server):
    """What a backup acknowledged is there after SIGKILL and a restart."""
    srv = make_server()
    alice = MatrixUser(srv)
    v = create_version(alice)
    r = put_keys(alice, v, {"rooms": {ROOM_A: {"sessions": {"s": key_data(tag="kept")}}}})
    assert r.status == 200
    srv.kill()
    srv.start()
    alice = MatrixUser(srv, token=srv.login(alice.name)["access_token"], user_id=alice.user_id)
    info = current(alice)
    assert (info["version"], info["count"], info["etag"]) == (v, 1, r.json["etag"])
    assert get_keys(alice, v).json == {"rooms": {ROOM_A: {"sessions": {"s": key_data(tag="kept")}}}}
    # and the version numbering continues past it
    assert int(create_version(alice)) > int(v)


def test_olm_backup_roundtrip(server):
    """A real backup as a client makes one ("Backup algorithm:
    m.megolm_backup.v1.curve25519-aes-sha2"): the auth_data carries the
    backup's curve25519 public_key; each session key, as BackedUpSessionData
    JSON, is encrypted to it (ephemeral, ciphertext, mac); another device
    downloads it and decrypts it with the backup's private key into a
    working inbound group session."""
    import olm

    alice = MatrixUser(server)
    backup_key = olm.PkDecryption()
    v = create_version(alice, {"public_key": backup_key.public_key})
    outbound = olm.OutboundGroupSession()
    inbound = olm.InboundGroupSession(outbound.session_key)
    secret = json.dumps({
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": "senderkey", "sender_claimed_keys": {"ed25519": "edkey"},
        "forwarding_curve25519_key_chain": [],
        "session_key": inbound.export_session(inbound.first_known_index),
    })
    msg = olm.PkEncryption(current(alice)["auth_data"]["public_key"]).encrypt(secret)
    room = f"!olm{secrets.token_hex(4)}:localhost"
    data = {"first_message_index": inbound.first_known_index, "forwarded_count": 0,
            "is_verified": True,
            "session_data": {"ephemeral": msg.ephemeral_key, "ciphertext": msg.ciphertext,
                             "mac": msg.mac}}
    r = put_keys(alice, v, data, path=session_path(room, outbound.id))
    assert r.status == 200 and r.json["count"] == 1, r

    # a new device: download with the version the server advertises
    fetched = get_keys(alice, current(alice)["version"])
    stored = fetched.json["rooms"][room]["sessions"][outbound.id]["session_data"]
    plain = backup_key.decrypt(olm.PkMessage(stored["ephemeral"], stored["mac"],
                                             stored["ciphertext"]))
    restored = olm.InboundGroupSession.import_session(json.loads(plain)["session_key"])
    text, index = restored.decrypt(outbound.encrypt("hello from the backup"))
    assert (text, index) == ("hello from the backup", 0)
