/**
 * Presence (opt-in, `PRESENCE=true`): after a connection joins a room, every other member gets
 * `{"_presence":{"event":"join","count":N},"_now":…,"_me":false}`; after one leaves, the remaining
 * members get the `leave` event. An identified connection's events also name its `user` and, when
 * its token had one, its `meta`. Posted directly by `$connect` and `$disconnect` in both fan-out
 * modes. The joiner hears nothing: API Gateway refuses posts to it before its `$connect` returns;
 * it asks with `{"_op":"members"}` (runtime/routes/members.ts) once open.
 */
import { listRoom } from "../store/connection-store";
import { postCopies } from "../delivery/broadcast";
import { errorName } from "../contract/errors";
import type { HandlerDeps, InvocationLog } from "./deps";
import { withMe } from "../contract/message";

export type PresenceEvent = "join" | "leave";

/** Who joined or left, as the row records it; both absent for an anonymous connection. */
export interface PresenceIdentity {
  user?: string;
  /** Serialized JSON, as stored. */
  meta?: string;
}

/** The stamped presence payload without `_me`, as `withMe` takes it. */
function presenceBase(event: PresenceEvent, count: number, who: PresenceIdentity, now: number): string {
  const named = who.user === undefined ? {} : { user: who.user, ...(who.meta === undefined ? {} : { meta: JSON.parse(who.meta) as unknown }) };
  return JSON.stringify({ _presence: { event, count, ...named }, _now: now });
}

/**
 * Tells the other members of `room` that `connectionId` joined or left. The count is computed
 * from the Query result with the joiner added or the leaver removed, so the index's eventual
 * consistency can neither leave the newcomer out nor count the one who left.
 * Never throws: a failure is only reported in the log line, since the connection itself is fine.
 */
export async function announcePresence(
  deps: Pick<HandlerDeps, "store" | "posterFor" | "limits" | "now">,
  change: { event: PresenceEvent; room: string; connectionId: string; who: PresenceIdentity; endpoint: string; now: number },
): Promise<Partial<InvocationLog>> {
  let members: string[];
  try {
    members = await listRoom(deps.store, change.room, Math.floor(deps.now() / 1000));
  } catch (err) {
    return { error: `presence: ${errorName(err)}` };
  }
  const others = members.filter((id) => id !== change.connectionId);
  const count = change.event === "join" ? others.length + 1 : others.length;
  const outgoing = withMe(presenceBase(change.event, count, change.who, change.now));
  return postCopies(deps, deps.posterFor(change.endpoint), others, undefined, outgoing);
}
