/**
 * Every branch of `$connect`, `$disconnect` and `$default` against in-memory fakes
 * (test/helpers/fakes.ts): exact results, posted payloads, rows and log lines, in milliseconds.
 * handlers.test.ts and the emulator tests prove the same paths with dynalite and real sockets.
 */
import test from "ava";
import { makeHandlers } from "../../runtime/routes/handlers";
import { createFakeShardQueue, fakeEvents, fakeRig, FAKE_ENDPOINT, FAKE_NOW, row } from "../helpers/fakes";

const EXPIRES = FAKE_NOW / 1000 + 3600;
const presence = (event: "join" | "leave", count: number) => ({ _presence: { event, count }, _now: FAKE_NOW, _me: false });
const errorOf = (code: string, message: string, extra: Record<string, number> = {}) => ({ _error: { code, message, ...extra }, _now: FAKE_NOW, _me: true });
const line = (event: { requestContext: { routeKey: string; connectionId: string; requestId: string } }, statusCode: number, rest: object = {}) => ({
  route: event.requestContext.routeKey,
  connectionId: event.requestContext.connectionId,
  requestId: event.requestContext.requestId,
  statusCode,
  durationMs: 0,
  ...rest,
});

test("$connect admits into the default room: the row with its TTL, 200, one log line", async (t) => {
  const { deps, store, logs, poster } = fakeRig();
  const event = fakeEvents.connect("c1");
  t.deepEqual(await makeHandlers(deps).connect(event), { statusCode: 200 });
  t.deepEqual([...store.rows.values()], [{ connectionId: "c1", connectedAt: FAKE_NOW, expiresAt: EXPIRES, room: "$default" }]);
  t.deepEqual(logs, [line(event, 200)]);
  t.deepEqual(poster.posts, []);
});

test("$connect with ?room= records that room; an empty ?room= is the default room", async (t) => {
  const { deps, store } = fakeRig();
  const { connect } = makeHandlers(deps);
  await connect(fakeEvents.connect("c1", { query: { room: "lobby.1:a-b_c" } }));
  await connect(fakeEvents.connect("c2", { query: { room: "" } }));
  t.is(store.rows.get("c1")?.room, "lobby.1:a-b_c");
  t.is(store.rows.get("c2")?.room, "$default");
});

test("$connect with a token policy: 401 without it or with a wrong one, 200 with ?token= or a Bearer header", async (t) => {
  const { deps, store, logs } = fakeRig({ access: { token: "s3cret", allowedOrigins: [] } });
  const { connect } = makeHandlers(deps);
  const missing = fakeEvents.connect("c1");
  t.deepEqual(await connect(missing), { statusCode: 401, body: "Unauthorized" });
  t.deepEqual(await connect(fakeEvents.connect("c2", { query: { token: "wrong" } })), { statusCode: 401, body: "Unauthorized" });
  t.deepEqual(await connect(fakeEvents.connect("c3", { query: { token: "s3cret" } })), { statusCode: 200 });
  t.deepEqual(await connect(fakeEvents.connect("c4", { query: { token: "" }, headers: { Authorization: "Bearer s3cret" } })), { statusCode: 200 });
  t.deepEqual([...store.rows.keys()], ["c3", "c4"]);
  t.deepEqual(logs[0], line(missing, 401, { error: "Unauthorized", reason: "no token" }));
});

test("$connect with allowed origins: 403 for another Origin, nothing written; no Origin is admitted", async (t) => {
  const { deps, store, logs } = fakeRig({ access: { allowedOrigins: ["https://app.example"] } });
  const { connect } = makeHandlers(deps);
  const foreign = fakeEvents.connect("c1", { headers: { Origin: "https://evil.example" } });
  t.deepEqual(await connect(foreign), { statusCode: 403, body: "Forbidden" });
  t.deepEqual(await connect(fakeEvents.connect("c2", { headers: { origin: "https://app.example" } })), { statusCode: 200 });
  t.deepEqual(await connect(fakeEvents.connect("c3")), { statusCode: 200 });
  t.deepEqual([...store.rows.keys()], ["c2", "c3"]);
  t.deepEqual(logs[0], line(foreign, 403, { error: "Forbidden", reason: "origin not allowed" }));
});

test("$connect with an invalid room name: 400 naming the rule, nothing written", async (t) => {
  const { deps, store, logs } = fakeRig();
  const event = fakeEvents.connect("c1", { query: { room: "no spaces" } });
  t.deepEqual(await makeHandlers(deps).connect(event), { statusCode: 400, body: "Bad Request: room must be 1-64 characters of A-Z a-z 0-9 _ . : -" });
  t.is(store.rows.size, 0);
  t.deepEqual(logs, [line(event, 400, { error: "InvalidRoom" })]);
});

