/**
 * Malformed and hostile WAMP v2 input. Every violation is answered with ABORT
 * `wamp.error.protocol_violation` and a close 1002, the other sessions keep being
 * served, and the offender leaves nothing behind in the router.
 */
import assert from "node:assert/strict";
import type { RunningServer } from "../main.ts";
import { pushApp } from "../push.ts";
import { type Frame, isDict, ProtocolError } from "../src/codec/codec.ts";
import { wampV2Json } from "../src/codec/v2_json.ts";
import type { Event } from "../src/protocol/messages.ts";
import { Router } from "../src/router.ts";
import type { Peer } from "../src/session/peer.ts";
import { WampV2Session } from "../src/session/v2.ts";
import {
  type AutobahnSession,
  backToBaseline,
  connectV2,
  Events,
  type Footprint,
  footprint,
  RawClient,
  rawV2,
  type V2Client,
  waitUntil,
  within,
  withServer,
} from "./helpers.ts";

const PROTOCOL_VIOLATION = "wamp.error.protocol_violation";
const PAYLOAD_SIZE_EXCEEDED = "wamp.error.payload_size_exceeded";
const ALIVE_TOPIC = "test.bad_input.alive";

function plus(base: Footprint, extra: Partial<Footprint>): Footprint {
  const sum = { ...base };
  for (const [k, v] of Object.entries(extra) as [keyof Footprint, number][]) sum[k] += v;
  return sum;
}

/** Reads the ABORT, checks its shape, then checks the close code and that nothing followed. */
async function expectAbort(
  client: RawClient,
  reason = PROTOCOL_VIOLATION,
  closeCode = 1002,
): Promise<void> {
  const abort = await client.next("ABORT") as unknown[];
  assert.ok(Array.isArray(abort), `expected ABORT, got ${JSON.stringify(abort)}`);
  assert.equal(abort.length, 3, `ABORT has 3 elements: ${JSON.stringify(abort)}`);
  assert.equal(abort[0], 3, `expected ABORT, got ${JSON.stringify(abort)}`);
  assert.ok(isDict(abort[1]), "ABORT.Details is an object");
  const message = (abort[1] as Record<string, unknown>).message;
  assert.equal(typeof message, "string", "ABORT.Details.message is a string");
  assert.ok((message as string).length > 0, "ABORT.Details.message is not empty");
  assert.equal(abort[2], reason);
  const closed = await client.closeEvent();
  assert.equal(closed.code, closeCode, `close code (reason ${JSON.stringify(closed.reason)})`);
  assert.deepEqual(client.frames, [], "nothing is sent after ABORT");
}

/** The other session: a call and a publish/receive round trip still work. */
async function assertStillServed(good: V2Client, events: Events, tag: string): Promise<void> {
  assert.equal(await within(good.session.call("push.tutorial.areaCuadrado", ["2", "3"]), "area call"), 6);
  await within(
    good.session.publish(ALIVE_TOPIC, [tag], {}, { acknowledge: true, exclude_me: false }),
    "acknowledged publish",
  );
  assert.deepEqual(await events.next("own event"), [tag]);
}

interface Provoked {
  /** The session that broke the rules. */
  bad: RawClient;
  /** Checks to run after the ABORT, before the extra clients close. */
  afterAbort?: (good: AutobahnSession) => Promise<void>;
  /** What the other raw clients (still open after the ABORT) rightly hold in the router. */
  helpersHold?: Partial<Footprint>;
}

interface ViolationOptions {
  reason?: string;
  closeCode?: number;
  maxMessageSize?: number;
}

/**
 * One violation test: a healthy autobahn session is opened first; `provoke` opens
 * the offending session (registering every client it opens in `clients`) and
 * breaks a rule; then the ABORT, the close, the healthy session and the router's
 * footprint are checked.
 */
function violationTest(
  name: string,
  provoke: (server: RunningServer, clients: RawClient[]) => Promise<Provoked>,
  options: ViolationOptions = {},
): void {
  Deno.test(name, async () => {
    await withServer(
      async (server) => {
        const good = await connectV2(server.wsUrl);
        const clients: RawClient[] = [];
        try {
          const events = new Events();
          await within(good.session.subscribe(ALIVE_TOPIC, events.handler), "healthy subscribe");
          await assertStillServed(good, events, "before");
          const baseline = footprint(server);

          const { bad, afterAbort, helpersHold = {} } = await provoke(server, clients);
          await expectAbort(bad, options.reason, options.closeCode);

          await assertStillServed(good, events, "after");
          if (afterAbort !== undefined) await afterAbort(good.session);
          // The offender is gone while the helpers are still connected...
          await backToBaseline(
            server,
            plus(baseline, helpersHold),
            "the router to release the offending session",
          );
          // ...and once they leave too, the router is as it was.
          for (const c of clients) await c.close();
          await backToBaseline(server, baseline, "the router to release the offending session");
          await assertStillServed(good, events, "at the end");
        } finally {
          for (const c of clients) await c.close();
          await good.close();
        }
      },
      pushApp,
      options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize },
    );
  });
}

