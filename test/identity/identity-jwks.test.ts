/**
 * Tokens verified with a JSON Web Key Set served over real HTTP on loopback, over real sockets:
 * ES256 by `kid`, HS tokens refused (the HS-with-public-key confusion among them), and a rotated
 * key picked up by its `kid`.
 */
import test from "ava";
import { SignJWT, exportSPKI, importJWK, type KeyLike } from "jose";
import { createHandlers } from "../../runtime/host/lambda";
import { createTokenVerifier } from "../../runtime/access/token-verifier";
import { closeAll, connect, handshakeStatus, parseFrame } from "../helpers/clients";
import { lambdaSetup, startTestEmulator, startWithWrappedHandlers } from "../helpers/emulator";
import { openTable } from "../helpers/table";
import { es256Key, sign, startKeySetServer, unsecured } from "../helpers/tokens";

test("ES256 by kid from the key set; HS256 (even keyed with the public key), alg none and an unknown signer refused", async (t) => {
  const key = await es256Key("2026-01");
  const keySet = await startKeySetServer(t, [key]);
  const { emulator, logs } = await startTestEmulator(t, { jwksUrl: keySet.url });
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const alice = await connect(emulator, { url: `${emulator.endpoint}?token=${await sign({ sub: "alice" }, { key })}` });
  alice.ws.send("hi");
  t.like(parseFrame(await alice.next()), { data: "hi", _from: "alice", _me: true });

  const publicPem = await exportSPKI((await importJWK(key.publicJwk, "ES256")) as KeyLike);
  const confused = await new SignJWT({ sub: "mallory" }).setProtectedHeader({ alg: "HS256", kid: key.kid }).setExpirationTime("1h").sign(new TextEncoder().encode(publicPem));
  const stranger = await es256Key("2026-01");
  for (const token of [confused, unsecured({ sub: "mallory" }), await sign({ sub: "mallory" }, { key: stranger })]) {
    t.is(await handshakeStatus(`${emulator.endpoint}?token=${token}`), 401);
  }
  t.deepEqual(await table.ids(), [alice.id]);
  const reasons = logs.entries().filter((entry) => entry.route === "$connect" && entry.statusCode === 401).map((entry) => entry.reason);
  t.deepEqual(reasons, ["alg not allowed", "alg not allowed", "bad signature"]);
  // An unknown kid right after the first fetch waits for the one-minute cooldown: no second fetch.
  t.is(await handshakeStatus(`${emulator.endpoint}?token=${await sign({ sub: "bob" }, { key: await es256Key("2026-02") })}`), 401);
  t.is(keySet.fetches(), 1);
  await closeAll([alice]);
});

test("a key rotated on the key set is picked up by its kid (cooldown shortened so the test need not wait a minute)", async (t) => {
  const [first, second] = [await es256Key("2026-01"), await es256Key("2026-02")];
  const keySet = await startKeySetServer(t, [first]);
  const options = { jwksUrl: keySet.url };
  const { emulator } = await startWithWrappedHandlers(
    t,
    (real, started) => {
      const [config, overrides] = lambdaSetup(started.emulator, started.logs, options);
      const verifyToken = createTokenVerifier({ jwksUrl: keySet.url }, { cooldownMs: 300, maxAgeMs: 600_000 });
      return { ...real, connect: createHandlers(config, { ...overrides, verifyToken }).connect };
    },
    options,
  );
  const url = async (sub: string, key: typeof first) => `${emulator.endpoint}?token=${await sign({ sub }, { key })}`;
  const before = await connect(emulator, { url: await url("alice", first) });
  keySet.serve([second]);
  t.is(await handshakeStatus(await url("bob", second)), 401, "within the cooldown the new kid is not fetched");
  await new Promise((resolve) => setTimeout(resolve, 350));
  const after = await connect(emulator, { url: await url("bob", second) });
  t.is(keySet.fetches(), 2);
  after.ws.send("rotated");
  t.like(parseFrame(await after.next()), { data: "rotated", _from: "bob" });
  t.like(parseFrame(await before.next()), { data: "rotated", _from: "bob", _me: false });
  // The retired key is gone from the set: a new token signed with it is refused.
  await new Promise((resolve) => setTimeout(resolve, 350));
  t.is(await handshakeStatus(await url("carol", first)), 401);
  await closeAll([before, after]);
});
