/**
 * `npm run load`: 200 clients on one emulator, all-to-all bursts, every delivery checked off.
 * Prints lost/duplicated (both must be 0), p99 latency and the emulator's memory, and exits
 * non-zero when anything was lost or duplicated. `-- --clients N --burst B --rounds R` resizes it.
 *
 * `npm run load -- --soak SECONDS [--clients N --rate R --message-bytes B]`: steady traffic with
 * one never-reading client instead (bench/load/soak-run.ts), memory sampled each second; exits
 * non-zero when memory keeps growing or anything was lost or duplicated.
 */
import { parseArgs } from "node:util";
import { runLoad } from "./load-run";
import { runSoak } from "./soak-run";
import { checkInteger } from "../../runtime/config/checks";

const { values } = parseArgs({
  options: {
    clients: { type: "string" },
    burst: { type: "string" },
    rounds: { type: "string" },
    soak: { type: "string" },
    rate: { type: "string" },
    "message-bytes": { type: "string" },
  },
});
const mib = (value: number) => `${value.toFixed(1)} MiB`;

if (values.soak !== undefined) soak();
else burst();

function soak(): void {
  const seconds = checkInteger("--soak", values.soak, { min: 4, max: 86_400, default: 600, unit: "seconds" });
  const clients = checkInteger("--clients", values.clients, { min: 2, max: 1000, default: 8, unit: "clients, one of them never reading" });
  const rate = checkInteger("--rate", values.rate, { min: 1, max: 1000, default: 10, unit: "messages per second, all senders together" });
  const messageBytes = checkInteger("--message-bytes", values["message-bytes"], { min: 64, max: 32_000, default: 16_000, unit: "bytes per message" });
  void runSoak({ seconds, clients, rate, messageBytes, idleMs: 15_000, progress: (line) => console.error(line) }).then((result) => {
    console.log(`duration           ${result.seconds} s, ${clients - 1} readers + 1 never reading, ${rate} messages/s of ${messageBytes} bytes`);
    console.log(`deliveries         ${result.delivered} of ${result.expected} (${result.deliveredWhenSendingStopped} when sending stopped)`);
    console.log(`lost / duplicated  ${result.lost} / ${result.duplicated}`);
    console.log(`never-reading      ${result.cutOff} cut off by the outbound limit (each replaced)`);
    console.log(`memory (resident)  ${mib(result.startMiB)} at start, ${mib(result.peakMiB)} peak, ${mib(result.endMiB)} at end`);
    console.log(`second-half slope  ${result.secondHalfSlopeMiBPerMin.toFixed(2)} MiB/min`);
    console.log(result.failures.length === 0 ? "PASS" : `FAIL: ${result.failures.join("; ")}`);
    console.log(JSON.stringify(result));
    if (result.failures.length > 0) process.exitCode = 1;
  });
}

function burst(): void {
  const clients = checkInteger("--clients", values.clients, { min: 1, max: 5000, default: 200, unit: "clients" });
  const burst = checkInteger("--burst", values.burst, { min: 1, max: 100, default: 1, unit: "messages per client per round" });
  const rounds = checkInteger("--rounds", values.rounds, { min: 1, max: 100, default: 2, unit: "rounds" });
  void runLoad({ clients, burst, rounds, idleMs: 15_000, progress: (line) => console.error(line) }).then((result) => {
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
}
