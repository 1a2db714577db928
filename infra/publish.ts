/**
 * Server-side publish: the `publish` function behind a Lambda function URL with `AWS_IAM` auth,
 * so only signed requests of principals allowed both `lambda:InvokeFunctionUrl` and
 * `lambda:InvokeFunction` reach it (function URLs created since October 2025 need both).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { toEnvironment } from "../runtime/config/environment";
import type { StackConfig } from "./config";
import { createPublishFunction, type PublishFunction } from "./functions";
import { functionNames } from "./names";
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
  stack: Pick<StackConfig, "architecture" | "lambdaMemoryMb" | "lambdaTimeoutSeconds" | "logRetentionDays" | "bundleAwsSdk" | "tableKmsKeyArn" | "stageName">;
}

/** The stage's management API, `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: the API's `wss:` endpoint over HTTPS. */
export function managementEndpointOf(api: aws.apigatewayv2.Api, stageName: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.interpolate`${api.apiEndpoint.apply((url) => url.replace(/^wss:/, "https:"))}/${stageName}`;
}

export function createPublisher(name: string, args: PublisherArgs, parent: pulumi.Resource): { fn: PublishFunction; url: aws.lambda.FunctionUrl } {
  const { table, api, stack } = args;
  // A function URL event names no WebSocket API, so the stage's management API is configured.
  const managementEndpoint = managementEndpointOf(api, stack.stageName);
  const names = functionNames(name, "publish");
  const fn = createPublishFunction(
    names,
    {
      environment: { ...args.environment, ...toEnvironment<pulumi.Input<string>>({ managementEndpoint }) },
      policy: (logGroupArn) =>
        publishPolicy({ tableArn: table.arn, logGroupArn, apiExecutionArn: api.executionArn, stageName: stack.stageName, shardQueueArn: args.shardQueues?.queue.arn, historyTableArn: args.historyTable?.arn }),
      stack,
    },
    parent,
  );
  const url = new aws.lambda.FunctionUrl(`${names.function}-url`, { functionName: fn.name, authorizationType: "AWS_IAM" }, { parent });
  return { fn, url };
}
