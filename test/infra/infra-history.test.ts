/**
 * `history: true` under Pulumi mocks: one more table (room/seq keys, TTL, the connections table's
 * key and protection), its settings in the environment of `$default` and publish only, and least
 * privilege: numbering's calls for the senders (its Query also serves `$default`'s catch-up), nothing for the rest.
 * Then the uploaded code numbers, stores and catches up in both fan-out modes.
 */
import test from "ava";
import { runProgram, type ProgramReport } from "../../harness/program-run";
import { KMS_KEY, countByType, once, one, parsePolicy, succeeded, asList } from "../helpers/report";
import { MODES } from "../helpers/modes";
import { assertHistorySession } from "../helpers/serialized/history";

const PREFIX = "message-broadcast-dev";
const reports = Object.fromEntries(MODES.map((mode) => [mode, once(() => runProgram({ config: { fanout: mode, history: "true", historyTtlSeconds: "3600" } }))]));
const protectedTables = once(() => runProgram({ config: { history: "true", tableKmsKeyArn: KMS_KEY, tableDeletionProtection: "true", retainTable: "true" } }));
const off = once(() => runProgram());

const variables = (report: ProgramReport, fn: string) => (one(report, "aws:lambda/function:Function", `${PREFIX}-${fn}`).inputs.environment as { variables: Record<string, string> }).variables;
const statements = (report: ProgramReport, fn: string) =>
  parsePolicy(one(report, "aws:iam/rolePolicy:RolePolicy", `${PREFIX}-${fn}-policy`).inputs.policy).Statement.map((s) => [asList(s.Action), asList(s.Resource)]);

test("history: one more table, keyed room (S) and seq (N), on demand, TTL on expiresAt; none without history", async (t) => {
  const report = await reports.direct();
  succeeded(t, report);
  t.is(countByType(report)["aws:dynamodb/table:Table"], 2);
  t.is(countByType(await off())["aws:dynamodb/table:Table"], 1);
  t.deepEqual(one(report, "aws:dynamodb/table:Table", `${PREFIX}-history`).inputs, {
    attributes: [
      { name: "room", type: "S" },
      { name: "seq", type: "N" },
    ],
    hashKey: "room",
    rangeKey: "seq",
    billingMode: "PAY_PER_REQUEST",
    ttl: { attributeName: "expiresAt", enabled: true },
    deletionProtectionEnabled: false,
  });
  const kept = one(await protectedTables(), "aws:dynamodb/table:Table", `${PREFIX}-history`);
  t.like(kept.inputs, { serverSideEncryption: { enabled: true, kmsKeyArn: KMS_KEY }, deletionProtectionEnabled: true });
  t.true(kept.retainOnDelete);
});

for (const mode of MODES) {
  test(`history: HISTORY, its table and TTL reach $default and publish only [${mode}]`, async (t) => {
    const report = await reports[mode]();
    succeeded(t, report);
    const tableName = String(one(report, "aws:dynamodb/table:Table", `${PREFIX}-history`).state.name);
    for (const fn of ["default", "publish"]) t.like(variables(report, fn), { HISTORY: "true", HISTORY_TABLE_NAME: tableName, HISTORY_TTL_SECONDS: "3600" });
    for (const fn of ["connect", "disconnect", ...(mode === "sharded" ? ["shards"] : [])]) {
      t.false(Object.keys(variables(report, fn)).some((key) => key.startsWith("HISTORY")), fn);
    }
  });

  test(`history: least privilege — numbering's GetItem/PutItem/UpdateItem/Query for $default and publish, nothing for the rest [${mode}]`, async (t) => {
    const report = await reports[mode]();
    const historyArn = String(one(report, "aws:dynamodb/table:Table", `${PREFIX}-history`).state.arn);
    const onHistory = (fn: string) => statements(report, fn).filter(([, resources]) => resources.some((resource) => resource.startsWith(historyArn)));
    t.deepEqual(onHistory("default"), [[["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"], [historyArn]]]);
    t.deepEqual(onHistory("publish"), [[["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"], [historyArn]]]);
    for (const fn of ["connect", "disconnect", ...(mode === "sharded" ? ["shards"] : [])]) t.deepEqual(onHistory(fn), [], fn);
    // The rest of each policy is what it is without history.
    const without = await runProgram({ config: { fanout: mode } });
    for (const fn of ["default", "publish"]) t.is(statements(report, fn).length, statements(without, fn).length + 1, fn);
  });

  test.serial(`serialized code with history: numbered copies, a reconnect catch-up, publish numbered, Unavailable when the table is gone [${mode}]`, async (t) => {
    const report = await reports[mode]();
    succeeded(t, report);
    await assertHistorySession(t, report, PREFIX, mode);
  });
}
