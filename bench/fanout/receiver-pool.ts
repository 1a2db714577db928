/**
 * ReceiverPool: fan-out receivers spread over child processes (bench/fanout/receivers.ts), grown on
 * demand, with totals across all of them.
 */
import { forkChild, type Child } from "../shared/child";
import type { ReceiverReply, ReceiverRequest } from "./receivers";

// Well under the 20,000 descriptors a process may hold, leaving room for node's own.
const SOCKETS_PER_CHILD = 9000;

interface Deliveries {
  /** Receivers that got the tagged frame. */
  reached: number;
  /** Copies beyond the first, summed over receivers. */
  duplicates: number;
}

export interface ReceiverPool {
  /** Opens sockets until `total` are connected to `url`; throws if any handshake fails. */
  growTo(url: string, total: number): Promise<void>;
  /**
   * Waits until every socket got `tag`'s fence, which was sent after every copy of `tag`: then
   * the counts are final. Throws if that takes longer than `timeoutMs`.
   */
  awaitFence(tag: string, timeoutMs: number): Promise<Deliveries>;
  close(): Promise<void>;
}

type ReceiverChild = Child<ReceiverRequest, ReceiverReply> & { sockets: number };

export function createReceiverPool(): ReceiverPool {
  const children: ReceiverChild[] = [];
  const size = () => children.reduce((sum, child) => sum + child.sockets, 0);

  const count = async (tag: string): Promise<Deliveries & { fenced: number }> => {
    const totals = { reached: 0, duplicates: 0, fenced: 0 };
    for (const reply of await Promise.all(children.map((child) => child.request({ type: "count", tag })))) {
      if (reply.type !== "count") throw new Error(`unexpected reply ${reply.type}`);
      totals.reached += reply.reached;
      totals.duplicates += reply.duplicates;
      totals.fenced += reply.fenced;
    }
    return totals;
  };

  return {
    async growTo(url, total) {
      while (size() < total) {
        let child = children.find((candidate) => candidate.sockets < SOCKETS_PER_CHILD);
        if (!child) {
          child = Object.assign(forkChild<ReceiverRequest, ReceiverReply>("fanout/receivers.ts"), { sockets: 0 });
          children.push(child);
        }
        const wanted = Math.min(total - size(), SOCKETS_PER_CHILD - child.sockets);
        const reply = await child.request({ type: "open", url, count: wanted });
        if (reply.type !== "opened") throw new Error(`unexpected reply ${reply.type}`);
        child.sockets = reply.open;
        if (reply.failed > 0) throw new Error(`${reply.failed} of ${wanted} receiver handshakes failed`);
      }
    },
    async awaitFence(tag, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { reached, duplicates, fenced } = await count(tag);
        if (fenced === size()) return { reached, duplicates };
        if (Date.now() > deadline) throw new Error(`only ${fenced} of ${size()} receivers got the fence of ${tag}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await Promise.all(children.splice(0).map((child) => child.finish({ type: "close" })));
    },
  };
}
