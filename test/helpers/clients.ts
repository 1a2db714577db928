/**
 * Real `ws` clients for tests: open them against an emulator, read their frames in order, wait
 * for their close, and see the HTTP status of a refused handshake.
 */
import WebSocket, { type ClientOptions } from "ws";
import { frameText } from "../../harness/frames";

export interface Client {
  ws: WebSocket;
  /** The client's TCP port: with the server's, it names the connection in the kernel's tables. */
  localPort: number;
  /** Every text frame received so far, in order. */
  frames: string[];
  /** The next frame not yet returned by `next` (waits for it). */
  next(): Promise<string>;
  /** The next `count` frames. */
  nextFrames(count: number): Promise<string[]>;
  /** Waits for the connection to close, with the code and reason it closed with. */
  closed(): Promise<{ code: number; reason: string }>;
}

/** A client of an emulator, which knows its connection id. */
export interface EmulatorClient extends Client {
  id: string;
}

/** A JSON object frame (or log line) whose fields a test reads one by one: `unknown`, never `any`. */
export type Frame = Record<string, unknown>;

/** Parses a frame that must be a JSON object; anything else fails the test naming the text. */
export function parseFrame(text: string): Frame {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${text.slice(0, 200)}`);
  return value as Frame;
}

/** API Gateway's 16-character ids: connection, request and message ids. */
export const AWS_ID = /^[A-Za-z0-9_-]{15}=$/;

/** Sends ASCII `text` as one message split into frames of at most `frameBytes` (default 32 KiB, API Gateway's frame limit). */
export function sendInFragments(ws: WebSocket, text: string, frameBytes = 32 * 1024): void {
  for (let at = 0; at < text.length; at += frameBytes) ws.send(text.slice(at, at + frameBytes), { fin: at + frameBytes >= text.length });
}

/** How long a helper waits before failing the test instead of hanging it; not a timing assertion. */
const WAIT_MS = 15_000;

/** Rejects if `promise` has not settled within `ms`, naming what was awaited. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Opens a client and waits until it is open. */
export async function openClient(url: string, options: ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, options);
  const frames: string[] = [];
  const waiters: Array<() => void> = [];
  let read = 0;
  let localPort = 0;
  ws.once("upgrade", (response) => (localPort = response.socket.localPort ?? 0));
  ws.on("message", (data, isBinary) => {
    frames.push(isBinary ? `<binary ${frameText(data)}>` : frameText(data));
    waiters.splice(0).forEach((wake) => wake());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await within(
    new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    }),
    `${url} to open`,
  );
  const next = (): Promise<string> =>
    within(
      new Promise<string>((resolve) => {
        const take = () => (read < frames.length ? resolve(frames[read++]) : waiters.push(take));
        take();
      }),
      `a frame from ${url}`,
    );
  const nextFrames = async (count: number) => {
    const taken: string[] = [];
    while (taken.length < count) taken.push(await next());
    return taken;
  };
  return { ws, localPort, frames, next, nextFrames, closed: () => within(closed, `${url} to close`) };
}

/**
 * Opens a client of `emulator` and learns its connection id from the ids the emulator lists
 * before and after (so open them one at a time).
 */
export async function connect(
  emulator: { endpoint: string; connectionIds(): string[] },
  options: { url?: string } & ClientOptions = {},
): Promise<EmulatorClient> {
  const before = new Set(emulator.connectionIds());
  const { url = emulator.endpoint, ...clientOptions } = options;
  const client = await openClient(url, clientOptions);
  const added = emulator.connectionIds().filter((id) => !before.has(id));
  if (added.length !== 1) throw new Error(`expected one new connection id, got ${JSON.stringify(added)}`);
  return { ...client, id: added[0] };
}

/** Opens `count` clients, one after another. */
export async function connectMany(
  emulator: { endpoint: string; connectionIds(): string[] },
  count: number,
): Promise<EmulatorClient[]> {
  const clients: EmulatorClient[] = [];
  for (let i = 0; i < count; i++) clients.push(await connect(emulator));
  return clients;
}

/** The HTTP status a refused handshake answers with (fails if the handshake succeeds). */
export function handshakeStatus(url: string, options: ClientOptions = {}): Promise<number> {
  return within(
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.once("unexpected-response", (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      ws.once("open", () => {
        ws.close();
        reject(new Error(`${url} accepted the handshake`));
      });
      ws.once("error", (err) => {
        if (!/Unexpected server response|socket hang up|aborted/.test(err.message)) reject(err);
      });
    }),
    `the handshake answer from ${url}`,
  );
}

/** Closes every client that is still open and waits for each close. */
export async function closeAll(clients: readonly Client[]): Promise<void> {
  for (const { ws } of clients) if (ws.readyState === WebSocket.OPEN) ws.close();
  await Promise.all(clients.map((client) => client.closed()));
}
