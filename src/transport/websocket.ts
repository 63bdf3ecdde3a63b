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
  new Connection(
    socket,
    factory,
    options.maxBufferedAmount ?? 8 * 1024 * 1024,
    options.onError ?? ((e) => console.error("session failed:", e)),
  );
  return response;
}

/** Bytes sent between two looks at `bufferedAmount` (a call into the runtime). */
const BUFFER_CHECK_BYTES = 64 * 1024;

/**
 * One WebSocket connection: the {@link Peer} its session sends through, and the
 * listener of its socket's events (one object per socket, no closures).
 */
class Connection implements Peer, EventListenerObject {
  /** Made on open, so a handshake that never completes holds nothing. */
  #session: WireSession | undefined;
  #open = false;
  /** Bytes sent since `bufferedAmount` was last looked at. */
  #unchecked = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly factory: SessionFactory,
    private readonly maxBuffered: number,
    private readonly onError: (e: unknown) => void,
  ) {
    ws.addEventListener("open", this);
    ws.addEventListener("message", this);
    ws.addEventListener("close", this);
    // "error" needs no listener: "close" follows and does the cleanup.
  }

  handleEvent(e: Event): void {
    // A bug in one session must not take the process down: close that one and go on.
    try {
      switch (e.type) {
        case "message": {
          const data = (e as MessageEvent).data;
          this.#session?.receive(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
          return;
        }
        case "open":
          this.#open = true;
          this.#session = this.factory(this);
          this.#session.open();
          return;
        case "close":
          this.#open = false;
          this.#session?.closed();
          return;
      }
    } catch (err) {
      this.onError(err);
      this.close(WsClose.INTERNAL_ERROR, "internal error");
    }
  }

  send(frame: Frame): void {
    if (!this.#open) return;
    try {
      this.ws.send(frame);
    } catch {
      // The socket began closing under us; its close event does the cleanup.
      this.#open = false;
      return;
    }
    this.#unchecked += frame.length;
    if (this.#unchecked < BUFFER_CHECK_BYTES) return;
    this.#unchecked = 0;
    if (this.ws.bufferedAmount > this.maxBuffered) {
      this.close(WsClose.POLICY_VIOLATION, "slow consumer: send buffer full");
      // A stalled peer may never complete the close handshake: release its session now.
      this.#session?.closed();
    }
  }

  close(code: number, reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.ws.close(code, reason);
    } catch {
      // Already closing: nothing more to do.
    }
  }
}
