/**
 * The local DynamoDB: dynalite in-process (in memory, or LevelDB under a data directory) with the
 * connections table created from the deployed schema. dynalite cannot expire rows by TTL;
 * that is harmless because every room query already filters on `expiresAt`.
 */
import { mkdir } from "node:fs/promises";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { CONNECTION_TABLE } from "../../runtime/store/connection-store";
import { closeServer, listen } from "../net/http";

/** Region and dummy credentials for SDK clients that talk to the emulator's local endpoints. */
export const LOCAL_AWS = {
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
} as const;

export interface LocalDynamo {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  close(): Promise<void>;
}

/** Starts dynalite on a free loopback port; `dataDir` makes the tables survive restarts. */
export async function startDynamo(options: { dataDir?: string } = {}): Promise<LocalDynamo> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const server = dynalite({ path: options.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const port = await listen(server, 0, "127.0.0.1");
  // dynalite's close also closes its database, which a LevelDB directory needs before reuse.
  return { endpoint: `http://127.0.0.1:${port}`, close: () => closeServer(server, "all") };
}

/** Creates the connections table unless it exists (a reused data directory), then waits until it is ACTIVE. */
export async function ensureConnectionTable(endpoint: string, tableName: string): Promise<"created" | "existing"> {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  try {
    let outcome: "created" | "existing" = "created";
    try {
      const { roomIndex } = CONNECTION_TABLE;
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          AttributeDefinitions: [
            { AttributeName: CONNECTION_TABLE.hashKey, AttributeType: CONNECTION_TABLE.hashKeyType },
            { AttributeName: CONNECTION_TABLE.roomAttribute, AttributeType: "S" },
          ],
          KeySchema: [{ AttributeName: CONNECTION_TABLE.hashKey, KeyType: "HASH" }],
          GlobalSecondaryIndexes: [
            {
              IndexName: roomIndex.name,
              KeySchema: roomIndex.keySchema.map(({ attributeName, keyType }) => ({ AttributeName: attributeName, KeyType: keyType })),
              Projection: { ProjectionType: roomIndex.projectionType, NonKeyAttributes: [...roomIndex.nonKeyAttributes] },
            },
          ],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
    } catch (err) {
      if (!(err instanceof Error && err.name === "ResourceInUseException")) throw err;
      outcome = "existing";
    }
    // createTableMs is 0, so ACTIVE is one timer tick away; the loop only covers that tick.
    let table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    while (table?.TableStatus !== "ACTIVE") {
      await new Promise((resolve) => setTimeout(resolve, 5));
      table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    }
    if (!table.GlobalSecondaryIndexes?.some((index) => index.IndexName === CONNECTION_TABLE.roomIndex.name)) {
      throw new Error(`table ${tableName} has no ${CONNECTION_TABLE.roomIndex.name} index: its data directory predates rooms; delete the directory or use another`);
    }
    return outcome;
  } finally {
    client.destroy();
  }
}
