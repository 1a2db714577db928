/** POSTs to an emulator's publish path, and builds the exact copy a publish delivers. */
import type { FanOutMode } from "../../runtime/config/settings";

export interface PublishAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body. */
  json: Record<string, unknown>;
}

/** POSTs `body` to `publishUrl` (`room` undefined: no `?room=`); `init` overrides the request. */
export async function publishTo(publishUrl: string, body: string | Blob, room?: string, init: RequestInit = {}): Promise<PublishAnswer> {
  const url = room === undefined ? publishUrl : `${publishUrl}?room=${encodeURIComponent(room)}`;
  const response = await fetch(url, { method: "POST", body, ...init });
  return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, unknown> };
}

/** A function URL's request id, which sharded publish copies carry as `_id`. */
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Reads `_now` (and, sharded, `_id`) off one received copy and returns the text every copy must
 * then be: `prefix` (the message's own keys, ending with a comma or `{`), `_now`, `_server`, `_id`, `_me:false`.
 */
export function expectedCopy(mode: FanOutMode, received: string, prefix: string): string {
  const { _now, _id } = JSON.parse(received) as { _now?: unknown; _id?: unknown };
  if (typeof _now !== "number" || !Number.isInteger(_now)) throw new Error(`no integer _now in ${received}`);
  if (mode === "sharded" && (typeof _id !== "string" || !REQUEST_ID.test(_id))) throw new Error(`no request id as _id in ${received}`);
  const id = mode === "sharded" ? `"_id":${JSON.stringify(_id)},` : "";
  return `${prefix}"_now":${_now},"_server":true,${id}"_me":false}`;
}
