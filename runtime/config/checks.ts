/**
 * Checks of configuration values. The stack config, the emulator's options and flags and the
 * Lambda's environment all validate through these (by way of runtime/config/setting.ts's
 * `checkSetting`), so a bad value fails the same way everywhere, naming the key as the user wrote it.
 */

export interface IntegerRange {
  min: number;
  max: number;
  default: number;
  unit: string;
}

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

/** API Gateway's rule for stage names: letters, digits, hyphens and underscores, at most 128. */
const STAGE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Checks a stage name against API Gateway's rule; `fallback` says what the default is. */
export function checkStageName(key: string, raw: string, fallback: string): string {
  if (STAGE_NAME_PATTERN.test(raw)) return raw;
  throw new ConfigError(key, `must be 1 to 128 letters, digits, "-" or "_" (default: ${fallback}), got ${JSON.stringify(raw)}`);
}

/** Checks one of `choices` (numbers compare as written); `undefined` or blank text gives `fallback`. */
export function checkChoice<C extends string | number>(key: string, raw: string | undefined, choices: readonly C[], fallback: C): C {
  if (raw === undefined || raw.trim() === "") return fallback;
  const match = choices.find((candidate) => String(candidate) === raw.trim());
  if (match === undefined) throw new ConfigError(key, `must be one of ${choices.join(", ")} (default ${fallback}), got ${JSON.stringify(raw)}`);
  return match;
}

/** Checks a boolean written as `true` or `false`; `undefined` or blank text gives `fallback`. */
export function checkBoolean(key: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw.trim() === "") return fallback;
  if (raw.trim() === "true" || raw.trim() === "false") return raw.trim() === "true";
  throw new ConfigError(key, `must be true or false (default ${fallback}), got ${JSON.stringify(raw)}`);
}

/** Splits a comma-separated list, dropping blanks: `"a, b,"` → `["a", "b"]`. */
export function splitList(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}
