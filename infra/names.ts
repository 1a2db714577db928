/**
 * Every name this program gives AWS, written once as a template of the stack's name prefix
 * (`${project}-${stack}`), with the limit AWS puts on it. `checkNamePrefix` accepts only prefixes
 * with which every name fits its limit; a new resource is one line here.
 */
import { ConfigError } from "../runtime/config/checks";

/**
 * Pulumi auto-names a resource given no explicit name as its logical name, "-", then 7 random
 * hex characters: 8 more characters (pulumi-terraform-bridge pkg/tfbridge `AutoName`: Separator
 * "-", Randlen 7; pulumi/pulumi sdk/go/common/resource `NewUniqueHex` then refuses "name '…' plus
 * 7 random chars is longer than maximum length 64" for an IAM role, failing the preview).
 */
const AUTO_NAME_SUFFIX_LENGTH = 8;

/** Where the prefix goes in a template. */
const PREFIX = "{prefix}";

export interface NamedResource {
  /** The name with `{prefix}` for the stack's prefix, e.g. `{prefix}-connect-role`. */
  template: string;
  /** AWS's limit on the whole name, in characters. */
  limit: number;
  /** Pulumi appends AUTO_NAME_SUFFIX_LENGTH characters (no explicit name is given). */
  autoNamed: boolean;
  what: string;
}

type NameRow = [template: string, limit: number, autoNamed: boolean, what: string];

/** The functions (`{prefix}-connect`…): each brings the names of FUNCTION_NAMES. Routes keep AWS's route keys. */
const FUNCTIONS = ["connect", "disconnect", "default", "shards", "publish"] as const;
export type FunctionKey = (typeof FUNCTIONS)[number];

// Per function: `{fn}` is the function's name.
const FUNCTION_NAMES = {
  function: ["{fn}", 64, false, "Lambda function name"],
  logGroup: ["/aws/lambda/{fn}", 512, false, "log group name"],
  role: ["{fn}-role", 64, true, "IAM role name"],
  policy: ["{fn}-policy", 128, true, "IAM inline policy name"],
  invoke: ["{fn}-invoke", 100, true, "Lambda permission statement id"],
  errors: ["{fn}-errors", 255, true, "CloudWatch alarm name"],
  throttles: ["{fn}-throttles", 255, true, "CloudWatch alarm name"],
} satisfies Record<string, NameRow>;

// Once per stack (or per option).
const STACK_NAMES = {
  table: ["{prefix}-connections", 255, true, "DynamoDB table name"],
  historyTable: ["{prefix}-history", 255, true, "DynamoDB table name"],
  api: ["{prefix}-api", 128, true, "API Gateway API name"],
  accessLogGroup: ["/aws/apigateway/{prefix}/access", 512, false, "log group name"],
  apiGatewayLogsRole: ["{prefix}-apigw-logs-role", 64, true, "IAM role name"],
  dashboard: ["{prefix}-dashboard", 255, false, "CloudWatch dashboard name"],
  alarmTopic: ["{prefix}-alarms", 256, true, "SNS topic name"],
  shardQueue: ["{prefix}-shards", 80, false, "SQS queue name"],
  deadLetterQueue: ["{prefix}-shards-dlq", 80, false, "SQS queue name"],
  deadLetterAlarm: ["{prefix}-shards-dead-letters", 255, true, "CloudWatch alarm name"],
} satisfies Record<string, NameRow>;

export type FunctionNames = Record<keyof typeof FUNCTION_NAMES, string>;

const functionTemplate = (fn: FunctionKey, template: string) => template.replace("{fn}", `${PREFIX}-${fn}`);
const fill = <K extends string>(rows: Record<K, NameRow>, named: (template: string) => string) =>
  Object.fromEntries(Object.entries<NameRow>(rows).map(([key, [template]]) => [key, named(template)])) as Record<K, string>;

/** The AWS names of function `fn`'s resources in the stack `prefix`. */
export function functionNames(prefix: string, fn: FunctionKey): FunctionNames {
  return fill(FUNCTION_NAMES, (template) => functionTemplate(fn, template).replace(PREFIX, prefix));
}

/** The AWS names of the stack's own resources. */
export function stackNames(prefix: string): Record<keyof typeof STACK_NAMES, string> {
  return fill(STACK_NAMES, (template) => template.replace(PREFIX, prefix));
}

const entry = ([template, limit, autoNamed, what]: NameRow): NamedResource => ({ template, limit, autoNamed, what });

/** Every name, with its limit. */
export const RESOURCE_NAMES: readonly NamedResource[] = [
  ...FUNCTIONS.flatMap((fn) => Object.values<NameRow>(FUNCTION_NAMES).map(([template, ...rest]) => entry([functionTemplate(fn, template), ...rest]))),
  ...Object.values<NameRow>(STACK_NAMES).map(entry),
];

/** The characters a name adds to the prefix, auto-name suffix included. */
function addedLength(name: NamedResource): number {
  return name.template.length - PREFIX.length + (name.autoNamed ? AUTO_NAME_SUFFIX_LENGTH : 0);
}

/** Names allow these characters (Lambda's and SQS's rules are the narrowest). */
const PREFIX_CHARACTERS = /^[A-Za-z0-9_-]+$/;

/** Returns `prefix` when every name fits with it; otherwise throws, naming the tightest name. */
export function checkNamePrefix(prefix: string): string {
  const [name] = [...RESOURCE_NAMES].sort((a, b) => a.limit - addedLength(a) - (b.limit - addedLength(b)));
  const maxPrefixLength = name.limit - addedLength(name);
  if (PREFIX_CHARACTERS.test(prefix) && prefix.length <= maxPrefixLength) return prefix;
  const longest = name.template.replace(PREFIX, prefix);
  throw new ConfigError(
    "stack name",
    `"${prefix}" (project-stack) prefixes every resource name, so it must be 1 to ${maxPrefixLength} letters, digits, "-" or "_" ` +
      `(the ${name.what} "${longest}"${name.autoNamed ? " plus Pulumi's 8 random characters" : ""} must fit AWS's ${name.limit}); choose a shorter stack name without other characters`,
  );
}
