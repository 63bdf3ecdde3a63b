/**
 * The router: its realms, the session ids in use, and an orderly shutdown.
 *
 * @module
 */

import { randomId } from "./protocol/ids.ts";
import { Realm } from "./realm/realm.ts";

/** Router settings; every field has a default. */
export interface RouterOptions {
  /** Realms sessions may join; the first is the default (v1 sessions join it). Default `["realm1"]`. */
  realms?: string[];
  /** Agent string sent in WELCOME (v2) and as the server ident (v1). */
  agent?: string;
  /** Largest incoming frame in bytes; larger ones end the session. Default 1 MiB. */
  maxMessageSize?: number;
  /** How long a v2 connection may wait before HELLO, in ms. Default 10 s. */
  helloTimeoutMs?: number;
}

/** Something the router must close when it shuts down (a session of any kind). */
export interface Closable {
  /** Closes with a goodbye appropriate to the protocol; resolves once the transport is closed or given up. */
  shutdown(): Promise<void> | void;
}

/** The agent string Tuerca announces. */
export const AGENT = "Tuerca/0.1";

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
  #realms = new Map<string, Realm>();
  #live = new Set<number>();
  #closables = new Set<Closable>();
  #closing = false;

  /** Creates the realms (by default just `realm1`) and applies the defaults of `options`. */
  constructor(options: RouterOptions = {}) {
    const names = options.realms?.length ? options.realms : ["realm1"];
    for (const name of names) this.#realms.set(name, new Realm(name));
    this.defaultRealm = this.#realms.get(names[0])!;
    this.agent = options.agent ?? AGENT;
    this.maxMessageSize = options.maxMessageSize ?? 1024 * 1024;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
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
