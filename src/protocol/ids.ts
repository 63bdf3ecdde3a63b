/**
 * WAMP IDs: integers in 1..2^53 (so they survive a JSON round trip in any language).
 *
 * @module
 */

/** The largest WAMP ID, 2^53. */
export const MAX_ID = 2 ** 53;

/** Whether `value` is a valid WAMP ID. */
export function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_ID;
}

/**
 * A random ID in 1..2^53 from the platform's cryptographic generator: session ids
 * must not be guessable, since other clients can name them in exclude/eligible lists.
 */
export function randomId(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  // 21 high bits and 32 low bits give 0..2^53-1; adding one gives 1..2^53.
  return (words[0] & 0x1fffff) * 0x100000000 + words[1] + 1;
}

/**
 * A cheap random ID for publications: these are never used to authorize anything,
 * and one is drawn per publish.
 */
export function publicationId(): number {
  return Math.floor(Math.random() * MAX_ID) + 1;
}

/** Sequential IDs in 1..2^53 for one scope (subscriptions, registrations, ...). */
export class IdSequence {
  #next: number;

  /**
   * A sequence that hands out `last + 1` first.
   * @param last the ID before the first one handed out (0: start at 1)
   */
  constructor(last = 0) {
    this.#next = last;
  }

  /** The next ID, wrapping to 1 after 2^53. */
  next(): number {
    this.#next = this.#next >= MAX_ID ? 1 : this.#next + 1;
    return this.#next;
  }
}
