/**
 * `fanout: sharded`: the shard queue, its dead-letter queue, the worker function with its own
 * least-privilege role (reserved concurrency only when asked), and the event source mapping; direct mode (the
 * default, test/infra/infra.test.ts) has none of them. The uploaded code of `$default` and the worker
 * then runs a whole sharded session.
 */
import test, { type ExecutionContext } from "ava";
import { readStackConfig, type ConfigSource } from "../../infra/config";
import { shardRetentionSeconds, shardVisibilitySeconds } from "../../infra/shards";
import { ConfigError } from "../../runtime/config/checks";
import { SHARD_MAX_RECEIVE_COUNT } from "../../runtime/delivery/shard-jobs";
import { runProgram, type ProgramReport } from "../../harness/program-run";
import { MOCK_ACCOUNT, MOCK_REGION } from "../../harness/pulumi-mocks";
import { all, asList, countByType, once, one, parsePolicy, succeeded } from "../helpers/report";
import { assertPublishSession } from "../helpers/serialized/publish";
import { assertShardedSession } from "../helpers/serialized/sharded";

const PREFIX = "message-broadcast-dev";
const sharded = once(() => runProgram({ config: { fanout: "sharded", shardSize: "250", shardWorkers: "20", lambdaTimeoutSeconds: "20", shardWorkerTimeoutSeconds: "40" } }));
const reserved = once(() => runProgram({ config: { fanout: "sharded", shardWorkers: "20", shardWorkerReservedConcurrency: "true" } }));
const direct = once(() => runProgram());

const SHARD_TYPES = ["aws:sqs/queue:Queue", "aws:lambda/eventSourceMapping:EventSourceMapping"];

function policyOf(report: ProgramReport, fn: string) {
  return parsePolicy(one(report, "aws:iam/rolePolicy:RolePolicy", `${PREFIX}-${fn}-policy`).inputs.policy);
}

test("sharded: two queues, a fourth function with its role, log group and alarms, one event source mapping", async (t) => {
  const [withShards, without] = [await sharded(), await direct()];
  succeeded(t, withShards);
  const added = Object.fromEntries(
    Object.entries(countByType(withShards))
      .map(([type, count]): [string, number] => [type, count - (countByType(without)[type] ?? 0)])
      .filter(([, difference]) => difference !== 0),
  );
  t.deepEqual(added, {
    "aws:sqs/queue:Queue": 2,
    "aws:lambda/function:Function": 1,
    "aws:iam/role:Role": 1,
    "aws:iam/rolePolicy:RolePolicy": 1,
    "aws:cloudwatch/logGroup:LogGroup": 1,
    "aws:lambda/eventSourceMapping:EventSourceMapping": 1,
    // Errors and throttles of the worker, and shard jobs in the dead-letter queue.
    "aws:cloudwatch/metricAlarm:MetricAlarm": 3,
  });
  for (const type of SHARD_TYPES) t.is(all(without, type).length, 0, `direct mode declares no ${type}`);
  for (const route of ["connect", "disconnect", "default", "publish"]) {
    t.false(JSON.stringify(policyOf(without, route)).includes("sqs:"), `direct ${route} has no SQS permission`);
  }
});

test("sharded: the queue is encrypted, hides a job for 6× the worker timeout, and dead-letters after 5 deliveries", async (t) => {
  const report = await sharded();
  const dlq = one(report, "aws:sqs/queue:Queue", `${PREFIX}-shards-dlq`);
  const queue = one(report, "aws:sqs/queue:Queue", `${PREFIX}-shards`);
  t.like(dlq.inputs, { name: `${PREFIX}-shards-dlq`, sqsManagedSseEnabled: true, messageRetentionSeconds: 1209600 });
  t.like(queue.inputs, { name: `${PREFIX}-shards`, sqsManagedSseEnabled: true, visibilityTimeoutSeconds: 240 });
  t.deepEqual(JSON.parse(String(queue.inputs.redrivePolicy)), { deadLetterTargetArn: dlq.state.arn, maxReceiveCount: 5 });
});

