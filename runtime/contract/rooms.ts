/**
 * Rooms: a connection joins one room at `$connect` with `?room=NAME`, or the default room
 * without it (or with an empty one); a message reaches the sender's room only. docs/rooms.md.
 */
import type { HandlerResult, WebSocketEvent } from "./websocket-event";

/** What a room name may be: 1 to 64 of `A-Z a-z 0-9 _ . : -`. */
const ROOM_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** ROOM_NAME_PATTERN in words: the answer to a name that breaks it, from the handshake and from publish. */
const ROOM_NAME_RULE = "room must be 1-64 characters of A-Z a-z 0-9 _ . : -";
/** The default room's stored value: `$` is outside the name alphabet, so no `?room=` can name it. */
const DEFAULT_ROOM = "$default";
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { DEFAULT_ROOM, ROOM_NAME_RULE };

/** The room a `?room=` value names: absent or empty is DEFAULT_ROOM; undefined when the name breaks the rule. */
export function roomFromQuery(name: string | undefined): string | undefined {
  if (name === undefined || name === "") return DEFAULT_ROOM;
  return ROOM_NAME_PATTERN.test(name) ? name : undefined;
}

/** The room a `$connect` asks for, or the 400 that refuses a name outside ROOM_NAME_PATTERN. */
export function requestedRoom(event: WebSocketEvent): { room: string } | { refusal: HandlerResult } {
  const room = roomFromQuery(event.queryStringParameters?.room);
  if (room === undefined) return { refusal: { statusCode: 400, body: `Bad Request: ${ROOM_NAME_RULE}` } };
  return { room };
}
