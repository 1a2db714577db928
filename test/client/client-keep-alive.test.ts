/**
 * Keep-alive on fake time: a ping after keepAliveMs without a frame either way, and a connection
 * whose pong does not come within 10 s replaced by a new one.
 */
import test from "ava";
import { rig } from "../helpers/fake-client-env";

const PING = '{"_op":"ping"}';

test("after keepAliveMs without frames either way the client pings; a _pong keeps the connection", async (t) => {
  const { conn, clock, sockets, seen } = await rig({ keepAliveMs: 60_000 });
  await clock.advance(59_999);
  t.deepEqual(sockets[0].sent, []);
  await clock.advance(1);
  t.deepEqual(sockets[0].sent, [PING]);
  sockets[0].receive({ _pong: true, _now: 1, _me: true });
  await clock.advance(59_999);
  t.deepEqual(sockets[0].sent, [PING], "the pong was a frame in: the wait started again");
  await clock.advance(1);
  t.deepEqual(sockets[0].sent, [PING, PING]);
  await clock.advance(9_999);
  sockets[0].receive({ _pong: true, _now: 2, _me: true });
  await clock.advance(10_000);
  t.is(sockets.length, 1);
  t.is(conn.state, "open");
  t.deepEqual(seen("message"), [], "pongs are not messages");
});

test("frames either way put the ping off", async (t) => {
  const { conn, clock, sockets } = await rig({ keepAliveMs: 60_000 });
  await clock.advance(40_000);
  conn.send("out");
  await clock.advance(40_000);
  sockets[0].receive({ data: "in", _now: 1, _me: false });
  await clock.advance(59_999);
  t.deepEqual(sockets[0].sent, ["out"]);
  await clock.advance(1);
  t.deepEqual(sockets[0].sent, ["out", PING]);
});

test("no _pong within 10 s: the connection is closed with 4000 and replaced", async (t) => {
  const { conn, clock, sockets, seen } = await rig({ keepAliveMs: 60_000, backoff: { initialMs: 100, maxMs: 100 } });
  await clock.advance(60_000);
  t.deepEqual(sockets[0].sent, [PING]);
  // Other frames do not stand in for the pong: a half-dead path may still deliver some.
  sockets[0].receive({ data: "late", _now: 1, _me: false });
  await clock.advance(9_999);
  t.is(conn.state, "open");
  await clock.advance(1);
  t.deepEqual(sockets[0].closedWith, { code: 4000, reason: "no pong" });
  t.is(conn.state, "reconnecting");
  await clock.advance(100);
  t.is(sockets.length, 2);
  sockets[1].open();
  t.deepEqual(seen("state"), ["open", "reconnecting", "open"]);
  // The replaced socket's own close event, arriving late, changes nothing.
  sockets[0].drop(1006);
  t.is(conn.state, "open");
  t.is(sockets.length, 2);
});
