/**
 * The WAMP v2 serializers besides `wamp.2.json`: `wamp.2.msgpack`, `wamp.2.cbor` and
 * `wamp.2.json.batched`, through autobahn-browser where it speaks them and raw
 * frames where the test is about the wire. One realm serves every serializer (and
 * v1): an EVENT is encoded once per serializer, binary values cross between the
 * JSON and binary serializers, and a malformed or hostile binary frame costs its
 * own session only (ABORT `wamp.error.protocol_violation` and close 1002, or 1009
 * when too large).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Packr } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";
import { Encoder as CborEncoder } from "cbor-x/encode";
import type { BinaryFormat } from "../src/codec/binary.ts";
import { cborWriter, msgpackWriter, writeIteratively } from "../src/codec/binary_writer.ts";
import { cborFormat, wampV2Cbor } from "../src/codec/v2_cbor.ts";
import { msgpackFormat, wampV2Msgpack } from "../src/codec/v2_msgpack.ts";
import {
  autobahn,
  type AutobahnSession,
  Events,
  type TestClients,
  TIMEOUT_MS,
  waitUntil,
  withCleanServer,
  within,
} from "./helpers.ts";

const HELLO = 1, WELCOME = 2, ABORT = 3, ERROR = 8, PUBLISH = 16, PUBLISHED = 17;
const SUBSCRIBE = 32, SUBSCRIBED = 33, EVENT = 36, CALL = 48, RESULT = 50;
const REGISTER = 64, REGISTERED = 65, INVOCATION = 68, YIELD = 70;
const PROTOCOL_VIOLATION = "wamp.error.protocol_violation";
const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

type Protocol = "wamp.2.json" | "wamp.2.json.batched" | "wamp.2.msgpack" | "wamp.2.cbor";
type Msg = unknown[];

const FORMATS: Record<string, BinaryFormat> = {
  "wamp.2.msgpack": msgpackFormat,
  "wamp.2.cbor": cborFormat,
};
const BINARY: Protocol[] = ["wamp.2.msgpack", "wamp.2.cbor"];

/** Integers the libraries hand back as bigints, as numbers; everything else as it is. */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** A raw client that speaks any v2 serializer: frames in and out exactly as given. */
class WireClient {
  readonly frames: (string | Uint8Array)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket, readonly protocol: Protocol) {
    ws.binaryType = "arraybuffer";
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<CloseEvent>();
    this.opened = opened.promise;
    this.closed = closed.promise;
    ws.onopen = () => opened.resolve();
    ws.onerror = () => opened.reject(new Error("WebSocket failed"));
    ws.onmessage = (e) => {
      this.frames.push(typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer));
      this.#wake();
    };
    ws.onclose = (e) => {
      closed.resolve(e);
      opened.reject(new Error(`closed before open: ${e.code}`));
      this.#wake();
    };
    this.opened.catch(() => {});
  }

  static async open(url: string, protocol: Protocol): Promise<WireClient> {
    const c = new WireClient(new WebSocket(url, protocol), protocol);
    await within(c.opened, `a ${protocol} socket`);
    assert.equal(c.ws.protocol, protocol);
    return c;
  }

  /** Encodes `msg` in this client's serializer and sends it. */
  send(msg: Msg): void {
    this.ws.send(encodeFor(this.protocol, msg));
  }

  /** Sends a frame as it is. */
  sendRaw(frame: string | Uint8Array): void {
    this.ws.send(frame);
  }

  /** The next frame, as it came. */
  async nextRaw(what: string): Promise<string | Uint8Array> {
    await within(
      new Promise<void>((resolve) => {
        if (this.frames.length > 0) return resolve();
        this.#waiters.push(resolve);
      }),
      what,
    );
    if (this.frames.length === 0) throw new Error(`socket closed while waiting for ${what}`);
    return this.frames.shift()!;
  }

  /** The next message, decoded (bigints as numbers). */
  async next(what: string): Promise<Msg> {
    const frame = await this.nextRaw(what);
    const messages = decodeFor(this.protocol, frame);
    assert.equal(messages.length, 1, `one message a frame for ${what}`);
    return messages[0];
  }

  /** Sends `msg` and returns the next message. */
  async ask(msg: Msg, what: string): Promise<Msg> {
    this.send(msg);
    return await this.next(what);
  }

  closeEvent(): Promise<CloseEvent> {
    return within(this.closed, "the server to close the socket");
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    await within(this.closed, "the socket to close");
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

function encodeFor(protocol: Protocol, msg: Msg): string | Uint8Array {
  if (protocol === "wamp.2.json") return JSON.stringify(msg);
  if (protocol === "wamp.2.json.batched") return JSON.stringify(msg) + "\u0018";
  return FORMATS[protocol].encode(msg);
}

function decodeFor(protocol: Protocol, frame: string | Uint8Array): Msg[] {
  if (protocol === "wamp.2.json" || protocol === "wamp.2.json.batched") {
    assert.equal(typeof frame, "string", `a text frame on ${protocol}`);
    const text = frame as string;
    if (protocol === "wamp.2.json") return [JSON.parse(text)];
    assert.ok(text.endsWith("\u0018"), "a batched frame ends with 0x18");
    return text.slice(0, -1).split("\u0018").map((t) => JSON.parse(t));
  }
  assert.ok(frame instanceof Uint8Array, `a binary frame on ${protocol}`);
  return [plain(FORMATS[protocol].decode(frame)) as Msg];
}

/** Every client a test opens, closed at its end. */
class Wires {
  #open: WireClient[] = [];
  constructor(readonly clients: TestClients) {}

  /** A socket speaking `protocol`, not yet joined. */
  async socket(protocol: Protocol): Promise<WireClient> {
    const c = await WireClient.open(this.clients.server.wsUrl, protocol);
    this.#open.push(c);
    return c;
  }

  /** A joined session speaking `protocol`. */
  async session(protocol: Protocol): Promise<WireClient> {
    const c = await this.socket(protocol);
    const welcome = await c.ask([HELLO, "realm1", { roles: ROLES }], "WELCOME");
    assert.equal(welcome[0], WELCOME, `WELCOME on ${protocol}: ${JSON.stringify(welcome)}`);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.#open.splice(0)) await c.close().catch(() => {});
  }
}

let lastRequest = 0;
function req(): number {
  return ++lastRequest;
}

async function subscribe(c: WireClient, topic: string): Promise<number> {
  const r = req();
  const reply = await c.ask([SUBSCRIBE, r, {}, topic], `SUBSCRIBED to ${topic}`);
  assert.deepEqual(reply.slice(0, 2), [SUBSCRIBED, r], JSON.stringify(reply));
  return reply[2] as number;
}

async function publishAcked(c: WireClient, topic: string, args: unknown[], kwargs?: Record<string, unknown>) {
  const r = req();
  const msg: Msg = [PUBLISH, r, { acknowledge: true }, topic, args];
  if (kwargs !== undefined) msg.push(kwargs);
  const reply = await c.ask(msg, "PUBLISHED");
  assert.deepEqual(reply.slice(0, 2), [PUBLISHED, r], JSON.stringify(reply));
}

/** Runs `fn` with a clean server and the wire clients it opens. */
function serverTest(
  name: string,
  fn: (wires: Wires, clients: TestClients) => Promise<void>,
  options: Parameters<typeof withCleanServer>[0] = {},
): void {
  Deno.test(name, async () => {
    await withCleanServer(options, async (clients) => {
      const wires = new Wires(clients);
      try {
        await fn(wires, clients);
      } finally {
        await wires.close();
      }
    });
  });
}

/** The bytes 0, 1, 2, 255 and the same as the spec's JSON string. */
const BYTES = new Uint8Array([0, 1, 2, 255]);
const BYTES_JSON = "\u0000AAEC/w==";

// ---------------------------------------------------------------------------
// Negotiation

serverTest("the first subprotocol in the client's order that the router speaks is chosen", async (wires) => {
  const offers: [string[], string][] = [
    [["wamp.2.msgpack"], "wamp.2.msgpack"],
    [["wamp.2.cbor", "wamp.2.json"], "wamp.2.cbor"],
    [["wamp.2.json", "wamp.2.msgpack"], "wamp.2.json"],
    [["wamp.2.ubjson", "wamp.2.json.batched", "wamp.2.cbor"], "wamp.2.json.batched"],
  ];
  for (const [offer, chosen] of offers) {
    const ws = new WebSocket(wires.clients.server.wsUrl, offer);
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<void>();
    ws.onopen = () => opened.resolve();
    ws.onerror = () => opened.reject(new Error(`no connection offering ${offer}`));
    ws.onclose = () => closed.resolve();
    await within(opened.promise, `a socket offering ${offer}`);
    assert.equal(ws.protocol, chosen, `offered ${offer}`);
    ws.close();
    await within(closed.promise, "the socket to close");
  }
});

// ---------------------------------------------------------------------------
// autobahn-browser with each serializer

async function autobahnWith(
  url: string,
  serializer: unknown,
): Promise<{ session: AutobahnSession; close(): Promise<void> }> {
  const closed = Promise.withResolvers<void>();
  const opened = Promise.withResolvers<AutobahnSession>();
  const connection = new autobahn.Connection({
    url,
    realm: "realm1",
    max_retries: 0,
    serializers: [serializer],
    use_es6_promises: true,
  });
  connection.onopen = (session: AutobahnSession) => opened.resolve(session);
  connection.onclose = (reason: string, details: unknown) => {
    opened.reject(new Error(`connection closed: ${reason} ${JSON.stringify(details)}`));
    closed.resolve();
    return true;
  };
  connection.open();
  const session = await within(opened.promise, "an autobahn session");
  return {
    session,
    async close() {
      if (connection.isOpen) connection.close();
      await within(closed.promise, "the autobahn connection to close");
    },
  };
}

for (
  const [name, make, protocol] of [
    ["MessagePack", () => new autobahn.serializer.MsgpackSerializer(), "wamp.2.msgpack"],
    ["CBOR", () => new autobahn.serializer.CBORSerializer(), "wamp.2.cbor"],
  ] as const
) {
  serverTest(
    `autobahn-browser over ${protocol}: subscribe, publish, call, with a JSON peer`,
    async (_wires, clients) => {
      const binary = await autobahnWith(clients.server.wsUrl, make());
      try {
        assert.equal(binary.session._socket.info.protocol, protocol, `${name} negotiated`);
        const json = await clients.autobahn();
        const seen = new Events();
        await binary.session.subscribe("test.ser.topic", seen.handler);
        const fromJson = new Events();
        await json.session.subscribe("test.ser.topic", fromJson.handler);
        const payload = ["text ✓", 42, 2 ** 40, 1.5, -7, null, true, { nested: [1, { deep: "yes" }] }];
        await json.session.publish("test.ser.topic", payload, {}, { acknowledge: true });
        assert.deepEqual(await seen.next(`the ${name} subscriber's event`), payload);
        await binary.session.publish("test.ser.topic", payload, {}, { acknowledge: true, exclude_me: false });
        assert.deepEqual(await fromJson.next(`the JSON subscriber's event from ${name}`), payload);
        assert.deepEqual(await seen.next(`the ${name} publisher's own event`), payload);
        await json.session.register("test.ser.add", (args: number[]) => args[0] + args[1]);
        assert.equal(await binary.session.call("test.ser.add", [2 ** 40, 2]), 2 ** 40 + 2);
      } finally {
        await binary.close();
      }
    },
  );
}

serverTest(
  "autobahn-browser RPC across serializers: a MessagePack caller, a CBOR callee",
  async (_wires, clients) => {
    const callee = await autobahnWith(clients.server.wsUrl, new autobahn.serializer.CBORSerializer());
    const caller = await autobahnWith(clients.server.wsUrl, new autobahn.serializer.MsgpackSerializer());
    try {
      await callee.session.register(
        "test.ser.describe",
        (args: unknown[], kwargs: Record<string, unknown>) =>
          new autobahn.Result([args.length, ...args], { got: kwargs, id: 2 ** 53 - 1 }),
      );
      const result = await caller.session.call("test.ser.describe", ["a", 2 ** 33, { b: [1.25] }], {
        k: "v",
      });
      assert.deepEqual(result.args, [3, "a", 2 ** 33, { b: [1.25] }]);
      assert.deepEqual(result.kwargs, { got: { k: "v" }, id: 2 ** 53 - 1 });
    } finally {
      await caller.close();
      await callee.close();
    }
  },
);

// ---------------------------------------------------------------------------
// One realm, every serializer

/** Counts how often each serializer encodes an EVENT while `fn` runs. */
async function countEventEncodings(fn: () => Promise<void>): Promise<Record<string, number>> {
  const counts: Record<string, number> = { json: 0, msgpack: 0, cbor: 0 };
  const isEvent = (v: unknown) => Array.isArray(v) && v[0] === EVENT;
  const stringify = JSON.stringify;
  const encoders = [[msgpackFormat, "msgpack"], [cborFormat, "cbor"]] as const;
  const originals = encoders.map(([f]) => f.encode);
  JSON.stringify = ((value: unknown, ...rest: unknown[]) => {
    if (isEvent(value)) counts.json++;
    return (stringify as (...a: unknown[]) => string)(value, ...rest);
  }) as typeof JSON.stringify;
  encoders.forEach(([format, name], i) => {
    (format as { encode: BinaryFormat["encode"] }).encode = (v) => {
      if (isEvent(v)) counts[name]++;
      return originals[i](v);
    };
  });
  try {
    await fn();
  } finally {
    JSON.stringify = stringify;
    encoders.forEach(([format], i) => (format as { encode: BinaryFormat["encode"] }).encode = originals[i]);
  }
  return counts;
}

serverTest(
  "one JSON publish reaches MessagePack, CBOR, batched JSON, JSON and v1 subscribers, encoded once per serializer",
  async (wires, clients) => {
    const topic = "test.ser.mixed";
    const subscribers: WireClient[] = [];
    for (const p of ["wamp.2.msgpack", "wamp.2.cbor", "wamp.2.json.batched", "wamp.2.json"] as const) {
      for (let i = 0; i < 2; i++) {
        const s = await wires.session(p);
        await subscribe(s, topic);
        subscribers.push(s);
      }
    }
    const v1 = await clients.v1();
    v1.client.send([5, topic]);
    await waitUntil(
      () => clients.server.router.defaultRealm.broker.subscriberCount === 9,
      "nine subscribers",
    );
    const publisher = await wires.session("wamp.2.json");
    const args = ["hello", 2 ** 40, { x: [1.5, null] }];
    const kwargs = { who: "json" };
    const counts = await countEventEncodings(() => publishAcked(publisher, topic, args, kwargs));
    assert.deepEqual(counts, { json: 1, msgpack: 1, cbor: 1 }, "one EVENT encoding per serializer");
    for (const s of subscribers) {
      const ev = await s.next(`the EVENT on ${s.protocol}`);
      assert.equal(ev[0], EVENT, `${s.protocol}: ${JSON.stringify(ev)}`);
      assert.deepEqual(ev.slice(4), [args, kwargs], s.protocol);
    }
    assert.deepEqual(await v1.client.next("the v1 EVENT"), [8, topic, { args, kwargs }]);
  },
);

serverTest(
  "ids beyond 32 bits go out as integers in MessagePack and CBOR, never as floats",
  async (wires) => {
    const intsAsBigints: Record<string, (b: Uint8Array) => unknown> = {
      "wamp.2.msgpack": (b) =>
        new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "bigint" }).unpack(b),
      "wamp.2.cbor": (b) => cborFormat.decode(b),
    };
    for (const protocol of BINARY) {
      const s = await wires.session(protocol);
      await subscribe(s, "test.ser.ints");
      const publisher = await wires.session("wamp.2.json");
      publisher.send([PUBLISH, req(), { disclose_me: true }, "test.ser.ints", [
        2 ** 32,
        2 ** 53 - 1,
        -(2 ** 40),
        1.5,
      ]]);
      const raw = await s.nextRaw("EVENT");
      const ev = intsAsBigints[protocol](raw as Uint8Array) as unknown[];
      assert.deepEqual(
        ev[4],
        [2n ** 32n, 2n ** 53n - 1n, -(2n ** 40n), 1.5],
        `${protocol}: payload integers`,
      );
      const publication = ev[2];
      assert.ok(
        typeof publication === "bigint" || (publication as number) < 2 ** 32,
        `${protocol}: publication id`,
      );
      assert.equal(
        typeof (ev[3] as Record<string, unknown>).publisher,
        "bigint",
        `${protocol}: publisher id`,
      );
    }
  },
);

