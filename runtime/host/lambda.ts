/**
 * Builds the handlers from environment variables, once per Lambda container (the Pulumi
 * `callbackFactory` calls this at cold start). The emulator calls the same function with its
 * own environment, so both hosts construct dependencies identically.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createDynamoConnectionStore } from "../store/connection-store";
import type { HandlerDeps, InvocationLog } from "../routes/deps";
import { makeHandlers, type Handlers } from "../routes/handlers";
import type { FunctionUrlHandler } from "../contract/function-url-event";
import { createPosterFactory } from "../delivery/poster-factory";
import type { Poster } from "../delivery/poster";
import { makePublishHandler } from "../routes/publish";
import { rememberRooms } from "../store/room-memory";
import { ConfigError, LOCAL_HISTORY_TTL, checkFanOutMode, checkInteger, checkRange, checkSwitch, integerRange, splitList, type FanOutMode } from "../config/checks";
import { createDynamoHistoryStore } from "../store/history-store";
import { createSqsShardQueue } from "../delivery/sqs-shard-queue";
import { makeShardWorkerHandler, type ShardWorkerHandler } from "../routes/shard-worker";

// Items per page of a room Query. Only tests and benchmarks set it (to force paging); production lets DynamoDB fill 1 MB pages.
const SCAN_PAGE_LIMIT = integerRange(1, 100000, 100000, "items");

/** Environment variables read by the handlers; README "Lambda environment" documents each. */
const ENV = {
  tableName: "TABLE_NAME",
  maxMessageBytes: "MAX_MESSAGE_BYTES",
  fanOutConcurrency: "FANOUT_CONCURRENCY",
  connectionTtlSeconds: "CONNECTION_TTL_SECONDS",
  managementEndpoint: "MANAGEMENT_ENDPOINT",
  accessToken: "ACCESS_TOKEN",
  allowedOrigins: "ALLOWED_ORIGINS",
  dynamoEndpoint: "DYNAMODB_ENDPOINT",
  scanPageLimit: "SCAN_PAGE_LIMIT",
  fanout: "FANOUT_MODE",
  shardQueueUrl: "SHARD_QUEUE_URL",
  shardSize: "SHARD_SIZE",
  sqsEndpoint: "SQS_ENDPOINT",
  presence: "PRESENCE",
  managementCaFile: "MANAGEMENT_CA_FILE",
  history: "HISTORY",
  historyTableName: "HISTORY_TABLE_NAME",
  historyTtlSeconds: "HISTORY_TTL_SECONDS",
} as const;
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { ENV, SCAN_PAGE_LIMIT };

export interface RuntimeConfig {
  tableName: string;
  maxMessageBytes: number;
  fanOutConcurrency: number;
  connectionTtlSeconds: number;
  managementEndpoint?: string;
  accessToken?: string;
  allowedOrigins: string[];
  dynamoEndpoint?: string;
  scanPageLimit?: number;
  region?: string;
  fanout: FanOutMode;
  /** Required in sharded mode: the queue `$default` enqueues shard jobs on. */
  shardQueueUrl?: string;
  shardSize: number;
  /** Local hosts only: the SQS endpoint (the deployed functions use the region's). */
  sqsEndpoint?: string;
  /** `$connect` and `$disconnect` post join and leave events to the room (runtime/routes/presence.ts). */
  presence: boolean;
  /** Local hosts only: a PEM file of certificate authorities trusted for the management endpoint. */
  managementCaFile?: string;
  /** Data messages are numbered and stored for catch-up (runtime/store/history-store.ts). */
  history: boolean;
  /** Required with history: the history table. */
  historyTableName?: string;
  historyTtlSeconds: number;
}

