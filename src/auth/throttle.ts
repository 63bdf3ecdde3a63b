/**
 * Slows down guessing: after a few failed authentications from one address, the
 * answer to each further attempt from it (success or failure alike, so the delay
 * tells nothing) is held back, twice as long for each failure, up to a cap. An
 * address is forgotten once it has not failed for a whole window.
 *
 * IPv6 addresses count by their /64 prefix, the block one host usually holds.
 *
 * @module
 */

/** Throttle settings. */
export interface ThrottleOptions {
  /** Failures within the window that cost nothing. Default 5. */
  free: number;
  /** How long failures are remembered, in ms. Default 60 s. */
  windowMs: number;
  /** Delay after the first failure beyond `free`, in ms; it doubles with each further one. Default 500. */
  baseDelayMs: number;
  /** The longest delay, in ms. Default 30 s. */
  maxDelayMs: number;
  /** Most addresses remembered; the oldest go first. Default 100,000. */
  maxAddresses: number;
}

const DEFAULTS: ThrottleOptions = {
  free: 5,
  windowMs: 60_000,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxAddresses: 100_000,
};

interface Record {
  failures: number;
  last: number;
}

/** Failed authentications per address, and the delay they cost. */
export class FailureThrottle {
  readonly #options: ThrottleOptions;
  // A Map keeps insertion order: re-inserting on each failure keeps the stalest first.
  readonly #records = new Map<string, Record>();

  /** A throttle with the defaults, overridden by `options`. */
  constructor(options: Partial<ThrottleOptions> = {}) {
    this.#options = { ...DEFAULTS, ...options };
  }

  /** How long to hold the answer to an attempt from `address` now, in ms. */
  delayFor(address: string, now = Date.now()): number {
    const r = this.#records.get(addressKey(address));
    if (r === undefined) return 0;
    if (now - r.last > this.#options.windowMs) {
      this.#records.delete(addressKey(address));
      return 0;
    }
    const over = r.failures - this.#options.free;
    if (over <= 0) return 0;
    return Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** Math.min(over - 1, 30));
  }

  /** Records a failed attempt from `address`. */
  failed(address: string, now = Date.now()): void {
    const key = addressKey(address);
    const r = this.#records.get(key);
    const failures = r !== undefined && now - r.last <= this.#options.windowMs ? r.failures + 1 : 1;
    this.#records.delete(key);
    this.#records.set(key, { failures, last: now });
    if (this.#records.size > this.#options.maxAddresses) {
      this.#records.delete(this.#records.keys().next().value!);
    }
  }

  /** How many addresses are remembered. */
  get size(): number {
    return this.#records.size;
  }
}

/** The key an address is counted under: IPv4 as is, IPv6 by its first four groups. */
export function addressKey(address: string): string {
  if (!address.includes(":")) return address;
  const groups = expandIpv6(address);
  return groups === null ? address : `${groups.slice(0, 4).join(":")}::/64`;
}

function expandIpv6(address: string): string[] | null {
  const [head, tail, ...rest] = address.split("::");
  if (rest.length > 0) return null;
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  if (tail === undefined) return left.length === 8 ? left.map(norm) : null;
  const missing = 8 - left.length - right.length;
  if (missing < 0) return null;
  return [...left, ...Array(missing).fill("0"), ...right].map(norm);
}

function norm(group: string): string {
  return (group.replace(/^0+/, "") || "0").toLowerCase();
}
