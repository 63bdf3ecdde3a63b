/**
 * The WAMP meta API and testaments, end to end against a real push server: the
 * session meta API (events, count, list, get, kill), the subscription and
 * registration meta APIs (events in order, list, lookup, match, get, the members),
 * testaments (published when a session leaves, in order, by scope), all from raw
 * v2 frames, a raw v1 socket and autobahn-browser.
 *
 * Proving that something was NOT sent, without sleeping: the router handles one
 * connection's frames in order and every meta event or testament is published
 * while the request that causes it is handled, so once the cause is answered, a
 * harmless request on the watching socket ("ping": UNSUBSCRIBE of an id that can
 * never exist) must be answered before anything sent later, and anything sent
 * earlier would have come first.
 *
 * Every scenario ends by checking the router is back to what it held before.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RunningServer, ServerOptions } from "../main.ts";
import { AREA_PROCEDURE } from "../push.ts";
import type { RealmDefinition } from "../src/auth/authorizer.ts";
import {
  ask,
  assertNothingQueued,
  Events,
  footprint,
  RawClient,
  rawSubscribe,
  rid,
  type V2Client,
  withCleanServer,
  within,
} from "./helpers.ts";

// ---------------------------------------------------------------------------
// Frames and URIs

type Dict = Record<string, unknown>;
type Frame = unknown[];

const HELLO = 1, WELCOME = 2, CHALLENGE = 4, AUTHENTICATE = 5, GOODBYE = 6, ERROR = 8;
const UNSUBSCRIBE = 34, UNSUBSCRIBED = 35, EVENT = 36, CALL = 48, RESULT = 50;
const REGISTER = 64, REGISTERED = 65, UNREGISTER = 66, UNREGISTERED = 67;
const V1_CALL = 2, V1_CALLRESULT = 3, V1_SUBSCRIBE = 5, V1_EVENT = 8;

/** A subscription id the broker never hands out (its ids count up from 1). */
const NEVER_AN_ID = 2 ** 53;

const ON_JOIN = "wamp.session.on_join";
const ON_LEAVE = "wamp.session.on_leave";
const SUB_ON_CREATE = "wamp.subscription.on_create";
const SUB_ON_SUBSCRIBE = "wamp.subscription.on_subscribe";
const SUB_ON_UNSUBSCRIBE = "wamp.subscription.on_unsubscribe";
const SUB_ON_DELETE = "wamp.subscription.on_delete";
const REG_ON_CREATE = "wamp.registration.on_create";
const REG_ON_REGISTER = "wamp.registration.on_register";
const REG_ON_UNREGISTER = "wamp.registration.on_unregister";
const REG_ON_DELETE = "wamp.registration.on_delete";

const NO_SUCH_SESSION = "wamp.error.no_such_session";
const NO_SUCH_SUBSCRIPTION = "wamp.error.no_such_subscription";
const NO_SUCH_REGISTRATION = "wamp.error.no_such_registration";
const NOT_AUTHORIZED = "wamp.error.not_authorized";
const INVALID_URI = "wamp.error.invalid_uri";
const INVALID_ARGUMENT = "wamp.error.invalid_argument";
const QUOTA_EXCEEDED = "tuerca.error.quota_exceeded";

const GONE = "com.example.gone";

// ---------------------------------------------------------------------------
// Servers

/** Everything allowed everywhere, for the roles `anonymous` and `backend` (the default roles forbid kill). */
const PERMISSIVE: RealmDefinition = {
  name: "realm1",
  roles: ["anonymous", "backend"].map((name) => ({
    name,
    permissions: [{
      uri: "",
      match: "prefix" as const,
      allow: { call: true, register: true, publish: true, subscribe: true },
      disclose: { caller: false, publisher: false },
    }],
  })),
};

const JOE_TICKET = "joe-ticket";

/** The permissive realm, with anonymous access and the ticket principal `joe` (role `backend`). */
const MAY_KILL: ServerOptions = {
  realms: [PERMISSIVE],
  auth: {
    anonymous: { role: "anonymous" },
    ticket: new Map([["joe", { ticket: JOE_TICKET, role: "backend" }]]),
  },
};

interface Raw2 {
  client: RawClient;
  session: number;
}

/** The test's clients (see {@link TestClients}), plus ticket sessions and v1 ids as numbers. */
interface Ctx {
  server: RunningServer;
  /** An anonymous raw v2 session, closed at the end. */
  v2(): Promise<Raw2>;
  /** A raw v2 session authenticated by ticket, closed at the end. */
  ticket(authid: string, ticket: string): Promise<Raw2>;
  /** A raw v1 session (its id as a number), closed at the end. */
  v1(): Promise<Raw2>;
  /** An autobahn-browser session, closed at the end. */
  autobahn(): Promise<V2Client>;
}

/** A test body run by {@link withCleanServer} against a push server with `options`. */
function scenario(fn: (ctx: Ctx) => Promise<void>, options: ServerOptions = {}): () => Promise<void> {
  return () =>
    withCleanServer(options, (clients) =>
      fn({
        server: clients.server,
        v2: () => clients.v2(),
        autobahn: clients.autobahn,
        async v1() {
          const s = await clients.v1();
          return { client: s.client, session: Number(s.session) };
        },
        async ticket(authid, ticket) {
          const client = clients.track(await RawClient.open(clients.server.wsUrl, "wamp.2.json"));
          client.send([HELLO, "realm1", {
            roles: { caller: {}, callee: {}, publisher: {}, subscriber: {} },
            authmethods: ["ticket"],
            authid,
          }]);
          assert.deepEqual(await client.next("CHALLENGE"), [CHALLENGE, "ticket", {}]);
          client.send([AUTHENTICATE, ticket, {}]);
          const welcome = await client.next("WELCOME") as Frame;
          assert.equal(welcome[0], WELCOME, `expected WELCOME, got ${JSON.stringify(welcome)}`);
          return { client, session: welcome[1] as number };
        },
      }));
}

// ---------------------------------------------------------------------------
// Raw requests

/** CALLs `procedure`; the answer must be RESULT with one argument, which is returned. */
async function call(c: RawClient, procedure: string, args: unknown[] = [], kwargs?: Dict): Promise<unknown> {
  const r = rid();
  const reply = await ask(
    c,
    kwargs === undefined ? [CALL, r, {}, procedure, args] : [CALL, r, {}, procedure, args, kwargs],
  );
  assert.deepEqual(
    reply.slice(0, 3),
    [RESULT, r, {}],
    `${procedure}${JSON.stringify(args)}: ${JSON.stringify(reply)}`,
  );
  const results = reply[3] as unknown[];
  assert.ok(Array.isArray(results) && results.length === 1, `one result: ${JSON.stringify(reply)}`);
  return results[0];
}

