// harness.test.mjs: the harness must catch what it is there to catch.
//
// A harness that never reports a bad shutdown makes every "clean
// shutdown" test pass for nothing. These tests run the real binary under a
// small sh wrapper that misbehaves on purpose (wrong exit code, a sanitizer
// report on stderr, death during start-up) and check that stop()/start()
// say so; and that step() names the step that hung.

import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { CHAPPE_BIN, api, binaryMissing, registerUser, startServer, step, toYaml } from "./harness.mjs";

const OPTS = { timeout: 60000, skip: binaryMissing() };

// sh quoting for a path inside a script.
const shQuote = (s) => `'${s.replaceAll("'", "'\\''")}'`;

describe("harness", () => {
  let dir;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "chappe-js-harness-"));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // A wrapper that runs the real server and, once it has exited after the
  // forwarded SIGTERM, runs `onTerm` (shell) instead of exiting cleanly.
  function wrapper(name, onTerm) {
    const path = join(dir, name);
    writeFileSync(
      path,
      `#!/bin/sh
${shQuote(CHAPPE_BIN)} "$@" &
pid=$!
trap 'kill -TERM "$pid"; wait "$pid"; ${onTerm}' TERM
wait "$pid"
`,
    );
    chmodSync(path, 0o755);
    return path;
  }

  test("a clean server gives no problems, and its config took effect", OPTS, async () => {
    const srv = await startServer();
    try {
      // Registration is open and UIA offers m.login.dummy, as the config says.
      const u = await registerUser(srv);
      assert.match(u.userId, /^@.+:localhost$/);
      const who = await api(srv, "GET", "account/whoami", { token: u.accessToken });
      assert.equal(who.status, 200);
      assert.equal(who.json.user_id, u.userId);
    } finally {
      assert.deepEqual(await srv.stop(), []);
    }
  });

  test("stop() reports an exit code other than 0", OPTS, async () => {
    const srv = await startServer({ bin: wrapper("exit3.sh", "exit 3") });
    const problems = await srv.stop();
    rmSync(srv.workdir, { recursive: true, force: true }); // kept by stop() for a real failure
    assert.ok(problems.some((p) => p.startsWith("exit code 3 ")), problems.join("\n"));
  });

  test("stop() reports a sanitizer report on stderr even with exit code 0", OPTS, async () => {
    const report = "echo \"==1==ERROR: LeakSanitizer: detected memory leaks\" >&2; exit 0";
    const srv = await startServer({ bin: wrapper("lsan.sh", report) });
    const problems = await srv.stop();
    rmSync(srv.workdir, { recursive: true, force: true });
    assert.ok(problems.some((p) => p.includes("sanitizer reports on stderr: LeakSanitizer")), problems.join("\n"));
    assert.ok(!problems.some((p) => p.startsWith("exit code")), "exit code 0 is not a problem");
  });

  test("start() fails with the server's stderr when it dies during start-up", async () => {
    const path = join(dir, "dies.sh");
    writeFileSync(path, "#!/bin/sh\necho 'config: no such key: bogus' >&2\nexit 2\n");
    chmodSync(path, 0o755);
    const err = await startServer({ bin: path }).then(
      () => assert.fail("start() resolved for a server that exited"),
      (e) => e,
    );
    assert.match(err.message, /exited \(code 2, signal null\) during start-up \(logs in .+\):\nconfig: no such key: bogus/);
    rmSync(/logs in (.+)\):/.exec(err.message)[1], { recursive: true, force: true });
  });

  test("step() names the step that hung, and passes a value through", async () => {
    await assert.rejects(step(new Promise(() => {}), 50, "the moon"), {
      message: "timed out after 50 ms waiting for the moon",
    });
    assert.equal(await step(Promise.resolve(42), 50, "a number"), 42);
  });

  test("toYaml quotes strings and nests mappings", () => {
    assert.equal(
      toYaml({ a: "x: y", b: 1, c: { d: "\"q\"" } }),
      'a: "x: y"\nb: 1\nc:\n  d: "\\"q\\""\n',
    );
  });
});
