/**
 * The `npm start` command as a user runs it: a child process, its banner, real clients (one of
 * them the wscat CLI), its exit codes, and its signals.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { AWS_ID, openClient, parseFrame } from "../helpers/clients";
import { run, runCli, startCli } from "../helpers/cli";
import { ROOT } from "../../harness/program-run";
import { DEFAULT_ROOM } from "../../runtime/contract/rooms";
import { listen } from "../../local/net/http";
import { openTable } from "../helpers/table";

const WSCAT = join(ROOT, "node_modules", ".bin", "wscat");

test("--port 0: the banner names the picked port; a client broadcasts; SIGTERM closes it with 1001 and exits 0", async (t) => {
  const { cli, endpoint, port } = await startCli(t, ["--port", "0"]);
  t.true(port > 0);
  t.regex((await cli.output(/Demo page\s+(\S+)/))[1], new RegExp(`^http://localhost:${port}/$`));
  t.regex((await cli.output(/Management\s+(\S+)/))[1], new RegExp(`^http://127\\.0\\.0\\.1:${port}/dev/@connections/\\{connectionId\\}$`));
  // The deployed stage's defaults.
  t.regex((await cli.output(/Throttling\s+(.+)/))[1], /^100 per second, burst 200 /);
  t.false(cli.stdout().includes("WARNING"), "the default host is loopback");

  const client = await openClient(endpoint);
  client.ws.send('{"hello":"cli"}');
  t.like(parseFrame(await client.next()), { hello: "cli", _me: true });

  cli.child.kill("SIGTERM");
  t.like(await client.closed(), { code: 1001 });
  t.is(await cli.exited(), 0);
  // The handler's $disconnect log line went to stdout before the process stopped.
  t.truthy(await cli.output(/"route":"\$disconnect".*"statusCode":200[\s\S]*^stopped$/m));
});

test("--fanout sharded --shard-size 1: the banner says so, and two clients get each message once with its `_id`", async (t) => {
  const { cli, endpoint } = await startCli(t, ["--port", "0", "--fanout", "sharded", "--shard-size", "1"]);
  t.regex((await cli.output(/Fan-out\s+(.+)/))[1], /^sharded, 1 receivers per job, local queue http:\/\/127\.0\.0\.1:\d+\/000000000000\/shards$/);
  const [a, b] = [await openClient(endpoint), await openClient(endpoint)];
  a.ws.send('{"hello":"shards"}');
  const [fromA, atB] = [parseFrame(await a.next()), parseFrame(await b.next())];
  t.like(fromA, { hello: "shards", _me: true });
  t.like(atB, { hello: "shards", _me: false, _id: fromA._id });
  t.regex(String(fromA._id), AWS_ID);
  // Two shards of one receiver: two worker log lines.
  await cli.output(/"route":"shard"[^\n]*\n[\s\S]*"route":"shard"/);
  t.deepEqual([a.frames.length, b.frames.length], [1, 1]);
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

test("--presence: the banner says so, and a client joining a room is announced to the one already there", async (t) => {
  const { cli, endpoint } = await startCli(t, ["--port", "0", "--presence"]);
  t.is((await cli.output(/Presence\s+(.+)/))[1], "join/leave events to the rest of each room");
  const first = await openClient(`${endpoint}?room=cli`);
  await openClient(`${endpoint}?room=cli`);
  t.like(parseFrame(await first.next()), { _presence: { event: "join", count: 2 }, _me: false });
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

test("--host 0.0.0.0: the banner warns that others can reach it, management API included", async (t) => {
  const { cli } = await startCli(t, ["--port", "0", "--host", "0.0.0.0"]);
  t.is(
    (await cli.output(/^ {2}WARNING +(.+)$/m))[1],
    "--host 0.0.0.0 is not a loopback address: anyone who can reach it can connect, and can call the management API (signatures are not verified)",
  );
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

// Root may listen on any port, so as root the CLI runs as `nobody` (uid 65534), which may not.
const UNPRIVILEGED = process.getuid?.() === 0 ? 65534 : undefined;

test("--port 1 as a user who may not listen there: a hint to pick another and exit status 1, not a bare EACCES", async (t) => {
  const cli = runCli(t, ["--port", "1"], {}, UNPRIVILEGED);
  t.is(await cli.exited(), 1);
  t.is(
    cli.stderr().trim().split("\n").at(-1),
    "Port 1 needs privileges this user does not have (ports below 1024 usually need root). Pick a port from 1024 up, or --port 0 for a free one.",
  );
  t.false(cli.stdout().includes("Press Ctrl+C"));
});

test("a port already in use: a hint to pick another (--port 0) and exit status 1", async (t) => {
  const blocker = createServer();
  const port = await listen(blocker, 0, "127.0.0.1");
  t.teardown(() => blocker.close());
  const cli = runCli(t, ["--port", String(port)]);
  t.is(await cli.exited(), 1);
  t.is(cli.stderr().trim().split("\n").at(-1), `Port ${port} is already in use (another emulator?). Stop that process, or pick another port: --port 0 picks a free one.`);
  t.false(cli.stdout().includes("Press Ctrl+C"));
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
  const { _now } = parseFrame(frame);
  t.true(Number.isInteger(_now) && Math.abs((_now as number) - Date.now()) < 60_000);
  wscat.child.stdin.end();
  t.is(await wscat.exited(), 0);
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

test("bad flags exit with status 2 and name the flag", async (t) => {
  const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [["--fanout-concurrency", "0"], {}, '--fanout-concurrency: must be an integer from 1 to 1024 posts in flight (default 64), got "0"'],
    [["--idle-timeout", "soon"], {}, '--idle-timeout: must be an integer from 1 to 600000 ms (default 600000), got "soon"'],
    [["--throttle-rate", "0"], {}, '--throttle-rate: must be an integer from 1 to 10000 messages per second (default 100), got "0"'],
    [["--throttle-burst", "5001"], {}, '--throttle-burst: must be an integer from 1 to 5000 messages (default 200), got "5001"'],
    [["--stage", "my stage"], {}, '--stage: must be 1 to 128 letters, digits, "-" or "_" (default: dev), got "my stage"'],
    [["--fanout", "parallel"], {}, '--fanout: must be one of direct, sharded (default direct), got "parallel"'],
    [["--shard-size", "0"], {}, '--shard-size: must be an integer from 1 to 10000 receivers per shard job (default 1000), got "0"'],
    [["--max-buffered-bytes", "1000"], {}, '--max-buffered-bytes: must be an integer from 131072 to 1073741824 bytes (default 4194304), got "1000"'],
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
  const marker = { connectionId: "markerMarkerMa=", connectedAt: 1, expiresAt: 2, room: DEFAULT_ROOM };

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
