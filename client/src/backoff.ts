/**
 * Exponential backoff with full jitter: attempt n waits a random time in [0, min(max, initial·2ⁿ)),
 * so that clients dropped together do not come back together.
 */
import type { Clock } from "./options";

/** A connection that stayed open this long resets the backoff to its initial wait. */
const HEALTHY_AFTER_MS = 30_000;

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

  /** A connection ended: one that stayed open HEALTHY_AFTER_MS or more sets the next wait back to `initialMs`. */
  ended(openedAt: number | undefined): void {
    if (openedAt !== undefined && this.clock.now() - openedAt >= HEALTHY_AFTER_MS) this.attempt = 0;
  }
}
