/**
 * The load run behind `npm run load` and its short version in `npm test`: K real clients on
 * one emulator, every client sends a burst of B messages at once, and every receiver checks off
 * every (sender, sequence) pair, so losses and duplicates are exact. Loopback only, bounded in
 * count, and it stops by itself (a run that delivers nothing for `idleMs` is over).
 */
import { performance } from "node:perf_hooks";
import type WebSocket from "ws";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { frameText } from "../../harness/frames";
import type { Emulator } from "../../local/emulator";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { createDynamoConnectionStore, listRoom } from "../../runtime/store/connection-store";
import { DEFAULT_ROOM } from "../../runtime/contract/rooms";
import type { FanOutMode } from "../../runtime/config/settings";
import { startBenchEmulator } from "../shared/bench-emulator";
import { openSocket } from "../e2e/e2e-clients";

export interface LoadOptions {
  clients: number;
  burst: number;
  /** Bursts one after another; each starts when the previous one is fully delivered. */
  rounds: number;
  idleMs: number;
  /** The emulator's fan-out mode; default direct. */
  fanout?: FanOutMode;
  progress: (line: string) => void;
}

export interface LoadResult {
  clients: number;
  messages: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  deliveriesPerSecond: number;
  /**
   * Resident memory of the emulator's process (the gateway and its Lambda threads, which hold
   * the fan-outs) before the first burst and its peak during the run, in MiB.
   */
  rssStartMiB: number;
  rssPeakMiB: number;
  /** Connections and table rows the emulator still holds after every client closed. */
  openAfter: number;
  rowsAfter: number;
}

/** Every receiver's copies: which it has seen (a second one is a duplicate) and each first copy's latency. */
class Tally {
  readonly latencies: number[] = [];
  duplicated = 0;
  private readonly seen: Uint8Array[];
  private roundDone: () => void = () => undefined;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    receivers: number,
    private readonly options: Pick<LoadOptions, "clients" | "burst" | "rounds" | "idleMs">,
  ) {
    this.seen = Array.from({ length: receivers }, () => new Uint8Array(options.clients * options.burst * options.rounds));
  }

  /** Resolves when every copy of this round arrived, or nothing arrived for `idleMs`. */
  round(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.roundDone = resolve));
    this.armIdle();
    return done;
  }

  copy(receiver: number, data: Parameters<typeof frameText>[0]): void {
    const { clients, burst, rounds } = this.options;
    const { s, q, t } = JSON.parse(frameText(data)) as { s: number; q: number; t: number };
    const slot = s * burst * rounds + q;
    if (this.seen[receiver][slot]) this.duplicated++;
    else {
      this.seen[receiver][slot] = 1;
      this.latencies.push(performance.now() - t);
    }
    this.armIdle();
    if (this.latencies.length % (clients * clients * burst) === 0) this.roundDone();
  }

  stop(): void {
    clearTimeout(this.idle);
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.roundDone(), this.options.idleMs);
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { clients, burst, rounds } = options;
  // The run measures the broadcast path, not the stage limit: 200 clients bursting at once
  // would be throttled at the deployed default (that behaviour has its own tests).
  const emulator = await startBenchEmulator({ fanout: options.fanout }, options.progress);
  try {
    const sockets = await Promise.all(Array.from({ length: clients }, () => openSocket(emulator.url)));
    const messages = clients * burst * rounds;
    const expected = messages * clients;
    const tally = new Tally(clients, options);
    const rssStart = process.memoryUsage.rss();
    let rssPeak = rssStart;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 50);
    sockets.forEach((socket, receiver) => socket.on("message", (data) => tally.copy(receiver, data)));

    const started = performance.now();
    for (let round = 0; round < rounds; round++) {
      const done = tally.round();
      sockets.forEach((socket, sender) => {
        for (let i = 0; i < burst; i++) socket.send(JSON.stringify({ s: sender, q: round * burst + i, t: performance.now() }));
      });
      await done;
      options.progress(`round ${round + 1}/${rounds}: ${tally.latencies.length}/${expected} delivered`);
    }
    const elapsed = performance.now() - started;
    tally.stop();
    clearInterval(sampler);

    await Promise.all(sockets.map(closeSocket));
    const rowsAfter = await leftovers(emulator);
    const sorted = tally.latencies.sort((a, b) => a - b);
    const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? NaN;
    return {
      clients,
      messages,
      expected,
      delivered: sorted.length,
      lost: expected - sorted.length,
      duplicated: tally.duplicated,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: at(1),
      deliveriesPerSecond: (sorted.length / elapsed) * 1000,
      rssStartMiB: rssStart / 2 ** 20,
      rssPeakMiB: rssPeak / 2 ** 20,
      openAfter: emulator.connectionIds().length,
      rowsAfter,
    };
  } finally {
    await emulator.close();
  }
}

// `$disconnect` runs after the close handshake; give it a bounded moment, then count what is left.
async function leftovers(emulator: Emulator): Promise<number> {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: emulator.dynamoEndpoint });
  const store = createDynamoConnectionStore(DynamoDBDocumentClient.from(client), { tableName: emulator.tableName });
  try {
    let rows = await listRoom(store, DEFAULT_ROOM, 0);
    for (let tries = 0; tries < 50 && (rows.length > 0 || emulator.connectionIds().length > 0); tries++) {
      await sleep(100);
      rows = await listRoom(store, DEFAULT_ROOM, 0);
    }
    return rows.length;
  } finally {
    client.destroy();
  }
}

function closeSocket(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    socket.close();
  });
}
