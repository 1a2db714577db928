/**
 * Sharded fan-out (config `fanout: sharded`): the shard queue with its dead-letter queue, and the
 * worker function that SQS invokes with one shard job at a time. None of it exists in direct mode.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SHARD_MAX_RECEIVE_COUNT } from "../runtime/delivery/shard-jobs";
import type { StackConfig } from "./config";
import { createShardWorkerFunction, type ShardWorkerFunction } from "./functions";
import { functionNames, stackNames } from "./names";
import { shardWorkerPolicy } from "./policies";

export interface ShardQueues {
  queue: aws.sqs.Queue;
  deadLetterQueue: aws.sqs.Queue;
}

/** SQS's bounds on a queue's message retention, in seconds (1 minute to 14 days). */
const SQS_RETENTION_SECONDS = { min: 60, max: 1209600 } as const;
/** AWS's advice for a Lambda event source: a visibility timeout of at least six times the function timeout. */
const VISIBILITY_PER_TIMEOUT = 6;

/** How long a received job stays hidden from the other workers. */
export function shardVisibilitySeconds(workerTimeoutSeconds: number): number {
  return VISIBILITY_PER_TIMEOUT * workerTimeoutSeconds;
}

/**
 * A job that fails every time is dead-lettered at its receive after the last, about
 * maxReceiveCount × visibility after it was sent; a standard queue counts retention from that first
 * send, so retention must outlast it or the job expires unseen and the dead-letter alarm never
 * fires. One visibility more is the margin for the poll that moves it. Never under an hour (a
 * broadcast later than that is no longer worth delivering, but a shorter life would only drop jobs
 * a backlog delays).
 */
export function shardRetentionSeconds(workerTimeoutSeconds: number): number {
  const deadLetteredBy = (SHARD_MAX_RECEIVE_COUNT + 1) * shardVisibilitySeconds(workerTimeoutSeconds);
  return Math.min(SQS_RETENTION_SECONDS.max, Math.max(3600, deadLetteredBy));
}

export function createShardQueues(name: string, stack: Pick<StackConfig, "shardWorkerTimeoutSeconds">, parent: pulumi.Resource): ShardQueues {
  const { shardQueue, deadLetterQueue: deadLetterQueueName } = stackNames(name);
  const deadLetterQueue = new aws.sqs.Queue(
    deadLetterQueueName,
    // SQS's longest: a standard queue keeps a dead-lettered job's first enqueue time, so its two
    // weeks count from then; at most shardRetentionSeconds of them are spent before it arrives.
    { name: deadLetterQueueName, messageRetentionSeconds: SQS_RETENTION_SECONDS.max, sqsManagedSseEnabled: true },
    { parent },
  );
  const queue = new aws.sqs.Queue(
    shardQueue,
    {
      name: shardQueue,
      visibilityTimeoutSeconds: shardVisibilitySeconds(stack.shardWorkerTimeoutSeconds),
      messageRetentionSeconds: shardRetentionSeconds(stack.shardWorkerTimeoutSeconds),
      sqsManagedSseEnabled: true,
      redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: deadLetterQueue.arn, maxReceiveCount: SHARD_MAX_RECEIVE_COUNT }),
    },
    { parent },
  );
  return { queue, deadLetterQueue };
}

export interface ShardWorkerArgs {
  queues: ShardQueues;
  table: aws.dynamodb.Table;
  api: aws.apigatewayv2.Api;
  environment: Record<string, pulumi.Input<string>>;
  stack: Pick<
    StackConfig,
    "architecture" | "lambdaMemoryMb" | "logRetentionDays" | "bundleAwsSdk" | "tableKmsKeyArn" | "stageName" | "shardWorkers" | "shardWorkerTimeoutSeconds" | "shardWorkerReservedConcurrency"
  >;
}

/**
 * The worker, at most `shardWorkers` invocations at once (the post-rate quota is shared by all of
 * them), fed one job per invocation; failed jobs come back alone (ReportBatchItemFailures).
 */
export function createShardWorker(name: string, args: ShardWorkerArgs, parent: pulumi.Resource): { fn: ShardWorkerFunction; mapping: aws.lambda.EventSourceMapping } {
  const { queues, table, api, stack } = args;
  const names = functionNames(name, "shards");
  const fn = createShardWorkerFunction(
    names,
    {
      environment: args.environment,
      policy: (logGroupArn) =>
        shardWorkerPolicy({ tableArn: table.arn, logGroupArn, apiExecutionArn: api.executionArn, stageName: stack.stageName, shardQueueArn: queues.queue.arn }),
      // The worker's own timeout: SQS invokes it, not API Gateway with its 29 s.
      stack: { ...stack, lambdaTimeoutSeconds: stack.shardWorkerTimeoutSeconds },
      // Opt-in: reserving fails on accounts whose unreserved concurrency would drop below 100.
      reservedConcurrency: stack.shardWorkerReservedConcurrency ? stack.shardWorkers : undefined,
    },
    parent,
  );
  const mapping = new aws.lambda.EventSourceMapping(
    `${names.function}-source`,
    {
      eventSourceArn: queues.queue.arn,
      functionName: fn.arn,
      batchSize: 1,
      functionResponseTypes: ["ReportBatchItemFailures"],
      // What caps the workers: SQS never invokes more at once, reserved concurrency or not.
      scalingConfig: { maximumConcurrency: stack.shardWorkers },
    },
    { parent },
  );
  return { fn, mapping };
}
