/**
 * Defaults and validation of the emulator's options. The ranges are the ones the CLI checks its
 * flags against, so a bad value fails the same way from code and from the command line.
 */
import { SCAN_PAGE_LIMIT, toEnvironment } from "../runtime/host/lambda";
import { RANGES, checkFanOutMode, checkStageName, checkInteger, type FanOutMode, type IntegerRange } from "../runtime/config/checks";
import { AWS_LIMITS } from "./gateway/aws-limits";
import { LOCAL_AWS } from "./services/dynalite-store";

/** What startEmulator (local/emulator.ts) takes; every field optional. Test hooks are apart, in local/seams.ts. */
export interface EmulatorOptions {
  /** Default 3001; 0 picks a free port. */
  port?: number;
  /** Listening address; default 127.0.0.1, which `localhost` reaches. */
  host?: string;
  /** Default "dev". */
  stage?: string;
  /** Keeps dynalite's data (LevelDB) in this directory; default in memory. */
  dataDir?: string;
  /** Default "message-broadcast-connections". */
  tableName?: string;
  maxMessageBytes?: number;
  fanOutConcurrency?: number;
  connectionTtlSeconds?: number;
  /**
   * The stage's steady request rate, as deployed (default 100): every `$connect` and message
   * takes a token; over it a handshake gets 429 and a message gets "Too Many Requests".
   */
  throttleRateLimit?: number;
  /** Requests the stage admits at once before the rate applies, as deployed (default 200). */
  throttleBurstLimit?: number;
  accessToken?: string;
  allowedOrigins?: string[];
  /** PostToConnection quota per second; posts over it get 429 LimitExceededException. Default unlimited. */
  postRate?: number;
  /** How many posts may come at once before the rate applies; default `postRate`. */
  postBurst?: number;
  /** Default 10 minutes; then the connection is closed with 1001. */
  idleTimeoutMs?: number;
  /** Default 2 hours; then the connection is closed with 1001. */
  maxLifetimeMs?: number;
  /**
   * Bytes that may wait to be sent to one connection (default 4 MiB); a send that would queue
   * more closes it with 1008 and runs `$disconnect` (docs/slow-consumers.md).
   */
  maxBufferedBytes?: number;
  /** Forces small room Query pages (tests). */
  scanPageLimit?: number;
  /**
   * `sharded`: `$default` enqueues shard jobs on a local stand-in for SQS (local/services/sqs-stand-in.ts)
   * that invokes the shard worker; default `direct`.
   */
  fanout?: FanOutMode;
  /** Receivers per shard job in sharded mode (default 1000). */
  shardSize?: number;
  /** `$connect` and `$disconnect` post join/leave events to the rest of the room (default false). */
  presence?: boolean;
  /** Receives emulator and handler log lines (JSON); default stdout. */
  log?: (line: string) => void;
}

// The emulator's own numeric options (the others are the stack's RANGES, deployed alike).
const EMULATOR_RANGES = {
  port: { min: 0, max: 65535, default: 3001, unit: "(0 = any free port)" },
  postRate: { min: 0, max: 1_000_000, default: 0, unit: "posts per second (0 = unlimited)" },
  postBurst: { min: 0, max: 1_000_000, default: 0, unit: "posts (0 = the post rate)" },
  idleTimeoutMs: { min: 1, max: AWS_LIMITS.idleTimeoutMs, default: AWS_LIMITS.idleTimeoutMs, unit: "ms" },
  maxLifetimeMs: { min: 1, max: AWS_LIMITS.maxLifetimeMs, default: AWS_LIMITS.maxLifetimeMs, unit: "ms" },
  // At least one whole message, so that a client with an empty buffer can always take the next one.
  maxBufferedBytes: { min: AWS_LIMITS.messageBytes, max: 1024 * 1024 * 1024, default: 4 * 1024 * 1024, unit: "bytes" },
} as const satisfies Partial<Record<keyof EmulatorOptions, IntegerRange>>;

/**
 * Every numeric option and the range it is checked against: the one list of their names, read by
 * resolveOptions and by the CLI's flags (local/cli.ts), so both fail a bad value the same way.
 */
