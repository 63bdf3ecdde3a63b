/**
 * The shape of a benchmark run's results (bench/results.json) and of its plan:
 * shared by the runner (bench/run.ts), which fills them, and the report
 * (bench/lib/report.ts), which reads them.
 *
 * @module
 */

import type { ClusterPlan, ClusterResults } from "../cluster.ts";
import type { ProfileSummary } from "../profile.ts";
import type { FanoutOptions, FanoutRow, IdleRow, ManyTopicsRow, QueueRow, RpcRow } from "../scenarios.ts";
import type { machineInfo } from "./procfs.ts";

/** One target of the issue, checked against a run. */
export interface Verdict {
  target: string;
  goal: string;
  measured: string;
  /** true met, false missed, null not measured. */
  met: boolean | null;
  /** How far from the goal, when missed. */
  gap: string;
}

/** Everything a run measured; bench/results.json. */
export interface Results {
  meta: {
    date: string;
    command: string;
    mode: "full" | "quick";
    machine: Awaited<ReturnType<typeof machineInfo>>;
    seconds: number;
    /** Where the results were written, relative to the repository. */
    resultsFile: string;
    loadAverageStart: number;
    loadAverageEnd: number;
    plan: Plan;
  };
  fanout: FanoutRow[];
  manyTopics: ManyTopicsRow[];
  rpc: RpcRow[];
  /**
   * Tuerca's fan-out and RPC (network callee) with the clients speaking each WAMP
   * serializer, plain JSON first (absent in older results).
   */
  serializers?: SerializerResults;
  queue: QueueRow[];
  idle: IdleRow[];
  /** Two Tuerca nodes as one router through the private RabbitMQ node (absent in older results). */
  cluster?: ClusterResults;
  profiles: (ProfileSummary & {
    label: string;
    events?: number;
    seconds?: number;
    /** CPU time of the whole server process over its life (JS, the runtime's Rust side, the kernel). */
    processCpuMs?: number;
  })[];
  /** Each target of the issue with its verdict (derived from the figures above). */
  targets: Verdict[];
  notes: string[];
}

/** The per-serializer rows. */
export interface SerializerResults {
  fanout: FanoutRow[];
  rpc: RpcRow[];
  /**
   * Whether the plain JSON rows are Tuerca's rows of the fan-out and RPC scenarios
   * of the same run (same settings), rather than measured again in this section.
   */
  jsonFromMainRows?: { fanout: boolean; rpc: boolean };
}

/** What a run does; the two modes differ only here. */
export interface Plan {
  fanoutNs: number[];
  fanout: FanoutOptions;
  manyTopicsSessions: number;
  /** Measured time of each many-topics trial (trials as for fan-out). */
  manyTopicsMs: number;
  rpcKs: number[];
  /** Measured time per K, split over `rpcTrials` trials. */
  rpcMs: number;
  rpcTrials: number;
  queueMessages: number;
  queueRate: number;
  queuePacedSeconds: number;
  idleNs: number[];
  /** Fan-out N and RPC K of the per-serializer rows (the fan-out and RPC settings as above). */
  serializerFanoutNs: number[];
  serializerRpcKs: number[];
  profileN: number;
  /** Time for RabbitMQ's fan-out steps (its connections are slow to open). */
  rabbitFanoutBudgetMs: number;
  /** The cluster section (absent in older results). */
  cluster?: ClusterPlan;
  /** Time for the cluster's fan-out steps. */
  clusterFanoutBudgetMs?: number;
  budgetMs: number;
}
