/**
 * A load generator process. The orchestrator (bench/run.ts) starts several and
 * drives them with JSON-line commands (see bench/lib/ipc.ts):
 *
 * - subscribers: `subscribe` opens WebSocket sessions (WAMP, MQTT or STOMP) and
 *   counts the events they receive without parsing them; `reset`, `wait` and
 *   `stats` read the count and a sample of publish→receive latencies;
 * - a publisher: `publisher`, then `publish` (a burst), `mix` (many topics),
 *   `sweep` (once to each of a range of topics) or `pace` (one message at a time);
 * - RPC: `callee` answers every INVOCATION with a YIELD of the same arguments;
 *   `caller` + `call` keep K calls in flight and time each round trip;
 * - WAMP in any serializer: an endpoint's `serializer` (batched JSON,
 *   MessagePack, CBOR; see bench/lib/wamp_wire.ts) picks the subprotocol and the
 *   frames of a subscriber, the publisher, the callee and the caller. Plain JSON
 *   keeps its own functions, untouched by the others;
 * - the queue: `amqpPrepare` and `amqpSend` put messages on a RabbitMQ queue with
 *   amqplib (as the tutorial's sender did); `stompConsume` is the bare STOMP
 *   consumer baseline with client-individual acks; `stompjsConsume` the same
 *   through @stomp/stompjs, the library the bridge uses.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { emit, type Request, serveCommands } from "./lib/ipc.ts";
import {
  countMqttPublishes,
  type Endpoint,
  isStompMessage,
  isWampEvent,
  mqttConnect,
  mqttSubscribe,
  nowUs,
  readStamp,
  stampedPayload,
  stompConnect,
  stompSend,
  stompSubscribe,
  wampCall,
  wampJoin,
  wampPublish,
  wampRegister,
  type WampSerializer,
  wampSubscribe,
} from "./lib/protocols.ts";
import { percentiles, Reservoir } from "./lib/stats.ts";
import {
  BATCH_SEPARATOR,
  binaryCall,
  type BinaryCallTemplate,
  binaryCallTemplate,
  binaryPublish,
  binaryReply,
  type BinaryWire,
  binaryWire,
  binaryYield,
  binaryYieldDecoded,
  countBatchedEvents,
  isCborEvent,
  isMsgpackEvent,
  joinAs,
  NOT_INVOCATION,
  registerAs,
  subscribeAs,
} from "./lib/wamp_wire.ts";
import { OP_BINARY, OP_TEXT, RawWebSocket, writeAll } from "./lib/ws_client.ts";

const SUBPROTOCOL = { wamp: "wamp.2.json", mqtt: "mqtt", stomp: "v12.stomp" } as const;

/** The WAMP serializer of an endpoint (plain JSON unless it names another). */
function serializerOf(ep: Endpoint): WampSerializer {
  return ep.proto === "wamp" ? ep.serializer ?? "json" : "json";
}

/** The subprotocol a generator offers to an endpoint. */
function subprotocolOf(ep: Endpoint): string {
  const ser = serializerOf(ep);
  return ep.proto === "wamp" && ser !== "json" ? `wamp.2.${ser}` : SUBPROTOCOL[ep.proto];
}

const HANDSHAKE_MS = 15_000;

// ---------------------------------------------------------------------------
// Receiving: one counter for every connection of this process.

let count = 0;
let seen = 0;
let other = 0;
let firstRecvUs = 0;
let lastRecvUs = 0;
let sampleEvery = 16;
let tick = 0;
const latencies = new Reservoir(100_000);
let waiter: { target: number; resolve: () => void } | null = null;
let unexpectedCloses = 0;
let closing = false;
const conns: RawWebSocket[] = [];

function sampleAt(buf: Uint8Array, s: number, e: number): void {
  if (++tick < sampleEvery) return;
  tick = 0;
  const stamp = readStamp(buf, s, e);
  if (stamp > 0) latencies.add(nowUs() - stamp);
}

function onWampFrame(op: number, buf: Uint8Array, s: number, e: number): void {
  if (isWampEvent(op, buf, s, e)) {
    count++;
    sampleAt(buf, s, e);
  } else other++;
}

function onMqttFrame(op: number, buf: Uint8Array, s: number, e: number): void {
  const n = countMqttPublishes(op, buf, s, e, sampleAt);
  if (n === 0) other++;
  count += n;
}

