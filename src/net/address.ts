/**
 * IP addresses and CIDR networks, IPv4 and IPv6 (an IPv4-mapped IPv6 address
 * counts as IPv4): parsed once into bytes and a prefix length, matched by
 * comparing masked bytes. Used for who may read `/metrics`, which proxies are
 * trusted, and the configuration that names them.
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

/** Whether `addr` is inside `net`. */
export function within(net: Network, addr: Uint8Array): boolean {
  if (net.bytes.length !== addr.length) return false;
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((net.bytes[i] & mask) !== (addr[i] & mask)) return false;
  }
  return true;
}
