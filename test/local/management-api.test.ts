import http from "node:http";
import test, { type ExecutionContext } from "ava";
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClientConfig,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { AdjustablePostQuota } from "../../local/seams";
import { connect } from "../helpers/clients";
import { SIGNED_LOOKING, invocation, startTestEmulator } from "../helpers/emulator";
import { openTable } from "../helpers/table";

const UNKNOWN_ID = "AAAAAAAAAAAAAAA=";

function managementClient(t: ExecutionContext, endpoint: string, config: ApiGatewayManagementApiClientConfig = {}) {
  const client = new ApiGatewayManagementApiClient({ ...LOCAL_AWS, endpoint, ...config });
  t.teardown(() => client.destroy());
  return client;
}

/** The error a rejected SDK call threw, with the fields the SDK sets. */
async function sdkError(t: ExecutionContext, call: Promise<unknown>) {
  const err = await t.throwsAsync(call);
  return err as Error & { $metadata: { httpStatusCode?: number; attempts?: number } };
}

test("PostToConnection: 200, and the bytes arrive as one text frame", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const client = await connect(emulator);
  const api = managementClient(t, emulator.managementEndpoint);
  const output = await api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from('{"hello":"☃"}') }));
  t.is(output.$metadata.httpStatusCode, 200);
  t.is(await client.next(), '{"hello":"☃"}');
});

test("PostToConnection is answered once its frame is written: the client holds the frame when the 200 arrives", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const client = await connect(emulator);
  // The client and this request share this process's event loop: a frame written before the
  // answer is read before it, so the frames are counted in the 'response' callback itself.
  const heldAtAnswer = await new Promise<{ status?: number; frames: string[] }>((resolve, reject) => {
    const url = `${emulator.managementEndpoint}/@connections/${encodeURIComponent(client.id)}`;
    const request = http.request(url, { method: "POST", headers: SIGNED_LOOKING }, (response) => {
      resolve({ status: response.statusCode, frames: [...client.frames] });
      response.resume();
    });
    request.once("error", reject);
    request.end("written first");
  });
  t.deepEqual(heldAtAnswer, { status: 200, frames: ["written first"] });
});

test("PostToConnection: an unknown connection is GoneException (410)", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const api = managementClient(t, emulator.managementEndpoint);
  const err = await sdkError(t, api.send(new PostToConnectionCommand({ ConnectionId: UNKNOWN_ID, Data: Buffer.from("x") })));
  t.is(err.name, "GoneException");
  t.is(err.$metadata.httpStatusCode, 410);
});

test("PostToConnection: 128 KiB is delivered, one byte more is PayloadTooLargeException (413)", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const client = await connect(emulator);
  const api = managementClient(t, emulator.managementEndpoint);
  const limit = 128 * 1024;
  await api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.alloc(limit, "a") }));
  t.is((await client.next()).length, limit);

  const err = await sdkError(t, api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.alloc(limit + 1, "b") })));
  t.is(err.name, "PayloadTooLargeException");
  t.is(err.$metadata.httpStatusCode, 413);
  // Nothing of the refused post reached the socket: the next frame is the one after it.
  await api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from("after") }));
  t.is(await client.next(), "after");
});

test("GetConnection: connectedAt, lastActiveAt and the identity of the socket", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const before = Date.now();
  const client = await connect(emulator, { headers: { "User-Agent": "management-test/1.0" } });
  const api = managementClient(t, emulator.managementEndpoint);
  const first = await api.send(new GetConnectionCommand({ ConnectionId: client.id }));
  t.deepEqual(first.Identity, { SourceIp: "127.0.0.1", UserAgent: "management-test/1.0" });
  t.true(first.ConnectedAt instanceof Date);
  const connectedAt = first.ConnectedAt?.getTime() ?? 0;
  t.true(connectedAt >= before - 1000 && connectedAt <= Date.now(), `connectedAt ${connectedAt}`);
  t.is(first.LastActiveAt?.getTime(), connectedAt);

  // A message from the client makes it active again.
  const sent = Date.now();
  client.ws.send("ping");
  await invocation(logs, "$default", client.id);
  const second = await api.send(new GetConnectionCommand({ ConnectionId: client.id }));
  t.is(second.ConnectedAt?.getTime(), connectedAt);
  t.true((second.LastActiveAt?.getTime() ?? 0) >= sent);
});

