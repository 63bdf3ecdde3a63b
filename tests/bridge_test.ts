/**
 * The RabbitMQ bridge against a real broker: every way a message gets into the
 * queue (tools/send.ts over STOMP, an AMQP producer like the tutorial's PHP sender,
 * the management API), rejects, a broker restart, a SIGKILLed server, a graceful
 * shutdown, no broker at all, and Web-STOMP; and tools/send.ts's arguments,
 * permissions and warnings. Each test has its own queue and deletes it (and its
 * `.rejected`) afterwards.
 *
 * The machine's broker is only used, never reconfigured: the broker-restart test
 * restarts a private node of its own (tests/rabbitmq_node.ts). Without RabbitMQ
 * these tests are ignored, with one line saying so (see tests/rabbitmq.ts); with
 * `CI=true` they fail with that line.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startServer } from "../main.ts";
import type { RunningServer } from "../main.ts";
import { AREA_PROCEDURE, createPushApp, type PushAppInstance } from "../push.ts";
import { QueueBridge, type QueueBridgeOptions } from "../src/bridge/queue_bridge.ts";
import { connectV2, eventually, type RawClient, rawV1, rawV2, waitUntil, within } from "./helpers.ts";
import {
  amqpClose,
  type AmqpConfirmChannel,
  amqpConnect,
  type AmqpConnection,
  bridgeTest,
  type BrokerAddress,
  deleteQueue,
  getMessages,
  managementPublish,
  portOpen,
  privateNodeTest,
  publishConfirmed,
  publishNumbered,
  type QueueCounts,
  queueCounts,
  SHARED_BROKER,
  STOMP_PORT,
  STOMP_URL,
  uniqueQueue,
  waitForBroker,
  WEB_STOMP_URL,
  withConfirmChannel,
} from "./rabbitmq.ts";
import { freePort, type PrivateRabbit, startPrivateRabbit } from "./rabbitmq_node.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TOPIC = "push.tutorial.messages";
/** Bound for waits that involve the broker. */
const BROKER_MS = 15_000;

/** What a subscriber receives for one queue message. */
interface BridgeEvent {
  body: string;
  headers: Record<string, string>;
  data?: unknown;
}

/** A subscriber that keeps every event it gets. */
interface Subscriber {
  readonly events: BridgeEvent[];
  close(): Promise<void>;
}

/** {@link eventually} with the broker's bound. */
function brokerEventually(check: () => Promise<boolean>, what: string): Promise<boolean> {
  return eventually(check, what, BROKER_MS, 250);
}

/** A WAMP v2 subscriber (autobahn-browser) on `topic`; `onEvent` runs for each event. */
async function subscribeV2(
  wsUrl: string,
  topic = TOPIC,
  onEvent: (e: BridgeEvent) => void = () => {},
): Promise<Subscriber> {
  const client = await connectV2(wsUrl);
  const events: BridgeEvent[] = [];
  await client.session.subscribe(topic, (args: unknown[]) => {
    const e = args[0] as BridgeEvent;
    events.push(e);
    onEvent(e);
  });
  return { events, close: () => client.close() };
}

/** A raw WAMP v1 subscriber on `topic`. */
async function subscribeV1(wsUrl: string, topic = TOPIC): Promise<Subscriber> {
  const { client } = await rawV1(wsUrl);
  client.send([5, topic]);
  // v1 does not acknowledge SUBSCRIBE; a call answered after it proves it was handled.
  client.send([2, "sync", AREA_PROCEDURE, 1, 1]);
  assert.deepEqual(await client.next("CALLRESULT after SUBSCRIBE"), [3, "sync", 1]);
  return {
    get events() {
      return v1Events(client, topic);
    },
    close: () => client.close(),
  };
}

function v1Events(client: RawClient, topic: string): BridgeEvent[] {
  return client.frames.map((f) => JSON.parse(f)).filter((m) => m[0] === 8 && m[1] === topic).map((m) =>
    m[2] as BridgeEvent
  );
}

/** Everything one in-process bridge test needs. */
interface BridgeContext {
  server: RunningServer;
  bridge: QueueBridge;
  logs: string[];
  /** Subscribers opened with these are closed by the test's cleanup. */
  v2(onEvent?: (e: BridgeEvent) => void): Promise<Subscriber>;
  v1(): Promise<Subscriber>;
}

/**
 * Starts the push server with a bridge on `queue` of `broker` (default: the
 * machine's), waits for the bridge to connect (unless `lateBroker`), runs `fn`, and
 * always closes the clients and the server and, on the shared broker, deletes the
 * queue and its `.rejected` (a private node goes away whole).
 */
async function withBridge(
  queue: string,
  extra: Partial<QueueBridgeOptions>,
  fn: (ctx: BridgeContext) => Promise<void>,
  { lateBroker = false, broker = SHARED_BROKER }: { lateBroker?: boolean; broker?: BrokerAddress } = {},
): Promise<void> {
  const logs: string[] = [];
  const clients: Subscriber[] = [];
  let server: RunningServer | undefined;
  try {
    server = await startServer(
      createPushApp({
        bridge: {
          url: broker.stompUrl,
          queue,
          initialBackoffMs: 100,
          maxBackoffMs: 1000,
          log: (line) => logs.push(line),
          ...extra,
        },
      }),
      { port: 0 },
    );
    const bridge = (server.app as PushAppInstance).bridge;
    assert.ok(bridge, "the push app has a bridge");
    if (!lateBroker) await within(bridge.whenConnected(), "the bridge to connect", BROKER_MS);
    const wsUrl = server.wsUrl;
    await fn({
      server,
      bridge,
      logs,
      async v2(onEvent) {
        const s = await subscribeV2(wsUrl, TOPIC, onEvent);
        clients.push(s);
        return s;
      },
      async v1() {
        const s = await subscribeV1(wsUrl);
        clients.push(s);
        return s;
      },
    });
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await server?.close();
    if (broker === SHARED_BROKER) {
      await deleteQueue(queue);
      await deleteQueue(`${queue}.rejected`);
    }
  }
}

/** What a finished command printed, and its exit code. */
interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs tools/send.ts with every permission; `stdin` is piped in when given. */
function sendTool(args: string[], stdin?: string): Promise<Output> {
  return deno(["run", "-A", "tools/send.ts", ...args], { stdin });
}

