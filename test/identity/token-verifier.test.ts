/** runtime/access/token-verifier.ts and token-claims.ts with real jose tokens and a real HTTP key set. */
import test from "ava";
import { SignJWT, exportSPKI, importJWK, type KeyLike } from "jose";
import { createTokenVerifier, type TokenCheck } from "../../runtime/access/token-verifier";
import { grantsRoom, readClaims } from "../../runtime/access/token-claims";
import { SECRET, es256Key, sign, startKeySetServer, unsecured } from "../helpers/tokens";

const hs = createTokenVerifier({ secret: SECRET });
const refusedWith = (reason: string, status = 401): TokenCheck => ({ ok: false, status: status as 401, reason });

test("HS256/384/512 with the secret: the user, its meta serialized, its grants and publish right", async (t) => {
  const claims = { sub: "alice", rooms: ["match-*"], publish: false, meta: { name: "Alice", colour: "#f00" } };
  const identity = { user: "alice", meta: '{"name":"Alice","colour":"#f00"}', rooms: ["match-*"], publish: false };
  for (const alg of ["HS256", "HS384", "HS512"]) t.deepEqual(await hs(await sign(claims, { alg })), { ok: true, identity }, alg);
  t.deepEqual(await hs(await sign({ sub: "bob" })), { ok: true, identity: { user: "bob", meta: undefined, rooms: undefined, publish: true } });
});

test("every refusal class of the secret verifier, with its logged reason", async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const other = createTokenVerifier({ secret: "another-secret-of-at-least-32-bytes" });
  t.deepEqual(await other(await sign({ sub: "alice" })), refusedWith("bad signature"));
  t.deepEqual(await hs("not.a.token"), refusedWith("malformed"));
  t.deepEqual(await hs("garbage"), refusedWith("malformed"));
  t.deepEqual(await hs(unsecured({ sub: "alice" })), refusedWith("alg not allowed"));
  const key = await es256Key("k1");
  t.deepEqual(await hs(await sign({ sub: "alice" }, { key })), refusedWith("alg not allowed"));
  // 5 s of tolerance: 4 s past exp passes, 10 s does not; nbf likewise.
  t.true((await hs(await sign({ sub: "alice" }, { ttl: -4 }))).ok);
  t.deepEqual(await hs(await sign({ sub: "alice" }, { ttl: -10 })), refusedWith("expired"));
  t.true((await hs(await sign({ sub: "alice", nbf: now + 4 }))).ok);
  t.deepEqual(await hs(await sign({ sub: "alice", nbf: now + 60 })), refusedWith("not yet valid"));
  t.deepEqual(await hs(await sign({ sub: "alice" }, { noExp: true })), refusedWith("exp missing"));
  t.deepEqual(await hs(await sign({})), refusedWith("sub missing"));
  t.deepEqual(await hs(await sign({ sub: "" })), refusedWith("sub must be a string of 1-128 characters"));
  t.deepEqual(await hs(await sign({ sub: "x".repeat(129) })), refusedWith("sub must be a string of 1-128 characters"));
  t.true((await hs(await sign({ sub: "x".repeat(128) }))).ok);
  const checked = createTokenVerifier({ secret: SECRET, issuer: "https://id.example", audience: "game" });
  t.true((await checked(await sign({ sub: "alice", iss: "https://id.example", aud: "game" }))).ok);
  t.deepEqual(await checked(await sign({ sub: "alice", iss: "https://evil.example", aud: "game" })), refusedWith("wrong issuer"));
  t.deepEqual(await checked(await sign({ sub: "alice", iss: "https://id.example", aud: "chat" })), refusedWith("wrong audience"));
  t.deepEqual(await checked(await sign({ sub: "alice", aud: "game" })), refusedWith("iss missing"));
});

test("claims this project defines: rooms, publish and meta must have their shapes", (t) => {
  t.deepEqual(readClaims({ sub: "a", rooms: "lobby" }), { ok: false, reason: "rooms must be an array of room names or patterns" });
  t.deepEqual(readClaims({ sub: "a", rooms: ["no spaces"] }), { ok: false, reason: "rooms must be an array of room names or patterns" });
  t.deepEqual(readClaims({ sub: "a", publish: "no" }), { ok: false, reason: "publish must be a boolean" });
  const tooBig = { name: "x".repeat(510) };
  t.deepEqual(readClaims({ sub: "a", meta: tooBig }), { ok: false, reason: "meta must be a JSON object of at most 512 bytes" });
  t.deepEqual(readClaims({ sub: "a", meta: ["Alice"] }), { ok: false, reason: "meta must be a JSON object of at most 512 bytes" });
  t.true(readClaims({ sub: "a", meta: { name: "x".repeat(499) } }).ok, "exactly 512 bytes serialized");
  t.true(readClaims({ sub: "a", rooms: ["$default", "match-*", "*"] }).ok);
});

