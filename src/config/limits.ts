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
  call_timeout: "callTimeout",
};

/**
 * The smallest and largest value of a limit: the message size cannot be off; a
 * call timeout must fit a timer (setTimeout's 2^31 - 1 ms, about 24 days).
 */
export function limitBounds(field: keyof LimitsConfig): [number, number] {
  if (field === "maxMessageSize") return [1024, 64 * 1024 * 1024];
  if (field === "callTimeout") return [0, 2_147_483];
  return [0, 1_000_000_000];
}

/** Reads `limits`. */
export function parseLimits(node: ConfigNode): LimitsConfig {
  if (node.absent) return {};
  node.object(Object.keys(KEYS), "the limits");
  const limits: LimitsConfig = {};
  for (const [key, field] of Object.entries(KEYS)) {
    const n = node.key(key);
    if (n.absent) continue;
    limits[field] = n.integer(...limitBounds(field));
  }
  return limits;
}
