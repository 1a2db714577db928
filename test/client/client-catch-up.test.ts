/**
 * Catch-up on fake sockets (`history: true`): the history request on every reconnect, paging with
 * `more`, `gap` on `missed`, caught-up messages before newer live ones, duplicates dropped by
 * `_seq` and `_id`, and the reorder window that asks history for a hole.
 */
import test from "ava";
import { copy, historyAnswer, rig } from "../helpers/fake-client-env";

const seqs = (messages: Array<Record<string, unknown>>) => messages.map((message) => message._seq);

test("without a delivered _seq the first connection asks no history: live messages only", async (t) => {
  const { sockets, seen } = await rig({ history: true });
  t.deepEqual(sockets[0].sent, []);
  sockets[0].receive(copy(7));
  sockets[0].receive(copy(8));
  t.deepEqual(seqs(seen("message")), [7, 8]);
});

test("a reconnect asks since the last _seq, follows more, and delivers caught-up messages before newer live ones", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true });
  sockets[0].receive(copy(1));
  sockets[0].receive(copy(2));
  sockets[0].drop();
  await clock.advance(clock.nextDelay()!);
  sockets[1].open();
  t.deepEqual(sockets[1].sentFrames(), [{ _op: "history", since: 2 }]);
  // Live copies that arrive before the answer wait for it.
  sockets[1].receive(copy(7));
  sockets[1].receive(copy(8));
  t.deepEqual(seqs(seen("message")), [1, 2]);
  sockets[1].receive(historyAnswer([3, 4], { since: 2, more: true }));
  t.deepEqual(seqs(seen("message")), [1, 2, 3, 4]);
  t.deepEqual(sockets[1].sentFrames().slice(1), [{ _op: "history", since: 4 }]);
  sockets[1].receive(historyAnswer([5, 6, 7], { since: 4 }));
  t.deepEqual(seqs(seen("message")), [1, 2, 3, 4, 5, 6, 7, 8]);
  sockets[1].receive(copy(9));
  t.deepEqual(seqs(seen("message")), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.deepEqual(seen("gap"), []);
  t.deepEqual(seen("message")[2], copy(3), "delivered exactly as history holds it");
});

test("missed: a gap event names what is lost, and delivery goes on from the oldest message kept", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true });
  sockets[0].receive(copy(10));
  sockets[0].drop();
  await clock.advance(clock.nextDelay()!);
  sockets[1].open();
  sockets[1].receive(historyAnswer([15, 16], { since: 10, missed: true }));
  t.deepEqual(seen("gap"), [{ since: 10, until: 14 }]);
  t.deepEqual(seqs(seen("message")), [10, 15, 16]);
});

test("missed with nothing kept: the gap ends before the next live message", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true });
  sockets[0].receive(copy(3));
  sockets[0].drop();
  await clock.advance(clock.nextDelay()!);
  sockets[1].open();
  sockets[1].receive(historyAnswer([], { since: 3, missed: true }));
  t.deepEqual(seen("gap"), []);
  sockets[1].receive(copy(40));
  t.deepEqual(seen("gap"), [{ since: 3, until: 39 }]);
  t.deepEqual(seqs(seen("message")), [3, 40]);
});

test("duplicates are dropped by _seq (history) and by _id (sharded mode without history)", async (t) => {
  const ordered = await rig({ history: true });
  for (const seq of [1, 2, 2, 1, 3, 3]) ordered.sockets[0].receive(copy(seq, { _id: `id-${seq}` }));
  t.deepEqual(seqs(ordered.seen("message")), [1, 2, 3]);

  const sharded = await rig();
  for (const id of ["a", "b", "a", "c", "b"]) sharded.sockets[0].receive({ data: id, _now: 1, _id: id, _me: false });
  t.deepEqual(
    sharded.seen("message").map((message) => message._id),
    ["a", "b", "c"],
  );
  // Copies without an id are never taken for duplicates.
  sharded.sockets[0].receive({ data: "same", _now: 1, _me: false });
  sharded.sockets[0].receive({ data: "same", _now: 1, _me: false });
  t.is(sharded.seen("message").length, 5);
});

