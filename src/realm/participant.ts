/**
 * What the realm needs from a session, whatever its protocol: the realm only ever
 * talks to sessions through this interface, so it knows nothing of codecs or sockets.
 *
 * @module
 */

import type { Event, RouterMessage } from "../protocol/messages.ts";

/** A session as the broker and the dealer see it. */
export interface Participant {
  /** The session id, unique in the router (v1 and v2 share one space). */
  readonly id: number;
  /** The authenticated identity; anonymous sessions use their session id. */
  readonly authid: string;
  /** The role; `anonymous` unless authentication says otherwise. */
  readonly authrole: string;
  /** Whether this session, as a callee, accepts INTERRUPT (WAMP call canceling). */
  readonly acceptsInterrupt: boolean;
  /**
   * Delivers an event. The same {@link Event} object goes to every subscriber of a
   * publish, so implementations encode through the codec's per-event cache.
   */
  deliverEvent(event: Event): void;
  /** Delivers any other router message (RESULT, ERROR, INVOCATION, INTERRUPT). */
  send(message: RouterMessage): void;
}
