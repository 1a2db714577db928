/**
 * The emulator end to end, in both fan-out modes: `$connect` refusals, stage throttling, the
 * transport limits (close codes), and every way a connection ends running its `$disconnect`.
 */
import { createConnection } from "node:net";
import test, { type ExecutionContext } from "ava";
import type { FanOutMode } from "../../runtime/config/settings";
import { AWS_ID, connect, connectMany, handshakeStatus, openClient, type EmulatorClient, parseFrame } from "../helpers/clients";
import { expectEnded, expectNothingBefore, invocation, invocations, startTestEmulator, startWithWrappedHandlers } from "../helpers/emulator";
import { eachMode } from "../helpers/modes";
import { openTable } from "../helpers/table";

eachMode(test, "$connect refusals reach the client as HTTP statuses and write no row", async (t, mode) => {
  const { emulator } = await startTestEmulator(t, { fanout: mode, accessToken: "s3cret", allowedOrigins: ["https://app.example"] });
  t.is(await handshakeStatus(emulator.endpoint), 401);
  t.is(await handshakeStatus(`${emulator.endpoint}?token=wrong`), 401);
  t.is(await handshakeStatus(`${emulator.endpoint}?token=s3cret`, { origin: "https://elsewhere.example" }), 403);
  const byQuery = await connect(emulator, { url: `${emulator.endpoint}?token=s3cret`, origin: "https://app.example" });
  const byHeader = await connect(emulator, { headers: { Authorization: "Bearer s3cret" } });
  // An empty ?token= (a page passing on a blank setting) does not hide the header's token.
  t.is(await handshakeStatus(`${emulator.endpoint}?token=`), 401);
  const emptyQuery = await connect(emulator, { url: `${emulator.endpoint}?token=`, headers: { Authorization: "Bearer s3cret" } });
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), [byQuery.id, byHeader.id, emptyQuery.id].sort());
});

eachMode(test, "a $connect handler that throws refuses the handshake with 500", async (t, mode) => {
  const { emulator, logs } = await startWithWrappedHandlers(
    t,
    (real) => ({
      ...real,
      connect: () => Promise.reject(new Error("connect exploded")),
    }),
    { fanout: mode },
  );
  t.is(await handshakeStatus(emulator.endpoint), 500);
  const failure = await logs.waitFor((entry) => entry.emulator === "handlerError", "the handler error log line");
  // The error's name and where it was thrown; its message may quote input, so it is not logged.
  t.like(failure, { route: "$connect", error: "Error" });
  t.regex(String(failure.at), /test\/local\/local-lifecycle\.test\.ts:\d+:\d+$/);
  t.false(JSON.stringify(failure).includes("exploded"));
  t.deepEqual(emulator.connectionIds(), []);
});

// The stage-throttling tests are serial (ava runs them first, one at a time): their frames and
// handshakes must reach the bucket within moments, which a machine busy starting this file's
// other emulators can stretch past a token's refill.

/**
 * Sends `count` messages from `sender` at once and sorts the sender's answer to each into the
 * broadcast ones (returned in the order sent) and API Gateway's "Too Many Requests" frames,
 * checking the latter's shape.
 */
async function burst(t: ExecutionContext, mode: FanOutMode, sender: EmulatorClient, count: number) {
  const sent = Array.from({ length: count }, (_, i) => `m${i}`);
  for (const text of sent) sender.ws.send(text);
  const answers = (await sender.nextFrames(count)).map((frame) => parseFrame(frame));
  const throttled = answers.filter((answer) => answer.message === "Too Many Requests");
  for (const answer of throttled) {
    t.deepEqual(Object.keys(answer), ["message", "connectionId", "requestId"]);
    t.is(answer.connectionId, sender.id);
    t.regex(String(answer.requestId), AWS_ID);
  }
  t.is(new Set(throttled.map((answer) => answer.requestId)).size, throttled.length, "request ids repeat");
  const delivered = answers.filter((answer) => answer.message === undefined);
  for (const answer of delivered) t.like(answer, { _me: true });
  const data = inSentOrder(sent, delivered.map((answer) => String(answer.data)));
  // One answer per message: each was either broadcast or refused.
  t.is(data.length + throttled.length, count);
  t.is(new Set(data).size, data.length, "a message was answered twice");
  t.true(data.every((text) => sent.includes(text)));
  // In the order sent, in direct mode; in sharded mode the copies come from the shard workers, so a
  // later message's refusal (answered at once) may overtake an earlier message's copy.
  if (mode === "direct") {
    t.deepEqual(
      answers.map((answer, i) => (answer.message === undefined ? answer.data : sent[i])),
      sent,
    );
  }
  return { delivered: data, throttled: throttled.length };
}

