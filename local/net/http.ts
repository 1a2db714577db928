/** HTTP helpers shared by the emulator's servers (the gateway's port, dynalite, the local shard queue). */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Listens and resolves with the bound port (the picked one when `port` is 0). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops listening and ends idle keep-alive connections (the SDK clients keep theirs open);
 * `connections: "all"` ends busy ones too.
 */
export function closeServer(server: Server, connections: "idle" | "all" = "idle"): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    if (connections === "all") server.closeAllConnections();
    else server.closeIdleConnections();
  });
}

// Reads the whole body, but keeps at most `limit` bytes; undefined means it was longer. The
// request is drained either way, so the client sees the status rather than a reset. Events, not
// `for await`: every delivery passes here, and the async iterator cost the emulator's one event
// loop a few per cent in a profile of the end-to-end bench.
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.once("end", () => resolve(size > limit ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

/** An AWS service's answer: the status, an `x-amzn-RequestId`, and a JSON body when there is one. */
export function replyAws(res: ServerResponse, status: number, json?: unknown, contentType = "application/json"): void {
  res.statusCode = status;
  res.setHeader("x-amzn-RequestId", randomUUID());
  if (json === undefined) return void res.end();
  res.setHeader("Content-Type", contentType);
  res.end(JSON.stringify(json));
}
