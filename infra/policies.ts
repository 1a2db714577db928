/**
 * Least-privilege IAM documents, one pure function per role: each lists exactly the actions its
 * handler calls, on exactly its resources, and declares nothing itself.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONNECTION_TABLE } from "../runtime/store/connection-store";

interface Statement {
  Effect: "Allow";
  Action: string[];
  Resource: pulumi.Input<string>[];
  Condition?: Record<string, Record<string, string>>;
}

/** Lets the Lambda service assume a function's role. */
export function lambdaAssumeRolePolicy(): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
  });
}

/**
 * With presence on, `$connect` and `$disconnect` also list the room on its index, post the event
 * to this stage's connections, and (`$connect`) delete the rows of gone ones.
 */
export interface PresenceResources {
  apiExecutionArn: pulumi.Input<string>;
  stageName: string;
}

/** `$connect` records the connection; with presence, announces the join. */
export function connectPolicy(tableArn: pulumi.Input<string>, logGroupArn: pulumi.Input<string>, presence?: PresenceResources): pulumi.Output<string> {
  if (!presence) return policyDocument([tableStatement(["dynamodb:PutItem"], tableArn), logStatement(logGroupArn)]);
  return policyDocument([tableStatement(["dynamodb:PutItem", "dynamodb:DeleteItem"], tableArn), roomIndexStatement(tableArn), postStatement(presence), logStatement(logGroupArn)]);
}

/** `$disconnect` removes the connection; with presence, announces the leave. */
export function disconnectPolicy(tableArn: pulumi.Input<string>, logGroupArn: pulumi.Input<string>, presence?: PresenceResources): pulumi.Output<string> {
  if (!presence) return policyDocument([tableStatement(["dynamodb:DeleteItem"], tableArn), logStatement(logGroupArn)]);
  return policyDocument([tableStatement(["dynamodb:DeleteItem"], tableArn), roomIndexStatement(tableArn), postStatement(presence), logStatement(logGroupArn)]);
}

export interface DefaultRouteResources {
  tableArn: pulumi.Input<string>;
  logGroupArn: pulumi.Input<string>;
  /** The API's `arn:aws:execute-api:{region}:{account}:{apiId}`. */
  apiExecutionArn: pulumi.Input<string>;
  stageName: string;
  /** Sharded fan-out: the queue `$default` sends shard jobs to. */
  shardQueueArn?: pulumi.Input<string>;
  /** History on: the table the messages are numbered and stored in. */
  historyTableArn?: pulumi.Input<string>;
}

/**
 * `$default` reads the sender's row (its room), Queries the room on the index, deletes rows of gone
 * connections, and POSTs to connections of this API's stage only (the runtime never DELETEs a
 * connection); in sharded mode it also sends to the shard queue (POSTs stay for its `_error` replies).
 */
export function defaultRoutePolicy(resources: DefaultRouteResources): pulumi.Output<string> {
  return policyDocument([
    tableStatement(["dynamodb:GetItem", "dynamodb:DeleteItem"], resources.tableArn),
    roomIndexStatement(resources.tableArn),
    postStatement(resources),
    ...(resources.shardQueueArn === undefined ? [] : [{ Effect: "Allow" as const, Action: ["sqs:SendMessage"], Resource: [resources.shardQueueArn] }]),
    ...historyStatements(resources.historyTableArn),
    logStatement(resources.logGroupArn),
  ]);
}

/**
 * The publish function Queries the room on the index (it has no sender whose row to read). Direct:
 * it POSTs to this stage's connections and deletes rows of gone ones. Sharded: it only sends shard
 * jobs (the workers post and delete), and has no sender to answer with an `_error`.
 */
export function publishPolicy(resources: DefaultRouteResources): pulumi.Output<string> {
  const delivery: Statement[] =
    resources.shardQueueArn === undefined
      ? [tableStatement(["dynamodb:DeleteItem"], resources.tableArn), postStatement(resources)]
      : [{ Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [resources.shardQueueArn] }];
  return policyDocument([roomIndexStatement(resources.tableArn), ...delivery, ...historyStatements(resources.historyTableArn), logStatement(resources.logGroupArn)]);
}

/**
 * What numbering a message takes (read the room's head, put the next number, read the room's end
 * after a lost put, raise the head); `$default`'s catch-up reads are Queries too.
 */
function historyStatements(historyTableArn: pulumi.Input<string> | undefined): Statement[] {
  if (historyTableArn === undefined) return [];
  return [tableStatement(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"], historyTableArn)];
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

/**
 * With a customer managed table key, DynamoDB decrypts the table key with the caller's own
 * permissions on every read and write (KMS developer guide, "How Amazon DynamoDB uses AWS KMS"), so
 * a key policy that delegates to IAM needs this on every role that touches the table: Decrypt,
 * only through DynamoDB in the key's (the stack's) region.
 */
export function withTableKey(policy: pulumi.Output<string>, tableKmsKeyArn: string | undefined): pulumi.Output<string> {
  if (tableKmsKeyArn === undefined) return policy;
  const region = tableKmsKeyArn.split(":")[3];
  const statement: Statement = {
    Effect: "Allow",
    Action: ["kms:Decrypt"],
    Resource: [tableKmsKeyArn],
    Condition: { StringEquals: { "kms:ViaService": `dynamodb.${region}.amazonaws.com` } },
  };
  return policy.apply((text) => {
    const document = JSON.parse(text) as { Version: string; Statement: Statement[] };
    return JSON.stringify({ ...document, Statement: [...document.Statement, statement] });
  });
}

function postStatement(resources: Pick<DefaultRouteResources, "apiExecutionArn" | "stageName">): Statement {
  const connections = pulumi.interpolate`${resources.apiExecutionArn}/${resources.stageName}/POST/@connections/*`;
  return { Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [connections] };
}

/** Query on the room index only: never on the table, never a Scan. */
function roomIndexStatement(tableArn: pulumi.Input<string>): Statement {
  return { Effect: "Allow", Action: ["dynamodb:Query"], Resource: [pulumi.interpolate`${tableArn}/index/${CONNECTION_TABLE.roomIndex.name}`] };
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
