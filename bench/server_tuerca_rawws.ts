/**
 * An experiment for the design decision the benchmark asks for: Tuerca's own
 * router, sessions and codecs, and the push app, unchanged, behind the
 * own-framing transport of bench/lib/raw_ws.ts instead of `Deno.serve` and
 * `Deno.upgradeWebSocket`. Only the transport differs from bench/server_tuerca.ts:
 * the sessions see a {@link Peer}, as they do in the product.
 *
 * Each EVENT string the broker hands to its subscribers' peers is turned into
 * frame bytes once (a one-entry cache: the fan-out loop passes the same string
 * to every peer) and those bytes are written to every socket.
 *
 * Loopback only, WebSocket endpoint only (no pages), no idle timeout, no
 * slow-consumer limit: not for production. Prints `{"ready":true,"port":N}`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type App, Router } from "../main.ts";
import { pushApp } from "../push.ts";
import type { Frame } from "../src/codec/codec.ts";
import { wampV2Json } from "../src/codec/v2_json.ts";
import { Subprotocol } from "../src/protocol/constants.ts";
import type { Peer, WireSession } from "../src/session/peer.ts";
import { WampV1Session } from "../src/session/v1.ts";
import { WampV2Session } from "../src/session/v2.ts";
import { type RawConn, serveRawWebSocket, textFrame } from "./lib/raw_ws.ts";
import { serveControl } from "./lib/server_control.ts";

let lastText = "";
let lastFrame: Uint8Array = new Uint8Array(0);

/** Frame bytes for `text`, reused while the same string is sent to many peers in a row. */
function frameOf(text: string): Uint8Array {
  if (text !== lastText) {
    lastFrame = textFrame(text);
    lastText = text;
  }
  return lastFrame;
}

/** The session's view of a raw connection. */
class RawPeer implements Peer {
  readonly remoteAddress = "127.0.0.1";
  constructor(private readonly conn: RawConn) {}

  send(frame: Frame): void {
    // The WAMP JSON sessions only send text.
    if (typeof frame === "string") this.conn.send(frameOf(frame));
  }

  close(code: number, reason: string): void {
    this.conn.closeWith(code, reason);
  }
}

const { values } = parseArgs({ args: Deno.args, options: { rate: { type: "string" } } });
const app: App = pushApp;
const router = new Router(values.rate === undefined ? {} : { limits: { rate: Number(values.rate) } });
await app.start(router);

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
serveRawWebSocket(listener, (conn, offered) => {
  const protocol = offered.find((p) => p === Subprotocol.WAMP2_JSON || p === Subprotocol.WAMP1);
  if (protocol === undefined) return null;
  const peer = new RawPeer(conn);
  const session: WireSession = protocol === Subprotocol.WAMP2_JSON
    ? new WampV2Session(router, peer, wampV2Json)
    : new WampV1Session(router, peer);
  return {
    protocol,
    opened: () => session.open(),
    handlers: { text: (data) => session.receive(data), closed: () => session.closed() },
  };
});

await serveControl((listener.addr as Deno.NetAddr).port);
