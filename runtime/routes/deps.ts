/**
 * What the route handlers are built from (injected, so that the Lambdas and the local emulator run
 * exactly the same code), and the one log line each invocation writes.
 */
import type { AccessPolicy } from "../access/access-policy";
import type { ConnectionStore } from "../store/connection-store";
import type { Poster } from "../delivery/poster";
import type { ShardQueue } from "../delivery/sqs-shard-queue";
import type { HistoryStore } from "../store/history-store";

interface Limits {
  maxMessageBytes: number;
  fanOutConcurrency: number;
  connectionTtlSeconds: number;
}

/** One structured line per invocation. */
export interface InvocationLog {
  route: string;
  connectionId: string;
  requestId: string;
  statusCode: number;
  durationMs: number;
  error?: string;
  /** A refused `$connect`: why (never the token). */
  reason?: string;
  /** `$default` answering a control frame: its `_op`. */
  op?: string;
  receivers?: number;
  delivered?: number;
  gone?: number;
  failed?: number;
  failures?: Record<string, number>;
  cleanupFailed?: number;
  /** Sharded mode: shard jobs enqueued for this message. */
  shards?: number;
  /** History on: the `_seq` the message was stored under. */
  seq?: number;
}

/** Sharded fan-out: `$default` enqueues shard jobs of at most `shardSize` receivers. */
interface ShardedFanOut {
  queue: ShardQueue;
  shardSize: number;
}

export interface HandlerDeps {
  store: ConnectionStore;
  /** The poster for a management endpoint (`https://{domainName}/{stage}` unless overridden). */
  posterFor: (endpoint: string) => Poster;
  /** Overrides the endpoint derived from the event (custom domains, the emulator). */
  managementEndpoint?: string;
  limits: Limits;
  access: AccessPolicy;
  /** Epoch ms; injected so tests can move time (TTL filtering, durations). */
  now: () => number;
  log: (entry: InvocationLog) => void;
  /** Unset: direct fan-out, every post from the `$default` invocation itself. */
  sharded?: ShardedFanOut;
  /** Set: `$connect` and `$disconnect` tell the rest of the room (runtime/routes/presence.ts). */
  presence?: boolean;
  /** Set (history on): every data message is numbered and stored before it is posted (runtime/store/history-store.ts). */
  history?: HistoryStore;
}

/** What a route body gives back: its result and the outcome fields of its log line. */
export type Logged<R extends { statusCode: number }> = { result: R; entry: Partial<InvocationLog> };

/**
 * Runs one invocation's body and writes its one log line: `names` say which invocation it was,
 * then the status, the duration and the body's entry (which may name it more precisely).
 */
export async function logInvocation<R extends { statusCode: number }>(
  deps: Pick<HandlerDeps, "now" | "log">,
  names: Pick<InvocationLog, "route" | "connectionId" | "requestId">,
  body: () => Promise<Logged<R>>,
): Promise<R> {
  const started = deps.now();
  const { result, entry } = await body();
  deps.log({ ...names, statusCode: result.statusCode, durationMs: deps.now() - started, ...entry });
  return result;
}
