/**
 * The shard worker Lambda's handler: posts each SQS record's shard with the same delivery code as
 * the direct path (runtime/delivery/fanout.ts).
 */
import { errorName } from "../contract/errors";
import { fanOut, makeDeliver } from "../delivery/fanout";
import type { HandlerDeps } from "./deps";
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
