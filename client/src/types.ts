/**
 * The public shapes of the client: what it emits, and the little of a WebSocket it uses (so that
 * the browser's, Node's `ws` and a test's fake all fit).
 */
export type State = "connecting" | "open" | "reconnecting" | "closed";

/** A data copy: the sender's keys, then `_now`, `_from`/`_server`, `_seq`, `_id`, `_me` (those present). */
export type Message = Record<string, unknown>;

/** A `_presence` object: `{event: "join" | "leave", count, user?, meta?}` (members answers resolve `members()` instead). */
export type Presence = Record<string, unknown> & { event: string };

/** The roster `members()` resolves with: the `_presence` object of the `members` answer. */
export interface Members {
  event: "members";
  count: number;
  members: Array<{ user: string; meta?: Record<string, unknown>; connections: number }>;
  truncated?: boolean;
}

/**
 * An `_error` frame, API Gateway's own error frame (`Throttled` for "Too Many Requests"), or a
 * refusal of the client itself (`BadRequest`, `Unauthorized`, `Forbidden` for a refused handshake).
 */
export interface ClientError {
  code: string;
  message: string;
  /** The handshake's HTTP status, when the platform reports it. */
  status?: number;
  /** API Gateway's error frames name the connection and request. */
  connectionId?: string;
  requestId?: string;
}

/** Messages with `since < _seq <= until` are no longer retained: they will never be delivered. */
export interface Gap {
  since: number;
  until: number;
}

export interface Events {
  message: Message;
  presence: Presence;
  error: ClientError;
  state: State;
  gap: Gap;
}

/**
 * A handler slot that accepts handlers of any event type its platform declares (the browser's
 * `Event`, `ws`'s own): parameters compared both ways, as TypeScript does for methods.
 */
type Handler<E> = { bivariant(event: E): void }["bivariant"];

/** The part of a WebSocket the client uses (the WHATWG interface, which `ws` implements too). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onerror: Handler<unknown> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;