/** CALLs `procedure`; the answer must be ERROR `uri`. */
async function callFails(
  c: RawClient,
  procedure: string,
  args: unknown[],
  kwargs: Dict | undefined,
  uri: string,
): Promise<void> {
  const r = rid();
  const reply = await ask(
    c,
    kwargs === undefined ? [CALL, r, {}, procedure, args] : [CALL, r, {}, procedure, args, kwargs],
  );
  assert.deepEqual(
    reply.slice(0, 5),
    [ERROR, CALL, r, {}, uri],
    `${procedure}${JSON.stringify(args)} ${JSON.stringify(kwargs ?? {})}: ${JSON.stringify(reply)}`,
  );
}

/** REGISTERs `procedure` with `options`; returns the registration id. */
async function register(c: RawClient, procedure: string, options: Dict = {}): Promise<number> {
  const r = rid();
  const reply = await ask(c, [REGISTER, r, options, procedure]);
  assert.deepEqual(reply.slice(0, 2), [REGISTERED, r], `REGISTERED ${procedure}: ${JSON.stringify(reply)}`);
  return reply[2] as number;
}

async function unregister(c: RawClient, registration: number): Promise<void> {
  const r = rid();
  assert.deepEqual(await ask(c, [UNREGISTER, r, registration]), [UNREGISTERED, r]);
}

/** SUBSCRIBEs with `options` (a pattern's `match`); returns the subscription id. */
async function subscribe(c: RawClient, topic: string, options: Dict = {}): Promise<number> {
  const r = rid();
  const reply = await ask(c, [32, r, options, topic]);
  assert.deepEqual(reply.slice(0, 2), [33, r], `SUBSCRIBED ${topic}: ${JSON.stringify(reply)}`);
  return reply[2] as number;
}

async function unsubscribe(c: RawClient, subscription: number): Promise<void> {
  const r = rid();
  assert.deepEqual(await ask(c, [UNSUBSCRIBE, r, subscription]), [UNSUBSCRIBED, r]);
}

/** Adds a testament by CALL; the answer must be RESULT. */
async function addTestament(c: RawClient, args: unknown[], kwargs?: Dict): Promise<void> {
  assert.equal(await call(c, "wamp.session.add_testament", args, kwargs), null);
}

/** The next frame, an EVENT on `subscription`; returns its args and kwargs. */
async function nextEvent(
  c: RawClient,
  subscription: number,
  what: string,
): Promise<{ args: unknown[]; kwargs: Dict }> {
  const f = await c.next(what) as Frame;
  assert.equal(f[0], EVENT, `expected EVENT (${what}), got ${JSON.stringify(f)}`);
  assert.equal(f[1], subscription, `EVENT on the subscription of ${what}: ${JSON.stringify(f)}`);
  return { args: (f[4] ?? []) as unknown[], kwargs: (f[5] ?? {}) as Dict };
}

/** Subscribes `c` to each meta topic; returns the topics by subscription id. */
async function watch(c: RawClient, topics: string[]): Promise<Map<number, string>> {
  const byId = new Map<number, string>();
  for (const t of topics) byId.set(await rawSubscribe(c, t), t);
  return byId;
}

/** The next frame, an EVENT on one of `watched`; returns `[topic, args]`. */
async function nextMeta(
  c: RawClient,
  watched: Map<number, string>,
  what: string,
): Promise<[string, unknown[]]> {
  const f = await c.next(what) as Frame;
  assert.equal(f[0], EVENT, `expected a meta EVENT (${what}), got ${JSON.stringify(f)}`);
  const topic = watched.get(f[1] as number);
  assert.ok(topic !== undefined, `EVENT on a subscription not watched: ${JSON.stringify(f)}`);
  return [topic, (f[4] ?? []) as unknown[]];
}

/** The WELCOME-to-GOODBYE reply of a killed v2 session: answers GOODBYE and waits for the close. */
async function answerGoodbye(c: RawClient): Promise<CloseEvent> {
  c.send([GOODBYE, {}, "wamp.close.goodbye_and_out"]);
  return await c.closeEvent();
}

/** A v1 CALL; returns the CALLRESULT's value. */
async function v1Call(c: RawClient, procedure: string, ...args: unknown[]): Promise<unknown> {
  const id = `c${rid()}`;
  const reply = await ask(c, [V1_CALL, id, procedure, ...args]);
  assert.deepEqual(reply.slice(0, 2), [V1_CALLRESULT, id], `v1 CALL ${procedure}: ${JSON.stringify(reply)}`);
  return reply[2];
}

function sorted(ids: unknown): number[] {
  assert.ok(Array.isArray(ids), `a list of ids: ${JSON.stringify(ids)}`);
  return [...ids as number[]].sort((a, b) => a - b);
}

/** Asserts `created` is an ISO 8601 timestamp within the last minute. */
function assertRecent(created: unknown): void {
  assert.equal(typeof created, "string");
  assert.equal(new Date(created as string).toISOString(), created, `ISO string: ${created}`);
  const age = Date.now() - Date.parse(created as string);
  assert.ok(age >= -1000 && age < 60_000, `created ${created} is recent`);
}

function v2Details(session: number): Dict {
  return {
    session,
    authid: String(session),
    authrole: "anonymous",
    authmethod: "anonymous",
    authprovider: "static",
    transport: { protocol: "wamp.2.json" },
  };
}

/** The push app's own session id (role `trusted`, the only one). */
async function pushSession(c: RawClient): Promise<number> {
  const ids = await call(c, "wamp.session.list", [["trusted"]]) as number[];
  assert.equal(ids.length, 1, `one trusted session: ${JSON.stringify(ids)}`);
  return ids[0];
}

// ---------------------------------------------------------------------------
// WELCOME

Deno.test(
  "WELCOME announces the meta APIs, testaments, pattern-based and shared registrations and call timeouts",
  scenario(async ({ server }) => {
    const client = await RawClient.open(server.wsUrl, "wamp.2.json");
    try {
      client.send([HELLO, "realm1", { roles: { caller: {}, subscriber: {} } }]);
      const welcome = await client.next("WELCOME") as Frame;
      assert.equal(welcome[0], WELCOME);
      const roles = (welcome[2] as Dict).roles as Record<string, { features: Dict }>;
      for (const f of ["session_meta_api", "subscription_meta_api", "pattern_based_subscription"]) {
        assert.equal(roles.broker.features[f], true, `broker feature ${f}`);
      }
      for (
        const f of [
          "session_meta_api",
          "registration_meta_api",
          "testament_meta_api",
          "shared_registration",
          "pattern_based_registration",
          "call_timeout",
        ]
      ) {
        assert.equal(roles.dealer.features[f], true, `dealer feature ${f}`);
      }
    } finally {
      await client.close();
    }
  }),
);

