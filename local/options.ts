/**
 * Defaults and validation of the emulator's options. The ranges are the ones the CLI checks its
 * flags against, so a bad value fails the same way from code and from the command line.
 */
import { ENV, SCAN_PAGE_LIMIT } from "../runtime/lambda";
import { ConfigError, STAGE_NAME_PATTERN, checkFanOutMode, checkInteger, checkSetting } from "../runtime/settings";
import type { EmulatorOptions } from "./emulator";
import { AWS_LIMITS } from "./limits";
import { LOCAL_AWS } from "./store";

/** Ranges of the emulator's own numeric options. */
export const EMULATOR_RANGES = {
  port: { min: 0, max: 65535, default: 3001, unit: "(0 = any free port)" },
  postRate: { min: 0, max: 1_000_000, default: 0, unit: "posts per second (0 = unlimited)" },
  postBurst: { min: 0, max: 1_000_000, default: 0, unit: "posts (0 = the post rate)" },
  postLatencyMs: { min: 0, max: 60_000, default: 0, unit: "ms" },
  idleTimeoutMs: { min: 1, max: AWS_LIMITS.idleTimeoutMs, default: AWS_LIMITS.idleTimeoutMs, unit: "ms" },
  maxLifetimeMs: { min: 1, max: AWS_LIMITS.maxLifetimeMs, default: AWS_LIMITS.maxLifetimeMs, unit: "ms" },
  // At least one whole message, so that a client with an empty buffer can always take the next one.
  maxBufferedBytes: { min: AWS_LIMITS.messageBytes, max: 1024 * 1024 * 1024, default: 4 * 1024 * 1024, unit: "bytes" },
} as const;

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_STAGE = "dev";
const DEFAULT_TABLE_NAME = "message-broadcast-connections";

export type ResolvedOptions = Required<
  Pick<
    EmulatorOptions,
    | "port"
    | "host"
    | "stage"
    | "tableName"
    | "maxMessageBytes"
    | "fanOutConcurrency"
    | "connectionTtlSeconds"
    | "throttleRateLimit"
    | "throttleBurstLimit"
    | "allowedOrigins"
    | "postRate"
    | "postBurst"
    | "postLatencyMs"
    | "idleTimeoutMs"
    | "maxLifetimeMs"
    | "maxBufferedBytes"
    | "fanout"
    | "shardSize"
  >
> &
  Pick<EmulatorOptions, "dataDir" | "accessToken" | "scanPageLimit"> & { presence: boolean };

/** Fills in defaults and range-checks every option; a bad one throws ConfigError naming it. */
export function resolveOptions(options: EmulatorOptions): ResolvedOptions {
  return {
    port: checkInteger("port", options.port, EMULATOR_RANGES.port),
    host: options.host ?? DEFAULT_HOST,
    stage: checkStage("stage", options.stage ?? DEFAULT_STAGE),
    dataDir: options.dataDir,
    tableName: options.tableName ?? DEFAULT_TABLE_NAME,
    maxMessageBytes: checkSetting("maxMessageBytes", "maxMessageBytes", options.maxMessageBytes),
    fanOutConcurrency: checkSetting("fanOutConcurrency", "fanOutConcurrency", options.fanOutConcurrency),
    connectionTtlSeconds: checkSetting("connectionTtlSeconds", "connectionTtlSeconds", options.connectionTtlSeconds),
    throttleRateLimit: checkSetting("throttleRateLimit", "throttleRateLimit", options.throttleRateLimit),
    throttleBurstLimit: checkSetting("throttleBurstLimit", "throttleBurstLimit", options.throttleBurstLimit),
    accessToken: options.accessToken,
    allowedOrigins: options.allowedOrigins ?? [],
    ...resolvePostQuota(options),
    postLatencyMs: checkInteger("postLatencyMs", options.postLatencyMs, EMULATOR_RANGES.postLatencyMs),
    idleTimeoutMs: checkInteger("idleTimeoutMs", options.idleTimeoutMs, EMULATOR_RANGES.idleTimeoutMs),
    maxLifetimeMs: checkInteger("maxLifetimeMs", options.maxLifetimeMs, EMULATOR_RANGES.maxLifetimeMs),
    maxBufferedBytes: checkInteger("maxBufferedBytes", options.maxBufferedBytes, EMULATOR_RANGES.maxBufferedBytes),
    scanPageLimit: options.scanPageLimit === undefined ? undefined : checkInteger("scanPageLimit", options.scanPageLimit, SCAN_PAGE_LIMIT),
    fanout: checkFanOutMode("fanout", options.fanout),
    shardSize: checkSetting("shardSize", "shardSize", options.shardSize),
    presence: options.presence ?? false,
  };
}

/** The PostToConnection quota options, range-checked; the burst defaults to the rate. */
export function resolvePostQuota(options: Pick<EmulatorOptions, "postRate" | "postBurst">): { postRate: number; postBurst: number } {
  const postRate = checkInteger("postRate", options.postRate, EMULATOR_RANGES.postRate);
  const postBurst = checkInteger("postBurst", options.postBurst, EMULATOR_RANGES.postBurst);
  return { postRate, postBurst: postBurst === 0 ? postRate : postBurst };
}

/** API Gateway's stage-name rule (STAGE_NAME_PATTERN), with the emulator's own message. */
export function checkStage(key: string, raw: string): string {
  if (STAGE_NAME_PATTERN.test(raw)) return raw;
  throw new ConfigError(key, `must be 1 to 128 letters, digits, hyphens or underscores, got ${JSON.stringify(raw)}`);
}

/** The Lambda environment the emulator's handlers are built from, as the deployed stack sets it. */
export function runtimeEnvironment(
  options: ResolvedOptions,
  endpoints: { management: string; dynamo: string; shardQueue?: string },
): Record<string, string | undefined> {
  return {
    [ENV.tableName]: options.tableName,
    [ENV.maxMessageBytes]: String(options.maxMessageBytes),
    [ENV.fanOutConcurrency]: String(options.fanOutConcurrency),
    [ENV.connectionTtlSeconds]: String(options.connectionTtlSeconds),
    [ENV.managementEndpoint]: endpoints.management,
    [ENV.dynamoEndpoint]: endpoints.dynamo,
    [ENV.accessToken]: options.accessToken,
    [ENV.allowedOrigins]: options.allowedOrigins.join(","),
    [ENV.scanPageLimit]: options.scanPageLimit === undefined ? undefined : String(options.scanPageLimit),
    [ENV.fanOutMode]: options.fanout,
    [ENV.shardQueueUrl]: endpoints.shardQueue,
    [ENV.sqsEndpoint]: endpoints.shardQueue === undefined ? undefined : new URL(endpoints.shardQueue).origin,
    [ENV.shardSize]: String(options.shardSize),
    [ENV.presence]: String(options.presence),
    AWS_REGION: LOCAL_AWS.region,
  };
}
