/**
 * Every branch of `$connect` and `$disconnect` against in-memory fakes (test/helpers/fakes.ts):
 * exact results, posted payloads, rows and log lines, in milliseconds. message-unit.test.ts does
 * the same for `$default`; handlers.test.ts and the emulator tests prove the same paths with
 * dynalite and real sockets.
 */
import test from "ava";
import { makeHandlers } from "../../runtime/routes/handlers";
import { fakeEvents, fakeRig, FAKE_ENDPOINT, FAKE_NOW, logLine as line, row } from "../helpers/fakes";

const EXPIRES = FAKE_NOW / 1000 + 3600;
const presence = (event: "join" | "leave", count: number) => ({ _presence: { event, count }, _now: FAKE_NOW, _me: false });

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
