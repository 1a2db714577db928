/**
 * Builds the handlers from environment variables, once per Lambda container (the Pulumi
 * `callbackFactory` calls this at cold start). The emulator calls the same function with its
 * own environment, so both hosts construct dependencies identically.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createDynamoConnectionStore, type ConnectionStore } from "../store/connection-store";
import type { HandlerDeps, InvocationLog } from "../routes/deps";
import { makeHandlers, type Handlers } from "../routes/handlers";
import type { FunctionUrlHandler } from "../contract/function-url-event";
import { createPosterFactory } from "../delivery/poster-factory";
import type { Poster } from "../delivery/poster";
import { makePublishHandler } from "../routes/publish";
import { rememberRooms } from "../store/room-memory";
import { ConfigError } from "../config/checks";
import { ENV, readRuntimeConfig, type RuntimeConfig } from "../config/environment";
import { createSqsShardQueue } from "../delivery/sqs-shard-queue";
import { makeShardWorkerHandler, type ShardWorkerHandler } from "../routes/shard-worker";
import type { TokenVerifier } from "../access/token-verifier";

export interface HostOverrides {
  /** Replaces the JSON-line logger (tests capture log lines through it). */
  log?: (entry: InvocationLog) => void;
  now?: () => number;
  /** For hosts without AWS credentials in the environment (the emulator, tests). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Replaces the SDK poster: the bench measures the same handler posting over bare HTTP. */
  posterFor?: (endpoint: string) => Poster;
  /** Replaces the DynamoDB connection list: the sharded benchmark's 100,000 receivers have no rows. */
  store?: ConnectionStore;
  /** `$connect`'s token check (runtime/host/connect.ts builds it); required when a JWT setting is on. */
  verifyToken?: TokenVerifier;
}

/** The handlers with real SDK clients, built once per container from `config`. */
export function createHandlers(config: RuntimeConfig, overrides: HostOverrides = {}): Handlers {
  // Fail closed: a `$connect` whose host forgot the verifier must not admit everyone.
  if ((config.jwtSecret !== undefined || config.jwksUrl !== undefined) && overrides.verifyToken === undefined) {
    throw new ConfigError(config.jwtSecret !== undefined ? ENV.jwtSecret : ENV.jwksUrl, "is set but this host built no token verifier (runtime/host/connect.ts)");
  }
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
// minute. 10,000 remembered rooms take about 2 MB (up to 7 MB with identities and their 512-byte meta).
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
    store: overrides.store ?? rememberRooms(createDynamoConnectionStore(doc, { tableName: config.tableName, pageLimit: config.scanPageLimit }), { ...ROOM_MEMORY, now }),
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
    access: { token: config.accessToken, verifyToken: overrides.verifyToken, allowedOrigins: config.allowedOrigins },
    now,
    log: overrides.log ?? invocationLogger(process.env),
    presence: config.presence,
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

/** What the `$disconnect` and `$default` Lambdas' `callbackFactory` calls: config from `process.env`, then the handlers. */
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
