/**
 * WAMP v1 (subprotocol `wamp`), message by message, and v1 ↔ v2 interop, against
 * a real server on an ephemeral port. v1 is spoken with raw frames; v2 with
 * autobahn-browser or raw frames.
 *
 * To prove that a frame was NOT sent, each test triggers a later frame it knows
 * must arrive (a "barrier": a CALL of areaCuadrado(1, 1), or a marker event from
 * the same publisher) and checks that the next frame is that one.
 */

import assert from "node:assert/strict";
import type { RunningServer } from "../main.ts";
import { AREA_PROCEDURE, MESSAGES_TOPIC } from "../push.ts";
import {
  autobahn,
  type AutobahnSession,
  connectV2,
  RawClient,
  rawV1,
  rawV2,
  type V2Client,
  waitUntil,
  within,
  withServer,
} from "./helpers.ts";

// ---------------------------------------------------------------------------
// Local helpers

const WELCOME = 0, PREFIX = 1, CALL = 2, CALLRESULT = 3, CALLERROR = 4;
const SUBSCRIBE = 5, UNSUBSCRIBE = 6, PUBLISH = 7, EVENT = 8;

const INVALID_ARGUMENT = "wamp.error.invalid_argument";
const NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure";
const INVALID_URI = "wamp.error.invalid_uri";
const CANCELED = "wamp.error.canceled";

/** A v1 client: the raw socket and the session id from its WELCOME. */
interface V1 {
  client: RawClient;
  session: string;
}

/** A raw v2 client after HELLO/WELCOME. */
interface RawV2 {
  client: RawClient;
  session: number;
}

/** What a test gets: the server, and openers whose clients are all closed at the end. */
interface Scenario {
  server: RunningServer;
  /** Sessions attached before the test opened anything (the push app's own, if any). */
  baseline: number;
  v1(): Promise<V1>;
  v2(): Promise<V2Client>;
  rawV2(): Promise<RawV2>;
}

/** Runs `fn` against a fresh server; every client opened through the scenario is closed afterwards. */
function scenario(fn: (s: Scenario) => Promise<void>, options: { maxMessageSize?: number } = {}) {
  return () =>
    withServer(
      async (server) => {
        const closers: (() => Promise<void>)[] = [];
        const s: Scenario = {
          server,
          baseline: server.router.sessionCount,
          async v1() {
            const c = await rawV1(server.wsUrl);
            closers.push(() => c.client.close());
            return c;
          },
          async v2() {
            const c = await connectV2(server.wsUrl);
            closers.push(() => c.close());
            return c;
          },
          async rawV2() {
            const c = await rawV2(server.wsUrl);
            closers.push(() => c.client.close());
            return c;
          },
        };
        try {
          await fn(s);
        } finally {
          for (const close of closers.reverse()) await close().catch(() => {});
        }
      },
      undefined,
      options,
    );
}

/** Asserts that the next frame `c` receives is `expected`. */
async function expectNext(c: RawClient, expected: unknown, message?: string): Promise<void> {
  const got = await c.next(JSON.stringify(expected));
  assert.deepEqual(got, expected, message ?? "unexpected frame");
}

let callSeq = 0;
/** A fresh v1 call id. */
function callId(tag = "c"): string {
  return `${tag}-${++callSeq}`;
}

/**
 * Sends a CALL of areaCuadrado(1, 1) and checks that the very next frame is its
 * CALLRESULT: nothing else was queued for `c` before it.
 */
async function barrier(c: RawClient, why = "no frame before the barrier's CALLRESULT"): Promise<void> {
  const id = callId("barrier");
  c.send([CALL, id, AREA_PROCEDURE, 1, 1]);
  assert.deepEqual(await c.next(`barrier ${id}`), [CALLRESULT, id, 1], why);
}

/** Sends a v1 CALL and returns the answer frame. */
async function v1Call(c: RawClient, procedure: string, ...args: unknown[]): Promise<unknown[]> {
  const id = callId();
  c.send([CALL, id, procedure, ...args]);
  const answer = await c.next(`answer to ${id}`) as unknown[];
  assert.equal(answer[1], id, `answer to ${id} carries its call id: ${JSON.stringify(answer)}`);
  return answer;
}

/** Sends a v1 CALL and asserts that it is answered CALLRESULT `[3, callId, value]`. */
async function expectResult(c: RawClient, procedure: string, args: unknown[], value: unknown): Promise<void> {
  const answer = await v1Call(c, procedure, ...args);
  assert.deepEqual(answer, [CALLRESULT, answer[1], value]);
}

/** Asserts a CALLERROR `[4, id, uri, desc]` with a readable description and returns it. */
function assertCallError(frame: unknown[], uri: string): string {
  assert.equal(frame[0], CALLERROR, `expected CALLERROR, got ${JSON.stringify(frame)}`);
  assert.equal(frame[2], uri, `error URI in ${JSON.stringify(frame)}`);
  const desc = frame[3];
  assert.equal(typeof desc, "string", `errorDesc is a string in ${JSON.stringify(frame)}`);
  assert.ok((desc as string).length > 0, `errorDesc is not empty in ${JSON.stringify(frame)}`);
  return desc as string;
}