// ---------------------------------------------------------------------------
// Binary payloads across serializers

serverTest(
  "bytes published in MessagePack reach JSON as \\u0000+base64 and CBOR as bytes",
  async (wires, clients) => {
    const topic = "test.ser.bytes";
    const subs: WireClient[] = [];
    for (const p of ["wamp.2.json", "wamp.2.json.batched", "wamp.2.cbor", "wamp.2.msgpack"] as const) {
      const s = await wires.session(p);
      await subscribe(s, topic);
      subs.push(s);
    }
    const v1 = await clients.v1();
    v1.client.send([5, topic]);
    await waitUntil(
      () => clients.server.router.defaultRealm.broker.subscriberCount === 5,
      "five subscribers",
    );
    const publisher = await wires.session("wamp.2.msgpack");
    await publishAcked(publisher, topic, [BYTES, { inner: [BYTES] }], { b: BYTES });
    for (const s of subs) {
      const ev = await s.next(`EVENT on ${s.protocol}`);
      const b = s.protocol.startsWith("wamp.2.json") ? BYTES_JSON : BYTES;
      assert.deepEqual(ev.slice(4), [[b, { inner: [b] }], { b }], s.protocol);
    }
    assert.deepEqual(await v1.client.next("v1 EVENT"), [8, topic, {
      args: [BYTES_JSON, { inner: [BYTES_JSON] }],
      kwargs: { b: BYTES_JSON },
    }]);
  },
);

