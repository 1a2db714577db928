/**
 * The emulator end to end, in both fan-out modes: what every client receives (exact frames, once
 * each, in order where the mode promises it), ghost rows, the post quota, a throwing `$default`,
 * the events the handlers get, and the HTTP side. Refusals, limits and endings: local-lifecycle.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import { DEFAULT_ROOM } from "../../runtime/contract/rooms";
import { awsRequestTime } from "../../local/gateway/event-builders";
import { DEMO_DIR } from "../../local/net/static";
import type { Emulator } from "../../local/emulator";
import { AWS_ID, connect, connectMany, handshakeStatus, parseFrame } from "../helpers/clients";
import { captureLog, invocation, invocations, recordMessageEvents, startTestEmulator, startWithWrappedHandlers } from "../helpers/emulator";
import { eachMode, fanOutTotals, idPart } from "../helpers/modes";
import { openTable } from "../helpers/table";

/** The WebSocket URL without the stage: the emulator accepts connections at `/` too. */
function rootUrl(emulator: Emulator): string {
  return emulator.endpoint.replace(/\/dev$/, "/");
}

eachMode(test, "broadcast: everyone gets each message once, `_me` only in the sender's copy, `_now` the request time", async (t, mode) => {
  const events = captureLog();
  const { emulator } = await startWithWrappedHandlers(t, recordMessageEvents(events), { fanout: mode });
  const [a, b] = await connectMany(emulator, 2);
  const c = await connect(emulator, { url: rootUrl(emulator) });

  a.ws.send('{"type":"chat","text":"hi","_me":false,"_now":1,"_id":"forged"}');
  const [fromA, atB, atC] = await Promise.all([a.next(), b.next(), c.next()]);
  const [event] = events.entries() as unknown as WebSocketEvent[];
  const now = event.requestContext.requestTimeEpoch;
  const id = idPart(mode, event);
  // `_id` is a backend key in either mode (shared/design.md): a client's own is removed, and sharded mode writes the message id.
  t.true(Number.isInteger(now) && Math.abs(now - Date.now()) < 60_000, `_now ${now}`);
  t.is(fromA, `{"type":"chat","text":"hi","_now":${now},${id}"_me":true}`);
  t.is(atB, `{"type":"chat","text":"hi","_now":${now},${id}"_me":false}`);
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
});

eachMode(test, "frames of one connection reach $default in the order they were sent, and each is received once", async (t, mode) => {
  const handled: string[] = [];
  const { emulator } = await startWithWrappedHandlers(
    t,
    (real) => ({
      ...real,
      message: (event) => {
        handled.push(event.body ?? "");
        return real.message(event);
      },
    }),
    { fanout: mode },
  );
  const [sender, receiver] = await connectMany(emulator, 2);
  const numbers = Array.from({ length: 20 }, (_, i) => i);
  for (const n of numbers) sender.ws.send(String(n));
  const received = (await receiver.nextFrames(numbers.length)).map((frame) => Number(parseFrame(frame).data));
  t.deepEqual(handled, numbers.map(String));
  // Direct fan-out posts a message before the next one is handled, so it arrives in order too;
  // sharded mode promises no order across messages (docs/scaling.md), only each one once.
  t.deepEqual(mode === "direct" ? received : [...received].sort((x, y) => x - y), numbers);
  t.deepEqual(emulator.deadLetters(), []);
});

eachMode(test, "a ghost row (no socket) is deleted by the first broadcast while everyone else receives", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const ghost = "ghostGhostGhost=";
  // Connected a minute ago: a 410 spares a row younger than a `$connect` can run.
  await table.put({ connectionId: ghost, connectedAt: Date.now() - 60_000, expiresAt: Math.floor(Date.now() / 1000) + 7200, room: DEFAULT_ROOM });
  const [a, b] = await connectMany(emulator, 2);

  a.ws.send("anyone there?");
  const [fromA, atB] = [await a.next(), await b.next()];
  const { _now, _id } = parseFrame(fromA);
  const id = idPart(mode, _id);
  t.is(fromA, `{"data":"anyone there?","_now":${String(_now)},${id}"_me":true}`);
  t.is(atB, `{"data":"anyone there?","_now":${String(_now)},${id}"_me":false}`);
  await invocation(logs, "$default", a.id);
  t.deepEqual(await fanOutTotals(logs, mode), { receivers: 3, delivered: 2, gone: 1, failed: 0 });
  t.deepEqual(await table.ids(), [a.id, b.id].sort());
});

