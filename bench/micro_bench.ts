/**
 * Microbenchmarks of the hot paths of a publish and a call, without sockets:
 * `deno task bench:micro` (or `deno bench bench/micro_bench.ts`).
 *
 * - the v2 JSON codec: decode a PUBLISH, encode an EVENT (against the bare
 *   JSON.parse / JSON.stringify they wrap);
 * - the broker: Broker.publish to 1,000 in-memory subscribers whose
 *   deliverEvent encodes through the codec (once per event, cached), and the same
 *   with 10,000 unrelated prefix and wildcard subscriptions in the realm (the
 *   pattern index must keep them out of the publish's cost);
 * - the whole session path: a v2 session receives a PUBLISH frame and 1,000 v2
 *   sessions hand the EVENT frame to peers that only count it;
 * - a routed call: a caller's CALL becomes the callee's INVOCATION, whose YIELD
 *   becomes the caller's RESULT (against the JSON work alone);
 * - the other serializers (`wamp.2.json.batched`, `wamp.2.msgpack`, `wamp.2.cbor`):
 *   decode the same PUBLISH, encode the same EVENT, with and without a binary
 *   value to convert, and a publish reaching 1,000 sessions split among all four
 *   v2 serializers (each EVENT encoded once per serializer).
 *
 * @module
 */

import type { Codec } from "../src/codec/codec.ts";
import { wampV2Cbor } from "../src/codec/v2_cbor.ts";
import { wampV2Json } from "../src/codec/v2_json.ts";
import { wampV2JsonBatched } from "../src/codec/v2_json_batched.ts";
import { wampV2Msgpack } from "../src/codec/v2_msgpack.ts";
import { MessageType as T } from "../src/protocol/constants.ts";
import type { Event, RouterMessage } from "../src/protocol/messages.ts";
import { Broker } from "../src/realm/broker.ts";
import type { Participant } from "../src/realm/participant.ts";
import { Router } from "../src/router.ts";
import type { Peer } from "../src/session/peer.ts";
import { WampV2Session } from "../src/session/v2.ts";

const PAYLOAD = "~T1795843994907696~" + "x".repeat(81);
const PUBLISH = `[16,1,{},"bench.fan",["${PAYLOAD}"]]`;
const SUBSCRIBERS = 1000;

// Results go here so the work cannot be optimised away.
let _sink: unknown;

function freshEvent(publication: number): Event {
  return {
    type: T.EVENT,
    subscription: 1,
    publication,
    details: {},
    args: [PAYLOAD],
    kwargs: undefined,
    topic: "bench.fan",
    frames: [],
  };
}

Deno.bench("JSON.parse of a PUBLISH frame (floor)", { group: "decode", baseline: true }, () => {
  _sink = JSON.parse(PUBLISH);
});

Deno.bench("v2 codec: decode PUBLISH", { group: "decode" }, () => {
  _sink = wampV2Json.decode(PUBLISH);
});

let publication = 0;

Deno.bench("JSON.stringify of an EVENT array (floor)", { group: "encode", baseline: true }, () => {
  _sink = JSON.stringify([T.EVENT, 1, ++publication, {}, [PAYLOAD]]);
});

Deno.bench("v2 codec: encode EVENT (fresh event, no cache hit)", { group: "encode" }, () => {
  _sink = wampV2Json.encodeEvent(freshEvent(++publication));
});

/** A subscriber that does what a network session does, minus the socket. */
class FakeSubscriber implements Participant {
  readonly authid: string;
  readonly authrole = "anonymous";
  readonly authmethod = "anonymous";
  readonly authprovider = "static";
  readonly protocol = "wamp.2.json";
  readonly acceptsInterrupt = false;
  frames = 0;

  constructor(readonly id: number) {
    this.authid = String(id);
  }

  deliverEvent(event: Event): void {
    _sink = wampV2Json.encodeEvent(event);
    this.frames++;
  }

  send(_message: RouterMessage): void {}

  kill(): void {}
}

const broker = new Broker();
const fakes = Array.from({ length: SUBSCRIBERS }, (_, i) => new FakeSubscriber(i + 1));
for (const f of fakes) broker.subscribe(f, "bench.fan");

