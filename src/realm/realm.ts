/**
 * A realm: a routing namespace with its own broker, dealer, roles, sessions, meta
 * API and testaments. Sessions in different realms never see each other's topics
 * or procedures.
 *
 * @module
 */

import { Authorizer, type RoleDefinition } from "../auth/authorizer.ts";
import { MemoryStore } from "../store/memory.ts";
import type { EventStore, StoreConfig } from "../store/store.ts";
import { Broker } from "./broker.ts";
import { Dealer } from "./dealer.ts";
import { MetaApi, type MetaScope } from "./meta.ts";
import type { Participant } from "./participant.ts";
import { Testaments } from "./testament.ts";

const NO_HISTORY: StoreConfig = { type: "memory", eventHistory: [], maxTotalBytes: 0 };

/**
 * Told of the sessions that join and leave a realm: after the realm has added or
 * removed the session, before their meta events and testaments are published.
 */
export interface SessionListener {
  /** `s` joined. */
  joined(s: Participant): void;
  /** `s` left; its subscriptions, registrations and calls are gone. */
  left(s: Participant): void;
}

/** One realm of the router. */
export class Realm implements MetaScope {
  /** Publish & subscribe. */
  readonly broker: Broker;
  /** Routed RPC. */
  readonly dealer: Dealer = new Dealer();
  /** What each role may do here. */
  readonly authorizer: Authorizer;
  /** What sessions leave behind to be published when they go. */
  readonly testaments: Testaments = new Testaments();
  /** The meta API: meta procedures and meta events. */
  readonly meta: MetaApi;
  /** Told when sessions join and leave (the cluster layer); none by default. */
  sessionListener: SessionListener | null = null;
  #sessions = new Map<number, Participant>();

  /**
   * Creates an empty realm with its own broker, dealer, roles and meta API.
   * @param name the realm's name, as HELLO names it
   * @param roles the roles sessions may have here; none means nobody may do anything
   * @param metaSessionId the session id the meta API publishes its events under
   * @param store where history and retained events are kept; by default in memory,
   *   with no history (retained events are kept all the same)
   */
  constructor(
    readonly name: string,
    roles: readonly RoleDefinition[] = [],
    metaSessionId = 1,
    store: EventStore = new MemoryStore(NO_HISTORY),
  ) {
    this.broker = new Broker(store);
    this.authorizer = new Authorizer(roles);
    this.meta = new MetaApi(metaSessionId, this);
    this.broker.listener = this.meta.subscriptionEvents;
    this.dealer.listener = this.meta.registrationEvents;
  }

  /**
   * Adds a session that completed its handshake and announces it
   * (`wamp.session.on_join`), unless `announce` is false: a session of another
   * cluster node whose own node announced it.
   */
  join(s: Participant, announce = true): void {
    this.#sessions.set(s.id, s);
    // The other nodes first: their meta API must know the session by the time on_join reaches them.
    this.sessionListener?.joined(s);
    if (announce) this.meta.joined(s);
  }

  /**
   * Removes a session and everything it held (subscriptions, registrations,
   * calls), then publishes its testaments and `wamp.session.on_leave`, unless
   * `announce` is false (its own cluster node published them). For a session of
   * another node, these go to this node's subscribers only.
   */
  leave(s: Participant, announce = true): void {
    if (this.#sessions.get(s.id) !== s) return;
    this.#sessions.delete(s.id);
    this.broker.removeSession(s);
    this.dealer.removeSession(s);
    // The other nodes first, as in join: gone there before its on_leave arrives.
    this.sessionListener?.left(s);
    const testaments = this.testaments.take(s);
    if (announce) {
      for (const t of testaments) {
        try {
          this.broker.publish(s, t, t.options.disclose_me === true, s.node === undefined);
        } catch {
          // A malformed black/whitelist in the testament's options: nothing to publish.
        }
      }
      this.meta.left(s);
    }
  }

  /** The session with this id, if it is in the realm. */
  session(id: number): Participant | undefined {
    return this.#sessions.get(id);
  }

  /** Every session in the realm. */
  sessions(): IterableIterator<Participant> {
    return this.#sessions.values();
  }

  /** How many sessions are in the realm. */
  get sessionCount(): number {
    return this.#sessions.size;
  }
}
