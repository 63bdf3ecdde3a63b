/**
 * Event history in a cluster: push.ts nodes started with `--cluster NAME` keep the
 * push page's history (the last 100 events of `push.tutorial.messages`) in the
 * durable RabbitMQ stream `tuerca.NAME.history.realm1`, which every node follows
 * into memory (src/store/stream.ts). These tests check what the README promises of
 * it ("Event history and retained events", "Cluster: several processes, one
 * router"): every node answers `wamp.subscription.get_events` with the same events
 * in the same order under the same publication ids, to v2 and v1 callers;
 * `after_publication` works on whichever node a client comes back to; the history
 * survives a restart of every node, also for a realm whose configuration file sets
 * a `rabbitmq` store of its own; and the push page in Chromium, on two nodes sharing
 * one port with `--reuse-port`, catches up on what was published while its node
 * was dead, once each and without a gap line.
 *
 * How the tests wait, without sleeping:
 * - A publish is readable through get_events a broker round trip after it was
 *   made: the tests poll get_events (bounded) until it is there.
 * - Across nodes the stream is the one order. Where a test needs to know that
 *   order in advance, each publish is awaited until its own node reads it back from
 *   the stream: whatever is published after that lands after it in the stream.
 * - Every wait is bounded; every node is killed, every browser closed and the
 *   cluster's exchanges and history stream deleted in `finally` blocks.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import {
  clusterTest,
  deleteClusterLeftovers,
  disposeAll,
  type NodeHealth,
  type NodeProcess,
  startCluster,
  startNode,
  uniqueCluster,
  withCluster,
} from "./cluster_nodes.ts";
import { eventually, RawClient, rawV1, rawV2, rid, waitUntil, within } from "./helpers.ts";
import { MANAGEMENT_URL, rabbit } from "./rabbitmq.ts";
import { TcpProxy } from "./tcp_proxy.ts";
import { CHROMIUM, haveChromium, LAUNCH_ARGS } from "./browser.ts";

// ---------------------------------------------------------------------------
// Frames and bounds

type Dict = Record<string, unknown>;
type Frame = unknown[];

const ERROR = 8, PUBLISH = 16, PUBLISHED = 17, SUBSCRIBE = 32, SUBSCRIBED = 33, EVENT = 36;
const CALL = 48, RESULT = 50;
const V1_CALL = 2, V1_CALLRESULT = 3, V1_SUBSCRIBE = 5, V1_PUBLISH = 7, V1_EVENT = 8;

/** The push page's topic, whose last 100 events a push node keeps by default. */
const TOPIC = "push.tutorial.messages";
/** Bound for anything that crosses the broker (a publish becoming readable, an answer). */
const CLUSTER_MS = 10_000;
/** How often a bounded poll of get_events asks again. */
const POLL_MS = 20;

/** One event of a get_events answer. */
interface HistoryEvent {
  timestamp: string;
  subscription: number;
  publication: number;
  details: Dict;
  args?: unknown[];
  kwargs?: Dict;
}

/** A get_events answer: its events, and its kwargs `complete` and `since`. */
interface History {
  events: HistoryEvent[];
  complete: unknown;
  since: unknown;
}

/** The payloads the tests publish: the push page shows `body`; `from` names the publisher. */
interface Payload {
  body: string;
  from?: string;
  details?: unknown[];
}

/** What must be the same on every node: everything but the caller's own subscription id. */
function portable(e: HistoryEvent): Dict {
  return {
    publication: e.publication,
    timestamp: e.timestamp,
    details: e.details,
    args: e.args,
    kwargs: e.kwargs,
  };
}

/** The body of a history event's payload. */
function bodyOf(e: HistoryEvent): string {
  return (e.args?.[0] as Payload | undefined)?.body ?? `<no body: ${JSON.stringify(e.args)}>`;
}

const bodies = (events: HistoryEvent[]) => events.map(bodyOf);

// ---------------------------------------------------------------------------
// Clients

/**
 * A raw WAMP client (v2 `wamp.2.json` or v1 `wamp`) holding one subscription, which
 * publishes and reads the history. EVENTs are kept apart from the other frames, so
 * requests and events interleave freely.
 */
class Client {
  readonly replies: Frame[] = [];
  /** The EVENT frames received, in order. */
  readonly events: Frame[] = [];
  #subscription: number | undefined;
  #topic: string | undefined;

