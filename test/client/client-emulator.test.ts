/**
 * The client library in Node (`ws`) against the real emulator, for what the backend supports
 * without history or identity: reconnects after a management-API DELETE, a killed socket, the
 * idle timeout and the maximum lifetime; keep-alive; the lifetime hand-over; the send queue;
 * refused handshakes (400, 401, 403); API Gateway's throttled frame; and `/client.js`.
 */
import test from "ava";
import { bundleClient } from "../../client/build";
import { AWS_ID, connect as connectRaw, parseFrame } from "../helpers/clients";
import { startTestEmulator } from "../helpers/emulator";
import { publishTo } from "../helpers/publish";
import { dataOf, managementApi, openLibraryClient, otherIds } from "../helpers/library-client";

// Fast retries: these tests are about what happens, not how long the waits are (client-reconnect.test.ts).
const QUICK = { backoff: { initialMs: 50, maxMs: 200 } };

test("a management-API DELETE and a killed socket: the client reconnects, and sends made meanwhile arrive in order", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const other = await connectRaw(emulator);
  const api = managementApi(emulator, t.teardown);
  const lib = openLibraryClient(emulator.endpoint, QUICK);
  t.teardown(() => lib.conn.close());
  await lib.until(() => lib.conn.state === "open", "the first open");
  const firstId = otherIds(emulator, [other.id])[0];

  const off = lib.conn.on("state", (state) => {
    // Sent while no connection is open: queued, then sent in order.
    if (state === "reconnecting") t.true(lib.conn.send("two") && lib.conn.send({ n: 3 }));
  });
  await api.drop(firstId);
  await lib.until(() => lib.states.length === 3, "the reconnect after the DELETE");
  off();
  t.deepEqual(lib.states, ["open", "reconnecting", "open"]);
  t.deepEqual((await other.nextFrames(2)).map((frame) => parseFrame(frame).data ?? parseFrame(frame).n), ["two", 3]);
  const secondId = otherIds(emulator, [other.id])[0];
  t.not(secondId, firstId);
  // Its own copies of both come back before its socket is killed (the kill would lose one still in flight).
  await lib.until(() => lib.messages.length === 2, "its own copies of the queued sends");

  lib.sockets[lib.sockets.length - 1].terminate();
  await lib.until(() => lib.states.length === 5, "the reconnect after the kill");
  t.deepEqual(lib.states, ["open", "reconnecting", "open", "reconnecting", "open"]);
  other.ws.send("after the kill");
  await lib.until(() => lib.messages.some((message) => message.data === "after the kill"), "the message after the kill");
  t.deepEqual(dataOf(lib.messages), ["two", undefined, "after the kill"]);
  t.like(lib.messages[1], { n: 3, _me: true });
  t.deepEqual(lib.errors, []);
});

test("the idle timeout (shortened) closes a silent connection with 1001; the client comes back on its own", async (t) => {
  // Long enough for its own copy to come back before the next idle close, on a busy machine too.
  const { emulator, logs } = await startTestEmulator(t, { idleTimeoutMs: 2000 });
  // Keep-alive far off: this connection stays silent, as one would without it.
  const lib = openLibraryClient(emulator.endpoint, { ...QUICK, keepAliveMs: 600_000 });
  t.teardown(() => lib.conn.close());
  await lib.until(() => lib.states.join() === "open,reconnecting,open", "a reconnect after the idle timeout");
  t.true(logs.entries().some((entry) => entry.emulator === "close" && entry.reason === "Going away: idle timeout"));
  // It may be closed again meanwhile (it stays silent): the send is then queued for the next one.
  t.true(lib.conn.send("still here"));
  await lib.until(() => lib.messages.length === 1, "its own copy on a new connection");
  t.like(lib.messages[0], { data: "still here", _me: true });
});

test("keep-alive: a silent connection outlives a short idle timeout on {\"_op\":\"ping\"} and _pong alone", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, { idleTimeoutMs: 1200 });
  const lib = openLibraryClient(emulator.endpoint, { ...QUICK, keepAliveMs: 400 });
  t.teardown(() => lib.conn.close());
  await lib.until(() => lib.conn.state === "open", "the open");
  const [id] = emulator.connectionIds();
  // Four idle timeouts long; every message event the handler logs is one of the pings.
  await new Promise((resolve) => setTimeout(resolve, 4800));
  t.deepEqual(emulator.connectionIds(), [id]);
  t.is(lib.sockets.length, 1);
  t.deepEqual(lib.states, ["open"]);
  t.deepEqual(lib.messages, [], "pings are answered to the sender alone, and pongs are not messages");
  t.false(logs.entries().some((entry) => entry.emulator === "close"));
});

