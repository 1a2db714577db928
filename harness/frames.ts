/**
 * The text of a `ws` message event's data. With the default binaryType ("nodebuffer") it is one
 * Buffer; the other shapes `ws` types it as (fragments, ArrayBuffer) are joined, never stringified
 * as "[object ArrayBuffer]" or comma-separated.
 */
import type { RawData } from "ws";

export function frameText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString("utf8");
}
