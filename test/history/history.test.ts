/**
 * History (`history: true`) over real sockets in both fan-out modes: every copy carries its room's
 * `_seq`, a client that drops catches up on exactly what it missed, a late joiner gets the latest
 * messages, pages follow `more`, retention passing says `missed`, rooms keep apart, forged keys are
 * removed and malformed requests get BadRequest naming the field.
 */
import test from "ava";
import type { FanOutMode } from "../../runtime/config/settings";
import { connect, parseFrame, within, type EmulatorClient } from "../helpers/clients";
import { expectNothingBefore, startTestEmulator } from "../helpers/emulator";
import { eachMode } from "../helpers/modes";
import { publishTo } from "../helpers/publish";

function seqOf(frame: string): number {
  const seq = parseFrame(frame)._seq;
  if (typeof seq !== "number") throw new Error(`no _seq in ${frame.slice(0, 200)}`);
  return seq;
}

/** Sends `{"_op":"history",…request}` and returns the answer's text. */
async function ask(client: EmulatorClient, request: Record<string, unknown> = {}): Promise<string> {
  client.ws.send(JSON.stringify({ _op: "history", ...request }));
  return client.next();
}

/** The exact answer text: the copies as given, then the fields, then `_now` and `_me`. */
function answerPattern(copies: string[], fields: { since: number; until: number; more: boolean; missed: boolean }): RegExp {
  const escaped = `{"_history":{"messages":[${copies.join(",")}],"since":${fields.since},"until":${fields.until},"more":${fields.more},"missed":${fields.missed}},"_now":`;
  return new RegExp(`^${escaped.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\d+,"_me":true\\}$`);
}

/** `sender` sends `count` messages one after another (each once its own copy is back); returns its copies. */
async function sendEach(sender: EmulatorClient, count: number, text = (i: number) => `m${i}`): Promise<string[]> {
  const copies: string[] = [];
  for (let i = 0; i < count; i++) {
    sender.ws.send(JSON.stringify({ text: text(i) }));
    copies.push(await sender.next());
  }
  return copies;
}

const start = (t: Parameters<typeof startTestEmulator>[0], mode: FanOutMode, extra: Parameters<typeof startTestEmulator>[1] = {}) =>
  startTestEmulator(t, { fanout: mode, history: true, ...extra });

