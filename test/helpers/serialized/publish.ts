/**
 * The publish function as Pulumi would upload it: its serialized `__index.js`, driven by the
 * function URL events the emulator builds for `POST /{stage}/@publish`; in sharded mode the
 * serialized shard worker delivers its jobs.
 */
import type { ExecutionContext } from "ava";
import type { FunctionUrlResult } from "../../../runtime/contract/function-url-event";
import { ENV } from "../../../runtime/config/environment";
import type { FanOutMode } from "../../../runtime/config/settings";
import type { ShardWorkerHandler, SqsBatchResponse } from "../../../runtime/routes/shard-worker";
import { closeAll, connect, connectMany } from "../clients";
import { startTestEmulator } from "../emulator";
import type { ProgramReport } from "../../../harness/program-run";
import { expectedCopy, publishTo } from "../publish";
import { LAMBDA_CONTEXT, captureConsole, requireArchive } from "./archive";

function isResult(value: unknown): value is FunctionUrlResult {
  return typeof value === "object" && value !== null && "statusCode" in value && typeof value.statusCode === "number";
}

/** An emulator whose publish function (and, sharded, shard worker) is the serialized code. */
async function startPublishRig(t: ExecutionContext, report: ProgramReport, namePrefix: string, mode: FanOutMode) {
  let loaded: { publish(event: unknown): Promise<FunctionUrlResult>; worker?: ShardWorkerHandler } | undefined;
  const serialized = () => {
    if (!loaded) throw new Error("a request arrived before the serialized code was loaded");
    return loaded;
  };
  const { emulator } = await startTestEmulator(
    t,
    { fanout: mode },
    {
      publish: (event) => serialized().publish(event),
      shardWorker: async (event) => {
        const worker = serialized().worker;
        if (!worker) throw new Error("no serialized worker in direct mode");
        return worker(event);
      },
    },
  );
  const queueUrl = emulator.shardQueueUrl;
  const local: Record<string, string> = {
    [ENV.tableName]: emulator.tableName,
    [ENV.dynamoEndpoint]: emulator.dynamoEndpoint,
    [ENV.managementEndpoint]: emulator.managementEndpoint,
    ...(queueUrl ? { [ENV.shardQueueUrl]: queueUrl, [ENV.sqsEndpoint]: new URL(queueUrl).origin } : {}),
  };
  const publish = requireArchive(t, report, `${namePrefix}-publish`, local);
  const worker = mode === "sharded" ? requireArchive(t, report, `${namePrefix}-shards`, local) : undefined;
  loaded = {
    async publish(event) {
      const result = await publish(event, LAMBDA_CONTEXT, () => undefined);
      if (!isResult(result)) throw new Error(`the publish function returned ${JSON.stringify(result)}`);
      return result;
    },
    worker: worker && (async (event) => (await worker(event, LAMBDA_CONTEXT, () => undefined)) as SqsBatchResponse),
  };
  return emulator;
}

/**
 * Two default-room clients hear a publish once each, `_server` and `_me:false`; a room's publish
 * reaches its member only; a GET gets 405; one log line each, no contents.
 */
export async function assertPublishSession(t: ExecutionContext, report: ProgramReport, namePrefix: string, mode: FanOutMode = "direct"): Promise<void> {
  const emulator = await startPublishRig(t, report, namePrefix, mode);
  const logLines = captureConsole(t);
  const counts = (room: string | null, receivers: number) =>
    mode === "direct" ? { room, receivers, delivered: receivers, gone: 0, failed: 0 } : { room, shards: 1 };

  const clients = await connectMany(emulator, 2);
  const answer = await publishTo(emulator.publishUrl, '{"alert":"deploy done","_server":"forged"}', undefined, { headers: { "content-type": "application/json" } });
  t.is(answer.status, mode === "direct" ? 200 : 202);
  t.deepEqual(answer.json, counts(null, 2));
  const copies = await Promise.all(clients.map((client) => client.next()));
  t.deepEqual(copies, clients.map(() => expectedCopy(mode, copies[0], '{"alert":"deploy done",')));

  // A named room: its member hears it, the default room's clients do not.
  const member = await connect(emulator, { url: `${emulator.endpoint}?room=lobby` });
  const inRoom = await publishTo(emulator.publishUrl, "round 2", "lobby");
  t.deepEqual(inRoom.json, counts("lobby", 1));
  const roomCopy = await member.next();
  t.is(roomCopy, expectedCopy(mode, roomCopy, '{"data":"round 2",'));
  t.deepEqual(clients.map((client) => client.frames.length), [1, 1]);
  clients.push(member);

  const get = await fetch(emulator.publishUrl);
  t.is(get.status, 405);
  t.is(get.headers.get("allow"), "POST");
  await closeAll(clients);

  const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const publishLines = entries.filter((entry) => entry.route === "publish");
  t.like(publishLines, [
    { connectionId: "", statusCode: mode === "direct" ? 200 : 202, receivers: 2 },
    { statusCode: mode === "direct" ? 200 : 202, receivers: 1 },
    { statusCode: 405, error: "MethodNotAllowed" },
  ]);
  t.is(publishLines.length, 3);
  // Sharded: the serialized worker delivered each job, to everyone as `_me:false` (no sender).
  if (mode === "sharded") {
    const shardLines = entries.filter((entry) => entry.route === "shard").map(({ delivered, failed, connectionId }) => [delivered, failed, connectionId]);
    t.deepEqual(shardLines.sort(), [[1, 0, ""], [2, 0, ""]]);
  }
  t.deepEqual(emulator.deadLetters(), []);
  t.false(logLines.some((line) => line.includes("deploy done") || line.includes("round 2")), "no message contents in the logs");
}
