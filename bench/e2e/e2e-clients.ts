/**
 * Child process for the end-to-end figure: K real `ws` clients, each sending M messages, the
 * next one as soon as its own copy of the previous one comes back (one message in flight per
 * client). Every receipt is checked off per receiver, so losses and duplicates are exact, and
 * latency is measured on this process's clock (the send time travels in the message).
 */
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { frameText } from "../../harness/frames";

export type E2eRequest = { type: "run"; url: string; clients: number; messages: number; idleMs: number };

export type E2eReply = {
  type: "result";
  expected: number;
  delivered: number;
  duplicates: number;
  /** First send to last receipt. */
  elapsedMs: number;
  p50Ms: number;
  p99Ms: number;
};

interface BenchFrame {
  s: number;
  q: number;
  t: number;
}

async function run({ url, clients, messages, idleMs }: E2eRequest): Promise<E2eReply> {
  const expected = clients * clients * messages;
  const latencies = new Float64Array(expected);
  const seen = Array.from({ length: clients }, () => new Uint8Array(clients * messages));
  let delivered = 0;
  let duplicates = 0;
  let lastReceipt = 0;

  const sockets = await Promise.all(Array.from({ length: clients }, () => openSocket(url)));
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let idleTimer = setTimeout(finish, idleMs);

  const send = (sender: number, seq: number) =>
    sockets[sender].send(JSON.stringify({ tag: "e2e", s: sender, q: seq, t: performance.now() }));

  sockets.forEach((socket, receiver) => {
    socket.on("message", (data) => {
      const now = performance.now();
      const frame = benchFrame(frameText(data));
      // Not a bench message (an `_error` frame): its receiver stays short, which counts as lost.
      if (!frame) return;
      const slot = frame.s * messages + frame.q;
      if (seen[receiver][slot]) duplicates++;
      else {
        seen[receiver][slot] = 1;
        latencies[delivered++] = now - frame.t;
        lastReceipt = now;
      }
      if (frame.s === receiver && frame.q + 1 < messages) send(receiver, frame.q + 1);
      clearTimeout(idleTimer);
      idleTimer = delivered === expected ? setTimeout(finish, 0) : setTimeout(finish, idleMs);
    });
  });

  const started = performance.now();
  sockets.forEach((_, sender) => send(sender, 0));
  await finished;
  clearTimeout(idleTimer);
  for (const socket of sockets) socket.close();

  const sorted = latencies.slice(0, delivered).sort();
  const at = (fraction: number) => (delivered === 0 ? NaN : sorted[Math.min(delivered - 1, Math.floor(fraction * delivered))]);
  return {
    type: "result",
    expected,
    delivered,
    duplicates,
    elapsedMs: lastReceipt - started,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

/** Opens a client and resolves once it is open. */
export function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
  });
}

function benchFrame(text: string): BenchFrame | undefined {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { s, q, t } = parsed as Record<string, unknown>;
  return typeof s === "number" && typeof q === "number" && typeof t === "number" ? { s, q, t } : undefined;
}

if (require.main === module) {
  process.once("message", (request: E2eRequest) => {
    void run(request).then((reply) => {
      process.send?.(reply);
      process.disconnect();
    });
  });
}
