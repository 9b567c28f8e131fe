"""Push rules API (pushrules.yaml, modules/push.md "Push Rules: API")."""
from chappe_e2e import MatrixUser, sync_room


def _rule_ids(body, kind):
    return [r["rule_id"] for r in body["global"][kind]]


def test_defaults_and_master_first(server):
    u = MatrixUser(server)
    for path in ("pushrules/", "pushrules"):
        r = u.call("GET", path)
        assert r.status == 200, r
        body = r.json
        # push.md: ".m.rule.master" is the first override rule
        assert _rule_ids(body, "override")[0] == ".m.rule.master"
        assert ".m.rule.message" in _rule_ids(body, "underride")
    r = u.call("GET", "pushrules/global/")
    assert r.status == 200 and "override" in r.json, r


def test_put_get_delete_with_before_after(server):
    u = MatrixUser(server)
    base = "pushrules/global/room/"
    room = u.create_room()
    r = u.call("PUT", base + "!first:localhost", {"actions": ["notify"]})
    assert r.status == 200, r
    r = u.call("PUT", base + room.replace("!", "%21"), {"actions": []},
               query={"before": "!first:localhost"})
    assert r.status == 200, r
    ids = _rule_ids(u.call("GET", "pushrules/").json, "room")
    # "before": the new rule is placed just before the named one
    assert ids.index(room) < ids.index("!first:localhost"), ids
    got = u.call("GET", base + "!first:localhost")
    assert got.status == 200 and got.json["actions"] == ["notify"], got
    assert got.json["default"] is False and got.json["enabled"] is True
    assert u.call("DELETE", base + "!first:localhost").status == 200
    assert u.call("GET", base + "!first:localhost").status == 404
    # an unknown anchor is refused and nothing is added
    r = u.call("PUT", base + "!other:localhost", {"actions": []}, query={"after": "!nope:x"})
    assert r.status == 400, r
    assert "!other:localhost" not in _rule_ids(u.call("GET", "pushrules/").json, "room")


def test_enabled_and_actions_of_default_rules(server):
    u = MatrixUser(server)
    path = "pushrules/global/underride/.m.rule.message"
    assert u.call("GET", path + "/enabled").json == {"enabled": True}
    assert u.call("PUT", path + "/enabled", {"enabled": False}).status == 200
    assert u.call("GET", path + "/enabled").json == {"enabled": False}
    assert u.call("PUT", path + "/actions", {"actions": ["notify"]}).status == 200
    assert u.call("GET", path + "/actions").json == {"actions": ["notify"]}
    # server-default rules cannot be deleted
    assert u.call("DELETE", path).status == 404
    # bad input: enabled must be a boolean, unknown kinds and rule IDs refused
    assert u.call("PUT", path + "/enabled", {"enabled": "no"}).status == 400
    assert u.call("GET", "pushrules/global/nokind/x").status == 400
    assert u.call("GET", "pushrules/global/override/.no.such.rule").status == 404


def test_edit_reaches_sync_account_data(server):
    """push.md: the ruleset is also m.push_rules account data in /sync."""
    u = MatrixUser(server)
    first = u.sync()
    rules = [e for e in first["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert rules and ".m.rule.master" in _rule_ids(rules[0]["content"], "override")
    assert u.call("PUT", "pushrules/global/content/mykeyword",
                  {"actions": ["notify"], "pattern": "chappe"}).status == 200
    later = u.sync(since=first["next_batch"])
    rules = [e for e in later["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert rules and "mykeyword" in _rule_ids(rules[0]["content"], "content")
    # the private state behind it is never served
    assert not any(e["type"].startswith("chappe.internal")
                   for e in later["account_data"]["events"])
    assert u.call("GET", f"user/{u.user_id}/account_data/chappe.internal.push_rules_state").status == 404
