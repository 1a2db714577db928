/**
 * The code Pulumi would upload for stacks with signed tokens: the serialized `$connect` verifies
 * HS256 (jwtSecret, direct fan-out) and ES256 from a key set over HTTP (jwksUrl, sharded fan-out)
 * with the part of jose its archive carries, and the other functions stamp `_from`, refuse a
 * read-only sender and answer members. The loader (test/helpers/serialized/archive.ts) fails a function
 * that loads a package its archive carries from anywhere but the archive.
 */
import test from "ava";
import type { ExecutionContext } from "ava";
import { ENV } from "../../runtime/config/environment";
import type { ShardWorkerHandler, SqsBatchResponse } from "../../runtime/routes/shard-worker";
import type { FanOutMode } from "../../runtime/config/settings";
import { runProgram, type ProgramReport, type RunOptions } from "../../harness/program-run";
import { closeAll, connect, handshakeStatus, parseFrame, within } from "../helpers/clients";
import { startTestEmulator } from "../helpers/emulator";
import { idPart } from "../helpers/modes";
import { once, one, succeeded } from "../helpers/report";
import { tokenLibraryFiles } from "../../infra/token-library";
import { LAMBDA_CONTEXT, captureConsole, lateBoundHandlers, loadSerializedHandlers, requireArchive } from "../helpers/serialized/archive";
import { openTable } from "../helpers/table";
import { SECRET, es256Key, sign, startKeySetServer, unsecured, type Claims, type SigningKey } from "../helpers/tokens";

const PREFIX = "message-broadcast-dev";

async function session(t: ExecutionContext, report: ProgramReport, mode: FanOutMode, connectLocal: Record<string, string>, key?: SigningKey): Promise<void> {
  let worker: ShardWorkerHandler | undefined;
  const late = lateBoundHandlers(2);
  const { emulator } = await startTestEmulator(t, { fanout: mode }, {
    handlers: late.handlers,
    shardWorker: async (event) => {
      if (!worker) throw new Error("a shard job arrived before the serialized worker was loaded");
      return worker(event);
    },
  });
  const queueUrl = emulator.shardQueueUrl;
  const environment = {
    [ENV.tableName]: emulator.tableName,
    [ENV.dynamoEndpoint]: emulator.dynamoEndpoint,
    [ENV.managementEndpoint]: emulator.managementEndpoint,
    ...(queueUrl === undefined ? {} : { [ENV.shardQueueUrl]: queueUrl, [ENV.sqsEndpoint]: new URL(queueUrl).origin }),
  };
  late.load(loadSerializedHandlers(t, report, PREFIX, environment, { connect: connectLocal }));
  if (mode === "sharded") {
    const workerModule = requireArchive(t, report, `${PREFIX}-shards`, environment);
    worker = async (event) => (await workerModule(event, LAMBDA_CONTEXT, () => undefined)) as SqsBatchResponse;
  }
  const logLines = captureConsole(t);
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const token = (claims: Claims) => sign(claims, key ? { key } : {});
  const url = async (claims: Claims) => `${emulator.endpoint}?room=match-1&token=${await token({ rooms: ["match-*"], ...claims })}`;

  t.is(await handshakeStatus(`${emulator.endpoint}?room=match-1&token=${unsecured({ sub: "mallory" })}`), 401);
  t.is(await handshakeStatus(`${emulator.endpoint}?token=${await token({ sub: "alice", rooms: ["match-*"] })}`), 403);
  const alice = await connect(emulator, { url: await url({ sub: "alice", meta: { name: "Alice" } }) });
  const bob = await connect(emulator, { url: await url({ sub: "bob", publish: false }) });
  // Presence is on in these stacks: alice hears bob join, by name.
  t.deepEqual(parseFrame(await alice.next())._presence, { event: "join", count: 2, user: "bob" });
  t.like(await table.get(alice.id), { user: "alice", meta: '{"name":"Alice"}' });

  alice.ws.send('{"move":"e4","_from":"bob"}');
  const own = await alice.next();
  const { _now: now, _id } = JSON.parse(own) as { _now: number; _id?: string };
  t.is(own, `{"move":"e4","_now":${now},"_from":"alice",${idPart(mode, _id)}"_me":true}`);
  t.is(await bob.next(), `{"move":"e4","_now":${now},"_from":"alice",${idPart(mode, _id)}"_me":false}`);
  bob.ws.send("let me speak");
  t.like(parseFrame(await bob.next()), { _error: { code: "Forbidden", message: "this connection may not publish" }, _me: true });
  bob.ws.send('{"_op":"members"}');
  t.deepEqual(parseFrame(await bob.next())._presence, {
    event: "members",
    count: 2,
    members: [
      { user: "alice", meta: { name: "Alice" }, connections: 1 },
      { user: "bob", connections: 1 },
    ],
  });
  bob.ws.close();
  t.deepEqual(parseFrame(await alice.next())._presence, { event: "leave", count: 1, user: "bob" });
  await closeAll([alice]);
  await within(late.disconnects, "every $disconnect");
  const refusals = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.route === "$connect" && entry.statusCode !== 200);
  t.deepEqual(refusals.map((entry) => [entry.statusCode, entry.reason]), [[401, "alg not allowed"], [403, "room not granted"]]);
}

