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
  /** How the session authenticated (`anonymous`, `ticket`, `wampcra`, ...). */
  readonly authmethod: string;
  /** Who authenticated it (`static`, or `local` for sessions of the server itself). */
  readonly authprovider: string;
  /** The transport's protocol as the meta API reports it: `wamp.2.json`, `wamp`, `local`. */
  readonly protocol: string;
  /** Whether this session, as a callee, accepts INTERRUPT (WAMP call canceling). */
  readonly acceptsInterrupt: boolean;
  /** Whether this session, as a callee, understands the router revoking a registration (UNREGISTERED with details). */
  readonly acceptsRevocation?: boolean;
  /**
   * Delivers an event. The same {@link Event} object goes to every subscriber of a
   * publish, so implementations encode through the codec's per-event cache.
   */
  deliverEvent(event: Event): void;
  /** Delivers any other router message (RESULT, ERROR, INVOCATION, INTERRUPT). */
  send(message: RouterMessage): void;
  /**
   * Ends the session from the router's side (the meta API's `wamp.session.kill`):
   * a v2 session gets GOODBYE with `reason` and `message`, a v1 socket is closed,
   * a local session closes. The session leaves the realm at once.
   * @throws {WampError} when the session may not be killed (the server's own sessions)
   */
  kill(reason: string, message?: string): void;
  /** Set on the router's own meta API: INVOCATION details always name the caller. */
  readonly seesCallers?: boolean;
  /**
   * Set on a session that lives on another node of a cluster: the node's id. The
   * realm lists such sessions and the dealer calls them, but their own node
   * announces their meta events.
   */
  readonly node?: string;
}

/**
 * Told of the lifecycle of a subscription or registration, in the order the meta
 * API publishes it: `created` is followed by `added`, `removed` of the last
 * member by `deleted`.
 */
export interface MembershipListener<T> {
  /** `session` made `item`, which did not exist. */
  created(session: Participant, item: T): void;
  /** `session` was added to `item`. */
  added(session: Participant, item: T): void;
  /** `session` was removed from `item`. */
  removed(session: Participant, item: T): void;
  /** `item` lost its last member, `session`, and is gone. */
  deleted(session: Participant, item: T): void;
}

/** A listener that tells both `a` and `b` (either may be null). */
export function bothListeners<T>(
  a: MembershipListener<T> | null,
  b: MembershipListener<T>,
): MembershipListener<T> {
  if (a === null) return b;
  return {
    created: (s, item) => {
      a.created(s, item);
      b.created(s, item);
    },
    added: (s, item) => {
      a.added(s, item);
      b.added(s, item);
    },
    removed: (s, item) => {
      a.removed(s, item);
      b.removed(s, item);
    },
    deleted: (s, item) => {
      a.deleted(s, item);
      b.deleted(s, item);
    },
  };
}
