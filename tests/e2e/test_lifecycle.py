"""Server lifecycle: first start, config checking, restart and crash
persistence, and the admin command line.

The contract comes from the lead's brief (chappe serve/check-config/admin);
the HTTP assertions quote the Client-Server API spec v1.19.
"""

import socket
import stat
import subprocess
import time

import pytest
import yaml

from chappe_e2e import (CHAPPE_BIN, PASSWORD, SERVER_NAME, ChappeServer, assert_error,
                        base_config, free_port, mxid, run_cli, sanitizer_env,
                        sanitizer_reports, unique_name, user_path, write_config)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def _check_config(path):
    res = run_cli("check-config", path)
    assert not sanitizer_reports(res.stderr), res.stderr
    return res


# --------------------------------------------------------------------------
# First start with --data-dir
# --------------------------------------------------------------------------

def test_first_start_generates_files(tmp_path):
    """`chappe serve --data-dir DIR` writes homeserver.yaml, signing.key and
    homeserver.db, each mode 0600 (the key and the shared secret are
    secrets), serves, and a second start reuses them untouched."""
    data = tmp_path / "data"
    data.mkdir()
    srv = ChappeServer(data, config=None)
    srv.start()
    try:
        files = {n: data / n for n in ("homeserver.yaml", "signing.key", "homeserver.db")}
        for name, path in files.items():
            assert path.is_file(), f"{name} missing after first start"
            assert _mode(path) == 0o600, f"{name} has mode {oct(_mode(path))}"
        assert files["signing.key"].stat().st_size > 0
        cfg = yaml.safe_load(files["homeserver.yaml"].read_text())
        assert cfg["server_name"] == SERVER_NAME
        # Registration is closed unless the admin opens it (POST /register
        # 403 "registration is generally not supported").
        r = srv.client("POST", "register", {"username": unique_name(), "password": PASSWORD,
                                            "auth": {"type": "m.login.dummy"}})
        assert_error(r, 403, "M_FORBIDDEN")
    finally:
        problems = srv.stop()
    assert not problems, problems

    res = _check_config(files["homeserver.yaml"])
    assert res.returncode == 0, res.stderr

    key_before = files["signing.key"].read_bytes()
    cfg_before = files["homeserver.yaml"].read_bytes()
    srv.start()
    problems = srv.stop()
    assert not problems, problems
    assert files["signing.key"].read_bytes() == key_before, "signing key regenerated"
    assert files["homeserver.yaml"].read_bytes() == cfg_before, "config rewritten"


def test_generated_config_runs_with_config_flag(tmp_path):
    """The generated homeserver.yaml is a working `serve --config` file and
    records the --listen address it was generated with."""
    data = tmp_path / "data"
    data.mkdir()
    srv = ChappeServer(data, config=None)
    srv.start()
    assert not srv.stop()
    generated = data / "homeserver.yaml"
    cfg = yaml.safe_load(generated.read_text())
    assert cfg["listen"] == f"127.0.0.1:{srv.port}", cfg.get("listen")
    again = ChappeServer(tmp_path / "run2", config=generated, port=srv.port)
    again.start()
    try:
        assert again.request("GET", "/_matrix/client/versions").status == 200
    finally:
        assert not again.stop()


def test_data_dir_with_broken_config_refuses(tmp_path):
    """A later start never silently regenerates an operator's files: with a
    broken homeserver.yaml in the data dir, `serve --data-dir` exits non-zero
    naming the key, and leaves the file and the signing key as they were."""
    data = tmp_path / "data"
    data.mkdir()
    srv = ChappeServer(data, config=None)
    srv.start()
    assert not srv.stop()
    cfg_path, key_path = data / "homeserver.yaml", data / "signing.key"
    cfg_path.write_text(cfg_path.read_text() + "\nno_such_option: 1\n")
    cfg_before, key_before = cfg_path.read_bytes(), key_path.read_bytes()
    res = run_cli("serve", "--data-dir", data, "--listen", f"127.0.0.1:{free_port()}",
                  "--server-name", SERVER_NAME, timeout=20)
    assert res.returncode != 0
    assert "no_such_option" in res.stderr
    assert not sanitizer_reports(res.stderr), res.stderr
    assert cfg_path.read_bytes() == cfg_before
    assert key_path.read_bytes() == key_before


@pytest.mark.parametrize("argv", [[], ["no-such-command"], ["serve"], ["serve", "--bogus"],
                                  ["check-config"], ["admin"]])
