/**
 * WAMP v2 end to end: autobahn-browser as the ordinary client, raw frames where a
 * rule is about exactly what goes over the wire (or what does not).
 *
 * Proving that nothing was sent, without sleeping: every frame a session receives
 * arrives in order, and the router handles one connection's frames in order. So we
 * send a harmless request ("ping": UNSUBSCRIBE of an id that can never exist) and
 * assert that the very next frame is its reply. Anything the router had sent
 * before would have come first.
 */

import assert from "node:assert/strict";
import type { RunningServer } from "../main.ts";
import { pushApp } from "../push.ts";
import { META_PROCEDURES } from "../src/realm/meta.ts";
import {
  assertNothingQueued,
  autobahn,
  type AutobahnSession,
  connectV2,
  RawClient,
  rawV2,
  type V2Client,
  waitUntil,
  within,
  withServer,
} from "./helpers.ts";

// ---------------------------------------------------------------------------
// Local helpers

type Frame = unknown[];
type Dict = Record<string, unknown>;

const MAX_ID = 2 ** 53;
/** A subscription id the broker will never hand out (its ids count up from 1). */
const NEVER_AN_ID = MAX_ID;

const HELLO = 1, WELCOME = 2, ABORT = 3, GOODBYE = 6, ERROR = 8;
const PUBLISH = 16, PUBLISHED = 17, SUBSCRIBE = 32, SUBSCRIBED = 33, UNSUBSCRIBE = 34, UNSUBSCRIBED = 35;
const EVENT = 36, CALL = 48, CANCEL = 49, RESULT = 50, REGISTER = 64, REGISTERED = 65;
const UNREGISTER = 66, UNREGISTERED = 67, INVOCATION = 68, INTERRUPT = 69, YIELD = 70;

const AREA = "push.tutorial.areaCuadrado";

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_ID;
}

function isDict(v: unknown): v is Dict {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

let lastRequest = 0;
/** A fresh request id for raw frames. */
function req(): number {
  return ++lastRequest;
}

/** The next frame on `c`, which must be a JSON array. */
async function next(c: RawClient, what: string): Promise<Frame> {
  const f = await c.next(what);
  assert.ok(Array.isArray(f), `expected a WAMP message for ${what}, got ${JSON.stringify(f)}`);
  return f;
}

async function rawSubscribe(c: RawClient, topic: string): Promise<number> {
  const r = req();
  c.send([SUBSCRIBE, r, {}, topic]);
  const f = await next(c, `SUBSCRIBED for ${topic}`);
  assert.equal(f.length, 3, `SUBSCRIBED frame: ${JSON.stringify(f)}`);
  assert.equal(f[0], SUBSCRIBED);
  assert.equal(f[1], r);
  assert.ok(isId(f[2]), `subscription id ${f[2]}`);
  return f[2] as number;
}

async function rawRegister(c: RawClient, procedure: string): Promise<number> {
  const r = req();
  c.send([REGISTER, r, {}, procedure]);
  const f = await next(c, `REGISTERED for ${procedure}`);
  assert.equal(f.length, 3, `REGISTERED frame: ${JSON.stringify(f)}`);
  assert.equal(f[0], REGISTERED);
  assert.equal(f[1], r);
  assert.ok(isId(f[2]), `registration id ${f[2]}`);
  return f[2] as number;
}

/** Sends CALL; returns its request id. */
function rawCall(c: RawClient, procedure: string, args: unknown[] = [], options: Dict = {}): number {
  const r = req();
  c.send([CALL, r, options, procedure, args]);
  return r;
}

/** Reads the next frame, which must be an INVOCATION of `registration`; returns it. */
async function expectInvocation(c: RawClient, registration: number): Promise<Frame> {
  const f = await next(c, "INVOCATION");
  assert.equal(f[0], INVOCATION, `expected INVOCATION, got ${JSON.stringify(f)}`);
  assert.ok(isId(f[1]), `invocation request id ${f[1]}`);
  assert.equal(f[2], registration);
  assert.ok(isDict(f[3]));
  return f;
}

/** Reads the next frame, which must be ERROR for the request `request` of type `type` with `uri`. */
async function expectError(c: RawClient, type: number, request: number, uri: string): Promise<Frame> {
  const f = await next(c, `ERROR ${uri}`);
  assert.deepEqual(f.slice(0, 5), [ERROR, type, request, {}, uri], `got ${JSON.stringify(f)}`);
  return f;
}

/** Everything a test opens, closed at the end whatever happens. */
class Clients {
  #open: { close(): Promise<void> }[] = [];

  /** An autobahn client whose requests are bounded: each promise rejects after the helpers' timeout. */
  async v2(url: string, realm?: string): Promise<V2Client> {
    const c = await connectV2(url, realm);
    this.#open.push(c);
    for (const name of ["publish", "subscribe", "unsubscribe", "register", "unregister", "call"]) {
      const original = c.session[name].bind(c.session);
      c.session[name] = (...args: unknown[]) => {
        const r = original(...args);
        return typeof r?.then === "function" ? within(r, `autobahn ${name} ${String(args[0])}`) : r;
      };
    }
    return c;
  }

  async raw(url: string, realm?: string, roles?: Dict): Promise<{ client: RawClient; session: number }> {
    const r = await rawV2(url, realm, roles);
    this.#open.push(r.client);
    return r;
  }

  async socket(url: string): Promise<RawClient> {
    const c = await RawClient.open(url, "wamp.2.json");
    this.#open.push(c);
    return c;
  }

  async closeAll(): Promise<void> {
    const all = this.#open.reverse();
    this.#open = [];
    for (const c of all) await c.close();
  }
}

/** A test body run against a fresh server with the push app. */
function serverTest(
  fn: (server: RunningServer, clients: Clients) => Promise<void>,
  options: { realms?: string[] } = {},
): () => Promise<void> {
  return () =>
    withServer(
      async (server) => {
        const clients = new Clients();
        try {
          await fn(server, clients);
        } finally {
          await clients.closeAll();
        }
      },
      pushApp,
      options,
    );
}

/** What an autobahn subscription has received. */
interface Inbox {
  /** args[0] of every event, in order. */
  firsts: unknown[];
  args: unknown[][];
  kwargs: Dict[];
  details: AutobahnSession[];
  subscription: AutobahnSession;
}

async function inbox(session: AutobahnSession, topic: string): Promise<Inbox> {
  const box: Omit<Inbox, "subscription"> = { firsts: [], args: [], kwargs: [], details: [] };
  const subscription = await session.subscribe(
    topic,
    (args: unknown[], kwargs: Dict, details: AutobahnSession) => {
      box.firsts.push(args?.[0]);
      box.args.push(args);
      box.kwargs.push(kwargs);
      box.details.push(details);
    },
  );
  return { ...box, subscription };
}

/** Settles a promise into a value or the rejection reason, so a rejection is never unhandled. */
function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: AutobahnSession }> {
  return p.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error }));
}

