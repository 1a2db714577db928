/**
 * The WebSocket side of the emulated API Gateway: admits handshakes through `$connect`, feeds
 * each connection's text frames to `$default` in order, enforces the AWS limits and the stage
 * throttling, and runs `$disconnect` exactly once for every connection that ends, however it ends.
 * Its log lines carry ids, codes and error names, never message contents.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import type { WebSocketEvent } from "../runtime/events";
import type { Handlers } from "../runtime/handlers";
import { connectEvent, disconnectEvent, messageEvent, newAwsId, readHandshake, type ConnectionContext } from "./events";
import { AWS_LIMITS, CLOSE, watchFrameSizes } from "./limits";
import { createLimiter } from "./limiter";
import type { TokenBucket } from "./token-bucket";

export interface GatewayOptions {
  handlers: Handlers;
  stage: string;
  apiId: string;
  /** Stage throttling: every `$connect` and message takes a token; `$disconnect` does not. */
  throttle: TokenBucket;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  log(line: string): void;
}

/** What GetConnection reports. */
export interface ConnectionInfo {
  connectedAt: number;
  lastActiveAt: number;
  identity: { sourceIp: string; userAgent?: string };
}

export interface Gateway {
  /** Takes over an HTTP upgrade request addressed to the WebSocket endpoint. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Sends `data` as one text frame; false when no open connection has that id. */
  send(connectionId: string, data: Buffer): boolean;
  describe(connectionId: string): ConnectionInfo | undefined;
  /** Closes the connection as DeleteConnection does; false when no open connection has that id. */
  disconnect(connectionId: string): boolean;
  /** Ids of the open connections. */
  connectionIds(): string[];
  /** Refuses new handshakes, closes every connection with 1001 and waits for every `$disconnect`. */
  close(): Promise<void>;
}

interface Connection {
  context: ConnectionContext;
  socket: WebSocket;
  lastActiveAt: number;
  /** The tail of this connection's handler invocations; each waits for the previous one. */
  queue: Promise<void>;
  idleTimer: NodeJS.Timeout;
  lifetimeTimer: NodeJS.Timeout;
}

interface Admission {
  context: ConnectionContext;
  /** Runs `$disconnect` if the socket dies between `$connect` and the 101 response. */
  onEarlyClose(): void;
}

// Lambda runs one invocation per container; here invocations share at most two threads, so
// without a cap a burst from many senders starts that many fan-outs at once and the heap grows
// with the burst (measured: 800 MiB for 200 clients bursting). Messages wait their turn instead.
const CONCURRENT_MESSAGE_INVOCATIONS = 16;

// A client that does not answer the closing handshake on shutdown is cut off after this long.
const SHUTDOWN_GRACE_MS = 1000;
const SHUTDOWN_REASON = "Going away: emulator shutting down";