/** Events an autobahn subscriber received. */
interface Received {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Subscribes with autobahn and collects what arrives. */
async function collect(session: AutobahnSession, topic: string): Promise<Received[]> {
  const got: Received[] = [];
  await session.subscribe(topic, (args: unknown[], kwargs: Record<string, unknown>) => {
    got.push({ args, kwargs });
  });
  return got;
}

/** Subscribes a v1 client to `topic` and proves the server has processed it. */
async function v1Subscribe(c: RawClient, topic: string): Promise<void> {
  c.send([SUBSCRIBE, topic]);
  await barrier(c, "SUBSCRIBE has no answer in v1");
}

/** Subscribes a raw v2 client; returns the subscription id. */
async function rawV2Subscribe(c: RawClient, topic: string): Promise<number> {
  const req = ++callSeq;
  c.send([32, req, {}, topic]);
  const subscribed = await c.next("SUBSCRIBED") as unknown[];
  assert.equal(subscribed[0], 33, JSON.stringify(subscribed));
  assert.equal(subscribed[1], req);
  return subscribed[2] as number;
}

// ---------------------------------------------------------------------------
// WELCOME

Deno.test(
  "v1 WELCOME: the first frame is [0, sessionId as a string of digits, 1, serverIdent] over subprotocol wamp",
  scenario(async ({ server }) => {
    const a = await RawClient.open(server.wsUrl, "wamp");
    const b = await RawClient.open(server.wsUrl, ["wamp"]);
    try {
      assert.equal(a.ws.protocol, "wamp");
      assert.equal(b.ws.protocol, "wamp");
      const wa = await a.next("WELCOME") as unknown[];
      const wb = await b.next("WELCOME") as unknown[];
      for (const w of [wa, wb]) {
        assert.equal(w.length, 4, JSON.stringify(w));
        assert.equal(w[0], WELCOME);
        assert.equal(typeof w[1], "string");
        assert.match(w[1] as string, /^[0-9]+$/);
        assert.notEqual(Number(w[1]), 0);
        assert.equal(w[2], 1, "protocol version 1");
        assert.equal(typeof w[3], "string");
        assert.ok((w[3] as string).length > 0, "server ident is not empty");
        assert.equal(w[3], server.router.agent);
      }
      assert.notEqual(wa[1], wb[1], "each connection has its own session id");
      await barrier(a, "WELCOME is the only frame sent unasked");
    } finally {
      await a.close();
      await b.close();
    }
  }),
);

// ---------------------------------------------------------------------------
// PREFIX and CURIEs

Deno.test(
  "v1 PREFIX: a CURIE resolves by plain concatenation; SUBSCRIBE msg:messages subscribes push.tutorial.messages",
  scenario(async ({ server, v1 }) => {
    const sub = await v1();
    const pub = await v1();
    sub.client.send([PREFIX, "msg", "push.tutorial."]);
    await v1Subscribe(sub.client, "msg:messages");
    const broker = server.router.defaultRealm.broker;
    assert.ok(broker.subscription(MESSAGES_TOPIC), "subscribed under the resolved URI");
    assert.equal(broker.subscription("msg:messages"), undefined);
    assert.equal(broker.subscription("push.tutorial.#messages"), undefined, "no Ratchet-style '#'");

    pub.client.send([PUBLISH, MESSAGES_TOPIC, { body: "hola" }]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, { body: "hola" }], "EVENT carries the full URI");

    // The subscriber may publish with the CURIE too; the EVENT still names the full URI.
    sub.client.send([PUBLISH, "msg:messages", "own"]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, "own"]);
  }),
);

Deno.test(
  "v1 PREFIX: CALL with a CURIE procedure (calc:areaCuadrado) calls push.tutorial.areaCuadrado",
  scenario(async ({ v1 }) => {
    const c = await v1();
    c.client.send([PREFIX, "calc", "push.tutorial."]);
    await expectResult(c.client, "calc:areaCuadrado", ["4", "4"], 16);
  }),
);

Deno.test(
  "v1 PREFIX: redefining a prefix replaces its URI",
  scenario(async ({ server, v1 }) => {
    const c = await v1();
    c.client.send([PREFIX, "p", "com.example.first."]);
    c.client.send([PREFIX, "p", "push.tutorial."]);
    await v1Subscribe(c.client, "p:messages");
    const broker = server.router.defaultRealm.broker;
    assert.ok(broker.subscription(MESSAGES_TOPIC));
    assert.equal(broker.subscription("com.example.first.messages"), undefined);
  }),
);

Deno.test(
  "v1 PREFIX: a CURIE with an undefined prefix is taken as a full URI",
  scenario(async ({ server, v1 }) => {
    const sub = await v1();
    const pub = await v1();
    await v1Subscribe(sub.client, "other:topic");
    assert.ok(server.router.defaultRealm.broker.subscription("other:topic"));
    pub.client.send([PUBLISH, "other:topic", 1]);
    await expectNext(sub.client, [EVENT, "other:topic", 1]);

    // A CALL with an undefined prefix names a procedure "nope:areaCuadrado", which nobody offers.
    const answer = await v1Call(sub.client, "nope:areaCuadrado", 1, 1);
    assertCallError(answer, NO_SUCH_PROCEDURE);
  }),
);