test("a copy ahead of a missing one waits reorderMs; the hole arriving in time is delivered in order without history", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true, reorderMs: 250 });
  sockets[0].receive(copy(1));
  sockets[0].receive(copy(3));
  sockets[0].receive(copy(4));
  t.deepEqual(seqs(seen("message")), [1]);
  await clock.advance(249);
  sockets[0].receive(copy(2));
  t.deepEqual(seqs(seen("message")), [1, 2, 3, 4]);
  await clock.advance(1000);
  t.deepEqual(sockets[0].sent, [], "no history request was needed");
});

test("a hole still open after reorderMs is asked of history, and filled in order", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true, reorderMs: 250 });
  sockets[0].receive(copy(1));
  sockets[0].receive(copy(4));
  await clock.advance(250);
  t.deepEqual(sockets[0].sentFrames(), [{ _op: "history", since: 1 }]);
  sockets[0].receive(copy(5));
  sockets[0].receive(historyAnswer([2, 3, 4, 5], { since: 1 }));
  t.deepEqual(seqs(seen("message")), [1, 2, 3, 4, 5]);
});

test("an unanswered history request is given up after 10 s and asked again", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true, reorderMs: 250 });
  sockets[0].receive(copy(1));
  sockets[0].receive(copy(3));
  await clock.advance(250);
  await clock.advance(10_000);
  await clock.advance(250);
  t.deepEqual(sockets[0].sentFrames(), [
    { _op: "history", since: 1 },
    { _op: "history", since: 1 },
  ]);
  sockets[0].receive(historyAnswer([2, 3], { since: 1 }));
  t.deepEqual(seqs(seen("message")), [1, 2, 3]);
});

test("a connection lost during catch-up: the next one asks again from the last delivered _seq", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true });
  sockets[0].receive(copy(1));
  sockets[0].drop();
  await clock.advance(clock.nextDelay()!);
  sockets[1].open();
  sockets[1].receive(historyAnswer([2, 3], { since: 1, more: true }));
  sockets[1].drop();
  await clock.advance(clock.nextDelay()!);
  sockets[2].open();
  t.deepEqual(sockets[2].sentFrames(), [{ _op: "history", since: 3 }]);
  sockets[2].receive(historyAnswer([4], { since: 3 }));
  t.deepEqual(seqs(seen("message")), [1, 2, 3, 4]);
});

test("without history, copies are delivered as they come, _seq or not", async (t) => {
  const { clock, sockets, seen } = await rig();
  sockets[0].receive(copy(2));
  sockets[0].receive(copy(1));
  sockets[0].drop();
  await clock.advance(clock.nextDelay()!);
  sockets[1].open();
  t.deepEqual(sockets[1].sent, []);
  t.deepEqual(seqs(seen("message")), [2, 1]);
});

test("a history request answered by a failure (Throttled, Unavailable, an integration error) is asked again after reorderMs", async (t) => {
  const { clock, sockets, seen } = await rig({ history: true, keepAliveMs: 1_000_000 });
  sockets[0].receive(copy(1));
  sockets[0].drop();
  await clock.advance(clock.nextDelay()!);
  sockets[1].open();
  sockets[1].receive(copy(4));
  sockets[1].receive({ message: "Too Many Requests", connectionId: "c", requestId: "r" });
  sockets[1].receive({ _error: { code: "Unavailable", message: "history store unavailable" }, _now: 1, _me: true });
  t.deepEqual(seqs(seen("message")), [1], "live copies still wait for the catch-up");
  await clock.advance(250);
  t.deepEqual(sockets[1].sentFrames(), [
    { _op: "history", since: 1 },
    { _op: "history", since: 1 },
  ]);
  sockets[1].receive(historyAnswer([2, 3], { since: 1 }));
  t.deepEqual(seqs(seen("message")), [1, 2, 3, 4]);
  t.deepEqual(
    seen("error").map((error) => error.code),
    ["Throttled", "Unavailable"],
  );
});
