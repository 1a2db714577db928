/**
 * The connection a user holds: a small state machine (connecting → open ⇄ reconnecting → closed)
 * over one primary WebSocket, and during a lifetime hand-over a successor that is caught up
 * before the primary is closed. Every copy goes through the sequencer, so two sockets at once
 * deliver each message once.
 */
import { Backoff } from "./backoff";
import { resolveSettings, type Clock, type ConnectOptions, type Settings } from "./options";
import { Emitter } from "./emitter";
import { isServiceFailure, type Frame } from "./frames";
import { dialUrl, TokenSource } from "./handshake";
import { Link, type LinkEnd, type LinkHandlers } from "./link";
import { Roster } from "./roster";
import { SendQueue } from "./send-queue";
import { Sequencer } from "./sequencer";
import type { Events, Members, State } from "./types";

type Role = "primary" | "successor";

export class Client {
  private readonly settings: Settings;
  private readonly clock: Clock;
  private readonly events: Emitter<Events>;
  private readonly backoff: Backoff;
  private readonly queue: SendQueue;
  private readonly sequencer: Sequencer;
  private readonly roster: Roster;
  private current: State = "connecting";
  private primary: Link | undefined;
  private successor: Link | undefined;
  /** The link the outstanding history request went to: only its pages count. */
  private catchUpLink: Link | undefined;
  /** The dial each role waits for; a dial that is no longer wanted drops its socket. */
  private readonly wanted: Record<Role, number | undefined> = { primary: undefined, successor: undefined };
  private dials = 0;
  private retryTimer: unknown;
  private lifetimeTimer: unknown;
  private readonly token: TokenSource;
  private readonly handlers: LinkHandlers = {
    open: (link) => this.opened(link),
    frame: (link, frame) => this.received(link, frame),
    end: (link, end) => this.ended(link, end),
  };

  constructor(
    private readonly url: string,
    options: ConnectOptions = {},
  ) {
    const settings = (this.settings = resolveSettings(options));
    this.clock = settings.clock;
    this.events = new Emitter(this.clock);
    this.backoff = new Backoff(settings.backoff, this.clock);
    this.queue = new SendQueue(settings.maxQueued);
    this.roster = new Roster(this.clock);
    this.token = new TokenSource(settings.token);
    this.sequencer = new Sequencer(settings.history, settings.reorderMs, this.clock, {
      deliver: (message) => this.events.emit("message", message),
      gap: (gap) => this.events.emit("gap", gap),
      ask: (since) => this.askHistory(since),
      idle: () => this.caughtUp(),
    });
    void this.dial("primary");
  }

  get state(): State {
    return this.current;
  }

  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Sends now when open, else queues; false when closed or the queue is full. */
  send(value: unknown): boolean {
    if (this.current === "closed") return false;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (typeof text !== "string") throw new TypeError("send takes a string or a JSON value");
    if (this.queue.size === 0 && this.primary?.send(text)) return true;
    return this.queue.push(text);
  }

  members(): Promise<Members> {
    if (this.current === "closed") return Promise.reject(new Error("the connection is closed"));
    return this.roster.request(this.primary);
  }

  close(): void {
    if (this.current === "closed") return;
    this.setState("closed");
    this.wanted.primary = this.wanted.successor = undefined;
    this.clock.clearTimeout(this.retryTimer);
    this.clock.clearTimeout(this.lifetimeTimer);
    this.primary?.close(1000, "closed by the client");
    this.successor?.close(1000, "closed by the client");
    this.primary = this.successor = this.catchUpLink = undefined;
    this.sequencer.stop();
    this.queue.clear();
    this.roster.fail(new Error("the connection is closed"));
  }

  // A dial whose role was handed on while its token was awaited (the successor became the primary's) follows it.
  private async dial(role: Role): Promise<void> {
    const id = (this.wanted[role] = ++this.dials);
    const wantedAs = () => (["primary", "successor"] as const).find((candidate) => this.wanted[candidate] === id);
    let url: string;
    try {
      url = dialUrl(this.url, this.settings.room, await this.token.get());
    } catch (err) {
      const now = wantedAs();
      if (now === undefined) return;
      this.wanted[now] = undefined;
      this.events.emit("error", { code: "TokenError", message: `the token function failed: ${String(err)}` });
      return now === "primary" ? this.retry() : this.retryHandOver();
    }
    const now = wantedAs();
    if (now === undefined) return;
    this.wanted[now] = undefined;
    this[now] = new Link(new this.settings.WebSocket(url), this.settings.keepAliveMs, this.clock, this.handlers);
  }

