/**
 * What a frame from the backend is: a data copy, an answer to a control frame, a presence event,
 * an `_error`, or API Gateway's own error frame. Pure: no state, no effects.
 */
import type { ClientError, Members, Message, Presence } from "./types";

/** One page of a history answer (`{"_history":{…}}`). */
export interface HistoryPage {
  messages: Message[];
  since: number;
  until: number;
  more: boolean;
  missed: boolean;
}

export type Frame =
  | { kind: "message"; message: Message }
  | { kind: "presence"; presence: Presence }
  | { kind: "members"; members: Members }
  | { kind: "history"; page: HistoryPage }
  | { kind: "pong" }
  | { kind: "error"; error: ClientError };

// API Gateway's text for a message refused by stage throttling; it never reaches the backend.
const THROTTLED_TEXT = "Too Many Requests";

/** Codes of the errors that may answer a request the backend did not serve (throttled, unavailable, failed). */
const SERVICE_FAILURES = new Set(["Throttled", "GatewayError", "Unavailable"]);

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

export function classify(text: string): Frame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  // Only a backend posting through the management API on its own sends anything but objects.
  if (!isObject(value)) return { kind: "message", message: { data: value === undefined ? text : value } };
  if (isObject(value._error)) return { kind: "error", error: backendError(value._error) };
  if (isGatewayError(value)) return { kind: "error", error: gatewayError(value) };
  if (value._pong === true) return { kind: "pong" };
  if (isObject(value._history)) return { kind: "history", page: historyPage(value._history) };
  if (isObject(value._presence)) return presence(value._presence);
  return { kind: "message", message: value };
}

function presence(body: Json): Frame {
  if (body.event === "members") return { kind: "members", members: body as unknown as Members };
  return { kind: "presence", presence: { ...body, event: String(body.event) } };
}

function backendError(body: Json): ClientError {
  return { code: String(body.code), message: String(body.message) };
}

// `{"message","connectionId","requestId"}` without `_me`, which every copy from the backend carries.
function isGatewayError(value: Json): boolean {
  return typeof value.message === "string" && typeof value.requestId === "string" && !("_me" in value);
}

function gatewayError(value: Json): ClientError {
  const message = String(value.message);
  return {
    code: message === THROTTLED_TEXT ? "Throttled" : "GatewayError",
    message,
    connectionId: String(value.connectionId),
    requestId: String(value.requestId),
  };
}

function historyPage(body: Json): HistoryPage {
  const messages = Array.isArray(body.messages) ? body.messages.filter(isObject) : [];
  return {
    messages,
    since: Number(body.since),
    until: Number(body.until),
    more: body.more === true,
    missed: body.missed === true,
  };
}

/** Whether `error` may be a request's failure to be served, so that asking again may succeed. */
export function isServiceFailure(error: ClientError): boolean {
  return SERVICE_FAILURES.has(error.code);
}

/** A copy's `_seq`, when it has a valid one. */
export function seqOf(message: Message): number | undefined {
  return Number.isSafeInteger(message._seq) ? (message._seq as number) : undefined;
}

/** A copy's `_id` (sharded mode), when it has one. */
export function idOf(message: Message): string | undefined {
  return typeof message._id === "string" ? message._id : undefined;
}
