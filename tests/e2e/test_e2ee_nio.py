"""End-to-end encryption as real clients run it: matrix-nio 0.20 with
python3-olm (Client-Server API v1.19, modules/end_to_end_encryption.md and
modules/send_to_device.md).

The server only carries keys and to-device messages; if it loses, repeats,
mixes up or alters one, a client fails to decrypt. So each test asserts the
decrypted plaintext the clients end up with, plus the wire facts the spec
puts on the server (ciphertext only in rooms, one-time keys handed out once,
device-list changes, to-device delivery exactly once).

Client behaviour that needs a hand here (nio 0.20, not server bugs):
- nio's sync() alone never uploads, queries or claims keys (sync_forever
  does); `tick()` does what sync_forever does after each sync.
- nio encrypts only to verified devices unless room_send gets
  ignore_unverified_devices=True.
- nio has no fallback-key and no key-backup support: the fallback key is
  made on nio's own olm account and uploaded with raw HTTP; the backup is
  built with python3-olm (PkEncryption) from nio's inbound group sessions
  and restored into a new nio device's session store.
- nio's first keys_upload always sends max_one_time_keys/2 one-time keys;
  to upload only a few, the device keys and those keys are made on nio's
  own olm account, uploaded with raw HTTP, and nio is told they are
  published.
- nio drops to-device events of types it does not know; the raw /sync body
  (kept by aiohttp after nio parsed it) is read to count them.

The helpers (new_user, new_device, tick, read_until, send, encrypted_room,
...) are also used by test_e2ee_restart.py and by the nio peer that
tests/js/test_e2ee.test.mjs runs: keep their signatures.
"""

import asyncio
import json

import pytest

nio = pytest.importorskip("nio")
olm = pytest.importorskip("olm")
Olm = pytest.importorskip("nio.crypto").Olm

from chappe_e2e import PASSWORD, MatrixUser, room_path, unique_name

MEGOLM = "m.megolm.v1.aes-sha2"
OLM = "m.olm.v1.curve25519-aes-sha2"
BACKUP_ALGO = "m.megolm_backup.v1.curve25519-aes-sha2"
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "",
                    "content": {"algorithm": MEGOLM}}


def run(coro):
    return asyncio.run(coro)


