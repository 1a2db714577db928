/**
 * The answer to `{"_op":"history"}` (docs/history.md): one frame for the sender, built from the
 * stored copies as text (never parsed again), cut so that it fits one post.
 */
import { API_GATEWAY_MESSAGE_BYTES } from "../config/settings";
import { withMe } from "./message";
import type { HistoryRead } from "../store/history-store";

/** The largest payload a post may carry (API Gateway's 128 KiB), which one answer must fit. */
const MAX_ANSWER_BYTES = API_GATEWAY_MESSAGE_BYTES;
/** Room for the answer's own keys around its messages (about 140 bytes with 16-digit numbers). */
const ANSWER_ENVELOPE_BYTES = 256;
/** With history on, the largest copy a message may have: one always fits an answer alone. */
const HISTORY_MAX_MESSAGE_BYTES = MAX_ANSWER_BYTES - ANSWER_ENVELOPE_BYTES;

/** The message size limit with history on: the configured one, at most HISTORY_MAX_MESSAGE_BYTES. */
export function historyMessageLimit(maxMessageBytes: number): number {
  return Math.min(maxMessageBytes, HISTORY_MAX_MESSAGE_BYTES);
}

/**
 * `{"_history":{"messages":[…],"since","until","more","missed"},"_now","_me":true}` for `reader`:
 * each message as receivers got it, `"_me":true` in the ones it sent. Messages that would push the
 * answer past one post are left for the next request (`more`), or, for the latest ones, the oldest
 * are dropped.
 */
export function historyAnswer(read: HistoryRead, reader: string, now: number, latest: boolean): string {
  const copies = read.messages.map((message) => {
    const { sender, others } = withMe(message.base);
    return message.sender === reader ? sender : others;
  });
  const budget = MAX_ANSWER_BYTES - ANSWER_ENVELOPE_BYTES;
  let bytes = 0;
  let kept = 0;
  // Oldest first after `since`; newest first for the latest ones, so those kept are the newest.
  const order = latest ? [...copies.keys()].reverse() : [...copies.keys()];
  for (const index of order) {
    const size = Buffer.byteLength(copies[index]) + 1;
    if (bytes + size > budget) break;
    bytes += size;
    kept++;
  }
  const cut = kept < copies.length;
  const first = latest ? copies.length - kept : 0;
  const messages = read.messages.slice(first, first + kept);
  const since = latest && cut ? messages[0].seq - 1 : read.since;
  const until = messages.length > 0 ? messages[messages.length - 1].seq : read.until;
  const more = read.more || (cut && !latest);
  // controlAnswer's shape, with the copies as the text receivers got (not parsed and serialized again).
  const history = `{"messages":[${copies.slice(first, first + kept).join(",")}],"since":${since},"until":${until},"more":${more},"missed":${read.missed}}`;
  return `{"_history":${history},"_now":${now},"_me":true}`;
}
