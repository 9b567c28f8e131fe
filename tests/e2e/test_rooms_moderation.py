"""Moderation through the Client-Server API: the power hierarchy of kick,
ban and unban, pre-emptive bans, and redaction of state events.

Spec: kicking.yaml, banning.yaml, redaction.yaml and the room version auth
rules (content/rooms/fragments/v8-auth-rules.md, "If membership is leave
... If the sender's power level is greater than or equal to the kick level,
and the target user's power level is less than the sender's power level,
allow"; ban likewise with the ban level) and redaction algorithm
(v11-redactions.md).
"""

import pytest

from chappe_e2e import MatrixUser, assert_error, paginate, room_path


def _pl(user, room):
    r = user.call("GET", f"rooms/{room_path(room)}/state/m.room.power_levels")
    assert r.status == 200, r
    return r.json


def _set_levels(admin, room, levels):
    pl = _pl(admin, room)
    pl.setdefault("users", {}).update(levels)
    r = admin.put_state(room, "m.room.power_levels", pl)
    assert r.status == 200, r


@pytest.fixture
def hierarchy(server):
    """admin (creator), mod (50), two plain users (0), all joined, v11."""
    admin, mod, u1, u2 = (MatrixUser(server) for _ in range(4))
    room = admin.create_room(preset="public_chat", room_version="11")
    for u in (mod, u1, u2):
        u.join(room)
    _set_levels(admin, room, {mod.user_id: 50})
    return admin, mod, u1, u2, room


def _membership(user, room, target):
    r = user.call("GET", f"rooms/{room_path(room)}/state/m.room.member/{room_path(target)}")
    assert r.status == 200, r
    return r.json["membership"]


def test_kick_needs_more_power_than_target(hierarchy):
    """kicking.yaml 403: "The kicker's power level is insufficient to kick
    users from the room"; the target must be below the sender."""
    admin, mod, u1, u2, room = hierarchy
    assert_error(u1.membership(room, "kick", {"user_id": u2.user_id}), 403, "M_FORBIDDEN")
    assert_error(mod.membership(room, "kick", {"user_id": admin.user_id}), 403, "M_FORBIDDEN")
    assert _membership(admin, room, admin.user_id) == "join"
    r = mod.membership(room, "kick", {"user_id": u1.user_id, "reason": "mod kick"})
    assert r.status == 200, r
    assert _membership(admin, room, u1.user_id) == "leave"
    r = admin.membership(room, "kick", {"user_id": mod.user_id})
    assert r.status == 200, r


def test_ban_and_unban_power(hierarchy):
    """banning.yaml: "The banner's power level is insufficient to ban users
    from the room" -> 403; unban: "you must have power level greater than or
    equal to both the kick and ban levels"."""
    admin, mod, u1, u2, room = hierarchy
    assert_error(u1.membership(room, "ban", {"user_id": u2.user_id}), 403, "M_FORBIDDEN")
    assert_error(mod.membership(room, "ban", {"user_id": admin.user_id}), 403, "M_FORBIDDEN")
    assert mod.membership(room, "ban", {"user_id": u2.user_id}).status == 200
    assert _membership(admin, room, u2.user_id) == "ban"
    assert_error(u1.membership(room, "unban", {"user_id": u2.user_id}), 403, "M_FORBIDDEN")
    assert_error(u2.membership(room, "unban", {"user_id": u2.user_id}), 403, "M_FORBIDDEN")
    # A banned user cannot leave their ban behind either.
    u2.membership(room, "leave")
    assert _membership(admin, room, u2.user_id) == "ban"
    assert mod.membership(room, "unban", {"user_id": u2.user_id}).status == 200
    assert _membership(admin, room, u2.user_id) == "leave"


def test_preemptive_ban(hierarchy, server):
    """A user who never joined can be banned (banning.yaml lists no
    "not in the room" reason for the target), and then cannot join or be
    invited (inviting.yaml 403 "The invitee has been banned from the room")."""
    admin, _, _, _, room = hierarchy
    stranger = MatrixUser(server)
    r = admin.membership(room, "ban", {"user_id": stranger.user_id, "reason": "known spammer"})
    assert r.status == 200, r
    assert_error(stranger.membership(room, "join"), 403, "M_FORBIDDEN")
    assert_error(admin.membership(room, "invite", {"user_id": stranger.user_id}),
                 403, "M_FORBIDDEN")
    assert_error(stranger.call("POST", f"knock/{room_path(room)}", {}), 403, "M_FORBIDDEN")


def test_kicked_user_can_be_invited_back(hierarchy):
    """A kick leaves membership `leave`, from which an invite is allowed."""
    admin, _, u1, _, room = hierarchy
    assert admin.membership(room, "kick", {"user_id": u1.user_id}).status == 200
    admin.invite(room, u1.user_id)
    assert _membership(admin, room, u1.user_id) == "invite"
    u1.join(room)
    assert _membership(admin, room, u1.user_id) == "join"


def test_redact_state_event(hierarchy):
    """Redacting a state event changes current state: "The content object
    must also be stripped of all keys" except the listed ones - m.room.topic
    keeps none, m.room.join_rules keeps join_rule (v11-redactions.md)."""
    admin, _, u1, _, room = hierarchy
    topic_id = admin.put_state(room, "m.room.topic", {"topic": "to be redacted"}).json["event_id"]
    r = admin.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(topic_id)}/rt1",
                   {"reason": "bad topic"})
    assert r.status == 200, r
    got = u1.call("GET", f"rooms/{room_path(room)}/state/m.room.topic")
    assert got.status == 200 and got.json == {}, got
    assert u1.event(room, topic_id).json["content"] == {}

    jr_id = admin.put_state(room, "m.room.join_rules",
                            {"join_rule": "public", "note": "stripped"}).json["event_id"]
    r = admin.call("PUT", f"rooms/{room_path(room)}/redact/{room_path(jr_id)}/rt2", {})
    assert r.status == 200, r
    assert u1.event(room, jr_id).json["content"] == {"join_rule": "public"}


def test_redaction_idempotent_and_self_redact(hierarchy):
    """PUT /redact/{eventId}/{txnId} is a transaction like /send: the same
    txnId gives the same redaction event_id. A user may redact their own
    event without the redact power level (v3-handling-redactions: the
    sender of the original event)."""
    admin, _, u1, _, room = hierarchy
    own = u1.send(room, "my own words")
    path = f"rooms/{room_path(room)}/redact/{room_path(own)}/self-1"
    first = u1.call("PUT", path, {"reason": "typo"})
    again = u1.call("PUT", path, {"reason": "typo"})
    assert first.status == 200 and again.status == 200, (first, again)
    assert first.json["event_id"] == again.json["event_id"]
    assert admin.event(room, own).json["content"] == {}
    history, _ = paginate(admin, room, "b", limit=50)
    redactions = [e for e in history if e["type"] == "m.room.redaction"
                  and own in (e.get("redacts"), e["content"].get("redacts"))]
    assert len(redactions) == 1, redactions
    # v11: "redacts" lives in content.
    assert redactions[0]["content"].get("redacts") == own, redactions[0]
