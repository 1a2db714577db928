/**
 * Every branch of `$default` (direct and sharded) against in-memory fakes (test/helpers/fakes.ts):
 * exact results, posted payloads, rows and log lines, in milliseconds. handlers-unit.test.ts does
 * the same for `$connect` and `$disconnect`.
 */
import test from "ava";
import { makeHandlers } from "../../runtime/routes/handlers";
import { createFakeShardQueue, fakeEvents, fakeRig, FAKE_ENDPOINT, FAKE_NOW, logLine as line, row } from "../helpers/fakes";

const errorOf = (code: string, message: string, extra: Record<string, number> = {}) => ({ _error: { code, message, ...extra }, _now: FAKE_NOW, _me: true });

test("$default decodes a base64-encoded body before stamping it", async (t) => {
  const { deps, store, poster } = fakeRig();
  store.rows.set("s", row("s", "$default"));
  const event = { ...fakeEvents.message("s", Buffer.from('{"bin":"ä"}').toString("base64")), isBase64Encoded: true };
  await makeHandlers(deps).message(event);
  t.deepEqual(poster.posts.map((post) => post.payload), [`{"bin":"ä","_now":${FAKE_NOW},"_me":true}`]);
});

test("$default sends the stamped copies to the sender's room only, skipping expired rows", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("s", row("s", "lobby"));
  store.rows.set("a", row("a", "lobby"));
  store.rows.set("old", row("old", "lobby", FAKE_NOW / 1000));
  store.rows.set("x", row("x", "other"));
  const event = fakeEvents.message("s", '{"text":"hi","_me":"forged","_now":1}');
  t.deepEqual(await makeHandlers(deps).message(event), { statusCode: 200 });
  t.deepEqual(poster.posts, [
    { endpoint: FAKE_ENDPOINT, connectionId: "s", payload: `{"text":"hi","_now":${FAKE_NOW},"_me":true}` },
    { endpoint: FAKE_ENDPOINT, connectionId: "a", payload: `{"text":"hi","_now":${FAKE_NOW},"_me":false}` },
  ]);
  t.deepEqual(logs, [line(event, 200, { receivers: 2, delivered: 2, gone: 0, failed: 0, failures: {} })]);
});

test("$default: a sender the index does not list yet still gets its own copy; non-objects are wrapped in data", async (t) => {
  const { deps, store, poster } = fakeRig();
  store.rows.set("s", row("s", "$default"));
  store.hideFromIndex("s");
  await makeHandlers(deps).message(fakeEvents.message("s", "plain text"));
  t.deepEqual(poster.posts.map((post) => [post.connectionId, post.payload]), [["s", `{"data":"plain text","_now":${FAKE_NOW},"_me":true}`]]);
});

test("$default posts to the management endpoint the deps override", async (t) => {
  const { deps, store, poster } = fakeRig({ managementEndpoint: "http://127.0.0.1:3001/dev" });
  store.rows.set("s", row("s", "$default"));
  await makeHandlers(deps).message(fakeEvents.message("s", "1"));
  t.deepEqual(poster.posts.map((post) => post.endpoint), ["http://127.0.0.1:3001/dev"]);
});

test("$default: a message over the limit goes back to the sender only as MessageTooLarge", async (t) => {
  const { deps, store, poster, logs } = fakeRig({ limits: { maxMessageBytes: 64, fanOutConcurrency: 1, connectionTtlSeconds: 3600 } });
  store.rows.set("s", row("s", "$default"));
  store.rows.set("a", row("a", "$default"));
  const event = fakeEvents.message("s", "x".repeat(64));
  t.deepEqual(await makeHandlers(deps).message(event), { statusCode: 200 });
  t.deepEqual(poster.posts.map((post) => post.connectionId), ["s"]);
  t.deepEqual(poster.received("s"), [errorOf("MessageTooLarge", "outgoing payload is 108 bytes, the limit is 64", { limit: 64 })]);
  t.deepEqual(logs, [line(event, 200, { error: "MessageTooLarge" })]);
});