test("GetConnection: an unknown connection is GoneException", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const api = managementClient(t, emulator.managementEndpoint);
  const err = await sdkError(t, api.send(new GetConnectionCommand({ ConnectionId: UNKNOWN_ID })));
  t.is(err.name, "GoneException");
});

test("DeleteConnection: the socket closes, $disconnect removes the row, and the id is gone", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const [doomed, other] = [await connect(emulator), await connect(emulator)];
  t.deepEqual(await table.ids(), [doomed.id, other.id].sort());

  const api = managementClient(t, emulator.managementEndpoint);
  const output = await api.send(new DeleteConnectionCommand({ ConnectionId: doomed.id }));
  t.is(output.$metadata.httpStatusCode, 204);
  t.deepEqual(await doomed.closed(), { code: 1000, reason: "Connection Closed Normally" });
  t.is((await invocation(logs, "$disconnect", doomed.id)).statusCode, 200);
  t.deepEqual(await table.ids(), [other.id]);
  t.deepEqual(emulator.connectionIds(), [other.id]);

  const err = await sdkError(t, api.send(new PostToConnectionCommand({ ConnectionId: doomed.id, Data: Buffer.from("x") })));
  t.is(err.name, "GoneException");
});

test("DeleteConnection: an unknown connection is GoneException", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const api = managementClient(t, emulator.managementEndpoint);
  const err = await sdkError(t, api.send(new DeleteConnectionCommand({ ConnectionId: UNKNOWN_ID })));
  t.is(err.name, "GoneException");
  t.is(err.$metadata.httpStatusCode, 410);
});

test("postRate: posts over the quota are 429 LimitExceededException, after the SDK retried", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, { postRate: 1, postBurst: 1 });
  const client = await connect(emulator);
  const api = managementClient(t, emulator.managementEndpoint, { maxAttempts: 2 });
  await api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from("first") }));
  // The quota is empty now and refills one token per second. Both posts are throttled, and
  // their retries (the SDK backs off under a second) can share only that one token.
  const results = await Promise.allSettled(
    ["second", "third"].map((text) => api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from(text) }))),
  );
  const rejected = results.flatMap((result) => (result.status === "rejected" ? [result.reason as unknown] : []));
  t.true(rejected.length >= 1);
  for (const err of rejected) {
    t.like(err, { name: "LimitExceededException", $metadata: { httpStatusCode: 429, attempts: 2 } });
  }
  t.is(logs.entries().filter((entry) => entry.emulator === "throttled").length, 2 + rejected.length);
  t.is(client.frames.length, 1 + (2 - rejected.length));
});

test("the postQuota seam: a running emulator starts throttling posts, a bad rate is a ConfigError, rate 0 lifts the quota", async (t) => {
  const quota = new AdjustablePostQuota();
  const { emulator } = await startTestEmulator(t, {}, { postQuota: quota });
  const client = await connect(emulator);
  const api = managementClient(t, emulator.managementEndpoint, { maxAttempts: 1 });
  const post = (text: string) => api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from(text) }));

  // A burst of 2 and a rate of 1/s: the third post within the second is refused.
  quota.set({ postRate: 1, postBurst: 2 });
  await post("one");
  await post("two");
  t.like(await sdkError(t, post("three")), { name: "LimitExceededException", $metadata: { httpStatusCode: 429 } });
  t.throws(() => quota.set({ postRate: -1 }), { message: /postRate/ });

  quota.set({ postRate: 0 });
  await post("four");
  t.deepEqual(await client.nextFrames(3), ["one", "two", "four"]);
});

