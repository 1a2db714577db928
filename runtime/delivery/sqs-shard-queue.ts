/** The shard queue: where `$default` in sharded mode puts its shard jobs, and its SQS implementation. */
import type { SQSClient } from "@aws-sdk/client-sqs";
import { fanOut } from "./fanout";
import { encodeShardJob, pack, SQS_MAX_MESSAGE_BYTES, type ShardJob } from "./shard-jobs";

export interface ShardQueue {
  /** Resolves once every job is accepted by the queue; rejects naming how many were not. */
  enqueue(jobs: readonly ShardJob[]): Promise<void>;
}

/** SendMessageBatch takes at most 10 entries, and at most SQS_MAX_MESSAGE_BYTES in all. */
const SQS_MAX_BATCH_ENTRIES = 10;
/** Attempts per entry when SQS reports it Failed (throttling, internal errors). */
const ENQUEUE_ATTEMPTS = 3;

/** A ShardQueue on SQS: SendMessageBatch calls, `concurrency` at a time; Failed entries are retried. */
export function createSqsShardQueue(client: SQSClient, queueUrl: string, concurrency: number): ShardQueue {
  // Required here, when the queue is made (sharded mode only), not imported: runtime/SERIALIZER.md, rule 3.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- that rule
  const { SendMessageBatchCommand } = require("@aws-sdk/client-sqs") as typeof import("@aws-sdk/client-sqs");
  const sendBatch = async (bodies: string[]): Promise<void> => {
    let pending = bodies.map((body, i) => ({ Id: String(i), MessageBody: body }));
    let lastFailure = "";
    for (let attempt = 0; attempt < ENQUEUE_ATTEMPTS && pending.length > 0; attempt++) {
      const result = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
      const failed = new Set((result.Failed ?? []).map((entry) => entry.Id));
      lastFailure = (result.Failed ?? []).map((entry) => entry.Code ?? "Unknown").join(",");
      pending = pending.filter((entry) => failed.has(entry.Id));
    }
    if (pending.length > 0) throw Object.assign(new Error(`${pending.length} shard jobs not enqueued (${lastFailure})`), { name: "ShardEnqueueFailed" });
  };
  return {
    async enqueue(jobs) {
      // SendMessageBatch takes at most 10 entries and 256 KiB per call.
      const groups = pack(jobs.map(encodeShardJob), (body) => Buffer.byteLength(body), SQS_MAX_BATCH_ENTRIES, SQS_MAX_MESSAGE_BYTES);
      const counts = await fanOut(
        groups.map((_, i) => String(i)),
        async (index) => {
          await sendBatch(groups[Number(index)]);
          return { outcome: "delivered" };
        },
        concurrency,
      );
      if (counts.failed > 0) {
        const reasons = Object.keys(counts.failures).join(",");
        throw Object.assign(new Error(`${counts.failed} of ${groups.length} shard batches not enqueued`), { name: reasons || "ShardEnqueueFailed" });
      }
    },
  };
}

