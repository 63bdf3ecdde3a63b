/**
 * Several Tuerca processes acting as one router, with RabbitMQ as the backbone.
 *
 * Each node keeps one AMQP connection and one queue of its own (exclusive: it
 * goes when the node's connection goes), bound to the cluster's control exchange
 * (a fanout: announcements and heartbeats) and to each realm's topic exchange
 * under the keys its subscribers need (see keys.ts). What the node's realms do is
 * linked to the others by one {@link RealmLink} per realm.
 *
 * Membership: a node says `hello` with everything it holds when it connects, the
 * others answer with theirs, and every node sends a heartbeat every second. A node
 * not heard from for {@link ClusterOptions.deadAfterMs} (3 s by default) is lost:
 * the others publish its sessions' testaments and `wamp.session.on_leave` to their
 * own subscribers, end the calls it was serving (`wamp.error.canceled`) or making,
 * and forget its registrations. A node that stops says `bye` after its sessions left.
 *
 * When the broker goes away, the node serves its own sessions alone (the other
 * nodes' sessions are lost to it), retries with a growing pause, and on return
 * binds again and says `hello`.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { type Logger, SILENT } from "../log.ts";
import { Retrier } from "../net/retry.ts";
import type { Router } from "../router.ts";
import {
  type AmqpConfirmChannel,
  amqpConnect,
  type AmqpConnection,
  type AmqpDelivery,
  ConfirmWatch,
  displayAmqpUrl,
} from "../net/amqp.ts";
import { clusterNames, isClusterName } from "./keys.ts";
import { type Backbone, RealmLink } from "./realm_link.ts";
import { type ClusterMessage, decodeMessage, encodeMessage, type RealmState } from "./wire.ts";

/** How a node joins its cluster. */
export interface ClusterOptions {
  /** The cluster's name: nodes with the same name on the same broker act as one router. */
  name: string;
  /** The broker's AMQP address (see `amqpUrlFromStomp`). */
  url: string;
  /** This node's id; default: random, with the process id. */
  node?: string;
  /** Milliseconds between heartbeats. Default 1,000. */
  heartbeatMs?: number;
  /** Milliseconds without a word from a node before it is lost. Default 3,000. */
  deadAfterMs?: number;
  /** Most messages waiting in this node's queue; older ones are dropped beyond it. Default 1,000,000. */
  maxQueued?: number;
  /** Where joins, losses and broker trouble are logged. */
  log?: Logger;
}

/** What a node knows of its cluster, for `/healthz` and `/metrics`. */
export interface ClusterStatus {
  /** The cluster's name. */
  name: string;
  /** This node's id. */
  node: string;
  /** Whether the backbone connection is up. */
  connected: boolean;
  /** The other nodes heard from, by id. */
  nodes: string[];
}

/** Backbone traffic, counted since the node started. */
export interface ClusterCounters {
  /** Messages published to the broker. */
  sent: number;
  /** Messages received from other nodes. */
  received: number;
  /** Messages received that were not backbone messages (dropped). */
  malformed: number;
  /** Messages not sent because the broker was unreachable. */
  unsent: number;
  /** Nodes declared lost for silence. */
  nodesLost: number;
  /** Times the backbone connection was (re)established. */
  connects: number;
}

const EXCHANGE = { durable: false, autoDelete: true };

/** One node's membership in a cluster. */
export class Cluster implements Backbone {
  /** The cluster's name. */
  readonly name: string;
  /** This node's id. */
  readonly node: string;
  /** Backbone traffic. */
  readonly counters: ClusterCounters = {
    sent: 0,
    received: 0,
    malformed: 0,
    unsent: 0,
    nodesLost: 0,
    connects: 0,
  };
  #names: ReturnType<typeof clusterNames>;
  #queue: string;
  #links = new Map<string, RealmLink>();
  /** Other nodes by id, with when they were last heard from (performance.now()). */
  #peers = new Map<string, number>();
  #conn: AmqpConnection | null = null;
  #ch: AmqpConfirmChannel | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #retrier = new Retrier(() => this.#reconnect());
  #stopping = false;
  #log: Logger;
  #heartbeatMs: number;
  #deadAfterMs: number;
  #maxQueued: number;
  /** Marks what this node publishes, so its own copies are dropped before decoding. */
  #stamp: { appId: string };
  #confirms = new ConfirmWatch();

