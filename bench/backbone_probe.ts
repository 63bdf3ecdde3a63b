/**
 * Which RabbitMQ client protocol suits a Tuerca cluster "backbone" better: AMQP
 * 0-9-1 through amqplib, or STOMP through @stomp/stompjs over raw TCP (the
 * project's own src/bridge/stomp_client.ts and tcp_socket.ts). A node publishes
 * small msgpack messages (~120 bytes) to a topic exchange `probe.<random>` with
 * the routing key `t.push.tutorial.messages`; another node receives them from
 * its own exclusive auto-delete queue bound with that key (for STOMP, the queue
 * RabbitMQ makes for a SUBSCRIBE to `/exchange/probe.<random>/<key>`).
 *
 * For each protocol:
 *
 * 1. Throughput. The consumer is a child process (this file with
 *    `--consumer=amqp|stomp`), so publisher and consumer each have their own
 *    CPU time and event loop. It binds its queue, says it is ready, and reports
 *    its count every {@link PROGRESS_EVERY} messages. This process publishes
 *    {@link WARMUP} warm-up messages, waits until they have all arrived, then
 *    publishes M (default 100,000) as fast as the client lets it. Reported:
 *    messages/s from the first measured publish to the last receipt; CPU
 *    µs/message of the publisher (this process), of the consumer (the child,
 *    measured from the end of the warm-up to its last message) and of the broker
 *    (every `beam.smp`, from /proc, 10 ms ticks); lost messages; and, as a
 *    check that the machine was quiet, the CPU that other processes used
 *    meanwhile (the whole machine's busy time minus the three), in cores.
 * 2. Latency. On two fresh connections in this process, 1,000 messages one at a
 *    time (100 more first, not counted), each sent only once the previous one
 *    has arrived: p50 and p99 round trip in µs.
 *
 * Backpressure: amqplib's `publish` returns false when its buffer is full, and
 * the publisher then waits for the channel's `drain` event. stompjs has no such
 * signal (TcpStompSocket queues whatever it is given), so both publishers also
 * keep at most `--window` messages (default 10,000) in flight: sent but not yet
 * reported received by the consumer. The table counts the waits of each kind.
 *
 * Everything is bounded: connections 5 s, warm-up 5 s, the measured burst 25 s
 * (then the consumer is told to stop and the loss is reported), each round trip
 * 1 s and the latency phase 10 s; the whole run exits after 115 s whatever
 * happens, and a consumer child exits after 60 s or when its standard input
 * closes. Exchanges are auto-delete and deleted explicitly at the end; queues
 * are exclusive and auto-delete.
 *
 * Run: `deno run --allow-all bench/backbone_probe.ts [--messages=100000]
 * [--window=10000] [--protocols=amqp,stomp]` (RabbitMQ with the STOMP plugin on
 * 127.0.0.1, guest/guest). Prints a markdown table and the raw numbers as JSON.
 *
 * @module
 */

import process from "node:process";
import { Buffer } from "node:buffer";
import {
  type AmqpChannel as RouterChannel,
  amqpConnect,
  type AmqpConnection as RouterConnection,
} from "../src/net/amqp.ts";
import { pack } from "msgpackr";
import { type StompClient, stompClient } from "../src/bridge/stomp_client.ts";
import { parseStompUrl } from "../src/bridge/stomp_url.ts";
import { withTimeout } from "./lib/child.ts";
import { emit, lineSplitter } from "./lib/ipc.ts";
import { CLK_TCK, cpuTicks, loadAverage, machineBusyTicks } from "./lib/procfs.ts";
import { percentiles } from "./lib/stats.ts";

const AMQP_URL = "amqp://guest:guest@127.0.0.1:5672";
const STOMP_URL = "stomp://guest:guest@127.0.0.1:61613";
const ROUTING_KEY = "t.push.tutorial.messages";

/** Messages sent and received before the measured burst. */
const WARMUP = 5_000;
/** The consumer reports its count every this many messages (WARMUP is a multiple). */
const PROGRESS_EVERY = 500;
const LATENCY_N = 1_000;
const LATENCY_WARMUP = 100;