export function createGateway(options: GatewayOptions): Gateway {
  const { handlers, stage, apiId, log } = options;
  const connections = new Map<string, Connection>();
  const admissions = new WeakMap<IncomingMessage, Admission>();
  const handshakes = new Set<Promise<void>>();
  const endings = new Set<Promise<void>>();
  const messageInvocations = createLimiter(CONCURRENT_MESSAGE_INVOCATIONS);
  let closing: Promise<void> | undefined;

  // `verifyClient` runs after `ws` has validated the handshake and before it answers 101, so a
  // malformed request never reaches `$connect` and a refusal becomes a plain HTTP response.
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: AWS_LIMITS.messageBytes,
    verifyClient: (info, answer) => track(handshakes, admit(info.req, answer)),
  });

  type Answer = (accept: boolean, status?: number, message?: string) => void;

  async function admit(req: IncomingMessage, answer: Answer): Promise<void> {
    // API Gateway throttles before invoking the route, so a refused handshake writes no row.
    if (!options.throttle.take()) {
      log(JSON.stringify({ emulator: "stageThrottled", route: "$connect" }));
      return answer(false, 429, "Too Many Requests");
    }
    const { context, handshake } = readHandshake(req, { connectionId: newAwsId(), stage, apiId, now: Date.now() });
    const event = connectEvent(context, handshake);
    let statusCode: number;
    let body: string | undefined;
    try {
      ({ statusCode, body } = await handlers.connect(event));
    } catch (err) {
      logFailure(event, err);
      return answer(false, 500, "Internal server error");
    }
    if (statusCode < 200 || statusCode > 299) return answer(false, statusCode, body);
    // From here on `$connect` has recorded the connection, so `$disconnect` must hear that it ended.
    if (closing) {
      await runDisconnect(context, CLOSE.goingAway, SHUTDOWN_REASON);
      return answer(false, 503, "Service Unavailable");
    }
    const onEarlyClose = () => track(endings, runDisconnect(context, CLOSE.abnormal, "Connection closed before the handshake completed"));
    // Gone already (its 'close' has fired): nobody is left to answer.
    if (req.socket.destroyed) return onEarlyClose();
    // Gone before `ws` opens it: `ws` destroys such a socket without calling back.
    req.socket.once("close", onEarlyClose);
    admissions.set(req, { context, onEarlyClose });
    answer(true);
  }

  function open(socket: WebSocket, req: IncomingMessage): void {
    const admission = admissions.get(req);
    if (!admission) throw new Error("a WebSocket opened without passing $connect");
    admissions.delete(req);
    req.socket.off("close", admission.onEarlyClose);
    const shut = (code: number, reason: string) => {
      log(JSON.stringify({ emulator: "close", connectionId: admission.context.connectionId, code, reason }));
      socket.close(code, reason);
    };
    const connection: Connection = {
      context: admission.context,
      socket,
      lastActiveAt: admission.context.connectedAt,
      queue: Promise.resolve(),
      idleTimer: setTimeout(() => shut(CLOSE.goingAway, "Going away: idle timeout"), options.idleTimeoutMs),
      lifetimeTimer: setTimeout(() => shut(CLOSE.goingAway, "Going away: maximum connection duration"), options.maxLifetimeMs),
    };
    connections.set(admission.context.connectionId, connection);

    // Prepended so it reads each chunk before `ws` parses (and possibly delivers) the frame.
    const watch = watchFrameSizes(AWS_LIMITS.frameBytes, (bytes) =>
      shut(CLOSE.tooBig, `Frame of ${bytes} bytes exceeds the ${AWS_LIMITS.frameBytes}-byte frame limit`),
    );
    req.socket.prependListener("data", watch);

    socket.on("message", (data, isBinary) => {
      // Frames that arrive behind a limit violation or a close are not delivered, as on AWS.
      if (socket.readyState !== WebSocket.OPEN) return;
      if (isBinary) return shut(CLOSE.unsupportedData, "Binary frames are not supported");
      connection.lastActiveAt = Date.now();
      connection.idleTimer.refresh();
      const body = textOf(data);
      // Throttled on arrival, as API Gateway does, but answered in turn so the sender's frames stay in order.
      const admitted = options.throttle.take();
      connection.queue = connection.queue.then(() => (admitted ? dispatch(connection, body) : refuseThrottled(connection)));
    });
    // `ws` closes the socket itself after a protocol error (1009 message too big, 1007 bad UTF-8).
    socket.on("error", (err) =>
      log(JSON.stringify({ emulator: "socketError", connectionId: admission.context.connectionId, error: err.message })),
    );
    socket.on("close", (code, reason) => {
      req.socket.off("data", watch);
      clearTimeout(connection.idleTimer);
      clearTimeout(connection.lifetimeTimer);
      connections.delete(connection.context.connectionId);
      const ended = connection.queue.then(() => runDisconnect(connection.context, code, reason.toString()));
      track(endings, ended);
    });
  }

  async function dispatch(connection: Connection, body: string): Promise<void> {
    const event = messageEvent(connection.context, body, Date.now());
    try {
      await messageInvocations.run(() => handlers.message(event));
    } catch (err) {
      logFailure(event, err);
      // API Gateway's answer when the integration fails.
      replyToSender(connection, "Internal server error", event.requestContext.requestId);
    }
  }

  // A throttled message never reaches `$default`; only its sender hears about it.
  function refuseThrottled(connection: Connection): void {
    const requestId = newAwsId();
    log(JSON.stringify({ emulator: "stageThrottled", route: "$default", connectionId: connection.context.connectionId, requestId }));
    replyToSender(connection, "Too Many Requests", requestId);
  }

  /** API Gateway's own error frame, sent to the sender only: `{"message","connectionId","requestId"}`. */
  function replyToSender(connection: Connection, message: string, requestId: string): void {
    if (connection.socket.readyState !== WebSocket.OPEN) return;
    connection.socket.send(JSON.stringify({ message, connectionId: connection.context.connectionId, requestId }));
  }

  async function runDisconnect(context: ConnectionContext, code: number, reason: string): Promise<void> {
    const event = disconnectEvent(context, code, reason, Date.now());
    try {
      await handlers.disconnect(event);
    } catch (err) {
      logFailure(event, err);
    }
  }

  function logFailure(event: WebSocketEvent, err: unknown): void {
    const { routeKey, connectionId, requestId } = event.requestContext;
    log(JSON.stringify({ emulator: "handlerError", route: routeKey, connectionId, requestId, ...describeError(err) }));
  }

  function openConnection(connectionId: string): Connection | undefined {
    const connection = connections.get(connectionId);
    return connection?.socket.readyState === WebSocket.OPEN ? connection : undefined;
  }

  async function shutdown(): Promise<void> {
    await Promise.all(handshakes);
    for (const { socket } of connections.values()) {
      socket.close(CLOSE.goingAway, SHUTDOWN_REASON);
      setTimeout(() => socket.terminate(), SHUTDOWN_GRACE_MS).unref();
    }
    // Every close above adds to `endings` only once its 'close' event fires, so wait for those first.
    await Promise.all([...connections.values()].map(({ socket }) => new Promise((resolve) => socket.once("close", resolve))));
    await Promise.all(endings);
  }

  return {
    upgrade(req, socket, head) {
      server.handleUpgrade(req, socket, head, open);
    },
    send(connectionId, data) {
      const connection = openConnection(connectionId);
      connection?.socket.send(data, { binary: false });
      return connection !== undefined;
    },
    describe(connectionId) {
      const connection = openConnection(connectionId);
      if (!connection) return undefined;
      const { connectedAt, identity } = connection.context;
      return { connectedAt, lastActiveAt: connection.lastActiveAt, identity: { ...identity } };
    },
    disconnect(connectionId) {
      const connection = openConnection(connectionId);
      connection?.socket.close(CLOSE.normal, "Connection Closed Normally");
      return connection !== undefined;
    },
    connectionIds() {
      return [...connections.keys()].filter((id) => openConnection(id) !== undefined);
    },
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}

function track(pending: Set<Promise<void>>, work: Promise<void>): void {
  pending.add(work);
  void work.finally(() => pending.delete(work));
}

/**
 * The error's name and where it was thrown, without its message: messages are free text that
 * often quote the input (`JSON.parse` quotes the body), and logs must never hold contents.
 */
function describeError(err: unknown): { error: string; at?: string } {
  if (!(err instanceof Error)) return { error: typeof err };
  // The stack opens with `${name}: ${message}`; the first frame line after that is the thrower.
  const header = String(err);
  const frames = err.stack?.startsWith(header) ? err.stack.slice(header.length) : "";
  const at = /^\s+at (?:.*\()?([^()\s]+:\d+:\d+)\)?$/m.exec(frames)?.[1];
  return at === undefined ? { error: err.name } : { error: err.name, at };
}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}
