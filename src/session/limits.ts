/**
 * Per-session quotas: how much of the router one session may hold (subscriptions,
 * registrations, calls in flight) and how fast it may ask (publishes plus calls per
 * second, a token bucket). Hitting one is answered, never a disconnect: v2 gets
 * ERROR `tuerca.error.quota_exceeded` or `tuerca.error.rate_limited` (an
 * unacknowledged PUBLISH is dropped), v1 gets CALLERROR for a CALL and has a
 * SUBSCRIBE or PUBLISH dropped; every hit is counted.
 *
 * @module
 */

import { TuercaErrorUri } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";

/** The quotas on what a session holds (the router's `SessionLimits` also give its rate). */
export type Quota = "subscriptions" | "registrations" | "pendingCalls";

/** A quota that a session reached: the error its request is answered with. */
export function quotaExceeded(quota: Quota, limit: number): WampError {
  const what = quota === "pendingCalls" ? "calls in flight" : quota;
  return new WampError(TuercaErrorUri.QUOTA_EXCEEDED, [
    `this session may have at most ${limit} ${what}`,
  ], { quota: quota === "pendingCalls" ? "pending_calls" : quota, limit });
}

/**
 * Requests taken between two looks at the clock while tokens remain: reading it
 * costs about 0.1 µs, most of a routed call's own work. Refill owed for the time
 * in between is credited at the next look, capped at `burst`, so the bucket can
 * be off by at most this many tokens.
 */
const CLOCK_EVERY = 32;

/** A token bucket: `burst` tokens, refilled at `rate` per second; each publish or call takes one. */
export class RateLimiter {
  #tokens: number;
  #last: number;
  #untilClock = CLOCK_EVERY;

  /**
   * A full bucket.
   * @param rate tokens added per second
   * @param burst the bucket's size
   */
  constructor(readonly rate: number, readonly burst: number) {
    this.#tokens = burst;
    this.#last = performance.now();
  }

  /** Takes a token; false when none is left (the request is over the rate). */
  take(): boolean {
    if (--this.#untilClock > 0 && this.#tokens >= 1) {
      this.#tokens--;
      return true;
    }
    this.#untilClock = CLOCK_EVERY;
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#last) * this.rate / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  /** The error a request over the rate is answered with. */
  error(): WampError {
    return new WampError(TuercaErrorUri.RATE_LIMITED, [
      `more than ${this.rate} publishes and calls per second (burst ${this.burst}); slow down`,
    ], { rate: this.rate, burst: this.burst });
  }
}