Deno.test(
  "v1 PREFIX: prefixes are per connection; another connection's prefix does not apply",
  scenario(async ({ server, v1 }) => {
    const a = await v1();
    const b = await v1();
    a.client.send([PREFIX, "msg", "push.tutorial."]);
    a.client.send([PREFIX, "calc", "push.tutorial."]);
    await barrier(a.client);
    await v1Subscribe(b.client, "msg:messages");
    const broker = server.router.defaultRealm.broker;
    assert.ok(broker.subscription("msg:messages"), "b's msg:messages is a literal URI");
    assert.equal(broker.subscription(MESSAGES_TOPIC), undefined);

    // a publishes on push.tutorial.messages: b is not subscribed to it.
    a.client.send([PUBLISH, "msg:messages", "for a's topic"]);
    await barrier(a.client);
    await barrier(b.client, "b got no event for push.tutorial.messages");

    // A third connection without prefixes reaches b's literal topic.
    const c = await v1();
    c.client.send([PUBLISH, "msg:messages", "literal"]);
    await expectNext(b.client, [EVENT, "msg:messages", "literal"]);

    // b cannot use a's calc prefix either.
    assertCallError(await v1Call(b.client, "calc:areaCuadrado", 2, 2), NO_SUCH_PROCEDURE);
  }),
);

Deno.test(
  "v1 PREFIX: more than 256 prefixes on one connection close it with 1007; redefining one at the limit does not",
  scenario(async ({ v1 }) => {
    const c = await v1();
    for (let i = 0; i < 256; i++) c.client.send([PREFIX, `p${i}`, `com.example.p${i}.`]);
    c.client.send([PREFIX, "p0", "push.tutorial."]);
    await expectResult(c.client, "p0:areaCuadrado", [2, 3], 6);
    c.client.send([PREFIX, "one-too-many", "com.example."]);
    assert.equal((await c.client.closeEvent()).code, 1007);
  }),
);

// ---------------------------------------------------------------------------
// CALL

Deno.test(
  "v1 CALL: areaCuadrado answers CALLRESULT [3, callId, area] for numeric strings and numbers",
  scenario(async ({ v1 }) => {
    const c = await v1();
    c.client.send([CALL, "s", AREA_PROCEDURE, "4", "4"]);
    await expectNext(c.client, [CALLRESULT, "s", 16]);
    c.client.send([CALL, "n", AREA_PROCEDURE, 3, 5]);
    await expectNext(c.client, [CALLRESULT, "n", 15]);
    c.client.send([CALL, "f", AREA_PROCEDURE, 2.5, 4]);
    await expectNext(c.client, [CALLRESULT, "f", 10]);
    c.client.send([CALL, "mixed", AREA_PROCEDURE, "3", 7]);
    await expectNext(c.client, [CALLRESULT, "mixed", 21]);
  }),
);

Deno.test(
  "v1 CALL: a call id may be used again once its call has been answered",
  scenario(async ({ v1 }) => {
    const c = await v1();
    c.client.send([CALL, "same", AREA_PROCEDURE, 2, 2]);
    await expectNext(c.client, [CALLRESULT, "same", 4]);
    c.client.send([CALL, "same", AREA_PROCEDURE, 3, 3]);
    await expectNext(c.client, [CALLRESULT, "same", 9]);
  }),
);

Deno.test(
  "v1 CALL: bad input to areaCuadrado answers CALLERROR wamp.error.invalid_argument with a readable desc",
  scenario(async ({ v1 }) => {
    const c = await v1();
    const bad: unknown[][] = [
      ["abc", "4"],
      ["4", "abc"],
      ["", "4"],
      ["4"],
      ["1", "2", "3"],
      [],
      [-1, 2],
      [null, 2],
      [{}, 2],
    ];
    for (const args of bad) {
      const answer = await v1Call(c.client, AREA_PROCEDURE, ...args);
      assertCallError(answer, INVALID_ARGUMENT);
      assert.equal(answer.length, 4, `no errorDetails for a one-argument error: ${JSON.stringify(answer)}`);
    }
    await barrier(c.client, "the socket stays usable after CALLERRORs");
  }),
);

Deno.test(
  "v1 CALL: an unknown procedure answers CALLERROR wamp.error.no_such_procedure (never silence)",
  scenario(async ({ v1 }) => {
    const c = await v1();
    const answer = await v1Call(c.client, "com.example.nobody", 1);
    const desc = assertCallError(answer, NO_SUCH_PROCEDURE);
    assert.match(desc, /com\.example\.nobody/);
    assertCallError(await v1Call(c.client, "wamp.nothing.here"), NO_SUCH_PROCEDURE);
  }),
);

Deno.test(
  "v1 CALL: an invalid procedure URI answers CALLERROR wamp.error.invalid_uri and keeps the socket",
  scenario(async ({ v1 }) => {
    const c = await v1();
    for (const uri of ["bad uri", "push..tutorial", "", ".x", "x.", "a#b"]) {
      assertCallError(await v1Call(c.client, uri), INVALID_URI);
    }
    await barrier(c.client);
  }),
);

// ---------------------------------------------------------------------------
// SUBSCRIBE / UNSUBSCRIBE

Deno.test(
  "v1 SUBSCRIBE: subscribing twice is harmless and yields one EVENT per publish",
  scenario(async ({ v1 }) => {
    const sub = await v1();
    const pub = await v1();
    sub.client.send([SUBSCRIBE, MESSAGES_TOPIC]);
    await v1Subscribe(sub.client, MESSAGES_TOPIC);
    pub.client.send([PUBLISH, MESSAGES_TOPIC, "one"]);
    pub.client.send([PUBLISH, MESSAGES_TOPIC, "two"]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, "one"]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, "two"], "no duplicate of 'one'");
    await barrier(sub.client, "no duplicate of 'two'");
  }),
);