/**
 * Runs `deno <denoArgs>` in the repository, without a terminal (standard input is
 * null or a pipe), as CI or a pipe would; `env` is added to this process's.
 */
async function deno(
  denoArgs: string[],
  { stdin, env = {} }: { stdin?: string; env?: Record<string, string> } = {},
): Promise<Output> {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoArgs,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await within(child.output(), `deno ${denoArgs.join(" ")}`, BROKER_MS);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

/** Stack-trace lines ("    at foo (file:...)"). */
function stackLines(text: string): string[] {
  return lines(text).filter((l) => /^\s+at\s/.test(l));
}

function bodies(events: BridgeEvent[]): string[] {
  return events.map((e) => e.body);
}

/** How often each body arrived. */
function tally(events: BridgeEvent[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const e of events) seen.set(e.body, (seen.get(e.body) ?? 0) + 1);
  return seen;
}

function missing(seen: Map<string, number>, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) if (!seen.has(`m${i}`)) out.push(`m${i}`);
  return out;
}

/** Waits until the queue has no unacknowledged messages, then returns its counts. */
async function settledCounts(queue: string): Promise<QueueCounts> {
  let counts: QueueCounts = { ready: -1, unacked: -1, total: -1 };
  await brokerEventually(async () => {
    counts = await queueCounts(queue);
    return counts.unacked === 0;
  }, `no unacked messages in ${queue}`);
  return counts;
}

// ---------------------------------------------------------------------------
// a. tools/send.ts

bridgeTest("bridge: send.ts → v2 and v1 subscribers get {body, headers}", async () => {
  const queue = uniqueQueue("send");
  await withBridge(queue, {}, async ({ v2, v1 }) => {
    const a = await v2();
    const b = await v1();

    const one = await sendTool(["--queue", queue, TOPIC, "hola"]);
    assert.equal(one.code, 0, `send.ts failed: ${one.stderr}`);
    assert.equal(lines(one.stdout).length, 1, `one confirming line, got ${JSON.stringify(one.stdout)}`);
    assert.match(one.stdout, /1 message/);
    await waitUntil(() => a.events.length === 1 && b.events.length === 1, "the event on v2 and v1");
    const [e] = a.events;
    assert.equal(e.body, "hola");
    assert.equal(e.headers.cat, TOPIC);
    assert.equal(e.data, undefined, "no data without a JSON content type");
    assert.deepEqual(b.events[0], e, "v1 gets the same event object as v2's args[0]");

    const three = await sendTool(["--queue", queue, "--count", "3", "--header", "k=v", TOPIC, "tres"]);
    assert.equal(three.code, 0, `send.ts --count failed: ${three.stderr}`);
    assert.equal(lines(three.stdout).length, 1);
    assert.match(three.stdout, /3 messages/);
    await waitUntil(() => a.events.length === 4 && b.events.length === 4, "three more events");
    for (const ev of a.events.slice(1)) {
      assert.equal(ev.body, "tres");
      assert.equal(ev.headers.k, "v", "a --header arrives in the event headers");
      assert.equal(ev.headers.cat, TOPIC);
    }

    const piped = await sendTool(["--queue", queue, TOPIC, "-"], "uno\ndos\n");
    assert.equal(piped.code, 0, `send.ts - failed: ${piped.stderr}`);
    assert.equal(lines(piped.stdout).length, 1);
    await waitUntil(() => a.events.length === 6 && b.events.length === 6, "two events from stdin");
    assert.deepEqual(bodies(a.events).slice(4), ["uno", "dos"]);
    assert.deepEqual(bodies(b.events), bodies(a.events));
  });
});

bridgeTest(
  "bridge: a queue message reaches a prefix subscriber on push.tutorial and a wildcard one on push..messages, once each",
  async () => {
    const queue = uniqueQueue("patterns");
    await withBridge(queue, {}, async ({ server, v1 }) => {
      const client = await connectV2(server.wsUrl);
      try {
        const seen: { via: string; topic: unknown; body: string }[] = [];
        const keep = (via: string) => (args: unknown[], _kw: unknown, details: { topic?: unknown }) => {
          seen.push({ via, topic: details.topic, body: (args[0] as BridgeEvent).body });
        };
        await client.session.subscribe("push.tutorial", keep("prefix"), { match: "prefix" });
        await client.session.subscribe("push..messages", keep("wildcard"), { match: "wildcard" });
        await client.session.subscribe("push..other", keep("unrelated"), { match: "wildcard" });
        const old = await v1();

        const sent = await sendTool(["--queue", queue, TOPIC, "hola"]);
        assert.equal(sent.code, 0, `send.ts failed: ${sent.stderr}`);
        await waitUntil(
          () => seen.length >= 2 && old.events.length === 1,
          "the event on both patterns and v1",
        );
        // A second message is the barrier: had the first reached anyone twice, it would show by now.
        await sendTool(["--queue", queue, TOPIC, "adios"]);
        await waitUntil(() => seen.length >= 4 && old.events.length === 2, "the second message");
        assert.deepEqual(seen.toSorted((a, b) => (a.body + a.via).localeCompare(b.body + b.via)), [
          { via: "prefix", topic: TOPIC, body: "adios" },
          { via: "wildcard", topic: TOPIC, body: "adios" },
          { via: "prefix", topic: TOPIC, body: "hola" },
          { via: "wildcard", topic: TOPIC, body: "hola" },
        ]);
        assert.deepEqual(bodies(old.events), ["hola", "adios"], "the v1 subscriber, exact as before");
      } finally {
        await client.close();
      }
    });
  },
);

// Needs no broker: runs everywhere.
Deno.test("send.ts: wrong arguments → usage on stderr, exit 2", async () => {
  for (const args of [["only-cat"], [], ["--count", "0", TOPIC, "x"], ["--nope", TOPIC, "x"]]) {
    const r = await sendTool(args);
    assert.equal(r.code, 2, `send.ts ${args.join(" ")}: exit ${r.code}`);
    assert.match(r.stderr, /Usage:/, `usage on stderr for ${args.join(" ")}`);
    assert.equal(r.stdout, "");
    assert.deepEqual(stackLines(r.stderr), []);
  }
});

