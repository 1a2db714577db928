import test from "ava";
import { runProgram } from "../../harness/program-run";
import { once, succeeded } from "../helpers/report";
import { assertBroadcastSession } from "../helpers/serialized/session";
import { assertPublishSession } from "../helpers/serialized/publish";

const report = once(() => runProgram());

// Serial: each test swaps console.log and process.env, which the other would see.
test.serial("serialized Lambda code: $connect ×3, broadcast, error, $disconnect against the emulator and dynalite", async (t) => {
  succeeded(t, await report());
  await assertBroadcastSession(t, await report(), "message-broadcast-dev");
});

test.serial("serialized publish code: function URL events from the emulator's @publish reach every connection", async (t) => {
  succeeded(t, await report());
  await assertPublishSession(t, await report(), "message-broadcast-dev");
});
