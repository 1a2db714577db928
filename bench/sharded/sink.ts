/**
 * The virtual receivers of bench/sharded/sharded-sim.ts: connection ids `virtual-0` …
 * `virtual-{n-1}`, answered through the emulator's `virtualReceivers` seam; the sender's own
 * copy counts as `virtual-0`'s, so a broadcast makes N posts as it did when the sender was one. Each delivery is
 * counted instead of written to a socket, so the sink can tell that every receiver got exactly
 * one copy and whether it carried `_id`.
 */
import { performance } from "node:perf_hooks";

// Every post is answered only after its frame is counted, so once the handler side is done the
// count is final; this only bounds a run that loses posts.
const QUIET_MS = 5000;

export interface SinkResult {
  delivered: number;
  duplicates: number;
  /** From `broadcast()` to the last first-time delivery. */
  lastDeliveryMs: number;
  withId: number;
}

export class Sink {
  private counts: Uint8Array;
  private result: SinkResult = { delivered: 0, duplicates: 0, lastDeliveryMs: 0, withId: 0 };
  private started = 0;
  private lastActivity = 0;

  constructor(private readonly n: number) {
    this.counts = new Uint8Array(n);
  }

  /** The real connection whose copies count as receiver 0's. */
  sender = "";

  /** The `virtualReceivers` seam: "gone" for a virtual id out of range, undefined for any other real connection. */
  readonly receive = (connectionId: string, data: Buffer): "sent" | "gone" | undefined => {
    const index = connectionId === this.sender ? 0 : /^virtual-\d+$/.test(connectionId) ? Number(connectionId.slice(8)) : -1;
    if (index < 0) return undefined;
    if (index >= this.n || (index === 0 && connectionId !== this.sender)) return "gone";
    this.lastActivity = performance.now();
    if (this.counts[index]++ > 0) this.result.duplicates++;
    else {
      this.result.delivered++;
      this.result.lastDeliveryMs = this.lastActivity - this.started;
      if (data.includes('"_id":')) this.result.withId++;
    }
    return "sent";
  };

  /** Starts counting a new broadcast; resolves when every receiver got it or deliveries stop. */
  broadcast(): Promise<SinkResult> {
    this.counts = new Uint8Array(this.n);
    this.result = { delivered: 0, duplicates: 0, lastDeliveryMs: 0, withId: 0 };
    this.started = performance.now();
    this.lastActivity = this.started;
    return new Promise<SinkResult>((resolve) => {
      const check = setInterval(() => {
        if (this.result.delivered === this.n || performance.now() - this.lastActivity > QUIET_MS) {
          clearInterval(check);
          resolve({ ...this.result });
        }
      }, 20);
    });
  }
}
