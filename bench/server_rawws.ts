/**
 * An experiment, not a baseline of the issue: the bare server's fan-out and echo
 * with WebSocket framing done in JS over `Deno.listen` TCP connections instead of
 * `Deno.upgradeWebSocket`. It shows what a router could gain by owning its
 * WebSocket layer:
 *
 * - one EVENT is encoded once into the bytes of a complete server frame (server
 *   frames are not masked, so the bytes are the same for every subscriber) and
 *   that one buffer is written to every socket: no per-send string copy;
 * - frames queued for a socket while a write is in flight go out together in
 *   the next write, so a burst costs fewer syscalls than frames;
 * - a connection holds a small read buffer (1 KiB, grown on demand) and no
 *   HTTP/WebSocket machinery.
 *
 * Same minimal WAMP as bench/server_bare.ts (HELLO, SUBSCRIBE, PUBLISH, CALL
 * echo). Loopback only; no ping/idle timeout, no size limits: not for
 * production.
 *
 * @module
 */

import { type RawConn, serveRawWebSocket, textFrame } from "./lib/raw_ws.ts";
import { serveControl } from "./lib/server_control.ts";

const subscribers = new Set<RawConn>();
let publication = 0;
let session = 0;

function onMessage(c: RawConn, data: string): void {
  const c1 = data.charCodeAt(1);
  const c2 = data.charCodeAt(2);
  if (c1 === 49 && c2 === 54 && data.charCodeAt(3) === 44) {
    const args = data.indexOf(",[", 4);
    const frame = textFrame(`[36,1,${++publication},{}${args < 0 ? "" : data.slice(args, data.length - 1)}]`);
    for (const s of subscribers) if (s !== c) s.send(frame);
  } else if (c1 === 52 && c2 === 56) {
    c.send(textFrame(data));
  } else if (c1 === 51 && c2 === 50) {
    subscribers.add(c);
    c.send(textFrame(`[33,${data.slice(4, data.indexOf(",", 4))},1]`));
  } else if (c1 === 54 && c2 === 52) {
    c.send(textFrame(`[65,${data.slice(4, data.indexOf(",", 4))},1]`));
  } else if (c1 === 49 && c2 === 44) {
    c.send(textFrame(`[2,${++session},{"roles":{"broker":{},"dealer":{}}}]`));
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
serveRawWebSocket(listener, (c, offered) => ({
  protocol: offered[0],
  handlers: { text: (data) => onMessage(c, data), closed: () => subscribers.delete(c) },
}));

await serveControl((listener.addr as Deno.NetAddr).port);
