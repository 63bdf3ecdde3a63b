/**
 * End-to-end tests of the two pages in real headless Chromium (Debian's
 * /usr/bin/chromium, driven by playwright-core): chat between tabs and a plain
 * WebSocket client, push between tabs and the area calculator, a message from the
 * RabbitMQ queue, a server restart, hostile text, the pages over TLS, the queue
 * label that no tab can forge, WAMP v1 WAMP-CRA computed in the page with CryptoJS
 * as AutobahnJS 0.8 does (AutobahnJS 0.8 itself is on no registry this project can
 * reach), the chat page's who-is-online list (joins, renames, shared nicknames, a
 * crashed tab, a closed tab, a plain client as "anonymous"), long messages behind
 * "show more", the offline banner above the composer, the sticky status bar at phone
 * width, the last messages a page shows when it opens (the router's event history),
 * what a tab cut off for a while catches up on (through a TCP proxy the test cuts),
 * the line that says messages may be missing when the history no longer reaches back
 * or the server restarted, and screenshots at desktop and phone widths (written to
 * /screenshots/, which git ignores).
 *
 * Every server runs in this process on an ephemeral port. Waits are playwright's
 * (waitForFunction, locator.waitFor) with a bound, never sleeps. Each tab gets a
 * fresh browser context; a dialog or an uncaught page error in any tab fails the
 * test.
 *
 * playwright-core needs every permission (it reads /proc/sys and the home folder and
 * writes a temporary browser profile), which is why the test task runs with `-A`.
 * Without /usr/bin/chromium the file is skipped with
 * one line, or fails when `CI=true`. The queue scenario is skipped the same way as
 * the bridge tests when RabbitMQ is not there (tests/rabbitmq.ts).
 *
 * `UPDATE_DOCS_SCREENSHOTS=1` also copies the two desktop screenshots to docs/.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { CHAT_TOPIC, chatApp, PRESENCE_TOPIC } from "../chat.ts";
import { type App, LocalSession, type RunningServer, type ServerOptions, startServer } from "../main.ts";
import { createPushApp, MESSAGES_TOPIC, pushApp, type PushAppInstance } from "../push.ts";
import { BRIDGE_ROLE } from "../src/bridge/queue_bridge.ts";
import { connectV2, RawClient, waitUntil, within } from "./helpers.ts";
import { haveOpenssl, makeCertificate } from "./tls.ts";
import { TcpProxy } from "./tcp_proxy.ts";
import { CHROMIUM, haveChromium as chromiumInstalled, LAUNCH_ARGS } from "./browser.ts";

const CI = Deno.env.get("CI") === "true";
/** Bound for every wait on a page. */
const WAIT_MS = 10_000;
const REPO_DIR = new URL("../", import.meta.url);
const SCREENSHOT_DIR = new URL("../screenshots/", import.meta.url);
const DOCS_DIR = new URL("../docs/", import.meta.url);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** Where the chat page keeps its nickname (localStorage). */
const NICK_KEY = "tuerca.nick";

// ---------------------------------------------------------------------------
// How this file runs: skipped, in a child with every permission, or here.

const haveChromium = chromiumInstalled();
if (!haveChromium) {
  if (CI) throw new Error(`no Chromium at ${CHROMIUM}: CI must run the browser tests (.ci/run installs it)`);
  console.log(
    `Browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium; CI=true fails)`,
  );
}
const inProcess = haveChromium;

const rabbitmq = inProcess ? await import("./rabbitmq.ts") : null;
const rabbit = rabbitmq === null ? null : await rabbitmq.ensureRabbitMQ();
if (rabbit !== null && !rabbit.ok) {
  console.log(`Browser queue scenario skipped: ${rabbit.reason} (set CI=true to make this an error)`);
}

// ---------------------------------------------------------------------------
// The little of the DOM that the in-page functions touch: this file is type-checked
// without the DOM library, and those functions run in the page, not here.

interface PageNode {
  readonly textContent: string | null;
  readonly className: string;
  readonly classList: { contains(name: string): boolean };
  readonly dataset: Record<string, string | undefined>;
  readonly hidden: boolean;
  readonly disabled: boolean;
  readonly value: string;
  scrollTop: number;
  readonly scrollHeight: number;
  readonly clientHeight: number;
  readonly scrollWidth: number;
  readonly clientWidth: number;
  querySelector(selector: string): PageNode | null;
  querySelectorAll(selector: string): ArrayLike<PageNode>;
}

interface PageWindow {
  document: PageNode & { documentElement: PageNode; getElementById(id: string): PageNode | null };
  requestAnimationFrame(fn: () => void): void;
  localStorage: { setItem(key: string, value: string): void };
  scrollTo(x: number, y: number): void;
  readonly scrollY: number;
  __pwned?: unknown;
}

/** One entry of a message list as the page shows it. */
interface Shown {
  sender: string;
  text: string;
  mine: boolean;
}

/** Reads a message list (runs in the page). */
function readList(listId: string): Shown[] {
  const doc = (globalThis as unknown as PageWindow).document;
  return Array.from(doc.querySelectorAll(`#${listId} > li.msg`), (li) => ({
    sender: li.querySelector(".sender")?.textContent ?? "",
    text: li.querySelector(".text")?.textContent ?? "",
    mine: li.classList.contains("mine"),
  }));
}

// ---------------------------------------------------------------------------
// Browser, tabs and servers of one test.

/** What a test gets: tabs in fresh contexts of its own browser, servers closed at the end. */
class Harness {
  /** Dialogs and page errors seen in any tab; the test fails if there are any. */
  readonly problems: string[] = [];
  readonly #contexts: BrowserContext[] = [];
  readonly #servers: RunningServer[] = [];
  readonly #proxies: TcpProxy[] = [];

  constructor(readonly browser: Browser) {}

  /** Starts a server on 127.0.0.1 (an ephemeral port unless told); closed after the test. */
  async serve(app: App, options: ServerOptions = {}): Promise<RunningServer> {
    const server = await startServer(app, { port: 0, host: "127.0.0.1", ...options });
    this.#servers.push(server);
    return server;
  }

