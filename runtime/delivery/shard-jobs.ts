/**
 * Sharded fan-out's planning (`FANOUT_MODE=sharded`): the shard job, its SQS message codec, and
 * the packing of a room's receivers into jobs that each fit one SQS message. docs/scaling.md
 * explains the design; runtime/delivery/sqs-shard-queue.ts enqueues the jobs, runtime/routes/shard-worker.ts posts them.
 */

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

/**
 * SQS's message size limit. A job is one JSON header line (ids included) then the stamped message
 * as it is: a 128 KiB payload is never escaped a second time, so it always fits with its ids.
 */
const SQS_MAX_MESSAGE_BYTES = 262144;
/**
 * Deliveries of a shard job before SQS moves it to the dead-letter queue (the redrive policy):
 * AWS advises at least 5 for a Lambda event source, so throttled invocations do not dead-letter jobs.
 */
const SHARD_MAX_RECEIVE_COUNT = 5;
// Not `export const`: runtime/SERIALIZER.md, rule 1.
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
export function pack<T>(items: readonly T[], sizeOf: (item: T) => number, maxCount: number, maxBytes: number, fixedBytes = 0): T[][] {
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

