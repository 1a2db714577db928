/**
 * Signed tokens over real sockets (the emulator runs the handlers in its Lambda thread): who is
 * speaking (`_from`), room grants, read-only connections, presence that names people and the
 * members op, in both fan-out modes; every refusal with its status, nothing written.
 */
import test from "ava";
import { closeAll, connect, handshakeStatus, parseFrame, type EmulatorClient } from "../helpers/clients";
import { expectNothingBefore, invocation, startTestEmulator } from "../helpers/emulator";
import { eachMode, idPart } from "../helpers/modes";
import { openTable } from "../helpers/table";
import { SECRET, es256Key, sign, unsecured } from "../helpers/tokens";

const withToken = (endpoint: string, token: string, room?: string) => `${endpoint}?${room === undefined ? "" : `room=${room}&`}token=${token}`;

test("every refusal class answers its status, writes nothing and logs why, never the token", async (t) => {
  const { emulator, logs } = await startTestEmulator(t, { jwtSecret: SECRET, jwtIssuer: "https://id.example", jwtAudience: "game" });
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const now = Math.floor(Date.now() / 1000);
  const good = { sub: "alice", iss: "https://id.example", aud: "game" };
  const esKey = await es256Key("k1");
  const cases: Array<[string, string | undefined, number, string]> = [
    ["no token", undefined, 401, "no token"],
    ["bad signature", (await sign(good)).replace(/.{4}$/, "AAAA"), 401, "bad signature"],
    ["malformed", "this-is-not-a-jwt", 401, "malformed"],
    ["alg none", unsecured(good), 401, "alg not allowed"],
    ["an ES256 token under a secret", await sign(good, { key: esKey }), 401, "alg not allowed"],
    ["expired", await sign(good, { ttl: -30 }), 401, "expired"],
    ["not yet valid", await sign({ ...good, nbf: now + 120 }), 401, "not yet valid"],
    ["wrong issuer", await sign({ ...good, iss: "https://evil.example" }), 401, "wrong issuer"],
    ["wrong audience", await sign({ ...good, aud: "chat" }), 401, "wrong audience"],
    ["sub missing", await sign({ iss: good.iss, aud: good.aud }), 401, "sub missing"],
    ["sub invalid", await sign({ ...good, sub: 42 as unknown as string }), 401, "sub must be a string of 1-128 characters"],
    ["room not granted", await sign({ ...good, rooms: ["match-*"] }), 403, "room not granted"],
  ];
  for (const [what, token, status] of cases) {
    t.is(await handshakeStatus(token === undefined ? emulator.endpoint : withToken(emulator.endpoint, token, "lobby")), status, what);
  }
  t.deepEqual(await table.ids(), [], "no refusal wrote a row");
  const refusals = logs.entries().filter((entry) => entry.route === "$connect" && entry.emulator === undefined);
  t.deepEqual(
    refusals.map((entry) => [entry.statusCode, entry.error, entry.reason]),
    cases.map(([, , status, reason]) => [status, status === 401 ? "Unauthorized" : "Forbidden", reason]),
  );
  for (const [, token] of cases) if (token !== undefined) t.false(logs.lines.some((line) => line.includes(token)), "no token in any log line");
  // A token sent as a Bearer header counts as one sent as ?token=.
  const bearer = await connect(emulator, { url: `${emulator.endpoint}?room=lobby`, headers: { Authorization: `Bearer ${await sign(good)}` } });
  t.like(await table.get(bearer.id), { user: "alice", room: "lobby" });
  await closeAll([bearer]);
});

test("room grants: patterns with *, the default room only through \"*\" or \"$default\"", async (t) => {
  const { emulator } = await startTestEmulator(t, { jwtSecret: SECRET });
  const status = async (rooms: string[] | undefined, room?: string) => {
    const url = withToken(emulator.endpoint, await sign({ sub: "u", ...(rooms === undefined ? {} : { rooms }) }), room);
    try {
      const client = await connect(emulator, { url });
      await closeAll([client]);
      return 200;
    } catch {
      return handshakeStatus(url);
    }
  };
  t.is(await status(["match-*"], "match-7"), 200);
  t.is(await status(["match-*"], "lobby"), 403);
  t.is(await status(["match-*"]), 403, "a pattern never grants the default room");
  t.is(await status(["*"]), 200);
  t.is(await status(["*"], "anything.at:all"), 200);
  t.is(await status(["$default"]), 200);
  t.is(await status(["$default"], "lobby"), 403);
  t.is(await status(undefined), 200, "no rooms claim: every room");
  t.is(await status(undefined, "lobby"), 200);
  t.is(await status([], "lobby"), 403);
});

