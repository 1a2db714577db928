/**
 * Rooms end to end: a message reaches the sender's room only (the default room included), in both
 * fan-out modes over real sockets; invalid names are refused with 400 and write nothing; shard
 * jobs planned page by page are the jobs of the whole room.
 */
import test from "ava";
import { broadcastToRoom } from "../../runtime/delivery/broadcast";
import { createDynamoConnectionStore, type ConnectionStore } from "../../runtime/store/connection-store";
import { withMe } from "../../runtime/contract/message";
import { createPosterFactory } from "../../runtime/delivery/poster-factory";
import { DEFAULT_ROOM } from "../../runtime/contract/rooms";
import { planShardJobs, type ShardJob } from "../../runtime/delivery/shard-jobs";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { LOCAL_AWS, ensureConnectionTable, startDynamo } from "../../local/services/dynalite-store";
import type { Emulator } from "../../local/emulator";
import { connect, handshakeStatus, type EmulatorClient } from "../helpers/clients";
import { expectNothingBefore, invocation, invocations, startTestEmulator } from "../helpers/emulator";
import { eachMode, fanOutTotals, stampOf } from "../helpers/modes";
import { openTable } from "../helpers/table";

const inRoom = (emulator: Emulator, room: string) => connect(emulator, { url: `${emulator.endpoint}?room=${encodeURIComponent(room)}` });

eachMode(test, "rooms: a message reaches every member of the sender's room once and nobody else; the default room is unchanged", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const a1 = await inRoom(emulator, "alpha");
  const a2 = await inRoom(emulator, "alpha");
  const b1 = await inRoom(emulator, "beta.2:x_y-z");
  const d1 = await connect(emulator);
  // An empty `?room=` is the default room too.
  const d2 = await connect(emulator, { url: `${emulator.endpoint}?room=` });
  const everyone = [a1, a2, b1, d1, d2];

  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const rooms = await Promise.all(everyone.map(async (client) => (await table.get(client.id))?.room));
  t.deepEqual(rooms, ["alpha", "alpha", "beta.2:x_y-z", DEFAULT_ROOM, DEFAULT_ROOM]);

  // Each message is awaited by its room before the next one is sent, so what a client gets next
  // (or the marker expectNothingBefore posts) proves what it did not get.
  const exchange = async (sender: EmulatorClient, members: EmulatorClient[], body: string, copy: (stamp: string) => string) => {
    sender.ws.send(body);
    const own = await sender.next();
    const { now, id } = stampOf(mode, own);
    const stamp = `"_now":${now},${id}`;
    t.is(own, copy(`${stamp}"_me":true`));
    for (const member of members.filter((m) => m !== sender)) t.is(await member.next(), copy(`${stamp}"_me":false`));
    await invocation(logs, "$default", sender.id);
  };
  await exchange(a1, [a1, a2], '{"text":"alpha only","_now":1}', (stamp) => `{"text":"alpha only",${stamp}}`);
  await exchange(d2, [d1, d2], "default only", (stamp) => `{"data":"default only",${stamp}}`);
  await exchange(b1, [b1], "[1,2]", (stamp) => `{"data":[1,2],${stamp}}`);
  await exchange(a2, [a1, a2], "again", (stamp) => `{"data":"again",${stamp}}`);

  for (const client of everyone) await expectNothingBefore(t, emulator, client);
  t.deepEqual(
    everyone.map((client) => client.frames.length),
    [2, 2, 1, 1, 1].map((n) => n + 1),
    "each message once, plus the marker",
  );
  t.deepEqual(await fanOutTotals(logs, mode), { receivers: 2 + 2 + 1 + 2, delivered: 7, gone: 0, failed: 0 });
  t.deepEqual(emulator.deadLetters(), []);
});

test("invalid room names refuse the handshake with 400 and write no row; a room combines with ?token=", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, { accessToken: "s3cret" });
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const url = (query: string) => `${emulator.endpoint}?token=s3cret&${query}`;
  const invalid = ["a b", "x".repeat(65), "café", DEFAULT_ROOM, "a/b", "semi;colon", "tab\t", "émoji👋"];
  for (const name of invalid) t.is(await handshakeStatus(url(`room=${encodeURIComponent(name)}`)), 400, JSON.stringify(name));
  t.deepEqual(await table.ids(), []);
  t.deepEqual(
    invocations(logs, "$connect").map(({ statusCode, error }) => [statusCode, error]),
    invalid.map(() => [400, "InvalidRoom"]),
  );
  // The token is checked first: no token, no say about the room.
  t.is(await handshakeStatus(`${emulator.endpoint}?room=${encodeURIComponent("a b")}`), 401);

  const longest = "Az09_.:-".repeat(8);
  const member = await connect(emulator, { url: url(`room=${longest}`) });
  t.deepEqual(await table.get(member.id).then((row) => row?.room), longest);
  t.deepEqual(await table.ids(), [member.id]);
});

