// harness.mjs: run the real chappe binary for matrix-js-sdk tests.
//
// Contract:
// - startServer() writes a config (mirroring tests/e2e/chappe_e2e.py's
//   base_config: open registration, cheap argon2, generous rate limits) into
//   a fresh temp dir, spawns `CHAPPE_BIN serve --config FILE` with the
//   sanitizer options the Python suite uses, and resolves once
//   GET /_matrix/client/versions answers 200 (or rejects after 10 s, with
//   the tail of the server's stderr in the message).
// - server.stop() sends SIGTERM, waits up to 10 s and returns a list of
//   problems (exit code not 0, sanitizer reports on stderr); the caller
//   turns a non-empty list into a test failure. The temp dir (config,
//   server stderr, js-sdk.log) is removed only when there was no problem
//   and CHAPPE_JS_KEEP_LOGS is unset, so a bad shutdown leaves its logs.
// - server.restart() is the same SIGTERM and check, then start() again on
//   the same data directory (restart tests); it returns the stop's problems.
// - registerUser() runs the spec's two-step User-Interactive registration
//   (401 with a session, then m.login.dummy) with plain fetch.
// - makeClient() builds a js-sdk MatrixClient whose every HTTP request goes
//   through a logging fetchFn: method, path (query dropped, so tokens never
//   land in logs) and status are kept in server.requests, the sdk's own
//   logging goes to a file in the temp dir rather than the test output.
// - makeClient(server, user, who, extraOpts) passes extraOpts (e.g.
//   cryptoCallbacks) to createClient; routeCryptoConsoleToSdkLog() sends
//   the Rust crypto's console logging to js-sdk.log.
// - stopSdkClient()/stopAll() stop clients so that nothing of them is left
//   running; assertNoRejections() fails on any unhandled promise rejection
//   since its last call (the listener is installed on import).
// - nextTimelineEvent()/nextMembership()/nextInvite() resolve on the first
//   matching live event; set them up BEFORE the action that causes it.
// - step(promise, ms, what) bounds one awaited step; a hang fails with
//   "timed out after N ms waiting for <what>" so the report says which step
//   hung instead of only the test runner's per-test timeout.
//
// Everything is single-process and async; one server per test file.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { accessSync, constants as fsConstants, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

import * as sdk from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CHAPPE_BIN = process.env.CHAPPE_BIN || join(REPO, "build", "src", "chappe");

// What ASan/LSan/UBSan print when they find something (same list as the
// Python suite): the server's stderr must contain none of them.
export const SANITIZER_MARKERS = ["AddressSanitizer", "LeakSanitizer", "runtime error:"];

/** Why the suite cannot run (binary not built), or false. The Python
 *  suite skips in the same case; anything else is a failure. */
export function binaryMissing() {
  try {
    accessSync(CHAPPE_BIN, fsConstants.X_OK);
    return false;
  } catch {
    return `chappe binary not built: ${CHAPPE_BIN}`;
  }
}

export const SERVER_NAME = "localhost";
export const PASSWORD = "correct horse battery staple";
const GENEROUS_RATE = { per_second: 1000, burst: 1000 };

let nameCounter = 0;

/** A fresh, grammar-valid localpart, never reused within a run. */
export function uniqueName(prefix = "js") {
  nameCounter += 1;
  return `${prefix}${nameCounter}_${Math.random().toString(16).slice(2, 8)}`;
}

/** Bound one awaited step. The timer is cleared either way, so a passed
 *  step never keeps the event loop (and the test file) alive. */
export async function step(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

// A YAML scalar the server reads back exactly: strings double-quoted with
// JSON escapes (a subset of YAML's double-quoted style), numbers as is.
function yamlScalar(v) {
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(String(v));
}

/** Block-style YAML for nested plain objects of scalars. */
export function toYaml(obj, indent = "") {
  let out = "";
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === "object") {
      out += `${indent}${k}:\n${toYaml(v, indent + "  ")}`;
    } else {
      out += `${indent}${k}: ${yamlScalar(v)}\n`;
    }
  }
  return out;
}

