/**
 * BroadcastApi: the whole backend as one component — the connections table, one Lambda per
 * route, the WebSocket API with its stage, and (optionally) the operations view.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CONNECTION_TABLE } from "../runtime/store/connection-store";
import { toEnvironment } from "../runtime/config/environment";
import { createApiGatewayCloudWatchRole } from "./access-logs";
import type { StackConfig } from "./config";
import { createRouteFunction, type Route, type RouteFunction } from "./functions";
import { functionNames, stackNames, type FunctionNames } from "./names";
import { createOperations } from "./operations";
import { connectPolicy, defaultRoutePolicy, disconnectPolicy } from "./policies";
import { createHistoryTable } from "./history";
import { createPublisher, managementEndpointOf } from "./publish";
import { createShardQueues, createShardWorker, type ShardQueues } from "./shards";

/** The component takes the validated stack config as they are. */
export type BroadcastApiArgs = Omit<StackConfig, "namePrefix">;

/** API Gateway route keys and the function serving each. */
const ROUTE_KEYS: Record<Route, string> = { connect: "$connect", disconnect: "$disconnect", default: "$default" };
const ROUTES: readonly Route[] = ["connect", "disconnect", "default"];

// One JSON line per connection event; never message contents.
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  connectionId: "$context.connectionId",
  eventType: "$context.eventType",
  routeKey: "$context.routeKey",
  status: "$context.status",
  integrationStatus: "$context.integrationStatus",
  integrationLatency: "$context.integrationLatency",
  error: "$context.error.message",
  sourceIp: "$context.identity.sourceIp",
  requestTime: "$context.requestTimeEpoch",
});

export class BroadcastApi extends pulumi.ComponentResource {
  /** `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: what clients connect to. */
  readonly endpoint: pulumi.Output<string>;
  /** `https://…/{stage}`: the management API the `$default` function posts to. */
  readonly managementEndpoint: pulumi.Output<string>;
  readonly tableName: pulumi.Output<string>;
  readonly apiId: pulumi.Output<string>;
  readonly stage: pulumi.Output<string>;
  /** The publish function's URL (`AWS_IAM` auth): POST a message, `?room=NAME`. */
  readonly publishUrl: pulumi.Output<string>;

  constructor(name: string, args: BroadcastApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("message-broadcast:index:BroadcastApi", name, {}, opts);
    const parent = { parent: this };

    const table = createConnectionTable(name, args, this);
    const history = args.history ? createHistoryTable(name, args, this) : undefined;
    const api = new aws.apigatewayv2.Api(stackNames(name).api, { protocolType: "WEBSOCKET", routeSelectionExpression: "$request.body.action" }, parent);

    // Sharded fan-out only; `$default` needs the queue's URL and ARN.
    const shardQueues = args.fanout === "sharded" ? createShardQueues(name, args, this) : undefined;
    const functions = this.createFunctions(name, args, table, api, shardQueues, history);
    const worker = shardQueues
      ? createShardWorker(name, { queues: shardQueues, table, api, environment: this.commonEnvironment(args, table), stack: args }, this)
      : undefined;
    const publisher = createPublisher(
      name,
      {
        table,
        api,
        environment: { ...this.commonEnvironment(args, table), ...this.shardedEnvironment(args, shardQueues), ...historyEnvironment(args, history) },
        shardQueues,
        historyTable: history,
        stack: args,
      },
      this,
    );
    const routes = ROUTES.map((route) => this.route(functionNames(name, route), ROUTE_KEYS[route], functions[route], api, args.stageName));

    const stage = this.createStage(name, args, api, routes);

    if (args.monitoring) {
      const monitored = { ...functions, ...(worker ? { shards: worker.fn } : {}), publish: publisher.fn };
      createOperations(name, { apiId: api.id, stageName: stage.name, functions: monitored, deadLetterQueue: shardQueues?.deadLetterQueue, alarmEmail: args.alarmEmail }, this);
    }

    this.endpoint = pulumi.interpolate`${api.apiEndpoint}/${stage.name}`;
    this.managementEndpoint = managementEndpointOf(api, stage.name);
    this.tableName = table.name;
    this.apiId = api.id;
    this.stage = stage.name;
    this.publishUrl = publisher.url.functionUrl;
    this.registerOutputs({
      endpoint: this.endpoint,
      managementEndpoint: this.managementEndpoint,
      tableName: this.tableName,
      apiId: this.apiId,
      stage: this.stage,
      publishUrl: this.publishUrl,
    });
  }