// Needs no broker: runs everywhere.
Deno.test("send.ts: broker unreachable → one line on stderr, exit 1, no stack trace", async () => {
  const queue = uniqueQueue("unreach");
  const r = await sendTool(["--stomp", "stomp://127.0.0.1:1", "--queue", queue, TOPIC, "x"]);
  assert.equal(r.code, 1, `exit code; stderr ${r.stderr}`);
  assert.equal(r.stdout, "");
  assert.equal(lines(r.stderr).length, 1, `one line on stderr, got ${JSON.stringify(r.stderr)}`);
  assert.deepEqual(stackLines(r.stderr), []);
  assert.match(r.stderr, /127\.0\.0\.1:1/);
});

// Needs no broker: runs everywhere.
Deno.test(
  "send.ts without a terminal and without --allow-net → ONE line naming --allow-net and a working command, exit 1",
  async () => {
    const args = [TOPIC, "hola"];
    const working = [`deno task send ${TOPIC} hola`, `deno run -A tools/send.ts ${TOPIC} hola`];
    for (
      const [flags, how] of [
        [[], /is not granted and there is no terminal to ask on/], // exactly `deno run tools/send.ts …`
        [["--allow-env"], /is not granted/],
        [["--allow-net=example.com"], /is not granted/],
        [["--deny-net"], /was denied/],
      ] as const
    ) {
      const r = await deno(["run", ...flags, "tools/send.ts", ...args]);
      const what = `deno run ${flags.join(" ")} tools/send.ts: ${JSON.stringify(r)}`;
      assert.equal(r.code, 1, what);
      assert.equal(r.stdout, "", what);
      assert.equal(lines(r.stderr).length, 1, `one line on stderr: ${what}`);
      assert.match(r.stderr, /^send: network access to 127\.0\.0\.1:61613 /, what);
      assert.match(r.stderr, how, what);
      assert.match(r.stderr, /--allow-net/, what);
      for (const cmd of working) assert.ok(r.stderr.includes(cmd), `names \`${cmd}\`: ${what}`);
      assert.doesNotMatch(r.stderr, /Usage:/, what);
    }
    // A message from standard input (a pipe: no terminal either) is no different.
    const piped = await deno(["run", "tools/send.ts", TOPIC, "-"], { stdin: "uno\n" });
    assert.equal(piped.code, 1, JSON.stringify(piped));
    assert.equal(lines(piped.stderr).length, 1, JSON.stringify(piped));
    assert.ok(piped.stderr.includes(`deno task send ${TOPIC} -`), JSON.stringify(piped));
    // Arguments with spaces or quotes come back as shell words that work when pasted.
    const quoted = await deno(["run", "tools/send.ts", TOPIC, "it's here"]);
    assert.ok(quoted.stderr.includes(`deno task send ${TOPIC} 'it'\\''s here'`), JSON.stringify(quoted));
    // Wrong arguments are still a usage error (exit 2), not a permission error.
    const wrong = await deno(["run", "tools/send.ts", "only-cat"]);
    assert.equal(wrong.code, 2, JSON.stringify(wrong));
    assert.match(wrong.stderr, /Usage:/);
  },
);

// Needs no broker: runs everywhere.
Deno.test("send.ts reads STOMP_URL only when --allow-env grants it", async () => {
  const env = { STOMP_URL: "stomp://guest:guest@127.0.0.1:1" };
  const granted = await deno(
    ["run", "--allow-net", "--allow-env", "tools/send.ts", "--queue", uniqueQueue("env"), TOPIC, "x"],
    { env },
  );
  assert.equal(granted.code, 1, JSON.stringify(granted));
  assert.match(granted.stderr, /127\.0\.0\.1:1\b/, "the granted STOMP_URL is used");
  // Granted for another variable only: STOMP_URL is not read, nobody is asked, the default applies
  // (network access to the default broker is what fails here).
  const other = await deno(["run", "--allow-env=HOME", "tools/send.ts", TOPIC, "x"], { env });
  assert.equal(other.code, 1, JSON.stringify(other));
  assert.match(other.stderr, /network access to 127\.0\.0\.1:61613 /, JSON.stringify(other));
});

bridgeTest(
  "send.ts with network access only (no --allow-env) → sends with the defaults, no prompt, no warning",
  async () => {
    const queue = uniqueQueue("noenv");
    try {
      // STOMP_URL points nowhere: were it read without --allow-env, the send would fail.
      const r = await deno(
        ["run", "--allow-net=127.0.0.1:61613", "tools/send.ts", "--queue", queue, TOPIC, "hola"],
        { env: { STOMP_URL: "stomp://guest:guest@127.0.0.1:1" } },
      );
      assert.equal(r.code, 0, JSON.stringify(r));
      assert.equal(r.stderr, "", "nothing on stderr");
      assert.equal(lines(r.stdout).length, 1);
      assert.match(
        r.stdout,
        /sent 1 message to queue .* \(confirmed by stomp:\/\/guest@127\.0\.0\.1:61613\)/,
      );
      // `deno task send` works as the README says, and passes the arguments through.
      const task = await deno(["task", "send", "--queue", queue, TOPIC, "adiós amigo"]);
      assert.equal(task.code, 0, JSON.stringify(task));
      assert.equal(lines(task.stdout).filter((l) => l.startsWith("sent ")).length, 1, JSON.stringify(task));
      // Both were confirmed before send.ts exited: a short window shows there is no third.
      const got = await getMessages(queue, 3, 300);
      assert.deepEqual(got.map((m) => [m.body, m.headers.cat]), [["hola", TOPIC], ["adiós amigo", TOPIC]]);
    } finally {
      await deleteQueue(queue);
    }
  },
);

bridgeTest(
  "send.ts: a cat the router refuses → one warning line, sent anyway, and the bridge moves it to .rejected",
  async () => {
    const queue = uniqueQueue("badcat");
    await withBridge(queue, {}, async ({ bridge }) => {
      for (
        const [cat, why] of [
          ["bad topic", /cat "bad topic" is not a valid WAMP topic URI/],
          ["push..messages", /cat "push\.\.messages" is not a valid WAMP topic URI/],
          ["wamp.session.on_join", /cat "wamp\.session\.on_join" is in the reserved wamp\. namespace/],
        ] as const
      ) {
        const r = await sendTool(["--queue", queue, cat, "x"]);
        assert.equal(r.code, 0, JSON.stringify(r));
        assert.equal(lines(r.stderr).length, 1, `one warning line: ${JSON.stringify(r)}`);
        assert.match(r.stderr, /^send: warning: /);
        assert.match(r.stderr, why);
        assert.ok(r.stderr.includes(`${queue}.rejected`), r.stderr);
        assert.equal(lines(r.stdout).length, 1, "still the confirming line");
      }
      await waitUntil(() => bridge.stats.rejected === 3, "the three rejects", BROKER_MS);
      const copies = await getMessages(`${queue}.rejected`, 4, 300);
      assert.deepEqual(copies.map((m) => m.headers.cat), [
        "bad topic",
        "push..messages",
        "wamp.session.on_join",
      ]);
      const good = await sendTool(["--queue", queue, TOPIC, "x"]);
      assert.equal(good.stderr, "", "no warning for a usable cat");
    });
  },
);

