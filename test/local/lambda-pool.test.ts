/**
 * The emulator's Lambda threads on their own: the handlers they build from the functions'
 * environment answer as in-process ones would, their log lines and thrown errors cross back, and
 * a stopped pool refuses further invocations instead of leaving callers waiting.
 */
import test, { type ExecutionContext } from "ava";
import { connectEvent, newAwsId, type ConnectionContext } from "../../local/gateway/event-builders";
import { startLambdaPool, type LambdaPool } from "../../local/lambda/lambda-pool";
import { resolveOptions, runtimeEnvironment } from "../../local/options";
import { LOCAL_AWS, ensureConnectionTable, startDynamo } from "../../local/services/dynalite-store";
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import { captureLog, type LogCapture } from "../helpers/emulator";
import { openTable } from "../helpers/table";

const TABLE = "lambda-pool-test";
// Nothing listens here: no test below reaches the management API.
const MANAGEMENT = "http://127.0.0.1:9/dev";

async function startPool(t: ExecutionContext): Promise<{ pool: LambdaPool; logs: LogCapture; dynamoEndpoint: string }> {
  const dynamo = await startDynamo();
  t.teardown(() => dynamo.close());
  await ensureConnectionTable(dynamo.endpoint, TABLE);
  const environment = runtimeEnvironment(resolveOptions({ tableName: TABLE }), { management: MANAGEMENT, dynamo: dynamo.endpoint });
  const logs = captureLog();
  const pool = startLambdaPool({ environment, credentials: LOCAL_AWS.credentials }, logs.log);
  t.teardown(() => pool.close());
  return { pool, logs, dynamoEndpoint: dynamo.endpoint };
}

function context(): ConnectionContext {
  const now = Date.now();
  return { connectionId: newAwsId(), connectedAt: now, domainName: "localhost", stage: "dev", apiId: "test", identity: { sourceIp: "127.0.0.1" } };
}

test("$connect in the thread: 200, the row is written, and the handler's log line reaches the emulator's log", async (t) => {
  const { pool, logs, dynamoEndpoint } = await startPool(t);
  const connection = context();
  t.deepEqual(await pool.handlers.connect(connectEvent(connection, { headers: {} })), { statusCode: 200 });
  t.like(await openTable(t, dynamoEndpoint, TABLE).get(connection.connectionId), { connectionId: connection.connectionId });
  const line = await logs.waitFor((entry) => entry.route === "$connect", "the $connect log line");
  t.like(line, { connectionId: connection.connectionId, statusCode: 200 });
});

test("an error thrown in the thread rejects the invocation with its name and the stack of the thrower", async (t) => {
  const { pool } = await startPool(t);
  // No requestContext: the handler fails reading it, as it would on a malformed event in Lambda.
  const err = await t.throwsAsync(pool.handlers.message({} as WebSocketEvent));
  t.is(err?.name, "TypeError");
  t.regex(err?.stack ?? "", /runtime[/\\]routes[/\\]handlers\.ts/);
});

test("after close, invocations are rejected at once", async (t) => {
  const { pool } = await startPool(t);
  await pool.close();
  await t.throwsAsync(pool.handlers.connect(connectEvent(context(), { headers: {} })), { message: /Lambda threads are stopped/ });
});

test("a thread that cannot build its handlers: `ready` and every invocation reject with its config error", async (t) => {
  const logs = captureLog();
  const environment = { ...runtimeEnvironment(resolveOptions({}), { management: MANAGEMENT, dynamo: MANAGEMENT }), MAX_MESSAGE_BYTES: "lots" };
  const pool = startLambdaPool({ environment, credentials: LOCAL_AWS.credentials }, logs.log);
  t.teardown(() => pool.close());
  await t.throwsAsync(pool.ready, { name: "ConfigError", message: /MAX_MESSAGE_BYTES/ });
  await t.throwsAsync(pool.handlers.connect(connectEvent(context(), { headers: {} })), { message: /MAX_MESSAGE_BYTES/ });
  t.like(logs.entries()[0], { emulator: "lambdaThreadError" });
});