/** STOMP: one WebSocket frame may carry several NUL-terminated STOMP frames. */
function onStompFrame(op: number, buf: Uint8Array, s: number, e: number): void {
  let p = s;
  // Bounded by the frame: each turn moves past one NUL.
  while (p < e) {
    while (p < e && (buf[p] === 10 || buf[p] === 13)) p++; // heart-beats
    if (p >= e) break;
    let z = buf.indexOf(0, p);
    if (z < 0 || z > e) z = e;
    if (isStompMessage(op, buf, p, z)) {
      count++;
      sampleAt(buf, p, z);
    } else other++;
    p = z + 1;
  }
}

function afterChunk(): void {
  if (count === seen) return;
  seen = count;
  const t = nowUs();
  if (firstRecvUs === 0) firstRecvUs = t;
  lastRecvUs = t;
  if (waiter !== null && count >= waiter.target) waiter.resolve();
}

const HANDLERS = { wamp: onWampFrame, mqtt: onMqttFrame, stomp: onStompFrame } as const;

/** Batched JSON: one frame may carry several messages, each followed by 0x18. */
function onWampBatchedFrame(op: number, buf: Uint8Array, s: number, e: number): void {
  const n = countBatchedEvents(op, buf, s, e, sampleAt);
  if (n === 0) other++;
  count += n;
}

function onWampMsgpackFrame(op: number, buf: Uint8Array, s: number, e: number): void {
  if (isMsgpackEvent(op, buf, s, e)) {
    count++;
    sampleAt(buf, s, e);
  } else other++;
}

function onWampCborFrame(op: number, buf: Uint8Array, s: number, e: number): void {
  if (isCborEvent(op, buf, s, e)) {
    count++;
    sampleAt(buf, s, e);
  } else other++;
}

/** A subscriber's frame handler per WAMP serializer (plain JSON: {@link onWampFrame}). */
const WAMP_HANDLERS = {
  json: onWampFrame,
  "json.batched": onWampBatchedFrame,
  msgpack: onWampMsgpackFrame,
  cbor: onWampCborFrame,
} as const;

/** Opens one subscriber session and subscribes it. */
async function openSubscriber(ep: Endpoint, index: number, topics: string[], realm: string) {
  const ser = serializerOf(ep);
  const ws = await RawWebSocket.connect(
    { hostname: ep.hostname, port: ep.port, path: ep.path, protocol: subprotocolOf(ep) },
    HANDSHAKE_MS,
  );
  try {
    if (ep.proto === "wamp" && ser !== "json") {
      await joinAs(ws, ser, realm, HANDSHAKE_MS);
      await subscribeAs(ws, ser, topics, HANDSHAKE_MS);
    } else if (ep.proto === "wamp") {
      await wampJoin(ws, realm, HANDSHAKE_MS);
      await wampSubscribe(ws, topics, HANDSHAKE_MS);
    } else if (ep.proto === "mqtt") {
      await mqttConnect(ws, `b${Deno.pid}-${index}`, HANDSHAKE_MS);
      for (const t of topics) await mqttSubscribe(ws, t, HANDSHAKE_MS);
    } else {
      await stompConnect(ws, "guest", "guest", HANDSHAKE_MS);
      let i = 0;
      for (const t of topics) await stompSubscribe(ws, t, `s${i++}`, HANDSHAKE_MS);
    }
  } catch (e) {
    ws.close();
    throw e;
  }
  ws.onFrame(ep.proto === "wamp" ? WAMP_HANDLERS[ser] : HANDLERS[ep.proto], afterChunk);
  ws.onClose(() => {
    if (!closing) unexpectedCloses++;
  });
  return ws;
}

/** Runs `open(i)` for i in [0, count) with at most `concurrency` at a time. */
async function openMany(
  count: number,
  concurrency: number,
  open: (i: number) => Promise<RawWebSocket>,
): Promise<{ opened: number; failed: number; firstError?: string }> {
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        conns.push(await open(i));
        opened++;
      } catch (e) {
        failed++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { opened, failed, firstError };
}

// ---------------------------------------------------------------------------
// Publishing.

interface MqttLikeClient {
  publish(topic: string, payload: string, opts: { qos: 0 }, cb?: (err?: Error) => void): unknown;
  end(force?: boolean): unknown;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
}