// ---------------------------------------------------------------------------
// b. An AMQP producer, as the tutorial's PHP sender

bridgeTest("bridge: AMQP producer (amqplib, like the PHP sender) → subscribers; JSON → data", async () => {
  const queue = uniqueQueue("amqp");
  await withBridge(queue, {}, async ({ v2, v1 }) => {
    const a = await v2();
    const b = await v1();
    await withConfirmChannel(async (ch) => {
      // The PHP sender's queue_declare: durable, not exclusive, not auto-delete, no arguments.
      // Against the queue the bridge declared, a mismatch fails with PRECONDITION_FAILED.
      const info = await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
      assert.equal(info.consumerCount, 1, "the bridge consumes the queue");
      await publishConfirmed(ch, queue, "desde amqp", {
        headers: { cat: TOPIC, origen: "php" },
        deliveryMode: 2,
      });
      await waitUntil(() => a.events.length === 1 && b.events.length === 1, "the AMQP message as events");
      assert.equal(a.events[0].body, "desde amqp");
      assert.equal(a.events[0].headers.cat, TOPIC);
      assert.equal(a.events[0].headers.origen, "php");
      assert.equal(a.events[0].data, undefined);
      assert.deepEqual(b.events[0], a.events[0]);

      const value = { saludo: "hola", n: 3, lista: [true, null, 1.5], anidado: { x: "ñ" } };
      await publishConfirmed(ch, queue, JSON.stringify(value), {
        headers: { cat: TOPIC },
        contentType: "application/json",
      });
      await waitUntil(() => a.events.length === 2 && b.events.length === 2, "the JSON message as events");
      assert.deepEqual(a.events[1].data, value, "the parsed body is under data");
      assert.equal(a.events[1].body, JSON.stringify(value));
      assert.equal(a.events[1].headers["content-type"], "application/json");
      assert.deepEqual(b.events[1], a.events[1]);
    });
  });
});

// ---------------------------------------------------------------------------
// c. The management HTTP API

bridgeTest("bridge: management API publish with a cat header → subscribers", async () => {
  const queue = uniqueQueue("mgmt");
  await withBridge(queue, {}, async ({ v2, v1 }) => {
    const a = await v2();
    const b = await v1();
    const res = await managementPublish(queue, "from mgmt", { cat: TOPIC });
    assert.equal(res.routed, true, "the management API routed the message to the queue");
    await waitUntil(() => a.events.length === 1 && b.events.length === 1, "the management message");
    assert.equal(a.events[0].body, "from mgmt");
    assert.equal(a.events[0].headers.cat, TOPIC);
    assert.deepEqual(b.events[0], a.events[0]);
  });
});

// ---------------------------------------------------------------------------
// d. Rejects

bridgeTest(
  "bridge: unroutable messages go to <queue>.rejected with the reason; none left unacked",
  async () => {
    const queue = uniqueQueue("reject");
    const rejected = `${queue}.rejected`;
    await withBridge(queue, { maxBodySize: 64 }, async ({ bridge, logs, v2 }) => {
      const a = await v2();
      const big = "x".repeat(200);
      const cases: {
        id: string;
        body: string;
        headers: Record<string, string>;
        contentType?: string;
        why: RegExp;
      }[] = [
        { id: "nocat", body: "sin cat", headers: {}, why: /no cat/ },
        { id: "space", body: "espacio", headers: { cat: "bad topic" }, why: /"bad topic".*not a valid/ },
        {
          id: "reserved",
          body: "reservado",
          headers: { cat: "wamp.reserved" },
          why: /"wamp\.reserved".*not a valid/,
        },
        { id: "big", body: big, headers: { cat: TOPIC }, why: /200 bytes.*limit of 64/ },
        {
          id: "badjson",
          body: "{not json",
          headers: { cat: TOPIC },
          contentType: "application/json",
          why: /not valid JSON/,
        },
      ];
      await withConfirmChannel(async (ch) => {
        for (const c of cases) {
          await publishConfirmed(ch, queue, c.body, {
            headers: { ...c.headers, "x-case": c.id },
            ...(c.contentType ? { contentType: c.contentType } : {}),
          });
        }
        // A good one after the bad ones: the bridge goes on routing.
        await publishConfirmed(ch, queue, "ok", { headers: { cat: TOPIC } });
      });

      await waitUntil(
        () => bridge.stats.rejected === cases.length && a.events.length === 1,
        "rejects and the good one",
      );
      assert.deepEqual(bodies(a.events), ["ok"], "only the good message is published");
      assert.equal(bridge.stats.routed, 1);
      const rejectLines = logs.filter((l) => l.includes(rejected) && /moved/.test(l));
      assert.equal(rejectLines.length, cases.length, `reject log lines: ${JSON.stringify(logs)}`);

      // Nothing left in the main queue, nothing unacked, while the bridge is still connected.
      let counts: QueueCounts = { ready: -1, unacked: -1, total: -1 };
      await brokerEventually(async () => {
        counts = await queueCounts(queue);
        return counts.total === 0;
      }, `the main queue to be empty and acked (last ${JSON.stringify(counts)})`).catch((e) => {
        throw new Error(`${e.message}; last counts ${JSON.stringify(counts)}`);
      });

      const got = await getMessages(rejected, cases.length + 1, 1_000);
      assert.equal(got.length, cases.length, `rejected queue holds exactly the ${cases.length} rejects`);
      for (const c of cases) {
        const m = got.find((g) => g.headers["x-case"] === c.id);
        assert.ok(m, `reject ${c.id} is in ${rejected}`);
        const reason = String(m.headers["x-reject-reason"]);
        assert.match(reason, c.why, `reason for ${c.id}: ${reason}`);
        assert.ok(logs.some((l) => l.includes(reason)), `the log names the reason for ${c.id}`);
        assert.equal(m.body, c.body, `the original body of ${c.id}`);
        for (const [k, v] of Object.entries(c.headers)) {
          assert.equal(m.headers[k], v, `header ${k} of ${c.id}`);
        }
        if (c.id === "nocat") {
          assert.equal(m.headers.cat, undefined);
        }
        if (c.contentType) assert.equal(m.properties.contentType, c.contentType, `content type of ${c.id}`);
      }
    });
  },
);

