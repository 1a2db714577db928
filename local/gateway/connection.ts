/**
 * The life of one open WebSocket connection of the emulated API Gateway: its idle and lifetime
 * timers, the frame-size watch, its text frames fed to `$default` one at a time and in order
 * (throttled on arrival), API Gateway's own error frames to it, and its `$disconnect` once it ends.
 */
import type { Duplex } from "node:stream";
import { WebSocket, type RawData } from "ws";
import type { Handlers } from "../../runtime/routes/handlers";
import { messageEvent, newAwsId, type ConnectionContext } from "./event-builders";
import { logFailure, runDisconnect } from "./invocations";
import { AWS_LIMITS, CLOSE, watchFrameSizes } from "./aws-limits";
import type { Limiter } from "./concurrency-limiter";
import type { TokenBucket } from "./token-bucket";

// Counted for each waiting message on top of its text, so that a flood of tiny frames is bounded too.
const WAITING_MESSAGE_OVERHEAD_BYTES = 1024;

// How long a client closed for not reading has to take the close frame before its socket is destroyed.
const SLOW_CONSUMER_GRACE_MS = 1000;

// The most one turn's frames wait for the end of the turn before they are written.
const COALESCED_BYTES = 64 * 1024;

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

export interface Connection {
  readonly context: ConnectionContext;
  readonly socket: WebSocket;
  /** When the client last sent a message (its connect time until then). */
  lastActiveAt(): number;
  isOpen(): boolean;
  /**
   * Sends `data` as one text frame; false, and the connection is closed with 1008, when that
   * would queue more than `maxBufferedBytes` for a client that is not reading.
   */
  send(data: Buffer | string): boolean;
  /** Starts the closing handshake with `code`, logging why. */
  close(code: number, reason: string): void;
}

