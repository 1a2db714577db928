/**
 * The runtime handlers, built by runtime/host/lambda.ts as the Lambdas build them, against a dynalite
 * of their own (./handlers-rig.ts), posting through an emulator's management API with the real SDK
 * client. Events come from local/gateway/event-builders.ts, so each test controls the request times.
 */
import test from "ava";
import { connectEvent, disconnectEvent, messageEvent } from "../../local/gateway/event-builders";
import { parseFrame, type Frame } from "../helpers/clients";
import { expectNothingBefore } from "../helpers/emulator";
import { connectAll, context, rig, TTL_SECONDS, withClients } from "./handlers-rig";


test("$connect writes connectedAt and expiresAt = floor(requestTimeEpoch / 1000) + TTL; $disconnect deletes the row", async (t) => {
  const now = 1561016329388;
  const { handlers, table } = await rig(t, { now });
  const id = "rowRowRowRowRow=";
  t.deepEqual(await handlers.connect(connectEvent(context(id, now), { headers: {} })), { statusCode: 200 });
  t.deepEqual(await table.get(id), { connectionId: id, connectedAt: now, expiresAt: 1561016329 + TTL_SECONDS, room: "$default" });
  t.deepEqual(await handlers.disconnect(disconnectEvent(context(id, now), 1000, "", now + 5)), { statusCode: 200 });
  t.is(await table.get(id), undefined);
});

test("TTL: a row whose expiresAt has passed is not posted to", async (t) => {
  const now = Date.now();
  const { emulator, clients } = await withClients(t, 2);
  const [stale, live] = clients;
  const store = await rig(t, { now, managementEndpoint: emulator.managementEndpoint });
  // Connected TTL+1 s ago: expired one second ago. Connected TTL-1 s ago: one second left.
  await connectAll(store, [stale], now - (TTL_SECONDS + 1) * 1000);
  await connectAll(store, [live], now - (TTL_SECONDS - 1) * 1000);

  await store.handlers.message(messageEvent(context(live.id, now), "hello", now));
  t.is(await live.next(), `{"data":"hello","_now":${now},"_me":true}`);
  await expectNothingBefore(t, emulator, stale);
  t.like(store.log.entries().find((entry) => entry.route === "$default"), { receivers: 1, delivered: 1 });
});

test("Scan pagination: with 7-item pages, all 50 connections receive", async (t) => {
  const now = Date.now();
  const { emulator, clients } = await withClients(t, 50);
  const store = await rig(t, { now, managementEndpoint: emulator.managementEndpoint, pageLimit: 7 });
  await connectAll(store, clients, now);

  const [sender] = clients;
  await store.handlers.message(messageEvent(context(sender.id, now), "to all", now));
  for (const client of clients) {
    t.is(await client.next(), `{"data":"to all","_now":${now},"_me":${client === sender}}`);
  }
  t.like(store.log.entries().find((entry) => entry.route === "$default"), { receivers: 50, delivered: 50, gone: 0, failed: 0 });
});

test("$connect answers 500 when the store is down", async (t) => {
  const now = Date.now();
  const store = await rig(t, { now });
  await store.stopStore();
  const result = await store.handlers.connect(connectEvent(context("downDownDownDow=", now), { headers: {} }));
  t.deepEqual(result, { statusCode: 500, body: "Internal server error" });
  const [entry] = store.log.entries();
  t.like(entry, { route: "$connect", statusCode: 500 });
  t.is(typeof entry.error, "string");
});

test("store down during a message: the sender gets an Unavailable _error and nobody else gets anything", async (t) => {
  const now = Date.now();
  const { emulator, clients } = await withClients(t, 2);
  const [sender, other] = clients;
  const store = await rig(t, { now, managementEndpoint: emulator.managementEndpoint });
  await connectAll(store, clients, now);
  await store.stopStore();

  await store.handlers.message(messageEvent(context(sender.id, now), "lost", now));
  const frame = parseFrame(await sender.next());
  t.deepEqual(Object.keys(frame), ["_error", "_now", "_me"]);
  t.like(frame, { _error: { code: "Unavailable" }, _now: now, _me: true });
  t.regex(String((frame._error as Frame).message), /^connection store unavailable \(\w+\); message not sent$/);
  await expectNothingBefore(t, emulator, other);
  t.like(store.log.entries().find((entry) => entry.route === "$default"), { statusCode: 200, error: "Unavailable" });
});

test("a sender without a row (its room unknown): NotConnected to the sender only, nothing broadcast", async (t) => {
  const now = Date.now();
  const { emulator, clients } = await withClients(t, 2);
  const [sender, other] = clients;
  const store = await rig(t, { now, managementEndpoint: emulator.managementEndpoint });
  await connectAll(store, [other], now);

  await store.handlers.message(messageEvent(context(sender.id, now), "who am I", now));
  t.is(
    await sender.next(),
    `{"_error":{"code":"NotConnected","message":"this connection has no row in the connections table; message not sent"},"_now":${now},"_me":true}`,
  );
  await expectNothingBefore(t, emulator, other);
  t.like(store.log.entries().find((entry) => entry.route === "$default"), { statusCode: 200, error: "NotConnected" });
});

