/**
 * Sharded fan-out: shard jobs and their size limit, the SQS shard queue (the real SQS client
 * against the local stand-in for SQS delivery), and the at-least-once behaviour clients see:
 * a retried shard repeats its copies with the same `_id`, a shard that keeps failing is dead-lettered.
 */
import { createServer } from "node:http";
import { SQSClient } from "@aws-sdk/client-sqs";
import test from "ava";
import { transformMessage } from "../../runtime/contract/message";
import { SQS_MAX_MESSAGE_BYTES, decodeShardJob, encodeShardJob, planShardJobs, type ShardJob } from "../../runtime/delivery/shard-jobs";
import { createSqsShardQueue } from "../../runtime/delivery/sqs-shard-queue";
import type { SqsEvent } from "../../runtime/routes/shard-worker";
import { closeServer, listen } from "../../local/net/http";
import { startLocalShardQueue } from "../../local/services/sqs-stand-in";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import type { EmulatorOptions } from "../../local/options";
import { AWS_ID, connectMany, parseFrame, type Frame } from "../helpers/clients";
import { buildHandlers, buildShardWorker, captureLog, expectNothingBefore, invocation, startTestEmulator, startWithWrappedHandlers, type LogCapture } from "../helpers/emulator";

const MESSAGE = { endpoint: "https://api.example/dev", sender: "senderSenderSen=", messageId: "msg-1", base: '{"data":"x","_now":1,"_id":"msg-1"}' };

test("transformMessage with a message id: `_id` after `_now`, before `_me`; a client's own `_id` is replaced", (t) => {
  const result = transformMessage('{"a":1,"_id":"mine","_now":5}', { now: 1000, id: "m-1" }, 131072);
  t.true(result.ok);
  if (!result.ok) return;
  t.is(result.outgoing.base, '{"a":1,"_now":1000,"_id":"m-1"}');
  t.is(result.outgoing.sender, '{"a":1,"_now":1000,"_id":"m-1","_me":true}');
  t.is(result.outgoing.others, '{"a":1,"_now":1000,"_id":"m-1","_me":false}');
  const plain = transformMessage("[1]", { now: 1000, id: "m-2" }, 131072);
  t.is(plain.ok ? plain.outgoing.others : "", '{"data":[1],"_now":1000,"_id":"m-2","_me":false}');
  // `_id` is reserved in either mode (shared/design.md): without an id (direct mode) a client's own is removed too.
  const direct = transformMessage('{"_id":"mine"}', { now: 1000 }, 131072);
  t.is(direct.ok ? direct.outgoing.others : "", '{"_now":1000,"_me":false}');
});

test("planShardJobs: at most shardSize receivers per job, every receiver once, in order", (t) => {
  const ids = Array.from({ length: 2501 }, (_, i) => `conn${String(i).padStart(11, "0")}=`);
  const jobs = planShardJobs(MESSAGE, ids, 1000);
  t.deepEqual(jobs.map((job) => job.receivers.length), [1000, 1000, 501]);
  t.deepEqual(jobs.flatMap((job) => job.receivers), ids);
  t.deepEqual(planShardJobs(MESSAGE, [], 1000), []);
});

test("planShardJobs: a 128 KiB message with many long ids is split so every job fits one SQS message", (t) => {
  // Quotes and backslashes would double if the message were escaped into the job: it is not.
  const base = `{"data":"${'\\"'.repeat(65000)}","_now":1,"_id":"msg-1"}`;
  const ids = Array.from({ length: 10000 }, (_, i) => `${"x".repeat(120)}${i}`);
  const jobs = planShardJobs({ ...MESSAGE, base }, ids, 10000);
  t.true(jobs.length > 1, "the ids had to be split by size");
  for (const job of jobs) t.true(Buffer.byteLength(encodeShardJob(job)) <= SQS_MAX_MESSAGE_BYTES);
  t.deepEqual(jobs.flatMap((job) => job.receivers), ids);
  t.deepEqual(decodeShardJob(encodeShardJob(jobs[0])), jobs[0]);
});

test("decodeShardJob refuses bodies it did not write", (t) => {
  t.throws(() => decodeShardJob('{"endpoint":"e"}'), { message: "shard job without a message line" });
  t.throws(() => decodeShardJob('{"endpoint":"e","sender":"s","messageId":"m","receivers":[1]}\n{}'), { message: "shard job header is malformed" });
  t.throws(() => decodeShardJob("not json\n{}"), { name: "SyntaxError" });
});

async function localQueue(t: import("ava").ExecutionContext, refuse: (body: string, attempt: number) => boolean) {
  const received: ShardJob[] = [];
  const attempts = new Map<string, number>();
  const queue = await startLocalShardQueue(
    {
      worker: () => (event: SqsEvent) => {
        received.push(...event.Records.map((record) => decodeShardJob(record.body)));
        return Promise.resolve({ batchItemFailures: [] });
      },
      log: () => undefined,
    },
    {
      refuseShardJob: (body) => {
        const attempt = (attempts.get(body) ?? 0) + 1;
        attempts.set(body, attempt);
        return refuse(body, attempt);
      },
    },
  );
  t.teardown(() => queue.close());
  const client = new SQSClient({ region: LOCAL_AWS.region, credentials: LOCAL_AWS.credentials, endpoint: new URL(queue.url).origin });
  t.teardown(() => client.destroy());
  return { queue, received, shardQueue: createSqsShardQueue(client, queue.url, 4) };
}

