/**
 * URI rules. We apply the spec's loose rule: one or more components joined by `.`,
 * each component non-empty and free of whitespace, `.` and `#`. URIs starting with
 * `wamp.` are reserved for the router: clients may subscribe to and call them, but
 * not publish to or register them.
 *
 * @module
 */

const LOOSE = /^[^\s.#]+(?:\.[^\s.#]+)*$/u;

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