// ---------------------------------------------------------------------------
// Session meta API: events

Deno.test(
  "wamp.session.on_join: others get [{session, authid, authrole, authmethod, authprovider, transport}] (wamp.2.json, wamp for v1); the joiner gets nothing",
  scenario(async ({ v2, v1 }) => {
    const observer = await v2();
    const sub = await rawSubscribe(observer.client, ON_JOIN);
    const joiner = await v2();
    assert.deepEqual((await nextEvent(observer.client, sub, "on_join of the v2 joiner")).args, [
      v2Details(joiner.session),
    ]);
    await assertNothingQueued(joiner.client, "the joiner after joining");

    const old = await v1();
    assert.deepEqual((await nextEvent(observer.client, sub, "on_join of the v1 joiner")).args, [{
      ...v2Details(old.session),
      transport: { protocol: "wamp" },
    }]);
    await assertNothingQueued(observer.client, "one on_join per join");
  }),
);

Deno.test(
  "wamp.session.on_leave [session, authid, authrole]: on GOODBYE, on a socket closed without GOODBYE, on a v1 socket closing; never to the leaver",
  scenario(async ({ v2, v1 }) => {
    const observer = await v2();
    const sub = await rawSubscribe(observer.client, ON_LEAVE);

    // GOODBYE; the leaver watched on_leave too, and hears nothing of its own leaving.
    const polite = await v2();
    await rawSubscribe(polite.client, ON_LEAVE);
    polite.client.send([GOODBYE, {}, "wamp.close.close_realm"]);
    assert.deepEqual(await polite.client.next("the GOODBYE answer"), [
      GOODBYE,
      {},
      "wamp.close.goodbye_and_out",
    ]);
    assert.deepEqual(
      (await nextEvent(observer.client, sub, "on_leave after GOODBYE")).args,
      [polite.session, String(polite.session), "anonymous"],
    );
    // The same transport says HELLO again: the next frame is WELCOME, no on_leave came between.
    polite.client.send([HELLO, "realm1", { roles: { subscriber: {} } }]);
    const again = await polite.client.next("WELCOME of the second session") as Frame;
    assert.equal(again[0], WELCOME, `nothing before the second WELCOME: ${JSON.stringify(again)}`);
    await polite.client.close();
    assert.deepEqual(
      (await nextEvent(observer.client, sub, "on_leave of the second session")).args,
      [again[1], String(again[1]), "anonymous"],
    );

    // The socket closes without GOODBYE.
    const abrupt = await v2();
    await abrupt.client.close();
    assert.deepEqual(
      (await nextEvent(observer.client, sub, "on_leave after a close without GOODBYE")).args,
      [abrupt.session, String(abrupt.session), "anonymous"],
    );

    // A v1 session's socket closes.
    const old = await v1();
    await old.client.close();
    assert.deepEqual(
      (await nextEvent(observer.client, sub, "on_leave of a v1 session")).args,
      [old.session, String(old.session), "anonymous"],
    );
    await assertNothingQueued(observer.client, "one on_leave per leave");
  }),
);

// ---------------------------------------------------------------------------
// Session meta API: count, list, get

Deno.test(
  "wamp.session.count and list count every session of the realm (the push app's in-process one too), filtered by authroles",
  scenario(async ({ v2, v1 }) => {
    const a = await v2();
    const b = await v2();
    const old = await v1();
    const app = await pushSession(a.client);
    assert.equal(await call(a.client, "wamp.session.count"), 4);
    assert.deepEqual(
      sorted(await call(a.client, "wamp.session.list")),
      sorted([app, a.session, b.session, old.session]),
    );
    assert.equal(await call(a.client, "wamp.session.count", [["anonymous"]]), 3);
    assert.deepEqual(
      sorted(await call(a.client, "wamp.session.list", [["anonymous"]])),
      sorted([a.session, b.session, old.session]),
    );
    assert.equal(await call(a.client, "wamp.session.count", [["nope"]]), 0);
    assert.deepEqual(await call(a.client, "wamp.session.list", [["nope"]]), []);
    assert.equal(await call(a.client, "wamp.session.count", [["trusted", "anonymous"]]), 4);

    await b.client.close();
    await old.client.close();
    assert.equal(await call(a.client, "wamp.session.count"), 2);
    assert.deepEqual(sorted(await call(a.client, "wamp.session.list")), sorted([app, a.session]));
  }),
);

Deno.test(
  "wamp.session.get returns a session's details (v2, v1, the push app's local session); an unknown id is wamp.error.no_such_session",
  scenario(async ({ v2, v1 }) => {
    const a = await v2();
    const b = await v2();
    const old = await v1();
    assert.deepEqual(await call(a.client, "wamp.session.get", [b.session]), v2Details(b.session));
    assert.deepEqual(await call(a.client, "wamp.session.get", [a.session]), v2Details(a.session));
    assert.deepEqual(await call(a.client, "wamp.session.get", [old.session]), {
      ...v2Details(old.session),
      transport: { protocol: "wamp" },
    });
    const app = await pushSession(a.client);
    const local = await call(a.client, "wamp.session.get", [app]) as Dict;
    assert.equal(local.authrole, "trusted");
    assert.deepEqual(local.transport, { protocol: "local" });

    const gone = b.session;
    await b.client.close();
    await callFails(a.client, "wamp.session.get", [gone], undefined, NO_SUCH_SESSION);
    await callFails(a.client, "wamp.session.get", [NEVER_AN_ID], undefined, NO_SUCH_SESSION);
    await callFails(a.client, "wamp.session.get", ["12"], undefined, NO_SUCH_SESSION);
  }),
);

// ---------------------------------------------------------------------------
// Session meta API: kill

