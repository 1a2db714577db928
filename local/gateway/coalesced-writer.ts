/**
 * Frames for one client within one turn of the event loop leave in one socket write, up to
 * COALESCED_BYTES: the management API answers a batch of posts per turn, and a socket write
 * costs more CPU than the frame it carries (bench/RESULTS.md). `ws` corks around each frame too,
 * so the stream is corked beyond that only by this.
 */
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";

// The most one turn's frames wait for the end of the turn before they are written.
const COALESCED_BYTES = 64 * 1024;

export class CoalescedWriter {
  // Not `writableCorked`: a burst over the cap uncorks early, and the next frame corks again
  // without queuing a second flush.
  private flushQueued = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly stream: Duplex,
  ) {}

  /** Sends `data` as one text frame, written when the turn ends or the turn's frames pass the cap. */
  write(data: Buffer | string): void {
    if (this.stream.writableCorked === 0) {
      this.stream.cork();
      if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(this.flush);
      }
    }
    this.socket.send(data, { binary: false });
    if (this.stream.writableLength >= COALESCED_BYTES) this.stream.uncork();
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.stream.writableCorked > 0) this.stream.uncork();
  };
}
