/**
 * History on: a data message (a client's, or a server publish) is numbered and stored before any
 * copy is posted, so every copy carries the `_seq` it is stored under. Storing fails whole or not
 * at all: then nobody gets the message and its sender gets `Unavailable`.
 */
import { errorName } from "../contract/errors";
import { errorFrame, type Outgoing, type Transformed } from "../contract/message";
import type { HistoryStore } from "../store/history-store";

export type Numbered = { ok: true; outgoing: Outgoing; seq: number } | Extract<Transformed, { ok: false }> | { ok: false; code: "Unavailable"; frame: string; error: { message: string } };

/**
 * Stores the copies `stamp(seq)` builds under the room's next number. `stamp` runs again for each
 * number tried; a stamped copy that turns out too large is answered as it is, with nothing stored.
 */
export async function storeNumbered(
  history: HistoryStore,
  message: { room: string; sender: string; now: number },
  stamp: (seq: number) => Transformed,
): Promise<Numbered> {
  let built: Transformed | undefined;
  let seq: number | undefined;
  try {
    seq = await history.append(message.room, Math.floor(message.now / 1000), (next) => {
      built = stamp(next);
      return built.ok ? { base: built.outgoing.base, sender: message.sender } : undefined;
    });
  } catch (err) {
    const text = `history store unavailable (${errorName(err)}); message not sent`;
    return { ok: false, code: "Unavailable", frame: errorFrame("Unavailable", text, message.now), error: { message: text } };
  }
  if (built === undefined) throw new Error("history.append resolved without building the message");
  if (!built.ok) return built;
  if (seq === undefined) throw new Error("history.append declined a message that was built");
  return { ok: true, outgoing: built.outgoing, seq };
}
