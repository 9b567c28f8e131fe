#!/usr/bin/python3
"""Reference event IDs for test_redaction.c.

Usage: event_id.py IN

IN holds one JSON object per line: {"room_version": "10"|"11"|"12",
"event": {...}}. For each line, stdout gets the event ID computed
independently of chappe's C code, straight from the spec text:

- redaction: rooms/fragments/v9-redactions.md (v10) and v11-redactions.md
  (v11, v12);
- reference hash: server-server-api.md "Calculating the reference hash for
  an event" (redact, drop signatures and unsigned, canonical JSON, sha256);
- event ID: fragments/v4-event-ids.md ("$" + URL-safe unpadded base64).

Exit status 77 means python3-canonicaljson is not installed (the C test
then skips the cross-check and says so).
"""
import base64
import hashlib
import json
import sys

try:
    import canonicaljson
except ImportError:
    sys.stderr.write("event_id.py: python3-canonicaljson not installed\n")
    sys.exit(77)

TOP_V9 = {"event_id", "type", "room_id", "sender", "state_key", "content",
          "hashes", "signatures", "depth", "prev_events", "prev_state",
          "auth_events", "origin", "origin_server_ts", "membership"}
TOP_V11 = TOP_V9 - {"prev_state", "origin", "membership"}

CONTENT_V9 = {
    "m.room.member": {"membership", "join_authorised_via_users_server"},
    "m.room.create": {"creator"},
    "m.room.join_rules": {"join_rule", "allow"},
    "m.room.power_levels": {"ban", "events", "events_default", "kick",
                            "redact", "state_default", "users",
                            "users_default"},
    "m.room.history_visibility": {"history_visibility"},
}
CONTENT_V11 = {
    "m.room.member": {"membership", "join_authorised_via_users_server"},
    "m.room.join_rules": {"join_rule", "allow"},
    "m.room.power_levels": {"ban", "events", "events_default", "invite",
                            "kick", "redact", "state_default", "users",
                            "users_default"},
    "m.room.history_visibility": {"history_visibility"},
    "m.room.redaction": {"redacts"},
}


def redact(version, event):
    v11 = version in ("11", "12")
    top = TOP_V11 if v11 else TOP_V9
    out = {k: v for k, v in event.items() if k in top}
    content = event.get("content", {})
    etype = event.get("type")
    if v11 and etype == "m.room.create":
        new = dict(content)
    else:
        keep = (CONTENT_V11 if v11 else CONTENT_V9).get(etype, set())
        new = {k: v for k, v in content.items() if k in keep}
        if v11 and etype == "m.room.member":
            tpi = content.get("third_party_invite")
            if isinstance(tpi, dict) and "signed" in tpi:
                new["third_party_invite"] = {"signed": tpi["signed"]}
    out["content"] = new
    return out


def event_id(version, event):
    red = redact(version, event)
    red.pop("signatures", None)
    red.pop("unsigned", None)
    red.pop("event_id", None)  # not part of a v4+ event
    digest = hashlib.sha256(canonicaljson.encode_canonical_json(red)).digest()
    return "$" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as src:
        for line in src:
            if line.strip():
                case = json.loads(line)
                print(event_id(case["room_version"], case["event"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