serverTest("a JSON publisher's \\u0000+base64 strings reach MessagePack and CBOR as bytes", async (wires) => {
  const topic = "test.ser.bytes2";
  const subs = [];
  for (const p of BINARY) {
    const s = await wires.session(p);
    await subscribe(s, topic);
    subs.push(s);
  }
  const publisher = await wires.session("wamp.2.json");
  // Not base64 after the NUL: an ordinary string, kept as it is.
  const notBinary = "\u0000not base64!";
  await publishAcked(publisher, topic, [BYTES_JSON, notBinary, "\u0000"], { b: BYTES_JSON });
  for (const s of subs) {
    const ev = await s.next(`EVENT on ${s.protocol}`);
    assert.deepEqual(ev.slice(4), [[BYTES, notBinary, new Uint8Array()], { b: BYTES }], s.protocol);
  }
});

serverTest("bytes through a call: a MessagePack caller, a CBOR callee, a JSON callee", async (wires) => {
  for (const calleeProtocol of ["wamp.2.cbor", "wamp.2.json"] as const) {
    const callee = await wires.session(calleeProtocol);
    const procedure = `test.ser.echo.${calleeProtocol.replaceAll(".", "_")}`;
    const r = req();
    const registered = await callee.ask([REGISTER, r, {}, procedure], "REGISTERED");
    assert.deepEqual(registered.slice(0, 2), [REGISTERED, r]);
    const caller = await wires.session("wamp.2.msgpack");
    const callId = req();
    caller.send([CALL, callId, {}, procedure, [BYTES], { b: BYTES }]);
    const inv = await callee.next("INVOCATION");
    assert.equal(inv[0], INVOCATION);
    const b = calleeProtocol === "wamp.2.json" ? BYTES_JSON : BYTES;
    assert.deepEqual(inv.slice(4), [[b], { b }], `what the ${calleeProtocol} callee got`);
    callee.send([YIELD, inv[1], {}, [b, "done"]]);
    const result = await caller.next("RESULT");
    assert.deepEqual(result, [RESULT, callId, {}, [BYTES, "done"]]);
  }
});

