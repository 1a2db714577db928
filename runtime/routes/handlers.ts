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
import { announcePresence } from "./presence";
import { requestedRoom } from "../contract/rooms";

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

/** `$connect`: admit per the access policy and a valid room name, then record the connection with its room and TTL. */
function makeConnectHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    const refusal = checkAccess(deps.access, event);
    if (refusal) return { result: refusal, entry: { error: refusal.statusCode === 401 ? "Unauthorized" : "Forbidden" } };
    const requested = requestedRoom(event);
    if ("refusal" in requested) return { result: requested.refusal, entry: { error: "InvalidRoom" } };
    const { room } = requested;
    const { connectionId, connectedAt, requestTimeEpoch } = event.requestContext;
    const expiresAt = Math.floor(requestTimeEpoch / 1000) + deps.limits.connectionTtlSeconds;
    try {
      await deps.store.put({ connectionId, connectedAt, expiresAt, room });
    } catch (err) {
      return { result: { statusCode: 500, body: "Internal server error" }, entry: { error: errorName(err) } };
    }
    if (!deps.presence) return { result: { statusCode: 200 }, entry: {} };
    const entry = await announcePresence(deps, { event: "join", room, connectionId, endpoint: endpointOf(deps, event), now: requestTimeEpoch });
    return { result: { statusCode: 200 }, entry };
  });
}

/** `$disconnect`: best-effort removal (the TTL and 410 cleanup catch what this misses), then presence. */
function makeDisconnectHandler(deps: HandlerDeps): RouteHandler {
  return logged(deps, async (event) => {
    const { connectionId, requestTimeEpoch } = event.requestContext;
    let room: string | undefined;
    try {
      room = await deps.store.remove(connectionId);
    } catch (err) {
      return { result: { statusCode: 500 }, entry: { error: errorName(err) } };
    }
    if (!deps.presence || room === undefined) return { result: { statusCode: 200 }, entry: {} };
    const entry = await announcePresence(deps, { event: "leave", room, connectionId, endpoint: endpointOf(deps, event), now: requestTimeEpoch });
    return { result: { statusCode: 200 }, entry };
  });
}

/**
 * `$default`: transform once, read the sender's room from its row (one consistent GetItem, which
 * the Lambdas' store remembers for a minute: runtime/store/room-memory.ts), then broadcast to that room
 * (runtime/delivery/broadcast.ts): direct posts, or shard jobs for the workers.
 */
function makeMessageHandler(deps: HandlerDeps): RouteHandler {
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
    const id = deps.sharded ? (messageId ?? requestId) : undefined;
    const transformed = transformMessage(text, now, deps.limits.maxMessageBytes, id);
    if (!transformed.ok) return replyError(transformed.code, transformed.frame);

    let room: string | undefined;
    try {
      room = await deps.store.roomOf(sender);
    } catch (err) {
      return replyError("Unavailable", errorFrame("Unavailable", `connection store unavailable (${errorName(err)}); message not sent`, now));
    }
    if (room === undefined) {
      const message = "this connection has no row in the connections table; message not sent";
      return replyError("NotConnected", errorFrame("NotConnected", message, now));
    }

    const outcome = await broadcastToRoom(deps, { room, sender, outgoing: transformed.outgoing, endpoint, messageId: id });
    if (outcome.ok) return { result: { statusCode: 200 }, entry: outcome.counts };
    return replyError("Unavailable", errorFrame("Unavailable", unavailableMessage(outcome), now), outcome.counts);
  });
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