Deno.test(
  "v1 UNSUBSCRIBE: after UNSUBSCRIBE no more events arrive, and repeating it is harmless",
  scenario(async ({ server, v1 }) => {
    const broker = server.router.defaultRealm.broker;
    const topics = broker.topicCount;
    const sub = await v1();
    const pub = await v1();
    await v1Subscribe(sub.client, MESSAGES_TOPIC);
    pub.client.send([PUBLISH, MESSAGES_TOPIC, "before"]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, "before"]);

    sub.client.send([UNSUBSCRIBE, MESSAGES_TOPIC]);
    sub.client.send([UNSUBSCRIBE, MESSAGES_TOPIC]);
    await barrier(sub.client, "UNSUBSCRIBE has no answer in v1");
    assert.equal(broker.topicCount, topics);
    assert.equal(broker.subscription(MESSAGES_TOPIC), undefined);

    pub.client.send([PUBLISH, MESSAGES_TOPIC, "after"]);
    await barrier(pub.client);
    await barrier(sub.client, "no EVENT after UNSUBSCRIBE");
  }),
);

Deno.test(
  "v1 UNSUBSCRIBE: unsubscribing a topic never subscribed is harmless and leaves other subscriptions",
  scenario(async ({ server, v1 }) => {
    const c = await v1();
    const other = await v1();
    await v1Subscribe(c.client, MESSAGES_TOPIC);
    await v1Subscribe(other.client, "com.example.kept");
    c.client.send([UNSUBSCRIBE, "com.example.never"]);
    c.client.send([UNSUBSCRIBE, "com.example.kept"]);
    await barrier(c.client, "the socket stays open");
    const broker = server.router.defaultRealm.broker;
    assert.ok(broker.subscription("com.example.kept")?.subscribers.size === 1, "other's subscription kept");
    other.client.send([PUBLISH, MESSAGES_TOPIC, "still subscribed"]);
    await expectNext(c.client, [EVENT, MESSAGES_TOPIC, "still subscribed"]);
  }),
);

Deno.test(
  "v1 SUBSCRIBE: when the socket closes, its subscriptions are gone (topicCount, subscriberCount back to baseline)",
  scenario(async ({ server, baseline, v1 }) => {
    const broker = server.router.defaultRealm.broker;
    const topics = broker.topicCount;
    const subscribers = broker.subscriberCount;
    const c = await v1();
    c.client.send([PREFIX, "t", "com.example.t"]);
    for (const t of [MESSAGES_TOPIC, "com.example.a", "t:1", "t:2"]) c.client.send([SUBSCRIBE, t]);
    await barrier(c.client);
    assert.equal(broker.topicCount, topics + 4);
    assert.equal(broker.subscriberCount, subscribers + 1);
    await c.client.close();
    await waitUntil(
      () => broker.topicCount === topics && broker.subscriberCount === subscribers,
      "the broker to forget the closed session",
    );
    await waitUntil(() => server.router.sessionCount === baseline, "the session to be released");
  }),
);

// ---------------------------------------------------------------------------
// PUBLISH

Deno.test(
  "v1 PUBLISH [7, topic, event]: the publisher also receives it (excludeMe defaults to false)",
  scenario(async ({ v1 }) => {
    const a = await v1();
    const b = await v1();
    await v1Subscribe(a.client, MESSAGES_TOPIC);
    await v1Subscribe(b.client, MESSAGES_TOPIC);
    a.client.send([PUBLISH, MESSAGES_TOPIC, { body: "x" }]);
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, { body: "x" }]);
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, { body: "x" }]);
  }),
);

Deno.test(
  "v1 PUBLISH [7, topic, event, true] excludes the publisher; [.., false] includes it",
  scenario(async ({ v1 }) => {
    const a = await v1();
    const b = await v1();
    await v1Subscribe(a.client, MESSAGES_TOPIC);
    await v1Subscribe(b.client, MESSAGES_TOPIC);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "excluded", true]);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "included", false]);
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "included"], "the excludeMe=true event was not sent");
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "excluded"]);
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "included"]);
  }),
);

Deno.test(
  "v1 PUBLISH [7, topic, event, [sid]] excludes the listed session, and only it",
  scenario(async ({ v1 }) => {
    const a = await v1();
    const b = await v1();
    const c = await v1();
    for (const x of [a, b, c]) await v1Subscribe(x.client, MESSAGES_TOPIC);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "X", [b.session]]);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "M"]);
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "M"], "b was excluded from X");
    await expectNext(c.client, [EVENT, MESSAGES_TOPIC, "X"]);
    await expectNext(c.client, [EVENT, MESSAGES_TOPIC, "M"]);
    await expectNext(
      a.client,
      [EVENT, MESSAGES_TOPIC, "X"],
      "an exclude list does not exclude the publisher",
    );
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "M"]);

    // Listing the publisher itself excludes it; unknown ids exclude nobody.
    a.client.send([PUBLISH, MESSAGES_TOPIC, "Y", [a.session, "123", "not-an-id"]]);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "N"]);
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "N"]);
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "Y"]);
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "N"]);
  }),
);

Deno.test(
  "v1 PUBLISH [7, topic, event, [], [sid]] reaches only the eligible session",
  scenario(async ({ v1 }) => {
    const a = await v1();
    const b = await v1();
    const c = await v1();
    for (const x of [a, b, c]) await v1Subscribe(x.client, MESSAGES_TOPIC);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "only c", [], [c.session]]);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "M"]);
    await expectNext(c.client, [EVENT, MESSAGES_TOPIC, "only c"]);
    await expectNext(c.client, [EVENT, MESSAGES_TOPIC, "M"]);
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "M"], "the publisher is not eligible");
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "M"], "b is not eligible");

    // exclude wins over eligible; an eligible list of unknown ids reaches nobody.
    a.client.send([PUBLISH, MESSAGES_TOPIC, "nobody", [c.session], [c.session]]);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "nobody either", [], ["42"]]);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "N"]);
    for (const x of [a, b, c]) await expectNext(x.client, [EVENT, MESSAGES_TOPIC, "N"]);
  }),
);