  private constructor(readonly name: string, readonly raw: RawClient, readonly version: 1 | 2) {
    raw.ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") return;
      const f = JSON.parse(e.data) as Frame;
      if (f[0] === (version === 2 ? EVENT : V1_EVENT)) this.events.push(f);
      else this.replies.push(f);
    });
  }

  /** Opens a session (anonymous, in realm1) on the WebSocket endpoint `url`. */
  static async open(url: string, version: 1 | 2, name: string): Promise<Client> {
    const { client } = version === 2 ? await rawV2(url) : await rawV1(url);
    return new Client(name, client, version);
  }

  /** The subscription this client holds (see {@link subscribe}). */
  get subscription(): number {
    assert.ok(this.#subscription !== undefined, `${this.name} subscribed first`);
    return this.#subscription;
  }

  /** Sends a request whose id is `frame[1]` and returns its answer (an ERROR included), bounded. */
  async request(frame: Frame, what: string): Promise<Frame> {
    const id = frame[1];
    const match = (f: Frame) => (this.version === 2 && f[0] === ERROR ? f[2] : f[1]) === id;
    this.raw.send(frame);
    await waitUntil(
      () => this.replies.some(match) || this.raw.ws.readyState === WebSocket.CLOSED,
      `${this.name}: the answer to ${what}`,
      CLUSTER_MS,
    );
    const i = this.replies.findIndex(match);
    if (i < 0) throw new Error(`${this.name}: the socket closed while waiting for the answer to ${what}`);
    return this.replies.splice(i, 1)[0];
  }

  /**
   * Subscribes to `topic`: v2 SUBSCRIBE; v1 SUBSCRIBE, then `wamp.subscription.lookup`
   * for the subscription's id, as the README tells v1 clients to.
   */
  async subscribe(topic: string): Promise<number> {
    if (this.version === 2) {
      const r = await this.request([SUBSCRIBE, rid(), {}, topic], `SUBSCRIBE ${topic}`);
      assert.equal(r[0], SUBSCRIBED, `${this.name}: SUBSCRIBE ${topic}: ${JSON.stringify(r)}`);
      this.#subscription = r[2] as number;
    } else {
      this.raw.send([V1_SUBSCRIBE, topic]);
      const r = await this.request([V1_CALL, `look${rid()}`, "wamp.subscription.lookup", topic], "lookup");
      assert.equal(r[0], V1_CALLRESULT, `${this.name}: lookup ${topic}: ${JSON.stringify(r)}`);
      assert.equal(
        typeof r[2],
        "number",
        `${this.name}: lookup found the subscription: ${JSON.stringify(r)}`,
      );
      this.#subscription = r[2] as number;
    }
    this.#topic = topic;
    return this.#subscription;
  }

  /** Publishes `payload` to `topic`: v2 acknowledged (the publication id), v1 without an answer. */
  async publish(topic: string, payload: Payload): Promise<number | undefined> {
    if (this.version === 1) {
      this.raw.send([V1_PUBLISH, topic, payload]);
      return undefined;
    }
    const r = await this.request([PUBLISH, rid(), { acknowledge: true }, topic, [payload]], "PUBLISH");
    assert.equal(r[0], PUBLISHED, `${this.name}: PUBLISH: ${JSON.stringify(r)}`);
    return r[2] as number;
  }

  /**
   * `wamp.subscription.get_events` for this client's subscription: v2 with `options`
   * as kwargs; v1 with them as the second argument, the result arriving as
   * `{args, kwargs}`.
   */
  async history(options: Dict = {}): Promise<History> {
    const procedure = "wamp.subscription.get_events";
    const what = `get_events ${JSON.stringify(options)}`;
    let args: unknown[];
    let kwargs: Dict;
    if (this.version === 2) {
      const r = await this.request([CALL, rid(), {}, procedure, [this.subscription], options], what);
      assert.equal(r[0], RESULT, `${this.name}: ${what}: ${JSON.stringify(r)}`);
      args = (r[3] ?? []) as unknown[];
      kwargs = (r[4] ?? {}) as Dict;
    } else {
      const r = await this.request([V1_CALL, `h${rid()}`, procedure, this.subscription, options], what);
      assert.equal(r[0], V1_CALLRESULT, `${this.name}: ${what}: ${JSON.stringify(r)}`);
      const result = r[2] as { args?: unknown[]; kwargs?: Dict };
      args = result?.args ?? [];
      kwargs = result?.kwargs ?? {};
    }
    assert.ok(Array.isArray(args[0]), `${this.name}: ${what}: a list of events: ${JSON.stringify(args)}`);
    return { events: args[0] as HistoryEvent[], complete: kwargs.complete, since: kwargs.since };
  }

  /** Polls get_events (bounded) until `done` holds for its answer; returns that answer. */
  async historyWhen(
    done: (h: History) => boolean,
    what: string,
    options: Dict = {},
    ms = CLUSTER_MS,
  ): Promise<History> {
    let last: History | undefined;
    return await eventually(
      async () => done(last = await this.history(options)) ? last : undefined,
      () => `${what} on ${this.name}; get_events answers ${JSON.stringify(bodies(last?.events ?? []))}`,
      ms,
      POLL_MS,
    );
  }

  /**
   * Publishes `payload` and waits until this client's own node has read it back from
   * the stream, so that anything published afterwards, on any node, comes after it.
   * Returns its publication id (read from the history for v1).
   */
  async publishRead(payload: Payload): Promise<number> {
    assert.ok(this.#topic !== undefined, `${this.name} subscribed first`);
    const id = await this.publish(this.#topic, payload);
    const found = (h: History) =>
      h.events.find((e) => id === undefined ? bodyOf(e) === payload.body : e.publication === id);
    const h = await this.historyWhen((h) => found(h) !== undefined, `"${payload.body}" to be readable`);
    return found(h)!.publication;
  }

  close(): Promise<void> {
    return this.raw.close();
  }
}

/** The clients of one test, closed at its end. */
class Clients {
  readonly #all: Client[] = [];

  async open(url: string, version: 1 | 2, name: string): Promise<Client> {
    const c = await Client.open(url, version, name);
    this.#all.push(c);
    return c;
  }

  /** Opens a client and subscribes it to `topic`. */
  async subscribed(url: string, version: 1 | 2, name: string, topic = TOPIC): Promise<Client> {
    const c = await this.open(url, version, name);
    await c.subscribe(topic);
    return c;
  }

  /** Closes every client; a failure fails the test. */
  async close(): Promise<void> {
    for (const c of this.#all.splice(0)) await c.close();
  }

  /** Closes whatever is left, ignoring failures (for `finally`). */
  async abandon(): Promise<void> {
    for (const c of this.#all.splice(0)) await c.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// Nodes and the broker

/** Stops (SIGTERM) every node of `nodes` at once, as an operator would; each must exit cleanly. */
async function stopAll(nodes: readonly NodeProcess[]): Promise<void> {
  const statuses = await Promise.all(nodes.map((n) => n.stop()));
  statuses.forEach((status, i) =>
    assert.ok(status.success, `node ${nodes[i].node} exits cleanly on SIGTERM: ${JSON.stringify(status)}`)
  );
}

/** The cluster's history stream as the management API describes it, or null when there is none. */
async function streamInfo(cluster: string): Promise<Dict | null> {
  const name = `tuerca.${cluster}.history.realm1`;
  const res = await fetch(`${MANAGEMENT_URL}/api/queues/%2F/${encodeURIComponent(name)}`, {
    headers: { authorization: `Basic ${btoa("guest:guest")}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  assert.equal(res.status, 200, `GET the queue ${name}`);
  return await res.json() as Dict;
}

/**
 * Runs `fn` with a fresh cluster name, then kills every node `fn` started (pushed to
 * `nodes`) and deletes the cluster's exchanges and history stream, whatever happened.
 */
async function withClusterName(
  prefix: string,
  fn: (cluster: string, nodes: NodeProcess[], clients: Clients) => Promise<void>,
): Promise<void> {
  const cluster = uniqueCluster(prefix);
  const nodes: NodeProcess[] = [];
  const clients = new Clients();
  try {
    await fn(cluster, nodes, clients);
    await clients.close();
  } finally {
    await clients.abandon();
    await disposeAll(nodes);
    await deleteClusterLeftovers(cluster).catch((e) =>
      console.error(`could not delete what cluster ${cluster} left on the broker: ${e}`)
    );
  }
}

// ---------------------------------------------------------------------------
// (a) The same history on every node, to v2 and v1

clusterTest(
  "cluster history (a): 30 publishes spread over 3 nodes, from v2 and v1; every node's get_events has the same 30, same order, same ids, to v2 and v1",
  async () => {
    await withCluster(3, { cluster: uniqueCluster("hist_a") }, async (nodes) => {
      const clients = new Clients();
      try {
        const v2 = await Promise.all(nodes.map((n, i) => clients.subscribed(n.wsUrl, 2, `v2@${i}`)));
        const v1 = await Promise.all(nodes.map((n, i) => clients.subscribed(n.wsUrl, 1, `v1@${i}`)));
        // Each node's v2 and v1 clients publish, in turns, without waiting for each other.
        const publishers = [v2[0], v1[1], v2[2], v1[0], v2[1], v1[2]];
        const sent: { by: Client; payload: Payload }[] = [];
        const acks: Promise<number | undefined>[] = [];
        for (let i = 1; i <= 30; i++) {
          const by = publishers[i % publishers.length];
          const payload = { body: `m${i}`, from: by.name };
          sent.push({ by, payload });
          acks.push(by.publish(TOPIC, payload));
        }
        const ids = await Promise.all(acks);

        const answers = new Map<Client, History>();
        for (const reader of [...v2, ...v1]) {
          answers.set(reader, await reader.historyWhen((h) => h.events.length >= 30, "all 30 events"));
        }
        const reference = answers.get(v2[0])!;
        const events = reference.events;
        assert.equal(events.length, 30, `exactly 30: ${JSON.stringify(bodies(events))}`);
        assert.deepEqual(
          [...bodies(events)].sort(),
          sent.map((s) => s.payload.body).sort(),
          "the 30 published, each once",
        );
        assert.equal(new Set(events.map((e) => e.publication)).size, 30, "30 distinct publication ids");
        for (const e of events) {
          assert.ok(Number.isInteger(e.publication) && e.publication > 0 && e.publication <= 2 ** 53);
          assert.ok(!Number.isNaN(Date.parse(e.timestamp)), `an RFC 3339 timestamp: ${e.timestamp}`);
          assert.equal(e.args?.length, 1, "v1 and v2 publishes alike: args [payload]");
        }
        assert.equal(reference.complete, true);

        for (const [reader, answer] of answers) {
          assert.deepEqual(
            answer.events.map(portable),
            events.map(portable),
            `${reader.name} has the same events, in the same order, under the same ids, as ${v2[0].name}`,
          );
          assert.equal(answer.complete, true, `${reader.name}: complete`);
          if (reader.version === 2) {
            assert.ok(
              answer.events.every((e) => e.subscription === reader.subscription),
              `${reader.name}: each event names the caller's subscription`,
            );
          }
        }

        // The ids the v2 publishers were given are those of their events in the history.
        const byId = new Map(events.map((e) => [e.publication, e]));
        sent.forEach(({ by, payload }, i) => {
          if (by.version === 2) {
            assert.deepEqual(byId.get(ids[i]!)?.args, [payload], `PUBLISHED ${ids[i]} is ${payload.body}`);
          }
        });
        // One publisher's publishes keep their order in the stream.
        for (const by of publishers) {
          assert.deepEqual(
            events.filter((e) => (e.args?.[0] as Payload).from === by.name).map(bodyOf),
            sent.filter((s) => s.by === by).map((s) => s.payload.body),
            `${by.name}'s publishes in the order it made them`,
          );
        }
        // Whatever a v2 reader received live carries the publication id the history has for it.
        for (const reader of v2) {
          for (const f of reader.events) {
            assert.deepEqual(
              byId.get(f[2] as number)?.args,
              f[4],
              `${reader.name}: live EVENT ${JSON.stringify(f)} has the history's id`,
            );
          }
        }
        await clients.close();
      } finally {
        await clients.abandon();
      }
    });
  },
);

// ---------------------------------------------------------------------------
// (b) Catch-up on another node

clusterTest(
  "cluster history (b): a client leaves node A, misses publishes on B and C, comes back on C: after_publication gives exactly the missed, in order, complete",
  async () => {
    await withCluster(3, { cluster: uniqueCluster("hist_b") }, async ([a, b, c]) => {
      const clients = new Clients();
      try {
        const onA = await clients.subscribed(a.wsUrl, 2, "pub@A");
        const onB = await clients.subscribed(b.wsUrl, 2, "pub@B");
        const v1OnB = await clients.subscribed(b.wsUrl, 1, "v1@B");
        const onC = await clients.subscribed(c.wsUrl, 2, "pub@C");
        // History from before the client came, from every node.
        await onB.publishRead({ body: "early 1" });
        await onC.publishRead({ body: "early 2" });

        const watcher = await clients.subscribed(a.wsUrl, 2, "watcher@A");
        const seen: number[] = [];
        for (let i = 1; i <= 3; i++) seen.push(await onA.publishRead({ body: `seen ${i}` }));
        // Published on its own node, each reaches it at once, in order.
        await waitUntil(() => watcher.events.length >= 3, "the watcher to see 3 events live", CLUSTER_MS);
        const lastSeen = watcher.events.at(-1)![2] as number;
        assert.deepEqual(watcher.events.map((f) => f[2]), seen, "the watcher saw the 3, in order");
        await watcher.close();

        // Missed: on B (v2 and v1) and C, in turns, each read back before the next.
        const missed: { body: string; id: number }[] = [];
        const turns = [onB, onC, v1OnB, onC, onB, onC, v1OnB, onB];
        for (const [i, by] of turns.entries()) {
          const body = `missed ${i + 1} (${by.name})`;
          missed.push({ body, id: await by.publishRead({ body }) });
        }

        const back = await clients.subscribed(c.wsUrl, 2, "watcher again@C");
        const caughtUp = await back.history({ after_publication: lastSeen });
        assert.deepEqual(bodies(caughtUp.events), missed.map((m) => m.body), "exactly the missed, in order");
        assert.deepEqual(
          caughtUp.events.map((e) => e.publication),
          missed.map((m) => m.id),
          "under their ids",
        );
        assert.equal(caughtUp.complete, true, "complete: the anchor is still kept");
        // As the page asks: newest first, limited.
        const pageWay = await back.history({ after_publication: lastSeen, reverse: true, limit: 200 });
        assert.deepEqual(bodies(pageWay.events), missed.map((m) => m.body).reverse(), "reverse");
        assert.equal(pageWay.complete, true);
        // Every node answers the same (A and B from fresh sessions, and v1 on B).
        for (const [node, version] of [[a, 2], [b, 2], [b, 1]] as const) {
          const other = await clients.subscribed(node.wsUrl, version, `v${version}@${node.port}`);
          const h = await other.history({ after_publication: lastSeen });
          assert.deepEqual(h.events.map(portable), caughtUp.events.map(portable), `${other.name}: the same`);
          assert.equal(h.complete, true, `${other.name}: complete`);
        }
        // The whole history, on C: the early ones, the seen ones, the missed ones.
        assert.deepEqual(bodies((await back.history()).events), [
          "early 1",
          "early 2",
          "seen 1",
          "seen 2",
          "seen 3",
          ...missed.map((m) => m.body),
        ]);
        await clients.close();
      } finally {
        await clients.abandon();
      }
    });
  },
);

// ---------------------------------------------------------------------------
// (c) Every node restarts

clusterTest(
  "cluster history (c): after every node restarted, the new nodes have the same 20 events (complete after the 10th); new ones follow them",
  async () => {
    await withClusterName("hist_c", async (cluster, nodes, clients) => {
      const first = await startCluster(2, { cluster });
      nodes.push(...first);
      const pubs = await Promise.all(first.map((n, i) => clients.subscribed(n.wsUrl, 2, `pub@${i}`)));
      const acks: Promise<number | undefined>[] = [];
      for (let i = 1; i <= 20; i++) acks.push(pubs[i % 2].publish(TOPIC, { body: `before ${i}` }));
      await Promise.all(acks);
      const before = await pubs[0].historyWhen((h) => h.events.length >= 20, "all 20");
      assert.equal(before.events.length, 20);
      const other = await pubs[1].historyWhen((h) => h.events.length >= 20, "all 20");
      assert.deepEqual(other.events.map(portable), before.events.map(portable), "both nodes agree");

      const stream = await streamInfo(cluster);
      assert.ok(stream !== null, `the stream tuerca.${cluster}.history.realm1 exists`);
      assert.equal(stream.type, "stream");
      assert.equal(stream.durable, true);

      await clients.close();
      await stopAll(first);
      const second = await startCluster(2, { cluster });
      nodes.push(...second);
      const readers = await Promise.all(second.map((n, i) => clients.subscribed(n.wsUrl, 2, `new@${i}`)));
      const tenth = before.events[9];
      for (const reader of readers) {
        // A node reads the stream before it serves: no waiting here.
        const h = await reader.history();
        assert.deepEqual(h.events.map(portable), before.events.map(portable), `${reader.name}: the same 20`);
        assert.equal(h.complete, true);
        const since = Date.parse(String(h.since));
        assert.ok(
          since <= Date.parse(before.events[0].timestamp),
          `${reader.name}: since (${h.since}) reaches back to the first event (${
            before.events[0].timestamp
          }): the history did not restart`,
        );
        const after10 = await reader.history({ after_publication: tenth.publication });
        assert.deepEqual(
          after10.events.map(portable),
          before.events.slice(10).map(portable),
          `${reader.name}: after the 10th`,
        );
        assert.equal(after10.complete, true, `${reader.name}: the 10th is still known after the restart`);
      }

      const fresh: number[] = [];
      for (const [i, reader] of [readers[0], readers[1], readers[0]].entries()) {
        fresh.push(await reader.publishRead({ body: `after ${i + 1}` }));
      }
      for (const reader of readers) {
        const h = await reader.historyWhen((h) => h.events.length >= 23, "23 events");
        assert.deepEqual(h.events.slice(0, 20).map(portable), before.events.map(portable), reader.name);
        assert.deepEqual(bodies(h.events.slice(20)), ["after 1", "after 2", "after 3"], reader.name);
        assert.deepEqual(h.events.slice(20).map((e) => e.publication), fresh, reader.name);
        assert.equal(new Set(h.events.map((e) => e.publication)).size, 23, "new ids differ from the old");
        const after20 = await reader.history({ after_publication: before.events[19].publication });
        assert.deepEqual(bodies(after20.events), ["after 1", "after 2", "after 3"]);
        assert.equal(after20.complete, true);
      }
    });
  },
);

/** A realm whose file sets a `rabbitmq` store keeping the last 5 of one exact topic. */
const CUSTOM_TOPIC = "app.custom.history";
const STORE_CONFIG = {
  realms: [{
    name: "realm1",
    roles: [{
      name: "anonymous",
      permissions: [{
        uri: "",
        match: "prefix",
        allow: { call: true, register: true, publish: true, subscribe: true },
        disclose: { caller: false, publisher: false },
      }],
    }],
    store: {
      type: "rabbitmq",
      "event-history": [{ uri: CUSTOM_TOPIC, match: "exact", limit: 5 }],
    },
  }],
  auth: { anonymous: { type: "static", role: "anonymous" } },
};

clusterTest(
  "cluster history (c): a configuration file's rabbitmq store with an exact topic, limit 5, keeps the last 5 across a restart of every node",
  async () => {
    const config = await Deno.makeTempFile({ prefix: "tuerca_history_", suffix: ".json" });
    try {
      await Deno.writeTextFile(config, JSON.stringify(STORE_CONFIG));
      await withClusterName("hist_cfg", async (cluster, nodes, clients) => {
        const options = { cluster, args: ["--config", config] };
        const first = await startCluster(2, options);
        nodes.push(...first);
        const pubs = await Promise.all(
          first.map((n, i) => clients.subscribed(n.wsUrl, 2, `pub@${i}`, CUSTOM_TOPIC)),
        );
        const ids: number[] = [];
        for (let i = 1; i <= 8; i++) ids.push(await pubs[i % 2].publishRead({ body: `c${i}` }));
        for (const pub of pubs) {
          const h = await pub.history();
          assert.deepEqual(bodies(h.events), ["c4", "c5", "c6", "c7", "c8"], `${pub.name}: the last 5`);
        }
        const kept = (await pubs[0].history()).events;

        await clients.close();
        await stopAll(first);
        const second = await startCluster(2, options);
        nodes.push(...second);
        const readers = await Promise.all(
          second.map((n, i) => clients.subscribed(n.wsUrl, 2, `new@${i}`, CUSTOM_TOPIC)),
        );
        for (const reader of readers) {
          const h = await reader.history();
          assert.deepEqual(h.events.map(portable), kept.map(portable), `${reader.name}: the same last 5`);
          assert.equal(h.complete, true);
          const afterC4 = await reader.history({ after_publication: ids[3] });
          assert.deepEqual(bodies(afterC4.events), ["c5", "c6", "c7", "c8"], `${reader.name}: after c4`);
          assert.equal(afterC4.complete, true, `${reader.name}: c4 is kept`);
          const afterC1 = await reader.history({ after_publication: ids[0] });
          assert.deepEqual(bodies(afterC1.events), ["c4", "c5", "c6", "c7", "c8"]);
          assert.equal(afterC1.complete, false, `${reader.name}: c1 fell off, so the answer is not complete`);
        }
        await readers[1].publishRead({ body: "c9" });
        for (const reader of readers) {
          const h = await reader.historyWhen((h) => bodies(h.events).at(-1) === "c9", "c9");
          assert.deepEqual(bodies(h.events), ["c5", "c6", "c7", "c8", "c9"], `${reader.name}: still 5`);
        }
      });
    } finally {
      await Deno.remove(config);
    }
  },
);

// ---------------------------------------------------------------------------
// (d) The push page in Chromium, on two nodes that share one port

/** Bound for every wait on the page. */
const PAGE_MS = 15_000;

/** A port no one listens on now: bound to 0 and closed again. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/**
 * `GET /healthz` on `port` over a TCP connection of its own: with `--reuse-port`
 * the kernel picks which process answers each new connection.
 */
async function rawHealth(port: number): Promise<NodeHealth> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const request = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const text = await within(new Response(conn.readable).text(), "GET /healthz");
    return JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as NodeHealth;
  } finally {
    try {
      conn.close();
    } catch {
      // closed by reading to the end
    }
  }
}