// ---------------------------------------------------------------------------
// wamp.2.json.batched

serverTest("a batched frame carries several messages, answered in order, one to a frame", async (wires) => {
  const c = await wires.socket("wamp.2.json.batched");
  const s = req(), p = req();
  c.sendRaw(
    [
      [HELLO, "realm1", { roles: ROLES }],
      [SUBSCRIBE, s, {}, "test.ser.batch"],
      [PUBLISH, p, { acknowledge: true, exclude_me: false }, "test.ser.batch", ["one"]],
    ].map((m) => JSON.stringify(m) + "\u0018").join(""),
  );
  assert.equal((await c.next("WELCOME"))[0], WELCOME);
  const subscribed = await c.next("SUBSCRIBED");
  assert.deepEqual(subscribed.slice(0, 2), [SUBSCRIBED, s]);
  const [first, second] = [await c.next("EVENT or PUBLISHED"), await c.next("PUBLISHED or EVENT")];
  const byType = new Map([[first[0], first], [second[0], second]]);
  assert.deepEqual(byType.get(EVENT)!.slice(4), [["one"]]);
  assert.deepEqual(byType.get(PUBLISHED)!.slice(0, 2), [PUBLISHED, p]);
});

// ---------------------------------------------------------------------------
// Malformed and hostile frames

