/**
 * The servers under test, each started as a child process on loopback ports:
 * Tuerca (bench/server_tuerca.ts), the bare Deno baseline (bench/server_bare.ts),
 * Mosquitto with a WebSocket listener, and a private RabbitMQ node with STOMP and
 * Web-STOMP.
 *
 * @module
 */

import { Child, freePort, waitForPort } from "./child.ts";
import { commandName, processTree } from "./procfs.ts";
import type { Endpoint } from "./protocols.ts";

const BENCH_DIR = new URL("../", import.meta.url);
const WORK_DIR = new URL("../../.bench/", import.meta.url);

/** A server under test. */
export interface Server {
  /** Short id, as in results.json. */
  id: string;
  /** Name for the report. */
  label: string;
  /** Where subscribers and publishers connect. */
  endpoint: Endpoint;
  /** The fan-out topic (or destination) in this server's protocol. */
  topic: string;
  /** The processes whose CPU and memory count as the server's. */
  pids(): number[];
  /** For the Deno servers: collect garbage and report memory. */
  mem?(): Promise<Deno.MemoryUsage>;
  /** For the Deno servers: sends one of the server's own control commands. */
  request?(
    cmd: string,
    params?: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Stops the server (and waits for it). */
  stop(): Promise<void>;
}

/** Options for the Deno servers. */
export interface DenoServerOptions {
  /** Extra `deno run` flags (such as `--cpu-prof`). */
  denoFlags?: string[];
  /** Arguments for the server script. */
  args?: string[];
  /** Log file name. */
  name?: string;
}

async function startDeno(
  id: string,
  label: string,
  script: string,
  path: string,
  options: DenoServerOptions,
): Promise<Server> {
  const child = new Child(options.name ?? id, Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-write=.bench",
    "--v8-flags=--expose-gc",
    ...(options.denoFlags ?? []),
    new URL(script, BENCH_DIR).pathname,
    ...(options.args ?? []),
  ], { cwd: new URL("../", BENCH_DIR).pathname });
  try {
    const ready = await child.ready(30_000);
    return {
      id,
      label,
      endpoint: { proto: "wamp", hostname: "127.0.0.1", port: ready.port as number, path },
      topic: "bench.fan",
      pids: () => [child.pid],
      async mem() {
        const r = await child.request("mem", {}, 30_000);
        return r.mem as Deno.MemoryUsage;
      },
      request: (cmd, params, timeoutMs) => child.request(cmd, params, timeoutMs),
      async stop() {
        // `exit` leaves at once (and writes a --cpu-prof profile); kill if it does not.
        await child.request("exit", {}, 5_000).catch(() => {});
        let timer: ReturnType<typeof setTimeout> | undefined;
        const exited = await Promise.race([
          child.status.then(() => true),
          new Promise<boolean>((r) => timer = setTimeout(() => r(false), 10_000)),
        ]).finally(() => clearTimeout(timer));
        if (!exited) child.log("did not exit on request; killing");
        await child.kill();
      },
    };
  } catch (e) {
    await child.kill();
    throw e;
  }
}

/**
 * The limits the benchmark starts Tuerca with: its load generators publish and call
 * from one session far above the default rate of 1,000 per second per session.
 */
export const TUERCA_BENCH_ARGS: readonly string[] = ["--rate", "0"];

/** Tuerca's push app (without the queue bridge unless args name one). */
export function startTuerca(options: DenoServerOptions = {}): Promise<Server> {
  return startDeno("tuerca", "Tuerca", "server_tuerca.ts", "/ws", {
    ...options,
    args: [...TUERCA_BENCH_ARGS, ...(options.args ?? [])],
  });
}

/** The bare Deno.serve WebSocket baseline. */
export function startBare(options: DenoServerOptions = {}): Promise<Server> {
  return startDeno("bare", "bare Deno.serve", "server_bare.ts", "/", options);
}

/**
 * Mosquitto with a WebSocket listener on loopback. Debian's 2.0.11 has WebSocket
 * support (libwebsockets) but refuses to start with only a WebSocket listener
 * ("Unable to start any listening sockets"), so an MQTT listener on another
 * loopback port comes along; `socket_domain ipv4` keeps the WebSocket listener on
 * 127.0.0.1 (without it libwebsockets binds every interface).
 */
