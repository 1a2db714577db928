/**
 * The soak behind `npm run load -- --soak SECONDS` and its short version in `npm test`: steady
 * all-to-all traffic at a set rate among K-1 reading clients, plus one client that never reads
 * (its socket paused). When the emulator cuts that one off (its outbound limit), another paused
 * client takes its place, so the pressure lasts the whole run. Resident memory is sampled every
 * second; every reader checks off every message, so losses and duplicates are exact.
 *
 * It fails when memory keeps growing: the second half of the samples peaks more than
 * `GROWTH_MARGIN_MIB` above the first half's peak (a new high after warm-up, which GC's sawtooth
 * does not make), or, when the second half spans at least `SLOPE_MIN_SECONDS`, its least-squares
 * slope is over `SLOPE_LIMIT_MIB_PER_MIN` (a slow leak under the margin). A run of a minute or
 * more also fails when no never-reading client was cut off (the limit was never exercised).
 */
import type WebSocket from "ws";
import { setTimeout as sleep } from "node:timers/promises";
import type { FanOutMode } from "../../runtime/config/settings";
import { frameText } from "../../harness/frames";
import { startBenchEmulator, type BenchEmulator } from "../shared/bench-emulator";
import { openSocket } from "../e2e/e2e-clients";

const GROWTH_MARGIN_MIB = 32;
const SLOPE_MIN_SECONDS = 120;
const SLOPE_LIMIT_MIB_PER_MIN = 2;
const CUT_OFF_MIN_SECONDS = 60;
const MIB = 2 ** 20;

export interface SoakOptions {
  seconds: number;
  /** Reading clients plus the one that never reads. */
  clients: number;
  /** Messages per second, all senders together (each reader receives every one). */
  rate: number;
  messageBytes: number;
  /** The emulator's per-connection outbound limit; default its own. */
  maxBufferedBytes?: number;
  fanout?: FanOutMode;
  /** How long the end of the run waits for deliveries that are still under way. */
  idleMs: number;
  progress: (line: string) => void;
}

export interface SoakResult {
  seconds: number;
  messages: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Deliveries done when the last message was sent: how far the emulator kept up. */
  deliveredWhenSendingStopped: number;
  /** Never-reading clients the emulator closed (each replaced by a new one). */
  cutOff: number;
  /** Resident memory of the process (emulator, its Lambda threads and the clients), MiB, one sample a second. */
  rssMiB: number[];
  startMiB: number;
  peakMiB: number;
  endMiB: number;
  /** Least-squares slope of the second half of the samples. */
  secondHalfSlopeMiBPerMin: number;
  /** Why the run failed; empty when it passed. */
  failures: string[];
}

/** What the readers got: every `g` once each (a second copy is a duplicate), and when the last came. */
class SoakTally {
  delivered = 0;
  duplicated = 0;
  lastDelivery = Date.now();
  private readonly seen: Uint8Array[];

  constructor(readers: number, messages: number) {
    this.seen = Array.from({ length: readers }, () => new Uint8Array(messages));
  }

