/**
 * Secret handling shared by the authentication methods: comparison in constant
 * time, HMAC-SHA256 as WAMP-CRA signs, and randomness.
 *
 * @module
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** A key that lives as long as the process; never leaves it. */
const PROCESS_KEY = randomBytes(32);

/**
 * Whether two secrets are equal, in time that depends on neither: both are first
 * reduced to an HMAC of the same length, and those are compared in constant time.
 *
 * @example
 * ```ts
 * sameSecret("secret!!!", "secret!!!"); // true
 * ```
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHmac("sha256", PROCESS_KEY).update(given).digest();
  const b = createHmac("sha256", PROCESS_KEY).update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Base64 of HMAC-SHA256 over `message` with the UTF-8 bytes of `key`: WAMP-CRA's signature. */
export function hmacBase64(key: string, message: string): string {
  return createHmac("sha256", key).update(message).digest("base64");
}

/**
 * A value derived from `label` with the process key: stands in for a secret or
 * salt of an authid that does not exist, so that it is answered exactly like one
 * that does (and alike each time within the process).
 */
export function standIn(label: string, bytes = 16): string {
  return createHmac("sha256", PROCESS_KEY).update(label).digest().subarray(0, bytes).toString("base64");
}

/** `n` random bytes as lowercase hex. */
export function randomHex(n: number): string {
  return randomBytes(n).toString("hex");
}
