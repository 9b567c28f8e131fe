"""Helpers for chappe's end-to-end tests: run the real server, talk raw HTTP.

Contract:
- ChappeServer owns one server process and its working directory (given by
  the caller, usually a pytest tmp dir). start() blocks until
  GET /_matrix/client/versions answers 200 (10 s) or raises. stop() sends
  SIGTERM, waits 10 s and returns the list of problems it saw (exit code not
  0, sanitizer reports on stderr); the fixtures turn that list into a failure.
- http_request() opens one connection per request and never follows
  redirects or retries, so a test sees exactly what the server answered.
- Everything here is synchronous and single-threaded; nio tests wrap their
  coroutines with asyncio.run().

Only Debian's python3 packages are used (python3-yaml for the config file).
"""

import hashlib
import hmac
import http.client
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHAPPE_BIN = os.environ.get("CHAPPE_BIN", str(REPO / "build" / "src" / "chappe"))

# What ASan/LSan/UBSan print when they find something. The server's stderr
# must contain none of these, whatever build CHAPPE_BIN points at.
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

SERVER_NAME = "localhost"
PASSWORD = "correct horse battery staple"

# Generous limits so that only the rate-limit tests ever see a 429.
GENEROUS_RATE = {"per_second": 1000, "burst": 1000}

_name_counter = itertools.count(1)


def sanitizer_env():
    """Environment for every chappe process the tests start."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_name(prefix="user"):
    """A fresh, grammar-valid localpart: user names are never reused across
    tests, so one test's leftovers cannot make another pass or fail."""
    return f"{prefix}{next(_name_counter)}_{secrets.token_hex(3)}"


def base_config(port, **overrides):
    """The test configuration: open registration, cheap argon2, generous
    rate limits, no scraper detection. Keys in overrides replace top-level
    keys wholesale."""
    cfg = {
        "server_name": SERVER_NAME,
        "listen": f"127.0.0.1:{port}",
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "data_dir": ".",
        "database": {"backend": "sqlite", "path": "homeserver.db"},
        "signing_key_path": "signing.key",
        "log_level": "info",
        "http_threads": 4,
        "registration": "open",
        "registration_shared_secret": "",
        "password_min_length": 8,
        "password_hash": {"ops_limit": 1, "mem_limit_kib": 8192},
        "access_token_lifetime_ms": 300000,
        "refresh_token_lifetime_ms": 0,
        "limits": {"max_json_body_bytes": 1048576, "max_json_depth": 64},
        "rate_limits": {
            "login_per_account": dict(GENEROUS_RATE),
            "login_per_ip": dict(GENEROUS_RATE),
            "register_per_ip": dict(GENEROUS_RATE),
            "client_per_user": dict(GENEROUS_RATE),
        },
        # scraper detection off, as the rate limits are generous: tests that
        # page back thousands of events with minutes-old accounts are
        # scrapers by the default rules' measure. test_breach_replay.py runs
        # with the defaults on.
        "scraper_detection": {"enabled": False},
    }
    cfg.update(overrides)
    return cfg


def write_config(path, cfg):
    Path(path).write_text(yaml.safe_dump(cfg, sort_keys=False))
    os.chmod(path, 0o600)


def run_cli(*args, timeout=60, input_text=None):
    """Run `chappe ARGS...` to completion; returns CompletedProcess (text)."""
    return subprocess.run(
        [CHAPPE_BIN, *[str(a) for a in args]],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=sanitizer_env(),
        input=input_text,
    )


def sanitizer_reports(text):
    return [m for m in SANITIZER_MARKERS if m in text]


