// test_e2ee.test.mjs: end-to-end encryption through chappe with
// matrix-js-sdk 37.5.0 and its Rust crypto (matrix-sdk-crypto-wasm), and
// a matrix-nio 0.20 client on the other side.
//
// Spec: Client-Server API v1.19, modules/end_to_end_encryption.md
// ("Sharing keys between devices", "Tracking the device list for a user",
// "Server-side key backups", "Cross-signing", "Key verification
// framework", "Short Authentication String (SAS) verification"),
// modules/secrets.md ("Storage") and modules/send_to_device.md. The server
// only carries keys, signatures, account data and to-device messages;
// every test asserts what the clients make of them (plaintext decrypted,
// devices trusted) plus the wire facts the spec puts on the server.
//
// The nio side is a small Python program (NIO_PEER below) run with
// Debian's /usr/bin/python3, driven over stdin/stdout one JSON line per
// command. It reuses tests/e2e/test_e2ee_nio.py's helpers, so nio is driven
// exactly as in the Python suite.
//
// Client behaviour that needs a hand (not server bugs):
// - Rust crypto keeps its store in IndexedDB, which Node lacks:
//   fake-indexeddb/auto installs one before the sdk loads. js-sdk gives
//   that store the same name for every client of a process, and two
//   clients on one store corrupt it (initRustCrypto's own warning), so each
//   client gets its own IDBFactory, set as the global indexedDB just
//   before its initRustCrypto (the store is opened there and kept).
// - The wasm crypto logs at DEBUG straight to console.*: routed to
//   js-sdk.log (harness routeCryptoConsoleToSdkLog).
// - A received encrypted event is decrypted asynchronously and, when its
//   key comes later, again: decryptedText() waits for a clear event.

import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  CryptoEvent,
  CrossSigningKey,
  VerificationPhase,
  VerificationRequestEvent,
  VerifierEvent,
} from "matrix-js-sdk/lib/crypto-api/index.js";

import {
  PASSWORD,
  api,
  assertNoRejections,
  binaryMissing,
  exitWhenTestsDone,
  makeClient,
  nextMembership,
  nextTimelineEvent,
  registerUser,
  routeCryptoConsoleToSdkLog,
  sdk,
  startAndSync,
  startServer,
  step,
  stopAll,
  uniqueName,
} from "./harness.mjs";

const TEST_OPTS = { timeout: 120000, skip: binaryMissing() };
const STEP_MS = 20000;
const MEGOLM = "m.megolm.v1.aes-sha2";
const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "e2e");

exitWhenTestsDone();
routeCryptoConsoleToSdkLog();

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---- the nio peer -----------------------------------------------------------

const NIO_PEER = String.raw`
import asyncio, json, pathlib, sys, types
sys.path.insert(0, sys.argv[1])
import nio
import test_e2ee_nio as e2ee

async def main():
    server = types.SimpleNamespace(url=sys.argv[2])
    tmp = pathlib.Path(sys.argv[3])
    loop = asyncio.get_running_loop()
    client = None
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        req = json.loads(line)
        cmd = req["cmd"]
        try:
            if cmd == "register":
                client = await e2ee.new_user(server, tmp, req["prefix"])
                out = {"user_id": client.user_id, "device_id": client.device_id,
                       "ed25519": e2ee.ed25519_of(client),
                       "curve25519": e2ee.curve25519_of(client)}
            elif cmd == "login":
                client = await e2ee.new_device(server, tmp, req["user_id"], req["device_name"])
                out = {"user_id": client.user_id, "device_id": client.device_id,
                       "ed25519": e2ee.ed25519_of(client)}
            elif cmd == "join":
                for _ in range(20):
                    await e2ee.tick(client)
                    if req["room"] in client.invited_rooms:
                        break
                resp = await client.join(req["room"])
                assert isinstance(resp, nio.JoinResponse), resp
                await e2ee.tick(client)
                out = {}
            elif cmd == "rotate":
                client.invalidate_outbound_session(req["room"])
                out = {}
            elif cmd == "tick":
                await e2ee.tick(client)
                out = {}
            elif cmd == "send":
                out = {"event_id": await e2ee.send(client, req["room"], req["body"])}
            elif cmd == "read":
                bodies, failed = await e2ee.read_until(client, req["room"], req["want"],
                                                       rounds=req.get("rounds", 12))
                out = {"bodies": bodies, "failed": failed}
            elif cmd == "devices":
                await e2ee.tick(client)
                devs = client.device_store[req["user"]]
                out = {d: {"ed25519": devs[d].ed25519} for d in devs}
            elif cmd == "close":
                await client.close()
                print(json.dumps({}), flush=True)
                break
            else:
                raise ValueError("unknown command " + cmd)
        except Exception as exc:
            out = {"error": repr(exc)}
        print(json.dumps(out), flush=True)

asyncio.run(main())
`;