// ---------------------------------------------------------------------------
// e. Broker restart in the middle of a stream

privateNodeTest(
  "bridge: broker restart mid-stream (a private RabbitMQ node) → every message at least once, bridge reconnects",
  async () => {
    // Restarting the machine's broker would break everyone else using it: this test
    // starts a node of its own (own name, ports, data), restarts that, and stops it.
    const node = await startPrivateRabbit();
    try {
      console.log(`  private RabbitMQ node ${node.nodeName} up in ${node.startSeconds.toFixed(1)} s`);
      await restartMidStream(node);
    } finally {
      await node.stop();
    }
  },
);

/** Streams N numbered messages through a bridge on `node` while the node's app is stopped and started. */
async function restartMidStream(node: PrivateRabbit): Promise<void> {
  const queue = uniqueQueue("restart");
  const N = 200;
  await withBridge(queue, {}, async ({ server, bridge, logs, v2 }) => {
    const a = await v2();
    /** The bridge's state as /healthz reports it, and /readyz's status. */
    const health = async () => {
      const h = await (await within(fetch(`${server.url}healthz`), "GET /healthz")).json();
      const r = await within(fetch(`${server.url}readyz`), "GET /readyz");
      await r.body?.cancel();
      return { bridge: h.bridge.state as string, ready: r.status };
    };
    assert.deepEqual(await health(), { bridge: "connected", ready: 200 });
    let produced = 0;
    let publishRetries = 0;
    let quit = false;
    // The producer: numbered messages, each confirmed by the broker, paced so the stream
    // spans the restart; a publish that fails (broker going or gone) is retried on a new connection.
    const producerDone = (async () => {
      let conn: AmqpConnection | null = null;
      let ch: AmqpConfirmChannel | null = null;
      const deadline = Date.now() + 60_000;
      try {
        while (produced < N && !quit) {
          try {
            if (ch === null) {
              conn = (await within(amqpConnect(node.amqpUrl), "an AMQP connection", 5_000)).conn;
              ch = await conn.createConfirmChannel();
              ch.on("error", () => {});
            }
            await within(
              publishConfirmed(ch, queue, `m${produced}`, { headers: { cat: TOPIC } }),
              "a publisher confirm",
              5_000,
            );
            produced++;
            await new Promise((r) => setTimeout(r, 10));
          } catch {
            publishRetries++;
            if (conn !== null) await amqpClose(conn);
            conn = null;
            ch = null;
            if (Date.now() > deadline) throw new Error(`the producer gave up at m${produced}`);
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      } finally {
        if (conn !== null) await amqpClose(conn);
      }
    })();

    let producedBeforeStart = -1;
    try {
      await waitUntil(() => a.events.length >= 30, "the stream to be flowing", BROKER_MS);
      await node.stopApp();
      await brokerEventually(async () => !await portOpen(node.stompPort), "the STOMP port to close");
      // The outage shows in /healthz; /readyz stays 200 (the bridge subscribed once: it reconnects by itself).
      await brokerEventually(async () => (await health()).bridge === "waiting", "/healthz to say waiting");
      assert.equal((await health()).ready, 200);
      producedBeforeStart = produced;
      await node.startApp();
      const down = await waitForBroker(60_000, node);
      assert.equal(down, null, `the broker is back: ${down}`);
      await brokerEventually(
        async () => (await health()).bridge === "connected",
        "/healthz to say connected again",
      );
      await within(producerDone, "the producer to finish", 60_000);
    } finally {
      // Whatever failed, the producer stops; the node is stopped by the caller.
      quit = true;
      await producerDone.catch(() => {});
    }

    await waitUntil(() => missing(tally(a.events), N).length === 0, "every message after the restart", 60_000)
      .catch((e) => {
        throw new Error(`${e.message}; missing ${missing(tally(a.events), N).join(",")}`);
      });
    const dups = [...tally(a.events)].filter(([, n]) => n > 1);
    const redelivered = a.events.filter((e) => e.headers.redelivered === "true").length;
    console.log(
      `  restart: ${N} messages, ${a.events.length} events, ${dups.length} duplicated (${
        dups.map(([b, n]) => `${b}×${n}`).join(" ")
      }), ${redelivered} flagged redelivered, ${publishRetries} publish retries, ` +
        `${producedBeforeStart} produced before start_app, ${bridge.stats.connections} bridge connections`,
    );
    assert.ok(
      bridge.stats.connections >= 2,
      `the bridge reconnected (connections ${bridge.stats.connections})`,
    );
    assert.ok(logs.some((l) => /lost the connection/.test(l)), `a "lost" log line: ${JSON.stringify(logs)}`);
    assert.ok(logs.some((l) => /reconnected/.test(l)), `a "reconnected" log line: ${JSON.stringify(logs)}`);
    assert.ok(bridge.connected);
  }, { broker: node });
}

// ---------------------------------------------------------------------------
// f. SIGKILL with messages in flight

bridgeTest("bridge: server SIGKILLed mid-stream → after a restart every message delivered", async () => {
  const queue = uniqueQueue("kill");
  const N = 1000;
  const KILL_AT = 50;
  const first: BridgeEvent[] = [];
  const second: BridgeEvent[] = [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "push.ts", "--port", "0", "--queue", queue],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderrText = new Response(child.stderr).text();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  let server2: RunningServer | undefined;
  let bridge2: QueueBridge | undefined;
  const clients: Subscriber[] = [];
  try {
    let out = "";
    const port = await within(
      (async () => {
        while (true) {
          const m = out.match(/open http:\/\/127\.0\.0\.1:(\d+)\//);
          if (m) return Number(m[1]);
          const { value, done } = await stdout.read();
          if (done) throw new Error(`the server exited: ${out}`);
          out += value;
        }
      })(),
      "the server's URL line",
      BROKER_MS,
    );
    assert.match(lines(out)[0], /open http:/, `the page line first: ${JSON.stringify(out)}`);

    const a = await subscribeV2(`ws://127.0.0.1:${port}/ws`, TOPIC, (e) => {
      first.push(e);
      if (first.length === KILL_AT) kill();
    });
    clients.push(a);
    await withConfirmChannel(async (ch) => {
      await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
      await publishNumbered(ch, queue, N, TOPIC);
    });
    await waitUntil(() => killed, "the kill", BROKER_MS);
    const status = await within(child.status, "the killed server to exit", BROKER_MS);
    assert.equal(status.signal, "SIGKILL");
    const firstCount = first.length;

    // A second server, without the bridge, so its subscriber exists before consumption resumes.
    server2 = await startServer(createPushApp({ bridge: false }), { port: 0 });
    const b = await subscribeV2(server2.wsUrl, TOPIC, (e) => second.push(e));
    clients.push(b);
    const logs: string[] = [];
    bridge2 = new QueueBridge(server2.router, {
      url: STOMP_URL,
      queue,
      initialBackoffMs: 100,
      maxBackoffMs: 1000,
      log: (l) => logs.push(l),
    });
    bridge2.start();
    const all = () => tally([...first, ...second]);
    await waitUntil(() => missing(all(), N).length === 0, "every message across both servers", 30_000).catch(
      (e) => {
        throw new Error(
          `${e.message}; missing ${missing(all(), N).length}: ${missing(all(), N).slice(0, 20)}`,
        );
      },
    );
    const firstSeen = tally(first);
    const overlap = second.filter((e) => firstSeen.has(e.body));
    const total = first.length + second.length;
    const redeliveredFlags = second.filter((e) => e.headers.redelivered === "true").length;
    console.log(
      `  SIGKILL: ${N} messages; before the kill ${firstCount} events (${first.length} in all), after ` +
        `${second.length}; ${total - N} duplicates, ${overlap.length} seen on both servers, ` +
        `${redeliveredFlags} flagged redelivered`,
    );
    assert.ok(firstCount < N, "the kill came mid-stream");
    for (const e of overlap) {
      assert.equal(e.headers.redelivered, "true", `${e.body} arrived again without redelivered: "true"`);
    }
    assert.equal(bridge2.stats.redelivered, redeliveredFlags);
    await bridge2.stop();
    const counts = await settledCounts(queue);
    assert.equal(counts.ready, 0, "the queue is empty once everything was delivered");
  } finally {
    kill();
    await child.status;
    while (!(await stdout.read()).done) { /* drain */ }
    await stderrText;
    for (const c of clients) await c.close().catch(() => {});
    await bridge2?.stop();
    await server2?.close();
    await deleteQueue(queue);
    await deleteQueue(`${queue}.rejected`);
  }
});

// ---------------------------------------------------------------------------
// g. Graceful shutdown

bridgeTest("bridge: graceful shutdown acks what was routed and leaves the rest in the queue", async () => {
  // Deterministic: prefetch 1, and close() starts inside the subscriber's handler for
  // event CLOSE_AT, when that message has been routed but its ACK (sent on the next
  // turn) is still pending. After close: received + ready must be exactly N (nothing
  // lost, nothing routed left unacked), and nothing unacked.
  const queue = uniqueQueue("graceful");
  const N = 500;
  const CLOSE_AT = 50;
  let closing: Promise<void> | undefined;
  let routedAtClose = -1;
  await withBridge(queue, { prefetch: 1 }, async ({ server, bridge, v2 }) => {
    let received = 0;
    const a = await v2(() => {
      if (++received === CLOSE_AT) {
        routedAtClose = bridge.stats.routed;
        closing = server.close();
      }
    });
    await withConfirmChannel(async (ch) => {
      await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
      await publishNumbered(ch, queue, N, TOPIC);
    });
    await waitUntil(() => closing !== undefined, "the close to start", BROKER_MS);
    await within(closing!, "server.close()", BROKER_MS);
    const counts = await settledCounts(queue);
    const seen = tally(a.events);
    const dups = a.events.length - seen.size;
    console.log(
      `  graceful: ${N} sent; ${seen.size} received (${dups} duplicates); routed ${bridge.stats.routed} ` +
        `(${routedAtClose} when close() began); ${counts.ready} ready, ${counts.unacked} unacked after close`,
    );
    assert.equal(counts.unacked, 0);
    assert.ok(
      counts.ready + seen.size >= N,
      `lost messages: ${N - counts.ready - seen.size} were acked but no subscriber got them ` +
        `(routed ${bridge.stats.routed}, received ${seen.size}, left ${counts.ready})`,
    );
    if (counts.ready + seen.size > N) {
      // Which received messages are still in the queue (routed but never acked)?
      const left = await getMessages(queue, counts.ready, 2_000);
      const routedButLeft = left.map((m) => m.body).filter((b) => seen.has(b));
      assert.fail(
        `${routedButLeft.length} message(s) reached the subscriber but were not acked and are still ` +
          `in the queue: ${routedButLeft.join(", ")} (last received: ${a.events.at(-1)?.body})`,
      );
    }
    assert.equal(bridge.stats.routed, seen.size, "everything routed reached the subscriber");
    assert.equal(dups, 0);
  });
});

bridgeTest(
  "bridge: graceful shutdown consumes nothing once subscribers are told goodbye (slow peer)",
  async () => {
    // server.close() says GOODBYE to every session (they leave the realm at once) and
    // waits up to a grace period for peers that do not answer. Messages the bridge
    // consumed in that time have no subscriber left: they must stay in the queue,
    // not be acked into an empty realm.
    const queue = uniqueQueue("graceful_slow");
    const N = 2000;
    const CLOSE_AT = 50;
    let closing: Promise<void> | undefined;
    await withBridge(queue, {}, async ({ server, bridge, v2 }) => {
      let received = 0;
      const a = await v2(() => {
        if (++received === CLOSE_AT) closing = server.close();
      });
      // A v2 peer that never answers GOODBYE: the router waits its grace period for it.
      const { client: silent } = await rawV2(server.wsUrl);
      try {
        await withConfirmChannel(async (ch) => {
          await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
          await publishNumbered(ch, queue, N, TOPIC);
        });
        await waitUntil(() => closing !== undefined, "the close to start", BROKER_MS);
        await within(closing!, "server.close()", BROKER_MS);
      } finally {
        await silent.close();
      }
      const counts = await settledCounts(queue);
      const seen = tally(a.events);
      console.log(
        `  graceful, slow peer: ${N} sent; ${seen.size} received; routed ${bridge.stats.routed}; ` +
          `${counts.ready} ready after close`,
      );
      assert.ok(
        counts.ready + seen.size >= N,
        `${N - counts.ready - seen.size} message(s) were acked during shutdown although no subscriber ` +
          `got them (routed ${bridge.stats.routed}, received ${seen.size}, left in the queue ${counts.ready})`,
      );
    });
  },
);

// ---------------------------------------------------------------------------
// h. No broker

/** What a {@link stompRelay} may do with the STOMP frames it carries. */
interface RelayTap {
  /** Sees each frame the bridge sends to the broker. */
  fromBridge?(frame: string): void;
  /** Frames from the broker for which this is true are held back until `release()`. */
  hold?(frame: string): boolean;
}

/** A relay from 127.0.0.1:`port` to the broker's STOMP port; with a tap it works frame by frame. */
interface StompRelay {
  /** Stops holding and forwards what was held, in order. */
  release(): Promise<void>;
  held: number;
  close(): Promise<void>;
}

function stompRelay(port: number, tap?: RelayTap): StompRelay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const held: { to: Deno.Conn; bytes: Uint8Array }[] = [];
  let holding = tap?.hold !== undefined;
  const writeAll = async (to: Deno.Conn, bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) off += await to.write(bytes.subarray(off));
  };
  // STOMP frames end with NUL; what precedes a frame's command may be heart-beat EOLs.
  const frames = (pending: Uint8Array): [Uint8Array[], Uint8Array] => {
    const out: Uint8Array[] = [];
    let start = 0;
    for (let i = pending.indexOf(0); i !== -1; i = pending.indexOf(0, start)) {
      out.push(pending.slice(start, i + 1));
      start = i + 1;
    }
    return [out, pending.slice(start)];
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, toBroker: boolean) => {
    const buf = new Uint8Array(16 * 1024);
    const dec = new TextDecoder();
    let pending: Uint8Array = new Uint8Array(0);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        if (tap === undefined) {
          await writeAll(to, buf.subarray(0, n));
          continue;
        }
        const joined = new Uint8Array(pending.length + n);
        joined.set(pending);
        joined.set(buf.subarray(0, n), pending.length);
        const [whole, rest] = frames(joined);
        pending = rest;
        for (const f of whole) {
          const text = dec.decode(f).replace(/^[\r\n]+/, "");
          if (toBroker) tap.fromBridge?.(text);
          if (!toBroker && holding && tap.hold?.(text)) held.push({ to, bytes: f });
          else await writeAll(to, f);
        }
      }
    } catch {
      // either side closed
    }
    for (const c of [from, to]) {
      if (conns.delete(c)) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const inbound of listener) {
        const outbound = await Deno.connect({ hostname: "127.0.0.1", port: STOMP_PORT });
        conns.add(inbound);
        conns.add(outbound);
        tasks.push(pump(inbound, outbound, true), pump(outbound, inbound, false));
      }
    } catch {
      // listener closed
    }
  })();
  return {
    get held() {
      return held.length;
    },
    async release() {
      holding = false;
      for (const h of held.splice(0)) await writeAll(h.to, h.bytes);
    },
    async close() {
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
      conns.clear();
      await Promise.all(tasks);
    },
  };
}

