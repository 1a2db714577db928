/**
 * PostToConnection without the SDK client's per-request pipeline: the request is built here,
 * signed by the SDK's own SigV4 signer (the management API client's, with its credential chain
 * and Node crypto hashes) and sent with `node:http(s)` over one keep-alive agent per endpoint.
 * The outcome is classified from the status and `x-amzn-ErrorType`, as the SDK classifies it.
 */
import type { RequestOptions } from "node:https";
import type { ChecksumConstructor, HashConstructor, RequestSigner } from "@smithy/types";
import type { PostAttempt, PostResult, Poster } from "./poster";

export interface SignedPosterOptions {
  /** `https://{domain}/{stage}` (or a local `http://` endpoint). */
  endpoint: string;
  signer: Promise<RequestSigner>;
  /** The SDK's SHA-256 (hex of the payload goes in `x-amz-content-sha256`, as the SDK sends it). */
  sha256: ChecksumConstructor | HashConstructor;
  /** The id as the SDK puts it in the path (its `extendedEncodeURIComponent`). */
  encodeId: (connectionId: string) => string;
  /** Sockets kept open to the endpoint: the fan-out concurrency. */
  maxSockets: number;
  /** One attempt's limit, from the request to the end of the answer. */
  timeoutMs: number;
  /** Extra certificate authorities for this endpoint's agent only (a local HTTPS stand-in). */
  ca?: string;
}

/** The poster for one endpoint; `payload` is sent as given (receivers share one buffer). */
export function createSignedPoster(options: SignedPosterOptions): Poster {
  const base = new URL(options.endpoint);
  const secure = base.protocol === "https:";
  // Required where it is used, loaded only when needed (runtime/SERIALIZER.md, on builtins).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- that rule
  const transport = (secure ? require("node:https") : require("node:http")) as typeof import("node:https");
  const agent = new transport.Agent({ keepAlive: true, maxSockets: options.maxSockets, ...(secure && options.ca ? { ca: options.ca } : {}) });
  const stagePath = base.pathname.replace(/\/$/, "");
  const port = base.port === "" ? undefined : Number(base.port);

  // Every receiver of a message gets the same buffer: its hash is computed once, not per post.
  const payloadHashes = new WeakMap<Uint8Array, string>();
  const hashPayload = async (payload: Uint8Array): Promise<string> => {
    const sha256 = new options.sha256();
    sha256.update(payload);
    const hash = Buffer.from(await sha256.digest()).toString("hex");
    payloadHashes.set(payload, hash);
    return hash;
  };
  let signer: RequestSigner | undefined;

  const attempt = async (path: string, payload: Uint8Array): Promise<PostAttempt> => {
    signer ??= await options.signer;
    const headers = {
      host: base.host,
      "content-type": "application/octet-stream",
      "content-length": String(payload.byteLength),
      // The signer signs this value instead of hashing the body again.
      "x-amz-content-sha256": payloadHashes.get(payload) ?? (await hashPayload(payload)),
    };
    const signed = await signer.sign({
      method: "POST",
      protocol: base.protocol,
      hostname: base.hostname,
      port,
      path,
      query: {},
      headers,
      body: payload,
    });
    return send(transport, { agent, host: base.hostname, port, method: "POST", path, headers: flatHeaders(signed.headers) }, payload, options.timeoutMs);
  };

  return {
    async post(connectionId, payload): Promise<PostResult> {
      const path = `${stagePath}/@connections/${options.encodeId(connectionId)}`;
      const started = Date.now();
      for (let attempts = 1; ; attempts++) {
        const result = await attempt(path, payload);
        if (result.outcome !== "retryable") return result;
        const delayMs = retryDelayMs(result, attempts, Date.now() - started);
        if (delayMs === undefined) return { outcome: "failed", reason: result.reason };
        await new Promise((wake) => setTimeout(wake, delayMs));
      }
    },
  };
}