test("sharded: maximumConcurrency caps the workers, no reserved concurrency unless asked; one job per invocation", async (t) => {
  const report = await sharded();
  const worker = one(report, "aws:lambda/function:Function", `${PREFIX}-shards`);
  const queue = one(report, "aws:sqs/queue:Queue", `${PREFIX}-shards`);
  // The worker's own timeout (SQS invokes it); the route functions keep theirs.
  t.like(worker.inputs, { name: `${PREFIX}-shards`, timeout: 40 });
  t.false("reservedConcurrentExecutions" in worker.inputs);
  t.is(one(report, "aws:lambda/function:Function", `${PREFIX}-default`).inputs.timeout, 20);
  t.like(one(await reserved(), "aws:lambda/function:Function", `${PREFIX}-shards`).inputs, { reservedConcurrentExecutions: 20 });
  const variables = (worker.inputs.environment as { variables: Record<string, string> }).variables;
  t.deepEqual(Object.keys(variables).sort(), ["CONNECTION_TTL_SECONDS", "FANOUT_CONCURRENCY", "MAX_MESSAGE_BYTES", "TABLE_NAME"]);
  t.deepEqual(one(report, "aws:lambda/eventSourceMapping:EventSourceMapping", `${PREFIX}-shards-source`).inputs, {
    eventSourceArn: queue.state.arn,
    functionName: worker.state.arn,
    batchSize: 1,
    functionResponseTypes: ["ReportBatchItemFailures"],
    scalingConfig: { maximumConcurrency: 20 },
  });
  const defaultFn = one(report, "aws:lambda/function:Function", `${PREFIX}-default`);
  t.like((defaultFn.inputs.environment as { variables: Record<string, string> }).variables, {
    FANOUT_MODE: "sharded",
    SHARD_QUEUE_URL: `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${PREFIX}-shards`,
    SHARD_SIZE: "250",
  });
  // Publish enqueues shard jobs on the same queue.
  t.like((one(report, "aws:lambda/function:Function", `${PREFIX}-publish`).inputs.environment as { variables: Record<string, string> }).variables, {
    FANOUT_MODE: "sharded",
    SHARD_QUEUE_URL: `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${PREFIX}-shards`,
    SHARD_SIZE: "250",
  });
});

