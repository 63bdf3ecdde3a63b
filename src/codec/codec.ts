/**
 * What every codec provides: frames in, model messages out, and back. A new
 * serializer is one new file implementing {@link Codec}; the v2 serializers share
 * the message layout and its checks (`v2_messages.ts`).
 *
 * @module
 */

import type { ClientMessage, Dict, Event, RouterMessage } from "../protocol/messages.ts";

/** A WebSocket message: text for JSON, bytes for binary serializers. */
export type Frame = string | Uint8Array;

/** Thrown by {@link Codec.decode} for a frame that breaks the protocol. */
export class ProtocolError extends Error {
  /** The error name: `ProtocolError`. */
  override name = "ProtocolError";
}

/** Turns frames into model messages and back, for one WebSocket subprotocol. */
export interface Codec {
  /** The subprotocol name this codec serves, such as `wamp.2.json`. */
  readonly subprotocol: string;
  /** This codec's index in {@link Event.frames}. */
  readonly slot: number;
  /**
   * Decodes one frame into a client message, checking every field's type.
   * @throws {ProtocolError} when the frame is not a well-formed client message.
   */
  decode(frame: Frame): ClientMessage;
  /**
   * For serializers that carry several messages in one frame (`wamp.2.json.batched`):
   * decodes all of them, checking every one before any is returned, so a frame
   * with one bad message is refused whole. Codecs without it carry one message a frame.
   * @throws {ProtocolError} when any message of the frame is not a well-formed client message.
   */
  decodeBatch?(frame: Frame): ClientMessage[];
  /** Encodes a router message, or returns null when this protocol has no such message. */
  encode(message: RouterMessage): Frame | null;
  /** Encodes an event once per codec, caching the frame on the event itself. */
  encodeEvent(event: Event): Frame;
}

/**
 * The {@link Event.frames} slot of `wamp.2.json`, the serializer most sessions
 * speak. Always 0, whatever order the codec modules load in: a realm of JSON
 * sessions then only ever fills the first slot, so each event's frame cache stays
 * a packed array, the fastest kind to read on the fan-out path.
 */
export const JSON_SLOT = 0;

let slots = JSON_SLOT + 1;

/** Hands out a distinct {@link Event.frames} slot to each other codec instance. */
export function nextCodecSlot(): number {
  return slots++;
}

/**
 * Parses a JSON text frame that must hold an array (both WAMP JSON dialects).
 * @throws {ProtocolError} for a binary frame, invalid JSON, or a non-array.
 */
export function jsonArray(frame: Frame): unknown[] {
  if (typeof frame !== "string") throw new ProtocolError("binary frame on a JSON transport");
  let msg: unknown;
  try {
    msg = JSON.parse(frame);
  } catch {
    throw new ProtocolError("frame is not valid JSON");
  }
  if (!Array.isArray(msg)) throw new ProtocolError("frame is not a JSON array");
  return msg;
}

/**
 * The text of the JSON array `text` after its first `count` elements: from the
 * separator that follows them (`,` and the rest, or the closing `]`) to the end.
 * `text` must be JSON that `JSON.parse` accepted, holding an array of at least
 * `count` elements; only those elements are scanned.
 */
export function jsonArrayTail(text: string, count: number): string {
  let i = skipSpace(text, 0) + 1;
  for (let n = 0; n < count; n++) {
    if (n > 0) i++; // the comma before this element
    i = skipSpace(text, skipValue(text, skipSpace(text, i)));
  }
  return text.slice(i);
}

// Every loop below stops at the end of the text too, so a caller's mistake cannot hang the router.

function skipSpace(text: string, i: number): number {
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
  }
  return i;
}

/** The index after the JSON value that starts at `i`. */
function skipValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === 0x22) return skipString(text, i);
  if (first === 0x7b || first === 0x5b) {
    let depth = 0;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i = skipString(text, i);
        continue;
      }
      if (c === 0x7b || c === 0x5b) depth++;
      else if ((c === 0x7d || c === 0x5d) && --depth === 0) return i + 1;
      i++;
    }
    return i;
  }
  // A number, true, false or null: up to the next separator or space.
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2c || c === 0x5d || c === 0x7d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      return i;
    }
  }
  return i;
}

/** The index after the JSON string whose opening quote is at `i`. */
function skipString(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return i;
}

/** Whether `value` is a JSON object (WAMP's `dict`), not null and not an array. */
export function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether a dict has at least one key, without building a key array. */
export function hasKeys(value: Dict | undefined): value is Dict {
  if (value === undefined) return false;
  for (const _ in value) return true;
  return false;
}

/**
 * Whether a frame is larger than `max` bytes (UTF-8 for text). Cheap for the common
 * case: a string of n UTF-16 units takes at most 3n bytes, so only long strings are
 * measured.
 */
export function exceedsSize(frame: Frame, max: number): boolean {
  if (typeof frame !== "string") return frame.byteLength > max;
  if (frame.length > max) return true;
  if (frame.length * 3 <= max) return false;
  return utf8Length(frame) > max;
}

/** The UTF-8 length of a string, without encoding it. */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      // A surrogate pair is one code point of four bytes.
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * A frame's size for an error message: exact for binary frames and for text up to
 * `max` characters; for longer text, a lower bound (each character is at least one
 * byte), since counting the UTF-8 bytes of a string of hundreds of megabytes would
 * stall every session for a second.
 */
export function describeSize(frame: Frame, max: number): string {
  if (typeof frame !== "string") return `${frame.byteLength} bytes`;
  return frame.length > max ? `at least ${frame.length} bytes` : `${utf8Length(frame)} bytes`;
}
