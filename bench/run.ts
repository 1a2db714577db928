/**
 * `npm run bench [-- --quick] [-- --record]`: fan-out against its bound and against the original
 * design, end to end against a bare `ws` server, and cold start of the serialized Lambdas, in one run.
 * Progress goes to stderr; stdout gets a table and, as its last line, every figure as JSON.
 * The figures, the RESULTS.md section and the chart go to bench/out/ (git-ignored); `--record`
 * also updates this mode's section of bench/RESULTS.md and its chart (bench/fanout.svg, or
 * fanout-quick.svg). See bench/README.md.
 */
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SETTINGS } from "../runtime/config/settings";
import { buildArchives, runColdStart } from "./cold-start/cold-bench";
import { runE2e } from "./e2e/e2e-bench";
import { runFanout } from "./fanout/fanout-bench";
import { textTable } from "./shared/report";
import { writeRunResults } from "./shared/results-files";
import { fanoutChartSvg, figuresJson, resultsSection, tableRows, type Mode, type Plan, type Results } from "./shared/summary";

const LATENCY_MS = 5;
const CONCURRENCY = SETTINGS.fanOutConcurrency.default;
// The largest N the full run is asked for; see largestFittingN for why it may not fit.
const FULL_N = 20_000;

function plan(mode: Mode): Plan {
  const common = { latencyMs: LATENCY_MS, concurrency: CONCURRENCY };
  if (mode === "quick") {
    return { mode, fanout: { ...common, points: [500, 1000, 2000], headline: [2000], repeats: 3 }, e2e: { clients: 50, messages: 20 } };
  }
  const top = largestFittingN(FULL_N);
  return {
    mode,
    fanout: { ...common, points: [1000, 2500, 5000, 10000, top], headline: [5000, top], repeats: 3 },
    unreachableN: top < FULL_N ? FULL_N : undefined,
    e2e: { clients: 100, messages: 100 },
  };
}

/**
 * The emulator holds the server end of every receiver's socket in this process, and a process
 * may hold only `ulimit -n` descriptors (20,000 here, hard). Keep 1,000 for the other sockets a
 * run needs here (the server ends of the handlers' keep-alive pools, about 230, and of the SDK
 * clients talking to dynalite, up to 50 each), then round down to a multiple of 500.
 */
function largestFittingN(wanted: number): number {
  const limit = Number(/Max open files\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? Infinity);
  const inUse = readdirSync("/proc/self/fd").length;
  return Math.min(wanted, Math.floor((limit - inUse - 1000) / 500) * 500);
}

async function main(): Promise<void> {
  const mode: Mode = process.argv.includes("--quick") ? "quick" : "full";
  const record = process.argv.includes("--record");
  const started = Date.now();
  const progress = (line: string) => void process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  const p = plan(mode);
  progress(`${mode} run on ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`);
  if (p.unreachableN) progress(`N=${p.unreachableN} does not fit in one process's descriptors; the largest N is ${p.fanout.headline.at(-1)}`);

  // Building the archives (figure 4) takes seconds of CPU in a child process: it runs while the
  // fan-out rig connects and warms up, which is not measured, and ends before anything is. Built as
  // `pulumi up` builds them (ts-node), so figure 4 is the code and the bytes it would upload.
  const archives = buildArchives(progress, { loader: "pulumi" });
  // Its failure is reported where it is awaited; this only keeps it from being unhandled before.
  archives.catch(() => undefined);
  const fanout = await runFanout({ ...p.fanout, progress, beside: archives });
  const e2e = await runE2e({ ...p.e2e, progress });
  const cold = await runColdStart(await archives, progress);

  const results: Results = { plan: p, fanout, e2e, cold, seconds: (Date.now() - started) / 1000 };
  const json = figuresJson(results);
  const written = writeRunResults(
    { mode, json, section: resultsSection(results, json), chartSvg: fanoutChartSvg(results) },
    { benchDir: __dirname, record },
  );
  progress(`wrote ${written.map((file) => path.relative(process.cwd(), file)).join(", ")}`);
  if (!record) progress("bench/RESULTS.md and the charts are unchanged; --record updates them");
  process.stdout.write(`${textTable(["figure", "setting", "result"], tableRows(results))}\n\n`);
  process.stdout.write(`${JSON.stringify(json)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
