/**
 * Exponential backoff with full jitter: attempt n waits a random time in [0, min(max, initial·2ⁿ)),
 * so that clients dropped together do not come back together.
 */
import type { Clock } from "./options";

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly clock: Clock,
  ) {}

  /** The wait before the next attempt; each call doubles the ceiling of the one after. */
  next(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.attempt);
    if (ceiling < this.options.maxMs) this.attempt++;
    return Math.floor(this.clock.random() * ceiling);
  }

  /** Back to `initialMs`: a connection stayed open long enough to count as healthy. */
  reset(): void {
    this.attempt = 0;
  }
}
