/**
 * Builders of the API Gateway v2 WebSocket events the emulator hands to the route handlers,
 * shaped like the ones AWS delivers (see runtime/contract/websocket-event.ts), plus AWS-looking ids.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { EventType, WebSocketEvent, WebSocketRequestContext } from "../../runtime/contract/websocket-event";

/** What every event of one connection repeats. */
export interface ConnectionContext {
  connectionId: string;
  /** Epoch ms of the `$connect`. */
  connectedAt: number;
  /** The Host header of the handshake, as AWS reports its own domain. */
  domainName: string;
  stage: string;
  apiId: string;
  identity: { sourceIp: string; userAgent?: string };
}

/** The parts of the handshake request that only `$connect` receives. */
export interface Handshake {
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
}

/** A 16-character id like AWS connection, request and message ids (`bJ3k9fQ2oAMCJ8g=`). */
export function newAwsId(): string {
  // 11 random bytes are 15 base64 characters; AWS ids end in one padding "=". The URL-safe
  // alphabet keeps ids usable unescaped in `@connections/{id}` paths.
  return `${randomBytes(11).toString("base64url")}=`;
}

/** A 10-character lowercase id like an API Gateway API id (`a1b2c3d4e5`). */
export function newApiId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(10), (byte) => alphabet[byte % alphabet.length]).join("");
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** AWS's `requestTime` format, always UTC: `20/Jun/2019:07:25:29 +0000`. */
export function awsRequestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, "0");
  const day = `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}`;
  return `${day}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** Reads the connection context and handshake from an upgrade request. */
export function readHandshake(
  req: IncomingMessage,
  ids: { connectionId: string; stage: string; apiId: string; now: number },
): { context: ConnectionContext; handshake: Handshake } {
  const headers: Record<string, string> = {};
  // rawHeaders keeps the client's spelling, as API Gateway does; a repeated header keeps its last value.
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]] = req.rawHeaders[i + 1];
  const url = req.url ?? "/";
  const query = url.includes("?") ? [...new URLSearchParams(url.slice(url.indexOf("?") + 1))] : [];
  const queryStringParameters = query.length > 0 ? Object.fromEntries(query) : undefined;
  const remote = req.socket.remoteAddress ?? "";
  return {
    context: {
      connectionId: ids.connectionId,
      connectedAt: ids.now,
      domainName: req.headers.host ?? "localhost",
      stage: ids.stage,
      apiId: ids.apiId,
      identity: { sourceIp: remote.replace(/^::ffff:/, ""), userAgent: req.headers["user-agent"] },
    },
    handshake: { headers, queryStringParameters },
  };
}

/** The `$connect` event; its `requestTimeEpoch` equals `connectedAt`. */
export function connectEvent(context: ConnectionContext, handshake: Handshake): WebSocketEvent {
  return {
    requestContext: requestContext(context, "$connect", "CONNECT", context.connectedAt),
    headers: handshake.headers,
    ...(handshake.queryStringParameters ? { queryStringParameters: handshake.queryStringParameters } : {}),
    isBase64Encoded: false,
  };
}

/** A `$default` event for one text message. */
export function messageEvent(context: ConnectionContext, body: string, now: number): WebSocketEvent {
  return {
    requestContext: { ...requestContext(context, "$default", "MESSAGE", now), messageId: newAwsId() },
    body,
    isBase64Encoded: false,
  };
}

/** The `$disconnect` event with the close code and reason the connection ended with. */
export function disconnectEvent(context: ConnectionContext, statusCode: number, reason: string, now: number): WebSocketEvent {
  return {
    requestContext: {
      ...requestContext(context, "$disconnect", "DISCONNECT", now),
      disconnectStatusCode: statusCode,
      disconnectReason: reason,
    },
    isBase64Encoded: false,
  };
}

function requestContext(context: ConnectionContext, routeKey: string, eventType: EventType, now: number): WebSocketRequestContext {
  return {
    routeKey,
    eventType,
    connectionId: context.connectionId,
    connectedAt: context.connectedAt,
    requestTimeEpoch: now,
    requestTime: awsRequestTime(now),
    requestId: newAwsId(),
    extendedRequestId: newAwsId(),
    domainName: context.domainName,
    stage: context.stage,
    apiId: context.apiId,
    messageDirection: "IN",
    identity: { ...context.identity },
  };
}
