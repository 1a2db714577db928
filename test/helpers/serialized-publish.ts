/**
 * The publish function as Pulumi would upload it: its serialized `__index.js`, driven by the
 * function URL events the emulator builds for `POST /{stage}/@publish`.
 */
import type { ExecutionContext } from "ava";
import type { FunctionUrlResult } from "../../runtime/function-url";
import { ENV } from "../../runtime/lambda";
import { closeAll, connect, connectMany } from "./clients";
import { startTestEmulator } from "./emulator";
import type { ProgramReport } from "./program-run";
import { expectedCopy, publishTo } from "./publish";
import { LAMBDA_CONTEXT, captureConsole, requireArchive } from "./serialized";

function isResult(value: unknown): value is FunctionUrlResult {
  return typeof value === "object" && value !== null && "statusCode" in value && typeof value.statusCode === "number";
}

/**
 * Two default-room clients hear a publish once each, `_server` and `_me:false`; a room's publish
 * reaches its member only; a GET gets 405; one log line each, no contents.
 */
export async function assertPublishSession(t: ExecutionContext, report: ProgramReport, namePrefix: string): Promise<void> {
  let handler: ((event: unknown) => Promise<FunctionUrlResult>) | undefined;
  const { emulator } = await startTestEmulator(t, {
    publish: (event) => {
      if (!handler) throw new Error("a publish arrived before the serialized code was loaded");
      return handler(event);
    },
  });
  const exported = requireArchive(t, report, `${namePrefix}-publish`, {
    [ENV.tableName]: emulator.tableName,
    [ENV.dynamoEndpoint]: emulator.dynamoEndpoint,
    [ENV.managementEndpoint]: emulator.managementEndpoint,
  });
  handler = async (event) => {
    const result = await exported(event, LAMBDA_CONTEXT, () => undefined);
    if (!isResult(result)) throw new Error(`the publish function returned ${JSON.stringify(result)}`);
    return result;
  };
  const logLines = captureConsole(t);

  const clients = await connectMany(emulator, 2);
  const answer = await publishTo(emulator.publishUrl, '{"alert":"deploy done","_server":"forged"}', undefined, { headers: { "content-type": "application/json" } });
  t.is(answer.status, 200);
  t.deepEqual(answer.json, { room: null, receivers: 2, delivered: 2, gone: 0, failed: 0 });
  const copies = await Promise.all(clients.map((client) => client.next()));
  t.deepEqual(copies, clients.map(() => expectedCopy("direct", copies[0], '{"alert":"deploy done",')));

  // A named room: its member hears it, the default room's clients do not.
  const member = await connect(emulator, { url: `${emulator.endpoint}?room=lobby` });
  const inRoom = await publishTo(emulator.publishUrl, "round 2", "lobby");
  t.deepEqual(inRoom.json, { room: "lobby", receivers: 1, delivered: 1, gone: 0, failed: 0 });
  const roomCopy = await member.next();
  t.is(roomCopy, expectedCopy("direct", roomCopy, '{"data":"round 2",'));
  t.deepEqual(clients.map((client) => client.frames.length), [1, 1]);
  clients.push(member);

  const get = await fetch(emulator.publishUrl);
  t.is(get.status, 405);
  t.is(get.headers.get("allow"), "POST");
  await closeAll(clients);

  const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.like(entries, [
    { route: "publish", connectionId: "", statusCode: 200, receivers: 2, delivered: 2 },
    { route: "publish", statusCode: 200, receivers: 1, delivered: 1 },
    { route: "publish", statusCode: 405, error: "MethodNotAllowed" },
  ]);
  t.is(entries.length, 3);
  t.false(logLines.some((line) => line.includes("deploy done") || line.includes("round 2")), "no message contents in the logs");
}