def test_cli_usage_errors(tmp_path, argv):
    """Bad command lines exit non-zero (and do not start a server). Run in an
    empty directory so that a misread default cannot write into the repo."""
    res = subprocess.run([CHAPPE_BIN, *argv], capture_output=True, text=True, timeout=20,
                         env=sanitizer_env(), cwd=tmp_path)
    assert res.returncode != 0, (argv, res.stdout)
    assert not sanitizer_reports(res.stderr), res.stderr


# --------------------------------------------------------------------------
# check-config
# --------------------------------------------------------------------------

def test_check_config_accepts_test_config(tmp_path):
    path = tmp_path / "homeserver.yaml"
    write_config(path, base_config(free_port()))
    res = _check_config(path)
    assert res.returncode == 0, res.stderr


def _with(cfg, dotted, value):
    """Set (or, with value DELETE, remove) a dotted key in a config dict."""
    node = cfg
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return cfg


DELETE = object()

BAD_KEYS = [
    ("no_such_option", 1, "no_such_option"),
    ("rate_limits.login_per_ip.bogus", 1, "bogus"),
    ("limits.max_json_body_bytez", 10, "max_json_body_bytez"),
    ("http_threads", "lots", "http_threads"),
    ("http_threads", 0, "http_threads"),
    ("access_token_lifetime_ms", 1000, "access_token_lifetime_ms"),
    ("registration", "maybe", "registration"),
    ("server_name", DELETE, "server_name"),
    ("server_name", "bad name!", "server_name"),
    ("password_hash.ops_limit", 0, "ops_limit"),
    ("database.backend", "oracle", "backend"),
    ("limits.max_json_depth", -1, "max_json_depth"),
    ("listen", "not an address", "listen"),
    ("rate_limits.login_per_ip.burst", 0, "burst"),
    ("rate_limits.register_per_ip.per_second", -1, "per_second"),
    ("log_level", "chatty", "log_level"),
    ("password_min_length", [8], "password_min_length"),
]


@pytest.mark.parametrize("key,value,named", BAD_KEYS,
                         ids=[f"{k}={v if v is not DELETE else 'missing'}"
                              for k, v, _ in BAD_KEYS])
def test_check_config_names_bad_key(tmp_path, key, value, named):
    """`chappe check-config FILE` exits non-zero with a message naming the
    bad key on stderr."""
    path = tmp_path / "homeserver.yaml"
    write_config(path, _with(base_config(free_port()), key, value))
    res = _check_config(path)
    assert res.returncode != 0, f"{key}={value!r} accepted"
    assert named in res.stderr, f"stderr does not name {named}: {res.stderr!r}"


@pytest.mark.parametrize("content", [
    "", "server_name: [unclosed\n", "- a\n- list\n", "\x00\x01\x02",
    "a: &x [*x]\n",
])
def test_check_config_rejects_garbage(tmp_path, content):
    path = tmp_path / "homeserver.yaml"
    path.write_text(content)
    res = _check_config(path)
    assert res.returncode != 0, content


def test_check_config_missing_file(tmp_path):
    res = _check_config(tmp_path / "nope.yaml")
    assert res.returncode != 0


def test_serve_refuses_bad_config(tmp_path):
    """`serve --config` with an invalid file exits non-zero instead of
    serving, and names the key."""
    port = free_port()
    path = tmp_path / "homeserver.yaml"
    write_config(path, base_config(port, no_such_option=1))
    res = run_cli("serve", "--config", path, timeout=20)
    assert res.returncode != 0
    assert "no_such_option" in res.stderr
    assert not sanitizer_reports(res.stderr), res.stderr


# --------------------------------------------------------------------------
# Restart and crash
# --------------------------------------------------------------------------

