import type { ExecutionContext } from "ava";
import test from "ava";
import * as https from "node:https";
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { AdjustablePostQuota } from "../../local/seams";
import { createDynamoConnectionStore } from "../../runtime/store/connection-store";
import { makeDeliver } from "../../runtime/delivery/fanout";
import { DEFAULT_ROOM } from "../../runtime/contract/rooms";
import { createPosterFactory } from "../../runtime/delivery/poster-factory";
import type { Poster } from "../../runtime/delivery/poster";
import { connect } from "../helpers/clients";
import { startTestEmulator } from "../helpers/emulator";
import { startHttpsStandIn, verifySigV4, type Answer, type HttpsStandIn } from "../helpers/https-stand-in";
import { openTable } from "../helpers/table";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

// A session token too, as Lambda's environment has: it must be sent and signed.
const CREDENTIALS = { ...LOCAL_AWS.credentials, sessionToken: "local-session-token" };
const ID = "Lp1fRdyPoAMCI0g=";
const payload = Buffer.from('{"hello":"☃"}');

function signedPoster(standIn: HttpsStandIn, timeoutMs?: number): Poster {
  return createPosterFactory({ region: LOCAL_AWS.region, credentials: CREDENTIALS, maxSockets: 4, ca: standIn.ca, timeoutMs })(standIn.endpoint);
}

async function scripted(t: ExecutionContext, script: Answer[], timeoutMs?: number) {
  const standIn = await startHttpsStandIn(t, { script });
  return { standIn, poster: signedPoster(standIn, timeoutMs) };
}

// The SDK client's own PostToConnection, through the same stand-in (trusting it the same way).
async function sdkRequest(t: ExecutionContext, standIn: HttpsStandIn, connectionId: string) {
  const agent = new https.Agent({ ca: standIn.ca });
  const client = new ApiGatewayManagementApiClient({
    region: LOCAL_AWS.region,
    credentials: CREDENTIALS,
    endpoint: standIn.endpoint,
    requestHandler: { httpsAgent: agent },
  });
  t.teardown(() => client.destroy());
  await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: payload }));
  return standIn.requests.at(-1)!;
}

test("signed post: the SDK's path, host and payload, with a SigV4 signature aws4 agrees with", async (t) => {
  const { standIn, poster } = await scripted(t, [{ status: 200 }]);
  const awkward = "a b/c@d!'()*~=+%";
  for (const id of [ID, awkward]) {
    t.deepEqual(await poster.post(id, payload), { outcome: "delivered" });
    const ours = standIn.requests.at(-1)!;
    const sdk = await sdkRequest(t, standIn, id);
    t.is(ours.method, "POST");
    t.is(ours.path, sdk.path, "the path exactly as the SDK sends it");
    t.is(ours.headers.host, sdk.headers.host);
    t.is(ours.headers["x-amz-security-token"], CREDENTIALS.sessionToken);
    t.deepEqual(ours.body, payload);
    const check = verifySigV4(ours, CREDENTIALS, LOCAL_AWS.region);
    t.is(check.sent, check.expected, "aws4 computes the same signature");
    t.true(check.signedHeaders.includes("host") && check.signedHeaders.includes("x-amz-security-token"));
    // The independent check can fail: the SDK's own request passes it, another path does not.
    const sdkCheck = verifySigV4(sdk, CREDENTIALS, LOCAL_AWS.region);
    t.is(sdkCheck.sent, sdkCheck.expected);
    const tampered = verifySigV4({ ...ours, path: `${ours.path}x` }, CREDENTIALS, LOCAL_AWS.region);
    t.not(tampered.sent, tampered.expected);
  }
  t.is(standIn.requests[0].path, `/dev/@connections/${encodeURIComponent(ID)}`);
  t.is(standIn.requests[2].path, "/dev/@connections/a%20b%2Fc%40d%21%27%28%29%2A~%3D%2B%25");
});

test("signed post: connections are kept alive and reused, at most maxSockets (4) of them", async (t) => {
  const { standIn, poster } = await scripted(t, [{ status: 200 }]);
  const ids = Array.from({ length: 12 }, (_, i) => `conn${i}=`);
  const results = await Promise.all(ids.map((id) => poster.post(id, payload)));
  t.deepEqual(results, ids.map(() => ({ outcome: "delivered" })));
  t.true(standIn.connections >= 1 && standIn.connections <= 4, `${standIn.connections} connections`);
  const opened = standIn.connections;
  for (const id of ids.slice(0, 5)) t.deepEqual(await poster.post(id, payload), { outcome: "delivered" });
  t.is(standIn.connections, opened, "later posts reuse the open connections");
  t.is(standIn.requests.at(-1)!.headers.connection, "keep-alive");
  t.is(standIn.requests.at(-1)!.headers["content-length"], String(payload.byteLength));
});

