/**
 * Hostile and malformed input against one running emulator per fan-out mode, end to end over real
 * sockets. After each bad input: the stated answer reaches the offender (a close code or an
 * `_error`), and the server still admits a newcomer and broadcasts a normal message to every
 * other client, which received nothing of the bad input.
 */
import { randomUUID } from "node:crypto";
import anyTest, { type ExecutionContext, type TestFn } from "ava";
import type { Emulator } from "../../local/emulator";
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import { SETTINGS, type FanOutMode } from "../../runtime/config/settings";
import { closeAll, connect, connectMany, sendInFragments, type EmulatorClient, parseFrame } from "../helpers/clients";
import { captureLog, expectEnded, invocation, recordMessageEvents, startWrappedEmulator, type LogCapture } from "../helpers/emulator";
import { MODES, eachMode, idPart, stampOf } from "../helpers/modes";

interface Battery {
  mode: FanOutMode;
  emulator: Emulator;
  logs: LogCapture;
  /** Every `$default` event: a message's id where no copy of it carries one (an `_error`). */
  events: LogCapture;
  /** Connected for the whole file; each test ends by checking they still chat. */
  bystanders: EmulatorClient[];
}

/** One emulator per mode; the tests run one after another, each against its mode's emulator. */
type Context = Partial<Record<FanOutMode, Battery>>;
type T = ExecutionContext<Context>;

const test = anyTest as TestFn<Context>;

const FRAME_BYTES = 32 * 1024;
const MESSAGE_BYTES = 128 * 1024;
/** The emulator's default maxMessageBytes, the deployed default too. */
const MAX_PAYLOAD = SETTINGS.maxMessageBytes.default;

test.before(async (t) => {
  for (const mode of MODES) {
    const events = captureLog();
    const { emulator, logs } = await startWrappedEmulator(recordMessageEvents(events), { fanout: mode });
    t.context[mode] = { mode, emulator, logs, events, bystanders: await connectMany(emulator, 3) };
  }
});

test.after.always(async (t) => {
  for (const mode of MODES) await t.context[mode]?.emulator.close();
});

function battery(t: T, mode: FanOutMode): Battery {
  const found = t.context[mode];
  if (!found) throw new Error(`no emulator for ${mode}`);
  return found;
}

/**
 * The server is still up and the others still chat: a newcomer is admitted, a bystander
 * broadcasts, and every bystander, the newcomer and `alsoOpen` get exactly that message next.
 */
async function stillServing(t: T, { mode, emulator, logs, bystanders }: Battery, alsoOpen: EmulatorClient[] = []): Promise<void> {
  const newcomer = await connect(emulator);
  const [speaker] = bystanders;
  const probe = randomUUID();
  speaker.ws.send(JSON.stringify({ probe }));
  const own = await speaker.next();
  const { now, id } = stampOf(mode, own);
  t.is(own, `{"probe":"${probe}","_now":${now},${id}"_me":true}`);
  for (const client of [...bystanders.slice(1), newcomer, ...alsoOpen]) {
    t.is(await client.next(), `{"probe":"${probe}","_now":${now},${id}"_me":false}`);
  }
  await closeAll([newcomer]);
  await invocation(logs, "$disconnect", newcomer.id);
  t.deepEqual(emulator.deadLetters(), []);
}

/** Every client hears `body` as `expected` (without `_now`, `_id`, `_me`), the sender with `_me` true. */
async function expectBroadcast(t: T, { mode, bystanders }: Battery, sender: EmulatorClient, expected: string): Promise<void> {
  const open = `${expected.slice(0, -1)},`;
  const fromSender = await sender.next();
  const { now, id } = stampOf(mode, fromSender);
  t.is(fromSender, `${open}"_now":${now},${id}"_me":true}`);
  for (const client of bystanders) t.is(await client.next(), `${open}"_now":${now},${id}"_me":false}`);
}

eachMode<Context>(test.serial, "a binary frame: closed with 1003", async (t, mode) => {
  const context = battery(t, mode);
  const offender = await connect(context.emulator);
  offender.ws.send(Buffer.from("binary payload"), { binary: true });
  t.is(await expectEnded(t, context.emulator, context.logs, offender, 1003), "Binary frames are not supported");
  await stillServing(t, context);
});

eachMode<Context>(test.serial, "a frame over 32 KiB: closed with 1009", async (t, mode) => {
  const context = battery(t, mode);
  const offender = await connect(context.emulator);
  offender.ws.send("f".repeat(FRAME_BYTES + 1));
  t.regex(await expectEnded(t, context.emulator, context.logs, offender, 1009), /32768-byte frame limit/);
  await stillServing(t, context);
});

eachMode<Context>(test.serial, "a message over 128 KiB in 32 KiB fragments: closed with 1009", async (t, mode) => {
  const context = battery(t, mode);
  const offender = await connect(context.emulator);
  sendInFragments(offender.ws, "m".repeat(MESSAGE_BYTES + 1));
  await expectEnded(t, context.emulator, context.logs, offender, 1009);
  await stillServing(t, context);
});

eachMode<Context>(test.serial, "a payload over maxMessageBytes: MessageTooLarge to the sender only, who stays connected", async (t, mode) => {
  const context = battery(t, mode);
  const offender = await connect(context.emulator);
  // The largest message the gateway accepts; `_now` (`_id`) and `_me` push the outgoing copy over the limit.
  const body = "x".repeat(MESSAGE_BYTES);
  sendInFragments(offender.ws, body);
  const frame = await offender.next();
  const { _now } = parseFrame(frame);
  const event = (await context.events.waitFor(
    (entry) => (entry as unknown as WebSocketEvent).requestContext.connectionId === offender.id,
    "the offender's $default event",
  )) as unknown as WebSocketEvent;
  const outgoingBytes = Buffer.byteLength(`{"data":${JSON.stringify(body)},"_now":${String(_now)},${idPart(mode, event)}"_me":false}`);
  t.is(
    frame,
    `{"_error":{"code":"MessageTooLarge","message":"outgoing payload is ${outgoingBytes} bytes, the limit is ${MAX_PAYLOAD}","limit":${MAX_PAYLOAD}},"_now":${String(_now)},"_me":true}`,
  );
  await stillServing(t, context, [offender]);
  await closeAll([offender]);
});