Deno.test(
  "v1 PUBLISH: event payloads of every JSON type arrive unchanged",
  scenario(async ({ v1 }) => {
    const sub = await v1();
    const pub = await v1();
    await v1Subscribe(sub.client, MESSAGES_TOPIC);
    const payloads: unknown[] = [
      null,
      0,
      -7,
      3.25,
      "",
      "texto con ñ y €",
      true,
      false,
      {},
      { body: "hola", details: ["a", 1, null], nested: { deep: [{}] } },
      [],
      [1, "two", [3], { four: 4 }],
      { args: [1, 2], kwargs: { k: 1 } },
    ];
    for (const p of payloads) pub.client.send([PUBLISH, MESSAGES_TOPIC, p]);
    for (const p of payloads) await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, p]);
  }),
);

Deno.test(
  "v1 PUBLISH to a topic nobody subscribes is silently dropped",
  scenario(async ({ v1 }) => {
    const c = await v1();
    c.client.send([PUBLISH, "com.example.empty", 1]);
    await barrier(c.client);
  }),
);

// ---------------------------------------------------------------------------
// Interop: pub/sub

Deno.test(
  "interop v1 → v2: a v1 PUBLISH of E reaches a v2 subscriber as args [E] and empty kwargs",
  scenario(async ({ v1, v2, rawV2 }) => {
    const abSub = await v2();
    const got = await collect(abSub.session, MESSAGES_TOPIC);
    const raw = await rawV2();
    const subId = await rawV2Subscribe(raw.client, MESSAGES_TOPIC);
    const pub = await v1();
    const payloads: unknown[] = [{ body: "hola", details: [1] }, null, [1, 2], "s", 5];
    for (const p of payloads) pub.client.send([PUBLISH, MESSAGES_TOPIC, p]);
    await waitUntil(() => got.length === payloads.length, "autobahn to receive every event");
    assert.deepEqual(got, payloads.map((p) => ({ args: [p], kwargs: {} })));
    for (const p of payloads) {
      const ev = await raw.client.next("raw v2 EVENT") as unknown[];
      assert.equal(ev[0], 36);
      assert.equal(ev[1], subId);
      assert.equal(typeof ev[2], "number");
      assert.deepEqual(ev[3], {});
      assert.deepEqual(ev.slice(4), [[p]], "args [E] and no kwargs element");
    }
  }),
);

Deno.test(
  "interop v2 → v1: args [E] arrive as E; several args or kwargs as {args, kwargs}; no payload as null",
  scenario(async ({ v1, v2 }) => {
    const sub = await v1();
    await v1Subscribe(sub.client, MESSAGES_TOPIC);
    const { session } = await v2();
    const ack = { acknowledge: true };
    const cases: [unknown[] | undefined, Record<string, unknown> | undefined, unknown][] = [
      [[{ body: "x" }], undefined, { body: "x" }],
      [[{ body: "x" }], {}, { body: "x" }],
      [["s"], undefined, "s"],
      [[null], undefined, null],
      [[[1, 2]], undefined, [1, 2]],
      [["a", "b"], undefined, { args: ["a", "b"] }],
      [[1, 2, 3], {}, { args: [1, 2, 3] }],
      [["a"], { k: 1 }, { args: ["a"], kwargs: { k: 1 } }],
      [[], { k: "v" }, { args: [], kwargs: { k: "v" } }],
      [undefined, { k: "v" }, { args: [], kwargs: { k: "v" } }],
      [[], undefined, null],
      [undefined, undefined, null],
    ];
    for (const [args, kwargs, expected] of cases) {
      await session.publish(MESSAGES_TOPIC, args, kwargs, ack);
      await expectNext(
        sub.client,
        [EVENT, MESSAGES_TOPIC, expected],
        `v2 args ${JSON.stringify(args)} kwargs ${JSON.stringify(kwargs)}`,
      );
    }
  }),
);

Deno.test(
  "interop v2 → v1: a raw v2 PUBLISH with args [a, b] and kwargs maps to {args, kwargs}",
  scenario(async ({ v1, rawV2 }) => {
    const sub = await v1();
    await v1Subscribe(sub.client, MESSAGES_TOPIC);
    const p = await rawV2();
    p.client.send([16, 1, {}, MESSAGES_TOPIC, ["a", "b"]]);
    p.client.send([16, 2, {}, MESSAGES_TOPIC, [1], { k: [true] }]);
    p.client.send([16, 3, {}, MESSAGES_TOPIC, [{ only: 1 }]]);
    p.client.send([16, 4, {}, MESSAGES_TOPIC]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, { args: ["a", "b"] }]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, { args: [1], kwargs: { k: [true] } }]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, { only: 1 }]);
    await expectNext(sub.client, [EVENT, MESSAGES_TOPIC, null]);
  }),
);

