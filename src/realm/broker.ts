/**
 * The broker: WAMP publish & subscribe within one realm.
 *
 * A subscription is a topic URI or pattern with its match policy (`exact`,
 * `prefix`, `wildcard`); all sessions subscribing with the same URI and policy
 * share it (one id). A publish builds one {@link Event} per matching
 * subscription, handed to every subscriber of it, whose codec encodes it at most
 * once; a session holding several matching subscriptions gets the event once per
 * subscription, each with its own subscription id. Events delivered on pattern
 * subscriptions carry the concrete topic in `details.topic`.
 *
 * Cost of a publish: O(subscribers reached). Patterns are indexed (see
 * {@link PatternIndex}), and a realm without pattern subscriptions pays one map
 * lookup for them: nothing.
 *
 * With a store, publications on topics that keep history are appended to it
 * (those with black- or whitelists are not: the spec's rule), a publish with
 * `retain: true` becomes its topic's retained event, and a SUBSCRIBE with
 * `get_retained` gets the retained events it may see first
 * ({@link Broker.deliverRetained}), with `details.retained`.
 *
 * Subscription lifecycle changes are reported to a {@link MembershipListener} (the
 * subscription meta API).
 *
 * @module
 */

import { MessageType as T } from "../protocol/constants.ts";
import { IdSequence, publicationId, randomId } from "../protocol/ids.ts";
import type { Dict, Event } from "../protocol/messages.ts";
import { type MatchPolicy, PatternIndex } from "../protocol/pattern.ts";
import type { EventStore } from "../store/store.ts";
import type { MembershipListener, Participant } from "./participant.ts";
import { LIST_OPTIONS, PublishFilter } from "./publish_filter.ts";

/** One topic's (or pattern's) subscription, shared by all its subscribers. */
export class Subscription {
  /** The sessions subscribed; the fan-out iterates this set. */
  readonly subscribers: Set<Participant> = new Set();
  /** When the first subscriber arrived (ms since the epoch). */
  readonly created: number = Date.now();

  /**
   * Creates an empty subscription; the broker adds the subscribers.
   * @param id the subscription id, 1..2^53, unique in the broker
   * @param topic the topic URI, or the pattern for `prefix` and `wildcard`
   * @param match how `topic` is matched against published topics
   */
  constructor(readonly id: number, readonly topic: string, readonly match: MatchPolicy = "exact") {}
}

/** What a publish asks of the broker (already validated by the session). */
export interface PublishRequest {
  /** The topic URI, already checked. */
  topic: string;
  /** Positional payload (PUBLISH.Arguments). */
  args?: unknown[];
  /** Keyword payload (PUBLISH.ArgumentsKw). */
  kwargs?: Dict;
  /** The PUBLISH options: `exclude_me`, black- and whitelists. */
  options: Dict;
}

const NO_DETAILS: Dict = Object.freeze({}) as Dict;

/**
 * Takes this node's publishes to the other nodes of a cluster (set by the cluster
 * layer; the broker knows nothing more of it).
 */
export interface PublishRelay {
  /**
   * A publish was routed here. Called once per publish, after local delivery; the
   * request and its payload must not be changed.
   * @param identity the publisher's disclosed identity, or null
   */
  published(req: PublishRequest, publication: number, identity: Dict | null): void;
  /**
   * Whether a publish on `topic` may reach a subscriber on another node: false only
   * when the relay knows that none holds it (it tracks the meta topics).
   */
  mayReach(topic: string): boolean;
}

/** Publish & subscribe for one realm. */
export class Broker {
  /** Told of subscription lifecycle changes; set by the realm. */
  listener: MembershipListener<Subscription> | null = null;
  /** Takes publishes to the other nodes of a cluster; none outside a cluster. */
  relay: PublishRelay | null = null;
  /** Publishes routed, and the events they delivered (counted per publish, not per event). */
  readonly counters: { publishes: number; events: number } = { publishes: 0, events: 0 };
  #index = new PatternIndex<Subscription>();
  #byId = new Map<number, Subscription>();
  #bySession = new Map<Participant, Set<Subscription>>();
  #ids = new IdSequence();
  #matches: Subscription[] = [];
  #publishing = false;

  /**
   * An empty broker.
   * @param store where history and retained events are kept; none keeps nothing
   */
  constructor(readonly store: EventStore | null = null) {}

  /**
   * Hands out the next subscription ids from a random point of the ID space: the
   * nodes of a cluster do this, so that an id names one subscription cluster-wide
   * (two nodes' runs of ids overlap with a chance of about the ids made ÷ 2^52).
   */
  spreadIds(): void {
    // From the lower half: a node never runs into the top of the space and wraps.
    this.#ids = new IdSequence(Math.floor(randomId() / 2));
  }