def test_restart_keeps_state(make_server):
    """What was written before SIGTERM is there after restart: the user, the
    devices and their names, the display name, the changed password and the
    sessions (an access token and a refresh token)."""
    srv = make_server()
    name = unique_name()
    reg = srv.register(name, initial_device_display_name="phone")
    laptop = srv.login(name, initial_device_display_name="laptop", refresh_token=True)
    uid = reg["user_id"]
    r = srv.client("PUT", f"profile/{user_path(uid)}/displayname",
                   {"displayname": "Persistent Pat"}, token=reg["access_token"])
    assert r.status == 200, r
    r = srv.uia("POST", "account/password",
                {"new_password": "after restart", "logout_devices": False},
                reg["access_token"], name)
    assert r.status == 200, r

    problems = srv.stop()
    assert not problems, problems
    srv.start()

    assert_error(srv.client("POST", "login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": name},
        "password": PASSWORD}), 403, "M_FORBIDDEN")
    fresh = srv.login(name, "after restart")
    assert fresh["user_id"] == mxid(name)
    who = srv.whoami(reg["access_token"])
    assert who.status == 200 and who.json["device_id"] == reg["device_id"], who
    devs = {d["device_id"]: d for d in
            srv.client("GET", "devices", token=fresh["access_token"]).json["devices"]}
    assert devs[reg["device_id"]].get("display_name") == "phone"
    assert devs[laptop["device_id"]].get("display_name") == "laptop"
    r = srv.client("GET", f"profile/{user_path(uid)}/displayname", token=fresh["access_token"])
    assert r.status == 200 and r.json == {"displayname": "Persistent Pat"}, r
    r = srv.client("POST", "refresh", {"refresh_token": laptop["refresh_token"]})
    assert r.status == 200, r
    assert srv.whoami(r.json["access_token"]).json["device_id"] == laptop["device_id"]


def test_crash_keeps_acknowledged_writes(make_server):
    """A 200 means persisted: after SIGKILL (no clean shutdown) the account,
    profile and logout acknowledged before the crash are all there."""
    srv = make_server()
    name = unique_name()
    reg = srv.register(name)
    gone = srv.login(name)
    uid = reg["user_id"]
    assert srv.client("PUT", f"profile/{user_path(uid)}/displayname",
                      {"displayname": "Crash Test"}, token=reg["access_token"]).status == 200
    assert srv.client("POST", "logout", None, token=gone["access_token"]).status == 200
    srv.kill()
    srv.start()
    assert srv.whoami(reg["access_token"]).status == 200
    assert_error(srv.whoami(gone["access_token"]), 401, "M_UNKNOWN_TOKEN")
    r = srv.client("GET", f"profile/{user_path(uid)}/displayname", token=reg["access_token"])
    assert r.json == {"displayname": "Crash Test"}, r
    srv.login(name)


def test_sigterm_with_stalled_client(make_server):
    """SIGTERM is a clean shutdown (exit 0) within the contract's 10 s even
    while a client sits on a half-sent request: a stalled peer must not be
    able to hold the server up."""
    srv = make_server()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        sock.sendall(b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 100\r\n\r\n{\"type\":")
        time.sleep(0.2)
        started = time.monotonic()
        problems = srv.stop(timeout=10)
        assert not problems, problems
        assert time.monotonic() - started < 10
    finally:
        sock.close()


def test_secrets_not_in_logs_or_database(make_server):
    """Passwords are stored hashed (password_hash: argon2id) and neither
    passwords nor tokens appear in the log, even at log_level debug."""
    srv = make_server(log_level="debug")
    name = unique_name()
    password = "Pl41nT3xt-" + unique_name("pw")
    new_password = "N3wPl41n-" + unique_name("pw")
    reg = srv.register(name, password=password, refresh_token=True)
    login = srv.login(name, password)
    r = srv.uia("POST", "account/password", {"new_password": new_password,
                                             "logout_devices": False},
                reg["access_token"], name, password)
    assert r.status == 200, r
    refreshed = srv.client("POST", "refresh", {"refresh_token": reg["refresh_token"]})
    assert refreshed.status == 200, refreshed
    # The deprecated query-string form must not end up in an access log.
    r = srv.client("GET", "account/whoami", query={"access_token": login["access_token"]})
    assert r.status == 200, r
    r = srv.client("GET", "account/whoami", query={"access_token": "bogus" + password})
    assert r.status == 401, r
    secrets_ = [password, new_password, reg["access_token"], reg["refresh_token"],
                login["access_token"], refreshed.json["access_token"]]
    assert not srv.stop()
    log = srv.stderr_text() + (srv.workdir / f"stdout.{srv.starts}.log").read_text(
        errors="replace")
    for secret in secrets_:
        assert secret not in log, f"{secret[:12]}... appears in the server log"
    for db in srv.workdir.glob("homeserver.db*"):
        data = db.read_bytes()
        for pw in (password, new_password):
            assert pw.encode() not in data, f"a plaintext password is in {db.name}"


# --------------------------------------------------------------------------
# Admin command line
# --------------------------------------------------------------------------

def _password_file(tmp_path, password):
    path = tmp_path / f"pw-{unique_name()}"
    path.write_text(password)
    path.chmod(0o600)
    return path


def _list_users(srv):
    res = srv.admin("list-users")
    assert res.returncode == 0, res.stderr
    assert not sanitizer_reports(res.stderr), res.stderr
    users = {}
    for line in res.stdout.splitlines():
        if line.strip():
            uid, *flags = line.split()
            users[uid] = set(flags)
    return users


def _admin_ok(srv, *args):
    res = srv.admin(*args)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    assert not sanitizer_reports(res.stderr), res.stderr
    return res


def _login_status(srv, name, password):
    return srv.client("POST", "login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": name},
        "password": password})


