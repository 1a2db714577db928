/**
 * `npm run smoke`: against `npm start` (direct, and sharded with a required token), against a dead
 * port, a silent one and a backend that breaks the contract — exit codes and the verdict line.
 */
import { createServer, type Socket } from "node:net";
import type { ExecutionContext } from "ava";
import test from "ava";
import { WebSocketServer } from "ws";
import { checkContract, smokeMessages, type Received } from "../tools/smoke-contract";
import { frameText } from "../harness/frames";
import { run, startCli } from "./helpers/cli";

const OK_LINE =
  /^smoke OK: 2 clients, 4 messages, each copy exactly once and exact \((no _id: direct|with _id: sharded)\); round trip median \d+ ms, max \d+ ms; other client max \d+ ms — (\S+)\n$/;

async function smoke(t: ExecutionContext, args: string[]) {
  const child = run(t, process.execPath, ["--import", "tsx", "tools/smoke.ts", ...args]);
  const code = await child.exited();
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

test("npm start (direct, open): exit 0, one OK line, the room passed as ?room=", async (t) => {
  const { cli, endpoint } = await startCli(t, ["--port", "0"]);
  const result = await smoke(t, [endpoint, "--room", "lobby"]);
  t.is(result.code, 0, result.stderr);
  const match = OK_LINE.exec(result.stdout);
  t.truthy(match, result.stdout);
  t.is(match?.[1], "no _id: direct");
  t.is(match?.[2], `${endpoint}?room=lobby`);
  t.is(result.stderr, "");
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

test("npm start (sharded, token required): with --token exit 0 and `_id` seen; without, refused 401 with exit 3", async (t) => {
  const { cli, endpoint } = await startCli(t, ["--port", "0", "--fanout", "sharded", "--token", "s3cret"]);
  const [withToken, without, wrong] = await Promise.all([smoke(t, [endpoint, "--token", "s3cret"]), smoke(t, [endpoint]), smoke(t, [endpoint, "--token", "nope"])]);
  t.is(withToken.code, 0, withToken.stderr);
  t.is(OK_LINE.exec(withToken.stdout)?.[1], "with _id: sharded", withToken.stdout);
  t.false(withToken.stdout.includes("s3cret"), "the token is not printed");
  for (const refused of [without, wrong]) {
    t.is(refused.code, 3);
    t.is(refused.stdout, "");
    t.regex(refused.stderr, new RegExp(`^smoke FAILED \\(refused\\): client [AB]: handshake refused with HTTP 401 \\(the token is missing or wrong \\(--token\\)\\); the server said "Unauthorized" — ${endpoint}\\n$`));
  }
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

test("a bad --room: refused with HTTP 400, exit 3, printing the server's reason", async (t) => {
  const { cli, endpoint } = await startCli(t, ["--port", "0"]);
  const result = await smoke(t, [endpoint, "--room", "no spaces"]);
  t.is(result.code, 3);
  t.is(result.stdout, "");
  const [, client, rest] = /^smoke FAILED \(refused\): client ([AB]): (.*)$/s.exec(result.stderr) ?? [];
  t.truthy(client, result.stderr);
  t.is(rest, `handshake refused with HTTP 400; the server said "Bad Request: room must be 1-64 characters of A-Z a-z 0-9 _ . : -" — ${endpoint}?room=no+spaces\n`);
  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
});

test("a dead port: exit 4 at once, naming the refused connection", async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  const result = await smoke(t, [`ws://127.0.0.1:${port}/dev`]);
  t.is(result.code, 4);
  t.regex(result.stderr, new RegExp(`^smoke FAILED \\(unreachable\\): client [AB]: cannot connect: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} — ws://127\\.0\\.0\\.1:${port}/dev\\n$`));
});

test("a port that accepts but never answers: exit 5 after --timeout, not a hang", async (t) => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as { port: number };
  const result = await smoke(t, [`ws://127.0.0.1:${port}/dev`, "--timeout", "1500"]);
  t.is(result.code, 5);
  t.regex(result.stderr, /^smoke FAILED \(timeout\): timed out after 1500 ms waiting for the handshake — ws:\/\/127\.0\.0\.1:\d+\/dev\n$/);
});

test("a backend that echoes raw text to everyone: exit 1, contract mismatch named", async (t) => {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  t.teardown(() => server.close());
  server.on("connection", (ws) => ws.on("message", (data) => server.clients.forEach((client) => client.send(frameText(data)))));
  const { port } = server.address() as { port: number };
  const result = await smoke(t, [`ws://127.0.0.1:${port}/dev`, "--timeout", "5000"]);
  t.is(result.code, 1);
  t.regex(result.stderr, /^smoke FAILED \(mismatch\): contract mismatch: A's copy of A's text message is not JSON: smoke-\w+-0 plain text from A — /);
});

test("a backend that answers only the sender: exit 5, naming the copy it waited for", async (t) => {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  t.teardown(() => server.close());
  server.on("connection", (ws) => ws.on("message", (data) => ws.send(JSON.stringify({ data: frameText(data), _now: Date.now(), _me: true }))));
  const { port } = server.address() as { port: number };
  const result = await smoke(t, [`ws://127.0.0.1:${port}/dev`, "--timeout", "3000"]);
  t.is(result.code, 5);
  t.regex(result.stderr, /^smoke FAILED \(timeout\): timed out after 3000 ms waiting for both copies of A's text message smoke-\w+-0 — /);
});

test("--timeout above 15 s, or no URL: usage error, exit 2", async (t) => {
  const [tooLong, none] = await Promise.all([smoke(t, ["ws://127.0.0.1:1/dev", "--timeout", "20000"]), smoke(t, [])]);
  t.is(tooLong.code, 2);
  t.regex(tooLong.stderr, /--timeout must be 1 to 15000 ms, got "20000"/);
  t.is(none.code, 2);
  t.regex(none.stderr, /usage: npm run smoke -- <wss-url> \[--token T\] \[--room R\] \[--timeout MS\]/);
});

const USAGE_TEXT = `usage: npm run smoke -- <wss-url> [--token T] [--room R] [--timeout MS]
  <wss-url>       the stage's endpoint: wss://… deployed (pulumi stack output endpoint), ws://… for npm start
  --token T       the access token, sent as Authorization: Bearer T
  --room R        connect both clients to room R (?room=R)
  --timeout MS    bound on the whole run, 1-15000 (default 15000)
exit: 0 ok, 1 contract mismatch, 2 usage, 3 handshake refused, 4 unreachable, 5 timeout
`;

test("--help, an unknown option, a missing value: exit 2, `smoke FAILED (usage)` and the usage text", async (t) => {
  const [help, bogus, missing] = await Promise.all([smoke(t, ["--help"]), smoke(t, ["ws://127.0.0.1:1/dev", "--bogus"]), smoke(t, ["ws://127.0.0.1:1/dev", "--token"])]);
  for (const result of [help, bogus, missing]) {
    t.is(result.code, 2);
    t.is(result.stdout, "");
  }
  t.is(help.stderr, `smoke FAILED (usage): help requested (--help)\n${USAGE_TEXT}`);
  t.is(bogus.stderr, `smoke FAILED (usage): Unknown option '--bogus'\n${USAGE_TEXT}`);
  t.is(missing.stderr, `smoke FAILED (usage): Option '--token <value>' argument missing\n${USAGE_TEXT}`);
});

// The contract check itself, on copies a broken backend could send.
const messages = smokeMessages("n0nce");
const stamp = (extra: string) => `,"_now":1700000000000${extra}`;
function copies(idFor: (index: number) => string = () => ""): { A: Received[]; B: Received[] } {
  const copy = (index: number, me: boolean) => {
    const message = messages[index];
    const body = message.object ? message.text.slice(0, -1) : `{"data":${JSON.stringify(message.text)}`;
    return { text: `${body}${stamp(idFor(index))},"_me":${me}}`, at: 0 };
  };
  return {
    A: messages.map((message, index) => copy(index, message.from === "A")),
    B: messages.map((message, index) => copy(index, message.from === "B")),
  };
}

test("contract: exact copies pass, with or without `_id` in all of them", (t) => {
  t.deepEqual(checkContract(messages, copies()), { withId: false });
  t.deepEqual(checkContract(messages, copies((index) => `,"_id":"id${index}AAAAAAAAAAAA="`)), { withId: true });
});

test("contract: a duplicate, `_id` in some copies only, a wrong `_me`, an error frame", (t) => {
  const duplicated = copies();
  duplicated.B.push(duplicated.B[0]);
  t.regex(checkContract(messages, duplicated).mismatch ?? "", /^B got 2 copies of A's message smoke-n0nce-0, expected 1$/);
  t.regex(checkContract(messages, copies((index) => (index === 0 ? `,"_id":"only"` : ""))).mismatch ?? "", /^_id in the copies of 1 of 4 messages: all or none$/);
  const wrongMe = copies();
  wrongMe.B[0] = { text: wrongMe.A[0].text, at: 0 };
  t.is(checkContract(messages, wrongMe).mismatch, "B's copy of A's text message has _me true, expected false");
  const errored = copies();
  errored.A.push({ text: '{"_error":{"code":"Throttled","message":"x"},"_now":1,"_me":true}', at: 0 });
  t.regex(checkContract(messages, errored).mismatch ?? "", /^A got an error frame: /);
});
