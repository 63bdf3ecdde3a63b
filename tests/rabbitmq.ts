/**
 * Shared RabbitMQ helper for the bridge tests: finds out (once, before any test
 * registers) whether the machine's broker answers on AMQP, STOMP, the management
 * API and Web-STOMP, and gives the tests queue bookkeeping (unique names, exact
 * counts, reading and deleting) and an AMQP producer (amqplib, like the tutorial's
 * PHP sender).
 *
 * The tests only look at the shared broker: they never enable plugins on it, and
 * never stop, restart or reconfigure it. Enabling its STOMP, management and
 * Web-STOMP plugins is `.ci/run`'s job (or yours: `rabbitmq-plugins enable …`). A
 * test that must restart a broker starts a private node of its own
 * (tests/rabbitmq_node.ts).
 *
 * Without a usable broker the bridge tests are registered as ignored, with one
 * line that says why; with `CI=true` they fail instead, each with that one line.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  type AmqpChannel as BaseChannel,
  amqpConnect as routerAmqpConnect,
  type AmqpConnection as BaseConnection,
  type AmqpDelivery,
} from "../src/net/amqp.ts";
import { privateRabbitUnavailable } from "./rabbitmq_node.ts";

/** Where the tests expect the broker. */
export const RABBIT_HOST = "127.0.0.1";
export const AMQP_URL = `amqp://guest:guest@${RABBIT_HOST}:5672`;
export const STOMP_URL = `stomp://guest:guest@${RABBIT_HOST}:61613`;
export const WEB_STOMP_URL = `ws://guest:guest@${RABBIT_HOST}:15674/ws`;
export const MANAGEMENT_URL = `http://${RABBIT_HOST}:15672`;
export const STOMP_PORT = 61613;
export const AMQP_PORT = 5672;
export const WEB_STOMP_PORT = 15674;

/** Where a broker listens: the machine's shared one ({@link SHARED_BROKER}) or a private node. */
export interface BrokerAddress {
  amqpUrl: string;
  amqpPort: number;
  stompUrl: string;
  stompPort: number;
  /** Undefined when the broker has no management plugin. */
  managementUrl?: string;
}

/** The machine's broker, which the tests only use (never reconfigure). */
export const SHARED_BROKER: BrokerAddress = {
  amqpUrl: AMQP_URL,
  amqpPort: AMQP_PORT,
  stompUrl: STOMP_URL,
  stompPort: STOMP_PORT,
  managementUrl: MANAGEMENT_URL,
};

/** On CI (`CI=true`) a broker that is not usable fails the bridge tests instead of skipping them. */
const CI = Deno.env.get("CI") === "true";
/** How long the probe waits for the shared broker: on CI it must come; elsewhere it is there or not. */
const READY_TIMEOUT_MS = CI ? 60_000 : 2_000;
const AUTH = `Basic ${btoa("guest:guest")}`;

// ---------------------------------------------------------------------------
// amqplib as the router types it (src/net/amqp.ts), plus what only the tests use.

/** AMQP message properties, as amqplib takes and returns them. */
export interface AmqpProperties {
  /** Application headers (`cat` among them). */
  headers?: Record<string, unknown>;
  /** The body's content type. */
  contentType?: string;
  /** 2: persistent. */
  deliveryMode?: number;
  /** Another way of saying deliveryMode 2. */
  persistent?: boolean;
}

/** A message from `channel.get`. */
export interface AmqpMessage extends AmqpDelivery {
  /** Its delivery tag, and whether the broker delivered it before. */
  fields: AmqpDelivery["fields"] & { deliveryTag: number; redelivered: boolean };
  /** Its properties. */
  properties: AmqpProperties;
}

/** Queue state from `assertQueue` / `checkQueue`. */
export interface AmqpQueueInfo {
  /** Its name. */
  queue: string;
  /** Messages ready. */
  messageCount: number;
  /** Consumers. */
  consumerCount: number;
}

/** An amqplib channel, with the calls only the tests make. */
export interface AmqpChannel extends BaseChannel {
  /** Declares a queue; answers its counts. */
  assertQueue(
    queue: string,
    options?: { durable?: boolean; exclusive?: boolean; autoDelete?: boolean },
  ): Promise<AmqpQueueInfo>;
  /** A queue's counts; rejects (closing the channel) when there is none. */
  checkQueue(queue: string): Promise<AmqpQueueInfo>;
  /** Deletes a queue. */
  deleteQueue(queue: string): Promise<unknown>;
  /** `content` must be a Buffer: amqplib refuses a plain Uint8Array. */
  sendToQueue(
    queue: string,
    content: Buffer,
    options?: AmqpProperties,
    callback?: (err: unknown) => void,
  ): boolean;
  /** One message, or false when the queue is empty. */
  get(queue: string, options?: { noAck?: boolean }): Promise<AmqpMessage | false>;
}

