"""End-to-end encryption across a server restart, as matrix-nio 0.20 sees
it (send_to_device.md: "Servers should store pending messages for local
users until they are successfully delivered to the destination device";
end_to_end_encryption.md, "One-time and fallback keys").

The clients keep their nio stores (olm account, sessions, sync token) and
are reopened from them after the server was stopped with SIGTERM (exit
code 0 checked by the fixture) and started again: a room key and a plain
to-device message queued before the stop are delivered once after it, and
the device keys and one-time keys uploaded before it still let a new user
open Olm sessions.
"""

import asyncio

import pytest

nio = pytest.importorskip("nio")

from test_e2ee_nio import (curve25519_of, decrypted, ed25519_of, encrypted_room, new_user,
                           nio_config, read_until, send, tick, timeline)


def run(coro):
    return asyncio.run(coro)


def open_stored(server, session):
    """A nio client for a device from its store, as a client application
    opens it when it starts: session = (user_id, device_id, token, store)."""
    user_id, device_id, token, store_path = session
    client = nio.AsyncClient(server.url, user_id, device_id=device_id, store_path=store_path,
                             config=nio_config(store_sync_tokens=True))
    client.restore_login(user_id, device_id, token)
    assert client.olm is not None
    return client


def session_of(client):
    return client.user_id, client.device_id, client.access_token, client.store_path


async def reopen(server, client):
    """Close a nio client and open its device again from its store."""
    await client.close()
    again = open_stored(server, session_of(client))
    assert ed25519_of(again) == ed25519_of(client)
    return again


def test_to_device_messages_and_keys_survive_sigterm_restart(make_server, tmp_path):
    srv = make_server()

    async def go():
        alice = await new_user(srv, tmp_path, "alice")
        bob = await new_user(srv, tmp_path, "bob")
        carol = None
        try:
            room = await encrypted_room(alice, bob)
            await send(alice, room, "before the restart")
            assert "before the restart" in (await read_until(bob, room, ["before the restart"]))[0]
            # bob's client stops (its store keeps the sync token) ...
            bob = await reopen(srv, bob)
            before = (await tick(bob, upload=False)).device_key_count.signed_curve25519
            bob_since, bob_session = bob.next_batch, session_of(bob)
            await bob.close()
            # ... while alice sends a new room key and a plain message
            alice.invalidate_outbound_session(room)
            await send(alice, room, "queued across the restart")
            msg = nio.ToDeviceMessage("m.chappe.test", bob.user_id, bob.device_id, {"kept": 1})
            assert isinstance(await alice.to_device(msg, tx_id="kept-1"), nio.ToDeviceResponse)
            await alice.close()

            problems = srv.stop()
            assert problems == [], problems
            srv.start()

            alice = await reopen(srv, alice)
            bob = open_stored(srv, bob_session)
            # the token of bob's last sync: nothing since was acknowledged
            assert bob.loaded_sync_token == bob_since

            plain, keys, bodies, failed = [], 0, [], 0
            for _ in range(8):
                resp = await tick(bob, upload=False)
                wire = (await resp.transport_response.json()).get("to_device", {})
                plain += [e["content"] for e in wire.get("events", [])
                          if e["type"] == "m.chappe.test"]
                keys += sum(isinstance(e, nio.RoomKeyEvent) for e in resp.to_device_events)
                got, bad = decrypted(timeline(resp, room))
                bodies, failed = bodies + got, failed + bad
                if "queued across the restart" in bodies and plain and not wire.get("events"):
                    break
            assert plain == [{"kept": 1}], plain
            assert keys == 1
            assert "queued across the restart" in bodies and failed == 0, bodies
            # one-time keys: as many as before the stop
            after = (await tick(bob, upload=False)).device_key_count.signed_curve25519
            assert after == before, (before, after)

            # a newcomer after the restart queries the old devices' keys,
            # claims their one-time keys and talks to both
            carol = await new_user(srv, tmp_path, "carol")
            r = await alice.room_invite(room, carol.user_id)
            assert isinstance(r, nio.RoomInviteResponse), r
            await tick(carol)
            assert isinstance(await carol.join(room), nio.JoinResponse)
            await tick(carol)
            await tick(alice)
            await tick(bob, upload=False)
            for peer in (alice, bob):
                dev = carol.device_store[peer.user_id][peer.device_id]
                assert (dev.ed25519, dev.curve25519) == (ed25519_of(peer), curve25519_of(peer))
            await send(carol, room, "hello from after the restart")
            for peer in (alice, bob):
                got, bad = await read_until(peer, room, ["hello from after the restart"],
                                            upload=False)
                assert "hello from after the restart" in got and bad == 0, got
            # carol's send used one of bob's pre-restart one-time keys
            left = (await tick(bob, upload=False)).device_key_count.signed_curve25519
            assert left == before - 1, (before, left)
        finally:
            for c in (alice, bob, carol):
                if c is not None:
                    await c.close()

    run(go())
