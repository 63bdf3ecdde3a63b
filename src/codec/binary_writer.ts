/**
 * A MessagePack and CBOR writer without recursion, for the payloads a library's
 * recursive encoder cannot reach the bottom of: a JSON client may publish values
 * nested hundreds of thousands of levels deep, and a binary subscriber must still
 * get its EVENT. Only the router's model is written (JSON values and byte
 * strings), in each format's preferred (shortest) form, as the libraries write it;
 * `"\u0000" + base64` strings become byte strings, dict values of `undefined` are
 * left out and array elements of `undefined` are written as null.
 *
 * @module
 */

/** Whether `n` is an integer a WAMP id could be: within ±2^53. */
export function isWideInteger(n: number): boolean {
  return Number.isInteger(n) && n <= 2 ** 53 && n >= -(2 ** 53);
}

/**
 * The bytes a `"\u0000" + base64` string stands for, or the string itself when
 * what follows the NUL is not base64 (then it was never binary).
 */
export function binaryOf(s: string): Uint8Array | string {
  try {
    return Uint8Array.fromBase64(s.slice(1));
  } catch {
    return s;
  }
}

/** A growable byte buffer. */
export class ByteSink {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  /** Bytes written so far. */
  length = 0;

  /** Makes room for `n` more bytes and returns the view to write them through. */
  room(n: number): DataView {
    if (this.length + n > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (size < this.length + n) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.#buf.subarray(0, this.length));
      this.#buf = bigger;
      this.#view = new DataView(bigger.buffer);
    }
    return this.#view;
  }

  /** Appends one byte. */
  byte(b: number): void {
    this.room(1).setUint8(this.length++, b);
  }