def canonical(obj):
    """Canonical JSON (appendices.md "Canonical JSON") of an ASCII object."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signed_part(obj):
    """What a signature covers: "the signatures and unsigned properties are
    removed" (appendices.md, "Signing JSON")."""
    return canonical({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


def nio_config(store_sync_tokens=False):
    # No retries: a 429 or a dead server must surface, not be waited out.
    return nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, request_timeout=30,
                                 encryption_enabled=True,
                                 store_sync_tokens=store_sync_tokens)


def store_dir(tmp_path, tag):
    path = tmp_path / f"store_{tag}_{unique_name('s')}"
    path.mkdir()
    return str(path)


async def new_user(server, tmp_path, prefix, *, otks=None):
    """Register a fresh account with an encrypting nio client and upload its
    keys. otks: upload only that many one-time keys (nio's keys_upload
    always makes max_one_time_keys/2 on the first upload)."""
    name = unique_name(prefix)
    client = nio.AsyncClient(server.url, name, store_path=store_dir(tmp_path, name),
                             config=nio_config())
    r = await client.register(name, PASSWORD, device_name=prefix)
    assert isinstance(r, nio.RegisterResponse), r
    if otks is None:
        r = await client.keys_upload()
        assert isinstance(r, nio.KeysUploadResponse), r
    else:
        upload_few_keys(server, client, otks)
    return client


def sign(client, obj):
    """obj with the device's signature added ("Signing JSON")."""
    sig = client.olm.account.sign(signed_part(obj))
    return {**obj, "signatures": {client.user_id: {f"ed25519:{client.device_id}": sig}}}


def upload_few_keys(server, client, count):
    """What nio's first keys_upload does, with `count` one-time keys: the
    device keys ("DeviceKeys", signed) and signed_curve25519 keys made on
    nio's own olm account, which is then told they are published."""
    account = client.olm.account
    device_keys = sign(client, {
        "user_id": client.user_id, "device_id": client.device_id,
        "algorithms": [OLM, MEGOLM],
        "keys": {f"{alg}:{client.device_id}": key
                 for alg, key in account.identity_keys.items()}})
    account.generate_one_time_keys(count)
    otks = {f"signed_curve25519:{key_id}": sign(client, {"key": key})
            for key_id, key in account.one_time_keys["curve25519"].items()}
    r = raw(server, client).call("POST", "keys/upload",
                                 {"device_keys": device_keys, "one_time_keys": otks})
    assert r.status == 200 and r.json["one_time_key_counts"]["signed_curve25519"] == count, r
    account.mark_keys_as_published()
    account.shared = True
    client.olm.uploaded_key_count = count
    client.olm.save_account()


async def new_device(server, tmp_path, user_id, device_name):
    """Another device of an existing account: a fresh store, a password login."""
    client = nio.AsyncClient(server.url, user_id, store_path=store_dir(tmp_path, device_name),
                             config=nio_config())
    r = await client.login(PASSWORD, device_name=device_name)
    assert isinstance(r, nio.LoginResponse), r
    r = await client.keys_upload()
    assert isinstance(r, nio.KeysUploadResponse), r
    return client


async def tick(client, *, timeout=100, upload=True):
    """One /sync, then the key upkeep nio's sync_forever would do."""
    resp = await client.sync(timeout=timeout)
    assert isinstance(resp, nio.SyncResponse), resp
    if upload and client.should_upload_keys:
        assert isinstance(await client.keys_upload(), nio.KeysUploadResponse)
    if client.should_query_keys:
        assert isinstance(await client.keys_query(), nio.KeysQueryResponse)
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    return resp


def timeline(resp, room_id):
    room = resp.rooms.join.get(room_id)
    return room.timeline.events if room else []


def decrypted(events):
    """(bodies decrypted, count of events nio could not decrypt)."""
    bodies = [e.body for e in events if isinstance(e, nio.RoomMessageText)]
    return bodies, sum(isinstance(e, nio.MegolmEvent) for e in events)


async def read_until(client, room_id, want, rounds=12, upload=True):
    """Sync until every body in want was decrypted in room_id's timeline.
    Returns (bodies decrypted, number of undecryptable events seen)."""
    bodies, failed = [], 0
    for _ in range(rounds):
        got, bad = decrypted(timeline(await tick(client, upload=upload), room_id))
        bodies += got
        failed += bad
        if all(w in bodies for w in want):
            break
    return bodies, failed


async def send(client, room_id, body):
    r = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                               ignore_unverified_devices=True)
    assert isinstance(r, nio.RoomSendResponse), r
    return r.event_id


async def encrypted_room(owner, *members, upload=True):
    """owner creates an encrypted private room; members join; everybody has
    synced the joins, so owner's first send shares the key with all.
    upload=False: the members upload no new one-time keys meanwhile."""
    r = await owner.room_create(initial_state=[ENCRYPTION_STATE],
                                invite=[m.user_id for m in members])
    assert isinstance(r, nio.RoomCreateResponse), r
    for m in members:
        await tick(m, upload=upload)
        assert isinstance(await m.join(r.room_id), nio.JoinResponse)
    await tick(owner)
    for m in members:
        await tick(m, upload=upload)
    assert owner.rooms[r.room_id].encrypted
    return r.room_id


async def close_all(*clients):
    for c in clients:
        await c.close()


def raw(server, client):
    return MatrixUser(server, token=client.access_token, user_id=client.user_id)


def ed25519_of(client):
    return client.olm.account.identity_keys["ed25519"]


def curve25519_of(client):
    return client.olm.account.identity_keys["curve25519"]


# ---- Alice and Bob --------------------------------------------------------------

