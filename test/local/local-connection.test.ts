/** The emulator's connection over a real `ws` pair: frames sent in one turn of the event loop share socket writes. */
import { once } from "node:events";
import type { AddressInfo, Socket } from "node:net";
import test, { type ExecutionContext } from "ava";
import { WebSocket, WebSocketServer } from "ws";
import type { Handlers } from "../../runtime/routes/handlers";
import { Connection } from "../../local/gateway/connection";
import { createLimiter } from "../../local/gateway/concurrency-limiter";
import { createTokenBucket } from "../../local/gateway/token-bucket";

interface Rig {
  connection: Connection;
  /** Calls to the server socket's write primitives so far. */
  writes(): number;
  /** The next `count` text frames the client receives. */
  received(count: number): Promise<string[]>;
}

async function openRig(t: ExecutionContext): Promise<Rig> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(server, "listening");
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const [socket, req] = (await once(server, "connection")) as [WebSocket, { socket: Socket }];
  await once(client, "open");
  t.teardown(() => {
    client.terminate();
    server.close();
  });

  let writes = 0;
  const stream = req.socket as Socket & { _write: Socket["_write"]; _writev?: Socket["_writev"] };
  const write = stream._write.bind(stream);
  const writev = stream._writev?.bind(stream);
  stream._write = (...args) => (writes++, write(...args));
  if (writev) stream._writev = (...args) => (writes++, writev(...args));

  const frames: string[] = [];
  client.on("message", (data: Buffer) => frames.push(data.toString()));
  const context = { connectionId: "abc=", connectedAt: Date.now(), domainName: "localhost", stage: "dev", apiId: "a1b2c3d4e5", identity: { sourceIp: "127.0.0.1" } };
  const connection = new Connection(socket, req.socket, context, {
    handlers: {} as Handlers,
    throttle: createTokenBucket(1000, 1000),
    messageInvocations: createLimiter(1),
    idleTimeoutMs: 60_000,
    maxLifetimeMs: 60_000,
    maxBufferedBytes: 4 * 1024 * 1024,
    log: () => undefined,
    onClose: () => undefined,
  });
  t.teardown(() => connection.close(1001, "test over"));
  return {
    connection,
    writes: () => writes,
    async received(count) {
      while (frames.length < count) await once(client, "message");
      return frames.splice(0, count);
    },
  };
}

test("frames sent to one client in one turn leave in one socket write, in order", async (t) => {
  const rig = await openRig(t);
  t.true(rig.connection.send("one"));
  t.true(rig.connection.send("two"));
  t.true(rig.connection.send(Buffer.from("three")));
  t.is(rig.writes(), 0, "nothing is written before the turn ends");
  t.deepEqual(await rig.received(3), ["one", "two", "three"]);
  t.is(rig.writes(), 1);

  // The next turn's frame is written in the next turn, not held back.
  t.true(rig.connection.send("four"));
  t.deepEqual(await rig.received(1), ["four"]);
  t.is(rig.writes(), 2);
});

test("a turn's frames are written as soon as they pass 64 KiB, so a burst is not held in memory", async (t) => {
  const rig = await openRig(t);
  const frame = "x".repeat(20 * 1024);
  for (let i = 0; i < 4; i++) t.true(rig.connection.send(frame));
  t.is(rig.writes(), 1, "the fourth frame took the turn's bytes past 64 KiB and they were written at once");
  t.is((await rig.received(4)).join(""), frame.repeat(4));
});
