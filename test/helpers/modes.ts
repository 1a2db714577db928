/**
 * Both fan-out modes must pass the same end-to-end tests: `eachMode` registers a test once per
 * mode with the mode in its title, and the other helpers state what differs between them (only
 * sharded copies carry `_id`; sharded counts are on the shard workers' log lines).
 */
import type { ExecutionContext } from "ava";
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import { FANOUT_MODES, type FanOutMode } from "../../runtime/config/settings";
import { SHARD_WORKER_ROUTE } from "../../runtime/routes/shard-worker";
import { AWS_ID } from "./clients";
import { invocations, type LogCapture, type LogEntry } from "./emulator";

export const MODES: readonly FanOutMode[] = FANOUT_MODES;


/** `test`, `test.serial`… : anything that registers a titled test. */
type Register<Context> = (title: string, implementation: (t: ExecutionContext<Context>) => Promise<void>) => void;

/** Registers `${title} [direct]` and `${title} [sharded]`; `body` gets the mode to start its emulator with. */
export function eachMode<Context = unknown>(
  register: Register<Context>,
  title: string,
  body: (t: ExecutionContext<Context>, mode: FanOutMode) => Promise<void>,
): void {
  for (const mode of MODES) register(`${title} [${mode}]`, (t) => body(t, mode));
}

/**
 * `"_id":"…",` as a copy of a message carries it in `mode`: API Gateway's messageId, sharded only.
 * `source` is the message's event, or the `_id` read from the sender's own copy (which must then
 * be a message id, so a copy without one cannot pass).
 */
export function idPart(mode: FanOutMode, source: unknown): string {
  if (mode === "direct") return "";
  const id = isEvent(source) ? source.requestContext.messageId : source;
  if (typeof id !== "string" || !AWS_ID.test(id)) throw new Error(`not a message id: ${JSON.stringify(id)}`);
  return `"_id":${JSON.stringify(id)},`;
}

function isEvent(source: unknown): source is WebSocketEvent {
  return typeof source === "object" && source !== null && "requestContext" in source;
}

/**
 * The stamp of a sender's own copy, to build every copy's exact text: its `_now`, and its `_id`
 * as `idPart` writes it.
 */
export function stampOf(mode: FanOutMode, ownCopy: string): { now: number; id: string } {
  const { _now, _id } = JSON.parse(ownCopy) as { _now?: unknown; _id?: unknown };
  if (typeof _now !== "number" || !Number.isInteger(_now)) throw new Error(`no integer _now in ${ownCopy.slice(0, 200)}`);
  return { now: _now, id: idPart(mode, _id) };
}

/**
 * The fan-out counts of every message so far, summed: from the `$default` lines (direct), or from
 * the shard workers' lines once every enqueued shard has logged (sharded). Wait for the `$default`
 * lines of the messages first.
 */
export async function fanOutTotals(logs: LogCapture, mode: FanOutMode): Promise<Record<string, number>> {
  const sum = (lines: LogEntry[], key: string) => lines.reduce((total, entry) => total + Number(entry[key] ?? 0), 0);
  const defaults = invocations(logs, "$default");
  const workerLines = () => logs.entries().filter((entry) => entry.route === SHARD_WORKER_ROUTE);
  if (mode === "sharded") await logs.waitFor(() => workerLines().length >= sum(defaults, "shards"), "a line from every shard");
  const lines = mode === "direct" ? defaults : workerLines();
  return Object.fromEntries(["receivers", "delivered", "gone", "failed"].map((key) => [key, sum(lines, key)]));
}