  /**
   * Opens `url` in a new tab with a fresh context (`trustAnyCertificate` for the tests' own TLS
   * certificate; `nick` is stored as the chat page's nickname before the page loads).
   */
  async tab(url: string, viewport = DESKTOP, trustAnyCertificate = false, nick?: string): Promise<Page> {
    const context = await this.browser.newContext({ viewport, ignoreHTTPSErrors: trustAnyCertificate });
    this.#contexts.push(context);
    if (nick !== undefined) {
      await context.addInitScript(({ key, value }) => {
        (globalThis as unknown as PageWindow).localStorage.setItem(key, value);
      }, { key: NICK_KEY, value: nick });
    }
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const name = `tab ${this.#contexts.length}`;
    page.on("dialog", (dialog) => {
      this.problems.push(`${name}: a ${dialog.type()} dialog opened: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
    page.on("pageerror", (error) => this.problems.push(`${name}: page error: ${error.message}`));
    await page.goto(url);
    return page;
  }

  /** Starts a TCP proxy to `server` (see {@link TcpProxy}); closed after the test. */
  proxy(server: RunningServer): TcpProxy {
    const proxy = new TcpProxy(server.port);
    this.#proxies.push(proxy);
    return proxy;
  }

  /** Closes every tab, proxy and server (again: a no-op). */
  async close(): Promise<void> {
    for (const c of this.#contexts.splice(0)) await c.close().catch(() => {});
    for (const p of this.#proxies.splice(0)) await p.close();
    for (const s of this.#servers.splice(0)) await s.close();
  }
}

/** The file's one headless Chromium, launched by the first scenario that runs. */
let sharedBrowser: Promise<Browser> | null = null;
/** Scenarios registered to run and not finished yet; the last one closes the browser. */
let scenariosLeft = 0;

function launchBrowser(): Promise<Browser> {
  sharedBrowser ??= (async () => {
    const { chromium } = await import("playwright-core");
    return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...LAUNCH_ARGS] });
  })();
  return sharedBrowser;
}

/** After the last scenario, closes the browser. (Under --filter it goes when the process does.) */
async function scenarioDone(): Promise<void> {
  if (--scenariosLeft > 0 || sharedBrowser === null) return;
  const browser = sharedBrowser;
  sharedBrowser = null;
  await (await browser).close();
}

/** Registers one browser scenario: fresh contexts in the file's browser, closed afterwards with its servers. */
function browserTest(name: string, fn: (h: Harness) => Promise<void>, ignore = false): void {
  if (!inProcess) {
    Deno.test({ name, ignore: true, fn() {} });
    return;
  }
  if (!ignore) scenariosLeft++;
  Deno.test({
    name,
    ignore,
    // The browser outlives each test, and playwright keeps its pipe to it busy.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      try {
        const h = new Harness(await launchBrowser());
        try {
          await fn(h);
          assert.deepEqual(h.problems, [], "no dialog and no page error in any tab");
        } finally {
          await h.close();
        }
      } finally {
        await scenarioDone();
      }
    },
  });
}

// ---------------------------------------------------------------------------
// Page helpers.

/** Waits for the badge to show `state` (connected, reconnecting, …). */
async function waitBadge(page: Page, state: string): Promise<void> {
  await page.locator(`#status[data-state="${state}"]`).waitFor({ timeout: WAIT_MS });
}

/** Waits until the page cleared the composer `inputId`: it does so once the router acknowledged the publish. */
async function waitInputCleared(page: Page, inputId: string): Promise<void> {
  await page.waitForFunction(
    (id) => (globalThis as unknown as PageWindow).document.getElementById(id)?.value === "",
    inputId,
    { timeout: WAIT_MS },
  );
}

/** Types `text` into the composer `inputId`, presses Enter, and waits until the server confirmed it. */
async function say(page: Page, inputId: string, text: string): Promise<void> {
  await page.fill(`#${inputId}`, text);
  await page.press(`#${inputId}`, "Enter");
  await waitInputCleared(page, inputId);
}

/** Waits until the message list `listId` shows exactly `want`, in order. */
async function waitForList(page: Page, listId: string, want: Shown[], what: string): Promise<void> {
  const wanted = JSON.stringify(want.map((m) => [m.sender, m.text, m.mine]));
  try {
    await page.waitForFunction(
      ({ listId, wanted }) => {
        const doc = (globalThis as unknown as PageWindow).document;
        const got = Array.from(doc.querySelectorAll(`#${listId} > li.msg`), (li) => [
          li.querySelector(".sender")?.textContent ?? "",
          li.querySelector(".text")?.textContent ?? "",
          li.classList.contains("mine"),
        ]);
        return JSON.stringify(got) === wanted;
      },
      { listId, wanted },
      { timeout: WAIT_MS },
    );
  } catch (e) {
    const got = await page.evaluate(readList, listId).catch(() => "(unreadable)");
    throw new Error(`${what}: expected ${JSON.stringify(want)}, the page shows ${JSON.stringify(got)}`, {
      cause: e,
    });
  }
}

/** Waits until the element `id` has `text` as its whole text. */
async function waitForText(page: Page, id: string, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      ({ id, text }) =>
        (globalThis as unknown as PageWindow).document.getElementById(id)?.textContent === text,
      { id, text },
      { timeout: WAIT_MS },
    );
  } catch (e) {
    const got = await page.locator(`#${id}`).textContent().catch(() => "(unreadable)");
    throw new Error(`#${id}: expected ${JSON.stringify(text)}, got ${JSON.stringify(got)}`, { cause: e });
  }
}

/** Waits for two animation frames, so that scroll events of what came before have been handled. */
async function settleFrames(page: Page): Promise<void> {
  await page.evaluate(() =>
    new Promise<void>((resolve) => {
      const w = globalThis as unknown as PageWindow;
      w.requestAnimationFrame(() => w.requestAnimationFrame(resolve));
    })
  );
}

/** How far (px) the list `listId` is scrolled up from its bottom. */
function distanceFromBottom(page: Page, listId: string): Promise<number> {
  return page.evaluate((id) => {
    const list = (globalThis as unknown as PageWindow).document.getElementById(id)!;
    return list.scrollHeight - list.scrollTop - list.clientHeight;
  }, listId);
}

/** The ws:// URL plain (no subprotocol) clients use: the root of the server. */
function plainUrl(server: RunningServer): string {
  return server.url.replace(/^http/, "ws");
}

const mine = (sender: string, text: string): Shown => ({ sender, text, mine: true });
const theirs = (sender: string, text: string): Shown => ({ sender, text, mine: false });

// ---------------------------------------------------------------------------
// 1. Chat

browserTest(
  "e2e chat: three tabs with three nicknames, in order, and a plain WebSocket client",
  async (h) => {
    const server = await h.serve(chatApp);
    const nicks = ["ana", "bruno", "carla"];
    const tabs: Page[] = [];
    for (const nick of nicks) {
      const page = await h.tab(server.url);
      await waitBadge(page, "connected");
      await page.fill("#nick", nick);
      tabs.push(page);
    }
    const plain = await RawClient.open(plainUrl(server));
    try {
      const script: [number, string][] = [
        [0, "Hola, soy Ana"],
        [1, "Hi Ana! Bruno here."],
        [2, "Buenas a los dos"],
        [0, "¿Todo bien?"],
      ];
      for (const [who, text] of script) await say(tabs[who], "chat-input", text);
      for (const [i, page] of tabs.entries()) {
        const want = script.map(([who, text]) =>
          who === i ? mine(nicks[who], text) : theirs(nicks[who], text)
        );
        await waitForList(page, "chat-messages", want, `${nicks[i]}'s tab`);
      }
      for (const [who, text] of script) {
        assert.equal(await plain.nextText(`"${text}" on the plain client`), `${nicks[who]}: ${text}`);
      }

      plain.send("hello from a plain WebSocket");
      for (const [i, page] of tabs.entries()) {
        const want = script.map(([who, text]) =>
          who === i ? mine(nicks[who], text) : theirs(nicks[who], text)
        );
        want.push(theirs("anonymous", "hello from a plain WebSocket"));
        await waitForList(page, "chat-messages", want, `${nicks[i]}'s tab after the plain client spoke`);
      }
    } finally {
      await plain.close();
    }
  },
);

// ---------------------------------------------------------------------------
// 2. Push and the area calculator

browserTest("e2e push: tab A publishes, tab B shows it; the area calculator; auto-scroll", async (h) => {
  const server = await h.serve(pushApp);
  const a = await h.tab(server.url);
  const b = await h.tab(server.url);
  await waitBadge(a, "connected");
  await waitBadge(b, "connected");
  assert.ok(await b.locator("#empty").isVisible(), "an empty list says so");

  await say(a, "message", "Hello from tab A");
  await waitForList(b, "messages", [theirs("tab", "Hello from tab A")], "tab B");
  await waitForList(a, "messages", [mine("you", "Hello from tab A")], "tab A (its own message)");
  assert.ok(await b.locator("#empty").isHidden(), "the empty state goes with the first message");
  await say(b, "message", "And hello back from B");
  await waitForList(a, "messages", [
    mine("you", "Hello from tab A"),
    theirs("tab", "And hello back from B"),
  ], "tab A");

  // The area calculator: a result with its unit, and a readable error.
  await a.fill("#height", "4");
  await a.fill("#width", "4");
  await a.click("#calc");
  await waitForText(a, "area-result", "16 m²");
  await a.fill("#height", "abc");
  await a.click("#calc");
  await a.locator("#area-result.error").waitFor();
  const error = (await a.locator("#area-result").textContent()) ?? "";
  assert.match(error, /height must be a number/, "the error says what is wrong");
  assert.ok(error.includes("abc"), `the error names the value: ${error}`);
  assert.doesNotMatch(error, /wamp\.error/, "no raw error URI as the message");
  await a.locator("#calc:enabled").waitFor();

  // Auto-scroll follows the newest message, and stops when the user scrolls up.
  const local = new LocalSession(server.router);
  try {
    for (let i = 1; i <= 40; i++) local.publish(MESSAGES_TOPIC, [`line ${i}`]);
    await b.locator("#messages > li.msg", { hasText: "line 40" }).waitFor();
    await settleFrames(b);
    assert.ok(await distanceFromBottom(b, "messages") <= 2, "the list follows the newest message");
    await b.hover("#messages");
    await b.mouse.wheel(0, -5000);
    await b.waitForFunction(
      () => (globalThis as unknown as PageWindow).document.getElementById("messages")!.scrollTop === 0,
    );
    await settleFrames(b);
    local.publish(MESSAGES_TOPIC, ["line 41"]);
    await b.locator("#jump").waitFor();
    assert.equal(
      await b.evaluate(() =>
        (globalThis as unknown as PageWindow).document.getElementById("messages")!.scrollTop
      ),
      0,
      "the list stays where the reader scrolled",
    );
    await b.click("#jump");
    await b.locator("#jump").waitFor({ state: "hidden" });
    await settleFrames(b);
    assert.ok(await distanceFromBottom(b, "messages") <= 2, "the jump button goes to the newest message");
  } finally {
    local.close();
  }
});

// ---------------------------------------------------------------------------
// 3. Queue

browserTest('e2e queue: tools/send.ts push.tutorial.messages "hola" shows in every push tab', async (h) => {
  const queue = rabbitmq!.uniqueQueue("e2e");
  try {
    const server = await h.serve(createPushApp({
      bridge: {
        url: rabbitmq!.STOMP_URL,
        queue,
        initialBackoffMs: 100,
        maxBackoffMs: 1000,
        log: () => {},
      },
    }));
    const bridge = (server.app as PushAppInstance).bridge!;
    const tabs = [await h.tab(server.url), await h.tab(server.url)];
    for (const page of tabs) await waitBadge(page, "connected");
    await within(bridge.whenConnected(), "the bridge to connect to RabbitMQ", WAIT_MS);

    const sent = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "tools/send.ts",
        "--queue",
        queue,
        MESSAGES_TOPIC,
        "hola",
      ],
      cwd: decodeURIComponent(REPO_DIR.pathname),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(sent.code, 0, `send.ts failed: ${new TextDecoder().decode(sent.stderr)}`);

    for (const [i, page] of tabs.entries()) {
      await waitForList(page, "messages", [theirs(`queue · ${MESSAGES_TOPIC}`, "hola")], `push tab ${i + 1}`);
      assert.equal(await page.locator("#messages > li.msg").getAttribute("data-source"), "queue");
    }
  } finally {
    await h.close(); // the bridge lets go of the queue first
    await rabbitmq!.deleteQueue(queue);
    await rabbitmq!.deleteQueue(`${queue}.rejected`);
  }
}, rabbit !== null && !rabbit.ok);

// ---------------------------------------------------------------------------
// 4. Reconnect

browserTest(
  "e2e reconnect: server stops, tabs say reconnecting, come back by themselves, subscribe again",
  async (h) => {
    const first = await h.serve(pushApp);
    const port = first.port;
    const a = await h.tab(first.url);
    const b = await h.tab(first.url);
    await waitBadge(a, "connected");
    await waitBadge(b, "connected");

    await first.close(); // GOODBYE wamp.close.system_shutdown to both tabs
    for (const page of [a, b]) {
      // The state and its countdown, read together (the countdown runs out within a second or so).
      await page.locator('#status[data-state="reconnecting"]', { hasText: /^reconnecting in \d+s$/ })
        .waitFor();
    }
    // Offline: the send button is off, and what was typed stays.
    await a.fill("#message", "typed while the server was away");
    await a.press("#message", "Enter");
    assert.ok(await a.locator("#send").isDisabled(), "no sending while offline");
    assert.equal(
      await a.inputValue("#message"),
      "typed while the server was away",
      "the input keeps its text",
    );

    const second = await h.serve(pushApp, { port });
    assert.equal(second.port, port, "the new server listens on the same port");
    await waitBadge(a, "connected");
    await waitBadge(b, "connected");

    const local = new LocalSession(second.router);
    try {
      local.publish(MESSAGES_TOPIC, ["after the restart"]);
      for (const page of [a, b]) {
        await waitForList(page, "messages", [theirs("tab", "after the restart")], "a tab after the restart");
      }
    } finally {
      local.close();
    }
    await a.press("#message", "Enter");
    await waitForList(b, "messages", [
      theirs("tab", "after the restart"),
      theirs("tab", "typed while the server was away"),
    ], "tab B");
    // The other tab may show the event before this one has the router's acknowledgement.
    await waitInputCleared(a, "message");
  },
);

// ---------------------------------------------------------------------------
// 5. Hostile text

const HOSTILE = [
  `<img src=x onerror=alert(1)>`,
  `<script>alert(2)</script>`,
  `"><svg onload=alert(3)>`,
  `<a href="javascript:alert(4)">click me</a>`,
  `<iframe srcdoc="<script>parent.alert(5)</script>"></iframe>`,
  `<img src=x onerror="globalThis.__pwned = 1">`,
  `&lt;b&gt; &amp; <b>not bold</b> {{constructor.constructor('alert(6)')()}}`,
];

/** Asserts that no markup made it into the page's lists and nothing ran. */
async function assertInert(page: Page, what: string): Promise<void> {
  const found = await page.evaluate(() => {
    const doc = (globalThis as unknown as PageWindow).document;
    return {
      elements: doc.querySelectorAll(
        "main img, main script, main svg, main iframe, main a, main b",
      ).length,
      pwned: (globalThis as unknown as PageWindow).__pwned ?? null,
    };
  });
  assert.deepEqual(found, { elements: 0, pwned: null }, `${what}: no injected element, no script ran`);
}

browserTest("e2e hostile text: markup shows as text in every tab, and no script runs", async (h) => {
  // Push: from a tab, from the queue (bridged shape, hostile cat too), and odd payloads.
  const push = await h.serve(pushApp);
  const a = await h.tab(push.url);
  const b = await h.tab(push.url);
  await waitBadge(a, "connected");
  await waitBadge(b, "connected");
  for (const text of HOSTILE) await say(a, "message", text);
  // Published as the queue bridge publishes: under its role, disclosed.
  const local = new LocalSession(push.router, undefined, undefined, { authrole: BRIDGE_ROLE });
  const hostileCat = `<img src=x onerror=alert(7)>`;
  try {
    local.publish(MESSAGES_TOPIC, [{ body: HOSTILE[0], headers: { cat: hostileCat } }], undefined, {
      disclose: true,
    });
    local.publish(MESSAGES_TOPIC, [{ "<b>key</b>": HOSTILE[1] }]);
  } finally {
    local.close();
  }
  await waitForList(b, "messages", [
    ...HOSTILE.map((t) => theirs("tab", t)),
    theirs(`queue · ${hostileCat}`, HOSTILE[0]),
    theirs("tab", JSON.stringify({ "<b>key</b>": HOSTILE[1] })),
  ], "push tab B");
  await waitForList(a, "messages", [
    ...HOSTILE.map((t) => mine("you", t)),
    theirs(`queue · ${hostileCat}`, HOSTILE[0]),
    theirs("tab", JSON.stringify({ "<b>key</b>": HOSTILE[1] })),
  ], "push tab A");
  // The area calculator's error echoes the value.
  await a.fill("#height", HOSTILE[0]);
  await a.fill("#width", "2");
  await a.click("#calc");
  await a.locator("#area-result.error").waitFor();
  assert.ok(((await a.locator("#area-result").textContent()) ?? "").includes("<img src=x"), "shown as text");
  await assertInert(a, "push tab A");
  await assertInert(b, "push tab B");

  // Chat: a hostile nickname and text from a tab, and from a plain client.
  const chat = await h.serve(chatApp);
  const c = await h.tab(chat.url);
  const d = await h.tab(chat.url);
  await waitBadge(c, "connected");
  await waitBadge(d, "connected");
  const nick = `<img src=x onerror=alert(8)>`;
  await c.fill("#nick", nick);
  for (const text of HOSTILE.slice(0, 3)) await say(c, "chat-input", text);
  const plain = await RawClient.open(plainUrl(chat));
  try {
    plain.send(HOSTILE[5]);
    const want = (own: boolean) => [
      ...HOSTILE.slice(0, 3).map((t) => ({ sender: nick, text: t, mine: own })),
      theirs("anonymous", HOSTILE[5]),
    ];
    await waitForList(d, "chat-messages", want(false), "chat tab D");
    await waitForList(c, "chat-messages", want(true), "chat tab C");
  } finally {
    await plain.close();
  }
  await assertInert(c, "chat tab C");
  await assertInert(d, "chat tab D");
});

// ---------------------------------------------------------------------------
// 6. Security in the browser: TLS, the queue label, v1 WAMP-CRA

const openssl = inProcess ? await haveOpenssl() : false;
if (inProcess && !openssl) {
  if (CI) throw new Error("no openssl: CI must run the TLS scenario (.ci/run installs it)");
  console.log("Browser TLS scenario skipped: no openssl (apt-get install -y openssl; CI=true fails)");
}

browserTest(
  "e2e TLS: the push page over https:// talks wss://; tabs exchange messages and call areaCuadrado",
  async (h) => {
    const certificate = await makeCertificate();
    try {
      const server = await h.serve(pushApp, { tls: { cert: certificate.cert, key: certificate.key } });
      assert.match(server.url, /^https:\/\//);
      const a = await h.tab(server.url, DESKTOP, true);
      const b = await h.tab(server.url, DESKTOP, true);
      await waitBadge(a, "connected");
      await waitBadge(b, "connected");
      await say(a, "message", "over TLS");
      await waitForList(b, "messages", [theirs("tab", "over TLS")], "tab B over TLS");
      await a.fill("#height", "0.1");
      await a.fill("#width", "0.2");
      await a.click("#calc");
      await waitForText(a, "area-result", "0.02 m²");
      const scheme = await a.evaluate(() =>
        (globalThis as unknown as { location: { protocol: string } }).location.protocol
      );
      assert.equal(scheme, "https:");
    } finally {
      await certificate.remove();
    }
  },
  !openssl,
);

browserTest(
  "e2e queue label: only the bridge's role is shown as 'queue'; a tab forging the shape is a tab",
  async (h) => {
    const server = await h.serve(pushApp);
    const b = await h.tab(server.url);
    await waitBadge(b, "connected");
    const forger = await connectV2(server.wsUrl);
    const bridge = new LocalSession(server.router, undefined, undefined, { authrole: BRIDGE_ROLE });
    try {
      const forged = { body: "I am the queue", headers: { cat: MESSAGES_TOPIC, redelivered: "false" } };
      await forger.session.publish(MESSAGES_TOPIC, [forged], {}, { acknowledge: true, disclose_me: true });
      bridge.publish(
        MESSAGES_TOPIC,
        [{ body: "really from the queue", headers: { cat: MESSAGES_TOPIC } }],
        undefined,
        {
          disclose: true,
        },
      );
      await waitForList(b, "messages", [
        theirs("tab", "I am the queue"),
        theirs(`queue · ${MESSAGES_TOPIC}`, "really from the queue"),
      ], "tab B");
    } finally {
      bridge.close();
      await forger.close();
    }
  },
);

/** What the page-side v1 client reports. */
interface V1Login {
  welcome: unknown[];
  challenge: string | null;
  answer: unknown[];
  after?: unknown[];
}

/**
 * Runs in the page: WAMP v1 WAMP-CRA as AutobahnJS 0.8 does it, with the CryptoJS the
 * page loaded (ab.deriveKey and ab.Session.authsign): authreq, derive, sign, auth, then
 * one call under the new role.
 */
function v1LoginInPage(
  { url, user, password, call }: { url: string; user: string; password: string; call: string },
): Promise<V1Login> {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const CryptoJS = g.CryptoJS;
  return new Promise((resolve, reject) => {
    const ws = new g.WebSocket(url, ["wamp"]);
    const frames: unknown[][] = [];
    let waiting: ((f: unknown[]) => void) | null = null;
    const next = () =>
      new Promise<unknown[]>((r) => {
        const f = frames.shift();
        if (f !== undefined) r(f);
        else waiting = r;
      });
    ws.onmessage = (e: { data: string }) => {
      const f = JSON.parse(e.data);
      if (waiting !== null) {
        const w = waiting;
        waiting = null;
        w(f);
      } else frames.push(f);
    };
    ws.onerror = () => reject(new Error("WebSocket error"));
    ws.onopen = async () => {
      try {
        const welcome = await next();
        ws.send(JSON.stringify([2, "r1", "http://api.wamp.ws/procedure#authreq", user, null]));
        const reply = await next();
        const challenge = reply[2] as string;
        const extra = JSON.parse(challenge).authextra;
        const key = extra && extra.salt
          ? CryptoJS.PBKDF2(password, extra.salt, {
            keySize: (extra.keylen || 32) / 4,
            iterations: extra.iterations || 10000,
            hasher: CryptoJS.algo.SHA256,
          }).toString(CryptoJS.enc.Base64)
          : password;
        const signature = CryptoJS.HmacSHA256(challenge, key).toString(CryptoJS.enc.Base64);
        ws.send(JSON.stringify([2, "r2", "http://api.wamp.ws/procedure#auth", signature]));
        const answer = await next();
        let after: unknown[] | undefined;
        if (answer[0] === 3) {
          ws.send(JSON.stringify([2, "r3", call, "4", "4"]));
          after = await next();
        }
        ws.close();
        resolve({ welcome, challenge, answer, after });
      } catch (e) {
        reject(e);
      }
    };
  });
}

browserTest(
  "e2e v1 WAMP-CRA from a page: salted and plain users log in with CryptoJS as AutobahnJS 0.8 does",
  async (h) => {
    const allow = (call: boolean) => ({ call, register: false, publish: true, subscribe: true });
    const server = await h.serve(pushApp, {
      realms: [{
        name: "realm1",
        roles: [
          {
            name: "anonymous",
            permissions: [{
              uri: "",
              match: "prefix",
              allow: allow(false),
              disclose: { caller: false, publisher: false },
            }],
          },
          {
            name: "backend",
            permissions: [{
              uri: "",
              match: "prefix",
              allow: allow(true),
              disclose: { caller: false, publisher: false },
            }],
          },
        ],
      }],
      auth: {
        anonymous: { role: "anonymous" },
        wampcra: new Map([
          ["peter", {
            secret: "prq7+YkJ1/KlW1X0YczMHw==",
            role: "backend",
            salt: "salt123",
            iterations: 100,
            keylen: 16,
          }],
          ["paula", { secret: "plain-secret", role: "backend" }],
        ]),
      },
    });
    const page = await h.tab(server.url);
    const cryptoJs = await Deno.readTextFile(new URL(import.meta.resolve("crypto-js/crypto-js.js")));
    await page.addScriptTag({ content: cryptoJs });
    const url = server.wsUrl;
    const call = "push.tutorial.areaCuadrado";

    const salted = await page.evaluate(v1LoginInPage, { url, user: "peter", password: "secret1", call });
    assert.equal(salted.welcome[0], 0, "v1 WELCOME");
    assert.deepEqual(JSON.parse(salted.challenge!).authextra, {
      salt: "salt123",
      keylen: 16,
      iterations: 100,
    });
    assert.equal(salted.answer[0], 3, `auth answered with CALLRESULT: ${JSON.stringify(salted.answer)}`);
    assert.ok(Array.isArray((salted.answer[2] as { rpc: unknown[] }).rpc), "the permissions list rpc rules");
    assert.deepEqual(salted.after, [3, "r3", 16], "the backend role may call");

    const plain = await page.evaluate(v1LoginInPage, { url, user: "paula", password: "plain-secret", call });
    assert.equal(JSON.parse(plain.challenge!).authextra, undefined, "no salt for a plain user");
    assert.deepEqual(plain.after, [3, "r3", 16]);

    const wrong = await page.evaluate(v1LoginInPage, { url, user: "peter", password: "secret2", call });
    assert.deepEqual(wrong.answer.slice(0, 3), [4, "r2", "wamp.error.authentication_failed"]);
  },
);

// ---------------------------------------------------------------------------
// 7. Who is online, long messages, the offline banner, the sticky bar

/** The chat page's who-is-online list as shown, one string per chip: "ana ×2 (you)" (runs in the page). */
function readOnline(): string[] {
  const doc = (globalThis as unknown as PageWindow).document;
  return Array.from(doc.querySelectorAll("#online > li"), (li) => li.textContent ?? "");
}

/** The chat feed's own lines ("ana joined"), in order (runs in the page). */
function readSystemLines(): string[] {
  const doc = (globalThis as unknown as PageWindow).document;
  return Array.from(doc.querySelectorAll("#chat-messages > li.system .text"), (el) => el.textContent ?? "");
}

/** Waits until the who-is-online list shows exactly `want`, in order. */
async function waitForOnline(page: Page, want: string[], what: string): Promise<void> {
  try {
    await page.waitForFunction(
      (wanted) => {
        const doc = (globalThis as unknown as PageWindow).document;
        const got = Array.from(doc.querySelectorAll("#online > li"), (li) => li.textContent ?? "");
        return JSON.stringify(got) === wanted;
      },
      JSON.stringify(want),
      { timeout: WAIT_MS },
    );
  } catch (e) {
    const got = await page.evaluate(readOnline).catch(() => "(unreadable)");
    throw new Error(
      `${what}: expected online ${JSON.stringify(want)}, the page shows ${JSON.stringify(got)}`,
      {
        cause: e,
      },
    );
  }
}

/** Waits until the feed's own lines are exactly `want`, in order. */
async function waitForSystemLines(page: Page, want: string[], what: string): Promise<void> {
  try {
    await page.waitForFunction(
      (wanted) => {
        const doc = (globalThis as unknown as PageWindow).document;
        const got = Array.from(
          doc.querySelectorAll("#chat-messages > li.system .text"),
          (el) => el.textContent ?? "",
        );
        return JSON.stringify(got) === wanted;
      },
      JSON.stringify(want),
      { timeout: WAIT_MS },
    );
  } catch (e) {
    const got = await page.evaluate(readSystemLines).catch(() => "(unreadable)");
    throw new Error(
      `${what}: expected feed lines ${JSON.stringify(want)}, the page shows ${JSON.stringify(got)}`,
      {
        cause: e,
      },
    );
  }
}

/** Waits until the tab's roll call is over: from now on a new session is announced as a join. */
async function waitRollCallDone(page: Page): Promise<void> {
  await page.locator('#online[data-roll-call="done"]').waitFor({ state: "attached", timeout: WAIT_MS });
}

/** Opens a chat tab with `nick` and waits until it is connected. */
async function chatTab(h: Harness, server: RunningServer, nick: string, viewport = DESKTOP): Promise<Page> {
  const page = await h.tab(server.url, viewport, false, nick);
  await waitBadge(page, "connected");
  return page;
}

/** Opens ana, bruno and carla's chat tabs and waits until each lists all three. */
async function threeListedTabs(h: Harness, server: RunningServer): Promise<Page[]> {
  const tabs = [];
  for (const nick of ["ana", "bruno", "carla"]) tabs.push(await chatTab(h, server, nick));
  const [a, b, c] = tabs;
  await waitForOnline(a, ["ana (you)", "bruno", "carla"], "A");
  await waitForOnline(b, ["ana", "bruno (you)", "carla"], "B");
  await waitForOnline(c, ["ana", "bruno", "carla (you)"], "C");
  return tabs;
}

browserTest(
  "e2e presence: three tabs list each other; a rename; two tabs with one nickname show once with ×2",
  async (h) => {
    const server = await h.serve(chatApp);
    const [a, b, c] = await threeListedTabs(h, server);
    // Joins are announced to those already there; a newcomer's roll call is not, nor oneself.
    await waitForSystemLines(a, ["bruno joined", "carla joined"], "A");
    await waitForSystemLines(b, ["carla joined"], "B");
    assert.deepEqual(await c.evaluate(readSystemLines), [], "C: the roll call it received is not announced");
    assert.equal(await a.locator("#chat-messages > li.msg").count(), 0, "announcements are not messages");
    assert.ok(await a.locator("#chat-empty").isHidden(), "the first announcement hides the empty state");

    // B renames: the others show the new nick and say so.
    await b.fill("#nick", "bruna");
    await waitForOnline(b, ["ana", "bruna (you)", "carla"], "B after its rename");
    await waitForOnline(a, ["ana (you)", "bruna", "carla"], "A after B's rename");
    await waitForOnline(c, ["ana", "bruna", "carla (you)"], "C after B's rename");
    await waitForSystemLines(a, ["bruno joined", "carla joined", "bruno is now bruna"], "A");
    await waitForSystemLines(b, ["carla joined"], "B does not announce itself");

    // A second "ana": one chip with ×2; renaming one of them counts down and up.
    const d = await chatTab(h, server, "ana");
    await waitForOnline(a, ["ana ×2 (you)", "bruna", "carla"], "A with a second ana");
    await waitForOnline(d, ["ana ×2 (you)", "bruna", "carla"], "D");
    await waitForOnline(b, ["ana ×2", "bruna (you)", "carla"], "B with two anas");
    await waitForSystemLines(c, ["bruno is now bruna", "ana joined"], "C");
    await d.fill("#nick", "carla");
    await waitForOnline(a, ["ana (you)", "bruna", "carla ×2"], "A after D became carla");
    await waitForOnline(c, ["ana", "bruna", "carla ×2 (you)"], "C after D became carla");
    await waitForSystemLines(b, ["carla joined", "ana joined", "ana is now carla"], "B");
  },
);

browserTest(
  "e2e presence: a crashed tab, a closed tab and a plain WebSocket client (anonymous) leave the list",
  async (h) => {
    const server = await h.serve(chatApp);
    const [a, b, c] = await threeListedTabs(h, server);

    // C's renderer dies: no GOODBYE, no beforeunload, the socket just drops.
    const sessionsBefore = server.router.sessionCount;
    const crashed = new Promise<void>((resolve) => c.once("crash", () => resolve()));
    const cdp = await c.context().newCDPSession(c);
    // Never answered (the page is gone), and awaiting it stalls playwright: wait for the crash instead.
    cdp.send("Page.crash").catch(() => {});
    await within(crashed, "tab C's renderer to crash", WAIT_MS);
    await waitUntil(
      () => server.router.sessionCount < sessionsBefore,
      "the server to see C's socket drop",
      WAIT_MS,
    );
    await waitForOnline(a, ["ana (you)", "bruno"], "A after C crashed");
    await waitForOnline(b, ["ana", "bruno (you)"], "B after C crashed");
    await waitForSystemLines(a, ["bruno joined", "carla joined", "carla left"], "A");
    await waitForSystemLines(b, ["carla joined", "carla left"], "B");

    // A plain (no subprotocol) client appears as "anonymous", and leaves when it closes.
    for (const page of [a, b]) await waitRollCallDone(page);
    const plain = await RawClient.open(plainUrl(server));
    try {
      await waitForOnline(a, ["ana (you)", "anonymous", "bruno"], "A with a plain client");
      await waitForOnline(b, ["ana", "anonymous", "bruno (you)"], "B with a plain client");
      await waitForSystemLines(b, ["carla joined", "carla left", "anonymous joined"], "B");
    } finally {
      await plain.close();
    }
    await waitForOnline(a, ["ana (you)", "bruno"], "A after the plain client closed");
    await waitForSystemLines(b, ["carla joined", "carla left", "anonymous joined", "anonymous left"], "B");

    // Malformed presence is ignored; a long nick is cut to 32; markup stays text; no publisher, no entry.
    const odd = new LocalSession(server.router);
    const hostileNick = `<img src=x onerror=alert(9)>${"x".repeat(40)}`;
    try {
      for (const payload of ["just text", null, 42, [], { nick: 42 }, { nick: "   " }, { text: "no nick" }]) {
        odd.publish(PRESENCE_TOPIC, [payload], undefined, { disclose: true });
      }
      odd.publish(PRESENCE_TOPIC, [{ nick: "ghost" }]); // undisclosed: no session to list it under
      odd.publish(PRESENCE_TOPIC, [{ nick: hostileNick }], undefined, { disclose: true });
      await waitForOnline(a, [hostileNick.slice(0, 32), "ana (you)", "bruno"], "A with an odd session");
      await assertInert(a, "A's online list");
    } finally {
      odd.close();
    }
    await waitForOnline(a, ["ana (you)", "bruno"], "A after the odd session left");

    // B's tab is closed (without running beforeunload).
    await b.close();
    await waitForOnline(a, ["ana (you)"], "A after B closed");
    await waitForSystemLines(
      a,
      [
        "bruno joined",
        "carla joined",
        "carla left",
        "anonymous joined",
        "anonymous left",
        `${hostileNick.slice(0, 32)} joined`,
        `${hostileNick.slice(0, 32)} left`,
        "bruno left",
      ],
      "A",
    );
  },
);

browserTest(
  "e2e long message: collapsed behind 'show more', expands and collapses by button and keyboard",
  async (h) => {
    const server = await h.serve(chatApp);
    const a = await chatTab(h, server, "ana");
    const long = Array.from({ length: 120 }, (_, i) => `word${String(i).padStart(4, "0")} `).join("").slice(
      0,
      1000,
    );
    assert.equal(long.length, 1000);
    const local = new LocalSession(server.router);
    try {
      local.publish(CHAT_TOPIC, [{ nick: "bruno", text: long, ts: Date.now() }]);
      local.publish(CHAT_TOPIC, [{ nick: "bruno", text: "short one", ts: Date.now() }]);
    } finally {
      local.close();
    }
    const first = a.locator("#chat-messages > li.msg").nth(0);
    await a.locator("#chat-messages > li.msg").nth(1).waitFor();
    const more = first.locator("button.more");
    const text = first.locator(".text");
    assert.equal(await more.textContent(), "show more");
    assert.equal(await more.getAttribute("aria-expanded"), "false");
    const collapsed = (await text.textContent()) ?? "";
    assert.ok(
      collapsed.length < 700 && collapsed.length >= 500,
      `collapsed to ${collapsed.length} characters`,
    );
    assert.ok(long.startsWith(collapsed.slice(0, -1).trimEnd()), "the collapsed text is the message's start");
    assert.ok(collapsed.endsWith("…"), "and says that it goes on");
    assert.equal(await a.locator("#chat-messages > li.msg").nth(1).locator("button.more").count(), 0);

    await more.click();
    assert.equal(await text.textContent(), long, "expanded: the whole text");
    assert.equal(await more.textContent(), "show less");
    assert.equal(await more.getAttribute("aria-expanded"), "true");
    await more.focus();
    await a.keyboard.press("Enter");
    assert.equal(await text.textContent(), collapsed, "Enter on the button collapses it again");
    await a.keyboard.press("Space");
    assert.equal(await text.textContent(), long, "and Space expands it");

    // One's own long message is collapsed too.
    await say(a, "chat-input", long);
    await a.locator("#chat-messages > li.msg.mine button.more").waitFor();
    assert.equal(await a.locator("#chat-messages > li.msg.mine .text").textContent(), collapsed);
  },
);

browserTest("e2e offline banner: above the composer while reconnecting, gone once connected", async (h) => {
  const first = await h.serve(chatApp);
  const port = first.port;
  const a = await chatTab(h, first, "ana", PHONE);
  const banner = a.locator("#chat-offline");
  assert.ok(await banner.isHidden(), "no banner while connected");

  await first.close();
  await banner.waitFor({ state: "visible" });
  assert.match((await banner.textContent()) ?? "", /Reconnecting/);
  assert.ok(await a.locator("#chat-send").isDisabled(), "no sending while offline");
  const [bannerBox, formBox] = [await banner.boundingBox(), await a.locator("#chat-form").boundingBox()];
  assert.ok(bannerBox !== null && formBox !== null);
  assert.ok(bannerBox.y + bannerBox.height <= formBox.y, "the banner is above the composer");
  assert.ok(formBox.y - (bannerBox.y + bannerBox.height) < 24, "right above it");
  await a.focus("#chat-input");
  const inView = await banner.evaluate((el) => {
    const r = (el as unknown as { getBoundingClientRect(): { top: number; bottom: number } })
      .getBoundingClientRect();
    return r.top >= 0 && r.bottom <= (globalThis as unknown as { innerHeight: number }).innerHeight;
  });
  assert.ok(inView, "with the input focused, the banner is on screen");

  const second = await h.serve(chatApp, { port });
  assert.equal(second.port, port, "the new server listens on the same port");
  await waitBadge(a, "connected");
  await banner.waitFor({ state: "hidden" });
  await waitForOnline(a, ["ana (you)"], "A after the restart");
});

browserTest(
  "e2e sticky bar: at phone width the connection badge stays in view as the page scrolls",
  async (h) => {
    const chat = await h.serve(chatApp);
    const push = await h.serve(pushApp);
    for (const url of [chat.url, push.url]) {
      const page = await h.tab(url, PHONE);
      await waitBadge(page, "connected");
      await page.evaluate(() => {
        const w = globalThis as unknown as PageWindow;
        w.scrollTo(0, w.document.documentElement.scrollHeight);
      });
      await settleFrames(page);
      const scrolled = await page.evaluate(() => (globalThis as unknown as PageWindow).scrollY);
      assert.ok(scrolled > 0, `${url}: the page scrolls at phone height (scrollY ${scrolled})`);
      const box = await page.locator("#status").boundingBox();
      assert.ok(box !== null, "the badge is rendered");
      assert.ok(
        box.y >= 0 && box.y + box.height <= PHONE.height,
        `${url}: the badge is in view (y ${box.y})`,
      );
    }
  },
);

// ---------------------------------------------------------------------------
// 8. History: the last messages when a page opens, what it missed after a reconnect

/** What the gap line says, with the local times (HH:MM) the connection dropped and came back. */
const GAP_LINE = /^You were offline from (\d\d:\d\d) to (\d\d:\d\d); some messages may be missing\.$/;

/**
 * The whole feed `listId` in order, one string per line (runs in the page): "nick: text" for
 * a message, "nick (mine): text" for one's own, "— text" for a line of the page's own, and
 * "— GAP" for the line that says messages may be missing.
 */
function readFeed(listId: string): string[] {
  const doc = (globalThis as unknown as PageWindow).document;
  return Array.from(doc.querySelectorAll(`#${listId} > li`), (li) => {
    const text = li.querySelector(".text")?.textContent ?? "";
    if (li.classList.contains("gap")) return "— GAP";
    if (li.classList.contains("system")) return `— ${text}`;
    const sender = li.querySelector(".sender")?.textContent ?? "";
    return li.classList.contains("mine") ? `${sender} (mine): ${text}` : `${sender}: ${text}`;
  });
}

/** Waits until the feed `listId` reads exactly `want` (see {@link readFeed}). */
async function waitForFeed(page: Page, listId: string, want: string[], what: string): Promise<void> {
  try {
    await page.waitForFunction(
      `JSON.stringify((${readFeed.toString()})(${JSON.stringify(listId)})) === ${
        JSON.stringify(JSON.stringify(want))
      }`,
      undefined,
      { timeout: WAIT_MS },
    );
  } catch (e) {
    const got = await page.evaluate(readFeed, listId).catch(() => "(unreadable)");
    throw new Error(`${what}: expected ${JSON.stringify(want)}, the page shows ${JSON.stringify(got)}`, {
      cause: e,
    });
  }
}

/** The gap lines' texts in the feed `listId`. */
function gapLines(page: Page, listId: string): Promise<string[]> {
  return page.locator(`#${listId} > li.system.gap .text`).allTextContents();
}

/** The page's local time as HH:MM, as the pages write times. */
function pageClock(page: Page): Promise<string> {
  return page.evaluate(() => {
    const d = new Date();
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  });
}

/** Asserts that the one gap line of `listId` names times from `earliest` to `latest` (HH:MM). */
async function assertGapLine(page: Page, listId: string, earliest: string, latest: string): Promise<void> {
  const lines = await gapLines(page, listId);
  assert.equal(lines.length, 1, `one gap line: ${JSON.stringify(lines)}`);
  const m = GAP_LINE.exec(lines[0]);
  assert.ok(m !== null, `the gap line reads ${JSON.stringify(lines[0])}`);
  if (earliest <= latest) { // (not across midnight)
    assert.ok(earliest <= m[1] && m[1] <= m[2] && m[2] <= latest, `${lines[0]} within ${earliest}–${latest}`);
  }
}

/**
 * Cuts `proxy`'s link, runs `whileOut` once the tab shows it is reconnecting, keeps the
 * tab out until one of its reconnection attempts was refused, then lets it back in and
 * waits until it is connected again.
 */
async function cutAndRestore(
  page: Page,
  proxy: TcpProxy,
  whileOut: () => unknown,
): Promise<void> {
  proxy.cut();
  await waitBadge(page, "reconnecting");
  await whileOut();
  const refused = proxy.refused;
  await waitUntil(() => proxy.refused > refused, "the tab to try again and be refused", WAIT_MS);
  proxy.restore();
  await waitBadge(page, "connected");
}

/**
 * Runs in the page: replaces the page's wamp.subscription.get_events calls. "hold": a
 * call goes out only once `__history.release()` runs; "fail": it fails as on a router
 * without the procedure; "junk": the answer also holds malformed entries.
 */
function interceptHistory(mode: string): void {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const proto = g.autobahn.Session.prototype;
  const original = g.__originalCall ??= proto.call;
  const state: { calls: number; release: (() => void) | null } = { calls: 0, release: null };
  g.__history = state;
  proto.call = function (procedure: string, ...rest: unknown[]) {
    if (procedure !== "wamp.subscription.get_events") return original.call(this, procedure, ...rest);
    state.calls++;
    if (mode === "fail") {
      return Promise.reject(
        new g.autobahn.Error("wamp.error.no_such_procedure", ["no callee registered for procedure"]),
      );
    }
    if (mode === "junk") {
      return original.call(this, procedure, ...rest).then((r: { args: unknown[][]; kwargs: unknown }) => {
        const junk = [null, 42, "event", [], { publication: "1" }, { publication: 7, args: "not a list" }];
        return new g.autobahn.Result([[...junk, ...r.args[0], ...junk]], r.kwargs);
      });
    }
    return new Promise((resolve) => {
      state.release = () => resolve(original.call(this, procedure, ...rest));
    });
  };
}

/** Waits until the page intercepted (see {@link interceptHistory}) `n` history calls in all. */
async function waitHistoryCalls(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    // deno-lint-ignore no-explicit-any
    (n) => ((globalThis as any).__history?.calls ?? 0) >= n,
    n,
    { timeout: WAIT_MS },
  );
}

browserTest(
  "e2e history: the chat opens with the last 50 messages, in order, with their times",
  async (h) => {
    const server = await h.serve(chatApp);
    const base = new Date(2025, 0, 15, 9, 0).getTime();
    const local = new LocalSession(server.router);
    try {
      for (let i = 1; i <= 60; i++) {
        local.publish(CHAT_TOPIC, [{
          nick: i % 2 ? "bruno" : "carla",
          text: `message ${i}`,
          ts: base + i * 60_000,
        }]);
      }
    } finally {
      local.close();
    }
    const a = await chatTab(h, server, "ana");
    const want = [];
    for (let i = 11; i <= 60; i++) want.push(theirs(i % 2 ? "bruno" : "carla", `message ${i}`));
    await waitForList(a, "chat-messages", want, "the tab that opened");
    const times = await a.locator("#chat-messages > li.msg time").evaluateAll((els) =>
      els.map((el) => (el as unknown as { dateTime: string }).dateTime)
    );
    assert.equal(times[0], new Date(base + 11 * 60_000).toISOString(), "the sender's time, as live");
    assert.equal(times[49], new Date(base + 60 * 60_000).toISOString());
    assert.deepEqual(await gapLines(a, "chat-messages"), [], "no gap line on opening");

    // Live messages follow the history, and one's own show once.
    await say(a, "chat-input", "hola");
    const later = new LocalSession(server.router);
    try {
      later.publish(CHAT_TOPIC, [{ nick: "bruno", text: "live", ts: Date.now() }]);
    } finally {
      later.close();
    }
    await waitForList(a, "chat-messages", [...want, mine("ana", "hola"), theirs("bruno", "live")], "after");
  },
);

browserTest(
  "e2e catch-up: a tab cut off for a while shows what it missed, in order, once, with no gap line",
  async (h) => {
    const server = await h.serve(chatApp);
    const proxy = h.proxy(server);
    const a = await h.tab(proxy.url, DESKTOP, false, "ana");
    await waitBadge(a, "connected");
    const b = await chatTab(h, server, "bruno");
    await waitForFeed(a, "chat-messages", ["— bruno joined"], "A when B opened");
    await say(b, "chat-input", "before 1");
    await say(a, "chat-input", "before 2");
    const before = ["— bruno joined", "bruno: before 1", "ana (mine): before 2"];
    await waitForFeed(a, "chat-messages", before, "A before the cut");

    await cutAndRestore(a, proxy, async () => {
      for (let i = 1; i <= 5; i++) await say(b, "chat-input", `missed ${i}`);
    });
    await say(b, "chat-input", "after");
    await say(a, "chat-input", "mine after");
    const missed = [1, 2, 3, 4, 5].map((i) => `bruno: missed ${i}`);
    await waitForFeed(a, "chat-messages", [
      ...before,
      ...missed,
      "bruno: after",
      "ana (mine): mine after",
    ], "A after the reconnect");
    assert.deepEqual(await gapLines(a, "chat-messages"), [], "nothing was lost: no gap line");

    // A second cut: the newest shown is now the tab's own message.
    await cutAndRestore(a, proxy, async () => await say(b, "chat-input", "missed again"));
    await waitForFeed(a, "chat-messages", [
      ...before,
      ...missed,
      "bruno: after",
      "ana (mine): mine after",
      "bruno: missed again",
    ], "A after the second reconnect");
    assert.deepEqual(await gapLines(a, "chat-messages"), [], "still no gap line");

    // B never left: everything once, A's messages as A's.
    await waitForList(b, "chat-messages", [
      mine("bruno", "before 1"),
      theirs("ana", "before 2"),
      ...[1, 2, 3, 4, 5].map((i) => mine("bruno", `missed ${i}`)),
      mine("bruno", "after"),
      theirs("ana", "mine after"),
      mine("bruno", "missed again"),
    ], "B");
  },
);

browserTest(
  "e2e catch-up: live events during the history call show once and in order; junk in the history is skipped",
  async (h) => {
    const server = await h.serve(chatApp);
    const proxy = h.proxy(server);
    const a = await h.tab(proxy.url, DESKTOP, false, "ana");
    await waitBadge(a, "connected");
    const local = new LocalSession(server.router);
    const publish = (text: string) => local.publish(CHAT_TOPIC, [{ nick: "bruno", text, ts: Date.now() }]);
    try {
      publish("one");
      await waitForFeed(a, "chat-messages", ["bruno: one"], "A");

      // The history call of the next session goes out only when the test says so.
      await a.evaluate(interceptHistory, "hold");
      await cutAndRestore(a, proxy, () => publish("missed"));
      await waitHistoryCalls(a, 1);
      // Live while the page waits for its history (and in that history too, as the call
      // goes out after them): bruno's, then A's own, acknowledged (so the page has bruno's).
      publish("live during the catch-up");
      await say(a, "chat-input", "mine during the catch-up");
      assert.deepEqual(await a.evaluate(readFeed, "chat-messages"), ["bruno: one"], "held until the history");
      await a.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        (globalThis as any).__history.release();
      });
      publish("live after");
      const want = [
        "bruno: one",
        "bruno: missed",
        "bruno: live during the catch-up",
        "ana (mine): mine during the catch-up",
        "bruno: live after",
      ];
      await waitForFeed(a, "chat-messages", want, "A after the catch-up");

      // Malformed history entries are skipped.
      await a.evaluate(interceptHistory, "junk");
      await cutAndRestore(a, proxy, () => publish("missed among junk"));
      await waitHistoryCalls(a, 1);
      publish("after the junk");
      await waitForFeed(
        a,
        "chat-messages",
        [...want, "bruno: missed among junk", "bruno: after the junk"],
        "A",
      );
      assert.deepEqual(await gapLines(a, "chat-messages"), [], "no gap line");
    } finally {
      local.close();
    }
  },
);