/** Asserts that `p` rejects with an autobahn error whose URI is `uri`; returns the error. */
async function rejectsWith(p: Promise<unknown>, uri: string, what: string): Promise<AutobahnSession> {
  const r = await within(settle(p), what);
  assert.ok(!r.ok, `${what}: expected ${uri}, but it resolved with ${JSON.stringify(r.ok && r.value)}`);
  assert.equal(r.error?.error, uri, `${what}: wrong error ${JSON.stringify(r.error)}`);
  return r.error;
}

/** Counts the tests compare with their baseline. */
function counts(server: RunningServer) {
  const realm = server.router.defaultRealm;
  return {
    topics: realm.broker.topicCount,
    subscribers: realm.broker.subscriberCount,
    registrations: realm.dealer.registrationCount,
    pending: realm.dealer.pendingCount,
    sessions: realm.sessionCount,
  };
}

/** The push app alone: areaCuadrado registered, its local session in the realm. */
// The push app's areaCuadrado and the realm's meta procedures.
const BASELINE = {
  topics: 0,
  subscribers: 0,
  registrations: 1 + META_PROCEDURES.length,
  pending: 0,
  sessions: 1,
};

async function backToBaseline(server: RunningServer, what: string): Promise<void> {
  await waitUntil(
    () => JSON.stringify(counts(server)) === JSON.stringify(BASELINE),
    `${what}: counts back to the baseline (now ${JSON.stringify(counts(server))})`,
  );
}

// ---------------------------------------------------------------------------
// Session establishment

Deno.test(
  "HELLO gets WELCOME with a session id in 1..2^53, broker/dealer features, agent and realm; ids differ per session",
  serverTest(async (server, clients) => {
    const c = await clients.socket(server.wsUrl);
    c.send([HELLO, "realm1", { roles: { caller: {}, subscriber: {} } }]);
    const w = await next(c, "WELCOME");
    assert.equal(w.length, 3, `WELCOME frame: ${JSON.stringify(w)}`);
    assert.equal(w[0], WELCOME);
    assert.ok(isId(w[1]), `session id ${w[1]} must be an integer in 1..2^53`);
    const details = w[2] as Dict;
    assert.ok(isDict(details));
    assert.equal(details.realm, "realm1");
    assert.equal(typeof details.agent, "string");
    assert.ok((details.agent as string).length > 0);
    const roles = details.roles as Dict;
    assert.ok(isDict(roles), "details.roles");
    const broker = (roles.broker as Dict)?.features as Dict;
    const dealer = (roles.dealer as Dict)?.features as Dict;
    assert.ok(isDict(broker), "roles.broker.features");
    assert.ok(isDict(dealer), "roles.dealer.features");
    for (const f of ["publisher_exclusion", "subscriber_blackwhite_listing", "publisher_identification"]) {
      assert.equal(broker[f], true, `broker feature ${f}`);
    }
    for (const f of ["caller_identification", "call_canceling", "progressive_call_results"]) {
      assert.equal(dealer[f], true, `dealer feature ${f}`);
    }

    const other = await clients.raw(server.wsUrl);
    assert.notEqual(other.session, w[1], "two sessions must get different ids");

    const a = await clients.v2(server.wsUrl);
    const b = await clients.v2(server.wsUrl);
    assert.ok(isId(a.session.id) && isId(b.session.id));
    assert.equal(new Set([w[1], other.session, a.session.id, b.session.id]).size, 4);
    assert.equal(server.router.defaultRealm.sessionCount, BASELINE.sessions + 4);
  }),
);

Deno.test(
  "HELLO for an unknown realm gets ABORT wamp.error.no_such_realm and the socket is closed",
  serverTest(async (server, clients) => {
    const c = await clients.socket(server.wsUrl);
    c.send([HELLO, "no.such.realm", { roles: { subscriber: {} } }]);
    const f = await next(c, "ABORT");
    assert.equal(f.length, 3, `ABORT frame: ${JSON.stringify(f)}`);
    assert.equal(f[0], ABORT);
    assert.ok(isDict(f[1]));
    assert.equal(f[2], "wamp.error.no_such_realm");
    await c.closeEvent();
    assert.equal(c.frames.length, 0, `nothing after ABORT, got ${JSON.stringify(c.frames)}`);
    assert.equal(server.router.defaultRealm.sessionCount, BASELINE.sessions);
  }),
);

Deno.test(
  "a router with realms realm1 and other accepts both and keeps their topics and procedures apart",
  serverTest(async (server, clients) => {
    const other = server.router.realm("other");
    assert.ok(other, "realm other exists");
    const topic = "com.example.shared";

    const r1pub = await clients.v2(server.wsUrl, "realm1");
    const r1sub = await clients.v2(server.wsUrl, "realm1");
    const opub = await clients.v2(server.wsUrl, "other");
    const osub = await clients.v2(server.wsUrl, "other");
    assert.equal(opub.session.realm, "other");
    assert.equal(other.sessionCount, 2);
    assert.equal(server.router.defaultRealm.sessionCount, BASELINE.sessions + 2);

    const r1box = await inbox(r1sub.session, topic);
    const obox = await inbox(osub.session, topic);

    // Delivery happens while the router handles the PUBLISH, before PUBLISHED: a stray
    // event for the other realm would be queued ahead of anything published there later.
    await r1pub.session.publish(topic, ["from-realm1"], {}, { acknowledge: true });
    await opub.session.publish(topic, ["from-other"], {}, { acknowledge: true });
    await waitUntil(() => obox.firsts.includes("from-other"), "the event in realm other");
    await r1pub.session.publish(topic, ["marker"], {}, { acknowledge: true });
    await waitUntil(() => r1box.firsts.includes("marker"), "the marker in realm1");

    assert.deepEqual(r1box.firsts, ["from-realm1", "marker"]);
    assert.deepEqual(obox.firsts, ["from-other"]);

    // The push app registered its procedure in the default realm only.
    await rejectsWith(
      osub.session.call(AREA, ["2", "3"]),
      "wamp.error.no_such_procedure",
      "areaCuadrado in other",
    );
    assert.equal(await r1sub.session.call(AREA, ["2", "3"]), 6);
  }, { realms: ["realm1", "other"] }),
);

// ---------------------------------------------------------------------------
// Publish & subscribe: exclusion and black/white listing

