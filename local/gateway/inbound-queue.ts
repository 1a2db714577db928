/**
 * One connection's messages on their way to `$default`. Each waits for the one before it, so a
 * sender's messages are handled in order. A client that sends faster than its messages are
 * handled is not read from (TCP slows it down) until half of what waits has been handled: the
 * queue stays bounded, its messages keep their order, and nobody else waits for it.
 */

/** How the queue stops and restarts reading from its client. */
export interface ReadingSwitch {
  pause(waitingBytes: number): void;
  resume(): void;
}

export class InboundQueue {
  // The tail of the jobs; each waits for the previous one.
  private tail: Promise<void> = Promise.resolve();
  // What the jobs in `tail` hold.
  private waitingBytes = 0;
  private paused = false;

  constructor(
    private readonly maxWaitingBytes: number,
    private readonly reading: ReadingSwitch,
  ) {}

  /** Runs `job` after every job pushed before it; `bytes` is what it holds until it has run. */
  push(bytes: number, job: () => Promise<void> | void): void {
    this.waitingBytes += bytes;
    this.tail = this.tail.then(job).then(() => this.handled(bytes));
    if (this.paused || this.waitingBytes <= this.maxWaitingBytes) return;
    this.paused = true;
    this.reading.pause(this.waitingBytes);
  }

  /** Settles once every job pushed so far has run. */
  drained(): Promise<void> {
    return this.tail;
  }

  private handled(bytes: number): void {
    this.waitingBytes -= bytes;
    if (!this.paused || this.waitingBytes > this.maxWaitingBytes / 2) return;
    this.paused = false;
    this.reading.resume();
  }
}
