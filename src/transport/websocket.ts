/**
 * The WebSocket transport: checks the upgrade's `Origin`, upgrades HTTP requests
 * with Deno's native WebSocket, chooses the session kind from the negotiated
 * subprotocol, and carries frames between the socket and the session. The only
 * module that touches Deno's WebSocket API.
 *
 * Refusals happen before the upgrade, as HTTP answers with a one-line reason:
 * 403 for an Origin that is not allowed, 503 when the process already holds its
 * most connections, 400 for a subprotocol we do not speak.
 *
 * @module
 */

import type { Frame } from "../codec/codec.ts";
import { WsClose } from "../protocol/constants.ts";
import type { Peer, WireSession } from "../session/peer.ts";
import type { OriginPolicy } from "./origin.ts";
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
  /** Which pages may open a WebSocket here; without one, any. */
  origins?: OriginPolicy;
  /** Most connections at once (all kinds); 0 for no limit. Default 100,000. */
  maxConnections?: number;
}

/** Whether `req` asks for a WebSocket upgrade. */
export function isUpgrade(req: Request): boolean {
  return req.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** What an endpoint refused and holds, counted. */
export interface EndpointCounters {
  /** Upgrades refused for their Origin. */
  originRefused: number;
  /** Upgrades refused because the endpoint held its most connections. */
  fullRefused: number;
  /** Connections open now. */
  open: number;
  /** Connections closed for not reading what they were sent. */
  slowConsumers: number;
}

/** The WebSocket endpoint of one server: its policies and its connections. */
export class WebSocketEndpoint {
  /** Refusals and open connections. */
  readonly counters: EndpointCounters = { originRefused: 0, fullRefused: 0, open: 0, slowConsumers: 0 };

  /** An endpoint with `options`; {@link accept} takes the upgrade requests. */
  constructor(private readonly options: WebSocketEndpointOptions) {
    survivePayloadsTooLargeToRead();
  }

  /**
   * Upgrades `req` and attaches a session, or refuses it: 403 for an Origin that
   * is not allowed, 503 when full, 400 when no subprotocol we speak was offered
   * (the body names the ones we do).
   * @param remoteAddress the client's IP address, for its session
   */
  accept(req: Request, remoteAddress = ""): Response {
    const options = this.options;
    const refusal = options.origins?.refuse(req);
    if (refusal != null) {
      this.counters.originRefused++;
      return plain(403, `${refusal}\n`);
    }
    const max = options.maxConnections ?? 100_000;
    if (max > 0 && this.counters.open >= max) {
      this.counters.fullRefused++;
      return plain(503, `This server holds its most connections (${max}); try again later.\n`, {
        "retry-after": "5",
      });
    }
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
      const none = options.plain ? " (or none, for plain text)" : "";
      return plain(
        400,
        `Unsupported WebSocket subprotocol. This server speaks: ${spoken.join(", ")}${none}.\n`,
      );
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(req, { protocol, idleTimeout: options.idleTimeout ?? 30 });
    } catch {
      return plain(400, "Malformed WebSocket upgrade request.\n");
    }
    const { socket, response } = upgraded;
    socket.binaryType = "arraybuffer";
    new Connection(
      socket,
      factory,
      options.maxBufferedAmount ?? 8 * 1024 * 1024,
      options.onError ?? ((e) => console.error("session failed:", e)),
      remoteAddress,
      this.counters,
    );
    return response;
  }
}

let guarding = false;

/**
 * The runtime caps a WebSocket frame at 64 MiB but not a fragmented message: one
 * of about 512 MiB fails inside the runtime's reader ("failed to allocate
 * string") with a promise nobody can catch, which would end the process. Keep the
 * process alive for that one failure; the connection then stops being read and
 * the idle timeout closes it.
 */
function survivePayloadsTooLargeToRead(): void {
  if (guarding) return;
  guarding = true;
  globalThis.addEventListener("unhandledrejection", (e) => {
    const reason = e.reason;
    if (reason instanceof Error && /failed to allocate string|exceeds maximum length/.test(reason.message)) {
      e.preventDefault();
      console.error(`A WebSocket message too large to read was dropped (${reason.message}).`);
    }
  });
}

function plain(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

/** Bytes sent between two looks at `bufferedAmount` (a call into the runtime). */
const BUFFER_CHECK_BYTES = 64 * 1024;

/** How long a connection we close must have sent nothing before its close frame goes out. */
export const CLOSE_QUIET_MS = 250;
/** The longest a close waits for that silence; then it goes out anyway. */
export const CLOSE_WAIT_MS = 2_000;

/** A close waiting for the peer to fall silent. */
interface PendingClose {
  code: number;
  reason: string;
  deadline: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * One WebSocket connection: the {@link Peer} its session sends through, and the
 * listener of its socket's events (one object per socket, no closures).
 *
 * Closing: Deno's WebSocket tears the TCP connection down when a frame arrives
 * after `close()`, and the reset can destroy the close frame before the client
 * reads it, so a client that had already sent its next frame would never learn
 * why it was closed. So a close the session asks for waits until the peer has
 * been silent for {@link CLOSE_QUIET_MS} (its frames meanwhile are read and
 * dropped), or at most {@link CLOSE_WAIT_MS}, before the close frame is sent.
 */
class Connection implements Peer, EventListenerObject {
  /** Made on open, so a handshake that never completes holds nothing. */
  #session: WireSession | undefined;
  #open = false;
  /** Bytes sent since `bufferedAmount` was last looked at. */
  #unchecked = 0;
  #closing: PendingClose | null = null;

  constructor(
    private readonly ws: WebSocket,
    private readonly factory: SessionFactory,
    private readonly maxBuffered: number,
    private readonly onError: (e: unknown) => void,
    readonly remoteAddress: string,
    private readonly counters: EndpointCounters,
  ) {
    counters.open++;
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
          if (this.#closing !== null) return this.#waitForQuiet(this.#closing);
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
          clearTimeout(this.#closing?.timer);
          this.counters.open--;
          this.#session?.closed();
          return;
      }
    } catch (err) {
      this.onError(err);
      this.#closeNow(WsClose.INTERNAL_ERROR, "internal error");
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
      // A peer that does not read gets no grace period: close at once.
      this.counters.slowConsumers++;
      this.#closeNow(WsClose.POLICY_VIOLATION, "slow consumer: send buffer full");
      // A stalled peer may never complete the close handshake: release its session now.
      this.#session?.closed("slow_consumer");
    }
  }

  /** Closes once the peer has fallen silent (see the class doc). */
  close(code: number, reason: string): void {
    if (!this.#open || this.#closing !== null) return;
    this.#closing = { code, reason, deadline: Date.now() + CLOSE_WAIT_MS, timer: undefined };
    this.#waitForQuiet(this.#closing);
  }

  #waitForQuiet(pending: PendingClose): void {
    clearTimeout(pending.timer);
    const wait = Math.max(0, Math.min(CLOSE_QUIET_MS, pending.deadline - Date.now()));
    pending.timer = setTimeout(() => this.#closeNow(pending.code, pending.reason), wait);
  }

  #closeNow(code: number, reason: string): void {
    clearTimeout(this.#closing?.timer);
    if (!this.#open) return;
    this.#open = false;
    try {
      this.ws.close(code, reason);
    } catch {
      // Already closing: nothing more to do.
    }
  }
}