test("$default: a number beyond JavaScript's range goes back to the sender only as BadRequest", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("s", row("s", "$default"));
  store.rows.set("a", row("a", "$default"));
  const event = fakeEvents.message("s", `{"score":1e400}`);
  t.deepEqual(await makeHandlers(deps).message(event), { statusCode: 200 });
  t.deepEqual(poster.posts.map((post) => post.connectionId), ["s"]);
  t.deepEqual(poster.received("s"), [errorOf("BadRequest", "the number at $.score is too large for JavaScript (beyond ±1.7976931348623157e308)")]);
  t.deepEqual(logs, [line(event, 200, { error: "BadRequest" })]);
});

test("$default: JSON nested deeper than 512 goes back to the sender only as NestingTooDeep", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("s", row("s", "$default"));
  store.rows.set("a", row("a", "$default"));
  const event = fakeEvents.message("s", `${"[".repeat(513)}${"]".repeat(513)}`);
  await makeHandlers(deps).message(event);
  t.deepEqual(poster.posts.map((post) => post.connectionId), ["s"]);
  t.deepEqual(poster.received("s"), [errorOf("NestingTooDeep", "JSON nesting is limited to 512 levels", { limit: 512 })]);
  t.deepEqual(logs, [line(event, 200, { error: "NestingTooDeep" })]);
});

test("$default from a connection without a row: NotConnected to the sender, nothing else", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("a", row("a", "$default"));
  const event = fakeEvents.message("ghost", "hi");
  await makeHandlers(deps).message(event);
  t.deepEqual(poster.posts.map((post) => post.connectionId), ["ghost"]);
  t.deepEqual(poster.received("ghost"), [errorOf("NotConnected", "this connection has no row in the connections table; message not sent")]);
  t.deepEqual(logs, [line(event, 200, { error: "NotConnected" })]);
});

test("$default when the store is down: Unavailable to the sender, nothing posted to anyone else", async (t) => {
  for (const call of ["membershipOf", "forEachRoomPage"] as const) {
    const { deps, store, poster, logs } = fakeRig();
    store.rows.set("s", row("s", "$default"));
    store.rows.set("a", row("a", "$default"));
    store.fail(call, "InternalServerError");
    const event = fakeEvents.message("s", "hi");
    t.deepEqual(await makeHandlers(deps).message(event), { statusCode: 200 });
    t.deepEqual(poster.posts.map((post) => post.connectionId), ["s"], call);
    t.deepEqual(poster.received("s"), [errorOf("Unavailable", "connection store unavailable (InternalServerError); message not sent")], call);
    t.deepEqual(logs, [line(event, 200, { error: "Unavailable" })], call);
  }
});

test("$default counts gone and failed posts by name; gone rows are deleted, failed rows stay", async (t) => {
  const { deps, store, poster, logs } = fakeRig({ limits: { maxMessageBytes: 1024, fanOutConcurrency: 3, connectionTtlSeconds: 3600 } });
  for (const id of ["s", "a", "gone1", "gone2", "slow1", "slow2", "net"]) store.rows.set(id, row(id, "$default"));
  poster.answer("gone1", { outcome: "gone" });
  poster.answer("gone2", { outcome: "gone" });
  poster.answer("slow1", { outcome: "failed", reason: "LimitExceededException" });
  poster.answer("slow2", { outcome: "failed", reason: "LimitExceededException" });
  poster.answer("net", { outcome: "failed", reason: "TimeoutError" });
  const event = fakeEvents.message("s", "hi");
  await makeHandlers(deps).message(event);
  t.is(poster.posts.length, 7);
  t.deepEqual([...store.rows.keys()], ["s", "a", "slow1", "slow2", "net"]);
  t.deepEqual(logs, [line(event, 200, { receivers: 7, delivered: 2, gone: 2, failed: 3, failures: { LimitExceededException: 2, TimeoutError: 1 } })]);
});

test("$default: a 410 for a connection younger than a $connect can run keeps its row (the joiner's $connect may not have returned yet)", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("s", row("s", "$default"));
  store.rows.set("joining", { ...row("joining", "$default"), connectedAt: FAKE_NOW - 1000 });
  store.rows.set("left", { ...row("left", "$default"), connectedAt: FAKE_NOW - 31_000 });
  poster.answer("joining", { outcome: "gone" });
  poster.answer("left", { outcome: "gone" });
  const event = fakeEvents.message("s", "hi");
  await makeHandlers(deps).message(event);
  t.deepEqual([...store.rows.keys()], ["s", "joining"]);
  t.deepEqual(logs, [line(event, 200, { receivers: 3, delivered: 1, gone: 2, failed: 0, failures: {} })]);
});

