import test from "ava";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import { readStackConfig, type ConfigSource, type StackConfig } from "../../infra/config";
import { ConfigError } from "../../runtime/config/checks";
import { ROOT } from "../../harness/program-run";

const IDENTITY = { project: "message-broadcast", stack: "dev" };

/** A `pulumi.Config` stand-in that remembers which keys were read. */
function stub(values: Record<string, string>): ConfigSource & { read: Set<string> } {
  const read = new Set<string>();
  return {
    name: "message-broadcast",
    read,
    get(key) {
      read.add(key);
      return values[key];
    },
    getSecret(key) {
      read.add(key);
      return values[key] === undefined ? undefined : pulumi.secret(values[key]);
    },
  };
}

const DEFAULTS: StackConfig = {
  namePrefix: "message-broadcast-dev",
  maxMessageBytes: 131072,
  fanOutConcurrency: 64,
  connectionTtlSeconds: 7500,
  lambdaMemoryMb: 512,
  lambdaTimeoutSeconds: 29,
  architecture: "arm64",
  logRetentionDays: 14,
  stageName: "dev",
  throttleRateLimit: 100,
  throttleBurstLimit: 200,
  accessToken: undefined,
  allowedOrigins: [],
  bundleAwsSdk: false,
  monitoring: true,
  alarmEmail: undefined,
  accessLogging: false,
  apiGatewayCloudWatchRole: "none",
  tableKmsKeyArn: undefined,
  tableDeletionProtection: false,
  retainTable: false,
  fanout: "direct",
  shardSize: 1000,
  shardWorkers: 10,
  presence: false,
  shardWorkerTimeoutSeconds: 60,
  shardWorkerReservedConcurrency: false,
  history: false,
  historyTtlSeconds: 86400,
};

test("defaults: an empty stack config gives the documented defaults", (t) => {
  t.deepEqual(readStackConfig(stub({}), IDENTITY), DEFAULTS);
});

test("defaults: the stage is named after the stack unless stageName is set", (t) => {
  t.is(readStackConfig(stub({}), { ...IDENTITY, stack: "prod" }).stageName, "prod");
  t.is(readStackConfig(stub({ stageName: "v2" }), { ...IDENTITY, stack: "prod" }).stageName, "v2");
});

interface DeclaredKey {
  type: string;
  default: unknown;
  description: string;
  items?: { type: string };
}

function readYaml(file: string): Record<string, unknown> {
  const parsed = load(fs.readFileSync(path.join(ROOT, file), "utf8"));
  if (typeof parsed !== "object" || parsed === null) throw new Error(`${file} is not a map`);
  return parsed as Record<string, unknown>;
}

const declared = () => readYaml("Pulumi.yaml").config as Record<string, DeclaredKey>;

// What Pulumi hands the program for a default it applies (workspace mergeConfig: primitives as
// their text, arrays and objects as JSON).
const asPulumiPassesIt = (value: unknown) => (typeof value === "object" ? JSON.stringify(value) : `${value as string | number | boolean}`);

test("Pulumi.yaml declares every key the program reads, with a type, a description and the program's own default", (t) => {
  const keys = declared();
  const defaults = Object.fromEntries(Object.entries(keys).map(([key, { default: value }]) => [key, asPulumiPassesIt(value)]));
  const config = stub(defaults);
  // Pulumi applies these defaults, so they must give exactly what the program's own defaults give.
  t.deepEqual(readStackConfig(config, IDENTITY), DEFAULTS);
  t.deepEqual([...config.read].sort(), Object.keys(keys).sort(), "keys read vs keys declared");
  for (const [key, schema] of Object.entries(keys)) {
    t.true(["string", "integer", "boolean", "array"].includes(schema.type), key);
    t.true(schema.description.length > 10, key);
    t.not(schema.default, undefined, `${key}: without a default Pulumi would require the key in every stack`);
  }
  t.deepEqual(keys.allowedOrigins.items, { type: "string" });
});

test("Pulumi.dev.yaml keeps only what the dev stack changes", (t) => {
  t.deepEqual(readYaml("Pulumi.dev.yaml").config, { "aws:region": "ap-northeast-2" });
});

