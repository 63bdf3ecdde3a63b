/**
 * Turns a run's results into BENCHMARKS.md: the machine and command, the method,
 * each target with its verdict, one table per scenario, the profiles, and the
 * hand-written reading kept in bench/analysis.md.
 *
 * @module
 */

import type { Results, Verdict } from "./results.ts";

export type { Verdict };
import { project, PROJECTED_CORES, type Projection, PROJECTION_FORMULA } from "./projection.ts";
import type { Percentiles } from "./stats.ts";

const fmt = (x: number | undefined, digits = 0) =>
  x === undefined || Number.isNaN(x) ? "–" : x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

const ms = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? "–" : x < 10 ? fmt(x, 2) : fmt(x, 1);

function ratioVerdict(
  target: string,
  value: number | undefined,
  base: number | undefined,
  goal: number,
): Verdict {
  if (!value || !base) return { target, goal: `≥ ${goal}×`, measured: "not measured", met: null, gap: "" };
  const r = value / base;
  const met = r >= goal;
  return {
    target,
    goal: `≥ ${goal}×`,
    measured: `${r.toFixed(2)}× (${fmt(value)} vs ${fmt(base)})`,
    met,
    gap: met ? "" : `missed by ${((100 * (goal - r)) / goal).toFixed(0)}% (needs ${fmt(goal * base)})`,
  };
}

function maxRatioVerdict(
  target: string,
  value: number | undefined,
  base: number | undefined,
  goal: number,
  unit: string,
): Verdict {
  if (!value || !base) return { target, goal: `≤ ${goal}×`, measured: "not measured", met: null, gap: "" };
  const r = value / base;
  const met = r <= goal;
  return {
    target,
    goal: `≤ ${goal}×`,
    measured: `${r.toFixed(2)}× (${fmt(value, 1)} vs ${fmt(base, 1)} ${unit})`,
    met,
    gap: met
      ? ""
      : `missed by ${((100 * (r - goal)) / goal).toFixed(0)}% (needs ≤ ${fmt(goal * base, 1)} ${unit})`,
  };
}

function maxVerdict(target: string, value: number | undefined, goal: number, unit: string): Verdict {
  if (value === undefined || Number.isNaN(value)) {
    return { target, goal: `≤ ${goal} ${unit}`, measured: "not measured", met: null, gap: "" };
  }
  const met = value <= goal;
  return {
    target,
    goal: `≤ ${goal} ${unit}`,
    measured: `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ${unit}`,
    met,
    gap: met
      ? ""
      : `missed by ${((100 * (value - goal)) / goal).toFixed(0)}% (${(value / goal).toFixed(1)}× the limit)`,
  };
}

/**
 * The cluster's fan-out projections, one per N measured on two nodes with a
 * one-node row at the same N (see lib/projection.ts).
 */
export function projections(r: Results): Projection[] {
  const c = r.cluster;
  if (c === undefined) return [];
  const out: Projection[] = [];
  // Each many-topics publish is routed to one queue, thousands a second: its broker CPU per publish is
  // well resolved. A two-node fan-out publish is routed to two queues (both nodes hold the topic).
  const perCopy = c.topics?.brokerCpuUsPerPublish;
  for (const row of c.fanout) {
    const one = c.oneNode.find((x) => x.n === row.n);
    if (one === undefined) continue;
    const p = project({
      n: row.n,
      oneNodeCpuUsPerEvent: one.serverCpuUsPerEvent,
      nodeCpuUsPerEvent: row.nodeCpuUsPerEvent,
      brokerCpuUsPerPublish: perCopy !== undefined && Number.isFinite(perCopy)
        ? 2 * perCopy
        : row.brokerCpuUsPerPublish,
    });
    if (p !== null) out.push(p);
  }
  return out;
}

/**
 * The targets, as decided with the runtime's native WebSocket kept: Tuerca
 * against the bare native server (fan-out, idle memory, RPC), the queue against
 * the STOMP library alone, and two nodes against one (projected per core).
 */
export function verdicts(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const fan = (server: string, n: number) => r.fanout.find((x) => x.server === server && x.n === n);
  const ns = [...new Set(r.fanout.map((x) => x.n))].sort((a, b) => a - b);
  for (const n of ns) {
    out.push(
      ratioVerdict(
        `fan-out N=${fmt(n)}: Tuerca ÷ bare native broadcast`,
        fan("tuerca", n)?.eventsPerSec,
        fan("bare", n)?.eventsPerSec,
        0.9,
      ),
    );
  }
  for (const row of r.idle.filter((x) => x.server === "tuerca")) {
    const bare = r.idle.find((x) => x.server === "bare" && x.sessions === row.sessions);
    out.push(
      maxRatioVerdict(
        `idle at ${fmt(row.sessions)} sessions: Tuerca's RSS per session ÷ the bare native WebSocket's`,
        row.rssPerSessionKiB,
        bare?.rssPerSessionKiB,
        1.1,
        "KiB",
      ),
    );
  }
  const ks = [...new Set(r.rpc.map((x) => x.k))].sort((a, b) => a - b);
  for (const k of ks) {
    const t = r.rpc.find((x) => x.server === "tuerca" && x.k === k && x.label.includes("network"));
    const b = r.rpc.find((x) => x.server === "bare" && x.k === k);
    out.push(
      ratioVerdict(`RPC K=${k}: Tuerca (network callee) ÷ bare echo`, t?.callsPerSec, b?.callsPerSec, 0.45),
    );
  }
  const qt = r.queue.find((x) => x.consumer === "tuerca");
  const qs = r.queue.find((x) => x.consumer === "stompjs");
  out.push(
    ratioVerdict("queue: Tuerca ÷ @stomp/stompjs alone", qt?.messagesPerSec, qs?.messagesPerSec, 0.8),
  );
  out.push(
    ratioVerdict(
      "queue (pre-filled drain): Tuerca ÷ @stomp/stompjs alone",
      qt?.prefilledMessagesPerSec,
      qs?.prefilledMessagesPerSec,
      0.8,
    ),
  );
  const projected = projections(r);
  const clusterNs = r.cluster?.fanout.map((x) => x.n) ?? r.meta.plan.cluster?.ns ?? [];
  for (const n of clusterNs) {
    const p = projected.find((x) => x.n === n);
    const two = p?.cores.find((x) => x.cores === 2);
    out.push(
      ratioVerdict(
        `cluster N=${fmt(n)}: 2 nodes on 2 cores (projected) ÷ one node's fan-out per core`,
        two?.eventsPerSec,
        p?.oneNodeEventsPerSec,
        1.6,
      ),
    );
  }
  return out;
}