/** The little of the DOM {@link readFeed} touches (this file is checked without the DOM library). */
interface FeedNode {
  readonly textContent: string | null;
  readonly classList: { contains(name: string): boolean };
  querySelector(selector: string): FeedNode | null;
}

/**
 * Runs in the page: the push feed in order, one string per line: "sender: text" for
 * a message, "sender (mine): text" for the tab's own, "— GAP" for the line that says
 * messages may be missing, "— text" for other lines of the page's own.
 */
function readFeed(): string[] {
  const doc = (globalThis as unknown as {
    document: { querySelectorAll(selector: string): ArrayLike<FeedNode> };
  }).document;
  return Array.from(doc.querySelectorAll("#messages > li"), (li) => {
    const text = li.querySelector(".text")?.textContent ?? "";
    if (li.classList.contains("gap")) return "— GAP";
    if (li.classList.contains("system")) return `— ${text}`;
    const sender = li.querySelector(".sender")?.textContent ?? "";
    return li.classList.contains("mine") ? `${sender} (mine): ${text}` : `${sender}: ${text}`;
  });
}

/** Waits until the push feed reads exactly `want` (see {@link readFeed}). */
async function waitForFeed(page: Page, want: string[], what: string): Promise<void> {
  try {
    await page.waitForFunction(
      `JSON.stringify((${readFeed.toString()})()) === ${JSON.stringify(JSON.stringify(want))}`,
      undefined,
      { timeout: PAGE_MS },
    );
  } catch (e) {
    const got = await page.evaluate(readFeed).catch(() => "(unreadable)");
    throw new Error(`${what}: expected ${JSON.stringify(want)}, the page shows ${JSON.stringify(got)}`, {
      cause: e,
    });
  }
}