const CONNECT_TIMEOUT_MS = 5_000;
const WARMUP_TIMEOUT_MS = 5_000;
const BURST_TIMEOUT_MS = 25_000;
const RESULT_GRACE_MS = 3_000;
const ROUND_TRIP_TIMEOUT_MS = 1_000;
const LATENCY_PHASE_TIMEOUT_MS = 10_000;
const RUN_DEADLINE_MS = 115_000;
const CHILD_DEADLINE_MS = 60_000;

/** The message: roughly what a node would forward for one WAMP publication. */
const BODY = Buffer.from(pack({
  topic: "push.tutorial.messages",
  publication: 4503599627370,
  args: ["Hola desde el nodo A, prueba"],
  kwargs: { from: "node-a", seq: 12345 },
}));

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = (): number => performance.timeOrigin + performance.now();

function argValue(name: string): string | undefined {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------
// amqplib as the router types it (src/net/amqp.ts), plus deleting an exchange.

interface AmqpChannel extends RouterChannel {
  deleteExchange(name: string): Promise<unknown>;
}

interface AmqpConnection extends RouterConnection {
  createChannel(): Promise<AmqpChannel>;
}

/** A connection and one channel; errors are logged, not thrown (an unhandled 'error' ends the process). */
async function amqpChannel(): Promise<{ conn: AmqpConnection; ch: AmqpChannel }> {
  const conn = await withTimeout(
    amqpConnect(AMQP_URL) as Promise<AmqpConnection>,
    CONNECT_TIMEOUT_MS,
    "AMQP connect timed out",
  );
  conn.on("error", (e) => console.error(`AMQP connection error: ${errorText(e)}`));
  const ch = await conn.createChannel();
  ch.on("error", (e) => console.error(`AMQP channel error: ${errorText(e)}`));
  return { conn, ch };
}

async function closeQuietly(what: { close(): Promise<unknown> }): Promise<void> {
  try {
    await withTimeout(what.close(), 2_000, "close timed out");
  } catch {
    // already closed, or the broker is gone: nothing to clean up on our side
  }
}

// ---------------------------------------------------------------------------
// The two protocols behind one interface.

/** The publishing side of a connection. */
interface Publisher {
  /** Sends one message; false when the client asks the caller to wait for {@link drained}. */
  send(body: Buffer): boolean;
  /** Resolves when the client can take more. */
  drained(): Promise<void>;
  close(): Promise<void>;
}

/** The consuming side of a connection; `close` removes its queue. */
interface Consumer {
  close(): Promise<void>;
}

type ProtocolName = "amqp" | "stomp";

interface Protocol {
  name: ProtocolName;
  /** Opens a connection that publishes to `exchange` with {@link ROUTING_KEY}. */
  publisher(exchange: string): Promise<Publisher>;
  /** Opens a connection whose own queue is bound to `exchange`; resolves once messages can arrive. */
  consumer(exchange: string, onMessage: (body: Uint8Array) => void): Promise<Consumer>;
}

const AMQP: Protocol = {
  name: "amqp",
  async publisher(exchange) {
    const { conn, ch } = await amqpChannel();
    return {
      send: (body) => ch.publish(exchange, ROUTING_KEY, body),
      drained: () => new Promise<void>((resolve) => ch.once("drain", () => resolve())),
      close: () => closeQuietly(conn),
    };
  },
  async consumer(exchange, onMessage) {
    const { conn, ch } = await amqpChannel();
    const { queue } = await ch.assertQueue("", { durable: false, exclusive: true, autoDelete: true });
    await ch.bindQueue(queue, exchange, ROUTING_KEY);
    await ch.consume(queue, (msg) => {
      if (msg !== null) onMessage(msg.content);
    }, { noAck: true });
    return { close: () => closeQuietly(conn) };
  },
};

/** A connected stompjs client over raw TCP (TcpStompSocket, through the project's stompClient). */
async function stompConnect(): Promise<StompClient> {
  const connected = Promise.withResolvers<void>();
  const client = stompClient(parseStompUrl(STOMP_URL), {
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    onConnect: () => connected.resolve(),
    onStompError: (frame) => {
      const message = `STOMP ERROR frame: ${frame.headers.message ?? ""} ${frame.body}`.trim();
      console.error(message);
      connected.reject(new Error(message));
    },
    onWebSocketClose: () => connected.reject(new Error("STOMP connection closed")),
  });
  client.activate();
  try {
    await withTimeout(connected.promise, CONNECT_TIMEOUT_MS, "STOMP connect timed out");
  } catch (e) {
    await closeQuietly({ close: () => client.deactivate() });
    throw e;
  }
  return client;
}

const STOMP: Protocol = {
  name: "stomp",
  async publisher(exchange) {
    const client = await stompConnect();
    const destination = `/exchange/${exchange}/${ROUTING_KEY}`;
    return {
      send: (body) => {
        client.publish({ destination, binaryBody: body });
        return true;
      },
      drained: () => Promise.resolve(),
      close: () => closeQuietly({ close: () => client.deactivate() }),
    };
  },
  async consumer(exchange, onMessage) {
    const client = await stompConnect();
    const receipt = `sub-${crypto.randomUUID()}`;
    const subscribed = Promise.withResolvers<void>();
    client.watchForReceipt(receipt, () => subscribed.resolve());
    client.subscribe(`/exchange/${exchange}/${ROUTING_KEY}`, (m) => onMessage(m.binaryBody), {
      ack: "auto",
      receipt,
    });
    try {
      await withTimeout(subscribed.promise, CONNECT_TIMEOUT_MS, "STOMP SUBSCRIBE not confirmed");
    } catch (e) {
      await closeQuietly({ close: () => client.deactivate() });
      throw e;
    }
    return { close: () => closeQuietly({ close: () => client.deactivate() }) };
  },
};

const PROTOCOLS: Record<ProtocolName, Protocol> = { amqp: AMQP, stomp: STOMP };

// ---------------------------------------------------------------------------
// The consumer child.

/** What the consumer child reports at the end. */
interface ConsumerResult {
  /** Messages received, warm-up included. */
  received: number;
  /** Messages whose body did not have the expected length. */
  bad: number;
  /** When the last message arrived ({@link now}); 0 if none did. */
  lastAt: number;
  /** CPU time from the end of the warm-up to the last message, in µs. */
  cpuUs: number;
}

async function consumerMain(kind: ProtocolName, exchange: string, expected: number): Promise<void> {
  Deno.unrefTimer(setTimeout(() => {
    console.error("consumer: deadline passed, exiting");
    Deno.exit(4);
  }, CHILD_DEADLINE_MS));
  let received = 0;
  let bad = 0;
  let lastAt = 0;
  let cpuStart = process.cpuUsage();
  let cpuUs = -1;
  const done = Promise.withResolvers<void>();
  const cpuSince = () => {
    const c = process.cpuUsage(cpuStart);
    return c.user + c.system;
  };
  const consumer = await PROTOCOLS[kind].consumer(exchange, (body) => {
    received++;
    lastAt = now();
    if (body.byteLength !== BODY.byteLength) bad++;
    if (received === WARMUP) cpuStart = process.cpuUsage();
    if (received % PROGRESS_EVERY === 0) void emit({ n: received });
    if (received === expected) {
      cpuUs = cpuSince();
      done.resolve();
    }
  });
  await emit({ ready: true });
  const stopped = (async () => {
    const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
    for await (const line of lines) if (line.trim() === "stop") return;
  })();
  await Promise.race([done.promise, stopped]);
  if (cpuUs < 0) cpuUs = received > WARMUP ? cpuSince() : 0;
  const result: ConsumerResult = { received, bad, lastAt, cpuUs };
  await emit({ result });
  await stopped; // until this process closes its input: the queue stays until then
  await consumer.close();
  Deno.exit(0);
}

/** This process's handle on a consumer child. */
class ConsumerChild {
  /** The last count the child reported. */
  received = 0;
  readonly ready = Promise.withResolvers<void>();
  readonly result = Promise.withResolvers<ConsumerResult>();
  #proc: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #progress: (() => void)[] = [];

  constructor(kind: ProtocolName, exchange: string, expected: number) {
    this.#proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL(import.meta.url).pathname,
        `--consumer=${kind}`,
        `--exchange=${exchange}`,
        `--expected=${expected}`,
      ],
      cwd: new URL("..", import.meta.url).pathname,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.#proc.stdin.getWriter();
    // Unhandled otherwise when nobody awaits them.
    this.ready.promise.catch(() => {});
    this.result.promise.catch(() => {});
    void this.#read();
  }

  async #read(): Promise<void> {
    const lines = this.#proc.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
    for await (const line of lines) {
      let msg: { ready?: boolean; n?: number; result?: ConsumerResult };
      try {
        msg = JSON.parse(line);
      } catch {
        console.error(`consumer: ${line}`);
        continue;
      }
      if (msg.ready) this.ready.resolve();
      if (msg.n !== undefined) {
        this.received = msg.n;
        const waiters = this.#progress;
        this.#progress = [];
        for (const w of waiters) w();
      }
      if (msg.result) this.result.resolve(msg.result);
    }
    const gone = new Error("consumer exited");
    this.ready.reject(gone);
    this.result.reject(gone);
    for (const w of this.#progress) w();
    this.#progress = [];
  }

  /** Resolves on the next progress report, or false after `ms`. */
  nextProgress(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, ms));
      this.#progress.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Waits until the child has reported at least `n` messages, at most `ms`. */
  async waitFor(n: number, ms: number): Promise<boolean> {
    const until = performance.now() + ms;
    while (this.received < n) {
      const left = until - performance.now();
      if (left <= 0 || !await this.nextProgress(left)) return this.received >= n;
    }
    return true;
  }

  /** Asks the child to report what it has now. */
  async stop(): Promise<void> {
    try {
      await this.#stdin.write(new TextEncoder().encode("stop\n"));
    } catch {
      // it has exited
    }
  }

  /** Closes its input, waits a little for it to exit, then kills it. */
  async close(): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // already closed
    }
    try {
      await withTimeout(this.#proc.status, 3_000, "consumer did not exit");
    } catch {
      try {
        this.#proc.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
      await this.#proc.status;
    }
  }
}

