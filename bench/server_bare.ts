/**
 * The limit of the runtime: a bare `Deno.serve` WebSocket server with no router.
 * It answers just enough WAMP v2 for the generators (HELLO → WELCOME, SUBSCRIBE →
 * SUBSCRIBED, REGISTER → REGISTERED) by looking at the first characters of each
 * frame, never parsing JSON, and:
 *
 * - fan-out: on PUBLISH it builds one EVENT frame by slicing the arguments out of
 *   the PUBLISH text and sends that same string to every subscribed socket
 *   (one topic; the publisher is left out);
 * - RPC: echoes every CALL frame back to its sender unchanged.
 *
 * Same WebSocket options as Tuerca (idle timeout 30 s, `arraybuffer`). Prints
 * `{"ready":true,"port":N,"pid":N}`, then takes `mem` and `exit` on standard input.
 *
 * @module
 */

import { serveControl } from "./lib/server_control.ts";

const subscribers = new Set<WebSocket>();
let publication = 0;
let session = 0;

function onMessage(ws: WebSocket, data: string): void {
  const c1 = data.charCodeAt(1);
  const c2 = data.charCodeAt(2);
  if (c1 === 49 && c2 === 54 && data.charCodeAt(3) === 44) {
    // [16,req,{},"topic",[args]] → [36,1,pub,{},[args]]
    const args = data.indexOf(",[", 4);
    // join() gives a flat string: a rope (from + or a template) would be copied on every send.
    const frame = [`[36,1,${++publication},{}`, args < 0 ? "" : data.slice(args, data.length - 1), "]"].join(
      "",
    );
    for (const s of subscribers) if (s !== ws) s.send(frame);
  } else if (c1 === 52 && c2 === 56) {
    ws.send(data); // CALL: echo
  } else if (c1 === 51 && c2 === 50) {
    // [32,req,{},"topic"] → [33,req,1]
    subscribers.add(ws);
    ws.send(`[33,${data.slice(4, data.indexOf(",", 4))},1]`);
  } else if (c1 === 54 && c2 === 52) {
    ws.send(`[65,${data.slice(4, data.indexOf(",", 4))},1]`);
  } else if (c1 === 49 && c2 === 44) {
    ws.send(`[2,${++session},{"roles":{"broker":{},"dealer":{}}}]`);
  }
}

const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("bare WebSocket baseline\n");
  }
  const offered = req.headers.get("sec-websocket-protocol")?.split(",")[0]?.trim();
  const { socket, response } = Deno.upgradeWebSocket(req, { protocol: offered, idleTimeout: 30 });
  socket.binaryType = "arraybuffer";
  socket.onmessage = (e) => {
    if (typeof e.data === "string") onMessage(socket, e.data);
  };
  socket.onclose = () => subscribers.delete(socket);
  socket.onerror = () => {};
  return response;
});

await serveControl(server.addr.port);
