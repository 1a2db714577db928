/**
 * Every tunable setting with its default and allowed range, defined once. The Pulumi config,
 * the emulator's flags and the Lambda's environment all validate through `checkSetting`, so a
 * bad value fails the same way everywhere, naming the key as the user wrote it.
 */

export interface IntegerRange {
  min: number;
  max: number;
  default: number;
  unit: string;
}

export const SETTINGS = {
  /** API Gateway refuses posts over 128 KiB, so a larger limit could never be honoured. */
  maxMessageBytes: { min: 1, max: 131072, default: 131072, unit: "bytes" },
  fanOutConcurrency: { min: 1, max: 1024, default: 64, unit: "posts in flight" },
  /** API Gateway closes connections after 2 h; a shorter TTL would hide live connections. */
  connectionTtlSeconds: { min: 7200, max: 604800, default: 7500, unit: "seconds" },
} as const satisfies Record<string, IntegerRange>;

export type SettingName = keyof typeof SETTINGS;

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

/** Checks one of SETTINGS by name. */
export function checkSetting(name: SettingName, key: string, raw: string | number | undefined): number {
  return checkInteger(key, raw, SETTINGS[name]);
}

/** Splits a comma-separated list, dropping blanks: `"a, b,"` → `["a", "b"]`. */
export function splitList(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}
