/**
 * Who may read `/metrics` and `/healthz`: everyone on loopback; others only from
 * an allowed address or network (`--metrics-allow`, the file's `metrics.allow`),
 * or with the bearer key the file sets (`metrics.key`).
 *
 * @module
 */

import { type Network, parseAddress, parseNetwork, within } from "../net/address.ts";

const LOOPBACK: Network[] = [parseNetwork("127.0.0.0/8")!, parseNetwork("::1")!];

/** Who may read the operations endpoints. */
export class OpsAccess {
  readonly #networks: Network[];
  readonly #key: Uint8Array | null;

  /**
   * Who may read, besides loopback.
   * @param allow addresses and networks allowed besides loopback
   * @param key the bearer key that lets anyone in; none for no key
   * @throws {Error} naming an entry that is not an address or network
   */
  constructor(allow: readonly string[] = [], key?: string) {
    this.#networks = allow.map((a) => {
      const net = parseNetwork(a);
      if (net === null) throw new Error(`${JSON.stringify(a)} is not an IP address or CIDR network`);
      return net;
    });
    this.#key = key === undefined || key === "" ? null : new TextEncoder().encode(key);
  }

  /** Whether a request from `remote` with this Authorization header may read. */
  permits(remote: string, authorization: string | null): boolean {
    const addr = parseAddress(remote);
    if (addr !== null && [...LOOPBACK, ...this.#networks].some((n) => within(n, addr))) return true;
    if (this.#key === null || authorization === null || !authorization.startsWith("Bearer ")) return false;
    return sameBytes(new TextEncoder().encode(authorization.slice(7).trim()), this.#key);
  }
}

/** Compares in time that depends only on the lengths. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

/**
 * Reverse proxies whose `X-Forwarded-For` is believed. Behind nginx or Caddy every
 * connection comes from the proxy; only when it does, and the proxy is listed,
 * does the header say who the client is (for the throttle, the logs and who may
 * read `/metrics`). From anyone else the header is ignored: a client could write
 * anything there.
 */
export class TrustedProxies {
  readonly #networks: Network[];

  /**
   * The proxies to believe.
   * @param entries addresses or CIDR networks
   * @throws {Error} naming an entry that is not an address or network
   */
  constructor(entries: readonly string[] = []) {
    this.#networks = entries.map((e) => {
      const net = parseNetwork(e);
      if (net === null) throw new Error(`${JSON.stringify(e)} is not an IP address or CIDR network`);
      return net;
    });
  }

  /**
   * The client's address: the peer's own, or, when the peer is a trusted proxy,
   * the right-most `X-Forwarded-For` entry that is not itself a trusted proxy
   * (entries further left were written by whoever sent the request, and may lie).
   */
  client(peer: string, forwardedFor: string | null): string {
    if (forwardedFor === null || !this.#trusted(peer)) return peer;
    const hops = forwardedFor.split(",").map((h) => h.trim()).filter((h) => h !== "");
    for (let i = hops.length - 1; i >= 0; i--) {
      if (parseAddress(hops[i]) === null) return peer;
      if (!this.#trusted(hops[i])) return hops[i];
    }
    return hops[0] ?? peer;
  }

  #trusted(address: string): boolean {
    const bytes = parseAddress(address);
    return bytes !== null && this.#networks.some((n) => within(n, bytes));
  }
}
