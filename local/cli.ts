/**
 * `npm start -- [flags]`: runs the emulator until SIGINT/SIGTERM. The flags and `--help` are the
 * settings table's entries with a `flag` (runtime/config/settings.ts); each is checked once, by
 * resolveOptions, and a bad one exits with status 2 and names the flag.
 */
import { parseArgs } from "node:util";
import { describeSetting, type Setting } from "../runtime/config/setting";
import { SETTINGS } from "../runtime/config/settings";
import { startEmulator, type Emulator } from "./emulator";
import { isLoopbackAddress } from "./net/loopback";
import { flagOptions, resolveOptions, type ResolvedOptions } from "./options";
import { mintToken } from "../tools/mint-token";

/** Exit status for a bad command line, as most CLIs use. */
const USAGE_ERROR = 2;

const flagOf = (option: keyof typeof SETTINGS) => SETTINGS[option].homes.flag ?? option;

// The flag as --help writes it, and its line: the setting's description and default.
function helpRow(option: keyof typeof SETTINGS): [string, string] {
  const setting: Setting = SETTINGS[option];
  const flag = `--${flagOf(option)}`;
  const shown = setting.default === undefined || Array.isArray(setting.default) ? "" : ` Default ${String(setting.default)}.`;
  const format = setting.kind === "list" ? " Comma-separated." : "";
  if (setting.kind === "boolean") return [flag, `${describeSetting(option, setting, "emulator")}${format}`];
  return [`${flag} ${setting.kind === "integer" ? "N" : "VALUE"}`, `${describeSetting(option, setting, "emulator")}${format}${shown}`];
}

function usage(): string {
  const rows = [...flagOptions().map(helpRow), ["--help", "show this help"]];
  return ["Usage: npm start -- [flags]", ...rows.map(([flag, help]) => `  ${flag.padEnd(26)}${help}`)].join("\n");
}

/** The emulator options a command line asks for, checked; throws ConfigError or parseArgs' TypeError. */
function parseCommandLine(args: string[], env: NodeJS.ProcessEnv): ResolvedOptions | "help" {
  const options = flagOptions();
  const { values }: { values: Record<string, string | boolean | undefined> } = parseArgs({
    args,
    strict: true,
    options: {
      ...Object.fromEntries(options.map((option) => [flagOf(option), { type: SETTINGS[option].kind === "boolean" ? ("boolean" as const) : ("string" as const) }])),
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const raw = Object.fromEntries(options.map((option) => [option, values[flagOf(option)]]));
  // PORT is read when --port is absent.
  const portFromEnv = raw.port === undefined && env.PORT !== undefined && env.PORT !== "";
  if (portFromEnv) raw.port = env.PORT;
  return resolveOptions(raw, (option) => (option === "port" && portFromEnv ? "PORT" : `--${flagOf(option)}`));
}

/** With --jwt-secret, two tokens to try it with: alice for every room, bob read-only. */
async function sampleTokens(emulator: Emulator, options: ResolvedOptions): Promise<string[]> {
  const secret = options.jwtSecret;
  if (secret === undefined) return [];
  const claims = { secret, ttlSeconds: 86_400, issuer: options.jwtIssuer, audience: options.jwtAudience };
  const alice = await mintToken({ ...claims, sub: "alice", meta: { name: "Alice" } });
  const bob = await mintToken({ ...claims, sub: "bob", meta: { name: "Bob" }, readOnly: true });
  return [
    "  Tokens      signed with --jwt-secret, valid 24 h (npm run token -- --help for more):",
    `    alice     ${emulator.httpUrl}?token=${alice}`,
    `    bob       ${emulator.httpUrl}?token=${bob}   (read-only)`,
  ];
}

function banner(emulator: Emulator, options: ResolvedOptions, tokens: string[]): string {
  const base = emulator.endpoint.slice(0, emulator.endpoint.lastIndexOf("/"));
  const lines = [
    "message-broadcast emulator is running",
    `  WebSocket   ${emulator.endpoint}   (also ${base}/)`,
    `  Demo page   ${emulator.httpUrl}`,
    `  Management  ${emulator.managementEndpoint}/@connections/{connectionId}`,
    `  Publish     POST ${emulator.publishUrl}?room=NAME   (loopback peers only; npm run publish -- --url ${emulator.publishUrl})`,
    `  DynamoDB    ${emulator.dynamoEndpoint}   table ${emulator.tableName}, ${options.dataDir ? `data in ${options.dataDir}` : "in memory"}`,
  ];
  if (!isLoopbackHost(options.host)) {
    lines.push(`  WARNING     --host ${options.host} is not a loopback address: anyone who can reach it can connect, and can call the management API (signatures are not verified)`);
  }
  if (options.accessToken) lines.push("  Access      token required (?token= or Authorization: Bearer)");
  if (options.jwtSecret || options.jwksUrl) lines.push(`  Identity    signed tokens required (?token= or Authorization: Bearer), ${options.jwksUrl ? `keys from ${options.jwksUrl}` : "HS256/384/512"}`);
  lines.push(...tokens);
  if (options.allowedOrigins?.length) lines.push(`  Origins     ${options.allowedOrigins.join(", ")}`);
  lines.push(`  Throttling  ${options.throttleRateLimit} per second, burst ${options.throttleBurstLimit} ($connect and messages, as the deployed stage)`);
  if (options.postRate) lines.push(`  Post quota  ${options.postRate} per second`);
  if (options.fanout === "sharded") {
    lines.push(`  Fan-out     sharded, ${options.shardSize} receivers per job, local queue ${emulator.shardQueueUrl}`);
  }
  if (options.presence) lines.push("  Presence    join/leave events to the rest of each room");
  lines.push("Press Ctrl+C to stop.");
  return lines.join("\n");
}

// 127.0.0.0/8, ::1 and the name for them: only this machine can reach such a listener.
function isLoopbackHost(host: string): boolean {
  return host === "localhost" || isLoopbackAddress(host);
}

async function main(): Promise<void> {
  let options: ResolvedOptions | "help";
  try {
    options = parseCommandLine(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${usage()}`);
    process.exitCode = USAGE_ERROR;
    return;
  }
  if (options === "help") return console.log(usage());

  let emulator: Emulator;
  try {
    emulator = await startEmulator(options);
  } catch (err) {
    const hint = listenHint((err as NodeJS.ErrnoException).code, options.port);
    if (hint === undefined) throw err;
    console.error(hint);
    process.exitCode = 1;
    return;
  }
  console.log(banner(emulator, options, await sampleTokens(emulator, options)));
  const stop = (signal: NodeJS.Signals) => {
    // `once` means a second Ctrl+C gets Node's default: exit at once.
    console.log(`${signal}: closing connections (1001), running $disconnect, stopping DynamoDB...`);
    emulator.close().then(
      () => console.log("stopped"),
      (err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/** What to tell the user when the server cannot listen, for the errors a port choice causes. */
function listenHint(code: string | undefined, port: number): string | undefined {
  if (code === "EADDRINUSE") return `Port ${port} is already in use (another emulator?). Stop that process, or pick another port: --port 0 picks a free one.`;
  if (code === "EACCES") return `Port ${port} needs privileges this user does not have (ports below 1024 usually need root). Pick a port from 1024 up, or --port 0 for a free one.`;
  return undefined;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
