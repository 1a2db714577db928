/**
 * `/client.js`: the client library as one browser script (client/build.ts), bundled on the first
 * request and kept in memory, so that a fresh clone's `npm start` serves it without a build step.
 */
import type { ServerResponse } from "node:http";
import { bundleClient } from "../../client/build";

export const CLIENT_SCRIPT_PATH = "/client.js";

// One bundle per process: every emulator in it serves the same source.
let script: Promise<Buffer> | undefined;

export async function serveClientScript(res: ServerResponse, headOnly: boolean): Promise<void> {
  script ??= bundleClient("browser").then((text) => Buffer.from(text));
  // A failed build is not kept: the next request tries again (and the error reaches the log).
  const body = await script.catch((err: unknown) => {
    script = undefined;
    throw err;
  });
  res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8", "Content-Length": body.length, "Cache-Control": "no-cache" });
  res.end(headOnly ? undefined : body);
}