export async function startMosquitto(): Promise<Server> {
  const mqttPort = freePort();
  const wsPort = freePort();
  const dir = new URL("mosquitto/", WORK_DIR);
  Deno.mkdirSync(dir, { recursive: true });
  const conf = new URL("mosquitto.conf", dir);
  Deno.writeTextFileSync(
    conf,
    [
      `listener ${mqttPort} 127.0.0.1`,
      "protocol mqtt",
      `listener ${wsPort} 127.0.0.1`,
      "protocol websockets",
      "socket_domain ipv4",
      "allow_anonymous true",
      "persistence false",
      // QoS 0 to online clients: no queue limits, so nothing is dropped silently.
      "max_queued_messages 0",
      "max_queued_bytes 0",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "websockets_log_level 0",
      "",
    ].join("\n"),
  );
  const child = new Child("mosquitto", "mosquitto", ["-c", conf.pathname], { jsonLines: false });
  try {
    await waitForPort(wsPort, 10_000);
  } catch (e) {
    await child.kill();
    throw e;
  }
  return {
    id: "mosquitto",
    label: "Mosquitto",
    endpoint: { proto: "mqtt", hostname: "127.0.0.1", port: wsPort, path: "/mqtt" },
    topic: "bench/fan",
    pids: () => [child.pid],
    stop: () => child.kill(),
  };
}

/** A running private RabbitMQ node. */
export interface Rabbit extends Server {
  amqpUrl: string;
  stompUrl: string;
  stompPort: number;
  /** Seconds the node took to start. */
  startSeconds: number;
  /** The node's Erlang VM (`beam.smp`), the process that does the broker's work; empty if not found. */
  beamPids(): number[];
}

/**
 * A private RabbitMQ node (its own node name, ports, data directory and a raised
 * open-files limit) with the STOMP and Web-STOMP plugins, on loopback. The
 * machine's shared broker runs with 1,024 open files (about 830 sockets), too few
 * for 10,000 Web-STOMP subscribers; a private node also keeps the benchmark's
 * queues away from everyone else's.
 */
export async function startRabbit(): Promise<Rabbit> {
  const dir = new URL("rabbitmq/", WORK_DIR);
  try {
    Deno.removeSync(dir, { recursive: true }); // a fresh node: no queues from earlier runs
  } catch {
    // nothing to remove
  }
  Deno.mkdirSync(dir, { recursive: true });
  const amqpPort = freePort();
  const stompPort = freePort();
  const webStompPort = freePort();
  const distPort = freePort();
  const path = dir.pathname;
  Deno.writeTextFileSync(
    new URL("rabbitmq.conf", dir),
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `stomp.listeners.tcp.1 = 127.0.0.1:${stompPort}`,
      `web_stomp.tcp.port = ${webStompPort}`,
      "web_stomp.tcp.ip = 127.0.0.1",
      "loopback_users = none",
      "log.console = false",
      "log.file.level = warning",
      "",
    ].join("\n"),
  );
  Deno.writeTextFileSync(new URL("enabled_plugins", dir), "[rabbitmq_stomp,rabbitmq_web_stomp].\n");
  Deno.writeTextFileSync(new URL("rabbitmq-env.conf", dir), "\n");
  const t0 = performance.now();
  const child = new Child("rabbitmq", "sh", [
    "-c",
    "ulimit -n 20000 2>/dev/null || ulimit -n $(ulimit -Hn); exec /usr/lib/rabbitmq/bin/rabbitmq-server",
  ], {
    jsonLines: false,
    cwd: path,
    env: {
      HOME: path,
      RABBITMQ_NODENAME: `tuercabench${Deno.pid}@localhost`,
      RABBITMQ_CONF_ENV_FILE: `${path}rabbitmq-env.conf`,
      RABBITMQ_CONFIG_FILE: `${path}rabbitmq.conf`,
      RABBITMQ_ENABLED_PLUGINS_FILE: `${path}enabled_plugins`,
      RABBITMQ_MNESIA_BASE: `${path}mnesia`,
      RABBITMQ_LOG_BASE: `${path}log`,
      RABBITMQ_PLUGINS_EXPAND_DIR: `${path}plugins-expand`,
      RABBITMQ_DIST_PORT: String(distPort),
      ERL_EPMD_ADDRESS: "127.0.0.1",
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
    },
  });
  try {
    await waitForPort(webStompPort, 90_000);
    await waitForPort(stompPort, 10_000);
    await waitForPort(amqpPort, 10_000);
  } catch (e) {
    await child.kill(5_000);
    throw e;
  }
  return {
    id: "rabbitmq",
    label: "RabbitMQ Web-STOMP",
    endpoint: { proto: "stomp", hostname: "127.0.0.1", port: webStompPort, path: "/ws" },
    topic: "/topic/x",
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    stompUrl: `stomp://guest:guest@127.0.0.1:${stompPort}`,
    stompPort,
    startSeconds: (performance.now() - t0) / 1000,
    pids: () => processTree(child.pid),
    beamPids: () => processTree(child.pid).filter((p) => commandName(p) === "beam.smp"),
    stop: () => child.kill(15_000),
  };
}
