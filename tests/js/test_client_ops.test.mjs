// test_client_ops.test.mjs: what a chat client does besides sending text,
// done with stock matrix-js-sdk against chappe: scrollback, lazy-loaded
// members, typing, receipts, display names, redactions, room topics.
//
// Each test gets its own room and its own clients (stopped in `finally`),
// so one failure does not cascade. The last test checks a clean SIGTERM
// exit and prints the js-sdk request log (method, path template, status).
// Every awaited step is bounded by step() and names what it waited for.

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

const TEST_OPTS = { timeout: 60000, skip: binaryMissing() };
const STEP_MS = 15000;

exitWhenTestsDone();

// Resolves with the first emission of `event` on client for which
// match(...args) is true; the listener is removed then.
function nextEmit(client, event, match) {
  return new Promise((ok) => {
    const on = (...args) => {
      if (match(...args)) {
        client.off(event, on);
        ok(args);
      }
    };
    client.on(event, on);
  });
}

describe("matrix-js-sdk client operations against chappe", () => {
  let server;

  before(async () => {
    if (TEST_OPTS.skip) return;
    server = await startServer();
  });

  after(async () => {
    if (server?.proc) await server.stop();
  });

  // Two fresh users with running clients, in a private room alice created
  // and bob joined on invite. Both clients have seen bob's join.
  async function pair(t) {
    const alice = await registerUser(server);
    const bob = await registerUser(server);
    const a = makeClient(server, alice, `alice(${t.name.slice(0, 12)})`);
    const b = makeClient(server, bob, `bob(${t.name.slice(0, 12)})`);
    const clients = [a, b];
    try {
      await startAndSync(a, "alice");
      await startAndSync(b, "bob");
      const invited = nextInvite(b);
      const { room_id: roomId } = await step(
        a.createRoom({ preset: sdk.Preset.PrivateChat, invite: [bob.userId] }),
        STEP_MS,
        "alice's createRoom",
      );
      assert.equal(await step(invited, STEP_MS, "bob's invite"), roomId);
      const aSees = nextMembership(a, roomId, bob.userId, "join");
      const bSees = nextMembership(b, roomId, bob.userId, "join");
      await step(b.joinRoom(roomId), STEP_MS, "bob's joinRoom");
      await step(Promise.all([aSees, bSees]), STEP_MS, "both clients to see bob's join");
      return { alice, bob, a, b, roomId, clients };
    } catch (e) {
      await stopAll(clients);
      throw e;
    }
  }

  test("scrollback fetches history older than the initial sync (/messages)", TEST_OPTS, async () => {
    // Client-Server API, "Syncing": a limited timeline has a prev_batch
    // token; "Pagination" (GET /rooms/{roomId}/messages) walks back from it.
    const alice = await registerUser(server);
    const create = await api(server, "POST", "createRoom", { body: { preset: "private_chat" }, token: alice.accessToken });
    assert.equal(create.status, 200, create.text);
    const roomId = create.json.room_id;
    const rid = encodeURIComponent(roomId);
    const N = 25;
    for (let i = 0; i < N; i++) {
      const r = await api(server, "PUT", `rooms/${rid}/send/m.room.message/hist${i}`, {
        body: { msgtype: "m.text", body: `history ${i}` },
        token: alice.accessToken,
      });
      assert.equal(r.status, 200, `send ${i}: ${r.text}`);
    }

    const a = makeClient(server, alice, "alice(scrollback)");
    try {
      await startAndSync(a, "alice");
      const room = a.getRoom(roomId);
      assert.ok(room, "the room is in the initial sync");
      const bodies = () =>
        room.getLiveTimeline().getEvents()
          .filter((e) => e.getType() === sdk.EventType.RoomMessage)
          .map((e) => e.getContent().body);
      const initial = bodies();
      assert.ok(initial.length <= 10, `initialSyncLimit 10 gave ${initial.length} messages`);
      assert.equal(initial.at(-1), `history ${N - 1}`, "the newest message is in the initial sync");

      for (let page = 0; bodies().length < N; page++) {
        assert.ok(page < 10, `after 10 scrollbacks only ${bodies().length} of ${N} messages`);
        await step(a.scrollback(room, 10), STEP_MS, `scrollback page ${page}`);
      }
      assert.deepEqual(bodies(), Array.from({ length: N }, (_, i) => `history ${i}`), "all history, in order");
      // And the start of the room is reached: the create event is there.
      while (room.oldState.paginationToken !== null) {
        await step(a.scrollback(room, 50), STEP_MS, "scrollback to the room's creation");
        assert.ok(room.getLiveTimeline().getEvents().length < 200, "scrollback never reached the start");
      }
      assert.equal(room.getLiveTimeline().getEvents()[0].getType(), sdk.EventType.RoomCreate);
    } finally {
      await stopAll([a]);
    }
    assertNoRejections("scrollback");
  });

  test("lazy-loading members: summary, heroes, then /members fills the list", TEST_OPTS, async () => {
    // Client-Server API, "Lazy-loading room members": with lazy_load_members
    // the initial /sync carries only the members of timeline senders (and
    // the heroes, whose "membership events ... MUST be included in the
    // state"), m.joined_member_count gives the count, and the client calls
    // /members?at=... for the full list. js-sdk does all of this when
    // started with lazyLoadMembers, as Element is.
    const [alice, bob, carol] = [await registerUser(server), await registerUser(server), await registerUser(server)];
    const create = await api(server, "POST", "createRoom", { body: { preset: "public_chat" }, token: alice.accessToken });
    assert.equal(create.status, 200, create.text);
    const roomId = create.json.room_id;
    const rid = encodeURIComponent(roomId);
    let txn = 0;
    const say = async (user, body) => {
      const r = await api(server, "PUT", `rooms/${rid}/send/m.room.message/ll${txn++}`, {
        body: { msgtype: "m.text", body },
        token: user.accessToken,
      });
      assert.equal(r.status, 200, `send ${body}: ${r.text}`);
    };
    for (const u of [bob, carol]) {
      const j = await api(server, "POST", `rooms/${rid}/join`, { body: {}, token: u.accessToken });
      assert.equal(j.status, 200, `join: ${j.text}`);
      await say(u, `hi from ${u.userId}`);
    }
    // Push bob's and carol's messages out of alice's 10-event initial window.
    for (let i = 0; i < 12; i++) await say(alice, `alice ${i}`);

    const a = makeClient(server, alice, "alice(lazy)");
    try {
      await startAndSync(a, "alice", { lazyLoadMembers: true });
      const room = a.getRoom(roomId);
      assert.ok(room, "the room is in the initial sync");
      assert.equal(room.getJoinedMemberCount(), 3, "m.joined_member_count from the room summary");
      // No m.room.name: js-sdk names the room after the heroes.
      for (const u of [bob, carol]) {
        const localpart = u.userId.slice(1, u.userId.indexOf(":"));
        assert.ok(room.name.includes(localpart), `room name "${room.name}" names hero ${u.userId}`);
      }
      await step(room.loadMembersIfNeeded(), STEP_MS, "loadMembersIfNeeded (/members)");
      assert.deepEqual(
        room.getJoinedMembers().map((m) => m.userId).sort(),
        [alice.userId, bob.userId, carol.userId].sort(),
        "all three joined members after /members",
      );
    } finally {
      await stopAll([a]);
    }
    assertNoRejections("lazy-loading");
  });

  test("typing notifications reach the other client", TEST_OPTS, async (t) => {
    // Typing Notifications module: PUT /rooms/{roomId}/typing/{userId},
    // delivered as the m.typing ephemeral event in /sync.
    const { bob, a, b, roomId, clients } = await pair(t);
    try {
      const isTyping = (want) => (_ev, member) =>
        member.roomId === roomId && member.userId === bob.userId && member.typing === want;
      const started = nextEmit(a, sdk.RoomMemberEvent.Typing, isTyping(true));
      await step(b.sendTyping(roomId, true, 20000), STEP_MS, "bob's sendTyping(true)");
      await step(started, STEP_MS, "alice's client to see bob typing");
      const stopped = nextEmit(a, sdk.RoomMemberEvent.Typing, isTyping(false));
      await step(b.sendTyping(roomId, false, 0), STEP_MS, "bob's sendTyping(false)");
      await step(stopped, STEP_MS, "alice's client to see bob stop typing");
    } finally {
      await stopAll(clients);
    }
    assertNoRejections("typing");
  });

  test("read receipts reach the other client", TEST_OPTS, async (t) => {
    // Receipts module: POST /rooms/{roomId}/receipt/m.read/{eventId},
    // delivered as the m.receipt ephemeral event in /sync.
    const { alice, bob, a, b, roomId, clients } = await pair(t);
    try {
      const bobGets = nextTimelineEvent(b, roomId, messageFrom(alice.userId, "read me"));
      const sent = await step(a.sendTextMessage(roomId, "read me"), STEP_MS, "alice's send");
      const ev = await step(bobGets, STEP_MS, "bob's client to receive the message");
      const receipt = nextEmit(a, sdk.RoomEvent.Receipt, (event, room) =>
        room.roomId === roomId && event.getContent()[sent.event_id]?.["m.read"]?.[bob.userId] !== undefined);
      await step(b.sendReadReceipt(ev), STEP_MS, "bob's sendReadReceipt");
      await step(receipt, STEP_MS, "alice's client to see bob's m.read receipt");
      assert.ok(a.getRoom(roomId).hasUserReadEvent(bob.userId, sent.event_id), "alice's room model: bob read it");
    } finally {
      await stopAll(clients);
    }
    assertNoRejections("receipts");
  });

  test("a display name change shows in the room for the other client", TEST_OPTS, async (t) => {
    // "Events on Change of Profile Information": an m.room.member event
    // (with a join membership) is sent to every room the user is a member
    // of, to update the displayname.
    const { bob, a, b, roomId, clients } = await pair(t);
    try {
      const renamed = nextTimelineEvent(a, roomId, (ev) =>
        ev.getType() === sdk.EventType.RoomMember && ev.getStateKey() === bob.userId &&
        ev.getContent().membership === "join" && ev.getContent().displayname === "Bob Builder");
      await step(b.setDisplayName("Bob Builder"), STEP_MS, "bob's setDisplayName");
      // A local member event takes milliseconds.
      await step(renamed, 5000, "alice's client to see bob's new member event");
      assert.equal(a.getRoom(roomId).getMember(bob.userId)?.name, "Bob Builder");
    } finally {
      await stopAll(clients);
    }
    assertNoRejections("display name");
  });

  test("a redaction reaches the other client and strips the content", TEST_OPTS, async (t) => {
    // Client-Server API, "Redactions": PUT /rooms/{roomId}/redact/{eventId}/{txnId}.
    const { alice, a, b, roomId, clients } = await pair(t);
    try {
      const bobGets = nextTimelineEvent(b, roomId, messageFrom(alice.userId, "oops"));
      const sent = await step(a.sendTextMessage(roomId, "oops"), STEP_MS, "alice's send");
      const ev = await step(bobGets, STEP_MS, "bob's client to receive the message");
      const redacted = nextEmit(b, sdk.RoomEvent.Redaction, (rev, room) =>
        // v11+ rooms carry `redacts` in content, older ones at top level.
        room.roomId === roomId && (rev.event.redacts ?? rev.getContent().redacts) === sent.event_id);
      await step(a.redactEvent(roomId, sent.event_id), STEP_MS, "alice's redactEvent");
      await step(redacted, STEP_MS, "bob's client to see the redaction");
      assert.ok(ev.isRedacted(), "bob's copy of the event is marked redacted");
      assert.equal(ev.getContent().body, undefined, "and its body is gone");
    } finally {
      await stopAll(clients);
    }
    assertNoRejections("redaction");
  });

  test("a topic change reaches the other client's room state", TEST_OPTS, async (t) => {
    const { a, b, roomId, clients } = await pair(t);
    try {
      const topic = nextTimelineEvent(b, roomId, (ev) =>
        ev.getType() === sdk.EventType.RoomTopic && ev.getContent().topic === "js-sdk topic");
      await step(a.setRoomTopic(roomId, "js-sdk topic"), STEP_MS, "alice's setRoomTopic");
      await step(topic, STEP_MS, "bob's client to see the m.room.topic event");
      const state = b.getRoom(roomId).currentState.getStateEvents(sdk.EventType.RoomTopic, "");
      assert.equal(state?.getContent().topic, "js-sdk topic", "bob's current room state has the topic");
    } finally {
      await stopAll(clients);
    }
    assertNoRejections("topic");
  });

  test("server exits 0 on SIGTERM with no sanitizer report", TEST_OPTS, async (t) => {
    assert.ok(server, "the server started");
    for (const line of server.requestSummary()) t.diagnostic(`js-sdk request: ${line}`);
    for (const r of server.failedRequests()) {
      t.diagnostic(`js-sdk request failed: ${r.who} ${r.method} ${r.path} -> ${r.status}`);
    }
    assert.deepEqual(await server.stop(), [], "clean shutdown");
    assertNoRejections("shutdown");
  });
});
