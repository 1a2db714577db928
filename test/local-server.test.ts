import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import type { WebSocketEvent } from "../runtime/events";
import { awsRequestTime } from "../local/events";
import { DEMO_DIR } from "../local/static";
import type { Emulator } from "../local/emulator";
import type { FanOutMode } from "../runtime/settings";
import { SHARD_WORKER_ROUTE } from "../runtime/shards";
import { connect, connectMany, handshakeStatus, openClient, type EmulatorClient } from "./helpers/clients";
import { captureLog, expectEnded, expectNothingBefore, invocation, invocations, startTestEmulator, startWithWrappedHandlers, type LogCapture } from "./helpers/emulator";
import { openTable } from "./helpers/table";

const AWS_ID = /^[A-Za-z0-9_-]{15}=$/;

/** The WebSocket URL without the stage: the emulator accepts connections at `/` too. */
function rootUrl(emulator: Emulator): string {
  return emulator.endpoint.replace(/\/dev$/, "/");
}

/** Both fan-out modes must pass the same end-to-end tests; only sharded copies carry `_id`. */
const MODES: readonly FanOutMode[] = ["direct", "sharded"];

/** `"_id":"…",` as a copy of `event`'s message carries it in `mode`: API Gateway's messageId, sharded only. */
function idPart(mode: FanOutMode, event: WebSocketEvent): string {
  return mode === "sharded" ? `"_id":${JSON.stringify(event.requestContext.messageId)},` : "";
}

/**
 * The fan-out counts of every message so far, summed: from the `$default` lines (direct), or from
 * the shard workers' lines once every enqueued shard has logged (sharded).
 */
async function fanOutTotals(logs: LogCapture, mode: FanOutMode): Promise<Record<string, number>> {
  const sum = (lines: Array<Record<string, unknown>>, key: string) => lines.reduce((total, entry) => total + Number(entry[key] ?? 0), 0);
  const defaults = invocations(logs, "$default");
  const workerLines = () => logs.entries().filter((entry) => entry.route === SHARD_WORKER_ROUTE);
  if (mode === "sharded") await logs.waitFor(() => workerLines().length >= sum(defaults, "shards"), "a line from every shard");
  const lines = mode === "direct" ? defaults : workerLines();
  return Object.fromEntries(["receivers", "delivered", "gone", "failed"].map((key) => [key, sum(lines, key)]));
}

const broadcast = test.macro({
  async exec(t, mode: FanOutMode) {
    const events = captureLog();
    const { emulator } = await startWithWrappedHandlers(
      t,
      (real) => ({
        ...real,
        message: (event) => {
          events.log(JSON.stringify(event));
          return real.message(event);
        },
      }),
      { fanout: mode },
    );
    const [a, b] = await connectMany(emulator, 2);
    const c = await connect(emulator, { url: rootUrl(emulator) });

    a.ws.send('{"type":"chat","text":"hi","_me":false,"_now":1,"_id":"forged"}');
    const [fromA, atB, atC] = await Promise.all([a.next(), b.next(), c.next()]);
    const [event] = events.entries() as unknown as WebSocketEvent[];
    const now = event.requestContext.requestTimeEpoch;
    const id = idPart(mode, event);
    // Direct mode leaves a client's own `_id` alone; sharded mode replaces it with the message id.
    const clientId = mode === "direct" ? `"_id":"forged",` : "";
    t.true(Number.isInteger(now) && Math.abs(now - Date.now()) < 60_000, `_now ${now}`);
    t.is(fromA, `{"type":"chat","text":"hi",${clientId}"_now":${now},${id}"_me":true}`);
    t.is(atB, `{"type":"chat","text":"hi",${clientId}"_now":${now},${id}"_me":false}`);
    t.is(atC, atB);

    // Exactly once: the next frame each client gets is the next message, sent by C at "/".
    c.ws.send("plain words");
    const [again, , fromC] = await Promise.all([a.next(), b.next(), c.next()]);
    const second = events.entries()[1] as unknown as WebSocketEvent;
    const later = second.requestContext.requestTimeEpoch;
    t.is(again, `{"data":"plain words","_now":${later},${idPart(mode, second)}"_me":false}`);
    t.is(fromC, `{"data":"plain words","_now":${later},${idPart(mode, second)}"_me":true}`);
    if (mode === "sharded") t.not(event.requestContext.messageId, second.requestContext.messageId);
    t.deepEqual([a.frames.length, b.frames.length, c.frames.length], [2, 2, 2]);
    t.deepEqual(emulator.deadLetters(), []);
  },
  title: (_, mode: FanOutMode) => `broadcast (${mode}): everyone gets each message once, \`_me\` only in the sender's copy, \`_now\` the request time`,
});
for (const mode of MODES) test(broadcast, mode);

