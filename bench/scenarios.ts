/**
 * The benchmark scenarios, run by bench/run.ts: fan-out, many topics, RPC, the
 * queue and idle cost. Each starts its own generator processes, measures, and
 * kills them before returning.
 *
 * @module
 */

import { Child } from "./lib/child.ts";
import { CLK_TCK, CpuMeter, machineBusyTicks, rssKiB } from "./lib/procfs.ts";
import type { Endpoint, WampSerializer } from "./lib/protocols.ts";
import type { Rabbit, Server } from "./lib/servers.ts";
import { type Percentiles, percentiles } from "./lib/stats.ts";

const REPO = new URL("../", import.meta.url).pathname;
const GEN = new URL("gen.ts", import.meta.url).pathname;

/** What a run may spend and where it writes notes. */
export interface Context {
  quick: boolean;
  /** performance.now() value after which scenarios are skipped. */
  deadline: number;
  notes: string[];
  log(line: string): void;
}

/** Milliseconds left before the run's deadline. */
export function timeLeft(ctx: Context): number {
  return ctx.deadline - performance.now();
}

/** A generator process. */
export function spawnGenerator(name: string): Child {
  return new Child(name, Deno.execPath(), ["run", "--allow-all", GEN], { cwd: REPO });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU use over an interval, in percent of one core, per process group and for the machine. */
export class Meters {
  #meters: Map<string, CpuMeter>;
  /** Every process of every group, once (groups may overlap: a cluster and each of its nodes). */
  #all: CpuMeter;
  #t0 = performance.now();
  #busy0 = machineBusyTicks();

  constructor(groups: Record<string, number[]>) {
    this.#meters = new Map(Object.entries(groups).map(([k, pids]) => [k, new CpuMeter(pids)]));
    this.#all = new CpuMeter([...new Set(Object.values(groups).flat())]);
  }

  /**
   * Percent of one core per group, plus `machine` (all processes), `other` (not
   * ours) and `seconds` (the wall time measured).
   */
  read(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, m] of this.#meters) out[k] = round1(m.percent());
    const ours = this.#all.percent();
    const seconds = (performance.now() - this.#t0) / 1000;
    out.machine = round1((100 * (machineBusyTicks() - this.#busy0)) / CLK_TCK / seconds);
    out.other = round1(Math.max(0, out.machine - ours));
    out.seconds = Math.round(seconds * 1000) / 1000;
    return out;
  }
}

/** CPU microseconds of `group` per unit of work, from a {@link Meters.read} result. */
export function cpuUsPer(cpu: Record<string, number>, group: string, units: number): number {
  return units > 0 ? Math.round((100 * (cpu[group] / 100) * cpu.seconds * 1e6) / units) / 100 : NaN;
}

/**
 * Waits (at most `maxWaitMs`) until the machine is quiet: busy below `limitPct`
 * of one core over 300 ms. Other sessions share this machine; starting a trial
 * while they are busy only makes it slower. Returns the busy level at the start.
 */
export async function awaitQuiet(maxWaitMs: number, limitPct = 40): Promise<number> {
  const until = performance.now() + maxWaitMs;
  let busy = 0;
  for (let i = 0; i < 100; i++) {
    const b0 = machineBusyTicks();
    const t0 = performance.now();
    await sleep(300);
    busy = (100 * (machineBusyTicks() - b0)) / CLK_TCK / ((performance.now() - t0) / 1000);
    if (busy < limitPct || performance.now() >= until) break;
  }
  return round1(busy);
}

/** One trial of a throughput measurement. */
export interface Trial {
  rate: number;
  seconds: number;
  count: number;
  cpu: Record<string, number>;
  /** Machine busy level (percent of one core) just before the trial. */
  busyBefore: number;
}

/** The best trial (highest rate) and the median rate. */
export function bestOf(trials: Trial[]): { best: Trial; median: number } {
  const sorted = [...trials].sort((a, b) => a.rate - b.rate);
  return { best: sorted[sorted.length - 1], median: sorted[Math.floor((sorted.length - 1) / 2)].rate };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Percentiles in µs → ms, rounded to 10 µs. */
export function toMs(p: Percentiles): Percentiles {
  const f = (x: number) => Math.round(x / 10) / 100;
  return { n: p.n, p50: f(p.p50), p90: f(p.p90), p99: f(p.p99), max: f(p.max), mean: f(p.mean) };
}

/** KiB → MiB, one decimal. */
export function mib(kib: number): number {
  return Math.round(kib / 102.4) / 10;
}

// ---------------------------------------------------------------------------
// Fan-out

/** One fan-out measurement: one server, N subscribers on one topic. */
export interface FanoutRow {
  server: string;
  label: string;
  /** The WAMP serializer of the publisher and the subscribers, for the per-serializer rows. */
  serializer?: WampSerializer;
  n: number;
  subscribed: number;
  connectFailed: number;
  connectSeconds: number;
  rounds: number;
  /** Messages per burst. */
  burst: number;
  events: number;
  /** Sum of the best trial's rounds' first publish → last receive times. */
  seconds: number;
  /** The best trial's rate. */
  eventsPerSec: number;
  /** The median trial's rate. */
  medianEventsPerSec: number;
  /** Every trial's rate, in order. */
  trials: number[];
  /** Every round delivered everything in time. */
  complete: boolean;
  /** Publish → receive under saturating bursts (ms). */
  loadedLatencyMs: Percentiles;
  /** Publish → receive with one message at a time, spaced out (ms). */
  pacedLatencyMs: Percentiles | null;
  pacedIntervalMs: number;
  pacedMessages: number;
  /** CPU during the best trial's rounds, percent of one core. */
  cpu: Record<string, number>;
  /** Server CPU time per delivered event in the best trial, in µs. */
  serverCpuUsPerEvent: number;
  serverRssMiB: number;
  /** Frames the subscribers received that were not events (should be 0). */
  otherFrames: number;
}

/** One burst round: its first publish, its last receive, and what arrived. */
export interface Round {
  startUs: number;
  endUs: number;
  delivered: number;
  /** What arrived at each generator process, in the order of {@link FanoutDriver.gens}. */
  deliveredPerGen: number[];
  reached: boolean;
}

/** Burst rounds: publish B, wait for every subscriber to have them. */
export class FanoutDriver {
  expected: number[];
  delivered: number[];

  constructor(readonly gens: Child[], readonly pub: Child, readonly conns: number[], readonly topic: string) {
    this.expected = conns.map(() => 0);
    this.delivered = conns.map(() => 0);
  }

  async reset(sampleEvery: number): Promise<void> {
    await Promise.all(this.gens.map((g) => g.request("reset", { sampleEvery })));
    this.expected = this.conns.map(() => 0);
    this.delivered = this.conns.map(() => 0);
  }

  async round(burst: number, timeoutMs: number): Promise<Round> {
    for (let i = 0; i < this.gens.length; i++) this.expected[i] += this.conns[i] * burst;
    const waits = this.gens.map((g, i) =>
      g.request("wait", { total: this.expected[i], timeoutMs }, timeoutMs + 10_000)
    );
    const p = await this.pub.request("publish", { count: burst, topic: this.topic }, timeoutMs);
    const w = await Promise.all(waits);
    const deliveredPerGen = w.map((r, i) => (r.count as number) - this.delivered[i]);
    this.delivered = w.map((r) => r.count as number);
    const endUs = Math.max(...w.map((r) => r.lastRecvUs as number));
    return {
      startUs: p.startUs as number,
      endUs: Math.max(endUs, p.startUs as number),
      delivered: deliveredPerGen.reduce((a, b) => a + b, 0),
      deliveredPerGen,
      reached: w.every((r) => r.reached === true),
    };
  }

  /** Frames that were not events, since the last reset. */
  other = 0;

  /** Latency samples (µs) since the last reset, per generator process. */
  async samplesPerGen(): Promise<number[][]> {
    const stats = await Promise.all(this.gens.map((g) => g.request("stats", { maxSamples: 20_000 })));
    this.other = stats.reduce((a, s) => a + (s.other as number), 0);
    return stats.map((s) => s.samples as number[]);
  }

  async samples(): Promise<number[]> {
    return (await this.samplesPerGen()).flat();
  }
}

/** Settings of the fan-out phases. */
export interface FanoutOptions {
  /** Events per burst round: each round publishes max(1, round(eventsPerRound / N)) messages. */
  eventsPerRound: number;
  warmupMs: number;
  /** Measured time (sum of round times) of each trial. */
  measureMs: number;
  /** Trials; the best counts (see {@link bestOf}). */
  trials: number;
  /** Longest wait for a quiet machine before each trial. */
  quietWaitMs: number;
  /** Most spaced-out messages for the light-load latency (0: skip). */
  pacedMessages: number;
  /** Time budget of the light-load phase. */
  pacedBudgetMs: number;
  /** Target duration of one burst round (many topics, which adapts its bursts). */
  roundMs: number;
}

/** What {@link measureFanout} adds for a measurement over several servers (a cluster's nodes). */
export interface PerGenerator {
  /** Events each generator process received in the best trial. */
  events: number[];
  /** Loaded publish → receive latency at each generator process (ms). */
  loadedLatencyMs: Percentiles[];
  /** Light-load latency at each generator process (ms). */
  pacedLatencyMs: (Percentiles | null)[];
  /** Every trial's CPU and events (for figures too coarse in one trial: 10 ms ticks). */
  trials: { cpu: Record<string, number>; events: number }[];
}

/**
 * Burst rounds at saturation, then (optionally) spaced-out messages. `groups`
 * adds CPU groups to the server's, generators' and publisher's (the nodes of a
 * cluster, the broker); `perGen` receives each generator process's share.
 */
export async function measureFanout(
  server: Server,
  driver: FanoutDriver,
  genPids: number[],
  pubPid: number,
  o: FanoutOptions,
  groups: Record<string, number[]> = {},
  perGen?: (p: PerGenerator) => void,
): Promise<Omit<FanoutRow, "server" | "label" | "n" | "subscribed" | "connectFailed" | "connectSeconds">> {
  const n = driver.conns.reduce((a, b) => a + b, 0);
  // Long enough for a slow server, short enough that one that stalls does not eat the run.
  let roundTimeout = 20_000;
  // The same burst for every server at a given N: the workload must not depend on the server
  // (a server that coalesces writes gains from bigger bursts).
  const burst = Math.max(1, Math.round(o.eventsPerRound / n));
  let rate = 0;
  // Warm-up (the JIT, the servers' buffers): unmeasured.
  await driver.reset(64);
  const warmEnd = performance.now() + o.warmupMs;
  for (let i = 0; i < 50 && performance.now() < warmEnd; i++) {
    const r = await driver.round(burst, roundTimeout);
    const s = (r.endUs - r.startUs) / 1e6;
    if (!r.reached) break;
    rate = s > 0 ? r.delivered / s : rate;
    roundTimeout = Math.max(5_000, Math.min(20_000, 20_000 * s));
  }
  // Measured trials, each a series of rounds; the best trial counts.
  const expectedEvents = Math.max(1, (rate * o.measureMs * o.trials) / 1000);
  await driver.reset(Math.max(1, Math.round(expectedEvents / 40_000)));
  const trials: (Trial & { rounds: number; perGen: number[] })[] = [];
  let complete = true;
  for (let t = 0; t < o.trials && complete; t++) {
    const busyBefore = await awaitQuiet(o.quietWaitMs);
    const meters = new Meters({
      server: server.pids(),
      ...groups,
      generators: genPids,
      publisher: [pubPid],
    });
    let seconds = 0;
    let events = 0;
    let rounds = 0;
    const perGenEvents = driver.gens.map(() => 0);
    const phaseEnd = performance.now() + o.measureMs * 3;
    while (seconds * 1000 < o.measureMs && rounds < 200 && performance.now() < phaseEnd) {
      const r = await driver.round(burst, roundTimeout);
      const s = (r.endUs - r.startUs) / 1e6;
      seconds += s;
      events += r.delivered;
      r.deliveredPerGen.forEach((d, i) => perGenEvents[i] += d);
      rounds++;
      if (!r.reached) {
        complete = false;
        break;
      }
    }
    const cpu = meters.read();
    trials.push({
      rate: seconds > 0 ? events / seconds : 0,
      seconds,
      count: events,
      cpu,
      busyBefore,
      rounds,
      perGen: perGenEvents,
    });
  }
  const { best, median } = bestOf(trials);
  const { seconds, count: events, cpu } = best;
  const serverRssMiB = mib(rssKiB(server.pids()));
  const loadedPerGen = await driver.samplesPerGen();
  const loaded = toMs(percentiles(loadedPerGen.flat()));
  const otherFrames = driver.other;
  const eventsPerSec = best.rate;
  // Light load: one message at a time, spaced so each fan-out can finish first.
  let paced: Percentiles | null = null;
  let pacedPerGen: (Percentiles | null)[] = driver.gens.map(() => null);
  let pacedIntervalMs = 0;
  let pacedMessages = 0;
  if (o.pacedMessages > 0 && eventsPerSec > 0 && complete) {
    // One message alone first: how long one fan-out takes without any batching.
    await driver.reset(64);
    const probe = await driver.round(1, roundTimeout);
    const oneMs = (probe.endUs - probe.startUs) / 1000;
    pacedIntervalMs = Math.round(Math.min(1000, Math.max(20, 2 * oneMs)));
    pacedMessages = Math.max(3, Math.min(o.pacedMessages, Math.floor(o.pacedBudgetMs / pacedIntervalMs)));
    await driver.reset(Math.max(1, Math.floor((pacedMessages * n) / 40_000)));
    await awaitQuiet(o.quietWaitMs);
    const waits = driver.gens.map((g, i) =>
      g.request("wait", { total: driver.conns[i] * pacedMessages, timeoutMs: 30_000 }, 40_000)
    );
    await driver.pub.request("pace", {
      count: pacedMessages,
      intervalMs: pacedIntervalMs,
      topic: driver.topic,
    }, 60_000);
    await Promise.all(waits);
    const samples = await driver.samplesPerGen();
    paced = toMs(percentiles(samples.flat()));
    pacedPerGen = samples.map((x) => toMs(percentiles(x)));
  }
  perGen?.({
    events: (best as Trial & { perGen: number[] }).perGen,
    loadedLatencyMs: loadedPerGen.map((x) => toMs(percentiles(x))),
    pacedLatencyMs: pacedPerGen,
    trials: trials.map((t) => ({ cpu: t.cpu, events: t.count })),
  });
  return {
    rounds: trials.reduce((a, t) => a + t.rounds, 0),
    burst,
    events,
    seconds: Math.round(seconds * 1000) / 1000,
    eventsPerSec: Math.round(eventsPerSec),
    medianEventsPerSec: Math.round(median),
    trials: trials.map((t) => Math.round(t.rate)),
    complete,
    loadedLatencyMs: loaded,
    pacedLatencyMs: paced,
    pacedIntervalMs,
    pacedMessages,
    cpu,
    serverCpuUsPerEvent: cpuUsPer(cpu, "server", events),
    serverRssMiB,
    otherFrames,
  };
}

/** The next burst of an adaptive round: sized so that a round lasts about `roundMs`. */
export function nextBurst(burst: number, seconds: number, roundMs: number): number {
  if (seconds <= 0) return Math.min(burst * 2, 2000);
  const scaled = Math.round((burst * roundMs) / (seconds * 1000));
  return Math.max(1, Math.min(2000, scaled, burst * 4));
}

/**
 * Opens `want` sessions across the generators (adding to those already open), to
 * one endpoint, or to one endpoint per generator process.
 */
export async function connectSubscribers(
  gens: Child[],
  conns: number[],
  want: number,
  endpoint: Endpoint | Endpoint[],
  topics: string[],
  perSessionPrefix?: string,
): Promise<{ failed: number; seconds: number; firstError?: string }> {
  const t0 = performance.now();
  const share = gens.map((_, i) => Math.floor(want / gens.length) + (i < want % gens.length ? 1 : 0));
  const answers = await Promise.all(gens.map((g, i) => {
    const add = share[i] - conns[i];
    if (add <= 0) return Promise.resolve({ opened: 0, failed: 0 } as Record<string, unknown>);
    return g.request("subscribe", {
      endpoint: Array.isArray(endpoint) ? endpoint[i] : endpoint,
      count: add,
      offset: conns[i] + gens.slice(0, i).reduce((a, _, j) => a + share[j], 0),
      topics,
      perSessionPrefix,
      concurrency: 64,
    }, 300_000);
  }));
  let failed = 0;
  let firstError: string | undefined;
  answers.forEach((a, i) => {
    conns[i] += a.opened as number;
    failed += a.failed as number;
    firstError ??= a.firstError as string | undefined;
  });
  return { failed, seconds: (performance.now() - t0) / 1000, firstError };
}

/**
 * Fan-out to each N in turn on one server (subscribers are added between steps).
 * Stops escalating when a server cannot deliver a burst in time at some N, or
 * when the next step would not fit in `budgetMs`. With `serializer`, the
 * publisher and every subscriber speak WAMP in that serializer.
 */
export async function fanout(
  ctx: Context,
  server: Server,
  ns: number[],
  o: FanoutOptions,
  budgetMs = Infinity,
  serializer?: WampSerializer,
): Promise<FanoutRow[]> {
  const started = performance.now();
  const endpoint: Endpoint = serializer === undefined ? server.endpoint : { ...server.endpoint, serializer };
  const tag = serializer === undefined ? server.id : `${server.id}-${serializer}`;
  const label = serializer === undefined ? server.label : `${server.label} (wamp.2.${serializer})`;
  const gens = [spawnGenerator(`${tag}-fanout-sub1`), spawnGenerator(`${tag}-fanout-sub2`)];
  const pub = spawnGenerator(`${tag}-fanout-pub`);
  const rows: FanoutRow[] = [];
  try {
    await pub.request("publisher", { endpoint }, 30_000);
    const conns = [0, 0];
    const driver = new FanoutDriver(gens, pub, conns, server.topic);
    let connectRate = Infinity; // sessions per second, from the previous step
    let stepMs = 0;
    for (const n of ns) {
      const subscribed0 = conns[0] + conns[1];
      const estimateMs = ((n - subscribed0) / connectRate) * 1000 + stepMs;
      if (timeLeft(ctx) < 20_000 || performance.now() - started + estimateMs > budgetMs) {
        ctx.notes.push(`fan-out ${label} N=${n} skipped: it would not fit in the time budget`);
        break;
      }
      const stepStart = performance.now();
      const c = await connectSubscribers(gens, conns, n, endpoint, [server.topic]);
      if (c.failed > 0) {
        ctx.notes.push(
          `fan-out ${label} N=${n}: ${c.failed} of ${n} sessions failed to subscribe (${c.firstError})`,
        );
      }
      const subscribed = conns[0] + conns[1];
      connectRate = (subscribed - subscribed0) / Math.max(0.1, c.seconds);
      ctx.log(`  ${label}: ${subscribed} subscribed in ${c.seconds.toFixed(1)} s`);
      if (subscribed === 0) {
        throw new Error(`no subscriber could connect to ${label}: ${c.firstError}`);
      }
      const m = await measureFanout(server, driver, gens.map((g) => g.pid), pub.pid, o);
      rows.push({
        server: server.id,
        label,
        ...(serializer === undefined ? {} : { serializer }),
        n,
        subscribed,
        connectFailed: c.failed,
        connectSeconds: Math.round(c.seconds * 10) / 10,
        ...m,
      });
      stepMs = performance.now() - stepStart - c.seconds * 1000;
      if (!m.complete) {
        ctx.notes.push(
          `fan-out ${label} N=${n}: a burst was not delivered to every subscriber within the round ` +
            `time-out (${m.rounds} rounds done): the rate counts what arrived, the light-load phase was skipped`,
        );
      }
      if (m.otherFrames > 0) {
        ctx.notes.push(`fan-out ${label} N=${n}: ${m.otherFrames} frames were not events`);
      }
      ctx.log(
        `  ${label} N=${n}: ${m.eventsPerSec} events/s, loaded p99 ${m.loadedLatencyMs.p99} ms, ` +
          `paced p99 ${
            m.pacedLatencyMs?.p99 ?? "-"
          } ms, server CPU ${m.cpu.server}%, generators ${m.cpu.generators}%`,
      );
    }
  } finally {
    await Promise.all([...gens, pub].map((g) => g.kill()));
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Many topics

/** Many topics: each session on its own topic and on one shared topic, mixed publishing. */
export interface ManyTopicsRow {
  server: string;
  sessions: number;
  connectSeconds: number;
  connectFailed: number;
  /** Individual publishes per shared publish. */
  mix: string;
  publishes: number;
  events: number;
  seconds: number;
  publishesPerSec: number;
  /** The best trial's events per second. */
  eventsPerSec: number;
  /** Every trial's events per second. */
  trials: number[];
  complete: boolean;
  loadedLatencyMs: Percentiles;
  cpu: Record<string, number>;
  /** Server CPU time per delivered event in the best trial, in µs. */
  serverCpuUsPerEvent: number;
  serverRssMiB: number;
  /** Server RSS growth per session (two subscriptions each), from before the sessions. */
  rssPerSessionKiB: number;
}

/** Scenario 2 on Tuerca. */
export async function manyTopics(
  ctx: Context,
  server: Server,
  sessions: number,
  o: FanoutOptions,
): Promise<ManyTopicsRow> {
  const { measureMs, roundMs } = o;
  const gens = [spawnGenerator("tuerca-topics-sub1"), spawnGenerator("tuerca-topics-sub2")];
  const pub = spawnGenerator("tuerca-topics-pub");
  try {
    await server.mem?.();
    const rss0 = rssKiB(server.pids());
    await pub.request("publisher", { endpoint: server.endpoint }, 30_000);
    const conns = [0, 0];
    const c = await connectSubscribers(gens, conns, sessions, server.endpoint, ["bench.all"], "bench.u.");
    if (c.failed > 0) ctx.notes.push(`many topics: ${c.failed} sessions failed (${c.firstError})`);
    const n = conns[0] + conns[1];
    await server.mem?.();
    const rssSubscribed = rssKiB(server.pids());
    const ranges: [number, number][] = [[0, conns[0]], [conns[0], n]];
    const ratio = 1000;
    let expected = [0, 0];
    let delivered = 0;
    const reset = async (sampleEvery: number) => {
      await Promise.all(gens.map((g) => g.request("reset", { sampleEvery })));
      expected = [0, 0];
      delivered = 0;
    };
    const round = async (
      individual: number,
    ): Promise<Omit<Round, "deliveredPerGen"> & { publishes: number }> => {
      const shared = Math.max(1, Math.round(individual / ratio));
      const p = await pub.request("mix", {
        individual,
        shared,
        prefix: "bench.u.",
        sessions: n,
        ranges,
        sharedTopic: "bench.all",
      }, 30_000);
      const perRange = p.perRange as number[];
      expected = expected.map((e, i) => e + perRange[i] + shared * conns[i]);
      const w = await Promise.all(
        gens.map((g, i) => g.request("wait", { total: expected[i], timeoutMs: 20_000 }, 30_000)),
      );
      const total = w.reduce((a, r) => a + (r.count as number), 0);
      const d = total - delivered;
      delivered = total;
      return {
        startUs: p.startUs as number,
        endUs: Math.max(p.startUs as number, ...w.map((r) => r.lastRecvUs as number)),
        delivered: d,
        reached: w.every((r) => r.reached === true),
        publishes: individual + shared,
      };
    };
    let individual = 2000;
    await reset(64);
    for (let i = 0; i < 5; i++) {
      const r = await round(individual);
      if (!r.reached) break;
      individual = Math.max(
        100,
        Math.min(50_000, nextBurst(individual, (r.endUs - r.startUs) / 1e6, roundMs)),
      );
    }
    await reset(16);
    const trials: (Trial & { publishes: number })[] = [];
    let complete = true;
    for (let t = 0; t < o.trials && complete; t++) {
      const busyBefore = await awaitQuiet(o.quietWaitMs);
      const meters = new Meters({
        server: server.pids(),
        generators: gens.map((g) => g.pid),
        publisher: [pub.pid],
      });
      let seconds = 0;
      let events = 0;
      let publishes = 0;
      const phaseEnd = performance.now() + measureMs * 3;
      for (let i = 0; i < 200 && seconds * 1000 < measureMs && performance.now() < phaseEnd; i++) {
        const r = await round(individual);
        const s = (r.endUs - r.startUs) / 1e6;
        seconds += s;
        events += r.delivered;
        publishes += r.publishes;
        if (!r.reached) {
          complete = false;
          break;
        }
        individual = Math.max(100, Math.min(50_000, nextBurst(individual, s, roundMs)));
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
    const { best } = bestOf(trials);
    const { seconds, count: events, cpu } = best;
    const publishes = (best as Trial & { publishes: number }).publishes;
    const stats = await Promise.all(gens.map((g) => g.request("stats", { maxSamples: 20_000 })));
    return {
      server: server.id,
      sessions: n,
      connectSeconds: Math.round(c.seconds * 10) / 10,
      connectFailed: c.failed,
      mix: `${ratio} individual : 1 shared`,
      publishes,
      events,
      seconds: Math.round(seconds * 1000) / 1000,
      publishesPerSec: Math.round(publishes / seconds),
      eventsPerSec: Math.round(events / seconds),
      trials: trials.map((t) => Math.round(t.rate)),
      complete,
      loadedLatencyMs: toMs(percentiles(stats.flatMap((s) => s.samples as number[]))),
      cpu,
      serverCpuUsPerEvent: cpuUsPer(cpu, "server", events),
      serverRssMiB: mib(rssKiB(server.pids())),
      rssPerSessionKiB: Math.round((10 * (rssSubscribed - rss0)) / n) / 10,
    };
  } finally {
    await Promise.all([...gens, pub].map((g) => g.kill()));
  }
}

// ---------------------------------------------------------------------------
// RPC

/** Calls in flight → calls per second and round trip. */
export interface RpcRow {
  server: string;
  label: string;
  /** The WAMP serializer of the caller and the callee, for the per-serializer rows. */
  serializer?: WampSerializer;
  k: number;
  calls: number;
  errors: number;
  seconds: number;
  /** The best trial's rate. */
  callsPerSec: number;
  /** Every trial's calls per second. */
  trials: number[];
  /** Round trips of the best trial. */
  rttMs: Percentiles;
  cpu: Record<string, number>;
  /** Server CPU time per call (warm-up calls included in the CPU, not in the count: an upper bound), µs. */
  serverCpuUsPerCall: number;
}

/**
 * Scenario 3 for one server and callee kind, at each K. With `serializer`, the
 * caller and the network callee speak WAMP in that serializer.
 */
export async function rpc(
  ctx: Context,
  server: Server,
  label: string,
  callee: "network" | "none",
  procedure: string,
  argsJson: string | undefined,
  ks: number[],
  durationMs: number,
  trials: number,
  quietWaitMs: number,
  serializer?: WampSerializer,
): Promise<RpcRow[]> {
  const endpoint: Endpoint = serializer === undefined ? server.endpoint : { ...server.endpoint, serializer };
  const tag = serializer === undefined ? server.id : `${server.id}-${serializer}`;
  const callerGen = spawnGenerator(`${tag}-rpc-caller`);
  const calleeGen = callee === "network" ? spawnGenerator(`${tag}-rpc-callee`) : null;
  const rows: RpcRow[] = [];
  try {
    if (calleeGen) await calleeGen.request("callee", { endpoint, procedure }, 30_000);
    await callerGen.request("caller", { endpoint }, 30_000);
    // Warm-up.
    await callerGen.request("call", { k: 10, durationMs: 300, warmupMs: 700, procedure, argsJson }, 30_000);
    for (const k of ks) {
      if (timeLeft(ctx) < 10_000) {
        ctx.notes.push(`RPC ${label} K=${k} skipped: out of time`);
        break;
      }
      const groups: Record<string, number[]> = { server: server.pids(), caller: [callerGen.pid] };
      if (calleeGen) groups.callee = [calleeGen.pid];
      const runs: (Trial & { answer: Record<string, unknown> })[] = [];
      for (let t = 0; t < trials; t++) {
        const busyBefore = await awaitQuiet(quietWaitMs);
        // The meter covers warm-up and drain too; both are short next to the measured time.
        const meters = new Meters(groups);
        const r = await callerGen.request(
          "call",
          { k, durationMs: durationMs / trials, warmupMs: 200, procedure, argsJson },
          60_000,
        );
        const cpu = meters.read();
        const seconds = (r.elapsedUs as number) / 1e6;
        const count = r.calls as number;
        runs.push({ rate: count / seconds, seconds, count, cpu, busyBefore, answer: r });
      }
      const { best } = bestOf(runs);
      const r = (best as Trial & { answer: Record<string, unknown> }).answer;
      const row: RpcRow = {
        server: server.id,
        label,
        ...(serializer === undefined ? {} : { serializer }),
        k,
        calls: best.count,
        errors: r.errors as number,
        seconds: Math.round(best.seconds * 1000) / 1000,
        callsPerSec: Math.round(best.rate),
        trials: runs.map((t) => Math.round(t.rate)),
        rttMs: toMs(r.rttUs as Percentiles),
        cpu: best.cpu,
        serverCpuUsPerCall: cpuUsPer(best.cpu, "server", best.count),
      };
      if (row.errors > 0) ctx.notes.push(`RPC ${label} K=${k}: ${row.errors} calls answered with ERROR`);
      rows.push(row);
      ctx.log(
        `  ${label} K=${k}: ${row.callsPerSec} calls/s, p99 ${row.rttMs.p99} ms, server CPU ${row.cpu.server}%`,
      );
    }
  } finally {
    await Promise.all([callerGen, calleeGen].map((g) => g?.kill()));
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Queue

/** Messages from a RabbitMQ queue to one consumer. */
export interface QueueRow {
  consumer: string;
  label: string;
  messages: number;
  received: number;
  seconds: number;
  messagesPerSec: number;
  /** Send → receive while the queue is drained as fast as possible. */
  loadedLatencyMs: Percentiles;
  pacedRate: number;
  pacedMessages: number;
  pacedReceived: number;
  /** Send → receive at `pacedRate` messages per second. */
  pacedLatencyMs: Percentiles;
  cpu: Record<string, number>;
  /** Consumer CPU time per message while draining, µs. */
  consumerCpuUsPerMessage: number;
  /**
   * Pre-filled drain: `messages` put on the queue while the consumer was not
   * consuming, then drained with no producer competing; messages received.
   */
  prefilledReceived?: number;
  /** Pre-filled drain: seconds from the start of consumption (connect and subscribe) to the last receive. */
  prefilledSeconds?: number;
  /** Pre-filled drain: messages ÷ {@link QueueRow.prefilledSeconds}. */
  prefilledMessagesPerSec?: number;
  /** Pre-filled drain: CPU use over it (percent of one core per group). */
  prefilledCpu?: Record<string, number>;
  /** Pre-filled drain: consumer CPU time per message, µs. */
  prefilledConsumerCpuUsPerMessage?: number;
}

/** What consumes the queue in one row of scenario 4. */
export interface QueueConsumer {
  id: string;
  label: string;
  /** Receives and counts (a WAMP tab, or the bare consumer itself). */
  receiver: Child;
  /** Processes whose CPU counts as the consumer's (Tuerca's server, or the bare consumer). */
  pids: number[];
  /** Stops consuming (unacked messages go back to the queue). */
  pause(): Promise<void>;
  /** Starts consuming again; resolves once subscribed, with the time (µs, {@link nowUs} clock) it was asked to. */
  resume(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Scenario 4 for one consumer: a drain of `messages` while they are sent, then
 * `seconds` at `rate` per second, then a pre-filled drain: with the consumer
 * paused, `messages` are put on the queue, and then consumed with no producer
 * competing for the cores.
 */
export async function queueRun(
  ctx: Context,
  rabbit: Rabbit,
  sender: Child,
  consumer: QueueConsumer,
  queue: string,
  cat: string,
  messages: number,
  rate: number,
  pacedSeconds: number,
  quietWaitMs: number,
): Promise<QueueRow> {
  const url = rabbit.amqpUrl;
  const recv = consumer.receiver;
  const phase = async (count: number, sendRate: number, sampleEvery: number) => {
    await recv.request("reset", { sampleEvery });
    const w = recv.request("wait", { total: count, timeoutMs: 60_000 }, 70_000);
    const s = await sender.request("amqpSend", { url, queue, cat, count, rate: sendRate }, 120_000);
    const r = await w;
    const st = await recv.request("stats", { maxSamples: 50_000 });
    return {
      received: r.count as number,
      seconds: ((r.lastRecvUs as number) - (s.startUs as number)) / 1e6,
      latency: toMs(percentiles(st.samples as number[])),
    };
  };
  // Warm-up.
  await phase(Math.min(1000, messages), 0, 16);
  await awaitQuiet(quietWaitMs);
  const meters = new Meters({ consumer: consumer.pids, rabbitmq: rabbit.pids(), sender: [sender.pid] });
  const drain = await phase(messages, 0, Math.max(1, Math.round(messages / 20_000)));
  const cpu = meters.read();
  const pacedCount = Math.round(rate * pacedSeconds);
  await awaitQuiet(quietWaitMs);
  const paced = await phase(pacedCount, rate, 1);
  const prefilled = await prefilledDrain(ctx, rabbit, sender, consumer, queue, cat, messages, quietWaitMs);
  const row: QueueRow = {
    consumer: consumer.id,
    label: consumer.label,
    messages,
    received: drain.received,
    seconds: Math.round(drain.seconds * 1000) / 1000,
    messagesPerSec: Math.round(drain.received / drain.seconds),
    loadedLatencyMs: drain.latency,
    pacedRate: rate,
    pacedMessages: pacedCount,
    pacedReceived: paced.received,
    pacedLatencyMs: paced.latency,
    cpu,
    consumerCpuUsPerMessage: cpuUsPer(cpu, "consumer", drain.received),
    ...prefilled,
  };
  if (drain.received < messages || paced.received < pacedCount) {
    ctx.notes.push(
      `queue ${consumer.label}: received ${drain.received}/${messages} and ${paced.received}/${pacedCount}`,
    );
  }
  ctx.log(
    `  ${consumer.label}: ${row.messagesPerSec} msg/s, p99 at ${rate}/s ${row.pacedLatencyMs.p99} ms, ` +
      `pre-filled ${row.prefilledMessagesPerSec ?? "–"} msg/s`,
  );
  return row;
}

/** The pre-filled drain of {@link queueRun}; leaves the consumer consuming. Failures become a note. */
async function prefilledDrain(
  ctx: Context,
  rabbit: Rabbit,
  sender: Child,
  consumer: QueueConsumer,
  queue: string,
  cat: string,
  messages: number,
  quietWaitMs: number,
): Promise<Partial<QueueRow>> {
  const url = rabbit.amqpUrl;
  const recv = consumer.receiver;
  let paused = false;
  try {
    await consumer.pause();
    paused = true;
    await sender.request("amqpSend", { url, queue, cat, count: messages, rate: 0 }, 120_000);
    const depth = await sender.request(
      "amqpAwaitDepth",
      { url, queue, count: messages, timeoutMs: 30_000 },
      40_000,
    );
    if (depth.reached !== true) {
      ctx.notes.push(`queue ${consumer.label}: pre-filled only ${depth.depth}/${messages}`);
    }
    // RabbitMQ may still be writing the persistent messages; let it finish.
    await awaitQuiet(Math.max(quietWaitMs, 3000));
    await recv.request("reset", { sampleEvery: Math.max(1, Math.round(messages / 20_000)) });
    const meters = new Meters({ consumer: consumer.pids, rabbitmq: rabbit.pids(), sender: [sender.pid] });
    const w = recv.request("wait", { total: messages, timeoutMs: 60_000 }, 70_000);
    const startUs = await consumer.resume();
    paused = false;
    const r = await w;
    const cpu = meters.read();
    const received = r.count as number;
    const seconds = ((r.lastRecvUs as number) - startUs) / 1e6;
    if (received < messages) {
      ctx.notes.push(`queue ${consumer.label}: pre-filled drain received ${received}/${messages}`);
    }
    return {
      prefilledReceived: received,
      prefilledSeconds: Math.round(seconds * 1000) / 1000,
      prefilledMessagesPerSec: seconds > 0 ? Math.round(received / seconds) : undefined,
      prefilledCpu: cpu,
      prefilledConsumerCpuUsPerMessage: cpuUsPer(cpu, "consumer", received),
    };
  } catch (e) {
    ctx.notes.push(`queue ${consumer.label}: pre-filled drain failed: ${e instanceof Error ? e.message : e}`);
    if (paused) await consumer.resume().catch(() => {});
    return {};
  }
}

// ---------------------------------------------------------------------------
// Idle cost

/** Memory per connected, subscribed session. */
export interface IdleRow {
  server: string;
  label: string;
  sessions: number;
  failed: number;
  rssBaseMiB: number;
  rssMiB: number;
  rssPerSessionKiB: number;
  heapUsedBaseMiB: number;
  heapUsedMiB: number;
  heapPerSessionKiB: number;
  /** V8 `external` memory (ArrayBuffers and the like) per session. */
  externalPerSessionKiB: number;
  connectSeconds: number;
}

/** Scenario 5: RSS before and after N sessions (each subscribed to one shared topic). */
export async function idle(ctx: Context, server: Server, ns: number[]): Promise<IdleRow[]> {
  const gens = [spawnGenerator(`${server.id}-idle-1`), spawnGenerator(`${server.id}-idle-2`)];
  const rows: IdleRow[] = [];
  try {
    await gens[0].request("reset", {});
    await sleep(500);
    const mem0 = await server.mem!();
    const rss0 = rssKiB(server.pids());
    const conns = [0, 0];
    for (const n of ns) {
      if (timeLeft(ctx) < 15_000) {
        ctx.notes.push(`idle ${server.label} N=${n} skipped: out of time`);
        break;
      }
      const c = await connectSubscribers(gens, conns, n, server.endpoint, ["bench.idle"]);
      if (c.failed > 0) ctx.notes.push(`idle ${server.label} N=${n}: ${c.failed} failed (${c.firstError})`);
      const sessions = conns[0] + conns[1];
      await sleep(1000);
      const mem = await server.mem!();
      const rss = rssKiB(server.pids());
      const per = (x: number) => Math.round((10 * x) / sessions) / 10;
      rows.push({
        server: server.id,
        label: server.label,
        sessions,
        failed: c.failed,
        rssBaseMiB: mib(rss0),
        rssMiB: mib(rss),
        rssPerSessionKiB: per(rss - rss0),
        heapUsedBaseMiB: mib(mem0.heapUsed / 1024),
        heapUsedMiB: mib(mem.heapUsed / 1024),
        heapPerSessionKiB: per((mem.heapUsed - mem0.heapUsed) / 1024),
        externalPerSessionKiB: per((mem.external - mem0.external) / 1024),
        connectSeconds: Math.round(c.seconds * 10) / 10,
      });
      ctx.log(`  ${server.label}: ${sessions} sessions, ${per(rss - rss0)} KiB RSS per session`);
    }
  } finally {
    await Promise.all(gens.map((g) => g.kill()));
  }
  return rows;
}