def test_admin_cli_offline(make_server, tmp_path):
    """create-user (plain and --admin), list-users flags, reset-password and
    deactivate while the server is stopped; the running server then honours
    them."""
    srv = make_server()
    assert not srv.stop()  # database created; now administer it offline
    plain, admin, victim = unique_name("plain"), unique_name("boss"), unique_name("gone")
    _admin_ok(srv, "create-user", plain, "--password-file", _password_file(tmp_path, PASSWORD))
    _admin_ok(srv, "create-user", admin, "--admin",
              "--password-file", _password_file(tmp_path, PASSWORD))
    _admin_ok(srv, "create-user", victim, "--password-file", _password_file(tmp_path, PASSWORD))
    users = _list_users(srv)
    assert "admin" not in users[mxid(plain)]
    assert "admin" in users[mxid(admin)]
    assert "deactivated" not in users[mxid(victim)]

    _admin_ok(srv, "reset-password", plain, "--password-file",
              _password_file(tmp_path, "reset by admin"))
    _admin_ok(srv, "deactivate", victim)
    assert "deactivated" in _list_users(srv)[mxid(victim)]

    srv.start()
    assert_error(_login_status(srv, plain, PASSWORD), 403, "M_FORBIDDEN")
    assert _login_status(srv, plain, "reset by admin").status == 200
    assert _login_status(srv, admin, PASSWORD).status == 200
    r = _login_status(srv, victim, PASSWORD)
    assert r.status == 403 and r.errcode in ("M_USER_DEACTIVATED", "M_FORBIDDEN"), r


def test_admin_cli_live(make_server, tmp_path):
    """The same commands against a running server take effect at once: a
    created user logs in, a reset password replaces the old one, and a
    deactivated user's existing session is refused."""
    srv = make_server()
    name = unique_name("live")
    _admin_ok(srv, "create-user", name, "--password-file", _password_file(tmp_path, PASSWORD))
    login = srv.login(name)
    assert login["user_id"] == mxid(name)
    assert mxid(name) in _list_users(srv)

    _admin_ok(srv, "reset-password", name, "--password-file",
              _password_file(tmp_path, "live reset pw"))
    assert_error(_login_status(srv, name, PASSWORD), 403, "M_FORBIDDEN")
    assert _login_status(srv, name, "live reset pw").status == 200

    _admin_ok(srv, "deactivate", name)
    assert_error(srv.whoami(login["access_token"]), 401, "M_UNKNOWN_TOKEN")
    r = _login_status(srv, name, "live reset pw")
    assert r.status == 403 and r.errcode in ("M_USER_DEACTIVATED", "M_FORBIDDEN"), r


def test_admin_cli_errors(make_server, tmp_path):
    """Refusals exit non-zero: duplicate user, invalid name, unknown user,
    missing password file."""
    srv = make_server()
    name = unique_name()
    pw = _password_file(tmp_path, PASSWORD)
    _admin_ok(srv, "create-user", name, "--password-file", pw)
    for args in (("create-user", name, "--password-file", pw),
                 ("create-user", "bad name", "--password-file", pw),
                 ("create-user", "x" * 300, "--password-file", pw),
                 ("create-user", unique_name(), "--password-file", tmp_path / "missing"),
                 ("reset-password", unique_name("ghost"), "--password-file", pw),
                 ("deactivate", unique_name("ghost")),
                 ("no-such-command",)):
        res = srv.admin(*args)
        assert res.returncode != 0, (args, res.stdout)
        assert not sanitizer_reports(res.stderr), res.stderr
    users = _list_users(srv)
    assert mxid(name) in users
    assert not any("bad" in u for u in users)
