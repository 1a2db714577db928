/**
 * The history store against dynalite through the real SDK: numbers from 1 without a hole under
 * concurrent senders, numbering that survives TTL deleting every message, and reads that skip
 * expired items, page, and say when messages were missed.
 */
import test, { type ExecutionContext } from "ava";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { createDynamoHistoryStore, type HistoryStore } from "../../runtime/store/history-store";
import { HISTORY_TABLE } from "../../runtime/store/history-table";
import { LOCAL_AWS, ensureHistoryTable, startDynamo } from "../../local/services/dynalite-store";

const TABLE = "history-test";
const NOW = 1_800_000_000;

async function openStore(t: ExecutionContext, ttlSeconds = 60): Promise<{ store: HistoryStore; doc: DynamoDBDocumentClient }> {
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.close());
  t.is(await ensureHistoryTable(dynamo.endpoint, TABLE), "created");
  t.is(await ensureHistoryTable(dynamo.endpoint, TABLE), "existing");
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamo.endpoint });
  t.teardown(() => client.destroy());
  const doc = DynamoDBDocumentClient.from(client);
  return { store: createDynamoHistoryStore(doc, { tableName: TABLE, ttlSeconds }), doc };
}

const entry = (text: string) => (seq: number) => ({ base: `{"data":"${text}","_now":1,"_seq":${seq}}`, sender: "c1" });

test("append: 1, 2, 3… per room; 40 concurrent senders in one room get 1–40, each exactly once", async (t) => {
  const { store } = await openStore(t);
  t.is(await store.append("a", NOW, entry("x")), 1);
  t.is(await store.append("a", NOW, entry("y")), 2);
  t.is(await store.append("b", NOW, entry("z")), 1, "rooms are numbered apart");
  const seqs = await Promise.all(Array.from({ length: 40 }, (_, i) => store.append("hot", NOW, entry(`m${i}`))));
  t.deepEqual([...seqs].sort((x, y) => Number(x) - Number(y)), Array.from({ length: 40 }, (_, i) => i + 1));
  const read = await store.read("hot", { since: 0, limit: 1000, nowSeconds: NOW });
  t.deepEqual(read.messages.map((m) => m.seq), Array.from({ length: 40 }, (_, i) => i + 1));
  // Each stored copy is the one built for its number.
  for (const message of read.messages) t.true(message.base.endsWith(`"_seq":${message.seq}}`));
});

test("append: a declined build stores nothing and uses no number", async (t) => {
  const { store } = await openStore(t);
  t.is(await store.append("a", NOW, () => undefined), undefined);
  t.is(await store.append("a", NOW, entry("x")), 1);
});

test("append: numbering goes on after TTL deleted every message (the head keeps the largest number)", async (t) => {
  const { store, doc } = await openStore(t);
  for (let i = 0; i < 3; i++) await store.append("a", NOW, entry(`m${i}`));
  for (const seq of [1, 2, 3]) await doc.send(new DeleteCommand({ TableName: TABLE, Key: { room: "a", seq } }));
  t.is(await store.append("a", NOW + 100, entry("later")), 4);
});

test("append: a head left behind (its update lost) costs one more conditional put, never a duplicate", async (t) => {
  const { store, doc } = await openStore(t);
  for (let i = 0; i < 3; i++) await store.append("a", NOW, entry(`m${i}`));
  await doc.send(new PutCommand({ TableName: TABLE, Item: { room: "a", seq: HISTORY_TABLE.headSeq, latest: 1 } }));
  t.is(await store.append("a", NOW, entry("next")), 4);
});

test("append: a put lost to numbers the head does not know goes on from the room's end, in one more put", async (t) => {
  const { store, doc } = await openStore(t);
  // Stored by other containers whose head updates were lost: the head still says nothing.
  for (let seq = 1; seq <= 30; seq++) await doc.send(new PutCommand({ TableName: TABLE, Item: { room: "a", seq, base: "{}", sender: "", expiresAt: NOW + 60 } }));
  t.is(await store.append("a", NOW, entry("x")), 31);
});

const DAY = 86_400;

/** The commands `doc` sends, by name, from now on. */
function countCalls(doc: DynamoDBDocumentClient): Record<string, number> {
  const calls: Record<string, number> = {};
  doc.middlewareStack.add(
    (next, context) => (args) => {
      calls[context.commandName ?? "?"] = (calls[context.commandName ?? "?"] ?? 0) + 1;
      return next(args);
    },
    { step: "initialize", name: "countCalls" },
  );
  return calls;
}

