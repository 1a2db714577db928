/**
 * The SHA-256 the management API client's SigV4 signer hashes with (the client's public `sha256`
 * option), over Node's crypto. It is cheaper per signature than the SDK's class in two ways:
 * - a plain digest is one `crypto.hash` call, where the SDK's class builds a hash object and
 *   copies it before digesting;
 * - the signer computes HMAC(secret access key, access key id) on every signature, only to name
 *   its signing-key cache entry. The HMAC with a string key is remembered, per constructor
 *   made here, so that repeat costs a comparison instead of an HMAC.
 */
import type { Hash, HashConstructor, SourceData } from "@smithy/types";

/** A SHA-256 constructor for one client's signer: `new C()` hashes, `new C(key)` is an HMAC. */
export function createSignerSha256(): HashConstructor {
  // Required where it is used, loaded only when needed (runtime/SERIALIZER.md, on builtins).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- that rule
  const crypto = require("node:crypto") as typeof import("node:crypto");
  let remembered: { key: string; message: Buffer; digest: Buffer } | undefined;

  // A remembered digest is handed out as a copy, so that a caller writing into it cannot change it.
  const hmac = (key: SourceData, message: Buffer): Buffer => {
    if (typeof key !== "string") return crypto.createHmac("sha256", toBuffer(key)).update(message).digest();
    if (remembered?.key !== key || !remembered.message.equals(message)) {
      remembered = { key, message: Buffer.from(message), digest: crypto.createHmac("sha256", key).update(message).digest() };
    }
    return Buffer.from(remembered.digest);
  };

  return class SignerSha256 implements Hash {
    private readonly chunks: Buffer[] = [];

    /** Like the SDK's class: any truthy secret makes this an HMAC keyed by it. */
    constructor(private readonly secret?: SourceData) {}

    update(data: SourceData): void {
      this.chunks.push(toBuffer(data));
    }

    digest(): Promise<Uint8Array> {
      const message = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      const digest = this.secret ? hmac(this.secret, message) : crypto.hash("sha256", message, "buffer");
      return Promise.resolve(new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength));
    }
  };
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
