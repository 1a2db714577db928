/**
 * `{"_op":"history","since":S,"limit":L}` (history on): the sender's room's stored messages after
 * S, or the latest L without S, in one `_history` frame to the sender alone (docs/history.md).
 */
import { errorName } from "../contract/errors";
import { errorFrame, type ErrorCode } from "../contract/message";
import { historyAnswer } from "../contract/history-answer";
import { unexpectedField, type ControlRequest } from "../contract/control-frame";
import type { HandlerDeps, InvocationLog } from "./deps";

// control.ts's ControlContext and ControlAnswer, spelled out: control.ts imports this op.
type Context = { sender: string; now: number };
type Answer = { frame: string; entry: Partial<InvocationLog> };

/** Messages one answer returns at most; without `limit`, DEFAULT_LIMIT. */
const HISTORY_LIMIT = { min: 1, max: 1000 };
const DEFAULT_LIMIT = 100;
const HISTORY_FIELDS = ["since", "limit"] as const;

/** The request's `since` and `limit`, or the BadRequest message naming the field that is wrong. */
function parseRequest(fields: Record<string, unknown>): { since?: number; limit: number } | string {
  const field = unexpectedField(fields, HISTORY_FIELDS);
  if (field !== undefined) return `history takes only since and limit, got "${field}"`;
  const { since, limit = DEFAULT_LIMIT } = fields;
  if (since !== undefined && !(Number.isSafeInteger(since) && (since as number) >= 0)) {
    return `since must be an integer >= 0 (the last _seq received), got ${JSON.stringify(since)}`;
  }
  if (!(Number.isInteger(limit) && (limit as number) >= HISTORY_LIMIT.min && (limit as number) <= HISTORY_LIMIT.max)) {
    return `limit must be an integer from ${HISTORY_LIMIT.min} to ${HISTORY_LIMIT.max} (default ${DEFAULT_LIMIT}), got ${JSON.stringify(limit)}`;
  }
  return { since: since as number | undefined, limit: limit as number };
}

export async function answerHistory(deps: HandlerDeps, request: ControlRequest, context: Context): Promise<Answer> {
  const { sender, now } = context;
  if (deps.history === undefined) return refuse("BadRequest", "history is off on this backend (stack config history: true; emulator --history)", now);
  const parsed = parseRequest(request.fields);
  if (typeof parsed === "string") return refuse("BadRequest", parsed, now);
  // The sender's own room, from its row: the one `$connect` admitted it to.
  let room: string | undefined;
  try {
    room = (await deps.store.membershipOf(sender))?.room;
  } catch (err) {
    return refuse("Unavailable", `connection store unavailable (${errorName(err)}); no history read`, now);
  }
  if (room === undefined) return refuse("NotConnected", "this connection has no row in the connections table; no history read", now);
  try {
    const read = await deps.history.read(room, { ...parsed, nowSeconds: Math.floor(deps.now() / 1000) });
    return { frame: historyAnswer(read, sender, now, parsed.since === undefined), entry: {} };
  } catch (err) {
    return refuse("Unavailable", `history store unavailable (${errorName(err)}); no history read`, now);
  }
}

function refuse(code: ErrorCode, message: string, now: number): Answer {
  return { frame: errorFrame(code, message, now), entry: { error: code } };
}
