/**
 * Poster: sends one payload to one connection through the API Gateway management API and
 * classifies the outcome. Fan-out posts are signed requests built by runtime/delivery/signed-poster.ts;
 * the SDK client is kept per endpoint for what it resolves once: region, credential chain, signer.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import type { Poster } from "./poster";
import { createSignedPoster } from "./signed-poster";
import { createSignerSha256 } from "./signer-sha256";

export interface PosterFactoryOptions {
  region?: string;
  /** Sockets kept per endpoint: at least the fan-out concurrency, or posts queue for a socket. */
  maxSockets: number;
  /** Test and emulator hook: credentials (or a provider of them) when none are in the environment. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** One attempt's limit in ms (default 5,000: API Gateway answers in tens of ms). */
  timeoutMs?: number;
  /** Test hook: PEM of certificate authorities trusted for management endpoints (a local HTTPS stand-in). */
  ca?: string;
}

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Returns `posterFor(endpoint)`, building one poster (one agent, one signer) per endpoint and
 * reusing it for the life of the container (the endpoint comes from each event's domain name and stage).
 */
export function createPosterFactory(options: PosterFactoryOptions): (endpoint: string) => Poster {
  // Required here, when the factory is built (at cold start), not imported: only the functions that
  // post load the client (runtime/SERIALIZER.md, rule 3).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- that rule
  const { ApiGatewayManagementApiClient } = require("@aws-sdk/client-apigatewaymanagementapi") as typeof import("@aws-sdk/client-apigatewaymanagementapi");
  const posters = new Map<string, Poster>();
  return (endpoint) => {
    let poster = posters.get(endpoint);
    if (!poster) {
      // The client is never sent a command: its resolved config is the SDK's own SigV4 signer for
      // `execute-api`, with the standard credential chain (memoized, refreshed before expiry),
      // whatever SDK version the Lambda runtime provides. Its hashes are runtime/delivery/signer-sha256.ts's.
      const client = new ApiGatewayManagementApiClient({
        endpoint,
        region: options.region,
        credentials: options.credentials,
        sha256: createSignerSha256(),
      });
      poster = createSignedPoster({
        endpoint,
        signer: client.config.signer(),
        sha256: client.config.sha256,
        encodeId: sdkPathEncoder(),
        maxSockets: options.maxSockets,
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ca: options.ca,
      });
      posters.set(endpoint, poster);
    }
    return poster;
  };
}

/**
 * The SDK's own path-label encoder (`extendedEncodeURIComponent`), resolved beside the management
 * API client so that it is the runtime SDK's: newer SDKs keep it in `@smithy/core/protocols`,
 * older ones in `@smithy/smithy-client`.
 */
function sdkPathEncoder(): (label: string) => string {
  const paths = [require.resolve("@aws-sdk/client-apigatewaymanagementapi")];
  for (const name of ["@smithy/core/protocols", "@smithy/smithy-client"]) {
    try {
      // A path resolved at run time from the SDK's own location: only require() can load it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const encoder: unknown = (require(require.resolve(name, { paths })) as { extendedEncodeURIComponent?: unknown }).extendedEncodeURIComponent;
      if (typeof encoder === "function") return encoder as (label: string) => string;
    } catch {
      // Not in this SDK version: try the next home.
    }
  }
  throw new Error("the AWS SDK's extendedEncodeURIComponent was not found beside @aws-sdk/client-apigatewaymanagementapi");
}
