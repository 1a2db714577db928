/**
 * Sharded fan-out (`FANOUT_MODE=sharded`): `$default` lists the room's receivers once, page by
 * page (runtime/broadcast.ts), and enqueues them in shard jobs of at most `shardSize` ids on SQS; worker Lambdas post one shard each, with the
 * same delivery code as the direct path. docs/scaling.md explains the design.
 */
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { errorName, fanOut, makeDeliver } from "./fanout";
import type { HandlerDeps } from "./handlers";
import { withMe } from "./message";

/** One shard: the message (stamped, without `_me`), who sent it, and the receivers to post it to. */
export interface ShardJob {
  /** The management API endpoint the worker posts to. */
  endpoint: string;
  sender: string;
  /** The inbound message's `_id`, for the worker's log line. */
  messageId: string;
  base: string;
  receivers: string[];
}

export interface ShardQueue {
  /** Resolves once every job is accepted by the queue; rejects naming how many were not. */
  enqueue(jobs: readonly ShardJob[]): Promise<void>;
}

/**
 * SQS's message size limit. A job is one JSON header line (ids included) then the stamped message
 * as it is: a 128 KiB payload is never escaped a second time, so it always fits with its ids.
 */
const SQS_MAX_MESSAGE_BYTES = 262144;
/** SendMessageBatch takes at most 10 entries, and at most SQS_MAX_MESSAGE_BYTES in all. */
const SQS_MAX_BATCH_ENTRIES = 10;
/** Attempts per entry when SQS reports it Failed (throttling, internal errors). */
const ENQUEUE_ATTEMPTS = 3;
/** Deliveries of a shard job before SQS moves it to the dead-letter queue (the redrive policy). */
const SHARD_MAX_RECEIVE_COUNT = 3;
// Not `export const`: tsc would compile this module's own reads to `exports.X`, which
// Pulumi's closure serializer leaves dangling in the Lambda code.
export { SHARD_MAX_RECEIVE_COUNT, SQS_MAX_MESSAGE_BYTES };

/** The SQS message body of a job: `{"endpoint",…,"receivers"}\n<base>`. */
export function encodeShardJob(job: ShardJob): string {
  const { base, ...header } = job;
  return `${JSON.stringify(header)}\n${base}`;
}

/** Parses a job body; throws on anything `encodeShardJob` did not write. */
export function decodeShardJob(body: string): ShardJob {
  const newline = body.indexOf("\n");
  if (newline < 0) throw new Error("shard job without a message line");
  const header: unknown = JSON.parse(body.slice(0, newline));
  if (!isHeader(header)) throw new Error("shard job header is malformed");
  return { ...header, base: body.slice(newline + 1) };
}

function isHeader(value: unknown): value is Omit<ShardJob, "base"> {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.endpoint === "string" &&
    typeof v.sender === "string" &&
    typeof v.messageId === "string" &&
    Array.isArray(v.receivers) &&
    v.receivers.every((id) => typeof id === "string")
  );
}

/** Splits `receivers` into jobs of at most `shardSize` ids whose encoded body fits one SQS message. */
export function planShardJobs(message: Omit<ShardJob, "receivers">, receivers: readonly string[], shardSize: number): ShardJob[] {
  const fixed = Buffer.byteLength(encodeShardJob({ ...message, receivers: [] }));
  // Each id as a JSON array element: quoted, escaped, and a comma.
  const idBytes = (id: string) => Buffer.byteLength(JSON.stringify(id)) + 1;
  return pack(receivers, idBytes, shardSize, SQS_MAX_MESSAGE_BYTES, fixed).map((ids) => ({ ...message, receivers: ids }));
}

/**
 * Groups `items` in order, greedily: at most `maxCount` per group and `fixedBytes` plus their
 * `sizeOf` at most `maxBytes` (an item too large alone still gets a group of its own).
 */
function pack<T>(items: readonly T[], sizeOf: (item: T) => number, maxCount: number, maxBytes: number, fixedBytes = 0): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let bytes = fixedBytes;
  for (const item of items) {
    const size = sizeOf(item);
    if (group.length > 0 && (group.length >= maxCount || bytes + size > maxBytes)) {
      groups.push(group);
      group = [];
      bytes = fixedBytes;
    }
    group.push(item);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** A ShardQueue on SQS: SendMessageBatch calls, `concurrency` at a time; Failed entries are retried. */
export function createSqsShardQueue(client: SQSClient, queueUrl: string, concurrency: number): ShardQueue {
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

/** The part of Lambda's SQS event the worker reads. */
export interface SqsEvent {
  Records: Array<{ messageId: string; body: string }>;
}

/** Lambda's partial batch response: only these records are retried (and then dead-lettered). */
export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export type ShardWorkerHandler = (event: SqsEvent) => Promise<SqsBatchResponse>;

/** Route name of the worker's log lines. */
const SHARD_WORKER_ROUTE = "shard";
export { SHARD_WORKER_ROUTE };

/**
 * The worker: posts each record's shard and reports the records with a failed post (throttled
 * past the retries, network) so SQS delivers them again: those receivers may get a copy twice.
 */
export function makeShardWorkerHandler(deps: HandlerDeps): ShardWorkerHandler {
  const work = async (record: SqsEvent["Records"][number]): Promise<boolean> => {
    const started = deps.now();
    let job: ShardJob;
    try {
      job = decodeShardJob(record.body);
    } catch (err) {
      deps.log({ route: SHARD_WORKER_ROUTE, connectionId: "", requestId: record.messageId, statusCode: 400, durationMs: 0, error: errorName(err) });
      return false;
    }
    const { deliver, cleanupFailures } = makeDeliver(deps, deps.posterFor(job.endpoint), job.sender, withMe(job.base));
    const counts = await fanOut(job.receivers, deliver, deps.limits.fanOutConcurrency);
    const cleanupFailed = cleanupFailures();
    deps.log({
      route: SHARD_WORKER_ROUTE,
      connectionId: job.sender,
      requestId: job.messageId,
      statusCode: counts.failed > 0 ? 500 : 200,
      durationMs: deps.now() - started,
      ...counts,
      ...(cleanupFailed > 0 ? { cleanupFailed } : {}),
    });
    return counts.failed === 0;
  };
  return async (event) => {
    const results = await Promise.all(event.Records.map(work));
    return { batchItemFailures: event.Records.filter((_, i) => !results[i]).map((record) => ({ itemIdentifier: record.messageId })) };
  };
}
