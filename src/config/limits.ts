/**
 * The `limits` section: the per-process session cap, the per-session quotas and
 * the message size. Each has a command-line flag of the same meaning; 0 turns a
 * quota off.
 *
 * @module
 */

import type { SessionLimits } from "../router.ts";
import type { ConfigNode } from "./node.ts";

/** Limits the file sets; the rest keep their defaults. */
export interface LimitsConfig extends Partial<SessionLimits> {
  /** Most WebSocket connections the process holds at once. */
  sessions?: number;
  /** Largest incoming WebSocket message, in bytes. */
  maxMessageSize?: number;
}

/** The keys of `limits` and the fields they set. */
const KEYS: Record<string, keyof LimitsConfig> = {
  sessions: "sessions",
  subscriptions: "subscriptions",
  registrations: "registrations",
  pending_calls: "pendingCalls",
  rate: "rate",
  burst: "burst",
  max_message_size: "maxMessageSize",
};

/** Reads `limits`. */
export function parseLimits(node: ConfigNode): LimitsConfig {
  if (node.absent) return {};
  node.object(Object.keys(KEYS), "the limits");
  const limits: LimitsConfig = {};
  for (const [key, field] of Object.entries(KEYS)) {
    const n = node.key(key);
    if (n.absent) continue;
    limits[field] = field === "maxMessageSize"
      ? n.integer(1024, 64 * 1024 * 1024)
      : n.integer(0, 1_000_000_000);
  }
  return limits;
}
