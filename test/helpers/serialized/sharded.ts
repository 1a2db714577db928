/**
 * The sharded session through the code Pulumi would upload: the serialized route handlers and
 * shard worker behind the emulator, with the local stand-in for SQS delivery between them.
 */
import type { ExecutionContext } from "ava";
import { LOCAL_AWS } from "../../../local/services/dynalite-store";
import { ENV } from "../../../runtime/config/environment";
import type { ShardWorkerHandler, SqsBatchResponse } from "../../../runtime/routes/shard-worker";
import { AWS_ID, closeAll, connectMany, within } from "../clients";
import { startTestEmulator } from "../emulator";
import { startHttpsStandIn, verifySigV4 } from "../https-stand-in";
import type { ProgramReport } from "../../../harness/program-run";
import { LAMBDA_CONTEXT, captureConsole, lateBoundHandlers, loadSerializedHandlers, requireArchive } from "./archive";
import { openTable } from "../table";

function isBatchResponse(value: unknown): value is SqsBatchResponse {
  return typeof value === "object" && value !== null && "batchItemFailures" in value && Array.isArray(value.batchItemFailures);
}

/** A sharded emulator whose routes and shard worker are the serialized code, posting through an HTTPS stand-in. */
async function startShardedRig(t: ExecutionContext, report: ProgramReport, namePrefix: string) {
  let worker: ShardWorkerHandler | undefined;
  const late = lateBoundHandlers(3);
  const { emulator } = await startTestEmulator(
    t,
    { fanout: "sharded" },
    {
      handlers: late.handlers,
      shardWorker: (event) => {
        if (!worker) throw new Error("a shard job arrived before the serialized worker was loaded");
        return worker(event);
      },
    },
  );
  const queueUrl = emulator.shardQueueUrl ?? "";
  // The workers post over HTTPS, as to API Gateway, to a stand-in that relays to the emulator.
  const standIn = await startHttpsStandIn(t, { forwardTo: emulator.managementEndpoint });
  const local = {
    [ENV.tableName]: emulator.tableName,
    [ENV.dynamoEndpoint]: emulator.dynamoEndpoint,
    [ENV.managementEndpoint]: standIn.endpoint,
    // Node trusts the stand-in's certificate authority as well as its own (the archive has no hook for it).
    NODE_EXTRA_CA_CERTS: standIn.caFile,
    [ENV.shardQueueUrl]: queueUrl,
    [ENV.sqsEndpoint]: new URL(queueUrl).origin,
    // One receiver per shard, so one message makes several worker invocations.
    [ENV.shardSize]: "1",
  };
  late.load(loadSerializedHandlers(t, report, namePrefix, local));
  const workerModule = requireArchive(t, report, `${namePrefix}-shards`, local);
  worker = async (event) => {
    const result = await workerModule(event, LAMBDA_CONTEXT, () => undefined);
    if (!isBatchResponse(result)) throw new Error(`the worker returned ${JSON.stringify(result)}`);
    return result;
  };
  return { emulator, standIn, disconnects: late.disconnects };
}

/**
 * Three clients, shards of one receiver each: every copy carries the same `_id` with `_me` only in
 * the sender's, each worker invocation logs one line, nothing is dead-lettered.
 */
export async function assertShardedSession(t: ExecutionContext, report: ProgramReport, namePrefix: string): Promise<void> {
  const { emulator, standIn, disconnects } = await startShardedRig(t, report, namePrefix);
  const logLines = captureConsole(t);
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);

  const clients = await connectMany(emulator, 3);
  const [a, b, c] = clients;
  t.deepEqual(await table.ids(), clients.map((client) => client.id).sort());
  a.ws.send('{"type":"chat","text":"hi"}');
  const [fromA, atB, atC] = await Promise.all([a.next(), b.next(), c.next()]);
  const { _now: now, _id: id } = JSON.parse(fromA) as { _now: number; _id: string };
  t.regex(id, AWS_ID);
  t.is(fromA, `{"type":"chat","text":"hi","_now":${now},"_id":"${id}","_me":true}`);
  t.is(atB, `{"type":"chat","text":"hi","_now":${now},"_id":"${id}","_me":false}`);
  t.is(atC, atB);

  await closeAll(clients);
  await within(disconnects, "three $disconnect invocations");
  const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.like(
    entries.find((entry) => entry.route === "$default"),
    { statusCode: 200, receivers: 3, shards: 3 },
  );
  const workerLines = entries.filter((entry) => entry.route === "shard");
  t.is(workerLines.length, 3);
  for (const line of workerLines) t.like(line, { statusCode: 200, receivers: 1, delivered: 1, failed: 0, requestId: id, connectionId: a.id });
  t.deepEqual(emulator.deadLetters(), []);
  t.false(logLines.some((line) => line.includes("chat")), "no message contents in the logs");
  // One signed PostToConnection per receiver, each signature recomputed by aws4.
  t.is(standIn.requests.length, 3);
  for (const request of standIn.requests) {
    const { sent, expected } = verifySigV4(request, LOCAL_AWS.credentials, LOCAL_AWS.region);
    t.is(sent, expected);
  }
}
