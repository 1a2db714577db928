/**
 * A fan-out rig: one emulator, its receivers (in child processes), and handlers built in the
 * Lambda-side process against it. `invoke` runs one measured broadcast and checks every receiver.
 */
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { AdjustablePostQuota } from "../../local/seams";
import { messageEvent, type ConnectionContext } from "../../local/gateway/event-builders";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { createDynamoConnectionStore, listRoom, type ConnectionStore } from "../../runtime/store/connection-store";
import { DEFAULT_ROOM } from "../../runtime/contract/rooms";
import { ENV } from "../../runtime/config/environment";
import { SETTINGS } from "../../runtime/config/settings";
import { startBenchEmulator, type BenchEmulator } from "../shared/bench-emulator";
import type { Child } from "../shared/child";
import type { HostReply, HostRequest } from "./lambda-host";
import { createReceiverPool } from "./receiver-pool";

const { region: REGION } = LOCAL_AWS;
const CREDENTIALS = { ...LOCAL_AWS.credentials };

/** One handler invocation: its duration and what the receivers actually got. */
export interface Run {
  ms: number;
  /** CPU time the handler's process used during the invocation. */
  cpuMs: number;
  delivered: number;
  lost: number;
  duplicates: number;
  /** Live rows that disappeared from the table (the baseline deletes on any error); restored after. */
  rowsDeleted: number;
  /** Failed posts by error name, from the handler's log line. */
  failures?: Record<string, number>;
}

// Every frame is written before the management API answers its post, so once the handler has
// returned, a fence written to each socket arrives after any copy of the message: when every
// receiver has its fence, the counts are final. This only bounds a stuck receiver process.
const FENCE_TIMEOUT_MS = 60_000;

/** Ours; ours posting over bare HTTP instead of the SDK (the floor); the original design. */
type HandlerKind = "ours" | "floor" | "baseline";

/** The Lambda-side process (bench/fanout/lambda-host.ts). */
export type Host = Child<HostRequest, HostReply>;

export interface Rig {
  /** Opens receivers until `n` are connected. */
  grow(n: number): Promise<void>;
  /** Builds (once) a handler in the Lambda-side process and returns its name there. */
  handler(kind: HandlerKind, pageLimit?: number): Promise<string>;
  /** One measured broadcast to all `n` receivers; rows it deleted are put back afterwards. */
  invoke(name: string, n: number): Promise<Run>;
  /** An unmeasured broadcast, to warm a handler up. */
  warmUp(name: string): Promise<void>;
  /** Puts the emulator under a fresh, full post quota, or lifts it (undefined). */
  setPostQuota(quota: { rate: number; burst: number } | undefined): void;
}

export interface RigOptions {
  /** Delay before each post is answered, as the management API's latency. */
  postLatencyMs: number;
  concurrency: number;
  progress: (line: string) => void;
}

/** Starts an emulator, runs `body` with the rig, then closes the receivers and the emulator. */
export async function withRig(host: Host, options: RigOptions, body: (rig: Rig) => Promise<void>): Promise<void> {
  const postQuota = new AdjustablePostQuota();
  const emulator = await startBenchEmulator({}, options.progress, { postLatencyMs: options.postLatencyMs, postQuota });
  const rig = new FanoutRig(host, emulator, postQuota, options);
  try {
    await body(rig);
  } finally {
    await rig.pool.close();
    await emulator.close();
  }
}

class FanoutRig implements Rig {
  readonly pool = createReceiverPool();
  private readonly built = new Set<string>();
  private readonly store: ConnectionStore;

