/**
 * ConnectionStore: the table of live connections and the room each one joined. One DynamoDB
 * implementation serves the Lambdas (DynamoDB) and the emulator (dynalite) through the same SDK calls.
 */
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_ROOM } from "../contract/rooms";

/**
 * The deployed table's schema; `local/services/dynalite-store.ts` creates dynalite's table from it too. The room
 * index lists a room's members by their `room` attribute, projecting only what fan-out reads
 * (the key attributes and the expiry), so a Query reads a few dozen bytes per member.
 */
const CONNECTION_TABLE = {
  hashKey: "connectionId",
  hashKeyType: "S",
  ttlAttribute: "expiresAt",
  roomAttribute: "room",
  roomIndex: {
    name: "room-index",
    keySchema: [
      { attributeName: "room", keyType: "HASH" },
      { attributeName: "connectionId", keyType: "RANGE" },
    ],
    projectionType: "INCLUDE",
    nonKeyAttributes: ["expiresAt"],
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
}

export interface ConnectionStore {
  put(record: ConnectionRecord): Promise<void>;
  /** Deletes the row; resolves to the room it was in, or undefined when there was no row. */
  remove(connectionId: string): Promise<string | undefined>;
  /** The room of a connection, read consistently from its row; undefined when it has no row. */
  roomOf(connectionId: string): Promise<string | undefined>;
  /**
   * Calls `onPage` with the ids of each Query page of `room`'s members whose `expiresAt` is after
   * `nowSeconds`, in order, awaiting each call before reading the next page, to the last page.
   */
  forEachRoomPage(room: string, nowSeconds: number, onPage: (ids: string[]) => Promise<void>): Promise<void>;
}

export interface DynamoStoreOptions {
  tableName: string;
  /** Items per Query page; unset lets DynamoDB fill 1 MB pages. Tests set it small to force paging. */
  pageLimit?: number;
}

export function createDynamoConnectionStore(doc: DynamoDBDocumentClient, options: DynamoStoreOptions): ConnectionStore {
  const { tableName, pageLimit } = options;
  const { hashKey, roomAttribute, ttlAttribute, roomIndex } = CONNECTION_TABLE;
  return {
    async put(record) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { ...record } }));
    },
    async remove(connectionId) {
      const { Attributes } = await doc.send(new DeleteCommand({ TableName: tableName, Key: { [hashKey]: connectionId }, ReturnValues: "ALL_OLD" }));
      return Attributes === undefined ? undefined : roomFromRow(Attributes);
    },
    async roomOf(connectionId) {
      // Strongly consistent: the row `$connect` wrote is visible to the very next message.
      const { Item } = await doc.send(
        new GetCommand({ TableName: tableName, Key: { [hashKey]: connectionId }, ConsistentRead: true, ProjectionExpression: "#room", ExpressionAttributeNames: { "#room": roomAttribute } }),
      );
      return Item === undefined ? undefined : roomFromRow(Item);
    },
    async forEachRoomPage(room, nowSeconds, onPage) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: roomIndex.name,
            KeyConditionExpression: "#room = :room",
            FilterExpression: "#expires > :now",
            ProjectionExpression: "#id",
            ExpressionAttributeNames: { "#room": roomAttribute, "#id": hashKey, "#expires": ttlAttribute },
            ExpressionAttributeValues: { ":room": room, ":now": nowSeconds },
            ExclusiveStartKey: startKey,
            Limit: pageLimit,
          }),
        );
        await onPage((page.Items ?? []).map((item) => String(item[hashKey])));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
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
function roomFromRow(row: Record<string, unknown>): string {
  const room = row[CONNECTION_TABLE.roomAttribute];
  return typeof room === "string" ? room : DEFAULT_ROOM;
}
