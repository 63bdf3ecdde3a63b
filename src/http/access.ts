/**
 * Who may read `/metrics` and `/healthz`: everyone on loopback; others only from
 * an allowed address or network (`--metrics-allow`, the file's `metrics.allow`),
 * or with the bearer key the file sets (`metrics.key`).
 *
 * @module
 */

/** An IPv4 or IPv6 address or network (`10.0.0.5`, `192.168.1.0/24`, `fd00::/8`). */
export interface Network {
  /** The address: 4 bytes (IPv4) or 16 (IPv6). */
  bytes: Uint8Array;
  /** How many leading bits must match. */
  prefix: number;
}

/** Parses an address or CIDR network; null when it is neither. */
export function parseNetwork(text: string): Network | null {
  const [addr, bits, extra] = text.trim().split("/");
  if (extra !== undefined) return null;
  const bytes = parseAddress(addr);
  if (bytes === null) return null;
  const max = bytes.length * 8;
  if (bits === undefined) return { bytes, prefix: max };
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return null;
  return { bytes, prefix: Number(bits) };
}

/** The bytes of an IPv4 or IPv6 address (an IPv4-mapped IPv6 address as IPv4); null when it is not one. */
export function parseAddress(text: string): Uint8Array | null {
  const addr = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(addr);
  if (v4 !== null) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? new Uint8Array(parts) : null;
  }
  if (!addr.includes(":") || !/^[0-9a-fA-F:.]+$/.test(addr)) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped !== null) return parseAddress(mapped[1]);
  const halves = addr.split("::");
  if (halves.length > 2) return null;
  const words = (s: string) => s === "" ? [] : s.split(":");
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? head.length !== 8 : fill < 1) return null;
  const all = [...head, ...new Array(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return null;
    const w = parseInt(all[i], 16);
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  }
  return bytes;
}

function within(net: Network, addr: Uint8Array): boolean {
  if (net.bytes.length !== addr.length) return false;
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((net.bytes[i] & mask) !== (addr[i] & mask)) return false;
  }
  return true;
}

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