test("frames of one connection are handled in the order they were sent", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const [sender, receiver] = await connectMany(emulator, 2);
  const numbers = Array.from({ length: 20 }, (_, i) => i);
  for (const n of numbers) sender.ws.send(String(n));
  const received = (await receiver.nextFrames(numbers.length)).map((frame) => JSON.parse(frame).data);
  t.deepEqual(received, numbers);
});

test("$connect refusals reach the client as HTTP statuses and write no row", async (t) => {
  const { emulator } = await startTestEmulator(t, { accessToken: "s3cret", allowedOrigins: ["https://app.example"] });
  t.is(await handshakeStatus(emulator.endpoint), 401);
  t.is(await handshakeStatus(`${emulator.endpoint}?token=wrong`), 401);
  t.is(await handshakeStatus(`${emulator.endpoint}?token=s3cret`, { origin: "https://elsewhere.example" }), 403);
  const byQuery = await connect(emulator, { url: `${emulator.endpoint}?token=s3cret`, origin: "https://app.example" });
  const byHeader = await connect(emulator, { headers: { Authorization: "Bearer s3cret" } });
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), [byQuery.id, byHeader.id].sort());
});

test("a $connect handler that throws refuses the handshake with 500", async (t) => {
  const { emulator, logs } = await startWithWrappedHandlers(t, (real) => ({
    ...real,
    connect: async () => {
      throw new Error("connect exploded");
    },
  }));
  t.is(await handshakeStatus(emulator.endpoint), 500);
  const failure = await logs.waitFor((entry) => entry.emulator === "handlerError", "the handler error log line");
  // The error's name and where it was thrown; its message may quote input, so it is not logged.
  t.like(failure, { route: "$connect", error: "Error" });
  t.regex(String(failure.at), /test\/local-server\.test\.ts:\d+:\d+$/);
  t.false(JSON.stringify(failure).includes("exploded"));
  t.deepEqual(emulator.connectionIds(), []);
});

const ghostRow = test.macro({
  async exec(t, mode: FanOutMode) {
    const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
    const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
    const ghost = "ghostGhostGhost=";
    await table.put({ connectionId: ghost, connectedAt: Date.now(), expiresAt: Math.floor(Date.now() / 1000) + 7200 });
    const [a, b] = await connectMany(emulator, 2);

    a.ws.send("anyone there?");
    const [fromA, atB] = [JSON.parse(await a.next()), JSON.parse(await b.next())];
    t.like(fromA, { data: "anyone there?", _me: true });
    t.like(atB, { data: "anyone there?", _me: false });
    t.is(typeof fromA._id === "string" && fromA._id === atB._id, mode === "sharded", "one `_id` per message, in sharded mode only");
    await invocation(logs, "$default", a.id);
    t.deepEqual(await fanOutTotals(logs, mode), { receivers: 3, delivered: 2, gone: 1, failed: 0 });
    t.deepEqual(await table.ids(), [a.id, b.id].sort());
  },
  title: (_, mode: FanOutMode) => `a ghost row (no socket) is deleted by the first broadcast while everyone else receives (${mode})`,
});
for (const mode of MODES) test(ghostRow, mode);

const postQuota = test.macro({
  async exec(t, mode: FanOutMode) {
    // One token at a time, refilled every millisecond: a broadcast is throttled, and a retry
    // (the SDK waits up to 1 s, then up to 2 s) finds a token.
    const { emulator, logs } = await startTestEmulator(t, { postRate: 1000, postBurst: 1, fanout: mode, shardSize: 2 });
    const clients = await connectMany(emulator, 6);
    const throttled = () => logs.entries().filter((entry) => entry.emulator === "throttled").length;
    let rounds = 0;
    for (; rounds < 10 && throttled() === 0; rounds++) {
      clients[0].ws.send(`round ${rounds}`);
      for (const client of clients) t.is(JSON.parse(await client.next()).data, `round ${rounds}`);
    }
    t.true(throttled() > 0, "no post was throttled");
    await logs.waitFor(() => invocations(logs, "$default").length === rounds, "every $default line");
    t.deepEqual(await fanOutTotals(logs, mode), { receivers: 6 * rounds, delivered: 6 * rounds, gone: 0, failed: 0 });
    t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), clients.map((c) => c.id).sort());
    t.deepEqual(emulator.deadLetters(), []);
  },
  title: (_, mode: FanOutMode) => `post quota (${mode}): the SDK retries the 429s, so everyone still receives and no row is deleted`,
});
for (const mode of MODES) test(postQuota, mode);