def test_alice_and_bob_exchange_encrypted_messages(server, tmp_path):
    """"Sharing keys between devices"/m.megolm.v1.aes-sha2: the sender
    claims a one-time key of each recipient device, sends the room key
    over an Olm-encrypted to-device message, then the room event is
    encrypted. Both sides decrypt every message, in order, and each
    decrypted event names the sender's real Curve25519 key; the server
    stores and serves ciphertext only."""

    async def go():
        alice = await new_user(server, tmp_path, "alice")
        bob = await new_user(server, tmp_path, "bob")
        try:
            room = await encrypted_room(alice, bob)
            bob_otks = (await tick(bob, upload=False)).device_key_count.signed_curve25519
            sent = []
            for i in range(3):
                sent.append(f"alice to bob {i}")
                await send(alice, room, sent[-1])
                sent.append(f"bob to alice {i}")
                await send(bob, room, sent[-1])
            # bob uploads no new one-time keys until they are counted below
            got_bob, failed_bob = await read_until(bob, room, sent[0::2], upload=False)
            got_alice, failed_alice = await read_until(alice, room, sent[1::2])
            assert (failed_bob, failed_alice) == (0, 0)
            # each sees all six, the other's decrypted and its own echo
            assert [b for b in got_bob if b in sent[0::2]] == sent[0::2]
            assert [b for b in got_alice if b in sent[1::2]] == sent[1::2]

            # alice's send claimed exactly one of bob's one-time keys
            # ("Servers must ensure that each one-time key is only claimed once")
            after = (await tick(bob, upload=False)).device_key_count.signed_curve25519
            assert after == bob_otks - 1, (bob_otks, after)

            # the server keeps ciphertext only (Room event: m.room.encrypted)
            events = raw(server, alice).messages(room, limit=50).json["chunk"]
            enc = [e for e in events if e["type"] == "m.room.encrypted"]
            assert len(enc) == 6 and "m.room.message" not in [e["type"] for e in events]
            assert all(e["content"]["algorithm"] == MEGOLM for e in enc)
            assert "alice to bob" not in json.dumps(events)
            by_sender = {e["sender"]: e["content"]["sender_key"] for e in enc}
            assert by_sender == {alice.user_id: curve25519_of(alice),
                                 bob.user_id: curve25519_of(bob)}
        finally:
            await close_all(alice, bob)

    run(go())


def test_second_device_decrypts_messages_sent_after_login(server, tmp_path):
    """"Tracking the device list for a user": a new device of Bob appears
    in Alice's /sync device_lists.changed; Alice queries it, shares a new
    room key with both of Bob's devices, and the new device decrypts what
    is sent after it signed in (the earlier history it has no key for).
    Then the new device sends, and Alice and Bob's first device decrypt."""

    async def go():
        alice = await new_user(server, tmp_path, "alice")
        bob = await new_user(server, tmp_path, "bob")
        bob2 = None
        try:
            room = await encrypted_room(alice, bob)
            await send(alice, room, "before the second device")
            assert (await read_until(bob, room, ["before the second device"]))[0]

            bob2 = await new_device(server, tmp_path, bob.user_id, "bob-laptop")
            assert bob2.device_id != bob.device_id
            resp = await tick(alice)
            assert bob.user_id in resp.device_list.changed, resp.device_list
            assert bob2.device_id in alice.device_store[bob.user_id], \
                list(alice.device_store[bob.user_id])
            # the keys alice got for bob2 are the ones bob2 holds
            assert alice.device_store[bob.user_id][bob2.device_id].ed25519 == ed25519_of(bob2)
            await tick(bob2)

            await send(alice, room, "after the second device")
            got2, _ = await read_until(bob2, room, ["after the second device"])
            got1, failed1 = await read_until(bob, room, ["after the second device"])
            assert "after the second device" in got2, got2
            assert "after the second device" in got1 and failed1 == 0, got1
            # the new device was never given the old key: not a replay
            assert "before the second device" not in got2

            await tick(bob)       # bob learns about his own new device
            await send(bob2, room, "from the laptop")
            got_a, failed_a = await read_until(alice, room, ["from the laptop"])
            got_b, failed_b = await read_until(bob, room, ["from the laptop"])
            assert "from the laptop" in got_a and failed_a == 0, got_a
            assert "from the laptop" in got_b and failed_b == 0, got_b
        finally:
            await close_all(*[c for c in (alice, bob, bob2) if c is not None])

    run(go())