Deno.test(
  "interop: a v1 PUBLISH with eligible [v2 session id as string] reaches only that v2 session",
  scenario(async ({ v1, v2 }) => {
    const x = await v2();
    const y = await v2();
    const gotX = await collect(x.session, MESSAGES_TOPIC);
    const gotY = await collect(y.session, MESSAGES_TOPIC);
    const a = await v1();
    await v1Subscribe(a.client, MESSAGES_TOPIC);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "only x", [], [String(x.session.id)]]);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "M"]);
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "M"], "the v1 publisher was not eligible");
    await waitUntil(() => gotY.length >= 1 && gotX.length >= 2, "the marker to reach both v2 sessions");
    assert.deepEqual(gotX.map((e) => e.args), [["only x"], ["M"]]);
    assert.deepEqual(gotY.map((e) => e.args), [["M"]]);
  }),
);

Deno.test(
  "interop: a v1 PUBLISH with exclude [v2 session id as string] leaves that v2 session out",
  scenario(async ({ v1, v2 }) => {
    const x = await v2();
    const y = await v2();
    const gotX = await collect(x.session, MESSAGES_TOPIC);
    const gotY = await collect(y.session, MESSAGES_TOPIC);
    const a = await v1();
    a.client.send([PUBLISH, MESSAGES_TOPIC, "not x", [String(x.session.id)]]);
    a.client.send([PUBLISH, MESSAGES_TOPIC, "M", true]);
    await waitUntil(() => gotX.length >= 1 && gotY.length >= 2, "the marker to reach both v2 sessions");
    assert.deepEqual(gotX.map((e) => e.args), [["M"]]);
    assert.deepEqual(gotY.map((e) => e.args), [["not x"], ["M"]]);
  }),
);

Deno.test(
  "interop: a v2 publish with exclude [Number(v1 session id)] leaves that v1 session out (autobahn and raw)",
  scenario(async ({ v1, v2, rawV2 }) => {
    const a = await v1();
    const b = await v1();
    for (const x of [a, b]) await v1Subscribe(x.client, MESSAGES_TOPIC);

    const ab = await v2();
    await ab.session.publish(MESSAGES_TOPIC, ["X"], {}, { acknowledge: true, exclude: [Number(a.session)] });
    await ab.session.publish(MESSAGES_TOPIC, ["M"], {}, { acknowledge: true });
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "M"], "a was excluded from X");
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "X"]);
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "M"]);

    const raw = await rawV2();
    raw.client.send([16, 1, { exclude: [Number(b.session)] }, MESSAGES_TOPIC, ["Y"]]);
    raw.client.send([16, 2, { acknowledge: true }, MESSAGES_TOPIC, ["N"]]);
    const published = await raw.client.next("PUBLISHED") as unknown[];
    assert.equal(published[0], 17, `only the acknowledged publish is answered: ${JSON.stringify(published)}`);
    assert.equal(published[1], 2);
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "N"], "b was excluded from Y");
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "Y"]);
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "N"]);
  }),
);

Deno.test(
  "interop: a v2 publish with eligible [Number(v1 session id)] reaches that v1 session only",
  scenario(async ({ v1, v2 }) => {
    const a = await v1();
    const b = await v1();
    for (const x of [a, b]) await v1Subscribe(x.client, MESSAGES_TOPIC);
    const ab = await v2();
    await ab.session.publish(MESSAGES_TOPIC, [{ to: "a" }], {}, {
      acknowledge: true,
      eligible: [Number(a.session)],
    });
    await ab.session.publish(MESSAGES_TOPIC, ["M"], {}, { acknowledge: true });
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, { to: "a" }]);
    await expectNext(a.client, [EVENT, MESSAGES_TOPIC, "M"]);
    await expectNext(b.client, [EVENT, MESSAGES_TOPIC, "M"], "b was not eligible");
  }),
);

// ---------------------------------------------------------------------------
// Interop: RPC (v1 caller, v2 callee)

Deno.test(
  "interop: a v1 CALL reaches a v2 callee with its args; a single result comes back as the CALLRESULT value",
  scenario(async ({ v1, v2 }) => {
    const callee = await v2();
    const seen: Received[] = [];
    await callee.session.register("com.example.echo", (args: unknown[], kwargs: Record<string, unknown>) => {
      seen.push({ args, kwargs });
      return args.length === 1 ? args[0] : { count: args.length };
    });
    const c = await v1();
    c.client.send([CALL, "e1", "com.example.echo", 1, "two", { three: 3 }, [4], null]);
    await expectNext(c.client, [CALLRESULT, "e1", { count: 5 }]);
    c.client.send([CALL, "e2", "com.example.echo", [1, 2]]);
    await expectNext(c.client, [CALLRESULT, "e2", [1, 2]]);
    c.client.send([CALL, "e3", "com.example.echo", null]);
    await expectNext(c.client, [CALLRESULT, "e3", null]);
    c.client.send([CALL, "e4", "com.example.echo"]);
    await expectNext(c.client, [CALLRESULT, "e4", { count: 0 }]);
    assert.deepEqual(seen, [
      { args: [1, "two", { three: 3 }, [4], null], kwargs: {} },
      { args: [[1, 2]], kwargs: {} },
      { args: [null], kwargs: {} },
      { args: [], kwargs: {} },
    ]);
  }),
);

