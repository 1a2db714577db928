/**
 * HistoryStore (history on): every room's stored messages, numbered `_seq` 1, 2, 3… without a
 * hole, and the pages a catch-up reads. One DynamoDB implementation serves the Lambdas (DynamoDB)
 * and the emulator (dynalite) through the same SDK calls. docs/history.md explains the choices.
 */
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";

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
/** Conditional puts tried for one message before its sender gets `Unavailable` (each conflict means another message was stored). */
const MAX_ALLOCATION_ATTEMPTS = 50;
/** Rooms whose last number a container remembers (a hint: forgetting costs one more put). */
const MAX_REMEMBERED_ROOMS = 10_000;
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { HISTORY_TABLE };

/** A message to store: the copy without `_me` and who sent it. */
interface HistoryEntry {
  base: string;
  /** "" for a server publish. */
  sender: string;
}

/** A stored message as a page returns it. */
interface StoredMessage extends HistoryEntry {
  seq: number;
}

interface HistoryQuery {
  /** Messages with `seq` > since; undefined: the latest ones. */
  since?: number;
  limit: number;
  nowSeconds: number;
}

/** What a read found: the `_history` answer's fields (runtime/routes/history-op.ts formats it). */
export interface HistoryRead {
  /** Retained messages in `seq` order: after `since`, or the latest ones. */
  messages: StoredMessage[];
  /** The request's `since`; for the latest: the number before the first message (the room's latest number when none). */
  since: number;
  /** The last message's number (`since` when none, or the last expired one skipped when the read stopped among them). */
  until: number;
  /** More retained messages may follow `until` (only when reading after `since`). */
  more: boolean;
  /** Messages after `since` were numbered but are no longer retained. */
  missed: boolean;
}

export interface HistoryStore {
  /**
   * Stores the entry `build` makes for the room's next number and resolves to that number, or to
   * undefined when `build` declines (the stamped copy is too large). Throws when the table cannot
   * be reached or the number could not be won within MAX_ALLOCATION_ATTEMPTS.
   */
  append(room: string, nowSeconds: number, build: (seq: number) => HistoryEntry | undefined): Promise<number | undefined>;
  read(room: string, query: HistoryQuery): Promise<HistoryRead>;
}

export interface DynamoHistoryOptions {
  tableName: string;
  /** How long a message is retained (`historyTtlSeconds`). */
  ttlSeconds: number;
}

/** Another sender took every number tried: the message was stored by nobody. */
class HistoryContentionError extends Error {
  constructor(room: string) {
    super(`no free _seq in ${MAX_ALLOCATION_ATTEMPTS} attempts (room ${room.length} characters)`);
    this.name = "HistoryContention";
  }
}

