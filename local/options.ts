/**
 * Defaults and validation of the emulator's options: each option is the settings table's entry
 * of the same name (runtime/config/settings.ts), checked once whether it comes from code or from
 * a flag (local/cli.ts resolves its flags here, naming them), so both fail a bad value alike.
 */
import { toEnvironment } from "../runtime/config/environment";
import { checkStageName } from "../runtime/config/checks";
import { checkSetting } from "../runtime/config/setting";
import { SETTINGS, type FanOutMode, type SettingName } from "../runtime/config/settings";
import { LOCAL_AWS } from "./services/dynalite-store";
import { checkAccessSettings } from "../runtime/access/token-settings";

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
  /** Signed tokens (docs/identity.md): an HMAC secret (HS256/384/512)… */
  jwtSecret?: string;
  /** …or a JSON Web Key Set's URL (https://, or http:// on loopback). */
  jwksUrl?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
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
  /**
   * `sharded`: `$default` enqueues shard jobs on a local stand-in for SQS (local/services/sqs-stand-in.ts)
   * that invokes the shard worker; default `direct`.
   */
  fanout?: FanOutMode;
  /** Receivers per shard job in sharded mode (default 1000). */
  shardSize?: number;
  /** `$connect` and `$disconnect` post join/leave events to the rest of the room (default false). */
  presence?: boolean;
  /** Data messages are numbered (`_seq`) and stored for `{"_op":"history"}` catch-up (default false). */
  history?: boolean;
  /** How long history keeps a message: 1 s to a year (default 86,400; the stack takes 60 s and up). */
  historyTtlSeconds?: number;
  /** Receives emulator and handler log lines (JSON); default stdout. */
  log?: (line: string) => void;
}

/** The options that are settings with an `npm start` flag: the table's entries of the same name. */
type FlagOption = "port" | "host" | "stage" | "dataDir" | "maxMessageBytes" | "fanOutConcurrency" | "connectionTtlSeconds" | "throttleRateLimit" | "throttleBurstLimit"
  | "accessToken" | "jwtSecret" | "jwksUrl" | "jwtIssuer" | "jwtAudience" | "allowedOrigins" | "postRate" | "postBurst" | "idleTimeoutMs" | "maxLifetimeMs" | "maxBufferedBytes" | "fanout" | "shardSize" | "presence" | "history" | "historyTtlSeconds";

/** The settings the emulator reads, by option name (every entry with a flag). */
function flagOptions(): FlagOption[] {
  return (Object.keys(SETTINGS) as SettingName[]).filter((name) => SETTINGS[name].homes.flag !== undefined) as FlagOption[];
}
export { flagOptions };

const DEFAULT_TABLE_NAME = "message-broadcast-connections";
/** The history table's name (history on). */
const HISTORY_TABLE_NAME = "message-broadcast-history";
export { HISTORY_TABLE_NAME };
/** The options with every default filled in and every value checked. */
/** The options unset by default. */
type OptionalOption = "dataDir" | "accessToken" | "jwtSecret" | "jwksUrl" | "jwtIssuer" | "jwtAudience";
export type ResolvedOptions = Required<Pick<EmulatorOptions, Exclude<FlagOption, OptionalOption> | "tableName">> & Pick<EmulatorOptions, OptionalOption>;

/** What resolveOptions takes: options from code, or a flag's text (local/cli.ts). */
export type OptionInput = EmulatorOptions | { [K in FlagOption]?: string | boolean };

// Options already checked (the CLI resolves its flags before startEmulator sees them): checked once.
const resolved = new WeakSet<object>();

/**
 * Fills in defaults and checks every option once; a bad one throws ConfigError naming it as
 * `keyOf` says (the option's name, or the CLI's flag). Resolved options come back as they are.
 */
export function resolveOptions(options: OptionInput, keyOf: (option: FlagOption) => string = (option) => option): ResolvedOptions {
  if (resolved.has(options)) return options as ResolvedOptions;
  const raw = options as Record<string, string | number | boolean | string[] | undefined>;
  const values = Object.fromEntries(flagOptions().map((name) => [name, checkSetting(keyOf(name), SETTINGS[name], raw[name])]));
  const checked = values as unknown as ResolvedOptions;
  // At most one way of checking tokens, as every host checks it (runtime/access/token-settings.ts).
  checkAccessSettings({ accessToken: keyOf("accessToken"), jwtSecret: keyOf("jwtSecret"), jwksUrl: keyOf("jwksUrl"), jwtIssuer: keyOf("jwtIssuer"), jwtAudience: keyOf("jwtAudience") }, checked);
  const result: ResolvedOptions = {
    ...checked,
    ...resolvePostQuota(checked),
    stage: checkStage(keyOf("stage"), checked.stage),
    allowedOrigins: [...checked.allowedOrigins],
    tableName: (options as EmulatorOptions).tableName ?? DEFAULT_TABLE_NAME,
  };
  resolved.add(result);
  return result;
}

/** The PostToConnection quota options, range-checked; the burst defaults to the rate. */
export function resolvePostQuota(options: Pick<EmulatorOptions, "postRate" | "postBurst">): { postRate: number; postBurst: number } {
  const postRate = checkSetting("postRate", SETTINGS.postRate, options.postRate);
  const postBurst = checkSetting("postBurst", SETTINGS.postBurst, options.postBurst);
  return { postRate, postBurst: postBurst === 0 ? postRate : postBurst };
}

/** The emulator's stage name, checked as the stack's is. */
function checkStage(key: string, raw: string): string {
  return checkStageName(key, raw, SETTINGS.stage.default ?? "dev");
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
      jwtSecret: options.jwtSecret,
      jwksUrl: options.jwksUrl,
      jwtIssuer: options.jwtIssuer,
      jwtAudience: options.jwtAudience,
      allowedOrigins: options.allowedOrigins,
      fanout: options.fanout,
      shardQueueUrl: endpoints.shardQueue,
      sqsEndpoint: endpoints.shardQueue === undefined ? undefined : new URL(endpoints.shardQueue).origin,
      shardSize: options.shardSize,
      presence: options.presence,
      history: options.history,
      historyTableName: options.history ? HISTORY_TABLE_NAME : undefined,
      historyTtlSeconds: options.historyTtlSeconds,
    }),
    AWS_REGION: LOCAL_AWS.region,
  };
}
