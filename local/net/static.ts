/**
 * Serves the demo page: `/` and `/index.html` are `demo/index.html`, `/demo/<file>` is a file in
 * `demo/`. Nothing outside that folder is reachable.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";

/** The repository's `demo/` folder. */
export const DEMO_DIR = resolve(__dirname, "..", "..", "demo");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

/** The file under `demoDir` that `pathname` names, or undefined when it names none. */
export function demoFile(pathname: string, demoDir: string): string | undefined {
  if (pathname === "/" || pathname === "/index.html") return join(demoDir, "index.html");
  if (!pathname.startsWith("/demo/")) return undefined;
  let relative: string;
  try {
    relative = decodeURIComponent(pathname.slice("/demo/".length));
  } catch {
    return undefined;
  }
  const file = resolve(demoDir, relative);
  // Decoding first means "%2e%2e%2f" is caught here too.
  return file.startsWith(demoDir + sep) && !relative.includes("\0") ? file : undefined;
}

/** Streams `file` with its content type, or answers 404 when it is missing or not a regular file. */
export async function serveFile(res: ServerResponse, file: string, headOnly: boolean): Promise<void> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
    throw err;
  });
  if (!info?.isFile()) return notFound(res);
  res.writeHead(200, {
    "Content-Type": CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": info.size,
    "Cache-Control": "no-cache",
  });
  if (headOnly) return void res.end();
  createReadStream(file)
    .on("error", (err) => res.destroy(err))
    .pipe(res);
}

export function notFound(res: ServerResponse): void {
  res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
  res.end("Not Found\n");
}
