/**
 * `deno task bench`: Tuerca side by side with the limit of its runtime (a bare
 * Deno.serve WebSocket server), Mosquitto and RabbitMQ Web-STOMP, in one run on
 * this machine, over loopback only. Writes BENCHMARKS.md and bench/results.json
 * (with `--quick`: .bench/BENCHMARKS.quick.md and .bench/results.quick.json).
 *
 * ```sh
 * deno task bench            # full run, under 10 minutes on 2 cores
 * deno task bench --quick    # smaller N, shorter phases, no profile: under 2 minutes
 * deno task bench --only fanout,rpc
 * deno task bench --only serializers   # fan-out and RPC per WAMP serializer
 * deno task bench --only cluster       # two nodes through a private RabbitMQ node
 * deno task bench --report   # rewrite BENCHMARKS.md from bench/results.json
 * ```
 *
 * Every server and generator is a child process; all are killed in `finally`.
 * Every loop is bounded in count and time, and the run stops starting new
 * scenarios when its time budget is spent.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Child, killAll } from "./lib/child.ts";
import { CLK_TCK, loadAverage, machineInfo, treeTicks } from "./lib/procfs.ts";
import { verdicts, writeReport } from "./lib/report.ts";
import type { Plan, Results, SerializerResults } from "./lib/results.ts";
import {
  type Rabbit,
  type Server,
  startBare,
  startMosquitto,
  startRabbit,
  startTuerca,
} from "./lib/servers.ts";
import { WAMP_SERIALIZERS } from "./lib/protocols.ts";
import {
  clusterFanout,
  clusterLatency,
  type ClusterPlan,
  type ClusterResults,
  clusterTopics,
  withNodes,
} from "./cluster.ts";
import { summariseProfile } from "./profile.ts";
import {
  type Context,
  fanout,
  type FanoutRow,
  idle,
  manyTopics,
  type QueueRow,
  queueRun,
  rpc,
  type RpcRow,
  spawnGenerator,
  timeLeft,
} from "./scenarios.ts";

const FULL: Plan = {
  fanoutNs: [1000, 5000, 10000],
  fanout: {
    eventsPerRound: 50_000,
    warmupMs: 1500,
    measureMs: 1200,
    trials: 4,
    quietWaitMs: 2000,
    pacedMessages: 20,
    pacedBudgetMs: 3000,
    roundMs: 300,
  },
  manyTopicsSessions: 10000,
  manyTopicsMs: 1200,
  rpcKs: [1, 10, 100],
  rpcMs: 3000,
  rpcTrials: 3,
  queueMessages: 20000,
  queueRate: 1000,
  queuePacedSeconds: 3,
  // The open-files hard limit (20,000 here) caps one server process below 20,000 sockets.
  idleNs: [10000, 19000],
  // N = 1,000 only: with 10,000 too a full run took about 555 s of its 570 s budget (the last
  // serializer steps would be skipped on a slower run); at 10,000 the serializers were within 4% of JSON.
  serializerFanoutNs: [1000],
  serializerRpcKs: [10, 100],
  profileN: 10000,
  rabbitFanoutBudgetMs: 260_000,
  cluster: {
    ns: [1000, 5000, 10000],
    fanout: {
      eventsPerRound: 50_000,
      warmupMs: 1500,
      measureMs: 1200,
      trials: 4,
      quietWaitMs: 2000,
      pacedMessages: 20,
      pacedBudgetMs: 3000,
      roundMs: 300,
    },
    latencyMessages: 500,
    topicsSessions: 10000,
    topicsMs: 1200,
    trafficRounds: 10,
  },
  clusterFanoutBudgetMs: 120_000,
  budgetMs: 570_000,
};

const QUICK: Plan = {
  fanoutNs: [1000],
  fanout: {
    eventsPerRound: 30_000,
    warmupMs: 700,
    measureMs: 600,
    trials: 2,
    quietWaitMs: 300,
    pacedMessages: 8,
    pacedBudgetMs: 1000,
    roundMs: 200,
  },
  manyTopicsSessions: 2000,
  manyTopicsMs: 600,
  rpcKs: [100],
  rpcMs: 1500,
  rpcTrials: 2,
  queueMessages: 3000,
  queueRate: 1000,
  queuePacedSeconds: 1,
  idleNs: [2000],
  serializerFanoutNs: [1000],
  serializerRpcKs: [100],
  profileN: 0,
  rabbitFanoutBudgetMs: 25_000,
  cluster: {
    ns: [1000],
    fanout: {
      eventsPerRound: 30_000,
      warmupMs: 700,
      measureMs: 600,
      trials: 2,
      quietWaitMs: 300,
      pacedMessages: 8,
      pacedBudgetMs: 1000,
      roundMs: 200,
    },
    latencyMessages: 200,
    topicsSessions: 2000,
    topicsMs: 600,
    trafficRounds: 6,
  },
  clusterFanoutBudgetMs: 25_000,
  budgetMs: 112_000,
};

const SCENARIOS = ["fanout", "topics", "rpc", "queue", "idle", "serializers", "cluster", "profile"] as const;
type Scenario = typeof SCENARIOS[number];

const USAGE = `Usage: deno task bench [--quick] [--only LIST] [--no-profile] [--report]

  --quick        smaller N and shorter phases (under 2 minutes)
  --only LIST    comma-separated subset of: ${SCENARIOS.join(", ")}
  --no-profile   skip the --cpu-prof pass
  --report       only rewrite the report from the results file

A full run of everything writes BENCHMARKS.md and bench/results.json; --quick,
--only and --no-profile write .bench/BENCHMARKS.<quick|partial>.md and
.bench/results.<quick|partial>.json instead.
  -h, --help     this help`;

const ROOT = new URL("../", import.meta.url);

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        quick: { type: "boolean" },
        only: { type: "string" },
        "no-profile": { type: "boolean" },
        report: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick === true;
  // Only a full run of everything replaces the committed report; the others write to .bench/.
  const partial = values.only !== undefined || values["no-profile"] === true;
  const suffix = quick ? "quick" : partial ? "partial" : "";
  const resultsPath = suffix ? `.bench/results.${suffix}.json` : "bench/results.json";
  const resultsFile = new URL(resultsPath, ROOT);
  const reportFile = new URL(suffix ? `.bench/BENCHMARKS.${suffix}.md` : "BENCHMARKS.md", ROOT);
  if (values.report) {
    const results = JSON.parse(Deno.readTextFileSync(resultsFile)) as Results;
    await writeReport(results, reportFile);
    console.log(`wrote ${reportFile.pathname}`);
    return 0;
  }
  const only = values.only?.split(",").map((s) => s.trim()) as Scenario[] | undefined;
  for (const s of only ?? []) {
    if (!SCENARIOS.includes(s)) {
      console.error(`unknown scenario ${s}\n\n${USAGE}`);
      return 2;
    }
  }
  const want = (s: Scenario) =>
    (only === undefined || only.includes(s)) && !(s === "profile" && values["no-profile"]);
  const plan = quick ? QUICK : FULL;
  const t0 = performance.now();
  const ctx: Context = {
    quick,
    deadline: t0 + plan.budgetMs,
    notes: [],
    log: (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${line}`),
  };
  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      command: ["deno task bench", ...Deno.args].join(" "),
      mode: quick ? "quick" : "full",
      machine: await machineInfo(),
      seconds: 0,
      resultsFile: resultsPath,
      loadAverageStart: loadAverage(),
      loadAverageEnd: 0,
      plan,
    },
    fanout: [],
    manyTopics: [],
    rpc: [],
    serializers: { fanout: [], rpc: [] },
    queue: [],
    idle: [],
    profiles: [],
    targets: [],
    notes: ctx.notes,
  };
  const stopOnSignal = () => {
    console.error("interrupted: stopping every process started");
    void killAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", stopOnSignal);
  Deno.addSignalListener("SIGTERM", stopOnSignal);
  try {
    await run(ctx, plan, want, results);
  } finally {
    await killAll();
    Deno.removeSignalListener("SIGINT", stopOnSignal);
    Deno.removeSignalListener("SIGTERM", stopOnSignal);
  }
  results.meta.seconds = Math.round((performance.now() - t0) / 1000);
  results.meta.loadAverageEnd = loadAverage();
  results.targets = verdicts(results);
  Deno.mkdirSync(new URL(".", resultsFile), { recursive: true });
  Deno.writeTextFileSync(resultsFile, JSON.stringify(results, null, 2) + "\n");
  await writeReport(results, reportFile);
  ctx.log(`wrote ${reportFile.pathname} and ${resultsFile.pathname} (${results.meta.seconds} s)`);
  return 0;
}

/** Runs `fn` as one step: errors become notes, so one failing server does not end the run. */
async function step<T>(ctx: Context, name: string, fn: () => Promise<T>): Promise<T | undefined> {
  ctx.log(name);
  try {
    return await fn();
  } catch (e) {
    const msg = `${name}: ${e instanceof Error ? e.message : String(e)}`;
    ctx.notes.push(msg);
    ctx.log(`FAILED ${msg}`);
    return undefined;
  }
}

