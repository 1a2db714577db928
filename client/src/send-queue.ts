/** Sends made while no connection is open, kept in order up to a limit. */
export class SendQueue {
  private readonly waiting: string[] = [];

  constructor(private readonly maxQueued: number) {}

  get size(): number {
    return this.waiting.length;
  }

  /** False, keeping nothing, when the queue is full. */
  push(text: string): boolean {
    if (this.waiting.length >= this.maxQueued) return false;
    this.waiting.push(text);
    return true;
  }

  /** Hands every kept text to `send`, oldest first. */
  drain(send: (text: string) => void): void {
    for (const text of this.waiting.splice(0)) send(text);
  }

  clear(): void {
    this.waiting.length = 0;
  }
}