  /**
   * Links every realm of `router` to the cluster. Call {@link start} next, before
   * clients connect.
   * @throws {TypeError} for a name that is not a cluster name
   */
  constructor(private readonly router: Router, private readonly options: ClusterOptions) {
    if (!isClusterName(options.name)) {
      throw new TypeError(
        `invalid cluster name ${JSON.stringify(options.name)}: use letters, digits, _ and -`,
      );
    }
    this.name = options.name;
    this.node = options.node ?? `${randomHex(4)}-${Deno.pid}`;
    this.#names = clusterNames(options.name);
    this.#queue = this.#names.queue(this.node);
    this.#stamp = { appId: this.node };
    this.#log = options.log ?? SILENT;
    this.#heartbeatMs = options.heartbeatMs ?? 1_000;
    this.#deadAfterMs = options.deadAfterMs ?? 3_000;
    this.#maxQueued = options.maxQueued ?? 1_000_000;
    for (const realm of router.realms()) {
      this.#links.set(realm.name, new RealmLink(realm, this.#names.events(realm.name), this, this.#log));
    }
    router.outbound = this;
  }

  /**
   * Connects to the broker and says hello. When the broker cannot be reached the
   * node runs alone and keeps trying; the returned promise says whether it connected.
   */
  async start(): Promise<boolean> {
    this.#timer = setInterval(() => this.#tick(), this.#heartbeatMs);
    const ok = await this.#connect();
    if (!ok) this.#retrier.schedule();
    return ok;
  }