/** A raw v2 session that completed HELLO/WELCOME. */
async function established(server: RunningServer, clients: RawClient[]): Promise<RawClient> {
  const { client } = await rawV2(server.wsUrl);
  clients.push(client);
  return client;
}

/** A raw v2 socket that has not sent HELLO. */
async function unestablished(server: RunningServer, clients: RawClient[]): Promise<RawClient> {
  const client = await RawClient.open(server.wsUrl, "wamp.2.json");
  clients.push(client);
  return client;
}

/** A violation by sending one frame on an established session. */
function afterWelcome(name: string, frame: unknown): void {
  violationTest(name, async (server, clients) => {
    const bad = await established(server, clients);
    bad.send(frame);
    return { bad };
  });
}

// ---------------------------------------------------------------------------
// Frames that are not WAMP messages at all

afterWelcome("a frame that is not JSON is a protocol violation", "this is {not json");
afterWelcome("a JSON object instead of a list is a protocol violation", '{"type": 16, "topic": "a.b"}');
afterWelcome("an empty JSON array is a protocol violation", "[]");
afterWelcome("a JSON string instead of a list is a protocol violation", '"hello"');
afterWelcome("an unknown message type id (999) is a protocol violation", [999]);
afterWelcome("a non-numeric message type is a protocol violation", ["16", 1, {}, "a.b"]);

afterWelcome(
  "deeply nested JSON (100 000 levels) is a protocol violation",
  "[".repeat(100_000) + "]".repeat(100_000),
);
afterWelcome(
  "a PUBLISH nested 100 000 levels deep in its type position is a protocol violation",
  `[${"[".repeat(100_000)}16${"]".repeat(100_000)}, 1, {}, "a.b"]`,
);

violationTest("a binary frame on wamp.2.json is a protocol violation", async (server, clients) => {
  const bad = await established(server, clients);
  bad.ws.send(new Uint8Array([0x91, 0x01, 0x02, 0x03]));
  return { bad };
});

// ---------------------------------------------------------------------------
// Messages only a router may send

afterWelcome("a client sending WELCOME [2, 1, {}] is a protocol violation", [2, 1, {}]);
afterWelcome("a client sending EVENT [36, ...] is a protocol violation", [36, 1, 1, {}, ["x"]]);
afterWelcome("a client sending RESULT [50, ...] is a protocol violation", [50, 1, {}, [1]]);
afterWelcome("a client sending INVOCATION [68, ...] is a protocol violation", [68, 1, 1, {}]);

// ---------------------------------------------------------------------------
// Session state

violationTest("SUBSCRIBE before HELLO is a protocol violation", async (server, clients) => {
  const bad = await unestablished(server, clients);
  bad.send([32, 1, {}, "push.tutorial.messages"]);
  return { bad };
});

violationTest("CALL before HELLO is a protocol violation", async (server, clients) => {
  const bad = await unestablished(server, clients);
  bad.send([48, 1, {}, "push.tutorial.areaCuadrado", ["2", "3"]]);
  return { bad };
});

afterWelcome("a second HELLO after WELCOME is a protocol violation", [1, "realm1", {
  roles: { subscriber: {} },
}]);

violationTest("HELLO without roles (Details {}) is a protocol violation", async (server, clients) => {
  const bad = await unestablished(server, clients);
  bad.send([1, "realm1", {}]);
  return { bad };
});

violationTest("HELLO with an empty roles object is a protocol violation", async (server, clients) => {
  const bad = await unestablished(server, clients);
  bad.send([1, "realm1", { roles: {} }]);
  return { bad };
});

violationTest("HELLO with roles as a list is a protocol violation", async (server, clients) => {
  const bad = await unestablished(server, clients);
  bad.send([1, "realm1", { roles: ["subscriber"] }]);
  return { bad };
});