Deno.test(
  "default roles: an anonymous session may not call wamp.session.kill, kill_by_authid or kill_by_authrole (wamp.error.not_authorized); the target stays",
  scenario(async ({ v2 }) => {
    const killer = await v2();
    const target = await v2();
    await callFails(killer.client, "wamp.session.kill", [target.session], undefined, NOT_AUTHORIZED);
    await callFails(
      killer.client,
      "wamp.session.kill_by_authid",
      [String(target.session)],
      {},
      NOT_AUTHORIZED,
    );
    await callFails(killer.client, "wamp.session.kill_by_authrole", ["anonymous"], {}, NOT_AUTHORIZED);
    await assertNothingQueued(target.client, "the target was not killed");
    assert.equal(await call(killer.client, "wamp.session.count"), 3);
  }),
);

Deno.test(
  "wamp.session.kill: the v2 target gets GOODBYE with the reason and message, loses its subscriptions and registrations, others get on_leave",
  scenario(async ({ v2, server }) => {
    const observer = await v2();
    const onLeave = await rawSubscribe(observer.client, ON_LEAVE);
    const target = await v2();
    await subscribe(target.client, "com.example.target.news");
    await register(target.client, "com.example.target.proc");
    const killer = await v2();
    const before = footprint(server);

    assert.equal(
      await call(killer.client, "wamp.session.kill", [target.session], {
        reason: "com.example.kicked",
        message: "out you go",
      }),
      null,
    );
    assert.deepEqual(await target.client.next("the kill's GOODBYE"), [
      GOODBYE,
      { message: "out you go" },
      "com.example.kicked",
    ]);
    assert.deepEqual(
      (await nextEvent(observer.client, onLeave, "on_leave of the killed session")).args,
      [target.session, String(target.session), "anonymous"],
    );
    assert.equal(await call(killer.client, "wamp.subscription.lookup", ["com.example.target.news"]), null);
    assert.equal(await call(killer.client, "wamp.registration.lookup", ["com.example.target.proc"]), null);
    await callFails(killer.client, "wamp.session.get", [target.session], undefined, NO_SUCH_SESSION);
    assert.equal(footprint(server).realmSessions, before.realmSessions - 1);
    assert.equal((await answerGoodbye(target.client)).code, 1000);
  }, MAY_KILL),
);

Deno.test(
  "wamp.session.kill: without a reason the GOODBYE says wamp.close.normal; one's own id and unknown ids are no_such_session; a reason that is not a URI is invalid_uri",
  scenario(async ({ v2 }) => {
    const killer = await v2();
    const target = await v2();
    await callFails(killer.client, "wamp.session.kill", [killer.session], {}, NO_SUCH_SESSION);
    await callFails(killer.client, "wamp.session.kill", [NEVER_AN_ID], {}, NO_SUCH_SESSION);
    await callFails(killer.client, "wamp.session.kill", [target.session], { reason: "a b" }, INVALID_URI);
    await callFails(
      killer.client,
      "wamp.session.kill_by_authrole",
      ["anonymous"],
      { reason: "a b" },
      INVALID_URI,
    );
    await assertNothingQueued(target.client, "the target survived the refused kills");
    assert.equal(await call(killer.client, "wamp.session.count"), 3);

    assert.equal(await call(killer.client, "wamp.session.kill", [target.session]), null);
    assert.deepEqual(await target.client.next("GOODBYE"), [GOODBYE, {}, "wamp.close.normal"]);
    assert.equal((await answerGoodbye(target.client)).code, 1000);
  }, MAY_KILL),
);

Deno.test(
  "wamp.session.kill of a v1 session closes its socket (1000, the message) and others get on_leave",
  scenario(async ({ v2, v1 }) => {
    const observer = await v2();
    const onLeave = await rawSubscribe(observer.client, ON_LEAVE);
    const old = await v1();
    const killer = await v2();
    assert.equal(
      await call(killer.client, "wamp.session.kill", [old.session], {
        reason: "com.example.kicked",
        message: "bye v1",
      }),
      null,
    );
    const closed = await old.client.closeEvent();
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, "bye v1");
    assert.deepEqual(
      (await nextEvent(observer.client, onLeave, "on_leave of the killed v1 session")).args,
      [old.session, String(old.session), "anonymous"],
    );
    assert.equal(await call(killer.client, "wamp.session.count"), 3);
  }, MAY_KILL),
);

Deno.test(
  "wamp.session.kill_by_authrole kills every session of the role but the caller (v1 too), returns how many; others keep their sessions",
  scenario(async ({ v2, v1, ticket }) => {
    const joe = await ticket("joe", JOE_TICKET); // role backend: watches and survives
    const onLeave = await rawSubscribe(joe.client, ON_LEAVE);
    const a = await v2();
    const b = await v2();
    const old = await v1();
    const killer = await v2();
    assert.equal(
      await call(killer.client, "wamp.session.kill_by_authrole", ["anonymous"], {
        reason: "com.example.purge",
        message: "all anonymous out",
      }),
      3,
    );
    for (const victim of [a, b]) {
      assert.deepEqual(await victim.client.next("GOODBYE"), [
        GOODBYE,
        { message: "all anonymous out" },
        "com.example.purge",
      ]);
      assert.equal((await answerGoodbye(victim.client)).code, 1000);
    }
    assert.equal((await old.client.closeEvent()).code, 1000);
    const left = [];
    for (let i = 0; i < 3; i++) left.push((await nextEvent(joe.client, onLeave, `on_leave ${i + 1}`)).args);
    assert.deepEqual(
      left.map((args) => args[0]).sort(),
      [a.session, b.session, old.session].sort(),
    );
    for (const args of left) assert.deepEqual(args.slice(1), [String(args[0]), "anonymous"]);
    await assertNothingQueued(joe.client, "three on_leave, nothing more");
    // The caller, joe and the push app remain.
    assert.deepEqual(
      sorted(await call(killer.client, "wamp.session.list")),
      sorted([await pushSession(killer.client), joe.session, killer.session]),
    );
    assert.equal(await call(killer.client, "wamp.session.kill_by_authrole", ["nope"]), 0);
  }, MAY_KILL),
);

Deno.test(
  "wamp.session.kill_by_authid kills every session with the authid but the caller, returns how many",
  scenario(async ({ v2, ticket }) => {
    const joe1 = await ticket("joe", JOE_TICKET);
    const joe2 = await ticket("joe", JOE_TICKET);
    const bystander = await v2();
    const killer = await v2();
    assert.equal(
      await call(killer.client, "wamp.session.kill_by_authid", ["joe"], { reason: "com.example.nojoe" }),
      2,
    );
    for (const joe of [joe1, joe2]) {
      assert.deepEqual(await joe.client.next("GOODBYE"), [GOODBYE, {}, "com.example.nojoe"]);
      assert.equal((await answerGoodbye(joe.client)).code, 1000);
    }
    await assertNothingQueued(bystander.client, "the bystander was not killed");
    // An anonymous session's authid is its session id; the caller's own is spared.
    assert.equal(await call(killer.client, "wamp.session.kill_by_authid", [String(killer.session)]), 0);
    assert.equal(await call(killer.client, "wamp.session.kill_by_authid", [String(bystander.session)]), 1);
    assert.deepEqual(await bystander.client.next("GOODBYE"), [GOODBYE, {}, "wamp.close.normal"]);
    assert.equal(await call(killer.client, "wamp.session.count"), 2);
  }, MAY_KILL),
);

