/**
 * The history table's schema and its item codec: what one stored message looks like as a
 * DynamoDB item, and which items a reader may see. runtime/store/history-store.ts does the calls.
 */

/**
 * The deployed table's schema; `local/services/dynalite-store.ts` creates dynalite's table from it
 * too. Each room is one partition: its messages at `seq` 1, 2, 3…, and at `seq` 0 its head, which
 * remembers the largest number stored so that numbering survives TTL deleting every message.
 */
const HISTORY_TABLE = {
  hashKey: "room",
  hashKeyType: "S",
  rangeKey: "seq",
  rangeKeyType: "N",
  ttlAttribute: "expiresAt",
  /** The message as receivers got it, without `_me`. */
  baseAttribute: "base",
  /** The connection that sent it ("" for a server publish): its copy says `"_me":true`. */
  senderAttribute: "sender",
  /** The head's attribute: the largest `seq` stored in the room. */
  latestAttribute: "latest",
  headSeq: 0,
} as const;
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { HISTORY_TABLE };

/** A message to store: the copy without `_me` and who sent it. */
export interface HistoryEntry {
  base: string;
  /** "" for a server publish. */
  sender: string;
}

/** A stored message as a page returns it. */
export interface StoredMessage extends HistoryEntry {
  seq: number;
}

export interface HistoryQuery {
  /** Messages with `seq` > since; undefined: the latest ones. */
  since?: number;
  limit: number;
  nowSeconds: number;
}

export type Item = Record<string, unknown>;

/** The item that stores `entry` as the room's message `seq`, expiring (TTL) at `expiresAt` seconds. */
export function messageItem(room: string, seq: number, entry: HistoryEntry, expiresAt: number): Item {
  const { hashKey, rangeKey, baseAttribute, senderAttribute, ttlAttribute } = HISTORY_TABLE;
  return { [hashKey]: room, [rangeKey]: seq, [baseAttribute]: entry.base, [senderAttribute]: entry.sender, [ttlAttribute]: expiresAt };
}

/** An item's message number. */
export function itemSeq(item: Item): number {
  return Number(item[HISTORY_TABLE.rangeKey]);
}

/**
 * The items a reader may see, in query order: after `since`, the expired ones before the first
 * retained message are skipped (they are the missed ones) and the run after it is kept whole, so a
 * page never has a hole; the latest ones stop at the first expired item.
 */
export function retained(items: Item[], query: HistoryQuery): { messages: StoredMessage[]; skipped: boolean } {
  const { baseAttribute, senderAttribute, ttlAttribute } = HISTORY_TABLE;
  const live = (item: Item) => Number(item[ttlAttribute]) > query.nowSeconds;
  let start = 0;
  if (query.since !== undefined) while (start < items.length && !live(items[start])) start++;
  let end = start;
  if (query.since === undefined) while (end < items.length && live(items[end])) end++;
  else end = items.length;
  const messages = items.slice(start, end).map((item) => ({ seq: itemSeq(item), base: String(item[baseAttribute]), sender: String(item[senderAttribute]) }));
  return { messages, skipped: start > 0 };
}
