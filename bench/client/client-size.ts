/**
 * `npm run bench:client [-- --record]`: the size of the client library's browser script
 * (`/client.js`, client/build.ts), minified and gzipped, against its budget of 10 KB gzipped.
 * Prints a table and the figures as one JSON line; `--record` rewrites the "Client library size"
 * section of bench/RESULTS.md. Sizes do not depend on the machine's load.
 */
import path from "node:path";
import { constants, gzipSync } from "node:zlib";
import { bundleClient } from "../../client/build";
import { recordSection, textTable } from "../shared/report";

/** The budget for the browser script, gzipped. */
const GZIP_BUDGET_BYTES = 10 * 1024;

async function main(): Promise<void> {
  const script = Buffer.from(await bundleClient("browser"));
  const figures = {
    figure: "client-size",
    minified_bytes: script.length,
    // What a server sends with gzip's default level, and the best gzip can do.
    gzip_bytes: gzipSync(script).length,
    gzip9_bytes: gzipSync(script, { level: constants.Z_BEST_COMPRESSION }).length,
    budget_gzip_bytes: GZIP_BUDGET_BYTES,
  };
  const within = figures.gzip_bytes <= GZIP_BUDGET_BYTES;
  const header = ["build", "bytes"];
  const rows = [
    ["minified (esbuild, IIFE, es2020)", String(figures.minified_bytes)],
    ["gzip (default level)", String(figures.gzip_bytes)],
    ["gzip -9", String(figures.gzip9_bytes)],
    ["budget (gzip)", `${GZIP_BUDGET_BYTES} (${within ? "within" : "OVER"})`],
  ];
  console.log(textTable(header, rows));
  console.log(JSON.stringify(figures));
  if (!process.argv.includes("--record")) return;
  const when = new Date().toISOString().slice(0, 10);
  recordSection(path.join(__dirname, "..", "RESULTS.md"), {
    title: "Client library size",
    mode: "client-size",
    ran: `\`npm run bench:client -- --record\` on ${when}: the browser script the emulator serves at \`/client.js\`.`,
    header,
    rows,
    json: figures,
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