/** Reads and validates the handler configuration; a bad value throws ConfigError naming the variable. */
export function readRuntimeConfig(env: Record<string, string | undefined>): RuntimeConfig {
  const tableName = env[ENV.tableName];
  if (!tableName) throw new ConfigError(ENV.tableName, "is required (the connections table name)");
  const optional = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  const pageLimit = optional(ENV.scanPageLimit);
  const fanout = checkFanOutMode(ENV.fanout, env[ENV.fanout]);
  const shardQueueUrl = optional(ENV.shardQueueUrl);
  if (fanout === "sharded" && shardQueueUrl === undefined) throw new ConfigError(ENV.shardQueueUrl, "is required when FANOUT_MODE is sharded");
  const history = checkSwitch(ENV.history, env[ENV.history]);
  const historyTableName = optional(ENV.historyTableName);
  if (history && historyTableName === undefined) throw new ConfigError(ENV.historyTableName, "is required when HISTORY is true");
  return {
    tableName,
    maxMessageBytes: checkRange("maxMessageBytes", ENV.maxMessageBytes, env[ENV.maxMessageBytes]),
    fanOutConcurrency: checkRange("fanOutConcurrency", ENV.fanOutConcurrency, env[ENV.fanOutConcurrency]),
    connectionTtlSeconds: checkRange("connectionTtlSeconds", ENV.connectionTtlSeconds, env[ENV.connectionTtlSeconds]),
    managementEndpoint: optional(ENV.managementEndpoint),
    accessToken: optional(ENV.accessToken),
    allowedOrigins: splitList(env[ENV.allowedOrigins]),
    dynamoEndpoint: optional(ENV.dynamoEndpoint),
    scanPageLimit: pageLimit === undefined ? undefined : checkInteger(ENV.scanPageLimit, pageLimit, SCAN_PAGE_LIMIT),
    region: optional("AWS_REGION"),
    fanout,
    shardQueueUrl,
    shardSize: checkRange("shardSize", ENV.shardSize, env[ENV.shardSize]),
    sqsEndpoint: optional(ENV.sqsEndpoint),
    presence: checkSwitch(ENV.presence, env[ENV.presence]),
    managementCaFile: optional(ENV.managementCaFile),
    history,
    historyTableName,
    historyTtlSeconds: checkInteger(ENV.historyTtlSeconds, env[ENV.historyTtlSeconds], LOCAL_HISTORY_TTL),
  };
}

/** RuntimeConfig as an environment's source: each field may also be `S`, e.g. a Pulumi `Input<string>`. */
export type EnvironmentSource<S> = { [K in keyof typeof ENV]?: RuntimeConfig[K] | S };

/**
 * The inverse of readRuntimeConfig: the Lambda environment map that reads back as `config`.
 * Numbers and switches become decimal text, lists comma-separated text; any other value (a
 * string, or infra's Pulumi Input) goes in as it is. Unset fields are left out.
 */
export function toEnvironment<S = never>(config: EnvironmentSource<S>): Record<string, string | S> {
  const environment: Record<string, string | S> = {};
  for (const field of Object.keys(ENV) as Array<keyof typeof ENV>) {
    const value: unknown = config[field];
    if (value === undefined) continue;
    if (typeof value === "number" || typeof value === "boolean") environment[ENV[field]] = String(value);
    else if (Array.isArray(value)) environment[ENV[field]] = value.join(",");
    else environment[ENV[field]] = value as string | S;
  }
  return environment;
}

export interface HostOverrides {
  /** Replaces the JSON-line logger (tests capture log lines through it). */
  log?: (entry: InvocationLog) => void;
  now?: () => number;
  /** For hosts without AWS credentials in the environment (the emulator, tests). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Replaces the SDK poster: the bench measures the same handler posting over bare HTTP. */
  posterFor?: (endpoint: string) => Poster;
}

/** The handlers with real SDK clients, built once per container from `config`. */
export function createHandlers(config: RuntimeConfig, overrides: HostOverrides = {}): Handlers {
  return makeHandlers(withSharding(createDeps(config, overrides), config, overrides));
}

/** The publish handler (function URL) with real SDK clients; it needs MANAGEMENT_ENDPOINT. */
export function createPublisher(config: RuntimeConfig, overrides: HostOverrides = {}): FunctionUrlHandler {
  const managementEndpoint = config.managementEndpoint;
  if (managementEndpoint === undefined) throw new ConfigError(ENV.managementEndpoint, "is required by the publish function (the stage's https://…/{stage})");
  return makePublishHandler({ ...withSharding(createDeps(config, overrides), config, overrides), managementEndpoint });
}

