/**
 * The shard worker Lambda's handler: posts each SQS record's shard with the same delivery code as
 * the direct path (runtime/delivery/fanout.ts).
 */
import { errorName } from "../contract/errors";
import { fanOut, makeDeliver } from "../delivery/fanout";
import { logInvocation, type HandlerDeps, type Logged } from "./deps";
import { withMe } from "../contract/message";
import { decodeShardJob, type ShardJob } from "../delivery/shard-jobs";

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
    const names = { route: SHARD_WORKER_ROUTE, connectionId: "", requestId: record.messageId };
    const { statusCode } = await logInvocation(deps, names, () => postShard(deps, record));
    return statusCode === 200;
  };
  return async (event) => {
    const results = await Promise.all(event.Records.map(work));
    return { batchItemFailures: event.Records.filter((_, i) => !results[i]).map((record) => ({ itemIdentifier: record.messageId })) };
  };
}

// 400: the record is no shard job; 500: a post failed; 200: every post settled otherwise. The log
// line names the job's message and sender once the record decodes.
async function postShard(deps: HandlerDeps, record: SqsEvent["Records"][number]): Promise<Logged<{ statusCode: number }>> {
  let job: ShardJob;
  try {
    job = decodeShardJob(record.body);
  } catch (err) {
    return { result: { statusCode: 400 }, entry: { error: errorName(err) } };
  }
  const { deliver, cleanupFailures } = makeDeliver(deps, deps.posterFor(job.endpoint), job.sender, withMe(job.base));
  const counts = await fanOut(job.receivers, deliver, deps.limits.fanOutConcurrency);
  const cleanupFailed = cleanupFailures();
  return {
    result: { statusCode: counts.failed > 0 ? 500 : 200 },
    entry: { connectionId: job.sender, requestId: job.messageId, ...counts, ...(cleanupFailed > 0 ? { cleanupFailed } : {}) },
  };
}