/** `received` sorted by where each is in `sent` (duplicates kept). */
function inSentOrder(sent: string[], received: string[]): string[] {
  return [...received].sort((a, b) => sent.indexOf(a) - sent.indexOf(b));
}

eachMode(test.serial, "stage throttling: a message over the burst is refused to its sender alone and never reaches $default", async (t, mode) => {
  // A burst of 5 at 1 per second. The 12 small frames arrive together and are counted on
  // arrival, so at most the 5 tokens a full bucket holds admit any; two $connects leave at least 3.
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode, throttleRateLimit: 1, throttleBurstLimit: 5 });
  const [sender, other] = await connectMany(emulator, 2);
  const { delivered, throttled } = await burst(t, mode, sender, 12);
  t.deepEqual(delivered.slice(0, 3), ["m0", "m1", "m2"]);
  t.true(throttled >= 7, `${throttled} throttled`);

  // The other client got exactly the broadcast messages (in order in direct mode), and $default ran once for each.
  const atOther = (await other.nextFrames(delivered.length)).map((frame) => String(parseFrame(frame).data));
  t.deepEqual(mode === "direct" ? atOther : inSentOrder(delivered, atOther), delivered);
  await expectNothingBefore(t, emulator, other);
  await logs.waitFor(() => invocations(logs, "$default").length >= delivered.length, "a $default line per broadcast message");
  t.is(invocations(logs, "$default").length, delivered.length);
  t.is(logs.entries().filter((entry) => entry.emulator === "stageThrottled").length, throttled);
});

eachMode(test.serial, "stage throttling: handshakes over the burst get HTTP 429 and write no row", async (t, mode) => {
  const { emulator } = await startTestEmulator(t, { fanout: mode, throttleRateLimit: 1, throttleBurstLimit: 3 });
  const started = Date.now();
  const attempts = await Promise.allSettled(Array.from({ length: 10 }, () => openClient(emulator.endpoint)));
  const seconds = (Date.now() - started) / 1000;
  const opened = attempts.flatMap((attempt) => (attempt.status === "fulfilled" ? [attempt.value] : []));
  const refusals = attempts.flatMap((attempt) => (attempt.status === "rejected" ? [String(attempt.reason)] : []));
  for (const refusal of refusals) t.regex(refusal, /Unexpected server response: 429/);
  // The bucket's bound (a slow machine only loosens it): the burst, plus one per second of refill.
  t.true(opened.length <= 3 + Math.ceil(seconds), `${opened.length} opened in ${seconds} s`);
  t.true(refusals.length > 0, "none refused");
  t.is(opened.length, emulator.connectionIds().length);
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), emulator.connectionIds().sort());
});

eachMode(test.serial, "stage throttling by default, as the deployed stage: 300 messages at once are not all broadcast", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const [sender] = await connectMany(emulator, 1);
  const { delivered, throttled } = await burst(t, mode, sender, 300);
  // The default burst is 200 (the $connect took one), and the rate adds 100 per second: the
  // frames, counted on arrival within moments, cannot all be admitted.
  t.true(delivered.length >= 199, `${delivered.length} delivered`);
  t.true(throttled > 0, "nothing was throttled");
  await logs.waitFor(() => invocations(logs, "$default").length >= delivered.length, "a $default line per broadcast message");
  t.is(invocations(logs, "$default").length, delivered.length);
});

eachMode(test, "a binary frame closes the connection with 1003", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const client = await connect(emulator);
  client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  t.is(await expectEnded(t, emulator, logs, client, 1003), "Binary frames are not supported");
  t.deepEqual(client.frames, []);
});