bridgeTest(
  "bridge: a cumulative ACK never covers a reject whose copy RabbitMQ has not confirmed",
  async () => {
    const queue = uniqueQueue("ackorder");
    const port = freePort();
    const acks: string[] = [];
    // Holds RabbitMQ's RECEIPT for the reject copy: until it arrives, the bad message must stay unacked,
    // and with it everything delivered after it (an ACK in `client` mode covers all earlier deliveries).
    const relay = stompRelay(port, {
      fromBridge: (f) => {
        if (f.startsWith("ACK\n")) acks.push(f);
      },
      hold: (f) => f.startsWith("RECEIPT\n") && /receipt-id:reject-/.test(f),
    });
    try {
      await withBridge(queue, { url: `stomp://guest:guest@127.0.0.1:${port}` }, async ({ bridge, v2 }) => {
        const a = await v2();
        const GOOD = 5;
        await withConfirmChannel(async (ch) => {
          await publishConfirmed(ch, queue, "sin cat", { headers: {} });
          for (let i = 0; i < GOOD; i++) {
            await publishConfirmed(ch, queue, `m${i}`, { headers: { cat: TOPIC } });
          }
        });
        await waitUntil(
          () => a.events.length === GOOD && relay.held === 1,
          "the good ones routed, the receipt held",
        );
        assert.equal(bridge.stats.routed, GOOD);
        // The ACK of the routed ones would leave on the next turn; give a wrong bridge ample time to send it.
        const until = Date.now() + 300;
        await waitUntil(() => acks.length > 0 || Date.now() >= until, "a window for a premature ACK", 2_000);
        assert.deepEqual(acks, [], "no ACK while the reject's copy is unconfirmed");
        assert.deepEqual(await queueCounts(queue), { ready: 0, unacked: GOOD + 1, total: GOOD + 1 });

        await relay.release();
        await waitUntil(() => bridge.stats.rejected === 1 && acks.length > 0, "the reject settled and acked");
        assert.equal(acks.length, 1, `one cumulative ACK for all ${GOOD + 1}: ${JSON.stringify(acks)}`);
        assert.deepEqual(await settledCounts(queue), { ready: 0, unacked: 0, total: 0 });
        const copies = await getMessages(`${queue}.rejected`, 2, 1_000);
        assert.deepEqual(copies.map((m) => m.body), ["sin cat"]);
      });
    } finally {
      await relay.close();
    }
  },
);