/**
 * Sends `count` messages from `sender` at once and sorts the sender's answer to each (in order)
 * into the broadcast ones and API Gateway's "Too Many Requests" frames, checking the latter's shape.
 */
async function burst(t: ExecutionContext, sender: EmulatorClient, count: number) {
  const sent = Array.from({ length: count }, (_, i) => `m${i}`);
  for (const text of sent) sender.ws.send(text);
  const answers = (await sender.nextFrames(count)).map((frame) => JSON.parse(frame));
  const throttled = answers.filter((answer) => answer.message === "Too Many Requests");
  for (const answer of throttled) {
    t.deepEqual(Object.keys(answer), ["message", "connectionId", "requestId"]);
    t.is(answer.connectionId, sender.id);
    t.regex(answer.requestId, AWS_ID);
  }
  t.is(new Set(throttled.map((answer) => answer.requestId)).size, throttled.length, "request ids repeat");
  const delivered = answers.filter((answer) => answer.message === undefined);
  for (const answer of delivered) t.like(answer, { _me: true });
  // One answer per message, in the order sent: each was either broadcast or refused.
  t.deepEqual(
    answers.map((answer, i) => (answer.message === undefined ? answer.data : sent[i])),
    sent,
  );
  return { delivered: delivered.map((answer) => String(answer.data)), throttled: throttled.length };
}

test("stage throttling: a message over the burst is refused to its sender alone and never reaches $default", async (t) => {
  // A burst of 5 at 1 per second. The 12 small frames arrive together and are counted on
  // arrival, so at most the 5 tokens a full bucket holds admit any; two $connects leave at least 3.
  const { emulator, logs } = await startTestEmulator(t, { throttleRateLimit: 1, throttleBurstLimit: 5 });
  const [sender, other] = await connectMany(emulator, 2);
  const { delivered, throttled } = await burst(t, sender, 12);
  t.deepEqual(delivered.slice(0, 3), ["m0", "m1", "m2"]);
  t.true(throttled >= 7, `${throttled} throttled`);

  // The other client got exactly the broadcast messages, and $default ran once for each.
  t.deepEqual((await other.nextFrames(delivered.length)).map((frame) => JSON.parse(frame).data), delivered);
  await expectNothingBefore(t, emulator, other);
  await logs.waitFor(() => invocations(logs, "$default").length >= delivered.length, "a $default line per broadcast message");
  t.is(invocations(logs, "$default").length, delivered.length);
  t.is(logs.entries().filter((entry) => entry.emulator === "stageThrottled").length, throttled);
});

test("stage throttling: handshakes over the burst get HTTP 429 and write no row", async (t) => {
  const { emulator } = await startTestEmulator(t, { throttleRateLimit: 1, throttleBurstLimit: 3 });
  const started = Date.now();
  const attempts = await Promise.allSettled(Array.from({ length: 10 }, () => openClient(emulator.endpoint)));
  const seconds = (Date.now() - started) / 1000;
  const opened = attempts.flatMap((attempt) => (attempt.status === "fulfilled" ? [attempt.value] : []));
  const refusals = attempts.flatMap((attempt) => (attempt.status === "rejected" ? [String(attempt.reason)] : []));
  for (const refusal of refusals) t.regex(refusal, /Unexpected server response: 429/);
  // The bucket's bound (a slow machine only loosens it): the burst, plus one per second of refill.
  t.true(opened.length <= 3 + Math.ceil(seconds), `${opened.length} opened in ${seconds} s`);
  t.true(refusals.length > 0, "none refused");
  t.is(opened.length, emulator.connectionIds().length);
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), emulator.connectionIds().sort());
});

