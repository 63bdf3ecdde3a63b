/**
 * `GET /metrics` in the Prometheus text exposition format (version 0.0.4), and
 * `GET /healthz` / `GET /readyz`.
 *
 * The exposition is written by hand from the counters the router, its realms,
 * the WebSocket endpoint and the bridge already keep as plain numbers: nothing
 * is counted per delivered event (the broker adds up a publish's deliveries
 * once), and rendering happens only when scraped. A client library would add a
 * label lookup to every increment on the hot paths for the same text.
 *
 * @module
 */

import type { QueueBridge } from "../bridge/queue_bridge.ts";
import type { Cluster } from "../cluster/cluster.ts";
import { MessageType } from "../protocol/constants.ts";
import type { Router } from "../router.ts";
import { DURATION_BOUNDS, Histogram } from "../stats/histogram.ts";
import type { EndpointCounters } from "../transport/websocket.ts";

/** What the operations endpoints read: the running server's parts. */
export interface ServerView {
  /** The router, its realms and its counters. */
  readonly router: Router;
  /** The WebSocket endpoint's counters. */
  readonly endpoint: { readonly counters: EndpointCounters };
  /** The queue bridge, when the app runs one. */
  readonly bridge: QueueBridge | null;
  /** The node's cluster membership, when it runs in one. */
  readonly cluster: Cluster | null;
  /** Whether the server listens (false before, and once it stopped). */
  readonly listening: boolean;
}

const TYPE_NAMES = new Map<number, string>(
  Object.entries(MessageType).filter(([, code]) => code <= 70).map(([name, code]) => [code, name]),
);
TYPE_NAMES.set(0, "V1_PREFIX");

/** Sessions in every realm, by the protocol they speak (`local` for the server's own). */
export function sessionsByProtocol(router: Router): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const realm of router.realms()) {
    for (const s of realm.sessions()) counts[s.protocol] = (counts[s.protocol] ?? 0) + 1;
  }
  return counts;
}

/** The bridge's state for `/healthz`: connected, waiting for the broker, or off. */
function bridgeState(bridge: QueueBridge | null): { state: string; broker?: string } {
  if (bridge === null) return { state: "off" };
  return { state: bridge.connected ? "connected" : "waiting", broker: bridge.target.display };
}

/** `GET /healthz`: 200 while serving, 503 once the server is shutting down; JSON either way. */
export function healthz(view: ServerView): Response {
  const draining = view.router.closing || !view.listening;
  const body = {
    status: draining ? "draining" : "ok",
    // Which process answered: with --reuse-port several share one port.
    pid: Deno.pid,
    uptime_s: Math.round((Date.now() - view.router.startedAt) / 1000),
    sessions: sessionsByProtocol(view.router),
    bridge: bridgeState(view.bridge),
    cluster: clusterState(view.cluster),
    draining,
  };
  return json(body, draining ? 503 : 200);
}

/** The cluster's state for `/healthz`: off, or this node, whether it is connected, and the others. */
function clusterState(cluster: Cluster | null): Record<string, unknown> {
  if (cluster === null) return { state: "off" };
  const s = cluster.status();
  return { state: s.connected ? "connected" : "waiting", name: s.name, node: s.node, nodes: s.nodes };
}

/**
 * `GET /readyz`: 503 until the server listens and, with a cluster, its backbone
 * has connected once and, with a bridge, it has subscribed once; 200 after.
 */
