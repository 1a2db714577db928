/**
 * The client library with the backend's history (issue 23) in the emulator: 1,000 messages from
 * other clients across 20 forced reconnects (management-API DELETE, killed sockets) and a
 * shortened idle timeout, delivered exactly once and in `_seq` order; the lifetime hand-over under
 * a shortened `--max-lifetime` losing nothing; a connection ended by that limit catching up.
 */
import test, { type ExecutionContext } from "ava";
import type { Emulator } from "../../local/emulator";
import type { EmulatorOptions } from "../../local/options";
import { connect, openClient, parseFrame, type Client, type EmulatorClient } from "../helpers/clients";
import { startTestEmulator } from "../helpers/emulator";
import { publishTo } from "../helpers/publish";
import { managementApi, openLibraryClient, otherIds, type LibraryClient } from "../helpers/library-client";

// The feature's options as its issue names them (`--history`).
const options = (extra: Record<string, unknown>) => extra as EmulatorOptions;
const QUICK = { backoff: { initialMs: 20, maxMs: 200 } };
const SENDERS = 4;
const PER_SENDER = 250;
const FORCED = 20;
const WINDOW = 10;

type Copy = Record<string, unknown>;

/** Everything the room's history holds, read page by page by a fresh connection. */
async function storedMessages(reader: Client): Promise<Copy[]> {
  const stored: Copy[] = [];
  for (let since = 0; ; ) {
    reader.ws.send(JSON.stringify({ _op: "history", since, limit: 1000 }));
    const page = parseFrame(await reader.next())._history as { messages: Copy[]; until: number; more: boolean; missed: boolean };
    if (page.missed) throw new Error("history missed messages: the retention is too short for this test");
    stored.push(...page.messages);
    if (!page.more) return stored;
    since = page.until;
  }
}

/** What identifies a message across copies: its sender's keys (not `_me`, which differs by connection). */
const identity = (copy: Copy) => JSON.stringify({ from: copy.from, n: copy.n, _seq: copy._seq, _now: copy._now });

function expectExactlyStored(t: ExecutionContext, lib: LibraryClient, stored: Copy[]): void {
  t.deepEqual(
    lib.messages.map((message) => message._seq),
    stored.map((_, i) => i + 1),
    "every _seq once, in order",
  );
  t.deepEqual(lib.messages.map(identity), stored.map(identity), "each exactly as stored");
  t.deepEqual(lib.gaps, []);
}

const reconnects = (lib: LibraryClient) => lib.states.filter((state) => state === "reconnecting").length;

/**
 * FORCED drops of `lib`, each once it is open again and each seen to take effect (a reconnect
 * begins) before the next: half by the management API (the newest connection that is not a
 * sender's is the client's current one), half by killing its socket. The idle timeout adds its own.
 */