const secretStack = once(() => runProgram({ config: { jwtSecret: SECRET, presence: "true" }, secrets: ["jwtSecret"] }));
const keySetStack = once(() => runProgram({ config: { jwksUrl: "https://id.example/.well-known/jwks.json", presence: "true", fanout: "sharded" } }));

test("serialized code, jwtSecret, direct fan-out: HS256 tokens verified by the connect archive's jose", async (t) => {
  const report = await secretStack();
  succeeded(t, report);
  await session(t, report, "direct", {});
});

test("serialized code, jwksUrl, sharded fan-out: ES256 tokens from a key set over HTTP", async (t) => {
  const report = await keySetStack();
  succeeded(t, report);
  const key = await es256Key("2026-01");
  const keySet = await startKeySetServer(t, [key]);
  // The stack's https:// URL, replaced by the local key set (plain HTTP is allowed on loopback).
  await session(t, report, "sharded", { [ENV.jwksUrl]: keySet.url }, key);
  t.is(keySet.fetches(), 1, "one fetch per container");
});

const variables = (report: ProgramReport, fn: string) => {
  const environment = one(report, "aws:lambda/function:Function", `${PREFIX}-${fn}`).inputs.environment as { variables?: Record<string, unknown> } | undefined;
  return environment?.variables ?? {};
};

test("infra: the JWT secret reaches only the connect function, as a secret; the key set URL, issuer and audience only it too", async (t) => {
  const report = await secretStack();
  t.like(variables(report, "connect"), { JWT_SECRET: SECRET });
  t.deepEqual(one(report, "aws:lambda/function:Function", `${PREFIX}-connect`).secretInputs, ["environment"]);
  for (const fn of ["disconnect", "default", "publish"]) {
    t.false(Object.keys(variables(report, fn)).some((key) => key.startsWith("JWT") || key === "JWKS_URL"), fn);
    t.deepEqual(one(report, "aws:lambda/function:Function", `${PREFIX}-${fn}`).secretInputs, [], fn);
  }
  const keySet = await keySetStack();
  t.like(variables(keySet, "connect"), { JWKS_URL: "https://id.example/.well-known/jwks.json" });
  for (const fn of ["disconnect", "default", "publish", "shards"]) t.false(Object.keys(variables(keySet, fn)).includes("JWKS_URL"), fn);
});

// Uncompressed bytes of every file a function's archive holds: what Lambda unpacks and may load.
const archiveBytes = (archive: ProgramReport["archives"][string]) => Object.values(archive.files).reduce((sum, bytes) => sum + bytes, 0);

test("archives: the connect function carries the jose files its token check loads; no other function carries jose", async (t) => {
  for (const [report, check] of [[await secretStack(), "secret"], [await keySetStack(), "keySet"]] as const) {
    for (const [name, archive] of Object.entries(report.archives)) {
      const jose = Object.keys(archive.files).filter((file) => file !== "__index.js");
      t.log(`${check} ${name}: ${archiveBytes(archive)} bytes (__index.js ${archive.files["__index.js"]}, ${jose.length} jose files)`);
      if (!name.endsWith("-connect")) {
        t.deepEqual(jose, [], name);
        t.notRegex(archive.indexJs, /jose/, name);
        continue;
      }
      t.deepEqual(jose.sort(), tokenLibraryFiles(check));
      // The CommonJS build's verification code and its package.json: no browser or ESM copy, no signing or encryption.
      t.true(jose.every((file) => file === "node_modules/jose/package.json" || file.startsWith("node_modules/jose/dist/node/cjs/")));
      t.false(jose.some((file) => /\/(jwe|jwt\/sign|jwt\/encrypt|jws\/.*sign)/.test(file)), "nothing for signing or encryption");
      t.is(jose.some((file) => file.endsWith("jwks/remote.js")), check === "keySet");
    }
  }
});

// The connect archive as `pulumi up` uploads it: the program loaded the way Pulumi's Node runtime
// loads it (Pulumi.yaml's transpile-only ts-node), not with tsx, whose compiled modules carry every
// export into each archive that uses one of them.
test("archives: with a JWT setting the connect function's archive, as pulumi up builds it, stays within 200 KB", async (t) => {
  const stacks: RunOptions[] = [
    { config: { jwtSecret: SECRET, presence: "true" }, secrets: ["jwtSecret"] },
    { config: { jwksUrl: "https://id.example/.well-known/jwks.json", presence: "true", fanout: "sharded" } },
  ];
  for (const stack of stacks) {
    const report = await runProgram({ ...stack, loader: "pulumi" });
    const [name, archive] = Object.entries(report.archives).find(([fn]) => fn.endsWith("-connect")) ?? [];
    if (name === undefined || archive === undefined) return t.fail("no connect function");
    t.log(`${name}: ${archiveBytes(archive)} bytes`);
    t.true(archiveBytes(archive) <= 200 * 1024, `${name}: ${archiveBytes(archive)} bytes`);
  }
});