// Sharded mode: messages become shard jobs on the queue instead of posts.
function withSharding(deps: HandlerDeps, config: RuntimeConfig, overrides: HostOverrides): HandlerDeps {
  if (config.fanout !== "sharded" || config.shardQueueUrl === undefined) return deps;
  const sqs = new SQSClient({ region: config.region, endpoint: config.sqsEndpoint, credentials: overrides.credentials });
  return { ...deps, sharded: { queue: createSqsShardQueue(sqs, config.shardQueueUrl, config.fanOutConcurrency), shardSize: config.shardSize } };
}

/** The shard worker (SQS event source) with real SDK clients, built once per container. */
export function createShardWorkerHandler(config: RuntimeConfig, overrides: HostOverrides = {}): ShardWorkerHandler {
  return makeShardWorkerHandler(createDeps(config, overrides));
}

// Each message reads its sender's room at most once a minute per container: a chatty connection
// skips the read, and a row deleted behind a live connection still gets NotConnected within a
// minute. 10,000 remembered rooms take about 2 MB.
const ROOM_MEMORY = { maxEntries: 10_000, maxAgeMs: 60_000 };

function createDeps(config: RuntimeConfig, overrides: HostOverrides): HandlerDeps {
  const dynamo = new DynamoDBClient({
    region: config.region,
    endpoint: config.dynamoEndpoint,
    credentials: overrides.credentials,
  });
  const doc = DynamoDBDocumentClient.from(dynamo);
  const now = overrides.now ?? Date.now;
  return {
    store: rememberRooms(createDynamoConnectionStore(doc, { tableName: config.tableName, pageLimit: config.scanPageLimit }), { ...ROOM_MEMORY, now }),
    posterFor:
      overrides.posterFor ??
      createPosterFactory({
        region: config.region,
        maxSockets: config.fanOutConcurrency,
        credentials: overrides.credentials,
        caFile: config.managementCaFile,
      }),
    managementEndpoint: config.managementEndpoint,
    limits: {
      maxMessageBytes: config.maxMessageBytes,
      fanOutConcurrency: config.fanOutConcurrency,
      connectionTtlSeconds: config.connectionTtlSeconds,
    },
    access: { token: config.accessToken, allowedOrigins: config.allowedOrigins },
    now,
    log: overrides.log ?? invocationLogger(process.env),
    presence: config.presence,
    history:
      config.history && config.historyTableName !== undefined
        ? createDynamoHistoryStore(doc, { tableName: config.historyTableName, ttlSeconds: config.historyTtlSeconds })
        : undefined,
  };
}

/**
 * The default log line. Under Lambda's JSON log format (the functions' `loggingConfig`, which sets
 * AWS_LAMBDA_LOG_FORMAT=JSON) the Node.js runtime puts a lone console.log argument into the
 * record's `message` as it is: an object stays an object whose fields Logs Insights discovers
 * (`message.delivered`), while a JSON string would stay one opaque string. Elsewhere: a JSON line.
 */
export function invocationLogger(env: Record<string, string | undefined>): (entry: InvocationLog) => void {
  if (env.AWS_LAMBDA_LOG_FORMAT === "JSON") return (entry) => console.log(entry);
  return (entry) => console.log(JSON.stringify(entry));
}

/** What each Lambda's `callbackFactory` calls: config from `process.env`, then the handlers. */
export function handlersFromEnvironment(): Handlers {
  return createHandlers(readRuntimeConfig(process.env));
}

/** What the publish function's `callbackFactory` calls. */
export function publishFromEnvironment(): FunctionUrlHandler {
  return createPublisher(readRuntimeConfig(process.env));
}

/** What the shard worker's `callbackFactory` calls. */
export function shardWorkerFromEnvironment(): ShardWorkerHandler {
  return createShardWorkerHandler(readRuntimeConfig(process.env));
}
