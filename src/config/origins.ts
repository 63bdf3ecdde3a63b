/**
 * The `origins` section: the web origins, besides the server's own, whose pages
 * may open a WebSocket (see `transport/origin.ts`).
 *
 * @module
 */

import { parseAllowed } from "../transport/origin.ts";
import type { ConfigNode } from "./node.ts";

/** Reads `origins`: `*`, or `scheme://host[:port]` entries (`*.` before a host for its subdomains). */
export function parseOrigins(node: ConfigNode): string[] {
  if (node.absent) return [];
  return node.items("a list of origins").map((item) => {
    const origin = item.name();
    if (origin !== "*") {
      try {
        parseAllowed(origin);
      } catch (e) {
        item.fail((e as Error).message);
      }
    }
    return origin;
  });
}
