/**
 * A whole broadcast session through the emulator with every route served by the serialized code
 * (./archive.ts loads it): what the program test and the serialized test both assert.
 */
import type { ExecutionContext } from "ava";
import type { HandlerResult, WebSocketEvent } from "../../../runtime/contract/websocket-event";
import type { Handlers } from "../../../runtime/routes/handlers";
import { ENV } from "../../../runtime/config/environment";
import type { ProgramReport } from "../../../harness/program-run";
import { LOCAL_AWS } from "../../../local/services/dynalite-store";
import { closeAll, connectMany, within } from "../clients";
import { startTestEmulator } from "../emulator";
import { startHttpsStandIn, verifySigV4, type HttpsStandIn } from "../https-stand-in";
import { openTable } from "../table";
import { captureConsole, loadSerializedHandlers } from "./archive";

/**
 * An emulator whose routes are the serialized code, posting over HTTPS to a stand-in that relays
 * to it; `disconnected(id)` settles with that connection's `$disconnect` result.
 */
async function startSessionRig(t: ExecutionContext, report: ProgramReport, namePrefix: string) {
  let serialized: Handlers | undefined;
  const invocations: Array<Promise<HandlerResult>> = [];
  const invoke = (route: keyof Handlers) => (event: WebSocketEvent) => {
    if (!serialized) throw new Error("a connection arrived before the serialized handlers were loaded");
    const invocation = serialized[route](event);
    invocations.push(invocation);
    return invocation;
  };
  // `$disconnect` runs after the socket has closed; the test waits for its result, not a delay.
  const disconnects = new Map<string, (result: HandlerResult) => void>();
  const disconnected = (connectionId: string) =>
    within(new Promise<HandlerResult>((resolve) => disconnects.set(connectionId, resolve)), `$disconnect of ${connectionId}`);
  const { emulator } = await startTestEmulator(
    t,
    {},
    {
      handlers: {
        connect: invoke("connect"),
        message: invoke("message"),
        disconnect: async (event) => {
          const result = await invoke("disconnect")(event);
          disconnects.get(event.requestContext.connectionId)?.(result);
          return result;
        },
      },
    },
  );
  // The serialized code posts over HTTPS, as to API Gateway, to a stand-in that relays to the emulator.
  const standIn = await startHttpsStandIn(t, { forwardTo: emulator.managementEndpoint });
  serialized = loadSerializedHandlers(t, report, namePrefix, {
    [ENV.tableName]: emulator.tableName,
    [ENV.dynamoEndpoint]: emulator.dynamoEndpoint,
    [ENV.managementEndpoint]: standIn.endpoint,
    // Node trusts the stand-in's certificate authority as well as its own (the archive has no hook for it).
    NODE_EXTRA_CA_CERTS: standIn.caFile,
  });
  return { emulator, standIn, invocations, disconnected };
}

/**
 * Three clients through the emulator, every route served by the serialized code: each message
 * reaches everyone exactly once with `_me` only in the sender's copy, an error goes to the sender
 * only, a closed connection's row is gone and it hears nothing more, and every invocation logs
 * one JSON line without the message.
 */
export async function assertBroadcastSession(t: ExecutionContext, report: ProgramReport, namePrefix: string): Promise<void> {
  const { emulator, standIn, invocations, disconnected } = await startSessionRig(t, report, namePrefix);
  const logLines = captureConsole(t);
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);

  const [a, b, c] = await connectMany(emulator, 3);
  t.deepEqual(await table.ids(), [a.id, b.id, c.id].sort(), "$connect recorded every connection");

  a.ws.send('{"type":"chat","text":"hi","_me":false}');
  const [fromA, atB, atC] = await Promise.all([a.next(), b.next(), c.next()]);
  const now = (JSON.parse(fromA) as { _now: number })._now;
  t.true(Number.isInteger(now));
  t.is(fromA, `{"type":"chat","text":"hi","_now":${now},"_me":true}`);
  t.is(atB, `{"type":"chat","text":"hi","_now":${now},"_me":false}`);
  t.is(atC, atB);

  // Too deep to re-serialize: only the sender hears about it.
  b.ws.send(`${"[".repeat(600)}${"]".repeat(600)}`);
  t.like(JSON.parse(await b.next()), { _error: { code: "NestingTooDeep", limit: 512 }, _me: true });

  const cGone = disconnected(c.id);
  c.ws.close();
  t.is((await cGone).statusCode, 200);
  t.false((await table.ids()).includes(c.id), "$disconnect removed the row");

  // Exactly once, and not to the departed: the next frame A and B get is this one.
  b.ws.send("plain words");
  const [atA, fromB] = await Promise.all([a.next(), b.next()]);
  const later = (JSON.parse(fromB) as { _now: number })._now;
  t.is(atA, `{"data":"plain words","_now":${later},"_me":false}`);
  t.is(fromB, `{"data":"plain words","_now":${later},"_me":true}`);
  t.deepEqual([a.frames.length, b.frames.length, c.frames.length], [2, 3, 1]);

  const othersGone = [disconnected(a.id), disconnected(b.id)];
  await closeAll([a, b]);
  await Promise.all([...othersGone, ...invocations]);
  t.is(await table.ids().then((ids) => ids.length), 0);
  assertSessionLogs(t, logLines, standIn.requests);
}

/** One JSON line per invocation without the message, and one signed PostToConnection per copy or error frame. */
function assertSessionLogs(t: ExecutionContext, logLines: string[], requests: HttpsStandIn["requests"]): void {
  const entries = logLines.map((line) => JSON.parse(line) as { route: string; statusCode: number; error?: string; delivered?: number });
  t.deepEqual(
    entries.map(({ route, statusCode, error, delivered }) => [route, statusCode, error ?? delivered ?? null]).sort(),
    [
      ["$connect", 200, null],
      ["$connect", 200, null],
      ["$connect", 200, null],
      ["$default", 200, 3],
      ["$default", 200, "NestingTooDeep"],
      ["$default", 200, 2],
      ["$disconnect", 200, null],
      ["$disconnect", 200, null],
      ["$disconnect", 200, null],
    ].sort(),
  );
  t.false(logLines.some((line) => line.includes("chat") || line.includes("plain words")), "no message contents in the logs");
  // 3 + 2 copies and one error frame, each a PostToConnection whose SigV4 signature aws4 recomputes.
  t.is(requests.length, 6);
  for (const request of requests) {
    t.regex(request.path, /^\/dev\/@connections\/[A-Za-z0-9_-]+%3D$/);
    const { sent, expected } = verifySigV4(request, LOCAL_AWS.credentials, LOCAL_AWS.region);
    t.is(sent, expected);
  }
}