/**
 * One answer's outcome: 2xx delivered, 410 gone, 429 throttled and 5xx retryable; any other
 * status (413 PayloadTooLargeException, 403) fails at once. The reason is the SDK's error name.
 */
export function classifyResponse(status: number, errorType: string | string[] | undefined): PostAttempt {
  if (status >= 200 && status < 300) return { outcome: "delivered" };
  if (status === 410) return { outcome: "gone" };
  // The SDK names the error after the header up to any ":" (which may append a URL).
  const header = Array.isArray(errorType) ? errorType[0] : errorType;
  const reason = header ? header.split(":")[0] : status === 429 ? "TooManyRequestsException" : "UnknownError";
  if (status === 429) return { outcome: "retryable", reason, throttled: true };
  if (status >= 500) return { outcome: "retryable", reason, throttled: false };
  return { outcome: "failed", reason };
}

// Resets and timeouts carry the name the SDK's HTTP handler gives them; they are retried like 5xx.
function networkFailure(err: Error & { code?: string }): PostAttempt {
  const timedOut = err.name === "TimeoutError" || err.code === "ECONNRESET" || err.code === "EPIPE" || err.code === "ETIMEDOUT";
  return { outcome: "retryable", reason: timedOut ? "TimeoutError" : err.name, throttled: false };
}

// Posts over the PostToConnection quota (429) are retried soon and often, for up to 3 s from the
// first attempt (wall time, so a busy machine's slow round trips do not stretch it): under
// a quota most find a token within a few attempts, and the time lost waiting stays small next to
// the quota itself. Other retryable failures (5xx, resets, timeouts) get 3 attempts in all. There
// is no retry budget shared by the poster: the SDK's default one (3 attempts, backoff from 1 s)
// dropped receivers whenever one large fan-out used it up; see bench/RESULTS.md.
const POST_RETRY = { throttledWaitMs: 3000, otherAttempts: 3, baseMs: 25, capMs: 250 };

/** The jittered delay before the next attempt, or undefined when the post has had its attempts. */
function retryDelayMs(failure: { throttled: boolean }, attempts: number, elapsedMs: number): number | undefined {
  const ceiling = Math.min(POST_RETRY.capMs, POST_RETRY.baseMs * 2 ** attempts);
  const delayMs = POST_RETRY.baseMs + Math.random() * (ceiling - POST_RETRY.baseMs);
  if (failure.throttled) return elapsedMs + delayMs <= POST_RETRY.throttledWaitMs ? delayMs : undefined;
  return attempts < POST_RETRY.otherAttempts ? delayMs : undefined;
}

// As a flat list, node:http writes the headers as given, without building its own header map.
function flatHeaders(headers: Record<string, string>): string[] {
  const rawHeaders: string[] = [];
  for (const name of Object.keys(headers)) rawHeaders.push(name, headers[name]);
  return rawHeaders;
}

/** One request and its answer, classified; never rejects. */
function send(transport: typeof import("node:https"), request: RequestOptions, payload: Uint8Array, timeoutMs: number): Promise<PostAttempt> {
  return new Promise<PostAttempt>((resolve) => {
    const outgoing = transport.request(request);
    const timer = setTimeout(() => outgoing.destroy(timeoutError(timeoutMs)), timeoutMs);
    const settle = (result: PostAttempt) => {
      clearTimeout(timer);
      resolve(result);
    };
    outgoing.once("response", (response) => {
      response.resume();
      response.once("error", (err) => settle(networkFailure(err)));
      response.once("end", () => settle(classifyResponse(response.statusCode ?? 0, response.headers["x-amzn-errortype"])));
    });
    outgoing.once("error", (err) => settle(networkFailure(err)));
    outgoing.end(payload);
  });
}

function timeoutError(ms: number): Error {
  const err = new Error(`no answer within ${ms} ms`);
  err.name = "TimeoutError";
  return err;
}
