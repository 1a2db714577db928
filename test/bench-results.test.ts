import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test, { type ExecutionContext } from "ava";
import { ROOT } from "../harness/program-run";
import { writeRunResults, type RenderedRun } from "../bench/shared/results-files";

// A fixed run, rendered: the writer is tested without measuring anything.
const RUN: RenderedRun = {
  mode: "quick",
  json: { mode: "quick", fanout_n: 2000, fanout_ms: 1234.5 },
  section: "## Quick run\n\nfixed figures\n",
  chartSvg: "<svg>new chart</svg>\n",
};

const OLD_RESULTS = [
  "# Benchmark results",
  "",
  "Hand-written findings.",
  "",
  "<!-- bench:quick:start -->",
  "## Quick run",
  "",
  "old figures",
  "<!-- bench:quick:end -->",
  "",
  "<!-- bench:full:start -->",
  "full figures",
  "<!-- bench:full:end -->",
  "",
].join("\n");

/** A stand-in for bench/: the tracked RESULTS.md and both charts, as committed. */
function trackedCopy(t: ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-results-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, "RESULTS.md"), OLD_RESULTS);
  writeFileSync(path.join(dir, "fanout.svg"), "<svg>full chart</svg>\n");
  writeFileSync(path.join(dir, "fanout-quick.svg"), "<svg>old quick chart</svg>\n");
  return dir;
}

const read = (dir: string, file: string) => readFileSync(path.join(dir, file), "utf8");

test("without --record a run writes only under out/: RESULTS.md and the charts stay as they were", (t) => {
  const bench = trackedCopy(t);
  const written = writeRunResults(RUN, { benchDir: bench, record: false });
  t.deepEqual(
    written.map((file) => path.relative(bench, file)),
    ["out/quick.json", "out/quick.md", "out/fanout-quick.svg"],
  );
  t.is(read(bench, "RESULTS.md"), OLD_RESULTS);
  t.is(read(bench, "fanout-quick.svg"), "<svg>old quick chart</svg>\n");
  t.is(read(bench, "fanout.svg"), "<svg>full chart</svg>\n");
  t.deepEqual(JSON.parse(read(bench, "out/quick.json")), RUN.json);
  t.is(read(bench, "out/quick.md"), "## Quick run\n\nfixed figures\n");
  t.is(read(bench, "out/fanout-quick.svg"), "<svg>new chart</svg>\n");
});

test("with --record this mode's RESULTS.md section and chart are rewritten, everything else kept", (t) => {
  const bench = trackedCopy(t);
  const written = writeRunResults(RUN, { benchDir: bench, record: true });
  t.deepEqual(
    written.map((file) => path.relative(bench, file)),
    ["out/quick.json", "out/quick.md", "out/fanout-quick.svg", "RESULTS.md", "fanout-quick.svg"],
  );
  t.is(
    read(bench, "RESULTS.md"),
    OLD_RESULTS.replace("## Quick run\n\nold figures", "## Quick run\n\nfixed figures"),
  );
  t.is(read(bench, "fanout-quick.svg"), "<svg>new chart</svg>\n");
  t.is(read(bench, "fanout.svg"), "<svg>full chart</svg>\n", "a quick run leaves the full run's chart alone");
});

test("bench/out/ is git-ignored and holds no tracked file", (t) => {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" });
  t.notThrows(() => git("check-ignore", "--quiet", "--no-index", "bench/out/quick.json"));
  t.is(git("ls-files", "bench/out"), "");
});