test("valid values at the edges of each range are accepted", (t) => {
  const settings = readStackConfig(
    stub({
      maxMessageBytes: "1",
      fanOutConcurrency: "1024",
      connectionTtlSeconds: "7200",
      lambdaMemoryMb: "10240",
      lambdaTimeoutSeconds: "29",
      architecture: "x86_64",
      logRetentionDays: "0",
      stageName: "Live_2-b",
      throttleRateLimit: "10000",
      throttleBurstLimit: "1",
      allowedOrigins: '["https://app.example.com","http://localhost:8080"]',
      bundleAwsSdk: "true",
      monitoring: "false",
      alarmEmail: "ops@example.com",
      accessLogging: "true",
      apiGatewayCloudWatchRole: "true",
      tableKmsKeyArn: "arn:aws:kms:ap-northeast-2:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
      tableDeletionProtection: "true",
      retainTable: "true",
      fanout: "sharded",
      shardSize: "10000",
      shardWorkers: "2",
      presence: "true",
      shardWorkerTimeoutSeconds: "900",
      shardWorkerReservedConcurrency: "true",
      history: "true",
      historyTtlSeconds: "31536000",
    }),
    IDENTITY,
  );
  t.like(settings, {
    maxMessageBytes: 1,
    fanOutConcurrency: 1024,
    connectionTtlSeconds: 7200,
    lambdaMemoryMb: 10240,
    lambdaTimeoutSeconds: 29,
    architecture: "x86_64",
    logRetentionDays: 0,
    stageName: "Live_2-b",
    throttleRateLimit: 10000,
    throttleBurstLimit: 1,
    allowedOrigins: ["https://app.example.com", "http://localhost:8080"],
    bundleAwsSdk: true,
    monitoring: false,
    alarmEmail: "ops@example.com",
    accessLogging: true,
    apiGatewayCloudWatchRole: "create",
    tableKmsKeyArn: "arn:aws:kms:ap-northeast-2:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    tableDeletionProtection: true,
    retainTable: true,
    fanout: "sharded",
    shardSize: 10000,
    shardWorkers: 2,
    presence: true,
    shardWorkerTimeoutSeconds: 900,
    shardWorkerReservedConcurrency: true,
    history: true,
    historyTtlSeconds: 31536000,
  });
  t.is(readStackConfig(stub({ accessLogging: "true", apiGatewayCloudWatchRole: "existing" }), IDENTITY).apiGatewayCloudWatchRole, "existing");
});

test("accessToken: read as a secret Output", async (t) => {
  const token = readStackConfig(stub({ accessToken: "s3cret" }), IDENTITY).accessToken;
  if (!token) return t.fail("no token");
  t.true(await pulumi.isSecret(token));
  t.is(await new Promise((resolve) => token.apply(resolve)), "s3cret");
});