eachMode<Context>(test.serial, "invalid UTF-8 in a text frame: closed with 1007", async (t, mode) => {
  const context = battery(t, mode);
  const offender = await connect(context.emulator);
  offender.ws.send(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), { binary: false });
  await expectEnded(t, context.emulator, context.logs, offender, 1007);
  await stillServing(t, context);
});

eachMode<Context>(test.serial, "JSON nested 10,000 deep: NestingTooDeep to the sender only", async (t, mode) => {
  const context = battery(t, mode);
  const offender = await connect(context.emulator);
  const body = "[".repeat(10_000) + "]".repeat(10_000);
  t.true(Buffer.byteLength(body) <= FRAME_BYTES, "fits in one frame");
  offender.ws.send(body);
  const frame = await offender.next();
  const { _now } = parseFrame(frame);
  t.is(frame, `{"_error":{"code":"NestingTooDeep","message":"JSON nesting is limited to 512 levels","limit":512},"_now":${String(_now)},"_me":true}`);
  await stillServing(t, context, [offender]);
  await closeAll([offender]);
});

eachMode<Context>(test.serial, "a number JSON parses but JavaScript cannot hold (1e400): BadRequest to the sender only, never null", async (t, mode) => {
  const context = battery(t, mode);
  const offender = await connect(context.emulator);
  for (const [body, path] of [
    ["1e400", "$"],
    ['{"pos":{"x":1,"y":[0,-1E+400]}}', "$.pos.y[1]"],
  ]) {
    offender.ws.send(body);
    const frame = await offender.next();
    const { _now } = parseFrame(frame);
    t.is(frame, `{"_error":{"code":"BadRequest","message":"the number at ${path} is too large for JavaScript (beyond ±1.7976931348623157e308)"},"_now":${String(_now)},"_me":true}`);
  }
  await stillServing(t, context, [offender]);
  await closeAll([offender]);
});

/** The entries of `{"k0":0,"k1":1,...}`: keys that are not array indices, so objects keep their order. */
function entry(i: number): string {
  return `"k${i.toString(36)}":${i % 10}`;
}

function objectWithKeys(count: number): string {
  return `{${Array.from({ length: count }, (_, i) => entry(i)).join(",")}}`;
}

eachMode<Context>(test.serial, "a 100,000-key object (about 1 MB) in 32 KiB fragments: closed with 1009", async (t, mode) => {
  const context = battery(t, mode);
  const offender = await connect(context.emulator);
  const body = objectWithKeys(100_000);
  t.true(Buffer.byteLength(body) > 7 * MESSAGE_BYTES, "far over the message limit");
  sendInFragments(offender.ws, body);
  await expectEnded(t, context.emulator, context.logs, offender, 1009);
  await stillServing(t, context);
});

eachMode<Context>(test.serial, "the object with the most keys that fits: everyone gets every key, in order", async (t, mode) => {
  const context = battery(t, mode);
  // `,"_now":<13 digits>,"_me":false` is what the outgoing copy adds, and in sharded mode
  // `"_id":"…",` too: message ids are always 16 characters (idPart checks the real one).
  const added = `,"_now":${Date.now()},${idPart(mode, "x".repeat(15) + "=")}"_me":false`.length;
  // "{}" plus each entry and its comma; ASCII, so characters are bytes.
  let count = 0;
  for (let bytes = 2; bytes + (count > 0 ? 1 : 0) + entry(count).length + added <= MAX_PAYLOAD; count++) {
    bytes += (count > 0 ? 1 : 0) + entry(count).length;
  }
  t.true(count >= 12_000, `${count} keys`);
  const body = objectWithKeys(count);
  t.true(Buffer.byteLength(body) + added <= MAX_PAYLOAD && Buffer.byteLength(objectWithKeys(count + 1)) + added > MAX_PAYLOAD);
  const sender = await connect(context.emulator);
  sendInFragments(sender.ws, body);
  // Exact strings: every key and value, in the order sent, then `_now` (`_id`) and `_me`.
  await expectBroadcast(t, context, sender, body);
  await stillServing(t, context, [sender]);
  await closeAll([sender]);
});

eachMode<Context>(test.serial, "forged _me, _now and _error are replaced; the client's keys keep their order", async (t, mode) => {
  const context = battery(t, mode);
  const sender = await connect(context.emulator);
  sender.ws.send('{"_error":{"code":"Forged","message":"fake"},"text":"hi","_now":1,"_me":true,"n":1}');
  await expectBroadcast(t, context, sender, '{"text":"hi","n":1}');
  await stillServing(t, context, [sender]);
  await closeAll([sender]);
});

eachMode<Context>(test.serial, "__proto__ and constructor keys are kept as data and pollute nothing", async (t, mode) => {
  const context = battery(t, mode);
  const sender = await connect(context.emulator);
  const body = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"toString":"x"}';
  sender.ws.send(body);
  await expectBroadcast(t, context, sender, body);
  // The emulator and its handlers run in this process.
  t.is(({} as Record<string, unknown>).polluted, undefined);
  await stillServing(t, context, [sender]);
  await closeAll([sender]);
});