interface FanOut {
  publisher: unknown[];
  subscribers: unknown[][];
}

/**
 * A publisher and three subscribers, all subscribed to one topic. The publisher
 * publishes "filtered" with the options `choose` returns (given the subscribers'
 * session ids and its own), then "marker" to everybody including itself; once
 * everyone has the marker, whatever "filtered" reached has arrived too.
 */
async function fanOut(
  server: RunningServer,
  clients: Clients,
  choose: (ids: { publisher: number; subscribers: number[] }) => Dict,
): Promise<FanOut> {
  const topic = "com.example.fanout";
  const pub = await clients.v2(server.wsUrl);
  const subs = [
    await clients.v2(server.wsUrl),
    await clients.v2(server.wsUrl),
    await clients.v2(server.wsUrl),
  ];
  const pubBox = await inbox(pub.session, topic);
  const boxes = [];
  for (const s of subs) boxes.push(await inbox(s.session, topic));
  const options = choose({ publisher: pub.session.id, subscribers: subs.map((s) => s.session.id) });
  await pub.session.publish(topic, ["filtered"], {}, { ...options, acknowledge: true });
  await pub.session.publish(topic, ["marker"], {}, { exclude_me: false, acknowledge: true });
  for (const box of [pubBox, ...boxes]) {
    await waitUntil(() => box.firsts.includes("marker"), "the marker event at every subscriber");
  }
  return { publisher: pubBox.firsts, subscribers: boxes.map((b) => b.firsts) };
}

const BOTH = ["filtered", "marker"];
const MARKER_ONLY = ["marker"];

Deno.test(
  "publisher exclusion is the default: the publisher's own subscription gets no event, the others do",
  serverTest(async (server, clients) => {
    const r = await fanOut(server, clients, () => ({}));
    assert.deepEqual(r.publisher, MARKER_ONLY);
    assert.deepEqual(r.subscribers, [BOTH, BOTH, BOTH]);
  }),
);

Deno.test(
  "exclude_me: false delivers the event to the publisher's own subscription too",
  serverTest(async (server, clients) => {
    const r = await fanOut(server, clients, () => ({ exclude_me: false }));
    assert.deepEqual(r.publisher, BOTH);
    assert.deepEqual(r.subscribers, [BOTH, BOTH, BOTH]);
  }),
);

Deno.test(
  "exclude: [id] leaves exactly that session out",
  serverTest(async (server, clients) => {
    const r = await fanOut(server, clients, ({ subscribers }) => ({ exclude: [subscribers[1]] }));
    assert.deepEqual(r.publisher, MARKER_ONLY);
    assert.deepEqual(r.subscribers, [BOTH, MARKER_ONLY, BOTH]);
  }),
);

Deno.test(
  "eligible: [id] reaches only that session",
  serverTest(async (server, clients) => {
    const r = await fanOut(server, clients, ({ subscribers }) => ({ eligible: [subscribers[2]] }));
    assert.deepEqual(r.publisher, MARKER_ONLY);
    assert.deepEqual(r.subscribers, [MARKER_ONLY, MARKER_ONLY, BOTH]);
  }),
);

Deno.test(
  "exclude and eligible together: only eligible sessions that are not excluded get the event",
  serverTest(async (server, clients) => {
    const r = await fanOut(server, clients, ({ subscribers }) => ({
      eligible: [subscribers[0], subscribers[1]],
      exclude: [subscribers[1], subscribers[2]],
    }));
    assert.deepEqual(r.publisher, MARKER_ONLY);
    assert.deepEqual(r.subscribers, [BOTH, MARKER_ONLY, MARKER_ONLY]);
  }),
);

Deno.test(
  "eligible naming only the publisher: publisher exclusion still applies, so nobody gets the event",
  serverTest(async (server, clients) => {
    const excluded = await fanOut(server, clients, ({ publisher }) => ({ eligible: [publisher] }));
    assert.deepEqual(excluded.publisher, MARKER_ONLY);
    assert.deepEqual(excluded.subscribers, [MARKER_ONLY, MARKER_ONLY, MARKER_ONLY]);
  }),
);

// ---------------------------------------------------------------------------
// Publish & subscribe: acknowledgement, identification, payload, shared ids

Deno.test(
  "PUBLISH with acknowledge: true is answered by PUBLISHED [17, request, publication id]",
  serverTest(async (server, clients) => {
    const { client } = await clients.raw(server.wsUrl);
    const r = req();
    client.send([PUBLISH, r, { acknowledge: true }, "com.example.nobody.listens", ["x"]]);
    const f = await next(client, "PUBLISHED");
    assert.equal(f.length, 3, `PUBLISHED frame: ${JSON.stringify(f)}`);
    assert.equal(f[0], PUBLISHED);
    assert.equal(f[1], r);
    assert.ok(isId(f[2]), `publication id ${f[2]}`);

    const a = await clients.v2(server.wsUrl);
    const publication = await a.session.publish("com.example.nobody.listens", ["y"], {}, {
      acknowledge: true,
    });
    assert.ok(isId(publication.id), `autobahn publication id ${publication?.id}`);
  }),
);

Deno.test(
  "PUBLISH without acknowledge gets no PUBLISHED (raw)",
  serverTest(async (server, clients) => {
    const sub = await clients.raw(server.wsUrl);
    const subId = await rawSubscribe(sub.client, "com.example.quiet");
    const pub = await clients.raw(server.wsUrl);
    pub.client.send([PUBLISH, req(), {}, "com.example.quiet", ["hush"]]);
    const ev = await next(sub.client, "EVENT");
    assert.equal(ev[0], EVENT);
    assert.equal(ev[1], subId);
    assert.deepEqual(ev[4], ["hush"]);
    // Also with acknowledge explicitly false.
    pub.client.send([PUBLISH, req(), { acknowledge: false }, "com.example.quiet", ["hush2"]]);
    assert.deepEqual((await next(sub.client, "EVENT 2"))[4], ["hush2"]);
    await assertNothingQueued(pub.client, "the publisher after unacknowledged publishes");
  }),
);

