/**
 * Least-privilege IAM documents, one pure function per role: each lists exactly the actions its
 * handler calls, on exactly its resources, and declares nothing itself.
 */
import * as pulumi from "@pulumi/pulumi";

interface Statement {
  Effect: "Allow";
  Action: string[];
  Resource: pulumi.Input<string>[];
}

/** Lets the Lambda service assume a function's role. */
export function lambdaAssumeRolePolicy(): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
  });
}

/** `$connect` records the connection. */
export function connectPolicy(tableArn: pulumi.Input<string>, logGroupArn: pulumi.Input<string>): pulumi.Output<string> {
  return policyDocument([tableStatement(["dynamodb:PutItem"], tableArn), logStatement(logGroupArn)]);
}

/** `$disconnect` removes the connection. */
export function disconnectPolicy(tableArn: pulumi.Input<string>, logGroupArn: pulumi.Input<string>): pulumi.Output<string> {
  return policyDocument([tableStatement(["dynamodb:DeleteItem"], tableArn), logStatement(logGroupArn)]);
}

export interface DefaultRouteResources {
  tableArn: pulumi.Input<string>;
  logGroupArn: pulumi.Input<string>;
  /** The API's `arn:aws:execute-api:{region}:{account}:{apiId}`. */
  apiExecutionArn: pulumi.Input<string>;
  stageName: string;
  /** Sharded fan-out: the queue `$default` sends shard jobs to. */
  shardQueueArn?: pulumi.Input<string>;
}

/**
 * `$default` lists live connections, deletes rows of gone ones, and POSTs to connections of this
 * API's stage only (the runtime never DELETEs a connection); in sharded mode it also sends to the
 * shard queue (POSTs stay for its `_error` replies).
 */
export function defaultRoutePolicy(resources: DefaultRouteResources): pulumi.Output<string> {
  return policyDocument([
    tableStatement(["dynamodb:Scan", "dynamodb:DeleteItem"], resources.tableArn),
    postStatement(resources),
    ...(resources.shardQueueArn === undefined ? [] : [{ Effect: "Allow" as const, Action: ["sqs:SendMessage"], Resource: [resources.shardQueueArn] }]),
    logStatement(resources.logGroupArn),
  ]);
}

/**
 * The publish function makes `$default`'s calls: it lists a room's live connections, deletes rows
 * of gone ones, and POSTs to this stage's connections, or (sharded) sends shard jobs.
 */
export function publishPolicy(resources: DefaultRouteResources): pulumi.Output<string> {
  return defaultRoutePolicy(resources);
}

/** The shard worker receives and deletes its queue's jobs, POSTs to this stage, deletes gone rows. */
export function shardWorkerPolicy(resources: DefaultRouteResources & { shardQueueArn: pulumi.Input<string> }): pulumi.Output<string> {
  return policyDocument([
    tableStatement(["dynamodb:DeleteItem"], resources.tableArn),
    postStatement(resources),
    { Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource: [resources.shardQueueArn] },
    logStatement(resources.logGroupArn),
  ]);
}

function postStatement(resources: Pick<DefaultRouteResources, "apiExecutionArn" | "stageName">): Statement {
  const connections = pulumi.interpolate`${resources.apiExecutionArn}/${resources.stageName}/POST/@connections/*`;
  return { Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [connections] };
}

function tableStatement(actions: string[], tableArn: pulumi.Input<string>): Statement {
  return { Effect: "Allow", Action: actions, Resource: [tableArn] };
}

// The log group exists before the function (Pulumi creates it), so no logs:CreateLogGroup.
function logStatement(logGroupArn: pulumi.Input<string>): Statement {
  return { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [pulumi.interpolate`${logGroupArn}:*`] };
}

function policyDocument(statements: Statement[]): pulumi.Output<string> {
  return pulumi.jsonStringify({ Version: "2012-10-17", Statement: statements });
}