/** Waits for the status badge to show `state`. */
async function waitBadge(page: Page, state: string): Promise<void> {
  await page.locator(`#status[data-state="${state}"]`).waitFor({ timeout: PAGE_MS });
}

/** Why the browser test cannot run here, or null. Under `CI=true` it then fails instead of being skipped. */
const browserMissing = !rabbit.ok ? rabbit.reason : !haveChromium() ? `no Chromium at ${CHROMIUM}` : null;
const CI = Deno.env.get("CI") === "true";
if (browserMissing !== null && !CI) {
  console.log(`cluster history (d) skipped: ${browserMissing} (set CI=true to make this an error)`);
}

Deno.test({
  name:
    "cluster history (d): the push page on two --reuse-port nodes: its node is SIGKILLed, it comes back on the other and shows what it missed once, without a gap line",
  ignore: browserMissing !== null && !CI,
  // playwright keeps its pipe to the browser busy, and the page's sockets outlive single steps.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (browserMissing !== null) throw new Error(browserMissing);
    const port = freePort();
    const proxy = new TcpProxy(port);
    let browser: Browser | null = null;
    try {
      await withClusterName("hist_d", async (cluster, nodes, clients) => {
        const options = { cluster, args: ["--port", String(port), "--reuse-port"] };
        // Node 1 alone on the port: whatever connects now is its.
        const one = await startNode(options);
        nodes.push(one);
        const early = await clients.subscribed(`ws://127.0.0.1:${port}/ws`, 2, "early@1");
        await early.publishRead({ body: "before 1", details: [] });
        await early.publishRead({ body: "before 2", details: [] });

        const { chromium } = await import("playwright-core");
        browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...LAUNCH_ARGS] });
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        page.setDefaultTimeout(PAGE_MS);
        const problems: string[] = [];
        page.on("dialog", (d) => {
          problems.push(`a ${d.type()} dialog: ${d.message()}`);
          d.dismiss().catch(() => {});
        });
        page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
        await page.goto(proxy.url);
        await waitBadge(page, "connected");
        const opening = ["tab: before 1", "tab: before 2"];
        await waitForFeed(page, opening, "the tab that opened (on node 1)");

        // Node 2 joins on the same port; the tab stays where it is, on node 1.
        const two = await startNode(options);
        nodes.push(two);
        // Which process answers is the kernel's pick for each new connection: ask until both did.
        const seen = new Map<number, NodeHealth>();
        const deadline = Date.now() + CLUSTER_MS;
        const joined = () => {
          const [h1, h2] = [seen.get(one.pid)?.cluster, seen.get(two.pid)?.cluster];
          return h1 !== undefined && h2 !== undefined && h1.state === "connected" &&
            h2.state === "connected" &&
            JSON.stringify(h1.nodes) === JSON.stringify([h2.node]) &&
            JSON.stringify(h2.nodes) === JSON.stringify([h1.node]);
        };
        while (!joined()) {
          assert.ok(
            Date.now() < deadline,
            `within ${CLUSTER_MS} ms, both processes answer on port ${port} and hear each other: ${
              JSON.stringify([...seen.values()].map((h) => ({ pid: h.pid, cluster: h.cluster })))
            }`,
          );
          const h = await rawHealth(port);
          seen.set(h.pid, h);
        }

        await page.fill("#message", "mine before");
        await page.press("#message", "Enter");
        await page.waitForFunction(
          `document.getElementById("message").value === ""`,
          undefined,
          { timeout: PAGE_MS },
        );
        const beforeCut = [...opening, "you (mine): mine before"];
        await waitForFeed(page, beforeCut, "the tab's own message");
        await early.historyWhen((h) => h.events.length === 3, "the tab's message in the stream");

        // Node 1 dies; the tab may try again at once but gets in only when the test lets it.
        proxy.hold();
        one.kill("SIGKILL");
        await within(one.child.process.status, "node 1 to die", CLUSTER_MS);
        await page.locator("#publish-offline").waitFor({ state: "visible", timeout: PAGE_MS });
        assert.match(await page.locator("#publish-offline").textContent() ?? "", /^Connection lost/);

        // Only node 2 is left behind the port: publish there while the tab is away.
        const survivor = await clients.subscribed(`ws://127.0.0.1:${port}/ws`, 2, "pub@2");
        assert.equal((await rawHealth(port)).pid, two.pid, "node 2 answers on the port now");
        const kept = await survivor.history();
        assert.deepEqual(
          bodies(kept.events),
          ["before 1", "before 2", "mine before"],
          "node 2 followed the stream",
        );
        const missed = [1, 2, 3, 4].map((i) => `missed ${i}`);
        for (const body of missed) await survivor.publishRead({ body, details: [] });
        await waitUntil(() => proxy.refused > 0, "the tab to try again and be refused", PAGE_MS);
        assert.notEqual(await page.locator("#status").getAttribute("data-state"), "connected", "still out");

        proxy.restore();
        await waitBadge(page, "connected");
        const caughtUp = [...beforeCut, ...missed.map((m) => `tab: ${m}`)];
        await waitForFeed(page, caughtUp, "the tab back on node 2");
        assert.ok(await page.locator("#publish-offline").isHidden(), "the offline banner is gone");

        // Live again, on node 2: each message once.
        await survivor.publish(TOPIC, { body: "after", details: [] });
        await waitForFeed(page, [...caughtUp, "tab: after"], "a live message after the catch-up");
        assert.deepEqual(
          await page.locator("#messages > li.system.gap").count(),
          0,
          "no gap line: nothing was lost",
        );
        assert.deepEqual(problems, [], "no dialog and no page error");
        await context.close();
      });
    } finally {
      await (browser as Browser | null)?.close().catch(() => {});
      await proxy.close();
    }
  },
});
