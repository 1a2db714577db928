/**
 * The built client library, as its users load it: `message-broadcast/client` through package.json
 * `exports` from CommonJS and from ESM in plain Node (no tsx), its type declarations from a
 * TypeScript consumer of each kind, and the browser script defining `MessageBroadcast`.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { runInNewContext } from "node:vm";
import test from "ava";
import { buildClient } from "../../client/build";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "..", "..");
const CONSUMER = join(__dirname, "..", ".typecheck-client");

test.before(async () => {
  await buildClient();
});

test("require('message-broadcast/client') and import() both give connect, in plain Node", async (t) => {
  const probe = "typeof m.connect + ' ' + Object.keys(m).sort().join(',')";
  const cjs = await run(process.execPath, ["-e", `const m = require("message-broadcast/client"); console.log(${probe})`], { cwd: ROOT });
  t.is(cjs.stdout.trim(), "function connect");
  const esm = await run(process.execPath, ["--input-type=module", "-e", `const m = await import("message-broadcast/client"); console.log(${probe})`], { cwd: ROOT });
  t.is(esm.stdout.trim(), "function connect");
});

test("the ESM build connects through ws in plain Node: the state goes to closed on close()", async (t) => {
  const script = `
    import { connect } from "message-broadcast/client";
    import WebSocket from "ws";
    const conn = connect("ws://127.0.0.1:1/dev", { WebSocket });
    const states = [conn.state];
    conn.on("state", (s) => states.push(s));
    conn.close();
    console.log(states.join(","), conn.send("x"));`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT });
  t.is(stdout.trim(), "connecting,closed false");
});

test("the declarations type-check a CommonJS and an ESM consumer, and catch a wrong event name", async (t) => {
  await rm(CONSUMER, { recursive: true, force: true });
  await mkdir(CONSUMER, { recursive: true });
  const consumer = `import { connect, type Connection } from "message-broadcast/client";
const conn: Connection = connect("ws://localhost:3001/dev", { room: "red", history: true, backoff: { maxMs: 10_000 } });
const off: () => void = conn.on("message", (m) => m._seq);
conn.on("gap", ({ since, until }) => since + until);
conn.on("error", (e) => e.code.length);
conn.on("state", (s) => { const known: "connecting" | "open" | "reconnecting" | "closed" = s; return known; });
export const sent: boolean = conn.send({ type: "chat" });
void conn.members().then((roster) => roster.members.map((member) => member.user));
off();
`;
  await writeFile(join(CONSUMER, "consumer.cts"), consumer);
  await writeFile(join(CONSUMER, "consumer.mts"), consumer);
  await writeFile(join(CONSUMER, "wrong.mts"), 'import { connect } from "message-broadcast/client";\nconnect("ws://x").on("mesage", () => undefined);\n');
  // Strict, no DOM and no Node declarations, and the library's own .d.ts checked too (skipLibCheck off).
  const options = { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022"], types: [], skipLibCheck: false };
  const check = async (files: string[]) => {
    await writeFile(join(CONSUMER, "tsconfig.json"), JSON.stringify({ compilerOptions: options, files }));
    return run(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", CONSUMER], { cwd: ROOT }).then(
      () => "",
      (err: { stdout: string }) => err.stdout,
    );
  };
  t.is(await check(["consumer.cts", "consumer.mts"]), "");
  const wrong = await check(["wrong.mts"]);
  t.regex(wrong, /"mesage"/);
});

test("the browser script defines MessageBroadcast.connect and nothing else global", async (t) => {
  const script = await readFile(join(ROOT, "client", "dist", "client.js"), "utf8");
  const sandbox: Record<string, unknown> = {};
  runInNewContext(script, sandbox);
  t.deepEqual(Object.keys(sandbox), ["MessageBroadcast"]);
  t.is(typeof (sandbox.MessageBroadcast as { connect: unknown }).connect, "function");
});
