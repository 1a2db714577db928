/**
 * `npm run bench:history [-- --quick] [-- --record]`: what history costs, side by side in one run.
 * End to end: K clients all-to-all through the emulator with history off, on, then off again (ours
 * against the mean of the two offs, as figure 3 compares with the bare server). Catch-up: one
 * client reads 1,000 missed messages in pages of 100, against the same 1,000 reaching it live.
 * Units: what numbering and storing one message, and reading one page, charge on dynalite
 * (ConsumedCapacity). Contention: appends per second into one room with 1, 8 and 32 concurrent
 * senders, and the conditional puts each message took. `--record` rewrites the "History" section
 * of bench/RESULTS.md.
 */
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { createDynamoHistoryStore, type HistoryStore } from "../../runtime/store/history-store";
import { ensureHistoryTable, startDynamo } from "../../local/services/dynalite-store";
import { frameText } from "../../harness/frames";
import { startBenchEmulator } from "../shared/bench-emulator";
import { describe, runClients, type E2eRun } from "../e2e/e2e-bench";
import { meteredClient } from "../shared/metered-dynamo";
import { recordSection, textTable } from "../shared/report";

const MISSED = 1000;
const PAGE = 100;
const CONTENTION = [1, 8, 32];

async function e2eSideBySide(clients: number, messages: number, progress: (line: string) => void): Promise<{ off: E2eRun[]; on: E2eRun }> {
  const through = async (history: boolean) => {
    const emulator = await startBenchEmulator({ history }, progress);
    try {
      const run = await runClients(emulator.url, { clients, messages });
      progress(`e2e history ${history ? "on" : "off"}: ${describe(run)}`);
      return run;
    } finally {
      await emulator.close();
    }
  };
  const before = await through(false);
  const on = await through(true);
  const after = await through(false);
  return { off: [before, after], on };
}

function open(url: string): Promise<{ ws: WebSocket; next: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: string[] = [];
    const waiters: Array<(frame: string) => void> = [];
    ws.on("message", (data) => {
      const waiter = waiters.shift();
      if (waiter) waiter(frameText(data));
      else frames.push(frameText(data));
    });
    const next = () => new Promise<string>((take) => (frames.length > 0 ? take(frames.shift() ?? "") : waiters.push(take)));
    ws.once("open", () => resolve({ ws, next }));
    ws.once("error", reject);
  });
}

/** 1,000 messages reaching a client live, then a newcomer reading them back in pages of 100. */
async function catchUp(progress: (line: string) => void): Promise<{ liveMs: number; catchUpMs: number; pages: number; caughtUp: number }> {
  const emulator = await startBenchEmulator({ history: true }, progress);
  try {
    const url = `${emulator.url}?room=catch-up`;
    const [sender, receiver] = [await open(url), await open(url)];
    const started = performance.now();
    let received = 0;
    const allReceived = (async () => {
      while (received < MISSED) {
        await receiver.next();
        received++;
      }
    })();
    for (let i = 0; i < MISSED; i++) {
      sender.ws.send(JSON.stringify({ n: i }));
      await sender.next();
    }
    await allReceived;
    const liveMs = performance.now() - started;
    const reader = await open(url);
    const from = performance.now();
    let since = 0;
    let pages = 0;
    let caughtUp = 0;
    for (let more = true; more; pages++) {
      reader.ws.send(JSON.stringify({ _op: "history", since, limit: PAGE }));
      const answer = JSON.parse(await reader.next()) as { _history: { messages: unknown[]; until: number; more: boolean } };
      caughtUp += answer._history.messages.length;
      ({ until: since, more } = answer._history);
    }
    const catchUpMs = performance.now() - from;
    progress(`catch-up: ${MISSED} live in ${liveMs.toFixed(0)} ms; read back in ${pages} pages in ${catchUpMs.toFixed(0)} ms`);
    for (const client of [sender, receiver, reader]) client.ws.close();
    return { liveMs, catchUpMs, pages, caughtUp };
  } finally {
    await emulator.close();
  }
}

interface StoreFigures {
  writeUnitsPerMessage: number;
  readUnitsPerMessage: number;
  readUnitsPerPage: number;
  callsPerMessage: Record<string, number>;
  contention: Array<{ senders: number; appendsPerSecond: number; putsPerMessage: number }>;
}

/** Fails the bench unless `room` holds exactly 1…count, each once: what concurrent senders must leave. */
async function expectGapFree(store: HistoryStore, room: string, count: number, nowSeconds: number): Promise<void> {
  const seqs: number[] = [];
  for (let since = 0, more = true; more; ) {
    const page = await store.read(room, { since, limit: 1000, nowSeconds });
    seqs.push(...page.messages.map((message) => message.seq));
    ({ more, until: since } = page);
  }
  if (seqs.length !== count || seqs.some((seq, i) => seq !== i + 1)) throw new Error(`room ${room}: ${seqs.length} messages stored for ${count}, not numbered 1…${count} each once`);
}

