/**
 * What each serialized function loads at its cold start, per fan-out and presence mode: a fresh
 * Node process requires the function's `__index.js` with that function's own environment, as
 * Lambda does (the factory builds the handler at load), and records every package the archive's
 * code requires, whether the serializer hoisted it to the top or a factory required it when built.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import { isBuiltin } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { ROOT, runProgram, type ProgramReport } from "../../harness/program-run";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { tokenLibraryEntries } from "../../infra/token-library";
import { functionEnvironment, LAMBDA_NODE } from "../helpers/serialized/archive";
import { FUNCTIONS, once } from "../helpers/report";

const MODES = {
  direct: once(() => runProgram()),
  presence: once(() => runProgram({ config: { presence: "true" } })),
  "sharded with presence": once(() => runProgram({ config: { fanout: "sharded", presence: "true" } })),
};

const STORE = ["@aws-sdk/client-dynamodb", "@aws-sdk/lib-dynamodb"];
const POSTER = ["@aws-sdk/client-apigatewaymanagementapi"];
const QUEUE = ["@aws-sdk/client-sqs"];

/** The packages each function may load, by function name suffix: the store always, the rest only where the route uses them. */
function expectedPackages(suffix: string, mode: { sharded: boolean; presence: boolean }): string[] {
  if (suffix === "connect" || suffix === "disconnect") return [...STORE, ...(mode.presence ? POSTER : [])].sort();
  if (suffix === "default" || suffix === "publish") return [...STORE, ...POSTER, ...(mode.sharded ? QUEUE : [])].sort();
  if (suffix === "shards") return [...STORE, ...POSTER].sort();
  throw new Error(`no expectation for function ${suffix}`);
}

// Records the packages (not Node builtins) that the archive itself requires, then requires it.
const RECORDER = `
const Module = require("node:module");
const archive = process.env.ARCHIVE;
const packages = new Set();
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (parent && parent.filename === archive && !Module.isBuiltin(request)) {
    const inModules = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(request);
    packages.add(inModules ? inModules[1] : request.replace(/\\/dist-cjs\\/index\\.js$/, ""));
  }
  return load.apply(this, arguments);
};
require(archive);
process.stdout.write(JSON.stringify([...packages].sort()));
`;

async function packagesLoaded(report: ProgramReport, functionName: string, dir: string): Promise<string[]> {
  const archive = path.join(dir, `${functionName}.js`);
  await fs.writeFile(archive, report.archives[functionName].indexJs);
  const { stdout } = await promisify(execFile)(LAMBDA_NODE, ["-e", RECORDER], {
    env: {
      PATH: process.env.PATH,
      // As the Lambda runtime provides the SDK.
      NODE_PATH: path.join(ROOT, "node_modules"),
      AWS_REGION: LOCAL_AWS.region,
      AWS_ACCESS_KEY_ID: LOCAL_AWS.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS.credentials.secretAccessKey,
      ...functionEnvironment(report, functionName),
      ARCHIVE: archive,
    },
  });
  return JSON.parse(stdout) as string[];
}

// One program at a time: each takes most of a minute on a busy machine, and ava gives up after two without a result.
for (const [mode, program] of Object.entries(MODES)) {
  test.serial(`archives (${mode}): each function loads only the SDK packages its route uses`, async (t) => {
    const report = await program();
    t.is(report.error, undefined);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "archive-requires-"));
    t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
    const flags = { sharded: mode.startsWith("sharded"), presence: mode.endsWith("presence") };
    const names = Object.keys(report.archives).sort();
    t.deepEqual(
      names.map((name) => name.replace("message-broadcast-dev-", "")),
      [...(flags.sharded ? ["shards"] : []), "connect", "default", "disconnect", "publish"].sort(),
    );
    for (const name of names) {
      const loaded = await packagesLoaded(report, name, dir);
      t.deepEqual(loaded, expectedPackages(name.replace("message-broadcast-dev-", ""), flags), name);
    }
  });
}

// The archives as `pulumi up` uploads them: the program loaded as Pulumi's Node runtime loads it
// (Pulumi.yaml's transpile-only ts-node). tsx compiles modules so that each archive carries every
// export of a module it uses, so its archives are larger than any deploy's.
const deployed = once(() => runProgram({ loader: "pulumi" }));

test("archives: only the serialized handler by default, no @pulumi, @aws-sdk or jose files (no JWT setting: nothing loads jose)", async (t) => {
  const report = await MODES.direct();
  t.deepEqual(Object.keys(report.archives).sort(), FUNCTIONS.map((fn) => `message-broadcast-dev-${fn}`).sort());
  for (const [name, archive] of Object.entries(report.archives)) {
    t.log(`${name}: ${JSON.stringify(archive.files)}`);
    t.deepEqual(Object.keys(archive.files), ["__index.js"]);
    t.regex(archive.indexJs, /exports\.handler = /);
  }
});

test("archives: __index.js requires only Node builtins and the SDK clients the Lambda runtime documents, and stays under 200 KB", async (t) => {
  const report = await MODES.direct();
  // Lambda's Node.js runtimes document the AWS SDK v3 packages as included; @smithy/* are their
  // internals, pinned per runtime release, so the signed poster reaches them only through the client.
  const runtimeProvided = /^@aws-sdk\/(client-apigatewaymanagementapi|client-dynamodb|client-sqs|lib-dynamodb)(\/|$)/;
  // The token verifier's jose entries: only the connect function's code names them.
  const tokenLibrary = tokenLibraryEntries("keySet");
  for (const [name, archive] of Object.entries(report.archives)) {
    // Uncompressed bytes of every file the deployed archive holds: what Lambda unpacks and may load.
    const uploaded = (await deployed()).archives[name];
    const total = Object.values(uploaded.files).reduce((sum, bytes) => sum + bytes, 0);
    t.log(`${name}: ${total} bytes as deployed`);
    t.true(total <= 200 * 1024, `${name}: ${total} bytes`);
    const literal = [...archive.indexJs.matchAll(/\brequire\(("[^"]*")\)/g)].map((match) => JSON.parse(match[1]) as string);
    // Required by the poster factory when it is built (test/infra/archive-requires.test.ts checks which functions build one).
    t.true(literal.includes("@aws-sdk/client-apigatewaymanagementapi"), name);
    const connect = name.endsWith("-connect");
    for (const module of literal) t.true(isBuiltin(module) || runtimeProvided.test(module) || (connect && tokenLibrary.includes(module)), `${name} requires ${module}`);
    if (connect) t.deepEqual(literal.filter((module) => module.startsWith("jose")).sort(), [...tokenLibrary].sort());
    else t.notRegex(archive.indexJs, /jose/, name);
    // The one computed require: the SDK's path encoder, resolved beside the management API client.
    const computed = [...archive.indexJs.matchAll(/\brequire\((?!")/g)].length;
    t.is(computed, 1, `${name}: ${computed} computed requires`);
    t.regex(archive.indexJs, /require\(require\.resolve\(name,\{paths\}\)\)/);
  }
});