test("stage throttling by default, as the deployed stage: 300 messages at once are not all broadcast", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const [sender] = await connectMany(emulator, 1);
  const { delivered, throttled } = await burst(t, sender, 300);
  // The default burst is 200 (the $connect took one), and the rate adds 100 per second: the
  // frames, counted on arrival within moments, cannot all be admitted.
  t.true(delivered.length >= 199, `${delivered.length} delivered`);
  t.true(throttled > 0, "nothing was throttled");
  await logs.waitFor(() => invocations(logs, "$default").length >= delivered.length, "a $default line per broadcast message");
  t.is(invocations(logs, "$default").length, delivered.length);
});

test("a binary frame closes the connection with 1003", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const client = await connect(emulator);
  client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  t.is(await expectEnded(t, emulator, logs, client, 1003), "Binary frames are not supported");
  t.deepEqual(client.frames, []);
});

test("a frame over 32 KiB closes with 1009; a 32 KiB frame is broadcast", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const [client, listener] = await connectMany(emulator, 2);
  client.ws.send("a".repeat(32 * 1024));
  t.is(JSON.parse(await listener.next()).data, "a".repeat(32 * 1024));

  client.ws.send("b".repeat(32 * 1024 + 1));
  t.regex(await expectEnded(t, emulator, logs, client, 1009), /32768-byte frame limit/);
  // The oversized frame was not delivered: the listener's next frame is its own message.
  listener.ws.send("still here");
  t.is(JSON.parse(await listener.next()).data, "still here");
});

test("a message over 128 KiB in fragments closes with 1009; under it, fragments make one message", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const [client, listener] = await connectMany(emulator, 2);
  const fragment = (letter: string) => letter.repeat(30_000);
  const sendFragments = (letter: string, count: number) => {
    for (let i = 0; i < count; i++) client.ws.send(fragment(letter), { fin: i === count - 1 });
  };
  sendFragments("c", 3);
  t.is(JSON.parse(await listener.next()).data, fragment("c").repeat(3));

  sendFragments("d", 5);
  await expectEnded(t, emulator, logs, client, 1009);
  listener.ws.send("still here");
  t.is(JSON.parse(await listener.next()).data, "still here");
});

test("invalid UTF-8 in a text frame closes with 1007", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const client = await connect(emulator);
  client.ws.send(Buffer.from([0x68, 0xff, 0x69]), { binary: false });
  await expectEnded(t, emulator, logs, client, 1007);
});

test("a $default handler that throws: the sender gets API Gateway's error frame, and the server keeps serving", async (t) => {
  const { emulator, logs } = await startWithWrappedHandlers(t, (real) => ({
    ...real,
    message: async (event) => {
      if (event.body === "boom") throw new Error("handler exploded");
      return real.message(event);
    },
  }));
  const [sender, other] = await connectMany(emulator, 2);
  sender.ws.send("boom");
  const error = JSON.parse(await sender.next());
  t.deepEqual(Object.keys(error), ["message", "connectionId", "requestId"]);
  t.is(error.message, "Internal server error");
  t.is(error.connectionId, sender.id);
  t.regex(error.requestId, AWS_ID);
  t.like(await logs.waitFor((entry) => entry.emulator === "handlerError", "the handler error"), {
    route: "$default",
    connectionId: sender.id,
    requestId: error.requestId,
    error: "Error",
  });

  sender.ws.send("after");
  t.like(JSON.parse(await sender.next()), { data: "after", _me: true });
  // The other client's first frame is the later message: it got nothing for the failed one.
  t.like(JSON.parse(await other.next()), { data: "after", _me: false });
});

test("an abrupt drop (no close frame) runs $disconnect and removes the row", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const [dropped, stays] = await connectMany(emulator, 2);
  dropped.ws.terminate();
  await expectEnded(t, emulator, logs, dropped, 1006);
  t.deepEqual(emulator.connectionIds(), [stays.id]);
});

