/**
 * AccessPolicy for `$connect`: an optional shared token and an optional list of allowed
 * browser origins. Unset means open, as the original project was.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import { headerValue, type HandlerResult, type WebSocketEvent } from "../contract/websocket-event";

export interface AccessPolicy {
  /** When set, clients must present it as `?token=` or `Authorization: Bearer <token>`. */
  token?: string;
  /** When non-empty, a present `Origin` header must be one of these (exact match). */
  allowedOrigins: readonly string[];
}

/** Returns the refusal for a connection the policy does not admit, or undefined to admit it. */
export function checkAccess(policy: AccessPolicy, event: WebSocketEvent): HandlerResult | undefined {
  if (policy.token !== undefined && !presentsToken(event, policy.token)) {
    return { statusCode: 401, body: "Unauthorized" };
  }
  const origin = headerValue(event, "origin");
  if (policy.allowedOrigins.length > 0 && origin !== undefined && !policy.allowedOrigins.includes(origin)) {
    return { statusCode: 403, body: "Forbidden" };
  }
  return undefined;
}

function presentsToken(event: WebSocketEvent, expected: string): boolean {
  // An empty `?token=` (a page that passes on a blank setting) must not hide a valid header.
  const fromQuery = event.queryStringParameters?.token || undefined;
  const authorization = headerValue(event, "authorization");
  const fromHeader = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
  const offered = fromQuery ?? fromHeader;
  return offered !== undefined && sameSecret(offered, expected);
}

// Hashing first gives equal-length inputs, so timingSafeEqual leaks neither content nor length.
function sameSecret(offered: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(offered), digest(expected));
}