Deno.test(
  "disclose_me: true puts the publisher's session id in EVENT details.publisher; without it there is none",
  serverTest(async (server, clients) => {
    const topic = "com.example.who";
    const raw = await clients.raw(server.wsUrl);
    const subId = await rawSubscribe(raw.client, topic);
    const sub = await clients.v2(server.wsUrl);
    const box = await inbox(sub.session, topic);
    const pub = await clients.v2(server.wsUrl);

    await pub.session.publish(topic, ["named"], {}, { disclose_me: true, acknowledge: true });
    const named = await next(raw.client, "EVENT with publisher");
    assert.equal(named[0], EVENT);
    assert.equal(named[1], subId);
    assert.deepEqual(named[3], {
      publisher: pub.session.id,
      publisher_authid: String(pub.session.id),
      publisher_authrole: "anonymous",
    });
    assert.deepEqual(named[4], ["named"]);

    await pub.session.publish(topic, ["anonymous"], {}, { acknowledge: true });
    const anonymous = await next(raw.client, "EVENT without publisher");
    assert.deepEqual(anonymous[3], {});

    await waitUntil(() => box.firsts.length === 2, "both events at the autobahn subscriber");
    assert.equal(box.details[0].publisher, pub.session.id);
    assert.equal(box.details[1].publisher, undefined);
  }),
);

Deno.test(
  "a publish with args and kwargs arrives with both",
  serverTest(async (server, clients) => {
    const topic = "com.example.payload";
    const raw = await clients.raw(server.wsUrl);
    const subId = await rawSubscribe(raw.client, topic);
    const sub = await clients.v2(server.wsUrl);
    const box = await inbox(sub.session, topic);
    const pub = await clients.v2(server.wsUrl);
    const kwargs = { k: { nested: [1, 2] }, text: "ñandú m²" };
    await pub.session.publish(topic, [1, "two", null], kwargs, { acknowledge: true });

    const ev = await next(raw.client, "EVENT");
    assert.equal(ev.length, 6, `EVENT frame: ${JSON.stringify(ev)}`);
    assert.equal(ev[0], EVENT);
    assert.equal(ev[1], subId);
    assert.ok(isId(ev[2]));
    assert.deepEqual(ev[3], {});
    assert.deepEqual(ev[4], [1, "two", null]);
    assert.deepEqual(ev[5], kwargs);

    await waitUntil(() => box.args.length === 1, "the event at the autobahn subscriber");
    assert.deepEqual(box.args[0], [1, "two", null]);
    assert.deepEqual(box.kwargs[0], kwargs);

    // kwargs only: args go out as an empty list.
    await pub.session.publish(topic, [], { only: "kw" }, { acknowledge: true });
    const kwOnly = await next(raw.client, "EVENT with kwargs only");
    assert.deepEqual(kwOnly.slice(3), [{}, [], { only: "kw" }]);
  }),
);

Deno.test(
  "EVENTs of one publish to several subscribers carry the same subscription id and publication id",
  serverTest(async (server, clients) => {
    const topic = "com.example.many";
    const subs = [
      await clients.raw(server.wsUrl),
      await clients.raw(server.wsUrl),
      await clients.raw(server.wsUrl),
    ];
    const subIds = [];
    for (const s of subs) subIds.push(await rawSubscribe(s.client, topic));
    assert.equal(new Set(subIds).size, 1, `one subscription for the topic, got ${subIds}`);

    const pub = await clients.raw(server.wsUrl);
    const r = req();
    pub.client.send([PUBLISH, r, { acknowledge: true }, topic, ["all"]]);
    const published = await next(pub.client, "PUBLISHED");
    assert.equal(published[0], PUBLISHED);
    const publication = published[2];
    for (const s of subs) {
      assert.deepEqual(await next(s.client, "EVENT"), [EVENT, subIds[0], publication, {}, ["all"]]);
    }

    // A second publish gets a new publication id.
    pub.client.send([PUBLISH, req(), { acknowledge: true }, topic, ["again"]]);
    const second = await next(pub.client, "PUBLISHED 2");
    assert.notEqual(second[2], publication);
    for (const s of subs) assert.equal((await next(s.client, "EVENT 2"))[2], second[2]);
  }),
);

// ---------------------------------------------------------------------------
// Subscribe / unsubscribe

Deno.test(
  "SUBSCRIBE twice to one topic from one session gets the same subscription id and one EVENT per publish",
  serverTest(async (server, clients) => {
    const topic = "com.example.twice";
    const sub = await clients.raw(server.wsUrl);
    const first = await rawSubscribe(sub.client, topic);
    const second = await rawSubscribe(sub.client, topic);
    assert.equal(second, first);
    assert.equal(server.router.defaultRealm.broker.topicCount, 1);

    const pub = await clients.raw(server.wsUrl);
    pub.client.send([PUBLISH, req(), { acknowledge: true }, topic, ["once"]]);
    assert.equal((await next(pub.client, "PUBLISHED"))[0], PUBLISHED);
    assert.deepEqual((await next(sub.client, "EVENT"))[4], ["once"]);
    await assertNothingQueued(sub.client, "a second EVENT for a double subscription");
  }),
);

Deno.test(
  "UNSUBSCRIBE is answered by UNSUBSCRIBED and no events follow",
  serverTest(async (server, clients) => {
    const topic = "com.example.leaving";
    const sub = await clients.raw(server.wsUrl);
    const subId = await rawSubscribe(sub.client, topic);
    const pub = await clients.raw(server.wsUrl);

    const r = req();
    sub.client.send([UNSUBSCRIBE, r, subId]);
    assert.deepEqual(await next(sub.client, "UNSUBSCRIBED"), [UNSUBSCRIBED, r]);
    assert.equal(server.router.defaultRealm.broker.topicCount, 0);
    assert.equal(server.router.defaultRealm.broker.subscriberCount, 0);

    pub.client.send([PUBLISH, req(), { acknowledge: true }, topic, ["too late"]]);
    assert.equal((await next(pub.client, "PUBLISHED"))[0], PUBLISHED);
    await assertNothingQueued(sub.client, "an EVENT after UNSUBSCRIBED");

    // The id is gone now.
    const again = req();
    sub.client.send([UNSUBSCRIBE, again, subId]);
    await expectError(sub.client, UNSUBSCRIBE, again, "wamp.error.no_such_subscription");
  }),
);

Deno.test(
  "UNSUBSCRIBE of an unknown or another session's subscription id gets ERROR wamp.error.no_such_subscription",
  serverTest(async (server, clients) => {
    const c = await clients.raw(server.wsUrl);
    const r = req();
    c.client.send([UNSUBSCRIBE, r, 123456]);
    const f = await expectError(c.client, UNSUBSCRIBE, r, "wamp.error.no_such_subscription");
    assert.ok(f.length === 5 || Array.isArray(f[5]), `ERROR frame: ${JSON.stringify(f)}`);

    const owner = await clients.raw(server.wsUrl);
    const subId = await rawSubscribe(owner.client, "com.example.mine");
    const r2 = req();
    c.client.send([UNSUBSCRIBE, r2, subId]);
    await expectError(c.client, UNSUBSCRIBE, r2, "wamp.error.no_such_subscription");
    assert.equal(server.router.defaultRealm.broker.topicCount, 1, "the owner's subscription survives");
  }),
);

