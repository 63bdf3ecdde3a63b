/**
 * The in-memory event store: histories and retained events live as long as the
 * process. Everything is bounded:
 *
 * - each topic's history by its rule's `limit`, `maxBytes` and `maxAge` (what
 *   falls off is gone, counted as expired);
 * - all histories together by `maxTotalBytes`: past it, the oldest event of the
 *   largest history goes first, counted as evicted;
 * - retained events to {@link MAX_RETAINED_TOPICS} topics (past it, the topic
 *   whose event was retained longest ago loses it) and {@link MAX_RETAINED_PER_TOPIC}
 *   per topic.
 *
 * A history is a queue per concrete topic; every kept event carries a sequence
 * number, so a pattern subscription's history (several topics) reads in the
 * order the router received the publications.
 *
 * @module
 */

import { utf8Length } from "../codec/codec.ts";
import { PatternIndex, patternMatches, type UriPattern } from "../protocol/pattern.ts";
import type {
  EventStore,
  HistoryPage,
  HistoryQuery,
  HistoryRule,
  RetainedEvent,
  StoreConfig,
  StoreCounters,
  StoredEvent,
} from "./store.ts";

/** How many topics may hold a retained event at once. */
export const MAX_RETAINED_TOPICS = 10_000;

/**
 * How many retained events a topic keeps when the newest ones were published with
 * black- or whitelists (so that those they leave out still see an earlier one).
 */
export const MAX_RETAINED_PER_TOPIC = 8;

interface Entry {
  seq: number;
  size: number;
  event: StoredEvent;
}

/** One topic's kept events, oldest first, with a moving head instead of shifting. */
class TopicHistory {
  entries: Entry[] = [];
  head = 0;
  bytes = 0;

  constructor(readonly topic: string, readonly rule: HistoryRule) {}

  get count(): number {
    return this.entries.length - this.head;
  }

  get oldest(): Entry | undefined {
    return this.entries[this.head];
  }

  push(entry: Entry): void {
    this.entries.push(entry);
    this.bytes += entry.size;
  }

  dropOldest(): Entry {
    const entry = this.entries[this.head];
    this.entries[this.head++] = undefined as unknown as Entry;
    this.bytes -= entry.size;
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  kept(): Entry[] {
    return this.entries.slice(this.head);
  }
}

/** The in-memory {@link EventStore} of one realm. */
export class MemoryStore implements EventStore {
  readonly counters: StoreCounters = { stored: 0, expired: 0, evicted: 0 };
  #rules = new PatternIndex<HistoryRule>();
  #histories = new Map<string, TopicHistory>();
  #retained = new Map<string, RetainedEvent[]>();
  #maxTotalBytes: number;
  #bytes = 0;
  #seq = 0;
  readonly since: number;

  /**
   * A store with `config`'s history rules and total bound.
   * @param config the realm's `store` settings
   * @param now the clock (tests pass their own)
   */
  constructor(config: StoreConfig, private readonly now: () => number = Date.now) {
    for (const rule of config.eventHistory) this.#rules.set(rule.uri, rule.match, rule);
    this.#maxTotalBytes = config.maxTotalBytes;
    this.since = now();
  }

  /** How many bytes the histories hold now. */
  get bytes(): number {
    return this.#bytes;
  }

  keeps(topic: string): boolean {
    return this.#rule(topic) !== null;
  }

