import test from "ava";
import { runLoad } from "../../bench/load/load-run";
import { runSoak } from "../../bench/load/soak-run";
import { eachMode } from "../helpers/modes";

// The short version of `npm run load`: 100 clients each send one message at the same moment.
// One mode after the other: the memory figure is the whole process's.
eachMode(test.serial, "load: 100 clients bursting all-to-all, every delivery exactly once, nothing left behind", async (t, mode) => {
  t.timeout(120_000);
  const result = await runLoad({ clients: 100, burst: 1, rounds: 1, idleMs: 15_000, fanout: mode, progress: (line) => t.log(line) });
  t.log(`p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, ${Math.round(result.deliveriesPerSecond)} deliveries/s`);
  t.log(`emulator memory ${result.rssStartMiB.toFixed(1)} MiB at start, ${result.rssPeakMiB.toFixed(1)} MiB peak (resident)`);
  t.is(result.expected, 100 * 100);
  t.is(result.delivered, result.expected);
  t.is(result.lost, 0);
  t.is(result.duplicated, 0);
  t.is(result.openAfter, 0);
  t.is(result.rowsAfter, 0);
  // A leak guard, not a timing figure: 10,000 deliveries must not hold on to hundreds of MiB.
  const grown = result.rssPeakMiB - result.rssStartMiB;
  t.true(grown < 384, `resident memory grew by ${grown.toFixed(1)} MiB`);
});

// The short version of `npm run load -- --soak`: steady traffic with a never-reading client among
// the readers. Too short for the growth criterion (warm-up is still going on), so it guards
// against the unbounded case instead, as the burst run does.
eachMode(test.serial, "soak: 15 s of steady traffic with one never-reading client, every reader gets every message once", async (t, mode) => {
  t.timeout(120_000);
  const result = await runSoak({ seconds: 15, clients: 4, rate: 20, messageBytes: 8000, idleMs: 15_000, fanout: mode, progress: (line) => t.log(line) });
  t.log(`memory ${result.startMiB.toFixed(1)} MiB at start, ${result.peakMiB.toFixed(1)} peak, ${result.endMiB.toFixed(1)} at end; ${result.cutOff} cut off`);
  t.is(result.expected, 15 * 20 * 3);
  t.is(result.delivered, result.expected);
  t.is(result.lost, 0);
  t.is(result.duplicated, 0);
  const grown = result.peakMiB - result.startMiB;
  t.true(grown < 384, `resident memory grew by ${grown.toFixed(1)} MiB`);
});