eachMode(test, "who is speaking: _from on every copy (a forged one removed), read-only refused, presence and members name people", async (t, mode) => {
  const { emulator, logs } = await startTestEmulator(t, { jwtSecret: SECRET, presence: true, fanout: mode });
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const join = async (claims: object, room = "match-1") => connect(emulator, { url: withToken(emulator.endpoint, await sign({ rooms: ["match-*"], ...claims }), room) });
  const presence = async (client: EmulatorClient) => parseFrame(await client.next())._presence;

  const alice = await join({ sub: "alice", meta: { name: "Alice" } });
  const bob = await join({ sub: "bob" });
  t.deepEqual(await presence(alice), { event: "join", count: 2, user: "bob" });
  const alice2 = await join({ sub: "alice", meta: { name: "Alice" } });
  for (const client of [alice, bob]) t.deepEqual(await presence(client), { event: "join", count: 3, user: "alice", meta: { name: "Alice" } });
  const carol = await join({ sub: "carol", publish: false, meta: { name: "Carol", colour: "#0a0" } });
  for (const client of [alice, bob, alice2]) t.deepEqual(await presence(client), { event: "join", count: 4, user: "carol", meta: { name: "Carol", colour: "#0a0" } });
  t.like(await table.get(carol.id), { user: "carol", meta: '{"name":"Carol","colour":"#0a0"}', publish: false, room: "match-1" });
  t.like(await table.get(bob.id), { user: "bob", room: "match-1" });
  t.false(Object.hasOwn((await table.get(bob.id)) ?? {}, "meta"));

  alice.ws.send('{"move":"e4","_from":"mallory","_now":1}');
  const fromAlice = await alice.next();
  const { _now: now, _id } = JSON.parse(fromAlice) as { _now: number; _id?: string };
  const id = idPart(mode, _id);
  t.is(fromAlice, `{"move":"e4","_now":${now},"_from":"alice",${id}"_me":true}`);
  for (const client of [bob, alice2, carol]) t.is(await client.next(), `{"move":"e4","_now":${now},"_from":"alice",${id}"_me":false}`);

  carol.ws.send("may I?");
  const refused = parseFrame(await carol.next());
  t.deepEqual(refused, { _error: { code: "Forbidden", message: "this connection may not publish" }, _now: refused._now, _me: true });
  t.like(await invocation(logs, "$default", carol.id), { error: "Forbidden" });
  for (const client of [alice, bob, alice2]) await expectNothingBefore(t, emulator, client);

  // A read-only connection may still ask who is there.
  carol.ws.send('{"_op":"members"}');
  const roster = parseFrame(await carol.next());
  t.deepEqual(roster, {
    _presence: {
      event: "members",
      count: 4,
      members: [
        { user: "alice", meta: { name: "Alice" }, connections: 2 },
        { user: "bob", connections: 1 },
        { user: "carol", meta: { name: "Carol", colour: "#0a0" }, connections: 1 },
      ],
    },
    _now: roster._now,
    _me: true,
  });
  for (const client of [alice, bob, alice2]) await expectNothingBefore(t, emulator, client);

  alice2.ws.close();
  for (const client of [alice, bob, carol]) t.deepEqual(await presence(client), { event: "leave", count: 3, user: "alice", meta: { name: "Alice" } });
  await closeAll([alice, bob, carol]);
});

eachMode(test, "members with two connections of one user and an anonymous one (a connection from before the secret was set)", async (t, mode) => {
  const { emulator } = await startTestEmulator(t, { jwtSecret: SECRET, fanout: mode });
  const table = openTable(t, emulator.dynamoEndpoint, emulator.tableName);
  const token = await sign({ sub: "dana", meta: { name: "Dana" } });
  const [d1, d2, anonymous] = [await connect(emulator, { url: withToken(emulator.endpoint, token) }), await connect(emulator, { url: withToken(emulator.endpoint, token) }), await connect(emulator, { url: withToken(emulator.endpoint, token) })];
  // The row an anonymous `$connect` writes: no user, no meta.
  const { connectedAt, expiresAt } = (await table.get(anonymous.id)) as { connectedAt: number; expiresAt: number };
  await table.put({ connectionId: anonymous.id, connectedAt, expiresAt, room: "$default" });
  anonymous.ws.send('{"_op":"members"}');
  const roster = parseFrame(await anonymous.next());
  t.deepEqual(roster._presence, { event: "members", count: 3, members: [{ user: "dana", meta: { name: "Dana" }, connections: 2 }] });
  // An anonymous sender's copies carry no `_from`.
  anonymous.ws.send("hello");
  const own = parseFrame(await anonymous.next());
  t.false(Object.hasOwn(own, "_from"));
  t.like(parseFrame(await d1.next()), { data: "hello", _me: false });
  t.like(parseFrame(await d2.next()), { data: "hello", _me: false });
  await closeAll([d1, d2, anonymous]);
});

test("members without identity and without presence: everyone counted, nobody listed", async (t) => {
  const { emulator } = await startTestEmulator(t);
  const [a, b] = [await connect(emulator), await connect(emulator)];
  a.ws.send('{"_op":"members"}');
  const roster = parseFrame(await a.next());
  t.deepEqual(roster, { _presence: { event: "members", count: 2, members: [] }, _now: roster._now, _me: true });
  await expectNothingBefore(t, emulator, b);
  await closeAll([a, b]);
});