violationTest("HELLO whose realm is not a string is a protocol violation", async (server, clients) => {
  const bad = await unestablished(server, clients);
  bad.send([1, 42, { roles: { subscriber: {} } }]);
  return { bad };
});

// ---------------------------------------------------------------------------
// Wrong field types and arity

afterWelcome('SUBSCRIBE with request id "1" (a string) is a protocol violation', [32, "1", {}, "a.b"]);
afterWelcome("SUBSCRIBE with request id 0 is a protocol violation", [32, 0, {}, "a.b"]);
afterWelcome("SUBSCRIBE with request id 2^53+2 is a protocol violation", [32, 2 ** 53 + 2, {}, "a.b"]);
afterWelcome("SUBSCRIBE with a fractional request id is a protocol violation", [32, 1.5, {}, "a.b"]);
afterWelcome("SUBSCRIBE with options as a list is a protocol violation", [32, 1, [], "a.b"]);
afterWelcome("SUBSCRIBE with a number as topic is a protocol violation", [32, 1, {}, 12345]);
afterWelcome("SUBSCRIBE with 5 elements is a protocol violation", [32, 1, {}, "a.b", "extra"]);
afterWelcome("PUBLISH with args that are not a list is a protocol violation", [16, 1, {}, "a.b", {
  not: "a list",
}]);
afterWelcome("CALL with kwargs that are not an object is a protocol violation", [
  48,
  1,
  {},
  "push.tutorial.areaCuadrado",
  ["2", "3"],
  ["not", "a", "dict"],
]);

// ---------------------------------------------------------------------------
// Messages that are well formed but not allowed here

afterWelcome("AUTHENTICATE without a CHALLENGE is a protocol violation", [5, "sig", {}]);
afterWelcome("ERROR for a CALL (request type 48, not INVOCATION) is a protocol violation", [
  8,
  48,
  1,
  {},
  "com.example.error",
]);

violationTest(
  "CALL reusing a request id whose call is still in flight is a protocol violation; the callee is interrupted",
  async (server, clients) => {
    const callee = await established(server, clients);
    callee.send([64, 1, {}, "test.bad_input.hang"]);
    const registered = await callee.next("REGISTERED") as unknown[];
    assert.equal(registered[0], 65, JSON.stringify(registered));
    const registration = registered[2];

    const bad = await established(server, clients);
    bad.send([48, 7, {}, "test.bad_input.hang", ["first"]]);
    const first = await callee.next("INVOCATION of request 7") as unknown[];
    assert.equal(first[0], 68, JSON.stringify(first));
    assert.equal(first[2], registration);
    assert.deepEqual(first[4], ["first"]);
    // A different request id while 7 is in flight is fine.
    bad.send([48, 8, {}, "test.bad_input.hang", ["second"]]);
    const second = await callee.next("INVOCATION of request 8") as unknown[];
    assert.equal(second[0], 68);
    assert.deepEqual(second[4], ["second"]);
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 2);
    // Reusing 7 is not.
    bad.send([48, 7, {}, "test.bad_input.hang", ["again"]]);
    return {
      bad,
      helpersHold: { routerSessions: 1, realmSessions: 1, registrations: 1, openConnections: 1 },
      async afterAbort() {
        // The callee announced call_canceling: both invocations are interrupted.
        const interrupts = [
          await callee.next("first INTERRUPT") as unknown[],
          await callee.next("second INTERRUPT") as unknown[],
        ];
        assert.deepEqual(
          interrupts.map((m) => m[0]),
          [69, 69],
          `expected two INTERRUPTs, got ${JSON.stringify(interrupts)}`,
        );
        assert.deepEqual(
          interrupts.map((m) => m[1]).sort(),
          [first[1], second[1]].sort(),
          "the INTERRUPTs name the two invocations",
        );
        assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
      },
    };
  },
);

violationTest(
  "a session that violates the protocol loses its subscriptions and registrations; another session may register the procedure",
  async (server, clients) => {
    const realm = server.router.defaultRealm;
    const topicsBefore = realm.broker.topicCount;
    const registrationsBefore = realm.dealer.registrationCount;
    const bad = await established(server, clients);
    bad.send([32, 1, {}, "test.bad_input.topic"]);
    assert.equal((await bad.next("SUBSCRIBED") as unknown[])[0], 33);
    bad.send([64, 2, {}, "test.bad_input.proc"]);
    assert.equal((await bad.next("REGISTERED") as unknown[])[0], 65);
    assert.equal(realm.broker.topicCount, topicsBefore + 1);
    assert.equal(realm.dealer.registrationCount, registrationsBefore + 1);
    bad.send("[32, 3, {}, ");
    return {
      bad,
      async afterAbort(good) {
        assert.equal(realm.broker.subscription("test.bad_input.topic"), undefined);
        assert.equal(realm.dealer.registration("test.bad_input.proc"), undefined);
        const reg = await within(good.register("test.bad_input.proc", () => "mine"), "re-register");
        assert.equal(await within(good.call("test.bad_input.proc"), "call the new callee"), "mine");
        await within(good.unregister(reg), "unregister");
      },
    };
  },
);

