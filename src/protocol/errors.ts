/**
 * Errors that travel back to a client as a WAMP ERROR (v2) or CALLERROR (v1).
 *
 * @module
 */

import type { Dict } from "./messages.ts";

/**
 * A request failed with a WAMP error URI. The realm throws these; sessions turn them
 * into the protocol's error message. Apps throw them from procedures, too.
 *
 * @example
 * ```ts
 * throw new WampError("wamp.error.invalid_argument", ["height must be a number"]);
 * ```
 */
export class WampError extends Error {
  /** The error name: `WampError`. */
  override name = "WampError";

  /**
   * Creates an error; its message is the URI, followed by the first argument when
   * that is a string.
   * @param uri the error URI, such as `wamp.error.no_such_procedure`
   * @param args positional error arguments; by convention the first is a readable description
   * @param kwargs keyword error arguments
   */
  constructor(readonly uri: string, readonly args: unknown[] = [], readonly kwargs?: Dict) {
    super(typeof args[0] === "string" ? `${uri}: ${args[0]}` : uri);
  }
}
