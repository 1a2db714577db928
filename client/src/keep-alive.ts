/**
 * Keep-alive of one connection: after `keepAliveMs` without a frame either way it asks for a
 * ping; if no pong follows within `PONG_TIMEOUT_MS` the connection is declared dead.
 */
import type { Clock } from "./options";

/** How long a ping may wait for its `_pong` before the connection counts as dead. */
const PONG_TIMEOUT_MS = 10_000;

export interface KeepAliveHandlers {
  ping(): void;
  dead(): void;
}

export class KeepAlive {
  private idleTimer: unknown;
  private pongTimer: unknown;
  private stopped = false;

  constructor(
    private readonly keepAliveMs: number,
    private readonly clock: Clock,
    private readonly handlers: KeepAliveHandlers,
  ) {
    this.arm();
  }

  /** A frame went out or came in: the idle wait starts again (an outstanding ping still waits for its pong). */
  activity(): void {
    if (this.stopped) return;
    this.clock.clearTimeout(this.idleTimer);
    this.arm();
  }

  pong(): void {
    this.clock.clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.idleTimer);
    this.clock.clearTimeout(this.pongTimer);
  }

  private arm(): void {
    this.idleTimer = this.clock.setTimeout(() => this.idle(), this.keepAliveMs);
  }

  private idle(): void {
    if (this.pongTimer === undefined) {
      this.pongTimer = this.clock.setTimeout(() => {
        this.stop();
        this.handlers.dead();
      }, PONG_TIMEOUT_MS);
    }
    // The ping is itself a frame out, so it re-arms the idle wait through `activity`.
    this.handlers.ping();
  }
}