// ---------------------------------------------------------------------------
// Size limit

violationTest(
  "a frame larger than maxMessageSize gets ABORT wamp.error.payload_size_exceeded and close 1009",
  async (server, clients) => {
    const bad = await established(server, clients);
    bad.send([16, 1, {}, "push.tutorial.messages", ["x".repeat(2048)]]);
    return { bad };
  },
  { reason: PAYLOAD_SIZE_EXCEEDED, closeCode: 1009, maxMessageSize: 1024 },
);

violationTest(
  "a frame larger than maxMessageSize before HELLO gets ABORT wamp.error.payload_size_exceeded and close 1009",
  async (server, clients) => {
    const bad = await unestablished(server, clients);
    bad.send([1, "realm1", { roles: { subscriber: {} }, padding: "p".repeat(2048) }]);
    return { bad };
  },
  { reason: PAYLOAD_SIZE_EXCEEDED, closeCode: 1009, maxMessageSize: 1024 },
);

violationTest(
  "maxMessageSize counts UTF-8 bytes: 700 two-byte characters (over 1024 bytes, under 1024 chars) exceed a 1024-byte limit",
  async (server, clients) => {
    const bad = await established(server, clients);
    const frame = JSON.stringify([16, 1, { acknowledge: true }, "push.tutorial.messages", [
      "ñ".repeat(700),
    ]]);
    assert.ok(frame.length < 1024, `${frame.length} characters`);
    assert.ok(new TextEncoder().encode(frame).length > 1024, "over 1024 bytes");
    bad.send(frame);
    return { bad };
  },
  { reason: PAYLOAD_SIZE_EXCEEDED, closeCode: 1009, maxMessageSize: 1024 },
);

Deno.test("a frame just under maxMessageSize is accepted", async () => {
  await withServer(
    async (server) => {
      const { client } = await rawV2(server.wsUrl);
      try {
        const head = JSON.stringify([16, 1, { acknowledge: true }, "push.tutorial.messages", [""]]);
        const frame = JSON.stringify([16, 1, { acknowledge: true }, "push.tutorial.messages", [
          "y".repeat(1024 - head.length),
        ]]);
        assert.equal(frame.length, 1024);
        client.send(frame);
        const published = await client.next("PUBLISHED") as unknown[];
        assert.equal(published[0], 17, JSON.stringify(published));
        assert.equal(published[1], 1);
      } finally {
        await client.close();
      }
    },
    pushApp,
    { maxMessageSize: 1024 },
  );
});

// ---------------------------------------------------------------------------
// HELLO timeout (Router option; startServer does not expose it, so a fake peer)

/** A {@link Peer} that records what the session does to it. */
class RecordingPeer implements Peer {
  readonly remoteAddress = "127.0.0.1";
  readonly sent: Frame[] = [];
  readonly closes: { code: number; reason: string }[] = [];

  send(frame: Frame): void {
    this.sent.push(frame);
  }

  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
}

Deno.test("a v2 connection that never sends HELLO is closed with 1008 after helloTimeoutMs", async () => {
  const router = new Router({ helloTimeoutMs: 200 });
  const peer = new RecordingPeer();
  const session = new WampV2Session(router, peer, wampV2Json);
  const started = Date.now();
  session.open();
  try {
    assert.equal(router.sessionCount, 1);
    await waitUntil(() => peer.closes.length > 0, "the HELLO timeout to close the transport", 3_000);
    assert.ok(Date.now() - started >= 150, "not closed long before the timeout");
    assert.equal(peer.closes.length, 1);
    assert.equal(peer.closes[0].code, 1008);
    assert.ok(peer.closes[0].reason.length > 0, "the close has a reason");
    assert.deepEqual(peer.sent, [], "nothing is sent to a peer that never said HELLO");
  } finally {
    session.closed(); // what the transport reports after the close
  }
  assert.equal(router.sessionCount, 0);
});