test("a client that drops while $connect runs still gets its $disconnect", async (t) => {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const { emulator, logs } = await startWithWrappedHandlers(t, (real) => ({
    ...real,
    connect: async (event) => {
      const result = await real.connect(event);
      await held;
      return result;
    },
  }));
  const socket = createConnection(emulator.port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(
    `GET /dev HTTP/1.1\r\nHost: localhost:${emulator.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const { connectionId } = await logs.waitFor((entry) => entry.route === "$connect", "the $connect");
  // A reset, as when the client's network goes away; a FIN would wait for the server's answer.
  socket.resetAndDestroy();
  await new Promise((resolve) => socket.once("close", resolve));
  release();
  t.like(await invocation(logs, "$disconnect", String(connectionId)), { statusCode: 200 });
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), []);
  t.deepEqual(emulator.connectionIds(), []);
});

test("the idle timeout closes with 1001 and runs $disconnect", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, { idleTimeoutMs: 200 });
  const client = await connect(emulator);
  t.is(await expectEnded(t, emulator, logs, client, 1001), "Going away: idle timeout");
});

test("the maximum lifetime closes with 1001 and runs $disconnect", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, { maxLifetimeMs: 300 });
  const client = await connect(emulator);
  t.is(await expectEnded(t, emulator, logs, client, 1001), "Going away: maximum connection duration");
});

test("emulator close: every client sees 1001 and $disconnect runs for each", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const clients = await connectMany(emulator, 3);
  await emulator.close();
  for (const client of clients) {
    t.like(await client.closed(), { code: 1001 });
    t.like(await invocation(logs, "$disconnect", client.id), { statusCode: 200 });
  }
  t.deepEqual(emulator.connectionIds(), []);
});

test("events: API Gateway's shape for $connect, $default and $disconnect", async (t) => {
  const events = captureLog();
  const record = (event: WebSocketEvent) => {
    events.log(JSON.stringify(event));
    return Promise.resolve({ statusCode: 200 });
  };
  const { emulator } = await startTestEmulator(t, { handlers: { connect: record, message: record, disconnect: record } });
  const client = await connect(emulator, {
    url: `${emulator.endpoint}?token=abc&x=1&x=2`,
    headers: { "X-Custom-Header": "kept", "User-Agent": "shape-test/1.0" },
  });
  client.ws.send("hello");
  const route = (key: string) =>
    events.waitFor((entry) => (entry as unknown as WebSocketEvent).requestContext.routeKey === key, key) as unknown as Promise<WebSocketEvent>;
  const message = await route("$default");
  client.ws.close(4000, "bye");
  const [connected, disconnected] = [await route("$connect"), await route("$disconnect")];

  const common = {
    connectionId: client.id,
    connectedAt: connected.requestContext.requestTimeEpoch,
    domainName: `localhost:${emulator.port}`,
    stage: "dev",
    messageDirection: "IN",
    identity: { sourceIp: "127.0.0.1", userAgent: "shape-test/1.0" },
  };
  for (const [event, routeKey, eventType] of [
    [connected, "$connect", "CONNECT"],
    [message, "$default", "MESSAGE"],
    [disconnected, "$disconnect", "DISCONNECT"],
  ] as const) {
    const context = event.requestContext;
    t.like(context, { ...common, routeKey, eventType });
    t.regex(context.apiId, /^[a-z0-9]{10}$/);
    t.is(context.apiId, connected.requestContext.apiId);
    t.regex(context.requestId, AWS_ID);
    t.regex(context.extendedRequestId, AWS_ID);
    t.is(context.requestTime, awsRequestTime(context.requestTimeEpoch));
    t.is(event.isBase64Encoded, false);
  }
  t.regex(client.id, AWS_ID);
  t.is(connected.headers?.["X-Custom-Header"], "kept");
  t.is(connected.headers?.Host, `localhost:${emulator.port}`);
  t.deepEqual(connected.queryStringParameters, { token: "abc", x: "2" });
  t.is(message.body, "hello");
  t.regex(message.requestContext.messageId ?? "", AWS_ID);
  t.like(disconnected.requestContext, { disconnectStatusCode: 4000, disconnectReason: "bye" });
  t.is(disconnected.body, undefined);
});

test("HTTP: other upgrade paths are 404, the demo page is served, nothing outside demo/ is", async (t) => {
  const { emulator } = await startTestEmulator(t);
  t.is(await handshakeStatus(emulator.endpoint.replace(/\/dev$/, "/prod")), 404);
  const page = await fetch(emulator.httpUrl);
  if (existsSync(join(DEMO_DIR, "index.html"))) {
    t.is(page.status, 200);
    t.is(page.headers.get("content-type"), "text/html; charset=utf-8");
  } else t.is(page.status, 404);
  await page.arrayBuffer();
  for (const path of ["demo/../package.json", "demo/%2e%2e/package.json", "demo/..%2fpackage.json", "package.json", "demo/"]) {
    const response = await fetch(`${emulator.httpUrl}${path}`);
    t.is(response.status, 404, path);
    await response.arrayBuffer();
  }
});
