import test from "ava";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { readStackSettings, type ConfigSource, type StackSettings } from "../infra/config";
import { ConfigError } from "../runtime/settings";
import { ROOT, runProgram } from "./helpers/program-run";

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

const DEFAULTS: StackSettings = {
  namePrefix: "message-broadcast-dev",
  maxMessageBytes: 131072,
  fanOutConcurrency: 64,
  connectionTtlSeconds: 7500,
  lambdaMemoryMb: 512,
  lambdaTimeoutSeconds: 30,
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
  tableDeletionProtection: false,
  retainTable: false,
  fanout: "direct",
  shardSize: 1000,
  shardWorkers: 10,
  presence: false,
};

test("defaults: an empty stack config gives the documented defaults", (t) => {
  t.deepEqual(readStackSettings(stub({}), IDENTITY), DEFAULTS);
});

test("defaults: the stage is named after the stack unless stageName is set", (t) => {
  t.is(readStackSettings(stub({}), { ...IDENTITY, stack: "prod" }).stageName, "prod");
  t.is(readStackSettings(stub({ stageName: "v2" }), { ...IDENTITY, stack: "prod" }).stageName, "v2");
});

// Pulumi hands every stack value to the program as text: YAML numbers, booleans and lists included.
function stackFileEntries(): { active: Record<string, string>; commented: string[] } {
  const active: Record<string, string> = {};
  const commented: string[] = [];
  for (const line of fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8").split("\n")) {
    const match = /^\s+(#\s*)?([\w-]+):(\w+):\s*(.*)$/.exec(line);
    if (!match) continue;
    const [, comment, namespace, key, value] = match;
    const name = namespace === "message-broadcast" ? key : `${namespace}:${key}`;
    if (comment) commented.push(name);
    else active[name] = value;
  }
  return { active, commented };
}

test("Pulumi.dev.yaml writes out every key the program reads, each with its default", (t) => {
  const { active, commented } = stackFileEntries();
  t.is(active["aws:region"], "ap-northeast-2");
  const { "aws:region": _region, ...own } = active;
  const config = stub(own);
  t.deepEqual(readStackSettings(config, IDENTITY), DEFAULTS);
  t.deepEqual([...config.read].sort(), [...Object.keys(own), ...commented].sort(), "keys read vs keys in Pulumi.dev.yaml");
  t.deepEqual(commented.sort(), ["accessToken", "alarmEmail"], "only keys without a default are commented out");
});

test("valid values at the edges of each range are accepted", (t) => {
  const settings = readStackSettings(
    stub({
      maxMessageBytes: "1",
      fanOutConcurrency: "1024",
      connectionTtlSeconds: "7200",
      lambdaMemoryMb: "10240",
      lambdaTimeoutSeconds: "900",
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
      tableDeletionProtection: "true",
      retainTable: "true",
      fanout: "sharded",
      shardSize: "10000",
      shardWorkers: "2",
      presence: "true",
    }),
    IDENTITY,
  );
  t.like(settings, {
    maxMessageBytes: 1,
    fanOutConcurrency: 1024,
    connectionTtlSeconds: 7200,
    lambdaMemoryMb: 10240,
    lambdaTimeoutSeconds: 900,
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
    tableDeletionProtection: true,
    retainTable: true,
    fanout: "sharded",
    shardSize: 10000,
    shardWorkers: 2,
    presence: true,
  });
});

test("accessToken: read as a secret Output", async (t) => {
  const token = readStackSettings(stub({ accessToken: "s3cret" }), IDENTITY).accessToken;
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
  ["lambdaTimeoutSeconds", "1.5", 'must be an integer from 1 to 900 seconds (default 30), got "1.5"'],
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
  ["accessToken", "two words", "must not contain whitespace (clients send it as ?token= or a Bearer header)"],
];

for (const [key, value, message] of BAD_VALUES) {
  test(`rejects ${key}=${value}, naming the key and what is allowed`, (t) => {
    const error = t.throws(() => readStackSettings(stub({ [key]: value }), IDENTITY), { instanceOf: ConfigError });
    t.is(error?.key, `message-broadcast:${key}`);
    t.is(error?.message, `message-broadcast:${key}: ${message}`);
  });
}

test("rejects a stack name that cannot prefix Lambda function names", (t) => {
  for (const stack of ["qa.eu", "x".repeat(36)]) {
    const error = t.throws(() => readStackSettings(stub({}), { ...IDENTITY, stack }), { instanceOf: ConfigError });
    t.is(error?.key, "stack name");
    t.regex(error?.message ?? "", /must be 1 to 53 letters, digits, "-" or "_"/);
  }
  t.is(readStackSettings(stub({}), { ...IDENTITY, stack: "x".repeat(35) }).namePrefix.length, 53);
});

test("program: a bad value stops `pulumi up` before any resource is registered", async (t) => {
  const report = await runProgram({ config: { fanOutConcurrency: "0" } });
  t.deepEqual(report.error, {
    name: "ConfigError",
    message: 'message-broadcast:fanOutConcurrency: must be an integer from 1 to 1024 posts in flight (default 64), got "0"',
  });
  t.deepEqual(report.resources, []);
});
