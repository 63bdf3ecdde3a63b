/**
 * The wire formats the generators speak, built and recognised by hand: WAMP v2
 * JSON (Tuerca and the bare Deno baseline), MQTT 3.1.1 over WebSocket
 * (Mosquitto) and STOMP 1.2 over WebSocket (RabbitMQ Web-STOMP). WAMP's other
 * serializers (batched JSON, MessagePack, CBOR) are in wamp_wire.ts.
 *
 * Every message carries the same 100-byte payload: `~T`, the send time in
 * microseconds since the epoch (16 digits), `~`, then padding. A receiver finds
 * the stamp with a byte search, without parsing JSON, MQTT or STOMP.
 *
 * @module
 */

import { frameText, OP_BINARY, OP_TEXT, type RawWebSocket, type WsTarget } from "./ws_client.ts";

/** The protocols the generators speak. */
export type Proto = "wamp" | "mqtt" | "stomp";

/** Payload size of every event, in bytes (ASCII). */
export const PAYLOAD_BYTES = 100;

/**
 * The WAMP v2 serializers the generators speak (the subprotocol is `wamp.2.` and
 * this): `json` here, the others in wamp_wire.ts.
 */
export type WampSerializer = "json" | "json.batched" | "msgpack" | "cbor";

/** Every WAMP v2 serializer, plain JSON first. */
export const WAMP_SERIALIZERS: readonly WampSerializer[] = ["json", "json.batched", "msgpack", "cbor"];

/** How the generators reach a server: where, and in which protocol. */
export interface Endpoint extends WsTarget {
  proto: Proto;
  /** For WAMP: the serializer (`json` when absent). */
  serializer?: WampSerializer;
}

/** Wall-clock time in microseconds, consistent across processes on one machine. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

const PADDING = "x".repeat(PAYLOAD_BYTES);

/** A payload stamped with `stampUs` (or now). Exactly {@link PAYLOAD_BYTES} ASCII characters. */
export function stampedPayload(stampUs: number = nowUs()): string {
  const head = `~T${stampUs}~`;
  return head + PADDING.slice(0, PAYLOAD_BYTES - head.length);
}

/**
 * The stamp in `buf[start, end)`: the digits after the first `~T`, or -1. A few
 * byte comparisons; no allocation.
 */
export function readStamp(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end - 2; i++) {
    if (buf[i] === 126 && buf[i + 1] === 84) {
      let v = 0;
      let j = i + 2;
      for (; j < end; j++) {
        const d = buf[j] - 48;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
      }
      return j > i + 2 ? v : -1;
    }
  }
  return -1;
}

// ---------------------------------------------------------------------------
// WAMP v2 JSON

/** Whether a frame is a WAMP v2 EVENT: text starting with `[36,`. */
export function isWampEvent(opcode: number, buf: Uint8Array, s: number, e: number): boolean {
  return opcode === OP_TEXT && e - s > 4 && buf[s] === 91 && buf[s + 1] === 51 && buf[s + 2] === 54 &&
    buf[s + 3] === 44;
}

/** The roles a generator's HELLO announces. */
const HELLO_ROLES = '{"roles":{"subscriber":{},"publisher":{},"caller":{},"callee":{}}}';

/**
 * HELLO → WELCOME. Returns the session id.
 * @throws {Error} on anything but WELCOME.
 */
export async function wampJoin(ws: RawWebSocket, realm: string, timeoutMs: number): Promise<number> {
  ws.sendText(`[1,${JSON.stringify(realm)},${HELLO_ROLES}]`);
  const f = await ws.nextFrame(timeoutMs);
  if (f === null) throw new Error("no WELCOME");
  const text = frameText(f);
  if (!text.startsWith("[2,")) throw new Error(`expected WELCOME, got ${text.slice(0, 120)}`);
  return Number(text.slice(3, text.indexOf(",", 3)));
}

/** SUBSCRIBE to each topic (pipelined), then waits for as many SUBSCRIBED. */
export async function wampSubscribe(ws: RawWebSocket, topics: string[], timeoutMs: number): Promise<void> {
  let request = 1;
  for (const t of topics) ws.sendText(`[32,${request++},{},${JSON.stringify(t)}]`);
  for (let i = 0; i < topics.length; i++) {
    const f = await ws.nextFrame(timeoutMs);
    if (f === null) throw new Error("no SUBSCRIBED");
    const text = frameText(f);
    if (!text.startsWith("[33,")) throw new Error(`expected SUBSCRIBED, got ${text.slice(0, 120)}`);
  }
}

/** REGISTER → REGISTERED. */
export async function wampRegister(ws: RawWebSocket, procedure: string, timeoutMs: number): Promise<void> {
  ws.sendText(`[64,1,{},${JSON.stringify(procedure)}]`);
  const f = await ws.nextFrame(timeoutMs);
  if (f === null) throw new Error("no REGISTERED");
  const text = frameText(f);
  if (!text.startsWith("[65,")) throw new Error(`expected REGISTERED, got ${text.slice(0, 120)}`);
}

