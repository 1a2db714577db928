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

export function createShardQueues(name: string, stack: Pick<StackConfig, "shardWorkerTimeoutSeconds">, parent: pulumi.Resource): ShardQueues {
  const { shardQueue, deadLetterQueue: deadLetterQueueName } = stackNames(name);
  const deadLetterQueue = new aws.sqs.Queue(
    deadLetterQueueName,
    // Two weeks, SQS's longest: time to look at what failed.
    { name: deadLetterQueueName, messageRetentionSeconds: 1209600, sqsManagedSseEnabled: true },
    { parent },
  );
  const queue = new aws.sqs.Queue(
    shardQueue,
    {
      name: shardQueue,
      // AWS's advice for a Lambda event source: at least six times the function timeout.
      visibilityTimeoutSeconds: 6 * stack.shardWorkerTimeoutSeconds,
      // A broadcast an hour late is no longer worth delivering.
      messageRetentionSeconds: 3600,
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
    "architecture" | "lambdaMemoryMb" | "logRetentionDays" | "bundleAwsSdk" | "stageName" | "shardWorkers" | "shardWorkerTimeoutSeconds" | "shardWorkerReservedConcurrency"
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
