/**
 * fanOut: delivers to many receivers with at most `concurrency` posts in flight, and counts
 * the outcomes. Never one unbounded Promise.all: that exhausts sockets and the post-rate quota.
 */
import type { ConnectionStore } from "../store/connection-store";
import { errorName } from "../contract/errors";
import type { Outgoing } from "../contract/message";
import type { Poster, PostResult } from "./poster";

export interface FanOutCounts {
  receivers: number;
  delivered: number;
  gone: number;
  failed: number;
  /** Failed posts by error name, e.g. `{"LimitExceededException": 2}`. */
  failures: Record<string, number>;
}

export async function fanOut(
  receivers: readonly string[],
  deliver: (connectionId: string) => Promise<PostResult>,
  concurrency: number,
): Promise<FanOutCounts> {
  const counts: FanOutCounts = { receivers: receivers.length, delivered: 0, gone: 0, failed: 0, failures: {} };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < receivers.length) {
      const result = await deliver(receivers[next++]).catch(
        (err: unknown): PostResult => ({ outcome: "failed", reason: errorName(err) }),
      );
      if (result.outcome === "failed") {
        counts.failed++;
        counts.failures[result.reason] = (counts.failures[result.reason] ?? 0) + 1;
      } else counts[result.outcome]++;
    }
  };
  const workers = Math.max(1, Math.min(concurrency, receivers.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return counts;
}

/**
 * API Gateway answers 410 for a connection whose `$connect` has not returned yet, and a `$connect`
 * runs for at most 29 s (the integration's limit). So a 410 only deletes the row of a connection
 * older than this: a joiner's row, written before its `$connect` returned, survives a broadcast
 * that reached it too early. A younger connection that really went is removed by its
 * `$disconnect`, the TTL or a later 410.
 */
const CONNECTING_GRACE_MS = 30_000;

/**
 * One post per receiver, the sender's copy to the sender; a gone connection's row is deleted
 * (past CONNECTING_GRACE_MS). Shared by the direct path and the shard workers.
 */
export function makeDeliver(
  deps: { store: ConnectionStore; now: () => number },
  poster: Poster,
  sender: string,
  outgoing: Pick<Outgoing, "sender" | "others">,
): { deliver: (id: string) => Promise<PostResult>; cleanupFailures: () => number } {
  const senderCopy = Buffer.from(outgoing.sender);
  const othersCopy = Buffer.from(outgoing.others);
  let cleanupFailed = 0;
  return {
    async deliver(id) {
      const result = await poster.post(id, id === sender ? senderCopy : othersCopy);
      if (result.outcome === "gone") await deps.store.remove(id, deps.now() - CONNECTING_GRACE_MS).catch(() => cleanupFailed++);
      return result;
    },
    cleanupFailures: () => cleanupFailed,
  };
}
