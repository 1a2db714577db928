/**
 * docs/deployer-policy.json against what a `pulumi up` calls, in both fan-out modes with every
 * optional resource on: every action each mode needs is allowed by a statement whose conditions
 * that action can be evaluated against. IAM never matches a condition key an action does not
 * carry in its request context, so such a statement allows nothing and mocks cannot see it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import test from "ava";
import { MODES } from "../helpers/modes";
import { ROOT, runProgram, type ProgramReport } from "../../harness/program-run";
import { COMPONENT, asList, everythingOn, once, succeeded, type PolicyStatement } from "../helpers/report";

const everything = Object.fromEntries(MODES.map((mode) => [mode, once(() => runProgram({ config: everythingOn(mode) }))]));

/**
 * The service-specific condition keys each conditioned action supports, from the Service
 * Authorization Reference ("Actions, resources, and condition keys for AWS Lambda", "… for AWS
 * Identity and Access Management", "… for AWS Key Management Service") and the Lambda developer
 * guide's "Lambda API permissions reference": GetEventSourceMapping and ListEventSourceMappings
 * take resource `*` and no condition key; only Create/Update/DeleteEventSourceMapping carry
 * `lambda:FunctionArn`. Global `aws:` keys apply to every action. An action that appears in a
 * conditioned statement but not here fails the test: look it up and add it.
 */
const CONDITION_KEYS: Record<string, string[]> = {
  "lambda:CreateEventSourceMapping": ["lambda:FunctionArn"],
  "lambda:UpdateEventSourceMapping": ["lambda:FunctionArn"],
  "lambda:DeleteEventSourceMapping": ["lambda:FunctionArn"],
  "lambda:GetEventSourceMapping": [],
  "lambda:ListEventSourceMappings": [],
  "iam:PassRole": ["iam:PassedToService", "iam:AssociatedResourceArn"],
  "iam:AttachRolePolicy": ["iam:PolicyARN", "iam:PermissionsBoundary"],
  "iam:DetachRolePolicy": ["iam:PolicyARN", "iam:PermissionsBoundary"],
  "kms:DescribeKey": ["kms:CallerAccount", "kms:ViaService"],
  "kms:CreateGrant": ["kms:CallerAccount", "kms:ViaService", "kms:GrantIsForAWSResource", "kms:GrantOperations", "kms:GranteePrincipal", "kms:RetiringPrincipal", "kms:GrantConstraintType", "kms:EncryptionContextKeys"],
  "kms:GenerateDataKey": ["kms:CallerAccount", "kms:ViaService", "kms:EncryptionAlgorithm", "kms:EncryptionContextKeys"],
  "kms:Decrypt": ["kms:CallerAccount", "kms:ViaService", "kms:EncryptionAlgorithm", "kms:EncryptionContextKeys"],
};

function statements(): PolicyStatement[] {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, "docs", "deployer-policy.json"), "utf8")) as { Statement: PolicyStatement[] }).Statement;
}

const conditionKeys = (statement: PolicyStatement) => Object.values(statement.Condition ?? {}).flatMap((keys) => Object.keys(keys));

/** The condition keys of the statement that `action` cannot be evaluated against. */
function unsupportedKeys(statement: PolicyStatement, action: string): string[] {
  const supported = CONDITION_KEYS[action];
  return conditionKeys(statement).filter((key) => !key.startsWith("aws:") && !supported?.includes(key));
}

test("every conditioned statement's condition keys are ones each of its actions supports", (t) => {
  for (const statement of statements().filter((candidate) => conditionKeys(candidate).length > 0)) {
    for (const action of asList(statement.Action)) {
      t.true(action in CONDITION_KEYS, `${action} (${String(statement.Sid)}): add its condition keys to CONDITION_KEYS from the Service Authorization Reference`);
      t.deepEqual(unsupportedKeys(statement, action), [], `${action} in ${String(statement.Sid)}`);
    }
  }
});

