/**
 * The client library in Node against a real emulator: `ws` as its WebSocket (each socket kept, so
 * a test can kill one), everything it emits recorded, and the management API to force drops.
 */
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import WebSocket, { type ClientOptions } from "ws";
import { connect, type ClientError, type Connection, type ConnectOptions, type Gap, type Message, type State } from "../../client";
import type { Emulator } from "../../local/emulator";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { within } from "./clients";

export interface LibraryClient {
  conn: Connection;
  /** Every socket the library opened, oldest first. */
  sockets: WebSocket[];
  messages: Message[];
  states: State[];
  errors: ClientError[];
  gaps: Gap[];
  /** How each of its sockets closed (from the socket's own close event), in the order they closed. */
  closes: Array<{ code: number; reason: string }>;
  /** Resolves once `check()` holds (polled), failing the test after `ms` (default 30 s) naming `what`. */
  until(check: () => boolean, what: string, ms?: number): Promise<void>;
}

/** A library client of `url`; `socketOptions` go to each `ws` socket (an Origin header, say). */
export function openLibraryClient(url: string, options: ConnectOptions = {}, socketOptions: ClientOptions = {}): LibraryClient {
  const sockets: WebSocket[] = [];
  const closes: LibraryClient["closes"] = [];
  const Recorded = class extends WebSocket {
    constructor(address: string) {
      super(address, socketOptions);
      sockets.push(this);
      this.on("close", (code, reason) => closes.push({ code, reason: reason.toString() }));
    }
  };
  const conn = connect(url, { WebSocket: Recorded, ...options });
  const client: LibraryClient = { conn, sockets, messages: [], states: [], errors: [], gaps: [], closes, until };
  conn.on("message", (message) => client.messages.push(message));
  conn.on("state", (state) => client.states.push(state));
  conn.on("error", (error) => client.errors.push(error));
  conn.on("gap", (gap) => client.gaps.push(gap));
  return client;
}

// Not a timing assertion: long enough for a machine running other suites beside this one.
const UNTIL_MS = 30_000;

function until(check: () => boolean, what: string, ms = UNTIL_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return within(
    new Promise<void>((resolve) => {
      const poll = () => (check() ? resolve() : (timer = setTimeout(poll, 10)));
      poll();
    }),
    what,
    ms,
  ).finally(() => clearTimeout(timer));
}

/** The ids of the emulator's open connections that are not in `known`. */
export function otherIds(emulator: Emulator, known: Iterable<string>): string[] {
  const skip = new Set(known);
  return emulator.connectionIds().filter((id) => !skip.has(id));
}

/** Management-API clients, destroyed when `teardown` runs. */
export function managementApi(emulator: Emulator, teardown: (run: () => void) => void): { drop(connectionId: string): Promise<void> } {
  const api = new ApiGatewayManagementApiClient({ ...LOCAL_AWS, endpoint: emulator.managementEndpoint });
  teardown(() => api.destroy());
  return {
    drop: async (connectionId) => {
      await api.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    },
  };
}

/** The `data` of each message, in delivery order. */
export function dataOf(messages: Message[]): unknown[] {
  return messages.map((message) => message.data);
}
