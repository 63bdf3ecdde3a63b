/**
 * The two apps (push and chat) and the HTTP side: pages, the vendored client
 * library, subprotocol negotiation and the plain-WebSocket chat relay.
 */
import assert from "node:assert/strict";
import { chatApp } from "../chat.ts";
import { WampError } from "../main.ts";
import { areaCuadrado, pushApp } from "../push.ts";
import { negotiate } from "../src/transport/subprotocol.ts";
import type { RunningServer, ServerOptions } from "../main.ts";
import {
  type AutobahnSession,
  connectV2,
  Events,
  RawClient,
  type V2Client,
  waitUntil,
  within,
  withServer,
} from "./helpers.ts";

const INVALID_ARGUMENT = "wamp.error.invalid_argument";
const AREA = "push.tutorial.areaCuadrado";
const CHAT = "chat.messages";

/** The plain (no subprotocol) WebSocket URL of a server: `ws://host:port/`. */
function plainUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, "ws");
}

/** A chat server with one WAMP tab subscribed to the chat topic and some plain WebSocket clients. */
interface ChatRoom {
  server: RunningServer;
  tab: V2Client;
  /** What the tab received on the chat topic. */
  tabEvents: Events;
  /** The plain clients, in the order they joined. */
  plain: RawClient[];
  /** Opens one more plain client; it is closed with the room. */
  join(): Promise<RawClient>;
}

/** Runs `fn` in a chat room with `plainCount` plain clients; closes every client and the server after. */
async function withChat(
  plainCount: number,
  fn: (room: ChatRoom) => Promise<void>,
  options: ServerOptions = {},
): Promise<void> {
  await withServer(
    async (server) => {
      const tab = await connectV2(server.wsUrl);
      const plain: RawClient[] = [];
      const join = async () => {
        const c = await RawClient.open(plainUrl(server.url));
        plain.push(c);
        return c;
      };
      try {
        const tabEvents = new Events();
        await within(tab.session.subscribe(CHAT, tabEvents.handler), "tab subscribes");
        for (let i = 0; i < plainCount; i++) await join();
        await fn({ server, tab, tabEvents, plain, join });
      } finally {
        for (const c of plain) await c.close();
        await tab.close();
      }
    },
    chatApp,
    options,
  );
}

/**
 * Tries to open a WebSocket; returns whether it opened (closing it if so) and the
 * negotiated subprotocol. Always waits for the socket to be closed.
 */
async function tryOpen(
  url: string,
  protocols?: string | string[],
): Promise<{ opened: boolean; protocol: string }> {
  const ws = new WebSocket(url, protocols);
  let opened = false;
  let protocol = "";
  const closed = Promise.withResolvers<CloseEvent>();
  ws.onopen = () => {
    opened = true;
    protocol = ws.protocol;
    ws.close(1000);
  };
  ws.onerror = () => {};
  ws.onclose = (e) => closed.resolve(e);
  await within(closed.promise, `the WebSocket to ${url} to settle`);
  return { opened, protocol };
}

/** A WebSocket handshake request sent with fetch(), so the refusal's status and body can be read. */
async function upgradeRequest(url: string, protocol?: string): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {
    connection: "Upgrade",
    upgrade: "websocket",
    "sec-websocket-version": "13",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  };
  if (protocol !== undefined) headers["sec-websocket-protocol"] = protocol;
  const res = await within(fetch(url, { headers }), `upgrade request to ${url}`);
  return { status: res.status, body: await res.text() };
}

