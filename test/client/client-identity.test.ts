/**
 * The client library with the backend's identity (issue 22) in the emulator: `members()` resolves
 * with the roster of signed users, and signed-token refusals (401, 403) stop the client.
 */
import test from "ava";
import { startTestEmulator } from "../helpers/emulator";
import { openLibraryClient } from "../helpers/library-client";
import { SECRET, sign } from "../helpers/tokens";

const QUICK = { backoff: { initialMs: 20, maxMs: 200 } };

test("identity: members() resolves with the roster (users by sub, sorted, with their connection counts); 401 and 403 stop the client", async (t) => {
  const { emulator } = await startTestEmulator(t, { jwtSecret: SECRET });
  const token = (sub: string, claims: Record<string, unknown> = {}) => sign({ sub, meta: { name: sub }, ...claims });
  const clients = [
    openLibraryClient(emulator.endpoint, { ...QUICK, token: () => token("bob") }),
    openLibraryClient(emulator.endpoint, { ...QUICK, token: () => token("alice") }),
    openLibraryClient(emulator.endpoint, { ...QUICK, token: await token("alice") }),
  ];
  for (const client of clients) t.teardown(() => client.conn.close());
  for (const client of clients) await client.until(() => client.conn.state === "open", "an open");
  t.deepEqual(await clients[0].conn.members(), {
    event: "members",
    count: 3,
    members: [
      { user: "alice", meta: { name: "alice" }, connections: 2 },
      { user: "bob", meta: { name: "bob" }, connections: 1 },
    ],
  });
  const refused = openLibraryClient(emulator.endpoint, { ...QUICK, token: "not-a-jwt" });
  await refused.until(() => refused.conn.state === "closed", "the 401");
  t.deepEqual(refused.errors, [{ code: "Unauthorized", message: "the handshake was refused with HTTP 401", status: 401 }]);
  const elsewhere = openLibraryClient(emulator.endpoint, { ...QUICK, room: "blue", token: await token("carol", { rooms: ["red"] }) });
  await elsewhere.until(() => elsewhere.conn.state === "closed", "the 403");
  t.deepEqual(elsewhere.errors, [{ code: "Forbidden", message: "the handshake was refused with HTTP 403", status: 403 }]);
});
