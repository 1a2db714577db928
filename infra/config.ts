/**
 * The stack's configuration, read once and validated before any resource is declared: a bad
 * value throws ConfigError naming the full key (`message-broadcast:fanOutConcurrency`) and what
 * is allowed. README "Deploy to AWS" documents every key.
 */
import type * as pulumi from "@pulumi/pulumi";
import { checkNamePrefix } from "./names";
import { ConfigError, checkFanOutMode, checkStageName, checkInteger, checkRange, type FanOutMode, type IntegerRange, type RangeName } from "../runtime/config/checks";

/** The part of `pulumi.Config` read here; tests pass a stub. */
export interface ConfigSource {
  /** The config namespace, normally the project name. */
  readonly name: string;
  get(key: string): string | undefined;
  getSecret(key: string): pulumi.Output<string> | undefined;
}

const ARCHITECTURES = ["arm64", "x86_64"] as const;
type Architecture = (typeof ARCHITECTURES)[number];

/** The only retention periods CloudWatch Logs accepts; 0 keeps events forever. */
const LOG_RETENTION_DAYS = [
  0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const INFRA_RANGES = {
  lambdaMemoryMb: { min: 128, max: 10240, default: 512, unit: "MB" },
  /** The route functions': a WebSocket integration gives up at 29 s, so more would only run unheard. */
  lambdaTimeoutSeconds: { min: 1, max: 29, default: 29, unit: "seconds" },
  /**
   * SQS, not API Gateway, invokes the worker, so the 29 s limit does not apply; under the post
   * quota a 1,000-receiver job may wait up to 3 s per throttled post, and a timed-out job is
   * delivered again to all its receivers.
   */
  shardWorkerTimeoutSeconds: { min: 1, max: 900, default: 60, unit: "seconds" },
  /** The event source mapping's maximumConcurrency (AWS's minimum is 2): it caps the posting workers. */
  shardWorkers: { min: 2, max: 1000, default: 10, unit: "concurrent worker invocations" },
} as const satisfies Record<string, IntegerRange>;

/** A KMS key ARN (not an alias): `arn:aws:kms:<region>:<account>:key/<key id>`. */
const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/**
 * API Gateway's account-wide CloudWatch Logs role, which access logging needs: `create` makes it
 * here, `existing` says the account already has it, `none` leaves access logging impossible.
 */
type ApiGatewayCloudWatchRole = "create" | "existing" | "none";

export interface StackConfig {
  /** `${project}-${stack}`: several stacks coexist in one account. */
  namePrefix: string;
  maxMessageBytes: number;
  fanOutConcurrency: number;
  connectionTtlSeconds: number;
  lambdaMemoryMb: number;
  /** The route functions' timeout. */
  lambdaTimeoutSeconds: number;
  architecture: Architecture;
  logRetentionDays: number;
  stageName: string;
  throttleRateLimit: number;
  throttleBurstLimit: number;
  /** Unset leaves `$connect` open, as the original project was. */
  accessToken?: pulumi.Output<string>;
  /** Empty admits every origin. */
  allowedOrigins: string[];
  bundleAwsSdk: boolean;
  monitoring: boolean;
  alarmEmail?: string;
  accessLogging: boolean;
  apiGatewayCloudWatchRole: ApiGatewayCloudWatchRole;
  /** Unset: the AWS-owned key (no KMS charges). */
  tableKmsKeyArn?: string;
  tableDeletionProtection: boolean;
  retainTable: boolean;
  /** `sharded` adds the shard queue, its dead-letter queue and the worker function. */
  fanout: FanOutMode;
  shardSize: number;
  shardWorkers: number;
  /** `$connect` and `$disconnect` post join and leave events to the room (docs/rooms.md). */
  presence: boolean;
  shardWorkerTimeoutSeconds: number;
  /** Reserve `shardWorkers` concurrent executions for the worker (off: new accounts cannot spare them). */
  shardWorkerReservedConcurrency: boolean;
}

export interface StackIdentity {
  project: string;
  stack: string;
}

/** Reads and validates every key; the stage name defaults to the stack name. */
export function readStackConfig(config: ConfigSource, identity: StackIdentity): StackConfig {
  const key = (name: string) => `${config.name}:${name}`;
  const setting = (name: RangeName) => checkRange(name, key(name), config.get(name));
  const integer = (name: keyof typeof INFRA_RANGES) => checkInteger(key(name), config.get(name), INFRA_RANGES[name]);
  const boolean = (name: string, fallback: boolean) => readBoolean(key(name), config.get(name), fallback);
  const accessLogging = boolean("accessLogging", false);
  return {
    namePrefix: checkNamePrefix(`${identity.project}-${identity.stack}`),
    maxMessageBytes: setting("maxMessageBytes"),
    fanOutConcurrency: setting("fanOutConcurrency"),
    connectionTtlSeconds: setting("connectionTtlSeconds"),
    lambdaMemoryMb: integer("lambdaMemoryMb"),
    lambdaTimeoutSeconds: integer("lambdaTimeoutSeconds"),
    architecture: readArchitecture(key("architecture"), config.get("architecture")),
    logRetentionDays: readRetention(key("logRetentionDays"), config.get("logRetentionDays")),
    stageName: readStageName(key("stageName"), config.get("stageName"), identity.stack),
    throttleRateLimit: setting("throttleRateLimit"),
    throttleBurstLimit: setting("throttleBurstLimit"),
    accessToken: readAccessToken(key("accessToken"), config),
    allowedOrigins: readOrigins(key("allowedOrigins"), config.get("allowedOrigins")),
    bundleAwsSdk: boolean("bundleAwsSdk", false),
    monitoring: boolean("monitoring", true),
    alarmEmail: readEmail(key("alarmEmail"), config.get("alarmEmail")),
    accessLogging,
    apiGatewayCloudWatchRole: readCloudWatchRole(key, config.get("apiGatewayCloudWatchRole"), accessLogging),
    tableKmsKeyArn: readKmsKeyArn(key("tableKmsKeyArn"), config.get("tableKmsKeyArn")),
    tableDeletionProtection: boolean("tableDeletionProtection", false),
    retainTable: boolean("retainTable", false),
    fanout: checkFanOutMode(key("fanout"), config.get("fanout")),
    shardSize: setting("shardSize"),
    shardWorkers: integer("shardWorkers"),
    presence: boolean("presence", false),
    shardWorkerTimeoutSeconds: integer("shardWorkerTimeoutSeconds"),
    shardWorkerReservedConcurrency: boolean("shardWorkerReservedConcurrency", false),
  };
}

function readCloudWatchRole(key: (name: string) => string, raw: string | undefined, accessLogging: boolean): ApiGatewayCloudWatchRole {
  const role = isBlank(raw) || raw === "false" ? "none" : raw === "true" ? "create" : raw === "existing" ? "existing" : undefined;
  if (role === undefined) throw new ConfigError(key("apiGatewayCloudWatchRole"), `must be true, false or existing (default false), got ${JSON.stringify(raw)}`);
  if (accessLogging && role === "none") {
    throw new ConfigError(
      key("accessLogging"),
      "needs API Gateway's CloudWatch Logs role, set once per account and region (without it the stage fails with " +
        '"CloudWatch Logs role ARN must be set in account settings to enable logging"). Either let this stack create it: ' +
        "`pulumi config set apiGatewayCloudWatchRole true` (account-wide: one stack per account and region), or, when " +
        "`aws apigateway get-account` already shows a cloudwatchRoleArn: `pulumi config set apiGatewayCloudWatchRole existing`",
    );
  }
  return role;
}

function readKmsKeyArn(key: string, raw: string | undefined): string | undefined {
  if (isBlank(raw)) return undefined;
  if (!KMS_KEY_ARN_PATTERN.test(raw.trim())) {
    throw new ConfigError(key, `must be a KMS key ARN such as arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (unset: the AWS-owned key), got ${JSON.stringify(raw)}`);
  }
  return raw.trim();
}

/**
 * DynamoDB only uses a key of its own region, and a key from another fails at `pulumi up`, after
 * other resources exist: checked at preview against the stack's `aws:region` (the provider's; unset,
 * the provider finds it in the environment and nothing is checked here).
 */
export function checkTableKeyRegion(namespace: string, tableKmsKeyArn: string | undefined, region: string | undefined): void {
  if (tableKmsKeyArn === undefined || region === undefined) return;
  const keyRegion = tableKmsKeyArn.split(":")[3];
  if (keyRegion !== region) {
    throw new ConfigError(`${namespace}:tableKmsKeyArn`, `must be a key in the stack's region ${region} (aws:region; DynamoDB uses only a key of its table's region), got ${tableKmsKeyArn} in ${keyRegion}`);
  }
}

function isBlank(raw: string | undefined): raw is undefined | "" {
  return raw === undefined || raw.trim() === "";
}

function readBoolean(key: string, raw: string | undefined, fallback: boolean): boolean {
  if (isBlank(raw)) return fallback;
  if (raw === "true" || raw === "false") return raw === "true";
  throw new ConfigError(key, `must be true or false (default ${fallback}), got ${JSON.stringify(raw)}`);
}

function readArchitecture(key: string, raw: string | undefined): Architecture {
  if (isBlank(raw)) return "arm64";
  const match = ARCHITECTURES.find((architecture) => architecture === raw);
  if (match === undefined) throw new ConfigError(key, `must be one of ${ARCHITECTURES.join(", ")} (default arm64), got ${JSON.stringify(raw)}`);
  return match;
}

function readRetention(key: string, raw: string | undefined): number {
  if (isBlank(raw)) return 14;
  const match = LOG_RETENTION_DAYS.find((days) => days === Number(raw.trim()));
  if (match === undefined) {
    throw new ConfigError(key, `must be one of ${LOG_RETENTION_DAYS.join(", ")} days (default 14; 0 never expires), got ${JSON.stringify(raw)}`);
  }
  return match;
}

function readStageName(key: string, raw: string | undefined, stack: string): string {
  return checkStageName(key, isBlank(raw) ? stack : raw, "the stack name");
}

// The value is validated in plain text here but only ever handed on as a secret Output.
function readAccessToken(key: string, config: ConfigSource): pulumi.Output<string> | undefined {
  const raw = config.get("accessToken");
  if (isBlank(raw)) return undefined;
  if (/\s/.test(raw)) throw new ConfigError(key, "must not contain whitespace (clients send it as ?token= or a Bearer header)");
  return config.getSecret("accessToken");
}

// Browsers send Origin as scheme://host[:port], never with a path or trailing slash.
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text;
  } catch {
    return false;
  }
}

function readOrigins(key: string, raw: string | undefined): string[] {
  if (isBlank(raw)) return [];
  const expected = `must be a JSON array of origins such as ["https://app.example.com"]`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(key, `${expected}, got ${JSON.stringify(raw)}`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError(key, `${expected}, got ${JSON.stringify(raw)}`);
  const origins: string[] = [];
  for (const entry of parsed) {
    if (typeof entry !== "string" || !isOrigin(entry)) {
      throw new ConfigError(key, `${expected} (scheme://host[:port], no path or trailing slash), got entry ${JSON.stringify(entry)}`);
    }
    origins.push(entry);
  }
  return origins;
}

function readEmail(key: string, raw: string | undefined): string | undefined {
  if (isBlank(raw)) return undefined;
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(raw)) throw new ConfigError(key, `must be an email address, got ${JSON.stringify(raw)}`);
  return raw;
}