test("sharded: least privilege — $default may only send to the queue; the worker receives from it, posts, deletes rows", async (t) => {
  const report = await sharded();
  const queueArn = `arn:aws:sqs:${MOCK_REGION}:${MOCK_ACCOUNT}:${PREFIX}-shards`;
  const apiId = one(report, "aws:apigatewayv2/api:Api", `${PREFIX}-api`).id;
  const tableArn = String(one(report, "aws:dynamodb/table:Table", `${PREFIX}-connections`).state.arn);
  const connections = `arn:aws:execute-api:${MOCK_REGION}:${MOCK_ACCOUNT}:${apiId}/dev/POST/@connections/*`;
  const logs = (fn: string) => `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:/aws/lambda/${PREFIX}-${fn}:*`;
  const statements = (fn: string) => policyOf(report, fn).Statement.map((s) => [asList(s.Action), asList(s.Resource)]);
  t.deepEqual(statements("shards"), [
    [["dynamodb:DeleteItem"], [tableArn]],
    [["execute-api:ManageConnections"], [connections]],
    [["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [queueArn]],
    [["logs:CreateLogStream", "logs:PutLogEvents"], [logs("shards")]],
  ]);
  t.deepEqual(statements("default"), [
    [["dynamodb:GetItem", "dynamodb:DeleteItem"], [tableArn]],
    [["dynamodb:Query"], [`${tableArn}/index/room-index`]],
    [["execute-api:ManageConnections"], [connections]],
    [["sqs:SendMessage"], [queueArn]],
    [["logs:CreateLogStream", "logs:PutLogEvents"], [logs("default")]],
  ]);
  // Sharded publish only plans and sends shard jobs: the workers post and delete gone rows.
  t.deepEqual(statements("publish"), [
    [["dynamodb:Query"], [`${tableArn}/index/room-index`]],
    [["sqs:SendMessage"], [queueArn]],
    [["logs:CreateLogStream", "logs:PutLogEvents"], [logs("publish")]],
  ]);
  for (const route of ["connect", "disconnect"]) t.false(JSON.stringify(policyOf(report, route)).includes("sqs:"));
});

test.serial("serialized Lambda code, sharded: $default enqueues, the uploaded worker delivers, `_id` in every copy", async (t) => {
  const report = await sharded();
  succeeded(t, report);
  await assertShardedSession(t, report, PREFIX);
});

// Serial, as the session above: both swap console.log and process.env.
test.serial("serialized publish code, sharded: 202 with the shard count, the uploaded worker delivers `_server` copies", async (t) => {
  const report = await sharded();
  succeeded(t, report);
  await assertPublishSession(t, report, PREFIX, "sharded");
});

// Every worker timeout the config accepts, found by asking the validation.
const noConfig = (timeout: string): ConfigSource => ({ name: "message-broadcast", get: (key) => (key === "shardWorkerTimeoutSeconds" ? timeout : undefined), getSecret: () => undefined });
const acceptedTimeouts = Array.from({ length: 1000 }, (_, index) => index).filter((timeout) => {
  try {
    return readStackConfig(noConfig(String(timeout)), { project: "message-broadcast", stack: "dev" }).shardWorkerTimeoutSeconds === timeout;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
});

/** A job failing every receive reaches the DLQ after maxReceiveCount visibility timeouts; SQS's retention counts from its first send. */
function assertDeadLetteredBeforeExpiry(t: ExecutionContext, timeout: number, queue: { visibilityTimeoutSeconds: number; messageRetentionSeconds: number; maxReceiveCount: number }, dlqRetention: number) {
  t.true(queue.visibilityTimeoutSeconds >= 6 * timeout, `timeout ${timeout}: visibility`);
  const deadLettered = queue.maxReceiveCount * queue.visibilityTimeoutSeconds;
  t.true(queue.messageRetentionSeconds > deadLettered, `timeout ${timeout}: a job expires at ${queue.messageRetentionSeconds} s, before it is dead-lettered at ${deadLettered} s`);
  t.true(queue.messageRetentionSeconds >= 60 && queue.messageRetentionSeconds <= 1209600, `timeout ${timeout}: within SQS's range`);
  // The DLQ keeps the first enqueue time too: what is left of its retention is the time to read it.
  t.true(dlqRetention - queue.messageRetentionSeconds >= 13 * 86400, `timeout ${timeout}: under 13 days to read the dead-lettered job`);
}

test("sharded: over every accepted worker timeout, a job that always fails is dead-lettered before it can expire", (t) => {
  t.deepEqual([acceptedTimeouts[0], acceptedTimeouts.at(-1), acceptedTimeouts.length], [1, 900, 900]);
  for (const timeout of acceptedTimeouts) {
    const queue = { visibilityTimeoutSeconds: shardVisibilitySeconds(timeout), messageRetentionSeconds: shardRetentionSeconds(timeout), maxReceiveCount: SHARD_MAX_RECEIVE_COUNT };
    assertDeadLetteredBeforeExpiry(t, timeout, queue, 1209600);
  }
});

for (const timeout of [1, 120, 900]) {
  test(`sharded: the declared queues dead-letter before expiry with shardWorkerTimeoutSeconds ${timeout}`, async (t) => {
    const report = await runProgram({ config: { fanout: "sharded", shardWorkerTimeoutSeconds: String(timeout) } });
    succeeded(t, report);
    const queue = one(report, "aws:sqs/queue:Queue", `${PREFIX}-shards`).inputs;
    const { maxReceiveCount } = JSON.parse(String(queue.redrivePolicy)) as { maxReceiveCount: number };
    const declared = { visibilityTimeoutSeconds: Number(queue.visibilityTimeoutSeconds), messageRetentionSeconds: Number(queue.messageRetentionSeconds), maxReceiveCount };
    assertDeadLetteredBeforeExpiry(t, timeout, declared, Number(one(report, "aws:sqs/queue:Queue", `${PREFIX}-shards-dlq`).inputs.messageRetentionSeconds));
  });
}