/**
 * Comparisons that were targets of the first benchmark issue and are no longer:
 * Mosquitto, RabbitMQ Web-STOMP, the in-process callee, the bare STOMP consumer,
 * and the latency bounds. Kept so that a regression against them shows.
 */
export function comparisons(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const fan = (server: string, n: number) => r.fanout.find((x) => x.server === server && x.n === n);
  const ns = [...new Set(r.fanout.map((x) => x.n))].sort((a, b) => a - b);
  for (const n of ns) {
    const t = fan("tuerca", n)?.eventsPerSec;
    out.push(
      ratioVerdict(`fan-out N=${fmt(n)}: Tuerca ÷ Mosquitto`, t, fan("mosquitto", n)?.eventsPerSec, 1.0),
    );
    out.push(
      ratioVerdict(
        `fan-out N=${fmt(n)}: Tuerca ÷ RabbitMQ Web-STOMP`,
        t,
        fan("rabbitmq", n)?.eventsPerSec,
        2,
      ),
    );
  }
  const ks = [...new Set(r.rpc.map((x) => x.k))].sort((a, b) => a - b);
  for (const k of ks) {
    const t = r.rpc.find((x) => x.server === "tuerca" && x.k === k && x.label.includes("in-process"));
    const b = r.rpc.find((x) => x.server === "bare" && x.k === k);
    if (t === undefined) continue;
    out.push(
      ratioVerdict(`RPC K=${k}: Tuerca (in-process callee) ÷ bare echo`, t.callsPerSec, b?.callsPerSec, 0.5),
    );
  }
  const rpc100 = r.rpc.find((x) => x.server === "tuerca" && x.k === 100 && x.label.includes("network"));
  out.push(maxVerdict("RPC: p99 round trip at 100 in flight", rpc100?.rttMs.p99, 5, "ms"));
  const qt = r.queue.find((x) => x.consumer === "tuerca");
  const qb = r.queue.find((x) => x.consumer === "stomp");
  out.push(
    ratioVerdict(
      "queue: Tuerca ÷ bare STOMP consumer with acks",
      qt?.messagesPerSec,
      qb?.messagesPerSec,
      0.8,
    ),
  );
  out.push(
    ratioVerdict(
      "queue (pre-filled drain): Tuerca ÷ bare STOMP consumer",
      qt?.prefilledMessagesPerSec,
      qb?.prefilledMessagesPerSec,
      0.8,
    ),
  );
  out.push(
    maxVerdict(`queue: p99 send→receive at ${qt?.pacedRate ?? 1000} msg/s`, qt?.pacedLatencyMs.p99, 20, "ms"),
  );
  return out;
}

const pair = (p: Percentiles | null | undefined) => p ? `${ms(p.p50)} / ${ms(p.p99)}` : "–";

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => String(c).replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

const LABELS: Record<string, string> = {
  tuerca: "Tuerca",
  bare: "bare Deno.serve",
  mosquitto: "Mosquitto",
  rabbitmq: "RabbitMQ Web-STOMP",
  cluster: "Tuerca nodes with --cluster (two at a time) through the private RabbitMQ node",
};

