/**
 * Three Tuerca processes, one router: push.ts nodes started with `--cluster NAME`
 * on different ports against the machine's RabbitMQ (tests/cluster_nodes.ts), with
 * WAMP v2 (raw frames and autobahn-browser) and WAMP v1 clients spread over them.
 * Each test has a cluster (and, for the queue bridge, a queue) of its own.
 *
 * How the tests wait, without sleeping:
 * - A subscription on one node starts receiving other nodes' publishes once its
 *   AMQP binding is in place (one broker round trip after SUBSCRIBED). Before the
 *   counted part, every publisher publishes probes (`probe:…`) until each
 *   subscription has one from each publisher; probes are left out of every count.
 * - Order is guaranteed per publisher and topic, so "nothing extra arrived" is
 *   shown by a marker the same publisher publishes to the same topic afterwards:
 *   once a subscriber has the marker, it has everything published before it, and a
 *   duplicate or a leak would have come first.
 *
 * @module
 */

import assert from "node:assert/strict";
import { AREA_PROCEDURE } from "../push.ts";
import { type NodeProcess, uniqueCluster, withCluster } from "./cluster_nodes.ts";
import { clusterTest } from "./cluster_nodes.ts";
import { connectV2, RawClient, rawV1, rawV2, rid, type V2Client, waitUntil } from "./helpers.ts";
import {
  deleteQueue,
  publishNumbered,
  type QueueCounts,
  queueCounts,
  uniqueQueue,
  withConfirmChannel,
} from "./rabbitmq.ts";

// ---------------------------------------------------------------------------
// Frames, roles and bounds

type Dict = Record<string, unknown>;
type Frame = unknown[];

const HELLO = 1, WELCOME = 2, CHALLENGE = 4, AUTHENTICATE = 5, GOODBYE = 6, ERROR = 8;
const PUBLISH = 16, SUBSCRIBE = 32, SUBSCRIBED = 33, UNSUBSCRIBE = 34, EVENT = 36, CALL = 48, RESULT = 50;
const V1_CALL = 2, V1_SUBSCRIBE = 5, V1_PUBLISH = 7, V1_EVENT = 8;

/** A subscription id no router hands out: the answer to its UNSUBSCRIBE is a barrier. */
const NEVER_AN_ID = 2 ** 53;
/** Bound for anything that crosses the broker. */
const CLUSTER_MS = 10_000;
/** Bound for the probes of one test to get through. */
const PROBE_MS = 10_000;
/** How long one round of probes waits before the next. */
const PROBE_ROUND_MS = 200;

const ON_JOIN = "wamp.session.on_join";
const ON_LEAVE = "wamp.session.on_leave";

/** Everything allowed to every role: the default roles forbid `wamp.session.kill`. */
function permissive(name: string): Dict {
  return {
    name,
    permissions: [{
      uri: "",
      match: "prefix",
      allow: { call: true, register: true, publish: true, subscribe: true },
      disclose: { caller: false, publisher: false },
    }],
  };
}

/** Ticket principals: `joe` has role `backend`, `ann` role `visitor`; anonymous ones `anonymous`. */
const TICKETS: Record<string, { ticket: string; role: string }> = {
  joe: { ticket: "joe-secret", role: "backend" },
  ann: { ticket: "ann-secret", role: "visitor" },
};

/** The configuration file every node of these tests reads. */
const CONFIG = {
  realms: [{ name: "realm1", roles: ["anonymous", "backend", "visitor"].map(permissive) }],
  auth: {
    anonymous: { type: "static", role: "anonymous" },
    ticket: { type: "static", principals: TICKETS },
  },
};

// ---------------------------------------------------------------------------
// Clients

/** One received event, as the tests look at it. */
interface Ev {
  /** The concrete topic: `details.topic` for a pattern, the subscription's topic otherwise. */
  topic: string;
  /** The event: a v2 EVENT's first argument, a v1 EVENT's event. */
  payload: unknown;
  /** A v2 EVENT's details (`{}` for v1). */
  details: Dict;
  args?: unknown[];
  kwargs?: Dict;
}

/** The events of one subscription, in arrival order. */
interface Inbox {
  readonly name: string;
  readonly events: Ev[];
}

const isProbe = (p: unknown) => typeof p === "string" && p.startsWith("probe:");

/** The events of `box` that are not probes. */
function counted(box: Inbox): Ev[] {
  return box.events.filter((e) => !isProbe(e.payload));
}

/**
 * A raw WAMP client (v2 `wamp.2.json` or v1 `wamp`) whose incoming frames are
 * sorted as they arrive: EVENTs into the inbox of their subscription, the rest into
 * `replies`, so requests and events can interleave freely.
 */
class Peer {
  readonly replies: Frame[] = [];
  /** EVENTs for no subscription this client holds (there must be none). */
  readonly strays: Frame[] = [];
  readonly #v2 = new Map<number, { topic: string; box: Inbox }>();
  readonly #v1 = new Map<string, Inbox>();

  constructor(
    readonly name: string,
    readonly client: RawClient,
    readonly session: number,
    readonly version: 1 | 2,
    readonly authid: string,
  ) {
    client.ws.addEventListener("message", (e) => {
      if (typeof e.data === "string") this.#take(JSON.parse(e.data));
    });
  }

