"""Send-to-device messaging (modules/send_to_device.md, to_device.yaml):
queued per device, delivered by /sync, deleted once acknowledged by a later
sync, idempotent per transaction ID, never lost on restart."""
import secrets

from chappe_e2e import MatrixUser


def _send(user, messages, txn=None, event_type="m.test.ping"):
    txn = txn or secrets.token_hex(6)
    r = user.call("PUT", f"sendToDevice/{event_type}/{txn}", {"messages": messages})
    assert r.status == 200, r
    return txn


def _to_device(body):
    return body["to_device"]["events"]


def test_delivered_once_then_acknowledged(server):
    alice, bob = MatrixUser(server), MatrixUser(server)
    first = bob.sync()
    _send(alice, {bob.user_id: {bob.device_id: {"n": 1}}})
    got = bob.sync(since=first["next_batch"])
    # "The messages are received by the client in the to_device section of /sync"
    assert _to_device(got) == [{"sender": alice.user_id, "type": "m.test.ping",
                                "content": {"n": 1}}]
    # syncing with the new token acknowledges: never delivered again
    again = bob.sync(since=got["next_batch"])
    assert _to_device(again) == []
    # ...while a client that retries with the OLD token (it lost the
    # response) gets the message again: it was not acknowledged yet
    _send(alice, {bob.user_id: {bob.device_id: {"n": 2}}})
    lost = bob.sync(since=again["next_batch"])
    retry = bob.sync(since=again["next_batch"])
    assert [e["content"] for e in _to_device(lost)] == [{"n": 2}]
    assert [e["content"] for e in _to_device(retry)] == [{"n": 2}]


def test_txn_idempotent(server):
    alice, bob = MatrixUser(server), MatrixUser(server)
    first = bob.sync()
    txn = _send(alice, {bob.user_id: {bob.device_id: {"n": 1}}})
    _send(alice, {bob.user_id: {bob.device_id: {"n": 1}}}, txn=txn)
    got = bob.sync(since=first["next_batch"])
    assert len(_to_device(got)) == 1


def test_star_reaches_every_device(server):
    alice, bob = MatrixUser(server), MatrixUser(server)
    login = server.login(bob.user_id)
    bob2 = MatrixUser(server, token=login["access_token"], user_id=bob.user_id)
    s1, s2 = bob.sync(), bob2.sync()
    _send(alice, {bob.user_id: {"*": {"all": True}}})
    assert [e["content"] for e in _to_device(bob.sync(since=s1["next_batch"]))] == [{"all": True}]
    assert [e["content"] for e in _to_device(bob2.sync(since=s2["next_batch"]))] == [{"all": True}]


def test_long_poll_woken_by_to_device(server):
    import threading
    alice, bob = MatrixUser(server), MatrixUser(server)
    first = bob.sync()
    result = {}

    def poll():
        result["body"] = bob.sync(since=first["next_batch"], timeout=20000)

    t = threading.Thread(target=poll)
    t.start()
    _send(alice, {bob.user_id: {bob.device_id: {"wake": 1}}})
    t.join(25)
    assert not t.is_alive()
    assert [e["content"] for e in _to_device(result["body"])] == [{"wake": 1}]


def test_bad_requests(server):
    alice, bob = MatrixUser(server), MatrixUser(server)
    r = alice.call("PUT", "sendToDevice/m.x/t1", {"messages": "nope"})
    assert r.status == 400 and r.json["errcode"] == "M_BAD_JSON", r
    r = alice.call("PUT", "sendToDevice/m.x/t2", {"messages": {"not-a-user": {}}})
    assert r.status == 400, r
    big = {"blob": "x" * 70000}
    r = alice.call("PUT", "sendToDevice/m.x/t3", {"messages": {bob.user_id: {bob.device_id: big}}})
    assert r.status in (400, 413), r


def test_survives_restart(make_server):
    srv = make_server()
    alice, bob = MatrixUser(srv), MatrixUser(srv)
    first = bob.sync()
    _send(alice, {bob.user_id: {bob.device_id: {"kept": True}}})
    assert not srv.stop(), "clean stop"
    srv.start()
    got = bob.sync(since=first["next_batch"])
    assert [e["content"] for e in _to_device(got)] == [{"kept": True}]


def test_parked_sync_ends_at_logout(server):
    """A /sync parked on the notifier re-checks its token when woken: logging
    the device out ends it at once with 401 M_UNKNOWN_TOKEN, not at its
    timeout (logout.yaml: the token "can no longer be used")."""
    import threading
    import time
    bob = MatrixUser(server)
    first = bob.sync()
    result = {}

    def poll():
        query = {"since": first["next_batch"], "timeout": "20000"}
        started = time.monotonic()
        result["r"] = bob.call("GET", "sync", query=query, timeout=30)
        result["took"] = time.monotonic() - started

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    # log the same device out through a second connection
    r = bob.call("POST", "logout", {})
    assert r.status == 200, r
    t.join(25)
    assert not t.is_alive()
    assert result["r"].status == 401 and result["r"].json["errcode"] == "M_UNKNOWN_TOKEN", result
    assert result["took"] < 5, result
