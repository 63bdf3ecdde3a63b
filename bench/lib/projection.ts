/**
 * What the cluster's fan-out would give on more cores, from CPU per event.
 *
 * On the 2-core benchmark machine the generators (which receive every event) take
 * about as much CPU as the servers, so two nodes cannot show their gain in
 * events/s there. The projection uses what each process spends instead, and
 * assumes the load generators run elsewhere:
 *
 * - c₀: one Tuerca node's CPU µs per delivered event (fan-out to N on one node);
 * - c₁, c₂: the publisher's node's and the other node's CPU µs per event each
 *   delivered, with N/2 subscribers on each of two nodes;
 * - b: the broker's (beam.smp) CPU µs per published event with two nodes (each
 *   publish routed to both nodes' queues), taken to grow with the copies it
 *   routes: b·k/2 with k nodes (the report takes b as twice the broker's CPU per
 *   publish of the many-topics run, where each publish goes to one queue);
 * - a node runs its JavaScript on one core, so it delivers at most 10⁶/cᵢ events/s.
 *
 * One node, whatever the cores: E₁ = 10⁶ / c₀ events/s (one core).
 *
 * k nodes on C cores (k = C, one node a core, the broker on the same cores, the
 * subscribers spread evenly, the publisher on node 1; each node delivers E/k):
 *
 *   E(C) = min( k · 10⁶ / max(c₁, c₂),  C · 10⁶ / (c̄ₖ + b·k / (2N)) ),  c̄ₖ = (c₁ + (k−1)·c₂) / k
 *
 * The first bound: no node past its core. The second: all the nodes' and the
 * broker's work within C cores. Per-event costs are those measured with N/2
 * subscribers per node; with more nodes each has fewer, which costs less per
 * event (section 1), so the projection errs low.
 *
 * @module
 */

/** The inputs of one projection (µs). */
export interface ProjectionInput {
  n: number;
  oneNodeCpuUsPerEvent: number;
  nodeCpuUsPerEvent: number[];
  brokerCpuUsPerPublish: number;
}

/** One core count's projection. */
export interface ProjectedCores {
  cores: number;
  nodes: number;
  eventsPerSec: number;
  /** eventsPerSec ÷ cores. */
  perCore: number;
  /** eventsPerSec ÷ one node's events/s (on its one core). */
  vsOneNode: number;
  /** Which bound holds: each node's core, or the cores shared with the broker. */
  bound: "node core" | "cores";
}

/** A fan-out projection at one N. */
export interface Projection extends ProjectionInput {
  oneNodeEventsPerSec: number;
  cores: ProjectedCores[];
}

/** The core counts projected. */
export const PROJECTED_CORES = [2, 4, 8] as const;

/** The formula, as the report states it. */
export const PROJECTION_FORMULA =
  "E(C) = min(k·10⁶ / max(c₁, c₂), C·10⁶ / (c̄ₖ + b·k/(2N))) with k = C nodes, " +
  "c̄ₖ = (c₁ + (k−1)·c₂)/k; one node: E₁ = 10⁶ / c₀";

/** Projects k = C nodes on C cores for each of {@link PROJECTED_CORES}; null when an input is missing. */
export function project(input: ProjectionInput): Projection | null {
  const { n, oneNodeCpuUsPerEvent: c0, brokerCpuUsPerPublish: b } = input;
  const [c1, c2] = input.nodeCpuUsPerEvent;
  if (![c0, c1, c2, b].every((x) => Number.isFinite(x) && x >= 0) || c0 <= 0 || c1 <= 0 || c2 <= 0) {
    return null;
  }
  const one = 1e6 / c0;
  const cores = PROJECTED_CORES.map((C) => {
    const k = C;
    const perNode = (k * 1e6) / Math.max(c1, c2);
    const mean = (c1 + (k - 1) * c2) / k;
    const shared = (C * 1e6) / (mean + (b * k) / (2 * n));
    const e = Math.min(perNode, shared);
    return {
      cores: C,
      nodes: k,
      eventsPerSec: Math.round(e),
      perCore: Math.round(e / C),
      vsOneNode: Math.round((100 * e) / one) / 100,
      bound: perNode <= shared ? "node core" as const : "cores" as const,
    };
  });
  return { ...input, oneNodeEventsPerSec: Math.round(one), cores };
}
