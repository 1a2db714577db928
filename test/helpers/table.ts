/** Direct access to the connections table, to plant rows and to see which ones are left. */
import type { ExecutionContext } from "ava";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { ConnectionRecord } from "../../runtime/store/connection-store";
import { LOCAL_AWS } from "../../local/services/dynalite-store";

export interface Table {
  put(record: ConnectionRecord): Promise<void>;
  get(connectionId: string): Promise<Record<string, unknown> | undefined>;
  /** Deletes a row behind the handlers' back, as an operator or a bug might. */
  delete(connectionId: string): Promise<void>;
  /** Every connection id in the table, sorted. */
  ids(): Promise<string[]>;
}

export function openTable(t: ExecutionContext, endpoint: string, tableName: string): Table {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  t.teardown(() => client.destroy());
  const doc = DynamoDBDocumentClient.from(client);
  return {
    async put(record) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { ...record } }));
    },
    async get(connectionId) {
      return (await doc.send(new GetCommand({ TableName: tableName, Key: { connectionId } }))).Item;
    },
    async delete(connectionId) {
      await doc.send(new DeleteCommand({ TableName: tableName, Key: { connectionId } }));
    },
    async ids() {
      const { Items = [] } = await doc.send(new ScanCommand({ TableName: tableName }));
      return Items.map((item) => String(item.connectionId)).sort();
    },
  };
}
