/**
 * URI rules. We apply the spec's loose rule: one or more components joined by `.`,
 * each component non-empty and free of whitespace, `.` and `#`. URIs starting with
 * `wamp.` are reserved for the router: clients may subscribe to and call them, but
 * not publish to or register them.
 *
 * @module
 */

import { ErrorUri } from "./constants.ts";
import { WampError } from "./errors.ts";
import type { MatchPolicy } from "./pattern.ts";

const LOOSE = /^[^\s.#]+(?:\.[^\s.#]+)*$/u;
/** A prefix pattern: the loose rule, except that the last component may be empty (`push.`). */
const LOOSE_PREFIX = /^(?:[^\s.#]+\.)*[^\s.#]*$/u;
/** A wildcard pattern: the loose rule with empty components allowed (`push..messages`). */
const LOOSE_WILDCARD = /^(?:[^\s.#]*\.)*[^\s.#]*$/u;

/** The longest URI we accept; longer ones are refused as invalid. */
export const MAX_URI_LENGTH = 512;

/**
 * Whether `uri` follows the loose URI rule.
 *
 * @example
 * ```ts
 * isValidUri("push.tutorial.messages"); // true
 * isValidUri("push..messages"); // false
 * ```
 */
export function isValidUri(uri: string): boolean {
  return uri.length > 0 && uri.length <= MAX_URI_LENGTH &&
    LOOSE.test(uri);
}

/** Whether `uri` is in the router's reserved `wamp.` namespace. */
export function isReservedUri(uri: string): boolean {
  return uri.startsWith("wamp.");
}

/** Whether a client may use `uri`: valid, and outside `wamp.` unless `mayBeReserved`. */
export function isUsableUri(uri: string, mayBeReserved: boolean): boolean {
  return isValidUri(uri) && (mayBeReserved || !isReservedUri(uri));
}

/**
 * Checks a URI a client wants to use.
 * @param what what the URI names, for the error text ("topic", "procedure")
 * @param mayBeReserved true where clients may name `wamp.` URIs (subscribe, call)
 * @throws {WampError} `wamp.error.invalid_uri`
 */
export function checkUri(uri: string, what: string, mayBeReserved: boolean): void {
  if (!isValidUri(uri)) {
    throw new WampError(ErrorUri.INVALID_URI, [`invalid ${what} URI ${JSON.stringify(uri.slice(0, 100))}`]);
  }
  if (!mayBeReserved && isReservedUri(uri)) {
    throw new WampError(ErrorUri.INVALID_URI, [`${what} URI ${uri} is in the reserved wamp. namespace`]);
  }
}

/**
 * Checks a subscription topic or registration procedure under its match policy:
 * an exact URI as {@link checkUri}; a prefix may end in an empty component
 * (`push.`); a wildcard may have empty components anywhere (`push..messages`).
 * @param mayBeReserved true where clients may name `wamp.` URIs (subscribe)
 * @throws {WampError} `wamp.error.invalid_uri`
 */
export function checkPattern(uri: string, match: MatchPolicy, what: string, mayBeReserved: boolean): void {
  if (match === "exact") return checkUri(uri, what, mayBeReserved);
  const rule = match === "prefix" ? LOOSE_PREFIX : LOOSE_WILDCARD;
  if (uri.length > MAX_URI_LENGTH || !rule.test(uri)) {
    throw new WampError(ErrorUri.INVALID_URI, [
      `invalid ${match} ${what} pattern ${JSON.stringify(uri.slice(0, 100))}`,
    ]);
  }
  if (!mayBeReserved && isReservedUri(uri)) {
    throw new WampError(ErrorUri.INVALID_URI, [`${what} pattern ${uri} is in the reserved wamp. namespace`]);
  }
}
