/**
 * Builds the handlers from environment variables, once per Lambda container (each function's
 * Pulumi `callbackFactory` calls its own `…FromEnvironment` at cold start, which builds only what
 * that route uses). The emulator builds the same handlers with its own environment, so both hosts
 * construct dependencies identically.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createDynamoConnectionStore, type ConnectionStore } from "../store/connection-store";
import { createDynamoHistoryStore } from "../store/history-store";
import type { HandlerDeps, InvocationLog } from "../routes/deps";
import { makeConnectHandler, makeDisconnectHandler, makeMessageHandler, type Handlers } from "../routes/handlers";
import type { RouteHandler } from "../contract/websocket-event";
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
  /** Items per room Query page: tests and benches force paging; unset, DynamoDB fills 1 MB pages. */
  pageLimit?: number;
}

/**
 * What the handlers are built from. Each part is made when a handler's builder first asks for it
 * and then shared by every handler built from the same parts: a Lambda builds one function's
 * handler, so it makes (and loads the SDK client of) only what that route uses, while the
 * emulator builds all three route handlers from one set, as before.
 */
interface HostParts {
  config: RuntimeConfig;
  common: Omit<HandlerDeps, "store" | "posterFor" | "sharded" | "history">;
  store(): ConnectionStore;
  /** History on: the room's numbered messages (the functions that send and read them). */
  history(): HandlerDeps["history"];
  posterFor(): (endpoint: string) => Poster;
  sharded(): HandlerDeps["sharded"];
}

// Each message reads its sender's room at most once a minute per container: a chatty connection
// skips the read, and a row deleted behind a live connection still gets NotConnected within a
// minute. 10,000 remembered rooms take about 2 MB (up to 7 MB with identities and their 512-byte meta).
const ROOM_MEMORY = { maxEntries: 10_000, maxAgeMs: 60_000 };

function hostParts(config: RuntimeConfig, overrides: HostOverrides): HostParts {
  const now = overrides.now ?? Date.now;
  const { credentials } = overrides;
  let store: ConnectionStore | undefined;
  let posterFor: ((endpoint: string) => Poster) | undefined;
  let doc: DynamoDBDocumentClient | undefined;
  const documents = () => (doc ??= DynamoDBDocumentClient.from(new DynamoDBClient({ region: config.region, endpoint: config.dynamoEndpoint, credentials })));
  return {
    config,
    common: {
      managementEndpoint: config.managementEndpoint,
      limits: { maxMessageBytes: config.maxMessageBytes, fanOutConcurrency: config.fanOutConcurrency, connectionTtlSeconds: config.connectionTtlSeconds },
      access: { token: config.accessToken, verifyToken: overrides.verifyToken, allowedOrigins: config.allowedOrigins },
      now,
      log: overrides.log ?? invocationLogger(process.env),
      presence: config.presence,
    },
    store: () => (store ??= overrides.store ?? dynamoStore(config, documents(), { now, pageLimit: overrides.pageLimit })),
    history() {
      if (!config.history || config.historyTableName === undefined) return undefined;
      return createDynamoHistoryStore(documents(), { tableName: config.historyTableName, ttlSeconds: config.historyTtlSeconds });
    },
    posterFor() {
      const options = { region: config.region, maxSockets: config.fanOutConcurrency, credentials };
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

function dynamoStore(config: RuntimeConfig, documents: DynamoDBDocumentClient, { now, pageLimit }: { now: () => number; pageLimit?: number }): ConnectionStore {
  const connections = createDynamoConnectionStore(documents, { tableName: config.tableName, pageLimit });
  return rememberRooms(connections, { ...ROOM_MEMORY, now });
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
  // Fail closed: a `$connect` whose host forgot the verifier must not admit everyone.
  const { config } = parts;
  if ((config.jwtSecret !== undefined || config.jwksUrl !== undefined) && parts.common.access.verifyToken === undefined) {
    throw new ConfigError(config.jwtSecret !== undefined ? ENV.jwtSecret : ENV.jwksUrl, "is set but this host built no token verifier (runtime/host/connect.ts)");
  }
  return makeConnectHandler({ ...parts.common, store: parts.store(), posterFor: presencePoster(parts) });
}

/** `$disconnect`: the store; the poster only with presence on (leave events). */
function buildDisconnect(parts: HostParts): RouteHandler {
  return makeDisconnectHandler({ ...parts.common, store: parts.store(), posterFor: presencePoster(parts) });
}

/** `$default`: the store, the poster (direct posts, answers and errors to the sender), sharded the queue, history on its store. */
function buildMessage(parts: HostParts): RouteHandler {
  return makeMessageHandler({ ...parts.common, store: parts.store(), posterFor: parts.posterFor(), sharded: parts.sharded(), history: parts.history() });
}

/** The publish function (function URL): as `$default`, and it needs MANAGEMENT_ENDPOINT. */
function buildPublish(parts: HostParts): FunctionUrlHandler {
  const { managementEndpoint } = parts.config;
  if (managementEndpoint === undefined) throw new ConfigError(ENV.managementEndpoint, "is required by the publish function (the stage's https://…/{stage})");
  return makePublishHandler({ ...parts.common, store: parts.store(), posterFor: parts.posterFor(), sharded: parts.sharded(), history: parts.history(), managementEndpoint });
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

// What each Lambda's `callbackFactory` calls (infra/functions.ts; `$connect`'s is runtime/host/connect.ts),
// once per container: config from `process.env`, then that function's handler alone.
const fromEnvironment = () => hostParts(readRuntimeConfig(process.env), {});

/** `$connect`'s handler alone, for runtime/host/connect.ts (which adds the token verifier). */
export function createConnectHandler(config: RuntimeConfig, overrides: HostOverrides = {}): RouteHandler {
  return buildConnect(hostParts(config, overrides));
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
