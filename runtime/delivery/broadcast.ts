/**
 * broadcastToRoom: one transformed message to every live member of a room, the one fan-out that
 * `$default` (and any other sender of room messages, such as a server-side publish) calls.
 * The sender is always among the receivers, even when the eventually consistent index does not
 * list it yet (a first message right after connecting).
 * Direct: the whole room is listed before the first post, so a store failure never leaves a
 * message half-delivered. Sharded: shard jobs are planned from each Query page as it arrives
 * (the same jobs as planning the whole list at once) and enqueued for the workers.
 */
import { listRoom } from "../store/connection-store";
import { errorName } from "../contract/errors";
import { fanOut, makeDeliver, type FanOutCounts } from "./fanout";
import type { HandlerDeps, InvocationLog } from "../routes/deps";
import type { Outgoing } from "../contract/message";
import type { Poster } from "./poster";
import { planShardJobs, type ShardJob } from "./shard-jobs";

export interface RoomMessage {
  room: string;
  /** The member whose copy is `outgoing.sender`; without one every member gets `outgoing.others`. */
  sender?: string;
  outgoing: Pick<Outgoing, "base" | "sender" | "others">;
  /** The management API endpoint the copies are posted to. */
  endpoint: string;
  /** The `_id` the copies carry (sharded fan-out); shard jobs are used only when it is set. */
  messageId?: string;
}

/** The fan-out counts of the invocation's log line. */
type BroadcastCounts = Pick<InvocationLog, "receivers" | "delivered" | "gone" | "failed" | "failures" | "cleanupFailed" | "shards">;

export type BroadcastResult =
  | { ok: true; counts: BroadcastCounts }
  | {
      ok: false;
      /** What could not be reached: the connections table, or the shard queue. */
      unavailable: "store" | "queue";
      /** The error's name. */
      error: string;
      /** True when some copies may have gone out (shard jobs enqueued before the failure). */
      partial: boolean;
      counts: BroadcastCounts;
    };

/** The `_error` message of a failed broadcast: what was unreachable, and whether anyone may have got it. */
export function unavailableMessage(failure: Extract<BroadcastResult, { ok: false }>): string {
  const what = failure.unavailable === "store" ? "connection store" : "shard queue";
  const reach = failure.partial || failure.unavailable === "queue" ? "message may not reach everyone" : "message not sent";
  return `${what} unavailable (${failure.error}); ${reach}`;
}

export type BroadcastDeps = Pick<HandlerDeps, "store" | "posterFor" | "limits" | "now" | "sharded">;

export async function broadcastToRoom(deps: BroadcastDeps, message: RoomMessage): Promise<BroadcastResult> {
  const nowSeconds = Math.floor(deps.now() / 1000);
  if (deps.sharded && message.messageId !== undefined) return enqueueShards(deps, deps.sharded, message, message.messageId, nowSeconds);
  let receivers: string[];
  try {
    receivers = await listRoom(deps.store, message.room, nowSeconds);
  } catch (err) {
    return { ok: false, unavailable: "store", error: errorName(err), partial: false, counts: {} };
  }
  if (message.sender !== undefined && !receivers.includes(message.sender)) receivers.push(message.sender);
  return { ok: true, counts: await postCopies(deps, deps.posterFor(message.endpoint), receivers, message.sender, message.outgoing) };
}

/** Posts the copies to `receivers` from this invocation, `fanOutConcurrency` at a time; gone rows are deleted. */
export async function postCopies(
  deps: Pick<HandlerDeps, "store" | "limits" | "now">,
  poster: Poster,
  receivers: readonly string[],
  sender: string | undefined,
  outgoing: Pick<Outgoing, "sender" | "others">,
): Promise<FanOutCounts & { cleanupFailed?: number }> {
  // Connection ids are never empty, so "" marks no member as the sender.
  const { deliver, cleanupFailures } = makeDeliver(deps, poster, sender ?? "", outgoing);
  const counts = await fanOut(receivers, deliver, deps.limits.fanOutConcurrency);
  const cleanupFailed = cleanupFailures();
  return { ...counts, ...(cleanupFailed > 0 ? { cleanupFailed } : {}) };
}

async function enqueueShards(
  deps: BroadcastDeps,
  sharded: NonNullable<HandlerDeps["sharded"]>,
  message: RoomMessage,
  messageId: string,
  nowSeconds: number,
): Promise<BroadcastResult> {
  const header: Omit<ShardJob, "receivers"> = { endpoint: message.endpoint, sender: message.sender ?? "", messageId, base: message.outgoing.base };
  let receivers = 0;
  let shards = 0;
  // The last planned job of each page may still grow with the next page's ids; it waits here.
  let pending: string[] = [];
  let unavailable: "store" | "queue" = "store";
  let senderListed = message.sender === undefined;
  const enqueue = async (jobs: ShardJob[]) => {
    if (jobs.length === 0) return;
    unavailable = "queue";
    shards += jobs.length;
    await sharded.queue.enqueue(jobs);
    unavailable = "store";
  };
  try {
    await deps.store.forEachRoomPage(message.room, nowSeconds, async (ids) => {
      receivers += ids.length;
      senderListed ||= ids.includes(message.sender ?? "");
      const jobs = planShardJobs(header, [...pending, ...ids], sharded.shardSize);
      pending = jobs.pop()?.receivers ?? [];
      await enqueue(jobs);
    });
    if (!senderListed) {
      receivers++;
      pending = [...pending, header.sender];
    }
    // At most shardSize + 1 ids: planned again, so the sender never makes a job too big.
    await enqueue(planShardJobs(header, pending, sharded.shardSize));
  } catch (err) {
    // Jobs accepted before the failure are delivered: some members may get this message.
    return { ok: false, unavailable, error: errorName(err), partial: shards > 0, counts: { receivers, shards } };
  }
  return { ok: true, counts: { receivers, shards } };
}