// The same subscribers, plus 10,000 pattern subscriptions that never match bench.fan:
// prefixes of several lengths shorter than the topic, and two-component wildcards.
const PATTERNS = 10_000;
const patterned = new Broker();
for (const f of fakes) patterned.subscribe(f, "bench.fan");
const watcher = new FakeSubscriber(SUBSCRIBERS + 1);
for (let i = 0; i < PATTERNS / 2; i++) {
  patterned.subscribe(watcher, `u${i}.`, "prefix");
  patterned.subscribe(watcher, `.user${i}`, "wildcard");
}

Deno.bench(
  "loop over 1,000 subscribers calling a method (floor)",
  { group: "publish", baseline: true },
  () => {
    const ev = freshEvent(++publication);
    for (const f of fakes) f.deliverEvent(ev);
  },
);

Deno.bench("Broker.publish to 1,000 subscribers (deliverEvent encodes)", { group: "publish" }, () => {
  _sink = broker.publish(null, { topic: "bench.fan", args: [PAYLOAD], options: {} });
});

Deno.bench(
  "Broker.publish to 1,000 subscribers, 10,000 unrelated pattern subscriptions in the realm",
  { group: "publish" },
  () => {
    _sink = patterned.publish(null, { topic: "bench.fan", args: [PAYLOAD], options: {} });
  },
);

// The same comparison where the fan-out does not hide the lookups: one subscriber.
const lone = new Broker();
lone.subscribe(fakes[0], "bench.fan");
patterned.subscribe(fakes[0], "bench.one");
lone.subscribe(fakes[0], "bench.one");

Deno.bench("Broker.publish to 1 subscriber", { group: "patterns", baseline: true }, () => {
  _sink = lone.publish(null, { topic: "bench.one", args: [PAYLOAD], options: {} });
});

Deno.bench(
  "Broker.publish to 1 subscriber, 10,000 unrelated pattern subscriptions in the realm",
  { group: "patterns" },
  () => {
    _sink = patterned.publish(null, { topic: "bench.one", args: [PAYLOAD], options: {} });
  },
);

/** A peer that counts frames instead of sending them. */
class CountingPeer implements Peer {
  readonly remoteAddress = "127.0.0.1";
  frames = 0;
  send(_frame: string | Uint8Array): void {
    this.frames++;
  }
  close(): void {}
}

// One session calls and publishes in a loop, far above the default per-session rate.
const router = new Router({ limits: { rate: 0 } });

function session(): WampV2Session {
  const s = new WampV2Session(router, new CountingPeer(), wampV2Json);
  s.open();
  s.receive('[1,"realm1",{"roles":{"subscriber":{},"publisher":{}}}]');
  return s;
}

for (let i = 0; i < SUBSCRIBERS; i++) session().receive('[32,1,{},"bench.fan"]');
const publisher = session();

Deno.bench("WampV2Session.receive(PUBLISH) → 1,000 v2 sessions (no sockets)", { group: "session" }, () => {
  publisher.receive(PUBLISH);
});

/** A peer that keeps the last frame it was given. */
class LastFramePeer implements Peer {
  readonly remoteAddress = "127.0.0.1";
  last = "";
  send(frame: string | Uint8Array): void {
    this.last = frame as string;
  }
  close(): void {}
}

const calleePeer = new LastFramePeer();
const callee = new WampV2Session(router, calleePeer, wampV2Json);
callee.open();
callee.receive('[1,"realm1",{"roles":{"callee":{}}}]');
callee.receive('[64,1,{},"bench.echo"]');
const callerPeer = new LastFramePeer();
const caller = new WampV2Session(router, callerPeer, wampV2Json);
caller.open();
caller.receive('[1,"realm1",{"roles":{"caller":{}}}]');
let request = 0;

Deno.bench(
  "JSON.parse + JSON.stringify of CALL, INVOCATION, YIELD and RESULT (floor)",
  { group: "rpc", baseline: true },
  () => {
    const id = ++request;
    const call = JSON.parse(`[48,${id},{},"bench.echo",["${PAYLOAD}"]]`);
    const inv = JSON.stringify([68, id, 1, {}, call[4]]);
    const y = JSON.parse(`[70,${id},{},["${PAYLOAD}"]]`);
    _sink = [inv, JSON.stringify([50, id, {}, y[3]])];
  },
);

