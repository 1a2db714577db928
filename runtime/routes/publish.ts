/**
 * The publish handler: a backend POSTs a message to a room (function URL, or `/{stage}/@publish`
 * in the emulator) and every connection of the room gets it, stamped `"_server":true` and
 * `"_me":false`. It runs `$default`'s room fan-out (runtime/delivery/broadcast.ts) without a sender:
 * direct posts, or shard jobs.
 */
import { broadcastToRoom, unavailableMessage } from "../delivery/broadcast";
import type { FunctionUrlEvent, FunctionUrlHandler, FunctionUrlResult } from "../contract/function-url-event";
import { logInvocation, type HandlerDeps, type InvocationLog, type Logged } from "./deps";
import { publishMessage, type ErrorCode, type Transformed } from "../contract/message";
import { historyMessageLimit } from "../contract/history-answer";
import { storeNumbered, type Numbered } from "./history-append";
import { DEFAULT_ROOM, ROOM_NAME_RULE, roomFromQuery } from "../contract/rooms";
import { API_GATEWAY_MESSAGE_BYTES } from "../config/settings";

/** The largest request body taken, as API Gateway takes no larger message from a client. */
const PUBLISH_MAX_BODY_BYTES = API_GATEWAY_MESSAGE_BYTES;
/** Route name of the publish function's log lines. */
const PUBLISH_ROUTE = "publish";

type PublishErrorCode = ErrorCode | "InvalidRoom" | "MethodNotAllowed";

/** What the publish handler needs beyond `$default`'s deps: the management API is not in its event. */
export type PublishDeps = HandlerDeps & { managementEndpoint: string };

/** Direct mode: 200 with the fan-out counts. Sharded mode: 202 once the shard jobs are queued. */
export function makePublishHandler(deps: PublishDeps): FunctionUrlHandler {
  return (event) => logInvocation(deps, { route: PUBLISH_ROUTE, connectionId: "", requestId: event.requestContext.requestId }, () => publish(deps, event));
}

type Outcome = Logged<FunctionUrlResult>;

async function publish(deps: PublishDeps, event: FunctionUrlEvent): Promise<Outcome> {
  const { requestId, timeEpoch: now, http } = event.requestContext;
  if (http.method !== "POST") {
    return refuse(405, "MethodNotAllowed", `${http.method} is not supported; POST the message`, { Allow: "POST" });
  }
  const room = roomFromQuery(event.queryStringParameters?.room);
  if (room === undefined) return refuse(400, "InvalidRoom", ROOM_NAME_RULE);
  const body = bodyBytes(event);
  if (body.length > PUBLISH_MAX_BODY_BYTES) {
    return refuse(413, "MessageTooLarge", `request body is ${body.length} bytes, the limit is ${PUBLISH_MAX_BODY_BYTES}`, {}, PUBLISH_MAX_BODY_BYTES);
  }
  // Only sharded copies carry `_id` (and only then does broadcastToRoom make shard jobs); the
  // function URL's request id is unique per request.
  const id = deps.sharded ? requestId : undefined;
  const text = body.toString("utf8");
  const maxBytes = deps.history ? historyMessageLimit(deps.limits.maxMessageBytes) : deps.limits.maxMessageBytes;
  let message: Transformed | Numbered = publishMessage(text, now, maxBytes, { id });
  // History on: numbered and stored first, under the room's next `_seq` ("" is no connection's id).
  if (message.ok && deps.history) message = await storeNumbered(deps.history, { room, sender: "", now }, (seq) => publishMessage(text, now, maxBytes, { seq, id }));
  if (!message.ok) {
    const status = message.code === "MessageTooLarge" ? 413 : message.code === "Unavailable" ? 503 : 400;
    return refuse(status, message.code, message.error.message, {}, "limit" in message.error ? message.error.limit : undefined);
  }

  const seq = "seq" in message ? { seq: message.seq } : {};
  const outcome = await broadcastToRoom(deps, { room, outgoing: message.outgoing, endpoint: deps.managementEndpoint, messageId: id });
  if (!outcome.ok) {
    return refuse(503, "Unavailable", unavailableMessage(outcome), {}, undefined, { ...outcome.counts, ...seq });
  }
  const { receivers = 0, delivered = 0, gone = 0, failed = 0, shards = 0 } = outcome.counts;
  // The room as the request named it; null for the default room. History on: the `_seq` it got.
  const named = room === DEFAULT_ROOM ? null : room;
  const answer = id === undefined ? { room: named, ...seq, receivers, delivered, gone, failed } : { room: named, ...seq, shards };
  return { result: json(id === undefined ? 200 : 202, answer), entry: { ...outcome.counts, ...seq } };
}

function bodyBytes(event: FunctionUrlEvent): Buffer {
  return Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8");
}

function refuse(
  statusCode: number,
  code: PublishErrorCode,
  message: string,
  headers: Record<string, string> = {},
  limit?: number,
  entry: Partial<InvocationLog> = {},
): Outcome {
  const error = limit === undefined ? { code, message } : { code, message, limit };
  return { result: json(statusCode, { _error: error }, headers), entry: { ...entry, error: code } };
}

function json(statusCode: number, body: object, headers: Record<string, string> = {}): FunctionUrlResult {
  return { statusCode, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}
