/**
 * Every branch of the publish handler and the shard worker against in-memory fakes
 * (test/helpers/fakes.ts): exact HTTP answers, posted payloads, rows and log lines.
 * publish.test.ts and shards.test.ts prove the same paths through the emulator and dynalite.
 */
import test from "ava";
import { makePublishHandler } from "../../runtime/routes/publish";
import { encodeShardJob } from "../../runtime/delivery/shard-jobs";
import { makeShardWorkerHandler } from "../../runtime/routes/shard-worker";
import { createFakeShardQueue, fakeRig, publishEvent, FAKE_ENDPOINT, FAKE_NOW, row, type FakeRig } from "../helpers/fakes";

const publishRig = (overrides: Parameters<typeof fakeRig>[0] = {}): FakeRig & { publish: ReturnType<typeof makePublishHandler> } => {
  const rig = fakeRig(overrides);
  return { ...rig, publish: makePublishHandler({ ...rig.deps, managementEndpoint: FAKE_ENDPOINT }) };
};
const answer = (statusCode: number, body: object, headers: Record<string, string> = {}) => ({
  statusCode,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});
const line = (statusCode: number, rest: object = {}) => ({ route: "publish", connectionId: "", requestId: "publish-request-1", statusCode, durationMs: 0, ...rest });

test("publish refuses anything but POST with 405 and Allow: POST", async (t) => {
  const { publish, poster, logs } = publishRig();
  t.deepEqual(
    await publish(publishEvent({ method: "GET" })),
    answer(405, { _error: { code: "MethodNotAllowed", message: "GET is not supported; POST the message" } }, { Allow: "POST" }),
  );
  t.deepEqual(poster.posts, []);
  t.deepEqual(logs, [line(405, { error: "MethodNotAllowed" })]);
});

test("publish refuses an invalid room with 400", async (t) => {
  const { publish, logs } = publishRig();
  t.deepEqual(
    await publish(publishEvent({ room: "a/b", body: "hi" })),
    answer(400, { _error: { code: "InvalidRoom", message: "room must be 1-64 characters of A-Z a-z 0-9 _ . : -" } }),
  );
  t.deepEqual(logs, [line(400, { error: "InvalidRoom" })]);
});

test("publish refuses a body over 128 KiB, and a message over the limit once stamped, with 413", async (t) => {
  const { publish, store, poster } = publishRig();
  store.rows.set("a", row("a", "$default"));
  t.deepEqual(
    await publish(publishEvent({ body: "x".repeat(131073) })),
    answer(413, { _error: { code: "MessageTooLarge", message: "request body is 131073 bytes, the limit is 131072", limit: 131072 } }),
  );
  t.deepEqual(
    await publish(publishEvent({ body: "x".repeat(1000) })),
    answer(413, { _error: { code: "MessageTooLarge", message: "outgoing payload is 1059 bytes, the limit is 1024", limit: 1024 } }),
  );
  t.deepEqual(poster.posts, []);
});

test("publish refuses JSON nested deeper than 512 with 400", async (t) => {
  const { publish, logs } = publishRig();
  t.deepEqual(
    await publish(publishEvent({ body: `${"{\"a\":".repeat(513)}1${"}".repeat(513)}` })),
    answer(400, { _error: { code: "NestingTooDeep", message: "JSON nesting is limited to 512 levels", limit: 512 } }),
  );
  t.deepEqual(logs, [line(400, { error: "NestingTooDeep" })]);
});

test("publish (direct) posts the _server copy to every member of the room and answers 200 with the counts", async (t) => {
  const { publish, store, poster, logs } = publishRig();
  for (const id of ["a", "b", "g"]) store.rows.set(id, row(id, "lobby"));
  store.rows.set("x", row("x", "$default"));
  poster.answer("g", { outcome: "gone" });
  t.deepEqual(await publish(publishEvent({ room: "lobby", body: '{"alert":"deploy","_me":true}' })), answer(200, { room: "lobby", receivers: 3, delivered: 2, gone: 1, failed: 0 }));
  const copy = `{"alert":"deploy","_now":${FAKE_NOW},"_server":true,"_me":false}`;
  t.deepEqual(poster.posts, ["a", "b", "g"].map((connectionId) => ({ endpoint: FAKE_ENDPOINT, connectionId, payload: copy })));
  t.false(store.rows.has("g"));
  t.deepEqual(logs, [line(200, { receivers: 3, delivered: 2, gone: 1, failed: 0, failures: {} })]);
});

test("publish without ?room= reaches the default room and answers room null", async (t) => {
  const { publish, store, poster } = publishRig();
  store.rows.set("a", row("a", "$default"));
  store.rows.set("l", row("l", "lobby"));
  t.deepEqual(await publish(publishEvent({ body: "plain" })), answer(200, { room: null, receivers: 1, delivered: 1, gone: 0, failed: 0 }));
  t.deepEqual(poster.received("a"), [{ data: "plain", _now: FAKE_NOW, _server: true, _me: false }]);
});

