/**
 * Tuerca under test: the push app on an ephemeral loopback port, without the
 * queue bridge unless `--stomp URL --queue NAME` are given. Prints
 * `{"ready":true,"port":N,"pid":N}` once it listens (and, with a bridge, once the
 * bridge is subscribed), then takes `mem` and `exit` on standard input.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startServer } from "../main.ts";
import { createPushApp, pushApp, type PushAppInstance } from "../push.ts";
import { serveControl } from "./lib/server_control.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { stomp: { type: "string" }, queue: { type: "string" } },
});

const app = values.queue !== undefined && values.stomp !== undefined
  ? createPushApp({ bridge: { url: values.stomp, queue: values.queue, prefetch: 100 } })
  : pushApp;
const server = await startServer(app, { port: 0, host: "127.0.0.1" });
const bridge = (server.app as PushAppInstance).bridge;
if (bridge) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    bridge.whenConnected(),
    new Promise((_, reject) => timer = setTimeout(() => reject(new Error("bridge did not connect")), 20_000)),
  ]).finally(() => clearTimeout(timer));
}
await serveControl(server.port);