def test_offline_device_gets_queued_to_device_messages_once(server, tmp_path):
    """send_to_device.md: "A message is delivered exactly once to each
    client device"; "Servers should store pending messages for local users
    until they are successfully delivered", "in order of arrival", and "If
    there is a large queue ... the server should limit the number sent in
    each /sync response". Bob's device stops syncing while Alice rotates
    the room key three times (three Olm to-device messages) and sends 120
    plain to-device messages; when Bob comes back he gets each exactly once,
    in order, and decrypts all three room messages."""

    async def go():
        alice = await new_user(server, tmp_path, "alice")
        bob = await new_user(server, tmp_path, "bob")
        try:
            room = await encrypted_room(alice, bob)
            await send(alice, room, "while online")
            assert "while online" in (await read_until(bob, room, ["while online"]))[0]

            # bob goes offline; alice rotates the megolm session per message
            sent = []
            for i in range(3):
                alice.invalidate_outbound_session(room)
                sent.append(f"while offline {i}")
                await send(alice, room, sent[-1])
            for i in range(120):
                msg = nio.ToDeviceMessage("m.chappe.test", bob.user_id, bob.device_id,
                                          {"seq": i})
                r = await alice.to_device(msg, tx_id=f"queued-{i}")
                assert isinstance(r, nio.ToDeviceResponse), r
            # a retried transaction is not a new message (idempotent txnId)
            msg = nio.ToDeviceMessage("m.chappe.test", bob.user_id, bob.device_id, {"seq": 0})
            assert isinstance(await alice.to_device(msg, tx_id="queued-0"), nio.ToDeviceResponse)
            for _ in range(3):
                await tick(alice)
            await asyncio.sleep(2)   # "for a while"

            seqs, olm_events, bodies, failed, per_sync = [], 0, [], 0, []
            for _ in range(12):
                resp = await tick(bob)
                # nio drops to-device types it does not know: read the
                # raw body too (aiohttp keeps it after nio parsed it)
                wire = (await resp.transport_response.json()).get("to_device", {})
                per_sync.append(len(wire.get("events", [])))
                seqs += [e["content"]["seq"] for e in wire.get("events", [])
                         if e["type"] == "m.chappe.test"]
                for ev in resp.to_device_events:
                    if isinstance(ev, nio.RoomKeyEvent):
                        olm_events += 1
                        assert ev.sender == alice.user_id
                        assert ev.session_id  # a megolm key
                got, bad = decrypted(timeline(resp, room))
                bodies += got
                failed += bad
                if len(seqs) >= 120 and all(s in bodies for s in sent) and per_sync[-1] == 0:
                    break
            assert seqs == list(range(120)), seqs
            assert olm_events == 3
            assert [b for b in bodies if b in sent] == sent and failed == 0, bodies
            # the queue came in bounded pieces, then ran dry
            assert max(per_sync) <= 100 and per_sync[-1] == 0, per_sync
        finally:
            await close_all(alice, bob)

    run(go())


# ---- one-time keys run out --------------------------------------------------------

def claim_one(user, target):
    r = user.call("POST", "keys/claim", {"one_time_keys": {
        target.user_id: {target.device_id: "signed_curve25519"}}})
    assert r.status == 200, r
    keys = r.json["one_time_keys"].get(target.user_id, {}).get(target.device_id, {})
    assert len(keys) <= 1, r
    return next(iter(keys.items()), (None, None))


def upload_fallback_key(server, client):
    """Make a fallback key on nio's own olm account, sign it with the
    device's Ed25519 key and upload it ("fallback_keys" of /keys/upload,
    "KeyObject" with "fallback": true)."""
    account = client.olm.account
    account.generate_fallback_key()
    (key_id, key), = account.fallback_key["curve25519"].items()
    obj = sign(client, {"key": key, "fallback": True})
    r = raw(server, client).call("POST", "keys/upload",
                                 {"fallback_keys": {f"signed_curve25519:{key_id}": obj}})
    assert r.status == 200, r
    account.mark_keys_as_published()
    client.olm.save_account()
    return f"signed_curve25519:{key_id}", key


def unused_fallback_types(server, client):
    # an initial sync (no since) acknowledges no to-device message
    r = raw(server, client).call("GET", "sync", query={"timeout": "0", "filter": json.dumps(
        {"room": {"rooms": []}, "presence": {"types": []}, "account_data": {"types": []}})})
    assert r.status == 200, r
    return r.json.get("device_unused_fallback_key_types")