// ---------------------------------------------------------------------------
// URIs

Deno.test(
  "invalid URIs get ERROR wamp.error.invalid_uri for SUBSCRIBE, REGISTER, CALL and acknowledged PUBLISH",
  serverTest(async (server, clients) => {
    const { client } = await clients.raw(server.wsUrl);
    const bad = ["a..b", "has space", ".leading", "trailing.", "a#b", ""];

    for (const uri of bad) {
      const r = req();
      client.send([SUBSCRIBE, r, {}, uri]);
      await expectError(client, SUBSCRIBE, r, "wamp.error.invalid_uri");
    }
    for (const uri of [...bad, "wamp.foo"]) {
      const r = req();
      client.send([REGISTER, r, {}, uri]);
      await expectError(client, REGISTER, r, "wamp.error.invalid_uri");
    }
    for (const uri of bad) {
      const r = rawCall(client, uri);
      await expectError(client, CALL, r, "wamp.error.invalid_uri");
    }
    for (const uri of [...bad, "wamp.foo"]) {
      const r = req();
      client.send([PUBLISH, r, { acknowledge: true }, uri, ["x"]]);
      await expectError(client, PUBLISH, r, "wamp.error.invalid_uri");
    }
    const realm = server.router.defaultRealm;
    assert.equal(realm.broker.topicCount, 0);
    assert.equal(realm.dealer.registrationCount, BASELINE.registrations);

    // Clients may subscribe to (not publish to) the router's reserved namespace.
    await rawSubscribe(client, "wamp.session.on_join");

    // autobahn sees the same error.
    const a = await clients.v2(server.wsUrl);
    await rejectsWith(a.session.call("a..b"), "wamp.error.invalid_uri", "autobahn CALL a..b");
  }),
);

Deno.test(
  "PUBLISH without acknowledge to an invalid URI gets no answer at all",
  serverTest(async (server, clients) => {
    const { client } = await clients.raw(server.wsUrl);
    client.send([PUBLISH, req(), {}, "a..b", ["x"]]);
    client.send([PUBLISH, req(), {}, "has space", ["x"]]);
    client.send([PUBLISH, req(), {}, "wamp.foo", ["x"]]);
    await assertNothingQueued(client, "the answer to an unacknowledged publish to an invalid URI");
  }),
);

// ---------------------------------------------------------------------------
// RPC

Deno.test(
  "RPC: a single result resolves to the value; several args or kwargs give an autobahn.Result",
  serverTest(async (server, clients) => {
    const callee = await clients.v2(server.wsUrl);
    const caller = await clients.v2(server.wsUrl);
    await callee.session.register("com.example.double", (args: number[]) => args[0] * 2);
    await callee.session.register(
      "com.example.multi",
      (args: number[], kwargs: Dict) =>
        new autobahn.Result([args[0], args[1]], { sum: args[0] + args[1], ...kwargs }),
    );
    await callee.session.register("com.example.nothing", () => null);

    assert.equal(await within(caller.session.call("com.example.double", [21]), "double"), 42);
    const multi: AutobahnSession = await within(
      caller.session.call("com.example.multi", [1, 2], { tag: "t" }),
      "multi",
    );
    assert.ok(multi instanceof autobahn.Result, `expected autobahn.Result, got ${JSON.stringify(multi)}`);
    assert.deepEqual(multi.args, [1, 2]);
    assert.deepEqual(multi.kwargs, { sum: 3, tag: "t" });
    assert.equal(await within(caller.session.call("com.example.nothing"), "nothing"), null);
  }),
);

Deno.test(
  "RPC: a callee's autobahn.Error reaches the caller with the same error URI and args",
  serverTest(async (server, clients) => {
    const callee = await clients.v2(server.wsUrl);
    const caller = await clients.v2(server.wsUrl);
    await callee.session.register("com.example.fails", () => {
      throw new autobahn.Error("com.example.error.oops", ["bad"], { code: 7 });
    });
    const err = await rejectsWith(
      caller.session.call("com.example.fails", []),
      "com.example.error.oops",
      "call to a failing procedure",
    );
    assert.ok(err instanceof autobahn.Error);
    assert.equal(err.args[0], "bad");
    assert.deepEqual(err.kwargs, { code: 7 });
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
  }),
);

Deno.test(
  "RPC: calling an unregistered procedure gets wamp.error.no_such_procedure",
  serverTest(async (server, clients) => {
    const caller = await clients.v2(server.wsUrl);
    await rejectsWith(
      caller.session.call("com.example.nobody"),
      "wamp.error.no_such_procedure",
      "autobahn call",
    );
    const raw = await clients.raw(server.wsUrl);
    const r = rawCall(raw.client, "com.example.nobody", [1]);
    await expectError(raw.client, CALL, r, "wamp.error.no_such_procedure");
  }),
);

Deno.test(
  "RPC: a second REGISTER of a registered URI gets wamp.error.procedure_already_exists",
  serverTest(async (server, clients) => {
    const first = await clients.v2(server.wsUrl);
    await first.session.register("com.example.once", () => 1);
    const second = await clients.v2(server.wsUrl);
    await rejectsWith(
      second.session.register("com.example.once", () => 2),
      "wamp.error.procedure_already_exists",
      "second registration from another session",
    );
    const raw = await clients.raw(server.wsUrl);
    const r1 = req();
    raw.client.send([REGISTER, r1, {}, "com.example.once"]);
    await expectError(raw.client, REGISTER, r1, "wamp.error.procedure_already_exists");
    // The same session registering twice is refused too.
    await rawRegister(raw.client, "com.example.raw");
    const r = req();
    raw.client.send([REGISTER, r, {}, "com.example.raw"]);
    await expectError(raw.client, REGISTER, r, "wamp.error.procedure_already_exists");
    // The original callee still answers.
    assert.equal(await second.session.call("com.example.once"), 1);
  }),
);

