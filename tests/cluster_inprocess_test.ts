/**
 * Cluster nodes run in one process, where the test can choose the moment and read
 * each node's own counters: real routers on ephemeral ports, each with its own
 * backbone connection to the machine's RabbitMQ.
 *
 * - Races: two nodes take the same `single` procedure before either has heard of
 *   the other. Every node must settle on the same one, the earlier; the other
 *   callee is told by registration revocation.
 * - Meta events cost the backbone nothing while no other node watches them.
 * - A call canceled in `skip` mode is forgotten on the callee's node too, and the
 *   callee is not told.
 * - A queue message whose history append the broker never confirmed is not
 *   acknowledged: RabbitMQ delivers it again and it reaches the history.
 * - The subscription meta procedures answer for every node's subscribers, v1 and
 *   v2 alike, with one id per topic pattern wherever they are called.
 *
 * @module
 */

import assert from "node:assert/strict";
import { amqpUrlFromStomp } from "../src/bridge/stomp_url.ts";
import type { RunningServer } from "../main.ts";
import {
  ask,
  assertNothingQueued,
  eventually,
  metaCall,
  RawClient,
  rawRegister,
  rawSubscribe,
  rawV1,
  rawV2,
  rid,
  startTestServer,
  waitUntil,
} from "./helpers.ts";
import { clusterTest, deleteClusterLeftovers, uniqueCluster } from "./cluster_nodes.ts";
import { AMQP_PORT, deleteQueue, managementPublish, STOMP_URL, uniqueQueue } from "./rabbitmq.ts";
import { TcpProxy } from "./tcp_proxy.ts";
import { createPushApp, type PushAppInstance } from "../push.ts";
import type { StreamStore } from "../src/store/stream.ts";

const CALLEE_ROLES = {
  caller: {},
  callee: { features: { registration_revocation: true } },
};

/** Starts `n` in-process nodes of one new cluster and waits until each hears of the others. */
async function nodes(n: number, prefix: string): Promise<{ servers: RunningServer[]; cluster: string }> {
  const cluster = uniqueCluster(prefix);
  const options = { cluster: { name: cluster, url: amqpUrlFromStomp(STOMP_URL) } };
  const servers: RunningServer[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await startTestServer(undefined, options));
    await waitUntil(
      () => servers.every((s) => s.cluster!.status().nodes.length === n - 1),
      `${n} nodes to hear of each other`,
      10_000,
    );
    return { servers, cluster };
  } catch (e) {
    await Promise.all(servers.map((s) => s.close()));
    throw e;
  }
}

/**
 * Runs `fn` on `n` fresh in-process nodes of a new cluster; always closes the
 * clients it adds to `clients` and the nodes, and deletes what the cluster left.
 */
async function withNodes(
  n: number,
  prefix: string,
  fn: (servers: RunningServer[], clients: RawClient[]) => Promise<void>,
): Promise<void> {
  const { servers, cluster } = await nodes(n, prefix);
  const clients: RawClient[] = [];
  try {
    await fn(servers, clients);
  } finally {
    await Promise.all(clients.map((x) => x.close()));
    await Promise.all(servers.map((s) => s.close()));
    await deleteClusterLeftovers(cluster).catch(() => {});
  }
}

/** REGISTER, sent without waiting for the answer. */
function register(client: RawClient, procedure: string, options: Record<string, unknown> = {}): number {
  const request = rid();
  client.send([64, request, options, procedure]);
  return request;
}