eachMode(test, "post quota: the SDK retries the 429s, so everyone still receives and no row is deleted", async (t, mode) => {
  // One token at a time, refilled every millisecond: a broadcast is throttled, and a retry
  // (the SDK waits up to 1 s, then up to 2 s) finds a token.
  const { emulator, logs } = await startTestEmulator(t, { postRate: 1000, postBurst: 1, fanout: mode, shardSize: 2 });
  const clients = await connectMany(emulator, 6);
  const throttled = () => logs.entries().filter((entry) => entry.emulator === "throttled").length;
  let rounds = 0;
  for (; rounds < 10 && throttled() === 0; rounds++) {
    clients[0].ws.send(`round ${rounds}`);
    for (const client of clients) t.is(parseFrame(await client.next()).data, `round ${rounds}`);
  }
  t.true(throttled() > 0, "no post was throttled");
  await logs.waitFor(() => invocations(logs, "$default").length === rounds, "every $default line");
  t.deepEqual(await fanOutTotals(logs, mode), { receivers: 6 * rounds, delivered: 6 * rounds, gone: 0, failed: 0 });
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), clients.map((c) => c.id).sort());
  t.deepEqual(emulator.deadLetters(), []);
});

eachMode(test, "a $default handler that throws: the sender gets API Gateway's error frame, and the server keeps serving", async (t, mode) => {
  const { emulator, logs } = await startWithWrappedHandlers(
    t,
    (real) => ({
      ...real,
      message: async (event) => {
        if (event.body === "boom") throw new Error("handler exploded");
        return real.message(event);
      },
    }),
    { fanout: mode },
  );
  const [sender, other] = await connectMany(emulator, 2);
  sender.ws.send("boom");
  const error = parseFrame(await sender.next());
  t.deepEqual(Object.keys(error), ["message", "connectionId", "requestId"]);
  t.is(error.message, "Internal server error");
  t.is(error.connectionId, sender.id);
  t.regex(String(error.requestId), AWS_ID);
  t.like(await logs.waitFor((entry) => entry.emulator === "handlerError", "the handler error"), {
    route: "$default",
    connectionId: sender.id,
    requestId: error.requestId,
    error: "Error",
  });

  sender.ws.send("after");
  t.like(parseFrame(await sender.next()), { data: "after", _me: true });
  // The other client's first frame is the later message: it got nothing for the failed one.
  t.like(parseFrame(await other.next()), { data: "after", _me: false });
});

eachMode(test, "events: API Gateway's shape for $connect, $default and $disconnect", async (t, mode) => {
  const events = captureLog();
  const record = (event: WebSocketEvent) => {
    events.log(JSON.stringify(event));
    return Promise.resolve({ statusCode: 200 });
  };
  const { emulator } = await startTestEmulator(t, { fanout: mode }, { handlers: { connect: record, message: record, disconnect: record } });
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

eachMode(test, "HTTP: other upgrade paths are 404, the demo page is served, nothing outside demo/ is", async (t, mode) => {
  const { emulator } = await startTestEmulator(t, { fanout: mode });
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

// The emulator's own send, beside the management API (test/local/management-api.test.ts).
test("send: a frame to an open connection without HTTP, false for an unknown id", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const client = await connect(emulator);
  t.true(emulator.send(client.id, Buffer.from("direct")));
  t.is(await client.next(), "direct");
  t.false(emulator.send("AAAAAAAAAAAAAAA=", Buffer.from("nobody")));
});
