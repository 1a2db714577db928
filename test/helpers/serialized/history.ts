/**
 * A history session through the code Pulumi would upload (a stack with `history: true`): the
 * serialized route handlers, publish function and (sharded) shard worker behind the emulator, with
 * dynalite's history table.
 */
import type { ExecutionContext } from "ava";
import { DeleteTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { FunctionUrlResult } from "../../../runtime/contract/function-url-event";
import { ENV } from "../../../runtime/config/environment";
import type { FanOutMode } from "../../../runtime/config/settings";
import type { SqsBatchResponse } from "../../../runtime/routes/shard-worker";
import { LOCAL_AWS } from "../../../local/services/dynalite-store";
import type { ProgramReport } from "../../../harness/program-run";
import { closeAll, connect, parseFrame, within } from "../clients";
import { expectNothingBefore, startTestEmulator } from "../emulator";
import { publishTo } from "../publish";
import { LAMBDA_CONTEXT, captureConsole, lateBoundHandlers, loadSerializedHandlers, requireArchive } from "./archive";

/** A history-on emulator whose routes, publish function and (sharded) shard worker are the serialized code. */
async function startHistoryRig(t: ExecutionContext, report: ProgramReport, namePrefix: string, mode: FanOutMode) {
  const late = lateBoundHandlers(5);
  let publish: ((event: unknown) => Promise<FunctionUrlResult>) | undefined;
  let worker: ((event: unknown) => Promise<SqsBatchResponse>) | undefined;
  const { emulator } = await startTestEmulator(
    t,
    { fanout: mode, history: true },
    {
      handlers: late.handlers,
      publish: (event) => (publish ?? fail("publish"))(event),
      shardWorker: (event) => (worker ?? fail("shard worker"))(event),
    },
  );
  const queueUrl = emulator.shardQueueUrl;
  const local: Record<string, string> = {
    [ENV.tableName]: emulator.tableName,
    [ENV.dynamoEndpoint]: emulator.dynamoEndpoint,
    [ENV.managementEndpoint]: emulator.managementEndpoint,
    [ENV.historyTableName]: emulator.historyTableName ?? "",
    ...(queueUrl ? { [ENV.shardQueueUrl]: queueUrl, [ENV.sqsEndpoint]: new URL(queueUrl).origin } : {}),
  };
  late.load(loadSerializedHandlers(t, report, namePrefix, local));
  const publishModule = requireArchive(t, report, `${namePrefix}-publish`, local);
  publish = async (event) => (await publishModule(event, LAMBDA_CONTEXT, () => undefined)) as FunctionUrlResult;
  if (mode === "sharded") {
    const workerModule = requireArchive(t, report, `${namePrefix}-shards`, local);
    worker = async (event) => (await workerModule(event, LAMBDA_CONTEXT, () => undefined)) as SqsBatchResponse;
  }
  return { emulator, disconnects: late.disconnects };
}

/**
 * Three clients in a room: copies carry `_seq` 1, 2…; one drops, a publish and three messages later
 * its reconnection catches up on exactly what the others got live; a late joiner reads the latest;
 * with the history table gone, the sender alone gets Unavailable and publish 503.
 */
export async function assertHistorySession(t: ExecutionContext, report: ProgramReport, namePrefix: string, mode: FanOutMode): Promise<void> {
  const { emulator, disconnects } = await startHistoryRig(t, report, namePrefix, mode);
  const logLines = captureConsole(t);
  const url = `${emulator.endpoint}?room=h`;
  const seqOf = (frame: string) => parseFrame(frame)._seq;

  const [a, b, c] = [await connect(emulator, { url }), await connect(emulator, { url }), await connect(emulator, { url })];
  for (const text of ["one", "two"]) {
    a.ws.send(text);
    await a.next();
  }
  t.deepEqual((await c.nextFrames(2)).map(seqOf), [1, 2]);
  c.ws.terminate();
  await c.closed();
  const published = await publishTo(emulator.publishUrl, '{"score":1}', "h");
  t.is(published.json.seq, 3);
  t.is(seqOf(await a.next()), 3);
  for (const text of ["four", "five", "six"]) {
    a.ws.send(text);
    await a.next();
  }
  const live = [...(await b.nextFrames(6)).slice(2)];
  t.deepEqual(live.map(seqOf), [3, 4, 5, 6]);
  t.regex(live[0], mode === "sharded" ? /^\{"score":1,"_now":\d+,"_server":true,"_seq":3,"_id":"[^"]+","_me":false\}$/ : /^\{"score":1,"_now":\d+,"_server":true,"_seq":3,"_me":false\}$/);

  const back = await connect(emulator, { url });
  back.ws.send('{"_op":"history","since":2}');
  const answer = await back.next();
  t.is(answer, `{"_history":{"messages":[${live.join(",")}],"since":2,"until":6,"more":false,"missed":false},"_now":${String(parseFrame(answer)._now)},"_me":true}`);
  const joiner = await connect(emulator, { url });
  joiner.ws.send('{"_op":"history","limit":2}');
  const latest = parseFrame(await joiner.next())._history;
  t.deepEqual(latest, { messages: live.slice(2).map(parseFrame), since: 4, until: 6, more: false, missed: false });

  // The history table gone: nothing is posted, and nobody hears of it but the sender.
  const dynamo = new DynamoDBClient({ ...LOCAL_AWS, endpoint: emulator.dynamoEndpoint });
  t.teardown(() => dynamo.destroy());
  await dynamo.send(new DeleteTableCommand({ TableName: emulator.historyTableName }));
  a.ws.send("lost");
  t.regex(await a.next(), /^\{"_error":\{"code":"Unavailable","message":"history store unavailable \(ResourceNotFoundException\); message not sent"\},"_now":\d+,"_me":true\}$/);
  const refused = await publishTo(emulator.publishUrl, "lost too", "h");
  t.deepEqual([refused.status, refused.json], [503, { _error: { code: "Unavailable", message: "history store unavailable (ResourceNotFoundException); message not sent" } }]);
  await expectNothingBefore(t, emulator, b);

  await closeAll([a, b, back, joiner]);
  await within(disconnects, "every $disconnect");
  const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.deepEqual(entries.filter((entry) => entry.route === "$default" && entry.seq !== undefined).map((entry) => entry.seq), [1, 2, 4, 5, 6]);
  t.like(entries.find((entry) => entry.route === "publish" && entry.seq === 3), { statusCode: mode === "direct" ? 200 : 202 });
  t.deepEqual(emulator.deadLetters(), []);
  t.false(logLines.some((line) => line.includes("five") || line.includes("score")), "no message contents in the logs");
}

function fail(what: string): never {
  throw new Error(`a request reached the ${what} before the serialized code was loaded`);
}
