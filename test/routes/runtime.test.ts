import test from "ava";
import { checkAccess } from "../../runtime/access/access-policy";
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import { fanOut } from "../../runtime/delivery/fanout";
import { ENV, readRuntimeConfig } from "../../runtime/config/environment";
import type { PostResult } from "../../runtime/delivery/poster";
import { classifyResponse } from "../../runtime/delivery/signed-poster";
import { ConfigError } from "../../runtime/config/checks";

function connectEvent(extra: Partial<WebSocketEvent> = {}): WebSocketEvent {
  return {
    requestContext: {
      routeKey: "$connect",
      eventType: "CONNECT",
      connectionId: "AAAAAAAAAAAAAA0=",
      connectedAt: 0,
      requestTimeEpoch: 0,
      requestTime: "01/Jan/1970:00:00:00 +0000",
      requestId: "r",
      extendedRequestId: "r",
      domainName: "example",
      stage: "dev",
      apiId: "api",
      messageDirection: "IN",
      identity: { sourceIp: "127.0.0.1" },
    },
    isBase64Encoded: false,
    ...extra,
  };
}

test("access: open when no token and no origins are configured", async (t) => {
  t.deepEqual(await checkAccess({ allowedOrigins: [] }, connectEvent({ headers: { Origin: "https://evil.example" } })), {});
});

test("access: token required via ?token= or Authorization: Bearer, 401 otherwise", async (t) => {
  const policy = { token: "s3cret", allowedOrigins: [] };
  const refused = (reason: string) => ({ refusal: { statusCode: 401, reason } });
  t.deepEqual(await checkAccess(policy, connectEvent()), refused("no token"));
  t.deepEqual(await checkAccess(policy, connectEvent({ queryStringParameters: { token: "wrong" } })), refused("wrong token"));
  t.deepEqual(await checkAccess(policy, connectEvent({ queryStringParameters: { token: "s3cre" } })), refused("wrong token"));
  t.deepEqual(await checkAccess(policy, connectEvent({ headers: { authorization: "Basic s3cret" } })), refused("no token"));
  t.deepEqual(await checkAccess(policy, connectEvent({ queryStringParameters: { token: "s3cret" } })), {});
  t.deepEqual(await checkAccess(policy, connectEvent({ headers: { Authorization: "Bearer s3cret" } })), {});
  // An empty ?token= is no token: it neither hides a valid header nor passes alone.
  t.deepEqual(await checkAccess(policy, connectEvent({ queryStringParameters: { token: "" }, headers: { Authorization: "Bearer s3cret" } })), {});
  t.deepEqual(await checkAccess(policy, connectEvent({ queryStringParameters: { token: "" } })), refused("no token"));
});

test("access: a present Origin outside allowedOrigins gets 403; no Origin (non-browser) is admitted", async (t) => {
  const policy = { allowedOrigins: ["https://game.example"] };
  t.deepEqual(await checkAccess(policy, connectEvent({ headers: { origin: "https://evil.example" } })), { refusal: { statusCode: 403, reason: "origin not allowed" } });
  t.deepEqual(await checkAccess(policy, connectEvent({ headers: { Origin: "https://game.example" } })), {});
  t.deepEqual(await checkAccess(policy, connectEvent()), {});
});

test("fanOut: never more than `concurrency` posts in flight, every receiver once, outcomes counted", async (t) => {
  const receivers = Array.from({ length: 200 }, (_, i) => `id-${i}`);
  const seen: string[] = [];
  let inFlight = 0;
  let peak = 0;
  const counts = await fanOut(
    receivers,
    async (id): Promise<PostResult> => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      seen.push(id);
      const n = Number(id.slice(3));
      if (n % 10 === 0) return { outcome: "gone" };
      if (n % 10 === 1) return { outcome: "failed", reason: "LimitExceededException" };
      if (n === 2) throw new TypeError("boom");
      return { outcome: "delivered" };
    },
    7,
  );
  t.is(peak, 7);
  t.deepEqual([...seen].sort(), [...receivers].sort());
  t.deepEqual(counts, {
    receivers: 200,
    delivered: 159,
    gone: 20,
    failed: 21,
    failures: { LimitExceededException: 20, TypeError: 1 },
  });
});

test("classifyResponse: by status, named after x-amzn-ErrorType as the SDK names errors", (t) => {
  t.deepEqual(classifyResponse(200, undefined), { outcome: "delivered" });
  t.deepEqual(classifyResponse(204, undefined), { outcome: "delivered" });
  t.deepEqual(classifyResponse(410, "GoneException"), { outcome: "gone" });
  t.deepEqual(classifyResponse(410, undefined), { outcome: "gone" });
  t.deepEqual(classifyResponse(429, "LimitExceededException"), { outcome: "retryable", reason: "LimitExceededException", throttled: true });
  t.deepEqual(classifyResponse(413, "PayloadTooLargeException"), { outcome: "failed", reason: "PayloadTooLargeException" });
  t.deepEqual(classifyResponse(403, "ForbiddenException:http://internal.amazon.com/"), { outcome: "failed", reason: "ForbiddenException" });
  t.deepEqual(classifyResponse(503, "ServiceUnavailableException"), { outcome: "retryable", reason: "ServiceUnavailableException", throttled: false });
  t.deepEqual(classifyResponse(500, undefined), { outcome: "retryable", reason: "UnknownError", throttled: false });
});

