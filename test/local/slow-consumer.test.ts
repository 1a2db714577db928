/**
 * The per-connection outbound limit (`maxBufferedBytes`), in both fan-out modes: a client that
 * stops reading is closed with 1008 once its backlog would pass the limit, its `$disconnect`
 * runs, posts to it are 410 — and every other client still receives every message. A client
 * whose own messages pile up is no longer read from until half of them have been handled.
 */
import { readFileSync } from "node:fs";
import test from "ava";
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { SETTINGS, type FanOutMode } from "../../runtime/config/settings";
import { connectMany, type EmulatorClient } from "../helpers/clients";
import { invocation, startTestEmulator, startWithWrappedHandlers } from "../helpers/emulator";
import { eachMode } from "../helpers/modes";
import { openTable } from "../helpers/table";

const LIMIT = 256 * 1024;
// Under API Gateway's 32 KiB frame limit. The kernel's socket buffers take a few MiB before
// anything waits in the emulator, so the run sends until the cut-off, up to this many messages.
const PADDING = "x".repeat(30_000);
const MAX_MESSAGES = 2000;
const AFTER = 5;
const WINDOW = 10;

/**
 * The kernel's record of the server's end of the connection from `clientPort` to `serverPort`
 * on 127.0.0.1 (Linux's /proc/net/tcp): its TCP state (hex, 01 ESTABLISHED, 04 FIN-WAIT-1) and
 * the bytes in its send queue; undefined once the kernel has freed it.
 */
function serverSocketInKernel(serverPort: number, clientPort: number): { state: string; sendQueueBytes: number } | undefined {
  const address = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const [, local, remote, state, queues] = line.trim().split(/\s+/);
    if (local === address(serverPort) && remote === address(clientPort)) return { state, sendQueueBytes: parseInt(queues.split(":")[0], 16) };
  }
  return undefined;
}

/** The `q` of each broadcast copy `client` received: in order in direct mode; sharded mode does not keep order across messages. */
function sequence(client: EmulatorClient, mode: FanOutMode): number[] {
  const received = client.frames.map((frame) => (JSON.parse(frame) as { q: number }).q);
  return mode === "direct" ? received : received.sort((a, b) => a - b);
}

eachMode(test, "a client that stops reading is closed with 1008 while the others receive every message", async (t, mode) => {
  t.timeout(90_000);
  const { emulator, logs } = await startTestEmulator(t, {
    fanout: mode,
    maxBufferedBytes: LIMIT,
    // One message at a time is far under the default rate; this keeps a slow machine from being throttled.
    throttleRateLimit: SETTINGS.throttleRateLimit.max,
    throttleBurstLimit: SETTINGS.throttleBurstLimit.max,
  });
  const [sender, reader, slow] = await connectMany(emulator, 3);
  slow.ws.pause();
  const cutOffLine = () => logs.entries().find((entry) => entry.emulator === "slowConsumer" && entry.connectionId === slow.id);

  // A few messages in flight: the next goes each time the reader has one more.
  let sent = 0;
  let read = 0;
  const send = () => sender.ws.send(JSON.stringify({ q: sent++, pad: PADDING }));
  for (let i = 0; i < WINDOW; i++) send();
  while (!cutOffLine() && sent < MAX_MESSAGES) {
    await reader.next();
    read++;
    send();
  }
  const line = cutOffLine();
  t.log(`cut off after ${sent} messages with ${String(line?.bufferedBytes)} bytes waiting`);
  t.true(Number(line?.bufferedBytes) + Number(line?.sendBytes) > LIMIT && Number(line?.bufferedBytes) <= LIMIT, JSON.stringify(line));

  const closeLine = await logs.waitFor((entry) => entry.emulator === "close" && entry.connectionId === slow.id, "the close line");
  t.deepEqual(closeLine, {
    emulator: "close",
    connectionId: slow.id,
    code: 1008,
    reason: `Policy violation: over ${LIMIT} bytes waiting to be sent; the client is not reading`,
  });
  t.true(serverSocketInKernel(emulator.port, slow.localPort) !== undefined, "the server's socket exists before the cut-off");
  t.is((await invocation(logs, "$disconnect", slow.id)).statusCode, 200);
  // Reset, not closed with a FIN that would wait behind the backlog: the kernel holds nothing for it.
  t.is(serverSocketInKernel(emulator.port, slow.localPort), undefined);
  t.is(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).get(slow.id), undefined);
  t.deepEqual(emulator.connectionIds().sort(), [sender.id, reader.id].sort());

  const api = new ApiGatewayManagementApiClient({ ...LOCAL_AWS, endpoint: emulator.managementEndpoint });
  t.teardown(() => api.destroy());
  const gone = await t.throwsAsync(api.send(new PostToConnectionCommand({ ConnectionId: slow.id, Data: Buffer.from("late") })));
  t.is(gone?.name, "GoneException");

  for (let i = 0; i < AFTER; i++) send();
  await reader.nextFrames(sent - read);
  await sender.nextFrames(sent);
  const every = Array.from({ length: sent }, (_, q) => q);
  t.deepEqual(sequence(reader, mode), every, "the reader got every message once");
  t.deepEqual(sequence(sender, mode), every, "so did the sender");

  // The close frame waited behind a backlog the client never read, so its socket was reset:
  // once it reads again it gets at most what its own kernel still held, then the drop.
  slow.ws.resume();
  t.is((await slow.closed()).code, 1006);
  t.true(slow.frames.length < sent, `the slow client read ${slow.frames.length} of ${sent}`);
});

