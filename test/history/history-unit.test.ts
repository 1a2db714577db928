/**
 * History's branches in `$default` and publish against in-memory fakes: a store that is throttled
 * or keeps losing the number answers the sender alone with Unavailable (publish: 503) and posts
 * nothing; a message whose numbered copy is too large is refused with nothing stored; the history
 * op's own failures. The real store is proven in history-store.test.ts, end to end in history.test.ts.
 */
import test from "ava";
import { makeHandlers } from "../../runtime/routes/handlers";
import { makePublishHandler } from "../../runtime/routes/publish";
import type { HistoryStore } from "../../runtime/store/history-store";
import { historyAnswer } from "../../runtime/contract/history-answer";
import { FAKE_ENDPOINT, FAKE_NOW, fakeEvents, fakeRig, publishEvent, row } from "../helpers/fakes";

/** Numbers from 1 and keeps what it stored; `fail` makes every later call throw an error of that name. */
function fakeHistory(): HistoryStore & { stored: Array<{ room: string; seq: number; base: string; sender: string }>; fail(name: string): void } {
  const stored: Array<{ room: string; seq: number; base: string; sender: string }> = [];
  let failure: string | undefined;
  const check = () => {
    if (failure) throw Object.assign(new Error(`${failure} (fake)`), { name: failure });
  };
  return {
    stored,
    fail: (name) => void (failure = name),
    append(room, _now, build) {
      check();
      const seq = stored.filter((item) => item.room === room).length + 1;
      const entry = build(seq);
      if (entry === undefined) return Promise.resolve(undefined);
      stored.push({ room, seq, ...entry });
      return Promise.resolve(seq);
    },
    read() {
      check();
      return Promise.resolve({ messages: [], since: 0, until: 0, more: false, missed: false });
    },
  };
}

const unavailable = (name: string) => ({ _error: { code: "Unavailable", message: `history store unavailable (${name}); message not sent` }, _now: FAKE_NOW, _me: true });

for (const name of ["ProvisionedThroughputExceededException", "HistoryContention"]) {
  test(`$default: a ${name} store reaches the sender alone as Unavailable; nothing is posted to the room`, async (t) => {
    const history = fakeHistory();
    const { deps, store, poster, logs } = fakeRig({ history });
    store.rows.set("a", row("a", "r"));
    store.rows.set("b", row("b", "r"));
    history.fail(name);
    await makeHandlers(deps).message(fakeEvents.message("a", "hi"));
    t.deepEqual(poster.posts.map((post): [string, unknown] => [post.connectionId, JSON.parse(post.payload)]), [["a", unavailable(name)]]);
    t.like(logs[0], { route: "$default", error: "Unavailable" });
    t.is(logs[0].seq, undefined);
  });
}

test("$default: each copy carries the number it is stored under; the log line says which", async (t) => {
  const history = fakeHistory();
  const { deps, store, poster, logs } = fakeRig({ history });
  store.rows.set("a", row("a", "r"));
  store.rows.set("b", row("b", "r"));
  const { message } = makeHandlers(deps);
  await message(fakeEvents.message("a", "one"));
  await message(fakeEvents.message("b", '{"t":2,"_seq":1}'));
  t.deepEqual(poster.received("b"), [
    { data: "one", _now: FAKE_NOW, _seq: 1, _me: false },
    { t: 2, _now: FAKE_NOW, _seq: 2, _me: true },
  ]);
  t.deepEqual(history.stored.map(({ seq, base, sender }) => [seq, base, sender]), [
    [1, `{"data":"one","_now":${FAKE_NOW},"_seq":1}`, "a"],
    [2, `{"t":2,"_now":${FAKE_NOW},"_seq":2}`, "b"],
  ]);
  t.deepEqual(logs.map((line) => line.seq), [1, 2]);
});

