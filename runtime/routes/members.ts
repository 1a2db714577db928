/**
 * `{"_op":"members"}`: who is in the sender's room, answered to the sender alone, with or without
 * identity and whether or not presence is on. One entry per user, sorted by user; anonymous
 * connections count in `count` but are not listed. This is how a joiner learns who is there,
 * since API Gateway refuses posts to it during its `$connect`.
 */
import { controlAnswer, unexpectedField, type ControlRequest } from "../contract/control-frame";
import { errorFrame } from "../contract/message";
import { errorName } from "../contract/errors";
import type { Membership, RoomMember } from "../store/connection-store";
import type { HandlerDeps, InvocationLog } from "./deps";

/** At most this many users are listed, in at most this many bytes; past either, `"truncated":true`. */
const MAX_MEMBERS = 1000;
const MAX_MEMBERS_BYTES = 100 * 1024;
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { MAX_MEMBERS, MAX_MEMBERS_BYTES };

interface MembersAnswer {
  frame: string;
  entry: Partial<InvocationLog>;
}

export async function answerMembers(deps: Pick<HandlerDeps, "store">, request: ControlRequest, context: { sender: string; now: number }): Promise<MembersAnswer> {
  const { now } = context;
  const field = unexpectedField(request.fields, []);
  if (field !== undefined) return { frame: errorFrame("BadRequest", `members takes no fields, got "${field}"`, now), entry: { error: "BadRequest" } };
  let own: Membership | undefined;
  let members: RoomMember[];
  try {
    own = await deps.store.membershipOf(context.sender);
    members = own === undefined ? [] : await deps.store.listMembers(own.room, Math.floor(now / 1000));
  } catch (err) {
    const message = `connection store unavailable (${errorName(err)}); members not listed`;
    return { frame: errorFrame("Unavailable", message, now), entry: { error: "Unavailable" } };
  }
  if (own === undefined) {
    const message = "this connection has no row in the connections table; members not listed";
    return { frame: errorFrame("NotConnected", message, now), entry: { error: "NotConnected" } };
  }
  // The eventually consistent index may not list a connection that has just joined: the asker is in the room.
  if (!members.some((member) => member.connectionId === context.sender)) members.push({ connectionId: context.sender, user: own.user, meta: own.meta });
  return { frame: controlAnswer("_presence", roster(members), now), entry: {} };
}

interface RosterEntry {
  user: string;
  meta?: unknown;
  connections: number;
}

/** `{event, count, members, truncated?}`: a user's meta is that of its first connection listed. */
function roster(members: readonly RoomMember[]): Record<string, unknown> {
  const byUser = new Map<string, RosterEntry>();
  for (const { user, meta } of members) {
    if (user === undefined) continue;
    const known = byUser.get(user);
    if (known !== undefined) known.connections++;
    else byUser.set(user, { user, ...(meta === undefined ? {} : { meta: JSON.parse(meta) as unknown }), connections: 1 });
  }
  const sorted = [...byUser.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  const listed: RosterEntry[] = [];
  let bytes = 2;
  for (const entry of sorted) {
    const size = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (listed.length === MAX_MEMBERS || bytes + size > MAX_MEMBERS_BYTES) {
      return { event: "members", count: members.length, members: listed, truncated: true };
    }
    listed.push(entry);
    bytes += size;
  }
  return { event: "members", count: members.length, members: listed };
}