/**
 * Opens a bystander of each kind subscribed to a topic, runs `bad` (which must get
 * ABORT protocol_violation, or `reason`, and close `code`), then shows the
 * bystanders still receive.
 */
async function violationCosts(
  wires: Wires,
  protocol: Protocol,
  send: (c: WireClient) => void,
  what: string,
  { code = 1002, reason = PROTOCOL_VIOLATION, join = true } = {},
): Promise<void> {
  const topic = "test.ser.bystanders";
  const bystanders = [];
  for (const p of ["wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"] as const) {
    const b = await wires.session(p);
    await subscribe(b, topic);
    bystanders.push(b);
  }
  const bad = join ? await wires.session(protocol) : await wires.socket(protocol);
  send(bad);
  const abort = await bad.next(`ABORT for ${what}`);
  assert.equal(abort[0], ABORT, `${what}: ${JSON.stringify(abort)}`);
  assert.equal(abort[2], reason, `${what}: ${JSON.stringify(abort)}`);
  const close = await bad.closeEvent();
  assert.equal(close.code, code, `${what}: close code`);
  const publisher = await wires.session("wamp.2.json");
  await publishAcked(publisher, topic, ["still here"]);
  for (const b of bystanders) {
    assert.deepEqual((await b.next(`the bystander's EVENT after ${what}`)).slice(4), [["still here"]]);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype untouched");
}

const msgpack = (v: unknown) => msgpackFormat.encode(v);
const cbor = (v: unknown) => cborFormat.encode(v);

/** Malformed frames for both binary serializers, as [name, frame]. */
function malformed(protocol: Protocol): [string, Uint8Array | string][] {
  const encode = protocol === "wamp.2.msgpack" ? msgpack : cbor;
  const writer = protocol === "wamp.2.msgpack" ? msgpackWriter : cborWriter;
  const valid = encode([PUBLISH, 1, {}, "test.ser.x", ["a payload long enough to cut"]]);
  return [
    ["a truncated frame", valid.subarray(0, valid.length - 5)],
    ["a frame with trailing bytes", new Uint8Array([...valid, 0x01])],
    ["a frame that decodes to a map, not an array", encode({ type: 32 })],
    ["a frame that decodes to a string", encode("hello")],
    ["an empty frame", new Uint8Array()],
    ["SUBSCRIBE with a string request id", encode([SUBSCRIBE, "1", {}, "a.b"])],
    ["SUBSCRIBE with options as a list", encode([SUBSCRIBE, 1, [], "a.b"])],
    ["PUBLISH with a fractional request id", encode([PUBLISH, 1.5, {}, "a.b"])],
    ["an unknown message type", encode([999])],
    ["a text frame", '[32,1,{},"a.b"]'],
    ["values nested 2,000 levels deep", writeIteratively([PUBLISH, 1, {}, "a.b", [deep(2_000)]], writer)],
  ];
}

function deep(n: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

for (const protocol of BINARY) {
  for (const [name, frame] of malformed(protocol)) {
    serverTest(
      `${protocol}: ${name} is a protocol violation; other sessions are unaffected`,
      async (wires) => {
        await violationCosts(wires, protocol, (c) => c.sendRaw(frame), name);
      },
    );
  }
}

/** Frames whose header claims far more than the frame holds, or that use the libraries' extensions. */
const HOSTILE: Record<string, [string, Uint8Array][]> = {
  "wamp.2.msgpack": [
    ["an array32 claiming 2^32-1 elements", new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff, 0x10])],
    ["a map32 claiming 2^32-1 entries", new Uint8Array([0x91, 0xdf, 0xff, 0xff, 0xff, 0xff])],
    ["a str32 claiming 4 GiB", new Uint8Array([0x92, 0x10, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x41])],
    ["a bin32 claiming 4 GiB", new Uint8Array([0x92, 0x10, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x41])],
    ["a timestamp extension (a Date)", msgpack([PUBLISH, 1, {}, "a.b", [new Date(0)]])],
    [
      "an unknown extension type",
      new Uint8Array([0x95, 0x10, 0x01, 0x80, 0xa3, 0x61, 0x2e, 0x62, 0xd4, 0x05, 0x00]),
    ],
    [
      "a structured-clone reference (a cycle)",
      (() => {
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        return new Packr({ structuredClone: true }).pack([PUBLISH, 1, {}, "a.b", [cyclic]]);
      })(),
    ],
  ],
  "wamp.2.cbor": [
    [
      "an array claiming 2^32-1 elements",
      new Uint8Array([0x9b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x10]),
    ],
    ["a map claiming 2^32-1 entries", new Uint8Array([0x81, 0xbb, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])],
    [
      "a text string claiming 4 GiB",
      new Uint8Array([0x82, 0x10, 0x7b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x41]),
    ],
    [
      "a byte string claiming 4 GiB",
      new Uint8Array([0x82, 0x10, 0x5b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x41]),
    ],
    ["a date tag", cbor([PUBLISH, 1, {}, "a.b", [new Date(0)]])],
    ["a set tag", new CborEncoder({ useRecords: false }).encode([PUBLISH, 1, {}, "a.b", [new Set([1])]])],
    [
      "shared references that make a cycle",
      (() => {
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        return new CborEncoder({ structuredClone: true }).encode([PUBLISH, 1, {}, "a.b", [cyclic]]);
      })(),
    ],
    [
      "shared references that blow a small frame up (a DAG 40 levels deep)",
      (() => {
        let v: unknown = ["x".repeat(100)];
        for (let i = 0; i < 40; i++) v = [v, v];
        return new CborEncoder({ structuredClone: true }).encode([PUBLISH, 1, {}, "a.b", [v]]);
      })(),
    ],
  ],
};

