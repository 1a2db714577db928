/**
 * Checks of configuration values, and RANGES: every tunable limit with its default and allowed
 * range, defined once. The Pulumi config,
 * the emulator's flags and the Lambda's environment all validate through `checkRange`, so a
 * bad value fails the same way everywhere, naming the key as the user wrote it.
 */

export interface IntegerRange {
  min: number;
  max: number;
  default: number;
  unit: string;
}

// A class, not object literals: the Lambdas' code captures these ranges, and Pulumi 3.248's
// closure serializer throws on a plain object whose `default` is a primitive (it takes it for
// an `import * as` wrapper).
class Range implements IntegerRange {
  readonly default: number;
  constructor(
    readonly min: number,
    readonly max: number,
    fallback: number,
    readonly unit: string,
  ) {
    this.default = fallback;
  }
}

/** An IntegerRange that code serialized into a Lambda can capture. */
export function integerRange(min: number, max: number, fallback: number, unit: string): IntegerRange {
  return new Range(min, max, fallback, unit);
}

const RANGES = {
  /** API Gateway refuses posts over 128 KiB, so a larger limit could never be honoured. */
  maxMessageBytes: integerRange(1, 131072, 131072, "bytes"),
  fanOutConcurrency: integerRange(1, 1024, 64, "posts in flight"),
  /** API Gateway closes connections after 2 h; a shorter TTL would hide live connections. */
  connectionTtlSeconds: integerRange(7200, 604800, 7500, "seconds"),
  /**
   * Stage-wide throttling of every route invocation ($connect and messages), deployed and
   * emulated alike; capped at the default account-level limits, which apply on top.
   */
  throttleRateLimit: integerRange(1, 10000, 100, "messages per second"),
  throttleBurstLimit: integerRange(1, 5000, 200, "messages"),
  /** Receivers per shard job (sharded fan-out); a job's ids and message must fit one SQS message. */
  shardSize: integerRange(1, 10000, 1000, "receivers per shard job"),
  /** History on: how long a message is kept for catch-up (docs/history.md); at most a year. */
  historyTtlSeconds: integerRange(60, 31536000, 86400, "seconds"),
} as const satisfies Record<string, IntegerRange>;
/** historyTtlSeconds as the emulator and the Lambda environment take it: down to 1 s, so tests can see retention pass. */
const LOCAL_HISTORY_TTL = integerRange(1, RANGES.historyTtlSeconds.max, RANGES.historyTtlSeconds.default, "seconds");
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { LOCAL_HISTORY_TTL, RANGES };

export type RangeName = keyof typeof RANGES;

/** A configuration value outside its allowed range; `key` is the name the user wrote. */
export class ConfigError extends Error {
  readonly code = "InvalidConfig";
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = "ConfigError";
  }
}

/** Parses and range-checks an integer; `undefined` or empty text gives the default. */
export function checkInteger(key: string, raw: string | number | undefined, range: IntegerRange): number {
  if (raw === undefined || raw === "") return range.default;
  const value = typeof raw === "number" ? raw : Number(raw.trim());
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigError(
      key,
      `must be an integer from ${range.min} to ${range.max} ${range.unit} (default ${range.default}), got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** Checks one of RANGES by name. */
export function checkRange(name: RangeName, key: string, raw: string | number | undefined): number {
  return checkInteger(key, raw, RANGES[name]);
}

/** API Gateway's rule for stage names: letters, digits, hyphens and underscores, at most 128. */
const STAGE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Checks a stage name against API Gateway's rule; `fallback` says what the default is. */
export function checkStageName(key: string, raw: string, fallback: string): string {
  if (STAGE_NAME_PATTERN.test(raw)) return raw;
  throw new ConfigError(key, `must be 1 to 128 letters, digits, "-" or "_" (default: ${fallback}), got ${JSON.stringify(raw)}`);
}

/** `direct`: `$default` posts to everyone itself; `sharded`: worker Lambdas post shards from SQS. */
const FANOUT_MODES = ["direct", "sharded"] as const;
export { FANOUT_MODES };
export type FanOutMode = (typeof FANOUT_MODES)[number];

/** Checks a fan-out mode; `undefined` or empty text gives `direct`. */
export function checkFanOutMode(key: string, raw: string | undefined): FanOutMode {
  if (raw === undefined || raw.trim() === "") return "direct";
  const mode = FANOUT_MODES.find((candidate) => candidate === raw.trim());
  if (mode === undefined) throw new ConfigError(key, `must be one of ${FANOUT_MODES.join(", ")} (default direct), got ${JSON.stringify(raw)}`);
  return mode;
}

/** Checks a boolean switch written as `true` or `false`; `undefined` or empty text gives false. */
export function checkSwitch(key: string, raw: string | undefined): boolean {
  if (raw === undefined || raw.trim() === "") return false;
  if (raw.trim() === "true" || raw.trim() === "false") return raw.trim() === "true";
  throw new ConfigError(key, `must be true or false (default false), got ${JSON.stringify(raw)}`);
}

/** Splits a comma-separated list, dropping blanks: `"a, b,"` → `["a", "b"]`. */
export function splitList(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}