class Response:
    """One HTTP response: status, headers, raw body, parsed JSON (or None)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def errcode(self):
        return self.json.get("errcode") if isinstance(self.json, dict) else None

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:300]!r}>"


def http_request(port, method, path, body=None, *, token=None, headers=None,
                 query=None, timeout=30):
    """Send one request. body: dict/list (sent as JSON), bytes (sent as is)
    or None. Returns a Response."""
    hdrs = {}
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    hdrs.update(headers or {})
    if query:
        path = path + "?" + urllib.parse.urlencode(query)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.headers, data)
    finally:
        conn.close()


def assert_error(resp, status, errcodes):
    """The spec's standard error response: status, and errcode among errcodes
    (a string or a tuple). 'error' must be there too (API Standards:
    "the keys error and errcode MUST always be present")."""
    if isinstance(errcodes, str):
        errcodes = (errcodes,)
    assert resp.status == status, f"expected {status} {errcodes}, got {resp!r}"
    assert isinstance(resp.json, dict), f"error body is not a JSON object: {resp!r}"
    assert resp.errcode in errcodes, f"expected {errcodes}, got {resp!r}"
    assert isinstance(resp.json.get("error"), str), f"no 'error' string: {resp!r}"


def user_path(user_id):
    """A user ID as a path segment: '@' and ':' percent-encoded as clients do."""
    return urllib.parse.quote(user_id, safe="")


def mxid(localpart):
    return f"@{localpart}:{SERVER_NAME}"


def password_auth(user, password, session=None):
    """UIA auth dict for m.login.password with an m.id.user identifier."""
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    if session is not None:
        auth["session"] = session
    return auth


def shared_secret_mac(secret, nonce, username, password, admin):
    """Synapse's shared-secret registration MAC: hex HMAC-SHA1 over
    nonce NUL username NUL password NUL ("admin"|"notadmin")."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(nonce.encode())
    mac.update(b"\x00")
    mac.update(username.encode())
    mac.update(b"\x00")
    mac.update(password.encode())
    mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    return mac.hexdigest()


