/**
 * One WebSocket: its handshake outcome (with the HTTP status where the platform reports it), its
 * frames classified, its keep-alive, and one report of how it ended unless the client closed it.
 */
import type { Clock } from "./options";
import { classify, type Frame } from "./frames";
import { KeepAlive } from "./keep-alive";
import type { WebSocketLike } from "./types";

/** The close code a connection gets when the client gives up on it (no `_pong`): an application code. */
const DEAD_CLOSE_CODE = 4000;

const OPEN = 1;
const PING = JSON.stringify({ _op: "ping" });

export interface LinkEnd {
  /** Whether the handshake had succeeded. */
  opened: boolean;
  /** The refused handshake's HTTP status, when the platform tells (Node's `ws` does; browsers do not). */
  status?: number;
  code: number;
  reason: string;
}

export interface LinkHandlers {
  open(link: Link): void;
  frame(link: Link, frame: Frame): void;
  end(link: Link, end: LinkEnd): void;
}

export class Link {
  openedAt: number | undefined;
  private status: number | undefined;
  private keepAlive: KeepAlive | undefined;
  private done = false;

  constructor(
    private readonly socket: WebSocketLike,
    private readonly keepAliveMs: number,
    private readonly clock: Clock,
    private readonly handlers: LinkHandlers,
  ) {
    socket.onopen = () => this.opened();
    socket.onmessage = (event) => this.received(event.data);
    socket.onerror = (event) => {
      this.status ??= handshakeStatus(event);
    };
    socket.onclose = (event) => this.finish({ opened: this.openedAt !== undefined, status: this.status, code: event.code, reason: event.reason });
  }

  get isOpen(): boolean {
    return !this.done && this.openedAt !== undefined && this.socket.readyState === OPEN;
  }

  /** Sends one text frame; false when the socket is not open. */
  send(text: string): boolean {
    if (!this.isOpen) return false;
    this.socket.send(text);
    this.keepAlive?.activity();
    return true;
  }

  /** Closes without reporting an end: the client asked for it. */
  close(code = 1000, reason = ""): void {
    this.detach();
    try {
      this.socket.close(code, reason);
    } catch {
      // Already closing or closed: nothing left to do.
    }
  }

  private opened(): void {
    if (this.done) return;
    this.openedAt = this.clock.now();
    this.keepAlive = new KeepAlive(this.keepAliveMs, this.clock, {
      ping: () => this.send(PING),
      dead: () => this.giveUp(),
    });
    this.handlers.open(this);
  }

  private received(data: unknown): void {
    if (this.done || typeof data !== "string") return;
    this.keepAlive?.activity();
    const frame = classify(data);
    if (frame.kind === "pong") this.keepAlive?.pong();
    this.handlers.frame(this, frame);
  }

  // No `_pong` in time: the socket may never report its end (a dead network), so end it now.
  private giveUp(): void {
    this.close(DEAD_CLOSE_CODE, "no pong");
    this.handlers.end(this, { opened: true, code: DEAD_CLOSE_CODE, reason: "no pong" });
  }

  private finish(end: LinkEnd): void {
    if (this.done) return;
    this.detach();
    this.handlers.end(this, end);
  }

  // No-op handlers rather than null: `ws` throws an 'error' event that has no listener.
  private detach(): void {
    this.done = true;
    this.keepAlive?.stop();
    const ignore = () => undefined;
    Object.assign(this.socket, { onopen: ignore, onmessage: ignore, onerror: ignore, onclose: ignore });
  }
}

/** `ws` names the status in its error ("Unexpected server response: 401"); browsers never say. */
function handshakeStatus(event: unknown): number | undefined {
  const { message, error } = (event ?? {}) as { message?: unknown; error?: { message?: unknown } };
  const text = [message, error?.message].filter((part) => typeof part === "string").join(" ");
  const match = /Unexpected server response: (\d{3})/.exec(text);
  return match ? Number(match[1]) : undefined;
}
