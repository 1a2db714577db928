/**
 * The three route handlers, built from injected dependencies so that the Lambdas and the local
 * emulator run exactly the same code. Each invocation writes one JSON log line, never contents.
 */
import { checkAccess, type AccessPolicy } from "./access";
import type { ConnectionStore } from "./connections";
import type { HandlerResult, RouteHandler, WebSocketEvent } from "./events";
import { errorName, fanOut, makeDeliver, type FanOutCounts } from "./fanout";
import { errorFrame, transformMessage, type ErrorCode } from "./message";
import type { Poster } from "./post";
import { planShardJobs, type ShardQueue } from "./shards";

export interface Limits {
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
  receivers?: number;
  delivered?: number;
  gone?: number;
  failed?: number;
  failures?: Record<string, number>;
  cleanupFailed?: number;
  /** Sharded mode: shard jobs enqueued for this message. */
  shards?: number;
}

/** Sharded fan-out: `$default` enqueues shard jobs of at most `shardSize` receivers. */
export interface ShardedFanOut {
  queue: ShardQueue;
  shardSize: number;
}

export interface HandlerDeps {
  store: ConnectionStore;
  /** The poster for a management endpoint (`https://{domainName}/{stage}` unless overridden). */
  posterFor(endpoint: string): Poster;
  /** Overrides the endpoint derived from the event (custom domains, the emulator). */
  managementEndpoint?: string;
  limits: Limits;
  access: AccessPolicy;
  /** Epoch ms; injected so tests can move time (TTL filtering, durations). */
  now(): number;
  log(entry: InvocationLog): void;
  /** Unset: direct fan-out, every post from the `$default` invocation itself. */
  sharded?: ShardedFanOut;
}

export interface Handlers {
  connect: RouteHandler;
  disconnect: RouteHandler;
  message: RouteHandler;
}

export function makeHandlers(deps: HandlerDeps): Handlers {
  return {
    connect: makeConnectHandler(deps),
    disconnect: makeDisconnectHandler(deps),
    message: makeDefaultHandler(deps),
  };
}

/** `$connect`: admit per the access policy, then record the connection with its TTL. */
export function makeConnectHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    const refusal = checkAccess(deps.access, event);
    if (refusal) return { result: refusal, entry: { error: refusal.statusCode === 401 ? "Unauthorized" : "Forbidden" } };
    const { connectionId, connectedAt, requestTimeEpoch } = event.requestContext;
    const expiresAt = Math.floor(requestTimeEpoch / 1000) + deps.limits.connectionTtlSeconds;
    try {
      await deps.store.put({ connectionId, connectedAt, expiresAt });
    } catch (err) {
      return { result: { statusCode: 500, body: "Internal server error" }, entry: { error: errorName(err) } };
    }
    return { result: { statusCode: 200 }, entry: {} };
  });
}

/** `$disconnect`: best-effort removal; the TTL and 410 cleanup catch what this misses. */
export function makeDisconnectHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    try {
      await deps.store.remove(event.requestContext.connectionId);
    } catch (err) {
      return { result: { statusCode: 500 }, entry: { error: errorName(err) } };
    }
    return { result: { statusCode: 200 }, entry: {} };
  });
}

/**
 * `$default`: transform once, list every live connection, then either fan out and settle every
 * post (direct) or enqueue the receivers in shard jobs for the workers (sharded).
 */
export function makeDefaultHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    const { connectionId: sender, requestTimeEpoch: now, domainName, stage, messageId, requestId } = event.requestContext;
    const endpoint = deps.managementEndpoint ?? `https://${domainName}/${stage}`;
    const poster = deps.posterFor(endpoint);
    const replyError = async (code: ErrorCode, frame: string, entry: Partial<InvocationLog> = {}) => {
      await poster.post(sender, Buffer.from(frame));
      return { result: { statusCode: 200 }, entry: { ...entry, error: code } };
    };

    // API Gateway's messageId is unique per inbound message; only sharded copies carry it.
    const id = deps.sharded ? (messageId ?? requestId) : undefined;
    const transformed = transformMessage(bodyText(event), now, deps.limits.maxMessageBytes, id);
    if (!transformed.ok) return replyError(transformed.code, transformed.frame);

    let receivers: string[];
    try {
      receivers = await deps.store.listLive(Math.floor(deps.now() / 1000));
    } catch (err) {
      // Nothing has been posted yet: listing completes before the first post, so a store
      // failure never leaves a message half-delivered.
      return replyError("Unavailable", errorFrame("Unavailable", `connection store unavailable (${errorName(err)}); message not sent`, now));
    }

    if (deps.sharded && id !== undefined) {
      const { queue, shardSize } = deps.sharded;
      const jobs = planShardJobs({ endpoint, sender, messageId: id, base: transformed.outgoing.base }, receivers, shardSize);
      try {
        await queue.enqueue(jobs);
      } catch (err) {
        // Jobs accepted before the failure are delivered: some receivers may get this message.
        const message = `shard queue unavailable (${errorName(err)}); message may not reach everyone`;
        return replyError("Unavailable", errorFrame("Unavailable", message, now), { receivers: receivers.length, shards: jobs.length });
      }
      return { result: { statusCode: 200 }, entry: { receivers: receivers.length, shards: jobs.length } };
    }

    const { deliver, cleanupFailures } = makeDeliver(deps, poster, sender, transformed.outgoing);
    const counts: FanOutCounts = await fanOut(receivers, deliver, deps.limits.fanOutConcurrency);
    const cleanupFailed = cleanupFailures();
    return { result: { statusCode: 200 }, entry: { ...counts, ...(cleanupFailed > 0 ? { cleanupFailed } : {}) } };
  });
}

type Outcome = { result: HandlerResult; entry: Partial<InvocationLog> };

// Wraps a route body with timing and the single log line every invocation writes.
function logged(deps: HandlerDeps, body: (event: WebSocketEvent) => Promise<Outcome>): RouteHandler {
  return async (event) => {
    const started = deps.now();
    const { result, entry } = await body(event);
    const { routeKey, connectionId, requestId } = event.requestContext;
    deps.log({ route: routeKey, connectionId, requestId, statusCode: result.statusCode, durationMs: deps.now() - started, ...entry });
    return result;
  };
}

function bodyText(event: WebSocketEvent): string {
  const body = event.body ?? "";
  return event.isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body;
}
