/**
 * `npx tsx bench/sharded/sharded-sim.ts [--n 100000] [--latency 20]`: one broadcast to N receivers,
 * direct vs sharded, through the emulator (`fanout` each way) with the real `$default` handler,
 * shard workers, poster, SDK clients and SQS client.
 *
 * Receivers are simulated, and only here: N = 100,000 sockets cannot exist in one process (the
 * descriptor limit is 20,000, hard), so the emulator's management API (with its post latency and
 * post quota) hands posts to `virtual-{i}` ids to a sink (bench/sharded/sink.ts, the
 * `virtualReceivers` seam) that counts each delivery instead of writing to a socket. `$default`
 * runs in a child process (bench/sharded/sharded-host.ts, the `handlers` seam); the shard workers
 * in the emulator's Lambda threads. Prints a table, then the figures as one JSON line.
 */
import { once } from "node:events";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { startEmulator, type Emulator } from "../../local/emulator";
import type { Handlers } from "../../runtime/routes/handlers";
import type { FanOutMode } from "../../runtime/config/settings";
import { toEnvironment } from "../../runtime/config/environment";
import { forkChild, type Child } from "../shared/child";
import type { DefaultReport, SimReply, SimRequest } from "./sharded-host";
import { Sink, type SinkResult } from "./sink";

/** API Gateway's default account-level throttle, which PostToConnection calls count against. */
const QUOTA = { rate: 10_000, burst: 5_000 };
const CONCURRENCY = 64;
const SHARD_SIZE = 1000;
/** The SQS stand-in's 10 concurrent worker invocations reach the quota: workers × concurrency / latency ≥ quota. */
const WORKERS = 10;
const REGION = "us-east-1";

// Node 22.19 added it, after the @types/node in use; `npm run` runs the project's Node 22.
type ThreadCpuUsage = (previous?: NodeJS.CpuUsage) => NodeJS.CpuUsage;
const threadCpuUsage = (process as NodeJS.Process & { threadCpuUsage?: ThreadCpuUsage }).threadCpuUsage?.bind(process);

interface EmulatorCounts {
  workerInvocations: number;
  workerFailedPosts: number;
  throttled: number;
}

export interface SimRow extends SinkResult, Omit<DefaultReport, "failedPosts"> {
  mode: FanOutMode;
  workerInvocations: number;
  failedPosts: number;
  throttled: number;
  deadLetters: number;
  /** `$default`'s process, plus the emulator's threads other than its main one (the Lambda threads). */
  cpuMs: number;
}

/**
 * Routes every handler to the child, one request per invocation. The child answers in the order
 * its work ends, and the child's replies are matched in the order they were asked for, so
 * `settled()` must resolve before anything else is asked.
 */
function childHandlers(host: Child<SimRequest, SimReply>): { handlers: Handlers; settled: () => Promise<unknown> } {
  let last: Promise<unknown> = Promise.resolve();
  const invoke = (route: keyof Handlers) => (event: Parameters<Handlers["message"]>[0]) => {
    const reply = host.request({ kind: "invoke", route, event }) as Promise<Awaited<ReturnType<Handlers["message"]>>>;
    last = reply;
    return reply;
  };
  return { handlers: { connect: invoke("connect"), disconnect: invoke("disconnect"), message: invoke("message") }, settled: () => last };
}

function countLines(counts: EmulatorCounts): (line: string) => void {
  return (line) => {
    if (line.includes('"emulator":"throttled"')) counts.throttled++;
    else if (line.includes('"route":"shard"')) {
      counts.workerInvocations++;
      counts.workerFailedPosts += (JSON.parse(line) as { failed?: number }).failed ?? 0;
    } else if (/"emulator":"(handlerError|httpError)"/.test(line)) process.stderr.write(`${line}\n`);
  };
}

function runtimeEnvironment(emulator: Emulator, mode: FanOutMode): Record<string, string> {
  const environment = toEnvironment({
    tableName: emulator.tableName,
    dynamoEndpoint: emulator.dynamoEndpoint,
    managementEndpoint: emulator.managementEndpoint,
    fanOutConcurrency: CONCURRENCY,
    fanout: mode,
    shardQueueUrl: emulator.shardQueueUrl,
    sqsEndpoint: emulator.shardQueueUrl === undefined ? undefined : new URL(emulator.shardQueueUrl).origin,
    shardSize: SHARD_SIZE,
  });
  return { ...environment, AWS_REGION: REGION };
}

