/**
 * Turns the four figures' raw results into the flat JSON line, the terminal table, the
 * RESULTS.md section and the fan-out chart.
 */
import os from "node:os";
import { lineChartSvg } from "./chart";
import type { ColdFigures } from "../cold-start/cold-bench";
import type { E2eFigures } from "../e2e/e2e-bench";
import type { FanoutFigures, FanoutOptions, Scenario } from "../fanout/fanout-bench";
import type { Run } from "../fanout/fanout-rig";
import { markdownTable } from "./report";

export type Mode = "quick" | "full";

export interface Plan {
  mode: Mode;
  fanout: Omit<FanoutOptions, "progress" | "beside">;
  /** The N asked for but not measurable in one process, if any. */
  unreachableN?: number;
  e2e: { clients: number; messages: number };
}

export interface Results {
  plan: Plan;
  fanout: FanoutFigures;
  e2e: E2eFigures;
  cold: ColdFigures;
  seconds: number;
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits));

/** Every figure, flat; the headline fan-out figures are those of the largest N. */
export function figuresJson(results: Results): Record<string, unknown> {
  const { plan, fanout, e2e, cold } = results;
  return {
    mode: plan.mode,
    cores: os.cpus().length,
    node: process.version,
    seconds: round(results.seconds),
    ...fanoutHeadline(plan, fanout),
    fanout_points: fanout.points.map(pointJson),
    fanout_scenarios: fanout.scenarios.map(scenarioJson),
    ...e2eJson(plan, e2e),
    ...coldJson(cold),
  };
}

// Figure 1 and 2 at the largest N: ours against the ideal, the bare-HTTP floor and the baseline.
function fanoutHeadline(plan: Results["plan"], fanout: FanoutFigures): Record<string, unknown> {
  const top = fanout.points[fanout.points.length - 1];
  const quota = scenario(fanout, "quota", top.n);
  const worst = scenario(fanout, "quota+paging", top.n);
  return {
    fanout_n: top.n,
    ...(plan.unreachableN ? { fanout_n_unreachable: plan.unreachableN } : {}),
    fanout_latency_ms: plan.fanout.latencyMs,
    fanout_concurrency: plan.fanout.concurrency,
    fanout_ms: round(top.ours.ms),
    fanout_ideal_ms: round(top.idealMs),
    fanout_ratio: round(top.ours.ms / top.idealMs, 2),
    fanout_cpu_us_per_post: round((top.ours.cpuMs * 1000) / top.n, 0),
    fanout_lost: top.ours.lost,
    fanout_dup: top.ours.duplicates,
    fanout_floor_ms: round(top.floor.ms),
    fanout_floor_cpu_us_per_post: round((top.floor.cpuMs * 1000) / top.n, 0),
    fanout_vs_floor: round(top.ours.ms / top.floor.ms, 2),
    baseline_ms: round(top.baseline.ms),
    baseline_lost: top.baseline.lost,
    fanout_quota_rate: fanout.quota.rate,
    fanout_quota_burst: fanout.quota.burst,
    fanout_quota_ms: round(quota.ours.ms),
    fanout_quota_ideal_ms: round(quota.idealMs),
    fanout_quota_ratio: round(quota.ours.ms / quota.idealMs, 2),
    fanout_quota_lost: quota.ours.lost,
    scan_page_rows: worst.pageLimit,
    ours_delivered: worst.ours.delivered,
    ours_lost: worst.ours.lost,
    seed_delivered: worst.baseline.delivered,
    seed_lost: worst.baseline.lost,
    seed_rows_deleted: worst.baseline.rowsDeleted,
  };
}

function pointJson(p: FanoutFigures["points"][number]): Record<string, unknown> {
  return {
    n: p.n,
    ideal_ms: round(p.idealMs),
    ours_ms: round(p.ours.ms),
    ours_cpu_us_per_post: round((p.ours.cpuMs * 1000) / p.n, 0),
    ours_lost: p.ours.lost,
    ours_dup: p.ours.duplicates,
    ours_failures: p.ours.failures ?? {},
    floor_ms: round(p.floor.ms),
    floor_cpu_us_per_post: round((p.floor.cpuMs * 1000) / p.n, 0),
    floor_lost: p.floor.lost,
    baseline_ms: round(p.baseline.ms),
    baseline_lost: p.baseline.lost,
    baseline_failures: p.baseline.failures ?? {},
    baseline_rows_deleted: p.baseline.rowsDeleted,
  };
}

