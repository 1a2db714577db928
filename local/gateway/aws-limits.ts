/**
 * The API Gateway WebSocket limits the emulator enforces, and the frame- and message-size watch
 * that names the limit a client broke.
 */

import { API_GATEWAY_IDLE_MS, API_GATEWAY_LIFETIME_MS, API_GATEWAY_MESSAGE_BYTES } from "../../runtime/config/settings";

/** API Gateway's documented quotas (the ones settings share are declared with the settings). */
export const AWS_LIMITS = {
  /** One WebSocket frame's payload. */
  frameBytes: 32 * 1024,
  /** One message (all its fragments) and one PostToConnection body. */
  messageBytes: API_GATEWAY_MESSAGE_BYTES,
  idleTimeoutMs: API_GATEWAY_IDLE_MS,
  maxLifetimeMs: API_GATEWAY_LIFETIME_MS,
} as const;

/** The close codes the gateway sends (RFC 6455 section 7.4.1). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  /** A client that stops reading until its outbound buffer passes `--max-buffered-bytes` (docs/slow-consumers.md). */
  policyViolation: 1008,
  tooBig: 1009,
  /** Never sent: reported when a connection ended without a closing handshake. */
  abnormal: 1006,
} as const;

// Longest frame header: 2 bytes, 8 of extended length, 4 of mask.
const MAX_HEADER_BYTES = 14;

/** Which limit a data frame broke: its own payload, or its message's payloads summed. */
export type Oversize = { limit: "frame" | "message"; bytes: number };

/**
 * Returns a listener for the raw socket's `data` chunks that calls `onOversize` once when a data
 * frame announces a payload over `limits.frameBytes`, or its message's fragments together pass
 * `limits.messageBytes`. `ws` bounds whole messages itself (`maxPayload`) but closes with an empty
 * reason and has no option for frames, so this reads each frame header from the same bytes, ahead
 * of `ws`'s own listener, and skips over payloads without buffering them.
 */
export function watchSizes(limits: { frameBytes: number; messageBytes: number }, onOversize: (oversize: Oversize) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  let skip = 0;
  let messageBytes = 0;
  let tripped = false;
  const trip = (oversize: Oversize) => {
    tripped = true;
    onOversize(oversize);
  };
  return (chunk) => {
    let at = 0;
    while (!tripped && at < chunk.length) {
      if (skip > 0) {
        const step = Math.min(skip, chunk.length - at);
        skip -= step;
        at += step;
        continue;
      }
      const available = Buffer.concat([pending, chunk.subarray(at, at + MAX_HEADER_BYTES - pending.length)]);
      const header = parseFrameHeader(available);
      if (!header) {
        // Incomplete header: everything left in this chunk belongs to it.
        pending = available;
        return;
      }
      at += header.headerBytes - pending.length;
      pending = Buffer.alloc(0);
      skip = header.payloadBytes;
      // Control frames (opcode 8 and up) come between fragments and belong to no message.
      if (header.opcode >= 0x8) continue;
      if (header.payloadBytes > limits.frameBytes) return trip({ limit: "frame", bytes: header.payloadBytes });
      // Opcode 0 continues a message; text and binary start one.
      messageBytes = (header.opcode === 0x0 ? messageBytes : 0) + header.payloadBytes;
      if (messageBytes > limits.messageBytes) return trip({ limit: "message", bytes: messageBytes });
      if (header.fin) messageBytes = 0;
    }
  };
}

/** The close reason for `oversize` (at most 114 bytes: within the 123 a close frame allows). */
export function oversizeReason({ limit, bytes }: Oversize): string {
  if (limit === "frame") return `Frame of ${bytes} bytes exceeds the ${AWS_LIMITS.frameBytes}-byte frame limit (a browser sends each message as one frame)`;
  return `Message exceeds the ${AWS_LIMITS.messageBytes}-byte message limit: its fragments reached ${bytes} bytes`;
}

interface FrameHeader {
  fin: boolean;
  opcode: number;
  payloadBytes: number;
  headerBytes: number;
}

/** Parses a frame header (RFC 6455 section 5.2) from the start of `bytes`, or undefined if incomplete. */
function parseFrameHeader(bytes: Buffer): FrameHeader | undefined {
  if (bytes.length < 2) return undefined;
  const length7 = bytes[1] & 0x7f;
  const extendedBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const maskBytes = bytes[1] & 0x80 ? 4 : 0;
  const headerBytes = 2 + extendedBytes + maskBytes;
  if (bytes.length < headerBytes) return undefined;
  const payloadBytes =
    extendedBytes === 0 ? length7 : extendedBytes === 2 ? bytes.readUInt16BE(2) : Number(bytes.readBigUInt64BE(2));
  return { fin: (bytes[0] & 0x80) !== 0, opcode: bytes[0] & 0x0f, payloadBytes, headerBytes };
}
