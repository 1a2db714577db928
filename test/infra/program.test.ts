import test from "ava";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, pulumiRuntimeOptions, runProgram } from "../../harness/program-run";
import { succeeded } from "../helpers/report";
import { assertBroadcastSession } from "../helpers/serialized/session";

// `pulumi preview`/`up` load index.ts as Pulumi.yaml says: node with ts-node's transpile-only
// register (see pulumiNodeArguments in harness/program-run.ts); so do these tests.

test("index.ts loads as Pulumi's Node runtime loads it with Pulumi.yaml's options, and the code it serializes runs a broadcast session", async (t) => {
  const report = await runProgram({ loader: "pulumi" });
  succeeded(t, report);
  const apiId = report.resources.find((resource) => resource.type === "aws:apigatewayv2/api:Api")?.id;
  t.like(report.outputs, { endpoint: `wss://${apiId}.execute-api.ap-northeast-2.amazonaws.com/dev`, stage: "dev" });
  t.deepEqual(Object.keys(report.archives).sort(), ["message-broadcast-dev-connect", "message-broadcast-dev-default", "message-broadcast-dev-disconnect", "message-broadcast-dev-publish"]);
  // tsc compiles reads of a module's own `export const` to `exports.X`, which the serialized
  // module does not have: only its handler may be reached that way.
  for (const [name, archive] of Object.entries(report.archives)) t.deepEqual(archive.indexJs.match(/\bexports\.\w+/g), ["exports.handler"], name);
  // tsc's CommonJS output serializes differently from the tsx loader's, and it is what gets uploaded.
  await assertBroadcastSession(t, report, "message-broadcast-dev");
});

test("Pulumi.yaml loads the program without type-checking it; npm test's tsc does", async (t) => {
  t.deepEqual(pulumiRuntimeOptions(), { typescript: false, nodeargs: "--require ts-node/register/transpile-only", packagemanager: "npm" });
  const dir = fs.mkdtempSync(path.join(ROOT, "test", ".typecheck-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const broken = path.join(dir, "broken.ts");
  fs.writeFileSync(broken, 'const port: number = "3001";\nexport default port;\n');
  // The load does not stop at the type error (it fails later, as this entry is no program).
  const error = await t.throwsAsync(runProgram({ loader: "pulumi", entry: broken }));
  t.notRegex(String(error?.message), /TS2322/);
  t.regex(String(error?.message), /ENOENT|report/);
  const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  t.regex(scripts.test, /tsc --noEmit -p \./);
  const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "--noEmit", "--strict", broken], { encoding: "utf8" });
  t.regex(tsc.stdout, /TS2322: Type 'string' is not assignable to type 'number'/);
});

// A config error stops the program, as `pulumi up` would stop, before anything is registered.
test("program: a bad value stops `pulumi up` before any resource is registered", async (t) => {
  const report = await runProgram({ config: { fanOutConcurrency: "0" } });
  t.deepEqual(report.error, {
    name: "ConfigError",
    message: 'message-broadcast:fanOutConcurrency: must be an integer from 1 to 1024 posts in flight (default 64), got "0"',
  });
  t.deepEqual(report.resources, []);
});

test("program: accessLogging without the CloudWatch role, or too long a stack name, registers nothing", async (t) => {
  const [logging, longName] = await Promise.all([runProgram({ config: { accessLogging: "true" } }), runProgram({ stack: "x".repeat(23) })]);
  t.is(logging.error?.name, "ConfigError");
  t.regex(logging.error?.message ?? "", /^message-broadcast:accessLogging: needs API Gateway's CloudWatch Logs role/);
  t.deepEqual(logging.resources, []);
  t.regex(longName.error?.message ?? "", /^stack name: /);
  t.deepEqual(longName.resources, []);
});