/** A PUBLISH frame (no acknowledge, publisher excluded as by default). */
export function wampPublish(request: number, topic: string, payload: string): string {
  return `[16,${request},{},"${topic}",["${payload}"]]`;
}

/** A CALL frame with a JSON array of arguments given as text. */
export function wampCall(request: number, procedure: string, argsJson: string): string {
  return `[48,${request},{},"${procedure}",${argsJson}]`;
}

// ---------------------------------------------------------------------------
// MQTT 3.1.1

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function mqttString(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** An MQTT packet: fixed header byte, remaining length, body. */
export function mqttPacket(first: number, body: number[] | Uint8Array): Uint8Array {
  const rl = remainingLength(body.length);
  const out = new Uint8Array(1 + rl.length + body.length);
  out[0] = first;
  out.set(rl, 1);
  out.set(body, 1 + rl.length);
  return out;
}

/** CONNECT (clean session, no keep-alive) → CONNACK 0. */
export async function mqttConnect(ws: RawWebSocket, clientId: string, timeoutMs: number): Promise<void> {
  const body = [...mqttString("MQTT"), 4, 0x02, 0, 0, ...mqttString(clientId)];
  ws.sendFrame(OP_BINARY, mqttPacket(0x10, body));
  const f = await ws.nextFrame(timeoutMs);
  if (f === null) throw new Error("no CONNACK");
  if (f.data[0] !== 0x20 || f.data[3] !== 0) throw new Error(`CONNACK refused: ${[...f.data].join(",")}`);
}

/** SUBSCRIBE at QoS 0 → SUBACK. */
export async function mqttSubscribe(ws: RawWebSocket, topic: string, timeoutMs: number): Promise<void> {
  ws.sendFrame(OP_BINARY, mqttPacket(0x82, [0, 1, ...mqttString(topic), 0]));
  const f = await ws.nextFrame(timeoutMs);
  if (f === null) throw new Error("no SUBACK");
  if (f.data[0] !== 0x90 || f.data[f.data.length - 1] === 0x80) throw new Error("SUBACK refused");
}

/**
 * Counts the MQTT PUBLISH packets in a binary frame (one frame may hold several
 * packets) and calls `sample` for each. Returns how many there were.
 */
export function countMqttPublishes(
  opcode: number,
  buf: Uint8Array,
  s: number,
  e: number,
  onPublish: (buf: Uint8Array, start: number, end: number) => void,
): number {
  if (opcode !== OP_BINARY) return 0;
  let n = 0;
  let p = s;
  while (p < e) {
    const type = buf[p] >> 4;
    let q = p + 1;
    let rl = 0;
    let mul = 1;
    for (let k = 0; k < 4 && q < e; k++) {
      const b = buf[q++];
      rl += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) break;
    }
    const pe = Math.min(q + rl, e);
    if (type === 3) {
      n++;
      onPublish(buf, q, pe);
    }
    p = q + rl;
  }
  return n;
}

// ---------------------------------------------------------------------------
// STOMP 1.2 over WebSocket

/** CONNECT → CONNECTED (no heart-beats). */
export async function stompConnect(
  ws: RawWebSocket,
  login: string,
  passcode: string,
  timeoutMs: number,
): Promise<void> {
  ws.sendText(
    `CONNECT\naccept-version:1.2\nhost:/\nlogin:${login}\npasscode:${passcode}\nheart-beat:0,0\n\n\0`,
  );
  const f = await nextStompFrame(ws, timeoutMs);
  if (!f.startsWith("CONNECTED")) throw new Error(`expected CONNECTED, got ${f.slice(0, 200)}`);
}

/** SUBSCRIBE with a receipt → RECEIPT. */
export async function stompSubscribe(
  ws: RawWebSocket,
  destination: string,
  id: string,
  timeoutMs: number,
): Promise<void> {
  ws.sendText(`SUBSCRIBE\nid:${id}\ndestination:${destination}\nack:auto\nreceipt:${id}\n\n\0`);
  const f = await nextStompFrame(ws, timeoutMs);
  if (!f.startsWith("RECEIPT")) throw new Error(`expected RECEIPT, got ${f.slice(0, 200)}`);
}

async function nextStompFrame(ws: RawWebSocket, timeoutMs: number): Promise<string> {
  // Skip heart-beat EOLs.
  for (let i = 0; i < 16; i++) {
    const f = await ws.nextFrame(timeoutMs);
    if (f === null) throw new Error("connection closed or silent during the STOMP handshake");
    const text = frameText(f);
    if (text.trim() !== "") return text;
  }
  throw new Error("only heart-beats");
}

/** A SEND frame for a topic destination. */
export function stompSend(destination: string, payload: string): string {
  return `SEND\ndestination:${destination}\ncontent-type:text/plain\n\n${payload}\0`;
}

/** Whether a frame is a STOMP MESSAGE: text starting with `MESS`. */
export function isStompMessage(opcode: number, buf: Uint8Array, s: number, e: number): boolean {
  return opcode === OP_TEXT && e - s > 4 && buf[s] === 77 && buf[s + 1] === 69 && buf[s + 2] === 83 &&
    buf[s + 3] === 83;
}
