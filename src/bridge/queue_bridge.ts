/**
 * The queue bridge: consumes a RabbitMQ queue (default `la_cola`) over STOMP and
 * republishes each message to the WAMP topic named by its `cat` header, through the
 * same broker the WAMP sessions use.
 *
 * Delivery (at least once into the router):
 * - Ack mode `client` (cumulative), bounded prefetch. A message is acked only after
 *   it has been published into the WAMP broker: on the next turn of the event loop,
 *   after the event frames were handed to the subscribers' sockets, one ACK covers
 *   every message delivered up to the newest one that is settled, and never passes
 *   a reject still waiting for its receipt. In a cluster, the ACK also waits until
 *   the broker has confirmed the copies for the other nodes (and if they may be
 *   lost, the bridge reconnects instead, so the messages come again). If the
 *   server dies first, RabbitMQ delivers them again, flagged `redelivered: true`.
 * - A message that cannot be routed (no `cat`, a `cat` that is not a WAMP topic URI,
 *   a body over the size limit, a JSON content type with a body that is not JSON)
 *   is neither dropped nor requeued in a loop: it is sent to `<queue>.rejected`
 *   with its headers and an `x-reject-reason` header, and acked once RabbitMQ
 *   confirms that send with a receipt.
 * - Each connection is its own STOMP client (reconnecting is ours, with jitter), so an ack can only ever go out on the
 *   connection that received the message; after a reconnect the broker redelivers
 *   what was not acked.
 * - Heart-beats are negotiated; a lost connection is retried with exponential
 *   backoff and jitter, and the subscription is made again.
 *
 * @module
 */

import type { Client, IFrame, IMessage, StompSubscription } from "@stomp/stompjs";
import type { Dict } from "../protocol/messages.ts";
import { isUsableUri } from "../protocol/uri.ts";
import type { Router } from "../router.ts";
import { LocalSession } from "../session/local.ts";
import { parseStompUrl, type StompTarget } from "./stomp_url.ts";
import { stompClient } from "./stomp_client.ts";

/** Bridge settings; all but `url` and `queue` have defaults. */
export interface QueueBridgeOptions {
  /** Broker URL, see {@link parseStompUrl}. */
  url: string;
  /** The queue to consume. Its rejects go to `<queue>.rejected`. */
  queue: string;
  /** Most unacknowledged messages in flight (STOMP `prefetch-count`). Default 100. */
  prefetch?: number;
  /** Largest body routed, in bytes; larger ones are rejected. Default 1 MiB. */
  maxBodySize?: number;
  /** Heart-beat interval both ways, in ms (0 disables). Default 10 s. */
  heartbeatMs?: number;
  /** First reconnect delay in ms; doubles up to `maxBackoffMs`, with jitter. Default 500. */
  initialBackoffMs?: number;
  /** Longest reconnect delay in ms. Default 30 s. */
  maxBackoffMs?: number;
  /** How long stop() waits for rejects in flight. Default 5 s. */
  stopTimeoutMs?: number;
  /** Where the bridge's few log lines go. Default: standard error (stdout keeps the one URL line). */
  log?: (line: string) => void;
  /** The WAMP realm to publish into. Default: the router's default realm. */
  realm?: string;
}

/** The header added to rejected messages. */
export const REJECT_REASON_HEADER = "x-reject-reason";

/**
 * The authrole the bridge publishes under. Its events always carry
 * `details.publisher_authrole` with it, and no client can be given this role, so a
 * page can tell a queue message from a tab's.
 */
export const BRIDGE_ROLE = "bridge";

/** Headers that belong to one delivery, not to the message, and are not copied on reject. */
const DELIVERY_HEADERS = new Set([
  "destination",
  "message-id",
  "subscription",
  "ack",
  "content-length",
  "receipt",
]);

