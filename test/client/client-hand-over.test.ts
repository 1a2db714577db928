/**
 * The lifetime hand-over on fake time: before maxLifetimeMs a second connection opens, catches up,
 * and only then is the first closed; every message is delivered once, and sends move over.
 */
import test from "ava";
import { copy, historyAnswer, rig } from "../helpers/fake-client-env";

const seqs = (messages: Array<Record<string, unknown>>) => messages.map((message) => message._seq);

test("history on: the successor opens and catches up while the first still delivers; then the first is closed", async (t) => {
  const { conn, clock, sockets, seen } = await rig({ history: true, maxLifetimeMs: 60_000, keepAliveMs: 1_000_000 });
  sockets[0].receive(copy(1));
  await clock.advance(59_999);
  t.is(sockets.length, 1);
  await clock.advance(1);
  t.is(sockets.length, 2, "the successor is dialled at maxLifetimeMs");
  sockets[0].receive(copy(2));
  sockets[1].open();
  t.deepEqual(sockets[1].sentFrames(), [{ _op: "history", since: 2 }]);
  // Both sockets hear the next messages; the answer covers what the first had in flight.
  sockets[1].receive(copy(4));
  sockets[0].receive(copy(3));
  sockets[0].receive(copy(4));
  t.is(sockets[0].closedWith, undefined, "make before break: the first stays until the successor caught up");
  conn.send("during");
  t.deepEqual(sockets[0].sent, ["during"], "sends stay on the first until the switch");
  sockets[1].receive(historyAnswer([3, 4], { since: 2 }));
  t.deepEqual(sockets[0].closedWith, { code: 1000, reason: "handed over" });
  sockets[1].receive(copy(5));
  conn.send("after");
  t.deepEqual(sockets[1].sent.slice(1), ["after"]);
  t.deepEqual(seqs(seen("message")), [1, 2, 3, 4, 5]);
  t.deepEqual(seen("state"), ["open"], "nobody sees a reconnect");
  // The next hand-over is due maxLifetimeMs after the switch.
  await clock.advance(60_000);
  t.is(sockets.length, 3);
});

test("history off: the first is closed as soon as the successor opens", async (t) => {
  const { clock, sockets, seen } = await rig({ maxLifetimeMs: 1000, keepAliveMs: 1_000_000 });
  await clock.advance(1000);
  sockets[1].open();
  t.deepEqual(sockets[0].closedWith, { code: 1000, reason: "handed over" });
  t.deepEqual(sockets[1].sent, []);
  t.deepEqual(seen("state"), ["open"]);
});

test("the first connection ends during the hand-over: the successor takes over without a reconnect", async (t) => {
  const { conn, clock, sockets, seen } = await rig({ history: true, maxLifetimeMs: 1000, keepAliveMs: 1_000_000 });
  sockets[0].receive(copy(1));
  await clock.advance(1000);
  sockets[1].open();
  sockets[0].drop(1001, "Going away: maximum connection duration");
  t.is(conn.state, "open");
  sockets[1].receive(historyAnswer([2], { since: 1 }));
  t.deepEqual(seqs(seen("message")), [1, 2]);
  t.is(sockets.length, 2);
  conn.send("x");
  t.deepEqual(sockets[1].sent.slice(1), ["x"]);
});

test("the first connection ends before the successor opens: state reconnecting, then the successor serves", async (t) => {
  const { conn, clock, sockets, seen } = await rig({ history: true, maxLifetimeMs: 1000, keepAliveMs: 1_000_000 });
  sockets[0].receive(copy(1));
  await clock.advance(1000);
  sockets[0].drop(1001);
  t.is(conn.state, "reconnecting");
  t.true(conn.send("queued"));
  sockets[1].open();
  t.deepEqual(sockets[1].sent, ['{"_op":"history","since":1}', "queued"]);
  t.deepEqual(seen("state"), ["open", "reconnecting", "open"]);
  t.is(sockets.length, 2);
});

test("a refused successor is given up and tried again after a backoff; the first keeps serving", async (t) => {
  const { conn, clock, sockets } = await rig({ maxLifetimeMs: 1000, keepAliveMs: 1_000_000, backoff: { initialMs: 400, maxMs: 400 } });
  clock.randoms = [0.5];
  await clock.advance(1000);
  sockets[1].refuse(503);
  t.is(conn.state, "open");
  t.is(clock.nextDelay(), 200);
  await clock.advance(200);
  t.is(sockets.length, 3);
  sockets[2].open();
  t.deepEqual(sockets[0].closedWith, { code: 1000, reason: "handed over" });
});

test("presence events count once during a hand-over: the primary's", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true, maxLifetimeMs: 1000, keepAliveMs: 1_000_000 });
  sockets[0].receive(copy(1));
  await clock.advance(1000);
  sockets[1].open();
  const join = { _presence: { event: "join", count: 3 }, _now: 1, _me: false };
  sockets[0].receive(join);
  sockets[1].receive(join);
  t.deepEqual(seen("presence"), [{ event: "join", count: 3 }]);
});

test("a successor whose catch-up is never answered takes over after 10 s, and the hole is asked for on it", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true, maxLifetimeMs: 60_000, keepAliveMs: 1_000_000 });
  sockets[0].receive(copy(1));
  await clock.advance(60_000);
  sockets[1].open();
  t.deepEqual(sockets[1].sentFrames(), [{ _op: "history", since: 1 }]);
  sockets[1].receive(copy(3));
  await clock.advance(9_999);
  t.is(sockets[0].closedWith, undefined, "the first still serves while the answer may come");
  await clock.advance(1);
  t.deepEqual(sockets[0].closedWith, { code: 1000, reason: "handed over" });
  await clock.advance(250);
  t.deepEqual(sockets[1].sentFrames().slice(1), [{ _op: "history", since: 1 }], "the hole before 3 is asked for after reorderMs");
  sockets[1].receive(historyAnswer([2, 3], { since: 1 }));
  t.deepEqual(seqs(seen("message")), [1, 2, 3]);
  t.deepEqual(seen("state"), ["open"]);
});

test("the next hand-over is due maxLifetimeMs after the successor opened, however long it waited to take over", async (t) => {
  const { clock, sockets } = await rig({ history: true, maxLifetimeMs: 60_000, keepAliveMs: 1_000_000 });
  sockets[0].receive(copy(1));
  await clock.advance(60_000);
  sockets[1].open();
  await clock.advance(4_000);
  sockets[1].receive(historyAnswer([], { since: 1 }));
  t.deepEqual(sockets[0].closedWith, { code: 1000, reason: "handed over" });
  await clock.advance(55_999);
  t.is(sockets.length, 2);
  await clock.advance(1);
  t.is(sockets.length, 3, "60 s after the successor's own open");
});
