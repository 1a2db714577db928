/**
 * ConnectionStore: the table of live connections and the room each one joined. One DynamoDB
 * implementation serves the Lambdas (DynamoDB) and the emulator (dynalite) through the same SDK calls.
 */
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_ROOM } from "../contract/rooms";

/**
 * The deployed table's schema; `local/services/dynalite-store.ts` creates dynalite's table from it too. The room
 * index lists a room's members by their `room` attribute, projecting only what fan-out, presence
 * and member lists read (the keys, the expiry, the user and its meta), so a Query reads a few
 * dozen bytes per anonymous member and at most about 700 per identified one.
 */
const CONNECTION_TABLE = {
  hashKey: "connectionId",
  hashKeyType: "S",
  ttlAttribute: "expiresAt",
  /** Epoch ms of the `$connect` (ConnectionRecord's `connectedAt`). */
  connectedAtAttribute: "connectedAt",
  roomAttribute: "room",
  userAttribute: "user",
  metaAttribute: "meta",
  publishAttribute: "publish",
  roomIndex: {
    name: "room-index",
    keySchema: [
      { attributeName: "room", keyType: "HASH" },
      { attributeName: "connectionId", keyType: "RANGE" },
    ],
    projectionType: "INCLUDE",
    nonKeyAttributes: ["expiresAt", "user", "meta"],
  },
} as const;
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { CONNECTION_TABLE };

export interface ConnectionRecord {
  connectionId: string;
  /** Epoch ms, from the `$connect` event. */
  connectedAt: number;
  /** Epoch seconds; DynamoDB TTL removes the row after this, and room queries skip it. */
  expiresAt: number;
  /** The room joined at `$connect` (runtime/contract/rooms.ts), DEFAULT_ROOM without `?room=`. */
  room: string;
  /** The token's user (`sub`); absent for an anonymous connection. */
  user?: string;
  /** The token's `meta`, serialized JSON (at most 512 bytes). */
  meta?: string;
  /** Written only as false: a read-only connection (the token's `"publish":false`). */
  publish?: false;
}

/** What a connection's row says about it: its room, and who it is when it presented a token. */
export interface Membership {
  room: string;
  user?: string;
  meta?: string;
  /** False for a read-only connection. */
  publish: boolean;
}

/** One live member of a room as the room index lists it. */
export interface RoomMember {
  connectionId: string;
  user?: string;
  meta?: string;
}

export interface ConnectionStore {
  put(record: ConnectionRecord): Promise<void>;
  /** Deletes the row; resolves to what it said, or undefined when there was no row. */
  /**
   * Deletes the row and returns what it held; with `connectedBefore` (epoch ms) only a row of a
   * connection that connected earlier (otherwise: undefined, nothing deleted).
   */
  remove(connectionId: string, connectedBefore?: number): Promise<Membership | undefined>;
  /** A connection's room and identity, read consistently from its row; undefined when it has no row. */
  membershipOf(connectionId: string): Promise<Membership | undefined>;
  /**
   * Calls `onPage` with the ids of each Query page of `room`'s members whose `expiresAt` is after
   * `nowSeconds`, in order, awaiting each call before reading the next page, to the last page.
   */
  forEachRoomPage(room: string, nowSeconds: number, onPage: (ids: string[]) => Promise<void>): Promise<void>;
  /** Every live member of `room` with its user and meta, across all pages. */
  listMembers(room: string, nowSeconds: number): Promise<RoomMember[]>;
}

export interface DynamoStoreOptions {
  tableName: string;
  /** Items per Query page; unset lets DynamoDB fill 1 MB pages. Tests set it small to force paging. */
  pageLimit?: number;
}