  /** Subscribes `s` to `topic` under `match`; subscribing again returns the same subscription. */
  subscribe(s: Participant, topic: string, match: MatchPolicy = "exact"): Subscription {
    let sub = this.#index.get(topic, match);
    const created = sub === undefined;
    if (sub === undefined) {
      let id = this.#ids.next();
      while (this.#byId.has(id)) id = this.#ids.next();
      sub = new Subscription(id, topic, match);
      this.#index.set(topic, match, sub);
      this.#byId.set(sub.id, sub);
    }
    if (sub.subscribers.has(s)) return sub;
    sub.subscribers.add(s);
    let mine = this.#bySession.get(s);
    if (mine === undefined) this.#bySession.set(s, mine = new Set());
    mine.add(sub);
    if (this.listener !== null) {
      if (created) this.listener.created(s, sub);
      this.listener.added(s, sub);
    }
    return sub;
  }

  /** Ends `s`'s subscription `id`; false when `s` holds no such subscription. */
  unsubscribe(s: Participant, id: number): boolean {
    const sub = this.#byId.get(id);
    if (sub === undefined || !sub.subscribers.has(s)) return false;
    this.#drop(s, sub);
    return true;
  }

  /** Ends `s`'s exact subscription to `topic` (v1 names topics); false when there was none. */
  unsubscribeTopic(s: Participant, topic: string): boolean {
    const sub = this.#index.get(topic, "exact");
    if (sub === undefined || !sub.subscribers.has(s)) return false;
    this.#drop(s, sub);
    return true;
  }

  /** Ends every subscription `s` holds (the session left). */
  removeSession(s: Participant): void {
    const mine = this.#bySession.get(s);
    if (mine === undefined) return;
    for (const sub of mine) this.#drop(s, sub);
  }

  /**
   * Publishes to every subscriber of every subscription matching `req.topic` that
   * the options allow, and returns the publication id. The publisher is left out
   * unless `exclude_me` is false. With a {@link relay}, the publish also goes to
   * the other nodes of the cluster, unless `relay` is false.
   * @param disclose whether EVENT details name the publisher (`publisher`, `publisher_authid`,
   *   `publisher_authrole`): the client's `disclose_me`, or its role's forced disclosure
   * @param relay false for a publish meant for this node's sessions only
   * @throws {WampError} `wamp.error.invalid_argument` for malformed black/whitelists.
   */
  publish(publisher: Participant | null, req: PublishRequest, disclose = false, relay = true): number {
    const options = req.options;
    const filter = PublishFilter.fromOptions(options);
    const publication = publicationId();
    const identity = disclose && publisher !== null
      ? {
        publisher: publisher.id,
        publisher_authid: publisher.authid,
        publisher_authrole: publisher.authrole,
      }
      : null;
    this.#route(req, publication, identity, options.exclude_me === false ? null : publisher, filter, true);
    if (relay && this.relay !== null) this.relay.published(req, publication, identity);
    return publication;
  }

  /**
   * Delivers a publish made on another node of the cluster to this node's
   * subscribers, under its own publication id. It is not relayed again.
   * @param identity the publisher's disclosed identity, or null
   * @throws {WampError} `wamp.error.invalid_argument` for malformed black/whitelists.
   */
  deliverRelayed(req: PublishRequest, publication: number, identity: Dict | null): void {
    this.#route(req, publication, identity, null, PublishFilter.fromOptions(req.options), false);
  }

  #route(
    req: PublishRequest,
    publication: number,
    identity: Dict | null,
    skip: Participant | null,
    filter: PublishFilter | null,
    local: boolean,
  ): void {
    this.counters.publishes++;
    const exact = this.#index.get(req.topic, "exact");
    if (this.store !== null) this.#keep(this.store, req, publication, identity ?? NO_DETAILS, filter, local);
    if (exact !== undefined) {
      this.#deliver(exact, publication, identity ?? NO_DETAILS, req, skip, filter);
    }
    if (this.#index.patternCount === 0) return;
    // One list reused across publishes, unless a local subscriber publishes while we deliver.
    const matches = this.#publishing ? [] : this.#matches;
    this.#index.collectPatterns(req.topic, matches);
    if (matches.length === 0) return;
    const outer = !this.#publishing;
    this.#publishing = true;
    try {
      for (const sub of matches) {
        const details: Dict = identity === null ? { topic: req.topic } : { ...identity, topic: req.topic };
        this.#deliver(sub, publication, details, req, skip, filter);
      }
    } finally {
      if (outer) {
        this.#publishing = false;
        matches.length = 0;
      }
    }
  }

  /**
   * Delivers to `s`, on `sub`, for each topic `sub` covers, the newest retained
   * event the black- and whitelists of its publish allow `s` to see. Call it after
   * SUBSCRIBED has gone out.
   */
  deliverRetained(s: Participant, sub: Subscription): void {
    if (this.store === null) return;
    for (const candidates of this.store.retained({ uri: sub.topic, match: sub.match })) {
      const r = candidates.findLast((c) => PublishFilter.fromOptions(c.options)?.allows(s) ?? true);
      if (r === undefined) continue;
      const details: Dict = sub.match === "exact"
        ? { ...r.details, retained: true }
        : { ...r.details, topic: r.topic, retained: true };
      s.deliverEvent({
        type: T.EVENT,
        subscription: sub.id,
        publication: r.publication,
        details,
        args: r.args,
        kwargs: r.kwargs,
        topic: r.topic,
        frames: [],
      });
    }
  }

  /** Whether `s` holds the subscription to `topic` under `match`. */
  isSubscribed(s: Participant, topic: string, match: MatchPolicy = "exact"): boolean {
    return this.#index.get(topic, match)?.subscribers.has(s) ?? false;
  }

  /**
   * Whether a publish on `topic` could reach anyone: it has subscribers, patterns
   * exist, or other nodes of a cluster may have subscribers.
   */
  mayDeliver(topic: string): boolean {
    return this.#index.patternCount > 0 || this.#index.get(topic, "exact") !== undefined ||
      (this.relay !== null && this.relay.mayReach(topic));
  }

  /** How many subscriptions `s` holds. */
  subscriptionCountOf(s: Participant): number {
    return this.#bySession.get(s)?.size ?? 0;
  }

  /** The subscription for `topic` under `match` (default exact), if anyone holds it. */
  subscription(topic: string, match: MatchPolicy = "exact"): Subscription | undefined {
    return this.#index.get(topic, match);
  }

  /** The subscription with this id, if it exists. */
  subscriptionById(id: number): Subscription | undefined {
    return this.#byId.get(id);
  }

  /** Every subscription matching a concrete `topic`: exact, then prefixes, then wildcards. */
  matching(topic: string): Subscription[] {
    const out: Subscription[] = [];
    this.#index.collect(topic, out);
    return out;
  }

  /** Every subscription, in no particular order. */
  subscriptions(): IterableIterator<Subscription> {
    return this.#byId.values();
  }

  /** How many subscriptions exist (topics and patterns with at least one subscriber). */
  get topicCount(): number {
    return this.#byId.size;
  }

  /** How many sessions hold at least one subscription. */
  get subscriberCount(): number {
    return this.#bySession.size;
  }

  /**
   * Keeps the publication in the store: as history where the topic keeps it, as
   * retained when asked. A shared store's history is appended by the node the
   * publish was made on (`local`) only.
   */
  #keep(
    store: EventStore,
    req: PublishRequest,
    publication: number,
    details: Dict,
    filter: PublishFilter | null,
    local: boolean,
  ): void {
    const retain = req.options.retain === true;
    const history = filter === null && (local || store.shared !== true) && store.keeps(req.topic);
    if (!retain && !history) return;
    const event = {
      topic: req.topic,
      publication,
      timestamp: Date.now(),
      details,
      args: req.args,
      kwargs: req.kwargs,
    };
    if (history) store.append(event);
    if (retain) store.retain({ ...event, options: filter === null ? {} : listsOf(req.options) });
  }