test("append: a container that knows the room's last number stores the next without reading the head, until near that item's expiry", async (t) => {
  const { store, doc } = await openStore(t, DAY);
  const calls = countCalls(doc);
  t.is(await store.append("a", NOW, entry("first")), 1);
  t.deepEqual(calls, { GetItemCommand: 1, PutItemCommand: 1, UpdateItemCommand: 1 });
  t.is(await store.append("a", NOW + 10, entry("second")), 2);
  t.deepEqual(calls, { GetItemCommand: 1, PutItemCommand: 2, UpdateItemCommand: 2 }, "no read of the head");
  // Two minutes before item 2 expires, it is no longer relied on: the head is read again.
  t.is(await store.append("a", NOW + 10 + DAY - 120, entry("late")), 3);
  t.is(calls.GetItemCommand, 2);
});

test("append: a remembered number another container went past costs one lost put, and the next is tried without a read", async (t) => {
  const { store, doc } = await openStore(t, DAY);
  t.is(await store.append("a", NOW, entry("mine")), 1);
  // Another container stored 2 (its own store, its own memory).
  const other = createDynamoHistoryStore(doc, { tableName: TABLE, ttlSeconds: DAY });
  t.is(await other.append("a", NOW, entry("theirs")), 2);
  const calls = countCalls(doc);
  t.is(await store.append("a", NOW, entry("mine again")), 3);
  t.deepEqual(calls, { PutItemCommand: 2, UpdateItemCommand: 1 });
});

test("append: 8 containers racing in one room with a day's retention store 1–200, each exactly once", async (t) => {
  const { doc } = await openStore(t, DAY);
  const containers = Array.from({ length: 8 }, () => createDynamoHistoryStore(doc, { tableName: TABLE, ttlSeconds: DAY }));
  const seqs = (await Promise.all(containers.map(async (container, c) => {
    const mine: Array<number | undefined> = [];
    for (let i = 0; i < 25; i++) mine.push(await container.append("hot", NOW, entry(`c${c}m${i}`)));
    return mine;
  }))).flat();
  t.deepEqual([...seqs].sort((x, y) => Number(x) - Number(y)), Array.from({ length: 200 }, (_, i) => i + 1));
  const read = await containers[0].read("hot", { since: 0, limit: 1000, nowSeconds: NOW });
  t.deepEqual(read.messages.map((m) => m.seq), Array.from({ length: 200 }, (_, i) => i + 1));
});

test("read: after since in order with more; the latest without since; expired items skipped and reported missed", async (t) => {
  const { store } = await openStore(t, 60);
  // 1–5 expire at NOW+60, 6–10 at NOW+100.
  for (let i = 1; i <= 5; i++) await store.append("a", NOW, entry(`m${i}`));
  for (let i = 6; i <= 10; i++) await store.append("a", NOW + 40, entry(`m${i}`));
  const seqs = (read: { messages: Array<{ seq: number }> }) => read.messages.map((m) => m.seq);

  const page = await store.read("a", { since: 2, limit: 3, nowSeconds: NOW });
  t.deepEqual({ ...page, messages: seqs(page) }, { messages: [3, 4, 5], since: 2, until: 5, more: true, missed: false });
  const last = await store.read("a", { since: 8, limit: 3, nowSeconds: NOW });
  t.deepEqual({ ...last, messages: seqs(last) }, { messages: [9, 10], since: 8, until: 10, more: false, missed: false });
  const latest = await store.read("a", { limit: 4, nowSeconds: NOW });
  t.deepEqual({ ...latest, messages: seqs(latest) }, { messages: [7, 8, 9, 10], since: 6, until: 10, more: false, missed: false });

  // At NOW+70, 1–5 are past their retention (still in the table: TTL deletes lazily).
  const after = await store.read("a", { since: 2, limit: 100, nowSeconds: NOW + 70 });
  t.deepEqual({ ...after, messages: seqs(after) }, { messages: [6, 7, 8, 9, 10], since: 2, until: 10, more: false, missed: true });
  const joiner = await store.read("a", { limit: 100, nowSeconds: NOW + 70 });
  t.deepEqual(seqs(joiner), [6, 7, 8, 9, 10]);
  t.is(joiner.since, 5);
  // Everything past retention: nothing, missed, and a late joiner learns the latest number.
  const gone = await store.read("a", { since: 4, limit: 100, nowSeconds: NOW + 200 });
  t.deepEqual(gone, { messages: [], since: 4, until: 4, more: false, missed: true });
  t.deepEqual(await store.read("a", { limit: 100, nowSeconds: NOW + 200 }), { messages: [], since: 10, until: 10, more: false, missed: false });
  t.deepEqual(await store.read("a", { since: 10, limit: 100, nowSeconds: NOW }), { messages: [], since: 10, until: 10, more: false, missed: false });
  t.deepEqual(await store.read("empty", { limit: 100, nowSeconds: NOW }), { messages: [], since: 0, until: 0, more: false, missed: false });
});
