/**
 * A token bucket, the model API Gateway throttling uses: `burst` tokens at most, refilled
 * continuously at `ratePerSecond`. The stage throttling and the management API's post quota use it.
 */

export interface TokenBucket {
  /** Takes one token; false when the bucket is empty (the request is throttled). */
  take(): boolean;
}

export function createTokenBucket(ratePerSecond: number, burst: number, now: () => number = Date.now): TokenBucket {
  let tokens = burst;
  let refilledAt = now();
  return {
    take() {
      const time = now();
      tokens = Math.min(burst, tokens + ((time - refilledAt) * ratePerSecond) / 1000);
      refilledAt = time;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
