import test from "ava";
import { runProgram, type ProgramReport } from "../../harness/program-run";
import { MOCK_ACCOUNT, MOCK_REGION } from "../../harness/pulumi-mocks";
import { ROUTES, all, asList, once, one, parsePolicy, succeeded } from "../helpers/report";

// Every key away from its default, as a second stack "prod" would set them.
const custom = once(() =>
  runProgram({
    stack: "prod",
    config: {
      architecture: "x86_64",
      lambdaMemoryMb: "1024",
      lambdaTimeoutSeconds: "10",
      logRetentionDays: "30",
      stageName: "live",
      throttleRateLimit: "50",
      throttleBurstLimit: "75",
      maxMessageBytes: "65536",
      fanOutConcurrency: "128",
      connectionTtlSeconds: "86400",
      accessToken: "s3cret-token",
      allowedOrigins: JSON.stringify(["https://app.example.com", "http://localhost:8080"]),
      monitoring: "false",
      accessLogging: "true",
      apiGatewayCloudWatchRole: "true",
      tableKmsKeyArn: "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      tableDeletionProtection: "true",
      retainTable: "true",
      presence: "true",
    },
    secrets: ["accessToken"],
  }),
);
// Bundled SDK and alarm email, as a third stack "ops".
const bundled = once(() => runProgram({ stack: "ops", config: { bundleAwsSdk: "true", alarmEmail: "ops@example.com" } }));

test("config: a second stack's values reach names, stage, functions, logs and table", async (t) => {
  const report = await custom();
  succeeded(t, report);
  const apiId = one(report, "aws:apigatewayv2/api:Api", "message-broadcast-prod-api").id;
  t.like(report.outputs, { endpoint: `wss://${apiId}.execute-api.${MOCK_REGION}.amazonaws.com/live`, stage: "live" });
  t.like(one(report, "aws:apigatewayv2/stage:Stage", "message-broadcast-prod-stage").inputs, {
    name: "live",
    defaultRouteSettings: { throttlingRateLimit: 50, throttlingBurstLimit: 75 },
  });
  const table = one(report, "aws:dynamodb/table:Table", "message-broadcast-prod-connections");
  t.is(table.inputs.deletionProtectionEnabled, true);
  t.deepEqual(table.inputs.serverSideEncryption, { enabled: true, kmsKeyArn: "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" });
  t.true(table.retainOnDelete);
  for (const [route, routeKey] of ROUTES) {
    const name = `message-broadcast-prod-${route}`;
    t.like(one(report, "aws:lambda/function:Function", name).inputs, {
      name,
      architectures: ["x86_64"],
      memorySize: 1024,
      timeout: 10,
      environment: { variables: { MAX_MESSAGE_BYTES: "65536", FANOUT_CONCURRENCY: "128", CONNECTION_TTL_SECONDS: "86400" } },
    });
    t.is(one(report, "aws:cloudwatch/logGroup:LogGroup", `${name}-logs`).inputs.retentionInDays, 30);
    t.regex(String(one(report, "aws:lambda/permission:Permission", `${name}-invoke`).inputs.sourceArn), new RegExp(`/live/\\${routeKey}$`));
  }
  const defaultPolicy = parsePolicy(one(report, "aws:iam/rolePolicy:RolePolicy", "message-broadcast-prod-default-policy").inputs.policy);
  t.true(defaultPolicy.Statement.some((statement) => asList(statement.Resource).some((arn) => arn.endsWith(`${apiId}/live/POST/@connections/*`))));
});

test("config: two stacks share no physical or logical name", async (t) => {
  const names = (report: ProgramReport) =>
    new Set(report.resources.flatMap((resource) => [resource.name, ...(typeof resource.inputs.name === "string" ? [resource.inputs.name] : [])]));
  const prod = names(await custom());
  const ops = names(await bundled());
  t.deepEqual([...prod].filter((name) => ops.has(name)), []);
});

test("access: the token and allowed origins go to $connect only", async (t) => {
  const report = await custom();
  const variables = (route: string) => {
    const environment = one(report, "aws:lambda/function:Function", `message-broadcast-prod-${route}`).inputs.environment;
    if (typeof environment !== "object" || environment === null || !("variables" in environment)) throw new Error("no environment");
    return environment.variables;
  };
  t.like(variables("connect"), { ACCESS_TOKEN: "s3cret-token", ALLOWED_ORIGINS: "https://app.example.com,http://localhost:8080" });
  // Pulumi stores the token encrypted in the state (the whole environment becomes secret).
  t.deepEqual(one(report, "aws:lambda/function:Function", "message-broadcast-prod-connect").secretInputs, ["environment"]);
  for (const route of ["disconnect", "default"]) {
    t.false(Object.keys(Object(variables(route)) as object).some((key) => key === "ACCESS_TOKEN" || key === "ALLOWED_ORIGINS"), route);
    t.deepEqual(one(report, "aws:lambda/function:Function", `message-broadcast-prod-${route}`).secretInputs, [], route);
  }
});

