/**
 * Figures 1 and 2: the real `$default` handler (and the original design's, bench/baseline.ts)
 * fanning out to N real receivers through the emulator's management API, with injected post
 * latency, then under the emulator's post-rate quota and with more rows than one Scan page.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { forkChild } from "./child";
import { withRig, type Host, type Run } from "./fanout-rig";
import type { HostReply, HostRequest } from "./lambda-host";

export interface FanoutOptions {
  /** Receiver counts for the chart, ascending. */
  points: number[];
  /** Receiver counts for the quota and paging scenarios (each must be one of `points`). */
  headline: number[];
  latencyMs: number;
  concurrency: number;
  /** Invocations per chart point; the median is reported. */
  repeats: number;
  progress(line: string): void;
}

export interface ChartPoint {
  n: number;
  idealMs: number;
  ours: Run;
  baseline: Run;
}

export interface Scenario {
  name: "paging" | "quota" | "quota+paging";
  n: number;
  /** Rows per Scan page, when the table holds more. */
  pageLimit?: number;
  idealMs: number;
  ours: Run;
  baseline: Run;
}

export interface FanoutFigures {
  points: ChartPoint[];
  scenarios: Scenario[];
  /** The emulator's post quota in the quota scenarios. */
  quota: { rate: number; burst: number };
}

// Posts each handler makes before the first measurement.
const WARM_UP_POSTS = 2000;

/**
 * One Lambda-side process serves both emulators, so the quota runs start with code the
 * unthrottled runs already warmed up (JIT), as in a warm container; each emulator still gets
 * handlers of its own, with their own clients and sockets.
 */
export async function runFanout(options: FanoutOptions): Promise<FanoutFigures> {
  const host = forkChild<HostRequest, HostReply>("lambda-host.ts");
  try {
    return await measure(host, options);
  } finally {
    await host.finish();
  }
}

async function measure(host: Host, options: FanoutOptions): Promise<FanoutFigures> {
  const { latencyMs, concurrency } = options;
  const points: ChartPoint[] = [];
  const scenarios: Scenario[] = [];

  const rigOptions = { concurrency, progress: options.progress };
  await withRig(host, { ...rigOptions, label: "plain", emulator: { postLatencyMs: latencyMs } }, async (rig) => {
    const ours = await rig.handler("ours");
    const baseline = await rig.handler("baseline");
    for (const [index, n] of options.points.entries()) {
      await rig.grow(n);
      // Warm containers: their sockets open and their code compiled by a few thousand posts.
      if (index === 0) {
        for (let posts = 0; posts < WARM_UP_POSTS; posts += n) {
          await rig.warmUp(ours);
          await rig.warmUp(baseline);
        }
      }
      const point: ChartPoint = {
        n,
        idealMs: (n * latencyMs) / concurrency,
        ours: await median(options.repeats, () => rig.invoke(ours, n)),
        baseline: await median(options.repeats, () => rig.invoke(baseline, n)),
      };
      points.push(point);
      options.progress(
        `fan-out N=${n}: ours ${point.ours.ms.toFixed(0)} ms, baseline ${point.baseline.ms.toFixed(0)} ms, ideal ${point.idealMs.toFixed(0)} ms`,
      );
      if (options.headline.includes(n)) {
        const pageLimit = pageFor(n);
        const scenario: Scenario = {
          name: "paging",
          n,
          pageLimit,
          idealMs: point.idealMs,
          ours: await rig.invoke(await rig.handler("ours", pageLimit), n),
          baseline: await rig.invoke(await rig.handler("baseline", pageLimit), n),
        };
        scenarios.push(scenario);
        options.progress(describe(scenario));
      }
    }
  });

  const quota = quotaBelow(points[points.length - 1]);
  // A full bucket for each run, so that one run's posts do not eat into the next one's quota.
  const refill = () => sleep(Math.ceil((quota.burst / quota.rate) * 1000) + 50);
  options.progress(`quota scenarios at ${quota.rate} posts/s (burst ${quota.burst})`);
  const emulator = { postLatencyMs: latencyMs, postRate: quota.rate, postBurst: quota.burst };
  await withRig(host, { ...rigOptions, label: "quota", emulator }, async (rig) => {
    for (const n of options.headline) {
      await rig.grow(n);
      for (const pageLimit of [undefined, pageFor(n)]) {
        await refill();
        const ours = await rig.invoke(await rig.handler("ours", pageLimit), n);
        await refill();
        const baseline = await rig.invoke(await rig.handler("baseline", pageLimit), n);
        const name = pageLimit === undefined ? "quota" : "quota+paging";
        const scenario: Scenario = { name, n, pageLimit, idealMs: (n / quota.rate) * 1000, ours, baseline };
        scenarios.push(scenario);
        options.progress(describe(scenario));
      }
    }
  });
  return { points, scenarios, quota };
}

/**
 * Rows per Scan page in the paging scenarios: half the table, as if the table held twice as
 * many rows as DynamoDB's 1 MB page (18,725 rows of this shape; see RESULTS.md).
 */
function pageFor(n: number): number {
  return Math.ceil(n / 2);
}

/**
 * Half the post rate the handler reached without a quota, so that the quota, not this machine's
 * CPU, is what limits the quota scenarios. The burst is 50 ms worth: the rate decides, not it.
 */
function quotaBelow(point: ChartPoint): { rate: number; burst: number } {
  const reached = (point.n / point.ours.ms) * 1000;
  const rate = Math.max(50, Math.floor(reached / 2 / 50) * 50);
  return { rate, burst: Math.ceil(rate / 20) };
}

function describe(s: Scenario): string {
  return (
    `${s.name} N=${s.n}: ours ${s.ours.delivered} delivered / ${s.ours.lost} lost in ${s.ours.ms.toFixed(0)} ms; ` +
    `baseline ${s.baseline.delivered} / ${s.baseline.lost} lost, ${s.baseline.rowsDeleted} rows deleted`
  );
}

/** The median duration of `repeats` runs, with the worst delivery figures of any of them. */
async function median(repeats: number, run: () => Promise<Run>): Promise<Run> {
  const runs: Run[] = [];
  for (let i = 0; i < repeats; i++) runs.push(await run());
  const worst = runs.reduce((a, b) => (b.lost > a.lost || b.duplicates > a.duplicates ? b : a));
  const middle = [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)];
  return { ...worst, ms: middle.ms, cpuMs: middle.cpuMs };
}

