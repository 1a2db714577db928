import anyTest, { type TestFn } from "ava";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { chromium, type Browser, type Page } from "playwright-core";
import { buildBrowserScript } from "../../client/build";
import { startEmulator, type Emulator } from "../../local/emulator";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { openClient } from "../helpers/clients";
import { startWrappedEmulator } from "../helpers/emulator";
import { mintToken } from "../../tools/mint-token";
import { SECRET } from "../helpers/tokens";

// The demo page (demo/index.html), on the client library's browser script, in real headless
// Chromium against the in-process emulator: two tabs see each other's chat lines and cursors,
// exactly as a person trying `npm start` would, and keep their conversation through a forced drop.

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.join(__dirname, "..", "artifacts");
const DOCS_PNG = path.join(__dirname, "..", "..", "docs", "demo.png");
const DEMO_FILE = path.join(__dirname, "..", "..", "demo", "index.html");
const TAB_VIEWPORT = { width: 760, height: 680 };
// Small enough for a browser to exceed within API Gateway's 32 KiB frame limit.
const MAX_MESSAGE_BYTES = 4096;
const OPEN_TIMEOUT_MS = 60_000;

interface Tab {
  page: Page;
  /** The random id the page sends in its cursor messages. */
  id: string;
}

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
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the browser test needs the Debian package (apt-get install -y chromium)`);
  }
  // Assigned one by one so that the after hook cleans up whatever started before a failure.
  t.context.problems = [];
  // The page opened as a file loads the built library (the emulator builds its own /client.js).
  await buildBrowserScript();
  // The emulator's JSON log lines would bury ava's report; the assertions look at the pages.
  const emulator = (t.context.emulator = await startEmulator({ port: 0, maxMessageBytes: MAX_MESSAGE_BYTES, log: () => {} }));
  const browser = (t.context.browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  }));
  [t.context.first, t.context.second] = await Promise.all(
    ["first", "second"].map((name) => openTab(browser, emulator.httpUrl, name, t.context.problems)),
  );
});

test.after.always(async (t) => {
  await t.context.browser?.close();
  await t.context.emulator?.close();
});

async function openPage(browser: Browser, name: string, problems: string[]): Promise<Page> {
  // A context per tab, like two people: nothing shared but the backend.
  const context = await browser.newContext({ viewport: TAB_VIEWPORT });
  // Everything here happens on loopback within milliseconds when the machine is quiet; 15 s leaves
  // room for a CI machine running other suites at the same time, and still fails before 30 s.
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`${name}: console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`${name}: page error: ${error.message}`));
  return page;
}

async function openTab(browser: Browser, url: string, name: string, problems: string[]): Promise<Tab> {
  const page = await openPage(browser, name, problems);
  // Time runs as usual until a test pauses it (the throttle test); it must be installed before load.
  await page.clock.install();
  await page.goto(url);
  await connected(page, name);
  return { page, id: (await page.locator("#me").getAttribute("data-id")) ?? "" };
}

/**
 * Waits until the page's WebSocket is open. A connection may wait for the emulator's Lambda
 * threads to cold-start (a tsx build in a worker thread), which takes well over 5 s while CI runs
 * other suites beside this one.
 */
async function connected(page: Page, name: string): Promise<void> {
  await page
    .locator('#status[data-state="open"]')
    .waitFor({ timeout: OPEN_TIMEOUT_MS })
    .catch(async (error: unknown) => {
      throw new Error(`${name} page never connected; its status says "${await page.locator("#status").textContent()}"`, { cause: error });
    });
}

/** A page named `name` at `url`, once its WebSocket is open. */
async function openConnected(browser: Browser, url: string, name: string, problems: string[]): Promise<Page> {
  const page = await openPage(browser, name, problems);
  await page.goto(url);
  await connected(page, name);
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#chat-input", text);
  await page.click("#send");
}

/** The chat line holding exactly `text`, once it has arrived. */
async function chatLine(page: Page, text: string) {
  const exactly = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  const line = page.locator("#chat-log li").filter({ has: page.locator(".text", { hasText: exactly }) });
  await line.waitFor();
  return line;
}

/** The newest received frame (raw JSON as shown on the page) matching `predicate`. */
async function shownFrame(page: Page, predicate: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const frames = (await page.locator("#frames code").allTextContents()).map((text) => JSON.parse(text) as Record<string, unknown>);
  const found = frames.find(predicate);
  if (!found) throw new Error(`no matching frame among ${frames.length}`);
  return found;
}

/** Normalized coordinates survive the round trip up to sub-pixel rounding of the pointer. */
function near(value: unknown, expected: number): boolean {
  return typeof value === "number" && Math.abs(value - expected) < 0.01;
}

async function moveOnCanvas(page: Page, x: number, y: number): Promise<void> {
  const box = await page.locator("#canvas").boundingBox();
  if (!box) throw new Error("canvas is not visible");
  await page.mouse.move(box.x + box.width * x, box.y + box.height * y);
}

