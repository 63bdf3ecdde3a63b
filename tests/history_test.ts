/**
 * Event history and retained events: the in-memory store's bounds (count, bytes,
 * age, the realm's total) with a clock of the test's own, then, against the real
 * server, PUBLISH `retain` / SUBSCRIBE `get_retained`, `wamp.subscription.get_events`
 * from v2 (raw frames and autobahn-browser) and from v1 through CALL, and the
 * publishes the history must not keep.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ServerOptions } from "../main.ts";
import { MemoryStore } from "../src/store/memory.ts";
import type { HistoryRule, StoreConfig, StoredEvent } from "../src/store/store.ts";
import { ask, assertNothingQueued, rawSubscribe, rid, type TestClients, withCleanServer } from "./helpers.ts";

const PUBLISH = 16, PUBLISHED = 17, SUBSCRIBE = 32, SUBSCRIBED = 33, EVENT = 36, CALL = 48, RESULT = 50;
const ERROR = 8;
const V1_CALL = 2, V1_CALLRESULT = 3;
const TOPIC = "push.tutorial.messages";

type Frame = unknown[];
type Dict = Record<string, unknown>;

// ---------------------------------------------------------------------------
// The store alone

function rule(uri: string, limit: number, more: Partial<HistoryRule> = {}): HistoryRule {
  return { uri, match: "exact", limit, maxBytes: 0, maxAge: 0, ...more };
}

function store(
  rules: HistoryRule[],
  maxTotalBytes = 1 << 20,
): { store: MemoryStore; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const config: StoreConfig = { type: "memory", eventHistory: rules, maxTotalBytes };
  return { store: new MemoryStore(config, () => clock.now), clock };
}

let nextPublication = 1;
function event(topic: string, text: string, timestamp = 1_000_000): StoredEvent {
  return { topic, publication: nextPublication++, timestamp, details: {}, args: [text] };
}

const texts = (events: StoredEvent[]) => events.map((e) => e.args![0]);
const exact = (uri: string) => ({ uri, match: "exact" as const });

Deno.test("store: a topic keeps its last `limit` events; what falls off is gone, counted as expired", () => {
  const { store: s } = store([rule("a", 3)]);
  for (const t of ["1", "2", "3", "4", "5"]) s.append(event("a", t));
  assert.deepEqual(texts(s.eventsNow(exact("a"), {}).events), ["3", "4", "5"]);
  assert.deepEqual(s.counters, { stored: 5, expired: 2, evicted: 0 });
  assert.equal(s.keeps("b"), false, "a topic no rule matches keeps nothing");
  s.append(event("b", "x"));
  assert.deepEqual(s.eventsNow(exact("b"), {}).events, []);
});

Deno.test("store: max-bytes bounds a topic by the encoded size of its payloads", () => {
  // Each payload [["xxxxxxxx"],{}] encodes to 17 bytes; 40 bytes hold two.
  const { store: s } = store([rule("a", 100, { maxBytes: 40 })]);
  for (const t of ["xxxxxxx1", "xxxxxxx2", "xxxxxxx3"]) s.append(event("a", t));
  assert.deepEqual(texts(s.eventsNow(exact("a"), {}).events), ["xxxxxxx2", "xxxxxxx3"]);
  assert.equal(s.bytes, 34);
});

Deno.test("store: max-age drops events older than the age, also when only read", () => {
  const { store: s, clock } = store([rule("a", 100, { maxAge: 60 })]);
  s.append(event("a", "old", clock.now));
  clock.now += 30_000;
  s.append(event("a", "newer", clock.now));
  clock.now += 40_000; // "old" is 70 s old now, "newer" 40 s
  assert.deepEqual(texts(s.eventsNow(exact("a"), {}).events), ["newer"]);
  assert.equal(s.counters.expired, 1);
});

Deno.test("store: over max-total-bytes the oldest events of the largest history go first, counted as evicted", () => {
  const { store: s } = store([rule("big", 100), rule("small", 100)], 1024);
  s.append(event("small", "s".repeat(100)));
  for (let i = 0; i < 10; i++) s.append(event("big", `${i}`.padEnd(100, "b")));
  assert.ok(s.bytes <= 1024, `under the bound: ${s.bytes}`);
  assert.equal(s.counters.evicted, 2);
  assert.deepEqual(
    texts(s.eventsNow(exact("small"), {}).events).length,
    1,
    "the small history kept its event",
  );
  assert.equal((texts(s.eventsNow(exact("big"), {}).events)[0] as string)[0], "2", "big lost its two oldest");
});

Deno.test("store: after_publication that fell off (or was never seen) answers complete: false with what is kept", () => {
  const { store: s } = store([rule("a", 2)]);
  const first = event("a", "1");
  s.append(first);
  for (const t of ["2", "3"]) s.append(event("a", t));
  const kept = s.eventsNow(exact("a"), {}).events;
  assert.deepEqual(s.eventsNow(exact("a"), { afterPublication: kept[0].publication }), {
    events: [kept[1]],
    complete: true,
  });
  const gone = s.eventsNow(exact("a"), { afterPublication: first.publication });
  assert.deepEqual(gone, { events: kept, complete: false });
  assert.equal(s.eventsNow(exact("a"), { afterPublication: 424242 }).complete, false);
});

Deno.test("store: a pattern reads every matching topic's history in the order received; limit, reverse, topic, times", () => {
  const { store: s, clock } = store([{ ...rule("p.", 100), match: "prefix" }]);
  s.append(event("p.a", "a1", clock.now));
  s.append(event("p.b", "b1", clock.now + 1));
  s.append(event("p.a", "a2", clock.now + 2));
  const prefix = { uri: "p.", match: "prefix" as const };
  assert.deepEqual(texts(s.eventsNow(prefix, {}).events), ["a1", "b1", "a2"]);
  assert.deepEqual(texts(s.eventsNow(prefix, { reverse: true, limit: 2 }).events), ["a2", "b1"]);
  assert.deepEqual(texts(s.eventsNow(prefix, { topic: "p.a" }).events), ["a1", "a2"]);
  assert.deepEqual(texts(s.eventsNow(prefix, { fromTime: clock.now + 1 }).events), ["b1", "a2"]);
  assert.deepEqual(texts(s.eventsNow(prefix, { untilTime: clock.now + 1 }).events), ["a1", "b1"]);
  assert.deepEqual(
    texts(s.eventsNow({ uri: "p..", match: "wildcard" }, {}).events),
    [],
    "p.. needs three parts",
  );
});

// ---------------------------------------------------------------------------
// Against the server

/** A server whose realm keeps 5 events of every `hist.` topic. */
const HISTORY: ServerOptions = {
  store: { type: "memory", eventHistory: [{ ...rule("hist.", 5), match: "prefix" }], maxTotalBytes: 1 << 20 },
};

