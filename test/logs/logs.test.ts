/**
 * No message contents in any log: a session sends a unique marker down every path (broadcast,
 * refusals, protocol errors, a handler that throws) and the marker must appear in no log line,
 * in process or on the CLI's output, while every log line stays one JSON object.
 */
import { randomUUID } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { SHARD_WORKER_ROUTE } from "../../runtime/routes/shard-worker";
import { connect, connectMany, openClient, sendInFragments, type Client, parseFrame, type Frame } from "../helpers/clients";
import type { Emulator } from "../../local/emulator";
import { expectEnded, startWithWrappedHandlers, type LogCapture, type LogEntry } from "../helpers/emulator";
import { startCli } from "../helpers/cli";
import { eachMode } from "../helpers/modes";

/** Letters and digits only, so any log line that copied it, JSON-escaped or not, contains it. */
function newMarker(): string {
  return `MARKER${randomUUID().replaceAll("-", "")}`;
}

/** Messages that carry `marker` down the paths every client can reach, with what the sender gets back. */
function markedMessages(marker: string) {
  return {
    plain: `hello ${marker}`,
    json: JSON.stringify({ [marker]: marker, nested: { note: marker } }),
    // The largest message the gateway takes; its outgoing copy is over maxMessageBytes.
    oversize: `${marker} ${"x".repeat(128 * 1024 - marker.length - 1)}`,
    deep: `${"[".repeat(600)}"${marker}"${"]".repeat(600)}`,
  };
}

/**
 * Sends the marked messages from `sender` and waits for each answer at the sender: two copies and
 * two errors, in any order (in sharded mode a worker posts the copies, `$default` the errors).
 */
async function sendMarked(sender: Client, marker: string): Promise<void> {
  const messages = markedMessages(marker);
  sender.ws.send(messages.plain);
  sender.ws.send(messages.json);
  sendInFragments(sender.ws, messages.oversize);
  sender.ws.send(messages.deep);
  const answers = (await sender.nextFrames(4)).map((frame) => parseFrame(frame));
  const kinds = answers.map((answer) => (answer._error as Frame | undefined)?.code ?? (answer.data === undefined ? "json" : "plain")).sort();
  if (JSON.stringify(kinds) !== JSON.stringify(["MessageTooLarge", "NestingTooDeep", "json", "plain"])) {
    throw new Error(`unexpected answers: ${JSON.stringify(kinds)}`);
  }
}

/** Protocol errors carrying the marker, each on a connection of its own, each closed as it should be. */
async function sendProtocolErrors(t: ExecutionContext, emulator: Emulator, logs: LogCapture, marker: string): Promise<void> {
  const offenders = await connectMany(emulator, 4);
  offenders[0].ws.send(Buffer.from(marker), { binary: true });
  offenders[1].ws.send(Buffer.concat([Buffer.from(marker), Buffer.from([0xff])]), { binary: false });
  offenders[2].ws.send(`${marker}${"f".repeat(32 * 1024)}`);
  sendInFragments(offenders[3].ws, `${marker}${"m".repeat(128 * 1024)}`);
  for (const [offender, code] of [[offenders[0], 1003], [offenders[1], 1007], [offenders[2], 1009], [offenders[3], 1009]] as const) {
    await expectEnded(t, emulator, logs, offender, code);
  }
}