test("the postLatencyMs seam: posts are still answered and delivered", async (t) => {
  const { emulator } = await startTestEmulator(t, {}, { postLatencyMs: 20 });
  const client = await connect(emulator);
  const api = managementClient(t, emulator.managementEndpoint);
  await api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from("late") }));
  t.is(await client.next(), "late");
});

// A request that looks signed to the emulator, which reads only the scheme (signatures are not verified).

test("paths outside this stage's @connections are 404", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const client = await connect(emulator);
  const base = emulator.managementEndpoint.replace(/\/dev$/, "");
  const headers = SIGNED_LOOKING;
  t.is((await fetch(`${base}/prod/@connections/${client.id}`, { method: "POST", body: "x", headers })).status, 404);
  t.is((await fetch(`${base}/dev/@connections/`, { method: "POST", body: "x", headers })).status, 404);
  const unsupported = await fetch(`${base}/dev/@connections/${client.id}`, { method: "PUT", body: "x", headers });
  t.is(unsupported.status, 405);
  t.is(unsupported.headers.get("x-amzn-errortype"), "MethodNotAllowedException");
  const gone = await fetch(`${base}/dev/@connections/${UNKNOWN_ID}`, { method: "POST", body: "x", headers });
  t.is(gone.headers.get("x-amzn-errortype"), "GoneException");
  t.deepEqual(await gone.json(), { message: "Gone" });
});

test("a request without a SigV4 Authorization header is 403 Missing Authentication Token, and does nothing", async (t) => {
  const { emulator, logs } = await startTestEmulator(t);
  const client = await connect(emulator);
  const url = `${emulator.managementEndpoint}/@connections/${encodeURIComponent(client.id)}`;
  const forged = JSON.stringify({ data: "forged", _now: 0, _me: true });
  const attempts: Array<[string, RequestInit]> = [
    ["POST", { method: "POST", body: forged }],
    ["GET", { method: "GET" }],
    ["DELETE", { method: "DELETE" }],
    ["POST with a Bearer token", { method: "POST", body: forged, headers: { authorization: "Bearer anything" } }],
  ];
  for (const [what, init] of attempts) {
    const response = await fetch(url, init);
    t.is(response.status, 403, what);
    t.is(response.headers.get("x-amzn-errortype"), "MissingAuthenticationTokenException", what);
    t.deepEqual(await response.json(), { message: "Missing Authentication Token" }, what);
  }
  t.is(logs.entries().filter((entry) => entry.emulator === "missingAuthentication").length, attempts.length);
  // Nothing was delivered and nothing closed: the next frame is a signed post's.
  t.deepEqual(emulator.connectionIds(), [client.id]);
  const api = managementClient(t, emulator.managementEndpoint);
  const signed = await api.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from("signed") }));
  t.is(signed.$metadata.httpStatusCode, 200);
  t.is(await client.next(), "signed");
  t.deepEqual(client.frames, ["signed"]);
});

test("the SDK's signed calls are accepted; stripped of their signature the SDK reports a 403", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const client = await connect(emulator);
  const api = managementClient(t, emulator.managementEndpoint);
  t.is((await api.send(new GetConnectionCommand({ ConnectionId: client.id }))).$metadata.httpStatusCode, 200);

  const unsigned = managementClient(t, emulator.managementEndpoint, { maxAttempts: 1 });
  unsigned.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers: Record<string, string> };
      delete request.headers.authorization;
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "dropAuthorization" },
  );
  const err = await sdkError(t, unsigned.send(new PostToConnectionCommand({ ConnectionId: client.id, Data: Buffer.from("x") })));
  t.is(err.$metadata.httpStatusCode, 403);
  t.is(err.name, "MissingAuthenticationTokenException");
  t.is(err.message, "Missing Authentication Token");
  t.deepEqual(client.frames, []);
});
