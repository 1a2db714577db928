import test from "ava";
import crypto from "node:crypto";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import type { HashConstructor } from "@smithy/types";
import { createSignerSha256 } from "../../runtime/delivery/signer-sha256";

const hex = async (hash: { digest(): Promise<Uint8Array> }) => Buffer.from(await hash.digest()).toString("hex");
const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string | Buffer) => crypto.createHmac("sha256", key).update(data).digest("hex");

/** Counts HMAC objects made through node:crypto while `body` runs (so its tests run serially). */
async function countingHmacs<T>(body: () => Promise<T>): Promise<{ result: T; hmacs: number }> {
  const original = crypto.createHmac;
  let hmacs = 0;
  crypto.createHmac = ((...args: Parameters<typeof original>) => {
    hmacs++;
    return original(...args);
  });
  try {
    return { result: await body(), hmacs };
  } finally {
    crypto.createHmac = original;
  }
}

test("signer sha256: plain digests of strings, bytes, ArrayBuffers and several updates", async (t) => {
  const Sha256 = createSignerSha256();
  const empty = new Sha256();
  t.is(await hex(empty), sha256(""));
  const text = new Sha256();
  text.update("☃ snow");
  t.is(await hex(text), sha256("☃ snow"));
  const bytes = new Sha256();
  const view = Buffer.from("xxpayloadxx").subarray(2, 9);
  bytes.update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  t.is(await hex(bytes), sha256("payload"));
  const arrayBuffer = new Sha256();
  arrayBuffer.update(new Uint8Array([1, 2, 3]).buffer);
  t.is(await hex(arrayBuffer), sha256(Buffer.from([1, 2, 3])));
  const parts = new Sha256();
  parts.update("ab");
  parts.update(Buffer.from("cd"));
  t.is(await hex(parts), sha256("abcd"));
});

test("signer sha256: HMACs with string and byte keys; an empty string key hashes, as the SDK's class does", async (t) => {
  const Sha256 = createSignerSha256();
  const byString = new Sha256("secret");
  byString.update("message");
  t.is(await hex(byString), hmac("secret", "message"));
  const byBytes = new Sha256(new Uint8Array(Buffer.from("key")));
  byBytes.update("message");
  t.is(await hex(byBytes), hmac("key", "message"));
  const emptyKey = new Sha256("");
  emptyKey.update("message");
  t.is(await hex(emptyKey), sha256("message"));
});

test.serial("signer sha256: the HMAC of a string key is remembered, and a changed key or message is computed afresh", async (t) => {
  const Sha256 = createSignerSha256();
  const digestOf = async (key: string, message: string) => {
    const h = new Sha256(key);
    h.update(Buffer.from(message));
    return h.digest();
  };
  const first = await countingHmacs(() => digestOf("secret", "AKID"));
  t.is(first.hmacs, 1);
  first.result.fill(0);
  const again = await countingHmacs(() => digestOf("secret", "AKID"));
  t.is(again.hmacs, 0, "the same key and message: remembered");
  t.is(Buffer.from(again.result).toString("hex"), hmac("secret", "AKID"), "a caller writing into a digest does not change the remembered one");
  for (const [key, message] of [["secret", "AKIE"], ["secreu", "AKIE"]]) {
    const other = await countingHmacs(() => digestOf(key, message));
    t.is(other.hmacs, 1);
    t.is(Buffer.from(other.result).toString("hex"), hmac(key, message));
  }
  const otherConstructor = await countingHmacs(() => {
    const h = new (createSignerSha256())("secreu");
    h.update("AKIE");
    return h.digest();
  });
  t.is(otherConstructor.hmacs, 1, "each constructor remembers for itself");
});

test.serial("signer sha256: the management API client's signer gives the SDK hash's signatures with one HMAC per signature", async (t) => {
  const options = { region: "eu-west-1", endpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/dev" };
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "token" };
  const signerWith = (sha256?: HashConstructor) => new ApiGatewayManagementApiClient({ ...options, credentials, ...(sha256 ? { sha256 } : {}) }).config.signer();
  const ours = await signerWith(createSignerSha256());
  const sdk = await signerWith();
  const request = (id: string) =>
    ({
      method: "POST",
      protocol: "https:",
      hostname: "abc.execute-api.eu-west-1.amazonaws.com",
      path: `/dev/@connections/${id}`,
      headers: { host: "abc.execute-api.eu-west-1.amazonaws.com", "content-type": "application/octet-stream" },
      query: {},
      body: Buffer.from(`{"to":"${id}"}`),
    });
  const signingDate = new Date("2026-12-01T06:00:00Z");
  const signatures = 50;
  const signed = await countingHmacs(async () => {
    const headers = [];
    for (let i = 0; i < signatures; i++) headers.push((await ours.sign(request(`conn${i}=`), { signingDate })).headers);
    return headers;
  });
  for (let i = 0; i < signatures; i++) {
    const expected = await sdk.sign(request(`conn${i}=`), { signingDate });
    t.is(signed.result[i].authorization, expected.headers.authorization);
  }
  // Beside the one per signature: the signing key's derivation (four), and the cache key's HMAC
  // twice (the derivation's first step, also keyed by a string, takes its place once).
  t.true(signed.hmacs <= signatures + 6, `${signed.hmacs} HMACs for ${signatures} signatures`);
});
