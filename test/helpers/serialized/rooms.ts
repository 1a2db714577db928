/**
 * A session with rooms and presence through the code Pulumi would upload (a stack with
 * `presence: true`): the serialized route handlers behind the emulator, with dynalite's room index.
 */
import type { ExecutionContext } from "ava";
import { ENV } from "../../../runtime/config/environment";
import { closeAll, connect, handshakeStatus, parseFrame, within } from "../clients";
import { expectNothingBefore, startTestEmulator } from "../emulator";
import type { ProgramReport } from "../../../harness/program-run";
import { captureConsole, lateBoundHandlers, loadSerializedHandlers } from "./archive";
import { openTable } from "../table";

/**
 * Two clients in room "red" and one in the default room: an invalid room gets 400 and no row, the
 * join and an abrupt leave reach the other member with the count, a message reaches its room only,
 * and every invocation logs one JSON line.
 */
export async function assertRoomSession(t: ExecutionContext, report: ProgramReport, namePrefix: string): Promise<void> {
  const late = lateBoundHandlers(3);
  const { emulator } = await startTestEmulator(t, {}, { handlers: late.handlers });
  late.load(
    loadSerializedHandlers(t, report, namePrefix, {
      [ENV.tableName]: emulator.tableName,
      [ENV.dynamoEndpoint]: emulator.dynamoEndpoint,
      [ENV.managementEndpoint]: emulator.managementEndpoint,
    }),
  );
  const logLines = captureConsole(t);
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const red = `${emulator.endpoint}?room=red`;

  t.is(await handshakeStatus(`${emulator.endpoint}?room=no%20spaces`), 400);
  const a = await connect(emulator, { url: red });
  const b = await connect(emulator, { url: red });
  const join = parseFrame(await a.next());
  t.deepEqual(join, { _presence: { event: "join", count: 2 }, _now: join._now, _me: false });
  const c = await connect(emulator);
  t.deepEqual(await Promise.all([a, b, c].map(async ({ id }) => (await table.get(id))?.room)), ["red", "red", "$default"]);

  b.ws.send("for red");
  const [atA, fromB] = [await a.next(), await b.next()];
  const now = Number(parseFrame(fromB)._now);
  t.is(fromB, `{"data":"for red","_now":${now},"_me":true}`);
  t.is(atA, `{"data":"for red","_now":${now},"_me":false}`);
  c.ws.send("for the default room");
  t.like(parseFrame(await c.next()), { data: "for the default room", _me: true });

  b.ws.terminate();
  const leave = parseFrame(await a.next());
  t.deepEqual(leave, { _presence: { event: "leave", count: 1 }, _now: leave._now, _me: false });
  await expectNothingBefore(t, emulator, c);
  await expectNothingBefore(t, emulator, a);

  await closeAll([a, c]);
  await within(late.disconnects, "every $disconnect");
  t.deepEqual(await table.ids(), []);
  const entries = logLines.map((line) => JSON.parse(line) as { route: string; statusCode: number; error?: string; receivers?: number });
  t.deepEqual(
    entries.map(({ route, statusCode, error, receivers }) => [route, statusCode, error ?? receivers ?? null]).sort(),
    [
      ["$connect", 400, "InvalidRoom"],
      // The joins: A's and C's tell nobody, B's tells A.
      ["$connect", 200, 0],
      ["$connect", 200, 1],
      ["$connect", 200, 0],
      ["$default", 200, 2],
      ["$default", 200, 1],
      // The leaves: B's tells A, then A's and C's tell nobody.
      ["$disconnect", 200, 1],
      ["$disconnect", 200, 0],
      ["$disconnect", 200, 0],
    ].sort(),
  );
  t.false(logLines.some((line) => line.includes("for red") || line.includes('"red"')), "no contents or room names in the logs");
}