test("presence: $connect and $disconnect get PRESENCE, Query on the room index and posts to this stage; $default is unchanged", async (t) => {
  const [report, plain] = [await custom(), await bundled()];
  const apiId = one(report, "aws:apigatewayv2/api:Api", "message-broadcast-prod-api").id;
  const tableArn = String(one(report, "aws:dynamodb/table:Table", "message-broadcast-prod-connections").state.arn);
  // The table key's statement (this stack sets tableKmsKeyArn) has a test of its own below.
  const statements = (stack: ProgramReport, name: string) =>
    parsePolicy(one(stack, "aws:iam/rolePolicy:RolePolicy", `${name}-policy`).inputs.policy)
      .Statement.filter((s) => !asList(s.Action).includes("kms:Decrypt"))
      .map((s) => [asList(s.Action), asList(s.Resource)]);
  const variables = (stack: ProgramReport, name: string) =>
    Object((Object(one(stack, "aws:lambda/function:Function", name).inputs.environment) as { variables?: unknown }).variables) as Record<string, unknown>;
  const index = [["dynamodb:Query"], [`${tableArn}/index/room-index`]];
  const post = [["execute-api:ManageConnections"], [`arn:aws:execute-api:${MOCK_REGION}:${MOCK_ACCOUNT}:${apiId}/live/POST/@connections/*`]];
  const logs = (route: string) => [["logs:CreateLogStream", "logs:PutLogEvents"], [`arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:/aws/lambda/message-broadcast-prod-${route}:*`]];
  t.deepEqual(statements(report, "message-broadcast-prod-connect"), [[["dynamodb:PutItem", "dynamodb:DeleteItem"], [tableArn]], index, post, logs("connect")]);
  t.deepEqual(statements(report, "message-broadcast-prod-disconnect"), [[["dynamodb:DeleteItem"], [tableArn]], index, post, logs("disconnect")]);
  for (const route of ["connect", "disconnect"]) t.is(variables(report, `message-broadcast-prod-${route}`).PRESENCE, "true", route);
  t.is(variables(report, "message-broadcast-prod-default").PRESENCE, undefined);
  // Without presence (the "ops" stack): today's minimal policies and no PRESENCE anywhere.
  t.deepEqual(statements(plain, "message-broadcast-ops-connect").map(([actions]) => actions), [["dynamodb:PutItem"], ["logs:CreateLogStream", "logs:PutLogEvents"]]);
  t.deepEqual(statements(plain, "message-broadcast-ops-disconnect").map(([actions]) => actions), [["dynamodb:DeleteItem"], ["logs:CreateLogStream", "logs:PutLogEvents"]]);
  for (const route of ["connect", "disconnect", "default"]) t.is(variables(plain, `message-broadcast-ops-${route}`).PRESENCE, undefined, route);
});

test("monitoring=false: no dashboard, alarms or topic; accessLogging: JSON access logs to their own group", async (t) => {
  const report = await custom();
  for (const type of ["aws:cloudwatch/dashboard:Dashboard", "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sns/topic:Topic"]) {
    t.is(all(report, type).length, 0, type);
  }
  const accessLogs = one(report, "aws:cloudwatch/logGroup:LogGroup", "message-broadcast-prod-access-logs");
  t.deepEqual(accessLogs.inputs, { name: "/aws/apigateway/message-broadcast-prod/access", retentionInDays: 30 });
  const settings = one(report, "aws:apigatewayv2/stage:Stage", "message-broadcast-prod-stage").inputs.accessLogSettings;
  t.like(settings, { destinationArn: accessLogs.state.arn });
  const format = typeof settings === "object" && settings !== null && "format" in settings ? (JSON.parse(String(settings.format)) as unknown) : {};
  t.like(format, { connectionId: "$context.connectionId", routeKey: "$context.routeKey", status: "$context.status" });
});