clusterTest(
  "cluster race: the same single procedure registered on two nodes at once: every node keeps the earlier, the other callee is revoked ([67, 0, {registration, reason}]) and calls from anywhere reach the one kept",
  () =>
    withNodes(3, "race", async (servers, clients) => {
      const [a, b, c] = servers;
      const onA = (await rawV2(a.wsUrl, "realm1", CALLEE_ROLES)).client;
      const onB = (await rawV2(b.wsUrl, "realm1", CALLEE_ROLES)).client;
      const caller = (await rawV2(c.wsUrl)).client;
      clients.push(onA, onB, caller);
      // Both in the same turn: neither node can have heard of the other's yet.
      const ra = register(onA, "race.proc");
      const rb = register(onB, "race.proc");
      const okA = await onA.next("REGISTERED on A") as unknown[];
      const okB = await onB.next("REGISTERED on B") as unknown[];
      assert.deepEqual(okA.slice(0, 2), [65, ra], JSON.stringify(okA));
      assert.deepEqual(okB.slice(0, 2), [65, rb], JSON.stringify(okB));

      // Exactly one of them is revoked, with its own registration id.
      await waitUntil(() => onA.frames.length + onB.frames.length > 0, "a revocation on A or B");
      const loser = onA.frames.length > 0 ? onA : onB;
      const winner = loser === onA ? onB : onA;
      const lostId = loser === onA ? okA[2] : okB[2];
      assert.deepEqual(await loser.next("the revocation"), [67, 0, {
        registration: lostId,
        reason: "wamp.error.procedure_already_exists",
      }]);
      await assertNothingQueued(winner, "the registration kept is not revoked");

      // Every node agrees on one callee; calls from each node reach the winner.
      const calleeIds = await Promise.all(servers.map(async (s) => {
        const realm = s.router.realm("realm1")!;
        await waitUntil(
          () => realm.dealer.registration("race.proc")?.callees.length === 1,
          "one callee of race.proc on every node",
        );
        return realm.dealer.registration("race.proc")!.callees[0].id;
      }));
      assert.equal(new Set(calleeIds).size, 1, `one callee everywhere: ${calleeIds}`);
      for (const from of [caller, loser]) {
        const request = rid();
        from.send([48, request, {}, "race.proc", [1]]);
        const invocation = await winner.next("the INVOCATION at the winner") as unknown[];
        assert.equal(invocation[0], 68);
        winner.send([70, invocation[1], {}, ["won"]]);
        const result = await from.next("the RESULT") as unknown[];
        assert.deepEqual(result, [50, request, {}, ["won"]]);
      }
      // The loser's registration id is gone for it.
      const unregister = await ask(loser, [66, rid(), lostId]);
      assert.equal(unregister[4], "wamp.error.no_such_registration", JSON.stringify(unregister));
      const conflicts = servers.reduce((n, s) => n + s.cluster!.conflicts, 0);
      assert.ok(conflicts >= 1, "the conflict is counted");
    }),
);

clusterTest(
  "cluster meta events: a join and a leave on node A send nothing to the backbone while no node watches on_join/on_leave; once B's subscriber watches, they reach it",
  () =>
    withNodes(2, "watch", async (servers, clients) => {
      const [a, b] = servers;
      const before = a.cluster!.relayed;
      const quiet = (await rawV2(a.wsUrl)).client;
      await quiet.close();
      await waitUntil(() => a.router.realm("realm1")!.sessionCount === 1, "the session to leave A");
      assert.equal(a.cluster!.relayed, before, "no meta event went to the backbone");

      const watcher = (await rawV2(b.wsUrl)).client;
      clients.push(watcher);
      const sub = await ask(watcher, [32, rid(), {}, "wamp.session.on_join"]);
      assert.equal(sub[0], 33, JSON.stringify(sub));
      const linkA = a.cluster!.link("realm1")!;
      await waitUntil(() => linkA.mayReach("wamp.session.on_join"), "A to hear that B watches on_join");
      assert.ok(!linkA.mayReach("wamp.session.on_leave"), "on_leave is still watched by nobody");
      const joining = await rawV2(a.wsUrl);
      clients.push(joining.client);
      const event = await watcher.next("on_join on B") as unknown[];
      assert.equal(event[0], 36);
      assert.equal((event[4] as [{ session: number }])[0].session, joining.session);
      assert.equal(a.cluster!.relayed, before + 1, "exactly the watched on_join");
    }),
);

/** Calls a meta procedure from a raw v2 client; its one result. */
async function meta(client: RawClient, procedure: string, args: unknown[]): Promise<unknown> {
  return (await metaCall(client, procedure, args))[0];
}

/** Calls a meta procedure from a raw v1 client; its result. */
async function metaV1(client: RawClient, procedure: string, ...args: unknown[]): Promise<unknown> {
  const call = `v1-${rid()}`;
  const reply = await ask(client, [2, call, procedure, ...args]);
  assert.deepEqual(reply.slice(0, 2), [3, call], JSON.stringify(reply));
  return reply[2];
}

