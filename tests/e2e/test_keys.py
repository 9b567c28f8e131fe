"""End-to-end encryption keys (client-server-api modules/end_to_end_encryption.md,
keys.yaml, cross_signing.yaml): upload, query, claim, changes, the /sync
extensions, cross-signing, and m.room.encryption that cannot be turned off.
Device keys are made and signed here with python3-olm, as a client would."""
import json
import threading
import time

import olm
import pytest
from canonicaljson import encode_canonical_json

from chappe_e2e import MatrixUser, assert_error, password_auth, room_path

ALGORITHMS = ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"]


class Device:
    """One client device: an olm account that signs what it uploads."""

    def __init__(self, user):
        self.user = user
        self.account = olm.Account()
        self.keys = self.account.identity_keys

    def sign(self, obj):
        """Appendices, Signing JSON: sign the canonical JSON without
        signatures and unsigned, add signatures[user]["ed25519:device"]."""
        clean = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
        sig = self.account.sign(encode_canonical_json(clean).decode())
        obj.setdefault("signatures", {}).setdefault(self.user.user_id, {})[
            f"ed25519:{self.user.device_id}"] = sig
        return obj

    def device_keys(self):
        d = self.user.device_id
        return self.sign({"user_id": self.user.user_id, "device_id": d,
                          "algorithms": ALGORITHMS,
                          "keys": {f"curve25519:{d}": self.keys["curve25519"],
                                   f"ed25519:{d}": self.keys["ed25519"]}})

    def one_time_keys(self, n, fallback=False):
        self.account.generate_one_time_keys(n)
        out = {}
        for kid, key in self.account.one_time_keys["curve25519"].items():
            obj = {"key": key}
            if fallback:
                obj["fallback"] = True
            out[f"signed_curve25519:{kid}"] = self.sign(obj)
        self.account.mark_keys_as_published()
        return out

    def upload(self, **body):
        return self.user.call("POST", "keys/upload", body)


def _new_device(server):
    dev = Device(MatrixUser(server))
    r = dev.upload(device_keys=dev.device_keys())
    assert r.status == 200, r
    return dev


def _query(user, who, devices=None):
    r = user.call("POST", "keys/query", {"device_keys": {w: devices or [] for w in who}})
    assert r.status == 200, r
    return r.json