Deno.test(
  "RPC: UNREGISTER is answered by UNREGISTERED and later calls get wamp.error.no_such_procedure",
  serverTest(async (server, clients) => {
    const callee = await clients.raw(server.wsUrl);
    const reg = await rawRegister(callee.client, "com.example.temp");
    assert.equal(server.router.defaultRealm.dealer.registrationCount, BASELINE.registrations + 1);
    const r = req();
    callee.client.send([UNREGISTER, r, reg]);
    assert.deepEqual(await next(callee.client, "UNREGISTERED"), [UNREGISTERED, r]);
    assert.equal(server.router.defaultRealm.dealer.registrationCount, BASELINE.registrations);

    const caller = await clients.v2(server.wsUrl);
    await rejectsWith(
      caller.session.call("com.example.temp"),
      "wamp.error.no_such_procedure",
      "call after unregister",
    );
    await assertNothingQueued(callee.client, "an INVOCATION after UNREGISTERED");

    // autobahn's own unregister works the same way.
    const ab = await clients.v2(server.wsUrl);
    const registration = await ab.session.register("com.example.temp2", () => "here");
    assert.equal(await caller.session.call("com.example.temp2"), "here");
    await registration.unregister();
    await rejectsWith(
      caller.session.call("com.example.temp2"),
      "wamp.error.no_such_procedure",
      "after autobahn unregister",
    );
  }),
);

Deno.test(
  "RPC: UNREGISTER of an unknown or another session's registration id gets wamp.error.no_such_registration",
  serverTest(async (server, clients) => {
    const c = await clients.raw(server.wsUrl);
    const r = req();
    c.client.send([UNREGISTER, r, 987654]);
    await expectError(c.client, UNREGISTER, r, "wamp.error.no_such_registration");

    const owner = await clients.raw(server.wsUrl);
    const reg = await rawRegister(owner.client, "com.example.owned");
    const r2 = req();
    c.client.send([UNREGISTER, r2, reg]);
    await expectError(c.client, UNREGISTER, r2, "wamp.error.no_such_registration");
    assert.equal(server.router.defaultRealm.dealer.registrationCount, BASELINE.registrations + 1);
  }),
);

Deno.test(
  "RPC: caller disclose_me puts the caller's session id in INVOCATION details.caller; without it there is none",
  serverTest(async (server, clients) => {
    const callee = await clients.raw(server.wsUrl);
    const reg = await rawRegister(callee.client, "com.example.whoami");
    const caller = await clients.v2(server.wsUrl);

    const disclosed = caller.session.call("com.example.whoami", ["a"], {}, { disclose_me: true });
    const inv = await expectInvocation(callee.client, reg);
    assert.equal((inv[3] as Dict).caller, caller.session.id);
    assert.deepEqual(inv[4], ["a"]);
    callee.client.send([YIELD, inv[1], {}, [(inv[3] as Dict).caller]]);
    assert.equal(await within(disclosed, "disclosed call"), caller.session.id);

    const hidden = caller.session.call("com.example.whoami", ["b"]);
    const inv2 = await expectInvocation(callee.client, reg);
    assert.equal((inv2[3] as Dict).caller, undefined, `details ${JSON.stringify(inv2[3])}`);
    assert.notEqual(inv2[1], inv[1], "each call gets its own invocation id");
    callee.client.send([YIELD, inv2[1], {}, ["anon"]]);
    assert.equal(await within(hidden, "anonymous call"), "anon");
  }),
);

Deno.test(
  'RPC: push.tutorial.areaCuadrado works from v2 ("4", "4" → 16) and rejects bad input with invalid_argument',
  serverTest(async (server, clients) => {
    const c = await clients.v2(server.wsUrl);
    assert.equal(await within(c.session.call(AREA, ["4", "4"]), "areaCuadrado"), 16);
    assert.equal(await within(c.session.call(AREA, [2.5, 4]), "areaCuadrado numbers"), 10);
    const err = await rejectsWith(
      c.session.call(AREA, ["x", "4"]),
      "wamp.error.invalid_argument",
      "bad height",
    );
    assert.equal(typeof err.args[0], "string");
  }),
);

// ---------------------------------------------------------------------------
// A side leaves while a call is in flight

Deno.test(
  "callee gone mid-call: the caller's call rejects with wamp.error.canceled and nothing is left behind",
  serverTest(async (server, clients) => {
    const dealer = server.router.defaultRealm.dealer;
    const registrationsBefore = dealer.registrationCount;
    const callee = await clients.raw(server.wsUrl);
    const reg = await rawRegister(callee.client, "com.example.vanishing");
    const caller = await clients.v2(server.wsUrl);

    const call = caller.session.call("com.example.vanishing", [1]);
    const outcome = settle(call);
    await expectInvocation(callee.client, reg);
    assert.equal(dealer.pendingCount, 1);
    await callee.client.close();

    const r = await within(outcome, "the caller's answer after the callee left");
    assert.ok(!r.ok, "the call must reject");
    assert.equal(r.error.error, "wamp.error.canceled");
    await waitUntil(() => dealer.pendingCount === 0, "no calls in flight");
    await waitUntil(() => dealer.registrationCount === registrationsBefore, "the registration gone");
    await rejectsWith(
      caller.session.call("com.example.vanishing"),
      "wamp.error.no_such_procedure",
      "call afterwards",
    );
  }),
);

Deno.test(
  "caller gone mid-call: the callee receives INTERRUPT, a late YIELD is harmless, no call stays pending",
  serverTest(async (server, clients) => {
    const dealer = server.router.defaultRealm.dealer;
    const callee = await clients.raw(server.wsUrl);
    const reg = await rawRegister(callee.client, "com.example.abandoned");
    const caller = await clients.raw(server.wsUrl);

    rawCall(caller.client, "com.example.abandoned", ["x"]);
    const inv = await expectInvocation(callee.client, reg);
    await caller.client.close();

    const interrupt = await next(callee.client, "INTERRUPT");
    assert.equal(interrupt.length, 3, `INTERRUPT frame: ${JSON.stringify(interrupt)}`);
    assert.equal(interrupt[0], INTERRUPT);
    assert.equal(interrupt[1], inv[1]);
    assert.ok(isDict(interrupt[2]));
    await waitUntil(() => dealer.pendingCount === 0, "no calls in flight");

    callee.client.send([YIELD, inv[1], {}, ["late"]]);
    await assertNothingQueued(callee.client, "the callee after a late YIELD");
    assert.equal(dealer.pendingCount, 0);

    // The callee is still registered and serves the next caller.
    const next2 = await clients.v2(server.wsUrl);
    const answer = next2.session.call("com.example.abandoned", ["y"]);
    const inv2 = await expectInvocation(callee.client, reg);
    callee.client.send([YIELD, inv2[1], {}, ["fine"]]);
    assert.equal(await within(answer, "the next call"), "fine");
  }),
);