  constructor(
    private readonly host: Host,
    private readonly emulator: BenchEmulator,
    private readonly postQuota: AdjustablePostQuota,
    private readonly options: RigOptions,
  ) {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION, credentials: CREDENTIALS, endpoint: emulator.dynamoEndpoint }));
    this.store = createDynamoConnectionStore(doc, { tableName: emulator.tableName });
  }

  async grow(n: number): Promise<void> {
    const started = performance.now();
    await this.pool.growTo(this.emulator.url, n);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.options.progress(`connected ${n} receivers in ${seconds} s; ${readdirSync("/proc/self/fd").length} descriptors open here`);
  }

  async handler(kind: HandlerKind, pageLimit?: number): Promise<string> {
    const name = `${kind}-${pageLimit ?? "all"}`;
    if (this.built.has(name)) return name;
    const { tableName, dynamoEndpoint, managementEndpoint } = this.emulator;
    if (kind !== "baseline") {
      const env = {
        [ENV.tableName]: tableName,
        [ENV.dynamoEndpoint]: dynamoEndpoint,
        [ENV.managementEndpoint]: managementEndpoint,
        [ENV.fanOutConcurrency]: String(this.options.concurrency),
        AWS_REGION: REGION,
      };
      await this.host.request({ type: "ours", name, env, credentials: CREDENTIALS, poster: kind === "ours" ? "sdk" : "raw-http", pageLimit });
    } else {
      const baseline = { tableName, dynamoEndpoint, managementEndpoint, pageLimit, region: REGION, credentials: CREDENTIALS };
      await this.host.request({ type: "baseline", name, options: baseline });
    }
    this.built.add(name);
    return name;
  }

  async invoke(name: string, n: number): Promise<Run> {
    const tag = randomUUID();
    // Every open connection has its row: `$connect` wrote it, and rows a run deleted are put back.
    const open = this.emulator.connectionIds();
    if (open.length !== n) throw new Error(`expected ${n} open connections, found ${open.length}`);
    const reply = await this.host.request({ type: "invoke", name, event: messageFrom(open[0], JSON.stringify({ tag })) });
    if (reply.type !== "invoked") throw new Error(`unexpected reply ${reply.type}`);
    const fence = Buffer.from(JSON.stringify({ fence: tag }));
    for (const id of open) this.emulator.send(id, fence);
    const deliveries = await this.pool.awaitFence(tag, FENCE_TIMEOUT_MS);
    const live = new Set(await listRoom(this.store, DEFAULT_ROOM, Math.floor(Date.now() / 1000)));
    const deleted = open.filter((id) => !live.has(id));
    await restoreRows(this.store, deleted);
    const failures = reply.log?.failures;
    return {
      ms: reply.ms,
      cpuMs: reply.cpuMs,
      delivered: deliveries.reached,
      lost: n - deliveries.reached,
      duplicates: deliveries.duplicates,
      rowsDeleted: deleted.length,
      ...(failures && Object.keys(failures).length > 0 ? { failures } : {}),
    };
  }

  async warmUp(name: string): Promise<void> {
    await this.host.request({ type: "invoke", name, event: messageFrom(this.emulator.connectionIds()[0], `{"tag":"warm-up"}`) });
  }

  setPostQuota(quota: { rate: number; burst: number } | undefined): void {
    this.postQuota.set(quota ? { postRate: quota.rate, postBurst: quota.burst } : { postRate: 0 });
  }
}

// The sockets behind deleted rows are still open: put their rows back so the next run has all N.
async function restoreRows(store: ConnectionStore, ids: string[]): Promise<void> {
  const now = Date.now();
  const expiresAt = Math.floor(now / 1000) + SETTINGS.connectionTtlSeconds.default;
  // 32 writes at a time: a baseline run can delete thousands of rows, and one at a time takes seconds.
  for (let at = 0; at < ids.length; at += 32) {
    await Promise.all(ids.slice(at, at + 32).map((connectionId) => store.put({ connectionId, connectedAt: now, expiresAt, room: DEFAULT_ROOM })));
  }
}

// The handlers post to MANAGEMENT_ENDPOINT, so the event's domain and stage are never used.
function messageFrom(connectionId: string, body: string): ReturnType<typeof messageEvent> {
  const context: ConnectionContext = { connectionId, connectedAt: Date.now(), domainName: "127.0.0.1", stage: "dev", apiId: "bench", identity: { sourceIp: "127.0.0.1" } };
  return messageEvent(context, body, Date.now());
}
