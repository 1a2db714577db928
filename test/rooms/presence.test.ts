/**
 * Presence (`presence: true`) end to end over real sockets, in both fan-out modes: join and leave
 * events with the room's count go to the other members only, however a connection ends; the
 * joiner hears nothing of its own join; clients cannot forge `_presence`.
 */
import test, { type ExecutionContext } from "ava";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createDynamoConnectionStore, type ConnectionStore } from "../../runtime/store/connection-store";
import { createPosterFactory } from "../../runtime/delivery/poster-factory";
import { announcePresence } from "../../runtime/routes/presence";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { connect, type EmulatorClient, parseFrame } from "../helpers/clients";
import { expectNothingBefore, invocation, startTestEmulator } from "../helpers/emulator";
import { eachMode } from "../helpers/modes";

/** Reads `client`'s next frame and checks it is exactly this presence event, `_now` the request time. */
async function expectPresence(t: ExecutionContext, client: EmulatorClient, event: "join" | "leave", count: number): Promise<void> {
  const frame = await client.next();
  const now: unknown = parseFrame(frame)._now;
  t.true(typeof now === "number" && Number.isInteger(now) && Math.abs(now - Date.now()) < 60_000, frame);
  t.is(frame, `{"_presence":{"event":"${event}","count":${count}},"_now":${String(now)},"_me":false}`);
}

eachMode(test, "presence: join and leave counts reach the other members of the room only, abrupt drops included", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode, presence: true });
  const url = `${emulator.endpoint}?room=lobby`;
  const a = await connect(emulator, { url });
  const b = await connect(emulator, { url });
  await expectPresence(t, a, "join", 2);
  const c = await connect(emulator, { url });
  await expectPresence(t, a, "join", 3);
  await expectPresence(t, b, "join", 3);
  // Other rooms, the default room included, hear nothing of this room and tell it nothing.
  const elsewhere = await connect(emulator, { url: `${emulator.endpoint}?room=other` });
  const outside = await connect(emulator);
  const lonely = await connect(emulator, { url: `${emulator.endpoint}?room=other` });
  await expectPresence(t, elsewhere, "join", 2);

  c.ws.close();
  await expectPresence(t, a, "leave", 2);
  await expectPresence(t, b, "leave", 2);
  // No close frame: `$disconnect` still runs, and so does the leave event.
  b.ws.terminate();
  await expectPresence(t, a, "leave", 1);
  await invocation(logs, "$disconnect", b.id);
  t.like(await invocation(logs, "$connect", c.id), { statusCode: 200, receivers: 2, delivered: 2 });

  // The joiners got nothing of their own joins, and nobody got anything from the other rooms.
  for (const client of [a, outside, lonely]) await expectNothingBefore(t, emulator, client);
  t.deepEqual([a.frames.length, outside.frames.length, lonely.frames.length], [5, 1, 1]);
  t.deepEqual([b.frames.length, c.frames.length], [2, 0]);
  t.is(elsewhere.frames.length, 1);
  t.deepEqual(emulator.deadLetters(), []);
});

eachMode(test, "presence: a client's own `_presence` is dropped from its message", async (t, mode) => {
  const { emulator } = await startTestEmulator(t, { fanout: mode, presence: true });
  const url = `${emulator.endpoint}?room=forgers`;
  const sender = await connect(emulator, { url });
  const other = await connect(emulator, { url });
  await expectPresence(t, sender, "join", 2);
  sender.ws.send('{"_presence":{"event":"leave","count":0},"text":"hi"}');
  const [own, copy] = [await sender.next(), await other.next()];
  const { _now, _id } = parseFrame(own);
  const id = mode === "sharded" ? `"_id":${JSON.stringify(_id)},` : "";
  t.is(own, `{"text":"hi","_now":${String(_now)},${id}"_me":true}`);
  t.is(copy, `{"text":"hi","_now":${String(_now)},${id}"_me":false}`);
});

test("presence off (the default): joins and leaves post nothing", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const url = `${emulator.endpoint}?room=quiet`;
  const a = await connect(emulator, { url });
  const b = await connect(emulator, { url });
  b.ws.close();
  await invocation(logs, "$disconnect", b.id);
  await expectNothingBefore(t, emulator, a);
  t.deepEqual(b.frames, []);
});

test("presence counts hold while the index lags: the newcomer is counted, the leaver is neither counted nor posted to", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const a = await connect(emulator, { url: `${emulator.endpoint}?room=lag` });
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: emulator.dynamoEndpoint });
  t.teardown(() => client.destroy());
  const real = createDynamoConnectionStore(DynamoDBDocumentClient.from(client), { tableName: emulator.tableName });
  // The real table, read through an index that has not caught up: the newcomer's row is not in it
  // yet, and the leaver's row still is (GSIs are eventually consistent; dynalite's is not).
  const lagging = (adjust: (ids: string[]) => string[]): ConnectionStore => ({
    ...real,
    forEachRoomPage: (room, now, onPage) => real.forEachRoomPage(room, now, (ids) => onPage(adjust(ids))),
  });
  const deps = (store: ConnectionStore) => ({
    store,
    posterFor: createPosterFactory({ region: LOCAL_AWS.region, maxSockets: 4, credentials: LOCAL_AWS.credentials }),
    limits: { maxMessageBytes: 131072, fanOutConcurrency: 4, connectionTtlSeconds: 7200 },
    now: Date.now,
  });
  const change = { room: "lag", endpoint: emulator.managementEndpoint, now: 5 };

  const joined = await announcePresence(deps(lagging((ids) => ids.filter((id) => id !== "newcomerNewcom="))), { ...change, event: "join", connectionId: "newcomerNewcom=", who: {} });
  t.is(await a.next(), '{"_presence":{"event":"join","count":2},"_now":5,"_me":false}');
  t.like(joined, { receivers: 1, delivered: 1 });

  const left = await announcePresence(deps(lagging((ids) => [...ids, "leaverLeaverLe="])), { ...change, event: "leave", connectionId: "leaverLeaverLe=", who: {} });
  t.is(await a.next(), '{"_presence":{"event":"leave","count":1},"_now":5,"_me":false}');
  t.like(left, { receivers: 1, delivered: 1, gone: 0 });
});