test("$connect when the store refuses the row: 500, the error's name logged", async (t) => {
  const { deps, store, logs } = fakeRig();
  store.fail("put", "ProvisionedThroughputExceededException");
  const event = fakeEvents.connect("c1");
  t.deepEqual(await makeHandlers(deps).connect(event), { statusCode: 500, body: "Internal server error" });
  t.deepEqual(logs, [line(event, 500, { error: "ProvisionedThroughputExceededException" })]);
});

test("$connect with presence: the room's other members hear the join with the count, the joiner and other rooms hear nothing", async (t) => {
  const { deps, store, poster, logs } = fakeRig({ presence: true });
  store.rows.set("a", row("a", "lobby"));
  store.rows.set("b", row("b", "lobby"));
  store.rows.set("x", row("x", "other"));
  const event = fakeEvents.connect("c", { query: { room: "lobby" } });
  t.deepEqual(await makeHandlers(deps).connect(event), { statusCode: 200 });
  t.deepEqual(poster.posts.map((post) => [post.endpoint, post.connectionId]), [[FAKE_ENDPOINT, "a"], [FAKE_ENDPOINT, "b"]]);
  t.deepEqual(poster.received("a"), [presence("join", 3)]);
  t.deepEqual(poster.received("b"), [presence("join", 3)]);
  t.deepEqual(logs, [line(event, 200, { receivers: 2, delivered: 2, gone: 0, failed: 0, failures: {} })]);
});

test("$connect with presence: an index that does not list the joiner yet still counts it", async (t) => {
  const { deps, store, poster } = fakeRig({ presence: true });
  store.rows.set("a", row("a", "lobby"));
  store.hideFromIndex("c");
  await makeHandlers(deps).connect(fakeEvents.connect("c", { query: { room: "lobby" } }));
  t.deepEqual(poster.received("a"), [presence("join", 2)]);
  t.deepEqual(poster.received("c"), []);
});

test("$connect with presence when the room cannot be listed: still admitted, the failure only logged", async (t) => {
  const { deps, store, poster, logs } = fakeRig({ presence: true });
  store.fail("forEachRoomPage", "InternalServerError");
  const event = fakeEvents.connect("c");
  t.deepEqual(await makeHandlers(deps).connect(event), { statusCode: 200 });
  t.true(store.rows.has("c"));
  t.deepEqual(poster.posts, []);
  t.deepEqual(logs, [line(event, 200, { error: "presence: InternalServerError" })]);
});

test("$disconnect removes the row: 200, one log line, no presence unless enabled", async (t) => {
  const { deps, store, poster, logs } = fakeRig();
  store.rows.set("a", row("a", "$default"));
  store.rows.set("b", row("b", "$default"));
  const event = fakeEvents.disconnect("a");
  t.deepEqual(await makeHandlers(deps).disconnect(event), { statusCode: 200 });
  t.deepEqual([...store.rows.keys()], ["b"]);
  t.deepEqual(poster.posts, []);
  t.deepEqual(logs, [line(event, 200)]);
});

test("$disconnect when the store fails: 500 with the error's name logged", async (t) => {
  const { deps, store, logs } = fakeRig({ presence: true });
  store.rows.set("a", row("a", "$default"));
  store.fail("remove", "ResourceNotFoundException");
  const event = fakeEvents.disconnect("a");
  t.deepEqual(await makeHandlers(deps).disconnect(event), { statusCode: 500 });
  t.deepEqual(logs, [line(event, 500, { error: "ResourceNotFoundException" })]);
});

test("$disconnect with presence: the rest of the room hears the leave; a connection without a row tells nobody", async (t) => {
  const { deps, store, poster, logs } = fakeRig({ presence: true });
  for (const id of ["a", "b", "c"]) store.rows.set(id, row(id, "lobby"));
  const { disconnect } = makeHandlers(deps);
  const leave = fakeEvents.disconnect("c");
  t.deepEqual(await disconnect(leave), { statusCode: 200 });
  t.deepEqual(poster.received("a"), [presence("leave", 2)]);
  t.deepEqual(poster.received("b"), [presence("leave", 2)]);
  t.deepEqual(poster.received("c"), []);
  const unknown = fakeEvents.disconnect("never-connected");
  t.deepEqual(await disconnect(unknown), { statusCode: 200 });
  t.is(poster.posts.length, 2);
  t.deepEqual(logs, [line(leave, 200, { receivers: 2, delivered: 2, gone: 0, failed: 0, failures: {} }), line(unknown, 200)]);
});

test("$disconnect with presence: an index that still lists the leaver neither counts it nor posts to it", async (t) => {
  const { deps, store, poster } = fakeRig({ presence: true });
  for (const id of ["a", "c"]) store.rows.set(id, row(id, "lobby"));
  store.lingerInIndex("c");
  await makeHandlers(deps).disconnect(fakeEvents.disconnect("c"));
  t.false(store.rows.has("c"));
  t.deepEqual(poster.posts.map((post) => post.connectionId), ["a"]);
  t.deepEqual(poster.received("a"), [presence("leave", 1)]);
});

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
