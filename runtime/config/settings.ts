/**
 * Every setting, declared once: its type, default, range or choices, unit, meaning, and where it
 * is read — the stack config key (`stack`: the key is the entry's name), the Lambda environment
 * variable (`env`) and the functions it is set on, the emulator's flag (`flag`). Derived from
 * this table: the stack-config checks (infra/config.ts), the Lambda environment codec
 * (runtime/config/environment.ts), the emulator's options and `npm start -- --help`
 * (local/options.ts, local/cli.ts). Checked against it by test/infra/settings.test.ts: Pulumi.yaml's
 * `config:` schema and the settings tables in README.md and docs/.
 *
 * Adding a setting is one entry here plus the code that uses it:
 *   historySize: integer({ default: 50, min: 0, max: 1000, unit: "messages", meaning: "…", stack: true, env: "HISTORY_SIZE", functions: ["default"], flag: "history-size" }),
 *   history: boolean({ default: false, meaning: "…", stack: true, env: "HISTORY", flag: "history" }),
 *   jwtIssuer: text({ meaning: "…", stack: true, env: "JWT_ISSUER", functions: ["connect"], flag: "jwt-issuer" }),
 *   jwtSecret: secret({ meaning: "…", stack: true, env: "JWT_SECRET", functions: ["connect"], flag: "jwt-secret" }),
 * then: a field in StackConfig (infra/config.ts) and RuntimeConfig (runtime/config/environment.ts)
 * if it is read there, the variable set on its functions (infra/broadcast-api.ts), a key under
 * Pulumi.yaml's `config:` (type, default and description = `meaning`), and a row in each doc
 * table test/infra/settings.test.ts names in its failure. The field name is the entry's name everywhere.
 *
 * Serialized into the Lambdas: runtime/SERIALIZER.md's rules apply (no `export const`).
 */
import { boolean, choice, integer, list, secret, text } from "./setting";

/** API Gateway's limit on one WebSocket message and one PostToConnection body (128 KiB). */
const API_GATEWAY_MESSAGE_BYTES = 131072;
/** API Gateway closes a connection idle for 10 minutes, and every connection after 2 hours. */
const API_GATEWAY_IDLE_MS = 10 * 60 * 1000;
const API_GATEWAY_LIFETIME_MS = 2 * 60 * 60 * 1000;

/** `direct`: `$default` posts to everyone itself; `sharded`: worker Lambdas post shards from SQS. */
const FANOUT_MODES = ["direct", "sharded"] as const;
export type FanOutMode = (typeof FANOUT_MODES)[number];