class ChappeServer:
    """One chappe process, run with `serve --config FILE` where config is
    a dict (written to workdir/homeserver.yaml) or the Path of an existing
    file (used as is; port must then match its `listen`), or, with
    config=None, with `serve --data-dir workdir --listen ... --server-name`."""

    def __init__(self, workdir, config=None, port=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.config = config
        self.config_path = self.workdir / "homeserver.yaml"
        self.proc = None
        self.starts = 0
        self._stderr_file = None
        self._stdout_file = None
        self.stderr_path = None
        if isinstance(config, Path):
            self.config_path = config
        elif config is not None:
            write_config(self.config_path, config)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _argv(self):
        if self.config is not None:
            return [CHAPPE_BIN, "serve", "--config", str(self.config_path)]
        return [CHAPPE_BIN, "serve", "--data-dir", str(self.workdir),
                "--listen", f"127.0.0.1:{self.port}", "--server-name", SERVER_NAME]

    def start(self, timeout=10.0):
        assert self.proc is None, "server already running"
        self.starts += 1
        self.stderr_path = self.workdir / f"stderr.{self.starts}.log"
        self._stderr_file = open(self.stderr_path, "wb")
        self._stdout_file = open(self.workdir / f"stdout.{self.starts}.log", "wb")
        self.proc = subprocess.Popen(self._argv(), stdout=self._stdout_file,
                                     stderr=self._stderr_file, env=sanitizer_env(),
                                     cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self._close_logs()
                self.proc = None
                raise RuntimeError(f"chappe exited with {rc} during start-up:\n"
                                   + self.stderr_tail())
            try:
                r = http_request(self.port, "GET", "/_matrix/client/versions", timeout=2)
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"chappe not ready after {timeout} s:\n" + self.stderr_tail())

    def stop(self, timeout=10.0):
        """SIGTERM and wait. Returns a list of problems (empty when clean)."""
        problems = []
        if self.proc is None:
            return problems
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
            if rc != 0:
                problems.append(f"exit code {rc} after SIGTERM (expected 0)")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            problems.append(f"did not exit within {timeout} s of SIGTERM")
        self.proc = None
        self._close_logs()
        found = sanitizer_reports(self.stderr_text())
        if found:
            problems.append(f"sanitizer reports on stderr: {found}")
        if problems:
            problems.append("stderr tail:\n" + self.stderr_tail())
        return problems

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        self._close_logs()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _close_logs(self):
        for f in (self._stderr_file, self._stdout_file):
            if f is not None:
                f.close()
        self._stderr_file = self._stdout_file = None

    def stderr_text(self):
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(errors="replace")

    def stderr_tail(self, n=4000):
        return self.stderr_text()[-n:]

    # --- HTTP shorthands -------------------------------------------------

    def request(self, method, path, body=None, **kw):
        return http_request(self.port, method, path, body, **kw)

    def client(self, method, endpoint, body=None, *, prefix="v3", **kw):
        """Request under /_matrix/client/{prefix}/endpoint."""
        return self.request(method, f"/_matrix/client/{prefix}/{endpoint}", body, **kw)

    def admin(self, *args):
        """`chappe admin --config FILE ARGS...`"""
        return run_cli("admin", "--config", self.config_path, *args)

    # --- account shorthands ----------------------------------------------

    def register(self, username=None, password=PASSWORD, **extra):
        """Full UIA registration (401 + session, then m.login.dummy).
        Returns the 200 body; fails the test on anything else."""
        body = dict(extra)
        if username is not None:
            body["username"] = username
        if password is not None:
            body["password"] = password
        first = self.client("POST", "register", body)
        assert first.status == 401, f"register without auth: {first!r}"
        body["auth"] = {"type": "m.login.dummy", "session": first.json["session"]}
        r = self.client("POST", "register", body)
        assert r.status == 200, f"register {username}: {r!r}"
        return r.json

    def login(self, user, password=PASSWORD, **extra):
        """m.login.password with an m.id.user identifier; returns the 200 body."""
        body = {"type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": password}
        body.update(extra)
        r = self.client("POST", "login", body)
        assert r.status == 200, f"login {user}: {r!r}"
        return r.json

    def whoami(self, token):
        return self.client("GET", "account/whoami", token=token)

    def uia(self, method, endpoint, body, token, user, password=PASSWORD):
        """Run a UIA-protected request with m.login.password: first without
        auth (must be 401 offering m.login.password), then with it."""
        first = self.client(method, endpoint, body, token=token)
        assert first.status == 401, f"{endpoint} without auth: {first!r}"
        stages = [f.get("stages") for f in first.json.get("flows", [])]
        assert ["m.login.password"] in stages, f"{endpoint} flows: {first!r}"
        body = dict(body)
        body["auth"] = password_auth(user, password, first.json.get("session"))
        return self.client(method, endpoint, body, token=token)


# --- rooms, events and /sync (raw HTTP) -----------------------------------
# Used by test_rooms_*, test_sync_*, test_concurrency and test_longpoll.
# A MatrixUser is one registered account with one access token; its methods
# are thin wrappers that return the Response (call) or assert success and
# return the useful part (create_room, send, sync). Safe to use from several
# threads as long as each thread uses its own MatrixUser or only reads.

def room_path(room_id):
    """A room ID (or event ID, alias) as a path segment: '!', '$', ':' and
    '#' percent-encoded, as the spec's examples encode them."""
    return urllib.parse.quote(room_id, safe="")


class MatrixUser:
    def __init__(self, server, name=None, *, token=None, user_id=None):
        """Register a fresh account, or (token and user_id given) wrap an
        existing session, e.g. one a nio client logged in."""
        self.server = server
        if token is not None:
            self.user_id, self.token, self.device_id = user_id, token, None
            self.name = user_id
            return
        self.name = name or unique_name("r")
        reg = server.register(self.name)
        self.user_id = reg["user_id"]
        self.token = reg["access_token"]
        self.device_id = reg["device_id"]

    def call(self, method, endpoint, body=None, **kw):
        return self.server.client(method, endpoint, body, token=self.token, **kw)

    def create_room(self, **body):
        r = self.call("POST", "createRoom", body)
        assert r.status == 200, f"createRoom {body}: {r!r}"
        return r.json["room_id"]

    def send(self, room_id, body="hello", *, txn=None, event_type="m.room.message",
             content=None):
        """Send a message event; returns its event_id."""
        txn = txn or secrets.token_hex(8)
        if content is None:
            content = {"msgtype": "m.text", "body": body}
        r = self.call("PUT", f"rooms/{room_path(room_id)}/send/{room_path(event_type)}/"
                      f"{room_path(txn)}", content)
        assert r.status == 200, f"send to {room_id}: {r!r}"
        return r.json["event_id"]

    def put_state(self, room_id, event_type, content, state_key=""):
        # An empty state key without the trailing slash ("optional" per
        # room_state.yaml); the slash form has its own test.
        path = f"rooms/{room_path(room_id)}/state/{room_path(event_type)}"
        if state_key:
            path += "/" + urllib.parse.quote(state_key, safe="")
        return self.call("PUT", path, content)

    def membership(self, room_id, action, body=None):
        """POST rooms/{roomId}/{action}: join, leave, invite, kick, ban, unban."""
        return self.call("POST", f"rooms/{room_path(room_id)}/{action}", body or {})

    def join(self, room_id):
        r = self.membership(room_id, "join")
        assert r.status == 200, f"{self.user_id} join {room_id}: {r!r}"
        return r

    def invite(self, room_id, user_id):
        r = self.membership(room_id, "invite", {"user_id": user_id})
        assert r.status == 200, f"invite {user_id} to {room_id}: {r!r}"
        return r

    def event(self, room_id, event_id):
        return self.call("GET", f"rooms/{room_path(room_id)}/event/{room_path(event_id)}")

    def messages(self, room_id, direction="b", *, from_=None, to=None, limit=None,
                 filter=None):
        query = {"dir": direction}
        if from_ is not None:
            query["from"] = from_
        if to is not None:
            query["to"] = to
        if limit is not None:
            query["limit"] = str(limit)
        if filter is not None:
            query["filter"] = filter if isinstance(filter, str) else json.dumps(filter)
        return self.call("GET", f"rooms/{room_path(room_id)}/messages", query=query)

    def sync(self, since=None, *, timeout=0, filter=None, full_state=None,
             http_timeout=60):
        """One /sync; asserts 200 and returns the body."""
        query = {"timeout": str(timeout)}
        if since is not None:
            query["since"] = since
        if filter is not None:
            query["filter"] = filter if isinstance(filter, str) else json.dumps(filter)
        if full_state is not None:
            query["full_state"] = "true" if full_state else "false"
        r = self.call("GET", "sync", query=query, timeout=http_timeout)
        assert r.status == 200, f"sync for {self.user_id}: {r!r}"
        assert isinstance(r.json.get("next_batch"), str), f"no next_batch: {r!r}"
        return r.json


def sync_room(sync_body, room_id, section="join"):
    """rooms.{section}.{room_id} of a /sync body, or None."""
    return sync_body.get("rooms", {}).get(section, {}).get(room_id)


def sync_timeline(sync_body, room_id, section="join"):
    """The timeline events of one room in one /sync body ([] if absent)."""
    room = sync_room(sync_body, room_id, section)
    if room is None:
        return []
    return room.get("timeline", {}).get("events", [])


def message_bodies(events):
    """content.body of the m.room.message events, in order."""
    return [e["content"].get("body") for e in events
            if e.get("type") == "m.room.message" and isinstance(e.get("content"), dict)]


def sync_collect(user, since, room_id, until, *, deadline_s=30, section="join",
                 filter=None):
    """Incremental-sync from `since`, concatenating the room's timeline events,
    until until(events) is true or deadline_s passes. Returns (events,
    next_batch, bodies) where bodies are all sync bodies seen."""
    events, bodies = [], []
    end = time.monotonic() + deadline_s
    while not until(events) and time.monotonic() < end:
        left = max(0, int((end - time.monotonic()) * 1000))
        body = user.sync(since, timeout=min(left, 5000), filter=filter)
        bodies.append(body)
        events += sync_timeline(body, room_id, section)
        since = body["next_batch"]
    return events, since, bodies


def paginate(user, room_id, direction="b", *, from_=None, to=None, limit=100,
             filter=None, max_pages=1000):
    """Follow /messages `end` tokens until the spec's end-of-history signal
    (`end` absent). Returns (events, pages). Fails the test on a non-200 or
    after max_pages. (That `start` echoes `from` is tested on its own.)"""
    events, pages = [], 0
    while True:
        r = user.messages(room_id, direction, from_=from_, to=to, limit=limit, filter=filter)
        assert r.status == 200, f"/messages page {pages}: {r!r}"
        pages += 1
        assert isinstance(r.json.get("chunk"), list), r
        events += r.json["chunk"]
        end = r.json.get("end")
        if end is None:
            return events, pages
        assert pages < max_pages, f"/messages never ended after {pages} pages"
        from_ = end
