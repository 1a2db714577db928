/**
 * The Lambda environment codec, derived from the settings table (runtime/config/settings.ts):
 * `ENV` names each variable, readRuntimeConfig validates them once per container (a bad value
 * throws ConfigError naming the variable), toEnvironment writes them (infra and the emulator).
 */
import { ConfigError } from "./checks";
import { checkSetting } from "./setting";
import { SETTINGS, type FanOutMode, type SettingName } from "./settings";
import { checkAccessSettings } from "../access/token-settings";

export interface RuntimeConfig {
  tableName: string;
  maxMessageBytes: number;
  fanOutConcurrency: number;
  connectionTtlSeconds: number;
  managementEndpoint?: string;
  accessToken?: string;
  /** Signed tokens (runtime/access/token-verifier.ts): an HMAC secret, or a key set's URL. */
  jwtSecret?: string;
  jwksUrl?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  allowedOrigins: string[];
  dynamoEndpoint?: string;
  fanout: FanOutMode;
  /** Required in sharded mode: the queue `$default` enqueues shard jobs on. */
  shardQueueUrl?: string;
  shardSize: number;
  /** Local hosts only: the SQS endpoint (the deployed functions use the region's). */
  sqsEndpoint?: string;
  /** `$connect` and `$disconnect` post join and leave events to the room (runtime/routes/presence.ts). */
  presence: boolean;
  /** Data messages are numbered and stored for catch-up (runtime/store/history-store.ts). */
  history: boolean;
  /** Required with history: the history table. */
  historyTableName?: string;
  historyTtlSeconds: number;
  region?: string;
}

/** The fields read from a variable named in the settings table. */
type TableField = Extract<keyof RuntimeConfig, SettingName>;

function tableVariables(): Record<TableField, string> {
  const entries = Object.entries(SETTINGS).flatMap(([name, setting]) => (setting.homes.env === undefined ? [] : [[name, setting.homes.env]]));
  return Object.fromEntries(entries) as Record<TableField, string>;
}

/** Environment variables read by the handlers; docs/architecture.md "Lambda environment" documents each. */
const ENV = tableVariables();
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { ENV };

/** Reads and validates the handler configuration; a bad value throws ConfigError naming the variable. */
export function readRuntimeConfig(env: Record<string, string | undefined>): RuntimeConfig {
  const read = (field: TableField) => checkSetting(ENV[field], SETTINGS[field], env[ENV[field]]);
  const optional = (name: string) => (env[name] === undefined || env[name] === "" ? undefined : env[name]);
  const config = Object.fromEntries((Object.keys(tableVariables()) as TableField[]).map((field) => [field, read(field)])) as unknown as RuntimeConfig;
  if (!config.tableName) throw new ConfigError(ENV.tableName, "is required (the connections table name)");
  if (config.fanout === "sharded" && config.shardQueueUrl === undefined) throw new ConfigError(ENV.shardQueueUrl, "is required when FANOUT_MODE is sharded");
  checkAccessSettings(ENV, config);
  if (config.history && config.historyTableName === undefined) throw new ConfigError(ENV.historyTableName, "is required when HISTORY is true");
  return { ...config, allowedOrigins: [...config.allowedOrigins], region: optional("AWS_REGION") };
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
