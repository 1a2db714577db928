/**
 * `npm run smoke -- <wss-url> [--token T] [--room R] [--timeout MS]`: proves a deployment (or
 * `npm start`) works. Two clients connect; each sends a text and a JSON object; every copy is
 * checked against the message contract; one verdict line says what happened, with the round trip.
 * Exit 0 on success; otherwise the status below, with the reason. Everything ends within --timeout.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { frameText } from "../harness/frames";
import { CLIENTS, checkContract, describe, isCopyOf, smokeMessages, type ClientName, type Received, type SmokeMessage } from "./smoke-contract";

/** Exit statuses, one per kind of failure. */
const EXIT = { ok: 0, mismatch: 1, usage: 2, refused: 3, unreachable: 4, timeout: 5 } as const;

/** The whole run's bound, and the default. */
const MAX_TIMEOUT_MS = 15_000;
/** After the last expected copy: time for a duplicate or a stray error frame to show. */
const SETTLE_MS = 300;

const REFUSALS: Record<number, string> = {
  401: "the token is missing or wrong (--token)",
  403: "refused: origin not allowed, or no such API or stage (check the URL)",
  429: "throttled: the stage's rate or burst limit, or the account's connection rate",
};

/** How much of a refusal's body is read for its reason. */
const MAX_REASON_BYTES = 1024;

const USAGE = [
  "usage: npm run smoke -- <wss-url> [--token T] [--room R] [--timeout MS]",
  "  <wss-url>       the stage's endpoint: wss://… deployed (pulumi stack output endpoint), ws://… for npm start",
  "  --token T       the access token, sent as Authorization: Bearer T",
  "  --room R        connect both clients to room R (?room=R)",
  `  --timeout MS    bound on the whole run, 1-${MAX_TIMEOUT_MS} (default ${MAX_TIMEOUT_MS})`,
  "exit: 0 ok, 1 contract mismatch, 2 usage, 3 handshake refused, 4 unreachable, 5 timeout",
].join("\n");

class SmokeFailure extends Error {
  constructor(
    readonly kind: Exclude<keyof typeof EXIT, "ok">,
    message: string,
  ) {
    super(message);
  }
}

interface Options {
  url: URL;
  token?: string;
  timeoutMs: number;
}

function parsedArgs(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { token: { type: "string" }, room: { type: "string" }, timeout: { type: "string" }, help: { type: "boolean" } } });
  } catch (error) {
    // Node's own wording, to its first sentence (the rest advises `--`, which npm already takes).
    throw new SmokeFailure("usage", String((error as Error).message).split(/\.\s/)[0]);
  }
}

function readOptions(argv: string[]): Options {
  const { values, positionals } = parsedArgs(argv);
  if (values.help) throw new SmokeFailure("usage", "help requested (--help)");
  if (positionals.length !== 1) throw new SmokeFailure("usage", `one WebSocket URL expected, got ${positionals.length}`);
  let url: URL;
  try {
    url = new URL(positionals[0]);
  } catch {
    throw new SmokeFailure("usage", `not a URL: ${JSON.stringify(positionals[0])}`);
  }
  if (url.protocol !== "wss:" && url.protocol !== "ws:") throw new SmokeFailure("usage", `not a WebSocket URL (wss:// or ws://): ${positionals[0]}`);
  if (values.room !== undefined) url.searchParams.set("room", values.room);
  const timeoutMs = values.timeout === undefined ? MAX_TIMEOUT_MS : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) throw new SmokeFailure("usage", `--timeout must be 1 to ${MAX_TIMEOUT_MS} ms, got ${JSON.stringify(values.timeout)}`);
  return { url, token: values.token, timeoutMs };
}

/** The URL as printed: a token passed in the URL itself is not echoed into logs. */
function shown(url: URL): string {
  const copy = new URL(url);
  if (copy.searchParams.has("token")) copy.searchParams.set("token", "***");
  return copy.toString();
}

interface SmokeClient {
  ws: WebSocket;
  frames: Received[];
  /** Wakes waiters on each frame. */
  onFrame: Set<() => void>;
}