/** Asserts that an autobahn call rejected with `uri` and returns the error's args. */
async function callError(session: AutobahnSession, args: unknown[], uri: string): Promise<unknown[]> {
  let error: { error?: unknown; args?: unknown[] } | undefined;
  try {
    const result = await within(session.call(AREA, args), `the call ${JSON.stringify(args)}`);
    assert.fail(`expected ${uri}, got the result ${JSON.stringify(result)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    error = e as { error?: unknown; args?: unknown[] };
  }
  assert.equal(error.error, uri, `error of ${JSON.stringify(args)}: ${JSON.stringify(error)}`);
  assert.ok(Array.isArray(error.args), "the error has args");
  assert.equal(typeof error.args![0], "string", "args[0] is a readable description");
  assert.ok((error.args![0] as string).length > 0);
  return error.args!;
}

// ===========================================================================
// push: areaCuadrado

Deno.test("areaCuadrado over WAMP v2 multiplies height by width, given as strings or numbers", async () => {
  await withServer(async (server) => {
    const c = await connectV2(server.wsUrl);
    try {
      assert.equal(await within(c.session.call(AREA, ["4", "4"]), "4×4"), 16);
      assert.equal(await within(c.session.call(AREA, [3, 5]), "3×5"), 15);
      assert.equal(await within(c.session.call(AREA, ["2.5", "2"]), "2.5×2"), 5);
    } finally {
      await c.close();
    }
  });
});

Deno.test("areaCuadrado accepts a decimal comma ('4,5' is 4.5)", async () => {
  await withServer(async (server) => {
    const c = await connectV2(server.wsUrl);
    try {
      assert.equal(await within(c.session.call(AREA, ["4,5", "2"]), "4,5×2"), 9);
    } finally {
      await c.close();
    }
  });
});

Deno.test("areaCuadrado with the wrong number of arguments fails with wamp.error.invalid_argument", async () => {
  await withServer(async (server) => {
    const c = await connectV2(server.wsUrl);
    try {
      const one = await callError(c.session, ["4"], INVALID_ARGUMENT);
      assert.match(one[0] as string, /two|2/);
      await callError(c.session, [], INVALID_ARGUMENT);
      await callError(c.session, ["1", "2", "3"], INVALID_ARGUMENT);
    } finally {
      await c.close();
    }
  });
});

Deno.test("areaCuadrado with a non-numeric argument fails with invalid_argument naming the value", async () => {
  await withServer(async (server) => {
    const c = await connectV2(server.wsUrl);
    try {
      const [message] = await callError(c.session, ["abc", "2"], INVALID_ARGUMENT);
      assert.ok((message as string).includes("abc"), `the description names the value: ${message}`);
      const [second] = await callError(c.session, ["2", "xyz"], INVALID_ARGUMENT);
      assert.ok((second as string).includes("xyz"), `the description names the value: ${second}`);
      await callError(c.session, ["", "2"], INVALID_ARGUMENT);
      await callError(c.session, [null, "2"], INVALID_ARGUMENT);
      await callError(c.session, [{}, "2"], INVALID_ARGUMENT);
    } finally {
      await c.close();
    }
  });
});

Deno.test("areaCuadrado with a negative length fails with wamp.error.invalid_argument", async () => {
  await withServer(async (server) => {
    const c = await connectV2(server.wsUrl);
    try {
      const [message] = await callError(c.session, ["-2", "3"], INVALID_ARGUMENT);
      assert.match(message as string, /negative/);
      await callError(c.session, [2, -3], INVALID_ARGUMENT);
    } finally {
      await c.close();
    }
  });
});

Deno.test("areaCuadrado does not block: two calls in parallel both resolve", async () => {
  await withServer(async (server) => {
    const a = await connectV2(server.wsUrl);
    const b = await connectV2(server.wsUrl);
    try {
      const results = await within(
        Promise.all([
          a.session.call(AREA, ["4", "4"]),
          b.session.call(AREA, ["2", "3"]),
          a.session.call(AREA, [3, 5]),
        ]),
        "three parallel calls",
      );
      assert.deepEqual(results, [16, 6, 15]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

Deno.test("areaCuadrado (unit) multiplies numbers and numeric strings", () => {
  assert.equal(areaCuadrado(["4", "4"]), 16);
  assert.equal(areaCuadrado([3, 5]), 15);
  assert.equal(areaCuadrado(["2.5", "2"]), 5);
  assert.equal(areaCuadrado(["4,5", "2"]), 9);
  assert.equal(areaCuadrado([" 3 ", "2 "]), 6);
  assert.equal(areaCuadrado(["0", 7]), 0);
});

function assertInvalid(args: unknown[], mentions?: string | RegExp): void {
  assert.throws(() => areaCuadrado(args), (e: unknown) => {
    assert.ok(e instanceof WampError, `expected WampError, got ${e}`);
    assert.equal(e.uri, INVALID_ARGUMENT);
    assert.equal(typeof e.args[0], "string");
    if (typeof mentions === "string") assert.ok((e.args[0] as string).includes(mentions), String(e.args[0]));
    else if (mentions !== undefined) assert.match(e.args[0] as string, mentions);
    return true;
  }, `areaCuadrado(${JSON.stringify(args)}) should fail`);
}

Deno.test("areaCuadrado (unit) rejects wrong arity, non-numbers and negatives with invalid_argument", () => {
  assertInvalid([]);
  assertInvalid(["4"], /two/);
  assertInvalid(["1", "2", "3"]);
  assertInvalid(["abc", "2"], "abc");
  assertInvalid(["2", "abc"], "abc");
  assertInvalid(["", "2"]);
  assertInvalid(["   ", "2"]);
  assertInvalid([null, "2"]);
  assertInvalid([undefined, "2"]);
  assertInvalid([true, "2"]);
  assertInvalid([[4], "2"]);
  assertInvalid([NaN, 2]);
  assertInvalid([Infinity, 2]);
  assertInvalid(["-1", "2"], "negative");
  assertInvalid([2, -0.5], "negative");
});

// ===========================================================================
// chat: WAMP tabs and plain WebSocket clients in one conversation

Deno.test("chat: a WAMP message reaches the other tab, not the sender", async () => {
  await withServer(async (server) => {
    const a = await connectV2(server.wsUrl);
    const b = await connectV2(server.wsUrl);
    try {
      const aEvents = new Events();
      const bEvents = new Events();
      await within(a.session.subscribe(CHAT, aEvents.handler), "a subscribes");
      await within(b.session.subscribe(CHAT, bEvents.handler), "b subscribes");
      const msg = { nick: "ana", text: "hola", ts: 1_700_000_000_000 };
      await within(a.session.publish(CHAT, [msg], {}, { acknowledge: true }), "a publishes");
      assert.deepEqual(await bEvents.next("b gets a's message"), [msg]);
      // Had a received its own message, it would come before b's reply.
      const reply = { nick: "bo", text: "qué tal", ts: 1_700_000_000_001 };
      await within(b.session.publish(CHAT, [reply], {}, { acknowledge: true }), "b publishes");
      assert.deepEqual(await aEvents.next("a gets b's reply"), [reply]);
      assert.deepEqual(aEvents.items, []);
      assert.deepEqual(bEvents.items, []);
    } finally {
      await a.close();
      await b.close();
    }
  }, chatApp);
});

Deno.test("chat: plain text goes unchanged to the other plain clients, not back to the sender, and to WAMP tabs as {nick: 'anonymous', text, ts}", async () => {
  await withChat(2, async ({ tabEvents, plain: [a, b] }) => {
    assert.equal(a.ws.protocol, "", "no subprotocol was negotiated");

    const before = Date.now();
    a.send("hello, 'world' {\"not\": json} ñ 🙂");
    assert.equal(await b.nextText("b gets a's text"), "hello, 'world' {\"not\": json} ñ 🙂");
    const [event] = await tabEvents.next("the tab gets a's text");
    const { nick, text, ts } = event as { nick: unknown; text: unknown; ts: unknown };
    assert.equal(nick, "anonymous");
    assert.equal(text, "hello, 'world' {\"not\": json} ñ 🙂");
    assert.equal(typeof ts, "number");
    assert.ok(
      (ts as number) >= before - 1000 && (ts as number) <= Date.now() + 1000,
      "ts is a current time",
    );
    assert.deepEqual(Object.keys(event as object).sort(), ["nick", "text", "ts"]);

    // Had a received its own text, it would come before b's reply.
    b.send("reply from b");
    assert.equal(await a.nextText("a gets b's reply"), "reply from b");
    const [second] = await tabEvents.next("the tab gets b's reply");
    assert.equal((second as { text: unknown }).text, "reply from b");
    assert.deepEqual(a.frames, []);
    assert.deepEqual(b.frames, []);
  });
});

Deno.test("chat: a WAMP message {nick, text} reaches plain clients as the text 'nick: text'", async () => {
  await withChat(2, async ({ tab, plain: [a, b] }) => {
    await within(
      tab.session.publish(CHAT, [{ nick: "ana", text: "hola" }], {}, { acknowledge: true }),
      "publish",
    );
    assert.equal(await a.nextText("a gets the WAMP message"), "ana: hola");
    assert.equal(await b.nextText("b gets the WAMP message"), "ana: hola");
    // A message without a usable nick appears as anonymous.
    await within(
      tab.session.publish(CHAT, [{ nick: "  ", text: "sin nombre" }], {}, { acknowledge: true }),
      "publish",
    );
    assert.equal(await a.nextText("a gets the nickless message"), "anonymous: sin nombre");
    assert.equal(await b.nextText("b gets the nickless message"), "anonymous: sin nombre");
  });
});

Deno.test("chat: WAMP payloads that are not chat messages are not relayed to plain clients", async () => {
  await withChat(1, async ({ tab, plain: [a] }) => {
    await within(tab.session.publish(CHAT, [42], {}, { acknowledge: true }), "publish a number");
    await within(
      tab.session.publish(CHAT, [{ nick: "x" }], {}, { acknowledge: true }),
      "publish without text",
    );
    await within(
      tab.session.publish(CHAT, [{ nick: "ana", text: "after" }], {}, { acknowledge: true }),
      "publish",
    );
    // The first frame is the last message: the two before were not relayed.
    assert.equal(await a.nextText("the chat message"), "ana: after");
  });
});

Deno.test("chat: a binary frame from a plain client closes it with 1003 and the others keep chatting", async () => {
  await withChat(3, async ({ tab, tabEvents, plain: [a, b, c] }) => {
    a.ws.send(new Uint8Array([104, 105]));
    const closed = await a.closeEvent();
    assert.equal(closed.code, 1003);

    b.send("still here");
    assert.equal(await c.nextText("c gets b's text"), "still here");
    assert.equal(
      ((await tabEvents.next("the tab gets b's text"))[0] as { text: unknown }).text,
      "still here",
    );
    // Nothing of the binary frame reached anyone: the first thing b and the tab saw is the text.
    assert.deepEqual(b.frames, []);
    assert.deepEqual(tabEvents.items, []);
    await within(
      tab.session.publish(CHAT, [{ nick: "t", text: "ok" }], {}, { acknowledge: true }),
      "publish",
    );
    assert.equal(await b.nextText("b gets the tab's message"), "t: ok");
    assert.equal(await c.nextText("c gets the tab's message"), "t: ok");
    assert.deepEqual(a.frames, [], "the closed client got nothing");
  });
});

Deno.test("chat: a plain text over maxMessageSize closes its sender with 1009 and is not relayed", async () => {
  await withChat(2, async ({ plain: [a, b], join }) => {
    a.send("x".repeat(2000));
    assert.equal((await a.closeEvent()).code, 1009);
    const c = await join();
    c.send("small");
    assert.equal(await b.nextText("b gets c's text"), "small", "the oversized text was not relayed");
  }, { maxMessageSize: 1024 });
});

Deno.test("chat: maxMessageSize counts UTF-8 bytes for plain text (700 × 'ñ' is 1400 bytes > 1024)", async () => {
  await withChat(2, async ({ plain: [a, b], join }) => {
    a.send("ñ".repeat(700));
    // The server either relays it to b (wrong) or closes a (right): wait for whichever happens.
    await waitUntil(
      () => b.frames.length > 0 || a.ws.readyState === WebSocket.CLOSED,
      "a relay to b or the close of a",
    );
    assert.deepEqual(
      b.frames.map((f) => `${f.length} characters, ${new TextEncoder().encode(f).length} bytes`),
      [],
      "the oversized text was relayed",
    );
    assert.equal((await a.closeEvent()).code, 1009);
    const c = await join();
    c.send("from c");
    assert.equal(await b.nextText("b gets c's text"), "from c");
  }, { maxMessageSize: 1024 });
});

Deno.test("chat: an empty plain text frame is ignored", async () => {
  await withChat(2, async ({ plain: [a, b] }) => {
    a.send("");
    a.send("after the empty one");
    assert.equal(await b.nextText("b gets the text"), "after the empty one");
  });
});

// ===========================================================================
// WebSocket endpoint: subprotocols and paths

Deno.test("push server: a plain WebSocket (no subprotocol) is refused with 400 naming wamp.2.json and wamp", async () => {
  await withServer(async (server) => {
    for (const url of [server.url, `${server.url}ws`]) {
      const outcome = await tryOpen(plainUrl(url));
      assert.equal(outcome.opened, false, `a plain WebSocket to ${url} must not open`);
      const { status, body } = await upgradeRequest(url);
      assert.equal(status, 400);
      assert.ok(body.includes("wamp.2.json"), `body names wamp.2.json: ${body}`);
      assert.match(body, /\bwamp(?!\.2)/, `body names wamp (v1): ${body}`);
    }
  });
});

Deno.test("an offered but unsupported subprotocol (wamp.2.ubjson alone) is refused with 400", async () => {
  for (const app of [pushApp, chatApp]) {
    await withServer(async (server) => {
      const outcome = await tryOpen(server.wsUrl, "wamp.2.ubjson");
      assert.equal(outcome.opened, false, `${app.name}: the WebSocket must not open`);
      const { status, body } = await upgradeRequest(server.wsUrl.replace(/^ws/, "http"), "wamp.2.ubjson");
      assert.equal(status, 400, `${app.name}: status`);
      assert.ok(body.includes("wamp.2.json"), `${app.name}: body names wamp.2.json: ${body}`);
    }, app);
  }
});

Deno.test("the server picks wamp.2.json when offered [wamp.2.ubjson, wamp.2.json], and speaks v2 on it", async () => {
  await withServer(async (server) => {
    const c = await RawClient.open(server.wsUrl, ["wamp.2.ubjson", "wamp.2.json"]);
    try {
      assert.equal(c.ws.protocol, "wamp.2.json");
      c.send([1, "realm1", { roles: { caller: {} } }]);
      assert.equal((await c.next("WELCOME") as unknown[])[0], 2);
    } finally {
      await c.close();
    }
  });
});

Deno.test("the server follows the client's order of preference among subprotocols it speaks", async () => {
  await withServer(async (server) => {
    const v1 = await RawClient.open(server.wsUrl, ["wamp", "wamp.2.json"]);
    try {
      assert.equal(v1.ws.protocol, "wamp");
      assert.equal((await v1.next("v1 WELCOME") as unknown[])[0], 0);
    } finally {
      await v1.close();
    }
    const v2 = await RawClient.open(server.wsUrl, ["wamp.2.json", "wamp"]);
    try {
      assert.equal(v2.ws.protocol, "wamp.2.json");
    } finally {
      await v2.close();
    }
  });
});

Deno.test("both / and /ws accept WAMP v2 and v1 upgrades", async () => {
  await withServer(async (server) => {
    for (const url of [plainUrl(server.url), `${plainUrl(server.url)}ws`]) {
      const v2 = await RawClient.open(url, "wamp.2.json");
      try {
        v2.send([1, "realm1", { roles: { caller: {} } }]);
        assert.equal((await v2.next(`WELCOME at ${url}`) as unknown[])[0], 2);
        v2.send([48, 1, {}, AREA, ["2", "3"]]);
        assert.deepEqual(await v2.next(`RESULT at ${url}`), [50, 1, {}, [6]]);
      } finally {
        await v2.close();
      }
      const v1 = await RawClient.open(url, "wamp");
      try {
        assert.equal((await v1.next(`v1 WELCOME at ${url}`) as unknown[])[0], 0);
      } finally {
        await v1.close();
      }
    }
  });
});

Deno.test("chat server: plain WebSocket clients are accepted at / and at /ws", async () => {
  await withServer(async (server) => {
    const a = await RawClient.open(plainUrl(server.url));
    const b = await RawClient.open(`${plainUrl(server.url)}ws`);
    try {
      a.send("from /");
      assert.equal(await b.nextText("b at /ws gets a's text"), "from /");
    } finally {
      await a.close();
      await b.close();
    }
  }, chatApp);
});

// ===========================================================================
// HTTP pages

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ res: Response; body: Uint8Array }> {
  const res = await within(fetch(url, { headers }), `GET ${url}`);
  const body = new Uint8Array(await res.arrayBuffer());
  return { res, body };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("GET / on the push server serves public/index.html", async () => {
  await withServer(async (server) => {
    const { res, body } = await get(server.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const page = text(body);
    assert.ok(page.includes("push.js"), "the push page loads push.js");
    assert.ok(page.includes("<title>Tuerca push"), "the push page's title");
    const file = await Deno.readTextFile(new URL("../public/index.html", import.meta.url));
    assert.equal(page, file);
  });
});

Deno.test("GET /index_chat.html works on the push server too", async () => {
  await withServer(async (server) => {
    const { res, body } = await get(`${server.url}index_chat.html`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.ok(text(body).includes("chat.js"));
  });
});

Deno.test("GET / on the chat server serves index_chat.html", async () => {
  await withServer(async (server) => {
    const { res, body } = await get(server.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const page = text(body);
    assert.ok(page.includes("chat.js"), "the chat page loads chat.js");
    assert.ok(page.includes("<title>Tuerca chat"), "the chat page's title");
    assert.equal(page, await Deno.readTextFile(new URL("../public/index_chat.html", import.meta.url)));
  }, chatApp);
});

Deno.test("GET /vendor/autobahn.min.js serves the client library (text/javascript, over 100 KB)", async () => {
  await withServer(async (server) => {
    const { res, body } = await get(`${server.url}vendor/autobahn.min.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.ok(body.length > 100 * 1024, `autobahn.min.js is ${body.length} bytes`);
    assert.ok(text(body).includes("autobahn"), "it is autobahn");
  });
});