  /** Says goodbye to the other nodes and closes the connection. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#timer);
    this.#retrier.stop();
    for (const link of this.#links.values()) link.stop();
    const ch = this.#ch;
    const conn = this.#conn;
    if (ch === null || conn === null) return;
    this.broadcast({ k: "bye", n: this.node });
    try {
      await ch.close();
      await conn.close();
    } catch {
      // Already closed by the broker.
    }
    this.#ch = null;
    this.#conn = null;
  }

  /** The cluster as this node sees it. */
  status(): ClusterStatus {
    return { name: this.name, node: this.node, connected: this.#ch !== null, nodes: [...this.#peers.keys()] };
  }

  /**
   * Resolves once everything published so far has reached the broker; rejects
   * when the connection went down with some of it unconfirmed (also when nobody
   * was waiting yet). Resolves at once while disconnected (what was not sent was
   * counted as `unsent`).
   */
  flushed(): Promise<void> {
    return this.#confirms.flushed(this.#ch, "backbone messages");
  }

  /** Publishes sent to the other nodes, in every realm. */
  get relayed(): number {
    let n = 0;
    for (const link of this.#links.values()) n += link.relayed;
    return n;
  }

  /** Registrations of one procedure made on two nodes at once (settled for the earlier), in every realm. */
  get conflicts(): number {
    let n = 0;
    for (const link of this.#links.values()) n += link.conflicts;
    return n;
  }

  /** The link of realm `name`. */
  link(name: string): RealmLink | undefined {
    return this.#links.get(name);
  }

  // ---- Backbone

  /** Publishes `message` to `exchange`; dropped (and counted) while disconnected. */
  publish(exchange: string, key: string, message: ClusterMessage): void {
    const ch = this.#ch;
    if (ch === null) {
      this.counters.unsent++;
      return;
    }
    // msgpackr hands out Buffers; amqplib copies the bytes into its frame at once.
    ch.publish(exchange, key, encodeMessage(message) as Buffer, this.#stamp, this.#confirms.confirmed);
    this.counters.sent++;
  }

  /** Sends `message` to every node (this one drops its own copy). */
  broadcast(message: ClusterMessage): void {
    this.publish(this.#names.control, "", message);
  }

  /** Sends `message` to `node`'s queue. */
  sendTo(node: string, message: ClusterMessage): void {
    this.publish("", this.#names.queue(node), message);
  }

  /** Binds this node's queue; after a reconnection every binding is made again anyway. */
  bind(exchange: string, key: string): void {
    this.#ch?.bindQueue(this.#queue, exchange, key).catch((e) => this.#channelTrouble("bind", e));
  }

  /** Removes a binding of this node's queue. */
  unbind(exchange: string, key: string): void {
    this.#ch?.unbindQueue(this.#queue, exchange, key).catch((e) => this.#channelTrouble("unbind", e));
  }

  /** A session id from the router (for the participants standing for other nodes). */
  newId(): number {
    return this.router.newSessionId();
  }

  // ---- connection

  async #connect(): Promise<boolean> {
    let conn: AmqpConnection | null = null;
    try {
      conn = await amqpConnect(this.options.url);
      // Confirms: the queue bridge acknowledges a message once its copies for the other nodes are confirmed.
      const ch = await conn.createConfirmChannel();
      const opened = conn;
      conn.on("error", (e) => this.#log.warn("cluster: broker connection error", { error: String(e) }));
      conn.on("close", () => this.#disconnected(opened));
      ch.on("error", (e) => this.#log.warn("cluster: backbone channel error", { error: String(e) }));
      // Auto-delete: a cluster's exchanges go when its last node does (every node keeps a binding to each).
      await ch.assertExchange(this.#names.control, "fanout", EXCHANGE);
      await ch.assertQueue(this.#queue, {
        exclusive: true,
        autoDelete: true,
        durable: false,
        arguments: { "x-max-length": this.#maxQueued },
      });
      await ch.bindQueue(this.#queue, this.#names.control, "");
      for (const link of this.#links.values()) {
        await ch.assertExchange(link.exchange, "topic", EXCHANGE);
      }
      // From here, subscriptions made meanwhile bind at once; the loop binds the rest.
      this.#conn = conn;
      this.#ch = ch;
      for (const link of this.#links.values()) {
        for (const key of link.keys()) await ch.bindQueue(this.#queue, link.exchange, key);
      }
      await ch.consume(this.#queue, (msg) => this.#receive(msg), { noAck: true, exclusive: true });
      this.counters.connects++;
      this.#log.info("cluster: connected", {
        cluster: this.name,
        node: this.node,
        broker: displayAmqpUrl(this.options.url),
      });
      this.broadcast({ k: "hello", n: this.node, s: this.#state() });
      return true;
    } catch (e) {
      this.#log.error("cluster: cannot reach the broker; this node runs alone until it can", {
        broker: displayAmqpUrl(this.options.url),
        error: e instanceof Error ? e.message : String(e),
      });
      this.#ch = null;
      this.#conn = null;
      try {
        await conn?.close();
      } catch {
        // never opened, or already gone
      }
      return false;
    }
  }

  /** One attempt of the retrier: nothing to do once stopped or connected again. */
  #reconnect(): Promise<boolean> {
    if (this.#stopping || this.#ch !== null) return Promise.resolve(true);
    return this.#connect();
  }

  #disconnected(conn: AmqpConnection): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    this.#ch = null;
    if (this.#stopping) return;
    this.#log.warn("cluster: lost the broker; serving this node's sessions alone", {
      nodes: this.#peers.size,
    });
    for (const node of [...this.#peers.keys()]) this.#drop(node, true);
    this.#retrier.schedule();
  }

  #channelTrouble(what: string, e: unknown): void {
    this.#log.warn(`cluster: ${what} failed`, { error: e instanceof Error ? e.message : String(e) });
    // A failed channel operation closes the channel: start over on a new connection.
    const conn = this.#conn;
    if (conn !== null) conn.close().catch(() => {});
  }

  // ---- membership

  #state(): Record<string, RealmState> {
    const out: Record<string, RealmState> = {};
    for (const [name, link] of this.#links) out[name] = link.state();
    return out;
  }

  #tick(): void {
    if (this.#ch === null) return;
    this.broadcast({ k: "hb", n: this.node });
    const now = performance.now();
    for (const [node, seen] of this.#peers) {
      if (now - seen > this.#deadAfterMs) {
        this.counters.nodesLost++;
        this.#log.warn("cluster: node lost (no heartbeat)", { node, silent_ms: Math.round(now - seen) });
        this.#drop(node, true);
      }
    }
  }

  #drop(node: string, lost: boolean): void {
    this.#peers.delete(node);
    for (const link of this.#links.values()) link.dropNode(node, lost);
  }

  #receive(delivery: AmqpDelivery | null): void {
    if (delivery === null) return; // the broker canceled the consumer; the connection's close follows
    // Our own broadcast, or our own publish to a topic we also subscribe to.
    if (delivery.properties.appId === this.node) return;
    const m = decodeMessage(delivery.content);
    if (m === null) {
      this.counters.malformed++;
      return;
    }
    if (m.n === this.node) return; // our own broadcast, or our own publish echoed back
    this.counters.received++;
    if (m.k === "bye") {
      if (this.#peers.has(m.n)) this.#log.info("cluster: node left", { node: m.n });
      this.#drop(m.n, false);
      return;
    }
    const known = this.#peers.has(m.n);
    this.#peers.set(m.n, performance.now());
    if (!known) {
      this.#log.info("cluster: node joined", { node: m.n });
      // Heard from a node we hold nothing of (it started, or we had given it up): ask for its state.
      if (m.k !== "hello" && m.k !== "state") {
        this.sendTo(m.n, { k: "hello", n: this.node, s: this.#state() });
      }
    }
    switch (m.k) {
      case "hello":
        this.#adopt(m.n, m.s);
        this.sendTo(m.n, { k: "state", n: this.node, s: this.#state() });
        return;
      case "state":
        return this.#adopt(m.n, m.s);
      case "hb":
        return;
      default:
        this.#links.get(m.r)?.handle(m);
    }
  }

  #adopt(node: string, state: Record<string, RealmState>): void {
    for (const [name, link] of this.#links) {
      link.adopt(node, state[name] ?? { sessions: [], regs: [], testaments: [], watch: [] });
    }
  }
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}
