/** `{"_op":"members"}` through $default over the in-memory fakes: the roster's shape and its limits. */
import test from "ava";
import { makeHandlers } from "../../runtime/routes/handlers";
import { MAX_MEMBERS, MAX_MEMBERS_BYTES } from "../../runtime/routes/members";
import { FAKE_NOW, fakeEvents, fakeRig, row } from "../helpers/fakes";

const MEMBERS = '{"_op":"members"}';

test("one entry per user, sorted by user, meta of its first connection; anonymous connections only counted", async (t) => {
  const { deps, store, poster } = fakeRig();
  store.rows.set("s", { ...row("s", "r"), user: "zoe" });
  store.rows.set("a1", { ...row("a1", "r"), user: "alice", meta: '{"name":"Alice"}' });
  store.rows.set("a2", { ...row("a2", "r"), user: "alice", meta: '{"name":"Alice 2"}' });
  store.rows.set("anon", row("anon", "r"));
  store.rows.set("elsewhere", { ...row("elsewhere", "other"), user: "bob" });
  t.deepEqual(await makeHandlers(deps).message(fakeEvents.message("s", MEMBERS)), { statusCode: 200 });
  t.deepEqual(poster.posts.map((post) => post.connectionId), ["s"]);
  t.is(
    poster.posts[0].payload,
    `{"_presence":{"event":"members","count":4,"members":[{"user":"alice","meta":{"name":"Alice"},"connections":2},{"user":"zoe","connections":1}]},"_now":${FAKE_NOW},"_me":true}`,
  );
});

test("the asker is counted even when the index does not list it yet; a field is a BadRequest", async (t) => {
  const { deps, store, poster } = fakeRig();
  store.rows.set("s", { ...row("s", "r"), user: "sam" });
  store.hideFromIndex("s");
  await makeHandlers(deps).message(fakeEvents.message("s", MEMBERS));
  t.deepEqual(poster.received("s"), [{ _presence: { event: "members", count: 1, members: [{ user: "sam", connections: 1 }] }, _now: FAKE_NOW, _me: true }]);
  await makeHandlers(deps).message(fakeEvents.message("s", '{"_op":"members","room":"x"}'));
  t.deepEqual(poster.received("s")[1], { _error: { code: "BadRequest", message: 'members takes no fields, got "room"' }, _now: FAKE_NOW, _me: true });
});

test(`at most ${MAX_MEMBERS} users and ${MAX_MEMBERS_BYTES} bytes of them: "truncated":true past either`, async (t) => {
  const many = fakeRig();
  many.store.rows.set("s", row("s", "r"));
  for (let i = 0; i < MAX_MEMBERS + 5; i++) many.store.rows.set(`c${i}`, { ...row(`c${i}`, "r"), user: `user-${String(i).padStart(4, "0")}` });
  await makeHandlers(many.deps).message(fakeEvents.message("s", MEMBERS));
  const roster = (many.poster.received("s")[0] as { _presence: { count: number; members: Array<{ user: string }>; truncated?: boolean } })._presence;
  t.is(roster.count, MAX_MEMBERS + 6);
  t.is(roster.members.length, MAX_MEMBERS);
  t.is(roster.members.at(-1)?.user, "user-0999");
  t.true(roster.truncated);

  const heavy = fakeRig();
  heavy.store.rows.set("s", row("s", "r"));
  const meta = JSON.stringify({ bio: "x".repeat(480) });
  for (let i = 0; i < 300; i++) heavy.store.rows.set(`c${i}`, { ...row(`c${i}`, "r"), user: `u${String(i).padStart(3, "0")}`, meta });
  await makeHandlers(heavy.deps).message(fakeEvents.message("s", MEMBERS));
  const big = (heavy.poster.received("s")[0] as { _presence: { members: unknown[]; truncated?: boolean } })._presence;
  t.true(big.truncated);
  t.true(Buffer.byteLength(JSON.stringify(big.members)) <= MAX_MEMBERS_BYTES);
  t.true(big.members.length > 150 && big.members.length < 300, `${big.members.length} listed`);
});

test("a connection without a row gets NotConnected; a store failure Unavailable", async (t) => {
  const { deps, store, poster } = fakeRig();
  await makeHandlers(deps).message(fakeEvents.message("ghost", MEMBERS));
  t.like(poster.received("ghost")[0], { _error: { code: "NotConnected" } });
  store.rows.set("s", row("s", "r"));
  store.fail("listMembers", "InternalServerError");
  await makeHandlers(deps).message(fakeEvents.message("s", MEMBERS));
  t.like(poster.received("s")[0], { _error: { code: "Unavailable", message: "connection store unavailable (InternalServerError); members not listed" } });
});