/** Counters, for logs, tests and benchmarks. */
export interface QueueBridgeStats {
  /** Messages received from the queue (redeliveries included). */
  consumed: number;
  /** Messages acknowledged to RabbitMQ (routed, or moved to the reject queue). */
  acked: number;
  /** Messages published into the WAMP broker. */
  routed: number;
  /** Messages moved to the reject queue (counted once RabbitMQ confirmed the send). */
  rejected: number;
  /** Deliveries RabbitMQ flagged `redelivered: true`. */
  redelivered: number;
  /** Successful STOMP connections; above 1 means reconnects. */
  connections: number;
}

/** A message received and not yet acked; settled once routed, or once its reject copy is confirmed. */
interface Delivery {
  message: IMessage;
  settled: boolean;
}

/** Consumes a queue into the WAMP broker. */
export class QueueBridge {
  /** The live counters, updated in place. */
  readonly stats: QueueBridgeStats = {
    consumed: 0,
    acked: 0,
    routed: 0,
    rejected: 0,
    redelivered: 0,
    connections: 0,
  };
  /** The broker address parsed from `options.url`. */
  readonly target: StompTarget;
  readonly #local: LocalSession;
  readonly #router: Router;
  #flushing = false;
  #flushAgain = false;
  readonly #opts: Required<Omit<QueueBridgeOptions, "realm">>;
  #client: Client | null = null;
  #subscription: StompSubscription | null = null;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  #saidWaiting = false;
  /** Deliveries of `#ackClient` not yet acked, oldest first, from `#unackedHead` on. */
  #unacked: Delivery[] = [];
  #unackedHead = 0;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #ackClient: Client | null = null;
  #rejects = new Map<string, () => void>();
  /** Set by stop(): called when the last reject in flight is settled. */
  #rejectsSettled: (() => void) | null = null;
  #receipts = 0;
  #connected = Promise.withResolvers<void>();

