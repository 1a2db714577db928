/**
 * The yardstick for the end-to-end figure: a bare `ws` server that sends every frame it receives
 * to every connected client, with no table, no management API and no transform.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

export interface BareServer {
  url: string;
  close(): Promise<void>;
}

export async function startBareServer(): Promise<BareServer> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => {
      for (const client of server.clients) client.send(data, { binary: isBinary });
    });
  });
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    async close() {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
