/**
 * The cluster scenarios of bench/run.ts (`--only cluster`): Tuerca nodes started
 * with `--cluster NAME` against the benchmark's private RabbitMQ node (never the
 * machine's shared broker), each a process of its own.
 *
 * - **fan-out over 2 nodes**: N subscribers, half on each node, the publisher on
 *   node 1; the same bursts and trials as the one-node fan-out. Events/s, latency
 *   at the remote node, each node's CPU per event it delivered, the broker's CPU
 *   per publish; then a short traffic phase that reads each node's
 *   `tuerca_cluster_received_total` and the bytes the broker sent it.
 * - **cross-node latency**: one publisher on node 1, one subscriber on node 1 and
 *   one on node 2, one message at a time (each awaited at both): the broker hop.
 * - **many topics over 2 nodes**: each node's subscribers hold a disjoint half of
 *   the topics (and all of them one shared topic), a publisher on each node
 *   publishes to topics of the whole space; each node's inbound backbone messages
 *   against the publishes of the other node on topics its subscribers hold.
 *
 * The projection to more cores is in lib/projection.ts.
 *
 * @module
 */

import { CpuMeter, rssKiB } from "./lib/procfs.ts";
import type { Endpoint } from "./lib/protocols.ts";
import { type Rabbit, type Server, startTuerca } from "./lib/servers.ts";
import { type Percentiles, percentiles } from "./lib/stats.ts";
import {
  awaitQuiet,
  bestOf,
  connectSubscribers,
  type Context,
  cpuUsPer,
  FanoutDriver,
  type FanoutOptions,
  type FanoutRow,
  measureFanout,
  Meters,
  mib,
  nextBurst,
  type PerGenerator,
  spawnGenerator,
  timeLeft,
  toMs,
  type Trial,
} from "./scenarios.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Fan-out over two nodes at one N. */
export interface ClusterFanoutRow {
  n: number;
  /** Sessions subscribed on each node (node 1 first). */
  subscribedPerNode: number[];
  connectFailed: number;
  connectSeconds: number;
  rounds: number;
  burst: number;
  /** Events delivered in the best trial (both nodes). */
  events: number;
  /** Events delivered by each node in the best trial. */
  eventsPerNode: number[];
  /** Publishes of the best trial (events ÷ subscribers). */
  publishes: number;
  seconds: number;
  /** Events per second, both nodes together, best trial. */
  eventsPerSec: number;
  medianEventsPerSec: number;
  trials: number[];
  complete: boolean;
  /** Loaded publish → receive latency of the subscribers on node 2 (the remote node). */
  remoteLoadedLatencyMs: Percentiles;
  /** Light-load latency (one message at a time to all N) on node 2. */
  remotePacedLatencyMs: Percentiles | null;
  /** The same on node 1 (the publisher's node). */
  localLoadedLatencyMs: Percentiles;
  localPacedLatencyMs: Percentiles | null;
  pacedIntervalMs: number;
  /** CPU in the best trial, percent of one core: node1, node2, rabbitmq (beam.smp), generators, publisher, other. */
  cpu: Record<string, number>;
  /** Each node's CPU µs per event it delivered (node 1 also publishes to the broker). */
  nodeCpuUsPerEvent: number[];
  /** Both nodes' CPU ÷ all events, µs. */
  clusterCpuUsPerEvent: number;
  /**
   * The broker's (beam.smp) CPU µs per published event, over every trial (one
   * trial holds too few publishes for 10 ms ticks at large N).
   */
  brokerCpuUsPerPublish: number;
  /**
   * The broker's CPU with the nodes connected and nobody publishing (heartbeats,
   * its own timers, its schedulers' spinning), percent of one core, over 1 s before this step.
   */
  brokerIdlePercent: number;
  /** {@link ClusterFanoutRow.brokerCpuUsPerPublish} less the idle level: what publishing itself costs it. */
  brokerCpuUsPerPublishAboveIdle: number;
  nodeRssMiB: number[];
  /** The traffic phase: a fixed number of bursts after the trials. */
  traffic: ClusterTraffic | null;
}

/** What crossed the broker during a counted phase. */
export interface ClusterTraffic {
  /** Publishes made in the phase. */
  publishes: number;
  seconds: number;
  /** Each node's `tuerca_cluster_received_total` delta (messages from other nodes, heartbeats included). */
  received: number[];
  /** Bytes the broker sent each node's backbone connection (`ss`: bytes_received), or null if unknown. */
  bytesFromBroker: (number | null)[];
}

