/**
 * Exactly once and in order: copies are released by `_seq` (history on), duplicates dropped by
 * `_seq` and by `_id` (sharded mode's at-least-once), a copy ahead of a missing one held for
 * `reorderMs` before history is asked for the hole, and catch-up pages merged with live copies.
 */
import type { Clock } from "./options";
import { idOf, seqOf, type HistoryPage } from "./frames";
import type { Gap, Message } from "./types";

/** How many `_id`s are remembered to drop a second copy; sharded duplicates arrive close together. */
const REMEMBERED_IDS = 1000;

/** A catch-up unanswered this long is given up (asked again if a hole remains): it never holds delivery or a hand-over longer. */
const HISTORY_TIMEOUT_MS = 10_000;

export interface SequencerHandlers {
  deliver(message: Message): void;
  gap(gap: Gap): void;
  /** Sends `{"_op":"history","since":since}` on the connection catching up; false when none is open. */
  ask(since: number): boolean;
  /** A catch-up ended (answered, given up or aborted): nothing is outstanding now. */
  idle(): void;
}

export class Sequencer {
  /** The highest `_seq` delivered; undefined until the first copy (only live messages before it). */
  private last: number | undefined;
  private readonly ahead = new Map<number, Message>();
  private readonly ids = new RecentIds(REMEMBERED_IDS);
  private catchingUp = false;
  /** History said messages after `last` are gone: the next copy placed ends the gap. */
  private gapOpen = false;
  private holeTimer: unknown;
  private askTimer: unknown;
  private retryTimer: unknown;
  /** What the outstanding request asked for: what a refused one asks again. */
  private askedSince = 0;

  constructor(
    private readonly ordered: boolean,
    private readonly reorderMs: number,
    private readonly clock: Clock,
    private readonly handlers: SequencerHandlers,
  ) {}

  /** True while a history request is outstanding. */
  get busy(): boolean {
    return this.catchingUp;
  }

  /** A live data copy. */
  live(message: Message): void {
    const seq = seqOf(message);
    if (!this.ordered || seq === undefined) return this.release(message);
    this.place(seq, message);
    this.flush();
  }

  /** A connection is open for catch-up: asks for what followed the last copy delivered (nothing before the first). */
  resume(): void {
    if (!this.ordered || this.last === undefined) return;
    this.request(this.last);
  }

  /** The connection catching up ended: its answer will not come; the next `resume` asks again. */
  abort(): void {
    this.settle();
  }

  /**
   * The backend answered the connection catching up with a failure (throttled, unavailable, an
   * integration error), which may have been the history request's: it is asked again after
   * `reorderMs`, within the same HISTORY_TIMEOUT_MS.
   */
  refused(): void {
    if (!this.catchingUp) return;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => {
      if (this.catchingUp && !this.handlers.ask(this.askedSince)) this.settle();
    }, this.reorderMs);
  }

  /** One page of a history answer. */
  page(page: HistoryPage): void {
    if (!this.catchingUp) return;
    if (page.missed) this.gapOpen = true;
    for (const message of page.messages) {
      const seq = seqOf(message);
      if (seq !== undefined) this.place(seq, message);
    }
    this.flush();
    if (page.more) return this.request(page.until);
    // Delivered before `idle` lets a hand-over switch, and flushed again to watch for a hole.
    this.settle();
    this.flush();
  }

  stop(): void {
    this.settle();
    this.clock.clearTimeout(this.holeTimer);
  }

  private place(seq: number, message: Message): void {
    if (this.last !== undefined && seq <= this.last) return;
    if (!this.ahead.has(seq)) this.ahead.set(seq, message);
  }

  /** Releases every copy that follows the last one delivered, then watches for a hole. */
  private flush(): void {
    if (this.ahead.size === 0) return;
    if (this.last === undefined || this.gapOpen) this.startAt(Math.min(...this.ahead.keys()));
    for (let next = this.last! + 1; this.ahead.has(next); next++) {
      const message = this.ahead.get(next)!;
      this.ahead.delete(next);
      this.last = next;
      this.release(message);
    }
    this.clock.clearTimeout(this.holeTimer);
    if (this.ahead.size > 0 && !this.catchingUp) this.holeTimer = this.clock.setTimeout(() => this.fillHole(), this.reorderMs);
  }

  // The first copy sets where delivery starts; after a gap, the gap ends just before it.
  private startAt(first: number): void {
    if (this.gapOpen && this.last !== undefined && first - 1 > this.last) this.handlers.gap({ since: this.last, until: first - 1 });
    for (const seq of [...this.ahead.keys()]) if (seq < first) this.ahead.delete(seq);
    this.last = Math.max(this.last ?? -Infinity, first - 1);
    this.gapOpen = false;
  }

  private fillHole(): void {
    if (this.ahead.size > 0 && !this.catchingUp && this.last !== undefined) this.request(this.last);
  }

  private request(since: number): void {
    this.clock.clearTimeout(this.holeTimer);
    this.clock.clearTimeout(this.askTimer);
    this.clock.clearTimeout(this.retryTimer);
    this.askedSince = since;
    if (!this.handlers.ask(since)) return this.settle();
    this.catchingUp = true;
    this.askTimer = this.clock.setTimeout(() => {
      this.settle();
      this.flush();
    }, HISTORY_TIMEOUT_MS);
  }

  private settle(): void {
    this.clock.clearTimeout(this.askTimer);
    this.clock.clearTimeout(this.retryTimer);
    if (!this.catchingUp) return;
    this.catchingUp = false;
    this.handlers.idle();
  }

  private release(message: Message): void {
    const id = idOf(message);
    if (id !== undefined && !this.ids.add(id)) return;
    this.handlers.deliver(message);
  }
}

/** The last `size` ids seen. */
class RecentIds {
  private readonly seen = new Set<string>();

  constructor(private readonly size: number) {}

  /** False when `id` was seen already. */
  add(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > this.size) this.seen.delete(this.seen.values().next().value!);
    return true;
  }
}