browserTest(
  "e2e gap line: the history no longer reaches back; a router without history; a server restart",
  async (h) => {
    // (a) The server keeps only 5 messages; the tab misses 10.
    const server = await h.serve(chatApp, {
      store: {
        type: "memory",
        eventHistory: [{ uri: CHAT_TOPIC, match: "exact", limit: 5, maxBytes: 0, maxAge: 0 }],
        maxTotalBytes: 1048576,
      },
    });
    const proxy = h.proxy(server);
    const a = await h.tab(proxy.url, DESKTOP, false, "ana");
    await waitBadge(a, "connected");
    const local = new LocalSession(server.router);
    const publish = (text: string) => local.publish(CHAT_TOPIC, [{ nick: "bruno", text, ts: Date.now() }]);
    try {
      publish("seen");
      await waitForFeed(a, "chat-messages", ["bruno: seen"], "A");
      const earliest = await pageClock(a);
      await cutAndRestore(a, proxy, () => {
        for (let i = 1; i <= 10; i++) publish(`lost or kept ${i}`);
      });
      const kept = [6, 7, 8, 9, 10].map((i) => `bruno: lost or kept ${i}`);
      await waitForFeed(a, "chat-messages", ["bruno: seen", "— GAP", ...kept], "A after a long absence");
      await assertGapLine(a, "chat-messages", earliest, await pageClock(a));
      publish("live again");
      await waitForFeed(a, "chat-messages", ["bruno: seen", "— GAP", ...kept, "bruno: live again"], "A");

      // (b) The history call fails (a router without it): live goes on, after a gap line.
      await a.evaluate(interceptHistory, "fail");
      await cutAndRestore(a, proxy, () => publish("not fetched"));
      await waitHistoryCalls(a, 1);
      publish("live after the failure");
      await waitForFeed(a, "chat-messages", [
        "bruno: seen",
        "— GAP",
        ...kept,
        "bruno: live again",
        "— GAP",
        "bruno: live after the failure",
      ], "A without history");
      assert.ok(await a.locator("#chat-send").isEnabled(), "the page still sends");
    } finally {
      local.close();
    }

    // (c) The server restarts: its new history knows nothing of what the tab saw.
    const first = await h.serve(chatApp);
    const port = first.port;
    const b = await chatTab(h, first, "bruno");
    const before = new LocalSession(first.router);
    before.publish(CHAT_TOPIC, [{ nick: "carla", text: "before the restart", ts: Date.now() }]);
    before.close();
    await waitForFeed(b, "chat-messages", ["carla: before the restart"], "B");
    const earliest = await pageClock(b);
    await first.close();
    await waitBadge(b, "reconnecting");
    const second = await h.serve(chatApp, { port });
    const after = new LocalSession(second.router);
    try {
      after.publish(CHAT_TOPIC, [{ nick: "carla", text: "after the restart 1", ts: Date.now() }]);
      await waitBadge(b, "connected");
      after.publish(CHAT_TOPIC, [{ nick: "carla", text: "after the restart 2", ts: Date.now() }]);
      await waitForFeed(b, "chat-messages", [
        "carla: before the restart",
        "— GAP",
        "carla: after the restart 1",
        "carla: after the restart 2",
      ], "B after the restart");
      await assertGapLine(b, "chat-messages", earliest, await pageClock(b));
    } finally {
      after.close();
    }
  },
);