function test(name: string, fn: (ctx: TestClients) => Promise<void>, options: ServerOptions = HISTORY): void {
  Deno.test(name, () => withCleanServer(options, fn));
}

async function publish(
  c: { send(f: Frame): void; next(what: string): Promise<unknown> },
  topic: string,
  args: unknown[],
  options: Dict = {},
): Promise<number> {
  const r = rid();
  c.send([PUBLISH, r, { acknowledge: true, ...options }, topic, args]);
  const f = await c.next(`PUBLISHED ${topic}`) as Frame;
  assert.deepEqual(f.slice(0, 2), [PUBLISHED, r], JSON.stringify(f));
  return f[2] as number;
}

async function getEvents(
  c: Parameters<typeof ask>[0],
  subscription: number,
  kwargs: Dict = {},
): Promise<Frame> {
  const r = rid();
  const f = await ask(c, [CALL, r, {}, "wamp.subscription.get_events", [subscription], kwargs]);
  assert.equal(f[0] === ERROR ? f[2] : f[1], r, `the answer to get_events: ${JSON.stringify(f)}`);
  return f;
}

test("retain: SUBSCRIBE get_retained gets the topic's last retained event first, details.retained; the next retained publish replaces it", async ({ v2 }) => {
  const pub = (await v2()).client;
  await publish(pub, "hist.r", ["first"], { retain: true });
  await publish(pub, "hist.r", ["not retained"]);
  const sub = (await v2()).client;
  const r = rid();
  const subscribed = await ask(sub, [SUBSCRIBE, r, { get_retained: true }, "hist.r"]);
  assert.deepEqual(subscribed.slice(0, 2), [SUBSCRIBED, r]);
  const retained = await sub.next("the retained event") as Frame;
  assert.deepEqual(retained.slice(0, 2), [EVENT, subscribed[2]]);
  assert.deepEqual(retained[3], { retained: true });
  assert.deepEqual(retained[4], ["first"]);

  await publish(pub, "hist.r", ["second"], { retain: true });
  assert.deepEqual((await sub.next("live second") as Frame)[4], ["second"]);
  const late = (await v2()).client;
  await ask(late, [SUBSCRIBE, rid(), { get_retained: true }, "hist.r"]);
  assert.deepEqual((await late.next("the new retained event") as Frame)[4], ["second"]);
  const plain = (await v2()).client;
  await rawSubscribe(plain, "hist.r");
  await assertNothingQueued(plain, "no retained event without get_retained");
});

