/**
 * Control frames (shared/design.md): a JSON object with a top-level `_op` is answered to its sender
 * alone and never broadcast. `ping` is answered with `_pong`; an unknown or malformed `_op` with
 * `_error` code `BadRequest`. Unit checks of the grammar, then both fan-out modes over real sockets.
 */
import test from "ava";
import { classifyFrame } from "../../runtime/contract/control-frame";
import { connect } from "../helpers/clients";
import { expectNothingBefore, invocation, startTestEmulator } from "../helpers/emulator";
import { eachMode } from "../helpers/modes";

const grammar: Array<[string, string, ReturnType<typeof classifyFrame>]> = [
  ["text is data", "ping", { kind: "data" }],
  ["an object without _op is data", `{"op":"ping"}`, { kind: "data" }],
  ["a nested _op is data", `{"inner":{"_op":"ping"}}`, { kind: "data" }],
  ["an array is data", `[{"_op":"ping"}]`, { kind: "data" }],
  ["broken JSON mentioning _op is data", `{"_op":`, { kind: "data" }],
  ["a string _op is control", `{"_op":"ping"}`, { kind: "control", request: { op: "ping", fields: {} } }],
  ["the other keys are its fields", `{"_op":"history","since":3}`, { kind: "control", request: { op: "history", fields: { since: 3 } } }],
  ["an escaped key is still _op", `{"\\u005fop":"ping"}`, { kind: "control", request: { op: "ping", fields: {} } }],
  ["a non-string _op is malformed", `{"_op":7}`, { kind: "malformed", message: "_op must be a string, got 7" }],
];

for (const [name, text, expected] of grammar) {
  test(`grammar: ${name}`, (t) => {
    t.deepEqual(classifyFrame(text), expected);
  });
}

eachMode(test, "ping: the sender alone gets {_pong, _now, _me}; nobody else hears anything", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const [sender, other] = [await connect(emulator), await connect(emulator)];
  sender.ws.send(`{"_op":"ping"}`);
  const answer = await sender.next();
  t.regex(answer, /^\{"_pong":true,"_now":\d+,"_me":true\}$/);
  t.like(await invocation(logs, "$default", sender.id), { op: "ping", statusCode: 200 });
  await expectNothingBefore(t, emulator, other);
});

eachMode(test, "an unknown or malformed _op gets BadRequest naming it, to the sender only", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { fanout: mode });
  const [sender, other] = [await connect(emulator), await connect(emulator)];
  const cases: Array<[string, RegExp]> = [
    [`{"_op":"dance"}`, /^\{"_error":\{"code":"BadRequest","message":"unknown _op \\"dance\\"; known: ping[^"]*"\},"_now":\d+,"_me":true\}$/],
    [`{"_op":null}`, /^\{"_error":\{"code":"BadRequest","message":"_op must be a string, got null"\},"_now":\d+,"_me":true\}$/],
    [`{"_op":"ping","extra":1}`, /^\{"_error":\{"code":"BadRequest","message":"ping takes no fields, got \\"extra\\""\},"_now":\d+,"_me":true\}$/],
  ];
  for (const [frame, expected] of cases) {
    sender.ws.send(frame);
    t.regex(await sender.next(), expected, frame);
  }
  t.like(await invocation(logs, "$default", sender.id), { error: "BadRequest" });
  await expectNothingBefore(t, emulator, other);
});
