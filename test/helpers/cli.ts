/**
 * Runs commands as child processes for tests: the emulator CLI (`npm start`'s command) and
 * other binaries, with their output readable as it arrives. Every child is killed at teardown.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import type { ExecutionContext } from "ava";
import { within } from "./clients";
import { ROOT } from "../../harness/program-run";

// A cold start compiles TypeScript and loads the AWS SDK; on a busy machine that takes seconds.
const START_MS = 60_000;

export interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Waits until stdout (so far or later) matches `pattern`. */
  output(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Waits for the exit code (null when a signal ended the process). */
  exited(): Promise<number | null>;
}

export function run(t: ExecutionContext, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; detached?: boolean; uid?: number } = {}): Running {
  const user = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid };
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...options.env }, detached: options.detached, ...user });
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const wake of [...waiters]) wake();
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return {
    child,
    output: (pattern) =>
      within(
        new Promise<RegExpMatchArray>((resolve) => {
          const check = () => {
            const match = stdout.match(pattern);
            if (!match) return;
            waiters.delete(check);
            resolve(match);
          };
          waiters.add(check);
          check();
        }),
        `${pattern} in the output of ${args.join(" ")} (stdout so far: ${JSON.stringify(stdout)}, stderr: ${JSON.stringify(stderr)})`,
        START_MS,
      ),
    stdout: () => stdout,
    stderr: () => stderr,
    exited: () => within(exited, `${args.join(" ")} to exit`, START_MS),
  };
}

/**
 * Runs `npm start`'s command, `tsx local/cli.ts`, as one process: `node --import tsx` is what the
 * tsx binary runs in a child, and `npx` would not pass SIGTERM on.
 */
export function runCli(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv = {}, uid?: number): Running {
  return run(t, process.execPath, ["--import", "tsx", "local/cli.ts", ...args], { env, uid });
}

/** Starts the emulator CLI and reads its banner. */
export async function startCli(t: ExecutionContext, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const cli = runCli(t, args, env);
  const [, endpoint, port] = await cli.output(/WebSocket\s+(ws:\/\/localhost:(\d+)\/dev)/);
  const [, dynamoEndpoint] = await cli.output(/DynamoDB\s+(http:\/\/127\.0\.0\.1:\d+)/);
  await cli.output(/Press Ctrl\+C to stop/);
  return { cli, endpoint, port: Number(port), dynamoEndpoint };
}
