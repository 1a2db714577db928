/**
 * Starts an emulator for one test (free port, closed at teardown) and captures its log lines so
 * tests can wait for a handler invocation instead of sleeping.
 */
import type { ExecutionContext } from "ava";
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import type { Handlers } from "../../runtime/routes/handlers";
import { createHandlers, createShardWorkerHandler, type HostOverrides } from "../../runtime/host/lambda";
import { readRuntimeConfig, type RuntimeConfig } from "../../runtime/config/environment";
import { tokenVerifierFor } from "../../runtime/host/connect";
import type { ShardWorkerHandler } from "../../runtime/routes/shard-worker";
import { startEmulator, type Emulator } from "../../local/emulator";
import { resolveOptions, runtimeEnvironment, type EmulatorOptions } from "../../local/options";
import type { EmulatorSeams } from "../../local/seams";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { within, type EmulatorClient } from "./clients";
import { openTable } from "./table";

export type LogEntry = Record<string, unknown>;

/**
 * An `Authorization` header of SigV4's form: the emulator's management API refuses requests
 * without one, as AWS does, but does not verify the signature.
 */
export const SIGNED_LOOKING = { authorization: "AWS4-HMAC-SHA256 Credential=local/20260101/local/execute-api/aws4_request, SignedHeaders=host, Signature=0" };

export interface LogCapture {
  lines: string[];
  log: (line: string) => void;
  entries(): LogEntry[];
  /** The first entry (logged already or later) that matches. */
  waitFor(matches: (entry: LogEntry) => boolean, what: string): Promise<LogEntry>;
}

export function captureLog(): LogCapture {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  // Each line is parsed once, when first read: waitFor reads the entries after every new line.
  const parsed: LogEntry[] = [];
  const entries = () => {
    for (let i = parsed.length; i < lines.length; i++) parsed.push(JSON.parse(lines[i]) as LogEntry);
    return [...parsed];
  };
  return {
    lines,
    log: (line) => {
      lines.push(line);
      for (const wake of [...waiters]) wake();
    },
    entries,
    waitFor(matches, what) {
      return within(
        new Promise<LogEntry>((resolve) => {
          const check = () => {
            const found = entries().find(matches);
            if (!found) return;
            waiters.delete(check);
            resolve(found);
          };
          waiters.add(check);
          check();
        }),
        what,
      );
    },
  };
}

// The emulator's own lines (handlerError, stageThrottled...) name a route too, but carry `emulator`.
const isHandlerLine = (entry: LogEntry, route: string) => entry.route === route && entry.emulator === undefined;

/** Waits for the handler log line of `route` for `connectionId`. */
export function invocation(logs: LogCapture, route: string, connectionId: string): Promise<LogEntry> {
  return logs.waitFor((entry) => isHandlerLine(entry, route) && entry.connectionId === connectionId, `${route} of ${connectionId}`);
}

/** The handler log lines of `route` so far, one per invocation. */
export function invocations(logs: LogCapture, route: string): LogEntry[] {
  return logs.entries().filter((entry) => isHandlerLine(entry, route));
}

/** A `wrap` for the wrapped-handler starters: logs every `$default` event to `events`, then runs it. */
export function recordMessageEvents(events: LogCapture): (real: Handlers) => Handlers {
  return (real) => ({
    ...real,
    message: (event) => {
      events.log(JSON.stringify(event));
      return real.message(event);
    },
  });
}

export async function startTestEmulator(
  t: ExecutionContext,
  options: EmulatorOptions = {},
  seams: EmulatorSeams = {},
): Promise<{ emulator: Emulator; logs: LogCapture }> {
  const logs = captureLog();
  const emulator = await startEmulator({ port: 0, log: logs.log, ...options }, seams);
  t.teardown(() => emulator.close());
  return { emulator, logs };
}

/**
 * An emulator whose handlers are `wrap(real)`, where `real` are the handlers the emulator would
 * build itself (same environment, same table, same management endpoint). Lets a test inject a
 * fault or watch events while everything else stays real. Closed at the test's teardown.
 */