// ---------------------------------------------------------------------------
// Subscription meta API

const SUBSCRIPTION_EVENTS = [SUB_ON_CREATE, SUB_ON_SUBSCRIBE, SUB_ON_UNSUBSCRIBE, SUB_ON_DELETE];

Deno.test(
  "subscription meta events: on_create, on_subscribe, on_unsubscribe, on_delete in that order; a second subscriber gives only on_subscribe and on_unsubscribe",
  scenario(async ({ v2 }) => {
    const observer = await v2();
    const watched = await watch(observer.client, SUBSCRIPTION_EVENTS);
    await assertNothingQueued(observer.client, "subscribing to wamp. topics raises no meta events");
    const a = await v2();
    const b = await v2();
    const topic = "com.example.fresh";

    const id = await subscribe(a.client, topic);
    const [t1, created] = await nextMeta(observer.client, watched, "on_create");
    assert.equal(t1, SUB_ON_CREATE);
    assert.equal(created.length, 2);
    assert.equal(created[0], a.session);
    const details = created[1] as Dict;
    assertRecent(details.created);
    assert.deepEqual({ ...details, created: undefined }, {
      id,
      created: undefined,
      uri: topic,
      match: "exact",
    });
    assert.deepEqual(await nextMeta(observer.client, watched, "on_subscribe"), [SUB_ON_SUBSCRIBE, [
      a.session,
      id,
    ]]);
    await assertNothingQueued(observer.client, "after the first subscriber");

    assert.equal(await subscribe(b.client, topic), id);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_subscribe of the second"), [
      SUB_ON_SUBSCRIBE,
      [b.session, id],
    ]);
    await assertNothingQueued(observer.client, "a second subscriber gives only on_subscribe");

    await unsubscribe(b.client, id);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_unsubscribe of the second"), [
      SUB_ON_UNSUBSCRIBE,
      [b.session, id],
    ]);
    await assertNothingQueued(observer.client, "the subscription still has a subscriber: no on_delete");

    await unsubscribe(a.client, id);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_unsubscribe"), [SUB_ON_UNSUBSCRIBE, [
      a.session,
      id,
    ]]);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_delete"), [SUB_ON_DELETE, [a.session, id]]);

    // A pattern subscription, dropped with its socket (no UNSUBSCRIBE).
    const p = await subscribe(a.client, "com.example.", { match: "prefix" });
    const [, pCreated] = await nextMeta(observer.client, watched, "on_create of the prefix");
    assert.equal((pCreated[1] as Dict).match, "prefix");
    assert.equal((pCreated[1] as Dict).uri, "com.example.");
    assert.deepEqual(await nextMeta(observer.client, watched, "on_subscribe"), [SUB_ON_SUBSCRIBE, [
      a.session,
      p,
    ]]);
    await a.client.close();
    assert.deepEqual(await nextMeta(observer.client, watched, "on_unsubscribe at the close"), [
      SUB_ON_UNSUBSCRIBE,
      [a.session, p],
    ]);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_delete at the close"), [SUB_ON_DELETE, [
      a.session,
      p,
    ]]);
    await assertNothingQueued(observer.client, "nothing more");
  }),
);

Deno.test(
  "subscription meta events about a session are not sent to that session",
  scenario(async ({ v2 }) => {
    const a = await v2();
    const b = await v2();
    const watchedA = await watch(a.client, [SUB_ON_SUBSCRIBE]);
    const watchedB = await watch(b.client, [SUB_ON_SUBSCRIBE]);
    const id = await subscribe(a.client, "com.example.self");
    await assertNothingQueued(a.client, "a's own on_subscribe");
    assert.deepEqual(await nextMeta(b.client, watchedB, "b hears of a"), [SUB_ON_SUBSCRIBE, [a.session, id]]);
    await subscribe(b.client, "com.example.self");
    await assertNothingQueued(b.client, "b's own on_subscribe");
    assert.deepEqual(await nextMeta(a.client, watchedA, "a hears of b"), [SUB_ON_SUBSCRIBE, [b.session, id]]);
  }),
);