/** tests/e2e/chappe_e2e.py base_config, key for key. */
export function baseConfig(port, overrides = {}) {
  return {
    server_name: SERVER_NAME,
    listen: `127.0.0.1:${port}`,
    public_baseurl: `http://127.0.0.1:${port}/`,
    data_dir: ".",
    database: { backend: "sqlite", path: "homeserver.db" },
    signing_key_path: "signing.key",
    log_level: "info",
    http_threads: 4,
    registration: "open",
    registration_shared_secret: "",
    password_min_length: 8,
    password_hash: { ops_limit: 1, mem_limit_kib: 8192 },
    access_token_lifetime_ms: 300000,
    refresh_token_lifetime_ms: 0,
    limits: { max_json_body_bytes: 1048576, max_json_depth: 64 },
    rate_limits: {
      login_per_account: { ...GENEROUS_RATE },
      login_per_ip: { ...GENEROUS_RATE },
      register_per_ip: { ...GENEROUS_RATE },
      client_per_user: { ...GENEROUS_RATE },
    },
    ...overrides,
  };
}

function sanitizerEnv() {
  return {
    ...process.env,
    ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0",
    UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1",
  };
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

class ChappeServer {
  constructor(workdir, port, bin) {
    this.bin = bin;
    this.workdir = workdir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.stderrPath = join(workdir, "stderr.log");
    this.sdkLogPath = join(workdir, "js-sdk.log");
    this.sdkLog = createWriteStream(this.sdkLogPath);
    this.requests = []; // {who, method, path, status} for every js-sdk request
    this.proc = null;
    this.exited = null; // promise of {code, signal}
  }

  stderrText() {
    try {
      return readFileSync(this.stderrPath, "utf8");
    } catch {
      return "";
    }
  }

  stderrTail(n = 4000) {
    return this.stderrText().slice(-n);
  }

  alive() {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async start(timeoutMs = 10000) {
    const configPath = join(this.workdir, "homeserver.yaml");
    writeFileSync(configPath, toYaml(baseConfig(this.port)), { mode: 0o600 });
    const errFd = createWriteStream(this.stderrPath);
    await new Promise((ok) => errFd.once("open", ok));
    this.proc = spawn(this.bin, ["serve", "--config", configPath], {
      cwd: this.workdir,
      env: sanitizerEnv(),
      stdio: ["ignore", "ignore", errFd],
    });
    this.exited = new Promise((ok) => {
      this.proc.once("exit", (code, signal) => {
        errFd.end();
        ok({ code, signal });
      });
    });
    const spawnError = new Promise((_, fail) => this.proc.once("error", fail));
    spawnError.catch(() => {}); // surfaced below, never unhandled
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive()) {
        const { code, signal } = await step(Promise.race([this.exited, spawnError]), 2000, "chappe exit status");
        throw new Error(
          `chappe exited (code ${code}, signal ${signal}) during start-up (logs in ${this.workdir}):\n${this.stderrTail()}`,
        );
      }
      try {
        const r = await fetch(`${this.url}/_matrix/client/versions`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    this.proc.kill("SIGKILL");
    await this.exited;
    throw new Error(`chappe not ready after ${timeoutMs} ms (logs in ${this.workdir}):\n${this.stderrTail()}`);
  }

  /** SIGTERM, wait, check, then start again on the same data directory
   *  (config, database, signing key). Returns the problems of the stop
   *  (exit code not 0, sanitizer reports), checked before start() begins
   *  a new stderr.log; the temp dir and js-sdk.log stay as they are. */
  async restart(timeoutMs = 10000) {
    const problems = [];
    this.proc.kill("SIGTERM");
    let status;
    try {
      status = await step(this.exited, timeoutMs, "chappe to exit after SIGTERM");
    } catch {
      this.proc.kill("SIGKILL");
      status = await this.exited;
      problems.push(`did not exit within ${timeoutMs} ms of SIGTERM`);
    }
    if (status.code !== 0) problems.push(`exit code ${status.code} signal ${status.signal} after SIGTERM (expected 0)`);
    const found = SANITIZER_MARKERS.filter((m) => this.stderrText().includes(m));
    if (found.length) problems.push(`sanitizer reports on stderr: ${found.join(", ")}\n${this.stderrTail()}`);
    this.proc = null;
    await this.start();
    return problems;
  }

  /** SIGTERM, wait, check. Returns the list of problems (empty = clean). */
  async stop(timeoutMs = 10000) {
    const problems = [];
    if (this.proc === null) return problems;
    if (this.alive()) {
      this.proc.kill("SIGTERM");
    } else {
      problems.push("server was no longer running when the tests ended");
    }
    let status;
    try {
      status = await step(this.exited, timeoutMs, "chappe to exit after SIGTERM");
    } catch {
      this.proc.kill("SIGKILL");
      status = await this.exited;
      problems.push(`did not exit within ${timeoutMs} ms of SIGTERM`);
    }
    if (status.code !== 0) {
      problems.push(`exit code ${status.code} signal ${status.signal} after SIGTERM (expected 0)`);
    }
    this.proc = null;
    if (sdkLogSink === this.sdkLog) sdkLogSink = null;
    await new Promise((ok) => this.sdkLog.end(ok));
    const found = SANITIZER_MARKERS.filter((m) => this.stderrText().includes(m));
    if (found.length) problems.push(`sanitizer reports on stderr: ${found.join(", ")}`);
    if (problems.length) {
      problems.push(`logs kept in ${this.workdir}; stderr tail:\n${this.stderrTail()}`);
    } else if (process.env.CHAPPE_JS_KEEP_LOGS) {
      process.stderr.write(`chappe-js: logs kept in ${this.workdir}\n`);
    } else {
      rmSync(this.workdir, { recursive: true, force: true });
    }
    return problems;
  }

  /** Requests js-sdk made that did not succeed: status >= 400, or no
   *  answer for another reason than stopClient aborting its long-poll. */
  failedRequests() {
    return this.requests.filter((r) =>
      typeof r.status === "number" ? r.status >= 400 : r.status !== "error: AbortError");
  }

  /** One line per distinct request shape (IDs and transaction IDs folded
   *  into placeholders) with its statuses and count, in first-seen order:
   *  what a stock client asks of the server. */
  requestSummary() {
    const seen = new Map();
    for (const r of this.requests) {
      const key = `${r.method} ${pathTemplate(r.path)} -> ${r.status}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    return [...seen].map(([key, n]) => `${key} (x${n})`);
  }
}

// Fold the variable parts of a client-server path: percent-encoded or raw
// room/user/event IDs and the transaction IDs of send/{type}/{txnId} and
// redact/{eventId}/{txnId}.
function pathTemplate(path) {
  return path
    .split("/")
    .map((seg, i, all) => {
      const d = safeDecode(seg);
      if (d.startsWith("!")) return "{roomId}";
      if (d.startsWith("@")) return "{userId}";
      if (d.startsWith("$")) return "{eventId}";
      if (i >= 2 && (all[i - 2] === "send" || all[i - 2] === "redact")) return "{txnId}";
      return seg;
    })
    .join("/");
}

function safeDecode(seg) {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** Start a server in a fresh temp dir; resolves once it answers. bin is
 *  for the harness's own tests (a wrapper around the real binary). */
export async function startServer({ bin = CHAPPE_BIN } = {}) {
  const workdir = mkdtempSync(join(tmpdir(), "chappe-js-"));
  const srv = new ChappeServer(workdir, await freePort(), bin);
  sdkLogSink = srv.sdkLog;
  try {
    await srv.start();
  } catch (e) {
    // The temp dir stays, with the server's stderr, for the post-mortem.
    sdkLogSink = null;
    srv.sdkLog.end();
    throw e;
  }
  return srv;
}

/** Raw client-server API call; resolves to {status, json}. */
export async function api(server, method, endpoint, { body, token, timeoutMs = 30000 } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(`${server.url}/_matrix/client/v3/${endpoint}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: json stays null and the caller's assertion shows the status
  }
  return { status: r.status, json, text };
}

/** Register through UIA (Client-Server API, "Account registration":
 *  the first POST /register answers 401 with a session, the second
 *  completes m.login.dummy). Resolves to {userId, accessToken, deviceId}. */
export async function registerUser(server, localpart = uniqueName()) {
  const body = { username: localpart, password: PASSWORD };
  const first = await api(server, "POST", "register", { body });
  if (first.status !== 401 || typeof first.json?.session !== "string") {
    throw new Error(`register ${localpart} without auth: expected 401 with a session, got ${first.status} ${first.text}`);
  }
  body.auth = { type: "m.login.dummy", session: first.json.session };
  const r = await api(server, "POST", "register", { body });
  if (r.status !== 200) throw new Error(`register ${localpart}: ${r.status} ${r.text}`);
  return { userId: r.json.user_id, accessToken: r.json.access_token, deviceId: r.json.device_id };
}

// js-sdk logs through one loglevel root logger ("matrix") whose children
// copy its methodFactory when created; redirecting the root before any
// client exists sends every sdk log line to the current server's
// js-sdk.log instead of the test report. Lines logged while no server runs
// are dropped.
let sdkLogSink = null;

function logArg(a) {
  if (a instanceof Error) return a.stack;
  if (typeof a === "string") return a;
  try {
    return JSON.stringify(a);
  } catch {
    return String(a);
  }
}

sdkLogger.methodFactory = (methodName) =>
  function sdkLogLine(...args) {
    if (this?.prefix) args.unshift(this.prefix);
    sdkLogSink?.write(`${new Date().toISOString()} ${methodName} ${args.map(logArg).join(" ")}\n`);
  };
sdkLogger.rebuild();

// Requests each client has in flight (a Set of paths), for stopSdkClient.
const inflight = new WeakMap();

/** A js-sdk client for user whose requests are logged in server.requests.
 *  extraOpts go to createClient as well (e.g. cryptoCallbacks). */
export function makeClient(server, user, who, extraOpts = {}) {
  const pending = new Set();
  const log = (entry) => {
    server.requests.push(entry);
    server.sdkLog.write(`${new Date().toISOString()} http ${who} ${entry.method} ${entry.path} -> ${entry.status}\n`);
  };
  const fetchFn = async (input, init = {}) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const method = (init.method || (typeof input === "object" && input.method) || "GET").toUpperCase();
    const token = { path: url.pathname };
    pending.add(token);
    try {
      const resp = await fetch(input, init);
      log({ who, method, path: url.pathname, status: resp.status });
      return resp;
    } catch (e) {
      // An aborted long-poll at stopClient is expected; still recorded.
      log({ who, method, path: url.pathname, status: `error: ${e.name}` });
      throw e;
    } finally {
      pending.delete(token);
    }
  };
  const client = sdk.createClient({
    baseUrl: server.url,
    accessToken: user.accessToken,
    userId: user.userId,
    deviceId: user.deviceId,
    fetchFn,
    logger: sdkLogger.getChild(`[${who}]`),
    ...extraOpts,
  });
  inflight.set(client, pending);
  return client;
}

/** Stop a client so that it leaves nothing running. js-sdk 37.5.0's
 *  stopClient clears the capabilities poller's timer, but a /capabilities
 *  request still in flight re-arms it (6 h) when it completes, which would
 *  keep the test file alive. So: let every request but the /sync long-poll
 *  finish first (bounded), then stop. */
export async function stopSdkClient(client, ms = 5000) {
  const pending = inflight.get(client) ?? new Set();
  const deadline = Date.now() + ms;
  const busy = () => [...pending].some((r) => !r.path.endsWith("/sync"));
  while (busy() && Date.now() < deadline) await sleep(20);
  client.stopClient();
  // The aborted long-poll settles on the next turns; wait for it so that
  // nothing of this client is left when the next test starts.
  while (pending.size > 0 && Date.now() < deadline + ms) await sleep(20);
}

/** startClient({initialSyncLimit: 10, ...startOpts}) and wait for the
 *  first "sync" event with state PREPARED. A sync ERROR before that fails
 *  at once, naming the state. */
export async function startAndSync(client, who, { ms = 20000, ...startOpts } = {}) {
  const prepared = new Promise((ok, fail) => {
    const onSync = (state, _prev, data) => {
      if (state === sdk.SyncState.Prepared) {
        client.off(sdk.ClientEvent.Sync, onSync);
        ok();
      } else if (state === sdk.SyncState.Error) {
        client.off(sdk.ClientEvent.Sync, onSync);
        fail(new Error(`${who}: initial sync reached state ERROR: ${data?.error?.message ?? "no detail"}`));
      }
    };
    client.on(sdk.ClientEvent.Sync, onSync);
  });
  // If startClient itself throws, a later ERROR must not become an
  // unhandled rejection; step() below still sees the outcome.
  prepared.catch(() => {});
  await client.startClient({ initialSyncLimit: 10, ...startOpts });
  await step(prepared, ms, `${who}'s first sync to reach PREPARED`);
}

/** Resolves with the first live Room.timeline event in roomId for which
 *  match(event) is true. Listen BEFORE causing the event. */
export function nextTimelineEvent(client, roomId, match) {
  let onTimeline;
  const p = new Promise((ok) => {
    onTimeline = (event, room, toStartOfTimeline) => {
      if (toStartOfTimeline || room?.roomId !== roomId) return;
      if (match(event)) {
        client.off(sdk.RoomEvent.Timeline, onTimeline);
        ok(event);
      }
    };
    client.on(sdk.RoomEvent.Timeline, onTimeline);
  });
  p.cancel = () => client.off(sdk.RoomEvent.Timeline, onTimeline);
  return p;
}

// Unhandled promise rejections since the last assertNoRejections(): the
// listener is installed when a test file imports the harness.
const rejections = [];
process.on("unhandledRejection", (reason) => rejections.push(reason));

/** Fail if any promise rejection went unhandled since the last call. */
export function assertNoRejections(where) {
  const seen = rejections.splice(0);
  assert.deepEqual(
    seen.map((r) => (r instanceof Error ? r.stack : String(r))),
    [],
    `unhandled promise rejections during ${where}`,
  );
}

// Room.timeline delivers our own local echo too; only the other side's
// message with the expected body counts as received.
export const messageFrom = (sender, body) => (ev) =>
  ev.getType() === sdk.EventType.RoomMessage && ev.getSender() === sender && ev.getContent().body === body;

// A membership change of userId to membership (join, invite...).
export function nextMembership(client, roomId, userId, membership) {
  return nextTimelineEvent(
    client,
    roomId,
    (ev) => ev.getType() === sdk.EventType.RoomMember && ev.getStateKey() === userId &&
      ev.getContent().membership === membership,
  );
}

// The invite arrives through /sync as an invited room; RoomMember.membership
// fires for our own member event in it. Resolves with the room's ID, so the
// listener can be set before the room (and its ID) exists.
export function nextInvite(client) {
  let onMember;
  const p = new Promise((ok) => {
    onMember = (_ev, member) => {
      if (member.userId === client.getUserId() && member.membership === "invite") {
        client.off(sdk.RoomMemberEvent.Membership, onMember);
        ok(member.roomId);
      }
    };
    client.on(sdk.RoomMemberEvent.Membership, onMember);
  });
  p.cancel = () => client.off(sdk.RoomMemberEvent.Membership, onMember);
  return p;
}

/** stopSdkClient for each client, in parallel. */
export async function stopAll(clients) {
  await Promise.all(clients.map((c) => stopSdkClient(c)));
}

/** Call once at the top level of a test file. js-sdk 37.5.0 arms a plain
 *  setTimeout for every request (http-api/utils.js timeoutSignal: 110 s for
 *  a /sync long-poll) and never clears it, so a file whose clients were all
 *  stopped would still linger that long. Once the file's tests are done,
 *  an unref'd timer ends the process if (and only if) something still holds
 *  the event loop; the exit code is the one the test runner already set.
 *  (node --test-force-exit would do the same but, in Node 20, truncates
 *  file reporters such as --test-reporter=junit.) */
export function exitWhenTestsDone() {
  after(() => {
    setTimeout(() => process.exit(), 1000).unref();
  });
}

export { sdk };

/** js-sdk's initRustCrypto turns the wasm crypto's tracing on at DEBUG,
 *  and the wasm writes it with console.debug/info/warn/trace directly (not
 *  through the sdk logger): hundreds of lines per client. Call once per
 *  test file that uses Rust crypto to send those lines to the current
 *  server's js-sdk.log with the sdk's own logging; console.error and
 *  console.log stay on the test output. */
export function routeCryptoConsoleToSdkLog() {
  for (const methodName of ["debug", "info", "warn", "trace"]) {
    console[methodName] = (...args) => {
      sdkLogSink?.write(`${new Date().toISOString()} console.${methodName} ${args.map(logArg).join(" ")}\n`);
    };
  }
}
