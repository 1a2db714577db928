import test from "ava";
import { runProgram } from "./helpers/program-run";
import { assertBroadcastSession } from "./helpers/serialized";

test("serialized Lambda code: $connect ×3, broadcast, error, $disconnect against the emulator and dynalite", async (t) => {
  const report = await runProgram();
  t.is(report.error, undefined, report.error?.message);
  await assertBroadcastSession(t, report, "message-broadcast-dev");
});