browserTest("e2e history: the push page opens with the last 50 messages, the queue's labelled", async (h) => {
  const server = await h.serve(pushApp);
  const tab = new LocalSession(server.router);
  const queue = new LocalSession(server.router, undefined, undefined, { authrole: BRIDGE_ROLE });
  try {
    for (let i = 1; i <= 55; i++) {
      if (i === 50) {
        queue.publish(
          MESSAGES_TOPIC,
          [{ body: "from the queue", headers: { cat: MESSAGES_TOPIC } }],
          undefined,
          {
            disclose: true,
          },
        );
      } else {
        tab.publish(MESSAGES_TOPIC, [{ body: `message ${i}`, details: [] }]);
      }
    }
  } finally {
    tab.close();
    queue.close();
  }
  const page = await h.tab(server.url);
  await waitBadge(page, "connected");
  const want: Shown[] = [];
  for (let i = 6; i <= 55; i++) {
    want.push(
      i === 50 ? theirs(`queue · ${MESSAGES_TOPIC}`, "from the queue") : theirs("tab", `message ${i}`),
    );
  }
  await waitForList(page, "messages", want, "the push tab that opened");
  const sources = await page.locator("#messages > li.msg").evaluateAll((els) =>
    els.map((el) => (el as unknown as PageNode).dataset.source)
  );
  assert.equal(sources[44], "queue", "labelled as the queue's, as live");
  assert.equal(sources.filter((s) => s === "queue").length, 1);
  assert.ok(await page.locator("#empty").isHidden(), "not empty");
  assert.deepEqual(await gapLines(page, "messages"), []);
});