export function createDynamoConnectionStore(doc: DynamoDBDocumentClient, options: DynamoStoreOptions): ConnectionStore {
  const { tableName, pageLimit } = options;
  const { hashKey, roomAttribute, ttlAttribute, userAttribute, metaAttribute, publishAttribute, connectedAtAttribute, roomIndex } = CONNECTION_TABLE;
  const roomQuery = (room: string, nowSeconds: number, projection: Record<string, string>, startKey: Record<string, unknown> | undefined) =>
    new QueryCommand({
      TableName: tableName,
      IndexName: roomIndex.name,
      KeyConditionExpression: "#room = :room",
      FilterExpression: "#expires > :now",
      ProjectionExpression: Object.keys(projection).join(", "),
      ExpressionAttributeNames: { "#room": roomAttribute, "#expires": ttlAttribute, ...projection },
      ExpressionAttributeValues: { ":room": room, ":now": nowSeconds },
      ExclusiveStartKey: startKey,
      Limit: pageLimit,
    });
  return {
    async put(record) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { ...record } }));
    },
    async remove(connectionId, connectedBefore) {
      const condition =
        connectedBefore === undefined
          ? {}
          : { ConditionExpression: "#connectedAt < :before", ExpressionAttributeNames: { "#connectedAt": connectedAtAttribute }, ExpressionAttributeValues: { ":before": connectedBefore } };
      try {
        const { Attributes } = await doc.send(new DeleteCommand({ TableName: tableName, Key: { [hashKey]: connectionId }, ReturnValues: "ALL_OLD", ...condition }));
        return Attributes === undefined ? undefined : membershipFromRow(Attributes);
      } catch (err) {
        if (connectedBefore !== undefined && err instanceof Error && err.name === "ConditionalCheckFailedException") return undefined;
        throw err;
      }
    },
    async membershipOf(connectionId) {
      // Strongly consistent: the row `$connect` wrote is visible to the very next message.
      const names = { "#room": roomAttribute, "#user": userAttribute, "#meta": metaAttribute, "#publish": publishAttribute };
      const { Item } = await doc.send(
        new GetCommand({ TableName: tableName, Key: { [hashKey]: connectionId }, ConsistentRead: true, ProjectionExpression: Object.keys(names).join(", "), ExpressionAttributeNames: names }),
      );
      return Item === undefined ? undefined : membershipFromRow(Item);
    },
    async forEachRoomPage(room, nowSeconds, onPage) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(roomQuery(room, nowSeconds, { "#id": hashKey }, startKey));
        await onPage((page.Items ?? []).map((item) => String(item[hashKey])));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    },
    async listMembers(room, nowSeconds) {
      const members: RoomMember[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(roomQuery(room, nowSeconds, { "#id": hashKey, "#user": userAttribute, "#meta": metaAttribute }, startKey));
        for (const item of page.Items ?? []) members.push(memberFromItem(item));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return members;
    },
  };
}

/** Every id of `room`'s live members, across all pages. */
export async function listRoom(store: ConnectionStore, room: string, nowSeconds: number): Promise<string[]> {
  const ids: string[] = [];
  await store.forEachRoomPage(room, nowSeconds, (page) => {
    ids.push(...page);
    return Promise.resolve();
  });
  return ids;
}

// A row written before rooms existed has no `room`: it was in the one room there was.
function membershipFromRow(row: Record<string, unknown>): Membership {
  const room = row[CONNECTION_TABLE.roomAttribute];
  return { room: typeof room === "string" ? room : DEFAULT_ROOM, ...identityOf(row), publish: row[CONNECTION_TABLE.publishAttribute] !== false };
}

function memberFromItem(item: Record<string, unknown>): RoomMember {
  return { connectionId: String(item[CONNECTION_TABLE.hashKey]), ...identityOf(item) };
}

function identityOf(row: Record<string, unknown>): { user?: string; meta?: string } {
  const user = row[CONNECTION_TABLE.userAttribute];
  const meta = row[CONNECTION_TABLE.metaAttribute];
  return { ...(typeof user === "string" ? { user } : {}), ...(typeof meta === "string" ? { meta } : {}) };
}
