/**
 * A Poster over bare HTTP: the same PostToConnection request without the SDK (no signing, no
 * middleware, no retries). The bench's floor: our handler posting this way shows what the loopback
 * HTTP round trips alone cost on this machine, and so how much of a fan-out is the SDK's.
 */
import http from "node:http";
import type { Poster, PostResult } from "../../runtime/delivery/poster";

// The emulator, like AWS, refuses a management call without a SigV4 Authorization header; it does
// not verify the signature, so the floor sends this constant one and skips the signing it measures apart.
const PLACEHOLDER_AUTHORIZATION = "AWS4-HMAC-SHA256 Credential=local/00000000/local/execute-api/aws4_request, SignedHeaders=host, Signature=unsigned";

export function createRawHttpPosterFactory(maxSockets: number): (endpoint: string) => Poster {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return (endpoint) => {
    const base = new URL(endpoint);
    return {
      post(connectionId, payload) {
        return new Promise<PostResult>((resolve) => {
          const request = http.request(
            {
              agent,
              host: base.hostname,
              port: base.port,
              method: "POST",
              path: `${base.pathname}/@connections/${encodeURIComponent(connectionId)}`,
              headers: { "content-length": payload.length, authorization: PLACEHOLDER_AUTHORIZATION },
            },
            (response) => {
              response.resume();
              response.once("end", () => resolve(outcome(response.statusCode ?? 0)));
            },
          );
          request.once("error", (err) => resolve({ outcome: "failed", reason: err.name }));
          request.end(payload);
        });
      },
    };
  };
}

function outcome(status: number): PostResult {
  if (status === 200) return { outcome: "delivered" };
  if (status === 410) return { outcome: "gone" };
  return { outcome: "failed", reason: `HTTP ${status}` };
}