Deno.test(
  "wamp.subscription.list, lookup, match, get, list_subscribers, count_subscribers; unknown ids are wamp.error.no_such_subscription",
  scenario(async ({ v2 }) => {
    const asker = await v2();
    const a = await v2();
    const b = await v2();
    assert.deepEqual(await call(asker.client, "wamp.subscription.list"), {
      exact: [],
      prefix: [],
      wildcard: [],
    });

    const exact = await subscribe(a.client, "com.example.a.b");
    assert.equal(await subscribe(b.client, "com.example.a.b"), exact);
    const prefix = await subscribe(a.client, "com.example.", { match: "prefix" });
    const wildcard = await subscribe(b.client, "com.example..b", { match: "wildcard" });
    const meta = await rawSubscribe(a.client, ON_JOIN);

    assert.deepEqual(await call(asker.client, "wamp.subscription.list"), {
      exact: [exact],
      prefix: [prefix],
      wildcard: [wildcard],
    }, "the wamp. subscription is left out");

    assert.equal(await call(asker.client, "wamp.subscription.lookup", ["com.example.a.b"]), exact);
    assert.equal(
      await call(asker.client, "wamp.subscription.lookup", ["com.example.a.b", { match: "exact" }]),
      exact,
    );
    assert.equal(
      await call(asker.client, "wamp.subscription.lookup", ["com.example.", { match: "prefix" }]),
      prefix,
    );
    assert.equal(
      await call(asker.client, "wamp.subscription.lookup", ["com.example..b", { match: "wildcard" }]),
      wildcard,
    );
    assert.equal(await call(asker.client, "wamp.subscription.lookup", ["com.example."]), null);
    assert.equal(await call(asker.client, "wamp.subscription.lookup", ["com.example.nothing"]), null);
    assert.equal(await call(asker.client, "wamp.subscription.lookup", [ON_JOIN]), meta);

    assert.deepEqual(
      sorted(await call(asker.client, "wamp.subscription.match", ["com.example.a.b"])),
      sorted([exact, prefix, wildcard]),
    );
    assert.deepEqual(await call(asker.client, "wamp.subscription.match", ["com.example.x"]), [prefix]);
    assert.equal(await call(asker.client, "wamp.subscription.match", ["org.other"]), null);

    const details = await call(asker.client, "wamp.subscription.get", [wildcard]) as Dict;
    assertRecent(details.created);
    assert.deepEqual({ ...details, created: undefined }, {
      id: wildcard,
      created: undefined,
      uri: "com.example..b",
      match: "wildcard",
    });
    assert.deepEqual(
      sorted(await call(asker.client, "wamp.subscription.list_subscribers", [exact])),
      sorted([a.session, b.session]),
    );
    assert.equal(await call(asker.client, "wamp.subscription.count_subscribers", [exact]), 2);
    assert.deepEqual(await call(asker.client, "wamp.subscription.list_subscribers", [prefix]), [a.session]);
    assert.equal(await call(asker.client, "wamp.subscription.count_subscribers", [wildcard]), 1);

    for (const procedure of ["get", "list_subscribers", "count_subscribers"]) {
      await callFails(
        asker.client,
        `wamp.subscription.${procedure}`,
        [NEVER_AN_ID],
        undefined,
        NO_SUCH_SUBSCRIPTION,
      );
    }
    await unsubscribe(a.client, prefix);
    await callFails(asker.client, "wamp.subscription.get", [prefix], undefined, NO_SUCH_SUBSCRIPTION);
    await b.client.close();
    assert.deepEqual(await call(asker.client, "wamp.subscription.list_subscribers", [exact]), [a.session]);
    assert.deepEqual(await call(asker.client, "wamp.subscription.list"), {
      exact: [exact],
      prefix: [],
      wildcard: [],
    });
  }),
);

// ---------------------------------------------------------------------------
// Registration meta API

const REGISTRATION_EVENTS = [REG_ON_CREATE, REG_ON_REGISTER, REG_ON_UNREGISTER, REG_ON_DELETE];

Deno.test(
  "registration meta events: on_create (with invoke), on_register, on_unregister, on_delete in that order; a second callee of a shared registration gives only on_register",
  scenario(async ({ v2 }) => {
    const observer = await v2();
    const watched = await watch(observer.client, REGISTRATION_EVENTS);
    const a = await v2();
    const b = await v2();
    const procedure = "com.example.shared";

    const id = await register(a.client, procedure, { invoke: "roundrobin" });
    const [t1, created] = await nextMeta(observer.client, watched, "on_create");
    assert.equal(t1, REG_ON_CREATE);
    assert.equal(created[0], a.session);
    const details = created[1] as Dict;
    assertRecent(details.created);
    assert.deepEqual({ ...details, created: undefined }, {
      id,
      created: undefined,
      uri: procedure,
      match: "exact",
      invoke: "roundrobin",
    });
    assert.deepEqual(await nextMeta(observer.client, watched, "on_register"), [REG_ON_REGISTER, [
      a.session,
      id,
    ]]);
    await assertNothingQueued(observer.client, "after the first callee");

    assert.equal(await register(b.client, procedure, { invoke: "roundrobin" }), id);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_register of the second"), [
      REG_ON_REGISTER,
      [b.session, id],
    ]);
    await assertNothingQueued(observer.client, "a second callee gives only on_register");

    await unregister(a.client, id);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_unregister"), [REG_ON_UNREGISTER, [
      a.session,
      id,
    ]]);
    await assertNothingQueued(observer.client, "a callee remains: no on_delete");
    await b.client.close();
    assert.deepEqual(await nextMeta(observer.client, watched, "on_unregister at the close"), [
      REG_ON_UNREGISTER,
      [b.session, id],
    ]);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_delete at the close"), [REG_ON_DELETE, [
      b.session,
      id,
    ]]);

    // A single registration: the four events in order, and none to the callee itself.
    await watch(a.client, [REG_ON_CREATE, REG_ON_REGISTER]);
    const single = await register(a.client, "com.example.single");
    assert.equal((await nextMeta(observer.client, watched, "on_create"))[0], REG_ON_CREATE);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_register"), [REG_ON_REGISTER, [
      a.session,
      single,
    ]]);
    await assertNothingQueued(a.client, "the callee hears nothing of its own registration");
    await unregister(a.client, single);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_unregister"), [
      REG_ON_UNREGISTER,
      [a.session, single],
    ]);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_delete"), [REG_ON_DELETE, [
      a.session,
      single,
    ]]);
    await assertNothingQueued(observer.client, "nothing more");
  }),
);