  /**
   * Creates the bridge and joins its local session to the realm; call
   * {@link QueueBridge.start} to connect.
   * @throws {TypeError} when the URL is unusable.
   * @throws {WampError} `wamp.error.no_such_realm` when `options.realm` names no realm.
   */
  constructor(router: Router, options: QueueBridgeOptions) {
    this.target = parseStompUrl(options.url);
    this.#router = router;
    this.#opts = {
      url: options.url,
      queue: options.queue,
      prefetch: options.prefetch ?? 100,
      maxBodySize: options.maxBodySize ?? 1024 * 1024,
      heartbeatMs: options.heartbeatMs ?? 10_000,
      initialBackoffMs: options.initialBackoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
      log: options.log ?? ((line) => console.error(line)),
    };
    this.#local = new LocalSession(router, options.realm, undefined, {
      authid: `queue:${options.queue}`,
      authrole: BRIDGE_ROLE,
    });
  }

  /** The queue rejected messages go to. */
  get rejectQueue(): string {
    return `${this.#opts.queue}.rejected`;
  }

  /** Whether the bridge is connected and subscribed. */
  get connected(): boolean {
    return this.#subscription !== null;
  }

  /** Resolves once the bridge is subscribed (for tests and tools). */
  whenConnected(): Promise<void> {
    return this.#connected.promise;
  }

  /** Starts connecting; returns at once. The bridge keeps retrying until stop(). */
  start(): void {
    this.#connect();
  }

  /**
   * Stops routing, sends the acks of everything routed, waits (boundedly) for
   * rejects in flight and acks them, and disconnects. What was delivered but not
   * routed stays in the queue: RabbitMQ requeues unacked messages on DISCONNECT.
   * (No UNSUBSCRIBE: RabbitMQ refuses acks for a subscription that is gone.)
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    if (client !== null && client.connected) {
      await this.#flushAcks();
      if (this.#rejects.size > 0) {
        const settled = Promise.withResolvers<void>();
        this.#rejectsSettled = settled.resolve;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          settled.promise,
          new Promise((r) => timer = setTimeout(r, this.#opts.stopTimeoutMs)),
        ]);
        clearTimeout(timer);
        await this.#flushAcks();
      }
    }
    this.#subscription = null;
    this.#client = null;
    await client?.deactivate();
    this.#local.close();
  }

  #connect(): void {
    if (this.#stopping) return;
    const client: Client = stompClient(this.target, {
      heartbeatIncoming: this.#opts.heartbeatMs,
      heartbeatOutgoing: this.#opts.heartbeatMs,
      onConnect: () => this.#onConnect(client),
      onStompError: (frame: IFrame) => this.#onStompError(frame),
      onWebSocketClose: () => this.#onClose(client),
    });
    this.#client = client;
    client.activate();
  }

  #onConnect(client: Client): void {
    if (client !== this.#client) return;
    this.#attempt = 0;
    this.#saidWaiting = false;
    this.stats.connections++;
    this.#subscription = client.subscribe(
      `/queue/${this.#opts.queue}`,
      (message) => this.#onMessage(client, message),
      {
        // Cumulative: one ACK per batch instead of one per message, for us and for RabbitMQ.
        ack: "client",
        "prefetch-count": String(this.#opts.prefetch),
        // The tutorial's sender declares la_cola durable, not exclusive, not auto-delete, no arguments.
        durable: "true",
        "auto-delete": "false",
      },
    );
    this.#opts.log(
      `bridge: consuming queue ${this.#opts.queue} from ${this.target.display} (${
        this.stats.connections > 1 ? "reconnected" : "connected"
      })`,
    );
    this.#connected.resolve();
  }

  #onStompError(frame: IFrame): void {
    // RabbitMQ closes the connection after an ERROR; the close schedules the retry.
    const why = frame.headers.message ?? "error";
    if (!this.#saidWaiting) {
      this.#opts.log(`bridge: broker refused: ${why}${frame.body ? ` (${frame.body.trim()})` : ""}`);
    }
  }

  #onClose(client: Client): void {
    if (client !== this.#client) return;
    void client.deactivate();
    const wasSubscribed = this.#subscription !== null;
    this.#subscription = null;
    // Rejects waiting for a receipt on this connection will be redelivered instead.
    this.#rejects.clear();
    this.#rejectsSettled?.();
    if (this.#stopping) return;
    this.#client = null;
    if (wasSubscribed) {
      this.#opts.log(`bridge: lost the connection to ${this.target.display}; reconnecting with backoff`);
      this.#connected = Promise.withResolvers<void>();
    } else if (!this.#saidWaiting) {
      this.#saidWaiting = true;
      this.#opts.log(
        `bridge: waiting for RabbitMQ at ${this.target.display} (STOMP); retrying with backoff, it will connect by itself`,
      );
    }
    const ceiling = Math.min(this.#opts.maxBackoffMs, this.#opts.initialBackoffMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    // "Equal jitter": half fixed, half random, so restarted servers don't reconnect in lockstep.
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #onMessage(client: Client, message: IMessage): void {
    // Unacked, it returns to the queue when we disconnect.
    if (this.#stopping || client !== this.#client) return;
    this.stats.consumed++;
    if (message.headers.redelivered === "true") this.stats.redelivered++;
    const delivery = this.#delivered(client, message);
    const reason = this.#route(message);
    if (reason === null) {
      this.stats.routed++;
      this.#settle(delivery);
    } else {
      this.#reject(client, delivery, reason);
    }
  }

  /** Publishes the message to its `cat` topic; returns why it can't be, or null. */
  #route(message: IMessage): string | null {
    const cat = message.headers.cat;
    if (cat === undefined) return "no cat header";
    if (!isUsableUri(cat, false)) {
      return `cat ${JSON.stringify(cat.slice(0, 100))} is not a valid WAMP topic URI`;
    }
    const size = message.binaryBody.byteLength;
    if (size > this.#opts.maxBodySize) {
      return `body of ${size} bytes exceeds the limit of ${this.#opts.maxBodySize}`;
    }
    const body = message.body;
    const event: Dict = { body, headers: { ...message.headers } };
    if (/^application\/json\b/i.test(message.headers["content-type"] ?? "")) {
      try {
        event.data = JSON.parse(body);
      } catch {
        return "content-type is application/json but the body is not valid JSON";
      }
    }
    this.#local.publish(cat, [event], undefined, { disclose: true });
    return null;
  }

  /** Records a delivery in arrival order, which is the order a cumulative ACK covers. */
  #delivered(client: Client, message: IMessage): Delivery {
    if (this.#ackClient !== client) {
      // Acks of an older connection are void; that connection's messages come back.
      this.#unacked = [];
      this.#unackedHead = 0;
      this.#ackClient = client;
    }
    const delivery = { message, settled: false };
    this.#unacked.push(delivery);
    return delivery;
  }

  #settle(delivery: Delivery): void {
    delivery.settled = true;
    // Next turn: the event frames of this batch have been handed to the sockets by then.
    this.#ackTimer ??= setTimeout(() => void this.#flushAcks(), 0);
  }

  /**
   * Acks, with one cumulative ACK, the longest settled run at the head of the
   * deliveries; in a cluster, once the other nodes' copies have reached the broker.
   * One flush at a time, so cumulative ACKs go out in order.
   */
  async #flushAcks(): Promise<void> {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#flushing) {
      this.#flushAgain = true;
      return;
    }
    this.#flushing = true;
    try {
      do {
        this.#flushAgain = false;
        await this.#ackSettled();
      } while (this.#flushAgain);
    } finally {
      this.#flushing = false;
    }
  }

  async #ackSettled(): Promise<void> {
    const client = this.#ackClient;
    if (client === null || client !== this.#client || !client.connected) return;
    const unacked = this.#unacked;
    let head = this.#unackedHead;
    let last: Delivery | null = null;
    const from = head;
    while (head < unacked.length && unacked[head].settled) last = unacked[head++];
    if (last === null) return;
    const count = head - from;
    if (head === unacked.length) {
      this.#unacked = [];
      head = 0;
    } else if (head > 1024) {
      // A reject waiting on its receipt keeps a tail alive; drop the acked prefix now and then.
      this.#unacked = unacked.slice(head);
      head = 0;
    }
    this.#unackedHead = head;
    const flushed = this.#router.flushed();
    if (flushed !== null) {
      try {
        await flushed;
      } catch {
        // The copies for the other nodes, or the history appends, may be lost: unacked, the messages come again.
        this.#opts.log(
          "bridge: messages in flight to the cluster or the history stream may be lost; reconnecting to get them again",
        );
        client.forceDisconnect();
        return;
      }
      if (client !== this.#client || !client.connected) return;
    }
    this.stats.acked += count;
    last.message.ack();
  }

  #reject(client: Client, delivery: Delivery, reason: string): void {
    const message = delivery.message;
    const receipt = `reject-${++this.#receipts}`;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(message.headers)) if (!DELIVERY_HEADERS.has(k)) headers[k] = v;
    headers[REJECT_REASON_HEADER] = reason;
    headers.persistent = "true";
    headers.receipt = receipt;
    this.#rejects.set(receipt, () => this.#settle(delivery));
    client.watchForReceipt(receipt, () => {
      const done = this.#rejects.get(receipt);
      if (done === undefined) return;
      this.#rejects.delete(receipt);
      done();
      if (this.#rejects.size === 0) this.#rejectsSettled?.();
      this.stats.rejected++;
      this.#opts.log(
        `bridge: moved a message to ${this.rejectQueue} (${reason}); ${this.stats.rejected} rejected so far`,
      );
    });
    client.publish({ destination: `/queue/${this.rejectQueue}`, headers, binaryBody: message.binaryBody });
  }
}
