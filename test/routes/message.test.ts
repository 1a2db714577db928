import test from "ava";
import { MAX_NESTING_DEPTH, errorFrame, publishMessage, scanJson, transformMessage } from "../../runtime/contract/message";
import { parseFrame, type Frame } from "../helpers/clients";

const NOW = 1561016329388;
const LIMIT = 131072;

function copies(body: string, maxBytes = LIMIT) {
  const result = transformMessage(body, { now: NOW }, maxBytes);
  if (!result.ok) throw new Error(`expected a broadcast, got ${result.frame}`);
  return result.outgoing;
}

const table: Array<[string, string, string]> = [
  ["plain text", "hi there", `{"data":"hi there","_now":${NOW}`],
  ["JSON object", `{"type":"act","payload":"left"}`, `{"type":"act","payload":"left","_now":${NOW}`],
  ["number", "42", `{"data":42,"_now":${NOW}`],
  ["negative float", "-1.5e3", `{"data":-1500,"_now":${NOW}`],
  ["JSON string", `"hi"`, `{"data":"hi","_now":${NOW}`],
  ["true", "true", `{"data":true,"_now":${NOW}`],
  ["false", "false", `{"data":false,"_now":${NOW}`],
  ["null", "null", `{"data":null,"_now":${NOW}`],
  ["array stays an array", "[1,2]", `{"data":[1,2],"_now":${NOW}`],
  ["empty string", "", `{"data":"","_now":${NOW}`],
  ["whitespace only", "   ", `{"data":"   ","_now":${NOW}`],
  ["JSON with surrounding whitespace", "  7 \n", `{"data":7,"_now":${NOW}`],
  ["broken JSON is text", `{"a":`, `{"data":"{\\"a\\":","_now":${NOW}`],
  ["unicode text", "안녕 👋", `{"data":"안녕 👋","_now":${NOW}`],
  ["empty object", "{}", `{"_now":${NOW}`],
  ["forged fields replaced, order kept", `{"_me":true,"a":1,"_now":5,"_error":{"code":"x"},"b":2}`, `{"a":1,"b":2,"_now":${NOW}`],
  ["a client's _server is removed", `{"_server":true,"a":1}`, `{"a":1,"_now":${NOW}`],
  ["every key the backend writes is removed", `{"_from":"bob","_seq":9,"_id":"x","_history":{},"_pong":true,"a":1}`, `{"a":1,"_now":${NOW}`],
  ["a forged presence event is dropped", `{"_presence":{"event":"join","count":99},"text":"hi"}`, `{"text":"hi","_now":${NOW}`],
  ["nested reserved keys are data", `{"inner":{"_me":true}}`, `{"inner":{"_me":true},"_now":${NOW}`],
];

for (const [name, body, prefix] of table) {
  test(`contract: ${name}`, (t) => {
    const { sender, others, bytes } = copies(body);
    t.is(sender, `${prefix},"_me":true}`);
    t.is(others, `${prefix},"_me":false}`);
    t.is(bytes, Buffer.byteLength(others));
  });
}

test("contract: __proto__ stays an own key and no prototype changes", (t) => {
  const { others } = copies(`{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}`);
  t.is(others, `{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"_now":${NOW},"_me":false}`);
  const parsed = parseFrame(others);
  t.true(Object.prototype.hasOwnProperty.call(parsed, "__proto__"));
  t.is(({} as Record<string, unknown>).polluted, undefined);
  t.is(Object.getPrototypeOf(parsed), Object.prototype);
});

test("size: a payload over the limit is refused with MessageTooLarge for the sender", (t) => {
  const body = "x".repeat(100);
  const exact = copies(body).bytes;
  t.true(transformMessage(body, { now: NOW }, exact).ok);
  const result = transformMessage(body, { now: NOW }, exact - 1);
  if (result.ok) return t.fail();
  t.is(result.code, "MessageTooLarge");
  t.deepEqual(parseFrame(result.frame), {
    _error: { code: "MessageTooLarge", message: `outgoing payload is ${exact} bytes, the limit is ${exact - 1}`, limit: exact - 1 },
    _now: NOW,
    _me: true,
  });
});

test("nesting: within the limit is broadcast, deeper gets NestingTooDeep", (t) => {
  const nest = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  t.true(transformMessage(nest(MAX_NESTING_DEPTH), { now: NOW }, LIMIT).ok);
  const deep = transformMessage(nest(10000), { now: NOW }, LIMIT);
  if (deep.ok) return t.fail();
  t.is(deep.code, "NestingTooDeep");
  t.is((parseFrame(deep.frame)._error as Frame).limit, MAX_NESTING_DEPTH);
  // Brackets inside strings do not count, and unparseable text is plain data whatever it holds.
  t.is(scanJson(`{"a":"[[[[\\"[["}`).depth, 1);
  t.true(transformMessage("[".repeat(10000), { now: NOW }, LIMIT).ok);
});