clusterTest(
  "cluster meta API: wamp.subscription.list/lookup/match/get/list_subscribers/count_subscribers answer for every node (v1 and v2 subscribers), with one id per topic pattern, each node's own where it holds one",
  () =>
    withNodes(3, "submeta", async (servers, clients) => {
      const [a, b, c] = servers;
      const onA = await rawV2(a.wsUrl);
      const onB = await rawV1(b.wsUrl);
      const onC = await rawV2(c.wsUrl);
      clients.push(onA.client, onB.client, onC.client);
      const idA = await rawSubscribe(onA.client, "submeta.news");
      onB.client.send([5, "submeta.news"]);
      // The v1 session handles its frames in order: this answer means the SUBSCRIBE is in.
      const idB = await metaV1(onB.client, "wamp.subscription.lookup", "submeta.news") as number;
      const prefix = await ask(onC.client, [32, rid(), { match: "prefix" }, "submeta."]);
      assert.equal(prefix[0], 33, JSON.stringify(prefix));
      const idC = prefix[2] as number;
      assert.equal(new Set([idA, idB, idC]).size, 3, `ids unique across the nodes: ${[idA, idB, idC]}`);
      const v1Session = Number(onB.session);

      // Each node shows its own id for the pattern it holds; C, which holds none, the lowest.
      assert.equal(await meta(onA.client, "wamp.subscription.lookup", ["submeta.news"]), idA);
      assert.equal(await meta(onC.client, "wamp.subscription.lookup", ["submeta.news"]), Math.min(idA, idB));
      assert.equal(
        await meta(onA.client, "wamp.subscription.lookup", ["submeta.", { match: "prefix" }]),
        idC,
      );
      assert.deepEqual(await meta(onA.client, "wamp.subscription.match", ["submeta.news"]), [idA, idC]);
      assert.deepEqual(await metaV1(onB.client, "wamp.subscription.match", "submeta.news"), [idB, idC]);
      const listed = await meta(onA.client, "wamp.subscription.list", []) as Record<string, number[]>;
      assert.deepEqual(listed.exact.filter((id) => id === idA || id === idB), [idA], JSON.stringify(listed));
      assert.ok(listed.prefix.includes(idC), JSON.stringify(listed));

      // Every node's id names the pattern, with every node's subscribers.
      for (const [from, id] of [[onA.client, idB], [onC.client, idA], [onC.client, idB]] as const) {
        const subscribers = await meta(from, "wamp.subscription.list_subscribers", [id]) as number[];
        assert.deepEqual(subscribers.sort(), [onA.session, v1Session].sort(), `subscribers of ${id}`);
        assert.equal(await meta(from, "wamp.subscription.count_subscribers", [id]), 2);
      }
      const details = await meta(onA.client, "wamp.subscription.get", [idC]);
      assert.deepEqual({ ...details as object, created: undefined }, {
        id: idC,
        uri: "submeta.",
        match: "prefix",
        created: undefined,
      });
      const own = await meta(onA.client, "wamp.subscription.get", [idA]) as Record<string, unknown>;
      assert.deepEqual([own.id, own.uri, own.match], [idA, "submeta.news", "exact"]);
      const unknown = await ask(onA.client, [48, rid(), {}, "wamp.subscription.get", [12345]]);
      assert.equal(unknown[4], "wamp.error.no_such_subscription", JSON.stringify(unknown));

      // A's subscriber leaves: the pattern now has B's subscriber alone, under B's id.
      const unsubscribed = await ask(onA.client, [34, rid(), idA]);
      assert.equal(unsubscribed[0], 35, JSON.stringify(unsubscribed));
      assert.equal(await meta(onC.client, "wamp.subscription.lookup", ["submeta.news"]), idB);
      assert.deepEqual(await meta(onC.client, "wamp.subscription.list_subscribers", [idB]), [v1Session]);
      await assert.rejects(meta(onC.client, "wamp.subscription.get", [idA]), /no_such_subscription/);

      // A node that stops is no longer asked: the others answer without waiting for it.
      await b.close();
      await waitUntil(() => c.cluster!.status().nodes.length === 1, "C to hear that B left");
      assert.equal(await meta(onC.client, "wamp.subscription.lookup", ["submeta.news"]), null);
    }),
);

