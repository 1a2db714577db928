/**
 * Figure 3: K clients all-to-all through the emulator (the server `npm start` runs, default
 * settings), and the same load through the bare `ws` broadcast server before and after it. The
 * clients live in a child process, so the server under test has this process's CPU to itself.
 */
import { startBareServer } from "./bare-server";
import { startBenchEmulator } from "../shared/bench-emulator";
import { forkChild } from "../shared/child";
import type { E2eReply, E2eRequest } from "./e2e-clients";

export interface E2eOptions {
  clients: number;
  messages: number;
  progress: (line: string) => void;
}

export interface E2eRun {
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  p50Ms: number;
  p99Ms: number;
  deliveriesPerSecond: number;
}

export interface E2eFigures {
  ours: E2eRun;
  /** The bare server's two runs combined: their mean rates and latencies, their summed counts. */
  bare: E2eRun;
  /** The bare server's runs, before and after ours. */
  bareRuns: [E2eRun, E2eRun];
  /** ours / bare deliveries per second. */
  ratio: number;
}

// A run that stops delivering for this long is over; what is missing by then is lost.
const IDLE_MS = 10_000;

/**
 * The bare server runs before and after ours, and ours is compared with their mean: its run is
 * short (about a second), and this machine's speed drifts during ours, which is not.
 */
export async function runE2e(options: E2eOptions): Promise<E2eFigures> {
  const before = await runBare(options);
  const emulator = await startBenchEmulator({}, options.progress);
  let ours: E2eRun;
  try {
    ours = await runClients(emulator.url, options);
  } finally {
    await emulator.close();
  }
  options.progress(`e2e through the emulator: ${describe(ours)}`);
  const after = await runBare(options);
  const bare = combine(before, after);
  return { ours, bare, bareRuns: [before, after], ratio: ours.deliveriesPerSecond / bare.deliveriesPerSecond };
}

async function runBare(options: E2eOptions): Promise<E2eRun> {
  const bareServer = await startBareServer();
  let bare: E2eRun;
  try {
    bare = await runClients(bareServer.url, options);
  } finally {
    await bareServer.close();
  }
  options.progress(`e2e through the bare ws server: ${describe(bare)}`);
  return bare;
}

function combine(a: E2eRun, b: E2eRun): E2eRun {
  const mean = (pick: (run: E2eRun) => number) => (pick(a) + pick(b)) / 2;
  return {
    expected: a.expected + b.expected,
    delivered: a.delivered + b.delivered,
    lost: a.lost + b.lost,
    duplicates: a.duplicates + b.duplicates,
    p50Ms: mean((run) => run.p50Ms),
    p99Ms: mean((run) => run.p99Ms),
    deliveriesPerSecond: mean((run) => run.deliveriesPerSecond),
  };
}

/** K clients all-to-all through the WebSocket endpoint `url` (one child process holds them). */
export async function runClients(url: string, options: Omit<E2eOptions, "progress">): Promise<E2eRun> {
  const child = forkChild<E2eRequest, E2eReply>("e2e/e2e-clients.ts");
  const reply = await child.request({ type: "run", url, clients: options.clients, messages: options.messages, idleMs: IDLE_MS });
  await child.finish();
  return {
    expected: reply.expected,
    delivered: reply.delivered,
    lost: reply.expected - reply.delivered,
    duplicates: reply.duplicates,
    p50Ms: reply.p50Ms,
    p99Ms: reply.p99Ms,
    deliveriesPerSecond: (reply.delivered / reply.elapsedMs) * 1000,
  };
}

export function describe(run: E2eRun): string {
  return (
    `${run.delivered}/${run.expected} delivered, ${run.duplicates} dup, p50 ${run.p50Ms.toFixed(1)} ms, ` +
    `p99 ${run.p99Ms.toFixed(1)} ms, ${Math.round(run.deliveriesPerSecond)} deliveries/s`
  );
}
