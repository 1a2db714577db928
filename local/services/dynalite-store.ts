/**
 * The local DynamoDB: dynalite in-process (in memory, or LevelDB under a data directory) with the
 * connections table (and, history on, the history table) created from the deployed schemas.
 * dynalite cannot expire rows by TTL; that is harmless because every read already skips expired
 * items, as it must on DynamoDB, whose TTL deletes lazily.
 */
import { mkdir } from "node:fs/promises";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, type CreateTableCommandInput, type TableDescription } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { CONNECTION_TABLE } from "../../runtime/store/connection-store";
import { HISTORY_TABLE } from "../../runtime/store/history-table";
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
  const { roomIndex } = CONNECTION_TABLE;
  return ensureTable(
    endpoint,
    {
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
    },
    (table) => {
      if (!table.GlobalSecondaryIndexes?.some((index) => index.IndexName === roomIndex.name)) {
        throw new Error(`table ${tableName} has no ${roomIndex.name} index: its data directory predates rooms; delete the directory or use another`);
      }
    },
  );
}

/** History on: creates the history table (runtime/store/history-table.ts's schema) unless it exists. */
export async function ensureHistoryTable(endpoint: string, tableName: string): Promise<"created" | "existing"> {
  return ensureTable(endpoint, {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: HISTORY_TABLE.hashKey, AttributeType: HISTORY_TABLE.hashKeyType },
      { AttributeName: HISTORY_TABLE.rangeKey, AttributeType: HISTORY_TABLE.rangeKeyType },
    ],
    KeySchema: [
      { AttributeName: HISTORY_TABLE.hashKey, KeyType: "HASH" },
      { AttributeName: HISTORY_TABLE.rangeKey, KeyType: "RANGE" },
    ],
    BillingMode: "PAY_PER_REQUEST",
  });
}

async function ensureTable(endpoint: string, input: CreateTableCommandInput, check: (table: TableDescription) => void = () => undefined): Promise<"created" | "existing"> {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  try {
    let outcome: "created" | "existing" = "created";
    try {
      await client.send(new CreateTableCommand(input));
    } catch (err) {
      if (!(err instanceof Error && err.name === "ResourceInUseException")) throw err;
      outcome = "existing";
    }
    // createTableMs is 0, so ACTIVE is one timer tick away; the loop only covers that tick.
    let table = (await client.send(new DescribeTableCommand({ TableName: input.TableName }))).Table;
    while (table?.TableStatus !== "ACTIVE") {
      await new Promise((resolve) => setTimeout(resolve, 5));
      table = (await client.send(new DescribeTableCommand({ TableName: input.TableName }))).Table;
    }
    check(table);
    return outcome;
  } finally {
    client.destroy();
  }
}