def _shared_room(a, b, encrypted=True):
    initial = []
    if encrypted:
        initial = [{"type": "m.room.encryption", "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
    room = a.create_room(initial_state=initial)
    a.invite(room, b.user_id)
    b.join(room)
    return room


# ---- POST /keys/upload ------------------------------------------------------

def test_upload_device_keys_and_counts(server):
    dev = Device(MatrixUser(server))
    # "one_time_key_counts: For each key algorithm, the number of unclaimed
    # one-time keys of that type currently held on the server for this device"
    r = dev.upload(device_keys=dev.device_keys(), one_time_keys=dev.one_time_keys(5))
    assert r.status == 200, r
    assert r.json["one_time_key_counts"]["signed_curve25519"] == 5
    # an identical re-upload is fine and changes nothing
    r = dev.upload(device_keys=dev.device_keys())
    assert r.status == 200 and r.json["one_time_key_counts"]["signed_curve25519"] == 5
    got = _query(dev.user, [dev.user.user_id])["device_keys"][dev.user.user_id]
    stored = got[dev.user.device_id]
    assert stored["keys"] == dev.device_keys()["keys"]
    assert stored["signatures"] == dev.device_keys()["signatures"]


def test_upload_refuses_other_identity(server):
    dev = _new_device(server)
    other = Device(dev.user)   # new olm account, same device ID
    r = other.upload(device_keys=other.device_keys())
    assert_error(r, 400, ["M_INVALID_PARAM"])
    # the first identity is still the one served
    got = _query(dev.user, [dev.user.user_id])["device_keys"][dev.user.user_id]
    assert got[dev.user.device_id]["keys"] == dev.device_keys()["keys"]


def test_upload_refuses_bad_device_keys(server):
    dev = Device(MatrixUser(server))
    # "signatures ... MUST contain the signature of the device's ed25519 key"
    dk = dev.device_keys()
    dk["algorithms"] = ALGORITHMS + ["m.evil"]     # changed after signing
    assert_error(dev.upload(device_keys=dk), 400, ["M_INVALID_PARAM"])
    unsigned = dev.device_keys()
    del unsigned["signatures"]
    assert_error(dev.upload(device_keys=unsigned), 400, ["M_INVALID_PARAM"])
    # keys for another device of the same user
    dk = dev.device_keys()
    dk["device_id"] = "SOMEONEELSE"
    assert_error(dev.upload(device_keys=dk), 400, ["M_INVALID_PARAM"])
    assert_error(dev.upload(device_keys="nope"), 400, ["M_BAD_JSON"])
    # nothing was stored
    got = _query(dev.user, [dev.user.user_id])["device_keys"][dev.user.user_id]
    assert got == {}


def test_upload_one_time_key_rules(server):
    dev = _new_device(server)
    keys = dev.one_time_keys(2)
    assert dev.upload(one_time_keys=keys).status == 200
    # the same key ID with other content is refused
    kid = next(iter(keys))
    changed = {kid: dev.sign({"key": dev.keys["curve25519"]})}
    assert_error(dev.upload(one_time_keys=changed), 400, ["M_INVALID_PARAM"])
    # a signed key that is not signed, or signed by another device
    stranger = Device(dev.user)
    forged = {"signed_curve25519:AAAAZZ": stranger.sign({"key": dev.keys["curve25519"]})}
    assert_error(dev.upload(one_time_keys=forged), 400, ["M_INVALID_PARAM"])
    bare = {"signed_curve25519:AAAAZY": dev.keys["curve25519"]}
    assert_error(dev.upload(one_time_keys=bare), 400, ["M_INVALID_PARAM"])
    r = dev.upload()
    assert r.json["one_time_key_counts"]["signed_curve25519"] == 2


# ---- POST /keys/query -------------------------------------------------------

def test_query_only_users_sharing_a_room(server):
    alice, bob = _new_device(server), _new_device(server)
    # not sharing a room: answered as if Alice had no devices
    got = _query(bob.user, [alice.user.user_id])
    assert got["device_keys"][alice.user.user_id] == {}
    assert got["failures"] == {}
    _shared_room(alice.user, bob.user)
    got = _query(bob.user, [alice.user.user_id])["device_keys"][alice.user.user_id]
    assert list(got) == [alice.user.device_id]
    # asking for one device only
    got = _query(bob.user, [alice.user.user_id], ["NOSUCHDEVICE"])
    assert got["device_keys"][alice.user.user_id] == {}


# ---- POST /keys/claim -------------------------------------------------------

def test_claim_once_then_fallback(server):
    alice, bob, carol = _new_device(server), _new_device(server), _new_device(server)
    _shared_room(alice.user, bob.user)
    otks = alice.one_time_keys(2)
    fb = alice.one_time_keys(1, fallback=True)
    r = alice.upload(one_time_keys=otks, fallback_keys=fb)
    assert r.status == 200, r
    q = {"one_time_keys": {alice.user.user_id: {alice.user.device_id: "signed_curve25519"}}}
    # a stranger claims nothing and consumes nothing
    r = carol.user.call("POST", "keys/claim", q)
    assert r.status == 200 and r.json["one_time_keys"] == {}
    seen = set()
    for _ in range(2):
        r = bob.user.call("POST", "keys/claim", q)
        assert r.status == 200, r
        (kid, key), = r.json["one_time_keys"][alice.user.user_id][alice.user.device_id].items()
        assert kid in otks and key == otks[kid] and kid not in seen
        seen.add(kid)
    # "the server will return the fallback key ... if there are no
    # one-time keys available"
    for _ in range(2):
        r = bob.user.call("POST", "keys/claim", q)
        (kid, key), = r.json["one_time_keys"][alice.user.user_id][alice.user.device_id].items()
        assert kid in fb and key["fallback"] is True
    body = alice.user.sync()
    assert body["device_one_time_keys_count"]["signed_curve25519"] == 0
    # the fallback key was used: no longer in the unused list
    assert body["device_unused_fallback_key_types"] == []


def test_claim_concurrent_each_key_once(server):
    alice = _new_device(server)
    claimers = [_new_device(server) for _ in range(4)]
    room = alice.user.create_room()
    for c in claimers:
        alice.user.invite(room, c.user.user_id)
        c.user.join(room)
    otks = alice.one_time_keys(20)
    assert alice.upload(one_time_keys=otks).status == 200
    q = {"one_time_keys": {alice.user.user_id: {alice.user.device_id: "signed_curve25519"}}}
    got, lock = [], threading.Lock()

    def claim(c):
        for _ in range(8):
            r = c.user.call("POST", "keys/claim", q)
            assert r.status == 200
            keys = r.json["one_time_keys"].get(alice.user.user_id, {})
            with lock:
                got.extend(keys.get(alice.user.device_id, {}).keys())

    threads = [threading.Thread(target=claim, args=(c,)) for c in claimers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(otks)   # each exactly once, none invented


# ---- /sync and GET /keys/changes -----------------------------------------------

def test_sync_counts_and_fallback_types(server):
    dev = _new_device(server)
    dev.upload(one_time_keys=dev.one_time_keys(3), fallback_keys=dev.one_time_keys(1, True))
    body = dev.user.sync()
    assert body["device_one_time_keys_count"]["signed_curve25519"] == 3
    assert body["device_unused_fallback_key_types"] == ["signed_curve25519"]


def test_device_lists_changed_and_left(server):
    alice, bob = _new_device(server), _new_device(server)
    room = _shared_room(alice.user, bob.user)
    s1 = bob.user.sync()
    # new keys of a user sharing a room: "changed"
    login = server.login(alice.user.user_id)
    alice2 = Device(MatrixUser(server, token=login["access_token"], user_id=alice.user.user_id))
    alice2.user.device_id = login["device_id"]
    assert alice2.upload(device_keys=alice2.device_keys()).status == 200
    s2 = bob.user.sync(since=s1["next_batch"])
    assert alice.user.user_id in s2["device_lists"]["changed"]
    r = bob.user.call("GET", "keys/changes",
                      query={"from": s1["next_batch"], "to": s2["next_batch"]})
    assert r.status == 200 and alice.user.user_id in r.json["changed"]
    # nothing new since: not reported again
    s3 = bob.user.sync(since=s2["next_batch"])
    assert alice.user.user_id not in s3["device_lists"]["changed"]
    # "left: List of users who no longer share any end-to-end encrypted rooms"
    assert alice.user.membership(room, "leave").status == 200
    s4 = bob.user.sync(since=s3["next_batch"])
    assert alice.user.user_id in s4["device_lists"]["left"]
    # a stranger's key changes are never reported
    alice3 = Device(alice2.user)
    stranger = _new_device(server)
    assert stranger.upload(one_time_keys=stranger.one_time_keys(1)).status == 200
    s5 = bob.user.sync(since=s4["next_batch"])
    assert stranger.user.user_id not in s5["device_lists"]["changed"]
    del alice3


def test_device_lists_on_join(server):
    alice, bob = _new_device(server), _new_device(server)
    room = bob.user.create_room()
    s1 = bob.user.sync()
    bob.user.invite(room, alice.user.user_id)
    alice.user.join(room)
    s2 = bob.user.sync(since=s1["next_batch"])
    # "or who now share an encrypted room with the client"
    assert alice.user.user_id in s2["device_lists"]["changed"]


def test_long_poll_woken_by_key_upload(server):
    alice, bob = _new_device(server), _new_device(server)
    _shared_room(alice.user, bob.user)
    since = bob.user.sync()["next_batch"]
    since = bob.user.sync(since=since)["next_batch"]
    out = {}
    t = threading.Thread(target=lambda: out.update(
        bob.user.sync(since=since, timeout=20000)))
    start = time.monotonic()
    t.start()
    time.sleep(0.5)
    login = server.login(alice.user.user_id)
    alice2 = Device(MatrixUser(server, token=login["access_token"], user_id=alice.user.user_id))
    alice2.user.device_id = login["device_id"]
    assert alice2.upload(device_keys=alice2.device_keys()).status == 200
    t.join(30)
    assert time.monotonic() - start < 10
    assert alice.user.user_id in out["device_lists"]["changed"]


def test_logout_deletes_keys(server):
    alice, bob = _new_device(server), _new_device(server)
    _shared_room(alice.user, bob.user)
    alice.upload(one_time_keys=alice.one_time_keys(2))
    s1 = bob.user.sync()
    assert alice.user.call("POST", "logout", {}).status == 200
    got = _query(bob.user, [alice.user.user_id])["device_keys"][alice.user.user_id]
    assert got == {}
    q = {"one_time_keys": {alice.user.user_id: {alice.user.device_id: "signed_curve25519"}}}
    assert bob.user.call("POST", "keys/claim", q).json["one_time_keys"] == {}
    s2 = bob.user.sync(since=s1["next_batch"])
    assert alice.user.user_id in s2["device_lists"]["changed"]


def test_keys_changes_bad_tokens(server):
    dev = _new_device(server)
    assert_error(dev.user.call("GET", "keys/changes", query={"from": "s1"}), 400,
                 ["M_MISSING_PARAM"])
    assert_error(dev.user.call("GET", "keys/changes", query={"from": "x", "to": "s1"}), 400,
                 ["M_INVALID_PARAM"])


# ---- cross-signing ------------------------------------------------------------

class CrossSigning:
    """A user's master, self-signing and user-signing keys (olm.PkSigning)."""

    def __init__(self, user):
        self.user = user
        self.seeds = {u: olm.PkSigning.generate_seed() for u in
                      ("master", "self_signing", "user_signing")}
        self.signers = {u: olm.PkSigning(s) for u, s in self.seeds.items()}

    def pub(self, usage):
        return self.signers[usage].public_key

    def sign_with(self, usage, obj):
        clean = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
        sig = self.signers[usage].sign(encode_canonical_json(clean).decode())
        obj.setdefault("signatures", {}).setdefault(self.user.user_id, {})[
            f"ed25519:{self.pub(usage)}"] = sig
        return obj

    def key(self, usage, signed_by_master=True):
        k = {"user_id": self.user.user_id, "usage": [usage],
             "keys": {f"ed25519:{self.pub(usage)}": self.pub(usage)}}
        if usage != "master" and signed_by_master:
            self.sign_with("master", k)
        return k

    def body(self):
        return {"master_key": self.key("master"),
                "self_signing_key": self.key("self_signing"),
                "user_signing_key": self.key("user_signing")}


def test_cross_signing_upload_and_replace(server):
    dev = _new_device(server)
    cs = CrossSigning(dev.user)
    # the first upload needs no UIA
    r = dev.user.call("POST", "keys/device_signing/upload", cs.body())
    assert r.status == 200, r
    got = _query(dev.user, [dev.user.user_id])
    assert got["master_keys"][dev.user.user_id]["keys"] == cs.key("master")["keys"]
    assert dev.user.user_id in got["self_signing_keys"]
    assert dev.user.user_id in got["user_signing_keys"]
    # re-uploading the same keys is harmless
    assert dev.user.call("POST", "keys/device_signing/upload", cs.body()).status == 200
    # replacing them needs the password (UIA)
    cs2 = CrossSigning(dev.user)
    r = server.uia("POST", "keys/device_signing/upload", cs2.body(), dev.user.token,
                   dev.user.user_id)
    assert r.status == 200, r
    got = _query(dev.user, [dev.user.user_id])
    assert got["master_keys"][dev.user.user_id]["keys"] == cs2.key("master")["keys"]


def test_cross_signing_subkey_must_be_signed_by_master(server):
    dev = _new_device(server)
    cs = CrossSigning(dev.user)
    body = cs.body()
    body["self_signing_key"] = cs.key("self_signing", signed_by_master=False)
    r = dev.user.call("POST", "keys/device_signing/upload", body)
    assert_error(r, 400, ["M_INVALID_SIGNATURE"])
    # "keys ... must have exactly one property"
    body = cs.body()
    body["master_key"]["keys"]["ed25519:other"] = "other"
    assert_error(dev.user.call("POST", "keys/device_signing/upload", body), 400,
                 ["M_INVALID_PARAM"])


def test_user_signing_keys_only_for_self(server):
    alice, bob = _new_device(server), _new_device(server)
    _shared_room(alice.user, bob.user)
    cs = CrossSigning(alice.user)
    assert alice.user.call("POST", "keys/device_signing/upload", cs.body()).status == 200
    got = _query(bob.user, [alice.user.user_id])
    assert alice.user.user_id in got["master_keys"]
    assert alice.user.user_id in got["self_signing_keys"]
    # "user_signing_keys: ... only the requesting user's own"
    assert alice.user.user_id not in got["user_signing_keys"]


def test_signatures_upload(server):
    alice, bob, carol = _new_device(server), _new_device(server), _new_device(server)
    room = _shared_room(alice.user, bob.user)
    alice.user.invite(room, carol.user.user_id)
    carol.user.join(room)
    acs, bcs = CrossSigning(alice.user), CrossSigning(bob.user)
    assert alice.user.call("POST", "keys/device_signing/upload", acs.body()).status == 200
    assert bob.user.call("POST", "keys/device_signing/upload", bcs.body()).status == 200
    # Alice signs her device with her self-signing key
    signed_dev = acs.sign_with("self_signing", alice.device_keys())
    # Bob signs Alice's master key with his user-signing key
    amk = _query(bob.user, [alice.user.user_id])["master_keys"][alice.user.user_id]
    signed_mk = bcs.sign_with("user_signing", dict(amk))
    # and a forged one: Alice's device "signed" by Bob's self-signing key
    forged = bcs.sign_with("self_signing", alice.device_keys())
    r = alice.user.call("POST", "keys/signatures/upload",
                        {alice.user.user_id: {alice.user.device_id: signed_dev}})
    assert r.status == 200 and r.json["failures"] == {}, r
    r = bob.user.call("POST", "keys/signatures/upload",
                      {alice.user.user_id: {acs.pub("master"): signed_mk}})
    assert r.status == 200 and r.json["failures"] == {}, r
    r = bob.user.call("POST", "keys/signatures/upload",
                      {bob.user.user_id: {"NOSUCHDEV": forged}})
    assert r.json["failures"][bob.user.user_id]["NOSUCHDEV"]["errcode"] == "M_NOT_FOUND"
    r = alice.user.call("POST", "keys/signatures/upload",
                        {alice.user.user_id: {alice.user.device_id: {
                            **alice.device_keys(),
                            "signatures": {alice.user.user_id: {
                                f"ed25519:{acs.pub('self_signing')}": "AAAA"}}}}})
    assert (r.json["failures"][alice.user.user_id][alice.user.device_id]["errcode"]
            == "M_INVALID_SIGNATURE")
    # Alice's master key signed by her device ("master ... signed by the
    # device" is how a new device vouches for the identity)
    signed_own = alice.sign(dict(amk))
    r = alice.user.call("POST", "keys/signatures/upload",
                        {alice.user.user_id: {acs.pub("master"): signed_own}})
    assert r.status == 200 and r.json["failures"] == {}, r
    mine = _query(alice.user, [alice.user.user_id])["master_keys"][alice.user.user_id]
    assert f"ed25519:{alice.user.device_id}" in mine["signatures"][alice.user.user_id]
    # the device signature is served to everyone sharing a room
    got = _query(carol.user, [alice.user.user_id])
    sigs = got["device_keys"][alice.user.user_id][alice.user.device_id]["signatures"]
    assert f"ed25519:{acs.pub('self_signing')}" in sigs[alice.user.user_id]
    # Bob's signature of Alice's master key: Bob sees it, Carol does not
    bob_view = _query(bob.user, [alice.user.user_id])["master_keys"][alice.user.user_id]
    assert bob.user.user_id in bob_view.get("signatures", {})
    carol_view = _query(carol.user, [alice.user.user_id])["master_keys"][alice.user.user_id]
    assert bob.user.user_id not in carol_view.get("signatures", {})


# ---- m.room.encryption ----------------------------------------------------------

def test_room_encryption_cannot_be_turned_off(server):
    alice = MatrixUser(server)
    room = alice.create_room(initial_state=[{
        "type": "m.room.encryption", "state_key": "",
        "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    # another algorithm, or no algorithm: refused
    assert_error(alice.put_state(room, "m.room.encryption", {"algorithm": "m.none"}), 403,
                 ["M_FORBIDDEN"])
    assert_error(alice.put_state(room, "m.room.encryption", {}), 403, ["M_FORBIDDEN"])
    # the same algorithm (other parameters) is fine
    r = alice.put_state(room, "m.room.encryption",
                        {"algorithm": "m.megolm.v1.aes-sha2", "rotation_period_msgs": 50})
    assert r.status == 200, r
    # redacting it would strip the algorithm
    r = alice.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(r.json['event_id'])}/t1",
                   {})
    assert_error(r, 403, ["M_FORBIDDEN"])
    st = alice.call("GET", f"rooms/{room_path(room)}/state/m.room.encryption")
    assert st.json["algorithm"] == "m.megolm.v1.aes-sha2"


# ---- a real client: matrix-nio with olm ---------------------------------------

def test_nio_encrypted_conversation(server, tmp_path):
    """modules/end_to_end_encryption.md as a client library runs it: both
    upload keys, query each other's devices once they share an encrypted
    room, claim one-time keys to open olm sessions, send the megolm room key
    over to-device messages, and each decrypts the other's messages."""
    nio = pytest.importorskip("nio")
    import asyncio
    from chappe_e2e import PASSWORD, unique_name

    async def make(tag):
        name = unique_name(tag)
        store = tmp_path / name
        store.mkdir()
        config = nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                       request_timeout=30, encryption_enabled=True,
                                       store_sync_tokens=False)
        c = nio.AsyncClient(server.url, name, store_path=str(store), config=config)
        r = await c.register(name, PASSWORD, device_name=tag)
        assert isinstance(r, nio.RegisterResponse), r
        r = await c.keys_upload()
        assert isinstance(r, nio.KeysUploadResponse), r
        # "one_time_key_counts" reflects what was just uploaded
        assert r.signed_curve25519_count > 0
        return c

    async def decrypted_bodies(client, room_id, rounds=6):
        bodies = []
        for _ in range(rounds):
            resp = await client.sync(timeout=500)
            assert isinstance(resp, nio.SyncResponse), resp
            room = resp.rooms.join.get(room_id)
            for ev in (room.timeline.events if room else []):
                if isinstance(ev, nio.RoomMessageText):
                    bodies.append(ev.body)
                elif isinstance(ev, nio.MegolmEvent):
                    bodies.append(None)   # could not decrypt
            if bodies and None not in bodies:
                break
        return bodies

    async def send(client, room_id, body):
        r = await client.room_send(room_id, "m.room.message",
                                   {"msgtype": "m.text", "body": body},
                                   ignore_unverified_devices=True)
        assert isinstance(r, nio.RoomSendResponse), r

    async def scenario():
        alice, bob = await make("alice"), await make("bob")
        try:
            r = await alice.room_create(initial_state=[{
                "type": "m.room.encryption", "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
            assert isinstance(r, nio.RoomCreateResponse), r
            room_id = r.room_id
            assert isinstance(await alice.room_invite(room_id, bob.user_id),
                              nio.RoomInviteResponse)
            await bob.sync(timeout=0)
            assert isinstance(await bob.join(room_id), nio.JoinResponse)
            await alice.sync(timeout=0)
            await bob.sync(timeout=0)
            await send(alice, room_id, "hello bob, secretly")
            # the room event on the wire is encrypted
            got_bob = await decrypted_bodies(bob, room_id)
            await send(bob, room_id, "hello alice, secretly")
            got_alice = await decrypted_bodies(alice, room_id)
            # what the server stored and serves is ciphertext only
            raw = MatrixUser(server, token=alice.access_token, user_id=alice.user_id)
            events = raw.messages(room_id).json["chunk"]
            types = [e["type"] for e in events]
            assert types.count("m.room.encrypted") == 2, types
            assert "m.room.message" not in types
            assert "secretly" not in json.dumps(events)
            return got_bob, got_alice
        finally:
            await alice.close()
            await bob.close()

    got_bob, got_alice = asyncio.run(scenario())
    assert "hello bob, secretly" in got_bob, got_bob
    assert "hello alice, secretly" in got_alice, got_alice


def test_long_poll_woken_by_co_member_logout(server):
    """A device that goes is a device-list change: a parked /sync of a user
    sharing a room learns it at once, not at its timeout."""
    alice, bob = _new_device(server), _new_device(server)
    _shared_room(alice.user, bob.user)
    since = bob.user.sync()["next_batch"]
    since = bob.user.sync(since=since)["next_batch"]
    out = {}
    t = threading.Thread(target=lambda: out.update(
        bob.user.sync(since=since, timeout=20000)))
    start = time.monotonic()
    t.start()
    time.sleep(0.5)
    assert alice.user.call("POST", "logout", {}).status == 200
    t.join(30)
    assert time.monotonic() - start < 10
    assert alice.user.user_id in out["device_lists"]["changed"]


def test_hostile_key_requests(server):
    """Every input is bounded and type-checked: malformed bodies are 400,
    never a crash or a half-written upload."""
    dev = _new_device(server)
    call = dev.user.call
    assert_error(call("POST", "keys/upload", {"one_time_keys": []}), 400, ["M_BAD_JSON"])
    too_many = {**dev.one_time_keys(100), **dev.one_time_keys(100), **dev.one_time_keys(1)}
    assert len(too_many) == 201
    assert_error(dev.upload(one_time_keys=too_many), 400, ["M_INVALID_PARAM"])
    assert dev.upload().json["one_time_key_counts"]["signed_curve25519"] == 0
    two = dev.one_time_keys(2, fallback=True)
    assert_error(dev.upload(fallback_keys=two), 400, ["M_INVALID_PARAM"])
    assert_error(call("POST", "keys/query", {"device_keys": []}), 400, ["M_BAD_JSON"])
    assert_error(call("POST", "keys/query", {"device_keys": {dev.user.user_id: "x"}}), 400,
                 ["M_BAD_JSON"])
    many = {f"@u{i}:example.org": [] for i in range(1001)}
    assert_error(call("POST", "keys/query", {"device_keys": many}), 400, ["M_INVALID_PARAM"])
    assert_error(call("POST", "keys/claim", {"one_time_keys": []}), 400, ["M_BAD_JSON"])
    assert_error(call("POST", "keys/claim", {"one_time_keys": {dev.user.user_id: {"D": 1}}}),
                 400, ["M_BAD_JSON"])
    # other servers' users: no federation yet, nothing and no failure
    r = call("POST", "keys/query", {"device_keys": {"@x:elsewhere.example": []}})
    assert r.status == 200 and r.json["device_keys"] == {} and r.json["failures"] == {}
    r = call("POST", "keys/signatures/upload", {"not a user": {"K": {}}, "@a:b": {"K": 3}})
    assert r.status == 200
    assert set(r.json["failures"]) == {"not a user", "@a:b"}
    assert_error(call("POST", "keys/device_signing/upload", {}), 400, ["M_MISSING_PARAM"])
    assert_error(call("POST", "keys/device_signing/upload", {"master_key": "x"}), 400,
                 ["M_INVALID_PARAM"])


def test_keys_survive_sigkill(make_server):
    """STYLE.md: "a crash-and-restart test proves that what was acknowledged
    survives": uploaded keys, a claim (never handed out again), cross-signing
    keys and the device-list position all survive SIGKILL."""
    srv = make_server()
    alice, bob = _new_device(srv), _new_device(srv)
    _shared_room(alice.user, bob.user)
    otks = alice.one_time_keys(3)
    assert alice.upload(one_time_keys=otks).status == 200
    cs = CrossSigning(alice.user)
    assert alice.user.call("POST", "keys/device_signing/upload", cs.body()).status == 200
    q = {"one_time_keys": {alice.user.user_id: {alice.user.device_id: "signed_curve25519"}}}
    first = bob.user.call("POST", "keys/claim", q).json["one_time_keys"]
    first_id, = first[alice.user.user_id][alice.user.device_id]
    since = bob.user.sync()["next_batch"]

    srv.kill()
    srv.start()
    bob_again = MatrixUser(srv, token=srv.login(bob.user.name)["access_token"],
                           user_id=bob.user.user_id)
    got = _query(bob_again, [alice.user.user_id])
    assert got["device_keys"][alice.user.user_id][alice.user.device_id]["keys"] == \
        alice.device_keys()["keys"]
    assert got["master_keys"][alice.user.user_id]["keys"] == cs.key("master")["keys"]
    rest = set()
    for _ in range(3):
        r = bob_again.call("POST", "keys/claim", q).json["one_time_keys"]
        rest.update(r.get(alice.user.user_id, {}).get(alice.user.device_id, {}))
    assert rest == set(otks) - {first_id}
    # a token from before the crash continues the device-list stream
    assert bob_again.sync(since=since)["next_batch"]


def test_invitees_share_nothing_with_each_other(server):
    """Sharing a room needs one of the two to be joined: an inviter sees
    whom they invited (clients share room keys with invitees), but two
    strangers invited to one room see nothing of each other."""
    mallory, alice, carol = _new_device(server), _new_device(server), _new_device(server)
    room = mallory.user.create_room()
    mallory.user.invite(room, alice.user.user_id)
    mallory.user.invite(room, carol.user.user_id)
    assert list(_query(mallory.user, [alice.user.user_id])["device_keys"][
        alice.user.user_id]) == [alice.user.device_id]
    assert _query(carol.user, [alice.user.user_id])["device_keys"][alice.user.user_id] == {}
    # the invitee sees the joined members of the room she is invited to
    assert list(_query(alice.user, [mallory.user.user_id])["device_keys"][
        mallory.user.user_id]) == [mallory.user.device_id]


def test_racing_first_cross_signing_uploads(server):
    """Only the very first upload goes without UIA: of eight racing "first"
    uploads of different keys, one wins and the others must authenticate."""
    dev = _new_device(server)
    bodies = [CrossSigning(dev.user).body() for _ in range(8)]
    results = [None] * 8

    def upload(i):
        results[i] = dev.user.call("POST", "keys/device_signing/upload", bodies[i])

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in enumerate(results) if r.status == 200]
    assert len(winners) == 1, [r.status for r in results]
    assert all(r.status == 401 and "flows" in r.json for r in results if r.status != 200)
    got = _query(dev.user, [dev.user.user_id])["master_keys"][dev.user.user_id]
    assert got["keys"] == bodies[winners[0]]["master_key"]["keys"]
