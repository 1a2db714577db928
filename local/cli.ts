/**
 * `npm start -- [flags]`: runs the emulator until SIGINT/SIGTERM. Every flag is validated with
 * the same ranges as the programmatic options; a bad one exits with status 2 and names the flag.
 */
import { parseArgs } from "node:util";
import { RANGES, checkFanOutMode, checkInteger, splitList } from "../runtime/config/checks";
import { startEmulator, type Emulator } from "./emulator";
import { NUMERIC_OPTIONS, checkStage, type EmulatorOptions, type NumericOption } from "./options";

// Each flag's range is its option's (NUMERIC_OPTIONS), so the flag and the option fail alike.
const NUMERIC_FLAGS: Record<string, { option: NumericOption; help: string }> = {
  port: { option: "port", help: "HTTP/WebSocket port; 0 picks a free one (env PORT)" },
  "max-message-bytes": { option: "maxMessageBytes", help: "largest outgoing payload" },
  "fanout-concurrency": { option: "fanOutConcurrency", help: "posts in flight per broadcast" },
  "connection-ttl": { option: "connectionTtlSeconds", help: "row TTL in seconds" },
  "throttle-rate": { option: "throttleRateLimit", help: "stage requests per second ($connect and messages); over it 429" },
  "throttle-burst": { option: "throttleBurstLimit", help: "stage requests allowed at once" },
  "post-rate": { option: "postRate", help: "PostToConnection quota per second (0 = none); over it 429" },
  "post-burst": { option: "postBurst", help: "posts allowed at once (0 = the post rate)" },
  "idle-timeout": { option: "idleTimeoutMs", help: "ms without messages before close 1001" },
  "max-lifetime": { option: "maxLifetimeMs", help: "ms before any connection is closed 1001" },
  "max-buffered-bytes": { option: "maxBufferedBytes", help: "bytes queued to one client before it is closed 1008" },
  "shard-size": { option: "shardSize", help: "receivers per shard job (--fanout sharded)" },
};

const TEXT_FLAGS: Record<string, string> = {
  host: "listening address (default 127.0.0.1)",
  stage: "stage name in the URLs (default dev)",
  data: "directory that keeps the DynamoDB data across restarts (default in memory)",
  token: "require this token as ?token= or Authorization: Bearer",
  "allowed-origins": "comma-separated Origin values allowed to connect",
  fanout: "direct (default) or sharded: shard jobs through a local stand-in for SQS to the worker",
};

/** Exit status for a bad command line, as most CLIs use. */
const USAGE_ERROR = 2;

function usage(): string {
  const rows = [
    ...Object.entries(NUMERIC_FLAGS).map(([flag, { help, option }]) => {
      const range = NUMERIC_OPTIONS[option];
      return [`--${flag} N`, `${help} (${range.min}-${range.max}, default ${range.default})`];
    }),
    ...Object.entries(TEXT_FLAGS).map(([flag, help]) => [`--${flag} VALUE`, help]),
    ["--presence", "post join/leave events with the room's count to the rest of the room"],
    ["--help", "show this help"],
  ];
  return ["Usage: npm start -- [flags]", ...rows.map(([flag, help]) => `  ${flag.padEnd(26)}${help}`)].join("\n");
}

/** The emulator options a command line asks for; throws ConfigError or parseArgs' TypeError. */
function parseCommandLine(args: string[], env: NodeJS.ProcessEnv): EmulatorOptions | "help" {
  const flags = [...Object.keys(NUMERIC_FLAGS), ...Object.keys(TEXT_FLAGS)];
  const { values }: { values: Record<string, string | boolean | undefined> } = parseArgs({
    args,
    strict: true,
    options: {
      ...Object.fromEntries(flags.map((flag) => [flag, { type: "string" as const }])),
      presence: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const text = (flag: string) => {
    const value = values[flag];
    return typeof value === "string" ? value : undefined;
  };
  const options: EmulatorOptions = {};
  for (const [flag, { option }] of Object.entries(NUMERIC_FLAGS)) {
    if (text(flag) !== undefined) options[option] = checkInteger(`--${flag}`, text(flag), NUMERIC_OPTIONS[option]);
  }
  if (options.port === undefined && env.PORT) options.port = checkInteger("PORT", env.PORT, NUMERIC_OPTIONS.port);
  const stage = text("stage");
  const fanout = text("fanout");
  return {
    fanout: fanout === undefined ? undefined : checkFanOutMode("--fanout", fanout),
    ...options,
    host: text("host"),
    stage: stage === undefined ? undefined : checkStage("--stage", stage),
    dataDir: text("data"),
    accessToken: text("token"),
    allowedOrigins: splitList(text("allowed-origins")),
    presence: values.presence === true,
  };
}

function banner(emulator: Emulator, options: EmulatorOptions): string {
  const base = emulator.endpoint.slice(0, emulator.endpoint.lastIndexOf("/"));
  const lines = [
    "message-broadcast emulator is running",
    `  WebSocket   ${emulator.endpoint}   (also ${base}/)`,
    `  Demo page   ${emulator.httpUrl}`,
    `  Management  ${emulator.managementEndpoint}/@connections/{connectionId}`,
    `  Publish     POST ${emulator.publishUrl}?room=NAME   (loopback peers only; npm run publish -- --url ${emulator.publishUrl})`,
    `  DynamoDB    ${emulator.dynamoEndpoint}   table ${emulator.tableName}, ${options.dataDir ? `data in ${options.dataDir}` : "in memory"}`,
  ];
  if (!isLoopback(options.host ?? "127.0.0.1")) {
    lines.push(`  WARNING     --host ${options.host} is not a loopback address: anyone who can reach it can connect, and can call the management API (signatures are not verified)`);
  }
  if (options.accessToken) lines.push("  Access      token required (?token= or Authorization: Bearer)");
  if (options.allowedOrigins?.length) lines.push(`  Origins     ${options.allowedOrigins.join(", ")}`);
  const throttleRate = options.throttleRateLimit ?? RANGES.throttleRateLimit.default;
  const throttleBurst = options.throttleBurstLimit ?? RANGES.throttleBurstLimit.default;
  lines.push(`  Throttling  ${throttleRate} per second, burst ${throttleBurst} ($connect and messages, as the deployed stage)`);
  if (options.postRate) lines.push(`  Post quota  ${options.postRate} per second`);
  if (options.fanout === "sharded") {
    lines.push(`  Fan-out     sharded, ${options.shardSize ?? RANGES.shardSize.default} receivers per job, local queue ${emulator.shardQueueUrl}`);
  }
  if (options.presence) lines.push("  Presence    join/leave events to the rest of each room");
  lines.push("Press Ctrl+C to stop.");
  return lines.join("\n");
}

// 127.0.0.0/8, ::1 and the names for them: only this machine can reach such a listener.
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.") || host === "::ffff:127.0.0.1";
}

async function main(): Promise<void> {
  let options: EmulatorOptions | "help";
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
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    const port = options.port ?? NUMERIC_OPTIONS.port.default;
    console.error(`Port ${port} is already in use (another emulator?). Stop that process, or pick another port: --port 0 picks a free one.`);
    process.exitCode = 1;
    return;
  }
  console.log(banner(emulator, options));
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

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
