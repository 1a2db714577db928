/**
 * Poster: sends one payload to one connection through the API Gateway management API and
 * classifies the outcome. SDK v3 errors carry `name` and `$metadata.httpStatusCode`, never
 * `statusCode`, so that is what is inspected.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import type { RetryStrategyV2, RetryToken } from "@smithy/types";

export type PostResult =
  | { outcome: "delivered" }
  /** The connection no longer exists: its row can be deleted. */
  | { outcome: "gone" }
  /** Anything else (throttled after the SDK's retries, payload too large, network): the row stays. */
  | { outcome: "failed"; reason: string };

export interface Poster {
  post(connectionId: string, payload: Uint8Array): Promise<PostResult>;
}

export function classifyPostError(err: unknown): PostResult {
  const error = (typeof err === "object" && err !== null ? err : {}) as {
    name?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  if (error.name === "GoneException" || error.$metadata?.httpStatusCode === 410) return { outcome: "gone" };
  return { outcome: "failed", reason: typeof error.name === "string" ? error.name : "Unknown" };
}

export function createManagementApiPoster(client: ApiGatewayManagementApiClient): Poster {
  return {
    async post(connectionId, payload) {
      try {
        await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: payload }));
        return { outcome: "delivered" };
      } catch (err) {
        return classifyPostError(err);
      }
    },
  };
}

export interface PosterFactoryOptions {
  region?: string;
  /** Sockets kept per endpoint: at least the fan-out concurrency, or posts queue for a socket. */
  maxSockets: number;
  /** Test and emulator hook: credentials when none are in the environment. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Returns `posterFor(endpoint)`, building one management API client per endpoint and reusing it
 * for the life of the container (the endpoint comes from each event's domain name and stage).
 */
export function createPosterFactory(options: PosterFactoryOptions): (endpoint: string) => Poster {
  const posters = new Map<string, Poster>();
  return (endpoint) => {
    let poster = posters.get(endpoint);
    if (!poster) {
      const agent = { keepAlive: true, maxSockets: options.maxSockets };
      const client = new ApiGatewayManagementApiClient({
        endpoint,
        region: options.region,
        credentials: options.credentials,
        requestHandler: { httpAgent: agent, httpsAgent: agent },
        // Resolves the middleware stack once instead of on every post: a large fan-out is
        // CPU-bound on per-request SDK work, and this saves about 0.1 ms per post (bench/RESULTS.md).
        cacheMiddleware: true,
        retryStrategy: postRetryStrategy(),
      });
      poster = createManagementApiPoster(client);
      posters.set(endpoint, poster);
    }
    return poster;
  };
}

// Posts over the PostToConnection quota (429) are retried soon and often, for up to 3 s: under
// a quota most find a token within a few attempts, and the time lost waiting stays small next to
// the quota itself. Other retryable errors (5xx, resets) get 3 attempts, as by default. There is
// no retry budget shared by the client: the SDK's default one (with 3 attempts and backoff from
// 1 s) dropped receivers whenever one large fan-out used it up; see bench/RESULTS.md.
const POST_RETRY = { throttledWaitMs: 3000, otherAttempts: 3, baseMs: 25, capMs: 250 };

function postRetryStrategy(): RetryStrategyV2 {
  // Milliseconds each post has waited so far, by its current token.
  const waited = new WeakMap<RetryToken, number>();
  const token = (retries: number, delayMs: number, waitedMs: number): RetryToken => {
    const next = { getRetryCount: () => retries, getRetryDelay: () => delayMs };
    waited.set(next, waitedMs + delayMs);
    return next;
  };
  // Every post starts from the same token (it carries nothing yet): no allocation per post until a retry.
  const initial = token(0, 0, 0);
  return {
    acquireInitialRetryToken: async () => initial,
    async refreshRetryTokenForRetry(previous, { errorType }) {
      const retries = previous.getRetryCount() + 1;
      const ceiling = Math.min(POST_RETRY.capMs, POST_RETRY.baseMs * 2 ** retries);
      const delayMs = POST_RETRY.baseMs + Math.random() * (ceiling - POST_RETRY.baseMs);
      const waitedMs = waited.get(previous) ?? 0;
      const retry =
        errorType === "THROTTLING"
          ? waitedMs + delayMs <= POST_RETRY.throttledWaitMs
          : (errorType === "TRANSIENT" || errorType === "SERVER_ERROR") && retries < POST_RETRY.otherAttempts;
      // Throwing makes the SDK rethrow the post's own error.
      if (!retry) throw new Error(`no retry after ${retries} attempts (${errorType})`);
      return token(retries, delayMs, waitedMs);
    },
    recordSuccess: () => undefined,
  };
}
