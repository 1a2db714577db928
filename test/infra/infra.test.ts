import test from "ava";
import { runProgram } from "../../harness/program-run";
import { MOCK_ACCOUNT, MOCK_REGION } from "../../harness/pulumi-mocks";
import { COMPONENT, ROUTES, all, asList, countByType, once, one, parsePolicy, succeeded, type PolicyStatement } from "../helpers/report";

// The default config (an empty stack "dev"); test/infra/infra-variants.test.ts covers other values.
const defaults = once(() => runProgram());

test("program: exactly the expected resources, every one a child of one BroadcastApi", async (t) => {
  const report = await defaults();
  succeeded(t, report);
  t.deepEqual(countByType(report), {
    [COMPONENT]: 1,
    "aws:dynamodb/table:Table": 1,
    "aws:apigatewayv2/api:Api": 1,
    "aws:cloudwatch/logGroup:LogGroup": 4,
    "aws:iam/role:Role": 4,
    "aws:iam/rolePolicy:RolePolicy": 4,
    "aws:lambda/function:Function": 4,
    "aws:lambda/functionUrl:FunctionUrl": 1,
    "aws:apigatewayv2/integration:Integration": 3,
    "aws:apigatewayv2/route:Route": 3,
    "aws:lambda/permission:Permission": 3,
    "aws:apigatewayv2/stage:Stage": 1,
    "aws:cloudwatch/dashboard:Dashboard": 1,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 8,
  });
  t.is(one(report, COMPONENT, "message-broadcast-dev").parents.length, 0);
  for (const resource of report.resources.filter(({ type }) => type !== COMPONENT)) {
    t.deepEqual(resource.parents, [COMPONENT], `${resource.type} ${resource.name}`);
    t.true(resource.name.startsWith("message-broadcast-dev-"), resource.name);
  }
  t.deepEqual(report.calls, [], "no provider invokes");
});

test("outputs: the wss endpoint, the management endpoint, table, api id, stage and the publish URL", async (t) => {
  const report = await defaults();
  const apiId = one(report, "aws:apigatewayv2/api:Api", "message-broadcast-dev-api").id;
  const table = one(report, "aws:dynamodb/table:Table", "message-broadcast-dev-connections");
  const url = one(report, "aws:lambda/functionUrl:FunctionUrl", "message-broadcast-dev-publish-url");
  t.deepEqual(report.outputs, {
    endpoint: `wss://${apiId}.execute-api.${MOCK_REGION}.amazonaws.com/dev`,
    managementEndpoint: `https://${apiId}.execute-api.${MOCK_REGION}.amazonaws.com/dev`,
    tableName: table.state.name,
    apiId,
    stage: "dev",
    publishUrl: url.state.functionUrl,
  });
  t.regex(String(report.outputs.publishUrl), new RegExp(`^https://[0-9a-f]{32}\\.lambda-url\\.${MOCK_REGION}\\.on\\.aws/$`));
});

test("publish: a function URL with AWS_IAM auth, no resource policy opening it, and the stage's management endpoint", async (t) => {
  const report = await defaults();
  const name = "message-broadcast-dev-publish";
  const fn = one(report, "aws:lambda/function:Function", name);
  t.deepEqual(one(report, "aws:lambda/functionUrl:FunctionUrl", `${name}-url`).inputs, { functionName: name, authorizationType: "AWS_IAM" });
  // Same-account principals need their own lambda:InvokeFunctionUrl and lambda:InvokeFunction; nothing grants anyone else.
  t.false(all(report, "aws:lambda/permission:Permission").some((permission) => permission.inputs.function === name));
  const apiId = one(report, "aws:apigatewayv2/api:Api", "message-broadcast-dev-api").id;
  const tableName = one(report, "aws:dynamodb/table:Table", "message-broadcast-dev-connections").state.name;
  t.like(fn.inputs, {
    handler: "__index.handler",
    role: one(report, "aws:iam/role:Role", `${name}-role`).state.arn,
    environment: {
      variables: {
        TABLE_NAME: tableName,
        MAX_MESSAGE_BYTES: "131072",
        FANOUT_CONCURRENCY: "64",
        CONNECTION_TTL_SECONDS: "7500",
        MANAGEMENT_ENDPOINT: `https://${apiId}.execute-api.${MOCK_REGION}.amazonaws.com/dev`,
      },
    },
  });
  t.deepEqual(one(report, "aws:cloudwatch/logGroup:LogGroup", `${name}-logs`).inputs, { name: `/aws/lambda/${name}`, retentionInDays: 14 });
});

