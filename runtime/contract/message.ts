/**
 * The wire contract: one inbound text frame becomes the two outgoing payloads (the sender's copy
 * with `"_me":true`, everyone else's with `"_me":false`), or an `_error` for the sender only.
 * A server-side publish is built the same way, stamped `"_server":true` (`publishMessage`).
 */

/**
 * Keys only the backend may write (shared/design.md lists them); a client's own values for them are
 * dropped, whether or not the feature that writes one is on.
 */
const RESERVED_KEYS = ["_now", "_from", "_server", "_seq", "_id", "_me", "_error", "_presence", "_history", "_pong"] as const;

/** An error naming a place in a message quotes at most this much of its path. */
const MAX_PATH_LENGTH = 200;

/** Deeper JSON cannot be re-serialized reliably (V8's JSON.stringify recurses). */
const MAX_NESTING_DEPTH = 512;

// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { MAX_NESTING_DEPTH };

export type ErrorCode = "MessageTooLarge" | "NestingTooDeep" | "Unavailable" | "NotConnected" | "BadRequest" | "Forbidden";

export interface Outgoing {
  /** The stamped message without `_me`; `withMe(base)` rebuilds both copies (shard workers do). */
  base: string;
  sender: string;
  others: string;
  /** Byte length of the larger copy (`others`), the one measured against the size limit. */
  bytes: number;
}

/** What went wrong, as `_error` carries it: a stable code, a readable message, the limit crossed (if any). */
interface ErrorDetail {
  code: ErrorCode;
  message: string;
  limit?: number;
}

export type Transformed = { ok: true; outgoing: Outgoing } | { ok: false; code: ErrorCode; frame: string; error: ErrorDetail };

/**
 * What the backend stamps on a data copy. Each key appears only when set, in the order of
 * STAMP_KEYS, which is the one place the wire order is written (shared/design.md).
 */
export interface Stamp {
  /** `_now`: epoch ms when the message reached the backend. */
  now: number;
  /** `_from`: the identified sender's user (runtime/access/token-claims.ts). */
  from?: string;
  /** `_server`: a server-side publish. */
  server?: true;
  /** `_seq`: history on, the message's number in its room. */
  seq?: number;
  /** `_id`: API Gateway's message id (sharded fan-out only). */
  id?: string;
}

const STAMP_KEYS = [
  ["now", "_now"],
  ["from", "_from"],
  ["server", "_server"],
  ["seq", "_seq"],
  ["id", "_id"],
] as const;

function stampKeys(stamp: Stamp): Record<string, unknown> {
  const keys: Record<string, unknown> = {};
  for (const [field, key] of STAMP_KEYS) if (stamp[field] !== undefined) keys[key] = stamp[field];
  return keys;
}

/** Turns a message body into its outgoing copies stamped with `stamp`, or an `_error` frame when it cannot be sent. */
export function transformMessage(body: string, stamp: Stamp, maxBytes: number): Transformed {
  return stampMessage(body, stamp.now, maxBytes, stampKeys(stamp));
}

/**
 * A server-side publish: the copies a client's message would get, stamped `"_server":true`. It
 * has no sender, so every receiver gets `others`.
 */
export function publishMessage(body: string, now: number, maxBytes: number, fields: Pick<Stamp, "seq" | "id"> = {}): Transformed {
  return transformMessage(body, { now, server: true, ...fields }, maxBytes);
}

function stampMessage(body: string, now: number, maxBytes: number, stamp: Record<string, unknown>): Transformed {
  const parsed = parseJson(body);
  const scanned = parsed.ok ? scanJson(body) : undefined;
  if (scanned && scanned.depth > MAX_NESTING_DEPTH) {
    return failure({ code: "NestingTooDeep", message: `JSON nesting is limited to ${MAX_NESTING_DEPTH} levels`, limit: MAX_NESTING_DEPTH }, now);
  }
  const overflow = parsed.ok && scanned?.mayOverflow ? infiniteAt(parsed.value, "$") : undefined;
  if (overflow !== undefined) {
    return failure({ code: "BadRequest", message: `the number at ${overflow} is too large for JavaScript (beyond ±1.7976931348623157e308)` }, now);
  }
  const base = parsed.ok && isPlainObject(parsed.value) ? stampObject(parsed.value, stamp) : JSON.stringify({ data: parsed.ok ? parsed.value : body, ...stamp });
  const outgoing = withMe(base);
  if (outgoing.bytes > maxBytes) {
    return failure({ code: "MessageTooLarge", message: `outgoing payload is ${outgoing.bytes} bytes, the limit is ${maxBytes}`, limit: maxBytes }, now);
  }
  return { ok: true, outgoing };
}

function failure(error: ErrorDetail, now: number): Transformed {
  return { ok: false, code: error.code, frame: errorFrame(error.code, error.message, now, error.limit === undefined ? {} : { limit: error.limit }), error };
}

/** `{"_error":{code,message,...extra},"_now":…,"_me":true}`: always addressed to the sender. */
export function errorFrame(code: ErrorCode, message: string, now: number, extra: Record<string, number> = {}): string {
  return JSON.stringify({ _error: { code, message, ...extra }, _now: now, _me: true });
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Where the first non-finite number in `value` is, as a JSONPath (`$`, `$.a[2]`, `$["b c"]`), if anywhere. */
function infiniteAt(value: unknown, path: string): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : path.length > MAX_PATH_LENGTH ? `${path.slice(0, MAX_PATH_LENGTH)}…` : path;
  if (typeof value !== "object" || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = infiniteAt(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const step = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    const found = infiniteAt((value as Record<string, unknown>)[key], path + step);
    if (found !== undefined) return found;
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Mutating the parsed object (instead of copying keys into a new one) keeps a client's
// "__proto__" key an ordinary own property: assignment would change the prototype instead.
// The stamp's keys are reserved too: in sharded mode a client's own `_id` is replaced.
function stampObject(value: Record<string, unknown>, stamp: Record<string, unknown>): string {
  for (const key of [...RESERVED_KEYS, ...Object.keys(stamp)]) delete value[key];
  Object.assign(value, stamp);
  return JSON.stringify(value);
}

/** Both copies share everything up to the closing brace, so serialize once and append `_me`. */
export function withMe(base: string): Outgoing {
  const open = base.slice(0, -1);
  const others = `${open},"_me":false}`;
  return { base, sender: `${open},"_me":true}`, others, bytes: Buffer.byteLength(others) };
}

/**
 * One pass over a JSON text, outside its strings: its bracket depth, and whether it can hold a
 * number JSON.parse turns into ±Infinity (which JSON.stringify would send as `null`). Only an
 * exponent or a run of more than 308 digits reaches 1.8e308, and most messages have neither, so
 * they never pay for the walk over the parsed value (`infiniteAt`).
 */
export function scanJson(text: string): { depth: number; mayOverflow: boolean } {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let digits = 0;
  let mayOverflow = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > 308) mayOverflow = true;
      continue;
    }
    if ((c === 0x65 || c === 0x45) && digits > 0) mayOverflow = true; // `e`/`E` after a digit: an exponent
    else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
    digits = 0;
  }
  return { depth: deepest, mayOverflow };
}