Deno.test("after GOODBYE the HELLO timeout is armed again", async () => {
  const router = new Router({ helloTimeoutMs: 200 });
  const peer = new RecordingPeer();
  const session = new WampV2Session(router, peer, wampV2Json);
  session.open();
  try {
    session.receive(JSON.stringify([1, "realm1", { roles: { subscriber: {} } }]));
    assert.equal(JSON.parse(peer.sent[0] as string)[0], 2, "WELCOME");
    session.receive(JSON.stringify([6, {}, "wamp.close.close_realm"]));
    assert.deepEqual(JSON.parse(peer.sent[1] as string), [6, {}, "wamp.close.goodbye_and_out"]);
    assert.equal(router.defaultRealm.sessionCount, 0);
    await waitUntil(() => peer.closes.length > 0, "the re-armed HELLO timeout", 3_000);
    assert.equal(peer.closes[0].code, 1008);
    assert.equal(peer.sent.length, 2);
  } finally {
    session.closed();
  }
  assert.equal(router.sessionCount, 0);
});

// ---------------------------------------------------------------------------
// The codec on its own

const MALFORMED: [string, Frame][] = [
  ["not JSON", "{nope"],
  ["an empty frame", ""],
  ["a JSON object", '{"a": 1}'],
  ["JSON null", "null"],
  ["a JSON number", "16"],
  ["an empty array", "[]"],
  ["an unknown type id", "[999]"],
  ["a string type id", '["32", 1, {}, "a.b"]'],
  ["a binary frame", new Uint8Array([0x93, 0x20, 0x01])],
  ["WELCOME from a client", "[2, 1, {}]"],
  ["CHALLENGE from a client", '[4, "ticket", {}]'],
  ["EVENT from a client", "[36, 1, 1, {}]"],
  ["PUBLISHED from a client", "[17, 1, 1]"],
  ["INTERRUPT from a client", "[69, 1, {}]"],
  ["AUTHENTICATE with a numeric signature", "[5, 1, {}]"],
  ["AUTHENTICATE without extra", '[5, "sig"]'],
  ["HELLO with 2 elements", '[1, "realm1"]'],
  ["HELLO with a numeric realm", "[1, 1, {}]"],
  ["HELLO with details as a list", '[1, "realm1", []]'],
  ["GOODBYE without a reason", "[6, {}]"],
  ["GOODBYE with a numeric reason", "[6, {}, 1]"],
  ["ERROR for a CALL", '[8, 48, 1, {}, "a.b"]'],
  ["ERROR with a non-string error URI", "[8, 68, 1, {}, 5]"],
  ["ERROR with 4 elements", "[8, 68, 1, {}]"],
  ["SUBSCRIBE with a string request id", '[32, "1", {}, "a.b"]'],
  ["SUBSCRIBE with request id 0", '[32, 0, {}, "a.b"]'],
  ["SUBSCRIBE with a negative request id", '[32, -1, {}, "a.b"]'],
  ["SUBSCRIBE with request id 2^53+2", '[32, 9007199254740994, {}, "a.b"]'],
  ["SUBSCRIBE with a fractional request id", '[32, 1.5, {}, "a.b"]'],
  ["SUBSCRIBE with options as a list", '[32, 1, [], "a.b"]'],
  ["SUBSCRIBE with options null", '[32, 1, null, "a.b"]'],
  ["SUBSCRIBE with a numeric topic", "[32, 1, {}, 7]"],
  ["SUBSCRIBE with 3 elements", "[32, 1, {}]"],
  ["SUBSCRIBE with 5 elements", '[32, 1, {}, "a.b", 1]'],
  ["UNSUBSCRIBE with a string subscription id", '[34, 1, "2"]'],
  ["PUBLISH with args as an object", '[16, 1, {}, "a.b", {}]'],
  ["PUBLISH with kwargs as a list", '[16, 1, {}, "a.b", [], []]'],
  ["PUBLISH with 7 elements", '[16, 1, {}, "a.b", [], {}, 1]'],
  ["CALL with a numeric procedure", "[48, 1, {}, 5]"],
  ["CALL with args as a string", '[48, 1, {}, "a.b", "x"]'],
  ["CANCEL with options as a string", '[49, 1, "kill"]'],
  ["REGISTER with 5 elements", '[64, 1, {}, "a.b", {}]'],
  ["UNREGISTER with registration id 0", "[66, 1, 0]"],
  ["YIELD with options as a list", "[70, 1, []]"],
  ["YIELD with 6 elements", "[70, 1, {}, [], {}, 1]"],
];