Deno.test(
  "wamp.registration.list, lookup, match (one id or null), get, list_callees, count_callees; unknown ids are wamp.error.no_such_registration",
  scenario(async ({ v2 }) => {
    const asker = await v2();
    const a = await v2();
    const b = await v2();
    const area = await call(asker.client, "wamp.registration.lookup", [AREA_PROCEDURE]) as number;
    assert.equal(typeof area, "number", "the push app's procedure is registered");
    assert.deepEqual(await call(asker.client, "wamp.registration.list"), {
      exact: [area],
      prefix: [],
      wildcard: [],
    });

    const exact = await register(a.client, "com.example.p.q", { invoke: "first" });
    assert.equal(await register(b.client, "com.example.p.q", { invoke: "first" }), exact);
    const prefix = await register(a.client, "com.example.p.", { match: "prefix" });
    const wildcard = await register(b.client, "com.example..z", { match: "wildcard" });

    const list = await call(asker.client, "wamp.registration.list") as Record<string, number[]>;
    assert.deepEqual(
      { ...list, exact: sorted(list.exact) },
      { exact: sorted([area, exact]), prefix: [prefix], wildcard: [wildcard] },
      "the meta procedures (wamp.) are left out",
    );

    assert.equal(await call(asker.client, "wamp.registration.lookup", ["com.example.p.q"]), exact);
    assert.equal(
      await call(asker.client, "wamp.registration.lookup", ["com.example.p.", { match: "prefix" }]),
      prefix,
    );
    assert.equal(
      await call(asker.client, "wamp.registration.lookup", ["com.example..z", { match: "wildcard" }]),
      wildcard,
    );
    assert.equal(await call(asker.client, "wamp.registration.lookup", ["com.example.p."]), null);
    assert.equal(await call(asker.client, "wamp.registration.lookup", ["com.example.none"]), null);
    assert.equal(
      typeof await call(asker.client, "wamp.registration.lookup", ["wamp.session.count"]),
      "number",
    );

    assert.equal(await call(asker.client, "wamp.registration.match", ["com.example.p.q"]), exact);
    assert.equal(await call(asker.client, "wamp.registration.match", ["com.example.p.r"]), prefix);
    assert.equal(await call(asker.client, "wamp.registration.match", ["com.example.y.z"]), wildcard);
    assert.equal(await call(asker.client, "wamp.registration.match", ["org.other"]), null);

    const details = await call(asker.client, "wamp.registration.get", [prefix]) as Dict;
    assertRecent(details.created);
    assert.deepEqual({ ...details, created: undefined }, {
      id: prefix,
      created: undefined,
      uri: "com.example.p.",
      match: "prefix",
      invoke: "single",
    });
    assert.equal((await call(asker.client, "wamp.registration.get", [exact]) as Dict).invoke, "first");
    assert.deepEqual(await call(asker.client, "wamp.registration.list_callees", [exact]), [
      a.session,
      b.session,
    ]);
    assert.equal(await call(asker.client, "wamp.registration.count_callees", [exact]), 2);
    assert.deepEqual(await call(asker.client, "wamp.registration.list_callees", [wildcard]), [b.session]);
    assert.equal(await call(asker.client, "wamp.registration.count_callees", [prefix]), 1);

    for (const procedure of ["get", "list_callees", "count_callees"]) {
      await callFails(
        asker.client,
        `wamp.registration.${procedure}`,
        [NEVER_AN_ID],
        undefined,
        NO_SUCH_REGISTRATION,
      );
    }
    await a.client.close();
    await callFails(asker.client, "wamp.registration.get", [prefix], undefined, NO_SUCH_REGISTRATION);
    assert.deepEqual(await call(asker.client, "wamp.registration.list_callees", [exact]), [b.session]);
  }),
);

// ---------------------------------------------------------------------------
// v1

Deno.test(
  "v1: a raw v1 session calls the meta API (count, list, get with protocol wamp, subscription.lookup)",
  scenario(async ({ v2, v1 }) => {
    const old = await v1();
    const other = await v2();
    const id = await subscribe(other.client, "com.example.v1.news");
    assert.equal(await v1Call(old.client, "wamp.session.count"), 3);
    assert.deepEqual(
      sorted(await v1Call(old.client, "wamp.session.list", ["anonymous"])),
      sorted([old.session, other.session]),
    );
    assert.deepEqual(await v1Call(old.client, "wamp.session.get", old.session), {
      ...v2Details(old.session),
      transport: { protocol: "wamp" },
    });
    assert.deepEqual(await v1Call(old.client, "wamp.session.get", other.session), v2Details(other.session));
    assert.equal(await v1Call(old.client, "wamp.subscription.lookup", "com.example.v1.news"), id);
    assert.equal(await v1Call(old.client, "wamp.subscription.lookup", "com.example.v1.none"), null);
    assert.equal(await v1Call(old.client, "wamp.subscription.count_subscribers", id), 1);
  }),
);

Deno.test(
  "v1: SUBSCRIBE wamp.session.on_join receives [8, wamp.session.on_join, details] when a v2 session joins",
  scenario(async ({ v2, v1 }) => {
    const old = await v1();
    old.client.send([V1_SUBSCRIBE, ON_JOIN]);
    // v1 SUBSCRIBE has no answer: a CALL answered after it shows it was handled.
    const id = `c${rid()}`;
    old.client.send([V1_CALL, id, "wamp.subscription.count_subscribers", NEVER_AN_ID]);
    const reply = await old.client.next("the CALL after SUBSCRIBE").catch(async () => {
      const closed = await old.client.closeEvent();
      assert.fail(
        `the router closed the v1 socket (${closed.code} "${closed.reason}") instead of subscribing`,
      );
    }) as Frame;
    assert.deepEqual(reply.slice(0, 3), [4, id, NO_SUCH_SUBSCRIPTION], JSON.stringify(reply));
    const joiner = await v2();
    assert.deepEqual(await old.client.next("the v1 on_join EVENT"), [
      V1_EVENT,
      ON_JOIN,
      v2Details(joiner.session),
    ]);
  }),
);

// ---------------------------------------------------------------------------
// Testaments

Deno.test(
  "testaments are published in the order added when the session says GOODBYE, args and kwargs intact",
  scenario(async ({ v2 }) => {
    const observer = await v2();
    const sub = await rawSubscribe(observer.client, GONE);
    const leaver = await v2();
    await addTestament(leaver.client, [GONE, ["first"], { n: 1 }]);
    await addTestament(leaver.client, [GONE, ["second", 2]]);
    await addTestament(leaver.client, [GONE]);
    await assertNothingQueued(observer.client, "nothing is published while the session is there");

    leaver.client.send([GOODBYE, {}, "wamp.close.close_realm"]);
    assert.deepEqual(await leaver.client.next("GOODBYE"), [GOODBYE, {}, "wamp.close.goodbye_and_out"]);
    assert.deepEqual(await nextEvent(observer.client, sub, "testament 1"), {
      args: ["first"],
      kwargs: { n: 1 },
    });
    assert.deepEqual(await nextEvent(observer.client, sub, "testament 2"), {
      args: ["second", 2],
      kwargs: {},
    });
    assert.deepEqual(await nextEvent(observer.client, sub, "testament 3"), { args: [], kwargs: {} });
    await assertNothingQueued(observer.client, "three testaments, published once");
  }),
);

Deno.test(
  "testaments are published when the socket closes without GOODBYE",
  scenario(async ({ v2 }) => {
    const observer = await v2();
    const sub = await rawSubscribe(observer.client, GONE);
    const leaver = await v2();
    await addTestament(leaver.client, [GONE, ["dropped"]]);
    await leaver.client.close();
    assert.deepEqual((await nextEvent(observer.client, sub, "the testament")).args, ["dropped"]);
    await assertNothingQueued(observer.client, "one testament");
  }),
);