Deno.test(
  "interop: a v2 callee's several results reach v1 as their array, with kwargs as {args, kwargs}; no result as null",
  scenario(async ({ v1, v2 }) => {
    const callee = await v2();
    const results: Record<string, unknown> = {
      several: new autobahn.Result([1, 2, 3]),
      withKwargs: new autobahn.Result(["a"], { k: "v" }),
      onlyKwargs: new autobahn.Result([], { k: 1 }),
      one: new autobahn.Result([{ x: 1 }]),
      none: new autobahn.Result(),
    };
    await callee.session.register("com.example.multi", (args: unknown[]) => results[args[0] as string]);
    const c = await v1();
    const expected: Record<string, unknown> = {
      several: [1, 2, 3],
      withKwargs: { args: ["a"], kwargs: { k: "v" } },
      onlyKwargs: { args: [], kwargs: { k: 1 } },
      one: { x: 1 },
      none: null,
    };
    for (const [name, value] of Object.entries(expected)) {
      c.client.send([CALL, name, "com.example.multi", name]);
      await expectNext(c.client, [CALLRESULT, name, value], name);
    }
  }),
);

Deno.test(
  "interop: a v2 callee's autobahn.Error reaches v1 as CALLERROR [4, id, uri, desc, details?]",
  scenario(async ({ v1, v2 }) => {
    const callee = await v2();
    const errors: Record<string, unknown> = {
      plain: new autobahn.Error("com.example.oops", ["readable"]),
      moreArgs: new autobahn.Error("com.example.oops", ["readable", 1, { two: 2 }]),
      kwargs: new autobahn.Error("com.example.oops", ["readable", 1], { why: "because" }),
      noArgs: new autobahn.Error("com.example.oops"),
      nonString: new autobahn.Error("com.example.oops", [42]),
    };
    // autobahn reports every error a handler throws; collect them instead of logging them.
    const reported: unknown[] = [];
    callee.session._on_user_error = (e: unknown) => reported.push(e);
    await callee.session.register("com.example.fail", (args: unknown[]) => {
      throw errors[args[0] as string];
    });
    const c = await v1();
    const expected: Record<string, unknown[]> = {
      plain: ["com.example.oops", "readable"],
      moreArgs: ["com.example.oops", "readable", [1, { two: 2 }]],
      kwargs: ["com.example.oops", "readable", { why: "because" }],
      noArgs: ["com.example.oops", "com.example.oops"],
      nonString: ["com.example.oops", "com.example.oops"],
    };
    for (const [name, tail] of Object.entries(expected)) {
      c.client.send([CALL, name, "com.example.fail", name]);
      await expectNext(c.client, [CALLERROR, name, ...tail], name);
    }
    assert.equal(reported.length, Object.keys(errors).length);
  }),
);

Deno.test(
  "interop: a v2 callee leaving (GOODBYE) mid-call answers the v1 caller CALLERROR wamp.error.canceled",
  scenario(async ({ server, v1, v2 }) => {
    const callee = await v2();
    const invoked = Promise.withResolvers<void>();
    await callee.session.register("com.example.slow", () => {
      invoked.resolve();
      return new Promise(() => {});
    });
    const c = await v1();
    c.client.send([CALL, "slow", "com.example.slow"]);
    await within(invoked.promise, "the invocation");
    await callee.close();
    const answer = await c.client.next("CALLERROR") as unknown[];
    assert.equal(answer[1], "slow");
    assertCallError(answer, CANCELED);
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
    assertCallError(await v1Call(c.client, "com.example.slow"), NO_SUCH_PROCEDURE);
  }),
);

Deno.test(
  "interop: a v2 callee's socket closing mid-call answers the v1 caller CALLERROR wamp.error.canceled",
  scenario(async ({ server, v1, rawV2 }) => {
    const callee = await rawV2();
    callee.client.send([64, 1, {}, "com.example.dropped"]);
    const registered = await callee.client.next("REGISTERED") as unknown[];
    assert.equal(registered[0], 65);
    const c = await v1();
    c.client.send([CALL, "d", "com.example.dropped", "arg"]);
    const invocation = await callee.client.next("INVOCATION") as unknown[];
    assert.equal(invocation[0], 68);
    assert.deepEqual(invocation.slice(4), [["arg"]]);
    callee.client.ws.close(); // no GOODBYE
    const answer = await c.client.next("CALLERROR") as unknown[];
    assert.equal(answer[1], "d");
    assertCallError(answer, CANCELED);
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
  }),
);

Deno.test(
  "interop: a v1 caller's socket closing mid-call interrupts a v2 callee that announced call canceling",
  scenario(async ({ server, baseline, v1, rawV2 }) => {
    const callee = await rawV2();
    callee.client.send([64, 1, {}, "com.example.held"]);
    assert.equal((await callee.client.next("REGISTERED") as unknown[])[0], 65);
    const c = await v1();
    c.client.send([CALL, "h", "com.example.held"]);
    const invocation = await callee.client.next("INVOCATION") as unknown[];
    await c.client.close();
    const interrupt = await callee.client.next("INTERRUPT") as unknown[];
    assert.equal(interrupt[0], 69);
    assert.equal(interrupt[1], invocation[1]);
    await waitUntil(() => server.router.defaultRealm.dealer.pendingCount === 0, "the call to be dropped");
    await waitUntil(() => server.router.sessionCount === baseline + 1, "only the callee to remain");
  }),
);

// ---------------------------------------------------------------------------
// Malformed frames

interface Malformed {
  name: string;
  send(c: RawClient): void;
}