/** The report, as Markdown (before `deno fmt`). */
export function renderReport(r: Results, analysis: string | null): string {
  const m = r.meta.machine;
  const ns = [...new Set(r.fanout.map((x) => x.n))].sort((a, b) => a - b);
  const out: string[] = [];
  out.push("# Benchmarks", "");
  out.push(
    `Generated by \`${r.meta.command}\` (bench/run.ts) on ${r.meta.date.slice(0, 10)} at ${
      r.meta.date.slice(11, 16)
    } UTC, ${r.meta.mode} mode, in ${r.meta.seconds} s. Every figure, with the full latency percentiles, is in ` +
      `\`${
        r.meta.resultsFile ?? "bench/results.json"
      }\`; the reading at the end is kept in \`bench/analysis.md\`.`,
    "",
  );
  out.push("## How to run", "");
  out.push(
    "```sh",
    "deno task bench            # everything, under 10 minutes on 2 cores: BENCHMARKS.md, bench/results.json",
    "deno task bench --quick    # N = 1,000 only and short phases, under 2 minutes: .bench/BENCHMARKS.quick.md",
    "deno task bench --only fanout,rpc      # a subset (fanout, topics, rpc, queue, idle, serializers, cluster, profile): .bench/",
    "deno task bench --only serializers     # Tuerca's fan-out and RPC per WAMP serializer alone: .bench/",
    "deno task bench --only cluster         # two Tuerca nodes through a private RabbitMQ node: .bench/",
    "deno task bench --report   # rewrite this file from bench/results.json (after editing bench/analysis.md)",
    "deno task bench:micro      # deno bench: the v2 codec, the broker's publish path, a routed call",
    "```",
    "",
    "Needs Debian's `mosquitto` and `rabbitmq-server` packages; the benchmark starts its own Mosquitto and its own " +
      "RabbitMQ node on free loopback ports and stops them at the end.",
    "",
  );
  out.push("## Machine", "");
  out.push(table(["", ""], [
    ["CPU", `${m.cpus} × ${m.cpuModel}`],
    ["memory", `${fmt(m.memTotalMiB)} MiB`],
    ["kernel", m.kernel],
    ["Deno", `${m.deno} (V8 ${m.v8}, TypeScript ${m.typescript})`],
    ["Mosquitto", m.mosquitto],
    ["RabbitMQ", m.rabbitmq],
    ["open files", m.openFilesLimit],
    ["load average (1 min) at start / end", `${r.meta.loadAverageStart} / ${r.meta.loadAverageEnd}`],
  ]));
  out.push(
    "",
    "The machine is shared: other sessions' test runs (browsers, servers) may take CPU during a run. The " +
      "*others* column of each table is the machine's busy time not spent by the benchmark's processes, in percent " +
      "of one core; where it is high, that row is pessimistic.",
    "",
  );
  out.push("## Method", "");
  out.push(
    [
      "- **Loopback only**, every server and generator a separate process; CPU is utime+stime from " +
      "`/proc/<pid>/stat` over the measured phase, in percent of one core (200% = both cores); memory is VmRSS.",
      "- **Generators** (bench/gen.ts) speak WebSocket over raw TCP (bench/lib/ws_client.ts): one read buffer per " +
      "connection, frames handed over as byte ranges, events counted by their first bytes (`[36,` for WAMP EVENT, " +
      "an MQTT PUBLISH header, `MESSAGE` for STOMP), never parsed. WAMP, MQTT and STOMP handshakes are built by hand; " +
      "the one MQTT publisher is the npm `mqtt` client. The same generator code serves every server.",
      "- **Per serializer** (Tuerca only): the fan-out and RPC (network callee) scenarios again, each on a fresh " +
      "server, with every client (publisher and subscribers; caller and callee) speaking `wamp.2.json`, " +
      "`wamp.2.json.batched`, `wamp.2.msgpack` or `wamp.2.cbor`; plain JSON is measured again in the same " +
      "section when the run has no Tuerca rows of its own to compare with (`--only serializers`); otherwise the " +
      "JSON rows are Tuerca's rows of sections 1 and 3. The generators " +
      "build the binary PUBLISH and CALL frames by hand (the topic, procedure and arguments encoded once with " +
      "msgpackr / cbor-x, the router's libraries) and recognise EVENT and RESULT by the array header and the " +
      "message type at its start (`0x94`–`0x96 0x24` in MessagePack, `0x84`–`0x86 0x18 0x24` in CBOR); the " +
      "callee answers each INVOCATION with a YIELD that copies the request id and arguments as bytes. Batched " +
      "JSON frames are the JSON ones followed by 0x18 (the router sends one message per frame). The handshakes " +
      "use msgpackr and cbor-x.",
      "- **Payload**: 100 bytes, `~T<send time in µs>~` then padding. Receivers read the stamp with a byte search " +
      "on a sample of the events (publish→receive latency; all processes share the machine's clock).",
      "- **Fan-out**: 1 publisher, N subscribers on one topic, split over 2 generator processes. After a warm-up, " +
      "the publisher sends a burst of B messages and waits until every subscriber has all of them. B is the same " +
      `for every server: ${fmt(r.meta.plan.fanout.eventsPerRound)} ÷ N (so ${
        ns.map((n) => `${Math.max(1, Math.round(r.meta.plan.fanout.eventsPerRound / n))} at N=${fmt(n)}`)
          .join(", ")
      }). Events/s = events delivered ÷ the sum of the rounds' first-publish→last-receive ` +
      "times (saturation). *Loaded* latency is over those bursts (it includes queueing inside a burst); " +
      "*light-load* latency publishes one message at a time, spaced twice as far apart as one lone message took " +
      "to reach all N (at least 20 ms), so it is the time for one message to reach every subscriber.",
      "- **Trials**: each throughput figure is the best of several trials (4 in a full run, 2 in quick mode; RPC: " +
      "3 and 2), and each trial first waits (up to 2 s) for the machine to be quiet. Other work on the machine can " +
      "only slow a trial down, so the best trial is the closest to the server's own limit; the median and every " +
      "trial are in results.json. CPU figures are those of the best trial.",
      "- **Many topics**: each session subscribes to its own topic and one shared topic; the publisher mixes 1,000 " +
      "publishes to random own topics with 1 to the shared one, in bursts sized so a round lasts about 300 ms.",
      "- **RPC**: one caller keeps K calls in flight on one connection; the callee is a generator (YIELD of the " +
      "same arguments), or the server's own `areaCuadrado`; the bare baseline echoes each CALL frame.",
      "- **Queue**: amqplib puts persistent messages (header `cat`) on `la_cola` of a private RabbitMQ node, as fast " +
      "as it can (drain rate: messages ÷ first send→last receive) and then at a fixed rate for latency; then, " +
      "with the consumer stopped, the same number again, drained once all are on the queue (pre-filled drain: " +
      "messages ÷ start of consumption→last receive). Consumers: " +
      "Tuerca's bridge (STOMP over TCP, prefetch 100) → one WAMP tab; a bare STOMP consumer over TCP with " +
      "client-individual acks (prefetch 100); and @stomp/stompjs with the bridge's TCP adapter, without WAMP.",
      "- **Idle cost**: RSS of the server after N sessions each subscribed to one topic, minus RSS before, after a " +
      "forced GC (`--expose-gc`) in both cases, ÷ N.",
      "- **Cluster** (bench/cluster.ts): Tuerca nodes started with `--cluster NAME --amqp URL` against the private " +
      "RabbitMQ node below (a fresh cluster name per scenario), each a process of its own; the broker's CPU is its " +
      "Erlang VM's (`beam.smp`). Fan-out: N subscribers, half on each of two nodes, the publisher on node 1, " +
      "bursts and trials as for one node; then a traffic phase of a fixed number of bursts reads each node's " +
      "`tuerca_cluster_received_total` from `/metrics` and the bytes the broker sent its AMQP connection (`ss -ti`). " +
      "Cross-node latency: one message at a time, each awaited at a subscriber on each node. Many topics: " +
      "half the sessions on each node, each on its own topic and one shared topic; a publisher on each node " +
      "mixes publishes over the whole topic space, and each node's inbound backbone messages are checked " +
      "against the publishes of the other node on topics its subscribers hold.",
      "- **RabbitMQ** runs as a private node (own name, ports, data directory, open-files limit 20,000): the " +
      "machine's shared broker allows about 830 sockets, too few for 10,000 Web-STOMP subscribers. **Mosquitto** " +
      "2.0.11 from Debian has WebSocket support but will not start with a WebSocket listener alone, so an MQTT " +
      "listener on another loopback port comes along.",
    ].join("\n"),
    "",
  );

  out.push("## Targets", "");
  out.push(
    "The decision: the runtime's native WebSocket stays, so Tuerca is held to the bare native server it runs on " +
      "(fan-out, idle memory, RPC), the queue to the STOMP library it uses, and a cluster of two nodes to one node " +
      "per core (projected, section 7).",
    "",
  );
  const verdictRows = (v: Verdict[]) =>
    v.map((
      x,
    ) => [x.target, x.goal, x.measured, x.met === null ? "not measured" : x.met ? "met" : `**${x.gap}**`]);
  out.push(table(["target", "goal", "measured", "verdict"], verdictRows(verdicts(r))));
  out.push("");
  const former = comparisons(r).filter((x) => x.met !== null);
  if (former.length > 0) {
    out.push(
      "### Comparisons that were targets before (kept to catch regressions)",
      "",
      table(["comparison", "former goal", "measured", "now"], verdictRows(former)),
      "",
    );
  }

  out.push("## 1. Fan-out: 1 publisher → N subscribers, one topic, 100-byte payload", "");
  const fanRows: (string | number)[][] = [];
  for (const n of ns) {
    const tuerca = r.fanout.find((x) => x.server === "tuerca" && x.n === n)?.eventsPerSec;
    for (const row of r.fanout.filter((x) => x.n === n)) {
      fanRows.push([
        fmt(n),
        row.label,
        fmt(row.eventsPerSec) + (row.complete ? "" : " (incomplete)"),
        fmt(row.medianEventsPerSec),
        row.server === "tuerca" || !tuerca ? "" : `${(tuerca / row.eventsPerSec).toFixed(2)}×`,
        pair(row.pacedLatencyMs),
        pair(row.loadedLatencyMs),
        fmt(row.cpu.server),
        fmt(row.serverCpuUsPerEvent, 2),
        fmt(row.cpu.generators),
        fmt(row.cpu.publisher),
        fmt(row.cpu.other),
        fmt(row.serverRssMiB, 1),
      ]);
    }
  }
  out.push(table([
    "N",
    "server",
    "events/s (best trial)",
    "median trial",
    "Tuerca ÷ this",
    "light-load p50 / p99 ms",
    "loaded p50 / p99 ms",
    "server CPU %",
    "server CPU µs per event",
    "generators CPU %",
    "publisher CPU %",
    "others CPU %",
    "server RSS MiB",
  ], fanRows));
  out.push(
    "",
    "Subscribers connected (and failures), rounds and burst sizes are in results.json (`fanout[].subscribed`, " +
      "`connectFailed`, `rounds`, `burst`).",
    "",
  );

  out.push("## 2. Many topics (Tuerca)", "");
  out.push(table(
    [
      "sessions",
      "mix",
      "publishes/s",
      "events/s",
      "loaded p50 / p99 ms",
      "server CPU %",
      "server CPU µs per event",
      "generators CPU %",
      "others CPU %",
      "server RSS MiB",
      "RSS per session (2 subscriptions) KiB",
    ],
    r.manyTopics.map((x) => [
      fmt(x.sessions),
      x.mix,
      fmt(x.publishesPerSec),
      fmt(x.eventsPerSec) + (x.complete ? "" : " (incomplete)"),
      pair(x.loadedLatencyMs),
      fmt(x.cpu.server),
      fmt(x.serverCpuUsPerEvent, 2),
      fmt(x.cpu.generators),
      fmt(x.cpu.other),
      fmt(x.serverRssMiB, 1),
      fmt(x.rssPerSessionKiB, 1),
    ]),
  ));
  out.push("");

  out.push("## 3. RPC: caller → router → callee → caller", "");
  out.push(table(
    [
      "server",
      "in flight",
      "calls/s",
      "Tuerca ÷ bare",
      "p50 / p99 ms",
      "server CPU %",
      "server CPU µs per call",
      "caller CPU %",
      "callee CPU %",
      "others CPU %",
    ],
    r.rpc.map((x) => {
      const bare = r.rpc.find((b) => b.server === "bare" && b.k === x.k)?.callsPerSec;
      return [
        x.label,
        x.k,
        fmt(x.callsPerSec),
        x.server.startsWith("tuerca") && bare ? `${(x.callsPerSec / bare).toFixed(2)}×` : "",
        pair(x.rttMs),
        fmt(x.cpu.server),
        fmt(x.serverCpuUsPerCall, 1),
        fmt(x.cpu.caller),
        x.cpu.callee === undefined ? "–" : fmt(x.cpu.callee),
        fmt(x.cpu.other),
      ];
    }),
  ));
  out.push("");
  const share = routerShare(r.rpc);
  if (share !== null) {
    out.push(
      `**The router's own CPU per routed call** (network callee, ${share.k} in flight): Tuerca's server CPU ` +
        `per call less twice the echo's per echo, since a routed call is two receives and two sends through ` +
        `the server and an echo one of each: ${fmt(share.us, 1)} µs, the router's parsing, routing and ` +
        "encoding. Only the most calls in flight say this: with fewer, a message more often wakes the server " +
        "on its own, and a routed call wakes it twice as often as an echo.",
      "",
    );
  }

  out.push("## 4. Queue: messages on `la_cola` → one consumer", "");
  out.push(table(
    [
      "consumer",
      "messages",
      "messages/s",
      "÷ bare STOMP",
      "drain p50 / p99 ms",
      "paced rate /s",
      "paced p50 / p99 ms",
      "consumer CPU %",
      "consumer CPU µs per message",
      "RabbitMQ CPU %",
      "sender CPU %",
      "others CPU %",
    ],
    r.queue.map((x) => {
      const bare = r.queue.find((b) => b.consumer === "stomp")?.messagesPerSec;
      return [
        x.label,
        fmt(x.received) + (x.received < x.messages ? ` of ${fmt(x.messages)}` : ""),
        fmt(x.messagesPerSec),
        bare ? `${(x.messagesPerSec / bare).toFixed(2)}×` : "",
        pair(x.loadedLatencyMs),
        fmt(x.pacedRate),
        pair(x.pacedLatencyMs),
        fmt(x.cpu.consumer),
        fmt(x.consumerCpuUsPerMessage, 1),
        fmt(x.cpu.rabbitmq),
        fmt(x.cpu.sender),
        fmt(x.cpu.other),
      ];
    }),
  ));
  out.push(
    "",
    "For Tuerca the consumer CPU is the server's (bridge, router and the tab's socket); the tab's generator is not " +
      "counted. The drain rate includes RabbitMQ's own work on persistent messages, the same for every consumer.",
    "",
    "**Pre-filled drain**: the same number of persistent messages put on the queue while the consumer is not " +
      "consuming (for Tuerca the WAMP tab is subscribed and the bridge stopped), then drained with no producer " +
      "competing for the cores; messages/s from the start of consumption (connect and subscribe included) to " +
      "the last receive.",
    "",
  );
  out.push(table(
    [
      "consumer",
      "messages",
      "messages/s",
      "÷ bare STOMP",
      "consumer CPU %",
      "consumer CPU µs per message",
      "RabbitMQ CPU %",
      "others CPU %",
    ],
    r.queue.map((x) => {
      const bare = r.queue.find((b) => b.consumer === "stomp")?.prefilledMessagesPerSec;
      const mps = x.prefilledMessagesPerSec;
      const got = x.prefilledReceived;
      return [
        x.label,
        got === undefined ? "–" : fmt(got) + (got < x.messages ? ` of ${fmt(x.messages)}` : ""),
        mps === undefined ? "not measured" : fmt(mps),
        bare && mps ? `${(mps / bare).toFixed(2)}×` : "",
        x.prefilledCpu ? fmt(x.prefilledCpu.consumer) : "–",
        x.prefilledConsumerCpuUsPerMessage === undefined ? "–" : fmt(x.prefilledConsumerCpuUsPerMessage, 1),
        x.prefilledCpu ? fmt(x.prefilledCpu.rabbitmq) : "–",
        x.prefilledCpu ? fmt(x.prefilledCpu.other) : "–",
      ];
    }),
  ));
  out.push("");

  out.push("## 5. Idle cost: memory per connected, subscribed session", "");
  out.push(table(
    [
      "server",
      "sessions",
      "RSS before MiB",
      "RSS after MiB",
      "RSS per session KiB",
      "JS heap per session KiB",
      "external per session KiB",
      "connect s",
    ],
    r.idle.map((x) => [
      x.label,
      fmt(x.sessions) + (x.failed > 0 ? ` (${fmt(x.failed)} failed)` : ""),
      fmt(x.rssBaseMiB, 1),
      fmt(x.rssMiB, 1),
      fmt(x.rssPerSessionKiB, 1),
      fmt(x.heapPerSessionKiB, 1),
      fmt(x.externalPerSessionKiB, 1),
      fmt(x.connectSeconds, 1),
    ]),
  ));
  out.push(
    "",
    "20,000 sessions cannot be measured here: the open-files hard limit is 20,000 (it cannot be raised in this " +
      "container), and a server process needs a descriptor per socket plus its own, so the largest step is 19,000.",
    "",
  );

  const sers = r.serializers;
  if (sers !== undefined && (sers.fanout.length > 0 || sers.rpc.length > 0)) {
    out.push("## 6. Per serializer: Tuerca's fan-out and RPC with the clients in each WAMP serializer", "");
    const sub = (x: { serializer?: string }) => `\`wamp.2.${x.serializer ?? "json"}\``;
    const ratio = (x: number, json: number | undefined) => json ? `${(x / json).toFixed(2)}×` : "";
    const sn = [...new Set(sers.fanout.map((x) => x.n))].sort((a, b) => a - b);
    if (sers.fanout.length > 0) {
      out.push(
        `Fan-out: 1 publisher → N subscribers on one topic, all in the same serializer; bursts and trials as in ` +
          "section 1" +
          (sers.jsonFromMainRows?.fanout
            ? "; the `wamp.2.json` rows are Tuerca's rows of section 1 (same run, same settings)."
            : "; `wamp.2.json` measured again in this section."),
        "",
      );
      const rows: (string | number)[][] = [];
      for (const n of sn) {
        const json = sers.fanout.find((x) => x.n === n && (x.serializer ?? "json") === "json")?.eventsPerSec;
        for (const row of sers.fanout.filter((x) => x.n === n)) {
          rows.push([
            fmt(n),
            sub(row),
            fmt(row.eventsPerSec) + (row.complete ? "" : " (incomplete)"),
            fmt(row.medianEventsPerSec),
            (row.serializer ?? "json") === "json" ? "" : ratio(row.eventsPerSec, json),
            pair(row.pacedLatencyMs),
            pair(row.loadedLatencyMs),
            fmt(row.cpu.server),
            fmt(row.serverCpuUsPerEvent, 2),
            fmt(row.cpu.generators),
            fmt(row.cpu.other),
            fmt(row.serverRssMiB, 1),
          ]);
        }
      }
      out.push(table([
        "N",
        "serializer",
        "events/s (best trial)",
        "median trial",
        "÷ JSON",
        "light-load p50 / p99 ms",
        "loaded p50 / p99 ms",
        "server CPU %",
        "server CPU µs per event",
        "generators CPU %",
        "others CPU %",
        "server RSS MiB",
      ], rows));
      out.push("");
    }
    if (sers.rpc.length > 0) {
      out.push(
        "RPC: one caller keeps K calls in flight to a network callee (YIELD of the same arguments), both in the " +
          "same serializer; trials as in section 3" +
          (sers.jsonFromMainRows?.rpc
            ? "; the `wamp.2.json` rows are Tuerca's network-callee rows of section 3 (same run, same settings)."
            : "; `wamp.2.json` measured again in this section."),
        "",
      );
      const ks = [...new Set(sers.rpc.map((x) => x.k))].sort((a, b) => a - b);
      const rows: (string | number)[][] = [];
      for (const k of ks) {
        const json = sers.rpc.find((x) => x.k === k && (x.serializer ?? "json") === "json")?.callsPerSec;
        for (const x of sers.rpc.filter((x) => x.k === k)) {
          rows.push([
            x.k,
            sub(x),
            fmt(x.callsPerSec),
            (x.serializer ?? "json") === "json" ? "" : ratio(x.callsPerSec, json),
            pair(x.rttMs),
            fmt(x.cpu.server),
            fmt(x.serverCpuUsPerCall, 1),
            fmt(x.cpu.caller),
            x.cpu.callee === undefined ? "–" : fmt(x.cpu.callee),
            fmt(x.cpu.other),
            x.errors > 0 ? fmt(x.errors) : "0",
          ]);
        }
      }
      out.push(table([
        "in flight",
        "serializer",
        "calls/s",
        "÷ JSON",
        "p50 / p99 ms",
        "server CPU %",
        "server CPU µs per call",
        "caller CPU %",
        "callee CPU %",
        "others CPU %",
        "errors",
      ], rows));
      out.push("");
    }
  }

  const cl = r.cluster;
  if (cl !== undefined && (cl.fanout.length > 0 || cl.latency !== null || cl.topics !== null)) {
    out.push("## 7. Cluster: two Tuerca nodes through RabbitMQ", "");
    out.push(
      "Each node is a Tuerca process started with `--cluster NAME`, speaking AMQP to the benchmark's private " +
        "RabbitMQ node: one queue per node, bound per topic to the realm's topic exchange (section Method). " +
        "Everything shares this machine's two cores: the nodes, the broker and the load generators.",
      "",
    );
    if (cl.fanout.length > 0) {
      out.push(
        "### Fan-out over two nodes",
        "",
        "N subscribers on one topic, half on each node, the publisher on node 1, against the same N on one node " +
          (cl.oneNodeFromMainRows
            ? "(Tuerca's rows of section 1: same run, same settings)."
            : "(Tuerca alone, measured in this section with the same settings).") +
          " Latency is that of the subscribers on node 2, which get each event a broker hop later (node 1's " +
          "light-load figures in parentheses).",
        "",
      );
      const rows: (string | number)[][] = [];
      for (const row of cl.fanout) {
        const one = cl.oneNode.find((x) => x.n === row.n);
        if (one !== undefined) {
          rows.push([
            fmt(row.n),
            "1 node",
            fmt(one.eventsPerSec) + (one.complete ? "" : " (incomplete)"),
            fmt(one.medianEventsPerSec),
            "",
            pair(one.pacedLatencyMs),
            pair(one.loadedLatencyMs),
            fmt(one.cpu.server),
            fmt(one.serverCpuUsPerEvent, 2),
            "–",
            "–",
            fmt(one.cpu.generators),
            fmt(one.cpu.other),
          ]);
        }
        rows.push([
          fmt(row.n),
          "2 nodes",
          fmt(row.eventsPerSec) + (row.complete ? "" : " (incomplete)"),
          fmt(row.medianEventsPerSec),
          one ? `${(row.eventsPerSec / one.eventsPerSec).toFixed(2)}×` : "",
          pair(row.remotePacedLatencyMs) + ` (node 1: ${pair(row.localPacedLatencyMs)})`,
          pair(row.remoteLoadedLatencyMs),
          `${fmt(row.cpu.node1)} + ${fmt(row.cpu.node2)}`,
          `${fmt(row.nodeCpuUsPerEvent[0], 2)} / ${fmt(row.nodeCpuUsPerEvent[1], 2)}`,
          `${fmt(row.cpu.rabbitmq)} (idle ${fmt(row.brokerIdlePercent, 1)})`,
          `${fmt(row.brokerCpuUsPerPublish, 1)} (${fmt(row.brokerCpuUsPerPublishAboveIdle, 1)})`,
          fmt(row.cpu.generators),
          fmt(row.cpu.other),
        ]);
      }
      out.push(table([
        "N",
        "nodes",
        "events/s (best trial)",
        "median trial",
        "2 nodes ÷ 1 node",
        "light-load p50 / p99 ms (node 2)",
        "loaded p50 / p99 ms (node 2)",
        "node CPU % (node 1 + node 2)",
        "CPU µs per delivered event (node 1 / node 2)",
        "broker CPU % (idle)",
        "broker CPU µs per publish (above idle)",
        "generators CPU %",
        "others CPU %",
      ], rows));
      out.push(
        "",
        "A node's CPU per event is its CPU ÷ the events its own subscribers received; node 1 also publishes each " +
          "message to the broker, node 2 receives it from there. The broker's CPU per publish is over every trial " +
          "(its CPU is read in 10 ms ticks, and a trial at N = 10,000 holds few publishes); at a few hundred " +
          "publishes a second its idle level (measured over a second before the step, nodes connected, " +
          "nobody publishing) weighs much, so the figure above that level is in parentheses. At N = 5,000 " +
          "and 10,000 the trials hold a few hundred publishes and these figures are within a few ticks of " +
          "nothing; the many-topics run below measures the broker at thousands of publishes a second.",
        "",
      );
      const traffic = cl.fanout.filter((x) => x.traffic !== null);
      if (traffic.length > 0) {
        out.push(
          "What crossed the broker in a counted phase after the trials (a fixed number of bursts): each node's " +
            "`tuerca_cluster_received_total` delta (messages from the other node: its publishes, and a heartbeat a " +
            "second), and the bytes the broker sent each node's AMQP connection.",
          "",
        );
        const per = (b: number | null, p: number) => b === null || p === 0 ? "–" : fmt(b / p, 0);
        out.push(table(
          [
            "N",
            "publishes (node 1)",
            "seconds",
            "received_total delta, node 1 / node 2",
            "bytes from the broker per publish, node 1 / node 2",
          ],
          traffic.map((x) => {
            const t = x.traffic!;
            return [
              fmt(x.n),
              fmt(t.publishes),
              fmt(t.seconds, 1),
              `${fmt(t.received[0])} / ${fmt(t.received[1])}`,
              `${per(t.bytesFromBroker[0], t.publishes)} / ${per(t.bytesFromBroker[1], t.publishes)}`,
            ];
          }),
        ));
        out.push("");
      }
    }
    if (cl.latency !== null) {
      const l = cl.latency;
      out.push(
        "### Cross-node latency: one message at a time",
        "",
        `One publisher on node 1; ${
          fmt(l.messages)
        } messages, each sent once the previous one reached both ` +
          "subscribers, one on node 1 and one on node 2. Publish → receive, ms:",
        "",
      );
      out.push(table(["subscriber on", "p50", "p90", "p99", "max"], [
        [
          "node 1 (the publisher's)",
          ms(l.localMs.p50),
          ms(l.localMs.p90),
          ms(l.localMs.p99),
          ms(l.localMs.max),
        ],
        [
          "node 2 (a broker hop)",
          ms(l.remoteMs.p50),
          ms(l.remoteMs.p90),
          ms(l.remoteMs.p99),
          ms(l.remoteMs.max),
        ],
        [
          "difference: the hop",
          ms(l.remoteMs.p50 - l.localMs.p50),
          ms(l.remoteMs.p90 - l.localMs.p90),
          ms(l.remoteMs.p99 - l.localMs.p99),
          "",
        ],
      ]));
      out.push("");
    }
    const t = cl.topics;
    if (t !== null) {
      out.push(
        "### Many topics over two nodes: each node receives what its subscribers hold",
        "",
        `${fmt(t.sessions)} sessions, ${
          fmt(t.sessionsPerNode[0])
        } on each node, each on a topic of its own (so ` +
          "each node's subscribers hold a disjoint half of the topics) and on one shared topic; a publisher on " +
          "each node mixes 1,000 publishes to random own topics of the whole space with 1 to the shared topic, " +
          `in bursts sized so a round lasts about ${r.meta.plan.cluster?.fanout.roundMs ?? 300} ms. The ` +
          `nodes' bindings were all in place ${fmt(t.bindSeconds, 1)} s after the sessions had subscribed ` +
          "(found by sweeps: each publisher publishing once to every topic the other node holds, until a sweep " +
          "arrived whole).",
        "",
      );
      out.push(table(
        [
          "sessions",
          "publishes/s",
          "events/s",
          "events per publish",
          "loaded p50 / p99 ms",
          "node CPU % (node 1 + node 2)",
          "both nodes' CPU µs per publish",
          "CPU µs per delivered event (node 1 / node 2)",
          "broker CPU %",
          "broker CPU µs per publish",
          "generators CPU %",
          "others CPU %",
        ],
        [[
          fmt(t.sessions),
          fmt(t.publishesPerSec),
          fmt(t.eventsPerSec) + (t.complete ? "" : " (incomplete)"),
          fmt(t.events / t.publishes, 1),
          pair(t.loadedLatencyMs),
          `${fmt(t.cpu.node1)} + ${fmt(t.cpu.node2)}`,
          fmt(((t.cpu.node1 + t.cpu.node2) / 100) * t.cpu.seconds * 1e6 / t.publishes, 0),
          `${fmt(t.nodeCpuUsPerEvent[0], 2)} / ${fmt(t.nodeCpuUsPerEvent[1], 2)}`,
          fmt(t.cpu.rabbitmq),
          fmt(t.brokerCpuUsPerPublish, 1),
          fmt(t.cpu.generators),
          fmt(t.cpu.other),
        ]],
      ));
      const b = t.inbound;
      out.push(
        "",
        `Inbound backbone messages over all the trials (${fmt(b.seconds, 1)} s, ${
          fmt(b.clusterPublishes)
        } publishes in the cluster):`,
        "",
      );
      out.push(table(
        [
          "node",
          "publishes by its publisher",
          "the other node's publishes on topics its subscribers hold",
          "received_total delta",
          "difference (heartbeats, 1 a second)",
          "share of the cluster's publishes received",
          "its own publishes on topics it holds (sent back by the broker, dropped uncounted)",
          "bytes from the broker ÷ (received + sent back)",
        ],
        [0, 1].map((i) => [
          `node ${i + 1}`,
          fmt(b.publishesByNode[i]),
          fmt(b.expected[i]),
          fmt(b.received[i]),
          fmt(b.other[i]),
          `${((100 * b.received[i]) / b.clusterPublishes).toFixed(1)}%`,
          fmt(b.ownOnHeldTopics[i]),
          b.bytesFromBroker[i] === null
            ? "–"
            : fmt(b.bytesFromBroker[i]! / (b.received[i] + b.ownOnHeldTopics[i])),
        ]),
      ));
      out.push(
        "",
        b.match
          ? "**Match**: each node received exactly the other node's publishes on topics its subscribers hold, plus " +
            "heartbeats, and far from every publish of the cluster."
          : "**Mismatch**: a node's inbound messages differ from the publishes on topics its subscribers hold " +
            "(see the notes).",
        "",
      );
    }
    const proj = projections(r);
    if (proj.length > 0) {
      out.push(
        "### Projection to more cores",
        "",
        "Here the generators, which receive every event, share the two cores with the nodes and the broker, so " +
          "two nodes cannot show their gain in events/s. From CPU per event instead, with the generators " +
          "elsewhere and one node per core (c₀: one node's CPU µs per delivered event; c₁, c₂: node 1's and node " +
          "2's with N/2 subscribers each; b: the broker's CPU µs per publish with two nodes, each publish routed " +
          "to both nodes' queues, taken as twice its CPU per publish in the many-topics run, where each publish " +
          "goes to one queue at thousands a second (the fan-out's own figure, from few publishes, is too coarse); " +
          "b·k/2 for k nodes; a node's JavaScript runs on one core):",
        "",
        `\`${PROJECTION_FORMULA}\`.`,
        "",
        "Per-event costs were measured with N/2 subscribers per node; with more nodes each holds fewer, which " +
          "costs less per event (section 1), so the projection errs low. Events/s, per core in parentheses, and " +
          "× one node:",
        "",
      );
      out.push(table(
        [
          "N",
          "c₀ / c₁ / c₂ / b µs",
          "1 node (1 core)",
          ...PROJECTED_CORES.map((c) => `${c} nodes on ${c} cores`),
          "measured here: 2 nodes ÷ 1 node",
        ],
        proj.map((p) => {
          const row = cl.fanout.find((x) => x.n === p.n);
          const one = cl.oneNode.find((x) => x.n === p.n);
          return [
            fmt(p.n),
            `${fmt(p.oneNodeCpuUsPerEvent, 2)} / ${fmt(p.nodeCpuUsPerEvent[0], 2)} / ${
              fmt(p.nodeCpuUsPerEvent[1], 2)
            } / ${fmt(p.brokerCpuUsPerPublish, 1)}`,
            fmt(p.oneNodeEventsPerSec),
            ...p.cores.map((c) =>
              `${fmt(c.eventsPerSec)} (${fmt(c.perCore)}/core, ${c.vsOneNode.toFixed(2)}×${
                c.bound === "node core" ? ", node-bound" : ""
              })`
            ),
            row && one ? `${(row.eventsPerSec / one.eventsPerSec).toFixed(2)}×` : "–",
          ];
        }),
      ));
      out.push("");
    }
  }

  if (r.profiles.length > 0) {
    out.push("## Profiles", "");
    for (const p of r.profiles) {
      out.push(
        `### ${p.label}`,
        "",
        `\`deno run --cpu-prof\` on the server over its whole life (start, connections, warm-up and the ` +
          `measured load; ${p.file}, git-ignored): ${fmt(p.totalMs)} ms sampled, ${
            fmt(p.busyMs)
          } ms with V8 busy, ` +
          `while the process used ${
            fmt(p.processCpuMs)
          } ms of CPU. The rest is the runtime's Rust side (each ` +
          "WebSocket frame write is a task on the same thread, outside JS) and the kernel's TCP work; V8 calls " +
          "that time *(idle)*. Percentages are of the busy time. Summarise any profile with " +
          "`deno run -A bench/profile.ts FILE`.",
        "",
      );
      out.push(
        table(
          ["% of busy", "self ms", "function (file:line)"],
          p.topFunctions.map((e) => [e.busyPct, e.selfMs, e.fn]),
        ),
      );
      out.push("", "By source:", "");
      out.push(table(["% of busy", "self ms", "source"], p.bySource.map((e) => [e.busyPct, e.selfMs, e.fn])));
      out.push("");
    }
  }

  if (analysis !== null) {
    out.push(analysis.trim(), "");
  }

  out.push("## Notes from this run", "");
  out.push(
    r.notes.length === 0
      ? "None: every step ran and every subscriber connected."
      : r.notes.map((n) => `- ${n}`).join("\n"),
  );
  out.push(
    "",
    `Servers: ${Object.values(LABELS).join(", ")}. Logs of every process of the last run: \`.bench/logs/\`.`,
    "",
  );
  return out.join("\n");
}

