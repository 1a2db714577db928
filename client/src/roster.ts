/**
 * `members()` requests: one `{"_op":"members"}` on the open connection answers every caller
 * waiting; a request whose connection ended is sent again on the next one.
 */
import type { Clock } from "./options";
import type { Link } from "./link";
import type { Members } from "./types";

/** How long a sent request waits for its answer before its callers are told there is none. */
const MEMBERS_TIMEOUT_MS = 10_000;

const MEMBERS = JSON.stringify({ _op: "members" });

interface Waiter {
  resolve(members: Members): void;
  reject(error: Error): void;
}

export class Roster {
  private waiting: Waiter[] = [];
  private sentOn: Link | undefined;
  private timer: unknown;

  constructor(private readonly clock: Clock) {}

  /** A caller waits for the next roster; asks on `link` if it is open. */
  request(link: Link | undefined): Promise<Members> {
    const answer = new Promise<Members>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.ask(link);
    return answer;
  }

  /** Sends the request on `link` unless one is out on an open connection already. */
  ask(link: Link | undefined): void {
    if (this.waiting.length === 0 || this.sentOn?.isOpen || !link?.send(MEMBERS)) return;
    this.sentOn = link;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.fail(new Error(`no members answer within ${MEMBERS_TIMEOUT_MS} ms`)), MEMBERS_TIMEOUT_MS);
  }

  answer(members: Members): void {
    const waiting = this.settle();
    for (const waiter of waiting) waiter.resolve(members);
  }

  fail(error: Error): void {
    const waiting = this.settle();
    for (const waiter of waiting) waiter.reject(error);
  }

  private settle(): Waiter[] {
    this.clock.clearTimeout(this.timer);
    this.sentOn = undefined;
    return this.waiting.splice(0);
  }
}