test("publish (sharded) enqueues jobs carrying the request id as _id and answers 202 with the shard count", async (t) => {
  const queue = createFakeShardQueue();
  const { publish, store, poster, logs } = publishRig({ sharded: { queue, shardSize: 2 } });
  for (const id of ["a", "b", "c"]) store.rows.set(id, row(id, "lobby"));
  t.deepEqual(await publish(publishEvent({ room: "lobby", body: "1" })), answer(202, { room: "lobby", shards: 2 }));
  t.deepEqual(poster.posts, []);
  const header = { endpoint: FAKE_ENDPOINT, sender: "", messageId: "publish-request-1", base: `{"data":1,"_now":${FAKE_NOW},"_server":true,"_id":"publish-request-1"}` };
  t.deepEqual(queue.batches.flat(), [
    { ...header, receivers: ["a", "b"] },
    { ...header, receivers: ["c"] },
  ]);
  t.deepEqual(logs, [line(202, { receivers: 3, shards: 2 })]);
});

test("publish answers 503 when the store or the shard queue is unavailable", async (t) => {
  const direct = publishRig();
  direct.store.fail("forEachRoomPage", "InternalServerError");
  t.deepEqual(
    await direct.publish(publishEvent({ body: "1" })),
    answer(503, { _error: { code: "Unavailable", message: "connection store unavailable (InternalServerError); message not sent" } }),
  );
  t.deepEqual(direct.logs, [line(503, { error: "Unavailable" })]);

  const queue = createFakeShardQueue();
  const sharded = publishRig({ sharded: { queue, shardSize: 2 } });
  sharded.store.rows.set("a", row("a", "$default"));
  queue.fail("ShardEnqueueFailed");
  t.deepEqual(
    await sharded.publish(publishEvent({ body: "1" })),
    answer(503, { _error: { code: "Unavailable", message: "shard queue unavailable (ShardEnqueueFailed); message may not reach everyone" } }),
  );
  t.deepEqual(sharded.logs, [line(503, { receivers: 1, shards: 1, error: "Unavailable" })]);
});

const job = (receivers: string[], messageId = "m1") => ({ endpoint: FAKE_ENDPOINT, sender: "s", messageId, base: `{"n":1,"_now":${FAKE_NOW},"_id":"${messageId}"}`, receivers });

test("shard worker posts each job's copies (the sender's with _me true) and logs one line per job", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("g", row("g", "$default"));
  poster.answer("g", { outcome: "gone" });
  const result = await makeShardWorkerHandler(deps)({ Records: [{ messageId: "sqs-1", body: encodeShardJob(job(["s", "a", "g"])) }] });
  t.deepEqual(result, { batchItemFailures: [] });
  t.deepEqual(poster.posts, [
    { endpoint: FAKE_ENDPOINT, connectionId: "s", payload: `{"n":1,"_now":${FAKE_NOW},"_id":"m1","_me":true}` },
    { endpoint: FAKE_ENDPOINT, connectionId: "a", payload: `{"n":1,"_now":${FAKE_NOW},"_id":"m1","_me":false}` },
    { endpoint: FAKE_ENDPOINT, connectionId: "g", payload: `{"n":1,"_now":${FAKE_NOW},"_id":"m1","_me":false}` },
  ]);
  t.false(store.rows.has("g"));
  t.deepEqual(logs, [{ route: "shard", connectionId: "s", requestId: "m1", statusCode: 200, durationMs: 0, receivers: 3, delivered: 2, gone: 1, failed: 0, failures: {} }]);
});

test("shard worker reports only the records with a failed post (partial batch response), and a body it cannot decode", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("g", row("g", "$default"));
  store.failRemoveOf("g");
  poster.answer("g", { outcome: "gone" });
  poster.answer("slow", { outcome: "failed", reason: "LimitExceededException" });
  const result = await makeShardWorkerHandler(deps)({
    Records: [
      { messageId: "sqs-ok", body: encodeShardJob(job(["a", "g"], "m1")) },
      { messageId: "sqs-failed", body: encodeShardJob(job(["b", "slow"], "m2")) },
      { messageId: "sqs-garbled", body: '{"endpoint":1}\n{}' },
      { messageId: "sqs-no-line", body: "{}" },
    ],
  });
  t.deepEqual(result, { batchItemFailures: [{ itemIdentifier: "sqs-failed" }, { itemIdentifier: "sqs-garbled" }, { itemIdentifier: "sqs-no-line" }] });
  t.deepEqual(poster.posts.map((post) => post.connectionId).sort(), ["a", "b", "g", "slow"]);
  t.deepEqual(
    [...logs].sort((x, y) => x.requestId.localeCompare(y.requestId)),
    [
      { route: "shard", connectionId: "s", requestId: "m1", statusCode: 200, durationMs: 0, receivers: 2, delivered: 1, gone: 1, failed: 0, failures: {}, cleanupFailed: 1 },
      { route: "shard", connectionId: "s", requestId: "m2", statusCode: 500, durationMs: 0, receivers: 2, delivered: 1, gone: 0, failed: 1, failures: { LimitExceededException: 1 } },
      { route: "shard", connectionId: "", requestId: "sqs-garbled", statusCode: 400, durationMs: 0, error: "Error" },
      { route: "shard", connectionId: "", requestId: "sqs-no-line", statusCode: 400, durationMs: 0, error: "Error" },
    ],
  );
});
