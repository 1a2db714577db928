import test from "ava";
import { runProgram } from "../../harness/program-run";
import { succeeded } from "../helpers/report";
import { assertRoomSession } from "../helpers/serialized/rooms";

test("serialized Lambda code with presence: rooms, an invalid room, join and leave events against the emulator and dynalite", async (t) => {
  const report = await runProgram({ config: { presence: "true" } });
  succeeded(t, report);
  await assertRoomSession(t, report, "message-broadcast-dev");
});