for (const protocol of BINARY) {
  for (const [name, frame] of HOSTILE[protocol]) {
    serverTest(
      `${protocol}: ${name} is a protocol violation; other sessions are unaffected`,
      async (wires) => {
        const started = performance.now();
        await violationCosts(wires, protocol, (c) => c.sendRaw(frame), name);
        assert.ok(performance.now() - started < TIMEOUT_MS, "answered quickly");
      },
    );
  }
}

for (const protocol of BINARY) {
  serverTest(`${protocol}: a __proto__ key pollutes nothing`, async (wires) => {
    const encode = protocol === "wamp.2.msgpack" ? msgpack : cbor;
    const s = await wires.session(protocol);
    await subscribe(s, "test.ser.proto");
    const publisher = await wires.session(protocol);
    // A map whose key is "__proto__", written by hand (encoders treat the key specially).
    const head = encode([PUBLISH, 7, { acknowledge: true }, "test.ser.proto", []]);
    const protoMap = protocol === "wamp.2.msgpack"
      ? [
        0x81,
        0xa9,
        ...new TextEncoder().encode("__proto__"),
        0x81,
        0xa8,
        ...new TextEncoder().encode("polluted"),
        0xc3,
      ]
      : [
        0xa1,
        0x69,
        ...new TextEncoder().encode("__proto__"),
        0xa1,
        0x68,
        ...new TextEncoder().encode("polluted"),
        0xf5,
      ];
    // The same PUBLISH with a sixth element, ArgumentsKw = {"__proto__": {"polluted": true}}.
    const frame = new Uint8Array([head[0] + 1, ...head.subarray(1), ...protoMap]);
    publisher.sendRaw(frame);
    const published = await publisher.next("PUBLISHED");
    assert.deepEqual(published.slice(0, 2), [PUBLISHED, 7]);
    const ev = await s.next("EVENT");
    assert.equal(ev[0], EVENT);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype untouched");
    const kwargs = ev[5] as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(kwargs), Object.prototype);
    assert.equal(kwargs.polluted, undefined);
  });
}

