/**
 * The `npm start` command as a user runs it: a child process, its banner, real clients (one of
 * them the wscat CLI), its exit codes, and its signals.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { openClient, within } from "./helpers/clients";
import { openTable } from "./helpers/table";

const ROOT = join(__dirname, "..");
const WSCAT = join(ROOT, "node_modules", ".bin", "wscat");
// A cold start compiles TypeScript and loads the AWS SDK; on a busy machine that takes seconds.
const START_MS = 60_000;

interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Waits until stdout (so far or later) matches `pattern`. */
  output(pattern: RegExp): Promise<RegExpMatchArray>;
  stderr(): string;
  /** Waits for the exit code. */
  exited(): Promise<number | null>;
}

function run(t: ExecutionContext, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Running {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...options.env }, detached: options.detached });
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
    stderr: () => stderr,
    exited: () => within(exited, `${args.join(" ")} to exit`, START_MS),
  };
}

/**
 * Runs `npm start`'s command, `tsx local/cli.ts`, as one process: `node --import tsx` is what the
 * tsx binary runs in a child, and `npx` would not pass SIGTERM on.
 */
function runCli(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  return run(t, process.execPath, ["--import", "tsx", "local/cli.ts", ...args], { env });
}

/** Starts the emulator CLI and reads its banner. */
async function startCli(t: ExecutionContext, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const cli = runCli(t, args, env);
  const [, endpoint, port] = await cli.output(/WebSocket\s+(ws:\/\/localhost:(\d+)\/dev)/);
  const [, dynamoEndpoint] = await cli.output(/DynamoDB\s+(http:\/\/127\.0\.0\.1:\d+)/);
  await cli.output(/Press Ctrl\+C to stop/);
  return { cli, endpoint, port: Number(port), dynamoEndpoint };
}

test("--port 0: the banner names the picked port; a client broadcasts; SIGTERM closes it with 1001 and exits 0", async (t) => {
  const { cli, endpoint, port } = await startCli(t, ["--port", "0"]);
  t.true(port > 0);
  t.regex((await cli.output(/Demo page\s+(\S+)/))[1], new RegExp(`^http://localhost:${port}/$`));
  t.regex((await cli.output(/Management\s+(\S+)/))[1], new RegExp(`^http://127\\.0\\.0\\.1:${port}/dev/@connections/\\{connectionId\\}$`));

  const client = await openClient(endpoint);
  client.ws.send('{"hello":"cli"}');
  t.like(JSON.parse(await client.next()), { hello: "cli", _me: true });

  cli.child.kill("SIGTERM");
  t.like(await client.closed(), { code: 1001 });
  t.is(await cli.exited(), 0);
  // The handler's $disconnect log line went to stdout before the process stopped.
  t.truthy(await cli.output(/"route":"\$disconnect".*"statusCode":200[\s\S]*^stopped$/m));
});

test("wscat: a typed line comes back as the sender's copy", async (t) => {
  const { cli, endpoint } = await startCli(t, ["--port", "0"]);
  // wscat prints "Connected" and "< " frames only to a terminal, so it runs under `script`, which
  // gives it one. Its own process group keeps script's signals away from the test runner. wscat
  // quits when its stdin ends, so stdin stays open until the answer is read.
  const wscat = run(t, "script", ["-qfec", `${WSCAT} --no-color -c ${endpoint}`, "/dev/null"], { detached: true });
  await wscat.output(/Connected/);
  wscat.child.stdin.write("hi there\n");
  const [, frame] = await wscat.output(/< (\{"data":"hi there","_now":\d+,"_me":true\})/);
  const { _now } = JSON.parse(frame);
  t.true(Number.isInteger(_now) && Math.abs(_now - Date.now()) < 60_000);
  wscat.child.stdin.end();
  t.is(await wscat.exited(), 0);
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

test("bad flags exit with status 2 and name the flag", async (t) => {
  const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [["--fanout-concurrency", "0"], {}, '--fanout-concurrency: must be an integer from 1 to 1024 posts in flight (default 64), got "0"'],
    [["--idle-timeout", "soon"], {}, '--idle-timeout: must be an integer from 1 to 600000 ms (default 600000), got "soon"'],
    [["--stage", "my stage"], {}, '--stage: must be 1 to 128 letters, digits, hyphens or underscores, got "my stage"'],
    [["--bogus"], {}, "Unknown option '--bogus'"],
    // PORT is read when --port is absent.
    [[], { PORT: "70000" }, "PORT: must be an integer from 0 to 65535"],
  ];
  await Promise.all(
    cases.map(async ([args, env, message]) => {
      const cli = runCli(t, args, env);
      t.is(await cli.exited(), 2, args.join(" "));
      t.true(cli.stderr().includes(message), `${args.join(" ")}: ${cli.stderr()}`);
    }),
  );
});

test("--data DIR: the table and its rows survive a restart", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "emulator-data-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const marker = { connectionId: "markerMarkerMa=", connectedAt: 1, expiresAt: 2 };

  const first = await startCli(t, ["--port", "0", "--data", dir]);
  await openTable(t, first.dynamoEndpoint, "message-broadcast-connections").put(marker);
  const client = await openClient(first.endpoint);
  first.cli.child.kill("SIGTERM");
  await client.closed();
  t.is(await first.cli.exited(), 0);

  const second = await startCli(t, ["--port", "0", "--data", dir]);
  // The marker is still there; the client's row went with its $disconnect at shutdown.
  t.deepEqual(await openTable(t, second.dynamoEndpoint, "message-broadcast-connections").ids(), [marker.connectionId]);
  second.cli.child.kill("SIGTERM");
  t.is(await second.cli.exited(), 0);
});
