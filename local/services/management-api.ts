/**
 * The API Gateway management API (`/{stage}/@connections/{id}`): PostToConnection,
 * GetConnection and DeleteConnection, answering with the status codes and `x-amzn-ErrorType`
 * names the AWS SDK turns into GoneException, PayloadTooLargeException and LimitExceededException.
 * As on AWS, a request without a SigV4 `Authorization` header is refused (403 Missing
 * Authentication Token); the signature itself is not verified (docs/slow-consumers.md).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { Gateway } from "../gateway/gateway";
import { readBody, replyAws } from "../net/http";
import { AWS_LIMITS } from "../gateway/aws-limits";
import type { TokenBucket } from "../gateway/token-bucket";
import type { EmulatorSeams } from "../seams";

export interface ManagementApiOptions {
  gateway: Pick<Gateway, "send" | "describe" | "disconnect">;
  /** The current PostToConnection quota; undefined means unlimited. */
  postQuota: () => TokenBucket | undefined;
  log: (line: string) => void;
}

/** The connection id addressed by `pathname`, or undefined when it is not a management API path of `stage`. */
export function managementConnectionId(pathname: string, stage: string): string | undefined {
  const prefix = `/${stage}/@connections/`;
  // Some SDK versions percent-encode the "@"; the current one and the signed poster send it as is.
  const path = pathname.replace(/^(\/[^/]+\/)%40/i, "$1@");
  if (!path.startsWith(prefix)) return undefined;
  const encoded = path.slice(prefix.length);
  if (encoded === "" || encoded.includes("/")) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** Answers one management API request for `connectionId`. */
export type ManagementApi = (req: IncomingMessage, res: ServerResponse, connectionId: string) => Promise<void>;

export function createManagementApi(options: ManagementApiOptions, seams: Pick<EmulatorSeams, "postLatencyMs"> = {}): ManagementApi {
  const { gateway, postQuota, log } = options;
  const postLatencyMs = seams.postLatencyMs ?? 0;

  return async (req, res, connectionId) => {
    if (!isSigV4(req.headers.authorization)) {
      log(JSON.stringify({ emulator: "missingAuthentication", method: req.method, connectionId }));
      // Drained, so that the client reads the answer rather than a reset.
      req.resume();
      return replyError(res, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    }
    if (req.method === "POST") {
      const body = await readBody(req, AWS_LIMITS.messageBytes);
      if (postLatencyMs > 0) await delay(postLatencyMs);
      if (body === undefined) {
        return replyError(res, 413, "PayloadTooLargeException", `Message payload exceeds the ${AWS_LIMITS.messageBytes}-byte limit`);
      }
      const quota = postQuota();
      if (quota && !quota.take()) {
        log(JSON.stringify({ emulator: "throttled", connectionId }));
        return replyError(res, 429, "LimitExceededException", "Too Many Requests");
      }
      const outcome = gateway.send(connectionId, body);
      if (outcome === "gone") return gone(res);
      // AWS documents LimitExceededException for "the WebSocket client side buffer is full" too.
      if (outcome === "bufferFull") return replyError(res, 429, "LimitExceededException", "Client side buffer is full");
      // Answered after the frame is written: the gateway writes a turn's frames to a client
      // together when the turn ends (local/gateway/connection.ts), and immediates run in order.
      return void setImmediate(replyAws, res, 200);
    }
    if (req.method === "GET") {
      const info = gateway.describe(connectionId);
      if (!info) return gone(res);
      return replyAws(res, 200, {
        connectedAt: new Date(info.connectedAt).toISOString(),
        lastActiveAt: new Date(info.lastActiveAt).toISOString(),
        identity: info.identity,
      });
    }
    if (req.method === "DELETE") {
      if (!gateway.disconnect(connectionId)) return gone(res);
      return replyAws(res, 204);
    }
    res.setHeader("Allow", "GET, POST, DELETE");
    replyError(res, 405, "MethodNotAllowedException", `${req.method} is not supported on @connections`);
  };
}

// What every AWS SDK sends; the credential scope and signature that follow are not checked.
function isSigV4(authorization: string | undefined): boolean {
  return authorization?.startsWith("AWS4-HMAC-SHA256 ") === true;
}

function gone(res: ServerResponse): void {
  replyError(res, 410, "GoneException", "Gone");
}

// The SDK names the exception after `x-amzn-ErrorType`; the body carries the message.
function replyError(res: ServerResponse, status: number, errorType: string, message: string): void {
  res.setHeader("x-amzn-ErrorType", errorType);
  replyAws(res, status, { message });
}
