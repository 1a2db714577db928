/**
 * Figure 4: the serialized Lambda archives the Pulumi program produces (under the test mocks),
 * their sizes, and the cold start of each: a fresh plain `node` process that requires the
 * archive's `__index.js` and answers one event against the emulator's table and management API.
 */
import { fork } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { connectEvent, disconnectEvent, messageEvent, newAwsId, type ConnectionContext } from "../../local/gateway/event-builders";
import { functionUrlEvent } from "../../local/services/publish-endpoint";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import type { FunctionUrlEvent } from "../../runtime/contract/function-url-event";
import { ENV } from "../../runtime/config/environment";
import { ROOT, runProgram, type ProgramReport } from "../../harness/program-run";
import { startBenchEmulator } from "../shared/bench-emulator";

interface ColdStart {
  /** Bytes per archive entry name (`__index.js`, bundled packages). */
  files: Record<string, number>;
  archiveBytes: number;
  /** `require` of `__index.js`: module load plus the factory building the handler. */
  requireMs: number;
  /** The first event, from the call to the answer. */
  firstEventMs: number;
  coldMs: number;
  statusCode: number;
}

export type ColdFigures = Record<string, ColdStart>;

interface RunnerReply {
  requireMs: number;
  firstEventMs: number;
  statusCode: number;
}

// Plain node (no TypeScript loader, which would slow every require), as the Lambda runtime runs it.
const RUNNER = `
const { performance } = require("node:perf_hooks");
const event = JSON.parse(process.env.BENCH_EVENT);
const started = performance.now();
const { handler } = require(process.env.BENCH_MODULE);
const loaded = performance.now();
Promise.resolve(handler(event, {})).then((result) => {
  process.send({ requireMs: loaded - started, firstEventMs: performance.now() - loaded, statusCode: result.statusCode }, () => process.exit(0));
});
`;

/** Runs the Pulumi program under mocks (in a child process) and returns its serialized archives. */
export async function buildArchives(progress: (line: string) => void): Promise<ProgramReport["archives"]> {
  const report = await runProgram();
  if (report.error) throw new Error(`the Pulumi program failed under mocks: ${report.error.name}: ${report.error.message}`);
  progress(`serialized ${Object.keys(report.archives).length} Lambda archives under Pulumi mocks`);
  return report.archives;
}

/** What a stack with settings adds to a cold start: the functions' variables, and the handshake's headers (a token). */
export interface ColdSetup {
  env?: Record<string, string>;
  connectHeaders?: Record<string, string>;
}

/** Cold-starts each function of `archives` once. Keys are the Lambda function names. */
export async function runColdStart(archives: ProgramReport["archives"], progress: (line: string) => void, setup: ColdSetup = {}): Promise<ColdFigures> {
  const emulator = await startBenchEmulator({}, progress);
  const dir = await mkdtemp(path.join(os.tmpdir(), "bench-cold-"));
  try {
    await writeFile(path.join(dir, "runner.js"), RUNNER);
    const figures: ColdFigures = {};
    for (const [name, archive] of Object.entries(archives)) {
      // Each function in a directory of its own, with the archive's other files (jose) beside its code.
      const modulePath = path.join(dir, name, "__index.js");
      await mkdir(path.dirname(modulePath));
      await writeFile(modulePath, archive.indexJs);
      for (const file of Object.keys(archive.files)) if (file !== "__index.js") await cp(path.join(ROOT, file), path.join(dir, name, file), { recursive: true });
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
        BENCH_EVENT: JSON.stringify(eventFor(name, setup.connectHeaders ?? {})),
      };
      const reply = await runOnce(path.join(dir, "runner.js"), env);
      const archiveBytes = Object.values(archive.files).reduce((sum, bytes) => sum + bytes, 0);
      figures[name] = { files: archive.files, archiveBytes, ...reply, coldMs: reply.requireMs + reply.firstEventMs };
      progress(`cold start ${name}: ${archiveBytes} bytes, ${figures[name].coldMs.toFixed(0)} ms (status ${reply.statusCode})`);
    }
    return figures;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await emulator.close();
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

function runOnce(runner: string, env: Record<string, string | undefined>): Promise<RunnerReply> {
  return new Promise((resolve, reject) => {
    const child = fork(runner, [], { env, execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
    child.once("message", (reply) => resolve(reply as RunnerReply));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`cold-start runner exited with ${code} before answering`)));
  });
}