/** The only retention periods CloudWatch Logs accepts; 0 keeps events forever. */
const LOG_RETENTION_DAYS = [0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const SETTINGS = {
  // Deployed and emulated alike.
  maxMessageBytes: integer({ default: API_GATEWAY_MESSAGE_BYTES, min: 1, max: API_GATEWAY_MESSAGE_BYTES, unit: "bytes",
    meaning: "Largest outgoing payload in bytes (API Gateway's limit).", stack: true, env: "MAX_MESSAGE_BYTES", flag: "max-message-bytes" }),
  fanOutConcurrency: integer({ default: 64, min: 1, max: 1024, unit: "posts in flight",
    meaning: "Posts in flight per message.", stack: true, env: "FANOUT_CONCURRENCY", flag: "fanout-concurrency" }),
  /** A TTL under API Gateway's 2 h would hide live connections. */
  connectionTtlSeconds: integer({ default: 7500, min: 7200, max: 604800, unit: "seconds",
    meaning: "Seconds until a connection row expires (API Gateway closes connections after 2 h).", stack: true, env: "CONNECTION_TTL_SECONDS", flag: "connection-ttl" }),
  /** Every route invocation, deployed and emulated; capped at the default account-level limits, which apply on top. */
  throttleRateLimit: integer({ default: 100, min: 1, max: 10000, unit: "messages per second",
    meaning: "Stage-wide requests per second ($connect and messages); over it 429.", stack: true, flag: "throttle-rate" }),
  throttleBurstLimit: integer({ default: 200, min: 1, max: 5000, unit: "messages", meaning: "Stage-wide burst of requests.", stack: true, flag: "throttle-burst" }),
  accessToken: secret({ meaning: "Token $connect requires (?token= or Authorization: Bearer); unset = open.", stack: true, env: "ACCESS_TOKEN", functions: ["connect"], flag: "token" }),
  jwtSecret: secret({ meaning: "HMAC secret (at least 32 bytes) $connect verifies signed tokens (HS256/384/512) with; they name the user (docs/identity.md). At most one of accessToken, jwtSecret, jwksUrl.",
    stack: true, env: "JWT_SECRET", functions: ["connect"], flag: "jwt-secret" }),
  jwksUrl: text({ meaning: "JSON Web Key Set URL (https://; http:// only on loopback) $connect verifies signed tokens (RS256, PS256, ES256, EdDSA) with.",
    stack: true, env: "JWKS_URL", functions: ["connect"], flag: "jwks-url" }),
  jwtIssuer: text({ meaning: "With jwtSecret or jwksUrl: the iss every token must carry.", stack: true, env: "JWT_ISSUER", functions: ["connect"], flag: "jwt-issuer" }),
  jwtAudience: text({ meaning: "With jwtSecret or jwksUrl: the aud every token must carry.", stack: true, env: "JWT_AUDIENCE", functions: ["connect"], flag: "jwt-audience" }),
  allowedOrigins: list({ meaning: "Browser Origin values allowed to connect; empty = any.", stack: true, env: "ALLOWED_ORIGINS", functions: ["connect"], flag: "allowed-origins" }),
  fanout: choice({ choices: FANOUT_MODES, default: "direct",
    meaning: "direct: $default posts to everyone; sharded: shard jobs through SQS, posted by a worker function (docs/scaling.md).", stack: true, env: "FANOUT_MODE", functions: ["default", "publish"], flag: "fanout" }),
  /** A job's ids and message must fit one SQS message. */
  shardSize: integer({ default: 1000, min: 1, max: 10000, unit: "receivers per shard job",
    meaning: "Receivers per shard job (sharded only).", stack: true, env: "SHARD_SIZE", functions: ["default", "publish"], flag: "shard-size" }),
  presence: boolean({ default: false, meaning: "$connect and $disconnect post join/leave events with the room's count to the rest of the room (docs/rooms.md).",
    stack: true, env: "PRESENCE", functions: ["connect", "disconnect"], flag: "presence" }),
  history: boolean({ default: false, meaning: "Number every data message (_seq) and keep it for {\"_op\":\"history\"} catch-up; adds the history table (docs/history.md).",
    stack: true, env: "HISTORY", functions: ["default", "publish"], flag: "history" }),
  /** The stack takes 60 s and up (infra/config.ts); the emulator and the environment take 1 s, so tests can see retention pass. */
  historyTtlSeconds: integer({ default: 86400, min: 1, max: 31536000, unit: "seconds",
    meaning: "Seconds history keeps a message (history only; the stack takes 60 and up).", stack: true, env: "HISTORY_TTL_SECONDS", functions: ["default", "publish"], flag: "history-ttl" }),

  // The stack only.
  lambdaMemoryMb: integer({ default: 512, min: 128, max: 10240, unit: "MB", meaning: "Memory of every function in MB.", stack: true }),
  /** A WebSocket integration gives up at 29 s, so more would only run unheard. */
  lambdaTimeoutSeconds: integer({ default: 29, min: 1, max: 29, unit: "seconds", meaning: "Timeout of the route functions in seconds (a WebSocket integration gives up at 29 s).", stack: true }),
  architecture: choice({ choices: ["arm64", "x86_64"] as const, default: "arm64", meaning: "The functions' architecture.", stack: true }),
  logRetentionDays: choice({ choices: LOG_RETENTION_DAYS, default: 14, unit: "days", meaning: "Log retention in days, one of CloudWatch's values (0 = never expire).", stack: true }),
  stageName: text({ meaning: "The API stage, [A-Za-z0-9_-]{1,128}; unset = the stack name.", stack: true }),
  bundleAwsSdk: boolean({ default: false, meaning: "Pack the pinned AWS SDK into each function instead of using the Lambda runtime's.", stack: true }),
  monitoring: boolean({ default: true, meaning: "CloudWatch dashboard and alarms.", stack: true }),
  alarmEmail: text({ meaning: "E-mail address the alarms notify through SNS (confirm the subscription); unset = no one.", stack: true }),
  accessLogging: boolean({ default: false, meaning: "JSON access logs to /aws/apigateway/<prefix>/access; needs apiGatewayCloudWatchRole true or existing.", stack: true }),
  apiGatewayCloudWatchRole: choice({ choices: ["true", "false", "existing"] as const, default: "false",
    meaning: "API Gateway's account-wide CloudWatch Logs role (one per account and region): true creates it in this stack, existing = the account already has one, false = none.", stack: true }),
  tableKmsKeyArn: text({ meaning: "A customer managed KMS key ARN for the table; unset = the AWS-owned key.", stack: true }),
  tableDeletionProtection: boolean({ default: false, meaning: "DynamoDB deletion protection on the connections table.", stack: true }),
  retainTable: boolean({ default: false, meaning: "Keep the connections table on pulumi destroy.", stack: true }),
  /** The event source mapping's maximumConcurrency (AWS's minimum is 2); the emulator's SQS stand-in runs as many. */
  shardWorkers: integer({ default: 10, min: 2, max: 1000, unit: "concurrent worker invocations", meaning: "Most worker invocations at once (the event source mapping's maximumConcurrency; sharded only).", stack: true }),
  /**
   * SQS, not API Gateway, invokes the worker, so the 29 s limit does not apply; under the post
   * quota a 1,000-receiver job may wait up to 3 s per throttled post, and a timed-out job is
   * delivered again to all its receivers.
   */
  shardWorkerTimeoutSeconds: integer({ default: 60, min: 1, max: 900, unit: "seconds", meaning: "Timeout of the shard worker in seconds (SQS invokes it, so the 29 s limit does not apply; sharded only).", stack: true }),
  shardWorkerReservedConcurrency: boolean({ default: false, meaning: "Reserve shardWorkers concurrent executions for the worker (fails on accounts that cannot keep 100 unreserved; sharded only).", stack: true }),

  // The Lambda environment only: set by the stack's resources or the emulator, not by users.
  tableName: text({ meaning: "The connections table (required).", env: "TABLE_NAME", functions: ["connect", "disconnect", "default", "publish", "shardWorker"] }),
  managementEndpoint: text({ meaning: "The @connections endpoint, https://{domain}/{stage}; default from the event, required by publish.",
    env: "MANAGEMENT_ENDPOINT", functions: ["publish"] }),
  dynamoEndpoint: text({ meaning: "DynamoDB endpoint; unset = AWS (the emulator points it at dynalite).", env: "DYNAMODB_ENDPOINT" }),
  shardQueueUrl: text({ meaning: "The SQS queue of shard jobs (required when sharded).", env: "SHARD_QUEUE_URL", functions: ["default", "publish"] }),
  historyTableName: text({ meaning: "The history table (required with HISTORY).", env: "HISTORY_TABLE_NAME", functions: ["default", "publish"] }),
  sqsEndpoint: text({ meaning: "SQS endpoint; unset = AWS (local hosts only).", env: "SQS_ENDPOINT" }),

  // The emulator only.
  port: integer({ default: 3001, min: 0, max: 65535, unit: "(0 = any free port)", meaning: "HTTP/WebSocket port; 0 picks a free one (env PORT).", flag: "port" }),
  host: text({ default: "127.0.0.1", meaning: "Listening address.", flag: "host" }),
  stage: text({ default: "dev", meaning: "Stage name in the URLs.", flag: "stage" }),
  dataDir: text({ meaning: "Directory that keeps the DynamoDB data across restarts; unset = in memory.", flag: "data" }),
  postRate: integer({ default: 0, min: 0, max: 1_000_000, unit: "posts per second (0 = unlimited)", meaning: "PostToConnection quota per second; over it 429.", flag: "post-rate" }),
  postBurst: integer({ default: 0, min: 0, max: 1_000_000, unit: "posts (0 = the post rate)", meaning: "Posts allowed at once before the post rate applies.", flag: "post-burst" }),
  idleTimeoutMs: integer({ default: API_GATEWAY_IDLE_MS, min: 1, max: API_GATEWAY_IDLE_MS, unit: "ms", meaning: "Milliseconds without messages before close 1001.", flag: "idle-timeout" }),
  maxLifetimeMs: integer({ default: API_GATEWAY_LIFETIME_MS, min: 1, max: API_GATEWAY_LIFETIME_MS, unit: "ms", meaning: "Milliseconds before any connection is closed 1001.", flag: "max-lifetime" }),
  /** At least one whole message, so that a client with an empty buffer can always take the next one. */
  maxBufferedBytes: integer({ default: 4 * 1024 * 1024, min: API_GATEWAY_MESSAGE_BYTES, max: 1024 * 1024 * 1024, unit: "bytes",
    meaning: "Bytes queued to one client before it is closed 1008.", flag: "max-buffered-bytes" }),
};
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { SETTINGS, FANOUT_MODES, API_GATEWAY_MESSAGE_BYTES, API_GATEWAY_IDLE_MS, API_GATEWAY_LIFETIME_MS };

export type SettingName = keyof typeof SETTINGS;
