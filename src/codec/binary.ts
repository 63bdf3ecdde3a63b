/**
 * What the binary v2 serializers (`wamp.2.msgpack`, `wamp.2.cbor`) share: the
 * codec around a serializer library, and the conversion between their values and
 * the router's model.
 *
 * The model holds what JSON can hold, with binary values as the WAMP spec writes
 * them in JSON: a string of `"\u0000"` followed by the bytes in base64. So the JSON
 * codecs convert nothing, and the JSON fan-out path pays nothing for binary
 * support; the binary codecs convert at their edge:
 *
 * - decoding, a byte string becomes `"\u0000" + base64`; an integer the library
 *   hands back as a bigint becomes a number (rounded above 2^53, as `JSON.parse`
 *   rounds); a dict value of `undefined` is dropped and an array's becomes `null`
 *   (what the same client's JSON would have said); anything JSON has no word for
 *   (a date, a set, a tag, an extension type, a map with non-string keys) is a
 *   protocol violation;
 * - encoding, a string that starts with `"\u0000"` and holds valid base64 after it
 *   becomes a byte string (once per event and serializer, since events are encoded
 *   once per codec).
 *
 * Untrusted frames cannot make the router do more work than their size: every
 * container, string character and byte a frame decodes to is counted against the
 * frame's length, so a library feature that shares one value between several
 * places (references, string tables) cannot blow a small frame up into a large
 * payload or a cycle; and values nest at most {@link MAX_BINARY_DEPTH} levels.
 *
 * @module
 */

import { MessageType as T } from "../protocol/constants.ts";
import type { ClientMessage, Event, RouterMessage } from "../protocol/messages.ts";
import { type Codec, type Frame, nextCodecSlot, ProtocolError } from "./codec.ts";
import { binaryOf, isWideInteger, type WireWriter, writeIteratively } from "./binary_writer.ts";
import { v2ClientMessage, v2EventArray, v2RouterArray } from "./v2_messages.ts";

/** How deep the values of a binary frame may nest; a deeper frame is a protocol violation. */
export const MAX_BINARY_DEPTH = 1000;

/**
 * Payloads nested deeper than this are encoded by the router's own iterative
 * writer instead of the library, whose recursion would run out of stack (JSON
 * clients may send payloads nested far deeper than any binary one).
 */
export const LIBRARY_ENCODE_DEPTH = 500;

/** A serializer library, as a binary codec uses it. */
export interface BinaryFormat {
  /** The format's name for error messages: `MessagePack`, `CBOR`. */
  readonly name: string;
  /**
   * Decodes the one value that fills `bytes`.
   * @throws anything, for bytes that are not exactly one well-formed value.
   */
  decode(bytes: Uint8Array): unknown;
  /** Encodes a value of the wire model: JSON values, `Uint8Array` byte strings, and bigints when {@link bigIntegers}. */
  encode(value: unknown): Uint8Array;
  /**
   * Whether the library writes a number beyond 32 bits as a float unless it is
   * handed a bigint; then integers up to 2^53 are converted to bigints before
   * encoding, so that ids reach clients as integers.
   */
  readonly bigIntegers: boolean;
  /** The same format written by the router itself, for payloads nested too deep for the library. */
  readonly writer: WireWriter;
}

/** A WAMP v2 codec over a binary serializer; frames are binary WebSocket messages. */
export class BinaryV2Codec implements Codec {
  /** This codec's index in {@link Event.frames}. */
  readonly slot: number = nextCodecSlot();

  /** A codec for `subprotocol` that serializes with `format`. */
  constructor(readonly subprotocol: string, readonly format: BinaryFormat) {}

  /** Decodes a binary frame into a client message; see {@link Codec.decode}. */
  decode(frame: Frame): ClientMessage {
    const name = this.format.name;
    if (typeof frame === "string") throw new ProtocolError(`text frame on a ${this.subprotocol} transport`);
    let msg: unknown;
    try {
      msg = this.format.decode(frame);
    } catch (e) {
      const why = e instanceof Error ? e.message.slice(0, 100) : "undecodable";
      throw new ProtocolError(`frame is not valid ${name} (${why})`);
    }
    if (!Array.isArray(msg)) throw new ProtocolError(`frame is not a ${name} array`);
    fromWire(msg, 0, { left: frame.byteLength, name });
    return v2ClientMessage(msg);
  }

  /** Encodes a router message; every router message has a v2 frame. */
  encode(m: RouterMessage): Frame {
    if (m.type === T.EVENT) return this.encodeEvent(m);
    return this.#bytes(v2RouterArray(m));
  }

  /** Encodes an EVENT once per event, caching it on the event; see {@link Codec.encodeEvent}. */
  encodeEvent(ev: Event): Frame {
    const cached = ev.frames[this.slot];
    if (cached !== undefined) return cached;
    const frame = this.#bytes(v2EventArray(ev));
    ev.frames[this.slot] = frame;
    return frame;
  }

