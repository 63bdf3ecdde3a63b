/**
 * The seam between a session and its transport. Sessions know a {@link Peer}
 * (something that sends frames and can be closed); transports drive a
 * {@link WireSession}. Neither knows what is on the other side.
 *
 * @module
 */

import type { Frame } from "../codec/codec.ts";

/** The transport as a session sees it. */
export interface Peer {
  /** The remote IP address (for throttling failed authentications); "" when unknown. */
  readonly remoteAddress: string;
  /** Sends one frame; a no-op once the transport is closing. */
  send(frame: Frame): void;
  /** Closes the transport with a WebSocket close code and a short reason. */
  close(code: number, reason: string): void;
}

/** A session as its transport sees it. */
export interface WireSession {
  /** The transport is open (WAMP v1 sends WELCOME now; v2 starts its HELLO timer). */
  open(): void;
  /** One frame arrived. Never throws: every bad input is answered by the session. */
  receive(frame: Frame): void;
  /**
   * The transport is closed; the session releases everything it held.
   * @param why set when the transport itself ended it (`slow_consumer`)
   */
  closed(why?: string): void;
}
