/**
 * Event history in a RabbitMQ stream (`x-queue-type: stream`): shared by every
 * node of a cluster, and still there after every node restarted.
 *
 * The stream is the log; each node follows it from the start and keeps the
 * window its history rules ask for in a {@link MemoryStore}, which answers
 * `wamp.subscription.get_events` as on one node. So every node holds the same
 * events in the same order (the stream's), publication ids stay unique, and
 * `after_publication` works whichever node a tab comes back to.
 *
 * - A publish is appended once, by the node it was made on (the store is
 *   {@link EventStore.shared}); it becomes readable when the stream hands it back,
 *   a broker round trip later. Appends are confirmed by the broker:
 *   {@link StreamStore.flushed} says when, and the queue bridge acknowledges a
 *   message only then.
 * - On start the node reads the whole stream, then appends a marker (with the
 *   time, so that an empty stream still says since when it keeps history) and is
 *   ready once the marker comes back: history asked for before then waits for it (30 s
 *   at most).
 * - After a broken connection it resumes at the stream offset after the last one
 *   it read. While the broker is unreachable, publishes are kept in this node's
 *   memory only (counted as `unshared`).
 * - Retention: the stream holds at most the store's `max-total-bytes`, dropped a
 *   segment at a time (segments of a sixteenth of it). An age bound needs a broker
 *   policy (`max-age`; RabbitMQ 3.10 has no per-queue argument for it); each rule's
 *   `max-age` still bounds what the nodes keep in memory.
 * - Retained events stay each node's own (the cluster sends them to every node).
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { isDict } from "../codec/codec.ts";
import { msgpackFormat } from "../codec/v2_msgpack.ts";
import { type Logger, SILENT } from "../log.ts";
import { Retrier } from "../net/retry.ts";
import type { UriPattern } from "../protocol/pattern.ts";
import {
  type AmqpConfirmChannel,
  amqpConnect,
  type AmqpConnection,
  type AmqpDelivery,
  ConfirmWatch,
  displayAmqpUrl,
} from "../net/amqp.ts";
import { MemoryStore } from "./memory.ts";
import type {
  EventStore,
  HistoryPage,
  HistoryQuery,
  RetainedEvent,
  StoreConfig,
  StoreCounters,
  StoredEvent,
} from "./store.ts";

/** Where a stream store's stream is. */
export interface StreamStoreOptions {
  /** The broker's AMQP address. */
  url: string;
  /** The stream's name (a durable queue; it is created when missing). */
  stream: string;
  /** Where connection trouble is logged. */
  log?: Logger;
  /** Bound on waiting for the stream to be read at start, in ms. Default 30 s. */
  readyTimeoutMs?: number;
}

/** A stream store's own counts, besides the history's. */
export interface StreamCounters {
  /** Events appended to the stream. */
  published: number;
  /** Events read from the stream (at start and since). */
  read: number;
  /** Events kept only here because the broker was unreachable. */
  unshared: number;
  /** Stream messages that were not events (dropped). */
  malformed: number;
}

/** The stream name of a realm's history. */
export function historyStream(cluster: string | undefined, realm: string): string {
  return `tuerca.${cluster ?? "standalone"}.history.${realm}`;
}

/** Stream deliveries acknowledged together (a stream consumer must acknowledge to get more). */
const ACK_EVERY = 100;
const PREFETCH = 1_000;

/** Event history in a RabbitMQ stream, read into memory by each node. */
export class StreamStore implements EventStore {
  /** Every node of the cluster appends to, and reads, the same stream. */
  readonly shared = true;
  /** The stream's own counts. */
  readonly stream: StreamCounters = { published: 0, read: 0, unshared: 0, malformed: 0 };
  #memory: MemoryStore;
  #conn: AmqpConnection | null = null;
  #ch: AmqpConfirmChannel | null = null;
  #confirms = new ConfirmWatch();
  /** The stream offset to resume at. */
  #offset: number | "first" = "first";
  #unacked = 0;
  #ready = Promise.withResolvers<void>();
  #isReady = false;
  #marker = "";
  #stopping = false;
  #retrier = new Retrier(() => this.#reconnect());
  #log: Logger;
  #firstRead = Infinity;

  /** A store for `config`'s rules; {@link start} connects it. */
  constructor(private readonly config: StoreConfig, private readonly options: StreamStoreOptions) {
    this.#memory = new MemoryStore(config);
    this.#log = options.log ?? SILENT;
  }

