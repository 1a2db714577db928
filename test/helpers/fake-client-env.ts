/**
 * Fake time and a fake WebSocket for the client library's unit tests: every timer, every dial and
 * every frame happens only when the test says so, so backoff, keep-alive and reorder windows are
 * checked to the millisecond without waiting.
 */
import { connect, type Connection, type ConnectOptions, type Events } from "../../client";
import type { Clock } from "../../client/src/options";
import type { WebSocketLike } from "../../client/src/types";

interface Timer {
  at: number;
  order: number;
  run: () => void;
}

export class FakeClock implements Clock {
  time = 1_000_000;
  private timers = new Set<Timer>();
  private order = 0;
  /** What `random` returns next (then repeats the last); default 0.5. */
  randoms: number[] = [];
  private lastRandom = 0.5;

  now(): number {
    return this.time;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const timer = { at: this.time + Math.max(0, ms), order: this.order++, run };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(timer: unknown): void {
    this.timers.delete(timer as Timer);
  }

  random(): number {
    if (this.randoms.length > 0) this.lastRandom = this.randoms.shift()!;
    return this.lastRandom;
  }

  /** Moves time forward by `ms`, running every timer that falls due, in order, with the microtasks they start. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = [...this.timers].filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (!due) break;
      this.timers.delete(due);
      this.time = due.at;
      due.run();
    }
    this.time = end;
    await settle();
  }

  /** When the next timer is due, relative to now (undefined when none). */
  nextDelay(): number | undefined {
    const ats = [...this.timers].map((timer) => timer.at);
    return ats.length === 0 ? undefined : Math.min(...ats) - this.time;
  }
}

/** Lets pending promise callbacks (an awaited token, a dial) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: string[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  /** The parsed frames the client sent. */
  sentFrames(): unknown[] {
    return this.sent.map((text) => JSON.parse(text) as unknown);
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  /** A handshake refused with `status`, as `ws` reports it; `undefined`: as browsers do (a bare error). */
  refuse(status?: number): void {
    this.readyState = 3;
    this.onerror?.(status === undefined ? {} : { message: `Unexpected server response: ${status}` });
    this.onclose?.({ code: 1006, reason: "" });
  }

  /** The server (or the network) ends the connection. */
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

export interface Rig {
  conn: Connection;
  clock: FakeClock;
  /** Every socket the client created, in order. */
  sockets: FakeSocket[];
  /** The newest socket. */
  last: () => FakeSocket;
  /** Everything the client emitted, in order, as [event, value]. */
  events: Array<[keyof Events, unknown]>;
  /** The values of one event. */
  seen: <K extends keyof Events>(event: K) => Array<Events[K]>;
}

/** A client on fake time and fake sockets; `open` (default true) opens its first socket. */
export async function rig(options: ConnectOptions = {}, open = true): Promise<Rig> {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const WebSocket = class extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  };
  const conn = connect("ws://example.test/dev", { clock, WebSocket, ...options });
  const events: Array<[keyof Events, unknown]> = [];
  for (const name of ["message", "presence", "error", "state", "gap"] as const) conn.on(name, (value) => events.push([name, value]));
  await settle();
  if (open) sockets[0].open();
  return {
    conn,
    clock,
    sockets,
    last: () => sockets[sockets.length - 1],
    events,
    seen: <K extends keyof Events>(event: K) => events.filter(([name]) => name === event).map(([, value]) => value as Events[K]),
  };
}

/** A data copy as the backend sends it with history on. */
export function copy(seq: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { data: `m${seq}`, _now: 1_700_000_000_000 + seq, ...extra, _seq: seq, _me: false };
}

/** A history answer. */
export function historyAnswer(seqs: number[], page: { since: number; more?: boolean; missed?: boolean }): Record<string, unknown> {
  const until = seqs.length === 0 ? page.since : seqs[seqs.length - 1];
  return { _history: { messages: seqs.map((seq) => copy(seq)), since: page.since, until, more: page.more ?? false, missed: page.missed ?? false }, _now: 1, _me: true };
}
