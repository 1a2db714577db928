/**
 * HistoryStore (history on): every room's stored messages, numbered `_seq` 1, 2, 3… without a
 * hole, and the pages a catch-up reads. One DynamoDB implementation serves the Lambdas (DynamoDB)
 * and the emulator (dynalite) through the same SDK calls. docs/history.md explains the choices;
 * runtime/store/history-table.ts holds the table's schema and item codec.
 */
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { HISTORY_TABLE, itemSeq, messageItem, retained, type HistoryEntry, type HistoryQuery, type StoredMessage } from "./history-table";
import { queryRoom } from "./history-query";

/** Conditional puts tried for one message before its sender gets `Unavailable` (each conflict means another message was stored). */
const MAX_ALLOCATION_ATTEMPTS = 50;
/** Rooms whose last number a container remembers (a hint: forgetting costs one more put). */
const MAX_REMEMBERED_ROOMS = 10_000;
/** Conflicts answered by trying the next number without a read, before reading the partition's end. */
const BLIND_RETRIES = 3;
/**
 * How long before a remembered item's expiry this container stops trusting it: a message's time
 * (its `expiresAt`) can trail its storing by a whole invocation (29 s), and clocks differ a little.
 */
const EXPIRY_MARGIN_SECONDS = 120;
/** A number known to be stored in a room, and until when (epoch seconds) that item surely exists. */
type Known = { seq: number; until: number };

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

const isConditionFailure = (err: unknown): boolean => err instanceof Error && err.name === "ConditionalCheckFailedException";

