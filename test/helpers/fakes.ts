/**
 * In-memory stand-ins for the handlers' injected dependencies (the ConnectionStore, the Poster,
 * the ShardQueue), for unit tests of every handler branch that run in milliseconds. The
 * end-to-end tests (dynalite, the real SDK, real sockets) stay the proof that the real parts
 * behave like these.
 */
import type { ConnectionRecord, ConnectionStore, Membership } from "../../runtime/store/connection-store";
import type { HandlerDeps, InvocationLog } from "../../runtime/routes/deps";
import type { Poster, PostResult } from "../../runtime/delivery/poster";
import type { FunctionUrlEvent } from "../../runtime/contract/function-url-event";
import type { ShardJob } from "../../runtime/delivery/shard-jobs";
import type { ShardQueue } from "../../runtime/delivery/sqs-shard-queue";
import { connectEvent, disconnectEvent, messageEvent, type ConnectionContext } from "../../local/gateway/event-builders";

/** An error as the SDK throws them: the handlers log and report its name only. */
function namedError(name: string): Error {
  return Object.assign(new Error(`${name} (fake)`), { name });
}

type StoreCall = "put" | "remove" | "membershipOf" | "forEachRoomPage" | "listMembers";

interface FakeStore extends ConnectionStore {
  /** The table: connection id → row, in insertion order. */
  rows: Map<string, ConnectionRecord>;
  /** Makes every later call of `call` reject with an error named `name` (after `pages` pages for forEachRoomPage). */
  fail(call: StoreCall, name: string, pages?: number): void;
  /** Leaves `id` out of room queries, as the eventually consistent index does right after `$connect`. */
  hideFromIndex(id: string): void;
  /** Makes removing `id`'s row reject (a failed clean-up of a gone connection). */
  failRemoveOf(id: string): void;
  /** Keeps listing `id` in room queries after its row is removed, as the lagging index does right after `$disconnect`. */
  lingerInIndex(id: string): void;
}

/** A ConnectionStore over a Map: room queries skip expired rows and page `pageSize` ids at a time. */
function createFakeStore(pageSize = 2): FakeStore {
  const rows = new Map<string, ConnectionRecord>();
  const failures = new Map<StoreCall, { name: string; pages: number }>();
  const hidden = new Set<string>();
  const removeFailures = new Set<string>();
  const lingerers = new Set<string>();
  const lingering = new Map<string, ConnectionRecord>();
  const listed = (room: string, nowSeconds: number) =>
    [...rows.values(), ...lingering.values()].filter((row) => row.room === room && row.expiresAt > nowSeconds && !hidden.has(row.connectionId));
  const check = (call: StoreCall) => {
    const failure = failures.get(call);
    if (failure && call !== "forEachRoomPage") throw namedError(failure.name);
  };
  return {
    rows,
    fail: (call, name, pages = 0) => void failures.set(call, { name, pages }),
    hideFromIndex: (id) => void hidden.add(id),
    failRemoveOf: (id) => void removeFailures.add(id),
    lingerInIndex: (id) => void lingerers.add(id),
    put(record) {
      check("put");
      rows.set(record.connectionId, { ...record });
      return Promise.resolve();
    },
    remove(connectionId, connectedBefore) {
      check("remove");
      if (removeFailures.has(connectionId)) return Promise.reject(namedError("ConditionalCheckFailedException"));
      const removed = rows.get(connectionId);
      if (connectedBefore !== undefined && !(removed && removed.connectedAt < connectedBefore)) return Promise.resolve(undefined);
      if (removed && lingerers.has(connectionId)) lingering.set(connectionId, removed);
      rows.delete(connectionId);
      return Promise.resolve(removed && membership(removed));
    },
    membershipOf(connectionId) {
      check("membershipOf");
      const row = rows.get(connectionId);
      return Promise.resolve(row && membership(row));
    },
    listMembers(room, nowSeconds) {
      check("listMembers");
      return Promise.resolve(listed(room, nowSeconds).map(({ connectionId, user, meta }) => ({ connectionId, user, meta })));
    },
    async forEachRoomPage(room, nowSeconds, onPage) {
      const ids = listed(room, nowSeconds).map((row) => row.connectionId);
      const failure = failures.get("forEachRoomPage");
      let page = 0;
      do {
        if (failure && page >= failure.pages) throw namedError(failure.name);
        await onPage(ids.slice(page * pageSize, (page + 1) * pageSize));
        page++;
      } while (page * pageSize < ids.length);
    },
  };
}

function membership(row: ConnectionRecord): Membership {
  return { room: row.room, user: row.user, meta: row.meta, publish: row.publish !== false };
}

/** One recorded post: where it went and the payload as text. */
interface RecordedPost {
  endpoint: string;
  connectionId: string;
  payload: string;
}

interface RecordingPoster {
  posterFor(endpoint: string): Poster;
  posts: RecordedPost[];
  /** Answers posts to `id` with `result` instead of delivered. */
  answer(id: string, result: PostResult): void;
  /** The payloads `id` received, parsed. */
  received(id: string): unknown[];
}