Deno.test("static files are served with sensible content types", async () => {
  await withServer(async (server) => {
    const expected: [string, RegExp][] = [
      ["style.css", /^text\/css/],
      ["push.js", /^text\/javascript/],
      ["chat.js", /^text\/javascript/],
      ["common.js", /^text\/javascript/],
      ["favicon.svg", /^image\/svg\+xml/],
    ];
    for (const [path, type] of expected) {
      const { res, body } = await get(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", type, path);
      assert.ok(body.length > 0, `${path} is not empty`);
      assert.deepEqual(body, await Deno.readFile(new URL(`../public/${path}`, import.meta.url)), path);
    }
  });
});

Deno.test("an unknown path is 404", async () => {
  await withServer(async (server) => {
    for (const path of ["nope.html", "vendor/", "public/index.html", "..%2Fmain.ts", "index.html/x"]) {
      const { res } = await get(`${server.url}${path}`);
      assert.equal(res.status, 404, path);
    }
  });
});

Deno.test("a request with If-None-Match equal to the ETag gets 304; another ETag gets 200", async () => {
  await withServer(async (server) => {
    for (const path of ["", "style.css", "vendor/autobahn.min.js"]) {
      const first = await get(`${server.url}${path}`);
      const etag = first.res.headers.get("etag");
      assert.ok(etag !== null && etag.length > 2, `${path}: an ETag`);
      const again = await get(`${server.url}${path}`, { "if-none-match": etag });
      assert.equal(again.res.status, 304, `${path}: 304`);
      assert.equal(again.body.length, 0, `${path}: no body`);
      const other = await get(`${server.url}${path}`, { "if-none-match": '"something-else"' });
      assert.equal(other.res.status, 200, `${path}: 200 for another ETag`);
      assert.deepEqual(other.body, first.body);
    }
  });
});

Deno.test("GET /ws without an upgrade is 426 Upgrade Required", async () => {
  for (const app of [pushApp, chatApp]) {
    await withServer(async (server) => {
      const { res, body } = await get(`${server.url}ws`);
      assert.equal(res.status, 426, app.name);
      assert.equal(res.headers.get("upgrade")?.toLowerCase(), "websocket");
      assert.ok(text(body).length > 0, "it explains itself");
    }, app);
  }
});

// ===========================================================================
// negotiate()

const SPOKEN = ["wamp.2.json", "wamp"];

Deno.test("negotiate: no header, an empty header or only separators means no subprotocol", () => {
  assert.deepEqual(negotiate(null, SPOKEN), { kind: "none" });
  assert.deepEqual(negotiate("", SPOKEN), { kind: "none" });
  assert.deepEqual(negotiate(" , ,", SPOKEN), { kind: "none" });
});

Deno.test("negotiate: picks the first offered subprotocol the server speaks, in the client's order", () => {
  assert.deepEqual(negotiate("wamp.2.json", SPOKEN), { kind: "chosen", protocol: "wamp.2.json" });
  assert.deepEqual(negotiate("wamp", SPOKEN), { kind: "chosen", protocol: "wamp" });
  assert.deepEqual(negotiate("wamp.2.msgpack, wamp.2.json", SPOKEN), {
    kind: "chosen",
    protocol: "wamp.2.json",
  });
  assert.deepEqual(negotiate("wamp, wamp.2.json", SPOKEN), { kind: "chosen", protocol: "wamp" });
  assert.deepEqual(negotiate("  wamp.2.json  ,wamp", SPOKEN), { kind: "chosen", protocol: "wamp.2.json" });
  assert.deepEqual(negotiate("wamp.2.cbor,wamp", SPOKEN), { kind: "chosen", protocol: "wamp" });
});

Deno.test("negotiate: only unknown subprotocols is unsupported and lists what was offered", () => {
  assert.deepEqual(negotiate("wamp.2.msgpack", SPOKEN), { kind: "unsupported", offered: ["wamp.2.msgpack"] });
  assert.deepEqual(negotiate("wamp.2.msgpack, wamp.2.cbor", SPOKEN), {
    kind: "unsupported",
    offered: ["wamp.2.msgpack", "wamp.2.cbor"],
  });
  // Names are compared exactly: no case folding, no prefix matching.
  assert.equal(negotiate("WAMP.2.JSON", SPOKEN).kind, "unsupported");
  assert.equal(negotiate("wamp.2", SPOKEN).kind, "unsupported");
  assert.equal(negotiate("wamp.2.json", []).kind, "unsupported");
});