eachMode(test, "a client whose messages pile up is not read from until they drain; it loses none and nobody waits for it", async (t, mode) => {
  t.timeout(90_000);
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let floodId = "";
  const { emulator, logs } = await startWithWrappedHandlers(
    t,
    (real) => ({
      ...real,
      // The flooder's messages wait until the test opens the gate; everyone else's go straight through.
      message: async (event) => {
        if (event.requestContext.connectionId === floodId) await gate;
        return real.message(event);
      },
    }),
    { fanout: mode, maxBufferedBytes: LIMIT },
  );
  const [flooder, other] = await connectMany(emulator, 2);
  floodId = flooder.id;
  const count = 20;
  for (let q = 0; q < count; q++) flooder.ws.send(JSON.stringify({ q, pad: PADDING }));
  const paused = await logs.waitFor((entry) => entry.emulator === "readingPaused", "reading paused");
  t.is(paused.connectionId, flooder.id);
  t.true(Number(paused.waitingBytes) > LIMIT);

  // Meanwhile another client's message is broadcast at once.
  other.ws.send(JSON.stringify({ q: -1 }));
  t.is((JSON.parse(await other.next()) as { q: number }).q, -1);
  t.is((JSON.parse(await flooder.next()) as { q: number }).q, -1);

  release();
  const copies = (await other.nextFrames(count)).map((frame) => (JSON.parse(frame) as { q: number }).q);
  t.deepEqual(mode === "direct" ? copies : copies.sort((a, b) => a - b), Array.from({ length: count }, (_, q) => q));
  t.is((await flooder.nextFrames(count)).length, count);
  t.is(logs.entries().filter((entry) => entry.emulator === "stageThrottled").length, 0);
});

test("memory: posts to a client that never reads stop at the limit plus what the kernel took: 429, then 410", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, { maxBufferedBytes: LIMIT });
  const [slow] = await connectMany(emulator, 1);
  slow.ws.pause();
  const api = new ApiGatewayManagementApiClient({ ...LOCAL_AWS, endpoint: emulator.managementEndpoint, maxAttempts: 1 });
  t.teardown(() => api.destroy());
  // Unbounded, all 256 MiB would be accepted and held; the kernel's socket buffers take a few MiB.
  const chunk = Buffer.alloc(64 * 1024, "z");
  const post = () => api.send(new PostToConnectionCommand({ ConnectionId: slow.id, Data: chunk }));
  let accepted = 0;
  let refusal: unknown;
  while (accepted < 256 * 2 ** 20 && refusal === undefined) {
    await post().then(() => (accepted += chunk.length), (err: unknown) => (refusal = err));
  }
  t.log(`accepted ${accepted} bytes before the cut-off`);
  t.true(accepted >= LIMIT && accepted < LIMIT + 16 * 2 ** 20, `accepted ${accepted} bytes`);
  // AWS documents LimitExceededException for a full client-side buffer; then the connection is closed.
  t.like(refusal, { name: "LimitExceededException", message: "Client side buffer is full", $metadata: { httpStatusCode: 429 } });
  t.like(await post().catch((err: unknown) => err), { name: "GoneException", $metadata: { httpStatusCode: 410 } });
  t.is((await invocation(logs, "$disconnect", slow.id)).statusCode, 200);
  t.is(serverSocketInKernel(emulator.port, slow.localPort), undefined, "the server's socket was reset");
  t.deepEqual(emulator.connectionIds(), []);
  slow.ws.resume();
  t.is((await slow.closed()).code, 1006);
});
