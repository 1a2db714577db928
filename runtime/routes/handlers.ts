/**
 * The three route handlers, built from injected dependencies so that the Lambdas and the local
 * emulator run exactly the same code. Each invocation writes one JSON log line, never contents.
 */
import { checkAccess } from "../access/access-policy";
import { broadcastToRoom, unavailableMessage } from "../delivery/broadcast";
import { logInvocation, type HandlerDeps, type InvocationLog, type Logged } from "./deps";
import type { HandlerResult, RouteHandler, WebSocketEvent } from "../contract/websocket-event";
import { errorName } from "../contract/errors";
import { errorFrame, transformMessage, type ErrorCode } from "../contract/message";
import { classifyFrame } from "../contract/control-frame";
import { answerControl } from "./control";
import type { Membership } from "../store/connection-store";
import { storeNumbered } from "./history-append";
import { historyMessageLimit } from "../contract/history-answer";
import { announcePresence } from "./presence";
import { requestedRoom } from "../contract/rooms";
import { grantsRoom } from "../access/token-claims";
import type { Refusal } from "../access/access-policy";

export interface Handlers {
  connect: RouteHandler;
  disconnect: RouteHandler;
  message: RouteHandler;
}

export function makeHandlers(deps: HandlerDeps): Handlers {
  return {
    connect: makeConnectHandler(deps),
    disconnect: makeDisconnectHandler(deps),
    message: makeMessageHandler(deps),
  };
}

/**
 * `$connect`: admit per the access policy (as the token's user when signed tokens are on), a
 * valid room name and the token's room grants, then record the connection with its room, TTL and
 * identity. A refusal writes nothing.
 */
export function makeConnectHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    const admission = await checkAccess(deps.access, event);
    if ("refusal" in admission) return refused(admission.refusal);
    const requested = requestedRoom(event);
    if ("refusal" in requested) return { result: requested.refusal, entry: { error: "InvalidRoom" } };
    const { room } = requested;
    const { identity } = admission;
    if (identity !== undefined && !grantsRoom(identity.rooms, room)) return refused({ statusCode: 403, reason: "room not granted" });
    const { connectionId, connectedAt, requestTimeEpoch } = event.requestContext;
    const expiresAt = Math.floor(requestTimeEpoch / 1000) + deps.limits.connectionTtlSeconds;
    // An anonymous connection's row and presence events carry no identity keys at all.
    const who = identity === undefined ? {} : { user: identity.user, ...(identity.meta === undefined ? {} : { meta: identity.meta }) };
    const readOnly = identity?.publish === false ? { publish: false as const } : {};
    try {
      await deps.store.put({ connectionId, connectedAt, expiresAt, room, ...who, ...readOnly });
    } catch (err) {
      return { result: { statusCode: 500, body: "Internal server error" }, entry: { error: errorName(err) } };
    }
    if (!deps.presence) return { result: { statusCode: 200 }, entry: {} };
    const entry = await announcePresence(deps, { event: "join", room, connectionId, who, endpoint: endpointOf(deps, event), now: requestTimeEpoch });
    return { result: { statusCode: 200 }, entry };
  });
}

/** `$disconnect`: best-effort removal (the TTL and 410 cleanup catch what this misses), then presence. */
export function makeDisconnectHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    const { connectionId, requestTimeEpoch } = event.requestContext;
    let removed: Membership | undefined;
    try {
      removed = await deps.store.remove(connectionId);
    } catch (err) {
      return { result: { statusCode: 500 }, entry: { error: errorName(err) } };
    }
    if (!deps.presence || removed === undefined) return { result: { statusCode: 200 }, entry: {} };
    const { room, user, meta } = removed;
    const entry = await announcePresence(deps, { event: "leave", room, connectionId, who: { user, meta }, endpoint: endpointOf(deps, event), now: requestTimeEpoch });
    return { result: { statusCode: 200 }, entry };
  });
}

