/**
 * Tuerca under test: the push app on an ephemeral loopback port, without the
 * queue bridge unless `--stomp URL --queue NAME` are given; `--rate N` sets the
 * per-session rate (0: none). Prints
 * `{"ready":true,"port":N,"pid":N}` once it listens (and, with a bridge, once the
 * bridge is subscribed), then takes `mem` and `exit` on standard input.
 *
 * With `--bridge-deferred` the bridge is made but not started: `bridgeStart`
 * starts it (answering `startUs`, the time it was told to, once it is subscribed)
 * and `bridgeStop` stops it; a later `bridgeStart` makes a new one. This lets the
 * benchmark fill the queue first and subscribe its WAMP tab before anything is
 * consumed.
 *
 * With `--cluster NAME --amqp URL` the node joins cluster NAME through the
 * RabbitMQ at URL (as `main.ts --cluster` does) and is ready once its backbone
 * is connected; `cluster` answers its status (the other nodes it hears from)
 * and its backbone counters.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type App, type Router, startServer } from "../main.ts";
import { createPushApp, pushApp, type PushAppInstance } from "../push.ts";
import { QueueBridge, type QueueBridgeOptions } from "../src/bridge/queue_bridge.ts";
import { nowUs } from "./lib/protocols.ts";
import { serveControl } from "./lib/server_control.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    stomp: { type: "string" },
    queue: { type: "string" },
    "bridge-deferred": { type: "boolean" },
    rate: { type: "string" },
    cluster: { type: "string" },
    amqp: { type: "string" },
  },
});
// The benchmark's load comes from a few sessions, far above the default per-session rate.
const limits = values.rate === undefined ? {} : { rate: Number(values.rate) };

const bridgeOptions: QueueBridgeOptions | null = values.queue !== undefined && values.stomp !== undefined
  ? { url: values.stomp, queue: values.queue, prefetch: 100 }
  : null;
const deferred = bridgeOptions !== null && values["bridge-deferred"] === true;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(what)), ms)),
  ]).finally(() => clearTimeout(timer));
}

// Deferred: the push app without a bridge, and a bridge of our own on its router.
let router: Router | null = null;
const app: App = deferred
  ? { ...pushApp, start: (r) => (router = r, pushApp.start(r)) }
  : bridgeOptions !== null
  ? createPushApp({ bridge: bridgeOptions })
  : pushApp;
const clusterName = values.cluster;
const amqpUrl = values.amqp;
if (clusterName !== undefined && amqpUrl === undefined) throw new Error("--cluster needs --amqp URL");
const server = await startServer(app, {
  port: 0,
  host: "127.0.0.1",
  limits,
  ...(clusterName === undefined ? {} : { cluster: { name: clusterName, url: amqpUrl! }, amqpUrl }),
});
if (server.cluster !== null && !server.cluster.status().connected) {
  throw new Error(`cluster ${clusterName}: the backbone did not connect to the broker`);
}
let bridge: QueueBridge | null = deferred ? null : (server.app as PushAppInstance).bridge;
let bridgeStarted = !deferred;
if (bridge) await withTimeout(bridge.whenConnected(), 20_000, "bridge did not connect");

await serveControl(server.port, {
  cluster() {
    const c = server.cluster;
    if (c === null) throw new Error("not in a cluster");
    return { status: c.status(), counters: { ...c.counters } };
  },
  async bridgeStart() {
    if (!deferred || router === null || bridgeOptions === null) throw new Error("no deferred bridge");
    if (bridgeStarted) throw new Error("the bridge is already started");
    bridge = new QueueBridge(router, bridgeOptions);
    bridgeStarted = true;
    const startUs = nowUs();
    bridge.start();
    await withTimeout(bridge.whenConnected(), 20_000, "bridge did not connect");
    return { startUs };
  },
  async bridgeStop() {
    if (bridge === null || !bridgeStarted) throw new Error("no bridge running");
    const routed = bridge.stats.routed;
    await bridge.stop();
    bridgeStarted = false;
    return { routed };
  },
});
