/**
 * Builds the handlers from environment variables, once per Lambda container (each function's
 * Pulumi `callbackFactory` calls its own `…FromEnvironment` at cold start, which builds only what
 * that route uses). The emulator builds the same handlers with its own environment, so both hosts
 * construct dependencies identically.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createDynamoConnectionStore, type ConnectionStore } from "../store/connection-store";
import type { HandlerDeps, InvocationLog } from "../routes/deps";
import { makeConnectHandler, makeDisconnectHandler, makeMessageHandler, type Handlers } from "../routes/handlers";
import type { RouteHandler } from "../contract/websocket-event";
import type { FunctionUrlHandler } from "../contract/function-url-event";
import { createPosterFactory } from "../delivery/poster-factory";
import type { Poster } from "../delivery/poster";
import { makePublishHandler } from "../routes/publish";
import { rememberRooms } from "../store/room-memory";
import { ConfigError, checkFanOutMode, checkInteger, checkRange, checkSwitch, integerRange, splitList, type FanOutMode } from "../config/checks";
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

/**
 * What the handlers are built from. Each part is made when a handler's builder first asks for it
 * and then shared by every handler built from the same parts: a Lambda builds one function's
 * handler, so it makes (and loads the SDK client of) only what that route uses, while the
 * emulator builds all three route handlers from one set, as before.
 */
interface HostParts {
  config: RuntimeConfig;
  common: Omit<HandlerDeps, "store" | "posterFor" | "sharded">;
  store(): ConnectionStore;
  posterFor(): (endpoint: string) => Poster;
  sharded(): HandlerDeps["sharded"];
}

// Each message reads its sender's room at most once a minute per container: a chatty connection
// skips the read, and a row deleted behind a live connection still gets NotConnected within a
// minute. 10,000 remembered rooms take about 2 MB.
const ROOM_MEMORY = { maxEntries: 10_000, maxAgeMs: 60_000 };

function hostParts(config: RuntimeConfig, overrides: HostOverrides): HostParts {
  const now = overrides.now ?? Date.now;
  const { credentials } = overrides;
  let store: ConnectionStore | undefined;
  let posterFor: ((endpoint: string) => Poster) | undefined;
  return {
    config,
    common: {
      managementEndpoint: config.managementEndpoint,
      limits: { maxMessageBytes: config.maxMessageBytes, fanOutConcurrency: config.fanOutConcurrency, connectionTtlSeconds: config.connectionTtlSeconds },
      access: { token: config.accessToken, allowedOrigins: config.allowedOrigins },
      now,
      log: overrides.log ?? invocationLogger(process.env),
      presence: config.presence,
    },
    store() {
      if (store) return store;
      const dynamo = new DynamoDBClient({ region: config.region, endpoint: config.dynamoEndpoint, credentials });
      const connections = createDynamoConnectionStore(DynamoDBDocumentClient.from(dynamo), { tableName: config.tableName, pageLimit: config.scanPageLimit });
      return (store = rememberRooms(connections, { ...ROOM_MEMORY, now }));
    },
    posterFor() {
      const options = { region: config.region, maxSockets: config.fanOutConcurrency, credentials, caFile: config.managementCaFile };
      return (posterFor ??= overrides.posterFor ?? createPosterFactory(options));
    },
    sharded() {
      // Sharded mode: messages become shard jobs on the queue instead of posts.
      if (config.fanout !== "sharded" || config.shardQueueUrl === undefined) return undefined;
      // Required here, not imported: only sharded mode loads the SQS client (runtime/SERIALIZER.md, rule 3).
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- that rule
      const { SQSClient } = require("@aws-sdk/client-sqs") as typeof import("@aws-sdk/client-sqs");
      const sqs = new SQSClient({ region: config.region, endpoint: config.sqsEndpoint, credentials });
      return { queue: createSqsShardQueue(sqs, config.shardQueueUrl, config.fanOutConcurrency), shardSize: config.shardSize };
    },
  };
}

// Without presence, `$connect` and `$disconnect` post nothing: they never make a poster.
function presencePoster(parts: HostParts): (endpoint: string) => Poster {
  if (parts.config.presence) return parts.posterFor();
  return () => {
    throw new Error("presence is off: this function posts nothing");
  };
}

// One builder per function, each naming the parts its route uses: a new dependency of one route
// is one line in its builder, and reaches no other function's code.

/** `$connect`: the store; the poster only with presence on (join events). */
function buildConnect(parts: HostParts): RouteHandler {
  return makeConnectHandler({ ...parts.common, store: parts.store(), posterFor: presencePoster(parts) });
}

/** `$disconnect`: the store; the poster only with presence on (leave events). */
function buildDisconnect(parts: HostParts): RouteHandler {
  return makeDisconnectHandler({ ...parts.common, store: parts.store(), posterFor: presencePoster(parts) });
}

/** `$default`: the store, the poster (direct posts, answers and errors to the sender) and, sharded, the queue. */
function buildMessage(parts: HostParts): RouteHandler {
  return makeMessageHandler({ ...parts.common, store: parts.store(), posterFor: parts.posterFor(), sharded: parts.sharded() });
}

/** The publish function (function URL): as `$default`, and it needs MANAGEMENT_ENDPOINT. */
function buildPublish(parts: HostParts): FunctionUrlHandler {
  const { managementEndpoint } = parts.config;
  if (managementEndpoint === undefined) throw new ConfigError(ENV.managementEndpoint, "is required by the publish function (the stage's https://…/{stage})");
  return makePublishHandler({ ...parts.common, store: parts.store(), posterFor: parts.posterFor(), sharded: parts.sharded(), managementEndpoint });
}

/** The shard worker (SQS event source): the poster, and the store for removing gone connections. */
function buildShardWorker(parts: HostParts): ShardWorkerHandler {
  return makeShardWorkerHandler({ ...parts.common, store: parts.store(), posterFor: parts.posterFor() });
}

/** The three route handlers with real SDK clients, sharing one set of parts (the emulator's Lambda threads, tests). */
export function createHandlers(config: RuntimeConfig, overrides: HostOverrides = {}): Handlers {
  const parts = hostParts(config, overrides);
  return { connect: buildConnect(parts), disconnect: buildDisconnect(parts), message: buildMessage(parts) };
}

/** The publish handler with real SDK clients. */
export function createPublisher(config: RuntimeConfig, overrides: HostOverrides = {}): FunctionUrlHandler {
  return buildPublish(hostParts(config, overrides));
}

/** The shard worker with real SDK clients. */
export function createShardWorkerHandler(config: RuntimeConfig, overrides: HostOverrides = {}): ShardWorkerHandler {
  return buildShardWorker(hostParts(config, overrides));
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

// What each Lambda's `callbackFactory` calls (infra/functions.ts), once per container: config
// from `process.env`, then that function's handler alone.
const fromEnvironment = () => hostParts(readRuntimeConfig(process.env), {});

export function connectFromEnvironment(): RouteHandler {
  return buildConnect(fromEnvironment());
}

export function disconnectFromEnvironment(): RouteHandler {
  return buildDisconnect(fromEnvironment());
}

export function messageFromEnvironment(): RouteHandler {
  return buildMessage(fromEnvironment());
}

export function publishFromEnvironment(): FunctionUrlHandler {
  return buildPublish(fromEnvironment());
}

export function shardWorkerFromEnvironment(): ShardWorkerHandler {
  return buildShardWorker(fromEnvironment());
}