test("apiGatewayCloudWatchRole: the account's role with AWS's managed policy, set before the stage, kept on destroy", async (t) => {
  const report = await custom();
  const role = one(report, "aws:iam/role:Role", "message-broadcast-prod-apigw-logs-role");
  t.deepEqual(parsePolicy(role.inputs.assumeRolePolicy).Statement, [
    { Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" },
  ]);
  t.deepEqual(one(report, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "message-broadcast-prod-apigw-logs-policy").inputs, {
    role: role.state.name,
    policyArn: "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
  });
  const account = one(report, "aws:apigateway/account:Account", "message-broadcast-prod-apigw-account");
  t.deepEqual(account.inputs, { cloudwatchRoleArn: role.state.arn });
  t.true(account.dependsOn.includes("message-broadcast-prod-apigw-logs-policy"));
  t.true(one(report, "aws:apigatewayv2/stage:Stage", "message-broadcast-prod-stage").dependsOn.includes("message-broadcast-prod-apigw-account"));
  // Destroying the Account resets the account-wide role: every other API there would lose its logs.
  for (const resource of [role, account]) t.true(resource.retainOnDelete, resource.name);
  t.true(one(report, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "message-broadcast-prod-apigw-logs-policy").retainOnDelete);
  // `existing` creates none of it.
  const existing = await runProgram({ stack: "prod", config: { accessLogging: "true", apiGatewayCloudWatchRole: "existing" } });
  succeeded(t, existing);
  t.is(all(existing, "aws:apigateway/account:Account").length, 0);
  t.truthy(one(existing, "aws:apigatewayv2/stage:Stage", "message-broadcast-prod-stage").inputs.accessLogSettings);
});

test("bundleAwsSdk: archives carry the three SDK packages and their dependencies, never @pulumi", async (t) => {
  const report = await bundled();
  succeeded(t, report);
  for (const [name, archive] of Object.entries(report.archives)) {
    const entries = Object.keys(archive.files);
    const total = Object.values(archive.files).reduce((sum, bytes) => sum + bytes, 0);
    t.log(`${name}: ${entries.length} entries, ${(total / 1024 / 1024).toFixed(1)} MiB`);
    for (const sdk of ["@aws-sdk/client-apigatewaymanagementapi", "@aws-sdk/client-dynamodb", "@aws-sdk/lib-dynamodb"]) {
      t.true(entries.includes(`node_modules/${sdk}`), `${name} lacks ${sdk}`);
    }
    t.true(entries.some((entry) => entry.startsWith("node_modules/@smithy/")), "transitive dependencies too");
    t.deepEqual(entries.filter((entry) => entry.includes("@pulumi/")), []);
  }
});

test("alarmEmail: every alarm notifies an SNS topic with an email subscription", async (t) => {
  const report = await bundled();
  const [topic] = all(report, "aws:sns/topic:Topic");
  t.is(all(report, "aws:sns/topic:Topic").length, 1);
  t.deepEqual(one(report, "aws:sns/topicSubscription:TopicSubscription", "message-broadcast-ops-alarms-email").inputs, {
    topic: topic.state.arn,
    protocol: "email",
    endpoint: "ops@example.com",
  });
  const alarms = all(report, "aws:cloudwatch/metricAlarm:MetricAlarm");
  // Errors and throttles of the four functions.
  t.is(alarms.length, 8);
  for (const alarm of alarms) t.like(alarm.inputs, { alarmActions: [topic.state.arn], okActions: [topic.state.arn] }, alarm.name);
});

const TABLE_KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const tableKeyStatement = {
  Effect: "Allow",
  Action: ["kms:Decrypt"],
  Resource: [TABLE_KEY],
  Condition: { StringEquals: { "kms:ViaService": `dynamodb.${MOCK_REGION}.amazonaws.com` } },
};
const shardedWithKey = once(() => runProgram({ config: { fanout: "sharded", tableKmsKeyArn: TABLE_KEY } }));

test("table key: every role that touches the table may decrypt with it through DynamoDB only, in both modes", async (t) => {
  const kmsStatements = (report: ProgramReport, prefix: string, fn: string) =>
    parsePolicy(one(report, "aws:iam/rolePolicy:RolePolicy", `${prefix}-${fn}-policy`).inputs.policy).Statement.filter((statement) => JSON.stringify(statement).includes("kms:"));
  for (const fn of ["connect", "disconnect", "default", "publish"]) {
    t.deepEqual(kmsStatements(await custom(), "message-broadcast-prod", fn), [tableKeyStatement], fn);
    t.deepEqual(kmsStatements(await bundled(), "message-broadcast-ops", fn), [], `${fn} without a key`);
  }
  for (const fn of ["connect", "disconnect", "default", "publish", "shards"]) t.deepEqual(kmsStatements(await shardedWithKey(), "message-broadcast-dev", fn), [tableKeyStatement], `sharded ${fn}`);
});

test("table key: a key from another region than aws:region stops the preview, naming the key", async (t) => {
  const elsewhere = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  const report = await runProgram({ config: { tableKmsKeyArn: elsewhere } });
  t.is(report.error?.name, "ConfigError");
  t.is(
    report.error?.message,
    `message-broadcast:tableKmsKeyArn: must be a key in the stack's region ${MOCK_REGION} (aws:region; DynamoDB uses only a key of its table's region), got ${elsewhere} in us-east-1`,
  );
  t.deepEqual(report.resources.filter((resource) => resource.type !== "pulumi:pulumi:Stack"), []);
});
