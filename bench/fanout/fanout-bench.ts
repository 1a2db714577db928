/**
 * Figures 1 and 2: the real `$default` handler (and the original design's, bench/fanout/baseline.ts)
 * fanning out to N real receivers through the emulator's management API, with injected post
 * latency, then under the emulator's post-rate quota and with more rows than one Scan page.
 */
import { forkChild } from "../shared/child";
import { withRig, type Host, type Rig, type Run } from "./fanout-rig";
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
  /** Work started beside the rig's unmeasured set-up (handshakes, warm-up), awaited before the first measurement. */
  beside?: Promise<unknown>;

  progress: (line: string) => void;
}

interface ChartPoint {
  n: number;
  idealMs: number;
  ours: Run;
  /** Our handler posting over bare HTTP: what the round trips alone cost here. */
  floor: Run;
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

// Posts our handler makes before the first measurement.
const WARM_UP_POSTS = 2000;

/**
 * One emulator and one Lambda-side process serve every run: the quota runs reuse the receivers
 * and the warm handlers (JIT, open sockets) of the unthrottled ones, as a warm container would.
 */
export async function runFanout(options: FanoutOptions): Promise<FanoutFigures> {
  const host = forkChild<HostRequest, HostReply>("fanout/lambda-host.ts");
  try {
    return await measure(host, options);
  } finally {
    await host.finish();
  }
}

async function measure(host: Host, options: FanoutOptions): Promise<FanoutFigures> {
  const points: ChartPoint[] = [];
  const scenarios: Scenario[] = [];
  let quota: { rate: number; burst: number } | undefined;

  const rigOptions = { concurrency: options.concurrency, progress: options.progress, postLatencyMs: options.latencyMs };
  await withRig(host, rigOptions, async (rig) => {
    const handlers = { ours: await rig.handler("ours"), floor: await rig.handler("floor"), baseline: await rig.handler("baseline") };
    for (const [index, n] of options.points.entries()) {
      const point = await measurePoint(rig, handlers, n, index === 0, options);
      points.push(point);
      if (!options.headline.includes(n)) continue;
      // The quota is set once, from the first headline point: the same for every later one.
      quota ??= quotaBelow(point);
      scenarios.push(...(await measureScenarios(rig, point, quota, options)));
    }
  });
  if (!quota) throw new Error("no headline N among the points");
  return { points, scenarios, quota };
}

type Handlers = Record<"ours" | "floor" | "baseline", string>;

/** Figure 1 at one N: the median of each handler's broadcast to n receivers. */
async function measurePoint(rig: Rig, handlers: Handlers, n: number, first: boolean, options: FanoutOptions): Promise<ChartPoint> {
  await rig.grow(n);
  if (first) {
    // Warm containers: the SDK and runtime code compiled by a few thousand of our posts (the
    // other two handlers run the same code in the same process), every handler's sockets open.
    for (let posts = 0; posts < WARM_UP_POSTS; posts += n) await rig.warmUp(handlers.ours);
    for (const name of [handlers.floor, handlers.baseline]) await rig.warmUp(name);
    await options.beside;
  } else {
    // One unmeasured broadcast to the newly connected receivers first: what their connecting
    // left to do (garbage, first frames) is otherwise charged to whichever handler runs first.
    await rig.warmUp(handlers.floor);
  }
  const point: ChartPoint = {
    n,
    idealMs: (n * options.latencyMs) / options.concurrency,
    ours: await median(options.repeats, () => rig.invoke(handlers.ours, n)),
    floor: await median(options.repeats, () => rig.invoke(handlers.floor, n)),
    baseline: await median(options.repeats, () => rig.invoke(handlers.baseline, n)),
  };
  const { ours: o, floor: f, baseline: b } = point;
  options.progress(`fan-out N=${n}: ours ${o.ms.toFixed(0)} ms, bare-HTTP floor ${f.ms.toFixed(0)} ms, baseline ${b.ms.toFixed(0)} ms, ideal ${point.idealMs.toFixed(0)} ms`);
  return point;
}

/** Figure 2 at a headline N: paging, the post quota, and both at once, ours against the baseline. */
async function measureScenarios(rig: Rig, point: ChartPoint, quota: { rate: number; burst: number }, options: FanoutOptions): Promise<Scenario[]> {
  const { n } = point;
  const pageLimit = pageFor(n);
  const paging: Scenario = {
    name: "paging",
    n,
    pageLimit,
    idealMs: point.idealMs,
    ours: await rig.invoke(await rig.handler("ours", pageLimit), n),
    baseline: await rig.invoke(await rig.handler("baseline", pageLimit), n),
  };
  options.progress(describe(paging));
  const scenarios = [paging];
  options.progress(`quota scenarios at ${quota.rate} posts/s (burst ${quota.burst})`);
  // The same receivers, now under a quota. Each run gets a fresh (full) bucket, so that one
  // run's posts do not eat into the next one's quota.
  const throttled = (name: string) => {
    rig.setPostQuota(quota);
    return rig.invoke(name, n);
  };
  for (const limit of [undefined, pageLimit]) {
    const scenario: Scenario = {
      name: limit === undefined ? "quota" : "quota+paging",
      n,
      pageLimit: limit,
      idealMs: (n / quota.rate) * 1000,
      ours: await throttled(await rig.handler("ours", limit)),
      baseline: await throttled(await rig.handler("baseline", limit)),
    };
    scenarios.push(scenario);
    options.progress(describe(scenario));
  }
  rig.setPostQuota(undefined);
  return scenarios;
}

/**
 * Rows per Scan page in the paging scenarios: half the table, as if the table held twice as
 * many rows as DynamoDB's 1 MB page (18,725 rows of this shape; see RESULTS.md).
 */
function pageFor(n: number): number {
  return Math.ceil(n / 2);
}

/**
 * Half the post rate the handler reached without a quota at the first headline N, so that the
 * quota, not this machine's CPU, is what limits the quota scenarios. The burst is 50 ms worth: the rate decides, not it.
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

