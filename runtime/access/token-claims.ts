/**
 * What a verified token's claims say about a connection (docs/identity.md): who it is (`sub`),
 * which rooms it may join (`rooms`), whether it may speak (`publish`), and what the room may
 * show about it (`meta`). The signature and the time claims are jose's job
 * (runtime/access/token-verifier.ts); this file only reads a payload jose has accepted.
 */
import { DEFAULT_ROOM } from "../contract/rooms";

/** A user as `sub` names it: 1 to 128 characters. */
const MAX_USER_LENGTH = 128;
/** `meta`, serialized, is stored in the row and copied into presence events and member lists. */
const MAX_META_BYTES = 512;
/** A `rooms` entry: room-name characters and `*`, or the default room's own name. */
const ROOM_GRANT_PATTERN = /^[A-Za-z0-9_.:*-]{1,64}$/;

/** An identified connection: what `$connect` records in its row. */
export interface Identity {
  user: string;
  /** `meta`, serialized (a JSON object of at most MAX_META_BYTES bytes). */
  meta?: string;
  /** Room names or patterns; undefined grants every room. */
  rooms?: readonly string[];
  /** False: the connection receives but may not publish. */
  publish: boolean;
}

export type ClaimsReading = { ok: true; identity: Identity } | { ok: false; reason: string };

/** The identity a verified payload describes, or why its claims are unusable (a 401). */
export function readClaims(payload: Record<string, unknown>): ClaimsReading {
  const { sub, rooms, publish, meta } = payload;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_USER_LENGTH) return refuse(`sub must be a string of 1-${MAX_USER_LENGTH} characters`);
  if (rooms !== undefined && !(Array.isArray(rooms) && rooms.every((entry) => typeof entry === "string" && (entry === DEFAULT_ROOM || ROOM_GRANT_PATTERN.test(entry))))) {
    return refuse("rooms must be an array of room names or patterns");
  }
  if (publish !== undefined && typeof publish !== "boolean") return refuse("publish must be a boolean");
  const serializedMeta = meta === undefined ? undefined : serializeMeta(meta);
  if (serializedMeta === null) return refuse(`meta must be a JSON object of at most ${MAX_META_BYTES} bytes`);
  return { ok: true, identity: { user: sub, meta: serializedMeta, rooms: rooms as string[] | undefined, publish: publish !== false } };
}

/**
 * Whether `rooms` lets a connection join `room`. `*` in an entry matches any run of room-name
 * characters; the default room is granted by the entry `"*"` or `"$default"` alone (its stored
 * name starts with `$`, outside the alphabet patterns match).
 */
export function grantsRoom(rooms: readonly string[] | undefined, room: string): boolean {
  if (rooms === undefined) return true;
  if (room === DEFAULT_ROOM) return rooms.includes("*") || rooms.includes(DEFAULT_ROOM);
  return rooms.some((entry) => entry !== DEFAULT_ROOM && patternOf(entry).test(room));
}

function patternOf(entry: string): RegExp {
  const escaped = entry.replace(/[.]/g, "\\.").split("*").join("[A-Za-z0-9_.:-]*");
  return new RegExp(`^${escaped}$`);
}

// null when `meta` is not a plain JSON object, or too large once serialized.
function serializeMeta(meta: unknown): string | null {
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return null;
  const text = JSON.stringify(meta);
  return Buffer.byteLength(text) <= MAX_META_BYTES ? text : null;
}

function refuse(reason: string): ClaimsReading {
  return { ok: false, reason };
}