/** A matrix-nio client in a Python child process. call() sends one command
 *  and resolves with its JSON answer (an {error} answer rejects). */
let peerCount = 0;

class NioPeer {
  constructor(server) {
    peerCount += 1;
    this.log = createWriteStream(join(server.workdir, `nio-peer-${peerCount}.log`));
    this.proc = spawn("/usr/bin/python3", ["-c", NIO_PEER, E2E_DIR, server.url, server.workdir], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.proc.stderr.pipe(this.log);
    this.waiting = [];
    this.exited = new Promise((ok) => this.proc.once("exit", (code) => ok(code)));
    createInterface({ input: this.proc.stdout }).on("line", (line) => {
      const next = this.waiting.shift();
      if (next) next(line);
    });
  }

  async call(cmd, args = {}, ms = STEP_MS) {
    const answer = new Promise((ok) => this.waiting.push(ok));
    this.proc.stdin.write(`${JSON.stringify({ cmd, ...args })}\n`);
    const line = await step(
      Promise.race([answer, this.exited.then((code) => { throw new Error(`nio peer exited (${code})`); })]),
      ms,
      `the nio peer's answer to ${cmd}`,
    );
    const out = JSON.parse(line);
    if (out.error) throw new Error(`nio peer ${cmd}: ${out.error}`);
    return out;
  }

  async close() {
    if (this.proc.exitCode === null) {
      await this.call("close").catch(() => {});
      this.proc.stdin.end();
      await step(this.exited, 10000, "the nio peer to exit").catch(() => this.proc.kill("SIGKILL"));
    }
    await new Promise((ok) => this.log.end(ok));
  }
}

// ---- js-sdk helpers ---------------------------------------------------------

/** A js-sdk client with Rust crypto in an IndexedDB of its own (idb:
 *  give a previous client's to reopen its store), synced. extraOpts go to
 *  createClient (cryptoCallbacks). */
async function cryptoClient(server, user, who, extraOpts = {}, idb = new IDBFactory()) {
  const client = makeClient(server, user, who, extraOpts);
  globalThis.indexedDB = idb;
  await step(client.initRustCrypto(), STEP_MS, `${who}'s initRustCrypto`);
  await startAndSync(client, who);
  return client;
}

/** Another device of userId: password login (m.id.user). */
async function loginDevice(server, userId) {
  const r = await api(server, "POST", "login", {
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password: PASSWORD },
  });
  assert.equal(r.status, 200, `login ${userId}: ${r.text}`);
  return { userId: r.json.user_id, accessToken: r.json.access_token, deviceId: r.json.device_id };
}

/** Resolves with the clear text of an encrypted event once decrypted;
 *  rejects if it is still a decryption failure after ms. */
function decryptedText(client, ev, ms = STEP_MS) {
  const clear = () => !ev.isBeingDecrypted() && !ev.isDecryptionFailure() && ev.getType() !== "m.room.encrypted";
  if (clear()) return Promise.resolve(ev.getContent().body);
  const done = new Promise((ok) => {
    const onDecrypted = () => {
      if (clear()) {
        ev.off(sdk.MatrixEventEvent.Decrypted, onDecrypted);
        ok(ev.getContent().body);
      }
    };
    ev.on(sdk.MatrixEventEvent.Decrypted, onDecrypted);
  });
  return step(done, ms, `decryption of ${ev.getId()} (last failure: ${ev.decryptionFailureReason ?? "none"})`);
}

const encryptedFrom = (sender) => (ev) => ev.getSender() === sender && ev.getWireType() === "m.room.encrypted";

/** Poll an async predicate until it is true (bounded). */
async function eventually(what, probe, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last === true) return;
    await sleep(200);
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** authUploadDeviceSigningKeys for POST /keys/device_signing/upload,
 *  which "uses the User-Interactive Authentication API" except when no
 *  master key exists yet or the same keys are uploaded again
 *  (cross_signing.yaml, changed in v1.11). It first tries without auth;
 *  on 401 it completes m.login.password in the session it was given.
 *  Pushes "no auth" or "password" to log. */
