/**
 * A realm's `store`: which topics keep event history, and the bound on all of it,
 * with Crossbar.io's key names:
 *
 * ```json
 * { "type": "memory", "max-total-bytes": 67108864, "event-history": [
 *   { "uri": "chat.messages", "match": "exact", "limit": 100 },
 *   { "uri": "push.", "match": "prefix", "limit": 50, "max-bytes": 1048576, "max-age": 86400 } ] }
 * ```
 *
 * @module
 */

import { MATCH_POLICIES } from "../protocol/pattern.ts";
import { DEFAULT_MAX_TOTAL_BYTES, type HistoryRule, type StoreConfig } from "../store/store.ts";
import type { ConfigNode } from "./node.ts";
import { checkPattern } from "./pattern.ts";

/** The store types: this process's memory, or a RabbitMQ stream the nodes of a cluster share. */
const STORE_TYPES = ["memory", "rabbitmq"] as const;

/** The most events one topic may keep. */
const MAX_LIMIT = 1_000_000;

/** Reads a realm's `store`. */
export function parseStore(node: ConfigNode): StoreConfig {
  node.object(["type", "event-history", "max-total-bytes"], "a store");
  const type = node.key("type").oneOf(STORE_TYPES, "memory");
  const history = node.key("event-history");
  const eventHistory = history.absent ? [] : history.items("a list of event-history entries").map(parseRule);
  const maxTotalBytes = node.key("max-total-bytes").integer(1024, 2 ** 40, DEFAULT_MAX_TOTAL_BYTES);
  return { type, eventHistory, maxTotalBytes };
}

function parseRule(node: ConfigNode): HistoryRule {
  node.object(["uri", "match", "limit", "max-bytes", "max-age"], "an event-history entry");
  const uriNode = node.key("uri");
  const uri = uriNode.string();
  const match = node.key("match").oneOf(MATCH_POLICIES, "exact");
  checkPattern(uriNode, uri, match);
  return {
    uri,
    match,
    limit: node.key("limit").integer(1, MAX_LIMIT),
    maxBytes: node.key("max-bytes").integer(0, 2 ** 40, 0),
    maxAge: node.key("max-age").integer(0, 10 * 365 * 86_400, 0),
  };
}