// ---------------------------------------------------------------------------
// 9. Screenshots

/** Takes the page at desktop and phone widths, light and dark, into /screenshots/. */
async function screenshots(page: Page, name: string): Promise<void> {
  const dir = decodeURIComponent(SCREENSHOT_DIR.pathname);
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const suffix = scheme === "dark" ? "-dark" : "";
    await page.setViewportSize(DESKTOP);
    await settleFrames(page);
    await page.screenshot({ path: `${dir}${name}-desktop${suffix}.png` });
    await page.setViewportSize(PHONE);
    await settleFrames(page);
    const overflow = await page.evaluate(() => {
      const root = (globalThis as unknown as PageWindow).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    assert.ok(overflow <= 0, `${name} overflows the phone width by ${overflow}px`);
    await page.screenshot({ path: `${dir}${name}-phone${suffix}.png`, fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(DESKTOP);
}

browserTest("e2e screenshots: both pages with a few messages, at desktop and phone widths", async (h) => {
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });

  // Other tabs and the queue are stood in for by an in-process session of the same router.
  const push = await h.serve(pushApp);
  const page = await h.tab(push.url);
  await waitBadge(page, "connected");
  const pushLocal = new LocalSession(push.router);
  const queueLocal = new LocalSession(push.router, undefined, undefined, { authrole: BRIDGE_ROLE });
  try {
    pushLocal.publish(MESSAGES_TOPIC, [{ body: "Hola desde otra pestaña", details: [] }]);
    queueLocal.publish(
      MESSAGES_TOPIC,
      [{
        body: "Order 1042 shipped to Valencia",
        headers: { cat: MESSAGES_TOPIC, redelivered: "false" },
      }],
      undefined,
      { disclose: true },
    );
    await page.locator("#messages > li.msg").nth(1).waitFor();
    await say(page, "message", "Hi everyone, this tab says hello.");
  } finally {
    pushLocal.close();
    queueLocal.close();
  }
  await page.fill("#height", "4");
  await page.fill("#width", "4");
  await page.click("#calc");
  await waitForText(page, "area-result", "16 m²");
  await screenshots(page, "push");

  const TEXTS = ["Morning! Is the deploy done?", "Yes, ten minutes ago. All green."];
  const chat = await h.serve(chatApp);
  const tab = await h.tab(chat.url);
  await waitBadge(tab, "connected");
  await tab.fill("#nick", "ana");
  // Two more people in the room, present as any chat client is (chat.presence, disclosed).
  const people = ["bruno", "carla"].map((nick) => {
    const local = new LocalSession(chat.router);
    local.publish(PRESENCE_TOPIC, [{ nick }], undefined, { disclose: true });
    return { nick, local };
  });
  const plain = await RawClient.open(plainUrl(chat));
  try {
    await tab.locator("#online li").nth(3).waitFor({ timeout: WAIT_MS });
    const ts = Date.now();
    for (const [{ nick, local }, text] of people.map((p, i) => [p, TEXTS[i]] as const)) {
      local.publish(CHAT_TOPIC, [{ nick, text, ts }]);
    }
    await tab.locator("#chat-messages > li.msg").nth(1).waitFor();
    await say(tab, "chat-input", "Great, thanks both!");
    plain.send("hello from the old tutorial page");
    await tab.locator("#chat-messages > li.msg").nth(3).waitFor();
    await screenshots(tab, "chat");
  } finally {
    for (const { local } of people) local.close();
    await plain.close();
  }

  if (Deno.env.get("UPDATE_DOCS_SCREENSHOTS") === "1") {
    await Deno.mkdir(DOCS_DIR, { recursive: true });
    for (const name of ["push", "chat"]) {
      await Deno.copyFile(new URL(`${name}-desktop.png`, SCREENSHOT_DIR), new URL(`${name}.png`, DOCS_DIR));
    }
  }
});