for (const protocol of BINARY) {
  serverTest(
    `${protocol}: a frame over the size limit gets ABORT payload_size_exceeded and close 1009`,
    async (wires) => {
      const encode = protocol === "wamp.2.msgpack" ? msgpack : cbor;
      const frame = encode([PUBLISH, 1, {}, "test.ser.big", [new Uint8Array(4096)]]);
      await violationCosts(wires, protocol, (c) => c.sendRaw(frame), "an oversized frame", {
        code: 1009,
        reason: "wamp.error.payload_size_exceeded",
      });
    },
    { maxMessageSize: 2048 },
  );

  serverTest(`${protocol}: malformed before HELLO is a protocol violation too`, async (wires) => {
    await violationCosts(
      wires,
      protocol,
      (c) => c.sendRaw(new Uint8Array([0x92, 0x01])),
      "a truncated HELLO",
      {
        join: false,
      },
    );
  });
}

for (
  const [name, frame] of [
    ["a binary frame", new Uint8Array([0x91, 0x01])],
    ["a frame without the final 0x18", JSON.stringify([SUBSCRIBE, 1, {}, "a.b"])],
    ["an empty message between separators", JSON.stringify([SUBSCRIBE, 1, {}, "a.b"]) + "\u0018\u0018"],
    [
      "a batch whose second message is malformed",
      JSON.stringify([SUBSCRIBE, 1, {}, "a.b"]) + "\u0018[32,1,\u0018",
    ],
  ] as const
) {
  serverTest(
    `wamp.2.json.batched: ${name} is a protocol violation, and nothing of it is done`,
    async (wires, clients) => {
      const broker = clients.server.router.defaultRealm.broker;
      const before = broker.topicCount;
      await violationCosts(wires, "wamp.2.json.batched", (c) => c.sendRaw(frame), name);
      assert.equal(broker.subscription("a.b"), undefined, "the batch's valid SUBSCRIBE was not done");
      assert.ok(broker.topicCount <= before + 1);
    },
  );
}

