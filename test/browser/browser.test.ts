import anyTest, { type TestFn } from "ava";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { startEmulator, type Emulator } from "../../local/emulator";
import { canvasPixel, chatLine, launchChromium, moveOnCanvas, near, openTab, say, shownFrame, swatchColour, TAB_VIEWPORT, waitForCursor, type Tab } from "./browser-page";

// The demo page (demo/index.html), on the client library's browser script, in real headless
// Chromium against the in-process emulator: two tabs see each other's chat lines and cursors,
// exactly as a person trying `npm start` would. browser-stacks.test.ts and browser-network.test.ts
// run the page against other stacks and through faults.

const ARTIFACTS = path.join(__dirname, "..", "artifacts");
const DOCS_PNG = path.join(__dirname, "..", "..", "docs", "demo.png");
// Small enough for a browser to exceed within API Gateway's 32 KiB frame limit.
const MAX_MESSAGE_BYTES = 4096;

interface Context {
  emulator: Emulator;
  browser: Browser;
  first: Tab;
  second: Tab;
  /** Console errors and uncaught exceptions from every page opened, prefixed with the page's name. */
  problems: string[];
}

const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  // Assigned one by one so that the after hook cleans up whatever started before a failure.
  t.context.problems = [];
  // The emulator's JSON log lines would bury ava's report; the assertions look at the pages.
  const emulator = (t.context.emulator = await startEmulator({ port: 0, maxMessageBytes: MAX_MESSAGE_BYTES, log: () => {} }));
  const browser = (t.context.browser = await launchChromium());
  [t.context.first, t.context.second] = await Promise.all(
    ["first", "second"].map((name) => openTab(browser, emulator.httpUrl, name, t.context.problems)),
  );
});

test.after.always(async (t) => {
  await t.context.browser?.close();
  await t.context.emulator?.close();
});

test.serial("a chat line reaches both tabs, marked as mine only in the sender's", async (t) => {
  const { first, second } = t.context;
  await say(first.page, "hello from the first tab");
  const mine = await chatLine(first.page, "hello from the first tab");
  const theirs = await chatLine(second.page, "hello from the first tab");
  t.is(await mine.getAttribute("data-me"), "true");
  t.is(await mine.locator(".tag").textContent(), "me");
  t.is(await theirs.getAttribute("data-me"), "false");
  t.is(await theirs.locator(".tag").count(), 0);
  t.is(await first.page.inputValue("#chat-input"), "");
  // The frame list shows the payload as received: plain text arrives as `data`, then `_now`, then `_me`.
  const frame = await shownFrame(second.page, (f) => f.data === "hello from the first tab");
  t.deepEqual(Object.keys(frame), ["data", "_now", "_me"]);
  t.is(frame._me, false);
  t.is(typeof frame._now, "number");
});

test.serial("the sender sees the round-trip time of its message", async (t) => {
  const latency = t.context.first.page.locator("#latency");
  t.regex((await latency.textContent()) ?? "", /^\d+ ms \(avg \d+ ms of last \d+\)$/);
  const ms = Number(await latency.getAttribute("data-ms"));
  t.true(Number.isFinite(ms) && ms >= 0, `data-ms is ${ms}`);
  t.is(await t.context.second.page.locator("#latency").textContent(), "–", "the receiver sent nothing, so has no round trip");
});

test.serial("a pointer move in one tab draws that tab's dot, in its colour, at the same place in the other", async (t) => {
  const { first, second } = t.context;
  await moveOnCanvas(first.page, 0.5, 0.5);
  await waitForCursor(second.page, first.id);
  await waitForCursor(first.page, first.id);
  t.is(await second.page.locator("#canvas").getAttribute("data-cursors"), first.id);
  const colour = await swatchColour(first.page);
  for (const page of [first.page, second.page]) {
    const centre = await canvasPixel(page, 0.5, 0.5);
    t.true(centre.every((channel, i) => Math.abs(channel - colour[i]) <= 2), `centre pixel ${centre.join(",")} is not the dot colour ${colour.join(",")}`);
    t.notDeepEqual(await canvasPixel(page, 0.1, 0.9), centre, "the dot is drawn, not the whole canvas filled");
  }
  const frame = await shownFrame(second.page, (f) => f.type === "cursor");
  // `c`: the sender's palette slot, so that every tab draws it in the same colour.
  t.deepEqual(Object.keys(frame), ["type", "id", "x", "y", "c", "_now", "_me"]);
  t.like(frame, { id: first.id, _me: false });
  t.true(near(frame.x, 0.5) && near(frame.y, 0.5), `sent as ${String(frame.x)},${String(frame.y)}`);
});

