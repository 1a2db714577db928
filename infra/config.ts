/**
 * The stack's configuration, read once and validated before any resource is declared: a bad
 * value throws ConfigError naming the full key (`message-broadcast:fanOutConcurrency`) and what
 * is allowed. The keys, their types, defaults and ranges are runtime/config/settings.ts's
 * entries with `stack: true`; docs/deploy.md "Configuration" documents every key.
 */
import type * as pulumi from "@pulumi/pulumi";
import { checkNamePrefix } from "./names";
import { checkAccessSettings } from "../runtime/access/token-settings";
import { ConfigError, checkInteger, checkStageName } from "../runtime/config/checks";
import { checkSetting, type Setting } from "../runtime/config/setting";
import { SETTINGS, type FanOutMode, type SettingName } from "../runtime/config/settings";

/** The part of `pulumi.Config` read here; tests pass a stub. */
export interface ConfigSource {
  /** The config namespace, normally the project name. */
  readonly name: string;
  get(key: string): string | undefined;
  getSecret(key: string): pulumi.Output<string> | undefined;
}

type Architecture = (typeof SETTINGS.architecture)["default"];

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
  /** Signed tokens (docs/identity.md): an HMAC secret, or a key set's https:// URL; at most one of these and accessToken. */
  jwtSecret?: pulumi.Output<string>;
  jwksUrl?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
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
  /** Number (`_seq`) and keep every data message for catch-up (docs/history.md); adds the history table. */
  history: boolean;
  historyTtlSeconds: number;
}

export interface StackIdentity {
  project: string;
  stack: string;
}

/** Reads and validates every key; the stage name defaults to the stack name. */
export function readStackConfig(config: ConfigSource, identity: StackIdentity): StackConfig {
  const key = (name: string) => `${config.name}:${name}`;
  const setting = <T extends Setting["default"]>(name: SettingName & keyof StackConfig, entry: Setting<T>) => checkSetting(key(name), entry, config.get(name));
  const integer = (name: SettingName & keyof StackConfig) => setting(name, SETTINGS[name] as Setting<number>);
  const boolean = (name: SettingName & keyof StackConfig) => setting(name, SETTINGS[name] as Setting<boolean>);
  const accessLogging = boolean("accessLogging");
  return {
    namePrefix: checkNamePrefix(`${identity.project}-${identity.stack}`),
    maxMessageBytes: integer("maxMessageBytes"),
    fanOutConcurrency: integer("fanOutConcurrency"),
    connectionTtlSeconds: integer("connectionTtlSeconds"),
    lambdaMemoryMb: integer("lambdaMemoryMb"),
    lambdaTimeoutSeconds: integer("lambdaTimeoutSeconds"),
    architecture: setting("architecture", SETTINGS.architecture),
    logRetentionDays: readRetention(key("logRetentionDays"), config.get("logRetentionDays")),
    stageName: readStageName(key("stageName"), config.get("stageName"), identity.stack),
    throttleRateLimit: integer("throttleRateLimit"),
    throttleBurstLimit: integer("throttleBurstLimit"),
    accessToken: readAccessToken(key("accessToken"), config),
    ...readTokenSettings(key, config),
    allowedOrigins: readOrigins(key("allowedOrigins"), config.get("allowedOrigins")),
    bundleAwsSdk: boolean("bundleAwsSdk"),
    monitoring: boolean("monitoring"),
    alarmEmail: readEmail(key("alarmEmail"), config.get("alarmEmail")),
    accessLogging,
    apiGatewayCloudWatchRole: readCloudWatchRole(key, config.get("apiGatewayCloudWatchRole"), accessLogging),
    tableKmsKeyArn: readKmsKeyArn(key("tableKmsKeyArn"), config.get("tableKmsKeyArn")),
    tableDeletionProtection: boolean("tableDeletionProtection"),
    retainTable: boolean("retainTable"),
    fanout: setting("fanout", SETTINGS.fanout),
    shardSize: integer("shardSize"),
    shardWorkers: integer("shardWorkers"),
    presence: boolean("presence"),
    shardWorkerTimeoutSeconds: integer("shardWorkerTimeoutSeconds"),
    shardWorkerReservedConcurrency: boolean("shardWorkerReservedConcurrency"),
    history: boolean("history"),
    historyTtlSeconds: readHistoryTtl(key("historyTtlSeconds"), config.get("historyTtlSeconds")),
  };
}

/** Deployed, history keeps a message at least a minute; the settings table's 1 s is for the emulator's tests. */
const STACK_MIN_HISTORY_TTL_SECONDS = 60;

function readHistoryTtl(key: string, raw: string | undefined): number {
  const { max, unit, default: fallback } = SETTINGS.historyTtlSeconds;
  return checkInteger(key, raw, { min: STACK_MIN_HISTORY_TTL_SECONDS, max, unit, default: fallback });
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

function readRetention(key: string, raw: string | undefined): number {
  const { choices, default: fallback } = SETTINGS.logRetentionDays;
  if (isBlank(raw)) return fallback;
  const match = choices.find((days) => days === Number(raw.trim()));
  if (match === undefined) {
    throw new ConfigError(key, `must be one of ${choices.join(", ")} days (default ${fallback}; 0 never expires), got ${JSON.stringify(raw)}`);
  }
  return Number(match);
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

// Validated in plain text with the checks every host applies; the secret is handed on only as a secret Output.
function readTokenSettings(key: (name: string) => string, config: ConfigSource): Pick<StackConfig, "jwtSecret" | "jwksUrl" | "jwtIssuer" | "jwtAudience"> {
  const raw = (name: string) => (isBlank(config.get(name)) ? undefined : config.get(name)?.trim());
  const names = { accessToken: key("accessToken"), jwtSecret: key("jwtSecret"), jwksUrl: key("jwksUrl"), jwtIssuer: key("jwtIssuer"), jwtAudience: key("jwtAudience") };
  const settings = checkAccessSettings(names, {
    accessToken: raw("accessToken"),
    jwtSecret: isBlank(config.get("jwtSecret")) ? undefined : config.get("jwtSecret"),
    jwksUrl: raw("jwksUrl"),
    jwtIssuer: raw("jwtIssuer"),
    jwtAudience: raw("jwtAudience"),
  });
  if (settings === undefined) return {};
  return { jwtSecret: settings.secret === undefined ? undefined : config.getSecret("jwtSecret"), jwksUrl: settings.jwksUrl, jwtIssuer: settings.issuer, jwtAudience: settings.audience };
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
