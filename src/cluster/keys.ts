/**
 * Names on the backbone: the exchanges and queues of a cluster, and how WAMP
 * topics become AMQP routing keys and subscriptions become bindings.
 *
 * Each realm has a topic exchange. A publish goes out once, with its topic as the
 * routing key (`t.` + topic: WAMP's dotted URIs are AMQP words already), and each
 * node's queue is bound with the keys its subscriptions need, so RabbitMQ hands a
 * node only what its subscribers may want, once, however many of them match.
 * Bindings may be coarser than the subscription (a prefix like `push.tut` binds
 * `t.push.#`; a long URI binds a shortened key): the node's own broker matches
 * exactly, so a coarse binding only costs an event dropped on arrival.
 *
 * AMQP routing keys hold at most 255 bytes. A topic that does not fit goes out
 * under `l.` and its leading components that fit; exact subscriptions to it bind
 * the same key, prefixes also bind the `l.` form, and a node with any wildcard
 * subscription binds `l.#`.
 *
 * Retained publishes go to every node (key `r`), since a subscriber anywhere may
 * later ask for them.
 *
 * @module
 */

import type { MatchPolicy } from "../protocol/pattern.ts";

/** AMQP's limit on routing keys and binding keys, in bytes. */
export const MAX_KEY_BYTES = 255;

/** The routing key of retained publishes; every node binds it. */
export const RETAINED_KEY = "r";

/** Long topics: every node with a wildcard subscription binds this. */
const ALL_LONG = "l.#";
/** Every topic (a pattern too long for a precise binding). */
const ALL_SHORT = "t.#";

const encoder = new TextEncoder();

function byteLength(text: string): number {
  // Most URIs are ASCII and short: the UTF-16 length bounds the bytes by 3x.
  return text.length * 3 <= MAX_KEY_BYTES ? text.length : encoder.encode(text).length;
}

/** The exchange names of cluster `cluster` (names are checked by {@link isClusterName}). */
export function clusterNames(cluster: string): {
  /** Fanout exchange for node announcements and heartbeats. */
  control: string;
  /** The topic exchange of a realm's publishes. */
  events(realm: string): string;
  /** A node's own queue (exclusive to its connection). */
  queue(node: string): string;
} {
  const base = `tuerca.${cluster}`;
  return {
    control: `${base}.control`,
    events: (realm) => `${base}.realm.${realm}`,
    queue: (node) => `${base}.node.${node}`,
  };
}

/** Whether `name` may name a cluster: letters, digits, `_` and `-`, 1 to 64 of them. */
export function isClusterName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name);
}

/** The leading whole components of `components` whose dotted form, after `head`, fits in `room` bytes. */
function fitting(head: string, components: string[], room: number): string {
  let key = head;
  for (const c of components) {
    const next = key.length === 0 || key.endsWith(".") ? key + c : `${key}.${c}`;
    if (byteLength(next) > room) break;
    key = next;
  }
  return key;
}

/** The routing key of a publish to the concrete topic `topic`. */
export function routingKey(topic: string): string {
  const key = `t.${topic}`;
  if (byteLength(key) <= MAX_KEY_BYTES) return key;
  return fitting("l.", topic.split("."), MAX_KEY_BYTES);
}

/**
 * The binding keys a subscription to `uri` under `match` needs: every topic it
 * matches is routed by at least one of them.
 */
export function bindingKeys(uri: string, match: MatchPolicy): string[] {
  if (match === "exact") return [routingKey(uri)];
  const components = uri.split(".");
  if (match === "prefix") {
    // The last component may be cut short (`push.tut` matches `push.tutorial`): bind the whole ones.
    const whole = components.slice(0, -1);
    const room = MAX_KEY_BYTES - 2;
    const short = fitting("t.", whole, room);
    const long = fitting("l.", whole, room);
    return [`${short}${short.endsWith(".") ? "" : "."}#`, `${long}${long.endsWith(".") ? "" : "."}#`];
  }
  const key = `t.${components.map((c) => c === "" ? "*" : c).join(".")}`;
  return [byteLength(key) <= MAX_KEY_BYTES ? key : ALL_SHORT, ALL_LONG];
}
