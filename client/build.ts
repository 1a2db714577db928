/**
 * Builds the client library: `dist/index.mjs` (ESM) and `dist/index.cjs` (CommonJS) for bundlers
 * and Node, `dist/client.js` (one minified script defining `MessageBroadcast`) for browsers, and
 * the type declarations in `dist/types/`. esbuild (installed with tsx) bundles; tsc declares.
 * Run as `npm run build:client`; the emulator builds the browser script itself, in memory.
 */
import { execFile } from "node:child_process";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "..");
const ENTRY = join(__dirname, "index.ts");
const DIST = join(__dirname, "dist");
const BIN = join(ROOT, "node_modules", ".bin");

/** The browsers the script is written for: every evergreen one of the last years. */
const BROWSER_TARGET = "es2020";

type Format = "esm" | "cjs" | "browser";

/** The library bundled as one file of `format`. */
export async function bundleClient(format: Format): Promise<string> {
  const args = [ENTRY, "--bundle", "--log-level=warning", "--charset=utf8"];
  if (format === "browser") args.push("--format=iife", "--global-name=MessageBroadcast", "--minify", `--target=${BROWSER_TARGET}`);
  else args.push(`--format=${format}`, "--platform=neutral", "--target=es2022");
  const { stdout } = await run(join(BIN, "esbuild"), args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Writes through a temporary file, so that a reader never sees half a file. */
async function writeWhole(file: string, text: string): Promise<void> {
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, text);
  await rename(partial, file);
}

/** Writes `dist/client.js` only: what the demo page loads when opened as a file. */
export async function buildBrowserScript(): Promise<void> {
  await mkdir(DIST, { recursive: true });
  await writeWhole(join(DIST, "client.js"), await bundleClient("browser"));
}

export async function buildClient(): Promise<void> {
  await mkdir(DIST, { recursive: true });
  const files: Array<[string, Format]> = [
    ["index.mjs", "esm"],
    ["index.cjs", "cjs"],
    ["client.js", "browser"],
  ];
  await Promise.all(files.map(async ([name, format]) => writeWhole(join(DIST, name), await bundleClient(format))));
  await run(join(BIN, "tsc"), ["-p", join(__dirname, "tsconfig.json")]);
}

if (require.main === module) {
  buildClient().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
