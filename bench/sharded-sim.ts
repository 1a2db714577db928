/**
 * `npx tsx bench/sharded-sim.ts [--n 100000] [--latency 20]`: one broadcast to N receivers,
 * direct vs sharded, with the real `$default` handler, shard workers, poster and SDK clients.
 *
 * Receivers are simulated, and only here: N = 100,000 sockets cannot exist in one process (the
 * descriptor limit is 20,000, hard), so the emulator's management API (local/services/management-api.ts,
 * with its post latency and a post-rate quota) answers posts to `virtual-{i}` ids and counts each
 * delivery in a sink instead of writing to a socket. The Lambda side runs in a child process
 * (bench/sharded-host.ts). Prints a table, then the figures as one JSON line.
 */
import { createServer, type Server } from "node:http";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createManagementApi, managementConnectionId } from "../local/services/management-api";
import { closeServer, listen } from "../local/net/http";
import { createTokenBucket } from "../local/gateway/token-bucket";
import type { FanOutMode } from "../runtime/config/checks";
import { forkChild } from "./child";
import type { SimReply, SimRequest } from "./sharded-host";

const STAGE = "sim";
/** API Gateway's default account-level throttle, which PostToConnection calls count against. */
const QUOTA = { rate: 10_000, burst: 5_000 };
const CONCURRENCY = 64;
const SHARD_SIZE = 1000;
/** Enough workers to reach the quota: workers × concurrency / latency ≥ quota. */
const WORKERS = 10;
// Every post is answered only after its frame is counted, so once the handler side is done the
// count is final; this only bounds a run that loses posts.
const QUIET_MS = 5000;

interface Sink {
  server: Server;
  endpoint: string;
  /** Starts counting a new broadcast; resolves when every receiver got it or deliveries stop. */
  broadcast(): { done: Promise<SinkResult> };
}

interface SinkResult {
  delivered: number;
  duplicates: number;
  /** From `broadcast()` to the last first-time delivery. */
  lastDeliveryMs: number;
  throttled: number;
  withId: number;
}

async function startSink(n: number, latencyMs: number): Promise<Sink> {
  let counts = new Uint8Array(n);
  let result: SinkResult = { delivered: 0, duplicates: 0, lastDeliveryMs: 0, throttled: 0, withId: 0 };
  let started = 0;
  let lastActivity = 0;
  const receiverIndex = (id: string) => (/^virtual-\d+$/.test(id) ? Number(id.slice(8)) : -1);
  const quota = createTokenBucket(QUOTA.rate, QUOTA.burst, () => performance.now());
  const management = createManagementApi({
    gateway: {
      send(connectionId, body) {
        const index = receiverIndex(connectionId);
        if (index < 0 || index >= n) return "gone";
        lastActivity = performance.now();
        if (counts[index]++ > 0) result.duplicates++;
        else {
          result.delivered++;
          result.lastDeliveryMs = lastActivity - started;
          if (body.includes('"_id":')) result.withId++;
        }
        return "sent";
      },
      describe: () => undefined,
      disconnect: () => false,
    },
    postQuota: () => quota,
    log: () => result.throttled++,
  }, { postLatencyMs: latencyMs });
  const server = createServer((req, res) => {
    const id = managementConnectionId(new URL(req.url ?? "/", "http://sink").pathname, STAGE);
    if (id === undefined) return void res.writeHead(404).end();
    management(req, res, id).catch((err: unknown) => res.destroy(err instanceof Error ? err : undefined));
  });
  server.keepAliveTimeout = 60_000;
  const port = await listen(server, 0, "127.0.0.1");
  return {
    server,
    endpoint: `http://127.0.0.1:${port}/${STAGE}`,
    broadcast() {
      counts = new Uint8Array(n);
      result = { delivered: 0, duplicates: 0, lastDeliveryMs: 0, throttled: 0, withId: 0 };
      started = performance.now();
      lastActivity = started;
      const done = new Promise<SinkResult>((resolve) => {
        const check = setInterval(() => {
          if (result.delivered === n || performance.now() - lastActivity > QUIET_MS) {
            clearInterval(check);
            resolve({ ...result });
          }
        }, 20);
      });
      return { done };
    },
  };
}

export interface SimRow extends SinkResult, SimReply {
  mode: FanOutMode;
}

async function simulate(sink: Sink, request: SimRequest): Promise<SimRow> {
  const host = forkChild<SimRequest, SimReply>("sharded-host.ts");
  try {
    const { done } = sink.broadcast();
    const reply = await host.request(request);
    return { mode: request.mode, ...(await done), ...reply };
  } finally {
    await host.finish();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: "string", default: "100000" }, latency: { type: "string", default: "20" } } });
  const n = Number(values.n);
  const latencyMs = Number(values.latency);
  const sink = await startSink(n, latencyMs);
  const rows: SimRow[] = [];
  try {
    for (const mode of ["direct", "sharded"] as const) {
      process.stderr.write(`[sim] ${mode}: N=${n}, L=${latencyMs} ms, quota ${QUOTA.rate}/s burst ${QUOTA.burst}...\n`);
      rows.push(await simulate(sink, { mode, n, concurrency: CONCURRENCY, shardSize: SHARD_SIZE, workers: WORKERS, endpoint: sink.endpoint }));
    }
  } finally {
    await closeServer(sink.server);
  }
  const header = ["mode", "last delivery s", "$default s", "delivered", "duplicates", "with _id", "429s", "worker invocations", "failed posts", "dead letters", "Lambda-side CPU s"];
  console.log(header.join(" | "));
  for (const row of rows) {
    const s = (ms: number) => (ms / 1000).toFixed(1);
    console.log(
      [row.mode, s(row.lastDeliveryMs), s(row.defaultMs), row.delivered, row.duplicates, row.withId, row.throttled, row.workerInvocations, row.failedPosts, row.deadLetters, s(row.cpuMs)].join(" | "),
    );
  }
  console.log(JSON.stringify({ n, latencyMs, quota: QUOTA, concurrency: CONCURRENCY, shardSize: SHARD_SIZE, workers: WORKERS, rows }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
