/**
 * WAMP v2 in the serializers other than plain JSON, for the load generators:
 * `wamp.2.json.batched`, `wamp.2.msgpack` and `wamp.2.cbor` (the plain JSON
 * frames are in protocols.ts and stay as they are).
 *
 * Handshake messages (HELLO, SUBSCRIBE, REGISTER) are written, and their answers
 * (WELCOME, SUBSCRIBED, REGISTERED) read, with the router's own libraries
 * (msgpackr, cbor-x) in the router's settings. The frames of the measured phases
 * are built and recognised by hand, as the JSON ones are:
 *
 * - PUBLISH and CALL: a few header bytes and the request id written per message,
 *   the rest (topic, procedure, arguments) encoded once by the library;
 * - EVENT: the array header and the message type 36 at the start of the frame;
 * - RESULT / ERROR: the type and the request id read from the first bytes;
 * - INVOCATION → YIELD: the request id and the arguments copied as bytes.
 *
 * MessagePack and CBOR write an array's length, an unsigned integer and an empty
 * map the same way up to their header bytes (both big-endian), so one set of
 * functions serves both through a {@link BinaryWire} descriptor.
 *
 * @module
 */

// The router's own library settings, so the load generators speak exactly what it does.
import { msgpackFormat } from "../../src/codec/v2_msgpack.ts";
import { cborFormat } from "../../src/codec/v2_cbor.ts";
import type { WampSerializer } from "./protocols.ts";
import { frameText, OP_BINARY, OP_TEXT, type RawWebSocket, type SetupFrame } from "./ws_client.ts";

/** The byte after each message of a `wamp.2.json.batched` frame. */
export const BATCH_SEPARATOR = "\u0018";
const SEP = 0x18;