test("sharded: shard jobs planned page by page are the jobs of the whole room; other rooms and expired rows are left out", async (t) => {
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.close());
  const tableName = "rooms-test";
  await ensureConnectionTable(dynamo.endpoint, tableName);
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamo.endpoint });
  t.teardown(() => client.destroy());
  const store = createDynamoConnectionStore(DynamoDBDocumentClient.from(client), { tableName, pageLimit: 7 });
  const expiresAt = Math.floor(Date.now() / 1000) + 7200;
  const members = Array.from({ length: 23 }, (_, i) => `member-${String(i).padStart(2, "0")}`);
  for (const connectionId of members) await store.put({ connectionId, connectedAt: 1, expiresAt, room: "r" });
  for (const connectionId of ["other-1", "other-2"]) await store.put({ connectionId, connectedAt: 1, expiresAt, room: "s" });
  await store.put({ connectionId: "member-expired", connectedAt: 1, expiresAt: 1, room: "r" });

  const enqueued: ShardJob[][] = [];
  const outgoing = withMe('{"data":"x","_now":1,"_id":"m1"}');
  const result = await broadcastToRoom(
    {
      store,
      posterFor: () => {
        throw new Error("sharded mode must not post");
      },
      limits: { maxMessageBytes: 131072, fanOutConcurrency: 4, connectionTtlSeconds: 7200 },
      now: Date.now,
      sharded: { shardSize: 5, queue: { enqueue: (jobs) => Promise.resolve(void enqueued.push([...jobs])) } },
    },
    { room: "r", sender: "member-03", outgoing, endpoint: "https://example/dev", messageId: "m1" },
  );
  t.deepEqual(result, { ok: true, counts: { receivers: 23, shards: 5 } });
  const header = { endpoint: "https://example/dev", sender: "member-03", messageId: "m1", base: outgoing.base };
  t.deepEqual(enqueued.flat(), planShardJobs(header, members, 5));
  // Enqueued as the pages came (7 ids each), not after the whole listing.
  t.true(enqueued.length > 1, `${enqueued.length} enqueue calls`);
});

test("a sender the lagging index does not list yet still gets its own copy, in both modes", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const sender = await inRoom(emulator, "lag");
  const other = await inRoom(emulator, "lag");
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: emulator.dynamoEndpoint });
  t.teardown(() => client.destroy());
  const real = createDynamoConnectionStore(DynamoDBDocumentClient.from(client), { tableName: emulator.tableName });
  // The real table, read through an index that has not caught up with the sender's `$connect`.
  const store: ConnectionStore = {
    ...real,
    forEachRoomPage: (room, now, onPage) => real.forEachRoomPage(room, now, (ids) => onPage(ids.filter((id) => id !== sender.id))),
  };
  const deps = {
    store,
    posterFor: createPosterFactory({ region: LOCAL_AWS.region, maxSockets: 4, credentials: LOCAL_AWS.credentials }),
    limits: { maxMessageBytes: 131072, fanOutConcurrency: 4, connectionTtlSeconds: 7200 },
    now: Date.now,
  };
  const message = { room: "lag", sender: sender.id, endpoint: emulator.managementEndpoint };

  const direct = await broadcastToRoom(deps, { ...message, outgoing: withMe('{"data":"direct","_now":7}') });
  t.like(direct, { ok: true, counts: { receivers: 2, delivered: 2 } });
  t.is(await sender.next(), '{"data":"direct","_now":7,"_me":true}');
  t.is(await other.next(), '{"data":"direct","_now":7,"_me":false}');

  const enqueued: ShardJob[] = [];
  const sharded = { shardSize: 1, queue: { enqueue: (jobs: readonly ShardJob[]) => Promise.resolve(void enqueued.push(...jobs)) } };
  const outgoing = withMe('{"data":"sharded","_now":7,"_id":"m2"}');
  t.deepEqual(await broadcastToRoom({ ...deps, sharded }, { ...message, outgoing, messageId: "m2" }), { ok: true, counts: { receivers: 2, shards: 2 } });
  t.deepEqual(enqueued.map((job) => job.receivers), [[other.id], [sender.id]]);
});

test("a table without room-index (a --data directory from before rooms) stops the emulator's set-up, naming the table", async (t) => {
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.close());
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamo.endpoint });
  t.teardown(() => client.destroy());
  await client.send(
    new CreateTableCommand({
      TableName: "old-table",
      AttributeDefinitions: [{ AttributeName: "connectionId", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "connectionId", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  await t.throwsAsync(ensureConnectionTable(dynamo.endpoint, "old-table"), {
    message: "table old-table has no room-index index: its data directory predates rooms; delete the directory or use another",
  });
  t.is(await ensureConnectionTable(dynamo.endpoint, "new-table"), "created");
  t.is(await ensureConnectionTable(dynamo.endpoint, "new-table"), "existing");
});
