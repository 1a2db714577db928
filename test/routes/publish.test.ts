/**
 * Server-side publish through the emulator, in both fan-out modes: `POST /{stage}/@publish`
 * reaches the room's connections with `_server` copies, answers with counts (direct) or shards
 * (sharded), refuses bad requests without delivering anything, and answers loopback peers only.
 */
import { request } from "node:http";
import { networkInterfaces } from "node:os";
import test from "ava";
import type { FunctionUrlEvent } from "../../runtime/contract/function-url-event";
import { isLocalPeer, isLoopbackAddress } from "../../local/net/loopback";
import { connect, connectMany, parseFrame } from "../helpers/clients";
import { SIGNED_LOOKING, expectNothingBefore, invocations, startTestEmulator } from "../helpers/emulator";
import { eachMode } from "../helpers/modes";
import { expectedCopy, publishTo } from "../helpers/publish";

eachMode(test, "publish to the default room: every connection gets the `_server` copy with `_me:false`; JSON merged, forged keys dropped", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const clients = await connectMany(emulator, 3);

  const answer = await publishTo(emulator.publishUrl, '{"score":3,"_server":false,"_me":true,"_now":1}', undefined, { headers: { "content-type": "application/json" } });
  t.deepEqual(
    answer.json,
    mode === "direct" ? { room: null, receivers: 3, delivered: 3, gone: 0, failed: 0 } : { room: null, shards: 1 },
  );
  t.is(answer.status, mode === "direct" ? 200 : 202);
  t.is(answer.headers.get("content-type"), "application/json");
  const copies = await Promise.all(clients.map((client) => client.next()));
  const expected = expectedCopy(mode, copies[0], '{"score":3,');
  t.deepEqual(copies, [expected, expected, expected]);

  // No content type (a Blob without one): Lambda base64-encodes the body; and an empty `?room=`.
  const text = await publishTo(emulator.publishUrl, new Blob(["maintenance at 5"]), "");
  t.is(text.status, mode === "direct" ? 200 : 202);
  const texts = await Promise.all(clients.map((client) => client.next()));
  t.deepEqual(texts, clients.map(() => expectedCopy(mode, texts[0], '{"data":"maintenance at 5",')));

  const lines = invocations(logs, "publish");
  t.is(lines.length, 2);
  t.like(lines[0], mode === "direct" ? { statusCode: 200, receivers: 3, delivered: 3, gone: 0, failed: 0 } : { statusCode: 202, receivers: 3, shards: 1 });
  t.false(logs.lines.some((line) => line.includes("score") || line.includes("maintenance")), "no message contents in the logs");
  t.deepEqual(emulator.deadLetters(), []);
});

eachMode(test, "publish to a named room reaches its members only; the default room and other rooms hear nothing", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const roomUrl = (room: string) => `${emulator.endpoint}?room=${room}`;
  const lobby = [await connect(emulator, { url: roomUrl("lobby:1") }), await connect(emulator, { url: roomUrl("lobby:1") })];
  const [other] = [await connect(emulator, { url: roomUrl("match-7") })];
  const [outside] = await connectMany(emulator, 1);

  const answer = await publishTo(emulator.publishUrl, '{"round":2}', "lobby:1");
  t.is(answer.status, mode === "direct" ? 200 : 202);
  t.deepEqual(answer.json, mode === "direct" ? { room: "lobby:1", receivers: 2, delivered: 2, gone: 0, failed: 0 } : { room: "lobby:1", shards: 1 });
  const copies = await Promise.all(lobby.map((client) => client.next()));
  t.deepEqual(copies, lobby.map(() => expectedCopy(mode, copies[0], '{"round":2,')));

  // A room nobody joined: nothing to deliver, and nobody elsewhere hears it.
  const empty = await publishTo(emulator.publishUrl, "anyone?", "nobody-here");
  t.deepEqual(empty.json, mode === "direct" ? { room: "nobody-here", receivers: 0, delivered: 0, gone: 0, failed: 0 } : { room: "nobody-here", shards: 0 });
  await expectNothingBefore(t, emulator, other);
  await expectNothingBefore(t, emulator, outside);
  if (mode === "sharded") await logs.waitFor((entry) => entry.route === "shard", "the shard worker's line");
  t.deepEqual(lobby.map((client) => client.frames.length), [1, 1]);
  t.deepEqual(emulator.deadLetters(), []);
});