/** The publisher's protocol: `wamp-other` is WAMP in a serializer other than plain JSON. */
let pubProto: Endpoint["proto"] | "wamp-other" = "wamp";
/** For `wamp-other`: the serializer, and its binary wire (null for batched JSON). */
let pubSer: WampSerializer = "json";
let pubWire: BinaryWire | null = null;
let pubWs: RawWebSocket | null = null;
let pubMqtt: MqttLikeClient | null = null;
let pubRequest = 0;
let lastMqttWrite: Promise<void> = Promise.resolve();

function publishOne(topic: string): void {
  const payload = stampedPayload();
  if (pubProto === "wamp") pubWs!.sendText(wampPublish(++pubRequest, topic, payload));
  else if (pubProto === "stomp") pubWs!.sendText(stompSend(topic, payload));
  else if (pubProto === "wamp-other") {
    if (pubWire !== null) pubWs!.sendFrame(OP_BINARY, binaryPublish(pubWire, ++pubRequest, topic, payload));
    else pubWs!.sendText(wampPublish(++pubRequest, topic, payload) + BATCH_SEPARATOR);
  } else {
    lastMqttWrite = new Promise((resolve) => pubMqtt!.publish(topic, payload, { qos: 0 }, () => resolve()));
  }
}

function publishDrain(): Promise<void> {
  return pubProto === "mqtt" ? lastMqttWrite : pubWs!.drain();
}

async function openPublisher(ep: Endpoint, realm: string): Promise<void> {
  pubSer = serializerOf(ep);
  pubWire = binaryWire(pubSer);
  pubProto = ep.proto === "wamp" && pubSer !== "json" ? "wamp-other" : ep.proto;
  if (ep.proto === "mqtt") {
    // The MQTT publisher is the npm `mqtt` client; subscribers are hand-built (see the report).
    const mqtt = (await import("mqtt")).default as unknown as {
      connect(url: string, opts: Record<string, unknown>): MqttLikeClient;
    };
    const client = mqtt.connect(`ws://${ep.hostname}:${ep.port}${ep.path}`, {
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: HANDSHAKE_MS,
      clientId: `bench-pub-${Deno.pid}`,
    });
    await new Promise<void>((resolve, reject) => {
      client.on("connect", () => resolve());
      client.on("error", (e) => reject(e));
    });
    pubMqtt = client;
    return;
  }
  const ws = await RawWebSocket.connect(
    { hostname: ep.hostname, port: ep.port, path: ep.path, protocol: subprotocolOf(ep) },
    HANDSHAKE_MS,
  );
  if (pubProto === "wamp-other") await joinAs(ws, pubSer, realm, HANDSHAKE_MS);
  else if (ep.proto === "wamp") await wampJoin(ws, realm, HANDSHAKE_MS);
  else await stompConnect(ws, "guest", "guest", HANDSHAKE_MS);
  // Anything the server sends the publisher (nothing, normally) is ignored.
  ws.onFrame(() => {});
  pubWs = ws;
}

// ---------------------------------------------------------------------------
// RPC.

let callee: RawWebSocket | null = null;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
let invocations = 0;

/** Answers `[68,req,reg,{},args]` with `[70,req,{},args]`, copying bytes. */
function onInvocation(op: number, buf: Uint8Array, s: number, e: number): void {
  answerInvocation(op, buf, s, e, false);
}

/**
 * Batched JSON: `[68,req,reg,{},args]<0x18>` → `[70,req,{},args]<0x18>` (the JSON
 * answer of {@link onInvocation}, then the separator). The router sends one
 * message per frame.
 */
function onInvocationBatched(op: number, buf: Uint8Array, s: number, e: number): void {
  if (buf[e - 1] !== 0x18) return;
  answerInvocation(op, buf, s, e - 1, true);
}

