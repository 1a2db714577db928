import test from "ava";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, runProgram } from "../harness/program-run";
import { succeeded } from "./helpers/report";
import { assertBroadcastSession } from "./helpers/serialized";

// `pulumi up` loads index.ts through ts-node with type checking; so do these tests (see
// loaderCommand in harness/program-run.ts), which makes them the slow ones of the suite.

test("index.ts loads under Pulumi's ts-node setup, and the code it serializes runs a broadcast session", async (t) => {
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

test("Pulumi's ts-node setup type-checks: a type error fails the run the way `pulumi up` would", async (t) => {
  const dir = fs.mkdtempSync(path.join(ROOT, "test", ".typecheck-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const broken = path.join(dir, "broken.ts");
  fs.writeFileSync(broken, 'const port: number = "3001";\nexport default port;\n');
  const error = await t.throwsAsync(runProgram({ loader: "pulumi", entry: broken }));
  t.regex(String(error?.message), /TS2322: Type 'string' is not assignable to type 'number'/);
});
