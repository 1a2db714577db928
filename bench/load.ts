/**
 * `npm run load`: 200 clients on one emulator, all-to-all bursts, every delivery checked off.
 * Prints lost/duplicated (both must be 0), p99 latency and the emulator's memory, and exits
 * non-zero when anything was lost or duplicated. `-- --clients N --burst B --rounds R` resizes it.
 */
import { parseArgs } from "node:util";
import { runLoad } from "./load-run";
import { checkInteger, integerRange } from "../runtime/settings";

const { values } = parseArgs({
  options: { clients: { type: "string" }, burst: { type: "string" }, rounds: { type: "string" } },
});
const clients = checkInteger("--clients", values.clients, integerRange(1, 5000, 200, "clients"));
const burst = checkInteger("--burst", values.burst, integerRange(1, 100, 1, "messages per client per round"));
const rounds = checkInteger("--rounds", values.rounds, integerRange(1, 100, 2, "rounds"));

void runLoad({ clients, burst, rounds, idleMs: 15_000, progress: (line) => console.error(line) }).then((result) => {
  const mib = (value: number) => `${value.toFixed(1)} MiB`;
  console.log(`clients            ${result.clients}`);
  console.log(`messages sent      ${result.messages} (${burst} per client per round, ${rounds} rounds)`);
  console.log(`deliveries         ${result.delivered} of ${result.expected}`);
  console.log(`lost / duplicated  ${result.lost} / ${result.duplicated}`);
  console.log(`latency p50 / p99  ${result.p50Ms.toFixed(1)} / ${result.p99Ms.toFixed(1)} ms (max ${result.maxMs.toFixed(1)})`);
  console.log(`throughput         ${Math.round(result.deliveriesPerSecond)} deliveries/s`);
  console.log(`emulator memory    ${mib(result.rssStartMiB)} at start, ${mib(result.rssPeakMiB)} peak (resident)`);
  console.log(`left after close   ${result.openAfter} connections, ${result.rowsAfter} rows`);
  console.log(JSON.stringify(result));
  if (result.lost > 0 || result.duplicated > 0 || result.openAfter > 0 || result.rowsAfter > 0) process.exitCode = 1;
});