test.serial("both tabs show both cursors and the whole conversation (screenshots in test/artifacts/)", async (t) => {
  const { browser, first, second } = t.context;
  await moveOnCanvas(first.page, 0.62, 0.42);
  await moveOnCanvas(second.page, 0.3, 0.65);
  await say(second.page, "hi! I can see your cursor");
  // Messages from two senders are two invocations, in no set order (as on AWS): the first tab
  // answers once both tabs show the line it answers, as a person reading it would.
  for (const tab of [first, second]) await chatLine(tab.page, "hi! I can see your cursor");
  await say(first.page, "and I can see yours!");
  const conversation = ["hello from the first tab", "hi! I can see your cursor", "and I can see yours!"];
  for (const tab of [first, second]) {
    await chatLine(tab.page, "and I can see yours!");
    await waitForCursor(tab.page, second.id);
    t.is(await tab.page.locator("#canvas").getAttribute("data-cursors"), [first.id, second.id].sort().join(" "));
    t.deepEqual(await tab.page.locator("#chat-log .text").allTextContents(), conversation);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const shots = [path.join(ARTIFACTS, "demo-tab-1.png"), path.join(ARTIFACTS, "demo-tab-2.png")];
  await first.page.screenshot({ path: shots[0] });
  await second.page.screenshot({ path: shots[1] });
  if (process.env.UPDATE_DEMO_PNG === "1") await composeSideBySide(browser, shots, DOCS_PNG);
});

async function composeSideBySide(browser: Browser, shots: string[], output: string): Promise<void> {
  const page = await browser.newPage({ viewport: { width: TAB_VIEWPORT.width * 2 + 72, height: TAB_VIEWPORT.height + 84 } });
  const frame = (file: string, label: string) =>
    `<figure><figcaption>${label}</figcaption><img src="data:image/png;base64,${readFileSync(file).toString("base64")}"></figure>`;
  await page.setContent(`<style>
    body { margin: 0; padding: 16px 24px; display: flex; gap: 24px; background: #d9dde4; font: 600 13px system-ui, sans-serif; color: #374151; }
    figure { margin: 0; } figcaption { margin-bottom: 6px; } img { display: block; border-radius: 8px; box-shadow: 0 4px 16px #0003; }
  </style>${frame(shots[0], "Tab 1")}${frame(shots[1], "Tab 2")}`);
  await page.screenshot({ path: output });
  await page.close();
}

test.serial("a message over the size limit shows the sender an error and reaches nobody", async (t) => {
  const { first, second } = t.context;
  await say(first.page, "x".repeat(MAX_MESSAGE_BYTES));
  const banner = first.page.locator("#error");
  await banner.waitFor();
  const outgoing = Buffer.byteLength(JSON.stringify({ data: "x".repeat(MAX_MESSAGE_BYTES), _now: Date.now(), _me: false }));
  const refusal = `MessageTooLarge: outgoing payload is ${outgoing} bytes, the limit is ${MAX_MESSAGE_BYTES}`;
  t.is(await banner.textContent(), `Your last message was not broadcast: ${refusal}`);
  t.is(await first.page.locator("#frames li.error").count(), 1);
  // Messages are handled in order, so once the next line arrives the refused one would have too.
  await say(first.page, "after the refused one");
  await chatLine(second.page, "after the refused one");
  t.true(await banner.isHidden(), "sending again clears the error");
  t.is(await second.page.locator("#error").isHidden(), true);
  t.is(await second.page.locator("#frames li.error").count(), 0);
  t.false((await second.page.locator("#chat-log").textContent())?.includes("xxxx"));
});

test.serial("a message over API Gateway's frame limit is not sent, so the connection stays open", async (t) => {
  const { first, second } = t.context;
  await say(first.page, "y".repeat(40_000));
  t.is(
    await first.page.locator("#error").textContent(),
    "Not sent: the message is 40000 bytes, and API Gateway closes connections that send frames over 32768 bytes",
  );
  t.is(await first.page.inputValue("#chat-input"), "y".repeat(40_000), "the text is kept to shorten and resend");
  await say(first.page, "still connected");
  await chatLine(second.page, "still connected");
  t.is(await first.page.locator("#status").getAttribute("data-state"), "open");
  t.is(t.context.emulator.connectionIds().length, 2);
});

test.serial("cursor messages are throttled to one per 50 ms, always with the newest position", async (t) => {
  const { first, second } = t.context;
  const page = second.page;
  await say(page, "moves start");
  await chatLine(first.page, "moves start");
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);
  for (let step = 1; step <= 10; step++) await moveOnCanvas(page, step / 20, step / 20);
  await page.clock.runFor(50);
  await say(page, "moves done");
  await page.clock.resume();
  // The backend handles a connection's messages in order, so once "moves done" has arrived every
  // cursor frame sent before it has too.
  await chatLine(first.page, "moves done");
  const received = (await first.page.locator("#frames code").allTextContents()).map((text) => JSON.parse(text) as Record<string, unknown>).reverse();
  const between = received.slice(received.findIndex((f) => f.data === "moves start") + 1, received.findIndex((f) => f.data === "moves done"));
  t.deepEqual(between.map((f) => f.id), [second.id, second.id], "the first move at once, the last one when the interval ends, none between");
  t.true(near(between[0].x, 0.05) && near(between[1].x, 0.5) && near(between[1].y, 0.5), JSON.stringify(between));
});

test.serial("no console errors or uncaught exceptions in any tab", (t) => {
  t.deepEqual(t.context.problems, []);
});