test("table: connectionId string key, room-index on room, on demand, TTL on expiresAt, AWS-owned key (no KMS), deletable by default", async (t) => {
  const table = one(await defaults(), "aws:dynamodb/table:Table", "message-broadcast-dev-connections");
  t.deepEqual(table.inputs, {
    attributes: [
      { name: "connectionId", type: "S" },
      { name: "room", type: "S" },
    ],
    hashKey: "connectionId",
    // A room's members by room, in connectionId order, with only the expiry and the identity (presence, members) beside the keys.
    globalSecondaryIndexes: [
      {
        name: "room-index",
        keySchemas: [
          { attributeName: "room", keyType: "HASH" },
          { attributeName: "connectionId", keyType: "RANGE" },
        ],
        projectionType: "INCLUDE",
        nonKeyAttributes: ["expiresAt", "user", "meta"],
      },
    ],
    billingMode: "PAY_PER_REQUEST",
    ttl: { attributeName: "expiresAt", enabled: true },
    deletionProtectionEnabled: false,
  });
  t.false(table.retainOnDelete);
});

test("api: a WebSocket API whose three routes proxy to their own function", async (t) => {
  const report = await defaults();
  const api = one(report, "aws:apigatewayv2/api:Api", "message-broadcast-dev-api");
  t.like(api.inputs, { protocolType: "WEBSOCKET", routeSelectionExpression: "$request.body.action" });
  for (const [route, routeKey] of ROUTES) {
    const fn = one(report, "aws:lambda/function:Function", `message-broadcast-dev-${route}`);
    const integration = one(report, "aws:apigatewayv2/integration:Integration", `message-broadcast-dev-${route}-integration`);
    t.deepEqual(integration.inputs, { apiId: api.id, integrationType: "AWS_PROXY", integrationMethod: "POST", integrationUri: fn.state.invokeArn });
    t.deepEqual(one(report, "aws:apigatewayv2/route:Route", `message-broadcast-dev-${route}-route`).inputs, {
      apiId: api.id,
      routeKey,
      target: `integrations/${integration.id}`,
    });
  }
});

test("stage: named after the stack, auto-deployed after every route, throttled at 100/s burst 200", async (t) => {
  const report = await defaults();
  const stage = one(report, "aws:apigatewayv2/stage:Stage", "message-broadcast-dev-stage");
  t.deepEqual(stage.inputs, {
    apiId: one(report, "aws:apigatewayv2/api:Api", "message-broadcast-dev-api").id,
    name: "dev",
    autoDeploy: true,
    defaultRouteSettings: { throttlingRateLimit: 100, throttlingBurstLimit: 200 },
  });
  for (const [route] of ROUTES) t.true(stage.dependsOn.includes(`message-broadcast-dev-${route}-route`), route);
});

test("functions: nodejs22.x on arm64, 512 MB, 29 s (the integration's limit), JSON logs to their own group, settings in the environment", async (t) => {
  const report = await defaults();
  const tableName = one(report, "aws:dynamodb/table:Table", "message-broadcast-dev-connections").state.name;
  for (const [route] of ROUTES) {
    const name = `message-broadcast-dev-${route}`;
    const fn = one(report, "aws:lambda/function:Function", name);
    const role = one(report, "aws:iam/role:Role", `${name}-role`);
    const logGroup = one(report, "aws:cloudwatch/logGroup:LogGroup", `${name}-logs`);
    t.deepEqual(logGroup.inputs, { name: `/aws/lambda/${name}`, retentionInDays: 14 });
    t.deepEqual(fn.inputs, {
      name,
      handler: "__index.handler",
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      memorySize: 512,
      timeout: 29,
      role: role.state.arn,
      loggingConfig: { logFormat: "JSON", logGroup: `/aws/lambda/${name}` },
      environment: {
        variables: { TABLE_NAME: tableName, MAX_MESSAGE_BYTES: "131072", FANOUT_CONCURRENCY: "64", CONNECTION_TTL_SECONDS: "7500" },
      },
    });
    // Explicit: the function is not created before its log group and policy exist.
    t.true(fn.dependsOn.includes(`${name}-logs`) && fn.dependsOn.includes(`${name}-policy`), route);
  }
});