const MALFORMED: Malformed[] = [
  { name: "a frame that is not JSON ({oops)", send: (c) => c.send("{oops") },
  { name: "a JSON object instead of an array", send: (c) => c.send({ type: 2 }) },
  { name: "a JSON scalar", send: (c) => c.send("42") },
  { name: "an empty array", send: (c) => c.send([]) },
  { name: "an unknown type id [99]", send: (c) => c.send([99]) },
  { name: 'a type id that is not a number (["5", "t"])', send: (c) => c.send(["5", "t"]) },
  { name: 'the server-only EVENT [8, "t", 1]', send: (c) => c.send([EVENT, "t", 1]) },
  { name: "the server-only WELCOME [0]", send: (c) => c.send([WELCOME]) },
  { name: 'the server-only CALLRESULT [3, "c", 1]', send: (c) => c.send([CALLRESULT, "c", 1]) },
  { name: "SUBSCRIBE with a number topic [5, 42]", send: (c) => c.send([SUBSCRIBE, 42]) },
  { name: "SUBSCRIBE without a topic [5]", send: (c) => c.send([SUBSCRIBE]) },
  { name: "UNSUBSCRIBE with a number topic [6, 1]", send: (c) => c.send([UNSUBSCRIBE, 1]) },
  { name: 'CALL with a number call id [2, 17, "x"]', send: (c) => c.send([CALL, 17, "x"]) },
  { name: 'CALL without a procedure [2, "c"]', send: (c) => c.send([CALL, "c"]) },
  { name: 'CALL with a number procedure [2, "c", 5]', send: (c) => c.send([CALL, "c", 5]) },
  { name: 'PREFIX without a URI [1, "p"]', send: (c) => c.send([PREFIX, "p"]) },
  { name: 'PREFIX with a number URI [1, "p", 2]', send: (c) => c.send([PREFIX, "p", 2]) },
  { name: 'PUBLISH without an event [7, "t"]', send: (c) => c.send([PUBLISH, "t"]) },
  { name: 'PUBLISH with a non-list exclude [7, "t", 1, "x"]', send: (c) => c.send([PUBLISH, "t", 1, "x"]) },
  { name: 'PUBLISH with number session ids [7, "t", 1, [42]]', send: (c) => c.send([PUBLISH, "t", 1, [42]]) },
  {
    name: 'PUBLISH with a non-list eligible [7, "t", 1, [], true]',
    send: (c) => c.send([PUBLISH, "t", 1, [], true]),
  },
  { name: "PUBLISH with six elements", send: (c) => c.send([PUBLISH, "t", 1, [], [], []]) },
  {
    name: 'SUBSCRIBE to an invalid topic URI [5, "bad topic"]',
    send: (c) => c.send([SUBSCRIBE, "bad topic"]),
  },
  { name: "PUBLISH to an invalid topic URI", send: (c) => c.send([PUBLISH, "push..x", 1]) },
  { name: "UNSUBSCRIBE from an invalid topic URI", send: (c) => c.send([UNSUBSCRIBE, "a b"]) },
  { name: 'PUBLISH to a reserved topic [7, "wamp.x", 1]', send: (c) => c.send([PUBLISH, "wamp.x", 1]) },
  { name: "a binary frame", send: (c) => c.ws.send(new Uint8Array([1, 2, 3])) },
];

for (const bad of MALFORMED) {
  Deno.test(
    `v1 malformed: ${bad.name} closes that socket with 1007; an earlier session keeps working`,
    scenario(async ({ server, baseline, v1 }) => {
      const good = await v1();
      const victim = await v1();
      assert.equal(server.router.sessionCount, baseline + 2);
      bad.send(victim.client);
      const closeEvent = await victim.client.closeEvent();
      assert.equal(closeEvent.code, 1007);
      assert.ok(closeEvent.reason.length > 0, "the close carries a reason");
      assert.equal(victim.client.frames.length, 0, `no frame before the close: ${victim.client.frames}`);
      await expectResult(good.client, AREA_PROCEDURE, ["4", "4"], 16);
      await waitUntil(() => server.router.sessionCount === baseline + 1, "the bad session to be released");
      await good.client.close();
      await waitUntil(() => server.router.sessionCount === baseline, "session count back to baseline");
    }),
  );
}

Deno.test(
  "v1 malformed: a call id reused while its call is in flight closes the socket with 1007",
  scenario(async ({ server, baseline, v1, v2 }) => {
    const callee = await v2();
    let invocations = 0;
    await callee.session.register("com.example.hang", () => {
      invocations++;
      return new Promise(() => {});
    });
    const good = await v1();
    const bad = await v1();
    bad.client.send([CALL, "dup", "com.example.hang"]);
    await waitUntil(() => invocations === 1, "the first call to reach the callee");
    bad.client.send([CALL, "dup", "com.example.hang"]);
    assert.equal((await bad.client.closeEvent()).code, 1007);
    assert.equal(invocations, 1, "the reused id was not routed");
    await waitUntil(
      () => server.router.defaultRealm.dealer.pendingCount === 0,
      "the held call to be dropped",
    );
    await expectResult(good.client, AREA_PROCEDURE, [2, 5], 10);
    await waitUntil(() => server.router.sessionCount === baseline + 2, "the bad session to be released");
    await good.client.close();
    await callee.close();
    await waitUntil(() => server.router.sessionCount === baseline, "session count back to baseline");
  }),
);

Deno.test(
  "v1 malformed: a frame over the size limit closes the socket with 1009",
  scenario(async ({ server, baseline, v1 }) => {
    const good = await v1();
    const big = await v1();
    big.client.send([PUBLISH, MESSAGES_TOPIC, "x".repeat(2048)]);
    assert.equal((await big.client.closeEvent()).code, 1009);
    await barrier(good.client);
    await waitUntil(() => server.router.sessionCount === baseline + 1, "the big session to be released");
  }, { maxMessageSize: 1024 }),
);
