/**
 * The broker: WAMP publish & subscribe within one realm.
 *
 * Topics are matched exactly. All sessions subscribed to a topic share one
 * subscription (one id), so one publish builds one {@link Event} that every
 * subscriber's codec encodes at most once. A publish costs O(subscribers of that
 * topic); sessions keep no per-topic state of their own.
 *
 * @module
 */

import { MessageType as T } from "../protocol/constants.ts";
import { IdSequence, publicationId } from "../protocol/ids.ts";
import type { Dict, Event } from "../protocol/messages.ts";
import type { Participant } from "./participant.ts";
import { PublishFilter } from "./publish_filter.ts";

/** One topic's subscription, shared by all its subscribers. */
export class Subscription {
  /** The sessions subscribed; the fan-out iterates this set. */
  readonly subscribers: Set<Participant> = new Set();
  /** When the first subscriber arrived (ms since the epoch). */
  readonly created: number = Date.now();

  /**
   * Creates an empty subscription; the broker adds the subscribers.
   * @param id the subscription id, 1..2^53, unique in the broker
   * @param topic the topic URI, matched exactly
   */
  constructor(readonly id: number, readonly topic: string) {}
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

/** Publish & subscribe for one realm. */
export class Broker {
  #byTopic = new Map<string, Subscription>();
  #byId = new Map<number, Subscription>();
  #bySession = new Map<Participant, Set<Subscription>>();
  #ids = new IdSequence();

  /** Subscribes `s` to `topic`; subscribing again returns the same subscription. */
  subscribe(s: Participant, topic: string): Subscription {
    let sub = this.#byTopic.get(topic);
    if (sub === undefined) {
      sub = new Subscription(this.#ids.next(), topic);
      this.#byTopic.set(topic, sub);
      this.#byId.set(sub.id, sub);
    }
    sub.subscribers.add(s);
    let mine = this.#bySession.get(s);
    if (mine === undefined) this.#bySession.set(s, mine = new Set());
    mine.add(sub);
    return sub;
  }

  /** Ends `s`'s subscription `id`; false when `s` holds no such subscription. */
  unsubscribe(s: Participant, id: number): boolean {
    const sub = this.#byId.get(id);
    if (sub === undefined || !sub.subscribers.has(s)) return false;
    this.#drop(s, sub);
    return true;
  }

  /** Ends `s`'s subscription to `topic` (v1 names topics); false when there was none. */
  unsubscribeTopic(s: Participant, topic: string): boolean {
    const sub = this.#byTopic.get(topic);
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
   * Publishes to every subscriber of `req.topic` the options allow, and returns the
   * publication id. The publisher is left out unless `exclude_me` is false.
   * @param disclose whether EVENT details name the publisher (`publisher`, `publisher_authid`,
   *   `publisher_authrole`): the client's `disclose_me`, or its role's forced disclosure
   * @throws {WampError} `wamp.error.invalid_argument` for malformed black/whitelists.
   */
  publish(publisher: Participant | null, req: PublishRequest, disclose = false): number {
    const options = req.options;
    const filter = PublishFilter.fromOptions(options);
    const publication = publicationId();
    const sub = this.#byTopic.get(req.topic);
    if (sub === undefined) return publication;

    const details = disclose && publisher !== null
      ? {
        publisher: publisher.id,
        publisher_authid: publisher.authid,
        publisher_authrole: publisher.authrole,
      }
      : NO_DETAILS;
    const event: Event = {
      type: T.EVENT,
      subscription: sub.id,
      publication,
      details,
      args: req.args,
      kwargs: req.kwargs,
      topic: sub.topic,
      frames: [],
    };
    const skip = options.exclude_me === false ? null : publisher;
    if (filter === null) {
      for (const s of sub.subscribers) {
        if (s !== skip) s.deliverEvent(event);
      }
    } else {
      for (const s of sub.subscribers) {
        if (s !== skip && filter.allows(s)) s.deliverEvent(event);
      }
    }
    return publication;
  }

  /** Whether `s` is subscribed to `topic`. */
  isSubscribed(s: Participant, topic: string): boolean {
    return this.#byTopic.get(topic)?.subscribers.has(s) ?? false;
  }

  /** How many subscriptions `s` holds. */
  subscriptionCountOf(s: Participant): number {
    return this.#bySession.get(s)?.size ?? 0;
  }

  /** The subscription for `topic`, if anyone is subscribed. */
  subscription(topic: string): Subscription | undefined {
    return this.#byTopic.get(topic);
  }

  /** How many topics have at least one subscriber. */
  get topicCount(): number {
    return this.#byTopic.size;
  }

  /** How many sessions hold at least one subscription. */
  get subscriberCount(): number {
    return this.#bySession.size;
  }

  #drop(s: Participant, sub: Subscription): void {
    sub.subscribers.delete(s);
    const mine = this.#bySession.get(s);
    if (mine !== undefined && mine.delete(sub) && mine.size === 0) this.#bySession.delete(s);
    if (sub.subscribers.size === 0) {
      this.#byTopic.delete(sub.topic);
      this.#byId.delete(sub.id);
    }
  }
}