  #bytes(msg: unknown[]): Uint8Array {
    const format = this.format;
    try {
      return format.encode(toWire(msg, 0, format.bigIntegers));
    } catch {
      // Nested deeper than the library's recursion reaches: write it without recursion.
      return writeIteratively(msg, format.writer);
    }
  }
}

// ---------------------------------------------------------------------------
// Decoding: library values → the model

/** What a frame may still decode to, and the format's name for errors. */
interface Budget {
  left: number;
  readonly name: string;
}

/**
 * Turns a decoded value into the model, in place (the decoded tree is the codec's
 * own): byte strings to `"\u0000" + base64`, bigints to numbers, `undefined` out.
 * @throws {ProtocolError} for a value JSON cannot hold, nesting deeper than
 * {@link MAX_BINARY_DEPTH}, or more content than the frame could hold.
 */
function fromWire(v: unknown, depth: number, budget: Budget): unknown {
  switch (typeof v) {
    case "number":
    case "boolean":
      return v;
    case "string":
      if ((budget.left -= v.length) < 0) throw overBudget(budget);
      return v;
    case "bigint":
      return Number(v);
    case "undefined":
      return null;
    case "object": {
      if (v === null) return v;
      if (--budget.left < 0) throw overBudget(budget);
      if (depth >= MAX_BINARY_DEPTH) {
        throw new ProtocolError(`values nested more than ${MAX_BINARY_DEPTH} levels deep`);
      }
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          if (typeof x === "number" || typeof x === "boolean" || x === null) continue;
          const y = fromWire(x, depth + 1, budget);
          if (y !== x) v[i] = y;
        }
        return v;
      }
      if (v instanceof Uint8Array) {
        if ((budget.left -= v.byteLength) < 0) throw overBudget(budget);
        return "\u0000" + v.toBase64();
      }
      if (Object.getPrototypeOf(v) !== Object.prototype) {
        throw new ProtocolError(`${budget.name} value of a type JSON cannot hold (${kindOf(v)})`);
      }
      const dict = v as Record<string, unknown>;
      for (const k of Object.keys(dict)) {
        if ((budget.left -= k.length) < 0) throw overBudget(budget);
        const x = dict[k];
        if (x === undefined) {
          delete dict[k];
          continue;
        }
        if (typeof x === "number" || typeof x === "boolean" || x === null) continue;
        const y = fromWire(x, depth + 1, budget);
        if (y !== x) setOwn(dict, k, y);
      }
      return v;
    }
    default:
      throw new ProtocolError(`${budget.name} value of a type JSON cannot hold (${typeof v})`);
  }
}

/**
 * Sets an own property. Plain assignment would call the `__proto__` setter (there
 * is one under `--unsafe-proto`) and replace the object's prototype instead.
 */
function setOwn(dict: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") {
    Object.defineProperty(dict, k, { value: v, writable: true, enumerable: true, configurable: true });
  } else dict[k] = v;
}

function overBudget(budget: Budget): ProtocolError {
  return new ProtocolError(`frame decodes to more ${budget.name} content than it holds (shared references)`);
}

function kindOf(v: object): string {
  return v.constructor?.name ?? "object without a prototype";
}

// ---------------------------------------------------------------------------
// Encoding: the model → library values

/** Thrown by {@link toWire} for a payload the library should not be handed. */
const TOO_DEEP = new Error("nested too deep for the library");

/** Smallest and largest integers every library writes as integers without help. */
const MIN_INT32 = -0x8000_0000;
const MAX_UINT32 = 0xffff_ffff;

/**
 * The model value `v` as the library should see it, copied only where something
 * changes: `"\u0000" + base64` strings become bytes, integers beyond 32 bits become
 * bigints when `bigIntegers`, `undefined` dict values are left out.
 * @throws {@link TOO_DEEP} past {@link LIBRARY_ENCODE_DEPTH} levels.
 */
function toWire(v: unknown, depth: number, bigIntegers: boolean): unknown {
  switch (typeof v) {
    case "string":
      return v.charCodeAt(0) === 0 ? binaryOf(v) : v;
    case "number":
      return bigIntegers && (v > MAX_UINT32 || v < MIN_INT32) && isWideInteger(v) ? BigInt(v) : v;
    case "object": {
      if (v === null || v instanceof Uint8Array) return v;
      if (depth >= LIBRARY_ENCODE_DEPTH) throw TOO_DEEP;
      if (Array.isArray(v)) {
        let out: unknown[] | undefined;
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          const y = x === undefined ? null : toWire(x, depth + 1, bigIntegers);
          if (y !== x) (out ??= v.slice())[i] = y;
        }
        return out ?? v;
      }
      const dict = v as Record<string, unknown>;
      let out: Record<string, unknown> | undefined;
      for (const k in dict) {
        const x = dict[k];
        if (x === undefined) {
          out ??= { ...dict };
          delete out[k];
          continue;
        }
        const y = toWire(x, depth + 1, bigIntegers);
        if (y !== x) {
          setOwn(out ??= { ...dict }, k, y);
        }
      }
      return out ?? v;
    }
    default:
      return v;
  }
}
