/** `npm start -- --jwt-secret S` and `npm run token` as a user runs them: child processes and real clients. */
import test from "ava";
import { openClient, parseFrame } from "../helpers/clients";
import { run, runCli, startCli } from "../helpers/cli";
import { SECRET } from "../helpers/tokens";

test("--jwt-secret: the banner prints two sample tokens that connect as alice and as read-only bob", async (t) => {
  const { cli, endpoint } = await startCli(t, ["--port", "0", "--jwt-secret", SECRET]);
  t.regex((await cli.output(/Identity\s+(.+)/))[1], /^signed tokens required/);
  const alice = (await cli.output(/alice\s+\S+\?token=(\S+)/))[1];
  const bob = (await cli.output(/bob\s+\S+\?token=(\S+)\s+\(read-only\)/))[1];
  const [a, b] = [await openClient(`${endpoint}?token=${alice}`), await openClient(`${endpoint}?token=${bob}`)];
  a.ws.send("hi");
  t.like(parseFrame(await a.next()), { data: "hi", _from: "alice", _me: true });
  t.like(parseFrame(await b.next()), { data: "hi", _from: "alice", _me: false });
  b.ws.send("me too");
  t.like(parseFrame(await b.next()), { _error: { code: "Forbidden" } });
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

test("two ways of checking tokens at once, or a short secret: exit 2 naming the flags", async (t) => {
  const both = runCli(t, ["--token", "x", "--jwt-secret", SECRET]);
  t.is(await both.exited(), 2);
  t.is(both.stderr().split("\n")[0], "--token, --jwt-secret: at most one of --token, --jwt-secret and --jwks-url may be set");
  const short = runCli(t, ["--jwt-secret", "short"]);
  t.is(await short.exited(), 2);
  t.regex(short.stderr(), /^--jwt-secret: must be at least 32 bytes/);
});

test("npm run token: a token the emulator admits with its rooms, meta and read-only flag", async (t) => {
  const token = run(t, "npx", ["tsx", "tools/token.ts", "--sub", "carol", "--room", "match-*", "--meta", '{"name":"Carol"}', "--read-only", "--ttl", "60", "--secret", SECRET]);
  t.is(await token.exited(), 0);
  const [, payload] = token.stdout().trim().split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
  t.like(claims, { sub: "carol", rooms: ["match-*"], publish: false, meta: { name: "Carol" } });
  t.is(Number(claims.exp) - Number(claims.iat), 60);
  const bad = run(t, "npx", ["tsx", "tools/token.ts", "--sub", "carol", "--meta", "[1]", "--secret", SECRET]);
  t.is(await bad.exited(), 2);
  t.regex(bad.stderr(), /^--meta must be a JSON object of at most 512 bytes/);
});