clusterTest(
  "cluster RPC: CANCEL skip from node B: the caller is answered wamp.error.canceled, the callee on A gets no INTERRUPT, A forgets the call, and the callee's late YIELD reaches nobody",
  () =>
    withNodes(2, "skip", async (servers, clients) => {
      const [a, b] = servers;
      const callee = (await rawV2(a.wsUrl)).client;
      const caller = (await rawV2(b.wsUrl)).client;
      clients.push(callee, caller);
      await rawRegister(callee, "skip.slow");
      await waitUntil(
        () => b.router.realm("realm1")!.dealer.registration("skip.slow") !== undefined,
        "B to know skip.slow",
      );
      const request = rid();
      caller.send([48, request, {}, "skip.slow", [1]]);
      const invocation = await callee.next("the INVOCATION on A") as unknown[];
      assert.equal(invocation[0], 68, JSON.stringify(invocation));
      const dealerA = a.router.realm("realm1")!.dealer;
      assert.equal(dealerA.pendingCount, 1, "A holds the call");

      caller.send([49, request, { mode: "skip" }]);
      const canceled = await caller.next("the caller's ERROR") as unknown[];
      assert.deepEqual(
        canceled.slice(0, 5),
        [8, 48, request, {}, "wamp.error.canceled"],
        JSON.stringify(canceled),
      );
      await waitUntil(() => dealerA.pendingCount === 0, "A to forget the skipped call");
      await assertNothingQueued(callee, "skip sends the callee no INTERRUPT");

      callee.send([70, invocation[1], {}, ["late"]]);
      await assertNothingQueued(callee, "a late YIELD is dropped without an answer");
      await assertNothingQueued(caller, "the late result reaches nobody");
      assert.equal(b.router.realm("realm1")!.dealer.pendingCount, 0);
    }),
);

clusterTest(
  "cluster history: a queue message whose history append the broker never confirmed (the stream's link went dark, then down) is not acknowledged: RabbitMQ delivers it again and it reaches the history",
  async () => {
    const cluster = uniqueCluster("confirm");
    const queue = uniqueQueue("confirm");
    const topic = "push.tutorial.messages";
    // Only the history stream's connection goes through the proxy; the bridge and the backbone go direct.
    const proxy = new TcpProxy(AMQP_PORT);
    const logs: string[] = [];
    let server: RunningServer | undefined;
    let client: RawClient | undefined;
    try {
      server = await startTestServer(
        createPushApp({
          bridge: {
            url: STOMP_URL,
            queue,
            initialBackoffMs: 100,
            maxBackoffMs: 1_000,
            log: (l) => logs.push(l),
          },
        }),
        {
          cluster: { name: cluster, url: amqpUrlFromStomp(STOMP_URL) },
          amqpUrl: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
        },
      );
      const bridge = (server.app as PushAppInstance).bridge!;
      const store = server.router.realm("realm1")!.broker.store as StreamStore;
      await waitUntil(() => bridge.connected && store.ready, "the bridge and the history stream", 15_000);
      client = (await rawV2(server.wsUrl)).client;
      const subscription = await rawSubscribe(client, topic);

      proxy.stall();
      const sent = await managementPublish(queue, "dark", { cat: topic });
      assert.ok(sent.routed, "the queue exists");
      const first = await client.next("the first delivery") as unknown[];
      assert.equal((first[4] as [{ body: string }])[0].body, "dark", JSON.stringify(first));
      assert.equal(bridge.stats.acked, 0, "not acknowledged while the append is unconfirmed");

      proxy.cut();
      proxy.restore();
      const again = await client.next("the delivery again, after the append was lost") as unknown[];
      assert.equal((again[4] as [{ body: string }])[0].body, "dark", JSON.stringify(again));
      await waitUntil(() => bridge.stats.acked >= 1, "the bridge to acknowledge", 15_000);
      assert.ok(logs.some((l) => l.includes("may be lost")), logs.join("\n"));

      // The history has it (from the stream, or from memory if the stream was not back yet).
      let bodies: string[] = [];
      await eventually(
        async () => {
          const r = await ask(client!, [48, rid(), {}, "wamp.subscription.get_events", [subscription]]);
          assert.equal(r[0], 50, JSON.stringify(r));
          bodies = ((r[3] as unknown[][])[0] as { args: [{ body: string }] }[]).map((e) => e.args[0].body);
          return bodies.includes("dark");
        },
        () => `the history to hold it; it holds ${JSON.stringify(bodies)}`,
        15_000,
      );
    } finally {
      await client?.close();
      await server?.close();
      await proxy.close();
      await deleteQueue(queue).catch(() => {});
      await deleteQueue(`${queue}.rejected`).catch(() => {});
      await deleteClusterLeftovers(cluster).catch(() => {});
    }
  },
);
