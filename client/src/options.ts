/**
 * What `connect` takes, its defaults, and the clock (time, timers, randomness) that tests replace
 * with a fake one. The library types only what it uses, so it compiles without DOM or Node types.
 */
import type { WebSocketConstructor } from "./types";

/** What `connect` takes; every field optional. */
export interface ConnectOptions {
  /** Joins this room (`?room=`); without it, the default room. */
  room?: string;
  /** Sent as `?token=`. A function is called before the first dial and again when a handshake is refused with 401 (or, where the status is hidden, before each retry). */
  token?: string | (() => string | Promise<string>);
  /** Catch up with `{"_op":"history"}` after every (re)connect, and deliver in `_seq` order (needs the backend's history). */
  history?: boolean;
  /** The WebSocket constructor; default the global one (browsers, Node 22). In Node 20 pass `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Full-jitter exponential backoff between attempts: from `initialMs` (500) doubling to `maxMs` (30,000). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Sends `{"_op":"ping"}` after this long without a frame either way (540,000: under API Gateway's 10-minute idle timeout). */
  keepAliveMs?: number;
  /** Hands over to a fresh connection this long after a connection opened (6,900,000: before API Gateway's 2 hours). */
  maxLifetimeMs?: number;
  /** How long a copy that arrived ahead of a missing `_seq` waits before history is asked for the hole (250). */
  reorderMs?: number;
  /** Sends kept while not open (100); `send` returns false past it. */
  maxQueued?: number;
  /** Timers, time and randomness: the system's by default; tests pass a fake one. */
  clock?: Clock;
}

export interface Clock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
  /** A number in [0, 1). */
  random(): number;
}

interface TimerGlobals {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
  WebSocket?: WebSocketConstructor;
}

const platform = globalThis as unknown as TimerGlobals;

/** The platform's clock. Looked up on each call, so timers a page or a test replaced are used. */
const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => platform.setTimeout(run, ms),
  clearTimeout: (timer) => platform.clearTimeout(timer),
  random: () => Math.random(),
};

/** The options with every default filled in. */
export interface Settings {
  room: string | undefined;
  token: ConnectOptions["token"];
  history: boolean;
  WebSocket: WebSocketConstructor;
  backoff: { initialMs: number; maxMs: number };
  keepAliveMs: number;
  maxLifetimeMs: number;
  reorderMs: number;
  maxQueued: number;
  clock: Clock;
}

export function resolveSettings(options: ConnectOptions): Settings {
  const WebSocket = options.WebSocket ?? platform.WebSocket;
  if (!WebSocket) throw new TypeError("no global WebSocket: pass one as the WebSocket option (in Node 20, the ws package)");
  return {
    room: options.room,
    token: options.token,
    history: options.history === true,
    WebSocket,
    backoff: { initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 },
    keepAliveMs: options.keepAliveMs ?? 540_000,
    maxLifetimeMs: options.maxLifetimeMs ?? 6_900_000,
    reorderMs: options.reorderMs ?? 250,
    maxQueued: options.maxQueued ?? 100,
    clock: options.clock ?? systemClock,
  };
}