export async function startWithWrappedHandlers(
  t: ExecutionContext,
  wrap: Wrap,
  options: EmulatorOptions = {},
  seams: EmulatorSeams = {},
): Promise<{ emulator: Emulator; logs: LogCapture }> {
  const started = await startWrappedEmulator(wrap, options, seams);
  t.teardown(() => started.emulator.close());
  return started;
}

/** Builds the handlers a test runs from the real ones; `started` is the emulator they serve. */
export type Wrap = (real: Handlers, started: { emulator: Emulator; logs: LogCapture }) => Handlers;

/** `startWithWrappedHandlers` for a whole file (ava has no teardown in hooks): the caller closes it. */
export async function startWrappedEmulator(
  wrap: Wrap,
  options: EmulatorOptions = {},
  seams: EmulatorSeams = {},
): Promise<{ emulator: Emulator; logs: LogCapture }> {
  let wrapped: Handlers | undefined;
  const current = (): Handlers => {
    if (!wrapped) throw new Error("a connection arrived before the test installed its handlers");
    return wrapped;
  };
  const logs = captureLog();
  const emulator = await startEmulator(
    { port: 0, log: logs.log, ...options },
    {
      ...seams,
      handlers: {
        connect: (event) => current().connect(event),
        message: (event) => current().message(event),
        disconnect: (event) => current().disconnect(event),
      },
    },
  );
  wrapped = wrap(buildHandlers(emulator, logs, options), { emulator, logs });
  return { emulator, logs };
}

/** Endpoints to use instead of the emulator's own, e.g. a DynamoDB or a queue that is down. */
export interface EndpointOverrides {
  dynamo?: string;
  shardQueue?: string;
}

/**
 * The handlers `emulator` builds for itself (same environment, table and management endpoint),
 * logging to `logs`, with `endpoints` in place of the emulator's own.
 */
export function buildHandlers(emulator: Emulator, logs: LogCapture, options: EmulatorOptions = {}, endpoints: EndpointOverrides = {}): Handlers {
  return createHandlers(...lambdaSetup(emulator, logs, options, endpoints));
}

/** The shard worker `emulator` builds for itself (sharded mode), logging to `logs`. */
export function buildShardWorker(emulator: Emulator, logs: LogCapture, options: EmulatorOptions = {}): ShardWorkerHandler {
  return createShardWorkerHandler(...lambdaSetup(emulator, logs, options));
}

// The config the emulator's Lambda threads read from its environment, and the overrides it gives them.
export function lambdaSetup(emulator: Emulator, logs: LogCapture, options: EmulatorOptions, endpoints: EndpointOverrides = {}): [RuntimeConfig, HostOverrides] {
  const environment = runtimeEnvironment(resolveOptions({ ...options, port: emulator.port }), {
    management: emulator.managementEndpoint,
    dynamo: endpoints.dynamo ?? emulator.dynamoEndpoint,
    shardQueue: endpoints.shardQueue ?? emulator.shardQueueUrl,
  });
  const config = readRuntimeConfig(environment);
  return [config, { credentials: LOCAL_AWS.credentials, log: (entry) => logs.log(JSON.stringify(entry)), verifyToken: tokenVerifierFor(config) }];
}

/**
 * Posts a marker straight to the client through the management API (no route, no stage
 * throttling); the client's next frame being the marker proves nothing came before it.
 */
export async function expectNothingBefore(
  t: ExecutionContext,
  emulator: Emulator,
  client: EmulatorClient,
): Promise<void> {
  const api = new ApiGatewayManagementApiClient({ ...LOCAL_AWS, endpoint: emulator.managementEndpoint });
  t.teardown(() => api.destroy());
  const marker = "marker";
  await api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from(marker) }));
  t.is(await client.next(), marker);
}

/** Waits until `client` is closed with `code` and its `$disconnect` has removed its row; returns the reason. */
export async function expectEnded(t: ExecutionContext, emulator: Emulator, logs: LogCapture, client: EmulatorClient, code: number): Promise<string> {
  const { code: closeCode, reason } = await client.closed();
  t.is(closeCode, code, reason);
  t.is((await invocation(logs, "$disconnect", client.id)).statusCode, 200);
  t.is(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).get(client.id), undefined);
  return reason;
}