  append(event: StoredEvent): void {
    const rule = this.#rule(event.topic);
    if (rule === null) return;
    let history = this.#histories.get(event.topic);
    if (history === undefined) {
      this.#histories.set(event.topic, history = new TopicHistory(event.topic, rule));
    }
    const size = utf8Length(JSON.stringify([event.args ?? [], event.kwargs ?? {}]));
    history.push({ seq: ++this.#seq, size, event });
    this.#bytes += size;
    this.counters.stored++;
    this.#trim(history, this.now());
    while (this.#bytes > this.#maxTotalBytes && this.#evictFromLargest()) { /* until under the bound */ }
  }

  events(covers: UriPattern, query: HistoryQuery): Promise<HistoryPage> {
    return Promise.resolve(this.eventsNow(covers, query));
  }

  /** {@link events}, answered at once: the memory store has nothing to wait for. */
  eventsNow(covers: UriPattern, query: HistoryQuery): HistoryPage {
    const now = this.now();
    let entries: Entry[] = [];
    for (const history of this.#covered(covers)) {
      this.#trim(history, now);
      if (query.topic === undefined || query.topic === history.topic) entries.push(...history.kept());
    }
    entries.sort((a, b) => a.seq - b.seq);
    let complete = true;
    const at = (publication: number | undefined): number => {
      if (publication === undefined) return -2;
      const i = entries.findIndex((e) => e.event.publication === publication);
      if (i < 0) complete = false;
      return i;
    };
    const from = at(query.fromPublication);
    const after = at(query.afterPublication);
    const before = at(query.beforePublication);
    const until = at(query.untilPublication);
    // An anchor the history no longer holds: everything after it may be here, nothing
    // before it is (histories lose their oldest first), so "before" leaves nothing.
    let start = 0;
    let end = entries.length;
    if (from >= 0) start = Math.max(start, from);
    if (after >= 0) start = Math.max(start, after + 1);
    if (before !== -2) end = before < 0 ? 0 : Math.min(end, before);
    if (until !== -2) end = until < 0 ? 0 : Math.min(end, until + 1);
    entries = entries.slice(start, Math.max(start, end)).filter(({ event: { timestamp: t } }) =>
      (query.fromTime === undefined || t >= query.fromTime) &&
      (query.afterTime === undefined || t > query.afterTime) &&
      (query.beforeTime === undefined || t < query.beforeTime) &&
      (query.untilTime === undefined || t <= query.untilTime)
    );
    if (query.reverse) entries.reverse();
    if (query.limit !== undefined) entries = entries.slice(0, query.limit);
    return { events: entries.map((e) => e.event), complete };
  }

  retain(event: RetainedEvent): void {
    const before = this.#retained.get(event.topic) ?? [];
    this.#retained.delete(event.topic);
    // An event everyone may see supersedes the others; a filtered one joins them.
    const filtered = Object.keys(event.options).length > 0;
    this.#retained.set(
      event.topic,
      filtered ? [...before.slice(1 - MAX_RETAINED_PER_TOPIC), event] : [event],
    );
    if (this.#retained.size > MAX_RETAINED_TOPICS) {
      this.#retained.delete(this.#retained.keys().next().value!);
    }
  }

  retained(covers: UriPattern): RetainedEvent[][] {
    if (covers.match === "exact") {
      const events = this.#retained.get(covers.uri);
      return events === undefined ? [] : [events];
    }
    return [...this.#retained.values()].filter((events) => patternMatches(covers, events[0].topic));
  }

  #rule(topic: string): HistoryRule | null {
    return this.#rules.bestRemembered(topic);
  }

  #covered(covers: UriPattern): TopicHistory[] {
    if (covers.match === "exact") {
      const history = this.#histories.get(covers.uri);
      return history === undefined ? [] : [history];
    }
    return [...this.#histories.values()].filter((h) => patternMatches(covers, h.topic));
  }

  /** Drops what the topic's rule no longer allows: over the count, the bytes, or too old. */
  #trim(history: TopicHistory, now: number): void {
    const { limit, maxBytes, maxAge } = history.rule;
    const oldestAllowed = maxAge > 0 ? now - maxAge * 1000 : -Infinity;
    while (history.count > 0) {
      const over = history.count > limit || (maxBytes > 0 && history.bytes > maxBytes) ||
        history.oldest!.event.timestamp < oldestAllowed;
      if (!over) break;
      this.#drop(history);
      this.counters.expired++;
    }
  }

  /** Drops the oldest event of the largest history; false when there is none. */
  #evictFromLargest(): boolean {
    let largest: TopicHistory | undefined;
    for (const h of this.#histories.values()) {
      if (largest === undefined || h.bytes > largest.bytes) largest = h;
    }
    if (largest === undefined || largest.count === 0) return false;
    this.#drop(largest);
    this.counters.evicted++;
    return true;
  }

  #drop(history: TopicHistory): void {
    this.#bytes -= history.dropOldest().size;
    if (history.count === 0) this.#histories.delete(history.topic);
  }
}