for (const [what, frame] of MALFORMED) {
  Deno.test(`wampV2Json.decode throws ProtocolError for ${what}`, () => {
    assert.throws(() => wampV2Json.decode(frame), (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${e}`);
      assert.ok(e.message.length > 0, "the error explains itself");
      return true;
    });
  });
}

Deno.test("wampV2Json.decode accepts the boundary request ids 1 and 2^53", () => {
  assert.deepEqual(wampV2Json.decode('[32, 1, {}, "a.b"]'), {
    type: 32,
    request: 1,
    options: {},
    topic: "a.b",
  });
  assert.equal((wampV2Json.decode(`[32, ${2 ** 53}, {}, "a.b"]`) as { request: number }).request, 2 ** 53);
});

Deno.test("wampV2Json.decode reads CALL with and without payload", () => {
  assert.deepEqual(wampV2Json.decode('[48, 3, {}, "a.b"]'), {
    type: 48,
    request: 3,
    options: {},
    procedure: "a.b",
    args: undefined,
    kwargs: undefined,
    tail: "]",
  });
  // The payload's own text rides along, to go out unchanged to a wamp.2.json callee.
  assert.deepEqual(wampV2Json.decode('[48, 3, {}, "a.b", [1], {"k": 2}]'), {
    type: 48,
    request: 3,
    options: {},
    procedure: "a.b",
    args: [1],
    kwargs: { k: 2 },
    tail: ', [1], {"k": 2}]',
  });
});

function event(args?: unknown[], kwargs?: Record<string, unknown>): Event {
  return { type: 36, subscription: 11, publication: 22, details: {}, args, kwargs, topic: "a.b", frames: [] };
}

Deno.test("wampV2Json encodes EVENT without payload as [36, sub, pub, {}]", () => {
  assert.deepEqual(JSON.parse(wampV2Json.encode(event()) as string), [36, 11, 22, {}]);
  assert.deepEqual(JSON.parse(wampV2Json.encode(event([], {})) as string), [36, 11, 22, {}]);
});

Deno.test("wampV2Json encodes EVENT with args only without a kwargs element", () => {
  assert.deepEqual(JSON.parse(wampV2Json.encode(event(["x"])) as string), [36, 11, 22, {}, ["x"]]);
  assert.deepEqual(JSON.parse(wampV2Json.encode(event(["x"], {})) as string), [36, 11, 22, {}, ["x"]]);
});

Deno.test("wampV2Json encodes EVENT with kwargs only as [36, sub, pub, {}, [], kwargs]", () => {
  assert.deepEqual(JSON.parse(wampV2Json.encode(event(undefined, { k: 1 })) as string), [
    36,
    11,
    22,
    {},
    [],
    { k: 1 },
  ]);
  assert.deepEqual(JSON.parse(wampV2Json.encode(event([], { k: 1 })) as string), [36, 11, 22, {}, [], {
    k: 1,
  }]);
});

Deno.test("wampV2Json omits empty args and kwargs in RESULT, ERROR and INVOCATION", () => {
  const enc = (m: Parameters<typeof wampV2Json.encode>[0]) => JSON.parse(wampV2Json.encode(m) as string);
  assert.deepEqual(enc({ type: 50, request: 4, details: {}, args: [], kwargs: {} }), [50, 4, {}]);
  assert.deepEqual(enc({ type: 50, request: 4, details: {}, args: [6] }), [50, 4, {}, [6]]);
  assert.deepEqual(
    enc({ type: 8, requestType: 48, request: 4, details: {}, error: "a.b", args: [] }),
    [8, 48, 4, {}, "a.b"],
  );
  assert.deepEqual(
    enc({ type: 8, requestType: 48, request: 4, details: {}, error: "a.b", kwargs: { why: "x" } }),
    [8, 48, 4, {}, "a.b", [], { why: "x" }],
  );
  assert.deepEqual(enc({ type: 68, request: 1, registration: 2, details: {} }), [68, 1, 2, {}]);
});

Deno.test("wampV2Json caches an EVENT's frame on the event", () => {
  const ev = event(["cached"]);
  const first = wampV2Json.encodeEvent(ev);
  assert.equal(ev.frames[wampV2Json.slot], first);
  assert.equal(wampV2Json.encodeEvent(ev), first);
});
