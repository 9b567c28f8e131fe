// test_chat.test.mjs: stock matrix-js-sdk clients chat through chappe.
//
// One server for the file (started in `before`, checked by the last test:
// SIGTERM must give exit code 0 and no sanitizer report). Every awaited
// step is bounded by step(), so a hang names the step; every test is
// bounded at 60 s by the runner. Each js-sdk client is stopped in a
// `finally`, and any unhandled promise rejection fails the test it
// happened in.
//
// The request log of the js-sdk clients (method, path, status) is printed
// as diagnostics at the end; run with CHAPPE_JS_KEEP_LOGS=1 to keep the
// server's stderr and js-sdk's own log (js-sdk.log) after a failure.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  api,
  assertNoRejections,
  binaryMissing,
  exitWhenTestsDone,
  makeClient,
  messageFrom,
  nextInvite,
  nextMembership,
  nextTimelineEvent,
  registerUser,
  sdk,
  startAndSync,
  startServer,
  step,
  stopAll,
} from "./harness.mjs";

// Each test skips (and is counted as skipped) when there is no binary.
const TEST_OPTS = { timeout: 60000, skip: binaryMissing() };
const STEP_MS = 15000;

exitWhenTestsDone();

describe("matrix-js-sdk 37.5.0 against chappe", () => {
  let server;
  let alice;
  let bob;

  before(async () => {
    if (TEST_OPTS.skip) return;
    server = await startServer();
    alice = await registerUser(server, "alice");
    bob = await registerUser(server, "bob");
  });

  after(async () => {
    // Only reached with a live server if the shutdown test did not run.
    if (server?.proc) await server.stop();
  });

  test("two js-sdk clients join a room and receive each other's messages", TEST_OPTS, async () => {
    const a = makeClient(server, alice, "alice");
    const b = makeClient(server, bob, "bob");
    try {
      await startAndSync(a, "alice");
      await startAndSync(b, "bob");

      const invited = nextInvite(b);
      // Private chat: bob can only get in through alice's invite, so the
      // invite path of /sync and /join is exercised, not just public joins.
      const { room_id: roomId } = await step(
        a.createRoom({ preset: sdk.Preset.PrivateChat, name: "js-sdk chat", invite: [bob.userId] }),
        STEP_MS,
        "alice's createRoom",
      );
      assert.match(roomId, /^!/, "createRoom returns a room ID");

      const invitedTo = await step(invited, STEP_MS, "bob's client to see the invite via /sync");
      assert.equal(invitedTo, roomId, "bob is invited to alice's new room");
      const aliceSeesJoin = nextMembership(a, roomId, bob.userId, "join");
      await step(b.joinRoom(roomId), STEP_MS, "bob's joinRoom");
      await step(aliceSeesJoin, STEP_MS, "alice's client to see bob's join in Room.timeline");

      const bobGets = nextTimelineEvent(b, roomId, messageFrom(alice.userId, "hello bob"));
      const sentA = await step(a.sendTextMessage(roomId, "hello bob"), STEP_MS, "alice's sendTextMessage");
      const evA = await step(bobGets, STEP_MS, "bob's client to receive alice's message in Room.timeline");
      assert.equal(evA.getId(), sentA.event_id, "bob sees the event ID alice's send returned");
      assert.equal(evA.getRoomId(), roomId);

      const aliceGets = nextTimelineEvent(a, roomId, messageFrom(bob.userId, "hello alice"));
      const sentB = await step(b.sendTextMessage(roomId, "hello alice"), STEP_MS, "bob's sendTextMessage");
      const evB = await step(aliceGets, STEP_MS, "alice's client to receive bob's message in Room.timeline");
      assert.equal(evB.getId(), sentB.event_id, "alice sees the event ID bob's send returned");

      // Both clients' room models agree on membership after the exchange.
      for (const [c, who] of [[a, "alice"], [b, "bob"]]) {
        const room = c.getRoom(roomId);
        assert.ok(room, `${who}'s client knows the room`);
        assert.deepEqual(
          room.getJoinedMembers().map((m) => m.userId).sort(),
          [alice.userId, bob.userId].sort(),
          `${who}'s client sees both as joined`,
        );
      }
    } finally {
      await stopAll([a, b]);
    }
    assertNoRejections("the chat test");
  });

  test("a message sent with raw HTTP reaches a js-sdk client", TEST_OPTS, async () => {
    const carol = await registerUser(server, "carol");
    const a = makeClient(server, alice, "alice");
    try {
      await startAndSync(a, "alice");
      const { room_id: roomId } = await step(
        a.createRoom({ preset: sdk.Preset.PrivateChat, invite: [carol.userId] }),
        STEP_MS,
        "alice's createRoom",
      );

      // Carol speaks only raw client-server API (fetch): join, then
      // PUT /rooms/{roomId}/send/{eventType}/{txnId}.
      const aliceSeesJoin = nextMembership(a, roomId, carol.userId, "join");
      const rid = encodeURIComponent(roomId);
      const join = await api(server, "POST", `rooms/${rid}/join`, { body: {}, token: carol.accessToken });
      assert.equal(join.status, 200, `carol's raw join: ${join.text}`);
      assert.equal(join.json.room_id, roomId);
      await step(aliceSeesJoin, STEP_MS, "alice's client to see carol's raw join in Room.timeline");

      const aliceGets = nextTimelineEvent(a, roomId, messageFrom(carol.userId, "sent with fetch"));
      const send = await api(server, "PUT", `rooms/${rid}/send/m.room.message/raw-txn-1`, {
        body: { msgtype: "m.text", body: "sent with fetch" },
        token: carol.accessToken,
      });
      assert.equal(send.status, 200, `carol's raw send: ${send.text}`);
      assert.match(send.json.event_id, /^\$/, "send returns an event ID");
      const ev = await step(aliceGets, STEP_MS, "alice's client to receive carol's raw message in Room.timeline");
      assert.equal(ev.getId(), send.json.event_id);
      assert.equal(ev.getContent().msgtype, "m.text");
    } finally {
      await stopAll([a]);
    }
    assertNoRejections("the raw HTTP test");
  });

  test("server exits 0 on SIGTERM with no sanitizer report", TEST_OPTS, async (t) => {
    // What js-sdk asked for and what did not succeed: the list of server
    // features stock clients still miss.
    for (const line of server.requestSummary()) t.diagnostic(`js-sdk request: ${line}`);
    for (const r of server.failedRequests()) {
      t.diagnostic(`js-sdk request failed: ${r.who} ${r.method} ${r.path} -> ${r.status}`);
    }

    const problems = await server.stop();
    assert.deepEqual(problems, [], "clean shutdown");
    assertNoRejections("shutdown");
  });
});