/** One message at a time from node 1 to a subscriber on node 1 and one on node 2. */
export interface ClusterLatencyRow {
  messages: number;
  /** Publish → receive at the subscriber on the publisher's node (ms). */
  localMs: Percentiles;
  /** Publish → receive at the subscriber on the other node (ms): the broker hop included. */
  remoteMs: Percentiles;
}

/** Many topics over two nodes. */
export interface ClusterTopicsRow {
  sessions: number;
  sessionsPerNode: number[];
  connectSeconds: number;
  connectFailed: number;
  /** Topics held on each node (own topics; the shared topic on both besides). */
  topicsPerNode: number[];
  mix: string;
  /** Seconds the bindings took to be in place (sweeps of every topic until all arrived). */
  bindSeconds: number;
  publishes: number;
  events: number;
  seconds: number;
  publishesPerSec: number;
  eventsPerSec: number;
  trials: number[];
  complete: boolean;
  loadedLatencyMs: Percentiles;
  cpu: Record<string, number>;
  nodeCpuUsPerEvent: number[];
  /** The broker's CPU µs per publish, over every trial. */
  brokerCpuUsPerPublish: number;
  /** Over the measured trials (all of them): what each node's counter and the publishes say. */
  inbound: {
    seconds: number;
    /** Publishes by each node's publisher (node 1 first). */
    publishesByNode: number[];
    /** Publishes of the whole cluster. */
    clusterPublishes: number;
    /** Per node: publishes by the other node on topics this node's subscribers hold (the shared one included). */
    expected: number[];
    /** Per node: `tuerca_cluster_received_total` delta. */
    received: number[];
    /** received − expected: heartbeats (one a second from the other node) and nothing else. */
    other: number[];
    /** Per node: its own publishes on topics its subscribers hold (the broker sends them back; dropped on arrival, not counted). */
    ownOnHeldTopics: number[];
    bytesFromBroker: (number | null)[];
    /** Every node's received − expected is within [0, seconds + 2], and below the cluster's publishes. */
    match: boolean;
  };
}

/** The cluster section of results.json. */
export interface ClusterResults {
  fanout: ClusterFanoutRow[];
  /** The one-node fan-out at the same N and settings: Tuerca's rows of section 1, or measured here. */
  oneNode: FanoutRow[];
  oneNodeFromMainRows: boolean;
  latency: ClusterLatencyRow | null;
  topics: ClusterTopicsRow | null;
}

/** What the cluster section runs. */
export interface ClusterPlan {
  ns: number[];
  fanout: FanoutOptions;
  latencyMessages: number;
  topicsSessions: number;
  topicsMs: number;
  /** Bursts of the traffic phase after each fan-out step. */
  trafficRounds: number;
}

let clusters = 0;

/** A cluster name of its own (letters and digits), one per scenario: no node of an earlier one can answer. */
function clusterName(): string {
  return `bench${Deno.pid}c${++clusters}`;
}

/** Starts `count` nodes of a fresh cluster and waits (bounded) until each hears from all the others. */
export async function startNodes(
  ctx: Context,
  rabbit: Rabbit,
  count: number,
  tag: string,
): Promise<Server[]> {
  const name = clusterName();
  const nodes: Server[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const s = await startTuerca({
        name: `tuerca-${tag}-node${i}`,
        args: ["--cluster", name, "--amqp", rabbit.amqpUrl],
      });
      nodes.push({ ...s, id: `tuerca-node${i}`, label: `Tuerca node ${i} of ${count}` });
    }
    const until = performance.now() + 15_000;
    for (;;) {
      const seen = await Promise.all(nodes.map(async (s) => {
        const r = await s.request!("cluster", {}, 10_000);
        return (r.status as { nodes: string[] }).nodes.length;
      }));
      if (seen.every((x) => x >= count - 1)) break;
      if (performance.now() > until) {
        throw new Error(`cluster ${name}: the nodes hear ${seen.join(", ")} others after 15 s`);
      }
      await sleep(100);
    }
    ctx.log(`  cluster ${name}: ${count} nodes connected and hearing each other`);
    return nodes;
  } catch (e) {
    await Promise.all(nodes.map((s) => s.stop()));
    throw e;
  }
}