/** The YIELD for a JSON INVOCATION in `buf[s..e)`, copying bytes; `batched` appends the separator. */
function answerInvocation(op: number, buf: Uint8Array, s: number, e: number, batched: boolean): void {
  if (op !== OP_TEXT || buf[s + 1] !== 54 || buf[s + 2] !== 56 || buf[s + 3] !== 44) return;
  invocations++;
  let p = s + 4;
  const reqStart = p;
  while (p < e && buf[p] !== 44) p++;
  const reqEnd = p;
  p++;
  while (p < e && buf[p] !== 44) p++;
  p++;
  if (buf[p] === 123 && buf[p + 1] === 125 && (buf[p + 2] === 44 || buf[p + 2] === 93)) {
    const argsStart = p + 3;
    const argsLen = buf[p + 2] === 44 ? e - 1 - argsStart : 0;
    const reqLen = reqEnd - reqStart;
    const out = new Uint8Array(4 + reqLen + 3 + (argsLen > 0 ? 1 + argsLen : 0) + (batched ? 2 : 1));
    out.set([91, 55, 48, 44], 0); // [70,
    out.set(buf.subarray(reqStart, reqEnd), 4);
    let o = 4 + reqLen;
    out.set([44, 123, 125], o); // ,{}
    o += 3;
    if (argsLen > 0) {
      out[o++] = 44;
      out.set(buf.subarray(argsStart, argsStart + argsLen), o);
      o += argsLen;
    }
    out[o++] = 93;
    if (batched) out[o] = 0x18;
    callee!.sendFrame(OP_TEXT, out);
    return;
  }
  // Details that are not empty: the slow path.
  const msg = JSON.parse(decoder.decode(buf.subarray(s, e))) as unknown[];
  const answer = JSON.stringify([70, msg[1], {}, ...msg.slice(4)]);
  callee!.sendFrame(OP_TEXT, encoder.encode(batched ? answer + BATCH_SEPARATOR : answer));
}

/** The callee's binary wire (MessagePack or CBOR). */
let calleeWire: BinaryWire | null = null;

/** MessagePack / CBOR: INVOCATION → YIELD of the same arguments, copying bytes. */
function onInvocationBinary(op: number, buf: Uint8Array, s: number, e: number): void {
  if (op !== OP_BINARY) return;
  const w = calleeWire!;
  let out = binaryYield(w, buf, s, e);
  if (out === NOT_INVOCATION) return;
  // Details that are not empty: the slow path.
  out ??= binaryYieldDecoded(w, buf, s, e);
  if (out === null) return;
  invocations++;
  callee!.sendFrame(OP_BINARY, out);
}

let caller: RawWebSocket | null = null;
let callProcedure = "bench.echo";
let callArgs = "[]";
let callSeq = 0;
let inFlight = 0;
let callRunning = false;
let callMeasuring = false;
let callCompleted = 0;
let callErrors = 0;
const sendTimes = new Float64Array(1 << 16);
const rtts = new Reservoir(200_000);

function sendCall(): void {
  const r = ++callSeq;
  sendTimes[r & 0xffff] = nowUs();
  inFlight++;
  caller!.sendText(wampCall(r, callProcedure, callArgs));
}

/** Batched JSON: a CALL followed by the separator. */
function sendCallBatched(): void {
  const r = ++callSeq;
  sendTimes[r & 0xffff] = nowUs();
  inFlight++;
  caller!.sendText(wampCall(r, callProcedure, callArgs) + BATCH_SEPARATOR);
}

/** MessagePack / CBOR: the call's template, made by `call` from the procedure and the arguments. */
let callTemplate: BinaryCallTemplate | null = null;

function sendCallBinary(): void {
  const r = ++callSeq;
  sendTimes[r & 0xffff] = nowUs();
  inFlight++;
  caller!.sendFrame(OP_BINARY, binaryCall(callTemplate!, r));
}

/** The caller's serializer and how it sends a call (set by `caller`). */
let callSer: WampSerializer = "json";
let callSend: () => void = sendCall;