  /** Connects, reads the stream, and resolves once this node has caught up (or the wait ran out). */
  async start(): Promise<void> {
    if (!await this.#connect()) this.#retrier.schedule();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = this.options.readyTimeoutMs ?? 30_000;
    await Promise.race([
      this.#ready.promise,
      new Promise<void>((resolve) =>
        timer = setTimeout(() => {
          this.#log.warn("history: the stream was not read in time; serving what has been read", {
            stream: this.options.stream,
          });
          resolve();
        }, bound)
      ),
    ]);
    clearTimeout(timer);
  }

  /** Closes the connection. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#retrier.stop();
    const conn = this.#conn;
    this.#conn = null;
    this.#ch = null;
    try {
      await conn?.close();
    } catch {
      // already gone
    }
  }

  /** Whether the stream has been read up to where it was when this node started. */
  get ready(): boolean {
    return this.#isReady;
  }

  /** Whether the connection to the stream is up. */
  get connected(): boolean {
    return this.#ch !== null;
  }

  keeps(topic: string): boolean {
    return this.#memory.keeps(topic);
  }

  /**
   * Resolves once the broker has confirmed every append so far; rejects if the
   * connection went down with some unconfirmed. Resolves at once while disconnected
   * (appends meanwhile stay in this node's memory, counted as `unshared`).
   */
  flushed(): Promise<void> {
    return this.#confirms.flushed(this.#ch, "history appends");
  }

  /** Appends to the stream; the event is read back into memory from there. */
  append(event: StoredEvent): void {
    const ch = this.#ch;
    if (ch === null) {
      this.stream.unshared++;
      this.#memory.append(event);
      return;
    }
    ch.sendToQueue(
      this.options.stream,
      msgpackFormat.encode(event) as Buffer,
      undefined,
      this.#confirms.confirmed,
    );
    this.stream.published++;
  }

  async events(covers: UriPattern, query: HistoryQuery): Promise<HistoryPage> {
    if (!this.#isReady) await this.#ready.promise;
    return this.#memory.events(covers, query);
  }

  retain(event: RetainedEvent): void {
    this.#memory.retain(event);
  }

  retained(covers: UriPattern): RetainedEvent[][] {
    return this.#memory.retained(covers);
  }

  get counters(): Readonly<StoreCounters> {
    return this.#memory.counters;
  }

  get bytes(): number {
    return this.#memory.bytes;
  }

  /**
   * When the oldest entry this node read from the stream (an event, or the marker
   * of a node that started) was written: the history is continuous since.
   */
  get since(): number {
    return Math.min(this.#firstRead, this.#memory.since);
  }

  async #connect(): Promise<boolean> {
    let conn: AmqpConnection | null = null;
    const stream = this.options.stream;
    try {
      conn = await amqpConnect(this.options.url);
      const opened = conn;
      conn.on("error", (e) => this.#log.warn("history: broker connection error", { error: String(e) }));
      conn.on("close", () => this.#disconnected(opened));
      const ch = await this.#declare(conn, stream);
      ch.on("error", (e) => this.#log.warn("history: stream channel error", { error: String(e) }));
      await ch.prefetch(PREFETCH);
      await ch.consume(stream, (m) => this.#read(m), {
        noAck: false,
        arguments: { "x-stream-offset": this.#offset },
      });
      this.#conn = conn;
      this.#ch = ch;
      if (!this.#isReady) {
        // The marker comes back after everything already in the stream: then this node has caught up.
        this.#marker = crypto.randomUUID();
        ch.sendToQueue(stream, msgpackFormat.encode({ marker: this.#marker, at: Date.now() }) as Buffer);
      }
      this.#log.info("history: reading the stream", { stream, broker: displayAmqpUrl(this.options.url) });
      return true;
    } catch (e) {
      this.#log.error(
        "history: cannot reach the stream; keeping history in this node's memory until it can",
        {
          stream,
          broker: displayAmqpUrl(this.options.url),
          error: e instanceof Error ? e.message : String(e),
        },
      );
      try {
        await conn?.close();
      } catch {
        // never opened, or already gone
      }
      return false;
    }
  }

  /**
   * The stream's channel. An existing stream is used as it is (its settings may
   * have been changed by a policy); a missing one is made with this store's bound.
   */
  async #declare(conn: AmqpConnection, stream: string): Promise<AmqpConfirmChannel> {
    const probe = await conn.createConfirmChannel();
    probe.on("error", () => {});
    try {
      await probe.checkQueue(stream);
      return probe;
    } catch {
      // A failed check closes the channel: declare on a new one.
    }
    const ch = await conn.createConfirmChannel();
    const bytes = Math.max(this.config.maxTotalBytes, 1024 * 1024);
    await ch.assertQueue(stream, {
      durable: true,
      arguments: {
        "x-queue-type": "stream",
        "x-max-length-bytes": bytes,
        "x-stream-max-segment-size-bytes": Math.max(Math.floor(bytes / 16), 64 * 1024),
      },
    });
    return ch;
  }

  #read(delivery: AmqpDelivery | null): void {
    if (delivery === null) return; // consumer canceled: the connection's close follows
    const ch = this.#ch;
    const offset = delivery.properties.headers?.["x-stream-offset"];
    if (typeof offset === "number") this.#offset = offset + 1;
    if (ch !== null && ++this.#unacked >= ACK_EVERY) {
      ch.ack(delivery, true);
      this.#unacked = 0;
    }
    let value: unknown;
    try {
      value = msgpackFormat.decode(delivery.content);
    } catch {
      this.stream.malformed++;
      return;
    }
    if (isMarker(value)) {
      // The stream's first entry, event or marker, says since when it has kept history.
      if (this.#firstRead === Infinity && typeof value.at === "number") this.#firstRead = value.at;
      if (value.marker === this.#marker && !this.#isReady) {
        this.#isReady = true;
        this.#ready.resolve();
      }
      return;
    }
    if (!isStoredEvent(value)) {
      this.stream.malformed++;
      return;
    }
    this.stream.read++;
    if (this.#firstRead === Infinity) this.#firstRead = value.timestamp;
    if (this.#memory.keeps(value.topic)) this.#memory.append(value);
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
    this.#unacked = 0;
    if (this.#stopping) return;
    this.#log.warn("history: lost the stream; new events stay in this node's memory until it is back", {
      stream: this.options.stream,
    });
    this.#retrier.schedule();
  }
}

function isMarker(v: unknown): v is { marker: string; at?: number } {
  return isDict(v) && typeof v.marker === "string";
}

function isStoredEvent(v: unknown): v is StoredEvent {
  if (!isDict(v)) return false;
  return typeof v.topic === "string" && typeof v.publication === "number" &&
    typeof v.timestamp === "number" &&
    isDict(v.details) && (v.args == null || Array.isArray(v.args)) && (v.kwargs == null || isDict(v.kwargs));
}
