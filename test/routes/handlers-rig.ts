/**
 * The handlers of test/routes/handlers.test.ts, built by runtime/host/lambda.ts as the Lambdas
 * build them, against a dynalite of their own; events with the times each test chooses.
 */
import type { ExecutionContext } from "ava";
import type { Handlers } from "../../runtime/routes/handlers";
import { createHandlers } from "../../runtime/host/lambda";
import { readRuntimeConfig } from "../../runtime/config/environment";
import type { EmulatorOptions } from "../../local/options";
import { connectEvent, type ConnectionContext } from "../../local/gateway/event-builders";
import { LOCAL_AWS, ensureConnectionTable, startDynamo } from "../../local/services/dynalite-store";
import { connectMany } from "../helpers/clients";
import { captureLog, startTestEmulator, type LogCapture } from "../helpers/emulator";
import { openTable, type Table } from "../helpers/table";

export const TABLE = "handler-test-connections";
export const TTL_SECONDS = 7200;

export interface Rig {
  handlers: Handlers;
  /** The handlers' log lines. */
  log: LogCapture;
  table: Table;
  /** Stops the handlers' dynalite, as an outage would. */
  stopStore(): Promise<void>;
}

/** `now` is the handlers' clock: a fixed time, or a function a test moves. */
export async function rig(t: ExecutionContext, options: { now: number | (() => number); managementEndpoint?: string; env?: Record<string, string>; pageLimit?: number }): Promise<Rig> {
  const dynamo = await startDynamo();
  let stopped = false;
  const stopStore = async () => {
    stopped = true;
    await dynamo.close();
  };
  t.teardown(() => (stopped ? undefined : dynamo.close()));
  await ensureConnectionTable(dynamo.endpoint, TABLE);
  const log = captureLog();
  const config = readRuntimeConfig({
    TABLE_NAME: TABLE,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    MANAGEMENT_ENDPOINT: options.managementEndpoint,
    CONNECTION_TTL_SECONDS: String(TTL_SECONDS),
    AWS_REGION: LOCAL_AWS.region,
    ...options.env,
  });
  const handlers = createHandlers(config, {
    credentials: LOCAL_AWS.credentials,
    log: (entry) => log.log(JSON.stringify(entry)),
    now: typeof options.now === "function" ? options.now : () => options.now as number,
    pageLimit: options.pageLimit,
  });
  return { handlers, log, table: openTable(t, dynamo.endpoint, TABLE), stopStore };
}

export function context(connectionId: string, connectedAt: number): ConnectionContext {
  return {
    connectionId,
    connectedAt,
    domainName: "localhost:3001",
    stage: "dev",
    apiId: "handlertst",
    identity: { sourceIp: "127.0.0.1" },
  };
}

/** Records `clients` in the rig's table as connected at `connectedAt`. */
export async function connectAll(rig: Rig, clients: readonly { id: string }[], connectedAt: number): Promise<void> {
  for (const { id } of clients) t200(await rig.handlers.connect(connectEvent(context(id, connectedAt), { headers: {} })));
}

export function t200(result: { statusCode: number }): void {
  if (result.statusCode !== 200) throw new Error(`expected 200, got ${result.statusCode}`);
}

export async function withClients(t: ExecutionContext, count: number, options: EmulatorOptions = {}) {
  const { emulator } = await startTestEmulator(t, options);
  return { emulator, clients: await connectMany(emulator, count) };
}
