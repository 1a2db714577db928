/**
 * The Lambda side of `$default` for bench/sharded/sharded-sim.ts, in its own process so its CPU is
 * not shared with the emulator: the handlers runtime/host/lambda.ts builds from the Lambda
 * environment, with the connection list replaced by the virtual receivers (every id live in the
 * default room, as one Query page would return them; the sim prices the listing separately).
 * The emulator reaches them through its `handlers` seam, one IPC request per invocation.
 */
import { performance } from "node:perf_hooks";
import type { RouteHandler, WebSocketEvent } from "../../runtime/contract/websocket-event";
import { DEFAULT_ROOM } from "../../runtime/contract/rooms";
import type { InvocationLog } from "../../runtime/routes/deps";
import type { Handlers } from "../../runtime/routes/handlers";
import type { ConnectionStore } from "../../runtime/store/connection-store";
import { createHandlers } from "../../runtime/host/lambda";
import { readRuntimeConfig } from "../../runtime/config/environment";

export type SimRequest =
  /** Builds the handlers; `n` receivers' ids are the sender's, then `virtual-1` … `virtual-{n-1}`. */
  | { kind: "start"; environment: Record<string, string>; n: number }
  | { kind: "invoke"; route: keyof Handlers; event: WebSocketEvent }
  /** What `$default` did since `start`. */
  | { kind: "report" };

export type SimReply = Awaited<ReturnType<RouteHandler>> | DefaultReport | null;

export interface DefaultReport {
  /** `$default`'s own duration. */
  defaultMs: number;
  shards: number;
  /** Direct mode's failed posts (the workers log their own). */
  failedPosts: number;
  /** This process's CPU time since `start`. */
  cpuMs: number;
}

// Any key pair: the emulator checks that a request is signed, not by whom.
const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

/** The sender (the one real connection, its row "written" by `$connect`) stands in for `virtual-0`. */
function virtualStore(n: number): ConnectionStore {
  const ids = Array.from({ length: n }, (_, i) => `virtual-${i}`);
  return {
    put: (record) => {
      ids[0] = record.connectionId;
      return Promise.resolve();
    },
    remove: () => Promise.resolve({ room: DEFAULT_ROOM, publish: true }),
    membershipOf: () => Promise.resolve({ room: DEFAULT_ROOM, publish: true }),
    listMembers: () => Promise.resolve(ids.map((connectionId) => ({ connectionId }))),
    forEachRoomPage: (_room, _now, onPage) => onPage([...ids]),
  };
}

let handlers: Handlers | undefined;
let cpu = process.cpuUsage();
let defaultMs = 0;
const logs: InvocationLog[] = [];

async function answer(request: SimRequest): Promise<SimReply> {
  if (request.kind === "start") {
    handlers = createHandlers(readRuntimeConfig(request.environment), { store: virtualStore(request.n), credentials: CREDENTIALS, log: (entry) => logs.push(entry) });
    cpu = process.cpuUsage();
    return null;
  }
  if (!handlers) throw new Error("a request came before start");
  if (request.kind === "invoke") {
    const started = performance.now();
    const result = await handlers[request.route](request.event);
    if (request.route === "message") defaultMs += performance.now() - started;
    return result;
  }
  const used = process.cpuUsage(cpu);
  const line = logs.find((entry) => entry.route === "$default");
  return { defaultMs, shards: line?.shards ?? 0, failedPosts: line?.failed ?? 0, cpuMs: (used.user + used.system) / 1000 };
}

process.on("message", (request: SimRequest) => {
  answer(request).then(
    (reply) => process.send?.(reply ?? null),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
// The SDK clients' keep-alive sockets would hold the process open; the parent leaving ends it.
process.on("disconnect", () => process.exit(0));