test("signed post: credentials about to expire are fetched again before signing", async (t) => {
  const standIn = await startHttpsStandIn(t);
  let fetched = 0;
  // Expiring within the SDK's 5-minute refresh window, so the client's provider must ask again.
  const provider = () => Promise.resolve({ ...CREDENTIALS, accessKeyId: `KEY${++fetched}`, expiration: new Date(Date.now() + 60_000) });
  const poster = createPosterFactory({ region: LOCAL_AWS.region, credentials: provider, maxSockets: 4, ca: standIn.ca })(standIn.endpoint);
  for (let i = 0; i < 3; i++) t.deepEqual(await poster.post(ID, payload), { outcome: "delivered" });
  const keys = standIn.requests.map((request) => /Credential=(\w+)\//.exec(String(request.headers.authorization))?.[1]);
  // Each post signed with credentials fetched for it (the SDK may fetch once more at the start).
  t.is(new Set(keys).size, 3);
  t.true(fetched >= 3);
  for (const [index, request] of standIn.requests.entries()) {
    const { sent, expected } = verifySigV4(request, { ...CREDENTIALS, accessKeyId: String(keys[index]) }, LOCAL_AWS.region);
    t.is(sent, expected);
  }
});

test("signed post: credentials far from expiry are fetched once", async (t) => {
  const standIn = await startHttpsStandIn(t);
  let fetched = 0;
  const provider = () => (fetched++, Promise.resolve({ ...CREDENTIALS, expiration: new Date(Date.now() + 3_600_000) }));
  const poster = createPosterFactory({ region: LOCAL_AWS.region, credentials: provider, maxSockets: 4, ca: standIn.ca })(standIn.endpoint);
  for (let i = 0; i < 3; i++) t.deepEqual(await poster.post(ID, payload), { outcome: "delivered" });
  t.is(fetched, 1);
});

test("signed post: a certificate not injected is refused, never trusted", async (t) => {
  const standIn = await startHttpsStandIn(t);
  const poster = createPosterFactory({ region: LOCAL_AWS.region, credentials: CREDENTIALS, maxSockets: 4 })(standIn.endpoint);
  const result = await poster.post(ID, payload);
  t.is(result.outcome, "failed");
  t.is(standIn.requests.length, 0);
});

test("signed post: 410 is gone at once", async (t) => {
  const { standIn, poster } = await scripted(t, [{ status: 410, errorType: "GoneException" }]);
  t.deepEqual(await poster.post(ID, payload), { outcome: "gone" });
  t.is(standIn.requests.length, 1);
});

test("signed post: 429 is retried until it gets through", async (t) => {
  const throttled: Answer = { status: 429, errorType: "LimitExceededException" };
  const { standIn, poster } = await scripted(t, [throttled, throttled, throttled, throttled, { status: 200 }]);
  t.deepEqual(await poster.post(ID, payload), { outcome: "delivered" });
  t.is(standIn.requests.length, 5);
});

test("signed post: 429 for over 3 s fails as LimitExceededException", async (t) => {
  const { standIn, poster } = await scripted(t, [{ status: 429, errorType: "LimitExceededException" }]);
  const started = Date.now();
  t.deepEqual(await poster.post(ID, payload), { outcome: "failed", reason: "LimitExceededException" });
  t.true(Date.now() - started >= 2500, "retried for about 3 s");
  t.true(standIn.requests.length > 10);
});

test("signed post: 413 fails at once as PayloadTooLargeException", async (t) => {
  const { standIn, poster } = await scripted(t, [{ status: 413, errorType: "PayloadTooLargeException" }]);
  t.deepEqual(await poster.post(ID, payload), { outcome: "failed", reason: "PayloadTooLargeException" });
  t.is(standIn.requests.length, 1);
});

test("signed post: a 5xx gets three attempts, then fails under its error name", async (t) => {
  const { standIn, poster } = await scripted(t, [{ status: 500, errorType: "InternalServerErrorException" }]);
  t.deepEqual(await poster.post(ID, payload), { outcome: "failed", reason: "InternalServerErrorException" });
  t.is(standIn.requests.length, 3);
});

test("signed post: a 5xx then success is delivered", async (t) => {
  const { standIn, poster } = await scripted(t, [{ status: 503, errorType: "ServiceUnavailableException" }, { status: 200 }]);
  t.deepEqual(await poster.post(ID, payload), { outcome: "delivered" });
  t.is(standIn.requests.length, 2);
});

test("signed post: a reset gets three attempts, then fails as TimeoutError", async (t) => {
  const { standIn, poster } = await scripted(t, ["reset"]);
  t.deepEqual(await poster.post(ID, payload), { outcome: "failed", reason: "TimeoutError" });
  t.is(standIn.requests.length, 3);
});

test("signed post: no answer within the timeout, three times, fails as TimeoutError", async (t) => {
  // 1 s, not less: on a busy machine a fresh TLS handshake alone can take a few hundred ms.
  const { standIn, poster } = await scripted(t, ["hang"], 1000);
  const started = Date.now();
  t.deepEqual(await poster.post(ID, payload), { outcome: "failed", reason: "TimeoutError" });
  t.true(Date.now() - started >= 3000);
  t.is(standIn.requests.length, 3);
});

test("signed post: a reset then success is delivered", async (t) => {
  const { standIn, poster } = await scripted(t, ["reset", { status: 200 }]);
  t.deepEqual(await poster.post(ID, payload), { outcome: "delivered" });
  t.is(standIn.requests.length, 2);
});

// Against the emulator's management API, through the HTTPS stand-in (which checks nothing itself).
async function viaEmulator(t: ExecutionContext) {
  const postQuota = new AdjustablePostQuota();
  const { emulator } = await startTestEmulator(t, {}, { postQuota });
  const standIn = await startHttpsStandIn(t, { forwardTo: emulator.managementEndpoint });
  return { emulator, standIn, poster: signedPoster(standIn), postQuota };
}

test("signed post via the emulator: delivered as one frame, signature checked by aws4", async (t) => {
  const { emulator, standIn, poster } = await viaEmulator(t);
  const client = await connect(emulator);
  t.deepEqual(await poster.post(client.id, payload), { outcome: "delivered" });
  t.is(await client.next(), '{"hello":"☃"}');
  const check = verifySigV4(standIn.requests[0], CREDENTIALS, LOCAL_AWS.region);
  t.is(check.sent, check.expected);
});

test("signed post via the emulator: gone, and the fan-out deletes the row of a connection older than a $connect can run", async (t) => {
  const { emulator, poster } = await viaEmulator(t);
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const expiresAt = Math.floor(Date.now() / 1000) + 600;
  // A minute old, and one whose `$connect` may still be running (API Gateway answers 410 until it returns).
  const JOINING = "joining-connection-id";
  await table.put({ connectionId: ID, room: DEFAULT_ROOM, connectedAt: Date.now() - 60_000, expiresAt });
  await table.put({ connectionId: JOINING, room: DEFAULT_ROOM, connectedAt: Date.now() - 1000, expiresAt });
  const dynamo = new DynamoDBClient({ ...LOCAL_AWS, endpoint: emulator.dynamoEndpoint });
  t.teardown(() => dynamo.destroy());
  const store = createDynamoConnectionStore(DynamoDBDocumentClient.from(dynamo), { tableName: emulator.tableName });
  const delivery = makeDeliver({ store, now: Date.now }, poster, "sender", { sender: "{}", others: "{}" });
  t.deepEqual(await delivery.deliver(ID), { outcome: "gone" });
  t.deepEqual(await delivery.deliver(JOINING), { outcome: "gone" });
  t.deepEqual(await table.ids(), [JOINING]);
  t.is(delivery.cleanupFailures(), 0);
});

test("signed post via the emulator: throttled posts wait for the quota, and fail past 3 s", async (t) => {
  const { emulator, poster, postQuota } = await viaEmulator(t);
  const client = await connect(emulator);
  postQuota.set({ postRate: 5, postBurst: 1 });
  const results = await Promise.all([1, 2, 3].map(() => poster.post(client.id, payload)));
  t.deepEqual(results, [1, 2, 3].map(() => ({ outcome: "delivered" })));
  t.deepEqual([await client.next(), await client.next(), await client.next()], [1, 2, 3].map(() => '{"hello":"☃"}'));

  // One post a second, ten at once: the retries last 3 s, so some run out of time.
  postQuota.set({ postRate: 1, postBurst: 1 });
  const crowded = await Promise.all(Array.from({ length: 10 }, () => poster.post(client.id, payload)));
  const delivered = crowded.filter((result) => result.outcome === "delivered").length;
  t.deepEqual(
    crowded.filter((result) => result.outcome !== "delivered"),
    Array.from({ length: 10 - delivered }, () => ({ outcome: "failed", reason: "LimitExceededException" })),
  );
  t.true(delivered >= 2 && delivered <= 6, `${delivered} delivered`);
  postQuota.set({ postRate: 0 });
  t.deepEqual(await poster.post(client.id, Buffer.from("after")), { outcome: "delivered" });
  const frames = await client.nextFrames(delivered + 1);
  t.deepEqual(frames, [...Array.from({ length: delivered }, () => '{"hello":"☃"}'), "after"], "exactly the delivered copies arrived");
});

test("signed post via the emulator: 128 KiB + 1 byte is PayloadTooLargeException", async (t) => {
  const { emulator, poster } = await viaEmulator(t);
  const client = await connect(emulator);
  t.deepEqual(await poster.post(client.id, Buffer.alloc(128 * 1024 + 1, "b")), { outcome: "failed", reason: "PayloadTooLargeException" });
  t.deepEqual(await poster.post(client.id, Buffer.from("after")), { outcome: "delivered" });
  t.is(await client.next(), "after");
});