  #deliver(
    sub: Subscription,
    publication: number,
    details: Dict,
    req: PublishRequest,
    skip: Participant | null,
    filter: PublishFilter | null,
  ): void {
    const event: Event = {
      type: T.EVENT,
      subscription: sub.id,
      publication,
      details,
      args: req.args,
      kwargs: req.kwargs,
      topic: req.topic,
      frames: [],
    };
    if (filter === null) {
      for (const s of sub.subscribers) {
        if (s !== skip) s.deliverEvent(event);
      }
      this.counters.events += skip !== null && sub.subscribers.has(skip)
        ? sub.subscribers.size - 1
        : sub.subscribers.size;
    } else {
      let delivered = 0;
      for (const s of sub.subscribers) {
        if (s !== skip && filter.allows(s)) {
          s.deliverEvent(event);
          delivered++;
        }
      }
      this.counters.events += delivered;
    }
  }

  #drop(s: Participant, sub: Subscription): void {
    sub.subscribers.delete(s);
    const mine = this.#bySession.get(s);
    if (mine !== undefined && mine.delete(sub) && mine.size === 0) this.#bySession.delete(s);
    const deleted = sub.subscribers.size === 0;
    if (deleted) {
      this.#index.delete(sub.topic, sub.match);
      this.#byId.delete(sub.id);
    }
    if (this.listener !== null) {
      this.listener.removed(s, sub);
      if (deleted) this.listener.deleted(s, sub);
    }
  }
}

/** The black- and whitelists of PUBLISH options (what decides who may see a retained event). */
function listsOf(options: Dict): Dict {
  const lists: Dict = {};
  for (const key of LIST_OPTIONS) if (options[key] !== undefined) lists[key] = options[key];
  return lists;
}
