/**
 * The event store: what the broker keeps of past publications, behind one
 * interface so that where it lives (this process's memory, or a RabbitMQ stream
 * that several nodes share) is the store's business alone.
 *
 * - Event history: topics matching a configured rule keep their last events,
 *   bounded by count, encoded size and age; `wamp.subscription.get_events` reads
 *   them through a subscription (its topic or pattern).
 * - Retained events: a topic's last publish with `retain: true`, delivered first
 *   to a subscriber that asks `get_retained`.
 *
 * Appending and retaining never wait (the fan-out must not); reading the history
 * answers a promise; the retained events are read at once, since they must go
 * out right after SUBSCRIBED and before any live event.
 *
 * @module
 */

import type { Dict } from "../protocol/messages.ts";
import type { MatchPolicy, UriPattern } from "../protocol/pattern.ts";

/** Which topics keep history, and how much (Crossbar's `event-history` entry). */
export interface HistoryRule {
  /** The topic URI or pattern. */
  uri: string;
  /** How `uri` is matched. */
  match: MatchPolicy;
  /** The most events a topic keeps. */
  limit: number;
  /** The most bytes (the encoded payloads) a topic keeps; 0: no bound but the count. */
  maxBytes: number;
  /** The longest, in seconds, an event is kept; 0: no bound but the count. */
  maxAge: number;
}

/** A realm's store settings (the configuration file's `store`). */
export interface StoreConfig {
  /**
   * `memory`: this process keeps the history. `rabbitmq`: a RabbitMQ stream keeps
   * it, shared by the nodes of a cluster and kept across restarts.
   */
  type: "memory" | "rabbitmq";
  /** Which topics keep history. */
  eventHistory: HistoryRule[];
  /** The most bytes all histories of the realm keep together. */
  maxTotalBytes: number;
}

/** The default bound on all of a realm's histories together: 64 MiB. */
export const DEFAULT_MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** One publication as the store keeps it. */
export interface StoredEvent {
  /** The concrete topic published to. */
  topic: string;
  /** The publication id. */
  publication: number;
  /** When the router received it (ms since the epoch). */
  timestamp: number;
  /** The EVENT details as delivered on an exact subscription (the publisher, when disclosed). */
  details: Dict;
  /** Positional payload. */
  args?: unknown[];
  /** Keyword payload. */
  kwargs?: Dict;
}

/** A retained event: the publication, and the black- and whitelists it was published with. */
export interface RetainedEvent extends StoredEvent {
  /** The PUBLISH options (their lists decide who may see it). */
  options: Dict;
}

/** What `wamp.subscription.get_events` asks for (the spec's keyword arguments, times in ms). */
export interface HistoryQuery {
  /** The most events to return. */
  limit?: number;
  /** Newest first. */
  reverse?: boolean;
  /** Only events received at this time or later (ms since the epoch). */
  fromTime?: number;
  /** Only events received after this time. */
  afterTime?: number;
  /** Only events received before this time. */
  beforeTime?: number;
  /** Only events received at this time or earlier. */
  untilTime?: number;
  /** For a pattern subscription: only this topic. */
  topic?: string;
  /** Only this publication and those after it. */
  fromPublication?: number;
  /** Only the publications after this one. */
  afterPublication?: number;
  /** Only the publications before this one. */
  beforePublication?: number;
  /** Only this publication and those before it. */
  untilPublication?: number;
}

/** The answer to a {@link HistoryQuery}. */
export interface HistoryPage {
  /** The events, oldest first (newest first when `reverse`). */
  events: StoredEvent[];
  /**
   * False when the query named a publication (`after_publication`, ...) the
   * history no longer holds (it fell off, or the store was restarted): events
   * between it and the oldest kept one may be missing.
   */
  complete: boolean;
}

/** What the store did, counted since it started. */
export interface StoreCounters {
  /** Events added to a history. */
  stored: number;
  /** Events dropped by a topic's count, size or age bound. */
  expired: number;
  /** Events dropped because all histories together were over the total bound. */
  evicted: number;
}

/** Where the broker keeps history and retained events. */
export interface EventStore {
  /**
   * Set on a store that every node of a cluster shares: only the node a publish
   * was made on appends it. Retained events stay each node's own.
   */
  readonly shared?: boolean;
  /** Whether publications on `topic` are kept (a history rule matches it). */
  keeps(topic: string): boolean;
  /** Keeps a publication on a topic that {@link keeps} history. */
  append(event: StoredEvent): void;
  /**
   * The kept events of every topic `covers` matches, filtered by `query`. A
   * promise, so that a store elsewhere (a broker's streams) can answer later.
   */
  events(covers: UriPattern, query: HistoryQuery): Promise<HistoryPage>;
  /**
   * Makes `event` the topic's retained event. One published with black- or
   * whitelists does not erase the earlier ones: a subscriber it leaves out still
   * gets the last retained event it may see.
   */
  retain(event: RetainedEvent): void;
  /** For every topic `covers` matches, its retained events, oldest first (the last is the newest). */
  retained(covers: UriPattern): RetainedEvent[][];
  /** What the store did. */
  readonly counters: Readonly<StoreCounters>;
  /** How many bytes the histories hold now. */
  readonly bytes: number;
  /** Since when the store has kept history (ms since the epoch): a restart shows as a later time. */
  readonly since: number;
  /**
   * For a store elsewhere: resolves once every append so far has reached it, and
   * rejects if some may have been lost on the way. A store in memory has none.
   */
  flushed?(): Promise<void>;
}
