/**
 * message-broadcast/client: a WebSocket client for the broadcast backend that reconnects with
 * backoff, keeps idle connections alive, hands over before API Gateway's 2-hour limit and, with
 * `history: true`, delivers every message once and in `_seq` order across all of it (docs/client.md).
 */
import { Client } from "./src/client";
import type { ConnectOptions } from "./src/options";

export type { Clock, ConnectOptions } from "./src/options";
export type { ClientError, Events, Gap, Members, Message, Presence, State, WebSocketConstructor, WebSocketLike } from "./src/types";
export type { Client as Connection };

/** Opens a connection to `url` (`ws://…/dev` or `wss://…/{stage}`) and keeps it open until `close()`. */
export function connect(url: string, options: ConnectOptions = {}): Client {
  return new Client(url, options);
}
