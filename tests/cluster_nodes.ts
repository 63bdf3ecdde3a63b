/**
 * Cluster nodes for the tests: real push.ts / chat.ts processes started with
 * `--cluster NAME` against the machine's RabbitMQ, each on a port of its own.
 *
 * ```ts
 * clusterTest("cluster: something", async () => {
 *   await withCluster(3, { cluster: uniqueCluster("something") }, async ([a, b, c]) => {
 *     // a.wsUrl, b.wsUrl, c.wsUrl: three nodes that see each other
 *   });
 * });
 * ```
 *
 * Every process a test starts must end in a `finally` block: {@link withCluster}
 * does it; with {@link startNode} or {@link startCluster}, call
 * {@link NodeProcess.dispose} (or {@link disposeAll}). A cluster's exchanges are
 * auto-delete; {@link withCluster} still deletes any left behind (housekeeping,
 * also available as {@link deleteClusterExchanges}).
 *
 * @module
 */

import { Child, EXIT_MS, START_MS } from "./child.ts";
import { eventually, within } from "./helpers.ts";
import { bridgeTest, MANAGEMENT_URL, STOMP_URL } from "./rabbitmq.ts";

/** Bound for the nodes of a cluster to hear of each other (heartbeats are 1 s apart). */
export const PEERS_MS = 15_000;

/** A cluster node's `/healthz`, the parts the tests read (the rest as the server sends it). */
export interface NodeHealth {
  status: string;
  pid: number;
  cluster: {
    state: "connected" | "waiting" | "off";
    name: string;
    node: string;
    /** The other nodes this one hears from, by id. */
    nodes: string[];
  };
  [key: string]: unknown;
}

/** How to start one node. */
export interface NodeOptions {
  /** The cluster to join (see {@link uniqueCluster}). */
  cluster: string;
  /** Which entry point; default `push`. */
  app?: "push" | "chat";
  /**
   * More arguments for the entry point, after `--port 0 --cluster NAME`. A push node
   * gets `--no-bridge` unless these name a queue (`--queue NAME`).
   */
  args?: string[];
  /**
   * Added to the environment. `STOMP_URL` is the machine's broker
   * (`stomp://guest:guest@127.0.0.1:61613`, so the cluster speaks AMQP to :5672) unless given here.
   */
  env?: Record<string, string>;
}

/** A running node. */
export interface NodeProcess {
  /** Its HTTP and WebSocket port. */
  readonly port: number;
  /** `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/ws`. */
  readonly wsUrl: string;
  /** Its process id. */
  readonly pid: number;
  /** Its cluster node id, as its `/healthz` names it. */
  readonly node: string;
  /** The process (stdout lines, stderr, status). */
  readonly child: Child;
  /** `GET /healthz`, parsed. */
  health(): Promise<NodeHealth>;
  /**
   * Sends `signal` (default SIGKILL) and returns at once; `SIGSTOP` / `SIGCONT`
   * silence a node without ending it. A process that already exited is fine.
   */
  kill(signal?: Deno.Signal): void;
  /**
   * Stops the node as an operator would: SIGTERM (SIGCONT first, in case it was
   * stopped), waits up to `ms` for it to exit, then SIGKILLs it. Drains its pipes
   * and returns the exit status. Idempotent.
   */
  stop(ms?: number): Promise<Deno.CommandStatus>;
  /** SIGKILLs the node if it still runs and drains its pipes. Idempotent; for `finally` blocks. */
  dispose(): Promise<void>;
}

/** A cluster name of its own for one test: `t_<prefix>_<8 hex digits>`. */
export function uniqueCluster(prefix: string): string {
  const safe = prefix.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40);
  return `t_${safe}_${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Registers a test that needs the machine's RabbitMQ (AMQP, STOMP, management).
 * Without it the test is ignored with one line saying why, or, with `CI=true`,
 * fails with that line (see `bridgeTest` in tests/rabbitmq.ts). Deno's sanitizers
 * stay on.
 */
export function clusterTest(name: string, fn: () => Promise<void>): void {
  bridgeTest(name, fn);
}

/** `GET url/healthz`, parsed, within a few seconds. */
export async function healthOf(url: string): Promise<NodeHealth> {
  const res = await fetch(`${url}healthz`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${url}healthz: HTTP ${res.status}`);
  }
  return await res.json() as NodeHealth;
}

/**
 * `GET /healthz` on a new TCP connection, so that with `--reuse-port` the kernel
 * picks which process answers (fetch would reuse a kept-alive connection).
 */
export async function healthOnNewConnection(port: number): Promise<NodeHealth> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const text = await within(new Response(conn.readable).text(), "a /healthz answer");
  return JSON.parse(text.slice(text.indexOf("{"))) as NodeHealth;
}

/**
 * Starts a node and waits (up to `ms`) until it listens and its `/healthz` says
 * the cluster is `connected`.
 * @throws {Error} when it exits, or does not connect in time (the process is killed then; the message holds its output)
 */