function readInt(buf: Uint8Array, p: number, e: number): [number, number] {
  let v = 0;
  for (; p < e; p++) {
    const d = buf[p] - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  return [v, p];
}

/** RESULT `[50,req,...]`, ERROR `[8,48,req,...]`, or the bare server's echo `[48,req,...]`. */
function onCallReply(op: number, buf: Uint8Array, s: number, e: number): void {
  if (op !== OP_TEXT || buf[s] !== 91) return;
  let [type, p] = readInt(buf, s + 1, e);
  if (type === 8) [, p] = readInt(buf, p + 1, e);
  else if (type !== 50 && type !== 48) return;
  const [req] = readInt(buf, p + 1, e);
  inFlight--;
  if (callMeasuring) {
    callCompleted++;
    if (type === 8) callErrors++;
    rtts.add(nowUs() - sendTimes[req & 0xffff]);
  }
  if (callRunning) sendCall();
}

/** Batched JSON: as {@link onCallReply} (the router sends one message per frame). */
function onCallReplyBatched(op: number, buf: Uint8Array, s: number, e: number): void {
  if (op !== OP_TEXT || buf[s] !== 91) return;
  let [type, p] = readInt(buf, s + 1, e);
  if (type === 8) [, p] = readInt(buf, p + 1, e);
  else if (type !== 50) return;
  const [req] = readInt(buf, p + 1, e);
  inFlight--;
  if (callMeasuring) {
    callCompleted++;
    if (type === 8) callErrors++;
    rtts.add(nowUs() - sendTimes[req & 0xffff]);
  }
  if (callRunning) sendCallBatched();
}

/** MessagePack / CBOR: RESULT `[50,req,...]` or ERROR `[8,48,req,...]`. */
function onCallReplyBinary(op: number, buf: Uint8Array, s: number, e: number): void {
  const r = binaryReply(callTemplate!.wire, op, buf, s, e);
  if (r === 0) return;
  inFlight--;
  if (callMeasuring) {
    callCompleted++;
    if (r < 0) callErrors++;
    rtts.add(nowUs() - sendTimes[(r < 0 ? -r : r) & 0xffff]);
  }
  if (callRunning) sendCallBinary();
}

// ---------------------------------------------------------------------------
// The queue: amqplib sender, bare STOMP consumer.

interface AmqpChannel {
  assertQueue(q: string, o: Record<string, unknown>): Promise<unknown>;
  purgeQueue(q: string): Promise<unknown>;
  checkQueue(q: string): Promise<{ messageCount: number; consumerCount: number }>;
  sendToQueue(q: string, content: Buffer, o: Record<string, unknown>): boolean;
  once(event: string, fn: () => void): void;
  on(event: string, fn: (e: unknown) => void): void;
  close(): Promise<void>;
}
interface AmqpConnection {
  createChannel(): Promise<AmqpChannel>;
  close(): Promise<void>;
  on(event: string, fn: (e: unknown) => void): void;
}

async function amqp<T>(url: string, fn: (ch: AmqpChannel) => Promise<T>): Promise<T> {
  const lib = (await import("amqplib")).default as unknown as {
    connect(url: string, o: Record<string, unknown>): Promise<AmqpConnection>;
  };
  const conn = await lib.connect(url, { noDelay: true });
  conn.on("error", () => {});
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    const result = await fn(ch);
    await ch.close();
    return result;
  } finally {
    try {
      await conn.close();
    } catch {
      // already closed
    }
  }
}

/** The queue as the tutorial's sender (and the bridge) declare it. */
const QUEUE_DECLARATION = { durable: true, exclusive: false, autoDelete: false };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bare STOMP consumer over TCP: client-individual acks, one ACK per message, sent per TCP read. */
async function stompTcpConsume(
  hostname: string,
  port: number,
  queue: string,
  prefetch: number,
): Promise<void> {
  const conn = await Deno.connect({ hostname, port });
  conn.setNoDelay(true);
  stompConn = conn;
  await writeAll(
    conn,
    encoder.encode("CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0"),
  );
  let buf = new Uint8Array(64 * 1024);
  let start = 0;
  let end = 0;
  let state: "connecting" | "subscribing" | "consuming" = "connecting";
  const ready = Promise.withResolvers<void>();
  const ACK_HEAD = encoder.encode("ACK\nid:");
  const ACK_TAIL = encoder.encode("\n\n\0");
  const out = new Uint8Array(1024 * 1024);
  (async () => {
    try {
      // Bounded by the connection: it ends when the orchestrator closes it.
      while (true) {
        if (end === buf.length) {
          if (start > 0) {
            buf.copyWithin(0, start, end);
            end -= start;
            start = 0;
          } else {
            const bigger = new Uint8Array(buf.length * 2);
            bigger.set(buf);
            buf = bigger;
          }
        }
        const n = await conn.read(buf.subarray(end));
        if (n === null) break;
        end += n;
        let o = 0;
        for (let z = buf.indexOf(0, start); z >= 0 && z < end; z = buf.indexOf(0, start)) {
          let s = start;
          while (s < z && (buf[s] === 10 || buf[s] === 13)) s++; // heart-beats
          start = z + 1;
          if (s === z) continue;
          if (state === "consuming") {
            if (buf[s] === 77 && buf[s + 1] === 69 && buf[s + 2] === 83) {
              count++;
              sampleAt(buf, s, z);
              // The `ack` header's value names the message in ACK.
              const h = indexOfBytes(buf, ACK_KEY, s, z);
              if (h >= 0) {
                const vs = h + ACK_KEY.length;
                let ve = vs;
                while (ve < z && buf[ve] !== 10) ve++;
                if (o + ACK_HEAD.length + (ve - vs) + ACK_TAIL.length > out.length) {
                  await writeAll(conn, out.subarray(0, o));
                  o = 0;
                }
                out.set(ACK_HEAD, o);
                o += ACK_HEAD.length;
                out.set(buf.subarray(vs, ve), o);
                o += ve - vs;
                out.set(ACK_TAIL, o);
                o += ACK_TAIL.length;
              }
            } else other++;
          } else {
            const text = decoder.decode(buf.subarray(s, z));
            if (state === "connecting" && text.startsWith("CONNECTED")) {
              state = "subscribing";
              await writeAll(
                conn,
                encoder.encode(
                  `SUBSCRIBE\nid:0\ndestination:/queue/${queue}\nack:client-individual\n` +
                    `prefetch-count:${prefetch}\ndurable:true\nauto-delete:false\nreceipt:sub\n\n\0`,
                ),
              );
            } else if (state === "subscribing" && text.startsWith("RECEIPT")) {
              state = "consuming";
              ready.resolve();
            } else {
              ready.reject(new Error(`STOMP: ${text.slice(0, 200)}`));
            }
          }
        }
        if (start === end) start = end = 0;
        if (o > 0) await writeAll(conn, out.subarray(0, o));
        afterChunk();
      }
    } catch {
      // closed
    }
    ready.reject(new Error("STOMP connection closed"));
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    ready.promise,
    new Promise((_, reject) =>
      timer = setTimeout(() => reject(new Error("STOMP subscribe timed out")), 10_000)
    ),
  ]).finally(() => clearTimeout(timer));
}

