/**
 * The router: its realms, how sessions authenticate, the per-session limits, the
 * session ids in use, what it refused (counted), and an orderly shutdown.
 *
 * @module
 */

import { Authentication } from "./auth/authentication.ts";
import { type AuthConfig, DEFAULT_AUTH } from "./auth/authenticator.ts";
import type { RealmDefinition } from "./auth/authorizer.ts";
import { defaultRoles } from "./auth/default_roles.ts";
import type { FailureThrottle } from "./auth/throttle.ts";
import { type Logger, SILENT } from "./log.ts";
import { randomId } from "./protocol/ids.ts";
import { Tally } from "./stats/histogram.ts";
import { Realm } from "./realm/realm.ts";
import type { EventStore, StoreConfig } from "./store/store.ts";
import { MemoryStore } from "./store/memory.ts";

/** Per-session quotas; 0 turns one off. */
export interface SessionLimits {
  /** Most topics one session may be subscribed to. */
  subscriptions: number;
  /** Most procedures one session may register. */
  registrations: number;
  /** Most calls one session may have in flight as a caller. */
  pendingCalls: number;
  /** Publishes plus calls per second, sustained (the bucket's refill rate). */
  rate: number;
  /** Publishes plus calls allowed in a burst (the bucket's size). */
  burst: number;
  /** Seconds a call may wait for its answer when the caller sets no `timeout`; 0 waits forever. */
  callTimeout: number;
}

/** The defaults: generous for a person's tab, a wall for a runaway script. */
export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  subscriptions: 1_000,
  registrations: 100,
  pendingCalls: 1_000,
  rate: 1_000,
  burst: 2_000,
  callTimeout: 0,
});

/** Router settings; every field has a default. */
export interface RouterOptions {
  /**
   * Realms sessions may join; the first is the default (v1 sessions join it). A
   * name alone gets the default roles (see `auth/default_roles.ts`). Default `["realm1"]`.
   */
  realms?: (string | RealmDefinition)[];
  /** Authentication methods. Default: anonymous, as the role `anonymous`. */
  auth?: AuthConfig;
  /** The failure throttle of authentication (tests use a quicker one). */
  authThrottle?: FailureThrottle;
  /** Per-session quotas; unset ones keep their defaults. */
  limits?: Partial<SessionLimits>;
  /** The history kept by realms that configure no store of their own. Default: none. */
  store?: StoreConfig;
  /**
   * Makes each realm's store from its settings. Default: in memory (a `rabbitmq`
   * store needs the server to say where the broker is).
   */
  openStore?: (realm: string, config: StoreConfig) => EventStore;
  /** Agent string sent in WELCOME (v2) and as the server ident (v1). */
  agent?: string;
  /** Largest incoming frame in bytes; larger ones end the session. Default 1 MiB. */
  maxMessageSize?: number;
  /** How long a v2 connection may wait before HELLO, in ms. Default 10 s. */
  helloTimeoutMs?: number;
  /** Where session opens and closes, failed authentications and quota hits are logged. Default: nowhere. */
  log?: Logger;
}

/** Something the router must close when it shuts down (a session of any kind). */
export interface Closable {
  /** Closes with a goodbye appropriate to the protocol; resolves once the transport is closed or given up. */
  shutdown(): Promise<void> | void;
}

/** The agent string Tuerca announces. */
export const AGENT = "Tuerca/0.1";

/** What the router refused or dropped, counted since it started. */
export interface RouterCounters {
  /** Requests denied by a role's permissions (v2 ERRORs, v1 CALLERRORs and dropped v1 messages). */
  notAuthorized: number;
  /** Failed authentications (wrong secrets, unknown authids, no method). */
  authenticationFailures: number;
  /** Requests refused by a per-session quota. */
  quotaExceeded: number;
  /** Publishes and calls refused by the per-session rate. */
  rateLimited: number;
  /** v1 SUBSCRIBE and PUBLISH messages dropped (v1 has no error message for them). */
  v1Dropped: number;
  /** Failed authentications by method (`none` when no offered method is enabled). */
  authFailures: Tally;
  /** ERROR and ABORT answers by error URI. */
  errors: Tally;
  /** Sessions (connections) opened, by subprotocol. */
  sessionsOpened: Tally;
  /** Sessions closed, by `"<subprotocol> <reason>"`. */
  sessionsClosed: Tally;
  /** Messages received by message type code (v1 PREFIX counts at 0). */
  messagesIn: number[];
  /** Messages sent by message type code, EVENTs aside (the broker counts those per publish). */
  messagesOut: number[];
}