/** A channel in confirm mode. */
export interface AmqpConfirmChannel extends AmqpChannel {
  /** Resolves once every message published so far is confirmed. */
  waitForConfirms(): Promise<void>;
}

/** An amqplib connection, with the tests' channels. */
export interface AmqpConnection extends BaseConnection {
  /** A new channel. */
  createChannel(): Promise<AmqpChannel>;
  /** A new channel in confirm mode. */
  createConfirmChannel(): Promise<AmqpConfirmChannel>;
}

/**
 * Opens an AMQP connection (to the shared broker unless `url` says otherwise).
 * Its `error` events (the broker closing it, as a restart does) are swallowed: an
 * unhandled `error` event would end the whole test process. `closed` resolves when
 * the connection is gone.
 */
export async function amqpConnect(url = AMQP_URL): Promise<{ conn: AmqpConnection; closed: Promise<void> }> {
  // The router's own connect: noDelay, or Nagle holds back small frames (each channel.get waited ~40 ms).
  const conn = await routerAmqpConnect(url) as AmqpConnection;
  const closed = Promise.withResolvers<void>();
  conn.on("error", () => {});
  conn.on("close", () => closed.resolve());
  return { conn, closed: closed.promise };
}

/** Closes an AMQP connection, ignoring one that is already closed. */
export async function amqpClose(conn: AmqpConnection): Promise<void> {
  try {
    await conn.close();
  } catch {
    // already closed (by the broker, or by us)
  }
}

/** Runs `fn` with a confirm channel on a fresh connection, always closing it. */
export async function withConfirmChannel<T>(
  fn: (ch: AmqpConfirmChannel) => Promise<T>,
  url = AMQP_URL,
): Promise<T> {
  const { conn } = await amqpConnect(url);
  try {
    const ch = await conn.createConfirmChannel();
    ch.on("error", () => {});
    return await fn(ch);
  } finally {
    await amqpClose(conn);
  }
}

/** Publishes on a confirm channel and resolves once the broker confirmed it. */
export function publishConfirmed(
  ch: AmqpChannel,
  queue: string,
  body: string | Uint8Array,
  properties: AmqpProperties = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.sendToQueue(
      queue,
      Buffer.from(body),
      { deliveryMode: 2, ...properties },
      (err) => err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
    );
  });
}

// ---------------------------------------------------------------------------
// Availability.

/** Whether the shared broker is usable, and why not. */
export interface RabbitStatus {
  /** AMQP, STOMP and the management API answer. */
  ok: boolean;
  /** One line saying what is missing and how to fix it. */
  reason?: string;
  /** Whether Web-STOMP answers too (only its own test needs it). */
  webStomp: boolean;
  /** Why Web-STOMP is not usable. */
  webStompReason?: string;
  /** Whether `rabbitmqctl list_queues` works here (exact counts; read-only). */
  rabbitmqctl: boolean;
}

/** The line a test prints (and on CI fails with) when a plugin of the shared broker is off. */
export function pluginMissing(what: string, plugin: string): string {
  return `RabbitMQ's ${what} plugin is not enabled: run rabbitmq-plugins enable ${plugin}`;
}

