/**
 * The measurements of bench/rooms/rooms-bench.ts: one room planted in DynamoDB (dynalite, through
 * the real SDK), then `$default` as runtime/host/lambda.ts builds it, with a connection store whose
 * document client asks for ConsumedCapacity on every call, and with virtual receivers (a poster
 * that answers every post after POST_LATENCY_MS).
 */
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { CONNECTION_TABLE, createDynamoConnectionStore, listRoom, type ConnectionRecord, type ConnectionStore } from "../../runtime/store/connection-store";
import type { InvocationLog } from "../../runtime/routes/deps";
import { SETTINGS } from "../../runtime/config/settings";
import type { Poster } from "../../runtime/delivery/poster";
import { createHandlers } from "../../runtime/host/lambda";
import { readRuntimeConfig, toEnvironment } from "../../runtime/config/environment";
import { messageEvent } from "../../local/gateway/event-builders";
import { LOCAL_AWS, ensureConnectionTable } from "../../local/services/dynalite-store";
import { meteredClient } from "../shared/metered-dynamo";

export const ROOM_SIZE = 10;
export const OTHER_ROOMS = 500;
export const TOTAL = ROOM_SIZE + OTHER_ROOMS * ROOM_SIZE;
/** Each virtual post answers after this long, as the management API does in figure 1. */
export const POST_LATENCY_MS = 5;

/** Stands in for the management API: every post is delivered after POST_LATENCY_MS. */
function virtualPoster(): Poster & { posts: number } {
  const poster = {
    posts: 0,
    async post() {
      await new Promise((resolve) => setTimeout(resolve, POST_LATENCY_MS));
      poster.posts++;
      return { outcome: "delivered" as const };
    },
  };
  return poster;
}

async function plant(doc: DynamoDBDocumentClient, tableName: string, rows: ConnectionRecord[]): Promise<void> {
  // BatchWriteItem takes 25 rows; dynalite processes every one, so nothing is left unprocessed.
  for (let at = 0; at < rows.length; at += 25) {
    const batch = rows.slice(at, at + 25).map((Item) => ({ PutRequest: { Item } }));
    await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: batch } }));
  }
}

export function rowsOf(rooms: Array<{ room: string; size: number }>): ConnectionRecord[] {
  const expiresAt = Math.floor(Date.now() / 1000) + SETTINGS.connectionTtlSeconds.default;
  // Ids as long as AWS's (16 characters), so item sizes are those of a real table.
  let n = 0;
  return rooms.flatMap(({ room, size }) =>
    Array.from({ length: size }, () => ({ connectionId: `conn${String(n++).padStart(11, "0")}=`, connectedAt: Date.now(), expiresAt, room })),
  );
}

async function median(repeats: number, run: () => Promise<number>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(await run());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

export interface Figure {
  scenario: string;
  listing: string;
  readUnits: number;
  calls: Record<string, number>;
  listingMs: number;
  /** The whole `$default` invocation (sender lookup, listing, posts); absent for the Scan row. */
  messageMs?: number;
  posts: number;
}

/** The old listing (before rooms): a Scan of the whole table, filtered on the expiry, to the last page. */
async function scanAll(doc: DynamoDBDocumentClient, tableName: string): Promise<number> {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        ProjectionExpression: "#id",
        FilterExpression: "#expires > :now",
        ExpressionAttributeNames: { "#id": CONNECTION_TABLE.hashKey, "#expires": CONNECTION_TABLE.ttlAttribute },
        ExpressionAttributeValues: { ":now": Math.floor(Date.now() / 1000) },
        ExclusiveStartKey: startKey,
      }),
    );
    count += page.Items?.length ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}

export async function measureRoom(
  progress: (line: string) => void,
  setup: { endpoint: string; tableName: string; rows: ConnectionRecord[]; room: string; scenario: string; repeats: number },
): Promise<Figure[]> {
  const { doc, meter, destroy } = meteredClient(setup.endpoint);
  try {
    await ensureConnectionTable(setup.endpoint, setup.tableName);
    await plant(doc, setup.tableName, setup.rows);
    const store: ConnectionStore = createDynamoConnectionStore(doc, { tableName: setup.tableName });
    const sender = setup.rows.find((row) => row.room === setup.room)?.connectionId ?? "";
    const poster = virtualPoster();
    const logs: InvocationLog[] = [];
    const config = readRuntimeConfig({ ...toEnvironment({ tableName: setup.tableName, managementEndpoint: "http://virtual.invalid/dev" }), AWS_REGION: LOCAL_AWS.region });
    const handler = createHandlers(config, { store, posterFor: () => poster, credentials: LOCAL_AWS.credentials, log: (entry) => logs.push(entry) }).message;
    const context = { connectionId: sender, connectedAt: Date.now(), domainName: "virtual.invalid", stage: "dev", apiId: "bench", identity: { sourceIp: "127.0.0.1" } };
    const send = () => handler(messageEvent(context, '{"text":"hello room"}', Date.now()));

    // Warm-up: compiles the SDK paths once; then each figure's units come from one more call.
    await send();
    meter.take();
    poster.posts = 0;
    await send();
    const message = meter.take();
    const posts = poster.posts;
    const members = await listRoom(store, setup.room, Math.floor(Date.now() / 1000));
    const query = meter.take();
    await store.membershipOf(sender);
    const lookup = meter.take();
    await scanAll(doc, setup.tableName);
    const scan = meter.take();
    if (posts !== members.length) throw new Error(`posted ${posts} copies to a room of ${members.length}`);

    const messageMs = await median(setup.repeats, () => timed(send));
    const queryMs = await median(setup.repeats, () => timed(() => listRoom(store, setup.room, Math.floor(Date.now() / 1000))));
    const lookupMs = await median(setup.repeats, () => timed(() => store.membershipOf(sender)));
    const scanMs = await median(setup.repeats, () => timed(() => scanAll(doc, setup.tableName)));
    progress(`${setup.scenario}: message ${messageMs.toFixed(1)} ms, ${message.units} read units`);
    return [
      { scenario: setup.scenario, listing: `GetItem (sender's room) + Query of ${members.length}`, readUnits: message.units, calls: message.calls, listingMs: lookupMs + queryMs, messageMs, posts },
      { scenario: "  of which the sender's row", listing: "GetItem, strongly consistent", readUnits: lookup.units, calls: lookup.calls, listingMs: lookupMs, posts: 0 },
      { scenario: "  of which the room", listing: `Query room-index (${members.length} of ${setup.rows.length} rows)`, readUnits: query.units, calls: query.calls, listingMs: queryMs, posts: 0 },
      { scenario: `  before rooms: the same message`, listing: `Scan of all ${setup.rows.length} rows`, readUnits: scan.units, calls: scan.calls, listingMs: scanMs, posts: setup.rows.length },
    ];
  } finally {
    destroy();
  }
}