/** The action that creates each resource type (the rest of its life cycle sits beside it in the policy). */
const CREATE_ACTION: Record<string, string | null> = {
  "aws:dynamodb/table:Table": "dynamodb:CreateTable",
  "aws:iam/role:Role": "iam:CreateRole",
  "aws:iam/rolePolicy:RolePolicy": "iam:PutRolePolicy",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "iam:AttachRolePolicy",
  "aws:lambda/function:Function": "lambda:CreateFunction",
  "aws:lambda/permission:Permission": "lambda:AddPermission",
  "aws:lambda/eventSourceMapping:EventSourceMapping": "lambda:CreateEventSourceMapping",
  "aws:lambda/functionUrl:FunctionUrl": "lambda:CreateFunctionUrlConfig",
  "aws:cloudwatch/logGroup:LogGroup": "logs:CreateLogGroup",
  "aws:apigatewayv2/api:Api": "apigateway:POST",
  "aws:apigatewayv2/integration:Integration": "apigateway:POST",
  "aws:apigatewayv2/route:Route": "apigateway:POST",
  "aws:apigatewayv2/stage:Stage": "apigateway:POST",
  "aws:apigateway/account:Account": "apigateway:PATCH",
  "aws:cloudwatch/dashboard:Dashboard": "cloudwatch:PutDashboard",
  "aws:cloudwatch/metricAlarm:MetricAlarm": "cloudwatch:PutMetricAlarm",
  "aws:sns/topic:Topic": "sns:CreateTopic",
  "aws:sns/topicSubscription:TopicSubscription": "sns:Subscribe",
  "aws:sqs/queue:Queue": "sqs:CreateQueue",
  [COMPONENT]: null,
};

/**
 * What creating a resource calls besides its create action: the provider reads an event source
 * mapping back until it leaves Creating (hashicorp/terraform-provider-aws,
 * internal/service/lambda/event_source_mapping.go, waitEventSourceMappingCreated →
 * GetEventSourceMapping); DynamoDB uses a customer managed key on behalf of the table's creator
 * (KMS developer guide, "How Amazon DynamoDB uses AWS KMS").
 */
function neededActions(report: ProgramReport): Set<string> {
  const needed = new Set<string>();
  for (const resource of report.resources) {
    if (!(resource.type in CREATE_ACTION)) throw new Error(`which action creates ${resource.type}? add it to this test and the policy`);
    const action = CREATE_ACTION[resource.type];
    if (action) needed.add(action);
    if (resource.type === "aws:lambda/eventSourceMapping:EventSourceMapping") needed.add("lambda:GetEventSourceMapping");
    if ("reservedConcurrentExecutions" in resource.inputs) needed.add("lambda:PutFunctionConcurrency");
    if (JSON.stringify(resource.inputs.serverSideEncryption ?? {}).includes("kmsKeyArn")) {
      for (const use of ["kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt"]) needed.add(use);
    }
    if (resource.type === "aws:apigateway/account:Account") needed.add("iam:PassRole");
  }
  return needed;
}

for (const mode of MODES) {
  test(`docs/deployer-policy.json allows every action creating each resource and setting calls, under conditions it carries [${mode}]`, async (t) => {
    const report = await everything[mode]();
    succeeded(t, report);
    for (const action of neededActions(report)) {
      const granting = statements().filter((statement) => asList(statement.Action).includes(action));
      t.true(granting.length > 0, `${action} is missing from docs/deployer-policy.json`);
      t.true(
        granting.some((statement) => unsupportedKeys(statement, action).length === 0),
        `${action} is allowed only under condition keys it does not carry: ${granting.map((statement) => unsupportedKeys(statement, action).join(", ")).join("; ")}`,
      );
    }
  });
}

test("the optional publish statement allows both actions a new function URL needs, on the publish functions only", (t) => {
  const publish = statements().find((statement) => asList(statement.Action).includes("lambda:InvokeFunctionUrl"));
  t.deepEqual(asList(publish?.Action).sort(), ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]);
  t.deepEqual(asList(publish?.Resource), ["arn:aws:lambda:REGION:ACCOUNT:function:message-broadcast-*-publish"]);
});
