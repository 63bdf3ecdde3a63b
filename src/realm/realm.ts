/**
 * A realm: a routing namespace with its own broker, dealer, roles and sessions.
 * Sessions in different realms never see each other's topics or procedures.
 *
 * @module
 */

import { Authorizer, type RoleDefinition } from "../auth/authorizer.ts";
import { Broker } from "./broker.ts";
import { Dealer } from "./dealer.ts";
import type { Participant } from "./participant.ts";

/** One realm of the router. */
export class Realm {
  /** Publish & subscribe. */
  readonly broker: Broker = new Broker();
  /** Routed RPC. */
  readonly dealer: Dealer = new Dealer();
  /** What each role may do here. */
  readonly authorizer: Authorizer;
  #sessions = new Set<Participant>();

  /**
   * Creates an empty realm with its own broker, dealer and roles.
   * @param name the realm's name, as HELLO names it
   * @param roles the roles sessions may have here; none means nobody may do anything
   */
  constructor(readonly name: string, roles: readonly RoleDefinition[] = []) {
    this.authorizer = new Authorizer(roles);
  }

  /** Adds a session that completed its handshake. */
  join(s: Participant): void {
    this.#sessions.add(s);
  }

  /** Removes a session and everything it held: subscriptions, registrations, calls. */
  leave(s: Participant): void {
    if (!this.#sessions.delete(s)) return;
    this.broker.removeSession(s);
    this.dealer.removeSession(s);
  }

  /** How many sessions are in the realm. */
  get sessionCount(): number {
    return this.#sessions.size;
  }
}
