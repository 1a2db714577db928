/**
 * Tokens for tests, signed by jose as an application's backend would sign them, and a JSON Web
 * Key Set served over real HTTP on loopback whose keys a test can rotate, counting its fetches.
 */
import * as http from "node:http";
import type { ExecutionContext } from "ava";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload, type KeyLike } from "jose";
import { closeServer, listen } from "../../local/net/http";

/** An HS256 secret of the length the config checks ask for. */
export const SECRET = "test-secret-of-at-least-32-bytes!";

export interface Claims extends JWTPayload {
  rooms?: unknown;
  publish?: unknown;
  meta?: unknown;
}

export interface SignOptions {
  /** Default HS256 with SECRET; an ES256 key signs with that key and its kid. */
  key?: SigningKey;
  alg?: string;
  /** Seconds from now; default 3600. Negative for an expired token. */
  ttl?: number;
  /** Omit `exp` entirely. */
  noExp?: boolean;
}

export interface SigningKey {
  kid: string;
  privateKey: KeyLike | Uint8Array;
  publicJwk: JWK;
}

/** A signed token with `claims` (and `exp` unless asked not to). */
export async function sign(claims: Claims, options: SignOptions = {}): Promise<string> {
  const key = options.key;
  const alg = options.alg ?? (key ? "ES256" : "HS256");
  let jwt = new SignJWT(claims).setProtectedHeader(key ? { alg, kid: key.kid } : { alg }).setIssuedAt();
  if (!options.noExp) jwt = jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.ttl ?? 3600));
  return jwt.sign(key ? key.privateKey : new TextEncoder().encode(SECRET));
}

/** A token whose header says `"alg":"none"` and which has no signature (RFC 7519's unsecured JWT). */
export function unsecured(claims: Claims): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}.`;
}

export async function es256Key(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}

export interface KeySetServer {
  url: string;
  /** Replaces the keys served from now on. */
  serve(keys: readonly SigningKey[]): void;
  /** GET requests answered so far. */
  fetches(): number;
}

/** A JWKS endpoint on 127.0.0.1 (plain HTTP, which the config allows on loopback), closed at teardown. */
export async function startKeySetServer(t: ExecutionContext, keys: readonly SigningKey[]): Promise<KeySetServer> {
  let served = keys;
  let fetches = 0;
  const server = http.createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: served.map((key) => key.publicJwk) }));
  });
  const port = await listen(server, 0, "127.0.0.1");
  t.teardown(() => closeServer(server));
  return { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, serve: (next) => void (served = next), fetches: () => fetches };
}