  private opened(link: Link): void {
    if (link === this.primary) {
      this.token.accepted();
      this.startCatchUp(link);
      this.serve(link);
    } else if (link === this.successor) {
      this.startCatchUp(link);
      if (!this.sequencer.busy) this.completeHandOver();
    }
  }

  /** `link` is the primary and open: sends go to it from now on. */
  private serve(link: Link): void {
    this.setState("open");
    this.queue.drain((text) => link.send(text));
    this.roster.ask(link);
    // Counted from the socket's own open: a successor that waited to take over is that much older.
    const age = this.clock.now() - (link.openedAt ?? this.clock.now());
    this.clock.clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = this.clock.setTimeout(() => this.handOver(), Math.max(0, this.settings.maxLifetimeMs - age));
  }

  private startCatchUp(link: Link): void {
    this.catchUpLink = link;
    this.sequencer.resume();
  }

  private askHistory(since: number): boolean {
    const link = [this.catchUpLink, this.primary].find((candidate) => candidate?.isOpen);
    this.catchUpLink = link;
    return link?.send(JSON.stringify({ _op: "history", since })) === true;
  }

  // However a catch-up ended (answered, or given up after HISTORY_TIMEOUT_MS), an open successor
  // waits no longer: a hole left is asked for again on it.
  private caughtUp(): void {
    if (this.successor?.isOpen) this.completeHandOver();
  }

  private received(link: Link, frame: Frame): void {
    switch (frame.kind) {
      case "message":
        return this.sequencer.live(frame.message);
      case "presence":
        // During a hand-over both sockets hear every event: the primary's count.
        if (link === this.primary) this.events.emit("presence", frame.presence);
        return;
      case "members":
        return this.roster.answer(frame.members);
      case "error":
        if (link === this.catchUpLink && isServiceFailure(frame.error)) this.sequencer.refused();
        return this.events.emit("error", frame.error);
      case "history":
        if (link === this.catchUpLink) this.sequencer.page(frame.page);
        return;
    }
  }

  private ended(link: Link, end: LinkEnd): void {
    if (link === this.catchUpLink) {
      this.catchUpLink = undefined;
      this.sequencer.abort();
    }
    if (link === this.successor) {
      this.successor = undefined;
      return this.retryHandOver();
    }
    if (link !== this.primary) return;
    this.primary = undefined;
    this.clock.clearTimeout(this.lifetimeTimer);
    this.backoff.ended(link.openedAt);
    if (this.successor || this.wanted.successor !== undefined) return this.promoteSuccessor();
    if (!end.opened) return this.refused(end);
    this.setState("reconnecting");
    this.retry();
  }

  private refused(end: LinkEnd): void {
    const verdict = this.token.judge(end);
    if (verdict.stop === undefined) return this.retry();
    this.events.emit("error", verdict.stop);
    this.close();
  }

  private retry(): void {
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => void this.dial("primary"), this.backoff.next());
  }

  // The primary ended first: the successor (open, or still dialing) takes its place.
  private promoteSuccessor(): void {
    const successor = this.successor;
    this.successor = undefined;
    if (!successor) {
      // Still resolving its token: the dial goes on as the primary's.
      this.wanted.primary = this.wanted.successor;
      this.wanted.successor = undefined;
      this.setState("reconnecting");
      return;
    }
    this.primary = successor;
    if (successor.isOpen) this.serve(successor);
    else this.setState("reconnecting");
  }

  private handOver(): void {
    if (this.current !== "closed" && !this.successor && this.wanted.successor === undefined) void this.dial("successor");
  }

  private retryHandOver(): void {
    this.clock.clearTimeout(this.lifetimeTimer);
    if (this.primary) this.lifetimeTimer = this.clock.setTimeout(() => this.handOver(), this.backoff.next());
  }

  // Make before break: the successor is open and caught up, so the primary can go.
  private completeHandOver(): void {
    const old = this.primary;
    const successor = this.successor!;
    this.successor = undefined;
    this.primary = successor;
    old?.close(1000, "handed over");
    this.serve(successor);
  }

  private setState(state: State): void {
    if (this.current === state) return;
    this.current = state;
    this.events.emit("state", state);
  }
}