test("$default: a gone connection whose row cannot be deleted is counted as cleanupFailed", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("s", row("s", "$default"));
  store.rows.set("g", row("g", "$default"));
  poster.answer("g", { outcome: "gone" });
  store.failRemoveOf("g");
  const event = fakeEvents.message("s", "hi");
  await makeHandlers(deps).message(event);
  t.true(store.rows.has("g"));
  t.deepEqual(logs, [line(event, 200, { receivers: 2, delivered: 1, gone: 1, failed: 0, failures: {}, cleanupFailed: 1 })]);
});

test("$default sharded: shard jobs of at most shardSize ids carrying _id, nothing posted directly", async (t) => {
  const queue = createFakeShardQueue();
  const { deps, store, poster, logs } = fakeRig({ sharded: { queue, shardSize: 2 } });
  for (const id of ["s", "a", "b", "c", "d"]) store.rows.set(id, row(id, "lobby"));
  store.rows.set("x", row("x", "other"));
  const event = fakeEvents.message("s", '{"n":1}');
  const messageId = event.requestContext.messageId ?? "";
  t.deepEqual(await makeHandlers(deps).message(event), { statusCode: 200 });
  t.deepEqual(poster.posts, []);
  const header = { endpoint: FAKE_ENDPOINT, sender: "s", messageId, base: `{"n":1,"_now":${FAKE_NOW},"_id":${JSON.stringify(messageId)}}` };
  t.deepEqual(queue.batches.flat(), [
    { ...header, receivers: ["s", "a"] },
    { ...header, receivers: ["b", "c"] },
    { ...header, receivers: ["d"] },
  ]);
  t.deepEqual(logs, [line(event, 200, { receivers: 5, shards: 3 })]);
});

test("$default sharded: a sender the index does not list yet is added to the last job", async (t) => {
  const queue = createFakeShardQueue();
  const { deps, store } = fakeRig({ sharded: { queue, shardSize: 2 } });
  for (const id of ["s", "a", "b"]) store.rows.set(id, row(id, "$default"));
  store.hideFromIndex("s");
  await makeHandlers(deps).message(fakeEvents.message("s", "hi"));
  t.deepEqual(queue.batches.flat().map((job) => job.receivers), [["a", "b"], ["s"]]);
});

test("$default sharded: an enqueue failure is Unavailable to the sender; after accepted jobs it says the message may not reach everyone", async (t) => {
  const cases = [
    { accepted: 0, shards: 1, receivers: 4 },
    { accepted: 1, shards: 2, receivers: 5 },
  ];
  for (const { accepted, shards, receivers } of cases) {
    const queue = createFakeShardQueue();
    const { deps, store, poster, logs } = fakeRig({ sharded: { queue, shardSize: 2 } });
    for (const id of ["s", "a", "b", "c", "d"]) store.rows.set(id, row(id, "$default"));
    queue.fail("ShardEnqueueFailed", accepted);
    const event = fakeEvents.message("s", "hi");
    await makeHandlers(deps).message(event);
    t.is(queue.batches.length, accepted);
    t.deepEqual(poster.received("s"), [errorOf("Unavailable", "shard queue unavailable (ShardEnqueueFailed); message may not reach everyone")]);
    t.is(poster.posts.length, 1);
    t.deepEqual(logs, [line(event, 200, { receivers, shards, error: "Unavailable" })]);
  }
});

test("$default sharded: the store failing after jobs were accepted says the message may not reach everyone", async (t) => {
  const queue = createFakeShardQueue();
  const { deps, store, poster, logs } = fakeRig({ sharded: { queue, shardSize: 1 } });
  for (const id of ["s", "a", "b", "c"]) store.rows.set(id, row(id, "$default"));
  store.fail("forEachRoomPage", "InternalServerError", 1);
  const event = fakeEvents.message("s", "hi");
  await makeHandlers(deps).message(event);
  t.deepEqual(queue.batches.flat().map((job) => job.receivers), [["s"]]);
  t.deepEqual(poster.received("s"), [errorOf("Unavailable", "connection store unavailable (InternalServerError); message may not reach everyone")]);
  t.deepEqual(logs, [line(event, 200, { receivers: 2, shards: 1, error: "Unavailable" })]);
});
