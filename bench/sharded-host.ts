/**
 * The Lambda side of bench/sharded-sim.ts, in its own process so its CPU is not shared with the
 * simulated API Gateway: the real `$default` handler and (sharded) the real shard workers, built
 * from the Lambda environment in the emulator's Lambda threads (local/lambda/lambda-pool.ts) and fed by
 * local/services/sqs-stand-in.ts (the stand-in for SQS delivery) through the real SQS client. Receivers are
 * virtual (see the sim).
 */
import { performance } from "node:perf_hooks";
import { SQSClient } from "@aws-sdk/client-sqs";
import { messageEvent } from "../local/gateway/event-builders";
import { startLambdaPool } from "../local/lambda/lambda-pool";
import { startLocalShardQueue } from "../local/services/sqs-stand-in";
import { LOCAL_AWS } from "../local/services/dynalite-store";
import type { ConnectionStore } from "../runtime/store/connection-store";
import { DEFAULT_ROOM } from "../runtime/contract/rooms";
import type { HandlerDeps, InvocationLog } from "../runtime/routes/deps";
import { makeMessageHandler } from "../runtime/routes/handlers";
import { createPosterFactory } from "../runtime/delivery/poster-factory";
import { RANGES, type FanOutMode } from "../runtime/config/checks";
import { ENV } from "../runtime/host/lambda";
import { createSqsShardQueue } from "../runtime/delivery/sqs-shard-queue";
import { SHARD_WORKER_ROUTE } from "../runtime/routes/shard-worker";

export interface SimRequest {
  mode: FanOutMode;
  /** Receivers' connection ids are `virtual-0` … `virtual-{n-1}`; the sender is `virtual-0`. */
  n: number;
  concurrency: number;
  shardSize: number;
  workers: number;
  /** The sink's management endpoint. */
  endpoint: string;
}

export interface SimReply {
  /** `$default`'s own duration. */
  defaultMs: number;
  /** Until the last worker invocation finished (direct: `defaultMs`). */
  doneMs: number;
  workerInvocations: number;
  shards: number;
  failedPosts: number;
  deadLetters: number;
  /** This process's CPU time for the whole broadcast. */
  cpuMs: number;
}

/** Every id live in the default room, as one Query page would return them; the sim prices the listing separately. */
function virtualStore(n: number): ConnectionStore {
  const ids = Array.from({ length: n }, (_, i) => `virtual-${i}`);
  return {
    put: () => Promise.resolve(),
    remove: () => Promise.resolve(DEFAULT_ROOM),
    roomOf: () => Promise.resolve(DEFAULT_ROOM),
    forEachRoomPage: (_room, _now, onPage) => onPage([...ids]),
  };
}

async function run(request: SimRequest): Promise<SimReply> {
  const logs: InvocationLog[] = [];
  const defaultDeps: HandlerDeps = {
    store: virtualStore(request.n),
    posterFor: createPosterFactory({ region: LOCAL_AWS.region, maxSockets: request.concurrency, credentials: LOCAL_AWS.credentials }),
    managementEndpoint: request.endpoint,
    limits: {
      maxMessageBytes: RANGES.maxMessageBytes.default,
      fanOutConcurrency: request.concurrency,
      connectionTtlSeconds: RANGES.connectionTtlSeconds.default,
    },
    access: { allowedOrigins: [] },
    now: Date.now,
    log: (entry) => logs.push(entry),
  };
  // On AWS every worker container has a CPU share of its own; here the workers get the Lambda
  // threads, one per core of this machine, while `$default` runs in this process's main thread.
  const pool =
    request.mode === "sharded"
      ? startLambdaPool({ environment: workerEnvironment(request), credentials: LOCAL_AWS.credentials }, (line) => logs.push(JSON.parse(line) as InvocationLog))
      : undefined;
  await pool?.ready;
  const queue = pool ? await startLocalShardQueue({ worker: () => pool.shardWorker, workers: request.workers, log: () => undefined }) : undefined;
  const sqs = queue ? new SQSClient({ region: LOCAL_AWS.region, credentials: LOCAL_AWS.credentials, endpoint: new URL(queue.url).origin }) : undefined;
  if (queue && sqs) defaultDeps.sharded = { queue: createSqsShardQueue(sqs, queue.url, request.concurrency), shardSize: request.shardSize };
  const handler = makeMessageHandler(defaultDeps);
  const context = { connectionId: "virtual-0", connectedAt: Date.now(), domainName: "sim", stage: "sim", apiId: "simulation", identity: { sourceIp: "127.0.0.1" } };

  const cpu = process.cpuUsage();
  const started = performance.now();
  await handler(messageEvent(context, '{"type":"chat","text":"to everyone"}', Date.now()));
  const defaultMs = performance.now() - started;
  await queue?.idle();
  const doneMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const workerLines = logs.filter((entry) => entry.route === SHARD_WORKER_ROUTE);
  const defaultLine = logs.find((entry) => entry.route === "$default");
  const reply: SimReply = {
    defaultMs,
    doneMs,
    workerInvocations: workerLines.length,
    shards: defaultLine?.shards ?? 0,
    failedPosts: (request.mode === "direct" ? [defaultLine] : workerLines).reduce((sum, entry) => sum + (entry?.failed ?? 0), 0),
    deadLetters: queue?.deadLetters().length ?? 0,
    cpuMs: (used.user + used.system) / 1000,
  };
  await queue?.close();
  await pool?.close();
  sqs?.destroy();
  return reply;
}

/**
 * The shard worker's Lambda environment. Its table is never read: a shard job carries its
 * receivers, and no virtual receiver is ever gone, so no row is deleted.
 */
function workerEnvironment(request: SimRequest): Record<string, string> {
  return {
    [ENV.tableName]: "virtual-receivers",
    [ENV.dynamoEndpoint]: "http://127.0.0.1:9",
    [ENV.managementEndpoint]: request.endpoint,
    [ENV.fanOutConcurrency]: String(request.concurrency),
    AWS_REGION: LOCAL_AWS.region,
  };
}

process.on("message", (request: SimRequest) => {
  run(request).then(
    (reply) => process.send?.(reply),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
// The SDK clients' keep-alive sockets would hold the process open; the parent leaving ends it.
process.on("disconnect", () => process.exit(0));
