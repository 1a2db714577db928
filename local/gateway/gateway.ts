/**
 * The WebSocket side of the emulated API Gateway: admits handshakes through `$connect` (stage
 * throttling first), hands each admitted socket to local/gateway/connection.ts, routes the management
 * API's calls to the open connection they name, and on shutdown closes every connection and
 * waits until each one's `$disconnect` has run.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import type { Handlers } from "../../runtime/routes/handlers";
import { Connection } from "./connection";
import { connectEvent, newAwsId, readHandshake, type ConnectionContext } from "./event-builders";
import { logFailure, runDisconnect, track } from "./invocations";
import { AWS_LIMITS, CLOSE } from "./aws-limits";
import { createLimiter } from "./concurrency-limiter";
import type { TokenBucket } from "./token-bucket";

export interface GatewayOptions {
  handlers: Handlers;
  stage: string;
  apiId: string;
  /** Stage throttling: every `$connect` and message takes a token; `$disconnect` does not. */
  throttle: TokenBucket;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  /** Bytes that may wait to be sent to one connection before it is closed with 1008. */
  maxBufferedBytes: number;
  log: (line: string) => void;
}

/** What GetConnection reports. */
interface ConnectionInfo {
  connectedAt: number;
  lastActiveAt: number;
  identity: { sourceIp: string; userAgent?: string };
}

type SendOutcome = "sent" | "gone" | "bufferFull";

type Answer = (accept: boolean, status?: number, message?: string) => void;

interface Admission {
  context: ConnectionContext;
  /** Runs `$disconnect` if the socket dies between `$connect` and the 101 response. */
  onEarlyClose: () => void;
}

// Lambda runs one invocation per container; here invocations share at most two threads, so
// without a cap a burst from many senders starts that many fan-outs at once and the heap grows
// with the burst (measured: 800 MiB for 200 clients bursting). Messages wait their turn instead.
const CONCURRENT_MESSAGE_INVOCATIONS = 16;

// A client that does not answer the closing handshake on shutdown is cut off after this long.
const SHUTDOWN_GRACE_MS = 1000;
const SHUTDOWN_REASON = "Going away: emulator shutting down";

export class Gateway {
  private readonly connections = new Map<string, Connection>();
  private readonly admissions = new WeakMap<IncomingMessage, Admission>();
  // Handshakes between `verifyClient` and their answer, and `$disconnect`s still running.
  private readonly handshakes = new Set<Promise<void>>();
  private readonly endings = new Set<Promise<void>>();
  private readonly messageInvocations = createLimiter(CONCURRENT_MESSAGE_INVOCATIONS);
  private readonly server: WebSocketServer;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: GatewayOptions) {
    // `verifyClient` runs after `ws` has validated the handshake and before it answers 101, so a
    // malformed request never reaches `$connect` and a refusal becomes a plain HTTP response.
    // `maxPayload` bounds what `ws` buffers; the size watch (local/gateway/aws-limits.ts) closes
    // with the reason first.
    this.server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: AWS_LIMITS.messageBytes,
      verifyClient: (info, answer) => track(this.handshakes, this.admit(info.req, answer)),
    });
  }

  /** Takes over an HTTP upgrade request addressed to the WebSocket endpoint. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.server.handleUpgrade(req, socket, head, (ws) => this.open(ws, req));
  }

  /**
   * Sends `data` as one text frame: `gone` when no open connection has that id, `bufferFull` when
   * this send would have taken the connection over its outbound limit (it is being closed instead).
   */
  send(connectionId: string, data: Buffer): SendOutcome {
    const connection = this.openConnection(connectionId);
    if (!connection) return "gone";
    return connection.send(data) ? "sent" : "bufferFull";
  }

  describe(connectionId: string): ConnectionInfo | undefined {
    const connection = this.openConnection(connectionId);
    if (!connection) return undefined;
    const { connectedAt, identity } = connection.context;
    return { connectedAt, lastActiveAt: connection.lastActiveAt(), identity: { ...identity } };
  }

  /** Closes the connection as DeleteConnection does; false when no open connection has that id. */
  disconnect(connectionId: string): boolean {
    const connection = this.openConnection(connectionId);
    connection?.socket.close(CLOSE.normal, "Connection Closed Normally");
    return connection !== undefined;
  }

  /** Ids of the open connections. */
  connectionIds(): string[] {
    return [...this.connections.keys()].filter((id) => this.openConnection(id) !== undefined);
  }

  /** Refuses new handshakes, closes every connection with 1001 and waits for every `$disconnect`. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async admit(req: IncomingMessage, answer: Answer): Promise<void> {
    const { handlers, stage, apiId, log } = this.options;
    // API Gateway throttles before invoking the route, so a refused handshake writes no row.
    if (!this.options.throttle.take()) {
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
      logFailure(log, event, err);
      return answer(false, 500, "Internal server error");
    }
    if (statusCode < 200 || statusCode > 299) return answer(false, statusCode, body);
    // From here on `$connect` has recorded the connection, so `$disconnect` must hear that it ended.
    if (this.closing) {
      await this.disconnected(context, CLOSE.goingAway, SHUTDOWN_REASON);
      return answer(false, 503, "Service Unavailable");
    }
    this.holdAdmission(req, context);
    answer(true);
  }

  // Keeps `context` for `open`, and runs `$disconnect` if the socket dies before `ws` opens it.
  private holdAdmission(req: IncomingMessage, context: ConnectionContext): void {
    const onEarlyClose = () => track(this.endings, this.disconnected(context, CLOSE.abnormal, "Connection closed before the handshake completed"));
    // Gone already (its 'close' has fired): nobody is left to answer.
    if (req.socket.destroyed) return onEarlyClose();
    // Gone before `ws` opens it: `ws` destroys such a socket without calling back.
    req.socket.once("close", onEarlyClose);
    this.admissions.set(req, { context, onEarlyClose });
  }

  private open(socket: WebSocket, req: IncomingMessage): void {
    const admission = this.admissions.get(req);
    if (!admission) throw new Error("a WebSocket opened without passing $connect");
    this.admissions.delete(req);
    req.socket.off("close", admission.onEarlyClose);
    const { handlers, throttle, idleTimeoutMs, maxLifetimeMs, maxBufferedBytes, log } = this.options;
    const connection = new Connection(socket, req.socket, admission.context, {
      handlers,
      throttle,
      messageInvocations: this.messageInvocations,
      idleTimeoutMs,
      maxLifetimeMs,
      maxBufferedBytes,
      log,
      onClose: (closed, ended) => {
        this.connections.delete(closed.context.connectionId);
        track(this.endings, ended);
      },
    });
    this.connections.set(admission.context.connectionId, connection);
  }

  private openConnection(connectionId: string): Connection | undefined {
    const connection = this.connections.get(connectionId);
    return connection?.isOpen() ? connection : undefined;
  }

  private disconnected(context: ConnectionContext, code: number, reason: string): Promise<void> {
    return runDisconnect(this.options.handlers, this.options.log, context, code, reason);
  }

  private async shutdown(): Promise<void> {
    await Promise.all(this.handshakes);
    const open = [...this.connections.values()];
    for (const { socket } of open) {
      socket.close(CLOSE.goingAway, SHUTDOWN_REASON);
      setTimeout(() => socket.terminate(), SHUTDOWN_GRACE_MS).unref();
    }
    // Every close above adds to `endings` only once its 'close' event fires, so wait for those first.
    await Promise.all(open.map(({ socket }) => new Promise((resolve) => socket.once("close", resolve))));
    await Promise.all(this.endings);
  }
}