  copy(reader: number, data: Parameters<typeof frameText>[0]): void {
    const { g } = JSON.parse(frameText(data)) as { g?: unknown };
    // Anything else (an error frame) leaves this reader a delivery short, which counts as lost.
    if (typeof g !== "number") return;
    if (this.seen[reader][g]) this.duplicated++;
    else {
      this.seen[reader][g] = 1;
      this.delivered++;
    }
    this.lastDelivery = Date.now();
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { seconds, rate, clients } = options;
  const emulator = await startBenchEmulator({ fanout: options.fanout, maxBufferedBytes: options.maxBufferedBytes }, options.progress);
  try {
    const readers = await Promise.all(Array.from({ length: clients - 1 }, () => openSocket(emulator.url)));
    const messages = Math.round(rate * seconds);
    const tally = new SoakTally(readers.length, messages);
    readers.forEach((socket, reader) => socket.on("message", (data) => tally.copy(reader, data)));
    const { rssMiB, cutOff, slow } = await sendAtRate(emulator, readers, messages, tally, options);
    const expected = messages * readers.length;
    const deliveredWhenSendingStopped = tally.delivered;
    while (tally.delivered < expected && Date.now() - tally.lastDelivery < options.idleMs) await sleep(100);
    rssMiB.push(process.memoryUsage.rss() / MIB);
    slow.socket.terminate();
    await Promise.all(readers.map(closeSocket));

    const { delivered, duplicated } = tally;
    const result = {
      seconds,
      messages,
      expected,
      delivered,
      lost: expected - delivered,
      duplicated,
      deliveredWhenSendingStopped,
      cutOff,
      rssMiB,
      startMiB: rssMiB[0],
      peakMiB: Math.max(...rssMiB),
      endMiB: rssMiB[rssMiB.length - 1],
      secondHalfSlopeMiBPerMin: slope(rssMiB.slice(Math.floor(rssMiB.length / 2))) * 60,
    };
    return { ...result, failures: failuresOf(result) };
  } finally {
    await emulator.close();
  }
}

/**
 * Sends `messages` at `rate` a second, round robin over the readers, beside a client that never
 * reads (replaced each time the emulator cuts it off, and returned still open); samples this
 * process's RSS every second.
 */
async function sendAtRate(
  emulator: BenchEmulator,
  readers: WebSocket[],
  messages: number,
  tally: SoakTally,
  options: SoakOptions,
): Promise<{ rssMiB: number[]; cutOff: number; slow: { socket: WebSocket } }> {
  let slow = await openNeverReading(emulator);
  const padding = "x".repeat(Math.max(0, options.messageBytes - 40));
  const rssMiB: number[] = [process.memoryUsage.rss() / MIB];
  let sent = 0;
  let cutOff = 0;
  const started = Date.now();
  while (sent < messages) {
    await sleep(20);
    const due = Math.min(messages, Math.floor(((Date.now() - started) / 1000) * options.rate));
    for (; sent < due; sent++) readers[sent % readers.length].send(JSON.stringify({ g: sent, pad: padding }));
    if (Date.now() - started < rssMiB.length * 1000) continue;
    rssMiB.push(process.memoryUsage.rss() / MIB);
    if (!emulator.connectionIds().includes(slow.id)) {
      cutOff++;
      // Reading again lets the client see its end and free its side; a new one keeps the pressure on.
      slow.socket.resume();
      slow = await openNeverReading(emulator);
    }
    if (rssMiB.length % 30 === 0) options.progress(`${rssMiB.length} s: ${tally.delivered} delivered, ${cutOff} cut off, ${rssMiB.at(-1)?.toFixed(1)} MiB`);
  }
  return { rssMiB, cutOff, slow };
}

function failuresOf(result: Omit<SoakResult, "failures">): string[] {
  const failures: string[] = [];
  if (result.lost > 0) failures.push(`${result.lost} deliveries lost`);
  if (result.duplicated > 0) failures.push(`${result.duplicated} duplicates`);
  const half = Math.floor(result.rssMiB.length / 2);
  const firstPeak = Math.max(...result.rssMiB.slice(0, half));
  const secondPeak = Math.max(...result.rssMiB.slice(half));
  if (secondPeak > firstPeak + GROWTH_MARGIN_MIB) {
    failures.push(`memory kept growing: ${secondPeak.toFixed(1)} MiB in the second half, ${firstPeak.toFixed(1)} MiB peak in the first`);
  }
  if (result.rssMiB.length - half >= SLOPE_MIN_SECONDS && result.secondHalfSlopeMiBPerMin > SLOPE_LIMIT_MIB_PER_MIN) {
    failures.push(`memory kept growing: ${result.secondHalfSlopeMiBPerMin.toFixed(2)} MiB/min over the second half`);
  }
  // A short run may end before the kernel's socket buffers (a few MiB) and the limit have filled.
  if (result.seconds >= CUT_OFF_MIN_SECONDS && result.cutOff === 0) failures.push("the never-reading client was never cut off");
  return failures;
}

/** Least-squares slope of evenly spaced samples, per step. */
function slope(samples: number[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = samples.reduce((sum, y) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  samples.forEach((y, x) => {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  });
  return covariance / variance;
}

/** A client that never reads: its socket is paused as soon as it is open. */
async function openNeverReading(emulator: BenchEmulator): Promise<{ socket: WebSocket; id: string }> {
  const before = new Set(emulator.connectionIds());
  const socket = await openSocket(emulator.url);
  socket.pause();
  // Its end is a dropped socket, possibly mid-frame: expected, not a failure of the run.
  socket.on("error", () => undefined);
  const id = emulator.connectionIds().find((known) => !before.has(known));
  if (id === undefined) throw new Error("the never-reading client's connection id did not appear");
  return { socket, id };
}

function closeSocket(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.once("close", () => resolve());
    socket.close();
  });
}