export function readyz(view: ServerView): Response {
  const bridgeReady = view.bridge === null || view.bridge.stats.connections > 0;
  const clusterReady = view.cluster === null || view.cluster.counters.connects > 0;
  const ready = view.listening && !view.router.closing && bridgeReady && clusterReady;
  const why = !view.listening || view.router.closing
    ? "not serving"
    : !clusterReady
    ? "waiting for the cluster backbone"
    : bridgeReady
    ? "ready"
    : "waiting for the queue bridge";
  return json({ ready, status: why }, ready ? 200 : 503);
}

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** Writes the exposition text: `# HELP`, `# TYPE` and samples, one family at a time. */
class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): this {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels: Record<string, string> = {}): this {
    const keys = Object.keys(labels);
    const set = keys.length === 0 ? "" : `{${keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(",")}}`;
    this.#lines.push(`${name}${set} ${Number.isFinite(value) ? value : 0}`);
    return this;
  }

  histogram(name: string, h: Histogram): this {
    let cumulative = 0;
    h.bounds.forEach((bound, i) => {
      cumulative += h.counts[i];
      this.sample(`${name}_bucket`, cumulative, { le: String(bound) });
    });
    this.sample(`${name}_bucket`, h.count, { le: "+Inf" });
    this.sample(`${name}_sum`, h.sum);
    return this.sample(`${name}_count`, h.count);
  }

  toString(): string {
    return this.#lines.join("\n") + "\n";
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** The cluster's families: the backbone connection, the other nodes, and the traffic. */
function clusterMetrics(out: Exposition, cluster: Cluster): void {
  const status = cluster.status();
  out.family("tuerca_cluster_connected", "gauge", "1 while the cluster backbone is connected.");
  out.sample("tuerca_cluster_connected", status.connected ? 1 : 0);
  out.family("tuerca_cluster_nodes", "gauge", "Other nodes of the cluster heard from.");
  out.sample("tuerca_cluster_nodes", status.nodes.length);
  const c = cluster.counters;
  for (
    const [name, value, help] of [
      ["sent", c.sent, "Messages published to the backbone."],
      ["relayed", cluster.relayed, "Publishes sent to the other nodes (meta events only when one watches)."],
      ["received", c.received, "Messages received from other nodes."],
      ["malformed", c.malformed, "Backbone messages dropped as malformed."],
      ["unsent", c.unsent, "Messages not sent while the backbone was down."],
      ["nodes_lost", c.nodesLost, "Nodes declared lost for missing heartbeats."],
      ["connects", c.connects, "Backbone connections made."],
      ["conflicts", cluster.conflicts, "Registrations another node held at the same moment (single)."],
    ] as const
  ) {
    out.family(`tuerca_cluster_${name}_total`, "counter", help).sample(`tuerca_cluster_${name}_total`, value);
  }
}

/** The whole `/metrics` text. */
export function renderMetrics(view: ServerView): string {
  const { router, endpoint, bridge } = view;
  const c = router.counters;
  const out = new Exposition();

  out.family("tuerca_sessions", "gauge", "Sessions in the realms, by protocol (local: the server's own).");
  for (const [protocol, n] of Object.entries(sessionsByProtocol(router))) {
    out.sample("tuerca_sessions", n, { protocol });
  }
  out.family("tuerca_connections_open", "gauge", "WebSocket connections open.");
  out.sample("tuerca_connections_open", endpoint.counters.open);
  out.family("tuerca_sessions_opened_total", "counter", "WebSocket sessions opened, by subprotocol.");
  for (const [protocol, n] of c.sessionsOpened.entries()) {
    out.sample("tuerca_sessions_opened_total", n, { protocol });
  }
  out.family(
    "tuerca_sessions_closed_total",
    "counter",
    "WebSocket sessions closed, by subprotocol and reason.",
  );
  for (const [key, n] of c.sessionsClosed.entries()) {
    const [protocol, reason] = key.split(" ");
    out.sample("tuerca_sessions_closed_total", n, { protocol, reason });
  }

  out.family("tuerca_messages_received_total", "counter", "WAMP messages received, by type.");
  c.messagesIn.forEach((n, code) => {
    if (n > 0) {
      out.sample("tuerca_messages_received_total", n, { type: TYPE_NAMES.get(code) ?? String(code) });
    }
  });
  let events = 0;
  let publishes = 0;
  for (const realm of router.realms()) {
    events += realm.broker.counters.events;
    publishes += realm.broker.counters.publishes;
  }
  out.family("tuerca_messages_sent_total", "counter", "WAMP messages sent, by type (EVENTs as delivered).");
  c.messagesOut.forEach((n, code) => {
    if (n > 0) out.sample("tuerca_messages_sent_total", n, { type: TYPE_NAMES.get(code) ?? String(code) });
  });
  out.sample("tuerca_messages_sent_total", events, { type: "EVENT" });
  out.family("tuerca_publishes_total", "counter", "Publishes routed (from sessions, apps and the bridge).");
  out.sample("tuerca_publishes_total", publishes);
  out.family("tuerca_events_delivered_total", "counter", "Events delivered to subscribers.");
  out.sample("tuerca_events_delivered_total", events);

  out.family("tuerca_calls_total", "counter", "Routed calls, by how they ended.");
  for (const realm of router.realms()) {
    for (const [outcome, n] of Object.entries(realm.dealer.counters.calls)) {
      out.sample("tuerca_calls_total", n, { realm: realm.name, outcome });
    }
  }
  out.family("tuerca_call_duration_seconds", "histogram", "Seconds from CALL to the final answer.");
  // One histogram for the process: realms are few, and their buckets are the same.
  const durations = [...router.realms()].map((r) => r.dealer.counters.duration);
  out.histogram("tuerca_call_duration_seconds", Histogram.sum(DURATION_BOUNDS, durations));

  out.family("tuerca_errors_total", "counter", "ERROR and ABORT answers, by error URI.");
  for (const [uri, n] of c.errors.entries()) out.sample("tuerca_errors_total", n, { uri });
  out.family("tuerca_authorization_denials_total", "counter", "Requests a role's permissions refused.");
  out.sample("tuerca_authorization_denials_total", c.notAuthorized);
  out.family("tuerca_authentication_failures_total", "counter", "Failed authentications, by method.");
  for (const [method, n] of c.authFailures.entries()) {
    out.sample("tuerca_authentication_failures_total", n, { method });
  }
  out.family("tuerca_origin_refusals_total", "counter", "WebSocket upgrades refused for their Origin.");
  out.sample("tuerca_origin_refusals_total", endpoint.counters.originRefused);
  out.family(
    "tuerca_connection_refusals_total",
    "counter",
    "WebSocket upgrades refused at the connection cap.",
  );
  out.sample("tuerca_connection_refusals_total", endpoint.counters.fullRefused);
  out.family("tuerca_quota_hits_total", "counter", "Requests refused by a per-session quota or the rate.");
  out.sample("tuerca_quota_hits_total", c.quotaExceeded, { kind: "quota" });
  out.sample("tuerca_quota_hits_total", c.rateLimited, { kind: "rate" });
  out.family("tuerca_slow_consumer_closes_total", "counter", "Connections closed for not reading.");
  out.sample("tuerca_slow_consumer_closes_total", endpoint.counters.slowConsumers);
  out.family("tuerca_v1_dropped_total", "counter", "v1 SUBSCRIBE and PUBLISH dropped (v1 has no error).");
  out.sample("tuerca_v1_dropped_total", c.v1Dropped);

  if (bridge !== null) {
    const s = bridge.stats;
    out.family("tuerca_bridge_connected", "gauge", "1 while the queue bridge is connected and subscribed.");
    out.sample("tuerca_bridge_connected", bridge.connected ? 1 : 0);
    for (
      const [name, value, help] of [
        ["consumed", s.consumed, "Messages received from the queue."],
        ["acked", s.acked, "Messages acknowledged to the broker."],
        ["routed", s.routed, "Messages published into the router."],
        ["rejected", s.rejected, "Messages moved to the reject queue."],
        ["redelivered", s.redelivered, "Deliveries the broker flagged redelivered."],
        ["reconnects", Math.max(0, s.connections - 1), "Connections to the broker after the first."],
      ] as const
    ) {
      out.family(`tuerca_bridge_${name}_total`, "counter", help).sample(`tuerca_bridge_${name}_total`, value);
    }
  }

  if (view.cluster !== null) clusterMetrics(out, view.cluster);

  out.family("tuerca_history_events_stored_total", "counter", "Events added to a topic's history.");
  for (const r of router.realms()) {
    out.sample("tuerca_history_events_stored_total", r.broker.store?.counters.stored ?? 0, { realm: r.name });
  }
  out.family("tuerca_history_events_evicted_total", "counter", "History events dropped, by why.");
  for (const r of router.realms()) {
    const h = r.broker.store?.counters;
    out.sample("tuerca_history_events_evicted_total", h?.expired ?? 0, { realm: r.name, why: "bound" });
    out.sample("tuerca_history_events_evicted_total", h?.evicted ?? 0, { realm: r.name, why: "total" });
  }
  out.family("tuerca_history_bytes", "gauge", "Bytes the histories hold.");
  for (const r of router.realms()) {
    out.sample("tuerca_history_bytes", r.broker.store?.bytes ?? 0, { realm: r.name });
  }

  const mem = Deno.memoryUsage();
  out.family("tuerca_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
  out.sample("tuerca_process_resident_memory_bytes", mem.rss);
  out.family("tuerca_process_heap_used_bytes", "gauge", "JavaScript heap in use.");
  out.sample("tuerca_process_heap_used_bytes", mem.heapUsed);
  out.family("tuerca_uptime_seconds", "gauge", "Seconds since the router started.");
  out.sample("tuerca_uptime_seconds", Math.round((Date.now() - router.startedAt) / 1000));
  return out.toString();
}

/** `GET /metrics`. */
export function metrics(view: ServerView): Response {
  return new Response(renderMetrics(view), {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" },
  });
}
