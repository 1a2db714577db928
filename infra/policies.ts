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
}

/**
 * `$default` lists live connections, deletes rows of gone ones, and POSTs to connections of this
 * API's stage only (the runtime never DELETEs a connection).
 */
export function defaultRoutePolicy(resources: DefaultRouteResources): pulumi.Output<string> {
  const connections = pulumi.interpolate`${resources.apiExecutionArn}/${resources.stageName}/POST/@connections/*`;
  return policyDocument([
    tableStatement(["dynamodb:Scan", "dynamodb:DeleteItem"], resources.tableArn),
    { Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [connections] },
    logStatement(resources.logGroupArn),
  ]);
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