test("SQS shard queue: 25 jobs in batches of 10; entries SQS reports Failed are sent again", async (t) => {
  const { queue, received, shardQueue } = await localQueue(t, (_, attempt) => attempt === 1);
  const jobs = planShardJobs(MESSAGE, Array.from({ length: 25 }, (_, i) => `c${i}`), 1);
  await shardQueue.enqueue(jobs);
  await queue.idle();
  t.deepEqual(received.map((job) => job.receivers[0]).sort(), jobs.map((job) => job.receivers[0]).sort());
});

test("SQS shard queue: entries that keep failing reject the enqueue, naming how many", async (t) => {
  const { shardQueue } = await localQueue(t, (body) => body.includes('"c3"'));
  const jobs = planShardJobs(MESSAGE, ["c1", "c2", "c3"], 1);
  const error = await t.throwsAsync(shardQueue.enqueue(jobs));
  t.is(error?.message, "1 of 1 shard batches not enqueued");
});

async function shardedEmulator(t: import("ava").ExecutionContext, failing: (attempt: number) => "ok" | "report" | "throw") {
  const options: EmulatorOptions = { fanout: "sharded" };
  const workerLogs: LogCapture = captureLog();
  let real: ReturnType<typeof buildShardWorker> | undefined;
  let attempt = 0;
  const { emulator, logs } = await startTestEmulator(t, options, {
    shardWorker: async (event) => {
      if (!real) throw new Error("worker not built yet");
      const outcome = failing(++attempt);
      if (outcome === "throw") throw new Error("worker crashed");
      const response = await real(event);
      return outcome === "report" ? { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) } : response;
    },
  });
  real = buildShardWorker(emulator, workerLogs, options);
  return { emulator, logs };
}

test("sharded: a shard reported failed is delivered again, and clients see the same `_id` twice", async (t) => {
  const { emulator } = await shardedEmulator(t, (attempt) => (attempt === 1 ? "report" : "ok"));
  const [a, b] = await connectMany(emulator, 2);
  a.ws.send("hello");
  const [first, second] = await b.nextFrames(2);
  t.is(first, second, "the retried copy is identical, `_id` included");
  t.regex(String(parseFrame(first)._id), AWS_ID);
  t.deepEqual(await a.nextFrames(2).then((frames) => frames.map((frame) => parseFrame(frame)._me)), [true, true]);
  t.deepEqual(emulator.deadLetters(), []);
});

test("sharded: a shard whose worker keeps failing goes to the dead letters after 5 deliveries, logged", async (t) => {
  const { emulator, logs } = await shardedEmulator(t, () => "throw");
  const [a] = await connectMany(emulator, 1);
  a.ws.send("lost");
  const dead = await logs.waitFor((entry) => entry.emulator === "shardDeadLetter", "the dead-letter line");
  t.like(dead, { receiveCount: 5 });
  t.is(logs.entries().filter((entry) => entry.emulator === "shardWorkerError").length, 5);
  t.deepEqual(decodeShardJob(emulator.deadLetters()[0].body).receivers, [a.id]);
  t.is(a.frames.length, 0);
});

test("sharded: when the queue cannot be reached the sender alone gets Unavailable, and nothing is delivered", async (t) => {
  // A port that was just free refuses connections: a queue that is down.
  const closed = createServer();
  const port = await listen(closed, 0, "127.0.0.1");
  await closeServer(closed);
  const deadQueue = `http://127.0.0.1:${port}/000000000000/shards`;
  const options: EmulatorOptions = { fanout: "sharded" };
  const { emulator, logs } = await startWithWrappedHandlers(
    t,
    (_real, started) => buildHandlers(started.emulator, started.logs, options, { shardQueue: deadQueue }),
    options,
  );
  const [a, b] = await connectMany(emulator, 2);
  a.ws.send("will it go?");
  const reply = parseFrame(await a.next());
  t.like(reply, { _error: { code: "Unavailable" }, _me: true });
  t.regex(String((reply._error as Frame).message), /^shard queue unavailable \(\w+\); message may not reach everyone$/);
  t.like(await invocation(logs, "$default", a.id), { error: "Unavailable", receivers: 2, shards: 1 });
  await expectNothingBefore(t, emulator, b);
});

test("shard worker: a record it cannot decode is reported failed (so it ends in the dead letters), the others are posted", async (t) => {
  const { emulator } = await startTestEmulator(t, { fanout: "sharded" });
  const logs = captureLog();
  const worker = buildShardWorker(emulator, logs, { fanout: "sharded" });
  const [a] = await connectMany(emulator, 1);
  const job = encodeShardJob({ endpoint: emulator.managementEndpoint, sender: a.id, messageId: "m-ok", base: '{"data":"direct from a job","_now":1,"_id":"m-ok"}', receivers: [a.id] });
  const response = await worker({ Records: [{ messageId: "bad", body: "garbage" }, { messageId: "good", body: job }] });
  t.deepEqual(response, { batchItemFailures: [{ itemIdentifier: "bad" }] });
  t.is(await a.next(), '{"data":"direct from a job","_now":1,"_id":"m-ok","_me":true}');
  t.like(logs.entries().find((entry) => entry.requestId === "bad"), { route: "shard", statusCode: 400, error: "Error" });
  t.like(logs.entries().find((entry) => entry.requestId === "m-ok"), { route: "shard", statusCode: 200, delivered: 1 });
});
