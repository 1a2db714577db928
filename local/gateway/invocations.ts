/**
 * Handler invocations shared by the gateway's admission and connection code: `$disconnect` that
 * never throws, and failure log lines that carry ids and error names, never message contents.
 */
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import type { Handlers } from "../../runtime/routes/handlers";
import { disconnectEvent, type ConnectionContext } from "./event-builders";

/** Runs `$disconnect` for `context`; a failure is logged, not thrown. */
export async function runDisconnect(
  handlers: Handlers,
  log: (line: string) => void,
  context: ConnectionContext,
  code: number,
  reason: string,
): Promise<void> {
  const event = disconnectEvent(context, code, reason, Date.now());
  try {
    await handlers.disconnect(event);
  } catch (err) {
    logFailure(log, event, err);
  }
}

/** Logs a handler that threw: route, ids, the error's name and where it was thrown. */
export function logFailure(log: (line: string) => void, event: WebSocketEvent, err: unknown): void {
  const { routeKey, connectionId, requestId } = event.requestContext;
  log(JSON.stringify({ emulator: "handlerError", route: routeKey, connectionId, requestId, ...describeError(err) }));
}

/** Adds `work` to `pending` until it settles. */
export function track(pending: Set<Promise<void>>, work: Promise<void>): void {
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