/** A Poster that records every post and answers delivered unless told otherwise per connection. */
function createRecordingPoster(): RecordingPoster {
  const posts: RecordedPost[] = [];
  const answers = new Map<string, PostResult>();
  return {
    posts,
    answer: (id, result) => void answers.set(id, result),
    received: (id) => posts.filter((post) => post.connectionId === id).map((post): unknown => JSON.parse(post.payload)),
    posterFor: (endpoint) => ({
      post(connectionId, payload) {
        posts.push({ endpoint, connectionId, payload: Buffer.from(payload).toString("utf8") });
        return Promise.resolve(answers.get(connectionId) ?? { outcome: "delivered" });
      },
    }),
  };
}

interface FakeShardQueue extends ShardQueue {
  /** Every accepted enqueue call's jobs. */
  batches: ShardJob[][];
  /** Makes enqueue calls after the first `accepted` ones reject with an error named `name`. */
  fail(name: string, accepted?: number): void;
}

export function createFakeShardQueue(): FakeShardQueue {
  const batches: ShardJob[][] = [];
  let failure: { name: string; accepted: number } | undefined;
  return {
    batches,
    fail: (name, accepted = 0) => void (failure = { name, accepted }),
    enqueue(jobs) {
      if (failure && batches.length >= failure.accepted) return Promise.reject(namedError(failure.name));
      batches.push(jobs.map((job) => ({ ...job, receivers: [...job.receivers] })));
      return Promise.resolve();
    },
  };
}

/** The fixed clock of every fake rig: each invocation's durationMs is 0. */
export const FAKE_NOW = 1764547200000;
export const FAKE_ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev";

export interface FakeRig {
  deps: HandlerDeps;
  store: FakeStore;
  poster: RecordingPoster;
  /** The log lines the handlers wrote. */
  logs: InvocationLog[];
}

/** HandlerDeps over the fakes: open access, TTL 3600 s, fan-out one post at a time (posts in order). */
export function fakeRig(overrides: Partial<HandlerDeps> = {}): FakeRig {
  const store = createFakeStore();
  const poster = createRecordingPoster();
  const logs: InvocationLog[] = [];
  const deps: HandlerDeps = {
    store,
    posterFor: (endpoint) => poster.posterFor(endpoint),
    limits: { maxMessageBytes: 1024, fanOutConcurrency: 1, connectionTtlSeconds: 3600 },
    access: { allowedOrigins: [] },
    now: () => FAKE_NOW,
    log: (entry) => void logs.push(entry),
    ...overrides,
  };
  return { deps, store, poster, logs };
}

/**
 * A row as `$connect` wrote it a minute before FAKE_NOW: older than any `$connect` runs, so a 410
 * deletes it (runtime/delivery/fanout.ts).
 */
export function row(connectionId: string, room: string, expiresAt = FAKE_NOW / 1000 + 3600): ConnectionRecord {
  return { connectionId, connectedAt: FAKE_NOW - 60_000, expiresAt, room };
}

function context(connectionId: string): ConnectionContext {
  return { connectionId, connectedAt: FAKE_NOW, domainName: "abc123.execute-api.eu-west-1.amazonaws.com", stage: "dev", apiId: "abc123", identity: { sourceIp: "192.0.2.1" } };
}

/** The log line a handler writes for `event` (durations are 0 on the fakes' fixed clock). */
export function logLine(event: { requestContext: { routeKey: string; connectionId: string; requestId: string } }, statusCode: number, rest: object = {}): Record<string, unknown> {
  return { route: event.requestContext.routeKey, connectionId: event.requestContext.connectionId, requestId: event.requestContext.requestId, statusCode, durationMs: 0, ...rest };
}

/** The events of connection `id` at FAKE_NOW, as API Gateway shapes them. */
export const fakeEvents = {
  connect: (id: string, handshake: { headers?: Record<string, string>; query?: Record<string, string> } = {}) =>
    connectEvent(context(id), { headers: handshake.headers ?? {}, queryStringParameters: handshake.query }),
  message: (id: string, body: string) => messageEvent(context(id), body, FAKE_NOW),
  disconnect: (id: string) => disconnectEvent(context(id), 1000, "", FAKE_NOW),
};

/** A function URL POST (payload format 2.0) to the publish function at FAKE_NOW. */
export function publishEvent(options: { method?: string; room?: string; body?: string } = {}): FunctionUrlEvent {
  const method = options.method ?? "POST";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/",
    rawQueryString: options.room === undefined ? "" : `room=${encodeURIComponent(options.room)}`,
    headers: { "content-type": "application/json" },
    ...(options.room === undefined ? {} : { queryStringParameters: { room: options.room } }),
    requestContext: {
      accountId: "123456789012",
      apiId: "publishurl",
      domainName: "publishurl.lambda-url.eu-west-1.on.aws",
      domainPrefix: "publishurl",
      http: { method, path: "/", protocol: "HTTP/1.1", sourceIp: "192.0.2.9", userAgent: "unit" },
      requestId: "publish-request-1",
      routeKey: "$default",
      stage: "$default",
      time: "01/Dec/2025:00:00:00 +0000",
      timeEpoch: FAKE_NOW,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: false,
  };
}