test("a sender's room is read once a minute: a row deleted behind a live sender is noticed (NotConnected) after that minute", async (t) => {
  const start = Date.now();
  let now = start;
  const { emulator, clients } = await withClients(t, 2);
  const [sender, other] = clients;
  const store = await rig(t, { now: () => now, managementEndpoint: emulator.managementEndpoint });
  await connectAll(store, clients, start);
  const send = async (text: string) => {
    await store.handlers.message(messageEvent(context(sender.id, start), text, now));
    return sender.next();
  };

  t.is(await send("first"), `{"data":"first","_now":${now},"_me":true}`);
  t.is(await other.next(), `{"data":"first","_now":${now},"_me":false}`);
  await store.table.delete(sender.id);
  now = start + 59_999;
  t.is(await send("remembered"), `{"data":"remembered","_now":${now},"_me":true}`);
  t.is(await other.next(), `{"data":"remembered","_now":${now},"_me":false}`);
  now = start + 60_000;
  t.is(
    await send("read again"),
    `{"_error":{"code":"NotConnected","message":"this connection has no row in the connections table; message not sent"},"_now":${now},"_me":true}`,
  );
  await expectNothingBefore(t, emulator, other);
});

test("an oversized outgoing payload: MessageTooLarge to the sender only", async (t) => {
  const now = Date.now();
  const { emulator, clients } = await withClients(t, 2);
  const [sender, other] = clients;
  const store = await rig(t, { now, managementEndpoint: emulator.managementEndpoint, env: { MAX_MESSAGE_BYTES: "64" } });
  await connectAll(store, clients, now);

  await store.handlers.message(messageEvent(context(sender.id, now), "x".repeat(64), now));
  t.like(parseFrame(await sender.next()), { _error: { code: "MessageTooLarge", limit: 64 }, _now: now, _me: true });
  await expectNothingBefore(t, emulator, other);
});

test("GoneException: the stale row is deleted and everyone else still receives", async (t) => {
  const now = Date.now();
  const { emulator, clients } = await withClients(t, 2);
  const [sender, other] = clients;
  const store = await rig(t, { now, managementEndpoint: emulator.managementEndpoint });
  const ghost = { id: "ghostGhostGhost=" };
  await connectAll(store, clients, now);
  // Connected a minute before: a 410 spares a row younger than a `$connect` can run.
  await connectAll(store, [ghost], now - 60_000);

  await store.handlers.message(messageEvent(context(sender.id, now), "hi", now));
  t.is(await sender.next(), `{"data":"hi","_now":${now},"_me":true}`);
  t.is(await other.next(), `{"data":"hi","_now":${now},"_me":false}`);
  t.deepEqual(await store.table.ids(), [sender.id, other.id].sort());
  t.like(store.log.entries().find((entry) => entry.route === "$default"), { receivers: 3, delivered: 2, gone: 1, failed: 0 });
});

test("429 LimitExceededException after the SDK's retries: the post fails, the row stays", async (t) => {
  const now = Date.now();
  // One post per second: the SDK gives up on a throttled post within about three seconds, so
  // of six posts at once at most four find a token and the rest fail.
  const { emulator, clients } = await withClients(t, 6, { postRate: 1, postBurst: 1 });
  const store = await rig(t, { now, managementEndpoint: emulator.managementEndpoint });
  await connectAll(store, clients, now);

  await store.handlers.message(messageEvent(context(clients[0].id, now), "squeeze", now));
  const entry = store.log.entries().find((line) => line.route === "$default") as { delivered: number; failed: number; gone: number; failures: object };
  t.true(entry.failed >= 1, JSON.stringify(entry));
  t.is(entry.delivered + entry.failed, 6);
  t.is(entry.gone, 0);
  t.deepEqual(entry.failures, { LimitExceededException: entry.failed });
  t.deepEqual(await store.table.ids(), clients.map((client) => client.id).sort());
});

test("one log line per invocation, with exactly these keys and never the message", async (t) => {
  const now = Date.now();
  const { emulator, clients } = await withClients(t, 2);
  const [sender, other] = clients;
  const store = await rig(t, { now, managementEndpoint: emulator.managementEndpoint });
  const events = [
    connectEvent(context(sender.id, now), { headers: {} }),
    connectEvent(context(other.id, now), { headers: {} }),
    messageEvent(context(sender.id, now), "the password is swordfish", now),
    disconnectEvent(context(other.id, now), 1001, "Going away", now),
  ];
  await store.handlers.connect(events[0]);
  await store.handlers.connect(events[1]);
  await store.handlers.message(events[2]);
  await store.handlers.disconnect(events[3]);

  // The clock is frozen, so every duration is exactly 0.
  const base = (index: number) => ({
    route: events[index].requestContext.routeKey,
    connectionId: events[index].requestContext.connectionId,
    requestId: events[index].requestContext.requestId,
    statusCode: 200,
    durationMs: 0,
  });
  t.deepEqual(store.log.entries(), [
    base(0),
    base(1),
    { ...base(2), receivers: 2, delivered: 2, gone: 0, failed: 0, failures: {} },
    base(3),
  ]);
  t.false(store.log.lines.some((line) => line.includes("swordfish")));
});