function passwordUia(userId, log = []) {
  return async (makeRequest) => {
    let session;
    try {
      await makeRequest(null);
      log.push("no auth");
      return;
    } catch (e) {
      assert.equal(e.httpStatus, 401, `device_signing/upload without auth: ${e}`);
      session = e.data?.session;
      assert.ok(session, "the 401 carries a UIA session");
      const flows = (e.data.flows ?? []).map((f) => f.stages.join(","));
      assert.ok(flows.includes("m.login.password"), `flows offered: ${flows}`);
    }
    await makeRequest({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: userId },
      password: PASSWORD,
      session,
    });
    log.push("password");
  };
}

async function queryKeys(server, token, userId) {
  const r = await api(server, "POST", "keys/query", { body: { device_keys: { [userId]: [] } }, token });
  assert.equal(r.status, 200, `keys/query: ${r.text}`);
  return r.json;
}

// ---- tests ------------------------------------------------------------------

describe("end-to-end encryption: matrix-js-sdk Rust crypto and matrix-nio", () => {
  let server;

  before(async () => {
    if (TEST_OPTS.skip) return;
    server = await startServer();
  });

  after(async () => {
    if (server?.proc) await server.stop();
  });

  test("a js-sdk client and a nio client exchange encrypted messages both ways", TEST_OPTS, async () => {
    const alice = await registerUser(server, uniqueName("alice"));
    const nioBob = new NioPeer(server);
    const nioBob2 = new NioPeer(server);
    let a;
    try {
      const bob = await nioBob.call("register", { prefix: "bob" });
      a = await cryptoClient(server, alice, "alice");
      assert.match(a.getCrypto().getVersion(), /^Rust SDK/);

      const { room_id: roomId } = await step(
        a.createRoom({
          preset: sdk.Preset.PrivateChat,
          invite: [bob.user_id],
          initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: MEGOLM } }],
        }),
        STEP_MS,
        "alice's createRoom",
      );
      const bobJoined = nextMembership(a, roomId, bob.user_id, "join");
      await nioBob.call("join", { room: roomId });
      await step(bobJoined, STEP_MS, "alice to see the nio client join");
      assert.equal(await a.getCrypto().isEncryptionEnabledInRoom(roomId), true);

      // js-sdk -> nio: Rust crypto queries bob's keys, claims a one-time
      // key, sends the room key over Olm, then the megolm event
      const toBob = ["js to nio 1", "js to nio 2"];
      for (const body of toBob) await step(a.sendTextMessage(roomId, body), STEP_MS, "alice's send");
      const read = await nioBob.call("read", { room: roomId, want: toBob });
      assert.deepEqual(read.bodies.filter((b) => toBob.includes(b)), toBob, `nio decrypted ${read.bodies}`);
      assert.equal(read.failed, 0, "nio could decrypt every event");

      // nio -> js-sdk: the key arrives over to-device, the event is decrypted
      for (const body of ["nio to js 1", "nio to js 2"]) {
        const arrives = nextTimelineEvent(a, roomId, encryptedFrom(bob.user_id));
        const { event_id: eventId } = await nioBob.call("send", { room: roomId, body });
        const ev = await step(arrives, STEP_MS, "alice to receive the nio message");
        assert.equal(ev.getId(), eventId);
        assert.equal(await decryptedText(a, ev), body);
        // the Olm-authenticated sender key is bob's device's
        assert.equal(ev.getSenderKey(), bob.curve25519);
      }

      // bob's device as js-sdk knows it: the keys the nio client holds
      const devices = await a.getCrypto().getUserDeviceInfo([bob.user_id]);
      const bobDevice = devices.get(bob.user_id)?.get(bob.device_id);
      assert.ok(bobDevice, "alice's crypto knows bob's device");
      assert.equal(bobDevice.getFingerprint(), bob.ed25519);

      // bob signs in on a second nio device: alice's client learns it from
      // /sync device_lists.changed ("Tracking the device list for a
      // user"), and what she sends next reaches both devices
      const bobLaptop = await nioBob2.call("login", { user_id: bob.user_id, device_name: "laptop" });
      await eventually("alice's client to learn of bob's second device", async () => {
        const d = await a.getCrypto().getUserDeviceInfo([bob.user_id]);
        return d.get(bob.user_id)?.get(bobLaptop.device_id)?.getFingerprint() === bobLaptop.ed25519;
      });
      await nioBob2.call("tick");
      await step(a.sendTextMessage(roomId, "to both of bob's devices"), STEP_MS, "alice's send");
      for (const [peer, who] of [[nioBob, "first"], [nioBob2, "second"]]) {
        const got = await peer.call("read", { room: roomId, want: ["to both of bob's devices"] });
        assert.ok(got.bodies.includes("to both of bob's devices"), `bob's ${who} device decrypted ${got.bodies}`);
      }

      // the server stored ciphertext only
      const msgs = await api(server, "GET", `rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, {
        token: alice.accessToken,
      });
      assert.equal(msgs.status, 200, msgs.text);
      const types = msgs.json.chunk.map((e) => e.type);
      assert.equal(types.filter((t) => t === "m.room.encrypted").length, 5, `types: ${types}`);
      assert.ok(!types.includes("m.room.message"), `types: ${types}`);
      assert.ok(!msgs.text.includes("nio to js") && !msgs.text.includes("js to nio"), "no plaintext on the server");
    } finally {
      if (a) await stopAll([a]);
      await nioBob.close();
      await nioBob2.close();
    }
    assertNoRejections("the js-sdk/nio exchange");
  });

  test("js-sdk key backup: uploaded by one device, restored on a new one that then decrypts history", TEST_OPTS, async () => {
    // "Server-side key backups" with m.megolm_backup.v1.curve25519-aes-sha2,
    // entirely as js-sdk's Rust crypto does it: it creates the version,
    // uploads its room keys in the background, and a new device restores
    // them with the backup decryption key
    const alice = await registerUser(server, uniqueName("alice"));
    const nioBob = new NioPeer(server);
    const clients = [];
    try {
      const bob = await nioBob.call("register", { prefix: "bob" });
      const a1 = await cryptoClient(server, alice, "alice-1");
      clients.push(a1);
      const { room_id: roomId } = await a1.createRoom({
        preset: sdk.Preset.PrivateChat,
        invite: [bob.user_id],
        initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: MEGOLM } }],
      });
      const bobJoined = nextMembership(a1, roomId, bob.user_id, "join");
      await nioBob.call("join", { room: roomId });
      await step(bobJoined, STEP_MS, "alice to see the nio client join");
      await a1.sendTextMessage(roomId, "history from alice");
      const arrives = nextTimelineEvent(a1, roomId, encryptedFrom(bob.user_id));
      await nioBob.call("send", { room: roomId, body: "history from bob" });
      assert.equal(await decryptedText(a1, await step(arrives, STEP_MS, "bob's message")), "history from bob");

      const crypto = a1.getCrypto();
      await step(crypto.resetKeyBackup(), STEP_MS, "resetKeyBackup");
      // resetKeyBackup returns once the version is created; the client
      // enables it after reading it back with GET /room_keys/version
      let version = null;
      await eventually("the new backup to become active", async () => {
        version = await crypto.getActiveSessionBackupVersion();
        return version !== null;
      });
      // the upload runs in the background after a random delay (<= 10 s)
      let info;
      await eventually("both room keys in the backup", async () => {
        info = (await api(server, "GET", "room_keys/version", { token: alice.accessToken })).json;
        return info?.count === 2 ? true : info;
      }, 30000);
      assert.equal(info.version, version);
      assert.equal(info.algorithm, "m.megolm_backup.v1.curve25519-aes-sha2");
      assert.ok(info.auth_data.signatures[alice.userId][`ed25519:${alice.deviceId}`], "auth_data signed by the device");
      const keys = await api(server, "GET", `room_keys/keys?version=${encodeURIComponent(version)}`, { token: alice.accessToken });
      const sessions = keys.json.rooms[roomId].sessions;
      assert.equal(Object.keys(sessions).length, 2);
      for (const s of Object.values(sessions)) {
        assert.deepEqual(Object.keys(s.session_data).sort(), ["ciphertext", "ephemeral", "mac"]);
      }
      assert.ok(!keys.text.includes("session_key"), "only ciphertext on the server");
      const backupKey = await crypto.getSessionBackupPrivateKey();
      assert.ok(backupKey instanceof Uint8Array && backupKey.length === 32);

      // a new device: the history is there but unreadable ...
      const alice2 = await loginDevice(server, alice.userId);
      const a2 = await cryptoClient(server, alice2, "alice-2");
      clients.push(a2);
      const history = a2.getRoom(roomId).getLiveTimeline().getEvents()
        .filter((ev) => ev.getWireType() === "m.room.encrypted");
      assert.equal(history.length, 2, "both old messages in the new device's timeline");
      for (const ev of history) {
        await a2.decryptEventIfNeeded(ev);
        assert.equal(ev.isDecryptionFailure(), true, "no key yet on the new device");
      }
      // ... until it restores the backup with the key the user gives it
      await a2.getCrypto().storeSessionBackupPrivateKey(backupKey, version);
      const restored = await step(a2.getCrypto().restoreKeyBackup(), STEP_MS, "restoreKeyBackup");
      assert.deepEqual([restored.total, restored.imported], [2, 2]);
      const texts = await Promise.all(history.map((ev) => decryptedText(a2, ev)));
      assert.deepEqual(texts, ["history from alice", "history from bob"]);
    } finally {
      await stopAll(clients);
      await nioBob.close();
    }
    assertNoRejections("the key backup test");
  });

  test("cross-signing: first upload without UIA, keys served to others, devices cross-signed, replacement behind UIA", TEST_OPTS, async () => {
    const alice = await registerUser(server, uniqueName("alice"));
    const bob = await registerUser(server, uniqueName("bob"));
    const clients = [];
    try {
      const a = await cryptoClient(server, alice, "alice");
      clients.push(a);
      const crypto = a.getCrypto();
      assert.equal(await crypto.isCrossSigningReady(), false, "nothing set up yet");

      // "Cross-signing": POST /keys/device_signing/upload (behind UIA),
      // then the device's signature by the self-signing key through
      // POST /keys/signatures/upload
      const uia = [];
      await step(
        crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(alice.userId, uia) }),
        STEP_MS,
        "bootstrapCrossSigning",
      );
      assert.deepEqual(uia, ["no auth"], "the first upload of a master key needs no UIA");
      const status = await crypto.getCrossSigningStatus();
      assert.deepEqual(status.privateKeysCachedLocally, { masterKey: true, selfSigningKey: true, userSigningKey: true });
      assert.equal(status.publicKeysOnDevice, true, "the server's /keys/query returned the public keys");
      await eventually("alice's device to be cross-signed", async () =>
        (await crypto.getDeviceVerificationStatus(alice.userId, alice.deviceId))?.crossSigningVerified === true);
      assert.equal(await crypto.isCrossSigningReady(), true);

      // what another user gets from /keys/query (they share a room)
      const { room_id: roomId } = await a.createRoom({ preset: sdk.Preset.TrustedPrivateChat, invite: [bob.userId] });
      const join = await api(server, "POST", `rooms/${encodeURIComponent(roomId)}/join`, { body: {}, token: bob.accessToken });
      assert.equal(join.status, 200, join.text);
      const master = await crypto.getCrossSigningKeyId(CrossSigningKey.Master);
      const ssk = await crypto.getCrossSigningKeyId(CrossSigningKey.SelfSigning);
      const usk = await crypto.getCrossSigningKeyId(CrossSigningKey.UserSigning);
      const seen = await queryKeys(server, bob.accessToken, alice.userId);
      assert.deepEqual(seen.master_keys?.[alice.userId]?.keys, { [`ed25519:${master}`]: master });
      assert.deepEqual(seen.master_keys[alice.userId].usage, ["master"]);
      assert.deepEqual(seen.self_signing_keys?.[alice.userId]?.keys, { [`ed25519:${ssk}`]: ssk });
      // the self-signing key is signed by the master key
      assert.ok(seen.self_signing_keys[alice.userId].signatures[alice.userId][`ed25519:${master}`]);
      // the device carries the self-signing key's signature
      const dev = seen.device_keys[alice.userId][alice.deviceId];
      assert.ok(dev.signatures[alice.userId][`ed25519:${ssk}`], `device signatures: ${JSON.stringify(dev.signatures)}`);
      // "user_signing_keys": only for the user's own query
      assert.equal(seen.user_signing_keys?.[alice.userId], undefined, "bob must not get alice's user-signing key");
      const own = await queryKeys(server, alice.accessToken, alice.userId);
      assert.deepEqual(own.user_signing_keys?.[alice.userId]?.keys, { [`ed25519:${usk}`]: usk });

      // a second device of alice's, signed by the first (crossSignDevice)
      const alice2 = await loginDevice(server, alice.userId);
      const a2 = await cryptoClient(server, alice2, "alice-2");
      clients.push(a2);
      await eventually("the first device to see the second", async () => {
        const d = await crypto.getUserDeviceInfo([alice.userId], true);
        return d.get(alice.userId)?.has(alice2.deviceId) === true;
      });
      assert.equal((await crypto.getDeviceVerificationStatus(alice.userId, alice2.deviceId)).crossSigningVerified, false);
      await step(crypto.crossSignDevice(alice2.deviceId), STEP_MS, "crossSignDevice");
      await eventually("the second device to be cross-signed", async () =>
        (await crypto.getDeviceVerificationStatus(alice.userId, alice2.deviceId))?.crossSigningVerified === true);
      const after = await queryKeys(server, bob.accessToken, alice.userId);
      assert.ok(after.device_keys[alice.userId][alice2.deviceId].signatures[alice.userId][`ed25519:${ssk}`],
        "the second device's keys carry the new signature for other users too");

      // bootstrapping again changes nothing ("If everything is already set up, then no changes are made")
      const before = server.requests.filter((r) => r.path.endsWith("/keys/device_signing/upload")).length;
      await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(alice.userId) });
      assert.equal(server.requests.filter((r) => r.path.endsWith("/keys/device_signing/upload")).length, before);

      // replacing the identity: new keys MUST go through UIA, and then
      // every user gets the new master key from /keys/query
      const reset = [];
      await step(
        crypto.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: passwordUia(alice.userId, reset) }),
        STEP_MS,
        "bootstrapCrossSigning with new keys",
      );
      assert.deepEqual(reset, ["password"], "new keys over existing ones need UIA");
      const master2 = await crypto.getCrossSigningKeyId(CrossSigningKey.Master);
      assert.notEqual(master2, master);
      const replaced = await queryKeys(server, bob.accessToken, alice.userId);
      assert.deepEqual(replaced.master_keys[alice.userId].keys, { [`ed25519:${master2}`]: master2 });
      await eventually("alice's device cross-signed by the new identity", async () =>
        (await crypto.getDeviceVerificationStatus(alice.userId, alice.deviceId))?.crossSigningVerified === true);
    } finally {
      await stopAll(clients);
    }
    assertNoRejections("the cross-signing test");
  });

  test("secret storage: a new device unlocks cross-signing and the key backup with the recovery key", TEST_OPTS, async () => {
    // modules/secrets.md, "Storage": secrets encrypted with
    // m.secret_storage.v1.aes-hmac-sha2 in global account data. The
    // server only stores account data; a new device that the user gives
    // the recovery key must find everything there and become a trusted,
    // cross-signed device that can read the backup: what Element calls
    // "verify with Security Key".
    const alice = await registerUser(server, uniqueName("alice"));
    let recoveryKey = null;
    const cryptoCallbacks = {
      getSecretStorageKey: async ({ keys }) => [Object.keys(keys)[0], recoveryKey.privateKey],
    };
    const clients = [];
    const token = alice.accessToken;
    const accountData = async (type) =>
      api(server, "GET", `user/${encodeURIComponent(alice.userId)}/account_data/${type}`, { token });
    try {
      const a1 = await cryptoClient(server, alice, "alice-1", { cryptoCallbacks });
      clients.push(a1);
      const c1 = a1.getCrypto();
      await step(c1.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(alice.userId) }),
        STEP_MS, "bootstrapCrossSigning");
      recoveryKey = await c1.createRecoveryKeyFromPassphrase();
      await step(c1.bootstrapSecretStorage({
        createSecretStorageKey: async () => recoveryKey,
        setupNewSecretStorage: true,
        setupNewKeyBackup: true,
      }), STEP_MS, "bootstrapSecretStorage");
      assert.equal(await c1.isSecretStorageReady(), true);

      // what the server keeps: the default key's ID, its description and
      // each secret as {encrypted: {keyId: {iv, ciphertext, mac}}}
      const def = await accountData("m.secret_storage.default_key");
      assert.equal(def.status, 200, def.text);
      const keyId = def.json.key;
      const desc = await accountData(`m.secret_storage.key.${keyId}`);
      assert.equal(desc.json?.algorithm, "m.secret_storage.v1.aes-hmac-sha2", desc.text);
      for (const name of ["m.cross_signing.master", "m.cross_signing.self_signing",
        "m.cross_signing.user_signing", "m.megolm_backup.v1"]) {
        const secret = await accountData(name);
        assert.equal(secret.status, 200, `${name}: ${secret.text}`);
        assert.deepEqual(Object.keys(secret.json.encrypted[keyId]).sort(), ["ciphertext", "iv", "mac"], name);
      }

      // something to find in the backup: a note in an encrypted room
      const { room_id: roomId } = await a1.createRoom({
        preset: sdk.Preset.PrivateChat,
        initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: MEGOLM } }],
      });
      await eventually("alice's client to know the room is encrypted", async () =>
        (await c1.isEncryptionEnabledInRoom(roomId)) === true);
      await step(a1.sendTextMessage(roomId, "note to self"), STEP_MS, "alice's send");
      await eventually("the note's key in the backup", async () =>
        (await api(server, "GET", "room_keys/version", { token })).json?.count === 1, 30000);

      // the new device, given the recovery key
      const alice2 = await loginDevice(server, alice.userId);
      const a2 = await cryptoClient(server, alice2, "alice-2", { cryptoCallbacks });
      clients.push(a2);
      const c2 = a2.getCrypto();
      assert.equal(await c2.isCrossSigningReady(), false, "not before the recovery key is used");
      const uploadsBefore = server.requests.filter((r) => r.path.endsWith("/keys/device_signing/upload")).length;
      await step(c2.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(alice.userId) }),
        STEP_MS, "the new device's bootstrapCrossSigning");
      assert.equal(server.requests.filter((r) => r.path.endsWith("/keys/device_signing/upload")).length,
        uploadsBefore, "the keys came from secret storage: no new identity uploaded");
      assert.equal(await c2.getCrossSigningKeyId(), await c1.getCrossSigningKeyId());
      await eventually("the new device to be cross-signing ready", async () => (await c2.isCrossSigningReady()) === true);
      for (const [c, who] of [[c1, "first"], [c2, "new"]]) {
        await eventually(`the ${who} device to see the new device cross-signed`, async () =>
          (await c.getDeviceVerificationStatus(alice.userId, alice2.deviceId))?.crossSigningVerified === true);
      }

      // and the backup key from secret storage reads the history
      await c2.loadSessionBackupPrivateKeyFromSecretStorage();
      await c2.checkKeyBackupAndEnable();
      const restored = await step(c2.restoreKeyBackup(), STEP_MS, "restoreKeyBackup");
      assert.equal(restored.imported, 1);
      const note = a2.getRoom(roomId).getLiveTimeline().getEvents()
        .find((ev) => ev.getWireType() === "m.room.encrypted");
      assert.ok(note, "the note is in the new device's timeline");
      assert.equal(await decryptedText(a2, note), "note to self");
    } finally {
      await stopAll(clients);
    }
    assertNoRejections("the secret storage test");
  });

  test("SAS verification between two devices over to-device messages", TEST_OPTS, async () => {
    const alice = await registerUser(server, uniqueName("alice"));
    const clients = [];
    try {
      const a1 = await cryptoClient(server, alice, "alice-1");
      clients.push(a1);
      await a1.getCrypto().bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(alice.userId) });
      const alice2 = await loginDevice(server, alice.userId);
      const a2 = await cryptoClient(server, alice2, "alice-2");
      clients.push(a2);
      await eventually("the devices to know each other", async () => {
        const d1 = await a1.getCrypto().getUserDeviceInfo([alice.userId], true);
        const d2 = await a2.getCrypto().getUserDeviceInfo([alice.userId], true);
        return d1.get(alice.userId)?.has(alice2.deviceId) === true && d2.get(alice.userId)?.has(alice.deviceId) === true;
      });
      assert.equal(await a2.getCrypto().isCrossSigningReady(), false, "the new device does not trust the identity yet");

      // "Key verification framework": m.key.verification.request/ready/
      // start/accept/key/mac/done, all as to-device messages
      const received = new Promise((ok) => a1.once(CryptoEvent.VerificationRequestReceived, ok));
      const request2 = await a2.getCrypto().requestOwnUserVerification();
      const request1 = await step(received, STEP_MS, "the first device to receive the verification request");
      assert.equal(request1.otherDeviceId, alice2.deviceId);
      await request1.accept();
      await waitPhase(request2, VerificationPhase.Ready, "ready");
      const verifier2 = await request2.startVerification("m.sas.v1");
      await waitPhase(request1, VerificationPhase.Started, "started");
      const verifier1 = request1.verifier;
      assert.ok(verifier1, "the first device has a verifier once started");

      // both sides show the same emoji/decimals only if every key and
      // commitment crossed the server unchanged
      const shown = [];
      for (const v of [verifier1, verifier2]) {
        v.on(VerifierEvent.ShowSas, (sas) => {
          shown.push(sas.sas.decimal);
          sas.confirm();
        });
      }
      await step(Promise.all([verifier1.verify(), verifier2.verify()]), STEP_MS, "both SAS verifiers to finish");
      assert.equal(shown.length, 2);
      assert.deepEqual(shown[0], shown[1], "the same short authentication string on both devices");
      await waitPhase(request1, VerificationPhase.Done, "done");
      await waitPhase(request2, VerificationPhase.Done, "done");

      // the first device signed the second with its self-signing key, the
      // second now trusts the identity: both see the second cross-signed
      for (const [c, who] of [[a1, "first"], [a2, "second"]]) {
        await eventually(`the ${who} device to see the second device cross-signed`, async () =>
          (await c.getCrypto().getDeviceVerificationStatus(alice.userId, alice2.deviceId))?.crossSigningVerified === true);
      }
      const s2 = await a2.getCrypto().getDeviceVerificationStatus(alice.userId, alice.deviceId);
      assert.equal(s2.crossSigningVerified, true, "the second device trusts the first through cross-signing");
      assert.equal(s2.localVerified, true, "and has verified it itself");
    } finally {
      await stopAll(clients);
    }
    assertNoRejections("the SAS verification test");
  });

  test("to-device messages and keys survive a SIGTERM restart; js-sdk keeps its crypto store", TEST_OPTS, async () => {
    // send_to_device.md: "Servers should store pending messages for local
    // users until they are successfully delivered to the destination
    // device". Alice's js-sdk client is closed; the nio client sends a new
    // room key and a message; the server restarts; Alice's client, opened
    // again on its IndexedDB, gets the key and reads the message, and her
    // device keys are the ones uploaded before.
    const alice = await registerUser(server, uniqueName("alice"));
    const nioBob = new NioPeer(server);
    const idb = new IDBFactory();
    let a = null;
    try {
      const bob = await nioBob.call("register", { prefix: "bob" });
      a = await cryptoClient(server, alice, "alice", {}, idb);
      const { room_id: roomId } = await a.createRoom({
        preset: sdk.Preset.PrivateChat,
        invite: [bob.user_id],
        initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: MEGOLM } }],
      });
      const bobJoined = nextMembership(a, roomId, bob.user_id, "join");
      await nioBob.call("join", { room: roomId });
      await step(bobJoined, STEP_MS, "alice to see the nio client join");
      await step(a.sendTextMessage(roomId, "before the restart"), STEP_MS, "alice's send");
      assert.ok((await nioBob.call("read", { room: roomId, want: ["before the restart"] })).bodies
        .includes("before the restart"));
      const ownKeys = await a.getCrypto().getOwnDeviceKeys();
      await stopAll([a]);
      a = null;

      await nioBob.call("rotate", { room: roomId });
      const { event_id: awayId } = await nioBob.call("send", { room: roomId, body: "sent while alice was away" });
      assert.deepEqual(await server.restart(), [], "clean SIGTERM before the restart");

      const q = await queryKeys(server, alice.accessToken, alice.userId);
      assert.deepEqual(q.device_keys[alice.userId][alice.deviceId].keys, {
        [`ed25519:${alice.deviceId}`]: ownKeys.ed25519,
        [`curve25519:${alice.deviceId}`]: ownKeys.curve25519,
      }, "the device keys uploaded before the restart");

      a = await cryptoClient(server, alice, "alice-again", {}, idb);
      assert.deepEqual(await a.getCrypto().getOwnDeviceKeys(), ownKeys, "the same device, from its store");
      const away = a.getRoom(roomId).getLiveTimeline().getEvents().find((ev) => ev.getId() === awayId);
      assert.ok(away, "the message is in the timeline");
      assert.equal(await decryptedText(a, away), "sent while alice was away");

      await step(a.sendTextMessage(roomId, "back after the restart"), STEP_MS, "alice's send");
      const read = await nioBob.call("read", { room: roomId, want: ["back after the restart"] });
      assert.ok(read.bodies.includes("back after the restart"), `nio read ${read.bodies}`);
      assert.equal(read.failed, 0);
    } finally {
      if (a) await stopAll([a]);
      await nioBob.close();
    }
    assertNoRejections("the restart test");
  });

  test("server exits 0 on SIGTERM with no sanitizer report", TEST_OPTS, async (t) => {
    for (const r of server.failedRequests()) {
      t.diagnostic(`js-sdk request failed: ${r.who} ${r.method} ${r.path} -> ${r.status}`);
    }
    const problems = await server.stop();
    assert.deepEqual(problems, []);
  });
});

function waitPhase(request, phase, what) {
  if (request.phase === phase) return Promise.resolve();
  const reached = new Promise((ok, fail) => {
    const onChange = () => {
      if (request.phase === phase) {
        request.off(VerificationRequestEvent.Change, onChange);
        ok();
      } else if (request.phase === VerificationPhase.Cancelled) {
        request.off(VerificationRequestEvent.Change, onChange);
        fail(new Error(`verification cancelled: ${JSON.stringify(request.cancellationCode)}`));
      }
    };
    request.on(VerificationRequestEvent.Change, onChange);
  });
  return step(reached, STEP_MS, `verification phase ${what}`);
}