eachMode(test, "a client cannot forge `_server`: its own is removed from its copies", async (t, mode) => {
  const { emulator } = await startTestEmulator(t, { fanout: mode });
  const [a, b] = await connectMany(emulator, 2);
  a.ws.send('{"text":"from the server, honest","_server":true}');
  const [own, other] = await Promise.all([a.next(), b.next()]);
  for (const copy of [own, other]) {
    t.false("_server" in parseFrame(copy), copy);
    t.true(copy.startsWith('{"text":"from the server, honest","_now":'), copy);
  }
});

eachMode(test, "refusals: 405 with Allow, 413 over 128 KiB or over maxMessageBytes, 400 too deep or a bad room; nothing delivered", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode, maxMessageBytes: 1000 });
  const [client] = await connectMany(emulator, 1);

  const get = await fetch(emulator.publishUrl);
  t.is(get.status, 405);
  t.is(get.headers.get("allow"), "POST");
  t.deepEqual(await get.json(), { _error: { code: "MethodNotAllowed", message: "GET is not supported; POST the message" } });

  const huge = await publishTo(emulator.publishUrl, "x".repeat(131073));
  t.is(huge.status, 413);
  t.deepEqual(huge.json, { _error: { code: "MessageTooLarge", message: "request body is 131073 bytes, the limit is 131072", limit: 131072 } });

  const large = await publishTo(emulator.publishUrl, "x".repeat(1000));
  t.is(large.status, 413);
  t.like(large.json, { _error: { code: "MessageTooLarge", limit: 1000 } });
  t.regex(String((large.json._error as { message: string }).message), /^outgoing payload is \d+ bytes, the limit is 1000$/);

  const deep = await publishTo(emulator.publishUrl, "[".repeat(600) + "]".repeat(600));
  t.is(deep.status, 400);
  t.like(deep.json, { _error: { code: "NestingTooDeep", limit: 512 } });

  for (const room of ["has space", "x".repeat(65), "a/b", "ümlaut"]) {
    const bad = await publishTo(emulator.publishUrl, "hi", room);
    t.is(bad.status, 400, room);
    t.deepEqual(bad.json, { _error: { code: "InvalidRoom", message: "room must be 1-64 characters of A-Z a-z 0-9 _ . : -" } });
  }
  // Nothing reached the client: the next frame it gets is a marker posted now.
  await expectNothingBefore(t, emulator, client);
  t.deepEqual(
    invocations(logs, "publish").map((line) => [line.statusCode, line.error]),
    [[405, "MethodNotAllowed"], [413, "MessageTooLarge"], [413, "MessageTooLarge"], [400, "NestingTooDeep"], ...Array.from({ length: 4 }, () => [400, "InvalidRoom"])],
  );
});

test("the emulator hands the publish function a payload format 2.0 event, base64-encoding untyped bodies as Lambda does", async (t) => {
  const events: FunctionUrlEvent[] = [];
  const { emulator } = await startTestEmulator(
    t,
    {},
    {
      publish: (event) => {
        events.push(event);
        return Promise.resolve({ statusCode: 202, headers: { "x-seen": "yes" }, body: "{}" });
      },
    },
  );
  const before = Date.now();
  const typed = await publishTo(emulator.publishUrl, "héllo", "a", { headers: { "content-type": "text/plain" } });
  t.is(typed.status, 202);
  t.is(typed.headers.get("x-seen"), "yes", "the function's headers reach the caller");
  await publishTo(`${emulator.publishUrl}?room=x&room=y`, new Blob([Buffer.from([0xff, 0x00])]));
  const [text, binary] = events;
  t.like(text, { version: "2.0", routeKey: "$default", rawPath: "/dev/@publish", rawQueryString: "room=a", queryStringParameters: { room: "a" }, body: "héllo", isBase64Encoded: false });
  t.like(text.requestContext, { routeKey: "$default", stage: "$default", http: { method: "POST", path: "/dev/@publish", sourceIp: "127.0.0.1" } });
  t.regex(text.requestContext.requestId, /^[0-9a-f-]{36}$/);
  t.true(text.requestContext.timeEpoch >= before && text.requestContext.timeEpoch <= Date.now());
  t.is(text.headers["content-type"], "text/plain");
  // Repeated parameters are joined with commas (and make an invalid room); an untyped body is base64.
  t.like(binary, { rawQueryString: "room=x&room=y", queryStringParameters: { room: "x,y" }, body: Buffer.from([0xff, 0x00]).toString("base64"), isBase64Encoded: true });
});