Deno.test(
  "a callee that did not announce call_canceling gets no INTERRUPT when its caller leaves",
  serverTest(async (server, clients) => {
    const dealer = server.router.defaultRealm.dealer;
    const callee = await clients.raw(server.wsUrl, "realm1", { callee: {} });
    const reg = await rawRegister(callee.client, "com.example.plain");
    const caller = await clients.raw(server.wsUrl);
    rawCall(caller.client, "com.example.plain");
    await expectInvocation(callee.client, reg);
    await caller.client.close();
    await waitUntil(() => dealer.pendingCount === 0, "no calls in flight");
    await assertNothingQueued(callee.client, "an INTERRUPT to a callee without call_canceling");
  }),
);

// ---------------------------------------------------------------------------
// CANCEL

/** A raw caller with a call in flight at a raw callee. */
async function callInFlight(server: RunningServer, clients: Clients, calleeRoles?: Dict) {
  const callee = await clients.raw(server.wsUrl, "realm1", calleeRoles);
  const procedure = `com.example.slow${req()}`;
  const reg = await rawRegister(callee.client, procedure);
  const caller = await clients.raw(server.wsUrl);
  const request = rawCall(caller.client, procedure, ["work"]);
  const inv = await expectInvocation(callee.client, reg);
  return { callee: callee.client, caller: caller.client, request, invocation: inv[1] as number };
}

Deno.test(
  "CANCEL skip: the caller gets ERROR wamp.error.canceled at once, the callee no INTERRUPT, its YIELD is dropped",
  serverTest(async (server, clients) => {
    const dealer = server.router.defaultRealm.dealer;
    const { callee, caller, request, invocation } = await callInFlight(server, clients);
    caller.send([CANCEL, request, { mode: "skip" }]);
    await expectError(caller, CALL, request, "wamp.error.canceled");
    assert.equal(dealer.pendingCount, 0);
    await assertNothingQueued(callee, "an INTERRUPT after CANCEL skip");

    callee.send([YIELD, invocation, {}, ["too late"]]);
    await assertNothingQueued(callee, "the callee after its late YIELD"); // the YIELD has been handled
    await assertNothingQueued(caller, "a RESULT after CANCEL skip");
  }),
);

Deno.test(
  "CANCEL killnowait: the callee gets INTERRUPT and the caller ERROR wamp.error.canceled at once",
  serverTest(async (server, clients) => {
    const dealer = server.router.defaultRealm.dealer;
    const { callee, caller, request, invocation } = await callInFlight(server, clients);
    caller.send([CANCEL, request, { mode: "killnowait" }]);
    await expectError(caller, CALL, request, "wamp.error.canceled");
    const interrupt = await next(callee, "INTERRUPT");
    assert.equal(interrupt[0], INTERRUPT);
    assert.equal(interrupt[1], invocation);
    assert.equal((interrupt[2] as Dict).mode, "killnowait");
    assert.equal(dealer.pendingCount, 0);

    callee.send([ERROR, INVOCATION, invocation, {}, "wamp.error.canceled"]);
    await assertNothingQueued(callee, "the callee after answering an interrupted call");
    await assertNothingQueued(caller, "a second answer after killnowait");
  }),
);

Deno.test(
  "CANCEL kill: the callee gets INTERRUPT and the caller's ERROR wamp.error.canceled comes only after the callee's ERROR",
  serverTest(async (server, clients) => {
    const dealer = server.router.defaultRealm.dealer;
    const { callee, caller, request, invocation } = await callInFlight(server, clients);
    caller.send([CANCEL, request, { mode: "kill" }]);
    const interrupt = await next(callee, "INTERRUPT");
    assert.equal(interrupt[0], INTERRUPT);
    assert.equal(interrupt[1], invocation);
    assert.equal((interrupt[2] as Dict).mode, "kill");
    await assertNothingQueued(caller, "the caller's ERROR before the callee answered");
    assert.equal(dealer.pendingCount, 1, "the call waits for the callee");

    callee.send([ERROR, INVOCATION, invocation, {}, "wamp.error.canceled", ["stopped"]]);
    await expectError(caller, CALL, request, "wamp.error.canceled");
    assert.equal(dealer.pendingCount, 0);
    await assertNothingQueued(caller, "anything after the canceled ERROR");
  }),
);

Deno.test(
  "CANCEL kill answered by a YIELD still gives the caller ERROR wamp.error.canceled, not the result",
  serverTest(async (server, clients) => {
    const { callee, caller, request, invocation } = await callInFlight(server, clients);
    caller.send([CANCEL, request, { mode: "kill" }]);
    assert.equal((await next(callee, "INTERRUPT"))[0], INTERRUPT);
    callee.send([YIELD, invocation, {}, ["finished anyway"]]);
    await expectError(caller, CALL, request, "wamp.error.canceled");
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
  }),
);

Deno.test(
  "CANCEL of a call to a callee without call_canceling: the caller gets canceled, the callee no INTERRUPT",
  serverTest(async (server, clients) => {
    const { callee, caller, request, invocation } = await callInFlight(server, clients, { callee: {} });
    caller.send([CANCEL, request, { mode: "kill" }]);
    await expectError(caller, CALL, request, "wamp.error.canceled");
    await assertNothingQueued(callee, "an INTERRUPT to a callee without call_canceling");
    callee.send([YIELD, invocation, {}, ["late"]]);
    await assertNothingQueued(callee, "the callee after its late YIELD");
    await assertNothingQueued(caller, "a RESULT after the cancel");
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
  }),
);

// ---------------------------------------------------------------------------
// Progressive results and stray YIELDs

Deno.test(
  "progressive results: receive_progress reaches the callee and each progress YIELD becomes a RESULT with progress true",
  serverTest(async (server, clients) => {
    const callee = await clients.raw(server.wsUrl);
    const reg = await rawRegister(callee.client, "com.example.progress");
    const caller = await clients.raw(server.wsUrl);
    const request = rawCall(caller.client, "com.example.progress", [3], { receive_progress: true });
    const inv = await expectInvocation(callee.client, reg);
    assert.equal((inv[3] as Dict).receive_progress, true);

    callee.client.send([YIELD, inv[1], { progress: true }, [1]]);
    callee.client.send([YIELD, inv[1], { progress: true }, [2], { step: "two" }]);
    callee.client.send([YIELD, inv[1], {}, [3]]);
    assert.deepEqual(await next(caller.client, "progress 1"), [RESULT, request, { progress: true }, [1]]);
    assert.deepEqual(await next(caller.client, "progress 2"), [RESULT, request, { progress: true }, [2], {
      step: "two",
    }]);
    assert.deepEqual(await next(caller.client, "final RESULT"), [RESULT, request, {}, [3]]);
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);

    // Without receive_progress the callee is not told to send progress.
    const plain = rawCall(caller.client, "com.example.progress", [1]);
    const inv2 = await expectInvocation(callee.client, reg);
    assert.equal((inv2[3] as Dict).receive_progress, undefined);
    callee.client.send([YIELD, inv2[1], {}, ["done"]]);
    assert.deepEqual(await next(caller.client, "plain RESULT"), [RESULT, plain, {}, ["done"]]);
  }),
);