/** One container's history store: its per-room append queues and last numbers live on the instance. */
class DynamoHistoryStore implements HistoryStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  // Per container, created here (runtime/SERIALIZER.md, rule 2): one append at a time per room, so
  // that invocations sharing a container never race each other for a number, and each room's last
  // number, so that the next append starts past it even while the head lags.
  private readonly queues: Map<string, Promise<unknown>>;
  private readonly highWater: Map<string, Known>;

  constructor(doc: DynamoDBDocumentClient, options: DynamoHistoryOptions) {
    this.doc = doc;
    this.tableName = options.tableName;
    this.ttlSeconds = options.ttlSeconds;
    this.queues = new Map();
    this.highWater = new Map();
  }

  append(room: string, nowSeconds: number, build: (seq: number) => HistoryEntry | undefined): Promise<number | undefined> {
    const previous = this.queues.get(room) ?? Promise.resolve();
    const mine = previous.then(() => this.allocate(room, nowSeconds, build));
    const settled = mine.catch(() => undefined);
    this.queues.set(room, settled);
    void settled.then(() => {
      if (this.queues.get(room) === settled) this.queues.delete(room);
    });
    return mine;
  }

  async read(room: string, query: HistoryQuery): Promise<HistoryRead> {
    const { items, cut } = await queryRoom(this.doc, this.tableName, room, query);
    const { messages, skipped } = retained(items, query);
    if (query.since === undefined) return this.latestRead(room, messages);
    const more = messages.length > query.limit;
    if (more) messages.length = query.limit;
    const first = messages[0]?.seq;
    if (first !== undefined) return { messages, since: query.since, until: messages[messages.length - 1].seq, more, missed: first > query.since + 1 };
    // Only expired items within the pages read: the client goes on from the last of them.
    if (cut) return { messages, since: query.since, until: itemSeq(items[items.length - 1]), more: true, missed: true };
    // Nothing retained after `since`: missed if anything was ever numbered past it.
    const missed = skipped || (await this.readLatest(room)) > query.since;
    return { messages, since: query.since, until: query.since, more: false, missed };
  }

  // `messages` came newest first.
  private async latestRead(room: string, messages: StoredMessage[]): Promise<HistoryRead> {
    messages.reverse();
    const since = messages.length > 0 ? messages[0].seq - 1 : await this.readLatest(room);
    return { messages, since, until: messages.at(-1)?.seq ?? since, more: false, missed: false };
  }

  private async allocate(room: string, nowSeconds: number, build: (seq: number) => HistoryEntry | undefined): Promise<number | undefined> {
    let seq = (this.trusted(room, nowSeconds)?.seq ?? Math.max(await this.readLatest(room), this.highWater.get(room)?.seq ?? 0)) + 1;
    for (let attempt = 0; attempt < MAX_ALLOCATION_ATTEMPTS; attempt++) {
      const entry = build(seq);
      if (entry === undefined) return undefined;
      const expiresAt = nowSeconds + this.ttlSeconds;
      if (await this.putIfFree(room, seq, entry, expiresAt)) {
        this.remember(room, { seq, until: expiresAt });
        // Stored and numbered; a head left behind is raised by the next message.
        await this.raiseHead(room, seq).catch(() => undefined);
        return seq;
      }
      // Another sender holds it: after a jittered pause (so that the senders who lost together do
      // not collide again), the next number while what this container knows is sure to exist,
      // else the end of the partition.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 50)));
      const known = attempt < BLIND_RETRIES ? this.trusted(room, nowSeconds) : undefined;
      if (known === undefined) {
        seq = Math.max(seq, await this.readTop(room)) + 1;
      } else {
        // Taken, so stored after what was known, and there until that expires at least.
        this.remember(room, { seq, until: known.until });
        seq++;
      }
    }
    throw new HistoryContentionError(room);
  }

  /**
   * The room's largest number this container knows to be stored, while the item under it is sure
   * to exist (TTL never deletes an item before its expiry, nor any later-numbered one, stored
   * after it): then a put of the next number either is the next or finds it taken.
   */
  private trusted(room: string, nowSeconds: number): Known | undefined {
    const known = this.highWater.get(room);
    return known !== undefined && nowSeconds < known.until - EXPIRY_MARGIN_SECONDS ? known : undefined;
  }

  private remember(room: string, known: Known): void {
    if (this.highWater.size >= MAX_REMEMBERED_ROOMS && !this.highWater.has(room)) this.highWater.clear();
    const before = this.highWater.get(room);
    if (before === undefined || known.seq > before.seq) this.highWater.set(room, known);
  }

  // The head's number: the largest stored, unless a head was left behind (readTop finds the rest).
  private async readLatest(room: string): Promise<number> {
    const { hashKey, rangeKey, headSeq, latestAttribute } = HISTORY_TABLE;
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { [hashKey]: room, [rangeKey]: headSeq }, ConsistentRead: true }));
    const latest: unknown = Item?.[latestAttribute];
    return typeof latest === "number" ? latest : 0;
  }

  // The room's largest stored number, read at the partition's end: where a lost put goes on from.
  private async readTop(room: string): Promise<number> {
    const { hashKey, rangeKey, headSeq } = HISTORY_TABLE;
    const { Items = [] } = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "#room = :room AND #seq > :head",
        ExpressionAttributeNames: { "#room": hashKey, "#seq": rangeKey },
        ExpressionAttributeValues: { ":room": room, ":head": headSeq },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 1,
        ProjectionExpression: "#seq",
      }),
    );
    return Items.length > 0 ? itemSeq(Items[0]) : 0;
  }

  // A put that fails its condition found the number taken: the caller tries the next one.
  private async putIfFree(room: string, seq: number, entry: HistoryEntry, expiresAt: number): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: messageItem(room, seq, entry, expiresAt),
          ConditionExpression: "attribute_not_exists(#seq)",
          ExpressionAttributeNames: { "#seq": HISTORY_TABLE.rangeKey },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  // Never lowers the head: a slower sender of an earlier number finds it already past.
  private async raiseHead(room: string, seq: number): Promise<void> {
    const { hashKey, rangeKey, headSeq, latestAttribute } = HISTORY_TABLE;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [hashKey]: room, [rangeKey]: headSeq },
          UpdateExpression: "SET #latest = :seq",
          ConditionExpression: "attribute_not_exists(#latest) OR #latest < :seq",
          ExpressionAttributeNames: { "#latest": latestAttribute },
          ExpressionAttributeValues: { ":seq": seq },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}

export function createDynamoHistoryStore(doc: DynamoDBDocumentClient, options: DynamoHistoryOptions): HistoryStore {
  return new DynamoHistoryStore(doc, options);
}
