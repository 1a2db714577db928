/**
 * `npm run bench:cold [-- --before DIR] [-- --rounds R] [-- --record]`: figure 4 alone, the cold
 * start of every serialized function as `pulumi up` would upload it (the program compiled by
 * ts-node), R times each (default 7), medians. With `--before`, the
 * same for another checkout of this project (its own Pulumi program, serialized under its own
 * mocks), run alternately with this one against one emulator, so that the ratio compares two
 * codes on one machine at one time. Results go to bench/out/cold.{json,md}; `--record` also
 * rewrites the "cold" section of bench/RESULTS.md. See bench/README.md.
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { buildArchives, coldStartNode, startColdRig, type ColdStart } from "./cold-bench";
import { markdownTable, textTable } from "../shared/report";
import { writeRunResults } from "../shared/results-files";
import type { ProgramReport } from "../../harness/program-run";

type Archives = ProgramReport["archives"];
type Side = "before" | "after";
const FIGURES = ["requireMs", "firstEventMs", "coldMs", "requireCpuMs", "firstEventCpuMs"] as const;
type Medians = Record<(typeof FIGURES)[number], number> & { archiveBytes: number; statusCode: number };

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at < 0 ? undefined : process.argv[at + 1];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function medians(runs: ColdStart[]): Medians {
  const figures = Object.fromEntries(FIGURES.map((key) => [key, Math.round(median(runs.map((run) => run[key])) * 10) / 10]));
  return { ...(figures as Record<(typeof FIGURES)[number], number>), archiveBytes: runs[0].archiveBytes, statusCode: runs[0].statusCode };
}

// Another checkout's own harness serializes its own program (in a child process rooted there).
async function archivesOf(checkout: string, progress: (line: string) => void): Promise<Archives> {
  // A checkout chosen at run time: only require() can load it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(path.join(path.resolve(checkout), "harness", "program-run")) as typeof import("../../harness/program-run");
  return buildArchives((line) => progress(`before: ${line}`), { run: harness.runProgram, loader: "pulumi" });
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

function rowsOf(results: Record<string, Partial<Record<Side, Medians>>>): { header: string[]; rows: string[][] } {
  const comparing = Object.values(results).some((sides) => sides.before);
  const cells = (m: Medians | undefined) =>
    m ? [ms(m.requireMs), ms(m.firstEventMs), ms(m.coldMs), `${ms(m.requireCpuMs)} + ${ms(m.firstEventCpuMs)}`, kb(m.archiveBytes)] : ["", "", "", "", ""];
  const columns = ["require", "first event", "total", "CPU (require + first)", "archive"];
  const header = ["function", ...(comparing ? columns.map((c) => `before: ${c}`) : []), ...columns, ...(comparing ? ["after / before (total)"] : [])];
  const rows = Object.entries(results).map(([name, sides]) => {
    const ratio = sides.before && sides.after ? (sides.after.coldMs / sides.before.coldMs).toFixed(2) : "";
    return [name.replace(/^.*-dev-/, ""), ...(comparing ? cells(sides.before) : []), ...cells(sides.after), ...(comparing ? [ratio] : [])];
  });
  return { header, rows };
}

async function main(): Promise<void> {
  const before = option("--before");
  const rounds = Number(option("--rounds") ?? 7);
  const record = process.argv.includes("--record");
  const started = Date.now();
  const progress = (line: string) => void process.stderr.write(`[bench:cold ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  const archives: Partial<Record<Side, Archives>> = {};
  [archives.after, archives.before] = await Promise.all([buildArchives(progress, { loader: "pulumi" }), before === undefined ? undefined : archivesOf(before, progress)]);

  const loadStart = os.loadavg();
  progress(`${rounds} rounds on ${os.cpus().length} cores, ${coldStartNode()}, load average ${loadStart.map((l) => l.toFixed(1)).join(" ")}`);
  const rig = await startColdRig(progress);
  const runs: Record<string, Partial<Record<Side, ColdStart[]>>> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      // Alternate which code goes first, so neither always meets the machine in the same state.
      const order: Side[] = round % 2 ? ["after", "before"] : ["before", "after"];
      for (const name of Object.keys(archives.after ?? {})) {
        for (const side of order) {
          const archive = archives[side]?.[name];
          if (!archive) continue;
          const figure = await rig.measure(`${side}-${name}`, name, archive);
          ((runs[name] ??= {})[side] ??= []).push(figure);
        }
      }
      progress(`round ${round + 1} of ${rounds} done`);
    }
  } finally {
    await rig.close();
  }
  const loadEnd = os.loadavg();
  const nodeVersion = execFileSync(coldStartNode(), ["--version"]).toString().trim();
  const results = Object.fromEntries(
    Object.entries(runs).map(([name, sides]) => [name, Object.fromEntries(Object.entries(sides).map(([side, list]) => [side, medians(list)]))]),
  );
  const { header, rows } = rowsOf(results);
  const load = `load average (1, 5, 15 min) ${loadStart.map((l) => l.toFixed(1)).join(", ")} at the start, ${loadEnd.map((l) => l.toFixed(1)).join(", ")} at the end`;
  const section = [
    "## Cold start (`npm run bench:cold`)",
    "",
    `Medians of ${rounds} alternating runs per function${before ? " and code (before: the checkout given with `--before`)" : ""}; the code as \`pulumi up\` serializes it, each run a fresh process; total is the median of require + first event; ${os.cpus().length} cores, ${load}, Node ${nodeVersion}.`,
    "",
    markdownTable(header, rows),
  ].join("\n");
  const json = { rounds, cores: os.cpus().length, node: nodeVersion, load_start: loadStart, load_end: loadEnd, results };
  const written = writeRunResults({ mode: "cold", json, section }, { benchDir: path.dirname(__dirname), record });
  progress(`wrote ${written.map((file) => path.relative(process.cwd(), file)).join(", ")}`);
  if (!record) progress("bench/RESULTS.md is unchanged; --record updates it");
  process.stdout.write(`${textTable(header, rows)}\n\n${load}\n${JSON.stringify(json)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
