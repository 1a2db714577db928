/**
 * Where a benchmark run's results go. Every run writes them under bench/out/ (git-ignored), so a
 * run leaves the tracked tree as it was; `--record` also rewrites this mode's section of the
 * tracked bench/RESULTS.md and its chart, on purpose.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { updateResultsFile } from "./report";
import type { Mode } from "./summary";

/** One run, rendered: the JSON line's figures, the RESULTS.md section and (`npm run bench`) the fan-out chart. */
export interface RenderedRun {
  /** The section's name: a bench mode, or `cold` (`npm run bench:cold`, no chart). */
  mode: Mode | "cold";
  json: Record<string, unknown>;
  section: string;
  chartSvg?: string;
}

export interface ResultsTarget {
  /** The directory of the tracked RESULTS.md and charts (bench/). */
  benchDir: string;
  /** Where every run writes; default `<benchDir>/out`. */
  outDir?: string;
  /** Also update the tracked RESULTS.md section and chart of this mode. */
  record: boolean;
}

// The full run's chart is the one the README shows; a quick run has its own.
const chartName = (mode: RenderedRun["mode"]) => (mode === "full" ? "fanout.svg" : "fanout-quick.svg");

/** Writes the run's files and returns their paths, untracked ones first. */
export function writeRunResults(run: RenderedRun, target: ResultsTarget): string[] {
  const outDir = target.outDir ?? path.join(target.benchDir, "out");
  mkdirSync(outDir, { recursive: true });
  const written = [path.join(outDir, `${run.mode}.json`), path.join(outDir, `${run.mode}.md`)];
  writeFileSync(written[0], `${JSON.stringify(run.json, null, 2)}\n`);
  writeFileSync(written[1], `${run.section.trim()}\n`);
  const { chartSvg } = run;
  if (chartSvg !== undefined) {
    written.push(path.join(outDir, chartName(run.mode)));
    writeFileSync(written[2], chartSvg);
  }
  if (!target.record) return written;
  const results = path.join(target.benchDir, "RESULTS.md");
  updateResultsFile(results, run.mode, run.section);
  if (chartSvg === undefined) return [...written, results];
  const chart = path.join(target.benchDir, chartName(run.mode));
  writeFileSync(chart, chartSvg);
  return [...written, results, chart];
}
