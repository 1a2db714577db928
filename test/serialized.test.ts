import test from "ava";
import { runProgram } from "../harness/program-run";
import { succeeded } from "./helpers/report";
import { assertBroadcastSession } from "./helpers/serialized";

test("serialized Lambda code: $connect ×3, broadcast, error, $disconnect against the emulator and dynalite", async (t) => {
  const report = await runProgram();
  succeeded(t, report);
  await assertBroadcastSession(t, report, "message-broadcast-dev");
});
