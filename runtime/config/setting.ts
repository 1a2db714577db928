/**
 * What one entry of the settings table (runtime/config/settings.ts) is, the builders its entries
 * are written with, and the one check every host runs on a raw value of it.
 */
import { checkBoolean, checkChoice, checkInteger, splitList } from "./checks";

/** How a value is written and checked. `secret` is text that only ever travels as a secret. */
type SettingKind = "integer" | "boolean" | "enum" | "string" | "list" | "secret";

/** The Lambdas a variable is set on (infra/broadcast-api.ts, infra/publish.ts, infra/shards.ts). */
type FunctionName = "connect" | "disconnect" | "default" | "publish" | "shardWorker";

/** Where a setting is read. Every field optional: a setting may live on one host only. */
interface SettingHomes {
  /** Deployable: the stack config key is the setting's name (`message-broadcast:<name>`). */
  stack?: boolean;
  /** The Lambda environment variable the functions read. */
  env?: string;
  /** The functions that read `env` (every route function when unset). */
  functions?: readonly FunctionName[];
  /** The emulator's `npm start` flag, without `--`. */
  flag?: string;
}

type Value = number | boolean | string | readonly string[] | undefined;

// A class, not object literals: the Lambdas' code captures the table, and Pulumi 3.248's closure
// serializer throws on a plain object whose `default` is a primitive (it takes it for an
// `import * as` wrapper). The builders below take object literals, which are never captured.
class Setting<T extends Value = Value> {
  readonly default: T;
  constructor(
    readonly kind: SettingKind,
    fallback: T,
    readonly meaning: string,
    readonly homes: SettingHomes,
    readonly min = 0,
    readonly max = 0,
    readonly unit = "",
    readonly choices: readonly (string | number)[] = [],
  ) {
    this.default = fallback;
  }
}
export type { Setting };

type Common = SettingHomes & { meaning: string };

// Only the homes are kept from a builder's argument: the argument itself has a primitive `default`.
function homesOf(spec: SettingHomes): SettingHomes {
  return { stack: spec.stack, env: spec.env, functions: spec.functions, flag: spec.flag };
}

/** An integer from `min` to `max`, in `unit` (the unit is part of the error message). */
export function integer(spec: Common & { default: number; min: number; max: number; unit: string }): Setting<number> {
  return new Setting("integer", spec.default, spec.meaning, homesOf(spec), spec.min, spec.max, spec.unit);
}

/** `true` or `false`. */
export function boolean(spec: Common & { default: boolean }): Setting<boolean> {
  return new Setting("boolean", spec.default, spec.meaning, homesOf(spec));
}

/** One of `choices`. */
export function choice<C extends string | number>(spec: Common & { choices: readonly C[]; default: C; unit?: string }): Setting<C extends string ? C : number> {
  return new Setting("enum", spec.default as never, spec.meaning, homesOf(spec), 0, 0, spec.unit ?? "", spec.choices);
}

/** Free text (checked by the code that reads it, if at all); `default` undefined means unset. */
export function text(spec: Common & { default?: string }): Setting<string | undefined> {
  return new Setting("string", spec.default, spec.meaning, homesOf(spec));
}

/** A list of text: comma-separated in a variable or flag, a JSON array in the stack config. */
export function list(spec: Common): Setting<readonly string[]> {
  return new Setting("list", [], spec.meaning, homesOf(spec));
}

/** Text that is only ever handed on as a secret (a Pulumi secret Output); unset by default. */
export function secret(spec: Common): Setting<string | undefined> {
  return new Setting("secret", undefined, spec.meaning, homesOf(spec));
}

/**
 * Checks a raw value (text from a variable, flag or stack key, or a typed value from code)
 * against its setting; unset or blank gives the default. A bad value throws ConfigError naming `key`.
 */
export function checkSetting<T extends Value>(key: string, setting: Setting<T> | Setting,  raw: string | number | boolean | readonly string[] | undefined): T {
  const checked = (value: unknown) => value as T;
  if (setting.kind === "integer") return checked(checkInteger(key, raw as string | number | undefined, setting as unknown as Setting<number>));
  if (setting.kind === "boolean") return checked(typeof raw === "boolean" ? raw : checkBoolean(key, raw as string | undefined, setting.default as boolean));
  if (setting.kind === "enum") return checked(checkChoice(key, raw as string | undefined, setting.choices, setting.default as string));
  if (setting.kind === "list") return checked(Array.isArray(raw) ? raw : splitList(raw as string | undefined));
  return checked(raw === undefined || raw === "" ? setting.default : raw);
}

/**
 * The one-line description `pulumi config` and `npm start -- --help` show: the meaning, then
 * what is allowed (Pulumi.yaml's `description` is this, as test/infra/settings.test.ts checks).
 */
export function describeSetting(name: string, setting: Setting, host: "stack" | "emulator" = "stack"): string {
  if (setting.kind === "integer") return `${setting.meaning} ${setting.min}-${setting.max} ${setting.unit}.`;
  if (setting.kind === "enum") return `${setting.meaning} One of ${setting.choices.join(", ")}.`;
  if (setting.kind === "secret" && host === "stack") return `${setting.meaning} Set it only as a secret: pulumi config set --secret ${name} <value>.`;
  if (setting.kind === "list" && host === "stack") return `${setting.meaning} Set entries with pulumi config set --path '${name}[0]' <value>.`;
  return setting.meaning;
}