function scenarioJson(s: Scenario): Record<string, unknown> {
  return {
    name: s.name,
    n: s.n,
    page_rows: s.pageLimit ?? null,
    ideal_ms: round(s.idealMs),
    ours_ms: round(s.ours.ms),
    ours_lost: s.ours.lost,
    ours_dup: s.ours.duplicates,
    ours_failures: s.ours.failures ?? {},
    seed_ms: round(s.baseline.ms),
    seed_lost: s.baseline.lost,
    seed_failures: s.baseline.failures ?? {},
    seed_rows_deleted: s.baseline.rowsDeleted,
  };
}

function e2eJson(plan: Results["plan"], e2e: Results["e2e"]): Record<string, unknown> {
  return {
    e2e_clients: plan.e2e.clients,
    e2e_messages: plan.e2e.messages,
    e2e_expected: e2e.ours.expected,
    e2e_lost: e2e.ours.lost,
    e2e_dup: e2e.ours.duplicates,
    e2e_p50_ms: round(e2e.ours.p50Ms),
    e2e_p99_ms: round(e2e.ours.p99Ms),
    e2e_deliveries_per_s: round(e2e.ours.deliveriesPerSecond, 0),
    bare_lost: e2e.bare.lost,
    bare_dup: e2e.bare.duplicates,
    bare_p50_ms: round(e2e.bare.p50Ms, 2),
    bare_p99_ms: round(e2e.bare.p99Ms, 2),
    bare_deliveries_per_s: round(e2e.bare.deliveriesPerSecond, 0),
    bare_runs_deliveries_per_s: e2e.bareRuns.map((run) => round(run.deliveriesPerSecond, 0)),
    e2e_vs_bare: round(e2e.ratio, 4),
  };
}

function coldJson(cold: Results["cold"]): Record<string, unknown> {
  const defaultRoute = Object.entries(cold).find(([name]) => name.endsWith("-default"));
  return {
    cold_ms: defaultRoute ? round(defaultRoute[1].coldMs) : null,
    cold_ms_by_function: Object.fromEntries(Object.entries(cold).map(([name, c]) => [name, round(c.coldMs)])),
    archive_bytes: Object.fromEntries(Object.entries(cold).map(([name, c]) => [name, c.archiveBytes])),
  };
}

function scenario(fanout: FanoutFigures, name: Scenario["name"], n: number): Scenario {
  const found = fanout.scenarios.find((s) => s.name === name && s.n === n);
  if (!found) throw new Error(`no ${name} scenario at N=${n}`);
  return found;
}

// ", failed: LimitExceededException ×3" when posts failed, else nothing.
const failuresText = (run: Run) => {
  const entries = Object.entries(run.failures ?? {});
  return entries.length === 0 ? "" : `, failed: ${entries.map(([name, count]) => `${name} ×${count}`).join(", ")}`;
};

const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;