  /** The stage: throttled, auto-deployed once every route exists, access-logged when asked. */
  private createStage(name: string, args: BroadcastApiArgs, api: aws.apigatewayv2.Api, routes: pulumi.Resource[]): aws.apigatewayv2.Stage {
    const accessLogs = args.accessLogging
      ? new aws.cloudwatch.LogGroup(`${name}-access-logs`, { name: stackNames(name).accessLogGroup, retentionInDays: args.logRetentionDays }, { parent: this })
      : undefined;
    const cloudWatchRole = args.apiGatewayCloudWatchRole === "create" ? [createApiGatewayCloudWatchRole(name, this)] : [];
    return new aws.apigatewayv2.Stage(
      `${name}-stage`,
      {
        apiId: api.id,
        name: args.stageName,
        autoDeploy: true,
        defaultRouteSettings: { throttlingRateLimit: args.throttleRateLimit, throttlingBurstLimit: args.throttleBurstLimit },
        accessLogSettings: accessLogs ? { destinationArn: accessLogs.arn, format: ACCESS_LOG_FORMAT } : undefined,
      },
      // The first automatic deployment must already include every route.
      { parent: this, dependsOn: [...routes, ...cloudWatchRole] },
    );
  }

  private commonEnvironment(args: BroadcastApiArgs, table: aws.dynamodb.Table): Record<string, pulumi.Input<string>> {
    const { maxMessageBytes, fanOutConcurrency, connectionTtlSeconds } = args;
    return toEnvironment<pulumi.Input<string>>({ tableName: table.name, maxMessageBytes, fanOutConcurrency, connectionTtlSeconds });
  }

  // Sharded mode: what makes a function enqueue shard jobs instead of posting.
  private shardedEnvironment(args: BroadcastApiArgs, shardQueue: ShardQueues | undefined): Record<string, pulumi.Input<string>> {
    return shardQueue ? toEnvironment<pulumi.Input<string>>({ fanout: "sharded", shardQueueUrl: shardQueue.queue.url, shardSize: args.shardSize }) : {};
  }

  private createFunctions(
    name: string,
    args: BroadcastApiArgs,
    table: aws.dynamodb.Table,
    api: aws.apigatewayv2.Api,
    shardQueue: ShardQueues | undefined,
    history: aws.dynamodb.Table | undefined,
  ): Record<Route, RouteFunction> {
    const common = this.commonEnvironment(args, table);
    const sharded = this.shardedEnvironment(args, shardQueue);
    // Only `$connect` and `$disconnect` announce presence.
    const presence = args.presence ? { apiExecutionArn: api.executionArn, stageName: args.stageName } : undefined;
    const presenceEnvironment = toEnvironment<pulumi.Input<string>>({ presence: args.presence || undefined });
    // Only `$connect` checks access, so only it holds the token or the JWT secret.
    const access = toEnvironment<pulumi.Input<string>>({
      accessToken: args.accessToken || undefined,
      jwtSecret: args.jwtSecret,
      jwksUrl: args.jwksUrl,
      jwtIssuer: args.jwtIssuer,
      jwtAudience: args.jwtAudience,
      allowedOrigins: args.allowedOrigins.length > 0 ? args.allowedOrigins : undefined,
    });
    const tokenCheck = args.jwksUrl !== undefined ? "keySet" : args.jwtSecret !== undefined ? "secret" : undefined;
    const make = (route: Route, environment: Record<string, pulumi.Input<string>>, policy: (logGroupArn: pulumi.Output<string>) => pulumi.Output<string>) =>
      createRouteFunction(functionNames(name, route), { route, environment, policy, stack: args, tokenCheck: route === "connect" ? tokenCheck : undefined }, this);
    return {
      connect: make("connect", { ...common, ...access, ...presenceEnvironment }, (logGroupArn) => connectPolicy(table.arn, logGroupArn, presence)),
      disconnect: make("disconnect", { ...common, ...presenceEnvironment }, (logGroupArn) => disconnectPolicy(table.arn, logGroupArn, presence)),
      default: make("default", { ...common, ...sharded, ...historyEnvironment(args, history) }, (logGroupArn) =>
        defaultRoutePolicy({
          tableArn: table.arn,
          logGroupArn,
          apiExecutionArn: api.executionArn,
          stageName: args.stageName,
          shardQueueArn: shardQueue?.queue.arn,
          historyTableArn: history?.arn,
        }),
      ),
    };
  }