async function waitForCursor(page: Page, id: string): Promise<void> {
  await page.locator(`#canvas[data-cursors~="${id}"]`).waitFor({ state: "attached" });
}

/** RGB of the canvas pixel at normalized (x, y), in the canvas's own backing pixels. */
async function canvasPixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.locator("#canvas").evaluate(
    (canvas: HTMLCanvasElement, [fx, fy]) => {
      const data = canvas.getContext("2d")!.getImageData(Math.round(canvas.width * fx), Math.round(canvas.height * fy), 1, 1).data;
      return [data[0], data[1], data[2]];
    },
    [x, y],
  );
}

async function swatchColour(page: Page): Promise<number[]> {
  const css = await page.locator("#me b").evaluate((swatch) => getComputedStyle(swatch).backgroundColor);
  return (css.match(/\d+/g) ?? []).slice(0, 3).map(Number);
}

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

test.serial("opened as a file with ?endpoint= and ?token=, the page uses that endpoint and token", async (t) => {
  const { browser, problems } = t.context;
  // A deployed stack's situation: another host, which admits only clients presenting the token.
  const guarded = await startEmulator({ port: 0, accessToken: "demo-secret", log: () => {} });
  try {
    const url = pathToFileURL(DEMO_FILE);
    url.searchParams.set("endpoint", guarded.endpoint);
    url.searchParams.set("token", "demo-secret");
    const page = await openConnected(browser, url.href, "file", problems);
    t.is(await page.locator("#endpoint").textContent(), guarded.endpoint, "shown without the token");
    await say(page, "from a file:// page");
    t.is(await (await chatLine(page, "from a file:// page")).getAttribute("data-me"), "true");
    t.is(guarded.connectionIds().length, 1);
    await page.context().close();
  } finally {
    await guarded.close();
  }
});

test.serial("rooms: the room field and ?room= join a room, messages stay in it, presence shows joins and leaves", async (t) => {
  const { browser, problems } = t.context;
  const rooms = await startEmulator({ port: 0, presence: true, log: () => {} });
  try {
    const open = async (name: string, query: string) => {
      return openConnected(browser, `${rooms.httpUrl}${query}`, name, problems);
    };
    const red = await open("red-1", "?room=red");
    t.is(await red.inputValue("#room"), "red");
    t.is(await red.locator("#endpoint").textContent(), `${rooms.endpoint}?room=red`);
    // Joining through the field: the page reloads with ?room= and connects to that room.
    const joiner = await open("red-2", "");
    await joiner.fill("#room", "red");
    await joiner.click("#join");
    await joiner.waitForURL(/\?room=red$/);
    await connected(joiner, "red-2");
    await red.locator('#presence[data-count="2"]').waitFor();
    t.is(await red.locator("#presence").textContent(), "2 here");
    t.regex((await red.locator("#chat-log li.presence").last().textContent()) ?? "", /^[\d:.]+someone joined · 2 in the room$/);
    // The joiner hears nothing of its own join; it asks who is there ({"_op":"members"}) on opening.
    await joiner.locator('#presence[data-count="2"]').waitFor();
    t.is(await joiner.locator("#chat-log li.presence").count(), 0);
    const lobby = await open("default", "");

    await say(joiner, "only for red");
    await chatLine(red, "only for red");
    await say(lobby, "only for the default room");
    await chatLine(lobby, "only for the default room");
    await say(red, "red again");
    await chatLine(joiner, "red again");
    await chatLine(red, "red again");
    t.deepEqual(await red.locator("#chat-log .text").allTextContents(), ["only for red", "red again"]);
    t.deepEqual(await lobby.locator("#chat-log .text").allTextContents(), ["only for the default room"]);

    await joiner.context().close();
    await red.locator('#presence[data-count="1"]').waitFor();
    t.regex((await red.locator("#chat-log li.presence").last().textContent()) ?? "", /someone left · 1 in the room$/);

    // A name the backend would refuse is not sent at all.
    const bad = await openPage(browser, "bad-room", problems);
    await bad.goto(`${rooms.httpUrl}?room=${encodeURIComponent("no spaces")}`);
    await bad.locator('#status[data-state="config-error"]').waitFor();
    t.is(await bad.locator("#status").textContent(), 'room must be 1-64 characters of A-Z a-z 0-9 _ . : -, got "no spaces"');
    t.is(rooms.connectionIds().length, 2);
    for (const page of [red, lobby, bad]) await page.context().close();
  } finally {
    await rooms.close();
  }
});