test("room grants: * matches any run of room-name characters; the default room only by * or $default", (t) => {
  t.true(grantsRoom(undefined, "anything"));
  t.true(grantsRoom(undefined, "$default"));
  t.true(grantsRoom(["match-*"], "match-42"));
  t.true(grantsRoom(["match-*"], "match-"));
  t.false(grantsRoom(["match-*"], "xmatch-1"));
  t.false(grantsRoom(["match-*"], "$default"));
  t.true(grantsRoom(["a.*.b"], "a.x:y-z.b"));
  t.false(grantsRoom(["a.b"], "aXb"), "a dot is a dot");
  t.true(grantsRoom(["*"], "$default"));
  t.true(grantsRoom(["*"], "lobby"));
  t.true(grantsRoom(["$default"], "$default"));
  t.false(grantsRoom(["$default"], "lobby"));
  t.false(grantsRoom([], "lobby"));
});

test("a key set over HTTP: ES256 by kid; HS tokens refused, even one signed with the public key as its secret", async (t) => {
  const key = await es256Key("k1");
  const keySet = await startKeySetServer(t, [key]);
  const verify = createTokenVerifier({ jwksUrl: keySet.url });
  t.like(await verify(await sign({ sub: "alice" }, { key })), { ok: true, identity: { user: "alice" } });
  // The algorithm-confusion attack: HMAC keyed with the public key the attacker can read.
  const publicPem = await exportSPKI((await importJWK({ ...key.publicJwk }, "ES256")) as KeyLike);
  const forged = await signHmac({ sub: "mallory" }, publicPem);
  t.deepEqual(await verify(forged), refusedWith("alg not allowed"));
  t.deepEqual(await verify(await sign({ sub: "alice" })), refusedWith("alg not allowed"));
  t.deepEqual(await verify(unsecured({ sub: "alice" })), refusedWith("alg not allowed"));
  const stranger = await es256Key("k1");
  t.deepEqual(await verify(await sign({ sub: "alice" }, { key: stranger })), refusedWith("bad signature"));
  // An unknown kid right after a fetch: the one-minute cooldown holds it off.
  t.deepEqual(await verify(await sign({ sub: "alice" }, { key: await es256Key("k2") })), refusedWith("no key for its kid"));
  t.is(keySet.fetches(), 1, "fetched once, then cached");
});

test("a rotated key is picked up by its kid, at most once per cooldown", async (t) => {
  const [first, second, third] = await Promise.all([es256Key("2026-01"), es256Key("2026-02"), es256Key("2026-03")]);
  const keySet = await startKeySetServer(t, [first]);
  const verify = createTokenVerifier({ jwksUrl: keySet.url }, { cooldownMs: 200, maxAgeMs: 600_000 });
  t.true((await verify(await sign({ sub: "alice" }, { key: first }))).ok);
  keySet.serve([first, second]);
  // Within the cooldown an unknown kid does not fetch again.
  t.deepEqual(await verify(await sign({ sub: "alice" }, { key: second })), refusedWith("no key for its kid"));
  t.is(keySet.fetches(), 1);
  await new Promise((resolve) => setTimeout(resolve, 250));
  t.true((await verify(await sign({ sub: "alice" }, { key: second }))).ok, "the new kid, after one fetch");
  t.is(keySet.fetches(), 2);
  t.true((await verify(await sign({ sub: "alice" }, { key: first }))).ok, "the old key still in the set");
  keySet.serve([third]);
  await new Promise((resolve) => setTimeout(resolve, 250));
  t.true((await verify(await sign({ sub: "alice" }, { key: third }))).ok);
  t.is(keySet.fetches(), 3);
});

test("a key set that does not answer is unavailable (503), not the token's fault", async (t) => {
  const key = await es256Key("k1");
  const verify = createTokenVerifier({ jwksUrl: "http://127.0.0.1:9/jwks.json" });
  const checked = await verify(await sign({ sub: "alice" }, { key }));
  t.false(checked.ok);
  if (!checked.ok) {
    t.is(checked.status, 503);
    t.regex(checked.reason, /^key set unavailable \(/);
  }
});

async function signHmac(claims: object, secretText: string): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(secretText));
}