/** Takes over `socket` (whose raw stream is `stream`) once `$connect` has admitted `context`. */
export function startConnection(socket: WebSocket, stream: Duplex, context: ConnectionContext, options: ConnectionOptions): Connection {
  const { handlers, log } = options;
  let lastActiveAt = context.connectedAt;
  // The tail of this connection's handler invocations; each waits for the previous one.
  let queue = Promise.resolve();
  // What the messages in `queue` hold. A client that sends faster than its messages are handled
  // is not read from (TCP slows it down) until half of that has been handled: the queue stays
  // bounded, its messages keep their order, and nobody else waits for it.
  let waitingBytes = 0;
  let paused = false;

  const close = (code: number, reason: string) => {
    log(JSON.stringify({ emulator: "close", connectionId: context.connectionId, code, reason }));
    socket.close(code, reason);
  };
  const idleTimer = setTimeout(() => close(CLOSE.goingAway, "Going away: idle timeout"), options.idleTimeoutMs);
  const lifetimeTimer = setTimeout(() => close(CLOSE.goingAway, "Going away: maximum connection duration"), options.maxLifetimeMs);

  // Frames for this client within one turn of the event loop leave in one socket write, up to
  // COALESCED_BYTES: the management API answers a batch of posts per turn, and a socket write
  // costs more CPU than the frame it carries (bench/RESULTS.md). `ws` corks around each frame
  // too, so the stream is corked beyond that only by this. `flushQueued` is not `writableCorked`:
  // a burst over the cap uncorks early, and the next frame corks again without queuing a second flush.
  let flushQueued = false;
  const flush = () => {
    flushQueued = false;
    if (stream.writableCorked > 0) stream.uncork();
  };
  const writeFrame = (data: Buffer | string) => {
    if (stream.writableCorked === 0) {
      stream.cork();
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    }
    socket.send(data, { binary: false });
    if (stream.writableLength >= COALESCED_BYTES) stream.uncork();
  };

  // `bufferedAmount` is what `ws` holds in memory for this socket (what the kernel's bounded
  // socket buffer has not taken), so capping it caps the memory one client can make us hold.
  const send = (data: Buffer | string): boolean => {
    const bytes = Buffer.byteLength(data);
    if (socket.bufferedAmount + bytes <= options.maxBufferedBytes) {
      writeFrame(data);
      return true;
    }
    cutOff(socket.bufferedAmount, bytes);
    return false;
  };

  // The close frame waits behind the backlog a non-reading client never takes, so after a grace
  // period the socket is destroyed: that frees the backlog and lets `$disconnect` run.
  function cutOff(buffered: number, bytes: number): void {
    log(JSON.stringify({ emulator: "slowConsumer", connectionId: context.connectionId, bufferedBytes: buffered, sendBytes: bytes }));
    close(CLOSE.policyViolation, `Policy violation: over ${options.maxBufferedBytes} bytes waiting to be sent; the client is not reading`);
    setTimeout(() => socket.terminate(), SLOW_CONSUMER_GRACE_MS).unref();
  }

  const connection: Connection = {
    context,
    socket,
    lastActiveAt: () => lastActiveAt,
    isOpen: () => socket.readyState === WebSocket.OPEN,
    send,
    close,
  };

  // Prepended so it reads each chunk before `ws` parses (and possibly delivers) the frame.
  const watch = watchFrameSizes(AWS_LIMITS.frameBytes, (bytes) =>
    close(CLOSE.tooBig, `Frame of ${bytes} bytes exceeds the ${AWS_LIMITS.frameBytes}-byte frame limit`),
  );
  stream.prependListener("data", watch);

  socket.on("message", (data, isBinary) => {
    // Frames that arrive behind a limit violation or a close are not delivered, as on AWS.
    if (socket.readyState !== WebSocket.OPEN) return;
    if (isBinary) return close(CLOSE.unsupportedData, "Binary frames are not supported");
    lastActiveAt = Date.now();
    idleTimer.refresh();
    const body = textOf(data);
    // Throttled on arrival, as API Gateway does, but answered in turn so the sender's frames stay in order.
    const admitted = options.throttle.take();
    const held = (admitted ? Buffer.byteLength(body) : 0) + WAITING_MESSAGE_OVERHEAD_BYTES;
    waitingBytes += held;
    queue = queue.then(() => (admitted ? dispatch(body) : refuseThrottled())).then(() => handled(held));
    if (!paused && waitingBytes > options.maxBufferedBytes) {
      paused = true;
      log(JSON.stringify({ emulator: "readingPaused", connectionId: context.connectionId, waitingBytes }));
      socket.pause();
    }
  });
  // `ws` closes the socket itself after a protocol error (1009 message too big, 1007 bad UTF-8).
  socket.on("error", (err) => log(JSON.stringify({ emulator: "socketError", connectionId: context.connectionId, error: err.message })));
  socket.on("close", (code, reason) => {
    stream.off("data", watch);
    clearTimeout(idleTimer);
    clearTimeout(lifetimeTimer);
    options.onClose(connection, queue.then(() => runDisconnect(handlers, log, context, code, reason.toString())));
  });

  function handled(bytes: number): void {
    waitingBytes -= bytes;
    if (!paused || waitingBytes > options.maxBufferedBytes / 2) return;
    paused = false;
    socket.resume();
  }

  async function dispatch(body: string): Promise<void> {
    const event = messageEvent(context, body, Date.now());
    try {
      await options.messageInvocations.run(() => handlers.message(event));
    } catch (err) {
      logFailure(log, event, err);
      // API Gateway's answer when the integration fails.
      replyToSender("Internal server error", event.requestContext.requestId);
    }
  }

  // A throttled message never reaches `$default`; only its sender hears about it.
  function refuseThrottled(): void {
    const requestId = newAwsId();
    log(JSON.stringify({ emulator: "stageThrottled", route: "$default", connectionId: context.connectionId, requestId }));
    replyToSender("Too Many Requests", requestId);
  }

  /** API Gateway's own error frame, sent to the sender only: `{"message","connectionId","requestId"}`. */
  function replyToSender(message: string, requestId: string): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    send(JSON.stringify({ message, connectionId: context.connectionId, requestId }));
  }

  return connection;
}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}