async function forceDrops(emulator: Emulator, lib: LibraryClient, senderIds: string[], api: { drop(id: string): Promise<void> }): Promise<void> {
  for (let i = 0; i < FORCED; i++) {
    await lib.until(() => lib.conn.state === "open", `an open before forced drop ${i + 1}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const before = reconnects(lib);
    const id = otherIds(emulator, senderIds).at(-1);
    // A drop that races the idle timeout finds the connection gone (410): that close counts instead.
    if (i % 2 === 0 && id !== undefined) await api.drop(id).catch(() => undefined);
    else lib.sockets[lib.sockets.length - 1].terminate();
    await lib.until(() => reconnects(lib) > before, `forced drop ${i + 1} taking effect`);
  }
}

/**
 * PER_SENDER messages from each sender, WINDOW at a time, each window answered by the sender's own
 * copies (or an `_error`) before the next: paced, and each known to be stored. Senders ping while
 * they wait: the idle timeout counts a connection's own frames only. A failure names how far each got.
 */
async function sendPaced(t: ExecutionContext, senders: Client[], clientState: () => string): Promise<void> {
  const pinging = setInterval(() => senders.forEach((sender) => sender.ws.send('{"_op":"ping"}')), 1000);
  t.teardown(() => clearInterval(pinging));
  const progress = senders.map(() => 0);
  const ends: string[] = [];
  senders.forEach((sender, i) => sender.ws.on("close", (code, reason) => ends.push(`${i}:${code}:${reason.toString()}@${progress[i]}`)));
  const send = async (sender: Client, i: number) => {
    for (let n = 1; n <= PER_SENDER; n += WINDOW) {
      const batch = Math.min(WINDOW, PER_SENDER - n + 1);
      for (let k = 0; k < batch; k++) sender.ws.send(JSON.stringify({ from: i, n: n + k }));
      for (let answered = 0; answered < batch; ) {
        const frame = parseFrame(await sender.next());
        if (frame._me === true && (frame.from === i || frame._error !== undefined)) answered++;
      }
      progress[i] = n + batch - 1;
    }
  };
  await Promise.all(senders.map(send))
    .catch((err: unknown) => {
      throw new Error(`${String(err)}; progress ${progress.join()}; ends ${ends.join(" ")}; ${clientState()}`);
    })
    .finally(() => clearInterval(pinging));
}

test("1,000 messages from other clients across 20 forced reconnects and idle timeouts: every one delivered once, in _seq order", async (t) => {
  t.timeout(180_000);
  const { emulator } = await startTestEmulator(t, options({ history: true, idleTimeoutMs: 4000, throttleRateLimit: 5000, throttleBurstLimit: 5000 }));
  // Silent (no keep-alive within the idle timeout): the emulator closes it every 4 s too.
  const lib = openLibraryClient(emulator.endpoint, { ...QUICK, history: true });
  t.teardown(() => lib.conn.close());
  await lib.until(() => lib.conn.state === "open", "the first open");
  const senders: EmulatorClient[] = [];
  for (let i = 0; i < SENDERS; i++) senders.push(await connect(emulator));
  const senderIds = senders.map((sender) => sender.id);
  // Delivery starts at the first copy the client sees: one before the flood.
  senders[0].ws.send(JSON.stringify({ from: 0, n: 0 }));
  await lib.until(() => lib.messages.length === 1, "the first message");
  await senders[0].next();
  for (const sender of senders.slice(1)) await sender.next();

  const forcing = forceDrops(emulator, lib, senderIds, managementApi(emulator, t.teardown));
  await sendPaced(t, senders, () => `client at ${lib.messages.length}, ${lib.conn.state}`);
  await forcing;
  const reader = await openClient(emulator.endpoint);
  const stored = await storedMessages(reader);
  t.is(stored.length, 1 + SENDERS * PER_SENDER);
  await lib.until(() => lib.messages.length >= stored.length, `all ${stored.length} messages at the client`, 60_000);
  // A little longer: a duplicate would show now.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expectExactlyStored(t, lib, stored);
  // Each forced drop was seen to start a reconnect; the idle timeouts add theirs.
  t.true(reconnects(lib) >= FORCED, `${reconnects(lib)} reconnects`);
});

/**
 * `lib` (open) hears one publish, then server publishes one after another for `ms`; resolves, once
 * every stored message reached it (and a little longer, so that a duplicate would show), to what
 * the room's history holds, after checking each was delivered exactly once and in order.
 */
async function publishFor(t: ExecutionContext, emulator: Emulator, lib: LibraryClient, ms: number): Promise<Copy[]> {
  await lib.until(() => lib.conn.state === "open", "the first open");
  t.is((await publishTo(emulator.publishUrl, '{"n":0}')).status, 200);
  await lib.until(() => lib.messages.length === 1, "the first message");
  const started = Date.now();
  let n = 1;
  while (Date.now() - started < ms) t.is((await publishTo(emulator.publishUrl, JSON.stringify({ n: n++ }))).status, 200);
  const stored = await storedMessages(await openClient(emulator.endpoint));
  t.is(stored.length, n);
  await lib.until(() => lib.messages.length >= stored.length, "every message at the client");
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.deepEqual(
    lib.messages.map((message) => message.n),
    stored.map((message) => message.n),
  );
  expectExactlyStored(t, lib, stored);
  return stored;
}

test("the lifetime hand-over under a shortened --max-lifetime loses nothing and duplicates nothing", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, options({ history: true, maxLifetimeMs: 4000 }));
  const lib = openLibraryClient(emulator.endpoint, { ...QUICK, history: true, maxLifetimeMs: 1000 });
  t.teardown(() => lib.conn.close());
  // The client hands over every second while the server publishes.
  await publishFor(t, emulator, lib, 5000);
  t.deepEqual(lib.states, ["open"], `no reconnect: every connection was handed over before the limit; closes ${JSON.stringify(lib.closes)}`);
  t.true(lib.sockets.length >= 5, `${lib.sockets.length} connections`);
  const limitClosed = new Set(logs.entries().filter((entry) => entry.reason === "Going away: maximum connection duration").map((entry) => entry.connectionId));
  t.is(limitClosed.size, 0, `connections closed by the gateway's limit: closes ${JSON.stringify(lib.closes)}`);
});

test("a connection closed by the gateway's lifetime limit catches up on what was said meanwhile", async (t) => {
  const { emulator } = await startTestEmulator(t, options({ history: true, maxLifetimeMs: 1500 }));
  // The client's own hand-over is far off: the gateway ends each connection.
  const lib = openLibraryClient(emulator.endpoint, { ...QUICK, history: true, backoff: { initialMs: 800, maxMs: 800 } });
  t.teardown(() => lib.conn.close());
  await publishFor(t, emulator, lib, 4000);
  t.true(lib.states.filter((state) => state === "reconnecting").length >= 2, lib.states.join());
});