const ORIGINS_EXPECTED = 'must be a JSON array of origins such as ["https://app.example.com"]';
const BAD_VALUES: Array<[string, string, string]> = [
  ["fanOutConcurrency", "-1", 'must be an integer from 1 to 1024 posts in flight (default 64), got "-1"'],
  ["fanOutConcurrency", "many", 'must be an integer from 1 to 1024 posts in flight (default 64), got "many"'],
  ["connectionTtlSeconds", "3600", 'must be an integer from 7200 to 604800 seconds (default 7500), got "3600"'],
  ["maxMessageBytes", "200000", 'must be an integer from 1 to 131072 bytes (default 131072), got "200000"'],
  ["lambdaMemoryMb", "64", 'must be an integer from 128 to 10240 MB (default 512), got "64"'],
  ["lambdaTimeoutSeconds", "1.5", 'must be an integer from 1 to 29 seconds (default 29), got "1.5"'],
  ["lambdaTimeoutSeconds", "30", 'must be an integer from 1 to 29 seconds (default 29), got "30"'],
  ["shardWorkerTimeoutSeconds", "901", 'must be an integer from 1 to 900 seconds (default 60), got "901"'],
  ["shardWorkerReservedConcurrency", "10", 'must be true or false (default false), got "10"'],
  ["apiGatewayCloudWatchRole", "yes", 'must be true, false or existing (default false), got "yes"'],
  [
    "tableKmsKeyArn",
    "alias/aws/dynamodb",
    'must be a KMS key ARN such as arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (unset: the AWS-owned key), got "alias/aws/dynamodb"',
  ],
  ["throttleRateLimit", "0", 'must be an integer from 1 to 10000 messages per second (default 100), got "0"'],
  ["throttleBurstLimit", "lots", 'must be an integer from 1 to 5000 messages (default 200), got "lots"'],
  ["architecture", "sparc", 'must be one of arm64, x86_64 (default arm64), got "sparc"'],
  [
    "logRetentionDays",
    "10",
    'must be one of 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 days (default 14; 0 never expires), got "10"',
  ],
  ["stageName", "my stage", 'must be 1 to 128 letters, digits, "-" or "_" (default: the stack name), got "my stage"'],
  ["stageName", "$default", 'must be 1 to 128 letters, digits, "-" or "_" (default: the stack name), got "$default"'],
  ["allowedOrigins", "https://app.example.com", `${ORIGINS_EXPECTED}, got "https://app.example.com"`],
  ["allowedOrigins", '{"origin":"https://app.example.com"}', `${ORIGINS_EXPECTED}, got "{\\"origin\\":\\"https://app.example.com\\"}"`],
  ["allowedOrigins", '["https://app.example.com/"]', `${ORIGINS_EXPECTED} (scheme://host[:port], no path or trailing slash), got entry "https://app.example.com/"`],
  ["bundleAwsSdk", "yes", 'must be true or false (default false), got "yes"'],
  ["monitoring", "1", 'must be true or false (default true), got "1"'],
  ["alarmEmail", "ops", 'must be an email address, got "ops"'],
  ["fanout", "parallel", 'must be one of direct, sharded (default direct), got "parallel"'],
  ["shardSize", "0", 'must be an integer from 1 to 10000 receivers per shard job (default 1000), got "0"'],
  ["shardWorkers", "1", 'must be an integer from 2 to 1000 concurrent worker invocations (default 10), got "1"'],
  ["history", "on", 'must be true or false (default false), got "on"'],
  ["historyTtlSeconds", "59", 'must be an integer from 60 to 31536000 seconds (default 86400), got "59"'],
  ["accessToken", "two words", "must not contain whitespace (clients send it as ?token= or a Bearer header)"],
];

for (const [key, value, message] of BAD_VALUES) {
  test(`rejects ${key}=${value}, naming the key and what is allowed`, (t) => {
    const error = t.throws(() => readStackConfig(stub({ [key]: value }), IDENTITY), { instanceOf: ConfigError });
    t.is(error?.key, `message-broadcast:${key}`);
    t.is(error?.message, `message-broadcast:${key}: ${message}`);
  });
}

test("rejects a stack name whose resource names would not fit, naming the tightest one", (t) => {
  // "-disconnect-role" and Pulumi's 8 random characters within IAM's 64: a 40-character prefix.
  for (const stack of ["qa.eu", "x".repeat(23)]) {
    const error = t.throws(() => readStackConfig(stub({}), { ...IDENTITY, stack }), { instanceOf: ConfigError });
    t.is(error?.key, "stack name");
    t.is(
      error?.message,
      `stack name: "message-broadcast-${stack}" (project-stack) prefixes every resource name, so it must be 1 to 40 letters, digits, "-" or "_" ` +
        `(the IAM role name "message-broadcast-${stack}-disconnect-role" plus Pulumi's 8 random characters must fit AWS's 64); choose a shorter stack name without other characters`,
    );
  }
  t.is(readStackConfig(stub({}), { ...IDENTITY, stack: "x".repeat(22) }).namePrefix.length, 40);
});

test("accessLogging without the account's CloudWatch role stops with the one-time commands", (t) => {
  const error = t.throws(() => readStackConfig(stub({ accessLogging: "true" }), IDENTITY), { instanceOf: ConfigError });
  t.is(error?.key, "message-broadcast:accessLogging");
  t.regex(error?.message ?? "", /`pulumi config set apiGatewayCloudWatchRole true`/);
  t.regex(error?.message ?? "", /`pulumi config set apiGatewayCloudWatchRole existing`/);
  t.regex(error?.message ?? "", /CloudWatch Logs role ARN must be set in account settings to enable logging/);
});
