/**
 * Server-side publish: the `publish` function behind a Lambda function URL with `AWS_IAM` auth,
 * so only signed requests of principals allowed `lambda:InvokeFunctionUrl` reach it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { toEnvironment } from "../runtime/host/lambda";
import type { StackConfig } from "./config";
import { createPublishFunction, type PublishFunction } from "./functions";
import { publishPolicy } from "./policies";
import type { ShardQueues } from "./shards";

export interface PublisherArgs {
  table: aws.dynamodb.Table;
  api: aws.apigatewayv2.Api;
  /** The stack config and (sharded mode) queue variables `$default` gets. */
  environment: Record<string, pulumi.Input<string>>;
  shardQueues?: ShardQueues;
  /** History on: publish numbers and stores its messages too. */
  historyTable?: aws.dynamodb.Table;
  stack: Pick<StackConfig, "architecture" | "lambdaMemoryMb" | "lambdaTimeoutSeconds" | "logRetentionDays" | "bundleAwsSdk" | "stageName">;
}

export function createPublisher(name: string, args: PublisherArgs, parent: pulumi.Resource): { fn: PublishFunction; url: aws.lambda.FunctionUrl } {
  const { table, api, stack } = args;
  // A function URL event names no WebSocket API, so the stage's management API is configured.
  const managementEndpoint = pulumi.interpolate`${api.apiEndpoint.apply((url) => url.replace(/^wss:/, "https:"))}/${stack.stageName}`;
  const fn = createPublishFunction(
    `${name}-publish`,
    {
      functionName: `${name}-publish`,
      environment: { ...args.environment, ...toEnvironment<pulumi.Input<string>>({ managementEndpoint }) },
      policy: (logGroupArn) =>
        publishPolicy({ tableArn: table.arn, logGroupArn, apiExecutionArn: api.executionArn, stageName: stack.stageName, shardQueueArn: args.shardQueues?.queue.arn, historyTableArn: args.historyTable?.arn }),
      stack,
    },
    parent,
  );
  const url = new aws.lambda.FunctionUrl(`${name}-publish-url`, { functionName: fn.name, authorizationType: "AWS_IAM" }, { parent });
  return { fn, url };
}
