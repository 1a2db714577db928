/**
 * The client's API on fake sockets: the send queue, `members()`, `on` and its unsubscribe, and how
 * each kind of frame is reported (data copies, presence, `_error`, API Gateway's throttled frame).
 */
import test from "ava";
import { connect } from "../../client";
import { classify } from "../../client/src/frames";
import { rig } from "../helpers/fake-client-env";

test("sends while not open are queued (at most maxQueued) and sent in order once open", async (t) => {
  const { conn, clock, sockets } = await rig({ maxQueued: 3 }, false);
  t.true(conn.send("one"));
  t.true(conn.send({ type: "two" }));
  t.true(conn.send(3));
  t.false(conn.send("four"), "the queue is full");
  sockets[0].open();
  t.deepEqual(sockets[0].sent, ["one", '{"type":"two"}', "3"]);
  t.true(conn.send("five"));
  t.deepEqual(sockets[0].sent.slice(3), ["five"]);
  sockets[0].drop();
  t.true(conn.send("six"));
  await clock.advance(clock.nextDelay()!);
  t.deepEqual(sockets[1].sent, []);
  sockets[1].open();
  t.deepEqual(sockets[1].sent, ["six"]);
  t.throws(() => conn.send(undefined), { instanceOf: TypeError });
});

test("members() sends {\"_op\":\"members\"} once open and resolves every caller with the roster", async (t) => {
  const { conn, sockets, seen } = await rig({}, false);
  const first = conn.members();
  const second = conn.members();
  sockets[0].open();
  t.deepEqual(sockets[0].sent, ['{"_op":"members"}'], "one request answers both");
  const roster = { event: "members", count: 3, members: [{ user: "alice", connections: 2 }] };
  sockets[0].receive({ _presence: roster, _now: 1, _me: true });
  t.deepEqual(await first, roster);
  t.deepEqual(await second, roster);
  t.deepEqual(seen("presence"), [], "a members answer is not a presence event");
});

test("members(): asked again on the next connection when the first ended, rejected after 10 s without an answer or on close", async (t) => {
  const { conn, clock, sockets } = await rig();
  const asked = conn.members();
  sockets[0].drop();
  await clock.advance(clock.nextDelay()!);
  sockets[1].open();
  t.deepEqual(sockets[1].sent, ['{"_op":"members"}']);
  const roster = { event: "members", count: 1, members: [] };
  sockets[1].receive({ _presence: roster, _now: 1, _me: true });
  t.deepEqual(await asked, roster);

  const unanswered = conn.members();
  await clock.advance(10_000);
  await t.throwsAsync(unanswered, { message: "no members answer within 10000 ms" });
  const closing = conn.members();
  conn.close();
  await t.throwsAsync(closing, { message: "the connection is closed" });
  await t.throwsAsync(conn.members(), { message: "the connection is closed" });
});

test("on returns a function that removes that listener only", async (t) => {
  const { conn, sockets } = await rig();
  const a: unknown[] = [];
  const b: unknown[] = [];
  const offA = conn.on("message", (message) => a.push(message.data));
  conn.on("message", (message) => b.push(message.data));
  sockets[0].receive({ data: 1, _now: 1, _me: false });
  offA();
  offA();
  sockets[0].receive({ data: 2, _now: 2, _me: false });
  t.deepEqual(a, [1]);
  t.deepEqual(b, [1, 2]);
});

test("frames are reported by kind: message, presence, _error, Throttled and other gateway frames", async (t) => {
  const { sockets, seen } = await rig();
  const data = { type: "chat", message: "hi", requestId: "mine", _now: 5, _from: "alice", _me: false };
  sockets[0].receive(data);
  sockets[0].receive({ _presence: { event: "join", count: 2, user: "bob" }, _now: 6, _me: false });
  sockets[0].receive({ _error: { code: "MessageTooLarge", message: "too big" }, _now: 7, _me: true });
  sockets[0].receive({ message: "Too Many Requests", connectionId: "abc=", requestId: "req=" });
  sockets[0].receive({ message: "Internal server error", connectionId: "abc=", requestId: "req2=" });
  t.deepEqual(seen("message"), [data], "a copy with message and requestId keys is still a copy: it has _me");
  t.deepEqual(seen("presence"), [{ event: "join", count: 2, user: "bob" }]);
  t.deepEqual(seen("error"), [
    { code: "MessageTooLarge", message: "too big" },
    { code: "Throttled", message: "Too Many Requests", connectionId: "abc=", requestId: "req=" },
    { code: "GatewayError", message: "Internal server error", connectionId: "abc=", requestId: "req2=" },
  ]);
});

test("a frame that is not a JSON object arrives as {data}", (t) => {
  t.deepEqual(classify("marker"), { kind: "message", message: { data: "marker" } });
  t.deepEqual(classify("[1,2]"), { kind: "message", message: { data: [1, 2] } });
  t.deepEqual(classify('{"_pong":true,"_now":1,"_me":true}'), { kind: "pong" });
});

test("a listener that throws does not stop the others or the client", async (t) => {
  const { conn, clock, sockets } = await rig();
  const got: unknown[] = [];
  conn.on("message", () => {
    throw new Error("listener bug");
  });
  conn.on("message", (message) => got.push(message.data));
  sockets[0].receive({ data: "x", _now: 1, _me: false });
  t.deepEqual(got, ["x"]);
  // The error is rethrown on its own turn, as an EventTarget reports it.
  await t.throwsAsync(clock.advance(0), { message: "listener bug" });
});

test("without a global WebSocket and no WebSocket option, connect says what to pass", (t) => {
  // The test process may have one (Node 22 does); it is taken away for this synchronous check only.
  const platform = globalThis as { WebSocket?: unknown };
  const saved = platform.WebSocket;
  delete platform.WebSocket;
  try {
    t.throws(() => connect("ws://example.test/dev"), { message: /no global WebSocket: pass one as the WebSocket option/ });
  } finally {
    if (saved !== undefined) platform.WebSocket = saved;
  }
});
