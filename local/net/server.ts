/**
 * The one HTTP port of the emulator: WebSocket upgrades at `/` and `/{stage}`, the management
 * API under `/{stage}/@connections/` and publish at `/{stage}/@publish` (loopback peers only),
 * the demo page and the client library's browser script (`/client.js`); everything else is 404.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Gateway } from "../gateway/gateway";
import { isLocalPeer, refuseRemote } from "./loopback";
import { managementConnectionId, type ManagementApi } from "../services/management-api";
import { isPublishPath, type PublishEndpoint } from "../services/publish-endpoint";
import { demoFile, notFound, serveFile } from "./static";
import { CLIENT_SCRIPT_PATH, serveClientScript } from "./client-script";

export interface Routes {
  stage: string;
  /** The listening address: the control paths answer peers on this machine only (local/net/loopback.ts). */
  host: string;
  gateway: Pick<Gateway, "upgrade">;
  management: ManagementApi;
  publish: PublishEndpoint;
  demoDir: string;
  log: (line: string) => void;
}

export function routeRequests(server: Server, routes: Routes): void {
  const { stage, log } = routes;

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    answer(req, res).catch((err: unknown) => {
      // The path only: a query string may hold an access token.
      log(JSON.stringify({ emulator: "httpError", method: req.method, path: pathnameOf(req), error: String(err) }));
      if (res.headersSent) res.destroy();
      else {
        res.statusCode = 500;
        res.end();
      }
    });
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = pathnameOf(req);
    if (path === "/" || path === `/${stage}` || path === `/${stage}/`) return routes.gateway.upgrade(req, socket, head);
    socket.on("error", () => socket.destroy());
    socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathnameOf(req);
    const connectionId = managementConnectionId(path, stage);
    const publish = isPublishPath(path, stage);
    if ((connectionId !== undefined || publish) && !isLocalPeer(req.socket.remoteAddress, routes.host)) return refuseRemote(res);
    if (connectionId !== undefined) return routes.management(req, res, connectionId);
    if (publish) return routes.publish(req, res);
    const readable = req.method === "GET" || req.method === "HEAD";
    if (readable && path === CLIENT_SCRIPT_PATH) return serveClientScript(res, req.method === "HEAD");
    const file = readable ? demoFile(path, routes.demoDir) : undefined;
    if (file) return serveFile(res, file, req.method === "HEAD");
    notFound(res);
  }
}

// Split rather than `new URL`, which would read "//host/..." as a host name.
function pathnameOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0];
}
