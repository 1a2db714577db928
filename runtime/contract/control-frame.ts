/**
 * Control frames (the protocol's grammar, shared/design.md): a JSON object with a top-level `_op`
 * is a request answered to its sender alone, never broadcast and never stored. Everything else is
 * data, with the original contract.
 */

export interface ControlRequest {
  op: string;
  /** The request's other top-level keys, as parsed. */
  fields: Record<string, unknown>;
}

export type ClassifiedFrame = { kind: "data" } | { kind: "control"; request: ControlRequest } | { kind: "malformed"; message: string };

const DATA: ClassifiedFrame = { kind: "data" };

/**
 * Data or control. A key spelled `_op` needs those three characters or a `\u` escape in the text,
 * so a data frame without either is never parsed here (the data path parses it once, later).
 */
export function classifyFrame(text: string): ClassifiedFrame {
  if (!text.includes("_op") && !text.includes("\\u")) return DATA;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return DATA;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, "_op")) return DATA;
  const { _op: op, ...fields } = value as Record<string, unknown>;
  if (typeof op !== "string") return { kind: "malformed", message: `_op must be a string, got ${JSON.stringify(op)}` };
  return { kind: "control", request: { op, fields } };
}

/** The first field of `fields` not in `allowed`, for a BadRequest naming it. */
export function unexpectedField(fields: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  return Object.keys(fields).find((key) => !allowed.includes(key));
}

/** An answer to a control frame: its own key first, then `_now` and `"_me":true`. */
export function controlAnswer(key: string, value: unknown, now: number): string {
  return JSON.stringify({ [key]: value, _now: now, _me: true });
}
