/**
 * `npm run bench:rooms [-- --quick] [-- --record]`: what rooms change in the cost of one message.
 * One message in a room of 10 while 5,000 other connections sit in 500 other rooms, against one
 * message to a default room of 5,010, and against the Scan every message cost before rooms.
 * Each figure: the read units DynamoDB charges (ConsumedCapacity) and the time, through the real
 * SDK against dynalite. Receivers are virtual (see RESULTS.md "Rooms"); `--record` rewrites this
 * figure's section of bench/RESULTS.md.
 */
import os from "node:os";
import path from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { CONNECTION_TABLE, createDynamoConnectionStore, listRoom, type ConnectionRecord, type ConnectionStore } from "../runtime/store/connection-store";
import type { InvocationLog } from "../runtime/routes/deps";
import { makeMessageHandler } from "../runtime/routes/handlers";
import { RANGES } from "../runtime/config/checks";
import type { Poster } from "../runtime/delivery/poster";
import { DEFAULT_ROOM } from "../runtime/contract/rooms";
import { messageEvent } from "../local/gateway/event-builders";
import { LOCAL_AWS, ensureConnectionTable, startDynamo } from "../local/services/dynalite-store";
import { markdownTable, textTable, updateResultsFile } from "./report";

const ROOM_SIZE = 10;
const OTHER_ROOMS = 500;
const TOTAL = ROOM_SIZE + OTHER_ROOMS * ROOM_SIZE;
/** Each virtual post answers after this long, as the management API does in figure 1. */
const POST_LATENCY_MS = 5;

interface Meter {
  /** Read units charged since the last `take`, and the calls that charged them. */
  take(): { units: number; calls: Record<string, number> };
}

/** A document client that asks DynamoDB for ConsumedCapacity on every call and sums it. */
function meteredClient(endpoint: string): { doc: DynamoDBDocumentClient; meter: Meter; destroy: () => void } {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  const doc = DynamoDBDocumentClient.from(client);
  let units = 0;
  let calls: Record<string, number> = {};
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      (args.input as Record<string, unknown>).ReturnConsumedCapacity = "TOTAL";
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
      units += consumed?.CapacityUnits ?? 0;
      const command = context.commandName ?? "unknown";
      calls[command] = (calls[command] ?? 0) + 1;
      return result;
    },
    { step: "initialize", name: "meterReadUnits" },
  );
  return {
    doc,
    meter: {
      take() {
        const taken = { units, calls };
        units = 0;
        calls = {};
        return taken;
      },
    },
    destroy: () => client.destroy(),
  };
}

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

function rowsOf(rooms: Array<{ room: string; size: number }>): ConnectionRecord[] {
  const expiresAt = Math.floor(Date.now() / 1000) + RANGES.connectionTtlSeconds.default;
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

interface Figure {
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

async function measureRoom(
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
    const handler = makeMessageHandler({
      store,
      posterFor: () => poster,
      managementEndpoint: "http://virtual.invalid/dev",
      limits: { maxMessageBytes: RANGES.maxMessageBytes.default, fanOutConcurrency: RANGES.fanOutConcurrency.default, connectionTtlSeconds: RANGES.connectionTtlSeconds.default },
      access: { allowedOrigins: [] },
      now: Date.now,
      log: (entry) => logs.push(entry),
    });
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
    await store.roomOf(sender);
    const lookup = meter.take();
    await scanAll(doc, setup.tableName);
    const scan = meter.take();
    if (posts !== members.length) throw new Error(`posted ${posts} copies to a room of ${members.length}`);

    const messageMs = await median(setup.repeats, () => timed(send));
    const queryMs = await median(setup.repeats, () => timed(() => listRoom(store, setup.room, Math.floor(Date.now() / 1000))));
    const lookupMs = await median(setup.repeats, () => timed(() => store.roomOf(sender)));
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

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const record = process.argv.includes("--record");
  const repeats = quick ? 3 : 9;
  const started = Date.now();
  const progress = (line: string) => void process.stderr.write(`[bench:rooms ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  progress(`${quick ? "quick" : "full"} run on ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`);
  const dynamo = await startDynamo();
  let figures: Figure[];
  try {
    const others = Array.from({ length: OTHER_ROOMS }, (_, i) => ({ room: `other-${i}`, size: ROOM_SIZE }));
    figures = [
      ...(await measureRoom(progress, {
        endpoint: dynamo.endpoint,
        tableName: "rooms",
        rows: rowsOf([{ room: "match-1", size: ROOM_SIZE }, ...others]),
        room: "match-1",
        scenario: `room of ${ROOM_SIZE}, ${TOTAL - ROOM_SIZE} others in ${OTHER_ROOMS} rooms`,
        repeats,
      })),
      ...(await measureRoom(progress, {
        endpoint: dynamo.endpoint,
        tableName: "default-room",
        rows: rowsOf([{ room: DEFAULT_ROOM, size: TOTAL }]),
        room: DEFAULT_ROOM,
        scenario: `default room of ${TOTAL}`,
        repeats,
      })),
    ];
  } finally {
    await dynamo.close();
  }

  const header = ["scenario", "listing", "read units", "listing ms", "message ms", "posts"];
  const rows = figures.map((f) => [f.scenario, f.listing, String(f.readUnits), f.listingMs.toFixed(1), f.messageMs === undefined ? "" : f.messageMs.toFixed(1), String(f.posts)]);
  const json = {
    figure: "rooms",
    mode: quick ? "quick" : "full",
    cores: os.cpus().length,
    repeats,
    post_latency_ms: POST_LATENCY_MS,
    figures: figures.map((f) => ({ scenario: f.scenario.trim(), listing: f.listing, read_units: f.readUnits, calls: f.calls, listing_ms: Number(f.listingMs.toFixed(2)), message_ms: f.messageMs === undefined ? null : Number(f.messageMs.toFixed(2)), posts: f.posts })),
  };
  if (record) {
    const when = new Date().toISOString().slice(0, 10);
    const section = [
      "## Rooms",
      "",
      `\`npm run bench:rooms${quick ? " -- --quick" : ""} -- --record\` on ${when}: ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}; medians of ${repeats}.`,
      "",
      markdownTable(header, rows),
      "",
      "```json",
      JSON.stringify(json),
      "```",
    ].join("\n");
    updateResultsFile(path.join(__dirname, "RESULTS.md"), "rooms", section);
  }
  process.stdout.write(`${textTable(header, rows)}\n\n${JSON.stringify(json)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