/** Whether `name` is an executable on PATH. */
function hasCommand(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Runs a command, capturing its output; `code` is -1 when it could not run. */
export async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
      .output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    return { code: -1, stdout: "", stderr: (e as Error).message };
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: RABBIT_HOST, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Whether the management API at `url` answers GET /api/overview. */
async function managementUp(url = MANAGEMENT_URL): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/overview`, {
      headers: { authorization: AUTH },
      signal: AbortSignal.timeout(3_000),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Polls `check` every 250 ms until it holds or `ms` pass; true when it held.
 * (For the broker coming up, where the tests' 10 ms polling would be wasteful.)
 */
export async function pollUntil(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (true) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits (up to `ms`) for AMQP, STOMP and (when the broker has one) the management
 * API of `broker`; the reason, in one line, when something stays down.
 */
export async function waitForBroker(
  ms = READY_TIMEOUT_MS,
  broker: BrokerAddress = SHARED_BROKER,
): Promise<string | null> {
  const deadline = Date.now() + ms;
  const left = () => Math.max(0, deadline - Date.now());
  const shared = broker === SHARED_BROKER;
  if (!await pollUntil(() => portOpen(broker.amqpPort), left())) {
    return `no RabbitMQ on ${RABBIT_HOST}:${broker.amqpPort} (AMQP)${shared ? "; .ci/run starts it" : ""}`;
  }
  if (!await pollUntil(() => portOpen(broker.stompPort), left())) {
    return shared
      ? pluginMissing("STOMP", "rabbitmq_stomp")
      : `nothing listens on ${RABBIT_HOST}:${broker.stompPort} (STOMP) after ${ms / 1000} s`;
  }
  const mgmt = broker.managementUrl;
  if (mgmt !== undefined && !await pollUntil(() => managementUp(mgmt), left())) {
    return shared
      ? pluginMissing("management", "rabbitmq_management")
      : `the management API at ${mgmt} does not answer after ${ms / 1000} s`;
  }
  return null;
}

/** Looks at the shared broker; changes nothing on it. */
async function probe(): Promise<RabbitStatus> {
  const [reason, webStompUp, ctl] = await Promise.all([
    waitForBroker(),
    pollUntil(() => portOpen(WEB_STOMP_PORT), READY_TIMEOUT_MS),
    hasCommand("rabbitmqctl")
      ? run("rabbitmqctl", ["-q", "list_queues", "name"]).then((r) => r.code === 0)
      : Promise.resolve(false),
  ]);
  const webStompReason = webStompUp ? undefined : pluginMissing("Web-STOMP", "rabbitmq_web_stomp");
  return reason === null
    ? { ok: true, webStomp: webStompUp, webStompReason, rabbitmqctl: ctl }
    : { ok: false, reason, webStomp: false, webStompReason: reason, rabbitmqctl: ctl };
}

let ensured: Promise<RabbitStatus> | undefined;

/**
 * Finds out (once per process, waiting boundedly) whether the shared broker is usable.
 * @throws {Error} when it is not and `CI=true` (CI must not skip these tests); the message is the one line saying why.
 */
export async function ensureRabbitMQ(): Promise<RabbitStatus> {
  ensured ??= probe();
  const status = await ensured;
  if (!status.ok && CI) throw new Error(status.reason);
  return status;
}

/** The shared broker's state, found out before any test registers. Never throws. */
export const rabbit: RabbitStatus = await (ensured ??= probe());

/**
 * A test that fails with exactly `line`. It throws the string itself, so Deno
 * prints that one line and no stack trace: there is no code to point at, only
 * something to install or enable.
 */
export function failWith(line: string): () => never {
  return () => {
    throw line;
  };
}

const said = new Set<string>();

/** Prints `line` once per process. */
function sayOnce(line: string): void {
  if (said.has(line)) return;
  said.add(line);
  console.log(line);
}

/**
 * Registers a bridge test. When the shared broker (or, with `needs: "webStomp"`,
 * its Web-STOMP plugin) is unusable, the test is ignored with one line saying why,
 * or, with `CI=true`, fails with that line.
 */
export function bridgeTest(
  name: string,
  fn: () => Promise<void>,
  options: { needs?: "webStomp" } = {},
): void {
  const reason = !rabbit.ok
    ? rabbit.reason
    : options.needs === "webStomp" && !rabbit.webStomp
    ? rabbit.webStompReason
    : undefined;
  if (reason === undefined) {
    Deno.test({ name, fn });
  } else if (CI) {
    sayOnce(reason);
    Deno.test({ name, fn: failWith(reason) });
  } else {
    sayOnce(`RabbitMQ bridge tests skipped: ${reason} (set CI=true to make this an error)`);
    Deno.test({ name, ignore: true, fn });
  }
}

/**
 * Registers a test that starts its own private RabbitMQ node (tests/rabbitmq_node.ts)
 * and needs nothing from the shared broker. Without a `rabbitmq-server` to start
 * it is ignored with one line saying why, or, with `CI=true`, fails with that line.
 */
export function privateNodeTest(name: string, fn: () => Promise<void>): void {
  const reason = privateRabbitUnavailable();
  if (reason === null) {
    Deno.test({ name, fn });
  } else if (CI) {
    sayOnce(reason);
    Deno.test({ name, fn: failWith(reason) });
  } else {
    sayOnce(`"${name}" skipped: ${reason} (set CI=true to make this an error)`);
    Deno.test({ name, ignore: true, fn });
  }
}

// ---------------------------------------------------------------------------
// Queues.

/** A queue name of its own for one test. */
export function uniqueQueue(prefix: string): string {
  return `t_${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

/** Deletes a queue through the management API; a queue that does not exist is fine. */
export async function deleteQueue(name: string, managementUrl = MANAGEMENT_URL): Promise<void> {
  const res = await fetch(`${managementUrl}/api/queues/%2F/${encodeURIComponent(name)}`, {
    method: "DELETE",
    headers: { authorization: AUTH },
    signal: AbortSignal.timeout(10_000),
  });
  await res.body?.cancel();
  if (!res.ok && res.status !== 404) throw new Error(`deleting queue ${name}: HTTP ${res.status}`);
}

/** Message counts of one queue. */
export interface QueueCounts {
  ready: number;
  unacked: number;
  total: number;
}

/**
 * Exact counts from `rabbitmqctl list_queues` when it works here; otherwise READY
 * from AMQP `checkQueue` (exact) and unacked from the management API (a few seconds
 * stale). A queue that does not exist counts as empty.
 */
export async function queueCounts(name: string): Promise<QueueCounts> {
  if (rabbit.rabbitmqctl) {
    const r = await run("rabbitmqctl", [
      "-q",
      "list_queues",
      "--no-table-headers",
      "name",
      "messages_ready",
      "messages_unacknowledged",
    ]);
    if (r.code === 0) {
      for (const line of r.stdout.split("\n")) {
        const [q, ready, unacked] = line.trim().split(/\t/);
        if (q === name) {
          return { ready: Number(ready), unacked: Number(unacked), total: Number(ready) + Number(unacked) };
        }
      }
      return { ready: 0, unacked: 0, total: 0 };
    }
  }
  let ready = 0;
  const { conn } = await amqpConnect();
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    ready = (await ch.checkQueue(name)).messageCount;
  } catch {
    return { ready: 0, unacked: 0, total: 0 };
  } finally {
    await amqpClose(conn);
  }
  const res = await fetch(`${MANAGEMENT_URL}/api/queues/%2F/${encodeURIComponent(name)}`, {
    headers: { authorization: AUTH },
    signal: AbortSignal.timeout(10_000),
  });
  const info = res.ok ? await res.json() : (await res.body?.cancel(), {});
  const unacked = Number(info.messages_unacknowledged ?? 0);
  return { ready, unacked, total: ready + unacked };
}

/** A message read back from a queue. */
export interface ReadMessage {
  body: string;
  headers: Record<string, unknown>;
  properties: AmqpProperties;
  redelivered: boolean;
}

/**
 * Reads (and acks) up to `n` messages from `queue`, polling until `n` arrived or
 * `ms` passed; returns what it got.
 */
export async function getMessages(queue: string, n: number, ms = 5_000): Promise<ReadMessage[]> {
  const got: ReadMessage[] = [];
  const { conn } = await amqpConnect();
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    const deadline = Date.now() + ms;
    while (got.length < n) {
      const m = await ch.get(queue, { noAck: false });
      if (m === false) {
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      got.push({
        body: new TextDecoder().decode(m.content),
        headers: m.properties.headers ?? {},
        properties: m.properties,
        redelivered: m.fields.redelivered,
      });
      ch.ack(m);
    }
    await ch.close();
  } finally {
    await amqpClose(conn);
  }
  return got;
}

/** Publishes `m0` … `m<n-1>` with header `cat`, persistent, and waits for the broker's confirms. */
export async function publishNumbered(
  ch: AmqpConfirmChannel,
  queue: string,
  n: number,
  cat: string,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    ch.sendToQueue(queue, Buffer.from(`m${i}`), { headers: { cat }, deliveryMode: 2 });
  }
  await ch.waitForConfirms();
}

/** Publishes through the management HTTP API (as the tutorial did from the management UI). */
export async function managementPublish(
  queue: string,
  payload: string,
  headers: Record<string, string>,
): Promise<{ routed: boolean }> {
  const res = await fetch(`${MANAGEMENT_URL}/api/exchanges/%2F/amq.default/publish`, {
    method: "POST",
    headers: { authorization: AUTH, "content-type": "application/json" },
    body: JSON.stringify({
      properties: { headers, delivery_mode: 2 },
      routing_key: queue,
      payload,
      payload_encoding: "string",
    }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`management publish: HTTP ${res.status} ${await res.text()}`);
  return await res.json();
}
