/**
 * A private RabbitMQ node for tests that must stop or restart a broker: its own
 * node name, its own loopback ports (AMQP, STOMP, management, Erlang
 * distribution), its own data, log and config files in a temporary directory, and
 * its own plugin list. The machine's shared broker is never touched: no
 * `rabbitmq-plugins`, no `rabbitmqctl` without `-n <this node>`, and the node's
 * Erlang cookie lives in its own directory.
 *
 * Needs the `rabbitmq-server` scripts (Debian's `/usr/lib/rabbitmq/bin`, or a
 * non-wrapper `rabbitmq-server` on PATH) runnable by the test user. It has no
 * import-time side effects, so the benchmark can use it too.
 *
 * @module
 */

/** What {@link startPrivateRabbit} may be told. */
export interface PrivateRabbitOptions {
  /**
   * Plugins to enable on this node only (default `rabbitmq_stomp`). With
   * `rabbitmq_management` the node also gets a management port of its own, but
   * stops about 5 s slower.
   */
  plugins?: string[];
  /** Bound for the node to boot (default 90 s). */
  bootTimeoutMs?: number;
}

/** A running private node. */
export interface PrivateRabbit {
  /** Erlang node name, e.g. `tuercatest1234n1@localhost`. */
  nodeName: string;
  /** The node's temporary directory (data, logs, config, cookie). */
  dir: string;
  amqpPort: number;
  stompPort: number;
  /** 0 when the management plugin is not enabled. */
  managementPort: number;
  amqpUrl: string;
  stompUrl: string;
  /** Undefined when the management plugin is not enabled. */
  managementUrl?: string;
  /** Seconds the node took to boot. */
  startSeconds: number;
  /** `rabbitmqctl -n <node> stop_app`: listeners close, connections drop; queues stay on disk. */
  stopApp(): Promise<void>;
  /** `rabbitmqctl -n <node> start_app`, then waits (bounded) for the listeners. */
  startApp(timeoutMs?: number): Promise<void>;
  /** Stops the node (SIGTERM, then SIGKILL after `graceMs`) and removes its directory. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const DEFAULT_PLUGINS = ["rabbitmq_stomp"];
const CTL_TIMEOUT_MS = 60_000;
/** How much of the node's own output to keep for error messages. */
const OUTPUT_TAIL = 4_000;

let counter = 0;

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The directory holding runnable `rabbitmq-server` and `rabbitmqctl` scripts, or
 * null. Debian's `/usr/sbin/rabbitmq-server` is a wrapper that switches to the
 * `rabbitmq` user and its HOME (the shared node's cookie), so the real scripts in
 * `/usr/lib/rabbitmq/bin` come first; a `rabbitmq-server` on PATH counts only when it
 * is not that wrapper.
 */
export function rabbitmqScriptsDir(): string | null {
  const candidates = ["/usr/lib/rabbitmq/bin"];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const real = Deno.realPathSync(`${dir}/rabbitmq-server`);
      if (!real.endsWith("/rabbitmq-script-wrapper")) candidates.push(real.slice(0, real.lastIndexOf("/")));
    } catch {
      // not in this directory
    }
  }
  for (const dir of candidates) {
    if (isExecutable(`${dir}/rabbitmq-server`) && isExecutable(`${dir}/rabbitmqctl`)) return dir;
  }
  return null;
}

/** Why a private node cannot be started here, or null when it can (as far as one can tell without starting one). */
export function privateRabbitUnavailable(): string | null {
  return rabbitmqScriptsDir() === null
    ? "no rabbitmq-server to start a private node with (Debian: apt-get install rabbitmq-server)"
    : null;
}

