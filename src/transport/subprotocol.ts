/**
 * WebSocket subprotocol negotiation (RFC 6455, section 4.2.2): the client offers a
 * list in `Sec-WebSocket-Protocol`; the server picks one it speaks and echoes it.
 *
 * @module
 */

/** The outcome of a negotiation. */
export type Negotiation =
  | { kind: "chosen"; protocol: string }
  | { kind: "none" }
  | { kind: "unsupported"; offered: string[] };

/**
 * Picks the first subprotocol in the client's order that the server speaks.
 * `none` means the client offered no subprotocol at all.
 *
 * @example
 * ```ts
 * negotiate("wamp.2.msgpack, wamp.2.json", ["wamp.2.json", "wamp"]);
 * // { kind: "chosen", protocol: "wamp.2.json" }
 * ```
 */
export function negotiate(header: string | null, spoken: readonly string[]): Negotiation {
  const offered = (header ?? "").split(",").map((p) => p.trim()).filter((p) => p.length > 0);
  if (offered.length === 0) return { kind: "none" };
  for (const p of offered) if (spoken.includes(p)) return { kind: "chosen", protocol: p };
  return { kind: "unsupported", offered };
}
