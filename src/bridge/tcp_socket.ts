/**
 * A WebSocket-shaped object over a raw TCP (or TLS) connection, so @stomp/stompjs,
 * written for WebSockets, can speak STOMP on RabbitMQ's port 61613. stompjs parses
 * STOMP frames across arbitrary chunk boundaries, so chunks are passed through as
 * they arrive.
 *
 * @module
 */

import type { IStompSocket } from "@stomp/stompjs";

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** Where to connect. */
export interface TcpTarget {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Whether to connect with TLS (`Deno.connectTls`). */
  tls: boolean;
}

/** An {@link IStompSocket} over `Deno.connect` / `Deno.connectTls`. */
export class TcpStompSocket implements IStompSocket {
  /** The address as `stomp://host:port` (or `stomp+ssl://`), like a WebSocket's `url`. */
  readonly url: string;
  /** Accepted for WebSocket compatibility; data always arrives as an `ArrayBuffer`. */
  binaryType = "arraybuffer";
  /** WebSocket-style state: 0 connecting, 1 open, 2 closing, 3 closed. */
  readyState: number = CONNECTING;
  /** Called once the TCP (or TLS) connection is up. */
  onopen: ((ev?: unknown) => unknown) | null = null;
  /** Called once, when the socket is closed or could not connect, always with a clean 1000 close event. */
  onclose: ((ev?: unknown) => unknown) | null = null;
  /** Called when connecting fails, or a read fails while open. */
  onerror: ((ev: unknown) => unknown) | null = null;
  /** Called with each chunk read, as it arrives (not split into STOMP frames). */
  onmessage: ((ev: { data: ArrayBuffer }) => unknown) | null = null;
  #conn: Deno.Conn | null = null;
  /** Frames waiting for the writer; what piles up during one write goes out in the next. */
  #queued: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Settles when the writer has drained the queue; null when idle. */
  #writer: Promise<void> | null = null;

  /** Starts connecting to `target` at once; the handlers report the outcome. */
  constructor(target: TcpTarget) {
    this.url = `${target.tls ? "stomp+ssl" : "stomp"}://${target.hostname}:${target.port}`;
    void this.#run(target);
  }

  /** Queues `data` for writing after earlier writes; dropped unless open. `Blob` is not supported. */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.readyState !== OPEN || this.#conn === null) return;
    const conn = this.#conn;
    const bytes = typeof data === "string"
      ? new TextEncoder().encode(data)
      : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : data instanceof Blob
      ? null
      : new Uint8Array(data as ArrayBuffer);
    if (bytes === null) throw new TypeError("Blob data is not supported");
    this.#queued.push(bytes);
    this.#queuedBytes += bytes.length;
    // One writer at a time keeps frames in order; many small frames (ACKs) share one write.
    this.#writer ??= this.#drain(conn).catch(() => this.terminate()).finally(() => this.#writer = null);
  }

  async #drain(conn: Deno.Conn): Promise<void> {
    while (this.#queued.length > 0) {
      const chunks = this.#queued;
      const total = this.#queuedBytes;
      this.#queued = [];
      this.#queuedBytes = 0;
      let bytes = chunks[0];
      if (chunks.length > 1) {
        bytes = new Uint8Array(total);
        let off = 0;
        for (const c of chunks) {
          bytes.set(c, off);
          off += c.length;
        }
      }
      await writeAll(conn, bytes);
    }
  }

  /** Closes after pending writes are flushed. */
  close(): void {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    const conn = this.#conn;
    if (conn === null) return this.#finish();
    (this.#writer ?? Promise.resolve()).finally(() => {
      try {
        conn.close();
      } catch {
        // already closed by the read loop
      }
    });
  }

  /** Drops the connection at once. */
  terminate(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
  }

  async #run(target: TcpTarget): Promise<void> {
    try {
      if (target.tls) {
        this.#conn = await Deno.connectTls({ hostname: target.hostname, port: target.port });
      } else {
        const tcp = await Deno.connect({ hostname: target.hostname, port: target.port });
        tcp.setNoDelay(true); // small frames (ACKs) must not wait for Nagle's algorithm
        this.#conn = tcp;
      }
    } catch (e) {
      this.onerror?.(e);
      return this.#finish();
    }
    if (this.readyState === CLOSING) {
      this.#conn.close();
      return this.#finish();
    }
    this.readyState = OPEN;
    this.onopen?.();
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.onmessage?.({ data: buf.slice(0, n).buffer });
      }
    } catch (e) {
      if (this.readyState === OPEN) this.onerror?.(e);
    }
    try {
      this.#conn.close();
    } catch {
      // closed by close() or terminate()
    }
    this.#finish();
  }

  #finish(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.onclose?.({ code: 1000, reason: "", wasClean: true });
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
