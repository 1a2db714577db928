/**
 * The client library on fake time and fake sockets: backoff bounds and jitter, the reset after a
 * healthy connection, and what each refused handshake leads to (400/401/403/429, hidden statuses).
 */
import test from "ava";
import { Backoff } from "../../client/src/backoff";
import { FakeClock, rig, settle } from "../helpers/fake-client-env";

test("backoff: full jitter under a ceiling that doubles from initialMs to maxMs and stays there", (t) => {
  const clock = new FakeClock();
  const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 }, clock);
  // random() just under 1 shows each ceiling; 0 shows the floor.
  clock.randoms = Array<number>(9).fill(0.999999);
  t.deepEqual(
    Array.from({ length: 9 }, () => backoff.next()),
    [499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999, 29_999],
  );
  clock.randoms = [0, 0.25];
  t.deepEqual([backoff.next(), backoff.next()], [0, 7500]);
  // A connection that stayed open 30 s ended.
  backoff.ended(clock.now() - 30_000);
  clock.randoms = [0.999999];
  t.is(backoff.next(), 499);
});

test("a dropped connection reconnects after a jittered wait, with state reconnecting then open", async (t) => {
  const { conn, clock, sockets, seen } = await rig({ backoff: { initialMs: 1000, maxMs: 8000 } });
  t.is(conn.state, "open");
  clock.randoms = [0.5];
  sockets[0].drop(1001, "Going away");
  t.is(conn.state, "reconnecting");
  t.is(clock.nextDelay(), 500, "half of the first ceiling, as random() said");
  await clock.advance(499);
  t.is(sockets.length, 1);
  await clock.advance(1);
  t.is(sockets.length, 2);
  sockets[1].open();
  t.deepEqual(seen("state"), ["open", "reconnecting", "open"]);
});

test("each failed attempt doubles the ceiling up to maxMs; 30 s open resets it, a shorter stay does not", async (t) => {
  const { clock, sockets, last } = await rig({ backoff: { initialMs: 1000, maxMs: 8000 } });
  clock.randoms = [0.999];
  const waits: number[] = [];
  sockets[0].drop();
  for (let i = 0; i < 5; i++) {
    waits.push(clock.nextDelay()!);
    await clock.advance(clock.nextDelay()!);
    last().refuse(503);
  }
  t.deepEqual(waits, [999, 1998, 3996, 7992, 7992]);
  await clock.advance(clock.nextDelay()!);
  last().open();
  await clock.advance(29_999);
  last().drop();
  t.is(clock.nextDelay(), 7992, "open 29.999 s: still backing off");
  await clock.advance(clock.nextDelay()!);
  last().open();
  await clock.advance(30_000);
  last().drop();
  t.is(clock.nextDelay(), 999, "open 30 s: back to initialMs");
});

test("400 and 403 stop: state closed, an error naming the status, no retry", async (t) => {
  for (const [status, code] of [
    [400, "BadRequest"],
    [403, "Forbidden"],
  ] as const) {
    const { conn, clock, sockets, seen } = await rig({}, false);
    sockets[0].refuse(status);
    t.is(conn.state, "closed");
    t.deepEqual(seen("error"), [{ code, message: `the handshake was refused with HTTP ${status}`, status }]);
    t.deepEqual(seen("state"), ["closed"]);
    await clock.advance(120_000);
    t.is(sockets.length, 1);
    t.false(conn.send("too late"));
  }
});

test("401 calls the token function once more; refused again, the client stops", async (t) => {
  const tokens = ["old", "new", "newer"];
  let calls = 0;
  const { conn, clock, sockets, seen } = await rig({ token: () => tokens[calls++], room: "red" }, false);
  t.is(sockets[0].url, "ws://example.test/dev?room=red&token=old");
  sockets[0].refuse(401);
  t.is(conn.state, "connecting");
  await clock.advance(clock.nextDelay()!);
  t.is(sockets[1].url, "ws://example.test/dev?room=red&token=new");
  sockets[1].refuse(401);
  t.is(conn.state, "closed");
  t.is(calls, 2);
  t.deepEqual(seen("error"), [{ code: "Unauthorized", message: "the handshake was refused with HTTP 401", status: 401 }]);
});