/** Runs `fn` with a fresh cluster of `count` nodes, always stopping them. */
export async function withNodes<T>(
  ctx: Context,
  rabbit: Rabbit,
  count: number,
  tag: string,
  fn: (nodes: Server[]) => Promise<T>,
): Promise<T> {
  const nodes = await startNodes(ctx, rabbit, count, tag);
  try {
    return await fn(nodes);
  } finally {
    await Promise.all(nodes.map((s) => s.stop()));
  }
}

/** `tuerca_cluster_received_total` from a node's `/metrics`. */
export async function receivedTotal(node: Server): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${node.endpoint.port}/metrics`, {
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const m = /^tuerca_cluster_received_total (\d+)/m.exec(text);
  if (m === null) throw new Error(`node on port ${node.endpoint.port}: no tuerca_cluster_received_total`);
  return Number(m[1]);
}

/**
 * Bytes each process received on its TCP connections to `port` (the broker's
 * AMQP port), from `ss -tinp`; null for a process with none (or without `ss`).
 */
export async function bytesFrom(pids: number[], port: number): Promise<(number | null)[]> {
  let text = "";
  try {
    const out = await new Deno.Command("ss", {
      args: ["-tinpH", "state", "established", "dport", "=", `:${port}`],
      stdout: "piped",
      stderr: "null",
    }).output();
    text = new TextDecoder().decode(out.stdout);
  } catch {
    return pids.map(() => null);
  }
  const byPid = new Map<number, number>();
  let owner = -1;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (!/^\s/.test(line)) {
      const m = /pid=(\d+)/.exec(line);
      owner = m === null ? -1 : Number(m[1]);
    }
    const b = /bytes_received:(\d+)/.exec(line);
    if (b !== null && owner > 0) byPid.set(owner, (byPid.get(owner) ?? 0) + Number(b[1]));
  }
  return pids.map((p) => byPid.get(p) ?? null);
}

async function snapshot(nodes: Server[], rabbit: Rabbit) {
  const received = await Promise.all(nodes.map(receivedTotal));
  const amqpPort = Number(new URL(rabbit.amqpUrl).port);
  const bytes = await bytesFrom(nodes.map((s) => s.pids()[0]), amqpPort);
  return { received, bytes, at: performance.now() };
}

function diff(a: Awaited<ReturnType<typeof snapshot>>, b: Awaited<ReturnType<typeof snapshot>>) {
  return {
    seconds: round2((b.at - a.at) / 1000),
    received: b.received.map((x, i) => x - a.received[i]),
    bytesFromBroker: b.bytes.map((x, i) => x === null || a.bytes[i] === null ? null : x - a.bytes[i]!),
  };
}

/** CPU µs of `group` per unit over several trials; `units` turns a trial's events into units. */
function overTrials(
  trials: { cpu: Record<string, number>; events: number }[],
  group: string,
  units: (events: number) => number,
  /** Percent of one core to take off first (an idle level). */
  less = 0,
): number {
  let us = 0;
  let count = 0;
  for (const t of trials) {
    us += (Math.max(0, t.cpu[group] - less) / 100) * t.cpu.seconds * 1e6;
    count += units(t.events);
  }
  return count > 0 ? round2(us / count) : NaN;
}

/** A Server standing for several nodes: their processes together. */
function together(nodes: Server[]): Server {
  return {
    ...nodes[0],
    id: "tuerca-cluster",
    label: "Tuerca cluster",
    pids: () => nodes.flatMap((s) => s.pids()),
  };
}

// ---------------------------------------------------------------------------
// (a) Fan-out over two nodes

/**
 * Fan-out to each N in turn over two nodes: half the subscribers on each, the
 * publisher on node 1. Stops escalating when a step would not fit in `budgetMs`
 * or a burst did not arrive.
 */
export async function clusterFanout(
  ctx: Context,
  nodes: Server[],
  rabbit: Rabbit,
  plan: ClusterPlan,
  budgetMs: number,
): Promise<ClusterFanoutRow[]> {
  const started = performance.now();
  const [n1, n2] = nodes;
  const endpoints: Endpoint[] = [n1.endpoint, n2.endpoint];
  const gens = [spawnGenerator("cluster-fanout-sub-node1"), spawnGenerator("cluster-fanout-sub-node2")];
  const pub = spawnGenerator("cluster-fanout-pub-node1");
  const topic = n1.topic;
  const rows: ClusterFanoutRow[] = [];
  try {
    await pub.request("publisher", { endpoint: n1.endpoint }, 30_000);
    const conns = [0, 0];
    const driver = new FanoutDriver(gens, pub, conns, topic);
    let stepMs = 0;
    let connectRate = Infinity;
    for (const n of plan.ns) {
      const before = conns[0] + conns[1];
      const estimateMs = ((n - before) / connectRate) * 1000 + stepMs;
      if (timeLeft(ctx) < 20_000 || performance.now() - started + estimateMs > budgetMs) {
        ctx.notes.push(`cluster fan-out N=${n} skipped: it would not fit in the time budget`);
        break;
      }
      const stepStart = performance.now();
      const c = await connectSubscribers(gens, conns, n, endpoints, [topic]);
      if (c.failed > 0) {
        ctx.notes.push(
          `cluster fan-out N=${n}: ${c.failed} of ${n} sessions failed to subscribe (${c.firstError})`,
        );
      }
      connectRate = (conns[0] + conns[1] - before) / Math.max(0.1, c.seconds);
      ctx.log(`  2 nodes: ${conns[0]} + ${conns[1]} subscribed in ${c.seconds.toFixed(1)} s`);
      if (conns[1] === 0 || conns[0] === 0) throw new Error(`no subscriber on one node: ${c.firstError}`);
      let per: PerGenerator | undefined;
      const beam = rabbit.beamPids();
      if (beam.length === 0) ctx.notes.push("cluster: the private RabbitMQ node's beam.smp was not found");
      await awaitQuiet(plan.fanout.quietWaitMs);
      const idleMeter = new CpuMeter(beam);
      await sleep(1000);
      const brokerIdlePercent = round1(idleMeter.percent());
      const m = await measureFanout(together(nodes), driver, gens.map((g) => g.pid), pub.pid, plan.fanout, {
        node1: n1.pids(),
        node2: n2.pids(),
        rabbitmq: beam,
      }, (p) => per = p);
      const subscribed = conns[0] + conns[1];
      const publishes = Math.round(m.events / subscribed);
      const eventsPerNode = per!.events;
      // The traffic phase: a fixed number of bursts, counted at the nodes and on their sockets.
      let traffic: ClusterTraffic | null = null;
      if (m.complete && plan.trafficRounds > 0) {
        await driver.reset(1_000_000);
        const a = await snapshot(nodes, rabbit);
        let published = 0;
        for (let i = 0; i < plan.trafficRounds; i++) {
          const r = await driver.round(m.burst, 20_000);
          if (!r.reached) break;
          published += m.burst;
        }
        const b = await snapshot(nodes, rabbit);
        traffic = { publishes: published, ...diff(a, b) };
      }
      const row: ClusterFanoutRow = {
        n,
        subscribedPerNode: [...conns],
        connectFailed: c.failed,
        connectSeconds: round1(c.seconds),
        rounds: m.rounds,
        burst: m.burst,
        events: m.events,
        eventsPerNode,
        publishes,
        seconds: m.seconds,
        eventsPerSec: m.eventsPerSec,
        medianEventsPerSec: m.medianEventsPerSec,
        trials: m.trials,
        complete: m.complete,
        remoteLoadedLatencyMs: per!.loadedLatencyMs[1],
        remotePacedLatencyMs: per!.pacedLatencyMs[1],
        localLoadedLatencyMs: per!.loadedLatencyMs[0],
        localPacedLatencyMs: per!.pacedLatencyMs[0],
        pacedIntervalMs: m.pacedIntervalMs,
        cpu: m.cpu,
        nodeCpuUsPerEvent: [
          cpuUsPer(m.cpu, "node1", eventsPerNode[0]),
          cpuUsPer(m.cpu, "node2", eventsPerNode[1]),
        ],
        clusterCpuUsPerEvent: cpuUsPer(m.cpu, "server", m.events),
        brokerCpuUsPerPublish: overTrials(per!.trials, "rabbitmq", (events) => events / subscribed),
        brokerIdlePercent,
        brokerCpuUsPerPublishAboveIdle: overTrials(
          per!.trials,
          "rabbitmq",
          (events) => events / subscribed,
          brokerIdlePercent,
        ),
        nodeRssMiB: nodes.map((s) => mib(rssKiB(s.pids()))),
        traffic,
      };
      rows.push(row);
      stepMs = performance.now() - stepStart - c.seconds * 1000;
      if (!m.complete) {
        ctx.notes.push(
          `cluster fan-out N=${n}: a burst was not delivered to every subscriber within the round time-out`,
        );
      }
      if (m.otherFrames > 0) {
        ctx.notes.push(`cluster fan-out N=${n}: ${m.otherFrames} frames were not events`);
      }
      ctx.log(
        `  2 nodes N=${n}: ${row.eventsPerSec} events/s, remote paced p99 ${
          row.remotePacedLatencyMs?.p99 ?? "-"
        } ms, CPU µs/event node1 ${row.nodeCpuUsPerEvent[0]} node2 ${row.nodeCpuUsPerEvent[1]}, ` +
          `broker ${row.brokerCpuUsPerPublish} µs/publish`,
      );
    }
  } finally {
    await Promise.all([...gens, pub].map((g) => g.kill()));
  }
  return rows;
}

// ---------------------------------------------------------------------------
// (b) Cross-node latency

/** One message at a time from node 1, awaited at a subscriber on each node. */
export async function clusterLatency(
  ctx: Context,
  nodes: Server[],
  messages: number,
): Promise<ClusterLatencyRow> {
  const [n1, n2] = nodes;
  const topic = "bench.hop";
  const pub = spawnGenerator("cluster-latency-pub-node1");
  const subs = [spawnGenerator("cluster-latency-sub-node1"), spawnGenerator("cluster-latency-sub-node2")];
  try {
    await pub.request("publisher", { endpoint: n1.endpoint }, 30_000);
    await subs[0].request(
      "subscribe",
      { endpoint: n1.endpoint, count: 1, offset: 0, topics: [topic] },
      30_000,
    );
    await subs[1].request(
      "subscribe",
      { endpoint: n2.endpoint, count: 1, offset: 1, topics: [topic] },
      30_000,
    );
    const oneAtATime = async (count: number) => {
      await Promise.all(subs.map((g) => g.request("reset", { sampleEvery: 1 })));
      for (let i = 1; i <= count; i++) {
        const waits = subs.map((g) => g.request("wait", { total: i, timeoutMs: 5_000 }, 10_000));
        await pub.request("publish", { count: 1, topic }, 10_000);
        const w = await Promise.all(waits);
        if (!w.every((r) => r.reached === true)) {
          throw new Error(`message ${i} did not reach both subscribers within 5 s`);
        }
      }
    };
    // The binding on node 2 is made a broker round trip after SUBSCRIBED: a first message proves it.
    const until = performance.now() + 10_000;
    for (;;) {
      try {
        await oneAtATime(1);
        break;
      } catch (e) {
        if (performance.now() > until) throw e;
      }
    }
    await oneAtATime(Math.min(100, messages));
    await awaitQuiet(2000);
    await oneAtATime(messages);
    const stats = await Promise.all(subs.map((g) => g.request("stats", { maxSamples: 100_000 })));
    const [localMs, remoteMs] = stats.map((s) => toMs(percentiles(s.samples as number[])));
    ctx.log(
      `  one at a time (${messages}): same node p50/p99 ${localMs.p50}/${localMs.p99} ms, ` +
        `other node ${remoteMs.p50}/${remoteMs.p99} ms`,
    );
    return { messages, localMs, remoteMs };
  } finally {
    await Promise.all([pub, ...subs].map((g) => g.kill()));
  }
}

// ---------------------------------------------------------------------------
// (c) Many topics over two nodes

/**
 * `sessions` sessions, half on each node, each on a topic of its own and on one
 * shared topic; a publisher on each node mixes 1,000 publishes to random own
 * topics (of the whole space) with 1 to the shared topic.
 */
export async function clusterTopics(
  ctx: Context,
  nodes: Server[],
  rabbit: Rabbit,
  sessions: number,
  o: FanoutOptions & { topicsMs: number },
): Promise<ClusterTopicsRow> {
  const [n1, n2] = nodes;
  const prefix = "bench.u.";
  const shared = "bench.all";
  const ratio = 1000;
  const gens = [spawnGenerator("cluster-topics-sub-node1"), spawnGenerator("cluster-topics-sub-node2")];
  const pubs = [spawnGenerator("cluster-topics-pub-node1"), spawnGenerator("cluster-topics-pub-node2")];
  try {
    await Promise.all(pubs.map((p, i) => p.request("publisher", { endpoint: nodes[i].endpoint }, 30_000)));
    const conns = [0, 0];
    const c = await connectSubscribers(gens, conns, sessions, [n1.endpoint, n2.endpoint], [shared], prefix);
    if (c.failed > 0) ctx.notes.push(`cluster many topics: ${c.failed} sessions failed (${c.firstError})`);
    const n = conns[0] + conns[1];
    const ranges: [number, number][] = [[0, conns[0]], [conns[0], n]];
    ctx.log(`  2 nodes: ${conns[0]} + ${conns[1]} sessions, each on its own topic and ${shared}`);
    let expected = [0, 0];
    let delivered = [0, 0];
    const reset = async (sampleEvery: number) => {
      await Promise.all(gens.map((g) => g.request("reset", { sampleEvery })));
      expected = [0, 0];
      delivered = [0, 0];
    };
    /** Node i's counts of a round: publishes by each publisher to each node's range, and the shared ones. */
    interface Mix {
      perRange: number[][];
      shared: number;
    }
    const waitAll = async (timeoutMs: number) => {
      const w = await Promise.all(
        gens.map((g, i) => g.request("wait", { total: expected[i], timeoutMs }, timeoutMs + 10_000)),
      );
      const now = w.map((r) => r.count as number);
      const d = now.map((x, i) => x - delivered[i]);
      delivered = now;
      return { w, d };
    };
    const round = async (individual: number): Promise<
      { startUs: number; endUs: number; delivered: number; reached: boolean; publishes: number; mix: Mix }
    > => {
      const sharedCount = Math.max(1, Math.round(individual / ratio));
      const answers = await Promise.all(pubs.map((p) =>
        p.request("mix", {
          individual,
          shared: sharedCount,
          prefix,
          sessions: n,
          ranges,
          sharedTopic: shared,
        }, 30_000)
      ));
      const perRange = answers.map((a) => a.perRange as number[]);
      expected = expected.map((e, i) => e + perRange[0][i] + perRange[1][i] + 2 * sharedCount * conns[i]);
      const { w, d } = await waitAll(20_000);
      const startUs = Math.min(...answers.map((a) => a.startUs as number));
      return {
        startUs,
        endUs: Math.max(startUs, ...w.map((r) => r.lastRecvUs as number)),
        delivered: d[0] + d[1],
        reached: w.every((r) => r.reached === true),
        publishes: 2 * (individual + sharedCount),
        mix: { perRange, shared: sharedCount },
      };
    };
    // Bindings: node i binds each topic its subscribers hold, one broker round trip each, after
    // SUBSCRIBED. Sweep: every publisher publishes once to every topic the other node holds, until a
    // sweep arrives whole.
    const bindStart = performance.now();
    let bound = false;
    for (let sweep = 0; sweep < 30 && !bound && performance.now() - bindStart < 60_000; sweep++) {
      await reset(1_000_000);
      const mine = [conns[0], conns[1]];
      await Promise.all([
        pubs[0].request("sweep", { prefix, from: ranges[1][0], to: ranges[1][1] }, 60_000),
        pubs[1].request("sweep", { prefix, from: ranges[0][0], to: ranges[0][1] }, 60_000),
      ]);
      expected = mine;
      const { w } = await waitAll(3_000);
      bound = w.every((r) => r.reached === true);
    }
    const bindSeconds = round1((performance.now() - bindStart) / 1000);
    if (!bound) throw new Error(`the nodes' bindings were not all in place after ${bindSeconds} s`);
    ctx.log(`  bindings in place after ${bindSeconds} s`);
    // Warm-up, sizing the bursts.
    let individual = 1000;
    await reset(64);
    for (let i = 0; i < 5; i++) {
      const r = await round(individual);
      if (!r.reached) break;
      individual = Math.max(
        100,
        Math.min(25_000, nextBurst(individual, (r.endUs - r.startUs) / 1e6, o.roundMs)),
      );
    }
    await reset(16);
    const trials: (Trial & { publishes: number })[] = [];
    const byNode = [0, 0];
    const expectedInbound = [0, 0];
    const own = [0, 0];
    let complete = true;
    const beam = rabbit.beamPids();
    const before = await snapshot(nodes, rabbit);
    for (let t = 0; t < o.trials && complete; t++) {
      const busyBefore = await awaitQuiet(o.quietWaitMs);
      const meters = new Meters({
        server: nodes.flatMap((s) => s.pids()),
        node1: n1.pids(),
        node2: n2.pids(),
        rabbitmq: beam,
        generators: gens.map((g) => g.pid),
        publisher: pubs.map((p) => p.pid),
      });
      let seconds = 0;
      let events = 0;
      let publishes = 0;
      const phaseEnd = performance.now() + o.topicsMs * 3;
      for (let i = 0; i < 200 && seconds * 1000 < o.topicsMs && performance.now() < phaseEnd; i++) {
        const r = await round(individual);
        const s = (r.endUs - r.startUs) / 1e6;
        seconds += s;
        events += r.delivered;
        publishes += r.publishes;
        const { perRange, shared: sh } = r.mix;
        for (let p = 0; p < 2; p++) byNode[p] += perRange[p][0] + perRange[p][1] + sh;
        // Node 1 receives node 2's publishes on node 1's topics, and node 2's shared ones; and so on.
        expectedInbound[0] += perRange[1][0] + sh;
        expectedInbound[1] += perRange[0][1] + sh;
        own[0] += perRange[0][0] + sh;
        own[1] += perRange[1][1] + sh;
        if (!r.reached) {
          complete = false;
          break;
        }
        individual = Math.max(100, Math.min(25_000, nextBurst(individual, s, o.roundMs)));
      }
      const cpu = meters.read();
      trials.push({
        rate: seconds > 0 ? events / seconds : 0,
        seconds,
        count: events,
        cpu,
        busyBefore,
        publishes,
      });
    }
    const after = await snapshot(nodes, rabbit);
    const d = diff(before, after);
    const { best } = bestOf(trials);
    const { seconds, count: events, cpu } = best;
    const publishes = (best as Trial & { publishes: number }).publishes;
    const stats = await Promise.all(gens.map((g) => g.request("stats", { maxSamples: 20_000 })));
    const other = d.received.map((x, i) => x - expectedInbound[i]);
    const clusterPublishes = byNode[0] + byNode[1];
    const match = other.every((x) => x >= 0 && x <= d.seconds + 2) &&
      d.received.every((x) => x < clusterPublishes);
    // Each node delivers the events of its own sessions: its share of the best trial's events.
    const share = conns.map((x) => x / n);
    const row: ClusterTopicsRow = {
      sessions: n,
      sessionsPerNode: [...conns],
      connectSeconds: round1(c.seconds),
      connectFailed: c.failed,
      topicsPerNode: [...conns],
      mix: `${ratio} individual : 1 shared, a publisher on each node`,
      bindSeconds,
      publishes,
      events,
      seconds: Math.round(seconds * 1000) / 1000,
      publishesPerSec: Math.round(publishes / seconds),
      eventsPerSec: Math.round(events / seconds),
      trials: trials.map((t) => Math.round(t.rate)),
      complete,
      loadedLatencyMs: toMs(percentiles(stats.flatMap((s) => s.samples as number[]))),
      cpu,
      nodeCpuUsPerEvent: [
        cpuUsPer(cpu, "node1", events * share[0]),
        cpuUsPer(cpu, "node2", events * share[1]),
      ],
      brokerCpuUsPerPublish: overTrials(
        trials.map((t) => ({ cpu: t.cpu, events: t.publishes })),
        "rabbitmq",
        (x) => x,
      ),
      inbound: {
        seconds: d.seconds,
        publishesByNode: byNode,
        clusterPublishes,
        expected: expectedInbound,
        received: d.received,
        other,
        ownOnHeldTopics: own,
        bytesFromBroker: d.bytesFromBroker,
        match,
      },
    };
    if (!match) {
      ctx.notes.push(
        `cluster many topics: inbound backbone messages do not match the publishes on held topics ` +
          `(received ${d.received.join(" / ")}, expected ${expectedInbound.join(" / ")} over ${d.seconds} s)`,
      );
    }
    ctx.log(
      `  2 nodes, ${n} sessions: ${row.eventsPerSec} events/s; inbound ${
        d.received.join(" / ")
      } vs expected ` +
        `${expectedInbound.join(" / ")} (cluster publishes ${clusterPublishes}) over ${d.seconds} s: ${
          match ? "match" : "MISMATCH"
        }`,
    );
    return row;
  } finally {
    await Promise.all([...gens, ...pubs].map((g) => g.kill()));
  }
}