/** Writes the report (and formats it and the results file with `deno fmt`). */
export async function writeReport(r: Results, file: URL): Promise<void> {
  let analysis: string | null = null;
  try {
    analysis = Deno.readTextFileSync(new URL("../analysis.md", import.meta.url));
  } catch {
    // no reading written yet
  }
  Deno.writeTextFileSync(file, renderReport(r, analysis));
  const root = new URL("../../", import.meta.url).pathname;
  const targets = [file.pathname, new URL("../results.json", import.meta.url).pathname].filter((f) =>
    !f.includes("/.bench/")
  );
  if (targets.length === 0) return;
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", ...targets],
    cwd: root,
    stdout: "null",
    stderr: "null",
  })
    .output();
}

/** At the largest K measured, Tuerca's server CPU per call (network callee) less twice the echo's per echo, µs. */
function routerShare(rows: Results["rpc"]): { k: number; us: number } | null {
  let best: { k: number; us: number } | null = null;
  for (const t of rows) {
    if (t.server !== "tuerca" || !t.label.includes("network") || (best !== null && t.k <= best.k)) continue;
    const echo = rows.find((b) => b.server === "bare" && b.k === t.k);
    if (echo !== undefined) best = { k: t.k, us: t.serverCpuUsPerCall - 2 * echo.serverCpuUsPerCall };
  }
  return best;
}