serverTest(
  "a JSON payload nested 20,000 levels deep still reaches MessagePack and CBOR subscribers",
  async (wires) => {
    const subs = [];
    for (const p of BINARY) {
      const s = await wires.session(p);
      await subscribe(s, "test.ser.deep");
      subs.push(s);
    }
    const publisher = await wires.session("wamp.2.json");
    const n = 20_000;
    publisher.sendRaw(
      `[16,${req()},{},"test.ser.deep",[${"[".repeat(n)}1${"]".repeat(n)}],{"k":${
        JSON.stringify(BYTES_JSON)
      }}]`,
    );
    for (const s of subs) {
      const frame = await s.nextRaw("the deep EVENT") as Uint8Array;
      const [nest, kwargsMap] = s.protocol === "wamp.2.msgpack" ? [0x91, 0x81] : [0x81, 0xa1];
      // After the head, 20,001 one-element arrays (the args list and the nesting), then 1, then kwargs with bytes.
      // The head holds random ids whose bytes may equal `nest`: the nesting is the first run of
      // 16 such bytes, longer than any id.
      const start = frame.findIndex((_, i) => frame.subarray(i, i + 16).every((b) => b === nest));
      assert.ok(frame.subarray(start, start + n + 1).every((b) => b === nest), `${s.protocol}: the nesting`);
      assert.equal(frame[start + n + 1], 0x01);
      assert.equal(frame[start + n + 2], kwargsMap);
      assert.ok(
        frame.subarray(frame.length - 4).every((b, i) => b === BYTES[i]),
        `${s.protocol}: bytes at the end`,
      );
    }
  },
);

serverTest("an ABORT for a bad frame is sent in the session's own serializer", async (wires) => {
  for (const protocol of BINARY) {
    const bad = await wires.session(protocol);
    bad.sendRaw(new Uint8Array([0x93]));
    const frame = await bad.nextRaw("ABORT");
    assert.ok(frame instanceof Uint8Array, `${protocol}: binary ABORT`);
    const abort = plain(FORMATS[protocol].decode(frame)) as Msg;
    assert.equal(abort[0], ABORT);
    assert.equal(abort[2], PROTOCOL_VIOLATION);
    assert.match((abort[1] as { message: string }).message, /not valid/);
    await bad.closeEvent();
  }
});

serverTest("every serializer gets the same ERROR for a refused request", async (wires) => {
  const answers = [];
  for (const p of ["wamp.2.json", "wamp.2.json.batched", ...BINARY] as const) {
    const c = await wires.session(p);
    const r = req();
    const reply = await c.ask([CALL, r, {}, "test.ser.nobody"], "ERROR");
    answers.push(reply.map((x, i) => (i === 2 ? "request" : x)));
    assert.deepEqual(reply.slice(0, 3), [ERROR, CALL, r]);
  }
  for (const a of answers) assert.deepEqual(a, answers[0]);
});

Deno.test("a cached EVENT frame stays intact while the codecs encode other messages", () => {
  for (const codec of [wampV2Msgpack, wampV2Cbor]) {
    const event = (publication: number, payload: unknown[]) => ({
      type: EVENT as typeof EVENT,
      subscription: 1,
      publication,
      details: {},
      args: payload,
      topic: "test.ser.cache",
      frames: [],
    });
    const first = event(2 ** 40, ["first", BYTES_JSON]);
    const frame = codec.encodeEvent(first) as Uint8Array;
    const copy = frame.slice();
    for (let i = 0; i < 2_000; i++) codec.encodeEvent(event(i + 1, ["other".repeat(i % 50), i]));
    assert.deepEqual(frame, copy, `${codec.subprotocol}: the cached frame changed`);
    assert.equal(codec.encodeEvent(first), frame, `${codec.subprotocol}: the cache is used`);
    assert.deepEqual(plain(codec.format.decode(frame)), [EVENT, 1, 2 ** 40, {}, ["first", BYTES]]);
  }
});