Deno.bench("a routed call: CALL → INVOCATION, YIELD → RESULT through two v2 sessions (no sockets)", {
  group: "rpc",
}, () => {
  caller.receive(`[48,${++request},{},"bench.echo",["${PAYLOAD}"]]`);
  const inv = calleePeer.last;
  callee.receive(`[70,${inv.slice(4, inv.indexOf(",", 4))},{},["${PAYLOAD}"]]`);
  _sink = callerPeer.last;
});

// ---------------------------------------------------------------------------
// The other serializers. Everything they need is built lazily, on a bench's first
// call, so that the JSON rows above run exactly as they did before these existed.

const BINARY_CODECS: [string, Codec][] = [["wamp.2.msgpack", wampV2Msgpack], ["wamp.2.cbor", wampV2Cbor]];
/** 1 KiB of bytes, and the same as the spec's JSON string. */
const KIB = new Uint8Array(1024).map((_, i) => i & 0xff);
const KIB_JSON = "\u0000" + KIB.toBase64();

Deno.bench(
  "wamp.2.json.batched: decode PUBLISH (a batch of one)",
  { group: "serializers: decode PUBLISH" },
  () => {
    _sink = wampV2JsonBatched.decodeBatch(PUBLISH + "\u0018");
  },
);
Deno.bench("wamp.2.json: decode PUBLISH", { group: "serializers: decode PUBLISH", baseline: true }, () => {
  _sink = wampV2Json.decode(PUBLISH);
});
for (const [name, codec] of BINARY_CODECS) {
  const f = (codec as typeof wampV2Msgpack).format.encode(JSON.parse(PUBLISH));
  Deno.bench(`${name}: decode PUBLISH`, { group: "serializers: decode PUBLISH" }, () => {
    _sink = codec.decode(f);
  });
}

for (
  const [name, codec] of [
    ["wamp.2.json", wampV2Json],
    ["wamp.2.json.batched", wampV2JsonBatched],
    ...BINARY_CODECS,
  ] as const
) {
  Deno.bench(`${name}: encode EVENT`, {
    group: "serializers: encode EVENT",
    baseline: name === "wamp.2.json",
  }, () => {
    _sink = codec.encodeEvent(freshEvent(++publication));
  });
}

for (const [name, codec] of [["wamp.2.json", wampV2Json], ...BINARY_CODECS] as const) {
  const frame = name === "wamp.2.json"
    ? JSON.stringify([16, 1, {}, "bench.fan", [KIB_JSON]])
    : (codec as typeof wampV2Msgpack).format.encode([16, 1, {}, "bench.fan", [KIB]]);
  Deno.bench(`${name}: decode PUBLISH with 1 KiB of bytes`, {
    group: "serializers: binary values",
    baseline: name === "wamp.2.json",
  }, () => {
    _sink = codec.decode(frame);
  });
  Deno.bench(`${name}: encode EVENT with 1 KiB of bytes`, { group: "serializers: binary values" }, () => {
    _sink = codec.encodeEvent({ ...freshEvent(++publication), args: [KIB_JSON] });
  });
}

let mixedPublisher: WampV2Session | undefined;

/** A publisher and 1,000 subscribers, 250 on each v2 serializer, in a router of their own. */
function mixedRealm(): WampV2Session {
  const mixed = new Router({ limits: { rate: 0 } });
  const codecs = [wampV2Json, wampV2JsonBatched, wampV2Msgpack, wampV2Cbor];
  const hello: unknown[] = [1, "realm1", { roles: { subscriber: {}, publisher: {} } }];
  const join = (codec: Codec) => {
    const s = new WampV2Session(mixed, new CountingPeer(), codec);
    s.open();
    s.receive(frameFor(codec, hello));
    return s;
  };
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const codec = codecs[i % codecs.length];
    join(codec).receive(frameFor(codec, [32, 1, {}, "bench.fan"]));
  }
  return join(wampV2Json);
}

function frameFor(codec: Codec, msg: unknown[]): string | Uint8Array {
  if (codec === wampV2Json) return JSON.stringify(msg);
  if (codec === wampV2JsonBatched) return JSON.stringify(msg) + "\u0018";
  return (codec as typeof wampV2Msgpack).format.encode(msg);
}

Deno.bench(
  "WampV2Session.receive(PUBLISH) → 1,000 v2 sessions, 250 each of json, json.batched, msgpack, cbor",
  { group: "serializers: session" },
  () => {
    (mixedPublisher ??= mixedRealm()).receive(PUBLISH);
  },
);
