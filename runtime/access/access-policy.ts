/**
 * AccessPolicy for `$connect`: an optional shared token or signed tokens (JWT), and an optional
 * list of allowed browser origins. Unset means open and anonymous, as the original project was.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import { headerValue, type WebSocketEvent } from "../contract/websocket-event";
import type { Identity } from "./token-claims";
import type { TokenVerifier } from "./token-verifier";

export interface AccessPolicy {
  /** When set, clients must present it as `?token=` or `Authorization: Bearer <token>`. */
  token?: string;
  /** When set, clients must present a token it accepts, the same way; it names the user. */
  verifyToken?: TokenVerifier;
  /** When non-empty, a present `Origin` header must be one of these (exact match). */
  allowedOrigins: readonly string[];
}

/** A refused handshake: its status, and why (for the log line; never the token). */
export interface Refusal {
  statusCode: 401 | 403 | 503;
  reason: string;
}

/** Admitted, as the token's user when signed tokens are on; or refused. */
export type Admission = { identity?: Identity } | { refusal: Refusal };

export async function checkAccess(policy: AccessPolicy, event: WebSocketEvent): Promise<Admission> {
  const offered = offeredToken(event);
  if (policy.token !== undefined && (offered === undefined || !sameSecret(offered, policy.token))) {
    return { refusal: { statusCode: 401, reason: offered === undefined ? "no token" : "wrong token" } };
  }
  const origin = headerValue(event, "origin");
  if (policy.allowedOrigins.length > 0 && origin !== undefined && !policy.allowedOrigins.includes(origin)) {
    return { refusal: { statusCode: 403, reason: "origin not allowed" } };
  }
  if (policy.verifyToken === undefined) return {};
  if (offered === undefined) return { refusal: { statusCode: 401, reason: "no token" } };
  const checked = await policy.verifyToken(offered);
  return checked.ok ? { identity: checked.identity } : { refusal: { statusCode: checked.status, reason: checked.reason } };
}

// An empty `?token=` (a page that passes on a blank setting) must not hide a valid header.
function offeredToken(event: WebSocketEvent): string | undefined {
  const fromQuery = event.queryStringParameters?.token || undefined;
  const authorization = headerValue(event, "authorization");
  const fromHeader = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
  return fromQuery ?? fromHeader;
}

// Hashing first gives equal-length inputs, so timingSafeEqual leaks neither content nor length.
function sameSecret(offered: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(offered), digest(expected));
}