test("$default: with history a copy may be at most 128 KiB less the answer's envelope, so one always fits an answer", async (t) => {
  const history = fakeHistory();
  const { deps, store, poster } = fakeRig({ history, limits: { maxMessageBytes: 131072, fanOutConcurrency: 1, connectionTtlSeconds: 3600 } });
  store.rows.set("a", row("a", "r"));
  // {"data":"…","_now":N,"_me":false}: 44 bytes around the text, 53 with ,"_seq":1. One byte over
  // once numbered: refused by the copy built for the number, and nothing is stored.
  await makeHandlers(deps).message(fakeEvents.message("a", "x".repeat(130816 - 53 + 1)));
  t.like(poster.received("a")[0], { _error: { code: "MessageTooLarge", limit: 130816 } });
  t.deepEqual(history.stored, []);
  await makeHandlers(deps).message(fakeEvents.message("a", "x".repeat(130816 - 53)));
  t.is(history.stored.length, 1);
  // The sender's own copy ("_me":true) is the one byte shorter.
  t.is(Buffer.byteLength(poster.posts[1].payload), 130816 - 1);
});

test("publish: numbered and stored with no sender; 503 Unavailable when the store fails, posting nothing", async (t) => {
  const history = fakeHistory();
  const { deps, store, poster } = fakeRig({ history });
  store.rows.set("a", row("a", "r"));
  const publish = makePublishHandler({ ...deps, managementEndpoint: FAKE_ENDPOINT });
  const ok = await publish(publishEvent({ room: "r", body: '{"n":1}' }));
  t.deepEqual(JSON.parse(String(ok.body)), { room: "r", seq: 1, receivers: 1, delivered: 1, gone: 0, failed: 0 });
  t.deepEqual(poster.received("a"), [{ n: 1, _now: FAKE_NOW, _server: true, _seq: 1, _me: false }]);
  t.deepEqual(history.stored.map(({ sender }) => sender), [""]);
  history.fail("ThrottlingException");
  const refused = await publish(publishEvent({ room: "r", body: '{"n":2}' }));
  t.is(refused.statusCode, 503);
  t.deepEqual(JSON.parse(String(refused.body)), { _error: { code: "Unavailable", message: "history store unavailable (ThrottlingException); message not sent" } });
  t.is(poster.posts.length, 1);
});

test("history op: Unavailable when the store fails, NotConnected without a row; the reply goes to the sender alone", async (t) => {
  const history = fakeHistory();
  const { deps, store, poster } = fakeRig({ history });
  store.rows.set("a", row("a", "r"));
  const { message } = makeHandlers(deps);
  await message(fakeEvents.message("ghost", '{"_op":"history"}'));
  history.fail("InternalServerError");
  await message(fakeEvents.message("a", '{"_op":"history","since":0}'));
  t.deepEqual(
    poster.posts.map((post): [string, unknown] => [post.connectionId, JSON.parse(post.payload)]),
    [
      ["ghost", { _error: { code: "NotConnected", message: "this connection has no row in the connections table; no history read" }, _now: FAKE_NOW, _me: true }],
      ["a", { _error: { code: "Unavailable", message: "history store unavailable (InternalServerError); no history read" }, _now: FAKE_NOW, _me: true }],
    ],
  );
});

test("history answer: cut to one post (128 KiB) — after since, `more` and until at the last that fits; the latest keep the newest", (t) => {
  const big = (seq: number) => ({ seq, base: `{"data":"${"x".repeat(40_000)}","_now":1,"_seq":${seq}}`, sender: seq === 2 ? "me" : "other" });
  const messages = [1, 2, 3, 4, 5].map(big);
  const after = historyAnswer({ messages, since: 0, until: 5, more: false, missed: false }, "me", 7, false);
  t.true(Buffer.byteLength(after) <= 131072);
  const parsed = JSON.parse(after) as { _history: { messages: Array<{ _seq: number; _me: boolean }>; since: number; until: number; more: boolean } };
  t.deepEqual(parsed._history.messages.map((m) => [m._seq, m._me]), [[1, false], [2, true], [3, false]]);
  t.like(parsed._history, { since: 0, until: 3, more: true });
  const latest = JSON.parse(historyAnswer({ messages, since: 0, until: 5, more: false, missed: false }, "me", 7, true)) as typeof parsed;
  t.deepEqual(latest._history.messages.map((m) => m._seq), [3, 4, 5]);
  t.like(latest._history, { since: 2, until: 5, more: false });
});