/** Rows of the terminal table and of RESULTS.md: figure, what, value. */
export function tableRows(results: Results): string[][] {
  const { fanout, e2e, cold } = results;
  const rows: string[][] = [];
  for (const p of fanout.points) {
    rows.push([
      "1 fan-out",
      `N=${p.n}, ${results.plan.fanout.latencyMs} ms/post, C=${results.plan.fanout.concurrency}`,
      `ours ${ms(p.ours.ms)} (ratio ${(p.ours.ms / p.idealMs).toFixed(1)}, ${Math.round((p.ours.cpuMs * 1000) / p.n)} µs CPU/post, lost ${p.ours.lost}${failuresText(p.ours)}); ` +
        `bare-HTTP floor ${ms(p.floor.ms)} (${Math.round((p.floor.cpuMs * 1000) / p.n)} µs CPU/post, lost ${p.floor.lost}); ` +
        `baseline ${ms(p.baseline.ms)} (lost ${p.baseline.lost}${failuresText(p.baseline)}); ideal N·L/C ${ms(p.idealMs)}`,
    ]);
  }
  for (const s of fanout.scenarios) {
    const where = `N=${s.n}${s.pageLimit ? `, ${s.pageLimit} rows/page` : ""}${s.name.startsWith("quota") ? `, quota ${fanout.quota.rate}/s` : ""}`;
    rows.push([
      `2 ${s.name}`,
      where,
      `ours ${s.ours.delivered} delivered, ${s.ours.lost} lost${failuresText(s.ours)} in ${ms(s.ours.ms)}` +
        `${s.name.startsWith("quota") ? ` (ideal N/rate ${ms(s.idealMs)})` : ""}; ` +
        `baseline ${s.baseline.delivered} delivered, ${s.baseline.lost} lost, ${s.baseline.rowsDeleted} live rows deleted${failuresText(s.baseline)}`,
    ]);
  }
  const k = results.plan.e2e;
  for (const [name, run] of [["emulator", e2e.ours], ["bare ws (before and after; mean rate)", e2e.bare]] as const) {
    rows.push([
      "3 end to end",
      `${name}: ${k.clients} clients × ${k.messages} msgs`,
      `${run.delivered}/${run.expected} delivered, ${run.lost} lost, ${run.duplicates} dup; p50 ${ms(run.p50Ms)}, p99 ${ms(run.p99Ms)}; ` +
        `${Math.round(run.deliveriesPerSecond)} deliveries/s`,
    ]);
  }
  rows.push(["3 end to end", "ours / bare throughput", e2e.ratio.toFixed(3)]);
  for (const [name, c] of Object.entries(cold)) {
    rows.push([
      "4 cold start",
      name,
      `${c.archiveBytes} bytes (${Object.keys(c.files).join(", ")}); require ${ms(c.requireMs)} + first event ${ms(c.firstEventMs)} = ${ms(c.coldMs)}`,
    ]);
  }
  return rows;
}

/** This mode's generated section of RESULTS.md. */
export function resultsSection(results: Results, json: Record<string, unknown>): string {
  const { plan } = results;
  const command = plan.mode === "quick" ? "npm run bench -- --quick" : "npm run bench";
  return [
    `## ${plan.mode === "quick" ? "Quick" : "Full"} run`,
    "",
    `\`${command}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ` +
      `node ${process.version}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; took ${results.seconds.toFixed(0)} s.`,
    ...(plan.unreachableN
      ? ["", `N=${plan.unreachableN} does not fit in one process's 20,000 descriptors; the largest N measured is ${results.fanout.points.at(-1)?.n}.`]
      : []),
    "",
    markdownTable(["figure", "setting", "result"], tableRows(results)),
    "",
    "```json",
    JSON.stringify(json),
    "```",
  ].join("\n");
}

export function fanoutChartSvg(results: Results): string {
  const { fanout, plan } = results;
  return lineChartSvg({
    title: "Fan-out time against receivers N",
    subtitle: `${plan.fanout.latencyMs} ms per post, C=${plan.fanout.concurrency}, ${plan.mode} run, ${os.cpus().length} cores, node ${process.version}`,
    xLabel: "receivers N",
    yLabel: "handler time (ms)",
    series: [
      { name: "ours", color: "#1f77b4", points: fanout.points.map((p) => ({ x: p.n, y: p.ours.ms })) },
      { name: "original design", color: "#d62728", points: fanout.points.map((p) => ({ x: p.n, y: p.baseline.ms })) },
      { name: "ours over bare HTTP (floor)", color: "#7f7f7f", points: fanout.points.map((p) => ({ x: p.n, y: p.floor.ms })) },
      { name: "ideal N·L/C", color: "#2ca02c", dashed: true, points: fanout.points.map((p) => ({ x: p.n, y: p.idealMs })) },
    ],
  });
}
