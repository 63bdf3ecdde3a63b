/**
 * URIs and URI patterns in the configuration file (a permission's, an
 * event-history rule's), checked under their match policy with an error that
 * names the JSON path and says what a good one looks like.
 *
 * @module
 */

import type { MatchPolicy } from "../protocol/pattern.ts";
import { isValidUri, MAX_URI_LENGTH } from "../protocol/uri.ts";
import type { ConfigNode } from "./node.ts";

const COMPONENT = /^[^\s.#*]*$/u;

/** Checks a URI or pattern of the file (a permission's, a history rule's) under `match`. */
export function checkPattern(node: ConfigNode, uri: string, match: MatchPolicy): void {
  if (uri.length > MAX_URI_LENGTH) node.fail(`expected at most ${MAX_URI_LENGTH} characters`);
  const parts = uri.split(".");
  const ok = match === "exact"
    ? isValidUri(uri)
    : match === "prefix"
    ? parts.every((c) => COMPONENT.test(c)) && parts.slice(0, -1).every((c) => c !== "")
    : parts.length > 0 && parts.every((c) => COMPONENT.test(c));
  if (!ok) {
    node.fail(
      match === "exact"
        ? `${JSON.stringify(uri)} is not a URI: dot-separated words without spaces, # or *`
        : match === "prefix"
        ? `${
          JSON.stringify(uri)
        } is not a URI prefix: words joined by dots (the last may be cut short), or ""`
        : `${
          JSON.stringify(uri)
        } is not a wildcard pattern: dot-separated words, an empty word matching any one`,
    );
  }
}
