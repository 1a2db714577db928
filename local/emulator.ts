/**
 * startEmulator: API Gateway (WebSocket API + management API) and DynamoDB on one machine, running
 * the handlers built by runtime/host/lambda.ts from the same environment variables as the Lambdas, in
 * a worker thread of their own (local/lambda/lambda-pool.ts).
 * All state lives in the returned object, so one process can run several emulators.
 */
import { createServer } from "node:http";
import type { ShardWorkerHandler } from "../runtime/routes/shard-worker";
import { newApiId } from "./gateway/event-builders";
import { createGateway } from "./gateway/gateway";
import { startLambdaPool, type LambdaPool } from "./lambda/lambda-pool";
import { createManagementApi } from "./services/management-api";
import { HISTORY_TABLE_NAME, resolveOptions, resolvePostQuota, runtimeEnvironment, type EmulatorOptions } from "./options";
import { createPublishEndpoint } from "./services/publish-endpoint";
import { closeServer, listen } from "./net/http";
import { routeRequests } from "./net/server";
import { startLocalShardQueue, type LocalShardQueue } from "./services/sqs-stand-in";
import { DEMO_DIR } from "./net/static";
import { LOCAL_AWS, ensureConnectionTable, ensureHistoryTable, startDynamo } from "./services/dynalite-store";
import { createTokenBucket } from "./gateway/token-bucket";

export interface Emulator {
  port: number;
  /** `ws://localhost:PORT/STAGE` */
  endpoint: string;
  /** `http://localhost:PORT/`, the demo page. */
  httpUrl: string;
  /** `http://127.0.0.1:PORT/STAGE`, what the handlers post to. */
  managementEndpoint: string;
  /** `http://127.0.0.1:PORT/STAGE/@publish`: POST a message, `?room=NAME` (loopback peers only). */
  publishUrl: string;
  /** `http://127.0.0.1:DYNAPORT` */
  dynamoEndpoint: string;
  tableName: string;
  /** History on: the history table's name. */
  historyTableName?: string;
  /** Sharded mode: the local queue's URL, what `SHARD_QUEUE_URL` is set to. */
  shardQueueUrl?: string;
  /** Sharded mode: shard jobs that failed every delivery (the dead-letter queue). */
  deadLetters(): Array<{ messageId: string; body: string }>;
  /** Ids of the currently open connections. */
  connectionIds(): string[];
  /** Sends `data` to a connection as PostToConnection would, without HTTP or quota; false when it is not open or its outbound buffer is full. */
  send(connectionId: string, data: Buffer): boolean;
  /**
   * Replaces the PostToConnection quota of the running emulator (as the options of the same
   * names; a rate of 0 removes it), so that a benchmark can vary it without reconnecting
   * thousands of clients.
   */
  setPostQuota(quota: Pick<EmulatorOptions, "postRate" | "postBurst">): void;
  /** Closes every connection with 1001, runs each `$disconnect`, then stops the servers and dynalite. */
  close(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const resolved = resolveOptions(options);
  const log = options.log ?? ((line: string) => console.log(line));
  const dynamo = await startDynamo({ dataDir: resolved.dataDir });
  const http = createServer();
  let port: number;
  let shardWorker: ShardWorkerHandler | undefined;
  let shardQueue: LocalShardQueue | undefined;
  try {
    await ensureConnectionTable(dynamo.endpoint, resolved.tableName);
    if (resolved.history) await ensureHistoryTable(dynamo.endpoint, HISTORY_TABLE_NAME);
    port = await listen(http, resolved.port, resolved.host);
    if (resolved.fanout === "sharded") {
      shardQueue = await startLocalShardQueue({
        worker: () => {
          if (!shardWorker) throw new Error("a shard job arrived before the worker was built");
          return shardWorker;
        },
        log,
      });
    }
  } catch (err) {
    await closeServer(http).catch(() => undefined);
    await dynamo.close();
    throw err;
  }

  // The port is known only now, and the handlers post to it; nothing awaits between here and
  // the route wiring below, so no request can arrive unrouted.
  const managementEndpoint = `http://${reachableHost(resolved.host, "127.0.0.1")}:${port}/${resolved.stage}`;
  const environment = runtimeEnvironment(resolved, { management: managementEndpoint, dynamo: dynamo.endpoint, shardQueue: shardQueue?.url });
  // Started only when some handler is not injected.
  let pool: LambdaPool | undefined;
  const lambda = () => (pool ??= startLambdaPool({ environment, credentials: LOCAL_AWS.credentials }, log));
  const handlers = options.handlers ?? lambda().handlers;
  if (shardQueue) shardWorker = options.shardWorker ?? lambda().shardWorker;
  const gateway = createGateway({
    handlers,
    stage: resolved.stage,
    apiId: newApiId(),
    // One bucket for the whole stage, as API Gateway's default route throttling is.
    throttle: createTokenBucket(resolved.throttleRateLimit, resolved.throttleBurstLimit),
    idleTimeoutMs: resolved.idleTimeoutMs,
    maxLifetimeMs: resolved.maxLifetimeMs,
    maxBufferedBytes: resolved.maxBufferedBytes,
    log,
  });
  const quotaBucket = ({ postRate, postBurst }: { postRate: number; postBurst: number }) =>
    postRate > 0 ? createTokenBucket(postRate, postBurst) : undefined;
  let postQuota = quotaBucket(resolved);
  const management = createManagementApi({
    gateway,
    postQuota: () => postQuota,
    postLatencyMs: resolved.postLatencyMs,
    log,
  });
  // The publish function starts its thread on the first publish when every route is injected.
  const publish = createPublishEndpoint({ handler: options.publish ?? ((event) => lambda().publish(event)), log });
  routeRequests(http, { stage: resolved.stage, host: resolved.host, gateway, management, publish, demoDir: DEMO_DIR, log });

  const shutdown = async () => {
    // Connections first: their last handler invocations still need the management API and the table.
    await gateway.close();
    await shardQueue?.close();
    await pool?.close();
    await closeServer(http);
    await dynamo.close();
  };
  // Requests that came meanwhile waited for this cold start; a thread that cannot start stops all.
  await pool?.ready.catch(async (err: unknown) => {
    await shutdown();
    throw err;
  });
  let closed: Promise<void> | undefined;
  return {
    port,
    endpoint: `ws://${reachableHost(resolved.host, "localhost")}:${port}/${resolved.stage}`,
    httpUrl: `http://${reachableHost(resolved.host, "localhost")}:${port}/`,
    managementEndpoint,
    publishUrl: `${managementEndpoint}/@publish`,
    dynamoEndpoint: dynamo.endpoint,
    tableName: resolved.tableName,
    historyTableName: resolved.history ? HISTORY_TABLE_NAME : undefined,
    shardQueueUrl: shardQueue?.url,
    deadLetters: () => shardQueue?.deadLetters() ?? [],
    connectionIds: () => gateway.connectionIds(),
    send: (connectionId, data) => gateway.send(connectionId, data) === "sent",
    setPostQuota(quota) {
      postQuota = quotaBucket(resolvePostQuota(quota));
    },
    close() {
      closed ??= shutdown();
      return closed;
    },
  };
}

// A loopback or wildcard listener is reached through `loopbackName`; any other address as itself.
function reachableHost(host: string, loopbackName: string): string {
  if (["127.0.0.1", "localhost", "0.0.0.0", "::"].includes(host)) return loopbackName;
  return host.includes(":") ? `[${host}]` : host;
}
