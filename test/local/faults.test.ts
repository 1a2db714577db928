/**
 * Faults a running backend meets, in both fan-out modes: clients vanishing mid-broadcast, the
 * connection store down, and the emulator process itself killed and restarted on its persisted data.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import type { Handlers } from "../../runtime/routes/handlers";
import type { ConnectionRecord } from "../../runtime/store/connection-store";
import { SHARD_WORKER_ROUTE } from "../../runtime/routes/shard-worker";
import { startDynamo } from "../../local/services/dynalite-store";
import { connectMany, handshakeStatus, openClient, within, parseFrame } from "../helpers/clients";
import { buildHandlers, expectEnded, invocation, invocations, startTestEmulator, startWithWrappedHandlers } from "../helpers/emulator";
import { startCli } from "../helpers/cli";
import { eachMode, fanOutTotals } from "../helpers/modes";
import { openTable } from "../helpers/table";

const TABLE = "message-broadcast-connections";

eachMode(test, "abrupt drops during a broadcast to 30: each dropped client gets its $disconnect, every other one the message once", async (t, mode) => {
  // Four posts at a time, each answered after 100 ms: the broadcast takes about 800 ms.
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode, fanOutConcurrency: 4 }, { postLatencyMs: 100 });
  const clients = await connectMany(emulator, 30);
  const [sender] = clients;
  const firstCopy = new Promise((resolve) => clients.forEach((client) => client.ws.once("message", resolve)));
  sender.ws.send("through the storm");
  await within(firstCopy, "the first copy of the broadcast");

  // Mid-broadcast, five clients that have not got their copy yet drop without a close frame.
  const dropped = clients.filter((client) => client !== sender && client.frames.length === 0).slice(0, 5);
  t.is(dropped.length, 5);
  for (const client of dropped) client.ws.terminate();
  const survivors = clients.filter((client) => !dropped.includes(client));

  for (const client of survivors) t.like(parseFrame(await client.next()), { data: "through the storm", _me: client === sender });
  for (const client of dropped) await expectEnded(t, emulator, logs, client, 1006);
  await invocation(logs, "$default", sender.id);
  const first = await fanOutTotals(logs, mode);
  t.like(first, { receivers: 30, failed: 0 });
  t.is(first.delivered + first.gone, 30);

  // Exactly once: each survivor's next frame is the next message. The server is still up.
  sender.ws.send("after the storm");
  for (const client of survivors) t.like(parseFrame(await client.next()), { data: "after the storm" });
  await logs.waitFor(() => invocations(logs, "$default").length === 2, "the second broadcast's log line");
  const both = await fanOutTotals(logs, mode);
  t.deepEqual(
    Object.fromEntries(Object.entries(both).map(([key, total]) => [key, total - first[key]])),
    { receivers: 25, delivered: 25, gone: 0, failed: 0 },
  );
  t.deepEqual(emulator.deadLetters(), []);
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), survivors.map((client) => client.id).sort());
});

eachMode(test, "the store down during $connect: that handshake gets HTTP 500 while connected clients keep chatting", async (t, mode) => {
  const down = await startDynamo();
  await down.close();
  // Once `outage` is set, $connect runs against a DynamoDB endpoint nobody answers; it waits for
  // `chatted` first, so the chat below provably happens while that $connect is in progress.
  let outage: Handlers | undefined;
  let connectStarted = () => {};
  const started = new Promise<void>((resolve) => (connectStarted = resolve));
  let chatDone = () => {};
  const chatted = new Promise<void>((resolve) => (chatDone = resolve));
  const { emulator, logs } = await startWithWrappedHandlers(
    t,
    (real) => ({
      ...real,
      connect: async (event) => {
        if (!outage) return real.connect(event);
        connectStarted();
        await chatted;
        return outage.connect(event);
      },
    }),
    { fanout: mode },
  );
  const [a, b] = await connectMany(emulator, 2);
  outage = buildHandlers(emulator, logs, { fanout: mode }, { dynamo: down.endpoint });

  const refused = handshakeStatus(emulator.endpoint);
  await within(started, "the $connect to start");
  a.ws.send("still here?");
  t.like(parseFrame(await b.next()), { data: "still here?", _me: false });
  b.ws.send("yes");
  // A's own copy of its message and B's reply, in either order: the two broadcasts overlap.
  const atA = (await a.nextFrames(2)).map((frame) => parseFrame(frame)).map(({ data, _me }) => `${String(data)} ${String(_me)}`);
  t.deepEqual(atA.sort(), ["still here? true", "yes false"]);
  chatDone();

  t.is(await refused, 500);
  const failed = await logs.waitFor((entry) => entry.route === "$connect" && entry.statusCode === 500, "the failed $connect");
  t.is(typeof failed.error, "string");
  t.deepEqual(emulator.connectionIds().sort(), [a.id, b.id].sort());
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), [a.id, b.id].sort());
  // No $disconnect for a connection that never opened.
  t.is(invocations(logs, "$disconnect").length, 0);
});

eachMode(test, "--data after kill -9: the lost rows survive, the first broadcast deletes them (410) while the new clients receive, SIGTERM closes both with 1001", async (t, mode) => {
  const dir = await mkdtemp(join(tmpdir(), "emulator-faults-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  const args = ["--port", "0", "--data", dir, "--fanout", mode];
  const first = await startCli(t, args);
  const lost = await Promise.all([openClient(first.endpoint), openClient(first.endpoint)]);
  const staleIds = await openTable(t, first.dynamoEndpoint, TABLE).ids();
  t.is(staleIds.length, 2);
  // No $disconnect can run: the rows stay, as after a crashed host.
  first.cli.child.kill("SIGKILL");
  t.is(await first.cli.exited(), null);
  for (const client of lost) t.like(await client.closed(), { code: 1006 });

  const second = await startCli(t, args);
  const table = openTable(t, second.dynamoEndpoint, TABLE);
  t.deepEqual(await table.ids(), staleIds);
  // A 410 spares a row younger than a `$connect` can run (it may still be running); these are
  // seconds old, so they are dated back a minute, as a crashed host's rows usually are.
  for (const id of staleIds) {
    const stale = (await table.get(id)) as unknown as ConnectionRecord;
    await table.put({ ...stale, connectedAt: stale.connectedAt - 60_000 });
  }
  const [a, b] = [await openClient(second.endpoint), await openClient(second.endpoint)];
  a.ws.send("after the crash");
  t.like(parseFrame(await a.next()), { data: "after the crash", _me: true });
  t.like(parseFrame(await b.next()), { data: "after the crash", _me: false });
  const logLine = async (route: string) => {
    const [line] = await second.cli.output(new RegExp(`^\\{"route":${JSON.stringify(route).replace("$", "\\$")}.*$`, "m"));
    return parseFrame(line);
  };
  t.like(await logLine("$default"), { statusCode: 200, receivers: 4 });
  // The counts: on the `$default` line (direct), on the shard worker's (sharded: one shard of 4).
  const counts = mode === "direct" ? "$default" : SHARD_WORKER_ROUTE;
  t.like(await logLine(counts), { statusCode: 200, receivers: 4, delivered: 2, gone: 2, failed: 0 });
  const live = await table.ids();
  t.is(live.length, 2);
  t.false(live.some((id) => staleIds.includes(id)));

  second.cli.child.kill("SIGTERM");
  t.like(await a.closed(), { code: 1001 });
  t.like(await b.closed(), { code: 1001 });
  t.is(await second.cli.exited(), 0);
});

eachMode(test, "an abrupt drop while its own message is being broadcast: the broadcast completes, then $disconnect runs", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode, fanOutConcurrency: 2 }, { postLatencyMs: 100 });
  const clients = await connectMany(emulator, 6);
  const [sender, ...others] = clients;
  const firstCopy = new Promise((resolve) => others.forEach((client) => client.ws.once("message", resolve)));
  sender.ws.send("last words");
  await within(firstCopy, "the first copy of the broadcast");
  sender.ws.terminate();
  for (const client of others) t.like(parseFrame(await client.next()), { data: "last words", _me: false });
  await expectEnded(t, emulator, logs, sender, 1006);
  t.like(await invocation(logs, "$default", sender.id), { receivers: 6 });
  t.like(await fanOutTotals(logs, mode), { receivers: 6, failed: 0 });
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), others.map((client) => client.id).sort());
});
