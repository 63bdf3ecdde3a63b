/**
 * The subscription meta procedures' view of a realm spread over several nodes.
 * Each node's broker holds its own subscriptions; a subscription of the realm, as
 * a client of the meta API sees it, is one URI pattern (URI and match policy) with
 * the subscribers of every node.
 *
 * Ids: each node's broker hands out ids from its own random point (see
 * `Broker.spreadIds`), so an id names one node's subscription cluster-wide. Lists
 * show one id per pattern: this node's own when it holds the pattern, else the
 * lowest of the other nodes'. Every node's id of a pattern is accepted where a
 * procedure takes one.
 *
 * @module
 */

import { ErrorUri } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import type { Dict } from "../protocol/messages.ts";
import { type MatchPolicy, patternMatches, type UriPattern } from "../protocol/pattern.ts";
import { isReservedUri } from "../protocol/uri.ts";
import type { Subscription } from "./broker.ts";

/** A subscription held on another node, as that node tells it. */
export interface RemoteSubscription {
  /** Its id on that node (unique in the cluster). */
  id: number;
  /** The topic, or the pattern for `prefix` and `wildcard`. */
  uri: string;
  /** How `uri` is matched. */
  match: MatchPolicy;
  /** When it was created there (ms since the epoch). */
  created: number;
  /** How many subscribers it has there (client sessions only: the server's own stay per node). */
  count: number;
  /** Their session ids, when they were asked for. */
  subscribers?: number[];
}

/** What the meta API asks the other nodes for: by default every subscription, without ids. */
export interface SubscriptionQuestion {
  /** Send the subscribers' ids too, not only how many. */
  withSubscribers?: boolean;
  /** Only this pattern. */
  pattern?: UriPattern;
  /** Only the patterns that match this concrete topic. */
  topic?: string;
}

/** Where the meta API hears of the subscriptions held elsewhere: the other nodes of a cluster. */
export interface SubscriptionSource {
  /**
   * The other nodes' subscriptions in this realm, or null when there is no other
   * node to ask (the meta API then answers from this node alone, at once).
   */
  elsewhere(question: SubscriptionQuestion): Promise<RemoteSubscription[]> | null;
}

/** One pattern, with every node's ids and subscribers. */
interface Entry {
  /** The id lists show. */
  id: number;
  /** Whether `id` is this node's own. */
  own: boolean;
  uri: string;
  match: MatchPolicy;
  /** Subscribers on every node (a session lives on one node, so the counts add up). */
  count: number;
  /** Their ids, as far as they were asked for. */
  ids: number[];
}

const POLICY_ORDER: Record<MatchPolicy, number> = { exact: 0, prefix: 1, wildcard: 2 };

/** The realm's subscriptions on every node, for answering one meta call. */
export class SubscriptionTable {
  #entries = new Map<string, Entry>();
  /** Every node's id, with the entry it belongs to and its own creation time. */
  #byId = new Map<number, { entry: Entry; created: number }>();

  /**
   * Joins this node's subscriptions and the other nodes' by topic pattern.
   * @param local this node's subscriptions (every subscriber counts)
   * @param remote the other nodes' subscriptions
   */
  constructor(local: Iterable<Subscription>, remote: RemoteSubscription[]) {
    for (const sub of local) {
      const entry = this.#entry(sub.id, sub.topic, sub.match, sub.created, true);
      entry.count += sub.subscribers.size;
      for (const s of sub.subscribers) entry.ids.push(s.id);
    }
    for (const sub of remote) {
      const entry = this.#entry(sub.id, sub.uri, sub.match, sub.created, false);
      entry.count += sub.count;
      if (sub.subscribers !== undefined) entry.ids.push(...sub.subscribers);
    }
  }

  /** `wamp.subscription.list`: ids by match policy, without the router's own `wamp.` topics. */
  list(): Record<MatchPolicy, number[]> {
    return byPolicy(this.#entries.values(), (e) => e.uri);
  }

  /** `wamp.subscription.lookup`: the id of exactly this pattern, or null. */
  lookup(uri: string, match: MatchPolicy): number | null {
    return this.#entries.get(key(uri, match))?.id ?? null;
  }

  /** `wamp.subscription.match`: the ids whose pattern matches `topic` (exact, prefix, wildcard), or null. */
  match(topic: string): number[] | null {
    const found = [...this.#entries.values()].filter((e) => patternMatches(e, topic));
    if (found.length === 0) return null;
    found.sort((a, b) => POLICY_ORDER[a.match] - POLICY_ORDER[b.match] || a.uri.length - b.uri.length);
    return found.map((e) => e.id);
  }

  /** `wamp.subscription.get`: the subscription this id names. */
  get(id: unknown): Dict {
    const { entry, created } = this.#named(id);
    return { id, created: new Date(created).toISOString(), uri: entry.uri, match: entry.match };
  }

  /** `wamp.subscription.list_subscribers`: its subscribers on every node (when their ids were asked for). */
  subscribers(id: unknown): number[] {
    return this.#named(id).entry.ids;
  }

  /** `wamp.subscription.count_subscribers`: how many subscribers it has on every node. */
  count(id: unknown): number {
    return this.#named(id).entry.count;
  }

  #entry(id: number, uri: string, match: MatchPolicy, created: number, own: boolean): Entry {
    const k = key(uri, match);
    let entry = this.#entries.get(k);
    if (entry === undefined) this.#entries.set(k, entry = { id, own, uri, match, count: 0, ids: [] });
    // This node's own id wins (its subscriptions come first); among the others', the lowest.
    else if (!entry.own && id < entry.id) entry.id = id;
    this.#byId.set(id, { entry, created });
    return entry;
  }

  #named(id: unknown): { entry: Entry; created: number } {
    const found = typeof id === "number" ? this.#byId.get(id) : undefined;
    if (found === undefined) {
      throw new WampError(ErrorUri.NO_SUCH_SUBSCRIPTION, [`no subscription ${JSON.stringify(id)}`]);
    }
    return found;
  }
}

/**
 * Ids by match policy, leaving out the router's own `wamp.` URIs (the lists of
 * `wamp.subscription.list` and `wamp.registration.list`).
 */
export function byPolicy<X extends { id: number; match: MatchPolicy }>(
  items: Iterable<X>,
  uri: (x: X) => string,
): Record<MatchPolicy, number[]> {
  const lists: Record<MatchPolicy, number[]> = { exact: [], prefix: [], wildcard: [] };
  for (const x of items) if (!isReservedUri(uri(x))) lists[x.match].push(x.id);
  return lists;
}

function key(uri: string, match: MatchPolicy): string {
  return `${match} ${uri}`;
}
