/** Poster: what the handlers post through, and the outcomes a post can have (runtime/delivery/poster-factory.ts builds the real one). */
export type PostResult =
  | { outcome: "delivered" }
  /** The connection no longer exists: its row can be deleted. */
  | { outcome: "gone" }
  /** Anything else (throttled past the retries, payload too large, network): the row stays. */
  | { outcome: "failed"; reason: string };

/** One attempt's outcome: a final result, or a failure worth another attempt. */
export type PostAttempt = PostResult | { outcome: "retryable"; reason: string; throttled: boolean };

export interface Poster {
  post(connectionId: string, payload: Uint8Array): Promise<PostResult>;
}