const ACK_KEY = encoder.encode("\nack:");
let stompConn: Deno.TcpConn | null = null;
let stompjsClient: { deactivate(): Promise<void> } | null = null;

function indexOfBytes(buf: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  outer: for (let i = from; i <= to - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (buf[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------
// Commands.

function endpoint(req: Request): Endpoint {
  return req.endpoint as Endpoint;
}

function receiveStats() {
  return { count, other, firstRecvUs, lastRecvUs, unexpectedCloses, sampled: latencies.seen };
}

await serveCommands({
  async subscribe(req) {
    const ep = endpoint(req);
    const offset = req.offset as number;
    const topics = req.topics as string[];
    const perSession = req.perSessionPrefix as string | undefined;
    const t0 = performance.now();
    const r = await openMany(
      req.count as number,
      (req.concurrency as number | undefined) ?? 64,
      (i) =>
        openSubscriber(
          ep,
          offset + i,
          perSession === undefined ? topics : [...topics, `${perSession}${offset + i}`],
          (req.realm as string | undefined) ?? "realm1",
        ),
    );
    const fragments = conns.reduce((a, c) => a + c.fragments, 0);
    return { ...r, ms: performance.now() - t0, total: conns.length, fragments };
  },

  reset(req) {
    count = 0;
    seen = 0;
    other = 0;
    firstRecvUs = 0;
    lastRecvUs = 0;
    tick = 0;
    latencies.clear();
    sampleEvery = (req.sampleEvery as number | undefined) ?? 16;
    return {};
  },

  async wait(req) {
    const target = req.total as number;
    if (count < target) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        waiter = { target, resolve };
        timer = setTimeout(resolve, req.timeoutMs as number);
      });
      clearTimeout(timer);
      waiter = null;
    }
    return { ...receiveStats(), reached: count >= target };
  },

  stats(req) {
    return {
      ...receiveStats(),
      samples: latencies.take((req.maxSamples as number | undefined) ?? 20_000),
      fragments: conns.reduce((a, c) => a + c.fragments, 0),
      open: conns.filter((c) => !c.closed).length,
    };
  },

  close() {
    closing = true;
    for (const c of conns) c.close();
    const n = conns.length;
    conns.length = 0;
    pubWs?.close();
    pubMqtt?.end(true);
    callee?.close();
    caller?.close();
    stompConn?.close();
    void stompjsClient?.deactivate();
    closing = false;
    return { closed: n };
  },

  mem() {
    return { mem: Deno.memoryUsage() };
  },

  async publisher(req) {
    await openPublisher(endpoint(req), (req.realm as string | undefined) ?? "realm1");
    return {};
  },

  async publish(req) {
    const n = req.count as number;
    const topic = req.topic as string;
    const startUs = nowUs();
    for (let i = 0; i < n; i++) publishOne(topic);
    await publishDrain();
    return { startUs, endUs: nowUs() };
  },

  /** Individual publishes to random per-session topics, with `shared` publishes to the shared topic spread among them. */
  async mix(req) {
    const individual = req.individual as number;
    const shared = req.shared as number;
    const prefix = req.prefix as string;
    const sessions = req.sessions as number;
    const ranges = req.ranges as [number, number][];
    const perRange = ranges.map(() => 0);
    const total = individual + shared;
    const every = shared > 0 ? Math.floor(total / shared) : Infinity;
    const startUs = nowUs();
    let sharedLeft = shared;
    for (let i = 1; i <= total; i++) {
      if (sharedLeft > 0 && (i % every === 0 || total - i < sharedLeft)) {
        sharedLeft--;
        publishOne(req.sharedTopic as string);
      } else {
        const s = Math.floor(Math.random() * sessions);
        for (let r = 0; r < ranges.length; r++) if (s >= ranges[r][0] && s < ranges[r][1]) perRange[r]++;
        publishOne(`${prefix}${s}`);
      }
    }
    await publishDrain();
    return { startUs, endUs: nowUs(), perRange };
  },

  /** One publish to each of the topics `prefix` + i for i in [from, to). */
  async sweep(req) {
    const prefix = req.prefix as string;
    const from = req.from as number;
    const to = req.to as number;
    const startUs = nowUs();
    for (let i = from; i < to; i++) publishOne(`${prefix}${i}`);
    await publishDrain();
    return { startUs, endUs: nowUs(), publishes: Math.max(0, to - from) };
  },

  /** One message every `intervalMs`, `count` times. */
  async pace(req) {
    const n = req.count as number;
    const interval = req.intervalMs as number;
    const t0 = performance.now();
    const startUs = nowUs();
    for (let i = 0; i < n; i++) {
      const due = t0 + i * interval - performance.now();
      if (due > 0) await sleep(due);
      publishOne(req.topic as string);
      await publishDrain();
    }
    return { startUs, endUs: nowUs() };
  },

  async callee(req) {
    const ep = endpoint(req);
    const ser = serializerOf(ep);
    const ws = await RawWebSocket.connect(
      { hostname: ep.hostname, port: ep.port, path: ep.path, protocol: subprotocolOf(ep) },
      HANDSHAKE_MS,
    );
    if (ser === "json") {
      await wampJoin(ws, "realm1", HANDSHAKE_MS);
      await wampRegister(ws, req.procedure as string, HANDSHAKE_MS);
      ws.onFrame(onInvocation);
    } else {
      await joinAs(ws, ser, "realm1", HANDSHAKE_MS);
      await registerAs(ws, ser, req.procedure as string, HANDSHAKE_MS);
      calleeWire = binaryWire(ser);
      ws.onFrame(calleeWire === null ? onInvocationBatched : onInvocationBinary);
    }
    callee = ws;
    return {};
  },

  async caller(req) {
    const ep = endpoint(req);
    callSer = serializerOf(ep);
    const ws = await RawWebSocket.connect(
      { hostname: ep.hostname, port: ep.port, path: ep.path, protocol: subprotocolOf(ep) },
      HANDSHAKE_MS,
    );
    if (callSer === "json") {
      await wampJoin(ws, "realm1", HANDSHAKE_MS);
      ws.onFrame(onCallReply);
      callSend = sendCall;
    } else {
      await joinAs(ws, callSer, "realm1", HANDSHAKE_MS);
      const binary = binaryWire(callSer) !== null;
      ws.onFrame(binary ? onCallReplyBinary : onCallReplyBatched);
      callSend = binary ? sendCallBinary : sendCallBatched;
    }
    caller = ws;
    return {};
  },

  /** Keeps `k` calls in flight: `warmupMs` unmeasured, then `durationMs` measured. */
  async call(req) {
    const k = req.k as number;
    callProcedure = req.procedure as string;
    callArgs = (req.argsJson as string | undefined) ?? `["${stampedPayload()}"]`;
    const wire = binaryWire(callSer);
    if (wire !== null) callTemplate = binaryCallTemplate(wire, callProcedure, JSON.parse(callArgs));
    callCompleted = 0;
    callErrors = 0;
    rtts.clear();
    callRunning = true;
    callMeasuring = false;
    for (let i = 0; i < k; i++) callSend();
    await sleep(req.warmupMs as number);
    callCompleted = 0;
    callErrors = 0;
    rtts.clear();
    callMeasuring = true;
    const startUs = nowUs();
    await sleep(req.durationMs as number);
    callMeasuring = false;
    callRunning = false;
    const endUs = nowUs();
    // Let the calls in flight come back (bounded).
    for (let i = 0; i < 100 && inFlight > 0; i++) await sleep(20);
    const lost = inFlight;
    inFlight = 0;
    return {
      calls: callCompleted,
      errors: callErrors,
      elapsedUs: endUs - startUs,
      rttUs: percentiles(rtts.values, rtts.size),
      lost,
      invocations,
    };
  },

  async amqpPrepare(req) {
    await amqp(req.url as string, async (ch) => {
      await ch.assertQueue(req.queue as string, QUEUE_DECLARATION);
      await ch.purgeQueue(req.queue as string);
    });
    return {};
  },

  /** Sends `count` persistent messages (header cat), as fast as possible or at `rate` per second. */
  async amqpSend(req) {
    const n = req.count as number;
    const rate = (req.rate as number | undefined) ?? 0;
    const queue = req.queue as string;
    const props = { persistent: true, contentType: "text/plain", headers: { cat: req.cat as string } };
    let startUs = 0;
    let endUs = 0;
    await amqp(req.url as string, async (ch) => {
      startUs = nowUs();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        if (rate > 0) {
          const due = t0 + (i * 1000) / rate - performance.now();
          if (due > 1) await sleep(due);
        }
        if (!ch.sendToQueue(queue, Buffer.from(stampedPayload()), props)) {
          await new Promise<void>((resolve) => ch.once("drain", resolve));
        }
      }
      endUs = nowUs();
    });
    return { startUs, endUs, sent: n };
  },

  /** Connects and subscribes; answers `startUs`, the time it was asked to (before connecting). */
  async stompConsume(req) {
    const startUs = nowUs();
    await stompTcpConsume(
      req.hostname as string,
      req.port as number,
      req.queue as string,
      (req.prefetch as number | undefined) ?? 100,
    );
    return { startUs };
  },

  /** The same consumer through @stomp/stompjs and the bridge's TCP adapter (no WAMP). */
  async stompjsConsume(req) {
    const startUs = nowUs();
    const { stompClient } = await import("../src/bridge/stomp_client.ts");
    const { parseStompUrl } = await import("../src/bridge/stomp_url.ts");
    const subscribed = Promise.withResolvers<void>();
    const client = stompClient(parseStompUrl(req.url as string), {
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      onConnect: () => {
        client.subscribe(`/queue/${req.queue as string}`, (m) => {
          count++;
          if (++tick >= sampleEvery) {
            tick = 0;
            const body = m.body;
            const i = body.indexOf("~T");
            if (i >= 0) latencies.add(nowUs() - Number(body.slice(i + 2, body.indexOf("~", i + 2))));
          }
          m.ack();
          afterChunk();
        }, {
          ack: "client-individual",
          "prefetch-count": String((req.prefetch as number | undefined) ?? 100),
          durable: "true",
          "auto-delete": "false",
          receipt: "sub",
        });
        client.watchForReceipt("sub", () => subscribed.resolve());
      },
      onStompError: (f) => subscribed.reject(new Error(f.headers.message ?? "STOMP error")),
    });
    stompjsClient = client;
    client.activate();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      subscribed.promise,
      new Promise((_, reject) => timer = setTimeout(() => reject(new Error("stompjs: no receipt")), 10_000)),
    ]).finally(() => clearTimeout(timer));
    return { startUs };
  },

  /**
   * Stops consuming (closes the STOMP connection: RabbitMQ requeues what was not
   * acked); `stompConsume` / `stompjsConsume` start again.
   */
  async consumeStop() {
    const conn = stompConn;
    stompConn = null;
    try {
      conn?.close();
    } catch {
      // already closed
    }
    const client = stompjsClient;
    stompjsClient = null;
    await client?.deactivate();
    return {};
  },

  /** Waits (at most `timeoutMs`) until `queue` holds at least `count` ready messages. */
  async amqpAwaitDepth(req) {
    const until = performance.now() + ((req.timeoutMs as number | undefined) ?? 30_000);
    return await amqp(req.url as string, async (ch) => {
      let depth = 0;
      // Bounded by the deadline.
      while (true) {
        depth = (await ch.checkQueue(req.queue as string)).messageCount;
        if (depth >= (req.count as number) || performance.now() > until) break;
        await sleep(50);
      }
      return { depth, reached: depth >= (req.count as number) };
    });
  },

  exit() {
    setTimeout(() => Deno.exit(0), 10);
    return {};
  },
});

await emit({ bye: true });
Deno.exit(0);