test("iam: one role per function, assumable by Lambda only, allowing exactly its handler's calls", async (t) => {
  const report = await defaults();
  const tableArn = one(report, "aws:dynamodb/table:Table", "message-broadcast-dev-connections").state.arn;
  const apiId = one(report, "aws:apigatewayv2/api:Api", "message-broadcast-dev-api").id;
  const logs = (route: string) => ({
    Effect: "Allow",
    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
    Resource: [`arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:/aws/lambda/message-broadcast-dev-${route}:*`],
  });
  const expected: Record<string, PolicyStatement[]> = {
    connect: [{ Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [String(tableArn)] }, logs("connect")],
    disconnect: [{ Effect: "Allow", Action: ["dynamodb:DeleteItem"], Resource: [String(tableArn)] }, logs("disconnect")],
    default: [
      { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:DeleteItem"], Resource: [String(tableArn)] },
      { Effect: "Allow", Action: ["dynamodb:Query"], Resource: [`${String(tableArn)}/index/room-index`] },
      {
        Effect: "Allow",
        Action: ["execute-api:ManageConnections"],
        Resource: [`arn:aws:execute-api:${MOCK_REGION}:${MOCK_ACCOUNT}:${apiId}/dev/POST/@connections/*`],
      },
      logs("default"),
    ],
    // Query the room on the index (no sender row to read), delete gone rows, post to this stage only.
    publish: [
      { Effect: "Allow", Action: ["dynamodb:Query"], Resource: [`${String(tableArn)}/index/room-index`] },
      { Effect: "Allow", Action: ["dynamodb:DeleteItem"], Resource: [String(tableArn)] },
      {
        Effect: "Allow",
        Action: ["execute-api:ManageConnections"],
        Resource: [`arn:aws:execute-api:${MOCK_REGION}:${MOCK_ACCOUNT}:${apiId}/dev/POST/@connections/*`],
      },
      logs("publish"),
    ],
  };
  for (const route of Object.keys(expected)) {
    const role = one(report, "aws:iam/role:Role", `message-broadcast-dev-${route}-role`);
    t.deepEqual(Object.keys(role.inputs), ["assumeRolePolicy"], "no managed policies, no other inline policies");
    t.deepEqual(parsePolicy(role.inputs.assumeRolePolicy).Statement, [
      { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
    const policy = one(report, "aws:iam/rolePolicy:RolePolicy", `message-broadcast-dev-${route}-policy`);
    t.is(policy.inputs.role, role.id);
    const document = parsePolicy(policy.inputs.policy);
    t.is(document.Version, "2012-10-17");
    t.deepEqual(document.Statement, expected[route], route);
    for (const statement of document.Statement) {
      t.false(asList(statement.Action).some((action) => action.includes("*")), `${route}: wildcard action`);
      t.false(asList(statement.Resource).some((resource) => resource === "*"), `${route}: unscoped resource`);
    }
  }
  t.is(all(report, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").length, 0);
});

test("permissions: API Gateway may invoke each function only for its own route on this API's stage", async (t) => {
  const report = await defaults();
  const apiId = one(report, "aws:apigatewayv2/api:Api", "message-broadcast-dev-api").id;
  for (const [route, routeKey] of ROUTES) {
    t.deepEqual(one(report, "aws:lambda/permission:Permission", `message-broadcast-dev-${route}-invoke`).inputs, {
      action: "lambda:InvokeFunction",
      function: `message-broadcast-dev-${route}`,
      principal: "apigateway.amazonaws.com",
      sourceArn: `arn:aws:execute-api:${MOCK_REGION}:${MOCK_ACCOUNT}:${apiId}/dev/${routeKey}`,
    });
  }
});