def test_one_time_keys_run_out_and_fallback_key_is_used(server, tmp_path):
    """"One-time and fallback keys": one-time keys are "only claimed once";
    "If a fallback key has been uploaded, it will be returned by the server
    when the device has run out of one-time keys", and /sync's
    device_unused_fallback_key_types drops it once used. Bob uploads three
    one-time keys and a fallback key; Carol claims all; Alice's nio then
    opens an Olm session on the fallback key and Bob decrypts."""

    async def go():
        alice = await new_user(server, tmp_path, "alice")
        bob = await new_user(server, tmp_path, "bob", otks=3)
        try:
            fb_id, fb_key = upload_fallback_key(server, bob)
            assert unused_fallback_types(server, bob) == ["signed_curve25519"]
            carol = MatrixUser(server)
            shared = carol.create_room(invite=[bob.user_id])
            await tick(bob, upload=False)
            assert isinstance(await bob.join(shared), nio.JoinResponse)

            claimed = [claim_one(carol, bob) for _ in range(3)]
            ids = [k for k, _ in claimed]
            assert len(set(ids)) == 3 and fb_id not in ids, ids
            for key_id, obj in claimed:
                assert "fallback" not in obj or obj["fallback"] is False, obj
                sig = obj["signatures"][bob.user_id][f"ed25519:{bob.device_id}"]
                olm.ed25519_verify(ed25519_of(bob), signed_part(obj), sig)
            # none left: the fallback key, as uploaded, and again (not consumed)
            for _ in range(2):
                key_id, obj = claim_one(carol, bob)
                assert key_id == fb_id and obj["key"] == fb_key and obj["fallback"] is True
            resp = await tick(bob, upload=False)
            assert resp.device_key_count.signed_curve25519 == 0
            assert unused_fallback_types(server, bob) == [], "a used fallback key is not unused"

            # bob's device stays unable to upload new keys (offline, in
            # the spec's words): it must be reached through its fallback key
            room = await encrypted_room(alice, bob, upload=False)
            claim = await alice.keys_claim(alice.get_missing_sessions(room))
            assert isinstance(claim, nio.KeysClaimResponse), claim
            assert claim.one_time_keys[bob.user_id][bob.device_id] == {fb_id: obj}
            await send(alice, room, "through the fallback key")
            got, failed = await read_until(bob, room, ["through the fallback key"],
                                           upload=False)
            assert got == ["through the fallback key"] and failed == 0, got
            # and back: bob's reply needs no key of alice's beyond her own OTKs
            await send(bob, room, "reply on a fallback session")
            got, failed = await read_until(alice, room, ["reply on a fallback session"])
            assert "reply on a fallback session" in got and failed == 0, got
        finally:
            await close_all(alice, bob)

    run(go())


# ---- server-side key backup ---------------------------------------------------------

def backup_session_data(public_key, session):
    """m.megolm_backup.v1.curve25519-aes-sha2: BackedUpSessionData JSON
    encrypted to the backup's public key."""
    plain = json.dumps({
        "algorithm": MEGOLM,
        "sender_key": session.sender_key,
        "sender_claimed_keys": {"ed25519": session.ed25519},
        "forwarding_curve25519_key_chain": session.forwarding_chain,
        "session_key": session.export_session(session.first_known_index),
    })
    msg = olm.PkEncryption(public_key).encrypt(plain)
    return {"first_message_index": session.first_known_index, "forwarded_count": 0,
            "is_verified": False,
            "session_data": {"ephemeral": msg.ephemeral_key, "ciphertext": msg.ciphertext,
                             "mac": msg.mac}}


async def create_backup(server, bob, backup_key):
    """Bob's device makes a backup version whose auth_data it signs, then
    uploads every inbound group session it has."""
    auth = sign(bob, {"public_key": backup_key.public_key})
    user = raw(server, bob)
    r = user.call("POST", "room_keys/version", {"algorithm": BACKUP_ALGO, "auth_data": auth})
    assert r.status == 200, r
    version = r.json["version"]
    rooms = {}
    for s in bob.olm.inbound_group_store:
        rooms.setdefault(s.room_id, {"sessions": {}})["sessions"][s.id] = \
            backup_session_data(backup_key.public_key, s)
    r = user.call("PUT", "room_keys/keys", {"rooms": rooms}, query={"version": version})
    assert r.status == 200, r
    return version, sum(len(v["sessions"]) for v in rooms.values()), r.json