test("isLoopbackAddress: 127.0.0.0/8, ::1 and IPv4-mapped 127.x only", (t) => {
  for (const address of ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "::ffff:127.0.0.1", "::FFFF:127.1.2.3"]) t.true(isLoopbackAddress(address), address);
  for (const address of [undefined, "", "10.0.0.1", "192.0.2.2", "128.0.0.1", "::ffff:10.0.0.1", "::2", "fe80::1", "1127.0.0.1"]) t.false(isLoopbackAddress(address), String(address));
});

test("isLocalPeer: loopback always; the listening address itself only when listening on one address", (t) => {
  t.true(isLocalPeer("127.0.0.1", "0.0.0.0"));
  t.false(isLocalPeer("192.0.2.2", "0.0.0.0"));
  t.false(isLocalPeer("::ffff:192.0.2.2", "::"));
  t.true(isLocalPeer("192.0.2.2", "192.0.2.2"));
  t.true(isLocalPeer("::ffff:192.0.2.2", "192.0.2.2"));
  t.false(isLocalPeer("192.0.2.3", "192.0.2.2"));
});

/** The status of a request from `localAddress` (a real source address of this machine). */
// Signed-looking, so that a 403 from the management API can only be the loopback rule.
function statusFrom(localAddress: string, host: string, port: number, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, localAddress, headers: { "content-length": 2, ...SIGNED_LOOKING } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("error", reject);
    req.end("hi");
  });
}

// A non-loopback address of this machine, if it has one: the only real non-loopback peer a test can be.
const external = Object.values(networkInterfaces())
  .flat()
  .find((info) => info !== undefined && info.family === "IPv4" && !info.internal);

(external ? test : test.skip)("--host 0.0.0.0: publish and the management API answer 403 to a non-loopback peer, and serve 127.0.0.2", async (t) => {
  if (!external) throw new Error("registered only when the machine has a non-loopback address");
  const { emulator } = await startTestEmulator(t, { host: "0.0.0.0" });
  const [client] = await connectMany(emulator, 1);
  const { port } = emulator;
  const connectionPath = `/dev/@connections/${encodeURIComponent(client.id)}`;
  // From the machine's own network address, to that address: a peer that is not loopback.
  t.is(await statusFrom(external.address, external.address, port, "POST", "/dev/@publish"), 403);
  t.is(await statusFrom(external.address, external.address, port, "POST", connectionPath), 403);
  t.is(await statusFrom(external.address, external.address, port, "GET", "/"), 200, "the demo page stays public");
  t.is(client.frames.length, 0);
  // A second loopback address is still this machine.
  t.is(await statusFrom("127.0.0.2", "127.0.0.1", port, "POST", "/dev/@publish"), 200);
  t.is(parseFrame(await client.next()).data, "hi");
  t.is(await statusFrom("127.0.0.2", "127.0.0.1", port, "POST", connectionPath), 200);
  t.is(await client.next(), "hi");
});

(external ? test : test.skip)("--host set to this machine's own address: broadcasts still reach everyone, and publish answers from that address", async (t) => {
  if (!external) throw new Error("registered only when the machine has a non-loopback address");
  const { emulator } = await startTestEmulator(t, { host: external.address });
  // The handlers post to the management API at that address, from that address.
  const [a, b] = await connectMany(emulator, 2);
  a.ws.send("hi");
  t.deepEqual((await Promise.all([a.next(), b.next()])).map((frame) => parseFrame(frame)._me), [true, false]);
  t.is(await statusFrom(external.address, external.address, emulator.port, "POST", "/dev/@publish"), 200);
  t.is(parseFrame(await b.next()).data, "hi");
});