/** A free loopback port (closed again; the caller listens on it). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function portOpen(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** Polls every 100 ms until every port accepts connections; false when `abort` resolved or `ms` passed first. */
async function waitForPorts(ports: number[], ms: number, abort: Promise<unknown>): Promise<boolean> {
  let aborted = false;
  void abort.then(() => aborted = true);
  const deadline = Date.now() + ms;
  for (const port of ports) {
    while (!await portOpen(port)) {
      if (aborted || Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return true;
}

/** `pid` and its descendants, from /proc (parents first). */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const list = children.get(ppid) ?? [];
        list.push(Number(entry.name));
        children.set(ppid, list);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    return [pid]; // no /proc
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...children.get(out[i]) ?? []);
  return out;
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Starts a private node and waits (bounded) until its listeners accept
 * connections. On failure nothing is left running or on disk.
 * @throws {Error} when no `rabbitmq-server` is found, or the node does not come up in time (with the tail of its output).
 */
export async function startPrivateRabbit(options: PrivateRabbitOptions = {}): Promise<PrivateRabbit> {
  const sbin = rabbitmqScriptsDir();
  if (sbin === null) throw new Error(privateRabbitUnavailable()!);
  const plugins = options.plugins ?? DEFAULT_PLUGINS;
  const management = plugins.includes("rabbitmq_management");
  const bootMs = options.bootTimeoutMs ?? 90_000;
  const dir = Deno.makeTempDirSync({ prefix: "tuerca-rabbitmq-" });
  const nodeName = `tuercatest${Deno.pid}n${++counter}@localhost`;
  const amqpPort = freePort();
  const stompPort = freePort();
  const managementPort = management ? freePort() : 0;
  const distPort = freePort();
  Deno.writeTextFileSync(
    `${dir}/rabbitmq.conf`,
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `stomp.listeners.tcp.1 = 127.0.0.1:${stompPort}`,
      ...(management ? [`management.tcp.port = ${managementPort}`, "management.tcp.ip = 127.0.0.1"] : []),
      "log.console = false",
      "log.file.level = warning",
      "",
    ].join("\n"),
  );
  Deno.writeTextFileSync(`${dir}/enabled_plugins`, `[${plugins.join(",")}].\n`);
  // An empty env file: /etc/rabbitmq/rabbitmq-env.conf belongs to the shared node.
  Deno.writeTextFileSync(`${dir}/rabbitmq-env.conf`, "\n");
  const env: Record<string, string> = {
    HOME: dir, // the Erlang cookie: this node's own
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_CONF_ENV_FILE: `${dir}/rabbitmq-env.conf`,
    RABBITMQ_CONFIG_FILE: `${dir}/rabbitmq.conf`,
    RABBITMQ_ENABLED_PLUGINS_FILE: `${dir}/enabled_plugins`,
    RABBITMQ_MNESIA_BASE: `${dir}/mnesia`,
    RABBITMQ_LOG_BASE: `${dir}/log`,
    RABBITMQ_PLUGINS_EXPAND_DIR: `${dir}/plugins-expand`,
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_ADDRESS: "127.0.0.1",
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
  };
  const listeners = [amqpPort, stompPort, ...(management ? [managementPort] : [])];

  const t0 = performance.now();
  const child = new Deno.Command(`${sbin}/rabbitmq-server`, {
    cwd: dir,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const keep = async (stream: ReadableStream<Uint8Array>) => {
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        output = (output + chunk).slice(-OUTPUT_TAIL);
      }
    } catch {
      // the process went away
    }
  };
  const drained = Promise.all([keep(child.stdout), keep(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  let stopped: Promise<void> | undefined;
  const stop = (graceMs = 20_000): Promise<void> =>
    stopped ??= (async () => {
      // The script traps SIGTERM and stops the Erlang VM gracefully.
      const tree = processTree(child.pid);
      if (!exited) signal(child.pid, "SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([status, new Promise((r) => timer = setTimeout(r, graceMs))]);
      clearTimeout(timer);
      // Whatever of the tree outlived the grace period (or the script) is killed.
      const late = exited ? [] : processTree(child.pid);
      for (const pid of new Set([...tree, ...late])) {
        if (pid !== child.pid && alive(pid)) {
          signal(pid, "SIGKILL");
        }
      }
      if (!exited) signal(child.pid, "SIGKILL");
      await status;
      await drained;
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already removed
      }
    })();

  const ctl = async (args: string[]): Promise<void> => {
    const out = await new Deno.Command(`${sbin}/rabbitmqctl`, {
      args: ["-n", nodeName, ...args],
      cwd: dir,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(CTL_TIMEOUT_MS),
    }).output();
    if (out.code !== 0) {
      const text = new TextDecoder().decode(out.stderr).trim() || new TextDecoder().decode(out.stdout).trim();
      throw new Error(`rabbitmqctl -n ${nodeName} ${args.join(" ")}: exit ${out.code}: ${text}`);
    }
  };

  try {
    if (!await waitForPorts(listeners, bootMs, status)) {
      throw new Error(
        `the private RabbitMQ node ${nodeName} ${
          exited ? "exited" : `did not open ports ${listeners.join(", ")} within ${bootMs / 1000} s`
        }; its output ends: ${output.trim().slice(-1_000)}`,
      );
    }
  } catch (e) {
    await stop(5_000);
    throw e;
  }
  return {
    nodeName,
    dir,
    amqpPort,
    stompPort,
    managementPort,
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    stompUrl: `stomp://guest:guest@127.0.0.1:${stompPort}`,
    managementUrl: management ? `http://127.0.0.1:${managementPort}` : undefined,
    startSeconds: (performance.now() - t0) / 1000,
    stopApp: () => ctl(["stop_app"]),
    async startApp(timeoutMs = 60_000) {
      await ctl(["start_app"]);
      if (!await waitForPorts(listeners, timeoutMs, status)) {
        throw new Error(`the private RabbitMQ node ${nodeName} did not reopen its ports after start_app`);
      }
    },
    stop,
  };
}