function open(options: Options, name: ClientName): Promise<SmokeClient> {
  const headers = options.token === undefined ? undefined : { Authorization: `Bearer ${options.token}` };
  const ws = new WebSocket(options.url, { headers, handshakeTimeout: options.timeoutMs });
  const client: SmokeClient = { ws, frames: [], onFrame: new Set() };
  ws.on("message", (data) => {
    client.frames.push({ text: frameText(data), at: performance.now() });
    for (const wake of [...client.onFrame]) wake();
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(client));
    ws.once("unexpected-response", (request, response) => {
      const status = response.statusCode ?? 0;
      const hint = REFUSALS[status] ? ` (${REFUSALS[status]})` : "";
      void refusalReason(response).then((reason) => {
        request.destroy();
        reject(new SmokeFailure("refused", `client ${name}: handshake refused with HTTP ${status}${hint}${reason ? `; the server said ${JSON.stringify(reason)}` : ""}`));
      });
    });
    ws.once("error", (error) => reject(new SmokeFailure("unreachable", `client ${name}: cannot connect: ${error.message}`)));
    ws.once("close", (code, reason) => reject(new SmokeFailure("unreachable", `client ${name}: closed ${code} ${String(reason)} before opening`)));
  });
}

/** The refusal's body, as the server's reason: its first MAX_REASON_BYTES, trimmed ("" when none). */
function refusalReason(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = () => resolve(Buffer.concat(chunks).subarray(0, MAX_REASON_BYTES).toString("utf8").trim());
    response.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= MAX_REASON_BYTES) done();
    });
    response.once("end", done);
    response.once("close", done);
    response.once("error", done);
  });
}

/** Resolves with when `client` has a copy of `message` (it may already have one). */
function copyArrival(client: SmokeClient, message: SmokeMessage): Promise<number> {
  return new Promise((resolve) => {
    const check = () => {
      const copy = client.frames.find(({ text }) => isCopyOf(text, message));
      if (!copy) return;
      client.onFrame.delete(check);
      resolve(copy.at);
    };
    client.onFrame.add(check);
    check();
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** What the run waits for now: what a timeout names. */
let waitingFor = "the handshake";

async function smoke(options: Options, deadline: Promise<never>): Promise<string> {
  const clients: Partial<Record<ClientName, SmokeClient>> = {};
  try {
    const opened = await Promise.race([Promise.all(CLIENTS.map((name) => open(options, name).then((client) => (clients[name] = client)))), deadline]);
    const byName = { A: opened[0], B: opened[1] };
    const messages = smokeMessages(randomBytes(6).toString("hex"));
    const ownTrips: number[] = [];
    const otherTrips: number[] = [];
    // One message at a time, so each round trip is that message's alone.
    for (const message of messages) {
      const other: ClientName = message.from === "A" ? "B" : "A";
      waitingFor = `both copies of ${describe(message)}`;
      const sentAt = performance.now();
      byName[message.from].ws.send(message.text);
      const [own, theirs] = await Promise.race([Promise.all([copyArrival(byName[message.from], message), copyArrival(byName[other], message)]), deadline]);
      ownTrips.push(own - sentAt);
      otherTrips.push(theirs - sentAt);
    }
    waitingFor = "late duplicates";
    await Promise.race([new Promise((resolve) => setTimeout(resolve, SETTLE_MS)), deadline]);
    const result = checkContract(messages, { A: byName.A.frames, B: byName.B.frames });
    if (result.mismatch !== undefined) throw new SmokeFailure("mismatch", `contract mismatch: ${result.mismatch}`);
    const ms = (value: number) => `${Math.round(value)} ms`;
    return (
      `smoke OK: 2 clients, ${messages.length} messages, each copy exactly once and exact (${result.withId ? "with _id: sharded" : "no _id: direct"}); ` +
      `round trip median ${ms(median(ownTrips))}, max ${ms(Math.max(...ownTrips))}; other client max ${ms(Math.max(...otherTrips))} — ${shown(options.url)}`
    );
  } finally {
    for (const client of Object.values(clients)) client.ws.terminate();
  }
}

async function main(): Promise<void> {
  let options: Options | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    options = readOptions(process.argv.slice(2));
    const { timeoutMs } = options;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SmokeFailure("timeout", `timed out after ${timeoutMs} ms waiting for ${waitingFor}`)), timeoutMs);
    });
    console.log(await smoke(options, deadline));
    process.exitCode = EXIT.ok;
  } catch (error) {
    const failure = error instanceof SmokeFailure ? error : new SmokeFailure("unreachable", String(error));
    const usage = failure.kind === "usage" ? `\n${USAGE}` : "";
    console.error(`smoke FAILED (${failure.kind}): ${failure.message}${options ? ` — ${shown(options.url)}` : ""}${usage}`);
    process.exitCode = EXIT[failure.kind];
  } finally {
    clearTimeout(timer);
  }
}

void main();
