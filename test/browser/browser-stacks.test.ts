// The demo page against stacks other than the default: opened as a file with ?endpoint= and
// ?token=, rooms with presence, signed-token identity, stage throttling, and eight tabs' colours.
import anyTest, { type TestFn } from "ava";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { buildBrowserScript } from "../../client/build";
import { startEmulator } from "../../local/emulator";
import { mintToken } from "../../tools/mint-token";
import { openClient } from "../helpers/clients";
import { SECRET } from "../helpers/tokens";
import { canvasPixel, chatLine, connected, moveOnCanvas, openConnected, openPage, say, shareChromium, swatchColour, waitForCursor, type ChromiumContext } from "./browser-page";

const DEMO_FILE = path.join(__dirname, "..", "..", "demo", "index.html");

// Each test starts the stack it needs; they share one Chromium. The page opened as a file loads
// the built library (the emulator builds its own /client.js).
const test = anyTest as TestFn<ChromiumContext>;
shareChromium(test, buildBrowserScript);

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

test.serial("no console errors or uncaught exceptions in any tab", (t) => {
  t.deepEqual(t.context.problems, []);
});