/** The highest WAMP v2 message type code, for the per-type counters. */
const MAX_TYPE = 70;
/** Owns the realms and the sessions. */
export class Router {
  /** Agent string sent in WELCOME (v2) and as the server ident (v1). Default {@link AGENT}. */
  readonly agent: string;
  /** Largest incoming frame in bytes; larger ones end the session. Default 1 MiB. */
  readonly maxMessageSize: number;
  /** How long a v2 connection may wait before HELLO, in milliseconds. Default 10 s. */
  readonly helloTimeoutMs: number;
  /** The realm v1 sessions join, and the first of `realms`. */
  readonly defaultRealm: Realm;
  /** The configured authentication methods. */
  readonly authentication: Authentication;
  /** Per-session quotas. */
  readonly limits: Readonly<SessionLimits>;
  /** What the router refused, counted. */
  readonly counters: RouterCounters = {
    notAuthorized: 0,
    authenticationFailures: 0,
    quotaExceeded: 0,
    rateLimited: 0,
    v1Dropped: 0,
    authFailures: new Tally(),
    errors: new Tally(),
    sessionsOpened: new Tally(),
    sessionsClosed: new Tally(),
    messagesIn: new Array(MAX_TYPE + 1).fill(0),
    messagesOut: new Array(MAX_TYPE + 1).fill(0),
  };
  /** Where sessions, authentication failures and quota hits are logged. */
  readonly log: Logger;
  /** When the router started (ms since the epoch). */
  readonly startedAt: number = Date.now();
  /**
   * What this node publishes for the other nodes of its cluster (set by the
   * cluster; null outside one). Its promise resolves once everything published so
   * far has reached the broker, and rejects if some of it may have been lost (see
   * {@link flushed}, which the queue bridge waits for before it acknowledges).
   */
  outbound: { flushed(): Promise<void> } | null = null;
  #realms = new Map<string, Realm>();
  #live = new Set<number>();
  #closables = new Set<Closable>();
  #closing = false;

  /** Creates the realms (by default just `realm1`) and applies the defaults of `options`. */
  constructor(options: RouterOptions = {}) {
    const realms = options.realms?.length ? options.realms : ["realm1"];
    const open = options.openStore ?? ((_realm: string, config: StoreConfig) => new MemoryStore(config));
    const none: StoreConfig = { type: "memory", eventHistory: [], maxTotalBytes: 0 };
    for (const r of realms) {
      const name = typeof r === "string" ? r : r.name;
      const config = (typeof r === "string" ? undefined : r.store) ?? options.store ?? none;
      const roles = typeof r === "string" ? defaultRoles() : r.roles;
      const realm = new Realm(name, roles, this.newSessionId(), open(name, config));
      this.#realms.set(realm.name, realm);
    }
    this.defaultRealm = this.#realms.values().next().value!;
    this.authentication = new Authentication(options.auth ?? DEFAULT_AUTH, options.authThrottle);
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...options.limits };
    this.agent = options.agent ?? AGENT;
    this.maxMessageSize = options.maxMessageSize ?? 1024 * 1024;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.log = options.log ?? SILENT;
  }

  /** Every realm. */
  realms(): IterableIterator<Realm> {
    return this.#realms.values();
  }

  /**
   * Resolves once what this node has published so far is safe beyond it: the
   * copies for the other nodes of its cluster ({@link outbound}) and the appends to
   * histories kept in the broker. Rejects if some of it may have been lost. Null
   * when there is nothing to wait for (one node, history in memory).
   */
  flushed(): Promise<void> | null {
    const waits: Promise<void>[] = [];
    if (this.outbound !== null) waits.push(this.outbound.flushed());
    for (const realm of this.#realms.values()) {
      const appended = realm.broker.store?.flushed?.();
      if (appended !== undefined) waits.push(appended);
    }
    if (waits.length <= 1) return waits[0] ?? null;
    return Promise.all(waits).then(() => {});
  }

  /** The realm called `name`, if the router has one. */
  realm(name: string): Realm | undefined {
    return this.#realms.get(name);
  }

  /** A fresh random session id, unique among live sessions. Release it with {@link releaseSessionId}. */
  newSessionId(): number {
    let id = randomId();
    while (this.#live.has(id)) id = randomId();
    this.#live.add(id);
    return id;
  }

  /** Frees a session id. */
  releaseSessionId(id: number): void {
    this.#live.delete(id);
  }

  /** Whether the router is shutting down (new sessions are refused). */
  get closing(): boolean {
    return this.#closing;
  }

  /** Tracks a session (or any closable) for shutdown. */
  attach(c: Closable): void {
    this.#closables.add(c);
  }

  /** Stops tracking a closable. */
  detach(c: Closable): void {
    this.#closables.delete(c);
  }

  /** How many sessions are attached. */
  get sessionCount(): number {
    return this.#closables.size;
  }

  /** Says goodbye to every session and waits (boundedly) for them to close. */
  async shutdown(): Promise<void> {
    this.#closing = true;
    await Promise.allSettled([...this.#closables].map((c) => c.shutdown()));
  }
}