eachMode(test, "in process: the marker is in no emulator or handler log line, and every line is a JSON object", async (t, mode) => {
  const marker = newMarker();
  const { emulator, logs } = await startWithWrappedHandlers(
    t,
    (real) => ({
      ...real,
      // A handler bug on one path: JSON.parse's error message quotes the body.
      message: async (event) => {
        if (event.body?.startsWith("strict:")) JSON.parse(event.body);
        return real.message(event);
      },
    }),
    { fanout: mode },
  );
  const sender = await connect(emulator, { url: `${emulator.endpoint}?note=${marker}`, headers: { "X-Note": marker } });
  const [receiver] = await connectMany(emulator, 1);
  await sendMarked(sender, marker);
  // Both broadcasts, in either order (sharded mode keeps no order across messages).
  const copies = (await receiver.nextFrames(2)).map((frame) => parseFrame(frame));
  t.deepEqual(copies.map((copy) => copy.data ?? copy[marker]).sort(), [`hello ${marker}`, marker].sort());

  sender.ws.send(`strict: ${marker}`);
  t.like(parseFrame(await sender.next()), { message: "Internal server error" });
  const failure = await logs.waitFor((entry) => entry.emulator === "handlerError", "the handler error");
  t.like(failure, { route: "$default", connectionId: sender.id, error: "SyntaxError" });
  t.regex(String(failure.at), /test\/logs\/logs\.test\.ts:\d+:\d+$/);

  await sendProtocolErrors(t, emulator, logs, marker);
  // Closing flushes the last lines: every $disconnect has run when it resolves.
  await emulator.close();

  const entries: LogEntry[] = [];
  for (const line of logs.lines) {
    t.false(line.includes(marker), `a log line holds message contents: ${line.slice(0, 300)}`);
    const parsed: unknown = JSON.parse(line);
    t.true(typeof parsed === "object" && parsed !== null && !Array.isArray(parsed), line);
    entries.push(parsed as LogEntry);
  }
  // The lines of every path the marker went down are there.
  const errors = entries.filter((entry) => entry.route === "$default" && entry.emulator === undefined).map((entry) => entry.error);
  t.deepEqual(errors, [undefined, undefined, "MessageTooLarge", "NestingTooDeep"]);
  // Sharded mode: the two broadcasts went through a shard worker each, and its lines were checked too.
  t.is(entries.filter((entry) => entry.route === SHARD_WORKER_ROUTE).length, mode === "sharded" ? 2 : 0);
  // The binary frame, the 32 KiB frame and the fragments past 128 KiB are closed by the emulator
  // itself, with its reasons; the invalid UTF-8 is closed by `ws` (a socketError line).
  t.deepEqual(
    entries
      .filter((entry) => entry.emulator === "close")
      .map((entry) => entry.code)
      .sort(),
    [1003, 1009, 1009],
  );
  t.true(entries.some((entry) => entry.emulator === "socketError"));
  t.is(entries.filter((entry) => entry.route === "$disconnect").length, 6);
});

// Direct mode only: the in-process test checks both modes' lines; this one checks what the CLI adds (its streams).
test("the CLI: the marker is on neither stdout nor stderr, and every log line is JSON", async (t) => {
  const marker = newMarker();
  const { cli, endpoint } = await startCli(t, ["--port", "0"]);
  const [sender, receiver, offender] = await Promise.all([
    openClient(`${endpoint}?note=${marker}`),
    openClient(endpoint),
    openClient(endpoint),
  ]);
  await sendMarked(sender, marker);
  t.is(parseFrame((await receiver.nextFrames(2))[0]).data, `hello ${marker}`);
  offender.ws.send(Buffer.from(marker), { binary: true });
  t.like(await offender.closed(), { code: 1003 });

  cli.child.kill("SIGTERM");
  t.is(await cli.exited(), 0);
  t.false(cli.stdout().includes(marker));
  t.false(cli.stderr().includes(marker));

  // Between the banner and the shutdown notices, the output is the log: one JSON object a line.
  const lines = cli.stdout().split("\n").filter((line) => line !== "");
  const logLines = lines
    .slice(lines.indexOf("Press Ctrl+C to stop.") + 1)
    .filter((line) => !/^SIGTERM: closing connections/.test(line) && line !== "stopped");
  t.true(logLines.length >= 10, `${logLines.length} log lines`);
  for (const line of logLines) t.notThrows((): unknown => JSON.parse(line), line);
  t.true(logLines.some((line) => /"route":"\$default".*"error":"MessageTooLarge"/.test(line)));
});
