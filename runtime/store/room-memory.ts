/**
 * rememberRooms: a connection's room and identity are fixed at `$connect`, so a container need not
 * read them again for every message of that connection. The wrapped store answers `membershipOf` from memory for
 * `maxAgeMs` after a read, which bounds how long a row deleted behind a live connection goes
 * unnoticed, for at most `maxEntries` connections (the longest-remembered is dropped first).
 * Only rooms found are remembered: a sender without a row is looked up on every message.
 */
import type { ConnectionStore, Membership } from "./connection-store";

export interface RoomMemoryOptions {
  maxEntries: number;
  maxAgeMs: number;
  /** Epoch ms. */
  now: () => number;
}

export function rememberRooms(store: ConnectionStore, options: RoomMemoryOptions): ConnectionStore {
  const { maxEntries, maxAgeMs, now } = options;
  // Per container, made here: runtime/SERIALIZER.md, rule 2.
  const rooms = new Map<string, { membership: Membership; readAt: number }>();
  return {
    put: (record) => store.put(record),
    forEachRoomPage: (room, nowSeconds, onPage) => store.forEachRoomPage(room, nowSeconds, onPage),
    listMembers: (room, nowSeconds) => store.listMembers(room, nowSeconds),
    remove(connectionId, connectedBefore) {
      rooms.delete(connectionId);
      return store.remove(connectionId, connectedBefore);
    },
    async membershipOf(connectionId) {
      const readAt = now();
      const known = rooms.get(connectionId);
      if (known !== undefined && readAt - known.readAt < maxAgeMs) return known.membership;
      rooms.delete(connectionId);
      const membership = await store.membershipOf(connectionId);
      if (membership === undefined) return undefined;
      rooms.set(connectionId, { membership, readAt });
      if (rooms.size > maxEntries) {
        const oldest = rooms.keys().next();
        if (oldest.done !== true) rooms.delete(oldest.value);
      }
      return membership;
    },
  };
}