/** How MessagePack or CBOR writes the few things the generators build by hand. */
export interface BinaryWire {
  readonly name: "msgpack" | "cbor";
  /** An array of n elements (n small): `array | n`. */
  readonly array: number;
  /** The largest n with a one-byte array header. */
  readonly arrayMax: number;
  /** An empty map. */
  readonly emptyMap: number;
  /** Unsigned integers below this are their own one byte. */
  readonly direct: number;
  /** Header bytes of an unsigned integer in 1, 2, 4 and 8 bytes. */
  readonly u8: number;
  readonly u16: number;
  readonly u32: number;
  readonly u64: number;
  /**
   * Header bytes of a signed integer in 1, 2, 4 and 8 bytes, read as well
   * (msgpackr writes every bigint as a signed 64-bit integer); -1 in CBOR, whose
   * non-negative integers are always unsigned.
   */
  readonly i8: number;
  readonly i16: number;
  readonly i32: number;
  readonly i64: number;
  /** A text string of n bytes: `fixStr | n` up to `fixStrMax`, then str8 (1-byte length), str16. */
  readonly fixStr: number;
  readonly fixStrMax: number;
  readonly str8: number;
  readonly str16: number;
  /** The router's library, in the router's settings. */
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** MessagePack (msgpackr). */
export const MSGPACK: BinaryWire = {
  name: "msgpack",
  array: 0x90,
  arrayMax: 15,
  emptyMap: 0x80,
  direct: 0x80,
  u8: 0xcc,
  u16: 0xcd,
  u32: 0xce,
  u64: 0xcf,
  i8: 0xd0,
  i16: 0xd1,
  i32: 0xd2,
  i64: 0xd3,
  fixStr: 0xa0,
  fixStrMax: 31,
  str8: 0xd9,
  str16: 0xda,
  encode: (v) => msgpackFormat.encode(v),
  decode: (b) => msgpackFormat.decode(b),
};

/** CBOR (cbor-x). */
export const CBOR: BinaryWire = {
  name: "cbor",
  array: 0x80,
  arrayMax: 23,
  emptyMap: 0xa0,
  direct: 24,
  u8: 0x18,
  u16: 0x19,
  u32: 0x1a,
  u64: 0x1b,
  i8: -1,
  i16: -1,
  i32: -1,
  i64: -1,
  fixStr: 0x60,
  fixStrMax: 23,
  str8: 0x78,
  str16: 0x79,
  encode: (v) => cborFormat.encode(v),
  decode: (b) => cborFormat.decode(b),
};

/** The binary wire of a serializer, or null for the JSON ones. */
export function binaryWire(ser: WampSerializer): BinaryWire | null {
  return ser === "msgpack" ? MSGPACK : ser === "cbor" ? CBOR : null;
}

// ---------------------------------------------------------------------------
// Writing and reading unsigned integers

/** Writes `v` (a non-negative integer below 2^53) at `out[o]`; returns the offset after it. */
export function writeUint(w: BinaryWire, out: Uint8Array, o: number, v: number): number {
  if (v < w.direct) {
    out[o] = v;
    return o + 1;
  }
  if (v < 0x100) {
    out[o] = w.u8;
    out[o + 1] = v;
    return o + 2;
  }
  if (v < 0x10000) {
    out[o] = w.u16;
    out[o + 1] = v >>> 8;
    out[o + 2] = v & 0xff;
    return o + 3;
  }
  if (v < 0x100000000) {
    out[o] = w.u32;
    out[o + 1] = v >>> 24;
    out[o + 2] = (v >>> 16) & 0xff;
    out[o + 3] = (v >>> 8) & 0xff;
    out[o + 4] = v & 0xff;
    return o + 5;
  }
  const hi = Math.floor(v / 0x100000000);
  out[o] = w.u64;
  out[o + 1] = hi >>> 24;
  out[o + 2] = (hi >>> 16) & 0xff;
  out[o + 3] = (hi >>> 8) & 0xff;
  out[o + 4] = hi & 0xff;
  writeUint32(out, o + 5, v >>> 0);
  return o + 9;
}

function writeUint32(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
}

/** Where the last {@link readUint} ended (-1: not an unsigned integer). */
let uintEnd = -1;

/**
 * The non-negative integer at `buf[p]` (and {@link uintEnd}), or -1 (also for a
 * negative one, which no id or message type is).
 */
export function readUint(w: BinaryWire, buf: Uint8Array, p: number): number {
  const b = buf[p];
  if (b < w.direct) {
    uintEnd = p + 1;
    return b;
  }
  let v = -1;
  if (b === w.u8 || b === w.i8) {
    uintEnd = p + 2;
    v = b === w.u8 ? buf[p + 1] : (buf[p + 1] << 24) >> 24;
  } else if (b === w.u16 || b === w.i16) {
    uintEnd = p + 3;
    v = (buf[p + 1] << 8) | buf[p + 2];
    if (b === w.i16) v = (v << 16) >> 16;
  } else if (b === w.u32 || b === w.i32) {
    uintEnd = p + 5;
    v = (buf[p + 1] << 24) | (buf[p + 2] << 16) | (buf[p + 3] << 8) | buf[p + 4];
    if (b === w.u32) v >>>= 0;
  } else if (b === w.u64 || b === w.i64) {
    uintEnd = p + 9;
    const hi = ((buf[p + 1] << 24) | (buf[p + 2] << 16) | (buf[p + 3] << 8) | buf[p + 4]) >>> 0;
    const lo = ((buf[p + 5] << 24) | (buf[p + 6] << 16) | (buf[p + 7] << 8) | buf[p + 8]) >>> 0;
    v = b === w.i64 && hi >= 0x80000000 ? -1 : hi * 0x100000000 + lo;
  } else {
    uintEnd = -1;
    return -1;
  }
  if (v < 0) uintEnd = -1;
  return v < 0 ? -1 : v;
}

/** Writes a text string of ASCII characters (the generators' payloads) at `out[o]`. */
function writeAscii(w: BinaryWire, out: Uint8Array, o: number, s: string): number {
  const n = s.length;
  if (n <= w.fixStrMax) out[o++] = w.fixStr | n;
  else if (n < 0x100) {
    out[o++] = w.str8;
    out[o++] = n;
  } else {
    out[o++] = w.str16;
    out[o++] = n >>> 8;
    out[o++] = n & 0xff;
  }
  for (let i = 0; i < n; i++) out[o + i] = s.charCodeAt(i);
  return o + n;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

// ---------------------------------------------------------------------------
// The frames of the measured phases

const topicBytes = new Map<string, Uint8Array>();

/**
 * PUBLISH `[16, request, {}, topic, [payload]]`, as {@link wampPublish} in
 * protocols.ts writes it in JSON. The topic is encoded once (by the library).
 */
export function binaryPublish(w: BinaryWire, request: number, topic: string, payload: string): Uint8Array {
  const key = w.name + topic;
  let t = topicBytes.get(key);
  if (t === undefined) {
    t = w.encode(topic);
    if (topicBytes.size < 100_000) topicBytes.set(key, t);
  }
  if (!isAscii(payload)) throw new Error("payloads are ASCII");
  const out = new Uint8Array(3 + 9 + 1 + t.length + 1 + 3 + payload.length);
  out[0] = w.array | 5;
  let o = writeUint(w, out, 1, 16);
  o = writeUint(w, out, o, request);
  out[o++] = w.emptyMap;
  out.set(t, o);
  o += t.length;
  out[o++] = w.array | 1;
  o = writeAscii(w, out, o, payload);
  return out.subarray(0, o);
}

/** The parts of a CALL that do not change from call to call. */
export interface BinaryCallTemplate {
  wire: BinaryWire;
  /** `{}`, the procedure and the arguments, encoded. */
  tail: Uint8Array;
}

/** A template for CALL `[48, request, {}, procedure, args]`; `args` are encoded once, by the library. */
export function binaryCallTemplate(w: BinaryWire, procedure: string, args: unknown[]): BinaryCallTemplate {
  const p = w.encode(procedure);
  const a = w.encode(args);
  const tail = new Uint8Array(1 + p.length + a.length);
  tail[0] = w.emptyMap;
  tail.set(p, 1);
  tail.set(a, 1 + p.length);
  return { wire: w, tail };
}

/** A CALL frame from its template and request id. */
export function binaryCall(t: BinaryCallTemplate, request: number): Uint8Array {
  const w = t.wire;
  const out = new Uint8Array(3 + 9 + t.tail.length);
  out[0] = w.array | 5;
  let o = writeUint(w, out, 1, 48);
  o = writeUint(w, out, o, request);
  out.set(t.tail, o);
  return out.subarray(0, o + t.tail.length);
}

/** Whether a frame is a MessagePack EVENT: an array of 4 to 6 elements whose first is 36. */
export function isMsgpackEvent(opcode: number, buf: Uint8Array, s: number, e: number): boolean {
  const b = buf[s];
  return opcode === OP_BINARY && e - s > 2 && b >= 0x94 && b <= 0x96 && buf[s + 1] === 36;
}

/** Whether a frame is a CBOR EVENT: an array of 4 to 6 elements whose first is 36 (`0x18 0x24`). */
export function isCborEvent(opcode: number, buf: Uint8Array, s: number, e: number): boolean {
  const b = buf[s];
  return opcode === OP_BINARY && e - s > 3 && b >= 0x84 && b <= 0x86 && buf[s + 1] === 0x18 &&
    buf[s + 2] === 36;
}

/**
 * The request id of a RESULT `[50, request, ...]`, minus that of an ERROR
 * `[8, 48, request, ...]`, or 0 for any other frame.
 */
export function binaryReply(w: BinaryWire, opcode: number, buf: Uint8Array, s: number, e: number): number {
  if (opcode !== OP_BINARY || e - s < 3) return 0;
  const n = buf[s] - w.array;
  if (n < 2 || n > w.arrayMax) return 0;
  const type = readUint(w, buf, s + 1);
  if (type === 50) {
    const req = readUint(w, buf, uintEnd);
    return req > 0 ? req : 0;
  }
  if (type === 8 && readUint(w, buf, uintEnd) === 48) {
    const req = readUint(w, buf, uintEnd);
    return req > 0 ? -req : 0;
  }
  return 0;
}

/** What {@link binaryYield} answers for a frame that is not an INVOCATION. */
export const NOT_INVOCATION: Uint8Array = new Uint8Array(0);

/**
 * YIELD `[70, request, {}, ...arguments]` for INVOCATION
 * `[68, request, registration, {}, ...arguments]`, copying the request id and the
 * arguments as bytes; {@link NOT_INVOCATION} for another frame; null for an
 * INVOCATION whose details are not empty (the caller decodes it instead).
 */
export function binaryYield(w: BinaryWire, buf: Uint8Array, s: number, e: number): Uint8Array | null {
  const n = buf[s] - w.array;
  if (n < 4 || n > w.arrayMax || readUint(w, buf, s + 1) !== 68) return NOT_INVOCATION;
  const reqStart = uintEnd;
  readUint(w, buf, reqStart);
  const reqEnd = uintEnd;
  if (reqEnd < 0) return NOT_INVOCATION;
  readUint(w, buf, reqEnd); // the registration
  const details = uintEnd;
  if (details < 0 || details >= e) return NOT_INVOCATION;
  if (buf[details] !== w.emptyMap) return null;
  const rest = e - (details + 1);
  const out = new Uint8Array(3 + (reqEnd - reqStart) + 1 + rest);
  out[0] = w.array | (n - 1);
  let o = writeUint(w, out, 1, 70);
  out.set(buf.subarray(reqStart, reqEnd), o);
  o += reqEnd - reqStart;
  out[o++] = w.emptyMap;
  out.set(buf.subarray(details + 1, e), o);
  return out.subarray(0, o + rest);
}

/** The slow path of {@link binaryYield}: decodes the INVOCATION with the library. */
export function binaryYieldDecoded(w: BinaryWire, buf: Uint8Array, s: number, e: number): Uint8Array | null {
  const msg = w.decode(buf.slice(s, e)) as unknown[];
  if (!Array.isArray(msg) || msg[0] !== 68) return null;
  return w.encode([70, wideInt(msg[1]), {}, ...msg.slice(4)]);
}

/** Integers beyond 32 bits as bigints, so that the libraries write them as integers (as the router does). */
function wideInt(v: unknown): unknown {
  return typeof v === "number" && Number.isInteger(v) && v > 0xffffffff ? BigInt(v) : v;
}

/** How many EVENTs a `wamp.2.json.batched` frame holds (messages that start with `[36,`). */
export function countBatchedEvents(
  opcode: number,
  buf: Uint8Array,
  s: number,
  e: number,
  onEvent: (buf: Uint8Array, start: number, end: number) => void,
): number {
  if (opcode !== OP_TEXT) return 0;
  let n = 0;
  let p = s;
  // Bounded by the frame: each turn moves past one separator.
  while (p < e) {
    let z = buf.indexOf(SEP, p);
    if (z < 0 || z >= e) z = e;
    if (z - p > 4 && buf[p] === 91 && buf[p + 1] === 51 && buf[p + 2] === 54 && buf[p + 3] === 44) {
      n++;
      onEvent(buf, p, z);
    }
    p = z + 1;
  }
  return n;
}

// ---------------------------------------------------------------------------
// The handshake, in any serializer

/** Sends one message, as a frame of `ser`. */
export function sendWamp(ws: RawWebSocket, ser: WampSerializer, msg: unknown[]): void {
  const w = binaryWire(ser);
  if (w !== null) ws.sendFrame(OP_BINARY, w.encode(msg.map(wideInt)));
  else ws.sendText(JSON.stringify(msg) + (ser === "json.batched" ? BATCH_SEPARATOR : ""));
}

/** The first message of a frame of `ser`. */
export function decodeWamp(ser: WampSerializer, f: SetupFrame): unknown[] {
  const w = binaryWire(ser);
  if (w !== null) {
    if (f.opcode !== OP_BINARY) {
      throw new Error(`expected a binary frame, got: ${frameText(f).slice(0, 120)}`);
    }
    const msg = w.decode(f.data);
    if (!Array.isArray(msg)) throw new Error(`${ser} frame is not an array`);
    return msg;
  }
  let text = frameText(f);
  if (ser === "json.batched") {
    const z = text.indexOf(BATCH_SEPARATOR);
    if (z < 0) throw new Error(`batched frame without a separator: ${text.slice(0, 120)}`);
    text = text.slice(0, z);
  }
  return JSON.parse(text) as unknown[];
}

async function expect(
  ws: RawWebSocket,
  ser: WampSerializer,
  type: number,
  name: string,
  timeoutMs: number,
): Promise<unknown[]> {
  const f = await ws.nextFrame(timeoutMs);
  if (f === null) throw new Error(`no ${name}`);
  const msg = decodeWamp(ser, f);
  if (msg[0] !== type) throw new Error(`expected ${name}, got ${JSON.stringify(msg).slice(0, 120)}`);
  return msg;
}

/** The roles a generator's HELLO announces (as in protocols.ts). */
const ROLES = { roles: { subscriber: {}, publisher: {}, caller: {}, callee: {} } };

/** HELLO → WELCOME in `ser`. Returns the session id. */
export async function joinAs(
  ws: RawWebSocket,
  ser: WampSerializer,
  realm: string,
  timeoutMs: number,
): Promise<number> {
  sendWamp(ws, ser, [1, realm, ROLES]);
  return Number((await expect(ws, ser, 2, "WELCOME", timeoutMs))[1]);
}

/** SUBSCRIBE to each topic (pipelined) → as many SUBSCRIBED, in `ser`. */
export async function subscribeAs(
  ws: RawWebSocket,
  ser: WampSerializer,
  topics: string[],
  timeoutMs: number,
): Promise<void> {
  let request = 1;
  for (const t of topics) sendWamp(ws, ser, [32, request++, {}, t]);
  for (let i = 0; i < topics.length; i++) await expect(ws, ser, 33, "SUBSCRIBED", timeoutMs);
}

/** REGISTER → REGISTERED, in `ser`. */
export async function registerAs(
  ws: RawWebSocket,
  ser: WampSerializer,
  procedure: string,
  timeoutMs: number,
): Promise<void> {
  sendWamp(ws, ser, [64, 1, {}, procedure]);
  await expect(ws, ser, 65, "REGISTERED", timeoutMs);
}
