// The demo page through faults: a failing integration, answers overdue, a forced drop (with and
// without the emulator's history), each keeping the conversation a person sees.
import anyTest, { type TestFn } from "ava";
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { startEmulator } from "../../local/emulator";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { openClient } from "../helpers/clients";
import { startWrappedEmulator } from "../helpers/emulator";
import { chatLine, connected, openConnected, recordStates, say, shareChromium, type ChromiumContext } from "./browser-page";

// Each test starts the stack it needs; they share one Chromium.
const test = anyTest as TestFn<ChromiumContext>;
shareChromium(test);

test.serial("a failed integration: the refused chat line says 'not sent: Internal server error', later lines go through", async (t) => {
  const { browser, problems } = t.context;
  // The real handlers, except that `$default` throws for one text, as a crashing Lambda would.
  const { emulator: failing } = await startWrappedEmulator((real) => ({
    ...real,
    message: async (event) => {
      if (event.body === "crash") throw new Error("the integration failed");
      return real.message(event);
    },
  }));
  try {
    const page = await openConnected(browser, failing.httpUrl, "failing", problems);
    await say(page, "crash");
    const refused = page.locator('#chat-log li[data-refused="true"]');
    await refused.waitFor();
    t.is(await refused.locator(".text").textContent(), "crash");
    t.is(await refused.locator(".refused").textContent(), "not sent: Internal server error");
    await say(page, "after the crash");
    t.is(await (await chatLine(page, "after the crash")).getAttribute("data-refused"), null);
    t.is(await page.locator("#behind").textContent(), "1 refused");
    t.is(await page.locator("#status").getAttribute("data-state"), "open", "the connection stays open");
    await page.context().close();
  } finally {
    await failing.close();
  }
});

test.serial("answers overdue: the badge says the page is falling behind, and clears when they arrive", async (t) => {
  const { browser, problems } = t.context;
  // Every post waits 2.5 s, so the sender's own copy is overdue for a while.
  const slow = await startEmulator({ port: 0, log: () => {} }, { postLatencyMs: 2500 });
  try {
    const page = await openConnected(browser, slow.httpUrl, "behind", problems);
    await say(page, "slowly");
    const badge = page.locator('#behind[data-waiting="1"]');
    await badge.waitFor();
    t.regex((await badge.textContent()) ?? "", /^falling behind: 1 unanswered, oldest \d+\.\d s$/);
    await chatLine(page, "slowly");
    await page.locator("#behind").waitFor({ state: "hidden" });
    t.is(await page.locator("#behind").getAttribute("data-waiting"), "0");
    await page.context().close();
  } finally {
    await slow.close();
  }
});

test.serial("a forced drop: the page reconnects on its own, keeps its conversation, and sends what was typed meanwhile", async (t) => {
  const { browser, problems } = t.context;
  const dropping = await startEmulator({ port: 0, log: () => {} });
  const api = new ApiGatewayManagementApiClient({ ...LOCAL_AWS, endpoint: dropping.managementEndpoint });
  try {
    const stays = await openConnected(browser, dropping.httpUrl, "stays", problems);
    const before = new Set(dropping.connectionIds());
    const drops = await openConnected(browser, dropping.httpUrl, "drops", problems);
    const [dropped] = dropping.connectionIds().filter((id) => !before.has(id));
    await say(stays, "before the drop");
    await chatLine(drops, "before the drop");
    await say(drops, "me too");
    await chatLine(stays, "me too");
    await recordStates(drops);
    // Typed the moment the connection is lost: queued by the library, sent once it is open again.
    await drops.evaluate(() => {
      const { broadcast } = window as unknown as { broadcast: { on(event: string, listener: (state: string) => void): () => void } };
      const off = broadcast.on("state", (state) => {
        if (state !== "reconnecting") return;
        off();
        (document.getElementById("chat-input") as HTMLInputElement).value = "typed while offline";
        (document.getElementById("chat-form") as HTMLFormElement).requestSubmit();
      });
    });
    await api.send(new DeleteConnectionCommand({ ConnectionId: dropped }));
    await chatLine(stays, "typed while offline");
    await connected(drops, "drops");
    await say(stays, "after the drop");
    await chatLine(drops, "after the drop");
    const conversation = ["before the drop", "me too", "typed while offline", "after the drop"];
    for (const page of [stays, drops]) t.deepEqual(await page.locator("#chat-log .text").allTextContents(), conversation);
    t.deepEqual(await drops.evaluate(() => (window as unknown as { states: string[] }).states), ["reconnecting", "open"]);
    t.is(dropping.connectionIds().length, 2);
    t.false(dropping.connectionIds().includes(dropped));
    for (const page of [stays, drops]) await page.context().close();
  } finally {
    api.destroy();
    await dropping.close();
  }
});


test.serial("with the emulator's history, what was said during a forced drop appears once, in order", async (t) => {
  const { browser, problems } = t.context;
  const keeping = await startEmulator({ port: 0, history: true, log: () => {} });
  const api = new ApiGatewayManagementApiClient({ ...LOCAL_AWS, endpoint: keeping.managementEndpoint });
  try {
    const page = await openConnected(browser, keeping.httpUrl, "catches up", problems);
    const [dropped] = keeping.connectionIds();
    const other = await openClient(keeping.endpoint);
    other.ws.send("before the drop");
    await chatLine(page, "before the drop");
    await api.send(new DeleteConnectionCommand({ ConnectionId: dropped }));
    // Sent while the page's connection is gone or not yet back: it arrives live or by catch-up, once.
    for (const text of ["while away 1", "while away 2", "while away 3"]) other.ws.send(text);
    await other.nextFrames(4);
    await chatLine(page, "while away 3");
    await connected(page, "catches up");
    other.ws.send("after the drop");
    await chatLine(page, "after the drop");
    t.deepEqual(await page.locator("#chat-log .text").allTextContents(), ["before the drop", "while away 1", "while away 2", "while away 3", "after the drop"]);
    other.ws.close();
    await page.context().close();
  } finally {
    api.destroy();
    await keeping.close();
  }
});

test.serial("no console errors or uncaught exceptions in any tab", (t) => {
  t.deepEqual(t.context.problems, []);
});