  #take(f: Frame): void {
    if (this.version === 2 && f[0] === EVENT) {
      const sub = this.#v2.get(f[1] as number);
      if (sub === undefined) return void this.strays.push(f);
      const details = (f[3] ?? {}) as Dict;
      const args = f[4] as unknown[] | undefined;
      sub.box.events.push({
        topic: typeof details.topic === "string" ? details.topic : sub.topic,
        payload: args?.[0],
        details,
        args,
        kwargs: f[5] as Dict | undefined,
      });
    } else if (this.version === 1 && f[0] === V1_EVENT) {
      const box = this.#v1.get(f[1] as string);
      if (box === undefined) return void this.strays.push(f);
      box.events.push({ topic: f[1] as string, payload: f[2], details: {} });
    } else {
      this.replies.push(f);
    }
  }

  /** The first reply matching `match`, taken out of `replies`, waiting (bounded) for it. */
  async reply(match: (f: Frame) => boolean, what: string, ms = CLUSTER_MS): Promise<Frame> {
    await waitUntil(
      () => this.replies.some(match) || this.client.ws.readyState === WebSocket.CLOSED,
      what,
      ms,
    );
    const i = this.replies.findIndex(match);
    if (i < 0) throw new Error(`${this.name}: the socket closed while waiting for ${what}`);
    return this.replies.splice(i, 1)[0];
  }

  /** Sends a request whose id is `frame[1]` and returns its answer (ERROR included). */
  request(frame: Frame, what = JSON.stringify(frame)): Promise<Frame> {
    const id = frame[1];
    this.client.send(frame);
    return this.reply(
      (f) => (this.version === 2 && f[0] === ERROR ? f[2] : f[1]) === id,
      `${this.name}: ${what}`,
    );
  }

  /** Subscribes (v2 with `options`, v1 exact); returns the subscription's inbox once the router has it. */
  async subscribe(topic: string, options: Dict = {}, name = `${this.name}/${topic}`): Promise<Inbox> {
    const box: Inbox = { name, events: [] };
    if (this.version === 2) {
      const r = await this.request([SUBSCRIBE, rid(), options, topic]);
      assert.equal(r[0], SUBSCRIBED, `${name}: ${JSON.stringify(r)}`);
      this.#v2.set(r[2] as number, { topic, box });
    } else {
      assert.deepEqual(options, {}, "v1 subscriptions are exact");
      this.#v1.set(topic, box);
      this.client.send([V1_SUBSCRIBE, topic]);
      await this.sync(); // v1 does not acknowledge SUBSCRIBE: an answered call after it shows it was handled
    }
    return box;
  }

  /**
   * Publishes `payload`: v2 `[PUBLISH, id, options, topic, [payload]]`; v1
   * `[PUBLISH, topic, payload, ...v1]` (excludeMe, or exclude and eligible).
   */
  publish(topic: string, payload: unknown, options: Dict = {}, ...v1: unknown[]): void {
    if (this.version === 2) this.client.send([PUBLISH, rid(), options, topic, [payload]]);
    else this.client.send([V1_PUBLISH, topic, payload, ...v1]);
  }

  /** A publish every subscriber gets, this one too (the marker after a counted part). */
  publishToAll(topic: string, payload: unknown): void {
    if (this.version === 2) this.publish(topic, payload, { exclude_me: false });
    else this.publish(topic, payload, {}, false);
  }

  /** CALLs `procedure`; returns RESULT's single argument (CALLRESULT's result for v1). */
  async call(procedure: string, args: unknown[] = [], kwargs?: Dict): Promise<unknown> {
    const r = await this.callRaw(procedure, args, kwargs);
    if (this.version === 1) {
      assert.equal(r[0], 3, `${this.name}: ${procedure}: ${JSON.stringify(r)}`);
      return r[2];
    }
    assert.equal(r[0], RESULT, `${this.name}: ${procedure}${JSON.stringify(args)}: ${JSON.stringify(r)}`);
    const results = (r[3] ?? []) as unknown[];
    assert.equal(results.length, 1, `one result: ${JSON.stringify(r)}`);
    return results[0];
  }

  /** CALLs `procedure` and returns the answer frame as it is. */
  callRaw(procedure: string, args: unknown[] = [], kwargs?: Dict): Promise<Frame> {
    if (this.version === 1) return this.request([V1_CALL, `c${rid()}`, procedure, ...args]);
    const frame: Frame = [CALL, rid(), {}, procedure, args];
    if (kwargs !== undefined) frame.push(kwargs);
    return this.request(frame, procedure);
  }

  /** A request that changes nothing, answered in order after everything sent before it. */
  async sync(): Promise<void> {
    if (this.version === 1) {
      assert.equal(await this.call(AREA_PROCEDURE, [1, 1]), 1);
    } else {
      const r = await this.request([UNSUBSCRIBE, rid(), NEVER_AN_ID]);
      assert.equal(r[4], "wamp.error.no_such_subscription");
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The three nodes of a test, and the clients it opens on them (all closed at its end). */
class Ctx {
  readonly #closers: (() => Promise<void>)[] = [];

  constructor(readonly nodes: NodeProcess[]) {}

  /** An anonymous raw v2 session on node `n`. */
  async v2(n: number, name: string): Promise<Peer> {
    const { client, session } = await rawV2(this.nodes[n].wsUrl);
    this.#closers.push(() => client.close());
    return new Peer(name, client, session, 2, String(session));
  }

  /** A raw v1 session on node `n` (its string session id as a number). */
  async v1(n: number, name: string): Promise<Peer> {
    const { client, session } = await rawV1(this.nodes[n].wsUrl);
    this.#closers.push(() => client.close());
    return new Peer(name, client, Number(session), 1, session);
  }

  /** A raw v2 session on node `n` authenticated by ticket as `authid` (see {@link TICKETS}). */
  async ticket(n: number, name: string, authid: string): Promise<Peer> {
    const client = await RawClient.open(this.nodes[n].wsUrl, "wamp.2.json");
    this.#closers.push(() => client.close());
    client.send([HELLO, "realm1", {
      roles: { caller: {}, callee: {}, publisher: {}, subscriber: {} },
      authmethods: ["ticket"],
      authid,
    }]);
    assert.deepEqual(await client.next("CHALLENGE"), [CHALLENGE, "ticket", {}]);
    client.send([AUTHENTICATE, TICKETS[authid].ticket, {}]);
    const welcome = await client.next("WELCOME") as Frame;
    assert.equal(welcome[0], WELCOME, `expected WELCOME, got ${JSON.stringify(welcome)}`);
    return new Peer(name, client, welcome[1] as number, 2, authid);
  }

  /** An autobahn-browser session on node `n` subscribed to `topic`; its events in an inbox. */
  async autobahn(n: number, name: string, topic: string): Promise<Inbox> {
    const c: V2Client = await connectV2(this.nodes[n].wsUrl);
    this.#closers.push(() => c.close());
    const box: Inbox = { name, events: [] };
    await c.session.subscribe(topic, (args: unknown[], kwargs: Dict, details: Dict) => {
      box.events.push({
        topic: (details?.topic as string) ?? topic,
        payload: args?.[0],
        details,
        args,
        kwargs,
      });
    });
    return box;
  }

  /** Closes every client; a failure fails the test. */
  async close(): Promise<void> {
    for (const c of this.#closers.splice(0)) await c();
  }

  /** Closes whatever is left, ignoring failures (the test failed already). */
  async abandon(): Promise<void> {
    for (const c of this.#closers.splice(0)) await c().catch(() => {});
  }
}

/**
 * Registers a cluster test: three push nodes of a fresh cluster reading
 * {@link CONFIG} (plus `args`), the clients closed and the nodes killed at its end.
 */
function scenario(
  name: string,
  fn: (ctx: Ctx) => Promise<void>,
  { args = [], cleanup }: { args?: string[]; cleanup?: () => Promise<void> } = {},
): void {
  clusterTest(`cluster: ${name}`, async () => {
    const config = await Deno.makeTempFile({ prefix: "tuerca_cluster_", suffix: ".json" });
    try {
      await Deno.writeTextFile(config, JSON.stringify(CONFIG));
      await withCluster(
        3,
        { cluster: uniqueCluster("c"), args: ["--config", config, ...args] },
        async (nodes) => {
          const ctx = new Ctx(nodes);
          try {
            await fn(ctx);
            await ctx.close();
          } finally {
            await ctx.abandon();
          }
        },
      );
    } finally {
      await Deno.remove(config);
      await cleanup?.();
    }
  });
}

// ---------------------------------------------------------------------------
// Waiting

/**
 * Publishes probes from each publisher to each topic, round after round, until every
 * inbox listed for a topic has a probe from every publisher (so its binding is in
 * place on every node). Probes reach everyone, the publisher included.
 */
async function confirmRoutes(publishers: Peer[], routes: [topic: string, inboxes: Inbox[]][]): Promise<void> {
  const missing = () =>
    routes.flatMap(([topic, boxes]) =>
      boxes.flatMap((box) =>
        publishers.filter((p) =>
          !box.events.some((e) =>
            typeof e.payload === "string" && e.payload.startsWith(`probe:${p.name}:`) && e.topic === topic
          )
        ).map((p) => `${box.name} from ${p.name} on ${topic}`)
      )
    );
  const deadline = Date.now() + PROBE_MS;
  for (let round = 0;; round++) {
    for (const p of publishers) {
      for (const [topic] of routes) p.publishToAll(topic, `probe:${p.name}:${round}`);
    }
    const next = Date.now() + PROBE_ROUND_MS;
    while (Date.now() < next) {
      if (missing().length === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    if (Date.now() > deadline) {
      throw new Error(`probes did not get through in ${PROBE_MS} ms: ${missing().join("; ")}`);
    }
  }
}

/** Waits (bounded) until `box` holds an event matching `match`. */
function waitFor(box: Inbox, match: (e: Ev) => boolean, what: string, ms = CLUSTER_MS): Promise<void> {
  return waitUntil(() => box.events.some(match), `${box.name}: ${what}`, ms);
}

/** The payloads of `box`'s counted events from index `from` on, on `topic` when given. */
function payloadsSince(box: Inbox, from: number, topic?: string): unknown[] {
  return counted(box).slice(from).filter((e) => topic === undefined || e.topic === topic).map((e) =>
    e.payload
  );
}

/**
 * One filtered publish, checked everywhere: `publish()` publishes `payload`, then
 * `marker()` has the same publisher publish `marker` to the same topic for every
 * subscriber. Once each inbox has the marker, each must hold exactly
 * `[payload, marker]` when listed in `expected`, `[marker]` otherwise.
 */
async function checkDelivery(
  what: string,
  inboxes: Inbox[],
  expected: Inbox[],
  payload: string,
  publish: () => void,
  marker: () => void,
  markerPayload: string,
): Promise<void> {
  const start = new Map(inboxes.map((b) => [b, counted(b).length]));
  publish();
  marker();
  for (const box of inboxes) {
    await waitFor(box, (e) => e.payload === markerPayload, `the marker after ${what}`);
  }
  for (const box of inboxes) {
    assert.deepEqual(
      payloadsSince(box, start.get(box)!),
      expected.includes(box) ? [payload, markerPayload] : [markerPayload],
      `${what}: what ${box.name} received`,
    );
  }
}

function sorted(ids: unknown): number[] {
  assert.ok(Array.isArray(ids), `a list of ids: ${JSON.stringify(ids)}`);
  return [...ids as number[]].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------
// a. Every publish reaches every subscriber once, in order

scenario(
  "a publish on each node reaches each subscriber on every node exactly once; 200 publishes of one publisher arrive in order everywhere (v1, v2, autobahn)",
  async (ctx) => {
    const T = "com.cluster.a";
    const N = 200;
    const inboxes: Inbox[] = [];
    for (let n = 0; n < 3; n++) {
      inboxes.push(await (await ctx.v2(n, `v2@${n}`)).subscribe(T));
      inboxes.push(await (await ctx.v1(n, `v1@${n}`)).subscribe(T));
    }
    inboxes.push(await ctx.autobahn(2, "autobahn@2", T));
    const publishers = [await ctx.v2(0, "pubA"), await ctx.v1(1, "pubB"), await ctx.v2(2, "pubC")];
    await confirmRoutes(publishers, [[T, inboxes]]);

    for (const p of publishers) {
      for (let i = 0; i < N; i++) p.publish(T, `a:${p.name}:${i}`);
      p.publish(T, `end:${p.name}`);
    }
    for (const box of inboxes) {
      for (const p of publishers) await waitFor(box, (e) => e.payload === `end:${p.name}`, `end:${p.name}`);
    }
    for (const box of inboxes) {
      const got = counted(box).map((e) => e.payload as string);
      for (const p of publishers) {
        const mine = got.filter((x) => x.startsWith(`a:${p.name}:`) || x === `end:${p.name}`);
        assert.deepEqual(
          mine,
          [...Array.from({ length: N }, (_, i) => `a:${p.name}:${i}`), `end:${p.name}`],
          `${box.name}: ${p.name}'s ${N} events, each once, in order, then its marker`,
        );
      }
      assert.equal(got.length, publishers.length * (N + 1), `${box.name}: nothing else`);
    }
    for (const p of publishers) assert.deepEqual(p.strays, [], `${p.name}: no stray EVENT`);
  },
);

// ---------------------------------------------------------------------------
// b. Black- and whitelists across nodes

scenario(
  "exclude_me (default and false), exclude and eligible by session ids of other nodes, eligible_authrole, exclude_authid, exclude_authrole, v1 exclude/eligible",
  async (ctx) => {
    const T = "com.cluster.b";
    // Node A: the publisher, subscribed itself. B: two anonymous sessions (v2, v1) and joe (backend),
    // and a v1 publisher. C: an anonymous v2 session and ann (visitor).
    const pub = await ctx.v2(0, "pub@A");
    const s1 = await ctx.v2(1, "s1@B");
    const s2 = await ctx.v1(1, "s2v1@B");
    const s3 = await ctx.ticket(1, "joe@B", "joe");
    const s4 = await ctx.v2(2, "s4@C");
    const s5 = await ctx.ticket(2, "ann@C", "ann");
    const pubV1 = await ctx.v1(1, "pubV1@B");
    const peers = [pub, s1, s2, s3, s4, s5];
    const boxes = new Map<Peer, Inbox>();
    for (const p of peers) boxes.set(p, await p.subscribe(T, {}, p.name));
    const all = [...boxes.values()];
    const only = (...ps: Peer[]) => ps.map((p) => boxes.get(p)!);
    /** Session ids as v1 names them: strings. */
    const ids = (...ps: Peer[]) => ps.map((p) => String(p.session));
    await confirmRoutes([pub, pubV1], [[T, all]]);

    let step = 0;
    const fromPub = (what: string, options: Dict, expected: Inbox[]) => {
      const n = ++step;
      return checkDelivery(
        what,
        all,
        expected,
        `b${n}`,
        () => pub.publish(T, `b${n}`, options),
        () => pub.publishToAll(T, `mark${n}`),
        `mark${n}`,
      );
    };
    const fromV1 = (what: string, v1: unknown[], expected: Inbox[]) => {
      const n = ++step;
      return checkDelivery(
        what,
        all,
        expected,
        `b${n}`,
        () => pubV1.publish(T, `b${n}`, {}, ...v1),
        () => pubV1.publishToAll(T, `mark${n}`),
        `mark${n}`,
      );
    };

    await fromPub("exclude_me by default", {}, only(s1, s2, s3, s4, s5));
    await fromPub("exclude_me: false", { exclude_me: false }, all);
    await fromPub(
      "exclude: sessions on B (v2 and v1) and C",
      { exclude: [s1.session, s2.session, s4.session] },
      only(s3, s5),
    );
    await fromPub(
      "eligible: a v1 session on B, ann on C and the publisher (exclude_me: false)",
      { eligible: [s2.session, s5.session, pub.session], exclude_me: false },
      only(pub, s2, s5),
    );
    await fromPub(
      "eligible and exclude together",
      { eligible: [s1.session, s4.session, s5.session], exclude: [s4.session] },
      only(s1, s5),
    );
    await fromPub("eligible_authrole: backend", { eligible_authrole: ["backend"] }, only(s3));
    await fromPub(
      "eligible_authrole: backend and visitor, exclude_me: false",
      { eligible_authrole: ["backend", "visitor"], exclude_me: false },
      only(s3, s5),
    );
    await fromPub(
      "exclude_authid: ann and s1's authid",
      { exclude_authid: ["ann", s1.authid] },
      only(s2, s3, s4),
    );
    await fromPub("eligible_authid: joe", { eligible_authid: ["joe"] }, only(s3));
    await fromPub(
      "exclude_authrole: anonymous (exclude_me: false)",
      { exclude_authrole: ["anonymous"], exclude_me: false },
      only(s3, s5),
    );
    await fromV1("v1 exclude list", [ids(s1, s3)], only(pub, s2, s4, s5));
    await fromV1(
      "v1 exclude and eligible lists",
      [ids(s4), ids(s4, s5, pub)],
      only(pub, s5),
    );
    await fromV1("v1 excludeMe true (it is not subscribed: everyone gets it)", [true], all);
    for (const p of [...peers, pubV1]) assert.deepEqual(p.strays, [], `${p.name}: no stray EVENT`);
  },
);

// ---------------------------------------------------------------------------
// c. Pattern subscriptions

scenario(
  "prefix and wildcard subscriptions on other nodes get each matching publish once, with details.topic",
  async (ctx) => {
    const pub = await ctx.v2(0, "pub@A");
    const pb = await ctx.v2(1, "pb@B");
    const prefixB = await pb.subscribe("com.cluster.c.", { match: "prefix" }, "prefix@B");
    const wildB = await pb.subscribe("com.cluster.c..news", { match: "wildcard" }, "wildcard@B");
    const exactB = await pb.subscribe("com.cluster.c.x.news", {}, "exact@B");
    const pc = await ctx.v2(2, "pc@C");
    const wildC = await pc.subscribe("com.cluster.c..news", { match: "wildcard" }, "wildcard@C");
    const prefixC = await pc.subscribe("com.cluster.", { match: "prefix" }, "prefix@C");
    const v1C = await (await ctx.v1(2, "v1@C")).subscribe("com.cluster.c.y.sports", {}, "v1@C");

    const X = "com.cluster.c.x.news", Y = "com.cluster.c.y.sports", Z = "com.cluster.c.z.news";
    const W = "com.cluster.w"; // matches prefix@C only
    const NONE = "org.elsewhere.c"; // matches nothing
    const who: Record<string, Inbox[]> = {
      [X]: [prefixB, wildB, exactB, wildC, prefixC],
      [Y]: [prefixB, prefixC, v1C],
      [Z]: [prefixB, wildB, wildC, prefixC],
      [W]: [prefixC],
    };
    await confirmRoutes([pub], Object.entries(who));

    for (const topic of [X, Y, Z, W, NONE]) pub.publish(topic, `c:${topic}`);
    // One marker per topic: order holds per publisher and topic.
    for (const topic of [X, Y, Z, W]) pub.publish(topic, `end:${topic}`);
    for (const [topic, boxes] of Object.entries(who)) {
      for (const box of boxes) {
        await waitFor(box, (e) => e.payload === `end:${topic}`, `the marker on ${topic}`);
      }
    }
    const everyBox = [prefixB, wildB, exactB, wildC, prefixC, v1C];
    for (const box of everyBox) {
      for (const topic of [X, Y, Z, W, NONE]) {
        const expected = who[topic]?.includes(box) ? [`c:${topic}`, `end:${topic}`] : [];
        assert.deepEqual(payloadsSince(box, 0, topic), expected, `${box.name} on ${topic}`);
      }
      assert.equal(
        counted(box).length,
        Object.values(who).filter((boxes) => boxes.includes(box)).length * 2,
        `${box.name}: nothing else`,
      );
    }
    // details.topic names the concrete topic for patterns; an exact subscription's details have none.
    for (const box of [prefixB, wildB, wildC, prefixC]) {
      for (const e of counted(box)) assert.deepEqual(e.details, { topic: e.topic }, `${box.name}: details`);
    }
    for (const e of counted(exactB)) assert.deepEqual(e.details, {}, "exact@B: details");
    for (const p of [pub, pb, pc]) assert.deepEqual(p.strays, [], `${p.name}: no stray EVENT`);
  },
);

// ---------------------------------------------------------------------------
// d. Retained events

scenario(
  "a retained event published on node A reaches a later get_retained subscriber on node C (exact and prefix); live subscribers get it once",
  async (ctx) => {
    const R = "com.cluster.d.kept";
    const SYNC = "com.cluster.d.sync";
    const pubA = await ctx.v2(0, "pub@A");
    const pubB = await ctx.v2(1, "pub@B");
    const live = await (await ctx.v2(1, "live@B")).subscribe(R, {}, "live@B");
    const liveV1 = await (await ctx.v1(1, "liveV1@B")).subscribe(R, {}, "liveV1@B");
    const sync = await (await ctx.v2(2, "sync@C")).subscribe(SYNC, {}, "sync@C");
    const syncA = await (await ctx.v2(0, "sync@A")).subscribe(SYNC, {}, "sync@A");
    await confirmRoutes([pubA, pubB], [[R, [live, liveV1]], [SYNC, [sync, syncA]]]);

    // The retained publish, then a publish node C's subscriber sees: node A relays in order,
    // so once C has the second, it holds the first.
    const ack = await pubA.request([PUBLISH, rid(), { retain: true, acknowledge: true }, R, ["kept on A"]]);
    assert.equal(ack[0], 17, `PUBLISHED: ${JSON.stringify(ack)}`);
    pubA.publish(SYNC, "sync:A");
    await waitFor(sync, (e) => e.payload === "sync:A", "node A's sync event");

    // Node C has no subscriber on R: what a late subscriber there gets, C kept from A's relay.
    const late = await ctx.v2(2, "late@C");
    const subscribeLate = async (peer: Peer, topic: string, options: Dict = {}): Promise<Frame[]> => {
      const r = await peer.request([SUBSCRIBE, rid(), { get_retained: true, ...options }, topic]);
      assert.equal(r[0], SUBSCRIBED, JSON.stringify(r));
      await peer.sync();
      // The retained EVENT comes after SUBSCRIBED and before the barrier's answer; it is for a
      // subscription the Peer does not know, so it is among its strays.
      return peer.strays.splice(0);
    };
    const exact = await subscribeLate(late, R);
    assert.equal(exact.length, 1, `one retained event: ${JSON.stringify(exact)}`);
    assert.deepEqual(exact[0][3], { retained: true });
    assert.deepEqual(exact[0][4], ["kept on A"]);
    const prefix = await subscribeLate(late, "com.cluster.d.", { match: "prefix" });
    assert.equal(prefix.length, 1, `one retained event for the prefix: ${JSON.stringify(prefix)}`);
    assert.deepEqual(prefix[0][3], { topic: R, retained: true });
    assert.deepEqual(prefix[0][4], ["kept on A"]);

    // A newer retained event from node B replaces it, on A too (which kept A's own).
    pubB.publish(R, "kept on B", { retain: true });
    pubB.publish(SYNC, "sync:B");
    await waitFor(syncA, (e) => e.payload === "sync:B", "node B's sync event on A");
    await waitFor(sync, (e) => e.payload === "sync:B", "node B's sync event on C");
    for (const [n, name] of [[0, "late@A"], [2, "late2@C"]] as const) {
      const got = await subscribeLate(await ctx.v2(n, name), R);
      assert.equal(got.length, 1, `${name}: one retained event: ${JSON.stringify(got)}`);
      assert.deepEqual(got[0].slice(3), [{ retained: true }, ["kept on B"]], name);
    }

    // The live subscribers got each retained publish once, as a plain event.
    pubA.publish(R, "end:A");
    pubB.publish(R, "end:B");
    for (const box of [live, liveV1]) {
      await waitFor(box, (e) => e.payload === "end:A", "A's marker");
      await waitFor(box, (e) => e.payload === "end:B", "B's marker");
      const got = counted(box).map((e) => e.payload);
      assert.deepEqual(
        got.filter((p) => p === "kept on A" || p === "end:A"),
        ["kept on A", "end:A"],
        box.name,
      );
      assert.deepEqual(
        got.filter((p) => p === "kept on B" || p === "end:B"),
        ["kept on B", "end:B"],
        box.name,
      );
      assert.equal(got.length, 4, `${box.name}: nothing else: ${JSON.stringify(got)}`);
    }
    for (const e of counted(live)) assert.deepEqual(e.details, {}, "a live retained publish has no details");
  },
);

// ---------------------------------------------------------------------------
// e. disclose_me

scenario(
  "disclose_me: EVENT details on other nodes name the publisher (id, authid, authrole) as on its own node; without it, nobody",
  async (ctx) => {
    const T = "com.cluster.e";
    const joe = await ctx.ticket(0, "joe@A", "joe");
    const anon = await ctx.v2(2, "anon@C");
    const localA = await (await ctx.v2(0, "sub@A")).subscribe(T, {}, "exact@A");
    const exactB = await (await ctx.v2(1, "sub@B")).subscribe(T, {}, "exact@B");
    const prefixC = await (await ctx.v2(2, "sub@C")).subscribe(
      "com.cluster.",
      { match: "prefix" },
      "prefix@C",
    );
    const boxes = [localA, exactB, prefixC];
    await confirmRoutes([joe, anon], [[T, boxes]]);

    joe.publish(T, "e:joe:disclosed", { disclose_me: true });
    joe.publish(T, "e:joe:quiet");
    joe.publish(T, "e:joe:end");
    anon.publish(T, "e:anon:disclosed", { disclose_me: true });
    anon.publish(T, "e:anon:end");
    for (const box of boxes) {
      await waitFor(box, (e) => e.payload === "e:joe:end", "joe's marker");
      await waitFor(box, (e) => e.payload === "e:anon:end", "anon's marker");
    }
    const identity = (p: Peer, role: string) => ({
      publisher: p.session,
      publisher_authid: p.authid,
      publisher_authrole: role,
    });
    for (const box of boxes) {
      const topic = box === prefixC ? { topic: T } : {};
      const got = counted(box).map((e) => [e.payload, e.details]);
      const detailsOf = (payload: string) => got.filter(([p]) => p === payload).map(([, d]) => d);
      assert.deepEqual(detailsOf("e:joe:disclosed"), [{ ...identity(joe, "backend"), ...topic }], box.name);
      assert.deepEqual(detailsOf("e:joe:quiet"), [topic], `${box.name}: no disclosure without disclose_me`);
      assert.deepEqual(
        detailsOf("e:anon:disclosed"),
        [{ ...identity(anon, "anonymous"), ...topic }],
        box.name,
      );
      assert.equal(got.length, 5, `${box.name}: nothing else: ${JSON.stringify(got)}`);
    }
    assert.equal(joe.authid, "joe");
    assert.equal(anon.authid, String(anon.session));
  },
);

// ---------------------------------------------------------------------------
// f. The session meta API

/** The session a `wamp.session.on_join` (its details) or `on_leave` (its id) event is about. */
const about = (e: Ev) => typeof e.payload === "object" ? (e.payload as Dict).session : e.payload;
const eventsAbout = (box: Inbox, session: number) => box.events.filter((e) => about(e) === session);

/**
 * Probes for the session meta events: on each of `nodes` in turn, a session opens
 * and closes until the observers on every other node (`joins[m]` and `leaves[m]`,
 * indexed by node) saw both its on_join and its on_leave; their bindings are in place then.
 */
async function confirmSessionEvents(
  ctx: Ctx,
  nodes: number[],
  joins: (Inbox | undefined)[],
  leaves: (Inbox | undefined)[],
): Promise<void> {
  const deadline = Date.now() + PROBE_MS;
  const within500 = (check: () => boolean) => waitUntil(check, "a probe", 500).then(() => true, () => false);
  for (const n of nodes) {
    const watchers = [0, 1, 2].filter((m) => m !== n && joins[m] !== undefined);
    while (true) {
      const probe = await ctx.v2(n, `probe@${n}`);
      const joined = await within500(() =>
        watchers.every((m) => eventsAbout(joins[m]!, probe.session).length > 0)
      );
      await probe.close();
      if (joined) {
        const left = await within500(() =>
          watchers.every((m) => eventsAbout(leaves[m]!, probe.session).length > 0)
        );
        if (left) break;
      }
      if (Date.now() > deadline) throw new Error(`on_join/on_leave from node ${n} never got through`);
    }
  }
}

scenario(
  "meta API cluster-wide: session count/list/get include other nodes' sessions; on_join/on_leave fire on every node; wamp.session.kill of a session on another node",
  async (ctx) => {
    const names = ["A", "B", "C"];
    const observers: Peer[] = [];
    const joins: Inbox[] = [];
    const leaves: Inbox[] = [];
    for (let n = 0; n < 3; n++) {
      const o = await ctx.v2(n, `obs@${names[n]}`);
      observers.push(o);
      joins.push(await o.subscribe(ON_JOIN, {}, `on_join@${names[n]}`));
      leaves.push(await o.subscribe(ON_LEAVE, {}, `on_leave@${names[n]}`));
    }
    const sawJoin = (n: number, s: number) => eventsAbout(joins[n], s).length > 0;
    const sawLeave = (n: number, s: number) => eventsAbout(leaves[n], s).length > 0;
    const others = (n: number) => [0, 1, 2].filter((m) => m !== n);

    await confirmSessionEvents(ctx, [0, 1, 2], joins, leaves);

    // Joins on A (v2), C (v1) and C (ann, by ticket): every other node's observer hears of each.
    const j = await ctx.v2(0, "j@A");
    const k = await ctx.v1(2, "k@C");
    const t = await ctx.ticket(2, "ann@C", "ann");
    const home = new Map<Peer, number>([[j, 0], [k, 2], [t, 2]]);
    const expectedDetails = new Map<Peer, Dict>([
      [j, {
        session: j.session,
        authid: j.authid,
        authrole: "anonymous",
        authmethod: "anonymous",
        authprovider: "static",
        transport: { protocol: "wamp.2.json" },
      }],
      [k, {
        session: k.session,
        authid: k.authid,
        authrole: "anonymous",
        authmethod: "anonymous",
        authprovider: "static",
        transport: { protocol: "wamp" },
      }],
      [t, {
        session: t.session,
        authid: "ann",
        authrole: "visitor",
        authmethod: "ticket",
        authprovider: "static",
        transport: { protocol: "wamp.2.json" },
      }],
    ]);
    for (const [p, h] of home) {
      for (let n = 0; n < 3; n++) {
        await waitUntil(
          () => sawJoin(n, p.session),
          `${joins[n].name}: the on_join of ${p.name}`,
          CLUSTER_MS,
        );
        const [e] = eventsAbout(joins[n], p.session);
        assert.deepEqual(
          e.args,
          [expectedDetails.get(p)],
          `${joins[n].name}: on_join of ${p.name} (home ${h})`,
        );
        // Having heard of it, the observer's node knows it.
        assert.deepEqual(
          await observers[n].call("wamp.session.get", [p.session]),
          expectedDetails.get(p),
          `wamp.session.get(${p.name}) on node ${names[n]} right after its on_join`,
        );
      }
    }

    // count / list / get, on every node.
    const clients = [...observers, j, k, t].map((p) => p.session);
    const locals: number[] = [];
    for (let n = 0; n < 3; n++) {
      const trusted = await observers[n].call("wamp.session.list", [["trusted"]]) as number[];
      assert.equal(trusted.length, 1, `node ${names[n]} counts only its own push app session: ${trusted}`);
      locals.push(trusted[0]);
    }
    assert.equal(new Set(locals).size, 3, "each node's push app session is its own");
    for (let n = 0; n < 3; n++) {
      const o = observers[n];
      assert.equal(await o.call("wamp.session.count"), clients.length + 1, `count on node ${names[n]}`);
      assert.deepEqual(
        sorted(await o.call("wamp.session.list")),
        sorted([...clients, locals[n]]),
        `list on node ${names[n]}`,
      );
      assert.equal(await o.call("wamp.session.count", [["anonymous"]]), 5, `anonymous count on ${names[n]}`);
      assert.deepEqual(
        await o.call("wamp.session.list", [["visitor"]]),
        [t.session],
        `visitors on ${names[n]}`,
      );
      for (const p of [j, k, t]) {
        assert.deepEqual(
          await o.call("wamp.session.get", [p.session]),
          expectedDetails.get(p),
          `get on ${names[n]}`,
        );
      }
    }

    // A session leaves A: on_leave on every other node, and it is gone from their meta API.
    await j.close();
    for (const n of others(0)) {
      await waitUntil(() => sawLeave(n, j.session), `${leaves[n].name}: on_leave of j`, CLUSTER_MS);
      assert.deepEqual(eventsAbout(leaves[n], j.session)[0].args, [j.session, j.authid, "anonymous"]);
      const r = await observers[n].callRaw("wamp.session.get", [j.session]);
      assert.deepEqual(
        r.slice(0, 1).concat(r.slice(4, 5)),
        [ERROR, "wamp.error.no_such_session"],
        JSON.stringify(r),
      );
      assert.equal(
        await observers[n].call("wamp.session.count"),
        clients.length,
        `count on ${names[n]} after j left`,
      );
    }

    // Node B kills ann, a v2 session on C: GOODBYE with the reason and message; on_leave everywhere.
    assert.equal(
      await observers[1].call("wamp.session.kill", [t.session], {
        reason: "com.example.kicked",
        message: "out",
      }),
      null,
    );
    const goodbye = await t.reply((f) => f[0] === GOODBYE, "the kill's GOODBYE");
    assert.deepEqual(goodbye, [GOODBYE, { message: "out" }, "com.example.kicked"]);
    t.client.send([GOODBYE, {}, "wamp.close.goodbye_and_out"]);
    assert.equal((await t.client.closeEvent()).code, 1000);
    // Node A kills k, a v1 session on C: its socket closes with 1000 and the message.
    assert.equal(await observers[0].call("wamp.session.kill", [k.session], { message: "bye v1" }), null);
    const closed = await k.client.closeEvent();
    assert.deepEqual([closed.code, closed.reason], [1000, "bye v1"]);
    for (const p of [t, k]) {
      for (let n = 0; n < 3; n++) {
        await waitUntil(() => sawLeave(n, p.session), `${leaves[n].name}: on_leave of ${p.name}`, CLUSTER_MS);
        assert.deepEqual(eventsAbout(leaves[n], p.session)[0].args, [
          p.session,
          p.authid,
          p.authid === "ann" ? "visitor" : "anonymous",
        ]);
      }
    }
    for (let n = 0; n < 3; n++) {
      assert.deepEqual(
        sorted(await observers[n].call("wamp.session.list")),
        sorted([...observers.map((o) => o.session), locals[n]]),
        `list on node ${names[n]} after the kills`,
      );
    }

    // Nothing extra: a last session joins and leaves on each node (the meta events of one node come
    // in order); after its on_leave, each observer holds exactly one on_join and one on_leave of each.
    for (let n = 0; n < 3; n++) {
      const last = await ctx.v2(n, `last@${names[n]}`);
      await last.close();
      for (const m of others(n)) {
        await waitUntil(() => sawLeave(m, last.session), `${leaves[m].name}: on_leave of last@${names[n]}`);
      }
    }
    for (const [p, h] of home) {
      for (const n of others(h)) {
        assert.equal(
          eventsAbout(joins[n], p.session).length,
          1,
          `${joins[n].name}: one on_join of ${p.name}`,
        );
        assert.equal(
          eventsAbout(leaves[n], p.session).length,
          1,
          `${leaves[n].name}: one on_leave of ${p.name}`,
        );
      }
    }
    for (const o of observers) assert.deepEqual(o.strays, [], `${o.name}: no stray EVENT`);
  },
);

scenario(
  "meta events agree with the meta API at once: right after on_join of a session on another node, wamp.session.get on the observer's node finds it; right after its on_leave, it does not (as on one node)",
  async (ctx) => {
    const M = 100;
    const obs = await ctx.v2(1, "obs@B");
    const joins = await obs.subscribe(ON_JOIN, {}, "on_join@B");
    const leaves = await obs.subscribe(ON_LEAVE, {}, "on_leave@B");
    await confirmSessionEvents(ctx, [0], [undefined, joins, undefined], [undefined, leaves, undefined]);
    // The observer asks at once: its CALL leaves from the socket's message handler, before
    // anything else happens on this side.
    const asked = new Map<number, { kind: "join" | "leave"; session: number }>();
    obs.client.ws.addEventListener("message", (e) => {
      const f = JSON.parse(e.data as string) as Frame;
      if (f[0] !== EVENT) return;
      const arg = (f[4] as unknown[])[0];
      const kind = typeof arg === "object" ? "join" : "leave";
      const session = kind === "join" ? (arg as Dict).session as number : arg as number;
      const r = rid();
      asked.set(r, { kind, session });
      obs.client.send([CALL, r, {}, "wamp.session.get", [session]]);
    });
    const answers: { kind: string; session: number; frame: Frame }[] = [];
    const answer = async (kind: string, session: number) => {
      const f = await obs.reply((f) => {
        const q = asked.get((f[0] === ERROR ? f[2] : f[1]) as number);
        return q !== undefined && q.kind === kind && q.session === session;
      }, `the get after the ${kind} of ${session}`);
      answers.push({ kind, session, frame: f });
    };
    for (let i = 0; i < M; i++) {
      const s = await ctx.v2(0, `s${i}@A`);
      await answer("join", s.session);
      await s.close();
      await answer("leave", s.session);
    }
    const unknownAfterJoin = answers.filter((a) => a.kind === "join" && a.frame[0] !== RESULT);
    const knownAfterLeave = answers.filter((a) => a.kind === "leave" && a.frame[0] !== ERROR);
    assert.deepEqual(
      [unknownAfterJoin.length, knownAfterLeave.length],
      [0, 0],
      `of ${M} sessions joining and leaving node A, node B did not know ${unknownAfterJoin.length} right ` +
        `after their on_join, and still knew ${knownAfterLeave.length} right after their on_leave`,
    );
  },
);

// ---------------------------------------------------------------------------
// g. The queue bridge on every node

/** The counter `name` on `node`'s /metrics (0 when absent). */
async function metric(node: NodeProcess, name: string): Promise<number> {
  const res = await fetch(`${node.url}metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

{
  const queue = uniqueQueue("cluster");
  const T = "com.cluster.g";
  const M = 60;
  scenario(
    "the queue bridge runs on every node as a competing consumer: each queue message reaches one subscriber on each node exactly once",
    async (ctx) => {
      for (const node of ctx.nodes) {
        let health = await node.health();
        const until = Date.now() + CLUSTER_MS;
        while ((health.bridge as Dict).state !== "connected") {
          if (Date.now() > until) throw new Error(`the bridge of ${node.node} never connected`);
          await new Promise((r) => setTimeout(r, 50));
          health = await node.health();
        }
      }
      const boxes = [
        await (await ctx.v2(0, "v2@A")).subscribe(T, {}, "v2@A"),
        await (await ctx.v1(1, "v1@B")).subscribe(T, {}, "v1@B"),
        await ctx.autobahn(2, "autobahn@C", T),
      ];
      const publishers = [await ctx.v2(0, "pubA"), await ctx.v2(1, "pubB"), await ctx.v2(2, "pubC")];
      await confirmRoutes(publishers, [[T, boxes]]);

      await withConfirmChannel(async (ch) => {
        await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
        await publishNumbered(ch, queue, M, T);
      });
      const bodies = (box: Inbox) =>
        counted(box).filter((e) => typeof e.payload === "object").map((e) =>
          (e.payload as { body: string }).body
        );
      for (const box of boxes) {
        await waitUntil(
          () => new Set(bodies(box)).size === M,
          `${box.name}: all ${M} queue messages`,
          CLUSTER_MS,
        );
      }
      // Every message was acked (so no node will route one again), then a marker from each node:
      // a node relays in order, so each marker follows everything that node's bridge routed.
      let counts: QueueCounts;
      const until = Date.now() + CLUSTER_MS;
      while ((counts = await queueCounts(queue)).total !== 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(counts, { ready: 0, unacked: 0, total: 0 }, "every queue message acked");
      for (const p of publishers) p.publish(T, `end:${p.name}`);
      for (const box of boxes) {
        for (const p of publishers) await waitFor(box, (e) => e.payload === `end:${p.name}`, `end:${p.name}`);
      }
      const expected = Array.from({ length: M }, (_, i) => `m${i}`).sort();
      for (const box of boxes) {
        assert.deepEqual([...bodies(box)].sort(), expected, `${box.name}: each queue message exactly once`);
        assert.equal(counted(box).length, M + publishers.length, `${box.name}: nothing else`);
        for (const e of counted(box).filter((e) => typeof e.payload === "object")) {
          assert.equal((e.payload as { headers: Dict }).headers.cat, T);
        }
      }
      const routed = await Promise.all(ctx.nodes.map((n) => metric(n, "tuerca_bridge_routed_total")));
      assert.equal(routed.reduce((a, b) => a + b, 0), M, `routed once in all: ${routed}`);
      assert.ok(routed.filter((r) => r > 0).length >= 2, `more than one node consumed the queue: ${routed}`);
    },
    {
      args: ["--queue", queue, "--prefetch", "1"],
      // After the nodes are gone (they would declare it again).
      cleanup: async () => {
        await deleteQueue(queue);
        await deleteQueue(`${queue}.rejected`);
      },
    },
  );
}