async function simulate(mode: FanOutMode, n: number, latencyMs: number, mainThreadCpu: ThreadCpuUsage): Promise<SimRow> {
  const sink = new Sink(n);
  const counts: EmulatorCounts = { workerInvocations: 0, workerFailedPosts: 0, throttled: 0 };
  const host = forkChild<SimRequest, SimReply>("sharded/sharded-host.ts");
  const child = childHandlers(host);
  const emulator = await startEmulator(
    { port: 0, fanout: mode, shardSize: SHARD_SIZE, fanOutConcurrency: CONCURRENCY, postRate: QUOTA.rate, postBurst: QUOTA.burst, log: countLines(counts) },
    { handlers: child.handlers, postLatencyMs: latencyMs, virtualReceivers: sink.receive },
  );
  try {
    await host.request({ kind: "start", environment: runtimeEnvironment(emulator, mode), n });
    const sender = new WebSocket(emulator.endpoint.replace("//localhost:", "//127.0.0.1:"));
    await once(sender, "open");
    sink.sender = emulator.connectionIds()[0];
    const cpu = process.cpuUsage();
    const mainThread = mainThreadCpu();
    const delivered = sink.broadcast();
    sender.send('{"type":"chat","text":"to everyone"}');
    const result = await delivered;
    // `$default` returns after its last post is answered, so after the sink counted it.
    await child.settled();
    const report = (await host.request({ kind: "report" })) as DefaultReport;
    await workersDone(counts, report.shards);
    const total = process.cpuUsage(cpu);
    const main = mainThreadCpu(mainThread);
    const lambdaThreadsMs = (total.user + total.system - main.user - main.system) / 1000;
    sender.close();
    await once(sender, "close");
    return {
      mode,
      ...result,
      ...report,
      workerInvocations: counts.workerInvocations,
      failedPosts: report.failedPosts + counts.workerFailedPosts,
      throttled: counts.throttled,
      deadLetters: emulator.deadLetters().length,
      cpuMs: report.cpuMs + lambdaThreadsMs,
    };
  } finally {
    await emulator.close();
    await host.finish();
  }
}

/** Waits for the workers' last log lines (each shard job's invocation logs once it is done; retries log again). */
async function workersDone(counts: EmulatorCounts, shards: number): Promise<void> {
  for (let waited = 0; counts.workerInvocations < shards && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
}

function printRows(rows: SimRow[]): void {
  const header = ["mode", "last delivery s", "$default s", "delivered", "duplicates", "with _id", "429s", "worker invocations", "failed posts", "dead letters", "Lambda-side CPU s"];
  console.log(header.join(" | "));
  for (const row of rows) {
    const s = (ms: number) => (ms / 1000).toFixed(1);
    console.log(
      [row.mode, s(row.lastDeliveryMs), s(row.defaultMs), row.delivered, row.duplicates, row.withId, row.throttled, row.workerInvocations, row.failedPosts, row.deadLetters, s(row.cpuMs)].join(" | "),
    );
  }
}

async function main(): Promise<void> {
  if (!threadCpuUsage) throw new Error(`the Lambda-side CPU figure needs process.threadCpuUsage (Node 22.19 or later; this is ${process.version}): run it with npm run bench:sharded`);
  const { values } = parseArgs({ options: { n: { type: "string", default: "100000" }, latency: { type: "string", default: "20" } } });
  const n = Number(values.n);
  const latencyMs = Number(values.latency);
  const rows: SimRow[] = [];
  for (const mode of ["direct", "sharded"] as const) {
    process.stderr.write(`[sim] ${mode}: N=${n}, L=${latencyMs} ms, quota ${QUOTA.rate}/s burst ${QUOTA.burst}...\n`);
    rows.push(await simulate(mode, n, latencyMs, threadCpuUsage));
  }
  printRows(rows);
  console.log(JSON.stringify({ n, latencyMs, quota: QUOTA, concurrency: CONCURRENCY, shardSize: SHARD_SIZE, workers: WORKERS, rows }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