test("401 after a successful open gets its fresh token again; a static token stops at the first 401", async (t) => {
  let calls = 0;
  const renewing = await rig({ token: () => Promise.resolve(`t${++calls}`) });
  renewing.sockets[0].drop();
  await renewing.clock.advance(renewing.clock.nextDelay()!);
  t.is(renewing.sockets[1].url, "ws://example.test/dev?token=t1", "a drop reuses the token");
  renewing.sockets[1].refuse(401);
  await renewing.clock.advance(renewing.clock.nextDelay()!);
  t.is(renewing.sockets[2].url, "ws://example.test/dev?token=t2");
  renewing.sockets[2].open();
  renewing.sockets[2].drop();
  await renewing.clock.advance(renewing.clock.nextDelay()!);
  renewing.sockets[3].refuse(401);
  await renewing.clock.advance(renewing.clock.nextDelay()!);
  t.is(renewing.sockets[4].url, "ws://example.test/dev?token=t3", "the count of 401s starts again after an open");
  t.is(renewing.conn.state, "reconnecting");

  const fixed = await rig({ token: "s3cret" }, false);
  fixed.sockets[0].refuse(401);
  t.is(fixed.conn.state, "closed");
  t.is(fixed.seen("error")[0].code, "Unauthorized");
});

test("429 backs off like a drop and keeps the token", async (t) => {
  let calls = 0;
  const { conn, clock, sockets } = await rig({ token: () => `t${++calls}`, backoff: { initialMs: 1000, maxMs: 4000 } }, false);
  clock.randoms = [0.999];
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    sockets[i].refuse(429);
    waits.push(clock.nextDelay()!);
    await clock.advance(clock.nextDelay()!);
  }
  t.deepEqual(waits, [999, 1998, 3996, 3996]);
  t.is(calls, 1);
  t.is(conn.state, "connecting");
});

test("a hidden status (browsers: a bare 1006) retries forever, with a fresh token before each retry, backing off to maxMs", async (t) => {
  let calls = 0;
  const { conn, clock, sockets } = await rig({ token: () => `t${++calls}`, backoff: { initialMs: 1000, maxMs: 4000 } }, false);
  clock.randoms = [0.999];
  const waits: number[] = [];
  for (let i = 0; i < 6; i++) {
    sockets[i].refuse(undefined);
    waits.push(clock.nextDelay()!);
    await clock.advance(clock.nextDelay()!);
  }
  t.deepEqual(waits, [999, 1998, 3996, 3996, 3996, 3996]);
  t.deepEqual(
    sockets.map((socket) => socket.url.split("token=")[1]),
    ["t1", "t2", "t3", "t4", "t5", "t6", "t7"],
  );
  t.is(conn.state, "connecting");
});

test("a failing token function is reported and retried with backoff", async (t) => {
  let calls = 0;
  const { clock, sockets, seen } = await rig(
    {
      token: () => {
        if (++calls === 1) throw new Error("auth server down");
        return "ok";
      },
    },
    false,
  );
  t.is(sockets.length, 0);
  t.deepEqual(seen("error"), [{ code: "TokenError", message: "the token function failed: Error: auth server down" }]);
  await clock.advance(clock.nextDelay()!);
  t.is(sockets[0].url, "ws://example.test/dev?token=ok");
});

test("close() stops everything: no retry, state closed once, the socket closed with 1000", async (t) => {
  const { conn, clock, sockets, seen } = await rig();
  conn.close();
  conn.close();
  t.deepEqual(sockets[0].closedWith, { code: 1000, reason: "closed by the client" });
  await clock.advance(600_000);
  await settle();
  t.is(sockets.length, 1);
  t.deepEqual(seen("state"), ["open", "closed"]);
});
