/**
 * `npm run bench:rooms [-- --quick] [-- --record]`: what rooms change in the cost of one message.
 * One message in a room of 10 while 5,000 other connections sit in 500 other rooms, against one
 * message to a default room of 5,010, and against the Scan every message cost before rooms.
 * Each figure: the read units DynamoDB charges (ConsumedCapacity) and the time, through the real
 * SDK against dynalite (bench/rooms/rooms-measure.ts). Receivers are virtual (see RESULTS.md
 * "Rooms"); `--record` rewrites this figure's section of bench/RESULTS.md.
 */
import os from "node:os";
import path from "node:path";
import { DEFAULT_ROOM } from "../../runtime/contract/rooms";
import { startDynamo } from "../../local/services/dynalite-store";
import { recordSection, textTable } from "../shared/report";
import { OTHER_ROOMS, POST_LATENCY_MS, ROOM_SIZE, TOTAL, measureRoom, rowsOf, type Figure } from "./rooms-measure";

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
    recordSection(path.join(__dirname, "..", "RESULTS.md"), {
      title: "Rooms",
      mode: "rooms",
      ran: `\`npm run bench:rooms${quick ? " -- --quick" : ""} -- --record\` on ${when}: ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}; medians of ${repeats}.`,
      header,
      rows,
      json,
    });
  }
  process.stdout.write(`${textTable(header, rows)}\n\n${JSON.stringify(json)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
