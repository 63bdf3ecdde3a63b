/**
 * The participants that stand, in a node's realm, for what lives on another node.
 *
 * A {@link RemoteSession} is a session of another node: the realm lists it (so the
 * session meta procedures answer for the cluster) and the dealer registers it as a
 * callee of what it offers, so a call picks among every callee of the cluster by
 * the registration's own policy. Its INVOCATIONs and INTERRUPTs go to its node.
 *
 * A {@link NodeCaller} is another node as a caller: calls routed here from there
 * run through this dealer as its calls, with that node's invocation ids as request
 * ids, and their answers go back to that node.
 *
 * @module
 */

import type { Dict, RouterMessage } from "../protocol/messages.ts";
import type { Event } from "../protocol/messages.ts";
import type { Participant } from "../realm/participant.ts";
import type { SessionInfo } from "./wire.ts";

/** Where the remote participants send what the realm gives them. */
export interface RemoteOutlet {
  /** Forwards an INVOCATION or INTERRUPT for `callee` to its node. */
  toCallee(callee: RemoteSession, message: RouterMessage): void;
  /** Forwards a RESULT or ERROR to the node whose call it answers. */
  toCaller(caller: NodeCaller, message: RouterMessage): void;
  /** Asks `s`'s node to kill it. */
  kill(s: RemoteSession, reason: string, message?: string): void;
}

/** A session of another node of the cluster. */
export class RemoteSession implements Participant {
  readonly id: number;
  readonly authid: string;
  readonly authrole: string;
  readonly authmethod: string;
  readonly authprovider: string;
  readonly protocol: string;
  /**
   * Always: INTERRUPT goes to the callee's node, which passes it on only to a
   * callee that announced call canceling, and in any case forgets the call.
   */
  readonly acceptsInterrupt = true;

  /**
   * Stands for a session of `node`.
   * @param node the node it lives on
   * @param info the session as its node announced it
   */
  constructor(readonly node: string, info: SessionInfo, private readonly outlet: RemoteOutlet) {
    this.id = info.id;
    this.authid = info.authid;
    this.authrole = info.authrole;
    this.authmethod = info.authmethod;
    this.authprovider = info.authprovider;
    this.protocol = info.protocol;
  }

  /** Never subscribed here: its own node delivers its events. */
  deliverEvent(_event: Event): void {}

  /** INVOCATION and INTERRUPT go to its node; nothing else is sent to a remote callee. */
  send(message: RouterMessage): void {
    this.outlet.toCallee(this, message);
  }

  /** The meta API's kill, done by its node. */
  kill(reason: string, message?: string): void {
    this.outlet.kill(this, reason, message);
  }
}

/** Another node, as the caller of the calls it routes to this node's callees. */
export class NodeCaller implements Participant {
  readonly authid = "cluster";
  readonly authrole = "trusted";
  readonly authmethod = "cluster";
  readonly authprovider = "cluster";
  readonly protocol = "cluster";
  readonly acceptsInterrupt = false;

  /**
   * Stands for `node` as a caller.
   * @param id a session id of this node's (never announced)
   * @param node the node whose calls it makes
   */
  constructor(readonly id: number, readonly node: string, private readonly outlet: RemoteOutlet) {}

  deliverEvent(_event: Event): void {}

  /** RESULT and ERROR for the calls it made. */
  send(message: RouterMessage): void {
    this.outlet.toCaller(this, message);
  }

  /** A node is not killed through the meta API. */
  kill(): void {}
}

/** The announcement of a local session for other nodes. */
export function sessionInfo(s: Participant): SessionInfo {
  return {
    id: s.id,
    authid: s.authid,
    authrole: s.authrole,
    authmethod: s.authmethod,
    authprovider: s.authprovider,
    protocol: s.protocol,
  };
}

/** Payload fields of a message for the wire, without the absent ones. */
export function payload(args: unknown[] | undefined, kwargs: Dict | undefined): { a?: unknown[]; w?: Dict } {
  const out: { a?: unknown[]; w?: Dict } = {};
  if (args !== undefined) out.a = args;
  if (kwargs !== undefined) out.w = kwargs;
  return out;
}
