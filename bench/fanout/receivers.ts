/**
 * Child process holding fan-out receivers: real `ws` clients that count every tagged frame they
 * get. Sockets live here, not in the bench process, because each connection costs one file
 * descriptor per side and the per-process limit is 20,000.
 */
import WebSocket from "ws";
import { frameText } from "../../harness/frames";
import { createLimiter } from "../../local/gateway/concurrency-limiter";

export type ReceiverRequest =
  | { type: "open"; url: string; count: number }
  | { type: "count"; tag: string }
  | { type: "close" };

export type ReceiverReply =
  | { type: "opened"; open: number; failed: number }
  /**
   * `reached`: sockets that got `tag` at least once; `duplicates`: further copies of it;
   * `fenced`: sockets that got `tag`'s fence, after which no copy of it can still be on its way.
   */
  | { type: "count"; tag: string; reached: number; duplicates: number; fenced: number };

// Handshakes in flight at once: the emulator runs `$connect` (a table write) for each.
const OPENING_CONCURRENCY = 64;

function main(): void {
  const sockets: WebSocket[] = [];
  const reachedByTag = new Map<string, number>();
  const duplicatesByTag = new Map<string, number>();
  const fencedByTag = new Map<string, number>();
  const increment = (counts: Map<string, number>, tag: string) => void counts.set(tag, (counts.get(tag) ?? 0) + 1);

  const reply = (message: ReceiverReply) => void process.send?.(message);

  const connect = (url: string) =>
    new Promise<boolean>((resolve) => {
      const socket = new WebSocket(url);
      const seen = new Set<string>();
      socket.on("message", (data) => {
        const frame = readFrame(frameText(data));
        if (frame.fence !== undefined) increment(fencedByTag, frame.fence);
        if (frame.tag === undefined) return;
        if (seen.has(frame.tag)) increment(duplicatesByTag, frame.tag);
        else {
          seen.add(frame.tag);
          increment(reachedByTag, frame.tag);
        }
      });
      socket.once("open", () => {
        sockets.push(socket);
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });

  const open = async (url: string, count: number) => {
    const limiter = createLimiter(OPENING_CONCURRENCY);
    const opened = await Promise.all(Array.from({ length: count }, () => limiter.run(() => connect(url))));
    reply({ type: "opened", open: sockets.length, failed: opened.filter((ok) => !ok).length });
  };

  process.on("message", (request: ReceiverRequest) => {
    if (request.type === "open") void open(request.url, request.count);
    else if (request.type === "count") {
      const { tag } = request;
      const count = (counts: Map<string, number>) => counts.get(tag) ?? 0;
      reply({ type: "count", tag, reached: count(reachedByTag), duplicates: count(duplicatesByTag), fenced: count(fencedByTag) });
    } else {
      for (const socket of sockets) socket.terminate();
      process.disconnect();
    }
  });
}

// Every frame the backends send is JSON; a broadcast carries the `tag` it was sent with, and
// anything else (an `_error` frame) leaves a receiver short of it, which the bench counts as lost.
// The rig itself sends `{"fence": tag}` once a run is over (bench/fanout/fanout-rig.ts).
function readFrame(text: string): { tag?: string; fence?: string } {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null) return {};
  const { tag, fence } = parsed as Record<string, unknown>;
  return { tag: typeof tag === "string" ? tag : undefined, fence: typeof fence === "string" ? fence : undefined };
}

if (require.main === module) main();