test.serial("identity: the page takes ?token=, says who said what and lists who is in the room", async (t) => {
  const { browser, problems } = t.context;
  const stack = await startEmulator({ port: 0, jwtSecret: SECRET, presence: true, log: () => {} });
  try {
    const alice = await openConnected(browser, `${stack.httpUrl}?token=${await mintToken({ sub: "alice", meta: { name: "Alice" }, secret: SECRET })}`, "alice", problems);
    t.is(await alice.inputValue("#token"), await alice.evaluate(() => new URLSearchParams(location.search).get("token") ?? ""));
    const bob = await openConnected(browser, `${stack.httpUrl}?token=${await mintToken({ sub: "bob", secret: SECRET })}`, "bob", problems);
    await bob.locator('#presence[data-count="2"]').waitFor();
    t.is(await bob.locator("#presence").textContent(), "2 here: Alice, bob");
    await say(alice, "hello from alice");
    t.is(await (await chatLine(bob, "hello from alice")).locator(".from").textContent(), "alice");
    t.is(await (await chatLine(alice, "hello from alice")).locator(".from").textContent(), "alice");
    for (const page of [alice, bob]) await page.context().close();
  } finally {
    await stack.close();
  }
});

test.serial("throttled messages: the refused chat lines say 'not sent', the round trip counts only answers", async (t) => {
  const { browser, problems } = t.context;
  // A stage that admits one message a second after a burst of three (the handshake took one).
  const throttled = await startEmulator({ port: 0, throttleRateLimit: 1, throttleBurstLimit: 3, log: () => {} });
  try {
    const page = await openConnected(browser, throttled.httpUrl, "throttled", problems);
    const lines = ["one", "two", "three", "four", "five", "six"];
    // All in one go: the bucket holds at most three tokens, so at least three are refused.
    await page.evaluate((texts) => {
      const input = document.getElementById("chat-input") as HTMLInputElement;
      const form = document.getElementById("chat-form") as HTMLFormElement;
      for (const text of texts) {
        input.value = text;
        form.requestSubmit();
      }
    }, lines);
    await page.locator("#chat-log li").nth(lines.length - 1).waitFor();
    const sent = await page.locator('#chat-log li:not([data-refused="true"]) .text').allTextContents();
    const refused = page.locator('#chat-log li[data-refused="true"]');
    const refusedTexts = await refused.locator(".text").allTextContents();
    t.true(refusedTexts.length >= 3, `refused: ${JSON.stringify(refusedTexts)}`);
    // Handled in order: the first ones got tokens, the rest were refused.
    t.deepEqual([...sent, ...refusedTexts], lines);
    t.deepEqual(await refused.locator(".refused").allTextContents(), refusedTexts.map(() => "not sent: Too Many Requests"));
    t.is(await page.locator("#behind").textContent(), `${refusedTexts.length} refused`);
    t.is(await page.locator("#behind").getAttribute("data-waiting"), "0", "every message was answered");
    // Only real answers are round trips: one sample per broadcast line.
    t.regex((await page.locator("#latency").textContent()) ?? "", new RegExp(`of last ${sent.length}\\)$`));
    t.is(await page.locator("#frames li.error").count(), refusedTexts.length);
    await page.context().close();
  } finally {
    await throttled.close();
  }
});

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

test.serial("eight cursors get eight colours: a tab whose colour another holds moves to the free one", async (t) => {
  const { browser, problems } = t.context;
  const board = await startEmulator({ port: 0, log: () => {} });
  try {
    const page = await openConnected(browser, board.httpUrl, "colours", problems);
    // Seven other cursors (ids sort before any the page picks) hold every slot but the sixth.
    const others = await openClient(board.endpoint);
    const slots = [0, 1, 2, 3, 4, 6, 7];
    slots.forEach((slot, i) => others.ws.send(JSON.stringify({ type: "cursor", id: `000${i}`, x: 0.1 + i * 0.1, y: 0.2, c: slot })));
    await others.nextFrames(slots.length);
    for (let i = 0; i < slots.length; i++) await waitForCursor(page, `000${i}`);
    t.deepEqual(await swatchColour(page), [8, 145, 178], "the page took the free slot, #0891b2");
    const me = (await page.locator("#me").getAttribute("data-id")) ?? "";
    await moveOnCanvas(page, 0.5, 0.7);
    await waitForCursor(page, me);
    const colours: string[] = [];
    for (let i = 0; i < slots.length; i++) colours.push((await canvasPixel(page, 0.1 + i * 0.1, 0.2)).join(","));
    colours.push((await canvasPixel(page, 0.5, 0.7)).join(","));
    t.is(new Set(colours).size, 8, colours.join(" "));
    others.ws.close();
    await page.context().close();
  } finally {
    await board.close();
  }
});

/** Records the page's connection states (`broadcast` is the page's client library connection) in `window.states`. */
async function recordStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const page = window as unknown as { states: string[]; broadcast: { on(event: string, listener: (state: string) => void): () => void } };
    page.states = [];
    page.broadcast.on("state", (state) => page.states.push(state));
  });
}

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
