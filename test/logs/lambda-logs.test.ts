/**
 * The handlers' default log line. With the functions' JSON log format Lambda's Node.js runtime
 * puts a lone console.log argument into the record's `message` as it is (aws-lambda-nodejs-runtime-
 * interface-client, logging/formatter.ts: `result.message = message` when there is one argument),
 * so an object keeps its fields queryable (`message.delivered`) and a JSON string would not.
 */
import test from "ava";
import type { InvocationLog } from "../../runtime/routes/deps";
import { invocationLogger } from "../../runtime/host/lambda";

const ENTRY: InvocationLog = { route: "$default", connectionId: "abcdefghijklmno=", requestId: "req", statusCode: 200, durationMs: 3, receivers: 2, delivered: 2 };

function captureConsoleLog(t: { teardown(fn: () => void): void }): unknown[][] {
  const calls: unknown[][] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => calls.push(args);
  t.teardown(() => (console.log = original));
  return calls;
}

test.serial("under Lambda's JSON log format the entry is logged as one object, not as a JSON string", (t) => {
  const calls = captureConsoleLog(t);
  invocationLogger({ AWS_LAMBDA_LOG_FORMAT: "JSON" })(ENTRY);
  t.is(calls.length, 1);
  t.is(calls[0].length, 1);
  t.is(typeof calls[0][0], "object");
  t.deepEqual(calls[0][0], ENTRY);
});

test.serial("elsewhere (text format, the emulator's stdout) one JSON line", (t) => {
  const calls = captureConsoleLog(t);
  invocationLogger({})(ENTRY);
  invocationLogger({ AWS_LAMBDA_LOG_FORMAT: "Text" })(ENTRY);
  t.deepEqual(calls, [[JSON.stringify(ENTRY)], [JSON.stringify(ENTRY)]]);
});
