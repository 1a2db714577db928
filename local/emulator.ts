/**
 * startEmulator: API Gateway (WebSocket API + management API) and DynamoDB on one machine, running
 * the handlers built by runtime/host/lambda.ts from the same environment variables as the Lambdas, in
 * a worker thread of their own (local/lambda/lambda-pool.ts).
 * All state lives in the returned object, so one process can run several emulators. Tests and
 * benchmarks vary it through `seams` (local/seams.ts), which `npm start` never passes.
 */
import { createServer, type Server } from "node:http";
import type { ShardWorkerHandler } from "../runtime/routes/shard-worker";
import { newApiId } from "./gateway/event-builders";
import { Gateway } from "./gateway/gateway";
import { startLambdaPool, type LambdaPool } from "./lambda/lambda-pool";
import { createManagementApi, type ManagementApiOptions } from "./services/management-api";
import { HISTORY_TABLE_NAME, resolveOptions, runtimeEnvironment, type EmulatorOptions, type ResolvedOptions } from "./options";
import { createPublishEndpoint } from "./services/publish-endpoint";
import { closeServer, listen } from "./net/http";
import { routeRequests } from "./net/server";
import { startLocalShardQueue, type LocalShardQueue } from "./services/sqs-stand-in";
import { DEMO_DIR } from "./net/static";
import { LOCAL_AWS, ensureConnectionTable, ensureHistoryTable, startDynamo, type LocalDynamo } from "./services/dynalite-store";
import { postQuotaBucket, type EmulatorSeams } from "./seams";
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
  /** Closes every connection with 1001, runs each `$disconnect`, then stops the servers and dynalite. */
  close(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}, seams: EmulatorSeams = {}): Promise<Emulator> {
  const resolved = resolveOptions(options);
  const log = options.log ?? ((line: string) => console.log(line));
  let emulator: LocalEmulator | undefined;
  const services = await startServices(resolved, log, seams, () => {
    if (!emulator) throw new Error("a shard job arrived before the worker was built");
    return emulator.shardWorker();
  });
  // The port is known only now, and the handlers post to it; nothing awaits between here and
  // the route wiring in the constructor, so no request can arrive unrouted.
  emulator = new LocalEmulator(resolved, services, seams, log);
  await emulator.ready();
  return emulator;
}

/** What runs before the handlers can be built: the table, the listening port, the local queue. */
interface Services {
  dynamo: LocalDynamo;
  http: Server;
  port: number;
  shardQueue?: LocalShardQueue;
}

// Undoes what it started when a later step fails (a taken port, a table that cannot be created).
async function startServices(resolved: ResolvedOptions, log: (line: string) => void, seams: EmulatorSeams, worker: () => ShardWorkerHandler): Promise<Services> {
  const dynamo = await startDynamo({ dataDir: resolved.dataDir });
  const http = createServer();
  try {
    await ensureConnectionTable(dynamo.endpoint, resolved.tableName);
    if (resolved.history) await ensureHistoryTable(dynamo.endpoint, HISTORY_TABLE_NAME);
    const port = await listen(http, resolved.port, resolved.host);
    const shardQueue = resolved.fanout === "sharded" ? await startLocalShardQueue({ worker, log }, seams) : undefined;
    return { dynamo, http, port, shardQueue };
  } catch (err) {
    await closeServer(http).catch(() => undefined);
    await dynamo.close();
    throw err;
  }
}