  // An AWS_PROXY integration, its route, and the permission for this API's stage to invoke it.
  private route(names: FunctionNames, routeKey: string, fn: RouteFunction, api: aws.apigatewayv2.Api, stageName: string): aws.apigatewayv2.Route {
    const parent = { parent: this };
    const integration = new aws.apigatewayv2.Integration(
      `${names.function}-integration`,
      { apiId: api.id, integrationType: "AWS_PROXY", integrationMethod: "POST", integrationUri: fn.invokeArn },
      parent,
    );
    new aws.lambda.Permission(
      names.invoke,
      { action: "lambda:InvokeFunction", function: fn.name, principal: "apigateway.amazonaws.com", sourceArn: pulumi.interpolate`${api.executionArn}/${stageName}/${routeKey}` },
      parent,
    );
    return new aws.apigatewayv2.Route(`${names.function}-route`, { apiId: api.id, routeKey, target: pulumi.interpolate`integrations/${integration.id}` }, parent);
  }
}

// History on: what makes `$default` and publish number and store messages; nothing else sends them.
function historyEnvironment(args: BroadcastApiArgs, history: aws.dynamodb.Table | undefined): Record<string, pulumi.Input<string>> {
  if (history === undefined) return {};
  return toEnvironment<pulumi.Input<string>>({ history: true, historyTableName: history.name, historyTtlSeconds: args.historyTtlSeconds });
}

// The one schema of runtime/store/connection-store.ts, with TTL, and the stack's key and protection.
function createConnectionTable(name: string, args: BroadcastApiArgs, parent: pulumi.Resource): aws.dynamodb.Table {
  return new aws.dynamodb.Table(
    stackNames(name).table,
    {
      attributes: [
        { name: CONNECTION_TABLE.hashKey, type: CONNECTION_TABLE.hashKeyType },
        { name: CONNECTION_TABLE.roomAttribute, type: "S" },
      ],
      hashKey: CONNECTION_TABLE.hashKey,
      globalSecondaryIndexes: [roomIndex()],
      billingMode: "PAY_PER_REQUEST",
      ttl: { attributeName: CONNECTION_TABLE.ttlAttribute, enabled: true },
      // Unset, DynamoDB encrypts with its AWS-owned key at no charge; a KMS key only when asked.
      ...(args.tableKmsKeyArn ? { serverSideEncryption: { enabled: true, kmsKeyArn: args.tableKmsKeyArn } } : {}),
      deletionProtectionEnabled: args.tableDeletionProtection,
    },
    { parent, retainOnDelete: args.retainTable },
  );
}

// The room index of runtime/store/connection-store.ts's schema, as the provider spells it.
function roomIndex(): aws.types.input.dynamodb.TableGlobalSecondaryIndex {
  const { name, keySchema, projectionType, nonKeyAttributes } = CONNECTION_TABLE.roomIndex;
  return { name, keySchemas: keySchema.map((key) => ({ ...key })), projectionType, nonKeyAttributes: [...nonKeyAttributes] };
}
