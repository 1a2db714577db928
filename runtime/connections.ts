/**
 * ConnectionStore: the table of live connection ids. One DynamoDB implementation serves the
 * Lambdas (DynamoDB) and the emulator (dynalite) through the same SDK calls.
 */
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";

/** The deployed table's schema; `local/store.ts` creates dynalite's table from it too. */
const CONNECTION_TABLE = {
  hashKey: "connectionId",
  hashKeyType: "S",
  ttlAttribute: "expiresAt",
} as const;
// Not `export const`: tsc would compile this module's own reads to `exports.X`, which
// Pulumi's closure serializer leaves dangling in the Lambda code.
export { CONNECTION_TABLE };

export interface ConnectionRecord {
  connectionId: string;
  /** Epoch ms, from the `$connect` event. */
  connectedAt: number;
  /** Epoch seconds; DynamoDB TTL removes the row after this, and scans skip it. */
  expiresAt: number;
}

export interface ConnectionStore {
  put(record: ConnectionRecord): Promise<void>;
  remove(connectionId: string): Promise<void>;
  /** Every connection id whose `expiresAt` is after `nowSeconds`, across all scan pages. */
  listLive(nowSeconds: number): Promise<string[]>;
}

export interface DynamoStoreOptions {
  tableName: string;
  /** Items per Scan page; unset lets DynamoDB fill 1 MB pages. Tests set it small to force paging. */
  pageLimit?: number;
}

export function createDynamoConnectionStore(doc: DynamoDBDocumentClient, options: DynamoStoreOptions): ConnectionStore {
  const { tableName, pageLimit } = options;
  return {
    async put(record) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { ...record } }));
    },
    async remove(connectionId) {
      await doc.send(new DeleteCommand({ TableName: tableName, Key: { [CONNECTION_TABLE.hashKey]: connectionId } }));
    },
    async listLive(nowSeconds) {
      const ids: string[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new ScanCommand({
            TableName: tableName,
            ProjectionExpression: "#id",
            FilterExpression: "#expires > :now",
            ExpressionAttributeNames: { "#id": CONNECTION_TABLE.hashKey, "#expires": CONNECTION_TABLE.ttlAttribute },
            ExpressionAttributeValues: { ":now": nowSeconds },
            ExclusiveStartKey: startKey,
            Limit: pageLimit,
          }),
        );
        for (const item of page.Items ?? []) ids.push(String(item[CONNECTION_TABLE.hashKey]));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return ids;
    },
  };
}
