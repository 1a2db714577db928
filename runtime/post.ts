/**
 * Poster: sends one payload to one connection through the API Gateway management API and
 * classifies the outcome. SDK v3 errors carry `name` and `$metadata.httpStatusCode`, never
 * `statusCode`, so that is what is inspected.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";

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
      });
      poster = createManagementApiPoster(client);
      posters.set(endpoint, poster);
    }
    return poster;
  };
}