  /** Appends `bytes`. */
  bytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.#buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The bytes written, as a copy of their own. */
  result(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

/** How one format writes each kind of value; {@link writeIteratively} walks the value. */
export interface WireWriter {
  /** Writes null. */
  nil(out: ByteSink): void;
  /** Writes a boolean. */
  bool(out: ByteSink, b: boolean): void;
  /** Writes an integer within ±2^53. */
  int(out: ByteSink, n: number): void;
  /** Writes any other number as a 64-bit float. */
  float(out: ByteSink, n: number): void;
  /** Writes a text string given as UTF-8. */
  text(out: ByteSink, utf8: Uint8Array): void;
  /** Writes a byte string. */
  bin(out: ByteSink, bytes: Uint8Array): void;
  /** Writes the head of an array of `n` elements. */
  array(out: ByteSink, n: number): void;
  /** Writes the head of a map of `n` entries. */
  map(out: ByteSink, n: number): void;
}

/** A dict key on the work stack: written as text, never converted to bytes. */
class Key {
  constructor(readonly key: string) {}
}

const encoder = new TextEncoder();

/** Writes the model value `value` with `w`, walking it with a stack of its own instead of recursion. */
export function writeIteratively(value: unknown, w: WireWriter): Uint8Array {
  const out = new ByteSink();
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const v = todo.pop();
    switch (typeof v) {
      case "number":
        if (isWideInteger(v)) w.int(out, v === 0 ? 0 : v);
        else w.float(out, v);
        break;
      case "boolean":
        w.bool(out, v);
        break;
      case "string": {
        const b = v.charCodeAt(0) === 0 ? binaryOf(v) : v;
        if (typeof b === "string") w.text(out, encoder.encode(b));
        else w.bin(out, b);
        break;
      }
      case "object":
        if (v === null) w.nil(out);
        else if (v instanceof Key) w.text(out, encoder.encode(v.key));
        else if (v instanceof Uint8Array) w.bin(out, v);
        else if (Array.isArray(v)) {
          w.array(out, v.length);
          for (let i = v.length - 1; i >= 0; i--) todo.push(v[i] === undefined ? null : v[i]);
        } else {
          const dict = v as Record<string, unknown>;
          const keys = Object.keys(dict).filter((k) => dict[k] !== undefined);
          w.map(out, keys.length);
          for (let i = keys.length - 1; i >= 0; i--) todo.push(dict[keys[i]], new Key(keys[i]));
        }
        break;
      default:
        w.nil(out);
    }
  }
  return out.result();
}

/** Writes a non-negative integer below 2^64 as eight big-endian bytes at the sink's end. */
function uint64(out: ByteSink, n: number): void {
  const view = out.room(8);
  view.setUint32(out.length, Math.floor(n / 2 ** 32));
  view.setUint32(out.length + 4, n >>> 0);
  out.length += 8;
}

function be(out: ByteSink, n: number, size: 1 | 2 | 4): void {
  const view = out.room(size);
  if (size === 1) view.setUint8(out.length, n);
  else if (size === 2) view.setUint16(out.length, n);
  else view.setUint32(out.length, n);
  out.length += size;
}

/** MessagePack, as the spec's preferred forms. */
export const msgpackWriter: WireWriter = {
  nil: (out) => out.byte(0xc0),
  bool: (out, b) => out.byte(b ? 0xc3 : 0xc2),
  int(out, n) {
    if (n >= 0) {
      if (n < 0x80) out.byte(n);
      else if (n < 0x100) (out.byte(0xcc), be(out, n, 1));
      else if (n < 0x10000) (out.byte(0xcd), be(out, n, 2));
      else if (n < 0x1_0000_0000) (out.byte(0xce), be(out, n, 4));
      else (out.byte(0xcf), uint64(out, n));
    } else if (n >= -32) out.byte(n & 0xff);
    else if (n >= -0x80) (out.byte(0xd0), be(out, n & 0xff, 1));
    else if (n >= -0x8000) (out.byte(0xd1), be(out, n & 0xffff, 2));
    else if (n >= -0x8000_0000) (out.byte(0xd2), be(out, n >>> 0, 4));
    else {
      out.byte(0xd3);
      out.room(8).setBigInt64(out.length, BigInt(n));
      out.length += 8;
    }
  },
  float(out, n) {
    out.byte(0xcb);
    out.room(8).setFloat64(out.length, n);
    out.length += 8;
  },
  text(out, utf8) {
    const n = utf8.length;
    if (n < 32) out.byte(0xa0 | n);
    else if (n < 0x100) (out.byte(0xd9), be(out, n, 1));
    else if (n < 0x10000) (out.byte(0xda), be(out, n, 2));
    else (out.byte(0xdb), be(out, n, 4));
    out.bytes(utf8);
  },
  bin(out, bytes) {
    const n = bytes.length;
    if (n < 0x100) (out.byte(0xc4), be(out, n, 1));
    else if (n < 0x10000) (out.byte(0xc5), be(out, n, 2));
    else (out.byte(0xc6), be(out, n, 4));
    out.bytes(bytes);
  },
  array(out, n) {
    if (n < 16) out.byte(0x90 | n);
    else if (n < 0x10000) (out.byte(0xdc), be(out, n, 2));
    else (out.byte(0xdd), be(out, n, 4));
  },
  map(out, n) {
    if (n < 16) out.byte(0x80 | n);
    else if (n < 0x10000) (out.byte(0xde), be(out, n, 2));
    else (out.byte(0xdf), be(out, n, 4));
  },
};

/** A CBOR head: major type and argument, in the shortest form. */
function head(out: ByteSink, major: number, n: number): void {
  const m = major << 5;
  if (n < 24) out.byte(m | n);
  else if (n < 0x100) (out.byte(m | 24), be(out, n, 1));
  else if (n < 0x10000) (out.byte(m | 25), be(out, n, 2));
  else if (n < 0x1_0000_0000) (out.byte(m | 26), be(out, n, 4));
  else (out.byte(m | 27), uint64(out, n));
}

/** CBOR (RFC 8949), in the preferred serialization of its integers and lengths. */
export const cborWriter: WireWriter = {
  nil: (out) => out.byte(0xf6),
  bool: (out, b) => out.byte(b ? 0xf5 : 0xf4),
  int: (out, n) => (n >= 0 ? head(out, 0, n) : head(out, 1, -1 - n)),
  float(out, n) {
    out.byte(0xfb);
    out.room(8).setFloat64(out.length, n);
    out.length += 8;
  },
  text(out, utf8) {
    head(out, 3, utf8.length);
    out.bytes(utf8);
  },
  bin(out, bytes) {
    head(out, 2, bytes.length);
    out.bytes(bytes);
  },
  array: (out, n) => head(out, 4, n),
  map: (out, n) => head(out, 5, n),
};
