/**
 * The life of one open WebSocket connection of the emulated API Gateway: its idle and lifetime
 * timers, the frame- and message-size watch, its text frames fed to `$default` one at a time and
 * in order (throttled on arrival), API Gateway's own error frames to it, the cut-off of a client
 * that does not read, and its `$disconnect` once it ends. State lives on the object; each socket
 * event has a listener of its own (`onMessage`, `onError`, `onClose`).
 */
import type { Socket } from "node:net";
import { WebSocket, type RawData } from "ws";
import { frameText } from "../../harness/frames";
import type { Handlers } from "../../runtime/routes/handlers";
import { messageEvent, newAwsId, type ConnectionContext } from "./event-builders";
import { logFailure, runDisconnect } from "./invocations";
import { AWS_LIMITS, CLOSE, oversizeReason, watchSizes } from "./aws-limits";
import { CoalescedWriter } from "./coalesced-writer";
import type { Limiter } from "./concurrency-limiter";
import { InboundQueue } from "./inbound-queue";
import type { TokenBucket } from "./token-bucket";

// Counted for each waiting message on top of its text, so that a flood of tiny frames is bounded too.
const WAITING_MESSAGE_OVERHEAD_BYTES = 1024;

// How long a client closed for not reading has to take the close frame before its socket is reset.
const SLOW_CONSUMER_GRACE_MS = 1000;

export interface ConnectionOptions {
  handlers: Handlers;
  /** Stage throttling: every message takes a token. */
  throttle: TokenBucket;
  /** Caps the `$default` invocations of every connection together. */
  messageInvocations: Limiter;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  /**
   * Bytes that may wait to be sent to this connection (a send that would queue more closes it),
   * and that its own messages may hold while they wait for `$default` (over it, reading pauses).
   */
  maxBufferedBytes: number;
  log: (line: string) => void;
  /** Called once the socket has closed; `ended` settles when its `$disconnect` has run. */
  onClose: (connection: Connection, ended: Promise<void>) => void;
}

/** Takes over `socket` (whose TCP socket is `stream`) once `$connect` has admitted `context`. */
export class Connection {
  private lastActive: number;
  private readonly inbound: InboundQueue;
  private readonly outbound: CoalescedWriter;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly lifetimeTimer: NodeJS.Timeout;
  private readonly watch: (chunk: Buffer) => void;

  constructor(
    readonly socket: WebSocket,
    private readonly stream: Socket,
    readonly context: ConnectionContext,
    private readonly options: ConnectionOptions,
  ) {
    this.lastActive = context.connectedAt;
    this.inbound = new InboundQueue(options.maxBufferedBytes, {
      pause: (waitingBytes) => {
        this.logLine("readingPaused", { waitingBytes });
        socket.pause();
      },
      resume: () => socket.resume(),
    });
    this.outbound = new CoalescedWriter(socket, stream);
    this.idleTimer = setTimeout(() => this.close(CLOSE.goingAway, "Going away: idle timeout"), options.idleTimeoutMs);
    this.lifetimeTimer = setTimeout(() => this.close(CLOSE.goingAway, "Going away: maximum connection duration"), options.maxLifetimeMs);
    // Prepended so it reads each chunk before `ws` parses (and possibly delivers) the frame.
    this.watch = watchSizes(AWS_LIMITS, (oversize) => this.close(CLOSE.tooBig, oversizeReason(oversize)));
    stream.prependListener("data", this.watch);
    socket.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    socket.on("error", (err) => this.onError(err));
    socket.on("close", (code, reason) => this.onClose(code, reason));
  }

  /** When the client last sent a message (its connect time until then). */
  lastActiveAt(): number {
    return this.lastActive;
  }

  isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Sends `data` as one text frame; false, and the connection is closed with 1008, when that
   * would queue more than `maxBufferedBytes` for a client that is not reading. `bufferedAmount`
   * is what `ws` holds in memory for this socket (what the kernel's bounded socket buffer has
   * not taken), so capping it caps the memory one client can make us hold.
   */
  send(data: Buffer | string): boolean {
    const bytes = Buffer.byteLength(data);
    if (this.socket.bufferedAmount + bytes <= this.options.maxBufferedBytes) {
      this.outbound.write(data);
      return true;
    }
    this.cutOff(this.socket.bufferedAmount, bytes);
    return false;
  }

  /** Starts the closing handshake with `code`, logging why. */
  close(code: number, reason: string): void {
    this.logLine("close", { code, reason });
    this.socket.close(code, reason);
  }

  // The close frame waits behind the backlog a non-reading client never takes, so after a grace
  // period the socket is reset: that frees the backlog in the kernel too (a FIN would wait behind
  // it) and lets `$disconnect` run.
  private cutOff(bufferedBytes: number, sendBytes: number): void {
    this.logLine("slowConsumer", { bufferedBytes, sendBytes });
    this.close(CLOSE.policyViolation, `Policy violation: over ${this.options.maxBufferedBytes} bytes waiting to be sent; the client is not reading`);
    setTimeout(() => this.stream.resetAndDestroy(), SLOW_CONSUMER_GRACE_MS).unref();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    // Frames that arrive behind a limit violation or a close are not delivered, as on AWS.
    if (!this.isOpen()) return;
    if (isBinary) return this.close(CLOSE.unsupportedData, "Binary frames are not supported");
    this.lastActive = Date.now();
    this.idleTimer.refresh();
    const body = frameText(data);
    // Throttled on arrival, as API Gateway does, but answered in turn so the sender's frames stay in order.
    const admitted = this.options.throttle.take();
    const held = (admitted ? Buffer.byteLength(body) : 0) + WAITING_MESSAGE_OVERHEAD_BYTES;
    this.inbound.push(held, () => (admitted ? this.dispatch(body) : this.refuseThrottled()));
  }

  // `ws` closes the socket itself after a protocol error (1009 message too big, 1007 bad UTF-8).
  private onError(err: Error): void {
    this.logLine("socketError", { error: err.message });
  }

  private onClose(code: number, reason: Buffer): void {
    this.stream.off("data", this.watch);
    clearTimeout(this.idleTimer);
    clearTimeout(this.lifetimeTimer);
    const { handlers, log } = this.options;
    this.options.onClose(this, this.inbound.drained().then(() => runDisconnect(handlers, log, this.context, code, reason.toString())));
  }

  private async dispatch(body: string): Promise<void> {
    const event = messageEvent(this.context, body, Date.now());
    try {
      await this.options.messageInvocations.run(() => this.options.handlers.message(event));
    } catch (err) {
      logFailure(this.options.log, event, err);
      // API Gateway's answer when the integration fails.
      this.replyToSender("Internal server error", event.requestContext.requestId);
    }
  }

  // A throttled message never reaches `$default`; only its sender hears about it.
  private refuseThrottled(): void {
    const requestId = newAwsId();
    this.options.log(JSON.stringify({ emulator: "stageThrottled", route: "$default", connectionId: this.context.connectionId, requestId }));
    this.replyToSender("Too Many Requests", requestId);
  }

  /** API Gateway's own error frame, sent to the sender only: `{"message","connectionId","requestId"}`. */
  private replyToSender(message: string, requestId: string): void {
    if (!this.isOpen()) return;
    this.send(JSON.stringify({ message, connectionId: this.context.connectionId, requestId }));
  }

  // An emulator log line about this connection: `{"emulator":event,"connectionId",…fields}`.
  private logLine(event: string, fields: Record<string, unknown>): void {
    this.options.log(JSON.stringify({ emulator: event, connectionId: this.context.connectionId, ...fields }));
  }
}
