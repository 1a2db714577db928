/**
 * The original design's `$default` handler, kept only to measure against: it reads the first
 * Scan page (no LastEvaluatedKey loop), posts to every row at once (one unbounded Promise.all),
 * and deletes the row on ANY post error, throttling included. Same SDK clients, default settings.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { CONNECTION_TABLE } from "../../runtime/store/connection-store";
import type { RouteHandler } from "../../runtime/contract/websocket-event";
import { transformMessage } from "../../runtime/contract/message";
import { SETTINGS } from "../../runtime/config/settings";

export interface BaselineOptions {
  tableName: string;
  dynamoEndpoint: string;
  managementEndpoint: string;
  /** Rows in the one Scan page it reads (DynamoDB's own cut is 1 MB of items). */
  pageLimit?: number;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** What one invocation did, for the bench (the original logged nothing). */
export interface BaselineLog {
  /** Failed posts by error name; each one deleted its row. */
  failures: Record<string, number>;
}

export function makeBaselineHandler(options: BaselineOptions, log: (entry: BaselineLog) => void): RouteHandler {
  const { region, credentials } = options;
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region, credentials, endpoint: options.dynamoEndpoint }));
  const api = new ApiGatewayManagementApiClient({ region, credentials, endpoint: options.managementEndpoint });
  return async (event) => {
    const { connectionId: sender, requestTimeEpoch } = event.requestContext;
    const transformed = transformMessage(event.body ?? "", { now: requestTimeEpoch }, SETTINGS.maxMessageBytes.default);
    if (!transformed.ok) return { statusCode: 400, body: transformed.frame };
    const page = await doc.send(new ScanCommand({ TableName: options.tableName, Limit: options.pageLimit }));
    const failures: Record<string, number> = {};
    const posts = (page.Items ?? []).map(async (item) => {
      const connectionId = String(item[CONNECTION_TABLE.hashKey]);
      const data = connectionId === sender ? transformed.outgoing.sender : transformed.outgoing.others;
      try {
        await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(data) }));
      } catch (err) {
        const name = err instanceof Error ? err.name : "Unknown";
        failures[name] = (failures[name] ?? 0) + 1;
        await doc.send(new DeleteCommand({ TableName: options.tableName, Key: { [CONNECTION_TABLE.hashKey]: connectionId } }));
      }
    });
    await Promise.all(posts);
    log({ failures });
    return { statusCode: 200 };
  };
}