Deno.test(
  "a YIELD or ERROR for an invocation the session does not hold is ignored; the real callee's result arrives",
  serverTest(async (server, clients) => {
    const real = await clients.raw(server.wsUrl);
    const regA = await rawRegister(real.client, "com.example.real");
    const impostor = await clients.raw(server.wsUrl);
    await rawRegister(impostor.client, "com.example.impostor");
    const caller = await clients.raw(server.wsUrl);

    const request = rawCall(caller.client, "com.example.real", ["q"]);
    const inv = await expectInvocation(real.client, regA);
    impostor.client.send([YIELD, inv[1], {}, ["forged"]]);
    impostor.client.send([ERROR, INVOCATION, inv[1], {}, "com.example.forged"]);
    impostor.client.send([YIELD, NEVER_AN_ID, {}, ["unknown"]]);
    real.client.send([YIELD, NEVER_AN_ID, {}, ["unknown too"]]);
    // Once these pings come back, the router has handled the stray answers.
    await assertNothingQueued(impostor.client, "the impostor after its stray answers");
    await assertNothingQueued(real.client, "the real callee after a stray YIELD");
    await assertNothingQueued(caller.client, "an answer forged by another callee");
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 1);

    real.client.send([YIELD, inv[1], {}, ["genuine"]]);
    assert.deepEqual(await next(caller.client, "RESULT"), [RESULT, request, {}, ["genuine"]]);
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
  }),
);

// ---------------------------------------------------------------------------
// GOODBYE and shutdown

Deno.test(
  "autobahn connection.close() is answered by GOODBYE wamp.close.goodbye_and_out and the session leaves the realm",
  serverTest(async (server, clients) => {
    const c = await clients.v2(server.wsUrl);
    await c.session.subscribe("com.example.bye", () => {});
    assert.equal(server.router.defaultRealm.sessionCount, BASELINE.sessions + 1);
    const original = c.connection.onclose;
    let closeDetails: Dict | undefined;
    c.connection.onclose = (reason: string, details: Dict) => {
      closeDetails = details;
      return original(reason, details);
    };
    await c.close();
    assert.equal(
      closeDetails?.reason,
      "wamp.close.goodbye_and_out",
      `close details ${JSON.stringify(closeDetails)}`,
    );
    await backToBaseline(server, "after autobahn closed");
  }),
);

Deno.test(
  "raw GOODBYE close_realm is answered by GOODBYE goodbye_and_out; the same socket can HELLO again and gets a new WELCOME",
  serverTest(async (server, clients) => {
    const realm = server.router.defaultRealm;
    const { client, session: firstId } = await clients.raw(server.wsUrl);
    await rawSubscribe(client, "com.example.before");
    await rawRegister(client, "com.example.before");

    client.send([GOODBYE, {}, "wamp.close.close_realm"]);
    assert.deepEqual(await next(client, "GOODBYE"), [GOODBYE, {}, "wamp.close.goodbye_and_out"]);
    assert.deepEqual(counts(server), BASELINE, "the old session's state is gone");

    client.send([HELLO, "realm1", { roles: { subscriber: {}, publisher: {} } }]);
    const w = await next(client, "second WELCOME");
    assert.equal(w[0], WELCOME);
    assert.ok(isId(w[1]));
    assert.notEqual(w[1], firstId, "a new session on the same transport gets a new session id");
    assert.equal((w[2] as Dict).realm, "realm1");
    assert.equal(realm.sessionCount, BASELINE.sessions + 1);
    // The new session works.
    await rawSubscribe(client, "com.example.after");
    assert.equal(realm.broker.topicCount, 1);
  }),
);

Deno.test(
  "server.close() sends an established v2 session GOODBYE wamp.close.system_shutdown; after our GOODBYE the socket closes",
  serverTest(async (server, clients) => {
    const { client } = await clients.raw(server.wsUrl);
    const closing = server.close();
    const bye = await next(client, "GOODBYE from the router");
    assert.equal(bye.length, 3, `GOODBYE frame: ${JSON.stringify(bye)}`);
    assert.equal(bye[0], GOODBYE);
    assert.ok(isDict(bye[1]));
    assert.equal(bye[2], "wamp.close.system_shutdown");
    client.send([GOODBYE, {}, "wamp.close.goodbye_and_out"]);
    await client.closeEvent();
    await within(closing, "server.close()");
  }),
);

// ---------------------------------------------------------------------------
// Cleanup

Deno.test(
  "when sessions with subscriptions, registrations and calls in flight close, the realm returns to its baseline",
  serverTest(async (server, clients) => {
    assert.deepEqual(counts(server), BASELINE);

    const a = await clients.v2(server.wsUrl);
    await a.session.subscribe("com.example.t1", () => {});
    await a.session.subscribe("com.example.t2", () => {});
    await a.session.register("com.example.a", () => "a");

    const b = await clients.raw(server.wsUrl);
    await rawSubscribe(b.client, "com.example.t1");
    await rawSubscribe(b.client, "com.example.t3");
    const regB = await rawRegister(b.client, "com.example.b");

    const c = await clients.raw(server.wsUrl);
    await rawRegister(c.client, "com.example.c");

    // Calls in flight: a → b (b never answers), c → b.
    const aCall = settle(a.session.call("com.example.b", [1]));
    await expectInvocation(b.client, regB);
    const cRequest = rawCall(c.client, "com.example.b", [2]);
    await expectInvocation(b.client, regB);

    assert.deepEqual(counts(server), {
      topics: 3,
      subscribers: 2,
      registrations: BASELINE.registrations + 3,
      pending: 2,
      sessions: BASELINE.sessions + 3,
    });

    // The callee b vanishes: both its callers are told the call was canceled.
    await b.client.close();
    const aOutcome = await within(aCall, "a's call after its callee left");
    assert.ok(!aOutcome.ok, "a's call must reject");
    assert.equal(aOutcome.error.error, "wamp.error.canceled");
    await expectError(c.client, CALL, cRequest, "wamp.error.canceled");
    // a leaves with autobahn's GOODBYE, c with a raw GOODBYE.
    await a.close();
    c.client.send([GOODBYE, {}, "wamp.close.close_realm"]);
    assert.deepEqual(await next(c.client, "GOODBYE"), [GOODBYE, {}, "wamp.close.goodbye_and_out"]);
    await c.client.close();
    await backToBaseline(server, "after every client left");
  }),
);
