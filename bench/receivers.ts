/**
 * Child process holding fan-out receivers: real `ws` clients that count every tagged frame they
 * get. Sockets live here, not in the bench process, because each connection costs one file
 * descriptor per side and the per-process limit is 20,000.
 */
import WebSocket from "ws";

export type ReceiverRequest =
  | { type: "open"; url: string; count: number }
  | { type: "count"; tag: string }
  | { type: "close" };

export type ReceiverReply =
  | { type: "opened"; open: number; failed: number }
  /** `reached`: sockets that got `tag` at least once; `duplicates`: further copies of it. */
  | { type: "count"; tag: string; reached: number; duplicates: number };

// Handshakes in flight at once: the emulator runs `$connect` (a table write) for each.
const OPENING_CONCURRENCY = 64;

function main(): void {
  const sockets: WebSocket[] = [];
  const reachedByTag = new Map<string, number>();
  const duplicatesByTag = new Map<string, number>();

  const reply = (message: ReceiverReply) => process.send?.(message);

  const connect = (url: string) =>
    new Promise<boolean>((resolve) => {
      const socket = new WebSocket(url);
      const seen = new Set<string>();
      socket.on("message", (data) => {
        const tag = tagOf(data.toString());
        if (tag === undefined) return;
        if (seen.has(tag)) duplicatesByTag.set(tag, (duplicatesByTag.get(tag) ?? 0) + 1);
        else {
          seen.add(tag);
          reachedByTag.set(tag, (reachedByTag.get(tag) ?? 0) + 1);
        }
      });
      socket.once("open", () => {
        sockets.push(socket);
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });

  const open = async (url: string, count: number) => {
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < count) {
        next++;
        if (!(await connect(url))) failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(OPENING_CONCURRENCY, count) }, worker));
    reply({ type: "opened", open: sockets.length, failed });
  };

  process.on("message", (request: ReceiverRequest) => {
    if (request.type === "open") void open(request.url, request.count);
    else if (request.type === "count") {
      const { tag } = request;
      reply({ type: "count", tag, reached: reachedByTag.get(tag) ?? 0, duplicates: duplicatesByTag.get(tag) ?? 0 });
    } else {
      for (const socket of sockets) socket.terminate();
      process.disconnect();
    }
  });
}

// Every frame the backends send is JSON; a broadcast carries the `tag` it was sent with, and
// anything else (an `_error` frame) leaves a receiver short of it, which the bench counts as lost.
function tagOf(text: string): string | undefined {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed === "object" && parsed !== null && "tag" in parsed && typeof parsed.tag === "string") return parsed.tag;
  return undefined;
}

if (require.main === module) main();
