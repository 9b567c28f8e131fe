"""Unread notification counts in /sync (client-server-api "Receiving
notifications": "unread_notifications: Counts of unread notifications for
this room", and push.md's default rules that decide what notifies and what
highlights)."""
from chappe_e2e import MatrixUser, room_path, sync_room


def _counts(user, room):
    joined = sync_room(user.sync(), room)
    return joined["unread_notifications"]


def _receipt(user, room, event_id, receipt_type="m.read"):
    r = user.call("POST", f"rooms/{room_path(room)}/receipt/{receipt_type}/{room_path(event_id)}", {})
    assert r.status == 200, r


def test_messages_notify_until_read(server):
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    first = alice.send(room, "one")
    alice.send(room, "two")
    last = alice.send(room, "three")
    # .m.rule.message: every message from someone else notifies
    assert _counts(bob, room) == {"notification_count": 3, "highlight_count": 0}
    # the sender's own messages never count for them
    assert _counts(alice, room)["notification_count"] == 0
    _receipt(bob, room, first)
    assert _counts(bob, room)["notification_count"] == 2
    # a private read receipt resets the count just as well
    _receipt(bob, room, last, "m.read.private")
    assert _counts(bob, room) == {"notification_count": 0, "highlight_count": 0}


def test_mention_highlights(server):
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    # .m.rule.is_user_mention: m.mentions.user_ids holds the user
    alice.send(room, content={"msgtype": "m.text", "body": "hey you",
                              "m.mentions": {"user_ids": [bob.user_id]}})
    alice.send(room, "no mention")
    assert _counts(bob, room) == {"notification_count": 2, "highlight_count": 1}


def test_own_message_marks_read(server):
    alice, bob = MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    alice.send(room, "a")
    alice.send(room, "b")
    bob.send(room, "my reply")
    alice.send(room, "c")
    # bob answered after a and b: only c is unread for him
    assert _counts(bob, room)["notification_count"] == 1


def test_disabled_rule_stops_notifying(server):
    alice, bob, carol = MatrixUser(server), MatrixUser(server), MatrixUser(server)
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    # three members, so .m.rule.room_one_to_one (member_count == 2) does not apply
    carol.join(room)
    r = bob.call("PUT", "pushrules/global/underride/.m.rule.message/enabled", {"enabled": False})
    assert r.status == 200, r
    alice.send(room, "quiet")
    assert _counts(bob, room)["notification_count"] == 0