class LocalEmulator implements Emulator {
  readonly port: number;
  readonly endpoint: string;
  readonly httpUrl: string;
  readonly managementEndpoint: string;
  readonly publishUrl: string;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly historyTableName?: string;
  readonly shardQueueUrl?: string;
  private readonly environment: Record<string, string | undefined>;
  private readonly gateway: Gateway;
  // Started only when some handler is not injected.
  private pool: LambdaPool | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    resolved: ResolvedOptions,
    private readonly services: Services,
    private readonly seams: EmulatorSeams,
    private readonly log: (line: string) => void,
  ) {
    const { port, dynamo, shardQueue } = services;
    const { host, stage } = resolved;
    this.port = port;
    this.managementEndpoint = `http://${reachableHost(host, "127.0.0.1")}:${port}/${stage}`;
    this.endpoint = `ws://${reachableHost(host, "localhost")}:${port}/${stage}`;
    this.httpUrl = `http://${reachableHost(host, "localhost")}:${port}/`;
    this.publishUrl = `${this.managementEndpoint}/@publish`;
    this.dynamoEndpoint = dynamo.endpoint;
    this.tableName = resolved.tableName;
    this.historyTableName = resolved.history ? HISTORY_TABLE_NAME : undefined;
    this.shardQueueUrl = shardQueue?.url;
    this.environment = runtimeEnvironment(resolved, { management: this.managementEndpoint, dynamo: dynamo.endpoint, shardQueue: shardQueue?.url });
    this.gateway = new Gateway({
      handlers: seams.handlers ?? this.lambda().handlers,
      stage,
      apiId: newApiId(),
      // One bucket for the whole stage, as API Gateway's default route throttling is.
      throttle: createTokenBucket(resolved.throttleRateLimit, resolved.throttleBurstLimit),
      idleTimeoutMs: resolved.idleTimeoutMs,
      maxLifetimeMs: resolved.maxLifetimeMs,
      maxBufferedBytes: resolved.maxBufferedBytes,
      log,
    });
    if (shardQueue && !seams.shardWorker) this.lambda();
    const fixedQuota = postQuotaBucket(resolved);
    const postQuota = seams.postQuota;
    const management = createManagementApi({ gateway: this.managed(), postQuota: postQuota ? () => postQuota.current() : () => fixedQuota, log }, seams);
    // The publish function starts its thread on the first publish when every route is injected.
    const publish = createPublishEndpoint({ handler: seams.publish ?? ((event) => this.lambda().publish(event)), log });
    routeRequests(services.http, { stage, host, gateway: this.gateway, management, publish, demoDir: DEMO_DIR, log });
  }

  /** Settles once the Lambda threads (if any) are warm; a thread that cannot start stops everything. */
  async ready(): Promise<void> {
    // Requests that came meanwhile waited for this cold start.
    await this.pool?.ready.catch(async (err: unknown) => {
      await this.close();
      throw err;
    });
  }

  /** The shard worker a job goes to (sharded mode). */
  shardWorker(): ShardWorkerHandler {
    return this.seams.shardWorker ?? this.lambda().shardWorker;
  }

  deadLetters(): Array<{ messageId: string; body: string }> {
    return this.services.shardQueue?.deadLetters() ?? [];
  }

  connectionIds(): string[] {
    return this.gateway.connectionIds();
  }

  send(connectionId: string, data: Buffer): boolean {
    return this.gateway.send(connectionId, data) === "sent";
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  /** What the management API reaches: the gateway, behind the virtual receivers when a seam gives them. */
  private managed(): ManagementApiOptions["gateway"] {
    const virtual = this.seams.virtualReceivers;
    if (!virtual) return this.gateway;
    return {
      send: (connectionId, data) => virtual(connectionId, data) ?? this.gateway.send(connectionId, data),
      describe: (connectionId) => this.gateway.describe(connectionId),
      disconnect: (connectionId) => this.gateway.disconnect(connectionId),
    };
  }

  private lambda(): LambdaPool {
    this.pool ??= startLambdaPool({ environment: this.environment, credentials: LOCAL_AWS.credentials }, this.log);
    return this.pool;
  }

  private async shutdown(): Promise<void> {
    const { shardQueue, http, dynamo } = this.services;
    // Connections first: their last handler invocations still need the management API and the table.
    await this.gateway.close();
    await shardQueue?.close();
    await this.pool?.close();
    await closeServer(http);
    await dynamo.close();
  }
}

// A loopback or wildcard listener is reached through `loopbackName`; any other address as itself.
function reachableHost(host: string, loopbackName: string): string {
  if (["127.0.0.1", "localhost", "0.0.0.0", "::"].includes(host)) return loopbackName;
  return host.includes(":") ? `[${host}]` : host;
}