const NUMERIC_OPTIONS = {
  port: EMULATOR_RANGES.port,
  maxMessageBytes: RANGES.maxMessageBytes,
  fanOutConcurrency: RANGES.fanOutConcurrency,
  connectionTtlSeconds: RANGES.connectionTtlSeconds,
  throttleRateLimit: RANGES.throttleRateLimit,
  throttleBurstLimit: RANGES.throttleBurstLimit,
  postRate: EMULATOR_RANGES.postRate,
  postBurst: EMULATOR_RANGES.postBurst,
  idleTimeoutMs: EMULATOR_RANGES.idleTimeoutMs,
  maxLifetimeMs: EMULATOR_RANGES.maxLifetimeMs,
  maxBufferedBytes: EMULATOR_RANGES.maxBufferedBytes,
  shardSize: RANGES.shardSize,
} as const satisfies Partial<Record<keyof EmulatorOptions, IntegerRange>>;
export { NUMERIC_OPTIONS };
export type NumericOption = keyof typeof NUMERIC_OPTIONS;

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_STAGE = "dev";
const DEFAULT_TABLE_NAME = "message-broadcast-connections";

/** The options with every default filled in and every value checked. */
export type ResolvedOptions = Record<NumericOption, number> &
  Required<Pick<EmulatorOptions, "host" | "stage" | "tableName" | "allowedOrigins" | "fanout">> &
  Pick<EmulatorOptions, "dataDir" | "accessToken" | "scanPageLimit"> & { presence: boolean };

/** Fills in defaults and range-checks every option; a bad one throws ConfigError naming it. */
export function resolveOptions(options: EmulatorOptions): ResolvedOptions {
  const numbers = Object.fromEntries(
    Object.entries(NUMERIC_OPTIONS).map(([name, range]) => [name, checkInteger(name, options[name as NumericOption], range)]),
  ) as Record<NumericOption, number>;
  return {
    ...numbers,
    ...resolvePostQuota(options),
    host: options.host ?? DEFAULT_HOST,
    stage: checkStage("stage", options.stage ?? DEFAULT_STAGE),
    dataDir: options.dataDir,
    tableName: options.tableName ?? DEFAULT_TABLE_NAME,
    accessToken: options.accessToken,
    allowedOrigins: options.allowedOrigins ?? [],
    scanPageLimit: options.scanPageLimit === undefined ? undefined : checkInteger("scanPageLimit", options.scanPageLimit, SCAN_PAGE_LIMIT),
    fanout: checkFanOutMode("fanout", options.fanout),
    presence: options.presence ?? false,
  };
}

/** The PostToConnection quota options, range-checked; the burst defaults to the rate. */
export function resolvePostQuota(options: Pick<EmulatorOptions, "postRate" | "postBurst">): { postRate: number; postBurst: number } {
  const postRate = checkInteger("postRate", options.postRate, EMULATOR_RANGES.postRate);
  const postBurst = checkInteger("postBurst", options.postBurst, EMULATOR_RANGES.postBurst);
  return { postRate, postBurst: postBurst === 0 ? postRate : postBurst };
}

/** The emulator's stage name, checked as the stack's is. */
export function checkStage(key: string, raw: string): string {
  return checkStageName(key, raw, DEFAULT_STAGE);
}

/** The Lambda environment the emulator's handlers are built from, as the deployed stack sets it. */
export function runtimeEnvironment(
  options: ResolvedOptions,
  endpoints: { management: string; dynamo: string; shardQueue?: string },
): Record<string, string | undefined> {
  return {
    ...toEnvironment({
      tableName: options.tableName,
      maxMessageBytes: options.maxMessageBytes,
      fanOutConcurrency: options.fanOutConcurrency,
      connectionTtlSeconds: options.connectionTtlSeconds,
      managementEndpoint: endpoints.management,
      dynamoEndpoint: endpoints.dynamo,
      accessToken: options.accessToken,
      allowedOrigins: options.allowedOrigins,
      scanPageLimit: options.scanPageLimit,
      fanout: options.fanout,
      shardQueueUrl: endpoints.shardQueue,
      sqsEndpoint: endpoints.shardQueue === undefined ? undefined : new URL(endpoints.shardQueue).origin,
      shardSize: options.shardSize,
      presence: options.presence,
    }),
    AWS_REGION: LOCAL_AWS.region,
  };
}