export function createDynamoHistoryStore(doc: DynamoDBDocumentClient, options: DynamoHistoryOptions): HistoryStore {
  const { tableName, ttlSeconds } = options;
  const { hashKey, rangeKey, ttlAttribute, baseAttribute, senderAttribute, latestAttribute, headSeq } = HISTORY_TABLE;

  const readLatest = async (room: string): Promise<number> => {
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { [hashKey]: room, [rangeKey]: headSeq }, ConsistentRead: true }));
    const latest: unknown = Item?.[latestAttribute];
    return typeof latest === "number" ? latest : 0;
  };
  // A put that fails its condition found the number taken: the caller tries the next one.
  const putIfFree = async (room: string, seq: number, entry: HistoryEntry, expiresAt: number): Promise<boolean> => {
    try {
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: { [hashKey]: room, [rangeKey]: seq, [baseAttribute]: entry.base, [senderAttribute]: entry.sender, [ttlAttribute]: expiresAt },
          ConditionExpression: "attribute_not_exists(#seq)",
          ExpressionAttributeNames: { "#seq": rangeKey },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof Error && err.name === "ConditionalCheckFailedException") return false;
      throw err;
    }
  };
  // Never lowers the head: a slower sender of an earlier number finds it already past.
  const raiseHead = async (room: string, seq: number): Promise<void> => {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [hashKey]: room, [rangeKey]: headSeq },
          UpdateExpression: "SET #latest = :seq",
          ConditionExpression: "attribute_not_exists(#latest) OR #latest < :seq",
          ExpressionAttributeNames: { "#latest": latestAttribute },
          ExpressionAttributeValues: { ":seq": seq },
        }),
      );
    } catch (err) {
      if (!(err instanceof Error && err.name === "ConditionalCheckFailedException")) throw err;
    }
  };

  // Per container (runtime/SERIALIZER.md, rule 3): one append at a time per room, so that
  // invocations sharing a container never race each other for a number, and each room's last
  // number, so that the next append starts past it even while the head lags.
  const queues = new Map<string, Promise<unknown>>();
  const highWater = new Map<string, number>();
  const remember = (room: string, seq: number) => {
    if (highWater.size >= MAX_REMEMBERED_ROOMS && !highWater.has(room)) highWater.clear();
    highWater.set(room, Math.max(seq, highWater.get(room) ?? 0));
  };
  // Declared before the closures that use them: Pulumi's serializer reads a closure's variables in order.
  // The room's largest stored number, read at the partition's end: where a lost put goes on from.
  const readTop = async (room: string): Promise<number> => {
    const { Items = [] } = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "#room = :room AND #seq > :head",
        ExpressionAttributeNames: { "#room": hashKey, "#seq": rangeKey },
        ExpressionAttributeValues: { ":room": room, ":head": headSeq },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 1,
        ProjectionExpression: "#seq",
      }),
    );
    return Items.length > 0 ? Number(Items[0][rangeKey]) : 0;
  };
  const allocate = async (room: string, nowSeconds: number, build: (seq: number) => HistoryEntry | undefined): Promise<number | undefined> => {
    let seq = Math.max(await readLatest(room), highWater.get(room) ?? 0) + 1;
    for (let attempt = 0; attempt < MAX_ALLOCATION_ATTEMPTS; attempt++) {
      const entry = build(seq);
      if (entry === undefined) return undefined;
      if (await putIfFree(room, seq, entry, nowSeconds + ttlSeconds)) {
        remember(room, seq);
        // Stored and numbered; a head left behind is raised by the next message.
        await raiseHead(room, seq).catch(() => undefined);
        return seq;
      }
      // Another sender holds it: go on from the end of the partition, after a jittered pause so
      // that the senders who lost together do not collide again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 50)));
      seq = Math.max(seq, await readTop(room)) + 1;
    }
    throw new HistoryContentionError(room);
  };
  return {
    append(room, nowSeconds, build) {
      const previous = queues.get(room) ?? Promise.resolve();
      const mine = previous.then(() => allocate(room, nowSeconds, build));
      const settled = mine.catch(() => undefined);
      queues.set(room, settled);
      void settled.then(() => {
        if (queues.get(room) === settled) queues.delete(room);
      });
      return mine;
    },

    async read(room, query) {
      const { items, cut } = await queryMessages(doc, tableName, room, query);
      const { messages, skipped } = retained(items, query);
      if (query.since === undefined) {
        messages.reverse();
        const since = messages.length > 0 ? messages[0].seq - 1 : await readLatest(room);
        return { messages, since, until: messages.at(-1)?.seq ?? since, more: false, missed: false };
      }
      const more = messages.length > query.limit;
      if (more) messages.length = query.limit;
      const first = messages[0]?.seq;
      if (first !== undefined) return { messages, since: query.since, until: messages[messages.length - 1].seq, more, missed: first > query.since + 1 };
      // Only expired items within the pages read: the client goes on from the last of them.
      if (cut) return { messages, since: query.since, until: Number(items[items.length - 1][rangeKey]), more: true, missed: true };
      // Nothing retained after `since`: missed if anything was ever numbered past it.
      const missed = skipped || (await readLatest(room)) > query.since;
      return { messages, since: query.since, until: query.since, more: false, missed };
    },
  };
}

type Item = Record<string, unknown>;

/** Query pages one read takes at most (a catch-up far behind reads expired items TTL has not deleted yet). */
const MAX_READ_PAGES = 8;

// After `since`: ascending, one more than the limit (to learn whether more follow). Latest:
// descending. Expired items are read and skipped by `retained`, so pages go on to the wanted
// count of retained ones, the partition's end, or MAX_READ_PAGES (`cut`).
async function queryMessages(
  doc: DynamoDBDocumentClient,
  tableName: string,
  room: string,
  query: HistoryQuery,
): Promise<{ items: Item[]; cut: boolean }> {
  const { hashKey, rangeKey, headSeq } = HISTORY_TABLE;
  const wanted = query.since === undefined ? query.limit : query.limit + 1;
  const items: Item[] = [];
  let startKey: Record<string, unknown> | undefined;
  let pages = 0;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "#room = :room AND #seq > :after",
        ExpressionAttributeNames: { "#room": hashKey, "#seq": rangeKey },
        ExpressionAttributeValues: { ":room": room, ":after": query.since ?? headSeq },
        ScanIndexForward: query.since !== undefined,
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
        Limit: wanted,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
    pages++;
  } while (startKey && pages < MAX_READ_PAGES && wantsMore(items, query, wanted));
  return { items, cut: startKey !== undefined && pages >= MAX_READ_PAGES };
}

// The latest ones end at the first expired item; after `since`, reading goes on to `wanted` retained ones.
function wantsMore(items: Item[], query: HistoryQuery, wanted: number): boolean {
  const { messages } = retained(items, query);
  return query.since === undefined ? messages.length === items.length && messages.length < wanted : messages.length < wanted;
}

/**
 * The items a reader may see, in query order: after `since`, the expired ones before the first
 * retained message are skipped (they are the missed ones) and the run after it is kept whole, so a
 * page never has a hole; the latest ones stop at the first expired item.
 */
function retained(items: Item[], query: HistoryQuery): { messages: StoredMessage[]; skipped: boolean } {
  const { rangeKey, baseAttribute, senderAttribute, ttlAttribute } = HISTORY_TABLE;
  const live = (item: Item) => Number(item[ttlAttribute]) > query.nowSeconds;
  let start = 0;
  if (query.since !== undefined) while (start < items.length && !live(items[start])) start++;
  let end = start;
  if (query.since === undefined) while (end < items.length && live(items[end])) end++;
  else end = items.length;
  const messages = items.slice(start, end).map((item) => ({ seq: Number(item[rangeKey]), base: String(item[baseAttribute]), sender: String(item[senderAttribute]) }));
  return { messages, skipped: start > 0 };
}