// Needs no broker: runs everywhere.
Deno.test("bridge: no broker → the server serves and logs ONE waiting line however many retries", async () => {
  const logs: string[] = [];
  const server = await startServer(
    createPushApp({
      bridge: {
        url: "stomp://guest:guest@127.0.0.1:1",
        queue: uniqueQueue("nobroker"),
        initialBackoffMs: 100,
        maxBackoffMs: 100,
        log: (line) => logs.push(line),
      },
    }),
    { port: 0 },
  );
  try {
    const bridge = (server.app as PushAppInstance).bridge!;
    const c = await connectV2(server.wsUrl);
    try {
      assert.equal(await c.session.call(AREA_PROCEDURE, [3, 4]), 12);
    } finally {
      await c.close();
    }
    const waiting = () => logs.filter((l) => /waiting for RabbitMQ/i.test(l)).length;
    await waitUntil(() => waiting() >= 1, "the waiting line");
    // At most 100 ms between attempts: 1 s is 10 or more retries. Poll that nothing else is logged.
    const until = Date.now() + 1_000;
    await waitUntil(() => logs.length > 1 || Date.now() >= until, "1 s of retries", 3_000);
    assert.equal(logs.length, 1, `exactly one log line: ${JSON.stringify(logs)}`);
    assert.match(logs[0], /127\.0\.0\.1:1/);
    assert.doesNotMatch(logs[0], /guest:guest/, "no password in the log");
    assert.equal(bridge.stats.connections, 0);
    assert.equal(bridge.connected, false);
  } finally {
    await server.close();
  }
  assert.equal(logs.length, 1, `nothing more logged on close: ${JSON.stringify(logs)}`);
});

