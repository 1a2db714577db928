/**
 * The message contract as the smoke test checks it: the messages two clients send, and whether
 * the copies each received are exactly what the backend must deliver (README "The message
 * contract"; sharded deployments add `_id` to every copy, docs/scaling.md).
 */

export type ClientName = "A" | "B";
export const CLIENTS: readonly ClientName[] = ["A", "B"];

export interface SmokeMessage {
  from: ClientName;
  /** What goes on the wire. */
  text: string;
  /** The parsed object for a JSON message; undefined for plain text. */
  object?: Record<string, unknown>;
  /** Unique to this message and this run: how its copies are told from other traffic. */
  marker: string;
}

/** A text and a JSON object from each client, marked with `nonce` so other traffic is ignored. */
export function smokeMessages(nonce: string): SmokeMessage[] {
  return CLIENTS.flatMap((from, index) => {
    const text = `smoke-${nonce}-${2 * index} plain text from ${from}`;
    const object = { smoke: `smoke-${nonce}-${2 * index + 1}`, from, nested: { n: [1, 2.5, "three"], ok: true } };
    return [
      { from, text, marker: `smoke-${nonce}-${2 * index}` },
      { from, text: JSON.stringify(object), object, marker: object.smoke },
    ];
  });
}

/** Does this frame belong to `message` (a copy of it, right or wrong)? */
export function isCopyOf(frame: string, message: SmokeMessage): boolean {
  return frame.includes(message.marker);
}

/** "A's JSON message smoke-…-1": how a message is named in reasons. */
export function describe(message: SmokeMessage): string {
  return `${message.from}'s ${message.object ? "JSON" : "text"} message ${message.marker}`;
}

/** Frames a client received, with the receive time. */
export interface Received {
  text: string;
  at: number;
}

export interface ContractResult {
  /** Undefined when every copy is exactly right. */
  mismatch?: string;
  /** Every copy carried `_id` (a sharded deployment). */
  withId: boolean;
}

type Stamp = { now: number; id?: string };

/** Checks one copy at `receiver`; returns its stamp, or throws the mismatch. */
function checkCopy(message: SmokeMessage, receiver: ClientName, frame: string): Stamp {
  const where = `${receiver}'s copy of ${message.from}'s ${message.object ? "JSON" : "text"} message`;
  let copy: unknown;
  try {
    copy = JSON.parse(frame);
  } catch {
    throw new Error(`${where} is not JSON: ${frame.slice(0, 200)}`);
  }
  if (typeof copy !== "object" || copy === null || Array.isArray(copy)) throw new Error(`${where} is not an object: ${frame.slice(0, 200)}`);
  const fields = copy as Record<string, unknown>;
  const content = message.object ?? { data: message.text };
  const withId = "_id" in fields;
  const expectedKeys = [...Object.keys(content), "_now", ...(withId ? ["_id"] : []), "_me"];
  if (JSON.stringify(Object.keys(fields)) !== JSON.stringify(expectedKeys)) {
    throw new Error(`${where} has keys ${JSON.stringify(Object.keys(fields))}, expected ${JSON.stringify(expectedKeys)}`);
  }
  for (const key of Object.keys(content)) {
    if (JSON.stringify(fields[key]) !== JSON.stringify(content[key])) throw new Error(`${where} changed "${key}": ${JSON.stringify(fields[key])}`);
  }
  if (typeof fields._now !== "number" || !Number.isInteger(fields._now) || fields._now <= 0) throw new Error(`${where} has _now ${JSON.stringify(fields._now)}, expected integer ms`);
  if (fields._me !== (receiver === message.from)) throw new Error(`${where} has _me ${JSON.stringify(fields._me)}, expected ${receiver === message.from}`);
  if (withId && (typeof fields._id !== "string" || fields._id.length === 0)) throw new Error(`${where} has _id ${JSON.stringify(fields._id)}`);
  return { now: fields._now, id: withId ? String(fields._id) : undefined };
}

/** Checks every client's copies of every message: exactly one each, exact form, consistent stamps. */
export function checkContract(messages: readonly SmokeMessage[], received: Record<ClientName, readonly Received[]>): ContractResult {
  try {
    for (const client of CLIENTS) {
      const error = received[client].find(({ text }) => text.includes('"_error"'));
      if (error) throw new Error(`${client} got an error frame: ${error.text.slice(0, 300)}`);
    }
    const stamps = messages.map((message) => {
      const both = CLIENTS.map((receiver) => {
        const copies = received[receiver].filter(({ text }) => isCopyOf(text, message));
        if (copies.length !== 1) throw new Error(`${receiver} got ${copies.length} copies of ${message.from}'s message ${message.marker}, expected 1`);
        return checkCopy(message, receiver, copies[0].text);
      });
      if (both[0].now !== both[1].now) throw new Error(`the copies of ${message.marker} have different _now: ${both[0].now}, ${both[1].now}`);
      if (both[0].id !== both[1].id) throw new Error(`the copies of ${message.marker} have different _id: ${both[0].id}, ${both[1].id}`);
      return both[0];
    });
    const withId = stamps.filter(({ id }) => id !== undefined).length;
    if (withId !== 0 && withId !== stamps.length) throw new Error(`_id in the copies of ${withId} of ${stamps.length} messages: all or none`);
    if (new Set(stamps.map(({ id }) => id)).size !== (withId === 0 ? 1 : stamps.length)) throw new Error("two messages share an _id");
    return { withId: withId > 0 };
  } catch (error) {
    return { mismatch: error instanceof Error ? error.message : String(error), withId: false };
  }
}