async def restore_backup(server, device, backup_key, trusted_ed25519):
    """The new device finds the current backup, checks that a device it
    trusts signed its auth_data and that it matches the key the user
    entered, downloads every key and imports the sessions."""
    user = raw(server, device)
    info = user.call("GET", "room_keys/version").json
    assert info["algorithm"] == BACKUP_ALGO
    auth = info["auth_data"]
    assert auth["public_key"] == backup_key.public_key
    (key_id, sig), = auth["signatures"][device.user_id].items()
    olm.ed25519_verify(trusted_ed25519, signed_part(auth), sig)
    r = user.call("GET", "room_keys/keys", query={"version": info["version"]})
    assert r.status == 200, r
    imported = 0
    for room_id, room in r.json["rooms"].items():
        for session_id, data in room["sessions"].items():
            sd = data["session_data"]
            plain = json.loads(backup_key.decrypt(
                olm.PkMessage(sd["ephemeral"], sd["mac"], sd["ciphertext"])))
            session = Olm._import_group_session(
                plain["session_key"], plain["sender_claimed_keys"]["ed25519"],
                plain["sender_key"], room_id, plain["forwarding_curve25519_key_chain"])
            assert session is not None and session.id == session_id
            if device.olm.inbound_group_store.add(session):
                device.olm.save_inbound_group_session(session)
                imported += 1
    return info, imported


async def history(client, room_id, start):
    r = await client.room_messages(room_id, start, limit=50)
    assert isinstance(r, nio.RoomMessagesResponse), r
    return decrypted(list(reversed(r.chunk)))


def test_key_backup_restored_on_new_device_decrypts_history(server, tmp_path):
    """"Server-side key backups": "When a device tries to read a message
    that it does not have keys for, it may request the key from the server
    and decrypt it." Bob's phone backs up its room keys; a new device of
    Bob's cannot read the old history until it restores the backup, after
    which it decrypts every old message."""

    async def go():
        alice = await new_user(server, tmp_path, "alice")
        bob = await new_user(server, tmp_path, "bob")
        bob2 = None
        try:
            room = await encrypted_room(alice, bob)
            old = ["old secret one", "old secret two"]
            await send(alice, room, old[0])
            assert old[0] in (await read_until(bob, room, [old[0]]))[0]
            await send(bob, room, old[1])
            assert old[1] in (await read_until(alice, room, [old[1]]))[0]

            backup_key = olm.PkDecryption()
            version, n, put = await create_backup(server, bob, backup_key)
            assert n == 2 and put["count"] == 2, (n, put)

            bob2 = await new_device(server, tmp_path, bob.user_id, "bob-new")
            first = await tick(bob2)
            # before the restore: ciphertext it cannot read
            bodies, undecryptable = await history(bob2, room, first.next_batch)
            assert bodies == [] and undecryptable == 2, (bodies, undecryptable)

            info, imported = await restore_backup(server, bob2, backup_key, ed25519_of(bob))
            assert (info["version"], info["count"], imported) == (version, 2, 2)
            assert info["etag"] == put["etag"]
            bodies, undecryptable = await history(bob2, room, first.next_batch)
            assert bodies == old and undecryptable == 0, (bodies, undecryptable)

            # what the server holds is readable with the backup key only
            stored = raw(server, bob2).call("GET", "room_keys/keys",
                                            query={"version": version}).json
            for room_keys in stored["rooms"].values():
                for data in room_keys["sessions"].values():
                    sd = data["session_data"]
                    with pytest.raises(olm.PkDecryptionError):
                        olm.PkDecryption().decrypt(
                            olm.PkMessage(sd["ephemeral"], sd["mac"], sd["ciphertext"]))
        finally:
            await close_all(*[c for c in (alice, bob, bob2) if c is not None])

    run(go())


def test_encryption_stays_on_for_clients(server, tmp_path):
    """Issue 4, "m.room.encryption handling": once a room is encrypted it
    stays encrypted (the spec leaves this to clients, which keep encrypting
    once they saw the event; chappe also refuses the change, so a client
    that joins later never sees an unencrypted room). A member's attempt to
    drop or change the algorithm is refused and nio keeps encrypting."""

    async def go():
        alice = await new_user(server, tmp_path, "alice")
        bob = await new_user(server, tmp_path, "bob")
        try:
            room = await encrypted_room(alice, bob)
            user = raw(server, alice)
            r = user.put_state(room, "m.room.encryption", {})
            assert r.status in (400, 403), r
            r = user.put_state(room, "m.room.encryption", {"algorithm": "m.none"})
            assert r.status in (400, 403), r
            st = user.call("GET", f"rooms/{room_path(room)}/state/m.room.encryption")
            assert st.status == 200 and st.json["algorithm"] == MEGOLM, st
            await send(alice, room, "still secret")
            got, failed = await read_until(bob, room, ["still secret"])
            assert "still secret" in got and failed == 0
        finally:
            await close_all(alice, bob)

    run(go())


