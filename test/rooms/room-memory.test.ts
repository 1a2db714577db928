/** runtime/store/room-memory.ts over the in-memory store: which `membershipOf` calls reach the table. */
import test from "ava";
import type { ConnectionStore } from "../../runtime/store/connection-store";
import { rememberRooms } from "../../runtime/store/room-memory";
import { FAKE_NOW, fakeRig, row } from "../helpers/fakes";

function remembering(options: { maxEntries?: number } = {}) {
  const { store } = fakeRig();
  const reads: string[] = [];
  const counted: ConnectionStore = { ...store, membershipOf: (id) => (reads.push(id), store.membershipOf(id)) };
  const clock = { now: FAKE_NOW };
  const memory = rememberRooms(counted, { maxEntries: options.maxEntries ?? 10, maxAgeMs: 60_000, now: () => clock.now });
  return { table: store, memory, reads, clock };
}

const roomOf = async (store: ConnectionStore, id: string) => (await store.membershipOf(id))?.room;

test("a room read once is answered from memory for a minute, then read again", async (t) => {
  const { table, memory, reads, clock } = remembering();
  await table.put(row("a", "lobby"));
  t.is(await roomOf(memory, "a"), "lobby");
  clock.now += 59_999;
  t.is(await roomOf(memory, "a"), "lobby");
  t.deepEqual(reads, ["a"]);
  clock.now += 1;
  t.is(await roomOf(memory, "a"), "lobby");
  t.deepEqual(reads, ["a", "a"]);
});

test("a row deleted behind a live connection: remembered until the minute is up, then no room", async (t) => {
  const { table, memory, clock } = remembering();
  await table.put(row("a", "lobby"));
  t.is(await roomOf(memory, "a"), "lobby");
  table.rows.delete("a");
  clock.now += 30_000;
  t.is(await roomOf(memory, "a"), "lobby");
  clock.now += 30_000;
  t.is(await roomOf(memory, "a"), undefined);
});

test("a connection without a row is looked up every time: nothing is remembered", async (t) => {
  const { table, memory, reads } = remembering();
  t.is(await roomOf(memory, "late"), undefined);
  await table.put(row("late", "lobby"));
  t.is(await roomOf(memory, "late"), "lobby");
  t.deepEqual(reads, ["late", "late"]);
});

test("removing a connection through the store forgets its room", async (t) => {
  const { table, memory, reads } = remembering();
  await table.put(row("a", "lobby"));
  await memory.membershipOf("a");
  t.is((await memory.remove("a"))?.room, "lobby");
  t.is(await roomOf(memory, "a"), undefined);
  t.deepEqual(reads, ["a", "a"]);
});

test("at most maxEntries rooms: the longest-remembered one is read again", async (t) => {
  const { table, memory, reads } = remembering({ maxEntries: 2 });
  for (const id of ["a", "b", "c"]) {
    await table.put(row(id, `room-${id}`));
    await memory.membershipOf(id);
  }
  await memory.membershipOf("c");
  await memory.membershipOf("b");
  await memory.membershipOf("a");
  t.deepEqual(reads, ["a", "b", "c", "a"]);
});

test("a failed read reaches the caller", async (t) => {
  const { table, memory, reads } = remembering();
  await table.put(row("a", "lobby"));
  table.fail("membershipOf", "ProvisionedThroughputExceededException");
  await t.throwsAsync(memory.membershipOf("a"), { name: "ProvisionedThroughputExceededException" });
  t.deepEqual(reads, ["a"]);
});