/** The history store alone on dynalite: units per message and per page, and one room under concurrent senders. */
async function storeFigures(messages: number): Promise<StoreFigures> {
  const dynamo = await startDynamo();
  const { doc, meter, destroy } = meteredClient(dynamo.endpoint);
  try {
    await ensureHistoryTable(dynamo.endpoint, "history");
    const store = createDynamoHistoryStore(doc, { tableName: "history", ttlSeconds: 86400 });
    const now = Math.floor(Date.now() / 1000);
    // A chat-sized copy: about 120 bytes, as receivers get it.
    const entry = (seq: number) => ({ base: JSON.stringify({ text: "x".repeat(60), _now: Date.now(), _seq: seq }), sender: "senderSenderSen=" });
    meter.take();
    for (let i = 0; i < PAGE; i++) await store.append("units", now, entry);
    const written = meter.take();
    await store.read("units", { since: 0, limit: PAGE, nowSeconds: now });
    const read = meter.take();
    const contention: StoreFigures["contention"] = [];
    for (const senders of CONTENTION) {
      const room = `hot-${senders}`;
      // A store each, as each sender were its own container: no queue or remembered number is
      // shared, so they race for numbers as separate Lambda containers do.
      const containers = Array.from({ length: senders }, () => createDynamoHistoryStore(doc, { tableName: "history", ttlSeconds: 86400 }));
      let left = messages;
      meter.take();
      const started = performance.now();
      await Promise.all(
        containers.map(async (container) => {
          while (left-- > 0) await container.append(room, now, entry);
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const calls = meter.take().calls;
      await expectGapFree(store, room, messages, now);
      contention.push({ senders, appendsPerSecond: messages / seconds, putsPerMessage: (calls.PutItemCommand ?? 0) / messages });
    }
    return {
      // Every call of append charges write units except the head's GetItem, which charges read units.
      writeUnitsPerMessage: (written.units - readUnitsOf(written.calls)) / PAGE,
      readUnitsPerMessage: readUnitsOf(written.calls) / PAGE,
      readUnitsPerPage: read.units,
      callsPerMessage: Object.fromEntries(Object.entries(written.calls).map(([call, count]) => [call, count / PAGE])),
      contention,
    };
  } finally {
    destroy();
    await dynamo.close();
  }
}

// A strongly consistent GetItem of an item under 4 KB charges 1 read unit (the meter names the client's commands).
const readUnitsOf = (calls: Record<string, number>) => calls.GetItemCommand ?? 0;

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const record = process.argv.includes("--record");
  const started = Date.now();
  const progress = (line: string) => void process.stderr.write(`[bench:history ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  const [clients, messages] = quick ? [50, 20] : [100, 40];
  const load = os.loadavg()[0];
  progress(`${quick ? "quick" : "full"} run on ${os.cpus().length} cores, node ${process.version}, load average ${load.toFixed(1)}`);
  const e2e = await e2eSideBySide(clients, messages, progress);
  const catchUpFigures = await catchUp(progress);
  const store = await storeFigures(quick ? 400 : 1000);
  const offRate = (e2e.off[0].deliveriesPerSecond + e2e.off[1].deliveriesPerSecond) / 2;
  const json = {
    figure: "history",
    mode: quick ? "quick" : "full",
    cores: os.cpus().length,
    e2e_clients: clients,
    e2e_messages: messages,
    e2e_off_per_s: Math.round(offRate),
    e2e_on_per_s: Math.round(e2e.on.deliveriesPerSecond),
    e2e_on_vs_off: Number((e2e.on.deliveriesPerSecond / offRate).toFixed(3)),
    e2e_lost: e2e.on.lost + e2e.off[0].lost + e2e.off[1].lost,
    e2e_dup: e2e.on.duplicates + e2e.off[0].duplicates + e2e.off[1].duplicates,
    catch_up_messages: catchUpFigures.caughtUp,
    catch_up_pages: catchUpFigures.pages,
    catch_up_ms: Math.round(catchUpFigures.catchUpMs),
    live_ms: Math.round(catchUpFigures.liveMs),
    write_units_per_message: store.writeUnitsPerMessage,
    read_units_per_message: store.readUnitsPerMessage,
    read_units_per_page_of_100: store.readUnitsPerPage,
    calls_per_message: store.callsPerMessage,
    contention: store.contention.map((c) => ({ senders: c.senders, appends_per_s: Math.round(c.appendsPerSecond), puts_per_message: Number(c.putsPerMessage.toFixed(2)) })),
  };
  const rows = [
    ["e2e deliveries/s, history off (mean of before and after)", `${clients} clients × ${messages}`, String(json.e2e_off_per_s)],
    ["e2e deliveries/s, history on", `${clients} clients × ${messages}`, `${json.e2e_on_per_s} (${json.e2e_on_vs_off} × off; ${json.e2e_lost} lost, ${json.e2e_dup} dup)`],
    [`${MISSED} missed messages read back`, `limit ${PAGE}`, `${json.catch_up_ms} ms in ${json.catch_up_pages} pages (${json.catch_up_messages} messages)`],
    [`the same ${MISSED} live`, "one sender, one in flight", `${json.live_ms} ms`],
    ["units per message", "~120-byte copy", `${json.write_units_per_message} write + ${json.read_units_per_message} read (${Object.entries(json.calls_per_message).map(([call, n]) => `${n} ${call}`).join(", ")})`],
    ["read units per catch-up page", `${PAGE} messages, strongly consistent`, String(json.read_units_per_page_of_100)],
    ...json.contention.map((c) => [`one room, ${c.senders} concurrent sender${c.senders > 1 ? "s" : ""}`, "dynalite", `${c.appends_per_s} appends/s, ${c.puts_per_message} conditional puts per message`]),
  ];
  const header = ["figure", "setting", "result"];
  process.stdout.write(`${textTable(header, rows)}\n\n${JSON.stringify(json)}\n`);
  if (!record) return progress("bench/RESULTS.md is unchanged; --record updates its History section");
  const when = new Date().toISOString().slice(0, 10);
  recordSection(path.join(__dirname, "..", "RESULTS.md"), {
    title: "History",
    mode: "history",
    ran: `\`npm run bench:history${quick ? " -- --quick" : ""} -- --record\` on ${when}: ${os.cpus().length} cores, node ${process.version}, load average ${load.toFixed(1)}.`,
    header,
    rows,
    json,
  });
  progress("recorded the History section of bench/RESULTS.md");
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