export async function startNode(options: NodeOptions, ms = START_MS): Promise<NodeProcess> {
  const app = options.app ?? "push";
  const extra = options.args ?? [];
  const bridge = app === "push" && !extra.some((a) => a === "--queue" || a.startsWith("--queue="))
    ? ["--no-bridge"]
    : [];
  const child = new Child(
    `${app}.ts`,
    ["--port", "0", "--cluster", options.cluster, ...bridge, ...extra],
    { STOMP_URL, ...options.env },
    { permissions: ["--allow-all"], denoFlags: ["--unstable-net"] },
  );
  try {
    const deadline = Date.now() + ms;
    const m = await child.lineMatching(
      /open http:\/\/127\.0\.0\.1:(\d+)\//,
      `the start-up line of a ${app} node of ${options.cluster}`,
      ms,
    );
    const port = Number(m[1]);
    const url = `http://127.0.0.1:${port}/`;
    let health: NodeHealth | undefined;
    while (health?.cluster?.state !== "connected") {
      if (Date.now() > deadline) {
        throw new Error(
          `the node on port ${port} did not connect to its cluster within ${ms} ms: ${
            JSON.stringify(health)
          }; ` +
            `stderr: ${await child.stderrSoFar()}`,
        );
      }
      if (health !== undefined) await new Promise((r) => setTimeout(r, 50));
      health = await healthOf(url);
    }
    return nodeProcess(child, port, health.cluster.node);
  } catch (e) {
    await child.dispose();
    throw e;
  }
}

function nodeProcess(child: Child, port: number, node: string): NodeProcess {
  const url = `http://127.0.0.1:${port}/`;
  let stopping: Promise<Deno.CommandStatus> | undefined;
  const signal = (s: Deno.Signal) => {
    try {
      child.process.kill(s);
    } catch {
      // Already exited.
    }
  };
  return {
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pid: child.pid,
    node,
    child,
    health: () => healthOf(url),
    kill: (s: Deno.Signal = "SIGKILL") => signal(s),
    stop(ms = EXIT_MS) {
      stopping ??= (async () => {
        signal("SIGCONT");
        signal("SIGTERM");
        try {
          await within(child.process.status, `node ${node} to exit on SIGTERM`, ms);
        } catch {
          // It did not stop in time: dispose() kills it.
        }
        await child.dispose();
        return await child.process.status;
      })();
      return stopping;
    },
    dispose: () => child.dispose(),
  };
}

/**
 * Waits (up to `ms`) until each of `nodes` is connected and hears from exactly
 * `n - 1` other nodes; when `n` is `nodes.length`, they must be each other.
 * (After a node is killed, `waitForPeers(survivors, survivors.length)` waits for
 * the survivors to give it up.)
 */
export async function waitForPeers(nodes: readonly NodeProcess[], n: number, ms = PEERS_MS): Promise<void> {
  const ids = nodes.map((x) => x.node);
  const ok = (self: NodeProcess, h: NodeHealth) => {
    if (h.cluster?.state !== "connected" || h.cluster.nodes.length !== n - 1) return false;
    if (n !== nodes.length) return true;
    const others = ids.filter((id) => id !== self.node).sort();
    return JSON.stringify([...h.cluster.nodes].sort()) === JSON.stringify(others);
  };
  let last: NodeHealth[] = [];
  await eventually(
    async () => {
      last = await Promise.all(nodes.map((x) => x.health()));
      return nodes.every((x, i) => ok(x, last[i]));
    },
    () =>
      `${nodes.length} node(s) to hear of ${n - 1} other(s): ${JSON.stringify(last.map((h) => h.cluster))}`,
    ms,
    100,
  );
}

/**
 * Starts `n` nodes of one cluster in parallel and waits (bounded) until each one's
 * `/healthz` lists the other `n - 1`. When anything fails, the nodes started are
 * killed before the error is thrown; otherwise the caller disposes of them.
 */
export async function startCluster(n: number, options: NodeOptions): Promise<NodeProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => startNode(options)));
  const nodes = started.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  try {
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    await waitForPeers(nodes, n);
    return nodes;
  } catch (e) {
    await disposeAll(nodes);
    throw e;
  }
}

/** SIGKILLs every node still running and drains their pipes. */
export async function disposeAll(nodes: readonly NodeProcess[]): Promise<void> {
  await Promise.all(nodes.map((x) => x.dispose()));
}

/**
 * Deletes what cluster `name` may leave on the broker once its nodes are gone:
 * its exchanges (auto-delete, but a SIGKILLed node's may linger until the broker
 * notices) and its history streams (durable: the default store of a cluster's
 * apps). Through the management API; what does not exist is fine.
 */
export async function deleteClusterLeftovers(name: string): Promise<void> {
  const auth = { authorization: `Basic ${btoa("guest:guest")}` };
  for (const kind of ["exchanges", "queues"] as const) {
    const res = await fetch(`${MANAGEMENT_URL}/api/${kind}/%2F?columns=name`, {
      headers: auth,
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`listing ${kind}: HTTP ${res.status}`);
    }
    const mine = ((await res.json()) as { name: string }[])
      .map((x) => x.name)
      .filter((x) => x.startsWith(`tuerca.${name}.`));
    for (const item of mine) {
      const del = await fetch(`${MANAGEMENT_URL}/api/${kind}/%2F/${encodeURIComponent(item)}`, {
        method: "DELETE",
        headers: auth,
        signal: AbortSignal.timeout(10_000),
      });
      await del.body?.cancel();
      if (!del.ok && del.status !== 404) throw new Error(`deleting ${item}: HTTP ${del.status}`);
    }
  }
}

/**
 * Runs `fn` with `n` nodes of `options.cluster` that hear of each other, then
 * always kills them and deletes what the cluster left on the broker.
 */
export async function withCluster(
  n: number,
  options: NodeOptions,
  fn: (nodes: NodeProcess[]) => Promise<void>,
): Promise<void> {
  const nodes = await startCluster(n, options);
  try {
    await fn(nodes);
  } finally {
    await disposeAll(nodes);
    // Housekeeping only: a broker hiccup here must not hide the test's own outcome.
    await deleteClusterLeftovers(options.cluster).catch(() => {});
  }
}