eachMode(test.serial, "history: a client drops, 50 messages are sent, it reconnects and gets exactly those 50 in order, as receivers got them", async (t, mode) => {
  const { emulator } = await start(t, mode);
  const url = `${emulator.endpoint}?room=chat`;
  const [sender, watcher, dropper] = [await connect(emulator, { url }), await connect(emulator, { url }), await connect(emulator, { url })];
  const [first] = await sendEach(sender, 1);
  t.is(seqOf(first), 1);
  t.regex(first, mode === "sharded" ? /^\{"text":"m0","_now":\d+,"_seq":1,"_id":"[^"]+","_me":true\}$/ : /^\{"text":"m0","_now":\d+,"_seq":1,"_me":true\}$/);
  const last = seqOf(await dropper.next());
  await watcher.next();
  dropper.ws.terminate();
  await dropper.closed();

  const sent = await sendEach(sender, 50);
  t.deepEqual(sent.map(seqOf), Array.from({ length: 50 }, (_, i) => i + 2));
  const live = (await watcher.nextFrames(50)).sort((a, b) => seqOf(a) - seqOf(b));
  const back = await connect(emulator, { url });
  t.regex(await ask(back, { since: last }), answerPattern(live, { since: 1, until: 51, more: false, missed: false }));
  // The sender's own messages say `_me:true` in its own catch-up.
  t.regex(await ask(sender, { since: 49 }), answerPattern(sent.slice(-2), { since: 49, until: 51, more: false, missed: false }));
  await expectNothingBefore(t, emulator, watcher);
});

eachMode(test.serial, "history: a late joiner without since gets the latest messages; more pages the rest; publishes are numbered too", async (t, mode) => {
  const { emulator } = await start(t, mode);
  const url = `${emulator.endpoint}?room=late`;
  const [sender, watcher] = [await connect(emulator, { url }), await connect(emulator, { url })];
  await sendEach(sender, 24);
  const published = await publishTo(emulator.publishUrl, '{"from":"server"}', "late");
  t.is(published.json.seq, 25);
  const live = await watcher.nextFrames(25);
  t.is(live[24], (await sender.next()));
  t.regex(live[24], /^\{"from":"server","_now":\d+,"_server":true,"_seq":25,/);

  const joiner = await connect(emulator, { url });
  t.regex(await ask(joiner, { limit: 5 }), answerPattern(live.slice(20), { since: 20, until: 25, more: false, missed: false }));
  t.regex(await ask(joiner), answerPattern(live, { since: 0, until: 25, more: false, missed: false }));
  // Paging with since = until until more is false.
  const pages: string[] = [];
  for (const [since, until, more] of [[0, 10, true], [10, 20, true], [20, 25, false]] as const) {
    const answer = await ask(joiner, { since, limit: 10 });
    t.regex(answer, answerPattern(live.slice(since, until), { since, until, more, missed: false }));
    pages.push(answer);
  }
  t.is(pages.length, 3);
});

eachMode(test.serial, "history: after a short --history-ttl the old messages are missed; numbering goes on", async (t, mode) => {
  const { emulator } = await start(t, mode, { historyTtlSeconds: 1 });
  const url = `${emulator.endpoint}?room=brief`;
  const [sender, watcher] = [await connect(emulator, { url }), await connect(emulator, { url })];
  await sendEach(sender, 3);
  await watcher.nextFrames(3);
  // Whole seconds: a message sent at second S is retained while the clock reads S or S+1.
  await new Promise((resolve) => setTimeout(resolve, 2100));
  t.regex(await ask(watcher, { since: 1 }), answerPattern([], { since: 1, until: 1, more: false, missed: true }));
  // A late joiner learns the latest number, with nothing to catch up on.
  t.regex(await ask(watcher), answerPattern([], { since: 3, until: 3, more: false, missed: false }));
  const [next] = await sendEach(sender, 1);
  t.is(seqOf(next), 4);
  t.is(seqOf(await watcher.next()), 4);
  t.regex(await ask(watcher, { since: 4 }), answerPattern([], { since: 4, until: 4, more: false, missed: false }));
});

eachMode(test.serial, "history: rooms are numbered and read apart; forged _seq, _history and _pong are removed", async (t, mode) => {
  const { emulator } = await start(t, mode);
  const red = await connect(emulator, { url: `${emulator.endpoint}?room=red` });
  const blue = await connect(emulator, { url: `${emulator.endpoint}?room=blue` });
  red.ws.send('{"_seq":99,"_history":{"messages":[]},"_pong":true,"text":"r"}');
  const redCopy = await red.next();
  t.regex(redCopy, /^\{"text":"r","_now":\d+,"_seq":1,/);
  const [blueCopy] = await sendEach(blue, 1);
  t.is(seqOf(blueCopy), 1);
  t.regex(await ask(red), answerPattern([redCopy], { since: 0, until: 1, more: false, missed: false }));
  t.regex(await ask(blue, { since: 0 }), answerPattern([blueCopy], { since: 0, until: 1, more: false, missed: false }));
  // The default room is a room of its own.
  const lobby = await connect(emulator);
  t.regex(await ask(lobby), answerPattern([], { since: 0, until: 0, more: false, missed: false }));
});

eachMode(test.serial, "history: a malformed request gets BadRequest naming the field, to the sender only", async (t, mode) => {
  const { emulator } = await start(t, mode);
  const [sender, other] = [await connect(emulator), await connect(emulator)];
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ since: -1 }, "since must be an integer >= 0 (the last _seq received), got -1"],
    [{ since: "3" }, 'since must be an integer >= 0 (the last _seq received), got "3"'],
    [{ since: 1.5 }, "since must be an integer >= 0 (the last _seq received), got 1.5"],
    [{ since: null }, "since must be an integer >= 0 (the last _seq received), got null"],
    [{ limit: 0 }, "limit must be an integer from 1 to 1000 (default 100), got 0"],
    [{ limit: 1001 }, "limit must be an integer from 1 to 1000 (default 100), got 1001"],
    [{ since: 0, room: "other" }, 'history takes only since and limit, got "room"'],
  ];
  for (const [request, message] of cases) {
    const answer = await ask(sender, request);
    t.regex(answer, /^\{"_error":\{"code":"BadRequest","message":"[^]*"\},"_now":\d+,"_me":true\}$/);
    t.deepEqual(parseFrame(answer)._error, { code: "BadRequest", message }, JSON.stringify(request));
  }
  await expectNothingBefore(t, emulator, other);
});

eachMode(test.serial, "history: concurrent senders in one room get distinct consecutive _seq, and catch-up returns them all", async (t, mode) => {
  const { emulator } = await start(t, mode);
  const url = `${emulator.endpoint}?room=busy`;
  const senders: EmulatorClient[] = [];
  for (let i = 0; i < 5; i++) senders.push(await connect(emulator, { url }));
  const watcher = await connect(emulator, { url });
  for (const [i, sender] of senders.entries()) for (let j = 0; j < 10; j++) sender.ws.send(`{"s":${i},"n":${j}}`);
  const live = await watcher.nextFrames(50);
  t.deepEqual(live.map(seqOf).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
  const ordered = [...live].sort((a, b) => seqOf(a) - seqOf(b));
  t.regex(await ask(watcher, { since: 0 }), answerPattern(ordered, { since: 0, until: 50, more: false, missed: false }));
});

test.serial("history off (the default): no _seq on the wire, and the history op says it is off", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const client = await connect(emulator);
  client.ws.send('{"text":"x","_seq":3}');
  t.regex(await client.next(), /^\{"text":"x","_now":\d+,"_me":true\}$/);
  t.regex(await ask(client), /^\{"_error":\{"code":"BadRequest","message":"history is off on this backend \(stack config history: true; emulator --history\)"\},"_now":\d+,"_me":true\}$/);
  t.is(emulator.historyTableName, undefined);
});

test.serial("ping counts as activity: a connection that only pings outlives the idle timeout, then closes 1001 when it stops", async (t) => {
  const { emulator } = await startTestEmulator(t, { idleTimeoutMs: 1000 });
  const client = await connect(emulator);
  // Pings every 200 ms for three idle timeouts, not waiting for the answers (the machine may be slow).
  for (let i = 0; i < 15; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    client.ws.send('{"_op":"ping"}');
  }
  t.is(client.ws.readyState, client.ws.OPEN);
  t.like(await within(client.closed(), "the idle close"), { code: 1001, reason: "Going away: idle timeout" });
  t.true(client.frames.length > 0 && client.frames.every((frame) => /^\{"_pong":true,"_now":\d+,"_me":true\}$/.test(frame)));
});