test("retain: a retained event is not shown to a subscriber its publish excluded; that one gets the last it may see", async ({ v2 }) => {
  const pub = (await v2()).client;
  const shut = await v2();
  await publish(pub, "hist.x", ["secret"], { retain: true, exclude: [shut.session] });
  await ask(shut.client, [SUBSCRIBE, rid(), { get_retained: true }, "hist.x"]);
  await assertNothingQueued(shut.client, "the excluded session gets no retained event");
  const other = (await v2()).client;
  await ask(other, [SUBSCRIBE, rid(), { get_retained: true }, "hist.x"]);
  assert.deepEqual((await other.next("retained for the others") as Frame)[4], ["secret"]);

  await publish(pub, "hist.y", ["for everyone"], { retain: true });
  await publish(pub, "hist.y", ["not for shut"], { retain: true, exclude: [shut.session] });
  await ask(shut.client, [SUBSCRIBE, rid(), { get_retained: true }, "hist.y"]);
  assert.deepEqual((await shut.client.next("the last one shut may see") as Frame)[4], ["for everyone"]);
  await ask(other, [SUBSCRIBE, rid(), { get_retained: true }, "hist.y"]);
  assert.deepEqual((await other.next("the newest for the others") as Frame)[4], ["not for shut"]);
  await assertNothingQueued(other, "one retained event per topic");

  await publish(pub, "hist.z", ["old"], { retain: true });
  await publish(pub, "hist.z", ["new, for everyone"], { retain: true });
  const late = (await v2()).client;
  await ask(late, [SUBSCRIBE, rid(), { get_retained: true }, "hist.z"]);
  assert.deepEqual((await late.next("the newest") as Frame)[4], ["new, for everyone"]);
  await assertNothingQueued(late, "an event everyone may see replaced the older one");
});

