/**
 * The WebSocket transport: upgrades HTTP requests with Deno's native WebSocket,
 * chooses the session kind from the negotiated subprotocol, and carries frames
 * between the socket and the session. The only module that touches Deno's
 * WebSocket API.
 *
 * @module
 */

import type { Frame } from "../codec/codec.ts";
import { WsClose } from "../protocol/constants.ts";
import type { Peer, WireSession } from "../session/peer.ts";
import { negotiate } from "./subprotocol.ts";

/** Creates the session for a new connection. */
export type SessionFactory = (peer: Peer) => WireSession;

/** How the endpoint treats connections. */
export interface WebSocketEndpointOptions {
  /** Session factories by subprotocol name. */
  protocols: Record<string, SessionFactory>;
  /** Handles connections that offer no subprotocol; without it they are refused. */
  plain?: SessionFactory;
  /** Seconds without traffic before the server pings; a missing pong closes. Default 30. */
  idleTimeout?: number;
  /**
   * Bytes a connection may have queued for sending before it is closed with 1008
   * as a slow consumer, so one stalled client cannot eat the server's memory.
   * Default 8 MiB.
   */
  maxBufferedAmount?: number;
  /** Where unexpected exceptions are reported. Default: console.error. */
  onError?: (e: unknown) => void;
}

/** Whether `req` asks for a WebSocket upgrade. */
export function isUpgrade(req: Request): boolean {
  return req.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/**
 * Upgrades `req` and attaches a session, or answers 400 when no subprotocol we
 * speak was offered (the body names the ones we do).
 */
export function acceptWebSocket(req: Request, options: WebSocketEndpointOptions): Response {
  const spoken = Object.keys(options.protocols);
  const n = negotiate(req.headers.get("sec-websocket-protocol"), spoken);
  let factory: SessionFactory | undefined;
  let protocol: string | undefined;
  if (n.kind === "chosen") {
    factory = options.protocols[n.protocol];
    protocol = n.protocol;
  } else if (n.kind === "none") {
    factory = options.plain;
  }
  if (factory === undefined) {
    const plain = options.plain ? " (or none, for plain text)" : "";
    return new Response(
      `Unsupported WebSocket subprotocol. This server speaks: ${spoken.join(", ")}${plain}.\n`,
      { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } },
    );
  }
  let upgraded: { socket: WebSocket; response: Response };
  try {
    upgraded = Deno.upgradeWebSocket(req, { protocol, idleTimeout: options.idleTimeout ?? 30 });
  } catch {
    return new Response("Malformed WebSocket upgrade request.\n", { status: 400 });
  }
  const { socket, response } = upgraded;
  socket.binaryType = "arraybuffer";
  const onError = options.onError ?? ((e) => console.error("session failed:", e));
  // The session is made on open, so a handshake that never completes holds nothing.
  let session: WireSession | undefined;
  // A stalled peer may never complete the close handshake: release its session now.
  const peer = new SocketPeer(
    socket,
    options.maxBufferedAmount ?? 8 * 1024 * 1024,
    () => guard(() => session?.closed()),
  );
  // A bug in one session must not take the process down: close that one and go on.
  const guard = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      onError(e);
      peer.close(WsClose.INTERNAL_ERROR, "internal error");
    }
  };
  socket.onopen = () =>
    guard(() => {
      session = factory(peer);
      session.open();
    });
  socket.onmessage = (e: MessageEvent) =>
    guard(() =>
      session?.receive(typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer))
    );
  socket.onclose = () => guard(() => session?.closed());
  socket.onerror = () => {}; // close follows and does the cleanup
  return response;
}

/** A {@link Peer} over a Deno WebSocket. */
class SocketPeer implements Peer {
  constructor(
    private readonly ws: WebSocket,
    private readonly maxBuffered: number,
    private readonly abandon: () => void,
  ) {}

  send(frame: Frame): void {
    const ws = this.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(frame);
    if (ws.bufferedAmount > this.maxBuffered) {
      this.close(WsClose.POLICY_VIOLATION, "slow consumer: send buffer full");
      this.abandon();
    }
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.CLOSING || this.ws.readyState === WebSocket.CLOSED) return;
    try {
      this.ws.close(code, reason);
    } catch {
      // Already closing: nothing more to do.
    }
  }
}
