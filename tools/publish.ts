/**
 * `npm run publish -- --url URL [--room NAME] [--file PATH | MESSAGE]`: publishes one message to a
 * room and prints the JSON answer; exits 1 on a non-2xx answer, 2 on a bad command line.
 * `--stack NAME` reads the URL from `pulumi stack output publishUrl --stack NAME`.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { sendPublish } from "./publish-request";

/** Exit status for a bad command line, as `npm start` uses. */
const USAGE_ERROR = 2;

const USAGE = `Usage: npm run publish -- (--url URL | --stack NAME) [--room NAME] (--file PATH | MESSAGE)
  --url URL      the stack's publishUrl (signed with SigV4 from the standard AWS credential chain),
                 or the emulator's http://127.0.0.1:PORT/{stage}/@publish (sent as is)
  --stack NAME   read the URL from \`pulumi stack output publishUrl --stack NAME\` (needs the Pulumi CLI)
  --room NAME    the room (default: the default room)
  --file PATH    send this file's contents as the message
  MESSAGE        send this text as the message (text or JSON, as a client would send it)
  --help         show this help`;

class UsageError extends Error {}

interface Command {
  url: string;
  room?: string;
  body: Buffer;
}

function parseCommandLine(args: string[]): Command | "help" {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { url: { type: "string" }, stack: { type: "string" }, room: { type: "string" }, file: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return "help";
  if ((values.url === undefined) === (values.stack === undefined)) throw new UsageError("give exactly one of --url and --stack");
  if (positionals.length > 1) throw new UsageError(`give the message as one argument (quote it), got ${positionals.length}`);
  const message = positionals[0];
  if ((values.file === undefined) === (message === undefined)) throw new UsageError("give exactly one of --file PATH and MESSAGE");
  const body = values.file !== undefined ? readFileSync(values.file) : Buffer.from(message ?? "", "utf8");
  return { url: values.url ?? stackOutput(values.stack ?? ""), room: values.room, body };
}

function stackOutput(stack: string): string {
  try {
    return execFileSync("pulumi", ["stack", "output", "publishUrl", "--stack", stack], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new UsageError("--stack needs the Pulumi CLI (`pulumi` is not on PATH); pass --url with the stack's publishUrl instead");
    const stderr = ((err as { stderr?: string }).stderr ?? "").trim();
    throw new UsageError(`pulumi stack output publishUrl --stack ${stack} failed: ${stderr || String(err)}`);
  }
}

async function main(): Promise<void> {
  let command: Command | "help";
  try {
    command = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    process.exitCode = USAGE_ERROR;
    return;
  }
  if (command === "help") return console.log(USAGE);
  const answer = await sendPublish(command);
  console.log(answer.body);
  if (answer.status < 200 || answer.status > 299) {
    console.error(`HTTP ${answer.status}${answer.signed ? " (signed request)" : ""}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