test("numbers beyond JavaScript's range: BadRequest naming where, at the top level and nested; never sent as null", (t) => {
  const refusal = (body: string) => {
    const result = transformMessage(body, { now: NOW }, LIMIT);
    if (result.ok) return result.outgoing.others;
    return result.frame;
  };
  const tooLarge = (path: string) =>
    JSON.stringify({ _error: { code: "BadRequest", message: `the number at ${path} is too large for JavaScript (beyond ±1.7976931348623157e308)` }, _now: NOW, _me: true });
  t.is(refusal("1e400"), tooLarge("$"));
  t.is(refusal("-1E+400"), tooLarge("$"));
  t.is(refusal(`{"a":1,"b":{"c":[2,3,1e999]}}`), tooLarge("$.b.c[2]"));
  t.is(refusal(`[{"x y":9e9999}]`), tooLarge(`$[0]["x y"]`));
  t.is(refusal(`{"n":${"9".repeat(309)}}`), tooLarge("$.n"), "309 digits, no exponent");
  // In range, inside strings, or text that is not JSON: sent as they were.
  t.is(refusal(`{"n":1.7976931348623157e308,"m":${"9".repeat(308)}}`), `{"n":1.7976931348623157e+308,"m":${"1e+308"},"_now":${NOW},"_me":false}`);
  t.is(refusal(`{"s":"1e400","t":true,"f":false}`), `{"s":"1e400","t":true,"f":false,"_now":${NOW},"_me":false}`);
  t.is(refusal("1e400 apples"), `{"data":"1e400 apples","_now":${NOW},"_me":false}`);
  // Publish refuses it the same way (its HTTP answer is a 400).
  const published = publishMessage(`{"v":1e400}`, NOW, LIMIT);
  t.deepEqual(published.ok ? undefined : published.error, { code: "BadRequest", message: "the number at $.v is too large for JavaScript (beyond ±1.7976931348623157e308)" });
});

test("scanJson: an exponent or a 309-digit run outside strings is what can overflow", (t) => {
  t.false(scanJson(`{"type":"move","x":12.5,"ok":true,"s":"1e9"}`).mayOverflow);
  t.true(scanJson(`{"x":1.5e-7}`).mayOverflow);
  t.false(scanJson(`[${"9".repeat(308)}]`).mayOverflow);
  t.true(scanJson(`[${"9".repeat(309)}]`).mayOverflow);
});

test("errorFrame: code, message and extra fields, addressed to the sender", (t) => {
  t.is(errorFrame("Unavailable", "down", NOW), `{"_error":{"code":"Unavailable","message":"down"},"_now":${NOW},"_me":true}`);
});

test("publish: client-style copies stamped _now, _server, then _me:false; a forged _server is replaced", (t) => {
  const publish = (body: string, messageId?: string) => {
    const result = publishMessage(body, NOW, LIMIT, { id: messageId });
    if (!result.ok) throw new Error(result.frame);
    return result.outgoing.others;
  };
  t.is(publish(`{"_server":false,"score":3,"_me":true}`), `{"score":3,"_now":${NOW},"_server":true,"_me":false}`);
  t.is(publish("hello"), `{"data":"hello","_now":${NOW},"_server":true,"_me":false}`);
  t.is(publish("[1]"), `{"data":[1],"_now":${NOW},"_server":true,"_me":false}`);
  // Sharded: `_id` sits right before `_me`, as in a client's copies.
  t.is(publish(`{"a":1,"_id":"forged"}`, "MsgId123456789A="), `{"a":1,"_now":${NOW},"_server":true,"_id":"MsgId123456789A=","_me":false}`);
});

test("stamp order: client keys, _now, _from or _server, _seq, _id, _me; forged _seq, _history and _pong removed", (t) => {
  const full = publishMessage(`{"_seq":1,"_id":"x","_history":{},"_pong":true,"k":1}`, NOW, LIMIT, { id: "MsgId123456789A=", seq: 42 });
  if (!full.ok) throw new Error(full.frame);
  t.is(full.outgoing.others, `{"k":1,"_now":${NOW},"_server":true,"_seq":42,"_id":"MsgId123456789A=","_me":false}`);
  const client = transformMessage(`{"_seq":9,"_from":"mallory","k":1}`, { now: NOW, from: "alice", seq: 7, id: "MsgId123456789A=" }, LIMIT);
  if (!client.ok) throw new Error(client.frame);
  t.is(client.outgoing.sender, `{"k":1,"_now":${NOW},"_from":"alice","_seq":7,"_id":"MsgId123456789A=","_me":true}`);
  const off = transformMessage(`{"_seq":9,"k":1}`, { now: NOW }, LIMIT);
  if (!off.ok) throw new Error(off.frame);
  t.is(off.outgoing.others, `{"k":1,"_now":${NOW},"_me":false}`);
});

test("publish: too large and too deep fail with the same codes, and the detail an HTTP answer carries", (t) => {
  const body = "x".repeat(100);
  const result = publishMessage(body, NOW, 100);
  if (result.ok) return t.fail();
  const bytes = Buffer.byteLength(`{"data":"${body}","_now":${NOW},"_server":true,"_me":false}`);
  t.deepEqual(result.error, { code: "MessageTooLarge", message: `outgoing payload is ${bytes} bytes, the limit is 100`, limit: 100 });
  const deep = publishMessage("[".repeat(600) + "]".repeat(600), NOW, LIMIT);
  if (deep.ok) return t.fail();
  t.deepEqual(deep.error, { code: "NestingTooDeep", message: `JSON nesting is limited to ${MAX_NESTING_DEPTH} levels`, limit: MAX_NESTING_DEPTH });
});