test("retain: a prefix subscription with get_retained gets every matching topic's retained event, with details.topic", async ({ v2 }) => {
  const pub = (await v2()).client;
  await publish(pub, "hist.p.one", [1], { retain: true });
  await publish(pub, "hist.p.two", [2], { retain: true });
  await publish(pub, "other.p.three", [3], { retain: true });
  const sub = (await v2()).client;
  await ask(sub, [SUBSCRIBE, rid(), { match: "prefix", get_retained: true }, "hist.p."]);
  const got = [await sub.next("one"), await sub.next("two")] as Frame[];
  assert.deepEqual(
    got.map((f) => [f[3], f[4]]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    [
      [{ topic: "hist.p.one", retained: true }, [1]],
      [{ topic: "hist.p.two", retained: true }, [2]],
    ],
  );
  await assertNothingQueued(sub, "nothing retained from other.p.three");
});

test("get_events: the last events of a subscription the caller holds, oldest first or reversed, limited; complete", async ({ v2 }) => {
  const pub = (await v2()).client;
  const ids: number[] = [];
  for (let i = 1; i <= 7; i++) ids.push(await publish(pub, "hist.a", [`m${i}`], { disclose_me: true }));
  const sub = (await v2()).client;
  const s = await rawSubscribe(sub, "hist.a");
  const all = await getEvents(sub, s);
  assert.equal(all[0], RESULT);
  const events = (all[3] as Dict[][])[0];
  assert.deepEqual(events.map((e) => (e.args as string[])[0]), ["m3", "m4", "m5", "m6", "m7"], "the last 5");
  assert.deepEqual(events.map((e) => e.publication), ids.slice(2));
  assert.equal(events[0].subscription, s);
  assert.equal(typeof events[0].timestamp, "string");
  assert.ok(!Number.isNaN(Date.parse(events[0].timestamp as string)));
  assert.equal((events[0].details as Dict).publisher_authrole, "anonymous", "the details the EVENT had");
  assert.equal((all[4] as Dict).complete, true);
  const since = Date.parse((all[4] as Dict).since as string);
  assert.ok(since <= Date.now() && since > Date.now() - 60_000, "since: when this server's store started");

  const last2 = await getEvents(sub, s, { limit: 2, reverse: true });
  assert.deepEqual((last2[3] as Dict[][])[0].map((e) => (e.args as string[])[0]), ["m7", "m6"]);
  const after = await getEvents(sub, s, { after_publication: ids[4] });
  assert.deepEqual((after[3] as Dict[][])[0].map((e) => (e.args as string[])[0]), ["m6", "m7"]);
  assert.equal((after[4] as Dict).complete, true);
  const fellOff = await getEvents(sub, s, { after_publication: ids[0] });
  assert.deepEqual((fellOff[3] as Dict[][])[0].length, 5);
  assert.equal((fellOff[4] as Dict).complete, false, "m1 fell off the history");
});

test("get_events: a pattern subscription reads the history of every topic it covers, details.topic set", async ({ v2 }) => {
  const pub = (await v2()).client;
  await publish(pub, "hist.w.a.x", ["ax"]);
  await publish(pub, "hist.w.b.x", ["bx"]);
  await publish(pub, "hist.w.b.y", ["by"]);
  const sub = (await v2()).client;
  const r = rid();
  const s = (await ask(sub, [SUBSCRIBE, r, { match: "wildcard" }, "hist.w..x"]))[2] as number;
  const events = ((await getEvents(sub, s))[3] as Dict[][])[0];
  assert.deepEqual(events.map((e) => [(e.details as Dict).topic, e.args]), [["hist.w.a.x", ["ax"]], [
    "hist.w.b.x",
    ["bx"],
  ]]);
});

test("get_events: publishes with black- or whitelists are not kept (the spec's rule); topics without a rule keep nothing", async ({ v2 }) => {
  const pub = await v2();
  const sub = (await v2()).client;
  await publish(pub.client, "hist.l", ["kept"]);
  await publish(pub.client, "hist.l", ["listed"], { exclude: [pub.session] });
  await publish(pub.client, "hist.l", ["by role"], { eligible_authrole: ["anonymous"] });
  await publish(pub.client, "nohist.l", ["untracked"]);
  const s = await rawSubscribe(sub, "hist.l");
  assert.deepEqual(((await getEvents(sub, s))[3] as Dict[][])[0].map((e) => e.args), [["kept"]]);
  const n = await rawSubscribe(sub, "nohist.l");
  assert.deepEqual((await getEvents(sub, n))[3], [[]]);
});

test("get_events: a subscription the caller does not hold is wamp.error.no_such_subscription; bad options invalid_argument", async ({ v2 }) => {
  const owner = (await v2()).client;
  const other = (await v2()).client;
  const s = await rawSubscribe(owner, "hist.o");
  const f = await getEvents(other, s);
  assert.deepEqual([f[0], f[4]], [ERROR, "wamp.error.no_such_subscription"]);
  for (
    const bad of [{ limit: 0 }, { limit: "5" }, { reverse: 1 }, { after_publication: -3 }, {
      from_time: "yesterday",
    }, { colour: "red" }]
  ) {
    const g = await getEvents(owner, s, bad);
    assert.deepEqual([g[0], g[4]], [ERROR, "wamp.error.invalid_argument"], JSON.stringify(bad));
  }
});

test(
  "get_events from v1: wamp.subscription.lookup finds the subscription, get_events reads it through CALL",
  async ({ v1, v2 }) => {
    const pub = (await v2()).client;
    await publish(pub, TOPIC, [{ body: "before" }]);
    const old = (await v1()).client;
    old.send([5, TOPIC]);
    old.send([V1_CALL, "look", "wamp.subscription.lookup", TOPIC]);
    const [, , id] = await old.next("lookup result") as Frame;
    assert.equal(typeof id, "number");
    old.send([V1_CALL, "hist", "wamp.subscription.get_events", id, { limit: 10 }]);
    const got = await old.next("get_events result") as Frame;
    assert.equal(got[0], V1_CALLRESULT);
    // v1 has no keyword results: the v2 result (args [events], kwargs) arrives as {args, kwargs}.
    const result = got[2] as { args: Dict[][]; kwargs: Dict };
    assert.deepEqual(result.args[0].map((e) => e.args), [[{ body: "before" }]]);
    assert.equal(result.kwargs.complete, true);
  },
  {},
);

test(
  "get_events through autobahn-browser: the push server keeps push.tutorial.messages by default",
  async ({ autobahn }) => {
    const a = await autobahn();
    for (const body of ["uno", "dos"]) {
      await a.session.publish(TOPIC, [{ body }], {}, { acknowledge: true });
    }
    const b = await autobahn();
    const sub = await b.session.subscribe(TOPIC, () => {});
    const res = await b.session.call("wamp.subscription.get_events", [sub.id], { limit: 50, reverse: true });
    assert.deepEqual(res.args[0].map((e: Dict) => (e.args as Dict[])[0].body), ["dos", "uno"]);
    assert.equal(res.kwargs.complete, true);
  },
  {},
);
