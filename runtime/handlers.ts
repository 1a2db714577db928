/**
 * The three route handlers, built from injected dependencies so that the Lambdas and the local
 * emulator run exactly the same code. Each invocation writes one JSON log line, never contents.
 */
import { checkAccess, type AccessPolicy } from "./access";
import type { ConnectionStore } from "./connections";
import type { HandlerResult, RouteHandler, WebSocketEvent } from "./events";
import { fanOut, type FanOutCounts } from "./fanout";
import { errorFrame, transformMessage, type ErrorCode } from "./message";
import type { Poster, PostResult } from "./post";

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

/** `$default`: transform once, list every live connection, fan out, settle every post. */
export function makeDefaultHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    const { connectionId: sender, requestTimeEpoch: now, domainName, stage } = event.requestContext;
    const poster = deps.posterFor(deps.managementEndpoint ?? `https://${domainName}/${stage}`);
    const replyError = async (code: ErrorCode, frame: string) => {
      await poster.post(sender, Buffer.from(frame));
      return { result: { statusCode: 200 }, entry: { error: code } };
    };

    const transformed = transformMessage(bodyText(event), now, deps.limits.maxMessageBytes);
    if (!transformed.ok) return replyError(transformed.code, transformed.frame);

    let receivers: string[];
    try {
      receivers = await deps.store.listLive(Math.floor(deps.now() / 1000));
    } catch (err) {
      // Nothing has been posted yet: listing completes before the first post, so a store
      // failure never leaves a message half-delivered.
      return replyError("Unavailable", errorFrame("Unavailable", `connection store unavailable (${errorName(err)}); message not sent`, now));
    }

    const senderCopy = Buffer.from(transformed.outgoing.sender);
    const othersCopy = Buffer.from(transformed.outgoing.others);
    let cleanupFailed = 0;
    const deliver = async (id: string): Promise<PostResult> => {
      const result = await poster.post(id, id === sender ? senderCopy : othersCopy);
      if (result.outcome === "gone") await deps.store.remove(id).catch(() => cleanupFailed++);
      return result;
    };
    const counts: FanOutCounts = await fanOut(receivers, deliver, deps.limits.fanOutConcurrency);
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

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : "Unknown";
}