/**
 * `$default`: read the sender's room and identity from its row (one consistent GetItem, which the
 * Lambdas' store remembers for a minute: runtime/store/room-memory.ts), transform once (`_from`
 * for an identified sender), then broadcast to that room (runtime/delivery/broadcast.ts): direct
 * posts, or shard jobs for the workers. A read-only connection's data frames reach nobody.
 */
export function makeMessageHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    const { connectionId: sender, requestTimeEpoch: now, messageId, requestId } = event.requestContext;
    const endpoint = endpointOf(deps, event);
    const poster = deps.posterFor(endpoint);
    const replyError = async (code: ErrorCode, frame: string, entry: Partial<InvocationLog> = {}) => {
      await poster.post(sender, Buffer.from(frame));
      return { result: { statusCode: 200 }, entry: { ...entry, error: code } };
    };

    // API Gateway's messageId is unique per inbound message; only sharded copies carry it.
    const text = bodyText(event);
    const frame = classifyFrame(text);
    if (frame.kind !== "data") {
      const answer = await answerControl(deps, frame, { sender, now });
      await poster.post(sender, Buffer.from(answer.frame));
      return { result: { statusCode: 200 }, entry: answer.entry };
    }
    let membership: Membership | undefined;
    try {
      membership = await deps.store.membershipOf(sender);
    } catch (err) {
      return replyError("Unavailable", errorFrame("Unavailable", `connection store unavailable (${errorName(err)}); message not sent`, now));
    }
    if (membership === undefined) {
      const message = "this connection has no row in the connections table; message not sent";
      return replyError("NotConnected", errorFrame("NotConnected", message, now));
    }
    const { room, user } = membership;
    if (!membership.publish) return replyError("Forbidden", errorFrame("Forbidden", "this connection may not publish", now));
    const id = deps.sharded ? (messageId ?? requestId) : undefined;
    const maxBytes = deps.history ? historyMessageLimit(deps.limits.maxMessageBytes) : deps.limits.maxMessageBytes;
    const transformed = transformMessage(text, { now, from: user, id }, maxBytes);
    if (!transformed.ok) return replyError(transformed.code, transformed.frame);

    let outgoing = transformed.outgoing;
    let seq: number | undefined;
    if (deps.history) {
      const numbered = await storeNumbered(deps.history, { room, sender, now }, (next) => transformMessage(text, { now, from: user, seq: next, id }, maxBytes));
      if (!numbered.ok) return replyError(numbered.code, numbered.frame);
      ({ outgoing, seq } = numbered);
    }

    const outcome = await broadcastToRoom(deps, { room, sender, outgoing, endpoint, messageId: id });
    const entry = seq === undefined ? outcome.counts : { ...outcome.counts, seq };
    if (outcome.ok) return { result: { statusCode: 200 }, entry };
    return replyError("Unavailable", errorFrame("Unavailable", unavailableMessage(outcome), now), entry);
  });
}

const REFUSAL_TEXT = { 401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable" } as const;
const REFUSAL_ERROR = { 401: "Unauthorized", 403: "Forbidden", 503: "Unavailable" } as const;

// The status and its text for the client; the reason only in the log line.
function refused(refusal: Refusal): Logged<HandlerResult> {
  const { statusCode, reason } = refusal;
  return { result: { statusCode, body: REFUSAL_TEXT[statusCode] }, entry: { error: REFUSAL_ERROR[statusCode], reason } };
}

/** The management API endpoint: `https://{domainName}/{stage}` unless the host overrides it. */
function endpointOf(deps: HandlerDeps, event: WebSocketEvent): string {
  return deps.managementEndpoint ?? `https://${event.requestContext.domainName}/${event.requestContext.stage}`;
}

// A route body with the log line every invocation writes, named by the event's route and ids.
function logged(deps: HandlerDeps, body: (event: WebSocketEvent) => Promise<Logged<HandlerResult>>): RouteHandler {
  return (event) => {
    const { routeKey, connectionId, requestId } = event.requestContext;
    return logInvocation(deps, { route: routeKey, connectionId, requestId }, () => body(event));
  };
}

function bodyText(event: WebSocketEvent): string {
  const body = event.body ?? "";
  return event.isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body;
}