// ---------------------------------------------------------------------------
// The measurements.

/** Pids of the RabbitMQ VM(s), for broker CPU. */
function brokerPids(): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${entry.name}/comm`).trim() === "beam.smp") {
        pids.push(Number(entry.name));
      }
    } catch {
      // gone
    }
  }
  return pids;
}

function brokerCpuUs(pids: number[]): number {
  return pids.reduce((sum, p) => sum + cpuTicks(p), 0) * (1e6 / CLK_TCK);
}

function processCpuUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/** A fresh auto-delete topic exchange, declared on its own channel. */
async function declareExchange(admin: AmqpConnection): Promise<string> {
  const name = `probe.${crypto.randomUUID().slice(0, 8)}`;
  const ch = await admin.createChannel();
  ch.on("error", (e) => console.error(`AMQP admin channel error: ${errorText(e)}`));
  await ch.assertExchange(name, "topic", { durable: false, autoDelete: true });
  await closeQuietly(ch);
  return name;
}

/** Deletes an exchange (it may be gone already: auto-delete). */
async function deleteExchange(admin: AmqpConnection, name: string): Promise<void> {
  try {
    const ch = await admin.createChannel();
    ch.on("error", () => {});
    await withTimeout(ch.deleteExchange(name), 2_000, "exchange.delete timed out");
    await closeQuietly(ch);
  } catch (e) {
    console.error(`could not delete exchange ${name}: ${errorText(e)}`);
  }
}

interface PumpStats {
  sent: number;
  drainWaits: number;
  windowWaits: number;
}

/**
 * Publishes up to `count` messages, keeping `sentBefore + sent - child.received`
 * under `window` and honouring the client's drain signal; stops at `until`
 * (performance.now()).
 */
async function pump(
  pub: Publisher,
  child: ConsumerChild,
  count: number,
  sentBefore: number,
  window: number,
  until: number,
): Promise<PumpStats> {
  const stats: PumpStats = { sent: 0, drainWaits: 0, windowWaits: 0 };
  while (stats.sent < count) {
    if (sentBefore + stats.sent - child.received >= window) {
      stats.windowWaits++;
      if (!await child.nextProgress(until - performance.now())) break;
      continue;
    }
    const more = pub.send(BODY);
    stats.sent++;
    if (!more) {
      stats.drainWaits++;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = await Promise.race([
        pub.drained().then(() => true),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(false), until - performance.now())
        ),
      ]);
      clearTimeout(timer);
      if (!drained) break;
    }
  }
  return stats;
}

interface ThroughputResult {
  messages: number;
  received: number;
  lost: number;
  bad: number;
  msgsPerSec: number;
  publisherCpuUsPerMsg: number;
  consumerCpuUsPerMsg: number;
  brokerCpuUsPerMsg: number;
  /** CPU that other processes used during the burst, in cores (0: the machine was quiet). */
  otherCores: number;
  drainWaits: number;
  windowWaits: number;
  error?: string;
}

async function throughput(
  p: Protocol,
  admin: AmqpConnection,
  messages: number,
  window: number,
): Promise<ThroughputResult> {
  const exchange = await declareExchange(admin);
  const child = new ConsumerChild(p.name, exchange, WARMUP + messages);
  let pub: Publisher | undefined;
  try {
    await withTimeout(child.ready.promise, 10_000, "consumer not ready within 10 s");
    pub = await p.publisher(exchange);
    const warm = await pump(pub, child, WARMUP, 0, window, performance.now() + WARMUP_TIMEOUT_MS);
    if (!await child.waitFor(WARMUP, WARMUP_TIMEOUT_MS)) {
      throw new Error(`warm-up: ${child.received} of ${warm.sent} messages arrived within the time limit`);
    }
    const broker = brokerPids();
    const t0 = now();
    const cpu0 = processCpuUs();
    const broker0 = brokerCpuUs(broker);
    const machine0 = machineBusyTicks();
    const stats = await pump(pub, child, messages, WARMUP, window, performance.now() + BURST_TIMEOUT_MS);
    const left = BURST_TIMEOUT_MS - (now() - t0);
    let result: ConsumerResult;
    try {
      result = await withTimeout(child.result.promise, Math.max(0, left), "burst timed out");
    } catch {
      await child.stop();
      result = await withTimeout(child.result.promise, RESULT_GRACE_MS, "consumer did not report");
    }
    const cpu = processCpuUs() - cpu0;
    const brokerCpu = brokerCpuUs(broker) - broker0;
    const machineCpu = (machineBusyTicks() - machine0) * (1e6 / CLK_TCK);
    const wallUs = (now() - t0) * 1000;
    const measured = Math.max(0, result.received - WARMUP);
    const seconds = (result.lastAt - t0) / 1000;
    return {
      messages: stats.sent,
      received: measured,
      lost: stats.sent - measured,
      bad: result.bad,
      msgsPerSec: seconds > 0 ? measured / seconds : 0,
      publisherCpuUsPerMsg: cpu / stats.sent,
      consumerCpuUsPerMsg: result.cpuUs / Math.max(1, measured),
      brokerCpuUsPerMsg: brokerCpu / stats.sent,
      otherCores: Math.max(0, machineCpu - cpu - brokerCpu - result.cpuUs) / wallUs,
      drainWaits: stats.drainWaits,
      windowWaits: stats.windowWaits,
    };
  } catch (e) {
    return {
      messages: 0,
      received: 0,
      lost: 0,
      bad: 0,
      msgsPerSec: NaN,
      publisherCpuUsPerMsg: NaN,
      consumerCpuUsPerMsg: NaN,
      brokerCpuUsPerMsg: NaN,
      otherCores: NaN,
      drainWaits: 0,
      windowWaits: 0,
      error: errorText(e),
    };
  } finally {
    await child.close();
    if (pub) await pub.close();
    await deleteExchange(admin, exchange);
  }
}

interface LatencyResult {
  n: number;
  lost: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  error?: string;
}

async function latency(p: Protocol, admin: AmqpConnection): Promise<LatencyResult> {
  const exchange = await declareExchange(admin);
  let arrived: (() => void) | null = null;
  let consumer: Consumer | undefined;
  let pub: Publisher | undefined;
  const samples = new Float64Array(LATENCY_N);
  let n = 0;
  let lost = 0;
  try {
    consumer = await p.consumer(exchange, () => {
      const wake = arrived;
      arrived = null;
      wake?.();
    });
    pub = await p.publisher(exchange);
    const until = performance.now() + LATENCY_PHASE_TIMEOUT_MS;
    for (let i = 0; i < LATENCY_WARMUP + LATENCY_N && performance.now() < until && lost < 10; i++) {
      const got = Promise.withResolvers<boolean>();
      arrived = () => got.resolve(true);
      const timer = setTimeout(() => got.resolve(false), ROUND_TRIP_TIMEOUT_MS);
      const t0 = performance.now();
      if (!pub.send(BODY)) await pub.drained();
      const ok = await got.promise;
      const us = (performance.now() - t0) * 1000;
      clearTimeout(timer);
      if (!ok) {
        lost++;
        arrived = null;
      } else if (i >= LATENCY_WARMUP) samples[n++] = us;
    }
    const pc = percentiles(samples, n);
    return { n, lost, p50Us: pc.p50, p99Us: pc.p99, maxUs: pc.max };
  } catch (e) {
    return { n, lost, p50Us: NaN, p99Us: NaN, maxUs: NaN, error: errorText(e) };
  } finally {
    if (pub) await pub.close();
    if (consumer) await consumer.close();
    await deleteExchange(admin, exchange);
  }
}

// ---------------------------------------------------------------------------

function fixed(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : "—";
}

async function main(): Promise<void> {
  Deno.unrefTimer(setTimeout(() => {
    console.error(`run deadline (${RUN_DEADLINE_MS / 1000} s) passed: exiting`);
    Deno.exit(3);
  }, RUN_DEADLINE_MS));
  const messages = Number(argValue("messages") ?? 100_000);
  const window = Number(argValue("window") ?? 10_000);
  const names = (argValue("protocols") ?? "amqp,stomp").split(",") as ProtocolName[];
  if (!(messages > 0) || !(window > 0) || names.some((n) => !(n in PROTOCOLS))) {
    throw new Error("usage: [--messages=N] [--window=N] [--protocols=amqp,stomp]");
  }
  const load = loadAverage();
  console.log(
    `backbone probe: ${messages} messages of ${BODY.byteLength} bytes, window ${window}, ` +
      `${navigator.hardwareConcurrency} CPUs, load average ${load}`,
  );
  if (load > 0.5) console.log("warning: the machine is not quiet (1-minute load average over 0.5)");

  const admin = (await amqpChannel()).conn;
  const rows: { protocol: ProtocolName; throughput: ThroughputResult; latency: LatencyResult }[] = [];
  try {
    for (const name of names) {
      const p = PROTOCOLS[name];
      const t = await throughput(p, admin, messages, window);
      const l = await latency(p, admin);
      rows.push({ protocol: name, throughput: t, latency: l });
    }
  } finally {
    await closeQuietly(admin);
  }

  console.log();
  console.log(
    "| protocol | msgs/s | publisher CPU µs/msg | consumer CPU µs/msg | broker CPU µs/msg | other CPU, cores | lost | " +
      "drain / window waits | latency p50 µs | p99 µs |",
  );
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const { protocol, throughput: t, latency: l } of rows) {
    console.log(
      `| ${protocol} | ${fixed(t.msgsPerSec, 0)} | ${fixed(t.publisherCpuUsPerMsg)} | ` +
        `${fixed(t.consumerCpuUsPerMsg)} | ${fixed(t.brokerCpuUsPerMsg)} | ${
          fixed(t.otherCores)
        } | ${t.lost} | ` +
        `${t.drainWaits} / ${t.windowWaits} | ${fixed(l.p50Us, 0)} | ${fixed(l.p99Us, 0)} |`,
    );
  }
  for (const { protocol, throughput: t, latency: l } of rows) {
    if (t.error) console.log(`${protocol} throughput: ${t.error}`);
    if (l.error) console.log(`${protocol} latency: ${l.error}`);
    if (l.lost > 0) console.log(`${protocol} latency: ${l.lost} round trips lost`);
  }
  console.log();
  console.log(JSON.stringify({ messages, window, bodyBytes: BODY.byteLength, load, rows }, null, 2));
}

const consumerKind = argValue("consumer");
if (consumerKind !== undefined) {
  await consumerMain(
    consumerKind as ProtocolName,
    argValue("exchange") ?? "",
    Number(argValue("expected") ?? 0),
  );
} else {
  await main();
}