# ---- devices and members that go ------------------------------------------------------

def test_deleted_device_drops_out_of_key_sharing(server, tmp_path):
    """device_lists.changed: "List of users who have updated their device
    identity or cross-signing keys" - a deleted device is such a change. Alice's /sync names Bob in
    device_lists.changed, /keys/query no longer lists the deleted device and
    /keys/claim hands out none of its one-time keys, so Alice's next room
    key goes to Bob's remaining device only, which decrypts."""

    async def go():
        alice = await new_user(server, tmp_path, "alice")
        bob = await new_user(server, tmp_path, "bob")
        bob2 = await new_device(server, tmp_path, bob.user_id, "bob-old-phone")
        try:
            room = await encrypted_room(alice, bob)
            await tick(bob2)
            assert set(alice.device_store[bob.user_id]) >= {bob.device_id, bob2.device_id}
            gone = bob2.device_id
            r = raw(server, bob).call("DELETE", f"devices/{gone}", {})
            assert r.status == 401, r
            r = raw(server, bob).call("DELETE", f"devices/{gone}", {"auth": {
                "type": "m.login.password", "session": r.json.get("session"),
                "identifier": {"type": "m.id.user", "user": bob.user_id},
                "password": PASSWORD}})
            assert r.status == 200, r

            resp = await tick(alice)
            assert bob.user_id in resp.device_list.changed, resp.device_list
            q = raw(server, alice).call("POST", "keys/query",
                                        {"device_keys": {bob.user_id: []}}).json
            assert sorted(q["device_keys"][bob.user_id]) == [bob.device_id], q
            claim = raw(server, alice).call("POST", "keys/claim", {"one_time_keys": {
                bob.user_id: {gone: "signed_curve25519"}}})
            assert claim.status == 200, claim
            assert claim.json["one_time_keys"].get(bob.user_id, {}).get(gone) is None, claim
            assert alice.device_store[bob.user_id][gone].deleted

            await send(alice, room, "only for the phone bob kept")
            got, failed = await read_until(bob, room, ["only for the phone bob kept"])
            assert "only for the phone bob kept" in got and failed == 0, got
            # the deleted device's token is gone with it
            assert raw(server, bob2).call("GET", "sync").status == 401
        finally:
            await close_all(alice, bob, bob2)

    run(go())


def test_member_who_left_is_dropped_from_device_lists(server, tmp_path):
    """"Extensions to /sync", device_lists.left: "List of users with whom
    we do not share any encrypted rooms anymore since the previous sync
    response." Bob leaves the only room he shared with Alice: her /sync
    lists him in left (Carol, still there, is not), and the room key she
    makes afterwards is never sent to his device."""

    async def go():
        alice = await new_user(server, tmp_path, "alice")
        bob = await new_user(server, tmp_path, "bob")
        carol = await new_user(server, tmp_path, "carol")
        try:
            room = await encrypted_room(alice, bob, carol)
            await send(alice, room, "all three")
            for c in (bob, carol):
                assert "all three" in (await read_until(c, room, ["all three"]))[0]
            assert isinstance(await bob.room_leave(room), nio.RoomLeaveResponse)
            resp = await tick(alice)
            assert bob.user_id in resp.device_list.left, resp.device_list
            assert carol.user_id not in resp.device_list.left

            await send(alice, room, "after bob left")
            got, failed = await read_until(carol, room, ["after bob left"])
            assert "after bob left" in got and failed == 0, got
            for _ in range(3):
                resp = await tick(bob)
                keys = [e for e in resp.to_device_events if isinstance(e, nio.RoomKeyEvent)]
                assert keys == [], "a room key made after bob left reached him"
        finally:
            await close_all(alice, bob, carol)

    run(go())