Deno.test(
  "testaments: the detached scope is published before the destroyed scope, each in the order added",
  scenario(async ({ v2 }) => {
    const observer = await v2();
    const sub = await rawSubscribe(observer.client, GONE);
    const leaver = await v2();
    await addTestament(leaver.client, [GONE, ["destroyed 1"]]);
    await addTestament(leaver.client, [GONE, ["detached 1"]], { scope: "detached" });
    await addTestament(leaver.client, [GONE, ["destroyed 2"]], { scope: "destroyed" });
    await addTestament(leaver.client, [GONE, ["detached 2"]], { scope: "detached" });
    await leaver.client.close();
    const got = [];
    for (let i = 0; i < 4; i++) {
      got.push((await nextEvent(observer.client, sub, `testament ${i + 1}`)).args[0]);
    }
    assert.deepEqual(got, ["detached 1", "detached 2", "destroyed 1", "destroyed 2"]);
    await assertNothingQueued(observer.client, "four testaments");
  }),
);

Deno.test(
  "wamp.session.flush_testaments drops the testaments of a scope (default destroyed); flushed ones are not published",
  scenario(async ({ v2 }) => {
    const observer = await v2();
    const sub = await rawSubscribe(observer.client, GONE);
    const a = await v2();
    await addTestament(a.client, [GONE, ["a destroyed"]]);
    await addTestament(a.client, [GONE, ["a detached"]], { scope: "detached" });
    await call(a.client, "wamp.session.flush_testaments");
    await a.client.close();
    assert.deepEqual((await nextEvent(observer.client, sub, "a's detached testament")).args, ["a detached"]);
    await assertNothingQueued(observer.client, "a's destroyed testament was flushed");

    const b = await v2();
    await addTestament(b.client, [GONE, ["b destroyed"]]);
    await addTestament(b.client, [GONE, ["b detached"]], { scope: "detached" });
    await call(b.client, "wamp.session.flush_testaments", [], { scope: "detached" });
    await addTestament(b.client, [GONE, ["b detached later"]], { scope: "detached" });
    await b.client.close();
    assert.deepEqual((await nextEvent(observer.client, sub, "b's later detached")).args, [
      "b detached later",
    ]);
    assert.deepEqual((await nextEvent(observer.client, sub, "b's destroyed")).args, ["b destroyed"]);
    await assertNothingQueued(observer.client, "b's first detached testament was flushed");

    const c = await v2();
    await addTestament(c.client, [GONE, ["c 1"]]);
    await addTestament(c.client, [GONE, ["c 2"]]);
    await call(c.client, "wamp.session.flush_testaments", [], { scope: "destroyed" });
    c.client.send([GOODBYE, {}, "wamp.close.close_realm"]);
    assert.deepEqual(await c.client.next("GOODBYE"), [GOODBYE, {}, "wamp.close.goodbye_and_out"]);
    await assertNothingQueued(observer.client, "all of c's testaments were flushed");
  }),
);

Deno.test(
  "testaments honor publish_options: a whitelist (eligible) reaches only the sessions named",
  scenario(async ({ v2 }) => {
    const chosen = await v2();
    const other = await v2();
    const subChosen = await rawSubscribe(chosen.client, GONE);
    await rawSubscribe(other.client, GONE);
    const leaver = await v2();
    await addTestament(leaver.client, [GONE, ["only for you"], {}], {
      publish_options: { eligible: [chosen.session] },
    });
    await leaver.client.close();
    assert.deepEqual((await nextEvent(chosen.client, subChosen, "the whitelisted testament")).args, [
      "only for you",
    ]);
    await assertNothingQueued(other.client, "the session not whitelisted");
  }),
);

Deno.test(
  "add_testament refuses a wamp. topic (invalid_uri), a bad scope (invalid_argument), the 65th testament (tuerca.error.quota_exceeded); the 64 accepted are published",
  scenario(async ({ v2 }) => {
    const observer = await v2();
    const sub = await rawSubscribe(observer.client, GONE);
    const leaver = await v2();
    await callFails(
      leaver.client,
      "wamp.session.add_testament",
      ["wamp.session.on_leave", ["x"]],
      undefined,
      INVALID_URI,
    );
    await callFails(
      leaver.client,
      "wamp.session.add_testament",
      ["not a uri", ["x"]],
      undefined,
      INVALID_URI,
    );
    await callFails(
      leaver.client,
      "wamp.session.add_testament",
      [GONE, ["x"]],
      { scope: "forever" },
      INVALID_ARGUMENT,
    );
    await callFails(
      leaver.client,
      "wamp.session.flush_testaments",
      [],
      { scope: "forever" },
      INVALID_ARGUMENT,
    );
    for (let i = 0; i < 64; i++) {
      await addTestament(leaver.client, [GONE, [i]], i % 2 === 0 ? {} : { scope: "destroyed" });
    }
    await callFails(leaver.client, "wamp.session.add_testament", [GONE, [64]], undefined, QUOTA_EXCEEDED);
    await callFails(
      leaver.client,
      "wamp.session.add_testament",
      [GONE, [64]],
      { scope: "detached" },
      QUOTA_EXCEEDED,
    );
    await leaver.client.close();
    const got = [];
    for (let i = 0; i < 64; i++) got.push((await nextEvent(observer.client, sub, `testament ${i}`)).args[0]);
    assert.deepEqual(got, Array.from({ length: 64 }, (_, i) => i));
    await assertNothingQueued(observer.client, "only the 64 accepted");
  }),
);

Deno.test(
  "the testaments of a killed session are published, before its on_leave",
  scenario(async ({ v2 }) => {
    const observer = await v2();
    const watched = await watch(observer.client, [GONE, ON_LEAVE]);
    const target = await v2();
    await addTestament(target.client, [GONE, ["killed"]]);
    const killer = await v2();
    assert.equal(
      await call(killer.client, "wamp.session.kill", [target.session], { reason: "com.example.kicked" }),
      null,
    );
    assert.deepEqual(await nextMeta(observer.client, watched, "the testament"), [GONE, ["killed"]]);
    assert.deepEqual(await nextMeta(observer.client, watched, "on_leave"), [
      ON_LEAVE,
      [target.session, String(target.session), "anonymous"],
    ]);
    assert.deepEqual(await target.client.next("GOODBYE"), [GOODBYE, {}, "com.example.kicked"]);
    assert.equal((await answerGoodbye(target.client)).code, 1000);
  }, MAY_KILL),
);

Deno.test(
  "autobahn: a testament added with session.call is delivered to another session's subscription after connection.close()",
  scenario(async ({ autobahn }) => {
    const listener = await autobahn();
    const events = new Events();
    await within(listener.session.subscribe(GONE, events.handler), "autobahn subscribe");
    const leaver = await autobahn();
    await within(leaver.session.call("wamp.session.add_testament", [GONE, ["bye"], {}]), "add_testament");
    await leaver.close();
    assert.deepEqual(await events.next("the testament"), ["bye"]);
  }),
);