test("readRuntimeConfig: defaults, and every bad value names its variable and range", (t) => {
  const config = readRuntimeConfig({ [ENV.tableName]: "t", [ENV.allowedOrigins]: "https://a, https://b," });
  t.deepEqual(config, {
    tableName: "t",
    maxMessageBytes: 131072,
    fanOutConcurrency: 64,
    connectionTtlSeconds: 7500,
    managementEndpoint: undefined,
    accessToken: undefined,
    jwtSecret: undefined,
    jwksUrl: undefined,
    jwtIssuer: undefined,
    jwtAudience: undefined,
    allowedOrigins: ["https://a", "https://b"],
    dynamoEndpoint: undefined,
    region: undefined,
    fanout: "direct",
    history: false,
    historyTableName: undefined,
    historyTtlSeconds: 86400,
    shardQueueUrl: undefined,
    shardSize: 1000,
    sqsEndpoint: undefined,
    presence: false,
  });
  const bad = (env: Record<string, string>) => t.throws(() => readRuntimeConfig({ [ENV.tableName]: "t", ...env }), { instanceOf: ConfigError });
  t.is(t.throws(() => readRuntimeConfig({}), { instanceOf: ConfigError })?.message, "TABLE_NAME: is required (the connections table name)");
  t.is(
    bad({ [ENV.fanOutConcurrency]: "-1" })?.message,
    'FANOUT_CONCURRENCY: must be an integer from 1 to 1024 posts in flight (default 64), got "-1"',
  );
  t.is(
    bad({ [ENV.connectionTtlSeconds]: "3600" })?.message,
    'CONNECTION_TTL_SECONDS: must be an integer from 7200 to 604800 seconds (default 7500), got "3600"',
  );
  t.is(
    bad({ [ENV.maxMessageBytes]: "131073" })?.message,
    'MAX_MESSAGE_BYTES: must be an integer from 1 to 131072 bytes (default 131072), got "131073"',
  );
  t.is(bad({ [ENV.fanOutConcurrency]: "1.5" })?.key, "FANOUT_CONCURRENCY");
  // One way of checking tokens at a time; an HMAC secret as long as HS256's hash; a key set over HTTPS.
  const secret = "s".repeat(32);
  t.is(bad({ [ENV.accessToken]: "t", [ENV.jwtSecret]: secret })?.message, "ACCESS_TOKEN, JWT_SECRET: at most one of ACCESS_TOKEN, JWT_SECRET and JWKS_URL may be set");
  t.is(bad({ [ENV.jwtSecret]: secret, [ENV.jwksUrl]: "https://id.example/jwks.json" })?.key, "JWT_SECRET, JWKS_URL");
  t.is(bad({ [ENV.jwtSecret]: "short" })?.message, "JWT_SECRET: must be at least 32 bytes (an HS256 key as long as its hash)");
  t.is(bad({ [ENV.jwksUrl]: "http://id.example/jwks.json" })?.key, "JWKS_URL");
  t.is(bad({ [ENV.jwtIssuer]: "https://id.example" })?.message, "JWT_ISSUER: needs JWT_SECRET or JWKS_URL");
  t.is(readRuntimeConfig({ [ENV.tableName]: "t", [ENV.jwksUrl]: "http://127.0.0.1:9/jwks.json" }).jwksUrl, "http://127.0.0.1:9/jwks.json");
  t.is(readRuntimeConfig({ [ENV.tableName]: "t", [ENV.presence]: "true" }).presence, true);
  t.is(bad({ [ENV.presence]: "yes" })?.message, 'PRESENCE: must be true or false (default false), got "yes"');
  t.is(bad({ [ENV.fanout]: "fast" })?.message, 'FANOUT_MODE: must be one of direct, sharded (default direct), got "fast"');
  t.is(bad({ [ENV.fanout]: "sharded" })?.message, "SHARD_QUEUE_URL: is required when FANOUT_MODE is sharded");
  t.is(bad({ [ENV.fanout]: "sharded", [ENV.shardQueueUrl]: "https://q", [ENV.shardSize]: "0" })?.key, "SHARD_SIZE");
  t.like(readRuntimeConfig({ [ENV.tableName]: "t", [ENV.fanout]: "sharded", [ENV.shardQueueUrl]: "https://q", [ENV.shardSize]: "250" }), {
    fanout: "sharded",
    shardQueueUrl: "https://q",
    shardSize: 250,
  });
});