/** Runs `fn` with a server, always stopping it. */
async function withServer<T>(start: () => Promise<Server>, fn: (s: Server) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

async function run(
  ctx: Context,
  plan: Plan,
  want: (s: Scenario) => boolean,
  results: Results,
): Promise<void> {
  const ns = plan.fanoutNs;
  if (want("fanout")) {
    for (
      const [name, start] of [
        ["Tuerca", () => startTuerca()],
        ["bare Deno.serve", () => startBare()],
        ["Mosquitto", () => startMosquitto()],
      ] as const
    ) {
      const rows = await step(
        ctx,
        `fan-out: ${name}`,
        () => withServer(start, (s) => fanout(ctx, s, ns, plan.fanout)),
      );
      results.fanout.push(...rows ?? []);
    }
  }
  // RabbitMQ: a private node for fan-out over Web-STOMP and for the queue.
  const rabbitWanted = want("fanout") || want("queue");
  if (rabbitWanted && timeLeft(ctx) > 60_000) {
    let rabbit: Rabbit | undefined;
    try {
      rabbit = await step(ctx, "starting a private RabbitMQ node", () => startRabbit());
      if (rabbit !== undefined) {
        ctx.log(`  RabbitMQ up in ${rabbit.startSeconds.toFixed(1)} s`);
        const r = rabbit;
        if (want("fanout")) {
          const rows = await step(
            ctx,
            "fan-out: RabbitMQ Web-STOMP",
            () => fanout(ctx, r, ns, plan.fanout, plan.rabbitFanoutBudgetMs),
          );
          results.fanout.push(...rows ?? []);
        }
        if (want("queue") && timeLeft(ctx) > 30_000) {
          results.queue.push(...(await step(ctx, "queue", () => queueScenario(ctx, plan, r))) ?? []);
        }
        if (want("profile") && plan.profileN > 0 && want("queue") && timeLeft(ctx) > 60_000) {
          const p = await step(ctx, "profile: tuerca queue", () => profileQueue(ctx, plan, r));
          if (p) results.profiles.push(p);
        }
      }
    } finally {
      await rabbit?.stop();
    }
  } else if (rabbitWanted) {
    ctx.notes.push("RabbitMQ scenarios skipped: out of time");
  }
  if (want("topics") && timeLeft(ctx) > 30_000) {
    const row = await step(
      ctx,
      "many topics: Tuerca",
      () =>
        withServer(
          () => startTuerca(),
          (s) =>
            manyTopics(ctx, s, plan.manyTopicsSessions, { ...plan.fanout, measureMs: plan.manyTopicsMs }),
        ),
    );
    if (row) results.manyTopics.push(row);
  }
  if (want("rpc") && timeLeft(ctx) > 30_000) {
    const runs = [
      ["Tuerca, network callee", () => startTuerca(), "network", "bench.echo", undefined],
      [
        "Tuerca, in-process callee (areaCuadrado)",
        () => startTuerca(),
        "none",
        "push.tutorial.areaCuadrado",
        "[3,4]",
      ],
      ["bare Deno.serve echo", () => startBare(), "none", "bench.echo", undefined],
    ] as const;
    for (const [label, start, callee, procedure, args] of runs) {
      const rows = await step(
        ctx,
        `RPC: ${label}`,
        () =>
          withServer(
            start,
            (s) =>
              rpc(
                ctx,
                s,
                label,
                callee,
                procedure,
                args,
                plan.rpcKs,
                plan.rpcMs,
                plan.rpcTrials,
                plan.fanout.quietWaitMs,
              ),
          ),
      );
      results.rpc.push(...rows ?? []);
    }
  }
  if (want("idle") && timeLeft(ctx) > 30_000) {
    for (
      const [name, start] of [
        ["Tuerca", () => startTuerca()],
        ["bare Deno.serve", () => startBare()],
      ] as const
    ) {
      const rows = await step(
        ctx,
        `idle: ${name}`,
        () => withServer(start, (s) => idle(ctx, s, plan.idleNs)),
      );
      results.idle.push(...rows ?? []);
    }
  }
  // The cluster: a fresh private RabbitMQ node of its own (the first one ends bloated by the Web-STOMP
  // connections), after the scenarios the targets need and before the profiles.
  if (want("cluster") && plan.cluster !== undefined && timeLeft(ctx) > (ctx.quick ? 40_000 : 60_000)) {
    let rabbit: Rabbit | undefined;
    try {
      rabbit = await step(ctx, "cluster: starting a private RabbitMQ node", () => startRabbit());
      if (rabbit !== undefined) {
        ctx.log(`  RabbitMQ up in ${rabbit.startSeconds.toFixed(1)} s`);
        results.cluster = await clusterScenario(ctx, plan, plan.cluster, rabbit, results);
      }
    } finally {
      await rabbit?.stop();
    }
  } else if (want("cluster")) {
    ctx.notes.push("cluster: skipped: out of time");
  }
  if (want("profile") && plan.profileN > 0 && timeLeft(ctx) > 40_000) {
    for (const [id, start] of [["tuerca", startTuerca], ["bare", startBare]] as const) {
      if (timeLeft(ctx) < 25_000) {
        ctx.notes.push(`profile: ${id} fan-out skipped: out of time`);
        break;
      }
      const p = await step(ctx, `profile: ${id} fan-out`, () => profileFanout(ctx, id, start, plan.profileN));
      if (p) results.profiles.push(p);
    }
    // The echo's profile beside Tuerca's shows the runtime's own price per message.
    for (const id of ["tuerca", "bare"] as const) {
      if (timeLeft(ctx) > 20_000) {
        const p = await step(ctx, `profile: ${id} RPC`, () => profileRpc(ctx, id));
        if (p) results.profiles.push(p);
      } else ctx.notes.push(`profile: ${id} RPC skipped: out of time`);
    }
  } else if (want("profile") && plan.profileN > 0) {
    ctx.notes.push("profiles of fan-out and RPC skipped: out of time");
  }
  // Last, so that the scenarios above keep their time; each step starts only if it fits.
  if (want("serializers") && timeLeft(ctx) > (ctx.quick ? 10_000 : 30_000)) {
    await serializerScenario(ctx, plan, results, results.serializers!);
  } else if (want("serializers")) {
    ctx.notes.push("serializers: skipped: out of time");
  }
}

/**
 * The cluster section: the one-node fan-out to compare with (Tuerca's rows of
 * section 1 when this run has them, else measured here with the same settings),
 * then two fresh nodes for the fan-out over both and the cross-node latency, and
 * two more for many topics. Each step's failure becomes a note.
 */
async function clusterScenario(
  ctx: Context,
  plan: Plan,
  cp: ClusterPlan,
  rabbit: Rabbit,
  results: Results,
): Promise<ClusterResults> {
  const out: ClusterResults = {
    fanout: [],
    oneNode: [],
    oneNodeFromMainRows: false,
    latency: null,
    topics: null,
  };
  const main = cp.ns.map((n) => results.fanout.find((x) => x.server === "tuerca" && x.n === n && x.complete));
  const sameSettings = JSON.stringify(cp.fanout) === JSON.stringify(plan.fanout);
  if (sameSettings && main.every((x) => x !== undefined)) {
    out.oneNode = main.map((x) => x!);
    out.oneNodeFromMainRows = true;
  } else {
    const rows = await step(
      ctx,
      "cluster: fan-out on one node (Tuerca alone, to compare)",
      () => withServer(() => startTuerca(), (s) => fanout(ctx, s, cp.ns, cp.fanout)),
    );
    out.oneNode = rows ?? [];
  }
  await step(
    ctx,
    "cluster: fan-out over 2 nodes, then one message at a time across",
    () =>
      withNodes(ctx, rabbit, 2, "fanout", async (nodes) => {
        out.fanout = await clusterFanout(ctx, nodes, rabbit, cp, plan.clusterFanoutBudgetMs ?? Infinity);
        if (timeLeft(ctx) > 15_000) {
          out.latency = await clusterLatency(ctx, nodes, cp.latencyMessages);
        } else ctx.notes.push("cluster: cross-node latency skipped: out of time");
      }),
  );
  if (timeLeft(ctx) > 30_000) {
    out.topics = await step(ctx, "cluster: many topics over 2 nodes", () =>
      withNodes(ctx, rabbit, 2, "topics", (nodes) =>
        clusterTopics(ctx, nodes, rabbit, cp.topicsSessions, { ...cp.fanout, topicsMs: cp.topicsMs }))) ??
      null;
  } else ctx.notes.push("cluster: many topics skipped: out of time");
  return out;
}

/**
 * Tuerca's fan-out and RPC (network callee) once per WAMP serializer, each on a
 * fresh server: the publisher and the subscribers, or the caller and the callee,
 * all speak the serializer. Plain JSON is Tuerca's rows of the fan-out and RPC
 * scenarios when this run measured them (same settings; this keeps a full run
 * within its budget), and is measured here otherwise (`--only serializers`).
 */
async function serializerScenario(
  ctx: Context,
  plan: Plan,
  results: Results,
  out: SerializerResults,
): Promise<void> {
  const mainFan = plan.serializerFanoutNs.map((n) =>
    results.fanout.find((x) => x.server === "tuerca" && x.n === n && x.complete)
  );
  const mainRpc = plan.serializerRpcKs.map((k) =>
    results.rpc.find((x) => x.server === "tuerca" && x.k === k && x.label === "Tuerca, network callee")
  );
  const fanReused = mainFan.every((x) => x !== undefined);
  const rpcReused = mainRpc.every((x) => x !== undefined);
  out.jsonFromMainRows = { fanout: fanReused, rpc: rpcReused };
  if (fanReused) out.fanout.push(...mainFan.map((x) => ({ ...x!, serializer: "json" as const })));
  if (rpcReused) out.rpc.push(...mainRpc.map((x) => ({ ...x!, serializer: "json" as const })));
  // A step starts only if it fits: half as long again as the previous step of its kind.
  const fits = (lastMs: number) => timeLeft(ctx) > (lastMs > 0 ? 1.5 * lastMs : ctx.quick ? 10_000 : 30_000);
  let lastMs = 0;
  for (const ser of WAMP_SERIALIZERS) {
    if (ser === "json" && fanReused) continue;
    if (!fits(lastMs)) {
      ctx.notes.push(`serializers: fan-out wamp.2.${ser} skipped: out of time`);
      continue;
    }
    const t0 = performance.now();
    const rows = await step(
      ctx,
      `serializers: fan-out wamp.2.${ser}`,
      () =>
        withServer(
          () => startTuerca(),
          (s) => fanout(ctx, s, plan.serializerFanoutNs, plan.fanout, Infinity, ser),
        ),
    );
    out.fanout.push(...rows ?? []);
    lastMs = performance.now() - t0;
  }
  lastMs = 0;
  for (const ser of WAMP_SERIALIZERS) {
    if (ser === "json" && rpcReused) continue;
    if (!fits(lastMs)) {
      ctx.notes.push(`serializers: RPC wamp.2.${ser} skipped: out of time`);
      continue;
    }
    const t0 = performance.now();
    const label = `Tuerca, network callee (wamp.2.${ser})`;
    const rows = await step(
      ctx,
      `serializers: RPC wamp.2.${ser}`,
      () =>
        withServer(
          () => startTuerca(),
          (s) =>
            rpc(
              ctx,
              s,
              label,
              "network",
              "bench.echo",
              undefined,
              plan.serializerRpcKs,
              plan.rpcMs,
              plan.rpcTrials,
              plan.fanout.quietWaitMs,
              ser,
            ),
        ),
    );
    out.rpc.push(...rows ?? []);
    lastMs = performance.now() - t0;
  }
}

/** A profiled server: a fresh cpuprofile file name and the flags that write it. */
function profiled(name: string): { path: string; flags: string[] } {
  const dir = new URL(".bench/prof/", ROOT);
  Deno.mkdirSync(dir, { recursive: true });
  try {
    Deno.removeSync(new URL(name, dir));
  } catch {
    // no earlier profile
  }
  return {
    path: new URL(name, dir).pathname,
    flags: ["--cpu-prof", `--cpu-prof-dir=${dir.pathname}`, `--cpu-prof-name=${name}`],
  };
}

/** RPC at 100 in flight, on a server run with --cpu-prof: Tuerca with a network callee, or the bare echo. */
async function profileRpc(ctx: Context, id: "tuerca" | "bare"): Promise<Results["profiles"][number]> {
  const name = `${id}_rpc_100.cpuprofile`;
  const prof = profiled(name);
  let rows: RpcRow[] = [];
  let processCpuMs = 0;
  const start = id === "tuerca" ? startTuerca : startBare;
  const what = id === "tuerca" ? "Tuerca RPC, network callee" : "bare Deno.serve echo";
  await withServer(() => start({ name: `${id}-profiled-rpc`, denoFlags: prof.flags }), async (s) => {
    rows = await rpc(
      ctx,
      s,
      `${what} (profiled)`,
      id === "tuerca" ? "network" : "none",
      "bench.echo",
      undefined,
      [100],
      3000,
      1,
      0,
    );
    processCpuMs = (treeTicks(s.pids()) * 1000) / CLK_TCK;
  });
  return {
    ...summariseProfile(prof.path, 20),
    file: `.bench/prof/${name}`,
    label: `${what}, 100 in flight (${rows[0]?.callsPerSec ?? "?"} calls/s under the profiler)`,
    seconds: rows[0]?.seconds,
    processCpuMs,
  };
}

/** Fan-out on a server run with --cpu-prof; the profile is written when it exits. */
async function profileFanout(
  ctx: Context,
  id: string,
  start: typeof startTuerca,
  n: number,
): Promise<Results["profiles"][number]> {
  const dir = new URL(".bench/prof/", ROOT);
  Deno.mkdirSync(dir, { recursive: true });
  const name = `${id}_fanout_${n}.cpuprofile`;
  try {
    Deno.removeSync(new URL(name, dir));
  } catch {
    // no earlier profile
  }
  let rows: FanoutRow[] = [];
  let processCpuMs = 0;
  await withServer(
    () =>
      start({
        name: `${id}-profiled`,
        denoFlags: ["--cpu-prof", `--cpu-prof-dir=${dir.pathname}`, `--cpu-prof-name=${name}`],
      }),
    async (s) => {
      rows = await fanout(ctx, s, [n], {
        eventsPerRound: 50_000,
        warmupMs: 1000,
        measureMs: 3000,
        trials: 1,
        quietWaitMs: 1000,
        pacedMessages: 0,
        pacedBudgetMs: 0,
        roundMs: 300,
      });
      processCpuMs = (treeTicks(s.pids()) * 1000) / CLK_TCK;
    },
  );
  const summary = summariseProfile(new URL(name, dir).pathname, 20);
  return {
    ...summary,
    file: `.bench/prof/${name}`,
    label: `${id} fan-out to ${n} subscribers (${rows[0]?.eventsPerSec ?? "?"} events/s under the profiler)`,
    events: rows[0]?.events,
    seconds: rows[0]?.seconds,
    processCpuMs,
  };
}

/** Scenario 4: the Tuerca bridge, the bare STOMP consumer, and the bridge's library without WAMP. */
async function queueScenario(ctx: Context, plan: Plan, rabbit: Rabbit): Promise<QueueRow[]> {
  const queue = "la_cola";
  const cat = "bench.queue";
  const sender = spawnGenerator("queue-sender");
  const rows: QueueRow[] = [];
  const args: QueueArgs = [
    queue,
    cat,
    plan.queueMessages,
    plan.queueRate,
    plan.queuePacedSeconds,
    plan.fanout.quietWaitMs,
  ];
  try {
    await sender.request("amqpPrepare", { url: rabbit.amqpUrl, queue }, 30_000);
    const tuerca = await step(ctx, "queue: Tuerca bridge", () => tuercaQueue(ctx, rabbit, sender, args));
    if (tuerca) rows.push(tuerca);
    for (
      const [id, label, cmd, params] of [
        [
          "stomp",
          "bare STOMP consumer (client-individual acks)",
          "stompConsume",
          { hostname: "127.0.0.1", port: rabbit.stompPort, queue, prefetch: 100 },
        ],
        [
          "stompjs",
          "@stomp/stompjs consumer (the bridge's library, no WAMP)",
          "stompjsConsume",
          { url: rabbit.stompUrl, queue, prefetch: 100 },
        ],
      ] as const
    ) {
      if (timeLeft(ctx) < 20_000) {
        ctx.notes.push(`queue ${label} skipped: out of time`);
        continue;
      }
      const row = await step(ctx, `queue: ${label}`, async () => {
        await sender.request("amqpPrepare", { url: rabbit.amqpUrl, queue }, 30_000);
        const consumer = spawnGenerator(`queue-${id}`);
        try {
          await consumer.request(cmd, params, 30_000);
          return await queueRun(ctx, rabbit, sender, {
            id,
            label,
            receiver: consumer,
            pids: [consumer.pid],
            pause: async () => void await consumer.request("consumeStop", {}, 30_000),
            resume: async () => (await consumer.request(cmd, params, 30_000)).startUs as number,
            stop: () => consumer.kill(),
          }, ...args);
        } finally {
          await consumer.kill();
        }
      });
      if (row) rows.push(row);
    }
  } finally {
    await sender.kill();
  }
  return rows;
}

type QueueArgs = readonly [string, string, number, number, number, number];

/**
 * The Tuerca bridge's queue run: one WAMP tab subscribes to the cat topic, then the
 * bridge (started on request, so that it can be paused) consumes the queue.
 */
function tuercaQueue(
  ctx: Context,
  rabbit: Rabbit,
  sender: Child,
  args: QueueArgs,
  denoFlags: string[] = [],
  name = "tuerca-bridge",
  /** Called with the server's process ids once the run is over, before the server stops. */
  after?: (pids: number[]) => void,
): Promise<QueueRow> {
  const [queue, cat] = args;
  return withServer(
    () =>
      startTuerca({
        args: ["--stomp", rabbit.stompUrl, "--queue", queue, "--bridge-deferred"],
        name,
        denoFlags,
      }),
    async (s) => {
      const tab = spawnGenerator("queue-tab");
      const bridgeStart = async () => (await s.request!("bridgeStart", {}, 30_000)).startUs as number;
      try {
        await tab.request("subscribe", { endpoint: s.endpoint, count: 1, offset: 0, topics: [cat] }, 30_000);
        await bridgeStart();
        const row = await queueRun(ctx, rabbit, sender, {
          id: "tuerca",
          label: "Tuerca bridge → 1 WAMP tab",
          receiver: tab,
          pids: s.pids(),
          pause: async () => void await s.request!("bridgeStop", {}, 30_000),
          resume: bridgeStart,
          stop: () => tab.kill(),
        }, ...args);
        after?.(s.pids());
        return row;
      } finally {
        await tab.kill();
      }
    },
  );
}

/** The Tuerca bridge's queue run on a server run with --cpu-prof. */
async function profileQueue(ctx: Context, plan: Plan, rabbit: Rabbit): Promise<Results["profiles"][number]> {
  const name = "tuerca_queue.cpuprofile";
  const prof = profiled(name);
  const sender = spawnGenerator("queue-sender-profiled");
  let row: QueueRow | undefined;
  let processCpuMs: number | undefined;
  try {
    await sender.request("amqpPrepare", { url: rabbit.amqpUrl, queue: "la_cola" }, 30_000);
    row = await tuercaQueue(
      ctx,
      rabbit,
      sender,
      ["la_cola", "bench.queue", plan.queueMessages, plan.queueRate, plan.queuePacedSeconds, 0],
      prof.flags,
      "tuerca-profiled-queue",
      (pids) => processCpuMs = (treeTicks(pids) * 1000) / CLK_TCK,
    );
  } finally {
    await sender.kill();
  }
  return {
    ...summariseProfile(prof.path, 20),
    file: `.bench/prof/${name}`,
    label: `Tuerca bridge → 1 WAMP tab, all three queue phases (${
      row?.messagesPerSec ?? "?"
    } msg/s concurrent, ${row?.prefilledMessagesPerSec ?? "?"} msg/s pre-filled, under the profiler)`,
    seconds: row?.seconds,
    processCpuMs,
  };
}

if (import.meta.main) Deno.exit(await main());