bridgeTest("bridge: the broker appears later → the bridge connects by itself", async () => {
  const queue = uniqueQueue("appears");
  const port = freePort();
  let relay: StompRelay | undefined;
  try {
    await withBridge(
      queue,
      { url: `stomp://guest:guest@127.0.0.1:${port}`, initialBackoffMs: 100, maxBackoffMs: 100 },
      async ({ bridge, logs, v2 }) => {
        const a = await v2();
        await waitUntil(() => logs.some((l) => /waiting for RabbitMQ/i.test(l)), "the waiting line");
        assert.equal(bridge.connected, false);
        // The broker "appears" at that address: a relay to the real STOMP port.
        relay = stompRelay(port);
        await within(bridge.whenConnected(), "the bridge to connect once the broker appears", BROKER_MS);
        await withConfirmChannel((ch) =>
          publishConfirmed(ch, queue, "apareció", { headers: { cat: TOPIC } })
        );
        await waitUntil(() => a.events.length === 1, "the event through the late broker");
        assert.equal(a.events[0].body, "apareció");
        assert.equal(logs.filter((l) => /waiting for RabbitMQ/i.test(l)).length, 1, JSON.stringify(logs));
        assert.ok(logs.some((l) => /consuming queue/.test(l)), JSON.stringify(logs));
      },
      { lateBroker: true },
    );
  } finally {
    await relay?.close();
  }
});

// Needs no broker: runs everywhere.
Deno.test(
  "push.ts without a broker: serves, ONE bridge line on stderr while retrying, exits cleanly on SIGTERM",
  async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "push.ts", "--port", "0", "--stomp", "stomp://guest:guest@127.0.0.1:1"],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const stderrDone = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
    })();
    let stdout = "";
    const stdoutDone = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) stdout += chunk;
    })();
    let exited = false;
    try {
      await waitUntil(() => /open http:\/\/127\.0\.0\.1:\d+\//.test(stdout), "the URL line", BROKER_MS);
      const port = Number(stdout.match(/127\.0\.0\.1:(\d+)\//)![1]);
      const c = await connectV2(`ws://127.0.0.1:${port}/ws`);
      try {
        assert.equal(await c.session.call(AREA_PROCEDURE, [2, 5]), 10);
      } finally {
        await c.close();
      }
      // stderr is the server's log (start-up, sessions, the bridge); the bridge's part is what counts here.
      const bridgeLines = () => lines(stderr).filter((l) => /\bbridge: /.test(l));
      await waitUntil(() => bridgeLines().length >= 1, "the waiting line on stderr", BROKER_MS);
      // The default backoff starts at 500 ms: 2.5 s more is a few retries. The bridge may log nothing else.
      const until = Date.now() + 2_500;
      await waitUntil(() => bridgeLines().length > 1 || Date.now() >= until, "2.5 s of retries", 5_000);
      assert.equal(bridgeLines().length, 1, `exactly one bridge line: ${JSON.stringify(stderr)}`);
      assert.match(bridgeLines()[0], /waiting for RabbitMQ/i);
      assert.deepEqual(stackLines(stderr), [], "no stack trace");
      assert.match(lines(stdout)[0], /open http:/, `the page line first: ${JSON.stringify(stdout)}`);
      child.kill("SIGTERM");
      const status = await within(child.status, "the server to exit on SIGTERM", BROKER_MS);
      exited = true;
      assert.equal(status.code, 0, `exit code after SIGTERM; stderr ${stderr}`);
    } finally {
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
        await child.status;
      }
      await stderrDone;
      await stdoutDone;
    }
    const bridgeAfter = lines(stderr).filter((l) => /\bbridge: /.test(l));
    assert.equal(bridgeAfter.length, 1, `still one bridge line after shutdown: ${JSON.stringify(stderr)}`);
    assert.deepEqual(stackLines(stderr), [], "no stack trace on shutdown");
  },
);

// ---------------------------------------------------------------------------
// i. Web-STOMP

bridgeTest("bridge: over Web-STOMP (ws://…:15674/ws) → subscribers", async () => {
  const queue = uniqueQueue("webstomp");
  await withBridge(queue, { url: WEB_STOMP_URL }, async ({ bridge, logs, v2, v1 }) => {
    const a = await v2();
    const b = await v1();
    await withConfirmChannel((ch) =>
      publishConfirmed(ch, queue, "por websocket", { headers: { cat: TOPIC } })
    );
    await waitUntil(() => a.events.length === 1 && b.events.length === 1, "the Web-STOMP event");
    assert.equal(a.events[0].body, "por websocket");
    assert.equal(a.events[0].headers.cat, TOPIC);
    assert.deepEqual(b.events[0], a.events[0]);
    assert.equal(bridge.stats.connections, 1);
    assert.ok(logs.some((l) => l.includes("ws://guest@127.0.0.1:15674/ws")), JSON.stringify(logs));
  });
}, { needs: "webStomp" });