eachMode(test, "a frame over 32 KiB closes with 1009; a 32 KiB frame is broadcast", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const [client, listener] = await connectMany(emulator, 2);
  client.ws.send("a".repeat(32 * 1024));
  t.is(parseFrame(await listener.next()).data, "a".repeat(32 * 1024));

  client.ws.send("b".repeat(32 * 1024 + 1));
  const reason = await expectEnded(t, emulator, logs, client, 1009);
  t.regex(reason, /32768-byte frame limit/);
  t.is(reason, "Frame of 32769 bytes exceeds the 32768-byte frame limit (a browser sends each message as one frame)");
  // The oversized frame was not delivered: the listener's next frame is its own message.
  listener.ws.send("still here");
  t.is(parseFrame(await listener.next()).data, "still here");
});

eachMode(test, "a message over 128 KiB in fragments closes with 1009; under it, fragments make one message", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const [client, listener] = await connectMany(emulator, 2);
  const fragment = (letter: string) => letter.repeat(30_000);
  const sendFragments = (letter: string, count: number) => {
    for (let i = 0; i < count; i++) client.ws.send(fragment(letter), { fin: i === count - 1 });
  };
  sendFragments("c", 3);
  t.is(parseFrame(await listener.next()).data, fragment("c").repeat(3));

  sendFragments("d", 5);
  // `ws` alone would close with an empty reason; the size watch names the limit first.
  t.is(await expectEnded(t, emulator, logs, client, 1009), "Message exceeds the 131072-byte message limit: its fragments reached 150000 bytes");
  listener.ws.send("still here");
  t.is(parseFrame(await listener.next()).data, "still here");
});

eachMode(test, "invalid UTF-8 in a text frame closes with 1007", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const client = await connect(emulator);
  client.ws.send(Buffer.from([0x68, 0xff, 0x69]), { binary: false });
  await expectEnded(t, emulator, logs, client, 1007);
});

eachMode(test, "an abrupt drop (no close frame) runs $disconnect and removes the row", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const [dropped, stays] = await connectMany(emulator, 2);
  dropped.ws.terminate();
  await expectEnded(t, emulator, logs, dropped, 1006);
  t.deepEqual(emulator.connectionIds(), [stays.id]);
});

eachMode(test, "a client that drops while $connect runs still gets its $disconnect", async (t, mode) => {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const { emulator, logs } = await startWithWrappedHandlers(
    t,
    (real) => ({
      ...real,
      connect: async (event) => {
        const result = await real.connect(event);
        await held;
        return result;
      },
    }),
    { fanout: mode },
  );
  const socket = createConnection(emulator.port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(
    `GET /dev HTTP/1.1\r\nHost: localhost:${emulator.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const { connectionId } = await logs.waitFor((entry) => entry.route === "$connect", "the $connect");
  // A reset, as when the client's network goes away; a FIN would wait for the server's answer.
  socket.resetAndDestroy();
  await new Promise((resolve) => socket.once("close", resolve));
  release();
  t.like(await invocation(logs, "$disconnect", String(connectionId)), { statusCode: 200 });
  t.deepEqual(await openTable(t, emulator.dynamoEndpoint, emulator.tableName).ids(), []);
  t.deepEqual(emulator.connectionIds(), []);
});

eachMode(test, "the idle timeout closes with 1001 and runs $disconnect", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode, idleTimeoutMs: 200 });
  const client = await connect(emulator);
  t.is(await expectEnded(t, emulator, logs, client, 1001), "Going away: idle timeout");
});

eachMode(test, "the maximum lifetime closes with 1001 and runs $disconnect", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode, maxLifetimeMs: 300 });
  const client = await connect(emulator);
  t.is(await expectEnded(t, emulator, logs, client, 1001), "Going away: maximum connection duration");
});

eachMode(test, "emulator close: every client sees 1001 and $disconnect runs for each", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const clients = await connectMany(emulator, 3);
  await emulator.close();
  for (const client of clients) {
    t.like(await client.closed(), { code: 1001 });
    t.like(await invocation(logs, "$disconnect", client.id), { statusCode: 200 });
  }
  t.deepEqual(emulator.connectionIds(), []);
});