test("the maximum lifetime (shortened): left alone the client reconnects; with maxLifetimeMs under it, it hands over first", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, { maxLifetimeMs: 1500 });
  const reconnecting = openLibraryClient(emulator.endpoint, QUICK);
  t.teardown(() => reconnecting.conn.close());
  await reconnecting.until(() => reconnecting.states.join() === "open,reconnecting,open", "a reconnect after the lifetime ended");
  reconnecting.conn.close();

  const handingOver = openLibraryClient(emulator.endpoint, { ...QUICK, maxLifetimeMs: 600 });
  t.teardown(() => handingOver.conn.close());
  await handingOver.until(() => handingOver.sockets.length >= 5, "four hand-overs");
  // Every socket closed by the client itself (1000), none by the gateway's lifetime limit.
  const byGateway = new Set(logs.entries().filter((entry) => entry.reason === "Going away: maximum connection duration").map((entry) => entry.connectionId));
  t.deepEqual(handingOver.states, ["open"], "nobody saw a reconnect");
  t.is((await publishTo(emulator.publishUrl, "after the hand-overs")).status, 200);
  await handingOver.until(() => handingOver.messages.some((message) => message.data === "after the hand-overs"), "a message after the hand-overs");
  t.is(handingOver.messages.filter((message) => message.data === "after the hand-overs").length, 1);
  for (const id of emulator.connectionIds()) t.false(byGateway.has(id));
  t.true(byGateway.size >= 1, "the first client's connection was ended by the limit");
});

test("the send queue: at most maxQueued kept while reconnecting, sent in order once open; send is false past it", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const other = await connectRaw(emulator);
  const api = managementApi(emulator, t.teardown);
  const lib = openLibraryClient(emulator.endpoint, { ...QUICK, maxQueued: 3 });
  t.teardown(() => lib.conn.close());
  await lib.until(() => lib.conn.state === "open", "the first open");
  const accepted: boolean[] = [];
  lib.conn.on("state", (state) => {
    if (state === "reconnecting") for (const text of ["q1", "q2", "q3", "q4", "q5"]) accepted.push(lib.conn.send(text));
  });
  await api.drop(otherIds(emulator, [other.id])[0]);
  await lib.until(() => lib.states.length === 3, "the reconnect");
  t.deepEqual(accepted, [true, true, true, false, false]);
  lib.conn.send("after");
  t.deepEqual((await other.nextFrames(4)).map((frame) => parseFrame(frame).data), ["q1", "q2", "q3", "after"]);
});

test("refused handshakes: 400 and 403 stop at once, 401 asks the token function once more", async (t) => {
  const { emulator } = await startTestEmulator(t, { accessToken: "s3cret", allowedOrigins: ["https://app.example"] });
  const closed = async (lib: ReturnType<typeof openLibraryClient>) => {
    await lib.until(() => lib.conn.state === "closed", "the client to stop");
    return lib.errors;
  };
  const badRoom = openLibraryClient(emulator.endpoint, { ...QUICK, room: "no spaces", token: "s3cret" });
  t.deepEqual(await closed(badRoom), [{ code: "BadRequest", message: "the handshake was refused with HTTP 400", status: 400 }]);

  const elsewhere = openLibraryClient(emulator.endpoint, { ...QUICK, token: "s3cret" }, { origin: "https://elsewhere.example" });
  t.deepEqual(await closed(elsewhere), [{ code: "Forbidden", message: "the handshake was refused with HTTP 403", status: 403 }]);

  const fixed = openLibraryClient(emulator.endpoint, { ...QUICK, token: "wrong" });
  t.deepEqual(await closed(fixed), [{ code: "Unauthorized", message: "the handshake was refused with HTTP 401", status: 401 }]);

  const given: string[] = [];
  const hopeless = openLibraryClient(emulator.endpoint, { ...QUICK, token: () => (given.push("wrong"), "wrong") });
  t.is((await closed(hopeless))[0].code, "Unauthorized");
  t.is(given.length, 2, "called once more after the first 401, not again");

  const tokens = ["expired", "s3cret"];
  const renewed = openLibraryClient(emulator.endpoint, { ...QUICK, token: () => tokens.shift() ?? "none" });
  t.teardown(() => renewed.conn.close());
  await renewed.until(() => renewed.conn.state === "open", "the open with the renewed token");
  t.deepEqual(renewed.errors, []);
  t.is(renewed.sockets.length, 2);
  t.is(emulator.connectionIds().length, 1);
});

test("API Gateway's throttled frame arrives as an error with code Throttled; the connection stays open", async (t) => {
  // One message a second after a burst of three (the handshake takes one).
  const { emulator } = await startTestEmulator(t, { throttleRateLimit: 1, throttleBurstLimit: 3 });
  const lib = openLibraryClient(emulator.endpoint, QUICK);
  t.teardown(() => lib.conn.close());
  await lib.until(() => lib.conn.state === "open", "the open");
  for (let i = 1; i <= 6; i++) lib.conn.send(`m${i}`);
  await lib.until(() => lib.messages.length + lib.errors.length === 6, "an answer to each of the six");
  t.true(lib.errors.length >= 3, JSON.stringify(lib.errors));
  for (const error of lib.errors) {
    t.like(error, { code: "Throttled", message: "Too Many Requests" });
    t.regex(error.connectionId ?? "", AWS_ID);
    t.regex(error.requestId ?? "", AWS_ID);
  }
  t.is(lib.conn.state, "open");
});

test("the emulator serves the browser script at /client.js (GET and HEAD)", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const url = new URL("/client.js", emulator.httpUrl);
  const got = await fetch(url);
  t.is(got.status, 200);
  t.is(got.headers.get("content-type"), "text/javascript; charset=utf-8");
  t.is(await got.text(), await bundleClient("browser"));
  const head = await fetch(url, { method: "HEAD" });
  t.is(head.status, 200);
  t.is(await head.text(), "");
});
