/**
 * The API Gateway v2 WebSocket event and result shapes the handlers accept. Both hosts build
 * these: AWS for the deployed Lambdas, `local/gateway/event-builders.ts` for the emulator.
 */

export type EventType = "CONNECT" | "MESSAGE" | "DISCONNECT";

export interface WebSocketRequestContext {
  routeKey: string;
  eventType: EventType;
  connectionId: string;
  connectedAt: number;
  requestTimeEpoch: number;
  requestTime: string;
  messageId?: string;
  requestId: string;
  extendedRequestId: string;
  domainName: string;
  stage: string;
  apiId: string;
  messageDirection: "IN";
  identity: { sourceIp: string; userAgent?: string };
  disconnectStatusCode?: number;
  disconnectReason?: string;
}

export interface WebSocketEvent {
  requestContext: WebSocketRequestContext;
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded: boolean;
}

/** What a route handler returns; for `$connect` a non-2xx status refuses the handshake. */
export interface HandlerResult {
  statusCode: number;
  body?: string;
}

export type RouteHandler = (event: WebSocketEvent) => Promise<HandlerResult>;

/** Header lookup that ignores case, as HTTP requires (API Gateway keeps the client's spelling). */
export function headerValue(event: WebSocketEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}
