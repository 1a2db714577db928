/**
 * The demo page (demo/index.html) in real headless Chromium: starting the browser, opening a tab
 * (a context of its own, like another person), and reading what the page shows. Every console
 * error and uncaught exception of a page goes to `problems`, which each test file asserts empty.
 */
import { existsSync } from "node:fs";
import type { TestFn } from "ava";
import { chromium, type Browser, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
export const TAB_VIEWPORT = { width: 760, height: 680 };
const OPEN_TIMEOUT_MS = 60_000;

export interface Tab {
  page: Page;
  /** The random id the page sends in its cursor messages. */
  id: string;
}

/** What the tests of a file that start their own stacks share: one Chromium, and its pages' problems. */
export interface ChromiumContext {
  browser: Browser;
  /** Console errors and uncaught exceptions from every page opened, prefixed with the page's name. */
  problems: string[];
}

/** Starts one Chromium for the file's tests (after `prepare`) and closes it after them. */
export function shareChromium(test: TestFn<ChromiumContext>, prepare: () => Promise<void> = () => Promise.resolve()): void {
  test.before(async (t) => {
    t.context.problems = [];
    await prepare();
    t.context.browser = await launchChromium();
  });
  test.after.always(async (t) => {
    await t.context.browser?.close();
  });
}

/** Debian's Chromium, headless, with the flags this machine's closed network needs. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the browser test needs the Debian package (apt-get install -y chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export async function openPage(browser: Browser, name: string, problems: string[]): Promise<Page> {
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

export async function openTab(browser: Browser, url: string, name: string, problems: string[]): Promise<Tab> {
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
export async function connected(page: Page, name: string): Promise<void> {
  await page
    .locator('#status[data-state="open"]')
    .waitFor({ timeout: OPEN_TIMEOUT_MS })
    .catch(async (error: unknown) => {
      throw new Error(`${name} page never connected; its status says "${await page.locator("#status").textContent()}"`, { cause: error });
    });
}

/** A page named `name` at `url`, once its WebSocket is open. */
export async function openConnected(browser: Browser, url: string, name: string, problems: string[]): Promise<Page> {
  const page = await openPage(browser, name, problems);
  await page.goto(url);
  await connected(page, name);
  return page;
}

export async function say(page: Page, text: string): Promise<void> {
  await page.fill("#chat-input", text);
  await page.click("#send");
}

/** The chat line holding exactly `text`, once it has arrived. */
export async function chatLine(page: Page, text: string) {
  const exactly = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  const line = page.locator("#chat-log li").filter({ has: page.locator(".text", { hasText: exactly }) });
  await line.waitFor();
  return line;
}

/** The newest received frame (raw JSON as shown on the page) matching `predicate`. */
export async function shownFrame(page: Page, predicate: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const frames = (await page.locator("#frames code").allTextContents()).map((text) => JSON.parse(text) as Record<string, unknown>);
  const found = frames.find(predicate);
  if (!found) throw new Error(`no matching frame among ${frames.length}`);
  return found;
}

/** Normalized coordinates survive the round trip up to sub-pixel rounding of the pointer. */
export function near(value: unknown, expected: number): boolean {
  return typeof value === "number" && Math.abs(value - expected) < 0.01;
}

export async function moveOnCanvas(page: Page, x: number, y: number): Promise<void> {
  const box = await page.locator("#canvas").boundingBox();
  if (!box) throw new Error("canvas is not visible");
  await page.mouse.move(box.x + box.width * x, box.y + box.height * y);
}

export async function waitForCursor(page: Page, id: string): Promise<void> {
  await page.locator(`#canvas[data-cursors~="${id}"]`).waitFor({ state: "attached" });
}

/** RGB of the canvas pixel at normalized (x, y), in the canvas's own backing pixels. */
export async function canvasPixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.locator("#canvas").evaluate(
    (canvas: HTMLCanvasElement, [fx, fy]) => {
      const data = canvas.getContext("2d")!.getImageData(Math.round(canvas.width * fx), Math.round(canvas.height * fy), 1, 1).data;
      return [data[0], data[1], data[2]];
    },
    [x, y],
  );
}

export async function swatchColour(page: Page): Promise<number[]> {
  const css = await page.locator("#me b").evaluate((swatch) => getComputedStyle(swatch).backgroundColor);
  return (css.match(/\d+/g) ?? []).slice(0, 3).map(Number);
}

/** Records the page's connection states (`broadcast` is the page's client library connection) in `window.states`. */
export async function recordStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const page = window as unknown as { states: string[]; broadcast: { on(event: string, listener: (state: string) => void): () => void } };
    page.states = [];
    page.broadcast.on("state", (state) => page.states.push(state));
  });
}
